//! A keychain connection that outlives the keychain daemon.
//!
//! The platform store holds one Secret Service session for the life of the
//! process, behind one lock: a keychain call runs only when the one before it
//! has returned. Two things go wrong when the daemon is replaced
//! (`gnome-keyring-daemon --replace`, after a crash or an update):
//!
//! - the session is gone, and every call fails with "the session does not
//!   exist" — [`ReconnectingStore`] opens the store again and retries once;
//! - a call that was waiting on a prompt of the old daemon (or of the new one
//!   while it was still loading its keyring) never returns, and every later
//!   call would wait behind it for good. A call that cannot get its turn on a
//!   connection within [`ReconnectingStore::STUCK_AFTER`] asks which daemon
//!   owns the Secret Service now: when it is no longer the one the connection
//!   was opened with, the call goes to a new connection, and the stuck one is
//!   left to its thread. When it is the same daemon (a locked keychain whose
//!   prompt the person has not answered yet), the call gives up with
//!   `keychain_timeout` without running — it never opens a second prompt.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::ErrorCode as _;
use crate::lock;
use crate::secret::SecretString;
use crate::store::secret_store::{SecretStore, VaultError};

/// Whether a keychain error says our connection to the keychain is stale:
/// the Secret Service daemon was restarted (`gnome-keyring-daemon --replace`)
/// and the session the store opened at start-up is gone.
fn stale_session(err: &VaultError) -> bool {
    match err {
        // gnome-keyring says "The session wrapping the secret does not exist"
        // (org.freedesktop.Secret.Error.NoSession).
        VaultError::Platform { reason } | VaultError::Unavailable { reason } => {
            let reason = reason.to_ascii_lowercase();
            (reason.contains("session") && reason.contains("does not exist"))
                || reason.contains("nosession")
        }
        _ => false,
    }
}

/// One open store, the daemon it talks to, and its turn: one call at a time.
struct Connection {
    store: Arc<dyn SecretStore>,
    /// Who served the keychain when this connection was opened (on Linux the
    /// unique bus name owning `org.freedesktop.secrets`), if known.
    daemon: Option<String>,
    busy: Mutex<bool>,
    free: Condvar,
}

/// A call's turn on a [`Connection`]; the next call may go when it drops.
struct Turn<'a>(&'a Connection);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.free.notify_one();
    }
}

impl Connection {
    /// Waits up to `wait` for the calls before this one to return.
    fn turn(&self, wait: Duration) -> Option<Turn<'_>> {
        let deadline = Instant::now() + wait;
        let mut busy = lock(&self.busy);
        while *busy {
            let left = deadline.checked_duration_since(Instant::now())?;
            busy = self
                .free
                .wait_timeout(busy, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *busy = true;
        Some(Turn(self))
    }
}

type Open = Box<dyn Fn() -> Result<Arc<dyn SecretStore>, VaultError> + Send + Sync>;
type Daemon = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// A [`SecretStore`] that opens its store at its first call, and again when
/// the keychain daemon it talked to is gone (see the module docs).
pub struct ReconnectingStore {
    /// `None` until the first call connects (or while connecting fails).
    current: RwLock<Option<Arc<Connection>>>,
    /// How many times the store connected anew.
    reconnects: std::sync::atomic::AtomicU64,
    open: Open,
    daemon: Daemon,
    stuck_after: Duration,
}

impl fmt::Debug for ReconnectingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingStore")
            .field(
                "current",
                &self
                    .current
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    .map(|conn| Arc::clone(&conn.store)),
            )
            .field("stuck_after", &self.stuck_after)
            .finish_non_exhaustive()
    }
}

impl ReconnectingStore {
    /// How long a call waits for the call before it on the same connection
    /// before it asks whether the keychain daemon was replaced. Below
    /// [`Vault::DEFAULT_TIMEOUT`](crate::store::vault::Vault::DEFAULT_TIMEOUT),
    /// so a call moved to a new connection still answers in time.
    pub const STUCK_AFTER: Duration = Duration::from_secs(3);

