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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use crate::error::ErrorCode;
use crate::provider::APP_IDENTIFIER;
use crate::secret::SecretString;

/// Why the keychain could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// There is no usable keychain (no session bus, no Secret Service, ...).
    #[error("the system keychain is not available: {reason}")]
    Unavailable { reason: String },
    /// The keychain is locked and could not be unlocked without a prompt.
    #[error("the system keychain is locked: {reason}")]
    Locked { reason: String },
    /// The keychain did not answer in time.
    #[error("the system keychain did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    /// A stored item is not in the expected format.
    #[error("a keychain item of Latchkey is damaged: {reason}")]
    Corrupt { reason: String },
    /// Any other keychain failure.
    #[error("the system keychain failed: {reason}")]
    Platform { reason: String },
}

impl ErrorCode for VaultError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "keychain_unavailable",
            Self::Locked { .. } => "keychain_locked",
            Self::Timeout { .. } => "keychain_timeout",
            Self::Corrupt { .. } => "keychain_corrupt",
            Self::Platform { .. } => "keychain_error",
        }
    }
}

impl From<keyring_core::Error> for VaultError {
    fn from(err: keyring_core::Error) -> Self {
        use keyring_core::Error as K;
        let reason = match &err {
            K::PlatformFailure(inner) | K::NoStorageAccess(inner) => inner.to_string(),
            // Never echo the bytes these variants carry.
            K::BadEncoding(_) => "not UTF-8".to_owned(),
            K::BadDataFormat(_, inner) => inner.to_string(),
            other => other.to_string(),
        };
        match err {
            K::NoStorageAccess(_) => Self::Locked { reason },
            K::BadEncoding(_) | K::BadDataFormat(..) => Self::Corrupt { reason },
            K::NoDefaultStore => Self::Unavailable { reason },
            K::PlatformFailure(_)
                if reason.contains("org.freedesktop.DBus")
                    || reason.contains("D-Bus")
                    || reason.contains("DBUS")
                    || reason.contains("ServiceUnknown") =>
            {
                Self::Unavailable { reason }
            }
            _ => Self::Platform { reason },
        }
    }
}

/// A synchronous secret store keyed by a string. Implementations may block.
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// Reads a secret; `Ok(None)` when there is none.
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError>;
    /// Creates or replaces a secret.
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError>;
    /// Deletes a secret; deleting a missing one is not an error.
    fn delete(&self, key: &str) -> Result<(), VaultError>;
    /// The keys of every item of this store's service.
    fn list_keys(&self) -> Result<Vec<String>, VaultError>;
}

/// A [`SecretStore`] over any keyring-core credential store; items are
/// `(service, key)` pairs.
pub struct KeyringStore {
    store: Arc<CredentialStore>,
    service: String,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("vendor", &self.store.vendor())
            .field("service", &self.service)
            .finish()
    }
}

impl KeyringStore {
    /// Wraps a keyring-core store; items use `service` as their service name.
    pub fn new(store: Arc<CredentialStore>, service: impl Into<String>) -> Self {
        Self {
            store,
            service: service.into(),
        }
    }

    /// The platform keychain (Secret Service on Linux), service [`APP_IDENTIFIER`].
    pub fn platform() -> Result<Self, VaultError> {
        Ok(Self::new(platform_store()?, APP_IDENTIFIER))
    }

    /// keyring-core's in-memory store (for tests and `--insecure-memory-keychain`).
    pub fn in_memory(service: impl Into<String>) -> Self {
        #[allow(clippy::expect_used)]
        let store = keyring_core::mock::Store::new().expect("the mock store always builds");
        Self::new(store, service)
    }

    fn entry(&self, key: &str) -> Result<Entry, VaultError> {
        Ok(Entry::new_in_store(&self.store, &self.service, key)?)
    }

