//! The account registry: non-secret metadata of every signed-in account, in a
//! JSON file in the app data dir (`<data dir>/dev.latchkey.app/accounts.json`).
//!
//! The file has a schema version and is written atomically (temp file, fsync,
//! rename, fsync of the folder), so a crash leaves either the old or the new
//! file. Secrets live in the keychain under the account's id, never here.
//! The folder is 0700 and every file in it 0600 on Unix ([`crate::fsperm`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{from_unix_seconds, unix_seconds};
use crate::error::ErrorCode;
use crate::fsperm::{FILE_MODE, create_private_dir_all, open_private, tighten};
use crate::provider::APP_IDENTIFIER;

/// Current schema version of `accounts.json`.
pub const SCHEMA_VERSION: u32 = 1;

/// An account's stable id: derived from (issuer, `sub`), not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(String);

impl AccountId {
    /// The id of the account `sub` at `issuer`.
    pub fn derive(issuer: &str, subject: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(issuer.as_bytes());
        hasher.update([0]);
        hasher.update(subject.as_bytes());
        Self(format!("acct-{}", hex::encode(&hasher.finalize()[..10])))
    }

    /// From a string (e.g. the UI's).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// As a string; also the account's keychain key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What state an account is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Has a working refresh token (as far as we know).
    Active,
    /// The refresh token is gone or refused: the person must sign in again.
    NeedsSignIn,
}

/// Non-secret metadata of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable id.
    pub id: AccountId,
    /// Provider id (from the providers file).
    pub provider_id: String,
    /// Issuer.
    pub issuer: String,
    /// Subject.
    pub subject: String,
    /// Display name.
    pub name: Option<String>,
    /// User name (`preferred_username`, GitHub's `login`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The grant is an access token that never expires (no refresh token):
    /// nothing is ever refreshed for this account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_expires: bool,
    /// Email.
    pub email: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// The person's own label ("Work", "Personal").
    #[serde(default)]
    pub label: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the last successful token response.
    pub last_refreshed_at: Option<u64>,
    /// Status.
    pub status: AccountStatus,
}

impl Account {
    /// What the provider calls the account's person: their name, user name
    /// or email, else `"<provider> account <subject>"` (never the internal
    /// account id). The person's own label is shown beside it.
    pub fn title(&self, provider_name: &str) -> String {
        [&self.name, &self.username, &self.email]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
            .map_or_else(
                || format!("{provider_name} account {}", self.subject),
                str::to_owned,
            )
    }

    /// Creation time.
    pub fn created(&self) -> SystemTime {
        from_unix_seconds(self.created_at)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RegistryFile {
    version: u32,
    #[serde(default)]
    default_account: Option<AccountId>,
    accounts: Vec<Account>,
}

/// Every account, in a stable order (the order they were added), and the
/// default one. Invariant (kept by [`AccountBook::normalize`]): exactly one
/// default when there is any account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountBook {
    /// Accounts, oldest first.
    pub accounts: Vec<Account>,
    /// The default account.
    pub default: Option<AccountId>,
}

impl AccountBook {
    /// Restores the invariants: a default that exists, unique ids.
    pub fn normalize(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.accounts.retain(|a| seen.insert(a.id.clone()));
        let default_exists = self
            .default
            .as_ref()
            .is_some_and(|d| self.accounts.iter().any(|a| &a.id == d));
        if !default_exists {
            self.default = self.accounts.first().map(|a| a.id.clone());
        }
    }

    /// The account with this id.
    pub fn get(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| &a.id == id)
    }

    /// Mutable access to the account with this id.
    pub fn get_mut(&mut self, id: &AccountId) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| &a.id == id)
    }

    /// Inserts a new account at the end, or updates the existing one in place
    /// (keeping its creation time and label); returns whether it existed.
    pub fn upsert(&mut self, account: Account) -> bool {
        let existed = if let Some(slot) = self.get_mut(&account.id) {
            let created_at = slot.created_at;
            let label = slot.label.take();
            *slot = Account {
                created_at,
                label: account.label.clone().or(label),
                ..account
            };
            true
        } else {
            self.accounts.push(account);
            false
        };
        self.normalize();
        existed
    }

    /// Removes an account; returns it.
    pub fn remove(&mut self, id: &AccountId) -> Option<Account> {
        let index = self.accounts.iter().position(|a| &a.id == id)?;
        let removed = self.accounts.remove(index);
        self.normalize();
        Some(removed)
    }

    /// Whether this account is the default.
    pub fn is_default(&self, id: &AccountId) -> bool {
        self.default.as_ref() == Some(id)
    }
}

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Reading or writing failed.
    #[error("cannot {action} the accounts file {path}: {source}")]
    Io {
        /// What was being done, as a verb for the message (`read`, `write`, ...).
        action: &'static str,
        /// The accounts file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a registry Latchkey understands.
    #[error("the accounts file {path} is damaged: {reason}")]
    Corrupt {
        /// The accounts file.
        path: PathBuf,
        /// Why it is not understood.
        reason: String,
    },
    /// A newer Latchkey wrote the file. It is left exactly as it is (never moved
    /// aside or rewritten): the newer version still needs it.
    #[error(
        "the accounts file {path} was written by a newer version of Latchkey (format {version}); \
         this version cannot use it and leaves it unchanged — please update Latchkey"
    )]
    Newer {
        /// The accounts file.
        path: PathBuf,
        /// The format version it declares.
        version: u64,
    },
}