    /// A store opened by `open` at its first call (not here: an app builds
    /// its vault before its window, and opening a Secret Service session
    /// takes a D-Bus round trip or more), and again whenever the daemon
    /// behind it goes away. When `open` fails, that call fails with its
    /// error and the next call tries again (say, once the keychain daemon
    /// has started). `daemon` names who serves the keychain right now
    /// (`None` when that cannot be told: a stuck call then never moves).
    pub fn new(
        open: impl Fn() -> Result<Arc<dyn SecretStore>, VaultError> + Send + Sync + 'static,
        daemon: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            current: RwLock::new(None),
            reconnects: 0.into(),
            open: Box::new(open),
            daemon: Box::new(daemon),
            stuck_after: Self::STUCK_AFTER,
        }
    }

    /// Sets how long a call waits for its turn (tests).
    #[must_use]
    pub fn with_stuck_after(mut self, wait: Duration) -> Self {
        self.stuck_after = wait;
        self
    }

    fn connect(open: &Open, daemon: &Daemon) -> Result<Arc<Connection>, VaultError> {
        let store = open()?;
        Ok(Arc::new(Connection {
            store,
            daemon: daemon(),
            busy: Mutex::new(false),
            free: Condvar::new(),
        }))
    }

    /// The connection calls go to; the first call opens it.
    fn current_connection(&self) -> Result<Arc<Connection>, VaultError> {
        if let Some(conn) = &*self.current.read().unwrap_or_else(PoisonError::into_inner) {
            return Ok(Arc::clone(conn));
        }
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = &*current {
            // Another call connected while this one waited.
            return Ok(Arc::clone(conn));
        }
        let conn = Self::connect(&self.open, &self.daemon)?;
        *current = Some(Arc::clone(&conn));
        Ok(conn)
    }

    /// Replaces `old` with a new connection, unless another call already did.
    fn reopen(&self, old: &Arc<Connection>) -> Result<Arc<Connection>, VaultError> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        match &*current {
            Some(conn) if !Arc::ptr_eq(conn, old) => return Ok(Arc::clone(conn)),
            _ => {}
        }
        let fresh = Self::connect(&self.open, &self.daemon)?;
        *current = Some(Arc::clone(&fresh));
        self.reconnects
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(fresh)
    }

    /// Whether the daemon `conn` was opened with no longer serves the keychain.
    fn daemon_gone(&self, conn: &Connection) -> bool {
        conn.daemon
            .as_ref()
            .is_some_and(|then| (self.daemon)().as_ref() != Some(then))
    }

    fn stuck(&self) -> VaultError {
        VaultError::Timeout {
            seconds: self.stuck_after.as_secs().max(1),
        }
    }

    /// Runs `f` on `conn` once its turn comes, or `None` when it did not come in time.
    fn run_on<T>(
        &self,
        conn: &Connection,
        f: &impl Fn(&dyn SecretStore) -> Result<T, VaultError>,
    ) -> Option<Result<T, VaultError>> {
        let _turn = conn.turn(self.stuck_after)?;
        Some(f(conn.store.as_ref()))
    }

    fn call<T>(
        &self,
        f: impl Fn(&dyn SecretStore) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let conn = self.current_connection()?;
        let outcome = match self.run_on(&conn, &f) {
            Some(outcome) => outcome,
            None if self.daemon_gone(&conn) => {
                tracing::warn!(
                    waited_ms = self.stuck_after.as_millis(),
                    "a keychain call is stuck on a keychain daemon that was replaced; reconnecting"
                );
                let fresh = self.reopen(&conn)?;
                return self.run_on(&fresh, &f).unwrap_or_else(|| Err(self.stuck()));
            }
            // The same daemon: a prompt the person has not answered yet.
            None => return Err(self.stuck()),
        };
        match outcome {
            Err(err) if stale_session(&err) => {
                tracing::warn!(
                    code = err.code(),
                    "the keychain connection is stale; reconnecting"
                );
                let fresh = self.reopen(&conn)?;
                self.run_on(&fresh, &f).unwrap_or_else(|| Err(self.stuck()))
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
    fn connection(&self) -> u64 {
        self.reconnects.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A store of one daemon "generation": it can lose its session, or hang
    /// (a prompt nobody answers) until released. Like the Secret Service
    /// store, one call at a time: a hung call holds up the calls behind it.
    #[derive(Debug, Default)]
    struct Daemon {
        generation: usize,
        one_at_a_time: Mutex<()>,
        stale: AtomicBool,
        hang: AtomicBool,
        release: (Mutex<bool>, Condvar),
    }

    impl Daemon {
        fn new(generation: usize) -> Arc<Self> {
            Arc::new(Self {
                generation,
                ..Self::default()
            })
        }
        fn release(&self) {
            *self.release.0.lock().expect("lock") = true;
            self.release.1.notify_all();
        }
    }

    impl SecretStore for Daemon {
        fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
            let _one = self.one_at_a_time.lock().expect("lock");
            if self.hang.swap(false, Ordering::SeqCst) {
                let mut released = self.release.0.lock().expect("lock");
                while !*released {
                    released = self.release.1.wait(released).expect("wait");
                }
            }
            if self.stale.load(Ordering::SeqCst) {
                return Err(VaultError::Platform {
                    // As gnome-keyring says it after `--replace` (seen in the E2E test).
                    reason: "DBus error: The session wrapping the secret does not exist".into(),
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

    /// A store over daemons 0, 1, …: `open` connects to a new one each time;
    /// `owner` is the bus name of the daemon serving now.
    struct Bus {
        first: Arc<Daemon>,
        opened: Arc<AtomicUsize>,
        owner: Arc<Mutex<String>>,
    }

    fn bus() -> (ReconnectingStore, Bus) {
        let first = Daemon::new(0);
        let opened = Arc::new(AtomicUsize::new(0));
        let owner = Arc::new(Mutex::new(":1.0".to_owned()));
        let (initial, counter, serving) =
            (Arc::clone(&first), Arc::clone(&opened), Arc::clone(&owner));
        let store = ReconnectingStore::new(
            move || -> Result<Arc<dyn SecretStore>, VaultError> {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                Ok(if n == 0 {
                    initial.clone()
                } else {
                    Daemon::new(n)
                })
            },
            move || Some(serving.lock().expect("lock").clone()),
        )
        .with_stuck_after(Duration::from_millis(200));
        (
            store,
            Bus {
                first,
                opened,
                owner,
            },
        )
    }

    fn read(store: &ReconnectingStore) -> Result<String, VaultError> {
        store
            .get("k")
            .map(|v| v.expect("value").expose().to_owned())
    }

    /// A read on another thread that hangs on the first daemon's prompt;
    /// returns once it does.
    fn hung_read(
        store: &Arc<ReconnectingStore>,
        bus: &Bus,
    ) -> std::thread::JoinHandle<Result<String, VaultError>> {
        bus.first.hang.store(true, Ordering::SeqCst);
        let hung = {
            let store = Arc::clone(store);
            std::thread::spawn(move || read(&store))
        };
        while bus.first.hang.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        hung
    }

    #[test]
    fn a_restarted_keychain_daemon_is_reconnected_once() {
        let (store, bus) = bus();
        assert_eq!(read(&store).expect("get"), "gen-0");
        // gnome-keyring-daemon --replace: the old session is gone.
        bus.first.stale.store(true, Ordering::SeqCst);
        assert_eq!(read(&store).expect("reconnected"), "gen-1");
        assert_eq!(read(&store).expect("get"), "gen-1");
        assert_eq!(bus.opened.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_call_stuck_on_a_replaced_daemon_does_not_hold_up_the_next() {
        let (store, bus) = bus();
        let store = Arc::new(store);
        let stuck = hung_read(&store, &bus);
        // The daemon is replaced while that call waits on its prompt.
        *bus.owner.lock().expect("lock") = ":1.7".into();
        assert_eq!(read(&store).expect("moved to a new connection"), "gen-1");
        assert_eq!(read(&store).expect("and stays there"), "gen-1");
        assert_eq!(bus.opened.load(Ordering::SeqCst), 2);
        bus.first.release();
        assert_eq!(stuck.join().expect("join").expect("old call"), "gen-0");
    }

    #[test]
    fn a_prompt_of_the_same_daemon_is_waited_for_not_duplicated() {
        let (store, bus) = bus();
        let store = Arc::new(store);
        let prompting = hung_read(&store, &bus);
        // Locked, with the person's prompt open: the next call gives up
        // without running, and no second connection (or prompt) is opened.
        let err = read(&store).expect_err("no turn");
        assert_eq!(err.code(), "keychain_timeout");
        assert_eq!(bus.opened.load(Ordering::SeqCst), 1);
        bus.first.release();
        assert_eq!(prompting.join().expect("join").expect("answered"), "gen-0");
        assert_eq!(read(&store).expect("the same connection again"), "gen-0");
    }

    #[test]
    fn the_keychain_is_opened_at_the_first_call_and_again_after_a_failed_open() {
        let opened = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&opened);
        let store = ReconnectingStore::new(
            move || -> Result<Arc<dyn SecretStore>, VaultError> {
                // The keychain daemon is not up yet at the first open.
                match counter.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(VaultError::Unavailable {
                        reason: "org.freedesktop.secrets was not provided".into(),
                    }),
                    n => Ok(Daemon::new(n)),
                }
            },
            || Some(":1.0".to_owned()),
        );
        assert_eq!(
            opened.load(Ordering::SeqCst),
            0,
            "nothing opened before a call"
        );
        let err = read(&store).expect_err("no keychain yet");
        assert_eq!(err.code(), "keychain_unavailable");
        assert_eq!(read(&store).expect("opened now"), "gen-1");
        assert_eq!(read(&store).expect("the same connection"), "gen-1");
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        assert_eq!(
            store.connection(),
            0,
            "a first connection is not a reconnect"
        );
    }
}
