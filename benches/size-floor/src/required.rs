//! The libraries Latchkey's other features ask for, each used on input so
//! that nothing is optimized away: the OAuth 2.0 code grant with PKCE and the
//! refresh grant (oauth2, as RFC 8252 asks of a native app), the providers
//! file read (toml + serde) and edited in place (toml_edit), the encrypted
//! file vault (argon2id, XChaCha20-Poly1305) and logging with a filter from
//! the environment (tracing-subscriber).

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken,
    TokenResponse, TokenUrl,
};

/// oauth2's requests sent with reqwest.
async fn send(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, std::io::Error> {
    let request = reqwest::Request::try_from(request).map_err(std::io::Error::other)?;
    let response = client
        .execute(request)
        .await
        .map_err(std::io::Error::other)?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await.map_err(std::io::Error::other)?;
    builder.body(body.to_vec()).map_err(std::io::Error::other)
}

/// The code grant with PKCE, then a refresh: the tokens' lifetimes.
pub async fn grant(endpoints: &[String]) -> Result<String, String> {
    let arg = |i: usize| endpoints.get(i).cloned().unwrap_or_default();
    let oauth = BasicClient::new(ClientId::new(arg(0)))
        .set_auth_uri(AuthUrl::new(arg(1)).map_err(|e| e.to_string())?)
        .set_token_uri(TokenUrl::new(arg(2)).map_err(|e| e.to_string())?)
        .set_redirect_uri(RedirectUrl::new(arg(3)).map_err(|e| e.to_string())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let http = crate::https_client()?;
    let http = |request| send(&http, request);
    let tokens = oauth
        .exchange_code(AuthorizationCode::new(arg(4)))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(|e| e.to_string())?;
    let refresh = tokens.refresh_token().ok_or("no refresh token")?;
    let refreshed = oauth
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{url} {} {:?} {:?}",
        state.secret(),
        tokens.expires_in(),
        refreshed.expires_in()
    ))
}

#[derive(serde::Deserialize)]
struct Provider {
    id: String,
    issuer: url::Url,
    scopes: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct ProvidersFile {
    providers: Vec<Provider>,
}

/// The providers file read, then one entry added with its comments kept.
pub fn providers(text: &str, id: &str) -> Result<String, String> {
    let file: ProvidersFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let mut entry = toml_edit::Table::new();
    entry.insert("id", toml_edit::value(id));
    entry.insert("issuer", toml_edit::value(format!("https://{id}.example")));
    doc.entry("providers")
        .or_insert(toml_edit::Item::ArrayOfTables(
            toml_edit::ArrayOfTables::new(),
        ))
        .as_array_of_tables_mut()
        .ok_or("providers is not an array of tables")?
        .push(entry);
    let read: Vec<String> = file
        .providers
        .iter()
        .map(|p| {
            let scopes = p.scopes.as_deref().unwrap_or_default().join(" ");
            format!("{} {} {scopes}", p.id, p.issuer)
        })
        .collect();
    Ok(format!("{}\n{doc}", read.join("\n")))
}

/// A passphrase stretched with argon2id, then a message sealed with it.
pub fn seal(passphrase: &str, salt: &str, message: &str) -> Result<Vec<u8>, String> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).map_err(|e| e.to_string())?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase.as_bytes(), salt.as_bytes(), &mut key)
        .map_err(|e| e.to_string())?;
    let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    cipher
        .encrypt(&XNonce::from(nonce), message.as_bytes())
        .map_err(|e| e.to_string())
}

/// Logging to stderr with a filter from `RUST_LOG`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
}

/// Every library of the floor used on `input` (floor-deps' uses, then the
/// grants from 7, the providers file from 12, the vault from 14), each
/// outcome logged.
pub fn use_all(runtime: &tokio::runtime::Runtime, input: &[String]) {
    let arg = |i: usize| input.get(i).cloned().unwrap_or_default();
    for line in crate::use_libraries(runtime, input) {
        tracing::info!(%line, "floor-deps");
    }
    let rest = input.get(7..).unwrap_or_default();
    tracing::info!(grant = ?runtime.block_on(grant(rest)), "oauth2");
    tracing::info!(providers = ?providers(&arg(12), &arg(13)), "toml");
    tracing::info!(sealed = ?seal(&arg(14), &arg(15), &arg(16)).map(|s| s.len()), "vault");
}
