//! Silent refresh and the token lifecycle.
//!
//! [`Latchkey::refresh_account`] redeems an account's refresh token without a
//! browser, safely under concurrency:
//! - **one writer per account** ([`crate::account_slot`]): a refresh takes the
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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use crate::account_slot::CROSS_PROCESS_LOCK_TIMEOUT;
use crate::account_slot::{AccountSlot, AccountWriter};
use crate::accounts::{Account, AccountId, AccountStatus, RegistryError};
use crate::clock::unix_seconds;
use crate::discovery::ProviderMetadata;
use crate::error::ErrorCode;
use crate::file_lock::LockError;
use crate::id_token::{Expectations, IdTokenError, signed_by_provider, verify_cached};
use crate::provider::ProviderConfig;
use crate::secret::SecretString;
use crate::signin::{AccessToken, Latchkey, lock};
use crate::token::{Failure, TokenEndpoint, TokenError, refresh, revoke};
use crate::vault::VaultError;

/// How many refreshes run at once against one issuer.
pub const PER_ISSUER_CONCURRENCY: usize = 8;
/// Assumed access token lifetime when the server does not say.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// No such account.
    #[error("there is no account {id}")]
    UnknownAccount { id: String },
    /// The grant is gone: the person must sign in again.
    #[error("the account needs to sign in again: {reason}")]
    NeedsSignIn { reason: String, code: &'static str },
    /// The provider refused Latchkey's request (an OAuth error other than
    /// `invalid_grant`, an ID token Latchkey cannot accept, a provider no
    /// longer configured): the tokens are kept; retrying will not help until
    /// the settings change.
    #[error("the provider refused Latchkey's request: {reason}")]
    Refused { reason: String, code: &'static str },
    /// Network trouble, a timeout, 5xx, 429, a non-OAuth answer, JWKS
    /// trouble, clock skew: try again later.
    #[error("the provider could not be reached: {reason}")]
    Transient {
        reason: String,
        code: &'static str,
        /// How long the server asked us to wait, if it did.
        retry_after: Option<Duration>,
    },
    /// The keychain failed.
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// The registry failed.
    #[error("{0}")]
    Registry(#[from] RegistryError),
}

impl RefreshError {
    /// A transient failure caused by `err` (its message and code kept).
    fn transient<E: ErrorCode + std::fmt::Display>(err: &E) -> Self {
        Self::Transient {
            reason: err.to_string(),
            code: err.code(),
            retry_after: None,
        }
    }

    /// True when a later retry may succeed on its own.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transient { .. } => true,
            Self::Vault(err) => matches!(
                err,
                VaultError::Timeout { .. }
                    | VaultError::Locked { .. }
                    | VaultError::Unavailable { .. }
                    | VaultError::Platform { .. }
            ),
            Self::Registry(_) => true,
            Self::UnknownAccount { .. } | Self::NeedsSignIn { .. } | Self::Refused { .. } => false,
        }
    }
}

impl From<LockError> for RefreshError {
    fn from(err: LockError) -> Self {
        Self::transient(&err)
    }
}

impl ErrorCode for RefreshError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownAccount { .. } => "unknown_account",
            Self::NeedsSignIn { code, .. }
            | Self::Transient { code, .. }
            | Self::Refused { code, .. } => code,
            Self::Vault(err) => err.code(),
            Self::Registry(err) => err.code(),
        }
    }
}

/// The live state of an account, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveStatus {
    /// A refresh is running.
    Refreshing,
    /// A fresh access token is in memory.
    Ready {
        /// When it expires.
        expires_at: Option<SystemTime>,
        /// When the next refresh is planned.
        next_refresh_at: SystemTime,
    },
    /// The provider could not be reached; tokens kept.
    Offline {
        /// Why.
        reason: String,
        /// Next attempt.
        retry_at: SystemTime,
        /// Attempts so far.
        attempt: u32,
    },
    /// The provider refused Latchkey's request (an OAuth error other than
    /// `invalid_grant`, such as `invalid_client`, or an ID token Latchkey
    /// cannot accept): the tokens are kept, and nothing is retried until
    /// "Retry now" or the next launch (the provider settings need a look).
    Refused {
        /// Why.
        reason: String,
        /// A stable code (e.g. `invalid_client`).
        code: &'static str,
    },
    /// The refresh token is gone or refused.
    NeedsSignIn {
        /// Why.
        reason: String,
    },
}

