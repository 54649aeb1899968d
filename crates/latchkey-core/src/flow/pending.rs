//! The pending authorizations waiting for their redirect.
//!
//! [`PendingStore`] keeps every pending authorization in **one keychain item**
//! (never a plain file), so they survive the app being closed or crashing while
//! the person is in the browser. Expired entries (older than [`PENDING_TTL`](crate::flow::request::PENDING_TTL))
//! are purged on every access; every change is a read-modify-write under a
//! lock file shared with the other Latchkey processes.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::clock::{from_unix_seconds, unix_seconds};
use crate::flow::request::{
    Endpoints, PENDING_KEY, PendingAuthorization, PendingHandle, PendingSummary,
};
use crate::lock;
use crate::secret::SecretString;
use crate::vault::{Vault, VaultError};

/// The keychain form of a pending authorization. Only ever serialized into
/// the keychain item, never to a file, a log or the UI.
#[derive(Serialize, Deserialize)]
struct PendingRecord {
    state: String,
    pkce_verifier: String,
    nonce: String,
    provider_id: String,
    provider_name: String,
    client_id: String,
    redirect_uri: Url,
    scopes: Vec<String>,
    endpoints: Endpoints,
    authorization_url: Url,
    login_hint: Option<String>,
    #[serde(default)]
    reauth_of: Option<String>,
    created_at: u64,
    expires_at: u64,
}

impl From<&PendingAuthorization> for PendingRecord {
    fn from(p: &PendingAuthorization) -> Self {
        Self {
            state: p.state.expose().to_owned(),
            pkce_verifier: p.pkce_verifier.expose().to_owned(),
            nonce: p.nonce.expose().to_owned(),
            provider_id: p.provider_id.clone(),
            provider_name: p.provider_name.clone(),
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            scopes: p.scopes.clone(),
            endpoints: p.endpoints.clone(),
            authorization_url: p.authorization_url.clone(),
            login_hint: p.login_hint.clone(),
            reauth_of: p.reauth_of.clone(),
            created_at: unix_seconds(p.created_at),
            expires_at: unix_seconds(p.expires_at),
        }
    }
}

