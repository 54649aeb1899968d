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

pub mod clock;
pub mod config;
pub mod error;
pub mod flow;
pub mod http;
pub mod picture;
pub mod secret;
pub mod session;
pub mod store;
pub(crate) mod text;

// The modules by their concept's name, as embedders and the app use them.
pub use config::{discovery, provider};
pub use flow::request as authorize;
pub use flow::response as redirect;
pub use flow::{id_token, token};
pub(crate) use session::account_slot;
pub use session::accounts as manage;
pub use session::refresh;
pub use session::sign_in as signin;
pub use store::registry as accounts;
pub(crate) use store::{account_secret, file_lock};
pub use store::{fsperm, vault};

#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

pub use error::ErrorCode;
