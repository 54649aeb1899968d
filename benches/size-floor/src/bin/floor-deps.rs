//! The base plus what Latchkey cannot do without: an HTTPS client (reqwest on
//! rustls, trusting the system's store), ID token signature and claims
//! verification (openidconnect), and the OS keychain (keyring-core over the
//! Secret Service on Linux). Each is used on input so that nothing is
//! optimized away. Run for its size, not for its output.
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl, Nonce};

fn https_client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|err| err.to_string())?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|err| err.to_string())
}

fn verify(issuer: &str, jwks: &str, token: &str, nonce: &str) -> Result<String, String> {
    let jwks: CoreJsonWebKeySet = serde_json::from_str(jwks).map_err(|e| e.to_string())?;
    let token: CoreIdToken = token
        .parse()
        .map_err(|e: serde_json::Error| e.to_string())?;
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new("c".into()), issuer, jwks);
    let claims = token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| e.to_string())?;
    Ok(claims.subject().to_string())
}

#[cfg(target_os = "linux")]
fn keychain(key: &str, value: &str) -> Result<Option<String>, String> {
    let store: Arc<keyring_core::CredentialStore> =
        dbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
    let entry =
        keyring_core::Entry::new_in_store(&store, "size-floor", key).map_err(|e| e.to_string())?;
    entry.set_password(value).map_err(|e| e.to_string())?;
    entry.get_password().map(Some).map_err(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn keychain(_key: &str, _value: &str) -> Result<Option<String>, String> {
    Ok(None)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let input: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| input.get(i).cloned().unwrap_or_default();
    let fetched = runtime.block_on(async {
        let url = url::Url::parse(&arg(0)).map_err(|e| e.to_string())?;
        let client = https_client()?;
        let body = client
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_str::<serde_json::Value>(&body).map_err(|e| e.to_string())
    });
    println!("{fetched:?}");
    println!("{:?}", verify(&arg(1), &arg(2), &arg(3), &arg(4)));
    println!("{:?}", keychain(&arg(5), &arg(6)));
}
