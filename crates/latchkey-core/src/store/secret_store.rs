//! The synchronous seam over a credential store: [`SecretStore`], its
//! keyring-core implementation on the platform's keychain (or keyring-core's
//! in-memory store in tests), and [`VaultError`], the stable error codes of keychain failures.

use std::fmt;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::error::ErrorCode;
use crate::provider::APP_IDENTIFIER;
use crate::secret::SecretString;
use crate::store::platform::{ServiceSearch, platform_store, search_spec};

/// Why the keychain could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// There is no usable keychain (no session bus, no Secret Service, ...).
    #[error("the system keychain is not available: {reason}")]
    Unavailable {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
    /// The keychain is locked and could not be unlocked without a prompt.
    #[error("the system keychain is locked: {reason}")]
    Locked {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
    /// The keychain did not answer in time.
    #[error("the system keychain did not answer within {seconds} s")]
    Timeout {
        /// The timeout that elapsed, in seconds.
        seconds: u64,
    },
    /// A stored item is not in the expected format.
    #[error("a keychain item of Latchkey is damaged: {reason}")]
    Corrupt {
        /// What is wrong with the item (never its content).
        reason: String,
    },
    /// The passphrase does not open the encrypted file vault (see
    /// `store::file_vault`). Nothing was read or written.
    #[error("the passphrase does not open the encrypted file vault: {reason}")]
    WrongPassphrase {
        /// Which vault file, and what to check (never the passphrase).
        reason: String,
    },
    /// Any other keychain failure.
    #[error("the system keychain failed: {reason}")]
    Platform {
        /// Why, in words for a person (never a secret).
        reason: String,
    },
}

impl ErrorCode for VaultError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "keychain_unavailable",
            Self::Locked { .. } => "keychain_locked",
            Self::Timeout { .. } => "keychain_timeout",
            Self::Corrupt { .. } => "keychain_corrupt",
            Self::WrongPassphrase { .. } => "vault_wrong_passphrase",
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
    /// Which connection to the keychain calls go to now: it grows when the
    /// store connects anew (see [`ReconnectingStore`](crate::store::vault::ReconnectingStore)),
    /// and a write stuck on an earlier connection no longer holds up its key.
    fn connection(&self) -> u64 {
        0
    }
}

/// A [`SecretStore`] over any keyring-core credential store; items are
/// `(service, key)` pairs.
pub struct KeyringStore {
    store: Arc<CredentialStore>,
    service: String,
    search: ServiceSearch,
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
            search: ServiceSearch::Attribute,
        }
    }

    /// The platform keychain (Secret Service on Linux, the login keychain on
    /// macOS, the Credential Manager on Windows: see `store::platform`),
    /// service [`APP_IDENTIFIER`].
    pub fn platform() -> Result<Self, VaultError> {
        Self::platform_for(APP_IDENTIFIER)
    }

    /// The platform keychain, items under `service` (an app's identifier).
    pub fn platform_for(service: &str) -> Result<Self, VaultError> {
        let (store, search) = platform_store()?;
        Ok(Self {
            search,
            ..Self::new(store, service)
        })
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
        let spec = search_spec(self.search, &self.service);
        let spec: std::collections::HashMap<&str, &str> =
            spec.iter().map(|(k, v)| (*k, v.as_str())).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn keyring_errors_map_to_stable_codes() {
        let locked = VaultError::from(keyring_core::Error::NoStorageAccess("locked".into()));
        assert_eq!(locked.code(), "keychain_locked");
        let corrupt = VaultError::from(keyring_core::Error::BadEncoding(b"secret-bytes".to_vec()));
        assert_eq!(corrupt.code(), "keychain_corrupt");
        assert!(!corrupt.to_string().contains("secret-bytes"));
    }
}
