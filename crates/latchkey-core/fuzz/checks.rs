//! The properties the fuzz targets check, shared with the corpus replay test
//! (`crates/latchkey-core/tests/fuzz_corpus.rs`), so every input in the committed
//! corpus is checked again by `cargo test` in CI.

use std::sync::OnceLock;
use std::time::SystemTime;

use latchkey_core::flow::response::{RedactedUrl, Redirect, check_issuer, parse_redirect};
use latchkey_core::flow::token::{TokenEndpoint, TokenError, exchange_code, refresh};
use latchkey_core::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
use latchkey_core::secret::SecretString;

/// Any page can fire `dev.latchkey:/…` links at the app: the redirect parser
/// must never panic, never accept an empty `state`/`code`, and the redacted
/// form that goes to logs shows names only.
pub fn redirect(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let expected = url::Url::parse("dev.latchkey:/oauth/callback").expect("valid");
    // Also as a query on our callback, where most of the parser's work happens.
    for candidate in [
        text.to_owned(),
        format!("dev.latchkey:/oauth/callback?{text}"),
    ] {
        let shown = RedactedUrl(&candidate).to_string();
        if let Some((_, query)) = shown.split_once('?') {
            for pair in query.split('&') {
                let value = pair.split_once('=').map(|(_, v)| v);
                assert_eq!(
                    value,
                    Some("…"),
                    "a value leaked into the redacted form: {shown}"
                );
            }
        }
        // What a link carries reaches messages only in RFC 6749's character set.
        let printable = |text: &str| text.chars().all(|c| c == ' ' || c.is_ascii_graphic());
        match parse_redirect(&candidate, &expected) {
            Err(err) => assert!(printable(&err.to_string()), "unfiltered: {err}"),
            Ok(Redirect::Error(e)) => {
                assert!(e.error.len() <= 64 && printable(&e.error), "{:?}", e.error);
                let description = e.description.as_deref().unwrap_or("");
                assert!(description.len() <= 300 && printable(description));
            }
            Ok(Redirect::Success(_)) => {}
        }
        if let Ok(redirect) = parse_redirect(&candidate, &expected) {
            let _ = check_issuer(redirect.iss(), "https://id.example", true);
            if let Redirect::Success(response) = &redirect {
                assert!(!response.state.is_empty(), "an empty state was accepted");
                assert!(
                    !response.code.expose().is_empty(),
                    "an empty code was accepted"
                );
            }
            let _ = format!("{redirect:?}");
        }
    }
}

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
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

/// Token endpoint responses are attacker-controlled bytes: parsing them (through
/// the oauth2 crate and Latchkey's checks, for an exchange and for a refresh)
/// must never panic, and no error message may contain the response body. The
/// first byte picks the status (400 or 200).
pub fn token_response(data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((first, rest)) => (if first % 4 == 0 { 400 } else { 200 }, rest.to_vec()),
        None => (200, Vec::new()),
    };
    let http = Canned(status, body.clone());
    let endpoint = TokenEndpoint {
        url: url::Url::parse("https://id.example/token").expect("url"),
        client_id: "latchkey-desktop".into(),
        issuer: "https://id.example".into(),
        client_secret: None,
        dead_grant_errors: Vec::new(),
    };
    let redirect = url::Url::parse("dev.latchkey:/oauth/callback").expect("url");
    runtime().block_on(async {
        let results = [
            exchange_code(
                &http,
                &endpoint,
                &redirect,
                SecretString::new("code"),
                SecretString::new("verifier"),
                SystemTime::now(),
            )
            .await
            .err(),
            refresh(
                &http,
                &endpoint,
                &SecretString::new("rt"),
                SystemTime::now(),
            )
            .await
            .err(),
        ];
        for err in results.into_iter().flatten() {
            if matches!(err, TokenError::OAuth { .. }) {
                // The server's own `error`/`error_description` are meant to be shown
                // (reduced to the RFC 6749 character set).
                continue;
            }
            let message = format!("{err} {err:?}");
            // A long printable run of the body must not show up in the message.
            if let Ok(text) = std::str::from_utf8(&body) {
                for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
                    if word.len() >= 24 {
                        assert!(
                            !message.contains(word),
                            "the error echoes the body: {message}"
                        );
                    }
                }
            }
        }
    });
}
