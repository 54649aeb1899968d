//! The lifecycle of each account: refresh at launch, then before expiry;
//! back off while offline; wait for "Retry now" while the provider refuses;
//! stop when the account needs sign-in or is signed out. Its live status is
//! what the window shows.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{AccountId, AccountStatus};
use crate::secret::SecretString;
use crate::session::latchkey::{AccessToken, Latchkey, lock};
use crate::session::refresh::RefreshError;
use crate::session::schedule::{Backoff, next_refresh_at, random_unit};

/// How much later than the in-memory token a cached one must expire for a
/// scheduled refresh to take it instead (it was refreshed by another process).
const NEWER_BY: Duration = Duration::from_secs(60);
pub use crate::session::state::LiveStatus;

/// A guard that removes an account from the running set when its loop ends.
struct Running<'a>(&'a Latchkey, AccountId);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.0.coordination.running).remove(&self.1);
    }
}

impl Latchkey {
    pub(crate) fn set_live(&self, id: &AccountId, status: LiveStatus) {
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
        self.run_account_from(id, backoff, false).await;
    }

    /// [`Self::run_account`]; for an account another process just signed in
    /// (`adopted`), a fresh access token in its keychain item stands in for
    /// the first refresh: that process has just been to the provider.
    async fn run_account_from(&self, id: AccountId, backoff: Backoff, adopted: bool) {
        lock(&self.coordination.signed_in_here).remove(&id);
        if !lock(&self.coordination.running).insert(id.clone()) {
            return;
        }
        if adopted
            && let Ok(Some(secret)) = self.read_secret(&id).await
            && let Some((token, expires_at)) =
                secret.fresh_access(self.clock.now(), Duration::from_secs(180))
        {
            lock(&self.access_tokens).insert(
                id.clone(),
                AccessToken {
                    token,
                    expires_at: Some(expires_at),
                },
            );
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
            let account = self
                .registry
                .load()
                .ok()
                .and_then(|book| book.get(&id).map(|a| (a.status, a.never_expires)));
            let never_expires = account.is_some_and(|(_, never)| never);
            let active = account.map(|(status, _)| status == AccountStatus::Active);
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
                    // After the launch refresh: when another process (a
                    // `latchkey` CLI) refreshed meanwhile, the keychain's
                    // cache holds a token that outlives ours: take it.
                    let newer = (!first)
                        .then(|| self.access_token(&id).and_then(|t| t.expires_at))
                        .flatten()
                        .map(|mine| crate::session::refresh::Wanted {
                            min_validity: mine.duration_since(now).unwrap_or_default() + NEWER_BY,
                            share_recent: false,
                        });
                    let result = self.refresh_shared(&id, None, newer).await;
                    self.flush_refresh_times().await;
                    result
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
                    // A token that never expires is never refreshed.
                    (!never_expires).then_some(next)
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
            let mut wake_at = wake_at;
            loop {
                match wake_at {
                    Some(at) => tokio::select! {
                        () = self.clock.sleep_until(at) => {}
                        () = waker.notified() => { attempt = attempt.saturating_sub(1); break; }
                    },
                    None => {
                        waker.notified().await;
                        break;
                    }
                }
                // A token another process refreshed, taken meanwhile
                // (`follow_refreshes`), moved the next refresh later.
                match self.live_status(&id) {
                    Some(LiveStatus::Ready {
                        next_refresh_at, ..
                    }) if next_refresh_at > self.clock.now() => wake_at = Some(next_refresh_at),
                    _ => break,
                }
            }
        }
    }
}

impl Latchkey {
    /// Starts one account's lifecycle on the current tokio runtime, or wakes
    /// it when it runs already ("Retry now"). Call it when a sign-in
    /// completed: the accounts file's watch leaves this process's own
    /// sign-ins to it.
    pub fn start_lifecycle(self: &Arc<Self>, id: AccountId) {
        lock(&self.coordination.signed_in_here).remove(&id);
        if self.is_running(&id) {
            self.retry_now(&id);
            return;
        }
        let core = Arc::clone(self);
        tokio::spawn(async move { core.run_account(id, Backoff::default()).await });
    }

    /// Starts the lifecycle of every active account that has none running
    /// here — accounts another process (the `latchkey` CLI) signed in since —
    /// and returns them; running lifecycles are left alone (no refresh), and
    /// so are this process's own sign-ins (their caller starts them).
    /// Call it when the accounts file changed under the app.
    pub fn adopt_new_accounts(self: &Arc<Self>) -> Vec<AccountId> {
        let Ok(book) = self.accounts() else {
            return Vec::new();
        };
        let new: Vec<AccountId> = book
            .accounts
            .into_iter()
            .filter(|a| {
                a.status == AccountStatus::Active
                    && !self.is_running(&a.id)
                    && !lock(&self.coordination.signed_in_here).contains(&a.id)
            })
            .map(|a| a.id)
            .collect();
        for id in &new {
            tracing::info!(account = %id, "account added by another process; its lifecycle starts");
            let core = Arc::clone(self);
            let id = id.clone();
            tokio::spawn(async move { core.run_account_from(id, Backoff::default(), true).await });
        }
        new
    }

    /// What an app does at launch: the startup reconciliation (with the
    /// loopback sign-ins the last run left behind, see
    /// [`ReconcileReport::interrupted_sign_ins`](crate::ReconcileReport)), then the
    /// lifecycle of every active account (whose first step is the launch
    /// refresh), and in the background the mix-up check of the providers'
    /// redirect URIs ([`Latchkey::warn_shared_redirect_uris`]). Returns the
    /// reconciliation's report; when it failed, the lifecycles start all the
    /// same (nothing was concluded or changed).
    pub async fn launch(
        self: &Arc<Self>,
    ) -> Result<crate::session::reconcile::ReconcileReport, crate::manage::ManageError> {
        let core = Arc::clone(self);
        tokio::spawn(async move { core.warn_shared_redirect_uris().await });
        let mut report = self.reconcile().await;
        if let Ok(report) = &mut report {
            report.interrupted_sign_ins = self.remove_interrupted_sign_ins().await;
        }
        if let Ok(book) = self.accounts() {
            for account in book.accounts {
                if account.status == AccountStatus::Active {
                    self.start_lifecycle(account.id);
                }
            }
        }
        report
    }
}
