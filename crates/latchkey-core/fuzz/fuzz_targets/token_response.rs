//! Token endpoint responses are attacker-controlled bytes: parsing them (through
//! the oauth2 crate and Latchkey's checks) must never panic, and no error
//! message may contain the response body.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use latchkey_core::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
use latchkey_core::secret::SecretString;
use latchkey_core::token::{TokenEndpoint, exchange_code, refresh};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Canned(u16, Vec<u8>);

impl HttpClient for Canned {
    fn execute(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let response = http::Response::builder()
            .status(self.0)
            .header("content-type", "application/json")
            .body(self.1.clone())
            .expect("response");
        Box::pin(async move { Ok(response) })
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (if first % 4 == 0 { 400 } else { 200 }, rest.to_vec()),
        None => (200, Vec::new()),
    };
    let http = Canned(status, body.clone());
    let endpoint = TokenEndpoint {
        url: url::Url::parse("https://id.example/token").expect("url"),
        client_id: "latchkey-desktop".into(),
        issuer: "https://id.example".into(),
    };
    let redirect = url::Url::parse("dev.latchkey:/oauth/callback").expect("url");
    runtime().block_on(async {
        let results = [
            exchange_code(&http, &endpoint, &redirect, SecretString::new("code"), SecretString::new("verifier"), SystemTime::now())
                .await
                .err(),
            refresh(&http, &endpoint, &SecretString::new("rt"), SystemTime::now()).await.err(),
        ];
        for err in results.into_iter().flatten() {
            if matches!(err, latchkey_core::token::TokenError::OAuth { .. }) {
                // The server's own `error`/`error_description` are meant to be shown
                // (reduced to the RFC 6749 character set).
                continue;
            }
            let message = format!("{err} {err:?}");
            // A long printable run of the body must not show up in the message.
            if let Ok(text) = std::str::from_utf8(&body) {
                for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
                    if word.len() >= 24 {
                        assert!(!message.contains(word), "the error echoes the body: {message}");
                    }
                }
            }
        }
    });
});
