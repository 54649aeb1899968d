//! Silent refresh and the token lifecycle.
//!
//! [`Latchkey::refresh_account`] redeems an account's refresh token without a
//! browser, safely under concurrency:
//! - **one writer per account** (`session/account_slot.rs`): a refresh takes the
//!   account's writer — in the process, then across processes (the app and
//!   the `latchkey` CLI) — and reads the refresh token from the keychain only
//!   once it holds it, so a token rotated by another writer is never
//!   presented again; callers that arrive while a refresh is running wait for
//!   it and share its result;
//! - **rotation**: a new refresh token is written to the keychain before the
//!   new access token is used or announced; no new one keeps the old;
//! - **only a dead grant ends an account**: `invalid_grant` from the token
//!   endpoint, or a validly signed ID token proving another `sub`/`iss`/`aud`
//!   (then the token is revoked first), delete the refresh token and mark the
//!   account "needs sign-in". Everything else keeps it: transport errors,
//!   5xx, 429 and any answer that is not OAuth (a WAF page, a proxy's 407, a
//!   redirect) are transient ("offline", retried with backoff that honours
//!   `Retry-After`); other OAuth errors (`invalid_client`, …) and ID tokens
//!   Latchkey cannot accept are "refused" (not retried until "Retry now");
//!   JWKS trouble and clock skew are transient.
//!
//! [`Latchkey::run_account`] is the per-account loop the app runs: refresh at
//! launch, then before expiry ([`next_refresh_at`]), with capped exponential
//! backoff and jitter ([`Backoff`]) while offline, woken early by "Retry now".

use std::sync::Arc;
use std::time::Duration;

pub use crate::account_slot::CROSS_PROCESS_LOCK_TIMEOUT;
use crate::account_slot::{AccountSlot, AccountWriter};
use crate::accounts::{Account, AccountId, AccountStatus};
use crate::clock::unix_seconds;
use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::file_lock::LockError;
use crate::id_token::{Expectations, IdTokenError, signed_by_provider, verify_cached};
use crate::provider::ProviderConfig;

use crate::account_secret::AccountSecret;
use crate::secret::SecretString;
use crate::session::latchkey::{AccessToken, Latchkey, lock};
use crate::token::{TokenEndpoint, TokenError, refresh};

/// How many refreshes run at once against one issuer.
pub const PER_ISSUER_CONCURRENCY: usize = 8;

/// A cached access token obtained at most this long ago is as fresh as a
/// refresh would make it, for a caller that asks for at least as long as the
/// provider's tokens live (see `AccountSecret::as_fresh_as_a_refresh`).
pub const JUST_REFRESHED: Duration = Duration::from_secs(30);

/// What a caller that may take the keychain's cached access token wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// The token must stay valid this long.
    pub(crate) min_validity: Duration,
    /// Whether a token obtained within [`JUST_REFRESHED`] will do when no
    /// refresh could meet `min_validity` either.
    pub(crate) share_recent: bool,
}

// Where these lived before the session layer was split; the app uses these paths.
pub use crate::session::refresh_error::RefreshError;
pub use crate::session::schedule::{
    Backoff, DEFAULT_LIFETIME, MAX_RETRY_AFTER, MIN_REFRESH_INTERVAL, next_refresh_at,
};
pub use crate::session::state::LiveStatus;

/// Counts a refresh as active until dropped.
struct Active<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What a refresh needs to know about its account, read under the writer.
struct Context {
    account: Account,
    provider: ProviderConfig,
    metadata: ProviderMetadata,
}

impl Latchkey {
    /// The slot of an account (created on first use).
    pub(crate) fn slot(&self, id: &AccountId) -> Arc<AccountSlot> {
        Arc::clone(
            lock(&self.coordination.slots)
                .entry(id.clone())
                .or_default(),
        )
    }

