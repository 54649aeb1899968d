//! What the size floor's binaries use, each on input so that nothing is
//! optimized away (see `src/bin/`).

pub mod required;

use std::sync::Arc;

use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl, Nonce};

/// An HTTPS client on rustls trusting the system's store.
pub fn https_client() -> Result<reqwest::Client, String> {
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

/// An ID token's subject, once its signature and claims are verified.
pub fn verify(issuer: &str, jwks: &str, token: &str, nonce: &str) -> Result<String, String> {
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

/// Writes and reads back a keychain item.
#[cfg(target_os = "linux")]
pub fn keychain(key: &str, value: &str) -> Result<Option<String>, String> {
    let store: Arc<keyring_core::CredentialStore> =
        dbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
    let entry =
        keyring_core::Entry::new_in_store(&store, "size-floor", key).map_err(|e| e.to_string())?;
    entry.set_password(value).map_err(|e| e.to_string())?;
    entry.get_password().map(Some).map_err(|e| e.to_string())
}

/// Writes and reads back a keychain item (Linux only).
#[cfg(not(target_os = "linux"))]
pub fn keychain(_key: &str, _value: &str) -> Result<Option<String>, String> {
    Ok(None)
}

/// The libraries' three uses on `input`: a JSON document fetched over HTTPS
/// (0), an ID token verified (1–4), a keychain item written and read (5–6).
pub fn use_libraries(runtime: &tokio::runtime::Runtime, input: &[String]) -> Vec<String> {
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
    vec![
        format!("{fetched:?}"),
        format!("{:?}", verify(&arg(1), &arg(2), &arg(3), &arg(4))),
        format!("{:?}", keychain(&arg(5), &arg(6))),
    ]
}

/// A multi-threaded tokio runtime, as a Tauri app has.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
