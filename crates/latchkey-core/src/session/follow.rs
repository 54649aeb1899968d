//! Refreshes done by other processes, followed through the accounts file.
//!
//! A `latchkey` CLI (or another app instance) that refreshes an account
//! writes the new access token into the account's keychain item and then its
//! `last_refreshed_at` into the accounts file. An app that watches that file
//! (the plugin follows it with `store::file_watch`) calls [`Latchkey::follow_refreshes`] when
//! it changed: only the accounts whose `last_refreshed_at` moved past what
//! this process wrote or saw itself get one keychain read each, and a cached
//! access token that outlives the one in memory is taken — the window shows
//! its expiry and the account's next refresh is planned from it. Nothing is
//! read when the file did not change, nor for the app's own refreshes.

use crate::accounts::{AccountId, AccountStatus};
use crate::error::ErrorCode as _;
use crate::session::latchkey::{AccessToken, Latchkey, lock};
use crate::session::schedule::next_refresh_at;
use crate::session::state::LiveStatus;

impl Latchkey {
    /// Records that `last_refreshed_at` of `id` is `at` as far as this
    /// process knows (its own refresh, or one it followed).
    pub(crate) fn saw_refresh(&self, id: &AccountId, at: u64) {
        let mut seen = lock(&self.coordination.seen_refreshes);
        let known = seen.entry(id.clone()).or_insert(at);
        *known = (*known).max(at);
    }

    /// Takes the access tokens other processes refreshed since this process
    /// last looked (see the module docs); returns the accounts whose token
    /// (and so expiry) changed here. Call it when the accounts file changed.
    pub async fn follow_refreshes(&self) -> Vec<AccountId> {
        let Ok(book) = self.accounts() else {
            return Vec::new();
        };
        let mut followed = Vec::new();
        for account in book.accounts {
            let Some(at) = account.last_refreshed_at else {
                continue;
            };
            if account.status != AccountStatus::Active {
                continue;
            }
            let known = lock(&self.coordination.seen_refreshes)
                .get(&account.id)
                .copied();
            if known.is_some_and(|known| known >= at) {
                continue;
            }
            self.saw_refresh(&account.id, at);
            // Only an account whose window shows a ready token has an expiry to update.
            if !matches!(
                self.live_status(&account.id),
                Some(LiveStatus::Ready { .. })
            ) {
                continue;
            }
            if self.take_cached(&account.id).await {
                followed.push(account.id);
            }
        }
        followed
    }

    /// One keychain read: takes the cached access token when it outlives the
    /// one in memory. Returns whether it did.
    async fn take_cached(&self, id: &AccountId) -> bool {
        let secret = match self.read_secret(id).await {
            Ok(Some(secret)) => secret,
            Ok(None) => return false,
            Err(err) => {
                tracing::debug!(account = %id, code = err.code(), "could not read the cached access token");
                return false;
            }
        };
        let Some((token, Some(expires_at))) = secret.access else {
            return false;
        };
        let mine = self.access_token(id).and_then(|t| t.expires_at);
        if mine.is_some_and(|mine| mine >= expires_at) {
            return false;
        }
        lock(&self.access_tokens).insert(
            id.clone(),
            AccessToken {
                token,
                expires_at: Some(expires_at),
            },
        );
        let issued_at = secret.obtained_at.unwrap_or_else(|| self.clock.now());
        tracing::info!(account = %id, "took the access token another process refreshed");
        self.set_live(
            id,
            LiveStatus::Ready {
                expires_at: Some(expires_at),
                next_refresh_at: next_refresh_at(issued_at, Some(expires_at)),
            },
        );
        true
    }
}