/// The shortest time between two proactive refreshes of one account.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// When to refresh an access token proactively: at 80 % of its lifetime or
/// 60 s before it expires, whichever is earlier — but not before half of its
/// lifetime, and not within [`MIN_REFRESH_INTERVAL`]: a provider that issues
/// very short-lived (or already expired) tokens is not hammered in a loop.
pub fn next_refresh_at(issued_at: SystemTime, expires_at: Option<SystemTime>) -> SystemTime {
    let expires_at = expires_at.unwrap_or(issued_at + DEFAULT_LIFETIME);
    let lifetime = expires_at.duration_since(issued_at).unwrap_or_default();
    let at_80 = issued_at + lifetime.mul_f64(0.8);
    let before_60 = expires_at
        .checked_sub(Duration::from_secs(60))
        .unwrap_or(issued_at);
    at_80
        .min(before_60)
        .max(issued_at + lifetime / 2)
        .max(issued_at + MIN_REFRESH_INTERVAL)
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
    /// Fraction of the delay that is randomized (0.0–1.0).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
            jitter: 0.3,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based), with `random` in [0, 1)
    /// picking the jitter: `min(cap, base·2^(attempt-1))`, minus up to `jitter` of it.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.cap);
        let jitter = capped.mul_f64(self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0));
        capped.saturating_sub(jitter)
    }

    /// The delay before attempt `attempt`, but never shorter than what the
    /// server asked for (`Retry-After`, up to [`MAX_RETRY_AFTER`]).
    pub fn delay_honouring(
        &self,
        attempt: u32,
        random: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let ours = self.delay(attempt, random);
        retry_after.map_or(ours, |asked| ours.max(asked.min(MAX_RETRY_AFTER)))
    }
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Per-account and per-issuer coordination inside one process.
#[derive(Debug, Default)]
pub(crate) struct Coordination {
    slots: std::sync::Mutex<HashMap<AccountId, Arc<AccountSlot>>>,
    issuers: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    pub(crate) live: std::sync::Mutex<HashMap<AccountId, LiveStatus>>,
    wakers: std::sync::Mutex<HashMap<AccountId, Arc<tokio::sync::Notify>>>,
    running: std::sync::Mutex<std::collections::HashSet<AccountId>>,
    touched: std::sync::Mutex<HashMap<AccountId, u64>>,
    active: std::sync::atomic::AtomicUsize,
    closing: std::sync::atomic::AtomicBool,
}

