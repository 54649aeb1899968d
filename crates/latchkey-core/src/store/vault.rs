//! The vault: secrets in the OS keychain, and nowhere else.
//!
//! [`SecretStore`] is the synchronous seam over a credential store (keyring-core
//! on the platform's store, or its in-memory mock in tests). [`Vault`] is what
//! the rest of the core uses: async, every call run on a blocking thread (the
//! Secret Service clients must not run on an async runtime thread) and bounded
//! by a timeout, so a hung keychain never hangs the app.
//!
//! Conventions: a missing item is `Ok(None)`; delete is idempotent; platform
//! errors map to stable [`VaultError`] codes and never carry a secret.

use std::sync::Arc;
use std::time::Duration;

use crate::lock;
use crate::secret::SecretString;
pub use crate::store::chunking::CHUNK_CHARS;
use crate::store::chunking::{delete_chunked, read_chunked, write_chunked};
pub use crate::store::file_vault::{FileVaultStore, KdfParams};
pub use crate::store::reconnecting::ReconnectingStore;
pub use crate::store::secret_store::{KeyringStore, SecretStore, UnavailableStore, VaultError};

/// Key of the item written and removed by [`Vault::check`].
pub const PROBE_KEY: &str = "latchkey-keychain-probe";

/// Where a [`Vault`] keeps its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultKind {
    /// The system keychain (Secret Service on Linux).
    Keychain,
    /// The encrypted file vault (`LATCHKEY_VAULT=file`), see [`FileVaultStore`].
    File,
}

/// Async access to a [`SecretStore`], off the runtime threads, with a timeout.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
    kind: VaultKind,
    /// The outcome of the last keychain call that reached the store: `None`
    /// when it worked, else why it failed (see [`Vault::health`]).
    health: Arc<tokio::sync::watch::Sender<Option<VaultError>>>,
    timeout: Duration,
    chunk_chars: usize,
    slots: Arc<tokio::sync::Semaphore>,
    /// One write queue per key (see [`Vault::set`]).
    queues: Arc<crate::store::write_queue::WriteQueues>,
    /// How many parts each item this vault read or wrote has, so a write
    /// does not read the item's header again first (see [`Vault::set`]).
    parts: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// Keychain calls allowed to run at once. More wait their turn (within the
/// same timeout). A hung keychain (e.g. a locked collection waiting for a
/// prompt nobody answers) never returns: its stuck calls keep their slots, so
/// later calls time out waiting instead of piling up threads.
pub const MAX_IN_FLIGHT: usize = 4;

