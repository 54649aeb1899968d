//! Sign-in, end to end inside the core: start a request, then complete it from
//! the redirect the app received.
//!
//! [`SignIn::begin`] builds the request and remembers it in the keychain; the
//! app opens the URL in the system browser. [`SignIn::complete`] takes the
//! redirect URL (a deep link, warm or cold), matches its `state` to a pending
//! request (consuming it), checks `iss` (RFC 9207) and errors, exchanges the
//! code (PKCE), validates the ID token, stores the refresh token in the
//! keychain and the account's metadata in the registry — in that order, so a
//! failure leaves nothing half-stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use sha2::Digest as _;

use url::Url;

use crate::accounts::{Account, AccountBook, AccountId, Registry, RegistryError, new_account};
use crate::authorize::{
    AuthorizeError, PendingAuthorization, PendingHandle, PendingStore, PendingSummary,
    SignInOptions, Taken, new_authorization,
};
use crate::clock::Clock;
use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::http::HttpClient;
use crate::id_token::{Expectations, IdTokenError, Identity, complete_from_userinfo, verify};
use crate::provider::ProviderConfig;
use crate::redirect::{Redirect, RedirectError, check_issuer, parse_redirect};
use crate::secret::SecretString;
use crate::token::{TokenEndpoint, TokenError, exchange_code, revoke};
use crate::vault::{Vault, VaultError};

/// Why a redirect did not complete a sign-in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompleteError {
    /// The link itself is malformed or not a callback.
    #[error("{0}")]
    Link(RedirectError),
    /// No pending sign-in has this state (forged, replayed or already used).
    #[error(
        "a sign-in link arrived that matches no sign-in in progress (it may be forged or already used); it was ignored"
    )]
    UnknownState,
    /// The pending sign-in had expired.
    #[error(
        "the sign-in with {provider_name} took longer than 10 minutes and expired; please start again"
    )]
    Expired { provider_name: String },
    /// The person cancelled or refused at the provider.
    #[error("sign-in cancelled at {provider_name}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Cancelled {
        provider_name: String,
        description: Option<String>,
    },
    /// The provider returned another error.
    #[error("{provider_name} refused the sign-in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Authorization {
        provider_name: String,
        error: String,
        description: Option<String>,
    },
    /// `iss` missing or wrong, or the link came on another provider's
    /// redirect URI.
    #[error("{0}")]
    Issuer(RedirectError),
    /// The provider sent its response in the URL fragment (`#code=…`), which
    /// a native app must not accept; the sign-in it belonged to has ended.
    #[error(
        "{provider_name} sent the sign-in response in the URL fragment, which Latchkey does not accept (check the provider's response_mode setting); the sign-in has ended, please start again"
    )]
    Fragment { provider_name: String },
    /// The code exchange failed.
    #[error("signing in to {provider_name} failed: {source}")]
    Token {
        provider_name: String,
        #[source]
        source: TokenError,
    },
    /// The ID token was refused.
    #[error("signing in to {provider_name} failed: {source}")]
    IdToken {
        provider_name: String,
        #[source]
        source: IdTokenError,
    },
    /// No refresh token: Latchkey could not keep the account signed in.
    #[error(
        "{provider_name} did not grant offline access (no refresh token), so Latchkey cannot keep this account signed in"
    )]
    NoRefreshToken { provider_name: String },
    /// Another Latchkey process kept the account busy for too long.
    #[error("the sign-in could not be saved: {reason}; nothing was stored")]
    Busy { reason: String },
    /// The same sign-in link arrived again just after it completed (a double
    /// click on the browser's "open Latchkey?" prompt): nothing to do.
    #[error("this sign-in link was already used a moment ago")]
    Repeated,
    /// The keychain failed; nothing was stored.
    #[error("the sign-in could not be saved: {0}; nothing was stored")]
    Vault(#[from] VaultError),
    /// The registry failed; nothing was stored.
    #[error("the sign-in could not be saved: {0}; nothing was stored")]
    Registry(#[from] RegistryError),
}

impl CompleteError {
    /// True for links that are ignored with a notice (forged, replayed, malformed).
    pub fn is_ignored_link(&self) -> bool {
        matches!(self, Self::Link(_) | Self::UnknownState)
    }

    /// True for a repeat of a link that just completed: a quiet no-op.
    pub fn is_repeat(&self) -> bool {
        matches!(self, Self::Repeated)
    }
}

impl ErrorCode for CompleteError {
    fn code(&self) -> &'static str {
        match self {
            Self::Link(err) | Self::Issuer(err) => err.code(),
            Self::Fragment { .. } => "fragment_response",
            Self::UnknownState => "unknown_state",
            Self::Expired { .. } => "sign_in_expired",
            Self::Cancelled { .. } => "sign_in_cancelled",
            Self::Authorization { .. } => "authorization_error",
            Self::Token { source, .. } => source.code(),
            Self::IdToken { source, .. } => source.code(),
            Self::NoRefreshToken { .. } => "no_refresh_token",
            Self::Busy { .. } => "lock_timeout",
            Self::Repeated => "sign_in_link_repeated",
            Self::Vault(err) => err.code(),
            Self::Registry(err) => err.code(),
        }
    }
}

/// How long a completed sign-in's link counts as a harmless repeat.
const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a failed save kept the new refresh token in the keychain.
enum Kept {
    Yes,
    No,
}

/// How long each step of completing a sign-in took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Token endpoint round trip (ms).
    pub exchange_ms: u64,
    /// ID token validation incl. JWKS fetch (ms).
    pub id_token_ms: u64,
    /// Keychain write (ms).
    pub keychain_ms: u64,
    /// Link arrival to account stored (ms).
    pub total_ms: u64,
}

