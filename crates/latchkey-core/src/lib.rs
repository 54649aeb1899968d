//! # latchkey-core
//!
//! The sign-in core of Latchkey, a native OAuth 2.0 / OpenID Connect client
//! built the way [RFC 8252](https://www.rfc-editor.org/rfc/rfc8252) (OAuth 2.0
//! for Native Apps) and [RFC 9700](https://www.rfc-editor.org/rfc/rfc9700)
//! (OAuth 2.0 Security Best Current Practice) say a native app must be.
//!
//! The core has no UI and never opens a browser or a window: the app (or the
//! `latchkey` CLI) does that. HTTP ([`http::HttpClient`]), the clock
//! ([`clock::Clock`]) and the secret store ([`SecretStore`]) are
//! injected, so the logic is tested without a network or a keychain; an
//! embedding app brings its own identity ([`config::identity::AppIdentity`]:
//! keychain service, folders, redirect scheme).
//!
//! Layers, one folder each:
//! - [`config`]: the app's identity, the providers file, discovery (OIDC
//!   Discovery / RFC 8414);
//! - [`flow`]: the authorization request (PKCE, `state`, `nonce`) and its
//!   pending store, the response from the redirect (RFC 9207 `iss`), the
//!   token endpoint (RFC 6749) with revocation (RFC 7009), the ID token;
//! - [`store`]: the keychain vault (ordered writes, chunking, reconnection),
//!   the registry of non-secret account metadata, lock files;
//! - [`session`]: the [`Latchkey`] core built with
//!   [`Latchkey::builder`], one slot (one writer) per account,
//!   sign-in, refresh and what ends a grant, the lifecycle, account views,
//!   account management and the startup reconciliation.
//!
//! A session, end to end:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use latchkey_core::{AppIdentity, Latchkey, SignInOptions, callback_uri};
//! use latchkey_core::{load_providers_for, providers_path_for};
//!
//! let identity = AppIdentity::new("com.example.notes", "com.example.notes")?;
//! let path = providers_path_for(&identity).ok_or("no config folder")?;
//! let providers = load_providers_for(&path, &identity)?
//!     .into_iter()
//!     .filter_map(|entry| entry.config.ok())
//!     .collect();
//! let core = Arc::new(Latchkey::builder(identity).providers(providers).build()?);
//! core.launch().await?; // reconciliation, then every account's refresh lifecycle
//!
//! // Sign in: open this URL in the system browser (never a webview) …
//! let pending = core.begin("work", &SignInOptions::default()).await?;
//! println!("open {}", pending.authorization_url);
//! // … and hand the redirect the OS delivers (deep link) back to the core.
//! # let link = String::new();
//! let redirect_uri = callback_uri(&link, &core.identity().redirect_uri())?;
//! let signed_in = core.complete(&link, &redirect_uri).await?;
//!
//! // A fresh access token whenever one is needed (refreshed under the account's lock).
//! let token = core.fresh_access_token(&signed_in.account.id, Duration::from_secs(300)).await?;
//! # let _ = token;
//! for view in core.account_views()? {
//!     println!("{}: {}", view.account.id, view.state.name());
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

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

/// Locks a mutex, taking its data even if a panicking thread poisoned it:
/// every mutex here guards plain data a panic cannot leave half-changed.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// Short paths inside the crate (one concept, one name).
pub(crate) use config::{discovery, provider};
pub(crate) use flow::request as authorize;
pub(crate) use flow::response as redirect;
pub(crate) use flow::{device, id_token, token};
pub(crate) use session::account_slot;
pub(crate) use session::accounts as manage;
pub(crate) use store::registry as accounts;
pub(crate) use store::{account_secret, file_lock, fsperm, vault};

// The front door: what an embedder needs, by name.
pub use clock::{Clock, SystemClock};
pub use config::identity::{AppIdentity, IdentityError};
pub use config::provider::{
    ProviderConfig, ProviderEntry, ProviderId, RedirectKind, load_providers_for,
    parse_providers_for, providers_path_for,
};
pub use flow::request::{PendingHandle, PendingSummary, SignInOptions};
pub use flow::response::callback_uri;
pub use http::HttpClient;
pub use secret::SecretString;
pub use session::accounts::{ManageError, Revocation, SignOutReport};
pub use session::device::{DeviceError, DeviceSignIn};
pub use session::latchkey::{AccessToken, BuildError, Latchkey, LatchkeyBuilder};
pub use session::loopback::SignInOutcome;
pub use session::providers::{ProviderView, Reachability};
pub use session::reconcile::ReconcileReport;
pub use session::refresh::RefreshError;
pub use session::sign_in::{CompleteError, SignedIn};
pub use session::views::{AccountState, AccountView};
pub use store::registry::{Account, AccountBook, AccountId, RegistryError};
pub use store::vault::{KeyringStore, SecretStore, Vault, VaultError};

#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

pub use error::ErrorCode;
