//! The encrypted file vault: every secret in one file, `<data dir>/vault.bin`,
//! for machines where no keychain answers (a server, a container, an SSH
//! session) and the person chose it explicitly (`LATCHKEY_VAULT=file`).
//! Never a silent fallback, never plaintext.
//!
//! The key is derived from a passphrase with argon2id (salt and costs in the
//! file's header; the layout is in `file_vault_format.rs`); every
//! write re-encrypts the whole item map with XChaCha20-Poly1305 under a fresh
//! random nonce. Writes are read-modify-write under a lock file shared by
//! every Latchkey process of the data folder, and land atomically (temporary
//! file, fsync, rename, fsync of the folder): two CLI processes never lose
//! each other's update, and a reader sees the old file or the new one, never
//! half of one. Reads take no lock.
//!
//! The passphrase and the derived key stay in memory for the life of the
//! store (zeroed when dropped), so a file re-created with a new salt by
//! another process is still readable.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::file_lock::{LockDir, LockError};
use crate::secret::SecretString;
pub use crate::store::file_vault_format::KdfParams;
use crate::store::file_vault_format::{self as format, DerivedKey, Items, SALT_LEN};
use crate::store::secret_store::{SecretStore, VaultError};

/// The vault file's name in the data folder.
pub const FILE_NAME: &str = "vault.bin";
/// The lock file's name (in the data folder's lock folder).
const LOCK_NAME: &str = "vault";

/// A [`SecretStore`] in one encrypted file.
pub struct FileVaultStore {
    path: PathBuf,
    locks: LockDir,
    passphrase: SecretString,
    /// The costs of a file this store creates.
    params: KdfParams,
    /// The key of the file as last seen (argon2 runs once per salt).
    key: Mutex<Option<DerivedKey>>,
    lock_timeout: Duration,
}

impl std::fmt::Debug for FileVaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileVaultStore")
            .field("path", &self.path)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn io_error(what: &str, path: &Path, err: &std::io::Error) -> VaultError {
    VaultError::Platform {
        reason: format!("cannot {what} the vault file {}: {err}", path.display()),
    }
}

impl FileVaultStore {
    /// Opens the vault file at `path` (creating an empty one, 0600 in a 0700
    /// folder, when there is none) and proves the passphrase opens it.
    /// `locks` is the lock folder shared with the other processes; `params`
    /// are the argon2id costs of a new file ([`KdfParams::RECOMMENDED`]).
    ///
    /// # Errors
    /// [`VaultError::WrongPassphrase`] when the passphrase does not open an
    /// existing file (which is left untouched), [`VaultError::Corrupt`] when
    /// the file is damaged, [`VaultError::Platform`] on I/O trouble.
    pub fn open(
        path: PathBuf,
        locks: PathBuf,
        passphrase: SecretString,
        params: KdfParams,
    ) -> Result<Self, VaultError> {
        if passphrase.expose().is_empty() {
            return Err(VaultError::WrongPassphrase {
                reason: "the passphrase is empty".into(),
            });
        }
        let store = Self {
            path,
            locks: LockDir::new(locks),
            passphrase,
            params,
            key: Mutex::new(None),
            lock_timeout: crate::store::vault::Vault::DEFAULT_TIMEOUT,
        };
        store.update(|_| Ok(false))?;
        Ok(store)
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and decrypts the whole file; no file is an empty vault.
    fn load(&self) -> Result<Option<Items>, VaultError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error("read", &self.path, &err)),
        };
        let sealed = format::parse(&bytes)?;
        let mut cached = self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fits = cached
            .as_ref()
            .is_some_and(|key| key.salt == sealed.salt && key.params == sealed.params);
        if !fits {
            *cached = Some(DerivedKey::derive(
                &self.passphrase,
                sealed.salt,
                sealed.params,
            )?);
        }
        let key = cached.as_ref().ok_or_else(|| VaultError::Platform {
            reason: "no key for the vault file".into(),
        })?;
        format::open(&sealed, key).map(Some)
    }

    /// Read-modify-write under the lock: `change` edits the items and says
    /// whether anything changed; only then is the file written.
    fn update(
        &self,
        change: impl FnOnce(&mut Items) -> Result<bool, VaultError>,
    ) -> Result<(), VaultError> {
        let _held = self
            .locks
            .lock_blocking(LOCK_NAME, self.lock_timeout)
            .map_err(|err| match err {
                LockError::Timeout { .. } => VaultError::Timeout {
                    seconds: self.lock_timeout.as_secs(),
                },
                LockError::Io { .. } => VaultError::Platform {
                    reason: err.to_string(),
                },
            })?;
        let loaded = self.load()?;
        let fresh = loaded.is_none();
        let mut items = loaded.unwrap_or_default();
        if !change(&mut items)? && !fresh {
            return Ok(());
        }
        let bytes = {
            let mut cached = self
                .key
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if fresh {
                let mut salt = [0u8; SALT_LEN];
                getrandom::fill(&mut salt).map_err(|err| VaultError::Platform {
                    reason: format!("no randomness for the vault's salt: {err}"),
                })?;
                *cached = Some(DerivedKey::derive(&self.passphrase, salt, self.params)?);
            }
            let key = cached.as_ref().ok_or_else(|| VaultError::Platform {
                reason: "no key for the vault file".into(),
            })?;
            format::seal(&items, key)?
        };
        self.write_atomically(&bytes)
    }

    /// Temporary file beside the vault, fsync, rename over it, fsync the folder.
    fn write_atomically(&self, bytes: &[u8]) -> Result<(), VaultError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        crate::fsperm::create_private_dir_all(dir)
            .map_err(|err| io_error("create the folder of", &self.path, &err))?;
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(|err| VaultError::Platform {
            reason: format!("no randomness for a temporary name: {err}"),
        })?;
        let temp = dir.join(format!(
            ".{FILE_NAME}.{}.{}.tmp",
            std::process::id(),
            hex::encode(tag)
        ));
        let written =
            crate::fsperm::open_private(&temp, OpenOptions::new().write(true).create_new(true))
                .and_then(|mut file| {
                    file.write_all(bytes)?;
                    file.sync_all()
                })
                .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io_error("write", &self.path, &err));
        }
        // The rename itself must survive a crash too (best effort: not every
        // file system lets a folder be synced).
        if let Ok(folder) = std::fs::File::open(dir) {
            let _ = folder.sync_all();
        }
        Ok(())
    }
}

impl SecretStore for FileVaultStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        Ok(self.load()?.and_then(|mut items| items.remove(key)))
    }

    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.update(|items| {
            if items.get(key) == Some(secret) {
                return Ok(false);
            }
            items.insert(key.to_owned(), secret.clone());
            Ok(true)
        })
    }

    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.update(|items| Ok(items.remove(key).is_some()))
    }

    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Ok(self
            .load()?
            .map(|items| items.into_keys().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
#[path = "file_vault_tests.rs"]
pub(crate) mod tests;
