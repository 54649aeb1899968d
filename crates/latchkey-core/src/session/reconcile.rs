//! Startup reconciliation between the registry (metadata) and the keychain
//! (secrets): a damaged registry is moved aside, accounts whose keychain item
//! is really missing need sign-in, items of ours without an account go —
//! each under the account's writer, and never from an incomplete listing.

use std::path::PathBuf;

use crate::accounts::{AccountId, AccountStatus, RegistryError};
use crate::error::ErrorCode;
use crate::manage::ManageError;
use crate::session::latchkey::{Latchkey, lock};

/// What the startup reconciliation found and did.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    /// A damaged registry moved aside (where it went, and why).
    pub quarantined: Option<(PathBuf, String)>,
    /// Accounts without a keychain item, now marked "needs sign-in".
    pub needs_sign_in: Vec<AccountId>,
    /// Keychain items of ours without an account, deleted.
    pub orphans_deleted: Vec<String>,
    /// Parts of long secrets whose head item was gone, deleted.
    pub stray_parts_deleted: Vec<String>,
    /// Loopback sign-ins that were waiting for the browser when the app last
    /// quit, removed (filled by [`Latchkey::launch`]): each as the error to
    /// show, once.
    pub interrupted_sign_ins: Vec<crate::session::sign_in::CompleteError>,
}

impl Latchkey {
    /// Startup reconciliation. A damaged registry is moved aside (never
    /// overwritten) and reported; accounts whose keychain item is *missing*
    /// become "needs sign-in"; keychain items of ours without an account are
    /// deleted and logged — except after a damaged registry, whose accounts
    /// they may be. Unreadable is not missing: when the keychain cannot list
    /// every item (a locked item, D-Bus trouble) or read one, nothing is
    /// concluded about it. Each account is changed under its writer, so a
    /// sign-in or refresh in any Latchkey process is never taken for an
    /// orphan or a loss half-way.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ManageError> {
        let mut report = ReconcileReport::default();
        let book = match self.registry.load() {
            Ok(book) => book,
            Err(err @ RegistryError::Corrupt { .. }) => {
                let reason = err.to_string();
                let moved = self.registry.quarantine(self.clock.now())?;
                tracing::error!(moved_to = %moved.display(), reason = %reason, "the accounts file was damaged and has been moved aside");
                report.quarantined = Some((moved, reason));
                Default::default()
            }
            Err(err) => return Err(err.into()),
        };
        let keys = match self.vault.list_keys().await {
            Ok(keys) => keys,
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "the keychain could not list every item; no account is marked and nothing is deleted");
                return Ok(report);
            }
        };
        for account in &book.accounts {
            if account.status == AccountStatus::NeedsSignIn
                || keys.iter().any(|k| k == account.id.as_str())
            {
                continue;
            }
            if self.confirm_missing(&account.id).await? {
                tracing::warn!(account = %account.id, "no keychain item: the account needs sign-in");
                report.needs_sign_in.push(account.id.clone());
            }
        }
        if report.quarantined.is_none() {
            for key in keys.iter().filter(|k| k.starts_with("acct-")) {
                let id = AccountId::new(key.clone());
                if book.get(&id).is_some() {
                    continue;
                }
                let writer = self.writer(&id).await?;
                // A sign-in in another process may have added it meanwhile.
                if self.registry.load()?.get(&id).is_none() {
                    self.vault.delete(key).await?;
                    writer.clear_unsaved();
                    tracing::warn!(item = %key, "deleted a keychain item that belongs to no account");
                    report.orphans_deleted.push(key.clone());
                }
            }
        }
        // Best effort: leftovers must not hide what was reported above.
        match self.sweep_headless_parts().await {
            Ok(removed) => report.stray_parts_deleted = removed,
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "could not sweep leftover keychain parts");
            }
        }
        for key in &report.stray_parts_deleted {
            tracing::warn!(item = %key, "deleted a part of a keychain item that no longer exists");
        }
        Ok(report)
    }

    /// Under the account's writer: is its keychain item really missing (not
    /// just unreadable, not written meanwhile)? Marks it "needs sign-in" if so.
    async fn confirm_missing(&self, id: &AccountId) -> Result<bool, ManageError> {
        let writer = self.writer(id).await?;
        if self.slot(id).unsaved().is_some() {
            return Ok(false);
        }
        match self.read_refresh_token(id).await {
            Ok(None) => {}
            Ok(Some(_)) => return Ok(false),
            Err(err) => {
                tracing::warn!(account = %id, code = err.code(), "the keychain item could not be read; the account is left as it is");
                return Ok(false);
            }
        }
        self.registry.update(|book| {
            if let Some(account) = book.get_mut(id) {
                account.status = AccountStatus::NeedsSignIn;
            }
        })?;
        lock(&self.access_tokens).remove(id);
        drop(writer);
        Ok(true)
    }

    async fn sweep_headless_parts(&self) -> Result<Vec<String>, ManageError> {
        let mut removed = Vec::new();
        for head in self.vault.headless_heads().await? {
            let _writer = self.writer(&AccountId::new(head.clone())).await?;
            removed.extend(self.vault.delete_headless_parts(&head).await?);
        }
        Ok(removed)
    }
}
