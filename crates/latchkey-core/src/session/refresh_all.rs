//! Refreshing every account at once, as at launch, and recording when each
//! account was last refreshed: the times are collected in memory and written
//! to the accounts file in one atomic update, not one write per refresh.

use std::collections::HashMap;
use std::sync::Arc;

use crate::accounts::{Account, AccountId, AccountStatus};
use crate::error::ErrorCode;
use crate::session::latchkey::{AccessToken, Latchkey, lock};
use crate::session::refresh::RefreshError;

impl Latchkey {
    /// Records a successful refresh time (written by [`Self::flush_refresh_times`]).
    pub(crate) fn touch_refreshed(&self, id: &AccountId, at: u64) {
        lock(&self.coordination.touched).insert(id.clone(), at);
        self.saw_refresh(id, at);
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
                let task = tokio::spawn(async move {
                    let id = account.id.clone();
                    core.refresh_shared(&id, Some(account), None).await
                });
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
}