/// A completed sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The stored account.
    pub account: Account,
    /// Whether the account existed already (signed in again).
    pub replaced: bool,
    /// For a sign-in again: whether the replaced refresh token was revoked.
    pub old_token_revoked: Option<bool>,
    /// A re-authentication that signed in as a *different* account: the
    /// account it was meant for (left as it was).
    pub reauth_of: Option<AccountId>,
    /// The handle of the pending sign-in this completed (now gone).
    pub handle: PendingHandle,
    /// Step timings.
    pub timings: Timings,
}

/// An access token held in memory.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub token: SecretString,
    /// Expiry, if known.
    pub expires_at: Option<SystemTime>,
}

struct Exchanged {
    identity: Identity,
    refresh_token: Option<SecretString>,
    access: AccessToken,
    scopes: Vec<String>,
    exchange_ms: u64,
    id_token_ms: u64,
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl PendingAuthorization {
    /// Redeems the code of this (consumed) request: token exchange with the
    /// PKCE verifier, then ID token validation with the nonce.
    async fn complete(
        self,
        code: SecretString,
        http: &dyn HttpClient,
        clock: &dyn Clock,
    ) -> Result<Exchanged, CompleteError> {
        let provider_name = self.provider_name.clone();
        let endpoint = TokenEndpoint {
            url: self.endpoints.token_endpoint.clone(),
            client_id: self.client_id.clone(),
            issuer: self.endpoints.issuer.clone(),
        };
        let started = Instant::now();
        let tokens = exchange_code(
            http,
            &endpoint,
            &self.redirect_uri,
            code,
            self.pkce_verifier,
            clock.now(),
        )
        .await
        .map_err(|source| CompleteError::Token {
            provider_name: provider_name.clone(),
            source,
        })?;
        let exchange_ms = ms(started);
        let started = Instant::now();
        let id_error = |source| CompleteError::IdToken {
            provider_name: provider_name.clone(),
            source,
        };
        let expectations = Expectations {
            issuer: &self.endpoints.issuer,
            client_id: &self.client_id,
            nonce: Some(&self.nonce),
            subject: None,
            now: clock.now(),
        };
        let verified = match tokens.id_token.as_ref() {
            None => Err(IdTokenError::Missing),
            Some(id_token) => verify(http, &self.endpoints.jwks_uri, id_token, &expectations).await,
        };
        let mut identity = match verified {
            Ok(identity) => identity,
            Err(err) => {
                // The provider has just issued a grant we will not keep: end it there too.
                if let (Some(endpoint), Some(refresh_token)) = (
                    &self.endpoints.revocation_endpoint,
                    tokens.refresh_token.as_ref(),
                ) && let Err(revoke_err) = revoke(
                    http,
                    endpoint,
                    &self.client_id,
                    refresh_token,
                    "refresh_token",
                )
                .await
                {
                    tracing::warn!(
                        code = revoke_err.code(),
                        "the refused sign-in's refresh token could not be revoked"
                    );
                }
                return Err(id_error(err));
            }
        };
        if (identity.name.is_none() || identity.email.is_none())
            && let Some(userinfo) = &self.endpoints.userinfo_endpoint
            && let Err(err) =
                complete_from_userinfo(http, userinfo, &tokens.access_token, &mut identity).await
        {
            // The ID token already proved who signed in; UserInfo only adds display fields.
            tracing::warn!(code = err.code(), error = %err, "UserInfo unavailable; keeping the ID token's claims");
        }
        let id_token_ms = ms(started);
        Ok(Exchanged {
            identity,
            refresh_token: tokens.refresh_token,
            access: AccessToken {
                token: tokens.access_token,
                expires_at: tokens.expires_at,
            },
            scopes: tokens.scopes.unwrap_or(self.scopes),
            exchange_ms,
            id_token_ms,
        })
    }
}

/// The Latchkey core: providers, sign-in, accounts. One per process; the app
/// and the CLI each build one over the same keychain and data folder.
pub struct Latchkey {
    pub(crate) http: Arc<dyn HttpClient>,
    pub(crate) vault: Vault,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) pending: PendingStore,
    pub(crate) registry: Registry,
    pub(crate) providers: Vec<ProviderConfig>,
    pub(crate) metadata: Mutex<HashMap<String, ProviderMetadata>>,
    pub(crate) locks: crate::file_lock::LockDir,
    /// Hashes of the `state`s of sign-ins completed lately (repeat links).
    pub(crate) recent: Mutex<Vec<([u8; 32], Instant)>>,
    pub(crate) access_tokens: Mutex<HashMap<AccountId, AccessToken>>,
    pub(crate) coordination: crate::refresh::Coordination,
    pub(crate) jwks: crate::id_token::JwksCache,
    pub(crate) changes: tokio::sync::broadcast::Sender<AccountId>,
}