/// Counts a refresh as active until dropped.
struct Active<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A guard that removes an account from the running set when its loop ends.
struct Running<'a>(&'a Latchkey, AccountId);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.0.coordination.running).remove(&self.1);
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

    fn set_live(&self, id: &AccountId, status: LiveStatus) {
        lock(&self.coordination.live).insert(id.clone(), status);
        let _ = self.changes.send(id.clone());
    }

    /// The live status of every account with a running lifecycle.
    pub fn live_status(&self, id: &AccountId) -> Option<LiveStatus> {
        lock(&self.coordination.live).get(id).cloned()
    }

    /// Subscribes to "this account's state changed" notifications.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<AccountId> {
        self.changes.subscribe()
    }

    /// An access token valid for at least `min_validity`: the one in memory,
    /// else a refreshed one.
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
        self.refresh_account(id).await
    }

    /// Refreshes an account now (see the module docs for the guarantees).
    /// Callers that arrive while a refresh of the same account is running
    /// share its result instead of starting another.
    pub async fn refresh_account(&self, id: &AccountId) -> Result<AccessToken, RefreshError> {
        let result = self.refresh_shared(id).await;
        self.flush_refresh_times().await;
        result
    }

    async fn refresh_shared(&self, id: &AccountId) -> Result<AccessToken, RefreshError> {
        let slot = self.slot(id);
        let generation = slot.generation();
        let writer = self.writer(id).await?;
        if slot.generation() != generation
            && let Some(token) = self.access_token(id)
        {
            // Someone refreshed while we waited: share their result.
            return Ok(token);
        }
        let result = self.refresh_locked(&writer, id).await;
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
        let deadline = tokio::time::Instant::now() + grace;
        while self.coordination.active.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("shutting down with refreshes still running");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.flush_refresh_times().await;
        true
    }

    /// The account, its provider and metadata, read under the writer (a
    /// sign-out or sign-in again may have changed them while we waited).
    async fn context(&self, id: &AccountId) -> Result<Context, RefreshError> {
        let account = self
            .registry
            .load()?
            .get(id)
            .cloned()
            .ok_or_else(|| RefreshError::UnknownAccount { id: id.to_string() })?;
        let provider = self
            .provider(&account.provider_id)
            .cloned()
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
        let Context {
            account,
            provider,
            metadata,
        } = self.context(id).await?;
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
            // Under the writer: the keychain has the newest token, whoever rotated it.
            None => self.read_refresh_token(id).await?,
        };
        let Some(refresh_token) = kept else {
            self.mark_needs_sign_in(id)
                .map_err(|e| RefreshError::transient(&e))?;
            return Err(RefreshError::NeedsSignIn {
                reason: "its refresh token is missing from the keychain".into(),
                code: "refresh_token_missing",
            });
        };
        let endpoint = TokenEndpoint {
            url: metadata.token_endpoint.clone(),
            client_id: provider.client_id.clone(),
            issuer: account.issuer.clone(),
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
                    self.store_rotated(writer, id, rotated).await?;
                }
                return Err(self.token_failed(writer, id, &err).await);
            }
        };
        // Rotation: persist the new refresh token before anything uses the new access token.
        let live_token = match &tokens.refresh_token {
            Some(new_token) if new_token != &refresh_token => {
                self.store_rotated(writer, id, new_token).await?;
                new_token.clone()
            }
            _ => refresh_token,
        };
        if let Some(id_token) = &tokens.id_token {
            let expect = Expectations {
                issuer: &account.issuer,
                client_id: &provider.client_id,
                nonce: None,
                subject: Some(&account.subject),
                now,
            };
            if let Err(err) = verify_cached(
                self.http.as_ref(),
                &self.jwks,
                &metadata.jwks_uri,
                id_token,
                &expect,
            )
            .await
            {
                let proven = match &err {
                    // Checked by us after the signature was verified.
                    IdTokenError::SubjectChanged => true,
                    IdTokenError::Issuer { .. } | IdTokenError::Audience { .. } => {
                        signed_by_provider(
                            self.http.as_ref(),
                            &self.jwks,
                            &metadata.jwks_uri,
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
                return Err(self.id_token_failed(id, &err, tokens.server_date));
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

    /// What a failed token request means (see [`Failure`]); only
    /// `invalid_grant` ends the grant.
    async fn token_failed(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        err: &TokenError,
    ) -> RefreshError {
        match err.failure() {
            Failure::GrantDead => {
                self.grant_dead(writer, id, &err.to_string(), "invalid_grant")
                    .await
            }
            Failure::Refused => {
                tracing::warn!(account = %id, code = err.code(), error = %err, "the provider refused the refresh; the refresh token is kept");
                RefreshError::Refused {
                    reason: err.to_string(),
                    code: err.code(),
                }
            }
            Failure::Transient => {
                tracing::info!(account = %id, code = err.code(), error = %err, "refresh failed; will retry");
                RefreshError::Transient {
                    reason: err.to_string(),
                    code: err.code(),
                    retry_after: err.retry_after(),
                }
            }
        }
    }

    /// A refreshed ID token failed a check that proves nothing about the
    /// grant: the (stored) refresh token is kept.
    fn id_token_failed(
        &self,
        id: &AccountId,
        err: &IdTokenError,
        server_date: Option<SystemTime>,
    ) -> RefreshError {
        tracing::warn!(account = %id, code = err.code(), error = %err, "the refreshed ID token was not accepted; the refresh token is kept");
        match err {
            IdTokenError::Jwks { .. } | IdTokenError::JwksTransport(_) => {
                RefreshError::transient(err)
            }
            IdTokenError::Expired | IdTokenError::IssuedInFuture => RefreshError::Transient {
                reason: clock_skew_text(self.clock.now(), server_date)
                    .unwrap_or_else(|| err.to_string()),
                code: "clock_skew",
                retry_after: None,
            },
            _ => RefreshError::Refused {
                reason: err.to_string(),
                code: err.code(),
            },
        }
    }

    /// Revokes a refresh token at the provider, if it has an endpoint (best
    /// effort: a grant is ended here anyway).
    pub(crate) async fn revoke_quietly(
        &self,
        metadata: &ProviderMetadata,
        provider: &ProviderConfig,
        token: &SecretString,
    ) {
        let Some(endpoint) = &metadata.revocation_endpoint else {
            return;
        };
        if let Err(err) = revoke(
            self.http.as_ref(),
            endpoint,
            &provider.client_id,
            token,
            "refresh_token",
        )
        .await
        {
            tracing::warn!(code = err.code(), error = %err, "a refresh token could not be revoked");
        }
    }

    /// Records a successful refresh time (written by [`Self::flush_refresh_times`]).
    fn touch_refreshed(&self, id: &AccountId, at: u64) {
        lock(&self.coordination.touched).insert(id.clone(), at);
    }

    /// Writes every pending refresh time to the registry in one atomic update,
    /// on a blocking thread.
    pub async fn flush_refresh_times(&self) {
        let pending: HashMap<AccountId, u64> =
            std::mem::take(&mut *lock(&self.coordination.touched));
        if pending.is_empty() {
            return;
        }
        let registry = self.registry.clone();
        let written = tokio::task::spawn_blocking(move || {
            registry.update(|book| {
                for (id, at) in &pending {
                    if let Some(a) = book.get_mut(id) {
                        a.last_refreshed_at = Some(*at);
                    }
                }
            })
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(code = err.code(), error = %err, "could not record refresh times")
            }
            Err(err) => tracing::warn!(error = %err, "could not record refresh times"),
        }
    }

    async fn store_rotated(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        token: &SecretString,
    ) -> Result<(), RefreshError> {
        let mut last = None;
        for attempt in 0..3u32 {
            match self.write_refresh_token(id, token).await {
                Ok(()) => {
                    writer.clear_unsaved();
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(account = %id, attempt, code = err.code(), "could not store the rotated refresh token");
                    last = Some(err);
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
                }
            }
        }
        // Keep it for the next attempt: the provider has retired the old one.
        writer.keep_unsaved(token.clone());
        Err(last.map_or_else(
            || RefreshError::Transient {
                reason: "keychain".into(),
                code: "keychain_error",
                retry_after: None,
            },
            RefreshError::Vault,
        ))
    }

    /// The grant is dead: delete the token, keep the metadata, mark "needs sign-in".
    async fn grant_dead(
        &self,
        writer: &AccountWriter,
        id: &AccountId,
        reason: &str,
        code: &'static str,
    ) -> RefreshError {
        tracing::warn!(account = %id, code, reason, "the grant has ended: the account needs sign-in");
        writer.clear_unsaved();
        if let Err(err) = self.vault.delete(id.as_str()).await {
            tracing::warn!(account = %id, code = err.code(), "could not delete the dead refresh token");
        }
        if let Err(err) = self.mark_needs_sign_in(id) {
            tracing::warn!(account = %id, code = err.code(), "could not mark the account");
        }
        RefreshError::NeedsSignIn {
            reason: reason.to_owned(),
            code,
        }
    }

    /// Refreshes every active account concurrently (one task each, bounded
    /// per issuer), as at launch; returns each result.
    pub async fn refresh_all(
        self: &Arc<Self>,
    ) -> Vec<(AccountId, Result<AccessToken, RefreshError>)> {
        let accounts: Vec<Account> = match self.registry.load() {
            Ok(book) => book
                .accounts
                .into_iter()
                .filter(|a| a.status == AccountStatus::Active)
                .collect(),
            Err(_) => Vec::new(),
        };
        let tasks: Vec<_> = accounts
            .into_iter()
            .map(|account| {
                let core = Arc::clone(self);
                let id = account.id.clone();
                let task = tokio::spawn(async move { core.refresh_shared(&account.id).await });
                (id, task)
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for (id, task) in tasks {
            let result = task.await.unwrap_or_else(|err| {
                Err(RefreshError::Transient {
                    reason: format!("the refresh task failed: {err}"),
                    code: "internal_error",
                    retry_after: None,
                })
            });
            results.push((id, result));
        }
        self.flush_refresh_times().await;
        results
    }

    /// Wakes an account's lifecycle loop now ("Retry now").
    pub fn retry_now(&self, id: &AccountId) {
        if let Some(waker) = lock(&self.coordination.wakers).get(id) {
            waker.notify_one();
        }
    }

    /// Whether a lifecycle loop runs for this account.
    pub fn is_running(&self, id: &AccountId) -> bool {
        lock(&self.coordination.running).contains(id)
    }

    /// The lifecycle of one account: refresh now, then before expiry; back off
    /// while offline; wait for "Retry now" while the provider refuses; stop
    /// when it needs sign-in or is signed out. Returns immediately if a loop
    /// already runs for this account.
    pub async fn run_account(&self, id: AccountId, backoff: Backoff) {
        if !lock(&self.coordination.running).insert(id.clone()) {
            return;
        }
        let _running = Running(self, id.clone());
        let waker = Arc::clone(
            lock(&self.coordination.wakers)
                .entry(id.clone())
                .or_default(),
        );
        let mut attempt = 0u32;
        let mut first = true;
        loop {
            let active = self
                .registry
                .load()
                .ok()
                .and_then(|book| book.get(&id).map(|a| a.status == AccountStatus::Active));
            match active {
                Some(true) => {}
                Some(false) => {
                    self.set_live(
                        &id,
                        LiveStatus::NeedsSignIn {
                            reason: "its sign-in has ended".into(),
                        },
                    );
                    return;
                }
                None => {
                    lock(&self.coordination.live).remove(&id);
                    let _ = self.changes.send(id.clone());
                    return;
                }
            }
            let now = self.clock.now();
            let fresh = self
                .access_token(&id)
                .and_then(|t| t.expires_at)
                .filter(|expires| *expires > now + Duration::from_secs(120));
            let outcome = match fresh {
                // Just signed in: no need to refresh before this token ages.
                Some(expires_at) if attempt == 0 && first => Ok(AccessToken {
                    token: SecretString::new(String::new()),
                    expires_at: Some(expires_at),
                }),
                _ => {
                    self.set_live(&id, LiveStatus::Refreshing);
                    self.refresh_account(&id).await
                }
            };
            first = false;
            let wake_at = match outcome {
                Ok(token) => {
                    attempt = 0;
                    self.flush_refresh_times().await;
                    let now = self.clock.now();
                    let next = next_refresh_at(now, token.expires_at);
                    self.set_live(
                        &id,
                        LiveStatus::Ready {
                            expires_at: token.expires_at,
                            next_refresh_at: next,
                        },
                    );
                    Some(next)
                }
                Err(RefreshError::Refused { reason, code }) => {
                    attempt = 0;
                    self.set_live(&id, LiveStatus::Refused { reason, code });
                    // Not retried on a timer: only "Retry now" (or a restart).
                    None
                }
                Err(err) if err.is_transient() => {
                    attempt += 1;
                    let retry_after = match &err {
                        RefreshError::Transient { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    let retry_at = self.clock.now()
                        + backoff.delay_honouring(attempt, random_unit(), retry_after);
                    self.set_live(
                        &id,
                        LiveStatus::Offline {
                            reason: err.to_string(),
                            retry_at,
                            attempt,
                        },
                    );
                    Some(retry_at)
                }
                Err(RefreshError::UnknownAccount { .. }) => {
                    lock(&self.coordination.live).remove(&id);
                    let _ = self.changes.send(id.clone());
                    return;
                }
                Err(err) => {
                    self.set_live(
                        &id,
                        LiveStatus::NeedsSignIn {
                            reason: err.to_string(),
                        },
                    );
                    return;
                }
            };
            // On the injected clock: wall-clock time, so a suspended laptop
            // refreshes soon after it wakes (and tests drive it exactly).
            match wake_at {
                Some(wake_at) => tokio::select! {
                    () = self.clock.sleep_until(wake_at) => {}
                    () = waker.notified() => { attempt = attempt.saturating_sub(1); }
                },
                None => waker.notified().await,
            }
        }
    }
}

/// "Your clock is N minutes off", when the provider's `Date` shows it.
fn clock_skew_text(now: SystemTime, server_date: Option<SystemTime>) -> Option<String> {
    let server = server_date?;
    let (ahead, by) = match now.duration_since(server) {
        Ok(by) => (true, by),
        Err(behind) => (false, behind.duration()),
    };
    if by < Duration::from_secs(90) {
        return None;
    }
    let minutes = (by.as_secs() + 30) / 60;
    Some(format!(
        "this computer's clock is {minutes} minute{} {} the provider's; set the clock right (automatic time) and Latchkey will retry",
        if minutes == 1 { "" } else { "s" },
        if ahead { "ahead of" } else { "behind" }
    ))
}

#[cfg(test)]
#[path = "refresh_grant_tests.rs"]
mod grant_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(super) fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn proactive_refresh_at_80_percent_or_60_seconds_before_expiry() {
        // One hour: 80 % = 48 min; 60 s before = 59 min → 48 min.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(3600))),
            t0() + Duration::from_secs(2880)
        );
        // Four minutes: 80 % = 192 s; 60 s before = 180 s → 180 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(240))),
            t0() + Duration::from_secs(180)
        );
        // Seventy seconds: 60 s before would be after 10 s; not before half-life → 35 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(70))),
            t0() + Duration::from_secs(35)
        );
        // Thirty seconds: 60 s before is in the past → half-life, 15 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(30))),
            t0() + Duration::from_secs(15)
        );
        // Four seconds, or already expired: never sooner than the minimum interval.
        for expires_at in [t0() + Duration::from_secs(4), t0() - Duration::from_secs(5)] {
            assert_eq!(
                next_refresh_at(t0(), Some(expires_at)),
                t0() + MIN_REFRESH_INTERVAL
            );
        }
        // Unknown lifetime: assume an hour.
        assert_eq!(
            next_refresh_at(t0(), None),
            t0() + Duration::from_secs(2880)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
            jitter: 0.5,
        };
        let no_jitter: Vec<u64> = (1..=7).map(|n| b.delay(n, 0.0).as_secs()).collect();
        assert_eq!(no_jitter, [2, 4, 8, 16, 32, 60, 60]);
        // Jitter only shortens, by at most half.
        for n in 1..=10 {
            let full = b.delay(n, 0.0);
            let min = b.delay(n, 0.999_999);
            assert!(
                min <= full && min >= full / 2,
                "attempt {n}: {min:?} vs {full:?}"
            );
        }
        // Huge attempt counts do not overflow.
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_secs(60));
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }

    use crate::accounts::{Registry, new_account};
    use crate::clock::ManualClock;
    use crate::discovery::ProviderMetadata;
    use crate::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
    use crate::id_token::Identity;
    use crate::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, RefusingStore, jwks};
    use crate::vault::{KeyringStore, SecretStore, Vault};
    use url::Url;

    pub(super) fn provider() -> crate::provider::ProviderConfig {
        crate::provider::parse_providers(&format!(
            "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\n"
        ))
        .expect("parses")
        .remove(0)
        .config
        .expect("valid")
    }

    pub(super) fn metadata() -> ProviderMetadata {
        let url = |p: &str| Url::parse(&format!("{ISSUER}{p}")).expect("url");
        ProviderMetadata {
            issuer: ISSUER.into(),
            authorization_endpoint: url("/auth"),
            token_endpoint: url("/token"),
            jwks_uri: url("/jwks"),
            userinfo_endpoint: None,
            revocation_endpoint: None,
            authorization_response_iss_parameter_supported: true,
            scopes_supported: vec![],
            prompt_values_supported: None,
        }
    }

    pub(super) struct Setup {
        pub(super) core: Latchkey,
        pub(super) clock: Arc<ManualClock>,
        pub(super) store: Arc<KeyringStore>,
        pub(super) id: AccountId,
        pub(super) dir: PathBuf,
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    pub(super) fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("latchkey-refresh-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    pub(super) fn core_over(
        http: Arc<dyn HttpClient>,
        store: Arc<dyn SecretStore>,
        dir: &std::path::Path,
        clock: Arc<ManualClock>,
    ) -> Latchkey {
        let core = Latchkey::new(
            http,
            Vault::new(store),
            clock,
            Registry::in_dir(dir),
            vec![provider()],
        );
        lock(&core.metadata).insert("p".into(), metadata());
        core
    }

    pub(super) async fn setup(name: &str, http: Arc<dyn HttpClient>) -> Setup {
        let dir = dir(name);
        let store = Arc::new(KeyringStore::in_memory(format!("refresh-{name}")));
        let clock = Arc::new(ManualClock::new(t0()));
        let core = core_over(http, store.clone(), &dir, Arc::clone(&clock));
        let identity = Identity {
            issuer: ISSUER.into(),
            subject: "alice".into(),
            name: None,
            email: Some("alice@example.test".into()),
            picture: None,
        };
        let account = new_account("p", &identity, vec!["openid".into()], t0());
        let id = account.id.clone();
        core.registry
            .update(|b| b.upsert(account))
            .expect("registry");
        core.write_refresh_token(&id, &SecretString::new("RT-0"))
            .await
            .expect("store");
        Setup {
            core,
            clock,
            store,
            id,
            dir,
        }
    }

    /// The refresh token in the account's keychain item (it must be there).
    pub(super) async fn stored_token(core: &Latchkey, id: &AccountId) -> String {
        core.read_refresh_token(id)
            .await
            .expect("get")
            .expect("rt")
            .expose()
            .to_owned()
    }

    pub(super) fn tokens(rt: Option<&str>) -> Canned {
        let mut body =
            serde_json::json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 600});
        if let Some(rt) = rt {
            body["refresh_token"] = rt.into();
        }
        Canned::json(200, body)
    }

    #[tokio::test]
    async fn rotation_is_stored_and_no_rotation_keeps_the_old_token() {
        let server = Arc::new(FakeServer::new());
        let s = setup("rotate", server.clone()).await;
        server.set("/token", tokens(Some("RT-1")));
        let access = s.core.refresh_account(&s.id).await.expect("refreshed");
        assert_eq!(access.token.expose(), "AT");
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
        assert!(
            server.requests.lock().expect("lock")[0]
                .1
                .contains("refresh_token=RT-0")
        );
        server.set("/token", tokens(None));
        s.core.refresh_account(&s.id).await.expect("refreshed");
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
        assert!(
            s.core
                .accounts()
                .expect("book")
                .get(&s.id)
                .expect("a")
                .last_refreshed_at
                .is_some()
        );
    }

    #[tokio::test]
    async fn invalid_grant_is_terminal_and_removes_only_the_token() {
        let server = Arc::new(FakeServer::new());
        let s = setup("dead", server.clone()).await;
        server.set(
            "/token",
            Canned::json(400, serde_json::json!({"error": "invalid_grant"})),
        );
        let err = s.core.refresh_account(&s.id).await.expect_err("dead");
        assert!(!err.is_transient());
        assert_eq!(err.code(), "invalid_grant");
        assert_eq!(
            s.store.get(s.id.as_str()).expect("get"),
            None,
            "the dead token is deleted"
        );
        let book = s.core.accounts().expect("book");
        assert_eq!(
            book.get(&s.id).expect("metadata kept").status,
            AccountStatus::NeedsSignIn
        );
    }

    #[tokio::test]
    async fn server_errors_and_rate_limits_are_transient_and_keep_everything() {
        for status in [500, 503, 429] {
            let server = Arc::new(FakeServer::new());
            let s = setup(&format!("transient-{status}"), server.clone()).await;
            server.set(
                "/token",
                Canned {
                    headers: Vec::new(),
                    status,
                    content_type: "text/html",
                    body: "<html>busy</html>".into(),
                },
            );
            let err = s.core.refresh_account(&s.id).await.expect_err("transient");
            assert!(err.is_transient(), "{status}: {err}");
            assert_eq!(stored_token(&s.core, &s.id).await, "RT-0");
            assert_eq!(
                s.core
                    .accounts()
                    .expect("book")
                    .get(&s.id)
                    .expect("a")
                    .status,
                AccountStatus::Active
            );
        }
        // No route at all = connection failure.
        let server = Arc::new(FakeServer::new());
        let s = setup("transient-network", server.clone()).await;
        assert!(
            s.core
                .refresh_account(&s.id)
                .await
                .expect_err("network")
                .is_transient()
        );
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let server = Arc::new(FakeServer::new());
        let s = setup("single-flight", server.clone()).await;
        server.set("/token", tokens(Some("RT-1")));
        // The refresh must still be running when the others call.
        *server.delay.lock().expect("lock") = Duration::from_millis(100);
        let calls = (0..20).map(|_| s.core.refresh_account(&s.id));
        let results = futures_util::future::join_all(calls).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(server.count("/token"), 1, "one refresh for twenty callers");
    }

    #[tokio::test]
    async fn an_id_token_for_another_subject_after_refresh_is_refused() {
        let server = Arc::new(FakeServer::new());
        let s = setup("sub-changed", server.clone()).await;
        let mut claims = Claims::valid(t0(), "unused");
        claims.nonce = None;
        claims.sub = "mallory".into();
        server.set("/token", Canned::json(200, serde_json::json!({
            "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT-1", "id_token": claims.sign().to_string(),
        })));
        server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        let err = s
            .core
            .refresh_account(&s.id)
            .await
            .expect_err("sub changed");
        assert_eq!(err.code(), "id_token_subject_changed");
        assert!(
            s.core.access_token(&s.id).is_none(),
            "the access token is not used"
        );
        // A same-subject ID token without nonce is fine (OIDC Core 12.2).
        let s = setup("sub-same", server.clone()).await;
        let mut claims = Claims::valid(t0(), "unused");
        claims.nonce = None;
        server.set("/token", Canned::json(200, serde_json::json!({
            "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT-1", "id_token": claims.sign().to_string(),
        })));
        assert!(s.core.refresh_account(&s.id).await.is_ok());
    }

    /// An IdP that rotates on every refresh and reports any reuse of a rotated token.
    #[derive(Debug, Default)]
    struct RotatingIdp {
        current: std::sync::Mutex<String>,
        served: std::sync::atomic::AtomicUsize,
        reused: std::sync::atomic::AtomicUsize,
    }

    impl HttpClient for RotatingIdp {
        fn execute(
            &self,
            request: HttpRequest,
        ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
            let body = String::from_utf8_lossy(request.body()).into_owned();
            let presented = url::form_urlencoded::parse(body.as_bytes())
                .find(|(k, _)| k == "refresh_token")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            Box::pin(async move {
                // Yield so that concurrent requests really interleave.
                tokio::time::sleep(Duration::from_millis(1)).await;
                let reply = {
                    let mut current = self.current.lock().expect("lock");
                    if *current == presented {
                        let n = self
                            .served
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                            + 1;
                        *current = format!("RT-{n}");
                        serde_json::json!({"access_token": format!("AT-{n}"), "token_type": "Bearer", "expires_in": 600, "refresh_token": *current})
                    } else {
                        self.reused
                            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        serde_json::json!({"error": "invalid_grant"})
                    }
                };
                let status = if reply.get("error").is_some() {
                    400
                } else {
                    200
                };
                Ok(http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(reply.to_string().into_bytes())
                    .expect("response"))
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_processes_never_present_a_rotated_token() {
        let idp = Arc::new(RotatingIdp::default());
        *idp.current.lock().expect("lock") = "RT-0".into();
        let s = setup("two-processes", idp.clone()).await;
        // A second "process": its own core (own in-process locks) over the same keychain and data dir.
        let other = core_over(idp.clone(), s.store.clone(), &s.dir, Arc::clone(&s.clock));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let core = if i % 2 == 0 { &s.core } else { &other };
            tasks.push(core.refresh_account(&s.id));
        }
        let results = futures_util::future::join_all(tasks).await;
        assert!(
            results.iter().all(Result::is_ok),
            "{:?}",
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            idp.reused.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "no rotated token was presented"
        );
        let served = idp.served.load(std::sync::atomic::Ordering::SeqCst);
        assert!(served >= 2, "both processes refreshed ({served})");
        assert_eq!(
            stored_token(&s.core, &s.id).await,
            format!("RT-{served}"),
            "the keychain holds the newest token"
        );
    }

    #[tokio::test]
    async fn shutdown_waits_for_a_running_refresh_and_refuses_new_ones() {
        let server = Arc::new(FakeServer::new());
        let s = Arc::new(setup("shutdown", server.clone()).await);
        server.set("/token", tokens(Some("RT-1")));
        *server.delay.lock().expect("lock") = Duration::from_millis(300);
        let running = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.core.refresh_account(&s.id).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            s.core.shutdown(Duration::from_secs(5)).await,
            "the running refresh finished"
        );
        assert!(running.await.expect("task").is_ok());
        assert_eq!(
            stored_token(&s.core, &s.id).await,
            "RT-1",
            "the rotated token was stored"
        );
        let err = s.core.refresh_account(&s.id).await.expect_err("closing");
        assert_eq!(err.code(), "shutting_down");
    }

    #[tokio::test]
    async fn the_lifecycle_stops_when_the_account_needs_sign_in() {
        let server = Arc::new(FakeServer::new());
        let s = setup("lifecycle", server.clone()).await;
        server.set(
            "/token",
            Canned::json(400, serde_json::json!({"error": "invalid_grant"})),
        );
        tokio::time::timeout(
            Duration::from_secs(5),
            s.core.run_account(s.id.clone(), Backoff::default()),
        )
        .await
        .expect("the loop ends by itself");
        assert!(matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::NeedsSignIn { .. })
        ));
        assert!(!s.core.is_running(&s.id));
    }

    #[tokio::test(start_paused = true)]
    async fn the_lifecycle_backs_off_while_offline_and_recovers() {
        let server = Arc::new(FakeServer::new());
        let s = Arc::new(setup("offline", server.clone()).await);
        server.set(
            "/token",
            Canned {
                headers: Vec::new(),
                status: 503,
                content_type: "text/html",
                body: String::new(),
            },
        );
        let runner = {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.core
                    .run_account(
                        s.id.clone(),
                        Backoff {
                            base: Duration::from_secs(2),
                            cap: Duration::from_secs(60),
                            jitter: 0.0,
                        },
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Offline { attempt: 1, .. })
        ));
        s.clock.advance(Duration::from_millis(1999));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.count("/token"), 1, "not before the 2 s backoff");
        s.clock.advance(Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Offline { attempt: 2, .. })
        ));
        assert_eq!(server.count("/token"), 2);
        // The provider comes back; "Retry now" does not wait for the 4 s backoff.
        server.set("/token", tokens(Some("RT-1")));
        s.core.retry_now(&s.id);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. })),
            "{:?}",
            s.core.live_status(&s.id)
        );
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
        runner.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn the_lifecycle_refreshes_at_80_percent_of_the_lifetime() {
        let server = Arc::new(FakeServer::new());
        let s = Arc::new(setup("proactive", server.clone()).await);
        // expires_in 600 s: 80 % (480 s) comes before "60 s before expiry" (540 s).
        server.set("/token", tokens(Some("RT-1")));
        let runner = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.core.run_account(s.id.clone(), Backoff::default()).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.count("/token"), 1, "refreshed at start");
        let Some(LiveStatus::Ready {
            expires_at: Some(expires_at),
            next_refresh_at,
        }) = s.core.live_status(&s.id)
        else {
            panic!("ready: {:?}", s.core.live_status(&s.id));
        };
        assert_eq!(expires_at, t0() + Duration::from_secs(600));
        assert_eq!(next_refresh_at, t0() + Duration::from_secs(480));
        // Real time passing does nothing: only the injected clock schedules.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        s.clock.advance(Duration::from_secs(479));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.count("/token"), 1, "not before 80 %");
        server.set("/token", tokens(Some("RT-2")));
        s.clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.count("/token"), 2, "refreshed at 80 %");
        assert!(
            server.requests.lock().expect("lock")[1]
                .1
                .contains("refresh_token=RT-1"),
            "with the rotated token"
        );
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-2");
        let Some(LiveStatus::Ready {
            next_refresh_at, ..
        }) = s.core.live_status(&s.id)
        else {
            panic!("ready again");
        };
        assert_eq!(next_refresh_at, t0() + Duration::from_secs(480 + 480));
        runner.abort();
    }

    #[tokio::test]
    async fn a_rotated_token_the_keychain_refuses_is_kept_and_used_by_the_next_refresh() {
        let server = Arc::new(FakeServer::new());
        let s = setup("unsaved", server.clone()).await;
        let store = Arc::new(RefusingStore::over(s.store.clone()));
        store.refuse_writes(true);
        let core = core_over(server.clone(), store.clone(), &s.dir, Arc::clone(&s.clock));
        // The provider rotates RT-0 into RT-1, but the keychain refuses RT-1.
        server.set("/token", tokens(Some("RT-1")));
        let err = core.refresh_account(&s.id).await.expect_err("not stored");
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(stored_token(&core, &s.id).await, "RT-0");
        assert!(
            core.access_token(&s.id).is_none(),
            "the new access token is not used before its refresh token is stored"
        );
        // Still refused: the next refresh presents RT-1 (RT-0 is dead at the provider).
        server.set("/token", tokens(Some("RT-2")));
        assert!(core.refresh_account(&s.id).await.is_err());
        // The keychain is back: RT-2 is stored first, then used; the account works.
        store
            .refuse
            .store(false, std::sync::atomic::Ordering::SeqCst);
        server.set("/token", tokens(Some("RT-3")));
        core.refresh_account(&s.id).await.expect("refreshed");
        let sent: Vec<String> = server
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(path, _)| path == "/token")
            .map(|(_, body)| body.clone())
            .collect();
        assert!(sent[0].contains("refresh_token=RT-0"));
        assert!(sent[1].contains("refresh_token=RT-1"), "{}", sent[1]);
        assert!(sent[2].contains("refresh_token=RT-2"), "{}", sent[2]);
        assert_eq!(stored_token(&core, &s.id).await, "RT-3");
        assert!(core.slot(&s.id).unsaved().is_none());
    }
}