    /// Tests (in-memory store only): the next call on `key` fails with `err`.
    #[cfg(test)]
    pub(crate) fn fail_next(&self, key: &str, err: keyring_core::Error) {
        #[allow(clippy::expect_used)]
        self.entry(key)
            .expect("entry")
            .as_any()
            .downcast_ref::<keyring_core::mock::Cred>()
            .expect("an in-memory store")
            .set_error(err);
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Arc<CredentialStore>, VaultError> {
    let store = dbus_secret_service_keyring_store::Store::new().map_err(|err| {
        match VaultError::from(err) {
            VaultError::Platform { reason } => VaultError::Unavailable { reason },
            other => other,
        }
    })?;
    Ok(store)
}

#[cfg(not(target_os = "linux"))]
fn platform_store() -> Result<Arc<CredentialStore>, VaultError> {
    Err(VaultError::Unavailable {
        reason: "this build of Latchkey has no keychain support for this platform yet".into(),
    })
}

impl SecretStore for KeyringStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        match self.entry(key)?.get_password() {
            Ok(value) => Ok(Some(SecretString::new(value))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        Ok(self.entry(key)?.set_password(secret.expose())?)
    }

    fn delete(&self, key: &str) -> Result<(), VaultError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        let spec = std::collections::HashMap::from([("service", self.service.as_str())]);
        let mut keys = Vec::new();
        for entry in Entry::search_in_store(&self.store, &spec)? {
            if let Some((service, user)) = entry.get_specifiers() {
                if service != self.service {
                    continue;
                }
                match entry.get_secret() {
                    // Stores that keep deleted entries around (the mock) report them here.
                    Err(keyring_core::Error::NoEntry) => {}
                    // Unreadable (locked, D-Bus trouble) is not absent: it is listed.
                    Ok(_) | Err(_) => keys.push(user),
                }
                continue;
            }
            match entry.get_attributes() {
                Ok(attributes) => {
                    if attributes
                        .get("service")
                        .is_some_and(|s| *s == self.service)
                        && let Some(user) = attributes.get("username")
                    {
                        keys.push(user.clone());
                    }
                }
                // An item deleted between the search and this read (e.g. the
                // startup probe's) is simply not listed.
                Err(err) if vanished(&err) => {}
                // Anything else (a locked item, D-Bus trouble): we cannot tell
                // whose item it is, so the listing is incomplete. Callers must
                // not conclude that an item is missing from it.
                Err(err) => return Err(err.into()),
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// Whether a keychain error says the item no longer exists.
fn vanished(err: &keyring_core::Error) -> bool {
    match err {
        keyring_core::Error::NoEntry => true,
        keyring_core::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            text.contains("does not exist") || text.contains("UnknownObject")
        }
        _ => false,
    }
}

/// Whether a keychain error says our connection to the keychain is stale:
/// the Secret Service daemon was restarted (`gnome-keyring-daemon --replace`)
/// and the session the store opened at start-up is gone.
fn stale_session(err: &VaultError) -> bool {
    match err {
        VaultError::Platform { reason } | VaultError::Unavailable { reason } => {
            let reason = reason.to_ascii_lowercase();
            reason.contains("session does not exist") || reason.contains("nosession")
        }
        _ => false,
    }
}

/// A [`SecretStore`] that opens its store again when the keychain says the
/// connection is stale, and retries the call once. The platform store holds
/// one Secret Service session for the life of the process, so without this a
/// restarted keychain daemon fails every call until Latchkey is restarted.
pub struct ReconnectingStore {
    current: std::sync::RwLock<Arc<dyn SecretStore>>,
    open: Box<dyn Fn() -> Result<Arc<dyn SecretStore>, VaultError> + Send + Sync>,
}

impl fmt::Debug for ReconnectingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingStore")
            .field("current", &self.store())
            .finish_non_exhaustive()
    }
}

impl ReconnectingStore {
    /// A store opened by `open` now, and again whenever it goes stale.
    pub fn new(
        open: impl Fn() -> Result<Arc<dyn SecretStore>, VaultError> + Send + Sync + 'static,
    ) -> Result<Self, VaultError> {
        Ok(Self {
            current: std::sync::RwLock::new(open()?),
            open: Box::new(open),
        })
    }

    fn store(&self) -> Arc<dyn SecretStore> {
        Arc::clone(
            &self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn call<T>(
        &self,
        f: impl Fn(&dyn SecretStore) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let store = self.store();
        match f(store.as_ref()) {
            Err(err) if stale_session(&err) => {
                tracing::warn!(
                    code = err.code(),
                    "the keychain connection is stale; reconnecting"
                );
                let fresh = (self.open)()?;
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::clone(&fresh);
                f(fresh.as_ref())
            }
            other => other,
        }
    }
}

impl SecretStore for ReconnectingStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        self.call(|s| s.get(key))
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.call(|s| s.set(key, secret))
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.call(|s| s.delete(key))
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        self.call(|s| s.list_keys())
    }
}

/// A store that always fails with the reason the platform store could not be opened.
#[derive(Debug, Clone)]
pub struct UnavailableStore(pub VaultError);

impl SecretStore for UnavailableStore {
    fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
        Err(self.0.clone())
    }
    fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
        Err(self.0.clone())
    }
    fn delete(&self, _: &str) -> Result<(), VaultError> {
        Err(self.0.clone())
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Err(self.0.clone())
    }
}