impl std::fmt::Debug for Latchkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latchkey")
            .field("registry", &self.registry.path())
            .field("providers", &self.providers.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Latchkey {
    /// A core over the injected HTTP client, keychain, clock and registry, for
    /// the valid providers of the providers file.
    pub fn new(
        http: Arc<dyn HttpClient>,
        vault: Vault,
        clock: Arc<dyn Clock>,
        registry: Registry,
        providers: Vec<ProviderConfig>,
    ) -> Self {
        let data_dir = registry
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let locks = crate::file_lock::LockDir::new(crate::file_lock::lock_dir_for(&data_dir));
        Self {
            pending: PendingStore::new(vault.clone(), locks.clone()),
            http,
            vault,
            clock,
            registry,
            providers,
            metadata: Mutex::new(HashMap::new()),
            locks,
            recent: Mutex::new(Vec::new()),
            access_tokens: Mutex::new(HashMap::new()),
            coordination: crate::refresh::Coordination::default(),
            jwks: Mutex::new(HashMap::new()),
            changes: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// The configured providers.
    pub fn providers(&self) -> &[ProviderConfig] {
        &self.providers
    }

    /// A configured provider.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id.as_str() == id)
    }

    /// The injected HTTP client.
    pub fn http(&self) -> &dyn HttpClient {
        self.http.as_ref()
    }

    /// The registry file.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Fetches (and caches) a provider's metadata.
    pub async fn discover(&self, provider_id: &str) -> Result<ProviderMetadata, AuthorizeError> {
        let config = self
            .provider(provider_id)
            .ok_or_else(|| AuthorizeError::UnknownProvider {
                id: provider_id.to_owned(),
            })?;
        let metadata = crate::discovery::discover(self.http.as_ref(), config).await?;
        lock(&self.metadata).insert(provider_id.to_owned(), metadata.clone());
        Ok(metadata)
    }

    /// A provider's metadata: cached, else discovered now.
    pub async fn metadata(&self, provider_id: &str) -> Result<ProviderMetadata, AuthorizeError> {
        let cached = lock(&self.metadata).get(provider_id).cloned();
        match cached {
            Some(metadata) => Ok(metadata),
            None => self.discover(provider_id).await,
        }
    }

    /// Starts a sign-in: builds the request and remembers it (keychain).
    /// The caller opens [`PendingSummary::authorization_url`] in the system browser.
    pub async fn begin(
        &self,
        provider_id: &str,
        options: &SignInOptions,
    ) -> Result<PendingSummary, AuthorizeError> {
        let metadata = self.metadata(provider_id).await?;
        let provider =
            self.provider(provider_id)
                .ok_or_else(|| AuthorizeError::UnknownProvider {
                    id: provider_id.to_owned(),
                })?;
        let now = self.clock.now();
        let pending = new_authorization(provider, &metadata, options, now)?;
        self.pending.insert(&pending, now).await?;
        tracing::info!(provider = %provider.id, handle = pending.handle.as_str(), reauth = options.reauth_of.is_some(), "sign-in started");
        Ok(pending.summary())
    }

    /// The sign-ins waiting for their redirect.
    pub async fn pending(&self) -> Result<Vec<PendingSummary>, VaultError> {
        self.pending.list(self.clock.now()).await
    }

    /// Cancels a pending sign-in; a late redirect for it is then ignored.
    pub async fn cancel(&self, handle: &PendingHandle) -> Result<bool, VaultError> {
        self.pending.cancel(handle).await
    }

    /// The registered accounts and the default one.
    pub fn accounts(&self) -> Result<AccountBook, RegistryError> {
        self.registry.load()
    }

    /// The in-memory access token's expiry for an account.
    pub fn access_token_expiry(&self, id: &AccountId) -> Option<Option<SystemTime>> {
        lock(&self.access_tokens).get(id).map(|t| t.expires_at)
    }

    /// The in-memory access token of an account, if any.
    pub fn access_token(&self, id: &AccountId) -> Option<AccessToken> {
        lock(&self.access_tokens).get(id).cloned()
    }

    /// Reads an account's refresh token from the keychain.
    pub(crate) async fn read_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        match self.vault.get(id.as_str()).await? {
            Some(raw) => crate::account_secret::decode(&raw, id.as_str()).map(Some),
            None => Ok(None),
        }
    }

    /// The refresh token the provider currently accepts for an account: one
    /// the keychain refused to store (kept in memory) if any, else the
    /// keychain's. Call it holding the account's writer.
    pub(crate) async fn live_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        match self.slot(id).unsaved() {
            Some(token) => Ok(Some(token)),
            None => self.read_refresh_token(id).await,
        }
    }

    /// Writes an account's refresh token to the keychain. Call it holding the
    /// account's writer.
    pub(crate) async fn write_refresh_token(
        &self,
        id: &AccountId,
        token: &SecretString,
    ) -> Result<(), VaultError> {
        self.vault
            .set(id.as_str(), crate::account_secret::encode(token)?)
            .await
    }

    /// Test seam: stores a refresh token for an account, as a sign-in would.
    #[cfg(any(test, feature = "testing"))]
    pub async fn testing_store_refresh_token(
        &self,
        id: &AccountId,
        token: &SecretString,
    ) -> Result<(), VaultError> {
        self.write_refresh_token(id, token).await
    }

    /// Test seam: the refresh token in an account's keychain item.
    #[cfg(any(test, feature = "testing"))]
    pub async fn testing_refresh_token(
        &self,
        id: &AccountId,
    ) -> Result<Option<SecretString>, VaultError> {
        self.read_refresh_token(id).await
    }

    /// Whether `state` belongs to a sign-in completed in the last minute
    /// (and remembers it when `record`): a browser that delivers the same
    /// link twice (a double click on its "open Latchkey?" prompt) does so
    /// within seconds. Only a hash of the state is kept.
    fn seen_lately(&self, state: &str, record: bool) -> bool {
        let hash: [u8; 32] = sha2::Sha256::digest(state.as_bytes()).into();
        let mut recent = lock(&self.recent);
        recent.retain(|(_, at)| at.elapsed() < REPEAT_WINDOW);
        let seen = recent.iter().any(|(h, _)| *h == hash);
        if record && !seen {
            recent.push((hash, Instant::now()));
        }
        seen
    }

    /// Stores a completed sign-in under the account's writer: the refresh
    /// token, then the metadata. Returns whether the account existed, its
    /// replaced refresh token (to revoke) and the keychain write's duration.
    async fn store_signed_in(
        &self,
        account: &Account,
        refresh_token: &SecretString,
        access: AccessToken,
    ) -> Result<(bool, Option<SecretString>, u64), (CompleteError, Kept)> {
        let lost = |err: CompleteError| (err, Kept::No);
        let writer = self.writer(&account.id).await.map_err(|err| {
            lost(CompleteError::Busy {
                reason: err.to_string(),
            })
        })?;
        let existed = self
            .registry
            .load()
            .map_err(|err| lost(err.into()))?
            .get(&account.id)
            .is_some();
        // The old token of an account signed in again: revoked once the new one is stored.
        let old_token = if existed {
            self.live_refresh_token(&account.id).await.ok().flatten()
        } else {
            None
        };
        let started = Instant::now();
        self.write_refresh_token(&account.id, refresh_token)
            .await
            .map_err(|err| lost(err.into()))?;
        // Whatever was kept in memory for this account is older than this token.
        writer.clear_unsaved();
        let keychain_ms = ms(started);
        if let Err(err) = self.registry.update(|book| book.upsert(account.clone())) {
            if existed {
                // The account's item now holds the new token: keep it.
                return Err((err.into(), Kept::Yes));
            }
            // Do not leave a keychain item without its account.
            let _ = self.vault.delete(account.id.as_str()).await;
            return Err(lost(err.into()));
        }
        lock(&self.access_tokens).insert(account.id.clone(), access);
        drop(writer);
        Ok((existed, old_token, keychain_ms))
    }

    /// Completes a sign-in from a redirect URL received on `redirect_uri`.
    pub async fn complete(&self, url: &str, redirect_uri: &Url) -> Result<SignedIn, CompleteError> {
        let arrived = Instant::now();
        let redirect = match parse_redirect(url, redirect_uri) {
            Ok(redirect) => redirect,
            Err(RedirectError::FragmentResponse { state: Some(state) }) => {
                // The provider answered in the fragment: end the sign-in it belongs to.
                return Err(match self.pending.take(&state, self.clock.now()).await? {
                    Taken::Found(p) => CompleteError::Fragment {
                        provider_name: p.provider_name.clone(),
                    },
                    Taken::Expired { provider_name } => CompleteError::Fragment { provider_name },
                    Taken::Unknown => {
                        CompleteError::Link(RedirectError::FragmentResponse { state: None })
                    }
                });
            }
            Err(err) => return Err(CompleteError::Link(err)),
        };
        let Some(state) = redirect.state() else {
            return Err(CompleteError::UnknownState);
        };
        let pending = match self.pending.take(state, self.clock.now()).await? {
            Taken::Found(p) => {
                self.seen_lately(state, true);
                *p
            }
            Taken::Expired { provider_name } => {
                return Err(CompleteError::Expired { provider_name });
            }
            Taken::Unknown if self.seen_lately(state, false) => {
                tracing::info!("a repeat of a sign-in link that was just used; ignored");
                return Err(CompleteError::Repeated);
            }
            Taken::Unknown => return Err(CompleteError::UnknownState),
        };
        // Mix-up defence for providers without RFC 9207: the link must come
        // on the redirect URI of the request it claims to answer.
        crate::redirect::matches_pending(redirect_uri, &pending.redirect_uri)
            .map_err(CompleteError::Issuer)?;
        check_issuer(
            redirect.iss(),
            &pending.endpoints.issuer,
            pending.endpoints.iss_required,
        )
        .map_err(CompleteError::Issuer)?;
        let provider_name = pending.provider_name.clone();
        let provider_id = pending.provider_id.clone();
        let reauth_of = pending.reauth_of.clone().map(AccountId::new);
        let handle = pending.summary().handle;
        // An accounts file this version cannot write would waste the code (and
        // strand a fresh refresh token): stop before the exchange.
        self.registry.load()?;
        let revocation_endpoint = pending.endpoints.revocation_endpoint.clone();
        let client_id = pending.client_id.clone();
        let code = match redirect {
            Redirect::Success(response) => response.code,
            Redirect::Error(e) if e.error == "access_denied" => {
                return Err(CompleteError::Cancelled {
                    provider_name,
                    description: e.description,
                });
            }
            Redirect::Error(e) => {
                return Err(CompleteError::Authorization {
                    provider_name,
                    error: e.error,
                    description: e.description,
                });
            }
        };
        let exchanged = pending
            .complete(code, self.http.as_ref(), self.clock.as_ref())
            .await?;
        let refresh_token =
            exchanged
                .refresh_token
                .ok_or_else(|| CompleteError::NoRefreshToken {
                    provider_name: provider_name.clone(),
                })?;
        let exchanged_ms = (exchanged.exchange_ms, exchanged.id_token_ms);
        let account = new_account(
            &provider_id,
            &exchanged.identity,
            exchanged.scopes,
            self.clock.now(),
        );

        // One writer per account: a refresh of the old grant that is running
        // now finishes (and stores its rotated token) before we replace it.
        let stored = self
            .store_signed_in(&account, &refresh_token, exchanged.access)
            .await;
        let (existed, old_token, keychain_ms) = match stored {
            Ok(stored) => stored,
            Err((err, Kept::Yes)) => return Err(err),
            Err((err, Kept::No)) => {
                // The provider has issued a grant we could not keep: end it there.
                if let Some(endpoint) = &revocation_endpoint
                    && let Err(revoke_err) = revoke(
                        self.http.as_ref(),
                        endpoint,
                        &client_id,
                        &refresh_token,
                        "refresh_token",
                    )
                    .await
                {
                    tracing::warn!(
                        code = revoke_err.code(),
                        "the unsaved sign-in's refresh token could not be revoked"
                    );
                }
                return Err(err);
            }
        };
        let replaced = existed;
        let mut old_token_revoked = None;
        if let Some(old) = old_token.filter(|old| old != &refresh_token) {
            old_token_revoked = Some(match &revocation_endpoint {
                Some(endpoint) => match revoke(
                    self.http.as_ref(),
                    endpoint,
                    &client_id,
                    &old,
                    "refresh_token",
                )
                .await
                {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::warn!(account = %account.id, code = err.code(), error = %err, "the replaced refresh token could not be revoked");
                        false
                    }
                },
                None => false,
            });
        }
        let timings = Timings {
            exchange_ms: exchanged_ms.0,
            id_token_ms: exchanged_ms.1,
            keychain_ms,
            total_ms: ms(arrived),
        };
        tracing::info!(
            account = %account.id,
            provider = %provider_id,
            replaced,
            exchange_ms = timings.exchange_ms,
            id_token_ms = timings.id_token_ms,
            keychain_ms = timings.keychain_ms,
            total_ms = timings.total_ms,
            "sign-in completed"
        );
        Ok(SignedIn {
            handle,
            reauth_of: reauth_of.filter(|id| id != &account.id),
            account,
            replaced,
            old_token_revoked,
            timings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, RefusingStore, jwks};
    use crate::vault::{KeyringStore, SecretStore};
    use std::time::Duration;

    fn provider() -> ProviderConfig {
        crate::provider::parse_providers(&format!(
            "[[provider]]\nid = \"p\"\nname = \"Example\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n"
        ))
        .expect("parses")
        .remove(0)
        .config
        .expect("valid")
    }

    fn metadata(iss_required: bool) -> ProviderMetadata {
        let url = |p: &str| Url::parse(&format!("{ISSUER}{p}")).expect("url");
        ProviderMetadata {
            issuer: ISSUER.into(),
            authorization_endpoint: url("/auth"),
            token_endpoint: url("/token"),
            jwks_uri: url("/jwks"),
            userinfo_endpoint: Some(url("/me")),
            revocation_endpoint: None,
            authorization_response_iss_parameter_supported: iss_required,
            scopes_supported: vec![],
            prompt_values_supported: None,
        }
    }

    struct Fixture {
        server: Arc<FakeServer>,
        store: Arc<RefusingStore>,
        clock: Arc<ManualClock>,
        signin: Latchkey,
        dir: std::path::PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture(name: &str) -> Fixture {
        let server = Arc::new(FakeServer::new());
        let store = Arc::new(RefusingStore::over(Arc::new(KeyringStore::in_memory(
            format!("signin-{name}"),
        ))));
        let clock = Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        ));
        let dir =
            std::env::temp_dir().join(format!("latchkey-signin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let signin = Latchkey::new(
            server.clone(),
            Vault::new(store.clone()),
            clock.clone(),
            Registry::in_dir(&dir),
            vec![provider()],
        );
        Fixture {
            server,
            store,
            clock,
            signin,
            dir,
        }
    }

    fn callback() -> Url {
        Url::parse("dev.latchkey:/oauth/callback").expect("url")
    }

    fn query(url: &Url, name: &str) -> String {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .expect("param")
    }

    impl Fixture {
        /// Begins a sign-in and sets the fake server up to answer it like a real IdP.
        async fn begin(&self, iss_required: bool, refresh_token: bool) -> (String, String) {
            let known = lock(&self.signin.metadata).get("p").cloned();
            let mut md = metadata(iss_required);
            md.revocation_endpoint = known.and_then(|k| k.revocation_endpoint);
            lock(&self.signin.metadata).insert("p".into(), md);
            let pending = self
                .signin
                .begin("p", &SignInOptions::default())
                .await
                .expect("begin");
            let state = query(&pending.authorization_url, "state");
            let nonce = query(&pending.authorization_url, "nonce");
            let id_token = Claims::valid(self.clock.now(), &nonce).sign();
            let mut body = serde_json::json!({
                "access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600,
                "id_token": id_token.to_string(), "scope": "openid email offline_access",
            });
            if refresh_token {
                body["refresh_token"] = "RT-1".into();
            }
            self.server.set("/token", Canned::json(200, body));
            self.server.set(
                "/jwks",
                Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
            );
            (state, nonce)
        }

        fn nothing_stored(&self) {
            assert!(
                self.signin
                    .accounts()
                    .expect("registry")
                    .accounts
                    .is_empty()
            );
            let id = AccountId::derive(ISSUER, "alice");
            assert_eq!(self.store.get(id.as_str()).expect("get"), None);
        }
    }

    #[tokio::test]
    async fn a_sign_in_completes_and_stores_token_and_metadata() {
        let f = fixture("happy");
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback?code=C1&state={state}&iss={}",
            urlencode(ISSUER)
        );
        let done = f
            .signin
            .complete(&url, &callback())
            .await
            .expect("signed in");
        assert_eq!(done.account.subject, "alice");
        assert_eq!(done.account.email.as_deref(), Some("alice@example.test"));
        assert!(!done.replaced);
        assert_eq!(
            f.signin
                .read_refresh_token(&done.account.id)
                .await
                .expect("get")
                .expect("rt")
                .expose(),
            "RT-1"
        );
        assert_eq!(f.signin.accounts().expect("accounts").accounts.len(), 1);
        assert!(f.signin.access_token(&done.account.id).is_some());
        let token_request = f
            .server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .find(|(p, _)| p == "/token")
            .cloned()
            .expect("token request");
        assert!(token_request.1.contains("code=C1"));
        assert!(token_request.1.contains("code_verifier="));
        // The pending request is gone: a repeat of the link (a double click on
        // the browser's prompt) is a quiet no-op, not a forgery alarm.
        let replay = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("replay");
        assert_eq!(replay.code(), "sign_in_link_repeated");
        assert!(replay.is_repeat() && !replay.is_ignored_link());
        assert_eq!(f.server.count("/token"), 1);
        // A state nobody issued is still reported.
        let forged = f
            .signin
            .complete(&callback_for("never-issued"), &callback())
            .await
            .expect_err("forged");
        assert_eq!(forged.code(), "unknown_state");
        // A minute later a replay is an unknown link again.
        lock(&f.signin.recent).clear();
        let late = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("late");
        assert_eq!(late.code(), "unknown_state");
    }

    /// A well-formed callback (code `C`, our issuer) for a pending request.
    fn callback_for(state: &str) -> String {
        format!(
            "dev.latchkey:/oauth/callback?code=C&state={state}&iss={}",
            urlencode(ISSUER)
        )
    }

    fn urlencode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    #[tokio::test]
    async fn unknown_state_changes_nothing() {
        let f = fixture("unknown");
        let (state, _) = f.begin(true, true).await;
        let err = f
            .signin
            .complete(
                "dev.latchkey:/oauth/callback?code=C&state=forged",
                &callback(),
            )
            .await
            .expect_err("unknown");
        assert!(err.is_ignored_link());
        assert_eq!(
            f.signin.pending().await.expect("pending").len(),
            1,
            "the real one is still pending"
        );
        f.nothing_stored();
        // The real one still completes.
        let url = callback_for(&state);
        assert!(f.signin.complete(&url, &callback()).await.is_ok());
    }

    #[tokio::test]
    async fn iss_mismatch_and_missing_are_rejected_before_any_exchange() {
        let f = fixture("iss");
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback?code=C&state={state}&iss={}",
            urlencode("https://evil.example")
        );
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("mismatch")
                .code(),
            "issuer_mismatch"
        );
        let (state, _) = f.begin(true, true).await;
        let url = format!("dev.latchkey:/oauth/callback?code=C&state={state}");
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("missing")
                .code(),
            "issuer_missing"
        );
        assert_eq!(f.server.count("/token"), 0);
        f.nothing_stored();
        // A provider that does not promise iss may omit it, on its own
        // redirect URI (mix-up defence without RFC 9207)…
        let (state, _) = f.begin(false, true).await;
        let shared = format!("dev.latchkey:/oauth/callback?code=C&state={state}");
        let err = f
            .signin
            .complete(&shared, &callback())
            .await
            .expect_err("on the shared callback");
        assert_eq!(err.code(), "redirect_mismatch");
        assert!(!err.is_ignored_link(), "shown, not ignored");
        let (state, _) = f.begin(false, true).await;
        let url = format!("dev.latchkey:/oauth/callback/p?code=C&state={state}");
        let on = crate::redirect::callback_uri(&url, &callback()).expect("callback");
        assert!(f.signin.complete(&url, &on).await.is_ok());
    }

    #[tokio::test]
    async fn a_response_in_the_fragment_ends_its_sign_in_and_says_so() {
        let f = fixture("fragment");
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback#code=C&state={state}&iss={}",
            urlencode(ISSUER)
        );
        let err = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("fragment");
        assert_eq!(err.code(), "fragment_response");
        assert!(!err.is_ignored_link(), "{err}");
        assert!(err.to_string().contains("fragment"), "{err}");
        assert!(!err.to_string().contains(&state), "{err}");
        assert!(
            f.signin.pending().await.expect("pending").is_empty(),
            "the sign-in ended"
        );
        assert_eq!(f.server.count("/token"), 0);
    }

    #[tokio::test]
    async fn error_responses_are_typed() {
        let f = fixture("errors");
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback?error=access_denied&error_description=End-User+aborted+interaction&state={state}&iss={}",
            urlencode(ISSUER)
        );
        let err = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("denied");
        assert_eq!(err.code(), "sign_in_cancelled");
        assert!(err.to_string().contains("End-User aborted interaction"));
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback?error=server_error&state={state}&iss={}",
            urlencode(ISSUER)
        );
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("error")
                .code(),
            "authorization_error"
        );
        f.nothing_stored();
        assert!(f.signin.pending().await.expect("pending").is_empty());
    }

    #[tokio::test]
    async fn expired_pending_sign_in() {
        let f = fixture("expired");
        let (state, _) = f.begin(true, true).await;
        f.clock.advance(Duration::from_secs(11 * 60));
        let url = callback_for(&state);
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("expired")
                .code(),
            "sign_in_expired"
        );
        f.nothing_stored();
    }

    #[tokio::test]
    async fn duplicate_parameters_do_not_consume_the_pending_request() {
        let f = fixture("dup");
        let (state, _) = f.begin(true, true).await;
        let url = format!(
            "dev.latchkey:/oauth/callback?code=A&code=B&state={state}&iss={}",
            urlencode(ISSUER)
        );
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("dup")
                .code(),
            "link_duplicate_parameter"
        );
        assert_eq!(f.signin.pending().await.expect("pending").len(), 1);
    }

    #[tokio::test]
    async fn a_failing_keychain_write_stores_nothing() {
        let f = fixture("vault");
        f.store.refuse_writes(true);
        let (state, _) = f.begin(true, true).await;
        let url = callback_for(&state);
        let err = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("keychain");
        assert_eq!(err.code(), "keychain_locked");
        assert!(err.to_string().contains("nothing was stored"));
        f.nothing_stored();
    }

    #[tokio::test]
    async fn a_failing_registry_write_removes_the_keychain_item() {
        let f = fixture("registry");
        // The registry's lock file is a folder: every write fails (reads work).
        std::fs::create_dir_all(f.dir.join("accounts.lock")).expect("mkdir");
        let (state, _) = f.begin(true, true).await;
        let url = callback_for(&state);
        let err = f
            .signin
            .complete(&url, &callback())
            .await
            .expect_err("registry");
        assert_eq!(err.code(), "registry_io");
        let id = AccountId::derive(ISSUER, "alice");
        assert_eq!(
            f.store.get(id.as_str()).expect("get"),
            None,
            "no orphan keychain item"
        );
    }

    #[tokio::test]
    async fn no_refresh_token_is_a_clear_error() {
        let f = fixture("nort");
        let (state, _) = f.begin(true, false).await;
        let url = callback_for(&state);
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("no rt")
                .code(),
            "no_refresh_token"
        );
        f.nothing_stored();
    }

    #[tokio::test]
    async fn a_wrong_nonce_in_the_id_token_stores_nothing() {
        let f = fixture("nonce");
        with_revocation(&f, 200);
        let pending = f
            .signin
            .begin("p", &SignInOptions::default())
            .await
            .expect("begin");
        let state = query(&pending.authorization_url, "state");
        let id_token = Claims::valid(f.clock.now(), "replayed-nonce").sign();
        f.server.on(
            "/token",
            Canned::json(200, serde_json::json!({"access_token": "AT", "token_type": "Bearer", "refresh_token": "RT", "id_token": id_token.to_string()})),
        );
        f.server.on(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        let url = callback_for(&state);
        assert_eq!(
            f.signin
                .complete(&url, &callback())
                .await
                .expect_err("nonce")
                .code(),
            "id_token_nonce"
        );
        f.nothing_stored();
        // The grant the provider just issued is ended there too.
        let revoked = f
            .server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .find(|(p, _)| p == "/token/revocation")
            .cloned()
            .expect("the refused sign-in's refresh token is revoked")
            .1;
        assert!(revoked.contains("token=RT&"), "{revoked}");
    }

    async fn signed_in(f: &Fixture) -> AccountId {
        let (state, _) = f.begin(true, true).await;
        let url = callback_for(&state);
        f.signin
            .complete(&url, &callback())
            .await
            .expect("signed in")
            .account
            .id
    }

    fn with_revocation(f: &Fixture, status: u16) {
        let mut md = metadata(true);
        md.revocation_endpoint =
            Some(Url::parse(&format!("{ISSUER}/token/revocation")).expect("url"));
        lock(&f.signin.metadata).insert("p".into(), md);
        f.server.set(
            "/token/revocation",
            Canned::json(status, serde_json::json!({})),
        );
    }

    #[tokio::test]
    async fn sign_out_revokes_then_deletes_everything() {
        let f = fixture("signout");
        let id = signed_in(&f).await;
        with_revocation(&f, 200);
        let report = f.signin.sign_out(&id).await.expect("signed out");
        assert!(matches!(
            report.revocation,
            crate::manage::Revocation::Revoked
        ));
        let body = f
            .server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .find(|(p, _)| p == "/token/revocation")
            .cloned()
            .expect("revoked")
            .1;
        assert!(body.contains("token=RT-1"));
        assert!(body.contains("token_type_hint=refresh_token"));
        assert!(body.contains("client_id=latchkey-desktop"));
        f.nothing_stored();
        assert!(f.signin.access_token(&id).is_none());
    }

    #[tokio::test]
    async fn sign_out_when_the_provider_fails_is_local_and_says_so() {
        let f = fixture("signout-offline");
        let id = signed_in(&f).await;
        with_revocation(&f, 503);
        let report = f.signin.sign_out(&id).await.expect("signed out locally");
        assert!(matches!(
            report.revocation,
            crate::manage::Revocation::Failed { .. }
        ));
        f.nothing_stored();
    }

    #[tokio::test]
    async fn signing_in_again_revokes_the_replaced_token() {
        let f = fixture("again");
        let id = signed_in(&f).await;
        with_revocation(&f, 200);
        let (state, nonce) = f.begin(true, true).await;
        let body = serde_json::json!({
            "access_token": "AT-2", "token_type": "Bearer", "refresh_token": "RT-2",
            "id_token": Claims::valid(f.clock.now(), &nonce).sign().to_string(),
        });
        f.server.set("/token", Canned::json(200, body));
        let url = format!(
            "dev.latchkey:/oauth/callback?code=C2&state={state}&iss={}",
            urlencode(ISSUER)
        );
        let done = f.signin.complete(&url, &callback()).await.expect("again");
        assert!(done.replaced);
        assert_eq!(done.old_token_revoked, Some(true));
        assert_eq!(done.account.id, id);
        assert_eq!(
            f.signin
                .read_refresh_token(&id)
                .await
                .expect("get")
                .expect("rt")
                .expose(),
            "RT-2"
        );
        let revoked = f
            .server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .find(|(p, _)| p == "/token/revocation")
            .cloned()
            .expect("revoked")
            .1;
        assert!(revoked.contains("token=RT-1"));
        assert_eq!(f.signin.accounts().expect("book").accounts.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signing_in_again_during_a_refresh_ends_on_the_new_grant() {
        let f = fixture("again-race");
        let id = signed_in(&f).await;
        with_revocation(&f, 200);
        let (state, nonce) = f.begin(true, true).await;
        // A refresh of the old grant is at the provider, slowly.
        f.server.set(
            "/token",
            Canned::json(
                200,
                serde_json::json!({
                    "access_token": "AT-1b", "token_type": "Bearer", "refresh_token": "RT-1b",
                }),
            ),
        );
        *f.server.delay.lock().expect("delay") = Duration::from_millis(300);
        let core = Arc::new(f);
        let refresh = {
            let core = Arc::clone(&core);
            let id = id.clone();
            tokio::spawn(async move { core.signin.refresh_account(&id).await })
        };
        while core.server.count("/token") < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Meanwhile the person signs in again: the new grant's code exchange.
        core.server.set(
            "/token",
            Canned::json(
                200,
                serde_json::json!({
                    "access_token": "AT-2", "token_type": "Bearer", "refresh_token": "RT-2",
                    "id_token": Claims::valid(core.clock.now(), &nonce).sign().to_string(),
                }),
            ),
        );
        *core.server.delay.lock().expect("delay") = Duration::ZERO;
        let done = core
            .signin
            .complete(&callback_for(&state), &callback())
            .await
            .expect("signed in again");
        refresh
            .await
            .expect("task")
            .expect("the old grant's refresh finished first");
        assert_eq!(done.old_token_revoked, Some(true));
        assert_eq!(
            core.signin
                .read_refresh_token(&id)
                .await
                .expect("get")
                .expect("rt")
                .expose(),
            "RT-2",
            "the old grant's rotated token overwrote the new grant's"
        );
        let revoked: Vec<String> = core
            .server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == "/token/revocation")
            .map(|(_, b)| b.clone())
            .collect();
        assert_eq!(revoked.len(), 1);
        assert!(revoked[0].contains("token=RT-1b"), "{}", revoked[0]);
    }

    #[tokio::test]
    async fn reconcile_never_takes_an_unreadable_item_for_a_missing_one() {
        let f = fixture("reconcile-locked");
        let id = signed_in(&f).await;
        // The item is locked (a collection locked again, a D-Bus hiccup).
        f.store.inner.fail_next(
            id.as_str(),
            keyring_core::Error::NoStorageAccess("locked".into()),
        );
        let report = f.signin.reconcile().await.expect("reconciled");
        assert!(report.needs_sign_in.is_empty(), "{report:?}");
        assert_eq!(
            f.signin
                .accounts()
                .expect("book")
                .get(&id)
                .expect("kept")
                .status,
            crate::accounts::AccountStatus::Active
        );
        assert!(
            f.signin
                .read_refresh_token(&id)
                .await
                .expect("get")
                .is_some()
        );
    }

    #[tokio::test]
    async fn reconcile_marks_missing_secrets_and_deletes_orphans() {
        let f = fixture("reconcile");
        let id = signed_in(&f).await;
        f.store.delete(id.as_str()).expect("delete by hand");
        f.store
            .set("acct-orphan", &SecretString::new("x"))
            .expect("plant");
        f.store
            .set("pending-authorizations-unrelated", &SecretString::new("x"))
            .expect("plant");
        let report = f.signin.reconcile().await.expect("reconciled");
        assert_eq!(report.needs_sign_in, std::slice::from_ref(&id));
        assert_eq!(report.orphans_deleted, ["acct-orphan"]);
        assert_eq!(f.store.get("acct-orphan").expect("get"), None);
        assert!(
            f.store
                .get("pending-authorizations-unrelated")
                .expect("get")
                .is_some(),
            "only account items are touched"
        );
        let book = f.signin.accounts().expect("book");
        assert_eq!(
            book.get(&id).expect("kept").status,
            crate::accounts::AccountStatus::NeedsSignIn
        );
    }

    #[tokio::test]
    async fn reconcile_with_a_damaged_registry_keeps_every_secret() {
        let f = fixture("reconcile-corrupt");
        let id = signed_in(&f).await;
        std::fs::write(f.signin.registry().path(), b"{ damaged").expect("damage");
        let report = f.signin.reconcile().await.expect("reconciled");
        let (moved, _) = report.quarantined.expect("moved aside");
        assert_eq!(std::fs::read(moved).expect("kept"), b"{ damaged");
        assert!(report.orphans_deleted.is_empty());
        assert!(
            f.signin
                .read_refresh_token(&id)
                .await
                .expect("get")
                .is_some(),
            "the secret survives"
        );
    }

    #[tokio::test]
    async fn labels_default_and_reauthentication_request() {
        let f = fixture("manage");
        let id = signed_in(&f).await;
        f.signin.rename(&id, Some("  Work\u{7}  ")).expect("rename");
        assert_eq!(
            f.signin
                .accounts()
                .expect("book")
                .get(&id)
                .expect("a")
                .label
                .as_deref(),
            Some("Work")
        );
        f.signin.rename(&id, Some("   ")).expect("clear");
        assert_eq!(
            f.signin
                .accounts()
                .expect("book")
                .get(&id)
                .expect("a")
                .label,
            None
        );
        f.signin.make_default(&id).expect("default");
        assert!(f.signin.accounts().expect("book").is_default(&id));
        assert_eq!(
            f.signin
                .make_default(&AccountId::new("acct-nope"))
                .expect_err("unknown")
                .code(),
            "unknown_account"
        );
        let pending = f.signin.reauthenticate(&id).await.expect("reauth");
        let q: HashMap<String, String> = pending
            .authorization_url
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["login_hint"], "alice@example.test");
        assert_eq!(q["prompt"], "login consent");
    }
}
