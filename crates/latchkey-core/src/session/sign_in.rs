//! Sign-in, end to end inside the core: start a request, then complete it from
//! the redirect the app received.
//!
//! [`Latchkey::begin`] builds the request and remembers it in the keychain; the
//! app opens the URL in the system browser. [`Latchkey::complete`] takes the
//! redirect URL (a deep link, warm or cold), matches its `state` to a pending
//! request (consuming it), checks `iss` (RFC 9207) and errors, exchanges the
//! code (PKCE), validates the ID token, stores the refresh token in the
//! keychain and the account's metadata in the registry — in that order, so a
//! failure leaves nothing half-stored.

use std::sync::Arc;
use std::time::Instant;

use sha2::Digest as _;

use url::Url;

use crate::accounts::{AccountId, RegistryError};
use crate::authorize::{
    AuthorizeError, PendingAuthorization, PendingHandle, PendingSummary, SignInOptions,
    new_authorization,
};
use crate::clock::Clock;
use crate::flow::pending::Taken;
use crate::provider::RedirectKind;
use crate::session::latchkey::lock;
pub use crate::session::latchkey::{AccessToken, Latchkey};
use crate::session::signed_in::{Exchanged, Finish, Issued, identify, ms};
pub use crate::session::signed_in::{SignedIn, Timings};

use crate::error::ErrorCode;
use crate::http::HttpClient;
use crate::id_token::IdTokenError;

use crate::redirect::{Redirect, RedirectError, check_issuer, parse_redirect};
use crate::secret::SecretString;
use crate::token::{TokenEndpoint, TokenError, exchange_code};
use crate::vault::VaultError;

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
    Expired {
        /// The provider's display name, for the message.
        provider_name: String,
    },
    /// The person cancelled or refused at the provider.
    #[error("sign-in cancelled at {provider_name}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Cancelled {
        /// The provider's display name, for the message.
        provider_name: String,
        /// The provider's `error_description`, if any (RFC 6749 §4.1.2.1).
        description: Option<String>,
    },
    /// The provider returned another error.
    #[error("{provider_name} refused the sign-in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Authorization {
        /// The provider's display name, for the message.
        provider_name: String,
        /// The OAuth `error` code (RFC 6749 §4.1.2.1).
        error: String,
        /// The provider's `error_description`, if any (RFC 6749 §4.1.2.1).
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
    Fragment {
        /// The provider's display name, for the message.
        provider_name: String,
    },
    /// The code exchange failed.
    #[error("signing in to {provider_name} failed: {source}")]
    Token {
        /// The provider's display name, for the message.
        provider_name: String,
        /// Why the token endpoint failed.
        #[source]
        source: TokenError,
    },
    /// The ID token was refused.
    #[error("signing in to {provider_name} failed: {source}")]
    IdToken {
        /// The provider's display name, for the message.
        provider_name: String,
        /// Why the ID token was refused.
        #[source]
        source: IdTokenError,
    },
    /// No refresh token: Latchkey could not keep the account signed in.
    #[error(
        "{provider_name} did not grant offline access (no refresh token), so Latchkey cannot keep this account signed in"
    )]
    NoRefreshToken {
        /// The provider's display name, for the message.
        provider_name: String,
    },
    /// The provider's settings here cannot complete the sign-in (its client
    /// secret is not stored).
    #[error("cannot complete the sign-in with {provider_name}: {reason}")]
    Configuration {
        /// The provider's display name, for the message.
        provider_name: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Another Latchkey process kept the account busy for too long.
    #[error("the sign-in could not be saved: {reason}; nothing was stored")]
    Busy {
        /// Why the lock was not taken (the lock error, in words).
        reason: String,
    },
    /// A loopback sign-in was waiting for the browser when the app quit (its
    /// listener ended with the process); removed at the next start.
    #[error(
        "the sign-in with {provider_name} was cancelled because the app was closed while it waited for the browser; please start again"
    )]
    Interrupted {
        /// The provider's display name, for the message.
        provider_name: String,
    },
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
            Self::Cancelled { .. } | Self::Interrupted { .. } => "sign_in_cancelled",
            Self::Authorization { .. } => "authorization_error",
            Self::Token { source, .. } => source.code(),
            Self::IdToken { source, .. } => source.code(),
            Self::NoRefreshToken { .. } => "no_refresh_token",
            Self::Configuration { .. } => "sign_in_configuration",
            Self::Busy { .. } => "lock_timeout",
            Self::Repeated => "sign_in_link_repeated",
            Self::Vault(err) => err.code(),
            Self::Registry(err) => err.code(),
        }
    }
}

/// How long a completed sign-in's link counts as a harmless repeat.
const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