/// Key of the item written and removed by [`Vault::check`].
pub const PROBE_KEY: &str = "latchkey-keychain-probe";

/// Async access to a [`SecretStore`], off the runtime threads, with a timeout.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
    /// The outcome of the last keychain call that reached the store: `None`
    /// when it worked, else why it failed (see [`Vault::health`]).
    health: Arc<tokio::sync::watch::Sender<Option<VaultError>>>,
    timeout: Duration,
    chunk_chars: usize,
    slots: Arc<tokio::sync::Semaphore>,
    /// One write queue per key (see [`Vault::set`]).
    queues: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Keychain calls allowed to run at once. More wait their turn (within the
/// same timeout). A hung keychain (e.g. a locked collection waiting for a
/// prompt nobody answers) never returns: its stuck calls keep their slots, so
/// later calls time out waiting instead of piling up threads.
pub const MAX_IN_FLIGHT: usize = 4;

/// Largest item written to the platform store, in characters. Windows'
/// Credential Manager caps a secret at 2560 bytes of UTF-16 (1280 characters);
/// larger secrets are split into numbered parts, the same on every platform.
pub const CHUNK_CHARS: usize = 1200;
const CHUNK_MAGIC: &str = "lk1";

/// Writes `value` under `key`, split into parts of at most `limit` characters:
/// `key` holds `lk1:<parts>:<first part>`, `key.part<i>` the rest. Parts are
/// written before the head, so the head never points at missing parts.
fn write_chunked(
    store: &dyn SecretStore,
    key: &str,
    value: &str,
    limit: usize,
) -> Result<(), VaultError> {
    let chars: Vec<char> = value.chars().collect();
    // The head also carries the header; keep it within the limit.
    let head_room = limit.saturating_sub(16).max(1);
    let first: String = chars.iter().take(head_room).collect();
    let rest: Vec<String> = chars[first.chars().count()..]
        .chunks(limit.max(1))
        .map(|c| c.iter().collect())
        .collect();
    let old_parts = read_header(store, key).ok().flatten().map_or(1, |(n, _)| n);
    for (i, part) in rest.iter().enumerate() {
        store.set(&part_key(key, i + 1), &SecretString::new(part.clone()))?;
    }
    let parts = rest.len() + 1;
    store.set(
        key,
        &SecretString::new(format!("{CHUNK_MAGIC}:{parts}:{first}")),
    )?;
    for i in parts..old_parts {
        store.delete(&part_key(key, i))?;
    }
    Ok(())
}

fn part_key(key: &str, index: usize) -> String {
    format!("{key}.part{index}")
}

fn read_header(store: &dyn SecretStore, key: &str) -> Result<Option<(usize, String)>, VaultError> {
    let Some(head) = store.get(key)? else {
        return Ok(None);
    };
    let corrupt = || VaultError::Corrupt {
        reason: format!("item {key} has no valid header"),
    };
    let mut fields = head.expose().splitn(3, ':');
    if fields.next() != Some(CHUNK_MAGIC) {
        return Err(corrupt());
    }
    let parts: usize = fields
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(corrupt)?;
    let first = fields.next().ok_or_else(corrupt)?.to_owned();
    Ok(Some((parts, first)))
}

fn read_chunked(store: &dyn SecretStore, key: &str) -> Result<Option<SecretString>, VaultError> {
    let Some((parts, mut value)) = read_header(store, key)? else {
        return Ok(None);
    };
    for i in 1..parts {
        let part = store
            .get(&part_key(key, i))?
            .ok_or_else(|| VaultError::Corrupt {
                reason: format!("part {i} of {parts} of item {key} is missing"),
            })?;
        value.push_str(part.expose());
    }
    Ok(Some(SecretString::new(value)))
}

fn delete_chunked(store: &dyn SecretStore, key: &str) -> Result<(), VaultError> {
    let parts = match read_header(store, key) {
        Ok(Some((n, _))) => n,
        _ => 1,
    };
    for i in 1..parts {
        store.delete(&part_key(key, i))?;
    }
    store.delete(key)
}

impl Vault {
    /// Default time allowed for one keychain call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A vault over `store`.
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Self {
            store,
            health: Arc::new(tokio::sync::watch::channel(None).0),
            timeout: Self::DEFAULT_TIMEOUT,
            chunk_chars: CHUNK_CHARS,
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            queues: Arc::default(),
        }
    }

    /// Sets the largest item size (tests).
    #[must_use]
    pub fn with_chunk_chars(mut self, chars: usize) -> Self {
        self.chunk_chars = chars.max(17);
        self
    }

    /// The platform keychain, or a vault whose every call reports why it is unavailable.
    pub fn platform() -> Self {
        let open = || -> Result<Arc<dyn SecretStore>, VaultError> {
            Ok(Arc::new(KeyringStore::platform()?))
        };
        match ReconnectingStore::new(open) {
            Ok(store) => Self::new(Arc::new(store)),
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "keychain unavailable");
                Self::new(Arc::new(UnavailableStore(err)))
            }
        }
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
                let queue = Arc::clone(
                    self.queues
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .entry(key.to_owned())
                        .or_default(),
                );
                match tokio::time::timeout_at(deadline, queue.lock_owned()).await {
                    Ok(turn) => Some(turn),
                    Err(_) => {
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
        self.run(move |s| read_chunked(s, &key)).await
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
    pub async fn set(&self, key: &str, secret: SecretString) -> Result<(), VaultError> {
        let owned = key.to_owned();
        let limit = self.chunk_chars;
        self.run_queued(Some(key), move |s| {
            write_chunked(s, &owned, secret.expose(), limit)
        })
        .await
    }

    /// Deletes a secret and its parts (idempotent); ordered like [`Self::set`].
    pub async fn delete(&self, key: &str) -> Result<(), VaultError> {
        let owned = key.to_owned();
        self.run_queued(Some(key), move |s| delete_chunked(s, &owned))
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
mod tests {
    use super::*;

    fn memory_vault() -> Vault {
        Vault::new(Arc::new(KeyringStore::in_memory("test-service")))
    }

    #[tokio::test]
    async fn missing_is_none_and_delete_is_idempotent() {
        let vault = memory_vault();
        assert_eq!(vault.get("absent").await.expect("get"), None);
        vault.delete("absent").await.expect("delete missing");
        vault.set("k", SecretString::new("v1")).await.expect("set");
        vault
            .set("k", SecretString::new("v2"))
            .await
            .expect("replace");
        assert_eq!(
            vault.get("k").await.expect("get").expect("some").expose(),
            "v2"
        );
        vault.delete("k").await.expect("delete");
        vault.delete("k").await.expect("delete again");
        assert_eq!(vault.get("k").await.expect("get"), None);
    }

    /// A store whose first write of each value in `stuck` blocks until released.
    #[derive(Debug, Default)]
    struct GatedStore {
        inner: std::sync::Mutex<std::collections::HashMap<String, String>>,
        gate: std::sync::Mutex<bool>,
        opened: std::sync::Condvar,
        stuck: std::sync::Mutex<Vec<String>>,
    }

    impl GatedStore {
        fn release(&self) {
            *self.gate.lock().expect("gate") = true;
            self.opened.notify_all();
        }
    }

    impl SecretStore for GatedStore {
        fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
            Ok(self
                .inner
                .lock()
                .expect("inner")
                .get(key)
                .cloned()
                .map(SecretString::new))
        }
        fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
            if self
                .stuck
                .lock()
                .expect("stuck")
                .iter()
                .any(|v| secret.expose().ends_with(v.as_str()))
            {
                let mut open = self.gate.lock().expect("gate");
                while !*open {
                    open = self.opened.wait(open).expect("wait");
                }
            }
            self.inner
                .lock()
                .expect("inner")
                .insert(key.to_owned(), secret.expose().to_owned());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<(), VaultError> {
            self.inner.lock().expect("inner").remove(key);
            Ok(())
        }
        fn list_keys(&self) -> Result<Vec<String>, VaultError> {
            Ok(self.inner.lock().expect("inner").keys().cloned().collect())
        }
    }

    #[tokio::test]
    async fn a_write_that_timed_out_never_lands_after_a_newer_one() {
        let store = Arc::new(GatedStore::default());
        store.stuck.lock().expect("stuck").push("RT-old".into());
        let vault = Vault::new(store.clone()).with_timeout(Duration::from_millis(200));
        // A locked collection: the write hangs and its caller gives up.
        let old = vault.set("acct-1", SecretString::new("RT-old")).await;
        assert_eq!(old.expect_err("stuck").code(), "keychain_timeout");
        // A newer write while the old one is still stuck: it must not run, or
        // the old one would overwrite it when the keychain wakes up.
        let newer = vault.set("acct-1", SecretString::new("RT-new")).await;
        // Another key is not held up.
        vault
            .set("acct-2", SecretString::new("other"))
            .await
            .expect("other key");
        store.release();
        // Wait until the stuck write has landed.
        for _ in 0..100 {
            if store.get("acct-1").expect("get").is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let landed = vault.get("acct-1").await.expect("get").expect("some");
        if newer.is_ok() {
            assert_eq!(
                landed.expose(),
                "RT-new",
                "a write reported as stored was overwritten by an older one"
            );
        }
        assert_eq!(
            newer.expect_err("queued behind the stuck write").code(),
            "keychain_timeout"
        );
        // Once the old write has returned, writes work again, in order.
        vault
            .set("acct-1", SecretString::new("RT-new"))
            .await
            .expect("set");
        assert_eq!(
            vault
                .get("acct-1")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            "RT-new"
        );
    }

    #[tokio::test]
    async fn an_unreadable_item_is_listed_not_taken_for_absent() {
        let store = KeyringStore::in_memory("locked-test");
        store
            .set("acct-locked", &SecretString::new("x"))
            .expect("set");
        store.set("acct-ok", &SecretString::new("y")).expect("set");
        store.fail_next(
            "acct-locked",
            keyring_core::Error::NoStorageAccess("locked".into()),
        );
        assert_eq!(store.list_keys().expect("list"), ["acct-locked", "acct-ok"]);
    }

    #[derive(Debug)]
    struct Flaky {
        stale: std::sync::atomic::AtomicBool,
        generation: usize,
    }

    impl SecretStore for Flaky {
        fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
            if self.stale.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(VaultError::Platform {
                    reason: "org.freedesktop.Secret.Error.NoSession: The session does not exist"
                        .into(),
                });
            }
            Ok(Some(SecretString::new(format!("gen-{}", self.generation))))
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), VaultError> {
            Ok(())
        }
        fn list_keys(&self) -> Result<Vec<String>, VaultError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_restarted_keychain_daemon_is_reconnected_once() {
        let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let first = Arc::new(Flaky {
            stale: false.into(),
            generation: 0,
        });
        let counter = Arc::clone(&opened);
        let initial = Arc::clone(&first);
        let store = ReconnectingStore::new(move || -> Result<Arc<dyn SecretStore>, VaultError> {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(if n == 0 {
                initial.clone()
            } else {
                Arc::new(Flaky {
                    stale: false.into(),
                    generation: n,
                })
            })
        })
        .expect("open");
        assert_eq!(store.get("k").expect("get").expect("v").expose(), "gen-0");
        // gnome-keyring-daemon --replace: the old session is gone.
        first.stale.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            store.get("k").expect("reconnected").expect("v").expose(),
            "gen-1"
        );
        assert_eq!(store.get("k").expect("get").expect("v").expose(), "gen-1");
        assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn health_follows_the_keychain_calls() {
        let vault = Vault::new(Arc::new(UnavailableStore(VaultError::Locked {
            reason: "locked".into(),
        })));
        let health = vault.health();
        assert!(health.borrow().is_none());
        let _ = vault.get("k").await;
        assert_eq!(
            health.borrow().as_ref().map(ErrorCode::code),
            Some("keychain_locked")
        );
        let ok = memory_vault();
        let health = ok.health();
        ok.get("k").await.expect("get");
        assert!(health.borrow().is_none());
    }

    #[tokio::test]
    async fn check_passes_on_a_working_store_and_leaves_nothing() {
        let vault = memory_vault();
        vault.check().await.expect("probe");
        assert_eq!(vault.get(PROBE_KEY).await.expect("get"), None);
    }

    #[tokio::test]
    async fn unavailable_store_reports_its_reason() {
        let vault = Vault::new(Arc::new(UnavailableStore(VaultError::Unavailable {
            reason: "no session bus".into(),
        })));
        let err = vault.check().await.expect_err("unavailable");
        assert_eq!(err.code(), "keychain_unavailable");
        assert!(err.to_string().contains("no session bus"));
    }

    #[derive(Debug, Default)]
    struct HangingStore {
        calls: std::sync::atomic::AtomicUsize,
    }
    impl SecretStore for HangingStore {
        fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(500));
            Ok(None)
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), VaultError> {
            Ok(())
        }
        fn list_keys(&self) -> Result<Vec<String>, VaultError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn headless_parts_are_swept_and_nothing_else() {
        let store = Arc::new(KeyringStore::in_memory("sweep-test"));
        let vault = Vault::new(store.clone()).with_chunk_chars(50);
        let long = "x".repeat(200);
        for key in ["acct-lost", "acct-kept", "pending-authorizations"] {
            vault
                .set(key, SecretString::new(long.clone()))
                .await
                .expect("set");
        }
        // A crash left parts without their head; a head was deleted by hand.
        store.delete("acct-lost").expect("delete head");
        store.delete("pending-authorizations").expect("delete head");
        assert_eq!(vault.headless_heads().await.expect("heads"), ["acct-lost"]);
        let removed = vault
            .delete_headless_parts("acct-lost")
            .await
            .expect("sweep");
        assert!(
            vault
                .delete_headless_parts("acct-kept")
                .await
                .expect("kept")
                .is_empty(),
            "a head that exists keeps its parts"
        );
        assert_eq!(
            removed,
            [
                "acct-lost.part1",
                "acct-lost.part2",
                "acct-lost.part3",
                "acct-lost.part4"
            ]
        );
        let left = store.list_keys().expect("keys");
        assert!(left.iter().all(|k| !k.starts_with("acct-lost")), "{left:?}");
        // An intact item, and parts that are not an account's, are left alone.
        assert_eq!(
            vault
                .get("acct-kept")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            long
        );
        assert!(
            left.iter()
                .any(|k| k.starts_with("pending-authorizations.part"))
        );
        assert!(vault.headless_heads().await.expect("again").is_empty());
    }

    #[tokio::test]
    async fn large_secrets_are_split_and_reassembled() {
        let store = Arc::new(KeyringStore::in_memory("chunk-test"));
        let vault = Vault::new(store.clone()).with_chunk_chars(100);
        let big: String = (0..1000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        vault
            .set("acct-1", SecretString::new(big.clone()))
            .await
            .expect("set");
        assert_eq!(
            vault
                .get("acct-1")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            big
        );
        // Every raw item respects the limit.
        let keys = store.list_keys().expect("keys");
        assert_eq!(keys.len(), 11, "{keys:?}");
        for key in &keys {
            assert!(
                store
                    .get(key)
                    .expect("raw")
                    .expect("some")
                    .expose()
                    .chars()
                    .count()
                    <= 100,
                "{key}"
            );
        }
        assert_eq!(vault.list_keys().await.expect("list"), ["acct-1"]);
        // Shrinking removes the parts no longer needed.
        vault
            .set("acct-1", SecretString::new("short"))
            .await
            .expect("set");
        assert_eq!(store.list_keys().expect("keys"), ["acct-1"]);
        assert_eq!(
            vault
                .get("acct-1")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            "short"
        );
        // Delete removes the parts too.
        vault
            .set("acct-1", SecretString::new(big))
            .await
            .expect("set");
        vault.delete("acct-1").await.expect("delete");
        assert!(store.list_keys().expect("keys").is_empty());
    }

    #[tokio::test]
    async fn default_limit_fits_windows_credential_manager() {
        let store = Arc::new(KeyringStore::in_memory("chunk-default"));
        let vault = Vault::new(store.clone());
        let secret: String = "é".repeat(5000);
        vault
            .set("k", SecretString::new(secret.clone()))
            .await
            .expect("set");
        for key in store.list_keys().expect("keys") {
            let raw = store.get(&key).expect("raw").expect("some");
            let utf16_bytes = raw.expose().encode_utf16().count() * 2;
            assert!(utf16_bytes <= 2560, "{key}: {utf16_bytes} bytes");
        }
        assert_eq!(
            vault.get("k").await.expect("get").expect("some").expose(),
            secret
        );
    }

    #[tokio::test]
    async fn a_missing_part_is_reported_as_damage() {
        let store = Arc::new(KeyringStore::in_memory("chunk-missing"));
        let vault = Vault::new(store.clone()).with_chunk_chars(50);
        vault
            .set("k", SecretString::new("x".repeat(200)))
            .await
            .expect("set");
        store.delete("k.part2").expect("delete a part");
        assert_eq!(
            vault.get("k").await.expect_err("damaged").code(),
            "keychain_corrupt"
        );
    }

    #[tokio::test]
    async fn stuck_calls_do_not_pile_up() {
        let store = Arc::new(HangingStore::default());
        let vault = Vault::new(store.clone()).with_timeout(Duration::from_millis(20));
        for _ in 0..MAX_IN_FLIGHT {
            assert!(vault.get("k").await.is_err());
        }
        // The stuck calls still hold every slot: more calls time out waiting,
        // without starting another blocking call.
        for _ in 0..3 {
            assert_eq!(
                vault.get("k").await.expect_err("busy").code(),
                "keychain_timeout"
            );
        }
        assert_eq!(
            store.calls.load(std::sync::atomic::Ordering::SeqCst),
            MAX_IN_FLIGHT
        );
        // Once they return, calls go through again.
        let patient = vault.clone().with_timeout(Duration::from_secs(2));
        assert_eq!(patient.get("k").await.expect("answers again"), None);
    }

    /// A keychain that answers, slowly: counts how many calls run at once.
    #[derive(Debug, Default)]
    struct SlowStore {
        now: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
    }
    impl SecretStore for SlowStore {
        fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
            use std::sync::atomic::Ordering::SeqCst;
            let running = self.now.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(running, SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            self.now.fetch_sub(1, SeqCst);
            Ok(Some(SecretString::new("lk1:1:v")))
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<(), VaultError> {
            Ok(())
        }
        fn list_keys(&self) -> Result<Vec<String>, VaultError> {
            Ok(Vec::new())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_busy_keychain_serves_every_caller_in_turn() {
        // Many accounts refresh at once (a launch): more calls than slots.
        let store = Arc::new(SlowStore::default());
        let vault = Vault::new(store.clone()).with_timeout(Duration::from_secs(5));
        let calls = (0..4 * MAX_IN_FLIGHT).map(|i| {
            let vault = vault.clone();
            tokio::spawn(async move { vault.get(&format!("acct-{i}")).await })
        });
        for call in futures_util::future::join_all(calls).await {
            let value = call.expect("task").expect("answered, not refused");
            assert_eq!(value.expect("some").expose(), "v");
        }
        assert_eq!(
            store.most.load(std::sync::atomic::Ordering::SeqCst),
            MAX_IN_FLIGHT,
            "never more than the slots at once"
        );
    }

    #[tokio::test]
    async fn a_hung_keychain_times_out() {
        let vault =
            Vault::new(Arc::new(HangingStore::default())).with_timeout(Duration::from_millis(50));
        assert_eq!(
            vault.check().await.expect_err("timeout").code(),
            "keychain_timeout"
        );
    }

    #[test]
    fn keyring_errors_map_to_stable_codes() {
        let locked = VaultError::from(keyring_core::Error::NoStorageAccess("locked".into()));
        assert_eq!(locked.code(), "keychain_locked");
        let corrupt = VaultError::from(keyring_core::Error::BadEncoding(b"secret-bytes".to_vec()));
        assert_eq!(corrupt.code(), "keychain_corrupt");
        assert!(!corrupt.to_string().contains("secret-bytes"));
    }
}