impl ErrorCode for RegistryError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "registry_io",
            Self::Corrupt { .. } => "registry_corrupt",
            Self::Newer { .. } => "registry_newer",
        }
    }
}

/// The default data folder: `<platform data dir>/dev.latchkey.app`.
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join(APP_IDENTIFIER))
}

/// The registry file.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
}

impl Registry {
    /// The registry at `<dir>/accounts.json`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("accounts.json"),
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the book; a missing file is an empty book.
    pub fn load(&self) -> Result<AccountBook, RegistryError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AccountBook::default());
            }
            Err(source) => {
                return Err(RegistryError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let version: Version = serde_json::from_slice(&bytes).map_err(|err| self.corrupt(&err))?;
        if version.version > u64::from(SCHEMA_VERSION) {
            return Err(RegistryError::Newer {
                path: self.path.clone(),
                version: version.version,
            });
        }
        if version.version != u64::from(SCHEMA_VERSION) {
            return Err(RegistryError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "schema version {} is not supported (expected {SCHEMA_VERSION})",
                    version.version
                ),
            });
        }
        let file: RegistryFile =
            serde_json::from_slice(&bytes).map_err(|err| self.corrupt(&err))?;
        let mut book = AccountBook {
            accounts: file.accounts,
            default: file.default_account,
        };
        book.normalize();
        Ok(book)
    }

    fn corrupt(&self, err: &serde_json::Error) -> RegistryError {
        RegistryError::Corrupt {
            path: self.path.clone(),
            reason: format!(
                "line {} column {}: {}",
                err.line(),
                err.column(),
                classify(err)
            ),
        }
    }

    /// Replaces the file atomically with `book`.
    pub fn save(&self, book: &AccountBook) -> Result<(), RegistryError> {
        let io = |action: &'static str, source: std::io::Error| RegistryError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        create_private_dir_all(dir).map_err(|e| io("create the folder of", e))?;
        let file = RegistryFile {
            version: SCHEMA_VERSION,
            default_account: book.default.clone(),
            accounts: book.accounts.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| io("encode", std::io::Error::other(e)))?;
        let tmp = dir.join(format!(
            ".accounts.json.{}.{}.tmp",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = open_private(
                &tmp,
                std::fs::OpenOptions::new().write(true).create_new(true),
            )?;
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &self.path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| io("write", e))
    }

    /// Read-modify-write under an advisory lock (`accounts.lock`), so two
    /// processes (the app and the CLI) never lose each other's changes.
    pub fn update<T>(&self, f: impl FnOnce(&mut AccountBook) -> T) -> Result<T, RegistryError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let io = |action: &'static str, source: std::io::Error| RegistryError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        create_private_dir_all(dir).map_err(|e| io("create the folder of", e))?;
        let lock = open_private(
            &dir.join("accounts.lock"),
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true),
        )
        .map_err(|e| io("lock", e))?;
        lock.lock().map_err(|e| io("lock", e))?;
        let mut book = self.load()?;
        let out = f(&mut book);
        book.normalize();
        self.save(&book)?;
        drop(lock);
        Ok(out)
    }

    /// Moves a damaged file aside as `accounts.json.corrupt-<unix seconds>`
    /// (never deleted, never overwritten) and returns where it went.
    pub fn quarantine(&self, now: SystemTime) -> Result<PathBuf, RegistryError> {
        let mut target = self
            .path
            .with_file_name(format!("accounts.json.corrupt-{}", unix_seconds(now)));
        let mut n = 1;
        while target.exists() {
            target = self
                .path
                .with_file_name(format!("accounts.json.corrupt-{}-{n}", unix_seconds(now)));
            n += 1;
        }
        std::fs::rename(&self.path, &target).map_err(|source| RegistryError::Io {
            action: "move aside",
            path: self.path.clone(),
            source,
        })?;
        tighten(&target, FILE_MODE);
        Ok(target)
    }

    /// Makes the folder 0700 and the accounts file, its lock and any
    /// quarantined copies 0600 (Unix; best effort), for files written by an
    /// older version or under a permissive umask. Call once at startup.
    pub fn tighten_permissions(&self) {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        if !dir.is_dir() {
            return;
        }
        tighten(dir, crate::fsperm::DIR_MODE);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("accounts.") || name.starts_with(".accounts.json.") {
                tighten(&entry.path(), FILE_MODE);
            }
        }
    }
}

static TMP_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn classify(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "unexpected content",
        serde_json::error::Category::Eof => "the file is truncated",
    }
}

/// A new account record from a verified identity.
pub fn new_account(
    provider_id: &str,
    identity: &crate::id_token::Identity,
    scopes: Vec<String>,
    now: SystemTime,
) -> Account {
    Account {
        id: AccountId::derive(&identity.issuer, &identity.subject),
        provider_id: provider_id.to_owned(),
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        name: identity.name.clone(),
        username: identity.username.clone(),
        never_expires: false,
        email: identity.email.clone(),
        picture: identity.picture.clone(),
        label: None,
        scopes,
        created_at: unix_seconds(now),
        last_refreshed_at: Some(unix_seconds(now)),
        status: AccountStatus::Active,
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