impl PendingAuthorization {
    /// Redeems the code of this (consumed) request: token exchange with the
    /// PKCE verifier, then ID token validation with the nonce.
    async fn complete(
        self,
        code: SecretString,
        client_secret: Option<SecretString>,
        http: &dyn HttpClient,
        clock: &dyn Clock,
    ) -> Result<Exchanged, CompleteError> {
        let provider_name = self.provider_name.clone();
        let endpoint = TokenEndpoint {
            url: self.endpoints.token_endpoint.clone(),
            client_id: self.client_id.clone(),
            issuer: self.endpoints.issuer.clone(),
            client_secret,
            dead_grant_errors: Vec::new(),
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
        identify(
            tokens,
            Issued {
                provider_name: &provider_name,
                endpoints: &self.endpoints,
                client_id: &self.client_id,
                nonce: Some(&self.nonce),
                scopes: self.scopes,
            },
            http,
            clock,
            exchange_ms,
        )
        .await
    }
}

impl Latchkey {
    /// Starts a sign-in: builds the request and remembers it (keychain).
    /// The caller opens [`PendingSummary::authorization_url`] in the system browser.
    ///
    /// For a provider with `redirect = "loopback"` it first opens the
    /// listener on 127.0.0.1 (the port is part of the request) and serves it
    /// on the current tokio runtime until the response arrives, the sign-in is
    /// cancelled or expires, or [`Latchkey::shutdown`]; the result goes to
    /// [`Latchkey::sign_in_outcomes`].
    pub async fn begin(
        self: &Arc<Self>,
        provider_id: &str,
        options: &SignInOptions,
    ) -> Result<PendingSummary, AuthorizeError> {
        let metadata = self.metadata(provider_id).await?;
        let provider =
            self.provider(provider_id)
                .ok_or_else(|| AuthorizeError::UnknownProvider {
                    id: provider_id.to_owned(),
                })?;
        // Ask for a missing client secret now, not after the browser round trip.
        self.required_client_secret(provider_id, provider.client_secret)
            .await
            .map_err(|err| AuthorizeError::Configuration {
                reason: err.to_string(),
            })?;
        if let RedirectKind::Loopback { ports } = &provider.redirect {
            return self
                .begin_loopback(&provider, &metadata, ports, options)
                .await;
        }
        let now = self.clock.now();
        let pending = new_authorization(&provider, &metadata, options, now)?;
        self.pending.insert(&pending, now).await?;
        tracing::info!(provider = %provider.id, handle = pending.handle.as_str(), reauth = options.reauth_of.is_some(), "sign-in started");
        Ok(pending.summary())
    }

    /// The sign-ins waiting for their redirect.
    pub async fn pending(&self) -> Result<Vec<PendingSummary>, VaultError> {
        self.pending.list(self.clock.now()).await
    }

    /// Cancels a pending sign-in; a late redirect for it is then ignored
    /// (a loopback sign-in's listener is closed: it is refused).
    pub async fn cancel(&self, handle: &PendingHandle) -> Result<bool, VaultError> {
        self.close_listener(handle);
        self.pending.cancel(handle).await
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

    /// Completes a sign-in from a redirect URL received on `redirect_uri`.
    ///
    /// The request it answered leaves the keychain after this returns, in the
    /// background (it was taken from memory and counts as used here): call
    /// [`Latchkey::settle`] (or [`Latchkey::shutdown`]) before the process exits.
    pub async fn complete(&self, url: &str, redirect_uri: &Url) -> Result<SignedIn, CompleteError> {
        let outcome = self.complete_link(url, redirect_uri).await;
        self.pending.forget_taken_later().await;
        outcome
    }

    /// Waits for the keychain work a completed sign-in left to the
    /// background (removing the request it answered). [`Latchkey::shutdown`]
    /// does it too; a process that ends without either leaves that request
    /// in the keychain until it expires (used, never accepted again here).
    pub async fn settle(&self) {
        self.pending.settle().await;
    }

    async fn complete_link(
        &self,
        url: &str,
        redirect_uri: &Url,
    ) -> Result<SignedIn, CompleteError> {
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
        let client_secret = self
            .required_client_secret(&pending.provider_id, pending.endpoints.client_secret)
            .await
            .map_err(|err| CompleteError::Configuration {
                provider_name: pending.provider_name.clone(),
                reason: err.to_string(),
            })?;
        let exchanged = pending
            .complete(code, client_secret, self.http.as_ref(), self.clock.as_ref())
            .await?;
        self.finish_sign_in(
            exchanged,
            Finish {
                provider_id,
                provider_name,
                client_id,
                revocation_endpoint,
                reauth_of,
                handle,
                arrived,
            },
        )
        .await
    }
}

#[cfg(test)]
#[path = "sign_in_tests.rs"]
mod tests;