impl From<PendingRecord> for PendingAuthorization {
    fn from(r: PendingRecord) -> Self {
        Self {
            handle: PendingHandle::for_state(&r.state),
            state: SecretString::new(r.state),
            pkce_verifier: SecretString::new(r.pkce_verifier),
            nonce: SecretString::new(r.nonce),
            provider_id: r.provider_id,
            provider_name: r.provider_name,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            scopes: r.scopes,
            endpoints: r.endpoints,
            authorization_url: r.authorization_url,
            login_hint: r.login_hint,
            reauth_of: r.reauth_of,
            created_at: from_unix_seconds(r.created_at),
            expires_at: from_unix_seconds(r.expires_at),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct PendingFile {
    version: u32,
    entries: Vec<PendingRecord>,
}

/// What [`PendingStore::take`] found for a `state`.
#[derive(Debug)]
pub enum Taken {
    /// The request, now removed from the store.
    Found(Box<PendingAuthorization>),
    /// It existed but had expired (now removed).
    Expired {
        /// The provider's display name, for the message.
        provider_name: String,
    },
    /// Unknown or already used.
    Unknown,
}

/// The pending authorizations, kept in one keychain item.
///
/// The sign-ins this process began are also kept in memory, so completing
/// one reads nothing from the keychain on its way to the account: [`Self::take`]
/// takes it from memory, and its keychain entry goes in [`Self::forget_taken`],
/// after the account is stored, in the background ([`Self::forget_taken_later`],
/// awaited by [`Self::settle`]). Until then it counts as used here (listed
/// nowhere, never taken twice).
#[derive(Debug)]
pub struct PendingStore {
    vault: Vault,
    lock: tokio::sync::Mutex<()>,
    locks: crate::file_lock::LockDir,
    /// This process's sign-ins, by state.
    begun: std::sync::Mutex<std::collections::HashMap<String, PendingAuthorization>>,
    /// States taken from memory whose keychain entry is still there.
    taken: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The background runs of [`Self::forget_taken`] not yet awaited.
    cleanups: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The lock file around every read-modify-write of [`PENDING_KEY`].
const PENDING_LOCK: &str = "pending-authorizations";

/// How long to wait for another process's use of the pending sign-ins.
const PENDING_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The right to read-modify-write the pending sign-ins.
struct PendingGuard<'a> {
    _in_process: tokio::sync::MutexGuard<'a, ()>,
    _file: crate::file_lock::FileLock,
}

impl PendingStore {
    /// A store in `vault`; `locks` is the lock folder shared with the other
    /// Latchkey processes of this user.
    pub(crate) fn new(vault: Vault, locks: crate::file_lock::LockDir) -> Self {
        Self {
            vault,
            lock: tokio::sync::Mutex::new(()),
            locks,
            begun: std::sync::Mutex::default(),
            taken: std::sync::Mutex::default(),
            cleanups: std::sync::Mutex::default(),
        }
    }

    /// Every change is a read-modify-write of one keychain item: in this
    /// process and across processes (an instance starting while another
    /// quits, the CLI) one at a time, or one would lose the other's sign-ins.
    async fn guard(&self) -> Result<PendingGuard<'_>, VaultError> {
        let in_process = self.lock.lock().await;
        let file = self
            .locks
            .lock(PENDING_LOCK, PENDING_LOCK_TIMEOUT)
            .await
            .map_err(|err| VaultError::Platform {
                reason: format!("the pending sign-ins are busy: {err}"),
            })?;
        Ok(PendingGuard {
            _in_process: in_process,
            _file: file,
        })
    }

    async fn load(&self) -> Result<Vec<PendingAuthorization>, VaultError> {
        let Some(secret) = self.vault.get(PENDING_KEY).await? else {
            return Ok(Vec::new());
        };
        match serde_json::from_str::<PendingFile>(secret.expose()) {
            Ok(file) => Ok(file
                .entries
                .into_iter()
                .map(PendingAuthorization::from)
                .collect()),
            Err(_) => {
                tracing::warn!("the pending sign-ins item is damaged; starting with none");
                Ok(Vec::new())
            }
        }
    }

    async fn save(&self, entries: &[PendingAuthorization]) -> Result<(), VaultError> {
        if entries.is_empty() {
            return self.vault.delete(PENDING_KEY).await;
        }
        let file = PendingFile {
            version: 1,
            entries: entries.iter().map(PendingRecord::from).collect(),
        };
        let json = serde_json::to_string(&file).map_err(|err| VaultError::Platform {
            reason: format!("cannot encode pending sign-ins: {err}"),
        })?;
        self.vault.set(PENDING_KEY, SecretString::new(json)).await
    }

    /// Remembers a new pending authorization (and purges expired ones).
    pub async fn insert(
        &self,
        pending: &PendingAuthorization,
        now: SystemTime,
    ) -> Result<(), VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        entries.retain(|p| !p.is_expired(now));
        entries.push(PendingAuthorization::from(PendingRecord::from(pending)));
        self.save(&entries).await?;
        lock(&self.begun).insert(
            pending.state.expose().to_owned(),
            PendingAuthorization::from(PendingRecord::from(pending)),
        );
        Ok(())
    }

    /// Removes and returns the authorization for `state`: it can be used once.
    /// One this process began comes from memory (no keychain call); call
    /// [`Self::forget_taken`] once what it was taken for is done.
    pub async fn take(&self, state: &str, now: SystemTime) -> Result<Taken, VaultError> {
        let mine = {
            let mut begun = lock(&self.begun);
            let mine = begun.remove(state);
            // Expired ones are purged here too (as from the keychain below).
            begun.retain(|_, p| !p.is_expired(now));
            mine
        };
        if let Some(p) = mine {
            lock(&self.taken).insert(state.to_owned());
            return Ok(if p.is_expired(now) {
                Taken::Expired {
                    provider_name: p.provider_name,
                }
            } else {
                Taken::Found(Box::new(p))
            });
        }
        if lock(&self.taken).contains(state) {
            return Ok(Taken::Unknown);
        }
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        let position = entries.iter().position(|p| p.state.expose() == state);
        let taken = position.map(|i| entries.remove(i));
        entries.retain(|p| !p.is_expired(now));
        if taken.is_some() || entries.len() != before {
            self.save(&entries).await?;
        }
        Ok(match taken {
            Some(p) if p.is_expired(now) => Taken::Expired {
                provider_name: p.provider_name,
            },
            Some(p) => Taken::Found(Box::new(p)),
            None => Taken::Unknown,
        })
    }

    /// Removes from the keychain the entries [`Self::take`] took from memory.
    /// A failure is logged, not returned: they are used (never taken again
    /// here) and expire anyway.
    pub async fn forget_taken(&self) {
        let states: std::collections::HashSet<String> = lock(&self.taken).clone();
        if states.is_empty() {
            return;
        }
        let removed = async {
            let _guard = self.guard().await?;
            let mut entries = self.load().await?;
            let before = entries.len();
            entries.retain(|p| !states.contains(p.state.expose()));
            if entries.len() != before {
                self.save(&entries).await?;
            }
            Ok::<(), VaultError>(())
        }
        .await;
        match removed {
            Ok(()) => lock(&self.taken).retain(|s| !states.contains(s)),
            Err(err) => tracing::warn!(
                code = crate::error::ErrorCode::code(&err),
                "a used sign-in request stays in the keychain until it expires"
            ),
        }
    }

    /// Runs [`Self::forget_taken`] off the caller's path: on the current
    /// tokio runtime (inline where there is none). [`Self::settle`] waits for it.
    pub(crate) async fn forget_taken_later(self: &std::sync::Arc<Self>) {
        if lock(&self.taken).is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.forget_taken().await;
            return;
        };
        let store = std::sync::Arc::clone(self);
        let task = runtime.spawn(async move { store.forget_taken().await });
        let mut cleanups = lock(&self.cleanups);
        cleanups.retain(|task| !task.is_finished());
        cleanups.push(task);
    }