    /// Takes an account's writer (see [`crate::account_slot`]).
    pub(crate) async fn writer(&self, id: &AccountId) -> Result<AccountWriter, LockError> {
        self.slot(id)
            .writer(&self.locks, id.as_str(), CROSS_PROCESS_LOCK_TIMEOUT)
            .await
    }

    fn issuer_slots(&self, issuer: &str) -> Arc<tokio::sync::Semaphore> {
        Arc::clone(
            lock(&self.coordination.issuers)
                .entry(issuer.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PER_ISSUER_CONCURRENCY))),
        )
    }

    /// An access token valid for at least `min_validity`: the one in memory,
    /// else the one another process (the app, a `latchkey` CLI) cached in the
    /// account's keychain item, else a refreshed one. The keychain is read
    /// under the account's writer, so a refresh running elsewhere is waited
    /// for and its token used.
    pub async fn fresh_access_token(
        &self,
        id: &AccountId,
        min_validity: Duration,
    ) -> Result<AccessToken, RefreshError> {
        if let Some(token) = self.access_token(id)
            && token
                .expires_at
                .is_some_and(|e| e > self.clock.now() + min_validity)
        {
            return Ok(token);
        }
        let wanted = Wanted {
            min_validity,
            share_recent: true,
        };
        let result = self.refresh_shared(id, None, Some(wanted)).await;
        self.flush_refresh_times().await;
        result
    }

    /// Refreshes an account now (see the module docs for the guarantees).
    /// Callers that arrive while a refresh of the same account is running
    /// share its result instead of starting another.
    pub async fn refresh_account(&self, id: &AccountId) -> Result<AccessToken, RefreshError> {
        let result = self.refresh_shared(id, None, None).await;
        self.flush_refresh_times().await;
        result
    }

    /// `cached`: a token in the keychain's cache valid for this long is used
    /// instead of refreshing (`None`: refresh whatever the cache holds).
    ///
    /// `known`: the account as a batch (launch) read it just before; used
    /// instead of reading the registry again under the writer when nobody
    /// else held the writer meanwhile. (Reading the whole registry once per
    /// account made a launch of 100 accounts quadratic.)
    pub(crate) async fn refresh_shared(
        &self,
        id: &AccountId,
        known: Option<Account>,
        cached: Option<Wanted>,
    ) -> Result<AccessToken, RefreshError> {
        let slot = self.slot(id);
        let generation = slot.generation();
        let writes_before = slot.writes();
        let writer = self.writer(id).await?;
        if slot.generation() != generation
            && let Some(token) = self.access_token(id)
        {
            // Someone refreshed while we waited: share their result.
            return Ok(token);
        }
        let known = known.filter(|_| slot.writes() == writes_before);
        let result = self.refresh_locked(&writer, id, known, cached).await;
        if result.is_ok() {
            writer.bump_generation();
        }
        result
    }

    /// Stops starting refreshes and waits (up to `grace`) for the running ones
    /// to finish, so that no rotated refresh token dies with the process.
    /// Returns whether they all finished.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        use std::sync::atomic::Ordering;
        self.coordination.closing.store(true, Ordering::SeqCst);
        self.close_listeners();
        let deadline = tokio::time::Instant::now() + grace;
        while self.coordination.active.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("shutting down with refreshes still running");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.flush_refresh_times().await;
        self.settle().await;
        true
    }

    /// The account, read under the writer (a sign-out or sign-in again may
    /// have changed it while we waited).
    fn account(&self, id: &AccountId, known: Option<Account>) -> Result<Account, RefreshError> {
        match known {
            Some(account) => Ok(account),
            None => self
                .registry
                .load()?
                .get(id)
                .cloned()
                .ok_or_else(|| RefreshError::UnknownAccount { id: id.to_string() }),
        }
    }

    /// The account's provider and its metadata.
    async fn context(&self, account: Account) -> Result<Context, RefreshError> {
        let provider =
            self.provider(&account.provider_id)
                .ok_or_else(|| RefreshError::Refused {
                    reason: format!(
                        "the provider {:?} is no longer configured",
                        account.provider_id
                    ),
                    code: "unknown_provider",
                })?;
        let metadata = self
            .metadata(&account.provider_id)
            .await
            .map_err(|err| RefreshError::transient(&err))?;
        Ok(Context {
            account,
            provider,
            metadata,
        })
    }

    async fn refresh_locked(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        known: Option<Account>,
        cached: Option<Wanted>,
    ) -> Result<AccessToken, RefreshError> {
        use std::sync::atomic::Ordering;
        self.coordination.active.fetch_add(1, Ordering::SeqCst);
        let _active = Active(&self.coordination.active);
        if self.coordination.closing.load(Ordering::SeqCst) {
            return Err(RefreshError::Transient {
                reason: "Latchkey is shutting down".into(),
                code: "shutting_down",
                retry_after: None,
            });
        }
        let account = self.account(id, known)?;
        // A rotated token the keychain refused earlier is newer than the one in
        // the keychain: store it now if the keychain is back, and use it.
        let kept = match self.slot(id).unsaved() {
            Some(token) => {
                match self.write_refresh_token(id, &token).await {
                    Ok(()) => {
                        writer.clear_unsaved();
                        tracing::info!(account = %id, "stored the rotated refresh token kept in memory");
                    }
                    Err(err) => {
                        tracing::warn!(account = %id, code = err.code(), "the keychain still refuses the rotated refresh token");
                    }
                }
                Some(token)
            }
            // Under the writer: the keychain has the newest token, whoever
            // rotated it, and the access token that came with it.
            None => match self.read_secret(id).await? {
                Some(secret) => {
                    let now = self.clock.now();
                    if let Some(wanted) = cached
                        && let Some((token, expires_at)) =
                            secret.fresh_access(now, wanted.min_validity).or_else(|| {
                                wanted.share_recent.then_some(())?;
                                secret.as_fresh_as_a_refresh(
                                    now,
                                    wanted.min_validity,
                                    JUST_REFRESHED,
                                )
                            })
                    {
                        let access = AccessToken {
                            token,
                            expires_at: Some(expires_at),
                        };
                        lock(&self.access_tokens).insert(id.clone(), access.clone());
                        tracing::debug!(account = %id, "access token taken from the keychain's cache");
                        return Ok(access);
                    }
                    if let Some(token) = secret.never_expiring_access() {
                        // Nothing to refresh: the grant is this token.
                        let access = AccessToken {
                            token: token.clone(),
                            expires_at: None,
                        };
                        lock(&self.access_tokens).insert(id.clone(), access.clone());
                        return Ok(access);
                    }
                    secret.refresh_token
                }
                None => None,
            },
        };
        let Some(refresh_token) = kept else {
            self.mark_needs_sign_in(id)
                .map_err(|e| RefreshError::transient(&e))?;
            return Err(RefreshError::NeedsSignIn {
                reason: "its refresh token is missing from the keychain".into(),
                code: "refresh_token_missing",
            });
        };
        let Context {
            account,
            provider,
            metadata,
        } = self.context(account).await?;
        let client_secret = self
            .required_client_secret(provider.id.as_str(), provider.client_secret)
            .await
            .map_err(|err| RefreshError::Refused {
                reason: err.to_string(),
                code: "client_secret_missing",
            })?;
        let endpoint = TokenEndpoint {
            url: metadata.token_endpoint.clone(),
            client_id: provider.client_id.clone(),
            issuer: account.issuer.clone(),
            client_secret,
            dead_grant_errors: provider.dead_grant_errors.clone(),
        };
        let now = self.clock.now();
        // At most PER_ISSUER_CONCURRENCY token requests in flight per issuer.
        let slots = self.issuer_slots(&account.issuer);
        let slot = slots.acquire().await.map_err(|_| RefreshError::Transient {
            reason: "shutting down".into(),
            code: "shutting_down",
            retry_after: None,
        })?;
        let result = refresh(self.http.as_ref(), &endpoint, &refresh_token, now).await;
        drop(slot);
        let tokens = match result {
            Ok(tokens) => tokens,
            Err(err) => {
                if let TokenError::InvalidResponse {
                    rotated: Some(rotated),
                    ..
                } = &err
                    && rotated != &refresh_token
                {
                    // The provider may have retired the token we sent.
                    let secret = AccountSecret::refresh_only(rotated.clone());
                    self.store_rotated(writer, id, &secret).await?;
                }
                return Err(self.token_failed(writer, id, &err).await);
            }
        };
        // Rotation: persist the new refresh token before anything uses the
        // new access token (which rides along in the same write: the cache).
        let cache = |refresh_token: &SecretString| AccountSecret {
            refresh_token: Some(refresh_token.clone()),
            access: Some((tokens.access_token.clone(), tokens.expires_at)),
            obtained_at: Some(now),
        };
        let rotated = matches!(&tokens.refresh_token, Some(new) if new != &refresh_token);
        let live_token = match &tokens.refresh_token {
            Some(new_token) if rotated => {
                self.store_rotated(writer, id, &cache(new_token)).await?;
                new_token.clone()
            }
            _ => refresh_token,
        };
        // A provider without signing keys (no OIDC) proves nothing with an ID token.
        if let (Some(id_token), Some(jwks_uri)) = (&tokens.id_token, &metadata.jwks_uri) {
            let expect = Expectations {
                issuer: &account.issuer,
                client_id: &provider.client_id,
                nonce: None,
                subject: Some(&account.subject),
                now,
            };
            if let Err(err) =
                verify_cached(self.http.as_ref(), &self.jwks, jwks_uri, id_token, &expect).await
            {
                let proven = match &err {
                    // Checked by us after the signature was verified.
                    IdTokenError::SubjectChanged => true,
                    IdTokenError::Issuer { .. } | IdTokenError::Audience { .. } => {
                        signed_by_provider(
                            self.http.as_ref(),
                            &self.jwks,
                            jwks_uri,
                            id_token,
                            &provider.client_id,
                        )
                        .await
                    }
                    _ => false,
                };
                if proven {
                    tracing::error!(account = %id, code = err.code(), error = %err, "the provider proved another identity for this grant; revoking it");
                    self.revoke_quietly(&metadata, &provider, &live_token).await;
                    return Err(self
                        .grant_dead(writer, id, &err.to_string(), err.code())
                        .await);
                }
                if rotated {
                    // Its access token is not shared: the cache goes.
                    let _ = self.write_refresh_token(id, &live_token).await;
                }
                return Err(self.id_token_failed(id, &err, tokens.server_date));
            }
        }
        if !rotated {
            // The same refresh token: one write for the cache alone. Losing
            // it loses nothing (others refresh instead).
            if let Err(err) = self.write_secret(id, &cache(&live_token)).await {
                tracing::warn!(account = %id, code = err.code(), "could not cache the access token in the keychain");
            }
        }
        let access = AccessToken {
            token: tokens.access_token,
            expires_at: tokens.expires_at,
        };
        lock(&self.access_tokens).insert(id.clone(), access.clone());
        let refreshed_at = unix_seconds(self.clock.now());
        if account.status == AccountStatus::Active {
            // Only a timestamp changes: written in batches, off the refresh path.
            self.touch_refreshed(id, refreshed_at);
        } else {
            self.saw_refresh(id, refreshed_at);
            self.registry.update(|book| {
                if let Some(a) = book.get_mut(id) {
                    a.last_refreshed_at = Some(refreshed_at);
                    a.status = AccountStatus::Active;
                }
            })?;
        }
        tracing::info!(account = %id, rotated = tokens.refresh_token.is_some(), "access token refreshed");
        Ok(access)
    }
}

#[cfg(test)]
#[path = "refresh_grant_tests.rs"]
mod grant_tests;

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "token_cache_tests.rs"]
mod token_cache_tests;

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod lifecycle_tests;
