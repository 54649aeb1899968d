//! # latchkey-core
//!
//! The sign-in core of Latchkey, a native OAuth 2.0 / OpenID Connect client
//! built the way [RFC 8252](https://www.rfc-editor.org/rfc/rfc8252) (OAuth 2.0
//! for Native Apps) and [RFC 9700](https://www.rfc-editor.org/rfc/rfc9700)
//! (OAuth 2.0 Security Best Current Practice) say a native app must be.
//!
//! The core has no UI and never opens a browser or a window: the app (or the
//! `latchkey` CLI) does that. HTTP ([`http::HttpClient`]) and the secret store
//! ([`vault::SecretStore`]) are injected, so the logic is tested without a
//! network or a keychain.
//!
//! One module per concept:
//! - [`provider`]: the providers file and its validation,
//! - [`discovery`]: authorization server metadata (OIDC Discovery, RFC 8414),
//! - [`http`]: the HTTP seam and the hardened production client,
//! - [`redirect`]: parsing the authorization response from a deep link,
//! - [`vault`]: the OS keychain,
//! - [`secret`]: secret values with redacted `Debug`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use latchkey_core::{discovery, http::ReqwestHttpClient, provider};
//!
//! let path = provider::default_providers_path().ok_or("no config dir")?;
//! let http = ReqwestHttpClient::new()?;
//! for entry in provider::load_providers(&path)? {
//!     let config = entry.config?;
//!     let metadata = discovery::discover(&http, &config).await?;
//!     println!("{}: token endpoint {}", config.name, metadata.token_endpoint);
//! }
//! # Ok(()) }
//! ```

mod account_secret;
mod account_slot;
pub mod accounts;
pub mod authorize;
pub mod clock;
pub mod discovery;
pub mod error;
mod file_lock;
pub mod fsperm;
pub mod http;
pub mod id_token;
pub mod manage;
pub mod picture;
pub mod provider;
pub mod redirect;
pub mod refresh;
pub mod secret;
pub mod signin;
pub(crate) mod text;
pub mod token;
pub mod vault;

#[cfg(test)]
mod hostile;
#[cfg(test)]
pub(crate) mod testing;

pub use error::ErrorCode;
