//! One slot per account: the home of the one-writer-per-account rule.
//!
//! Everything that writes an account's grant — a refresh (which may rotate
//! the refresh token), a sign-in again or re-authentication (which replaces
//! it), a sign-out and the startup reconciliation (which delete it) — first
//! takes the account's [`AccountWriter`]: the slot's in-process mutex, then
//! the account's lock file (see [`crate::file_lock`]), so at most one writer
//! per account runs at a time in all of the user's Latchkey processes, and
//! every writer reads the keychain only once it holds the lock.
//!
//! A rotated refresh token that the keychain refused (or did not confirm in
//! time) is the only token the provider still accepts. The slot keeps it in
//! memory, and keeps the lock file locked until it is stored: no other
//! process may read the older token from the keychain and present it (which
//! a provider with reuse detection punishes by revoking the whole grant).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::file_lock::{FileLock, LockDir, LockError};
use crate::secret::SecretString;
use crate::session::latchkey::lock;

/// How long a writer waits for another process's writer of the same account.
pub const CROSS_PROCESS_LOCK_TIMEOUT: Duration = Duration::from_secs(45);

/// The per-account state shared by this process's tasks.
#[derive(Debug, Default)]
pub(crate) struct AccountSlot {
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Bumped by every completed refresh (callers that waited share it).
    generation: AtomicU64,
    /// Bumped whenever a writer ends: a reader of the account from before
    /// knows whether anyone may have changed it since.
    writes: AtomicU64,
    /// A rotated refresh token not yet in the keychain.
    unsaved: std::sync::Mutex<Option<SecretString>>,
    /// The lock file, kept while `unsaved` holds a token.
    held: std::sync::Mutex<Option<FileLock>>,
}

/// The right to change one account's grant (see the module docs).
#[derive(Debug)]
pub(crate) struct AccountWriter {
    slot: Arc<AccountSlot>,
    file: Option<FileLock>,
    _in_process: tokio::sync::OwnedMutexGuard<()>,
}

impl AccountSlot {
    /// Takes the account's writer: in this process first (waiting as long as
    /// the current writer takes), then across processes (up to `timeout`).
    pub(crate) async fn writer(
        self: &Arc<Self>,
        locks: &LockDir,
        name: &str,
        timeout: Duration,
    ) -> Result<AccountWriter, LockError> {
        let in_process = Arc::clone(&self.writer).lock_owned().await;
        let kept = lock(&self.held).take();
        let file = match kept {
            Some(file) => file,
            None => locks.lock(name, timeout).await?,
        };
        Ok(AccountWriter {
            slot: Arc::clone(self),
            file: Some(file),
            _in_process: in_process,
        })
    }

    /// The current refresh generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How many writers have ended so far.
    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// The rotated refresh token waiting to be stored, if any.
    pub(crate) fn unsaved(&self) -> Option<SecretString> {
        lock(&self.unsaved).clone()
    }
}

impl AccountWriter {
    /// Records a completed refresh.
    pub(crate) fn bump_generation(&self) {
        self.slot.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Keeps a rotated refresh token the keychain did not take (and, with it,
    /// the lock file once this writer ends).
    pub(crate) fn keep_unsaved(&self, token: SecretString) {
        *lock(&self.slot.unsaved) = Some(token);
    }

    /// Forgets the kept token: it was stored, or the grant ended.
    pub(crate) fn clear_unsaved(&self) {
        *lock(&self.slot.unsaved) = None;
    }
}

impl Drop for AccountWriter {
    fn drop(&mut self) {
        self.slot.writes.fetch_add(1, Ordering::SeqCst);
        if lock(&self.slot.unsaved).is_some() {
            // Still the only copy of the live token: nobody else may read
            // the keychain's older one until it is stored.
            *lock(&self.slot.held) = self.file.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locks(name: &str) -> LockDir {
        let dir = std::env::temp_dir().join(format!("latchkey-slot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        LockDir::new(dir)
    }

    #[tokio::test]
    async fn one_writer_at_a_time_in_the_process_and_across() {
        let locks = locks("one");
        let slot = Arc::new(AccountSlot::default());
        let first = slot
            .writer(&locks, "acct-1", Duration::from_secs(1))
            .await
            .expect("first");
        // In the process: the second waits.
        let waiting = tokio::time::timeout(
            Duration::from_millis(100),
            slot.writer(&locks, "acct-1", Duration::from_secs(1)),
        )
        .await;
        assert!(waiting.is_err(), "a second writer in the same process");
        // Another process (another slot over the same lock folder) waits too.
        let other = Arc::new(AccountSlot::default());
        let err = other
            .writer(&locks, "acct-1", Duration::from_millis(100))
            .await
            .expect_err("another process");
        assert_eq!(crate::error::ErrorCode::code(&err), "lock_timeout");
        drop(first);
        other
            .writer(&locks, "acct-1", Duration::from_millis(500))
            .await
            .expect("free");
    }

    #[tokio::test]
    async fn an_unsaved_token_keeps_other_processes_out_until_it_is_stored() {
        let locks = locks("unsaved");
        let slot = Arc::new(AccountSlot::default());
        let writer = slot
            .writer(&locks, "acct-1", Duration::from_secs(1))
            .await
            .expect("writer");
        writer.keep_unsaved(SecretString::new("RT-2"));
        drop(writer);
        let other = Arc::new(AccountSlot::default());
        assert!(
            other
                .writer(&locks, "acct-1", Duration::from_millis(100))
                .await
                .is_err(),
            "another process could read the keychain's older token"
        );
        // This process's next writer reuses the kept lock, stores, clears.
        let writer = slot
            .writer(&locks, "acct-1", Duration::from_millis(100))
            .await
            .expect("our own next writer");
        assert_eq!(slot.unsaved().expect("kept").expose(), "RT-2");
        writer.clear_unsaved();
        drop(writer);
        other
            .writer(&locks, "acct-1", Duration::from_millis(500))
            .await
            .expect("released once stored");
    }
}