impl Vault {
    /// Default time allowed for one keychain call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A vault over `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self {
            store,
            kind: VaultKind::Keychain,
            health: Arc::new(tokio::sync::watch::channel(None).0),
            timeout: Self::DEFAULT_TIMEOUT,
            chunk_chars: CHUNK_CHARS,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            queues: Arc::default(),
            parts: Arc::default(),
        }
    }

    /// Sets the largest item size (tests).
    #[must_use]
    pub fn with_chunk_chars(mut self, chars: usize) -> Self {
        self.chunk_chars = chars.max(17);
        self
    }

    /// The platform keychain of Latchkey itself (see [`Self::platform_for`]).
    pub fn platform() -> Self {
        Self::platform_for(&crate::config::identity::AppIdentity::latchkey())
    }

    /// The platform keychain for an app (its identifier is the service name
    /// of its items). Nothing is opened here: the first call connects, and
    /// while the keychain cannot be opened every call says why (and the next
    /// one tries again).
    pub fn platform_for(identity: &crate::config::identity::AppIdentity) -> Self {
        let service = identity.identifier().to_owned();
        let open = move || -> Result<Arc<dyn SecretStore>, VaultError> {
            Ok(Arc::new(KeyringStore::platform_for(&service)?))
        };
        Self::new(Arc::new(ReconnectingStore::new(
            open,
            crate::store::platform::keychain_daemon,
        )))
    }

    /// The encrypted file vault `<data_dir>/vault.bin` of an app, opened with
    /// `passphrase` (argon2id with [`KdfParams::RECOMMENDED`] for a new file).
    /// Runs argon2 once: call it off the async runtime threads.
    ///
    /// # Errors
    /// As [`FileVaultStore::open`]: a wrong passphrase, a damaged file, I/O.
    pub fn open_file(
        identity: &crate::config::identity::AppIdentity,
        data_dir: &std::path::Path,
        passphrase: SecretString,
    ) -> Result<Self, VaultError> {
        Self::open_file_with(identity, data_dir, passphrase, KdfParams::RECOMMENDED)
    }

    /// [`Self::open_file`] with chosen argon2id costs for a new file (tests
    /// pass [`KdfParams::INSECURE_FAST_FOR_TESTS`]).
    ///
    /// # Errors
    /// As [`FileVaultStore::open`].
    pub fn open_file_with(
        identity: &crate::config::identity::AppIdentity,
        data_dir: &std::path::Path,
        passphrase: SecretString,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        let store = FileVaultStore::open(
            data_dir.join(crate::store::file_vault::FILE_NAME),
            crate::file_lock::lock_dir_for(identity.identifier(), data_dir),
            passphrase,
            params,
        )?;
        Ok(Self::new(Arc::new(store)).with_kind(VaultKind::File))
    }

    /// Says which kind of store this vault is over.
    #[must_use]
    pub fn with_kind(mut self, kind: VaultKind) -> Self {
        self.kind = kind;
        self
    }

    /// Which kind of store this vault is over.
    pub fn kind(&self) -> VaultKind {
        self.kind
    }

    /// Sets the time allowed for one keychain call.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Follows the keychain's health: `None` while calls work, else the error
    /// of the last call that failed for a keychain reason (unavailable,
    /// locked, timed out, platform failure). A damaged item does not count.
    pub fn health(&self) -> tokio::sync::watch::Receiver<Option<VaultError>> {
        self.health.subscribe()
    }

    /// While keychain calls fail, probes the keychain every `every` (with
    /// [`Self::check`]), so [`Self::health`] — and whatever shows it — turns
    /// good on its own once the keychain works again (a restarted daemon, a
    /// prompt answered at last), not only at the next refresh. Never probes
    /// a keychain the person left locked (a dismissed prompt): that would ask
    /// again and again. Runs for as long as the vault lives: spawn it.
    pub async fn recheck_while_failing(&self, every: Duration) {
        let mut health = self.health();
        loop {
            let recheck = matches!(
                &*health.borrow_and_update(),
                Some(err) if !matches!(err, VaultError::Locked { .. })
            );
            if !recheck {
                if health.changed().await.is_err() {
                    return;
                }
                continue;
            }
            tokio::time::sleep(every).await;
            if self.health.borrow().is_some() {
                let outcome = self.check().await;
                tracing::debug!(works = outcome.is_ok(), "keychain rechecked");
            }
        }
    }

    fn record(&self, outcome: Option<&VaultError>) {
        let next = outcome
            .filter(|err| !matches!(err, VaultError::Corrupt { .. }))
            .cloned();
        self.health.send_if_modified(|current| {
            if *current == next {
                false
            } else {
                *current = next;
                true
            }
        });
    }

    async fn run<T, F>(&self, f: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretStore) -> Result<T, VaultError> + Send + 'static,
    {
        self.run_queued(None, f).await
    }

    /// Runs `f` on a blocking thread within the timeout. With `queue` (the
    /// key's write queue), `f` starts only once every earlier write to that
    /// key has really returned — not merely timed out — and the queue stays
    /// taken until `f` itself returns, however long its caller waits.
    async fn run_queued<T, F>(&self, queue: Option<&str>, f: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretStore) -> Result<T, VaultError> + Send + 'static,
    {
        let timed_out = || VaultError::Timeout {
            seconds: self.timeout.as_secs().max(1),
        };
        // The timeout covers waiting for the queue, a slot and the call itself.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let turn = match queue {
            Some(key) => {
                let store = Arc::clone(&self.store);
                let connection = move || store.connection();
                match self.queues.turn(key, deadline, &connection).await {
                    Some(turn) => Some(turn),
                    None => {
                        // An earlier write is still stuck: never overtake it.
                        let err = timed_out();
                        self.record(Some(&err));
                        return Err(err);
                    }
                }
            }
            None => None,
        };
        let slot = match tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned())
            .await
        {
            Ok(Ok(slot)) => slot,
            _ => {
                let err = timed_out();
                self.record(Some(&err));
                return Err(err);
            }
        };
        let store = Arc::clone(&self.store);
        let task = tokio::task::spawn_blocking(move || {
            let result = f(store.as_ref());
            // Held until the call really returns, even if its caller gave up.
            drop(slot);
            drop(turn);
            result
        });
        let result = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(VaultError::Platform {
                reason: format!("keychain call panicked: {join}"),
            }),
            Err(_) => Err(timed_out()),
        };
        self.record(result.as_ref().err());
        result
    }

    /// Reads a secret.
    pub async fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        let key = key.to_owned();
        let known = Arc::clone(&self.parts);
        self.run(move |s| {
            let (value, parts) = read_chunked(s, &key)?;
            // What a write of this process learnt meanwhile is newer: keep it.
            lock(&known).entry(key).or_insert(parts);
            Ok(value)
        })
        .await
    }

    /// Creates or replaces a secret (split into parts when large).
    ///
    /// Writes and deletes of one key are applied in the order they were
    /// called: each waits (within the timeout) until the previous one has
    /// returned from the keychain. A write that timed out is still running on
    /// its thread (a keychain call cannot be cancelled), so a later write that
    /// did not wait for it could land first and then be overwritten by the
    /// older value — e.g. a locked collection unlocked minutes later. A later
    /// call that cannot get its turn in time fails with `keychain_timeout`
    /// and does not run at all.
    ///
    /// An item this vault has read or written is not read again before it is
    /// written (its number of parts is known). If another process changed
    /// that number meanwhile, the worst outcome is a part item nothing points
    /// to any more, never a lost or mixed secret.
    pub async fn set(&self, key: &str, secret: SecretString) -> Result<(), VaultError> {
        let owned = key.to_owned();
        let limit = self.chunk_chars;
        let known = Arc::clone(&self.parts);
        self.run_queued(Some(key), move |s| {
            let parts = lock(&known).get(&owned).copied();
            match write_chunked(s, &owned, secret.expose(), limit, parts) {
                Ok(parts) => {
                    lock(&known).insert(owned, parts);
                    Ok(())
                }
                Err(err) => {
                    lock(&known).remove(&owned);
                    Err(err)
                }
            }
        })
        .await
    }

    /// Deletes a secret and its parts (idempotent); ordered like [`Self::set`].
    pub async fn delete(&self, key: &str) -> Result<(), VaultError> {
        let owned = key.to_owned();
        let known = Arc::clone(&self.parts);
        self.run_queued(Some(key), move |s| {
            let deleted = delete_chunked(s, &owned);
            match &deleted {
                Ok(()) => lock(&known).insert(owned, 1),
                Err(_) => lock(&known).remove(&owned),
            };
            deleted
        })
        .await
    }

    /// The keys of our items (parts excluded).
    pub async fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        let keys = self.run(|s| s.list_keys()).await?;
        Ok(keys
            .into_iter()
            .filter(|k| !k.contains(".part") && k != PROBE_KEY)
            .collect())
    }

    /// The account items (`acct-…`) that have parts (`<key>.part<n>`) but no
    /// head item: left by a crash between writing a long secret's parts and
    /// its head, or by a head deleted by hand. See
    /// [`Self::delete_headless_parts`].
    pub async fn headless_heads(&self) -> Result<Vec<String>, VaultError> {
        self.run(|s| {
            let keys = s.list_keys()?;
            let heads: std::collections::HashSet<&str> = keys
                .iter()
                .filter(|k| !k.contains(".part"))
                .map(String::as_str)
                .collect();
            let mut lost: Vec<String> = keys
                .iter()
                .filter_map(|key| key.rsplit_once(".part"))
                .filter(|(head, index)| {
                    head.starts_with("acct-")
                        && index.parse::<usize>().is_ok()
                        && !heads.contains(head)
                })
                .map(|(head, _)| head.to_owned())
                .collect();
            lost.sort();
            lost.dedup();
            Ok(lost)
        })
        .await
    }

    /// Deletes the parts of `head` if its head item is (still) missing;
    /// returns their keys. Queued like a write of `head`. The caller holds the
    /// account's writer, so no other writer is putting parts down first.
    pub async fn delete_headless_parts(&self, head: &str) -> Result<Vec<String>, VaultError> {
        let head = head.to_owned();
        let queue = head.clone();
        self.run_queued(Some(&queue), move |s| {
            if s.get(&head)?.is_some() {
                return Ok(Vec::new());
            }
            let prefix = format!("{head}.part");
            let mut removed = Vec::new();
            for key in s.list_keys()? {
                if key
                    .strip_prefix(&prefix)
                    .is_some_and(|n| n.parse::<usize>().is_ok())
                {
                    s.delete(&key)?;
                    removed.push(key);
                }
            }
            removed.sort();
            Ok(removed)
        })
        .await
    }

    /// Proves the keychain works: writes, reads back and deletes a probe item.
    pub async fn check(&self) -> Result<(), VaultError> {
        self.run(|s| {
            let probe = SecretString::new(format!("probe-{}", std::process::id()));
            s.set(PROBE_KEY, &probe)?;
            let read = s.get(PROBE_KEY);
            let deleted = s.delete(PROBE_KEY);
            match read? {
                Some(value) if value == probe => deleted,
                _ => Err(VaultError::Corrupt {
                    reason: "the probe item read back differently".into(),
                }),
            }
        })
        .await
    }
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "vault_chunking_tests.rs"]
mod chunking_tests;