    /// Waits for the background clean-ups started so far.
    pub(crate) async fn settle(&self) {
        let tasks = std::mem::take(&mut *lock(&self.cleanups));
        for task in tasks {
            // A clean-up that panicked has logged it; the entries expire anyway.
            let _ = task.await;
        }
    }

    /// Cancels a pending sign-in; `false` when there was none.
    pub async fn cancel(&self, handle: &PendingHandle) -> Result<bool, VaultError> {
        lock(&self.begun).retain(|_, p| &p.handle != handle);
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        entries.retain(|p| &p.handle != handle);
        let removed = entries.len() != before;
        if removed {
            self.save(&entries).await?;
        }
        Ok(removed)
    }

    /// Removes and returns the pending sign-ins `remove` picks.
    pub(crate) async fn remove_where(
        &self,
        mut remove: impl FnMut(&PendingAuthorization) -> bool,
    ) -> Result<Vec<PendingAuthorization>, VaultError> {
        lock(&self.begun).retain(|_, p| !remove(p));
        let _guard = self.guard().await?;
        let (removed, kept): (Vec<_>, Vec<_>) =
            self.load().await?.into_iter().partition(|p| remove(p));
        if !removed.is_empty() {
            self.save(&kept).await?;
        }
        Ok(removed)
    }

    /// The live pending sign-ins (expired ones are purged).
    pub async fn list(&self, now: SystemTime) -> Result<Vec<PendingSummary>, VaultError> {
        let _guard = self.guard().await?;
        let mut entries = self.load().await?;
        let before = entries.len();
        entries.retain(|p| !p.is_expired(now));
        if entries.len() != before {
            tracing::info!(
                purged = before - entries.len(),
                "expired pending sign-ins purged"
            );
            self.save(&entries).await?;
        }
        lock(&self.begun).retain(|_, p| !p.is_expired(now));
        let taken = lock(&self.taken);
        Ok(entries
            .iter()
            .filter(|p| !taken.contains(p.state.expose()))
            .map(PendingAuthorization::summary)
            .collect())
    }
}
