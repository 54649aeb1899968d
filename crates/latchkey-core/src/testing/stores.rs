//! Keychain stand-ins that misbehave on purpose: one that refuses or holds
//! writes as a locked or busy collection would, one that fails every call.

use std::sync::Arc;

use crate::secret::SecretString;
use crate::vault::{KeyringStore, SecretStore, VaultError};

/// An in-memory keychain whose writes of account items (`acct-…`) can be
/// refused, as a locked collection would.
#[derive(Debug)]
pub struct RefusingStore {
    pub inner: Arc<KeyringStore>,
    pub refuse: std::sync::atomic::AtomicBool,
    /// How many times an item was read (`get`).
    pub reads: std::sync::atomic::AtomicUsize,
    /// Every call, in order: `get <key>`, `set <key>`, `delete <key>`.
    pub calls: std::sync::Mutex<Vec<String>>,
    /// The key whose calls wait until [`Self::release`] (see [`Self::hold`]).
    held: std::sync::Mutex<Option<String>>,
    released: std::sync::Condvar,
}

impl RefusingStore {
    pub fn over(inner: Arc<KeyringStore>) -> Self {
        Self {
            inner,
            refuse: false.into(),
            reads: 0.into(),
            calls: std::sync::Mutex::default(),
            held: std::sync::Mutex::default(),
            released: std::sync::Condvar::new(),
        }
    }

    /// Makes every call on `key` wait until [`Self::release`], as a keychain
    /// busy with that item would.
    pub fn hold(&self, key: &str) {
        *self.held.lock().expect("held") = Some(key.to_owned());
    }

    /// Lets the held calls run.
    pub fn release(&self) {
        *self.held.lock().expect("held") = None;
        self.released.notify_all();
    }

    fn wait_if_held(&self, key: &str) {
        let held = self.held.lock().expect("held");
        let _released = self
            .released
            .wait_while(held, |held| held.as_deref() == Some(key))
            .expect("held");
    }

    /// The calls since the last `take_calls`.
    pub fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.calls.lock().expect("calls"))
    }

    fn log(&self, call: &str, key: &str) {
        self.calls
            .lock()
            .expect("calls")
            .push(format!("{call} {key}"));
    }

    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn refuse_writes(&self, refuse: bool) {
        self.refuse
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
    }
}

impl SecretStore for RefusingStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.log("get", key);
        self.wait_if_held(key);
        self.inner.get(key)
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.log("set", key);
        self.wait_if_held(key);
        if key.starts_with("acct-") && self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(VaultError::Locked {
                reason: "collection is locked".into(),
            });
        }
        self.inner.set(key, secret)
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.log("delete", key);
        self.wait_if_held(key);
        self.inner.delete(key)
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        self.inner.list_keys()
    }
}

/// A keychain that fails every call with `error` while it is failing (a
/// restarted daemon, a locked collection), over an in-memory store; counts
/// its calls.
#[derive(Debug)]
pub struct FailingStore {
    pub inner: KeyringStore,
    error: VaultError,
    failing: std::sync::atomic::AtomicBool,
    calls: std::sync::atomic::AtomicUsize,
}

impl FailingStore {
    pub fn new(error: VaultError, failing: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: KeyringStore::in_memory("failing"),
            error,
            failing: failing.into(),
            calls: 0.into(),
        })
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn gate(&self) -> Result<(), VaultError> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        if self.failing.load(SeqCst) {
            Err(self.error.clone())
        } else {
            Ok(())
        }
    }
}

impl SecretStore for FailingStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        self.gate()?;
        self.inner.get(key)
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.gate()?;
        self.inner.set(key, secret)
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.gate()?;
        self.inner.delete(key)
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        self.gate()?;
        self.inner.list_keys()
    }
}
