//! The account registry: non-secret metadata of every signed-in account, in a
//! JSON file in the app data dir (`<data dir>/dev.latchkey.app/accounts.json`).
//!
//! The file has a schema version and is written atomically (temp file, fsync,
//! rename, fsync of the folder), so a crash leaves either the old or the new
//! file. Secrets live in the keychain under the account's id, never here.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{from_unix_seconds, unix_seconds};
use crate::error::ErrorCode;
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
    /// Email.
    pub email: Option<String>,
    /// Picture URL.
    #[serde(default)]
    pub picture: Option<String>,
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
    /// Creation time.
    pub fn created(&self) -> SystemTime {
        from_unix_seconds(self.created_at)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RegistryFile {
    version: u32,
    accounts: Vec<Account>,
}

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Reading or writing failed.
    #[error("cannot {action} the accounts file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a registry Latchkey understands.
    #[error("the accounts file {path} is damaged: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl ErrorCode for RegistryError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "registry_io",
            Self::Corrupt { .. } => "registry_corrupt",
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

    /// Reads all accounts; a missing file is an empty registry.
    pub fn load(&self) -> Result<Vec<Account>, RegistryError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(RegistryError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let file: RegistryFile =
            serde_json::from_slice(&bytes).map_err(|err| RegistryError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "line {} column {}: {}",
                    err.line(),
                    err.column(),
                    classify(&err)
                ),
            })?;
        if file.version != SCHEMA_VERSION {
            return Err(RegistryError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "schema version {} is not supported (expected {SCHEMA_VERSION})",
                    file.version
                ),
            });
        }
        Ok(file.accounts)
    }

    /// Replaces the file atomically with `accounts`.
    pub fn save(&self, accounts: &[Account]) -> Result<(), RegistryError> {
        let io = |action: &'static str, source: std::io::Error| RegistryError::Io {
            action,
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io("create the folder of", e))?;
        let file = RegistryFile {
            version: SCHEMA_VERSION,
            accounts: accounts.to_vec(),
        };
        let json =
            serde_json::to_vec_pretty(&file).map_err(|e| io("encode", std::io::Error::other(e)))?;
        let tmp = dir.join(format!(".accounts.json.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
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

    /// Inserts or replaces the account with the same id; returns whether it existed.
    pub fn upsert(&self, account: Account) -> Result<bool, RegistryError> {
        let mut accounts = self.load()?;
        let existed = if let Some(slot) = accounts.iter_mut().find(|a| a.id == account.id) {
            let created_at = slot.created_at;
            *slot = Account {
                created_at,
                ..account
            };
            true
        } else {
            accounts.push(account);
            false
        };
        self.save(&accounts)?;
        Ok(existed)
    }

    /// Removes an account; returns whether it existed.
    pub fn remove(&self, id: &AccountId) -> Result<bool, RegistryError> {
        let mut accounts = self.load()?;
        let before = accounts.len();
        accounts.retain(|a| &a.id != id);
        if accounts.len() == before {
            return Ok(false);
        }
        self.save(&accounts)?;
        Ok(true)
    }
}

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
        email: identity.email.clone(),
        picture: identity.picture.clone(),
        scopes,
        created_at: unix_seconds(now),
        last_refreshed_at: Some(unix_seconds(now)),
        status: AccountStatus::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_token::Identity;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("latchkey-registry-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn identity(sub: &str) -> Identity {
        Identity {
            issuer: "https://id.example".into(),
            subject: sub.into(),
            name: Some("Alice".into()),
            email: Some("alice@example.test".into()),
            picture: None,
        }
    }

    #[test]
    fn account_ids_are_stable_and_distinct() {
        let a = AccountId::derive("https://a.example", "alice");
        assert_eq!(a, AccountId::derive("https://a.example", "alice"));
        assert_ne!(a, AccountId::derive("https://b.example", "alice"));
        assert_ne!(a, AccountId::derive("https://a.example", "bob"));
        // No ambiguity between (issuer, sub) splits.
        assert_ne!(
            AccountId::derive("https://a.example/x", "y"),
            AccountId::derive("https://a.example/", "xy")
        );
        assert!(a.as_str().starts_with("acct-"));
    }

    #[test]
    fn round_trip_upsert_and_remove() {
        let dir = temp_dir("roundtrip");
        let registry = Registry::in_dir(&dir);
        assert!(registry.load().expect("empty").is_empty());
        let now = SystemTime::now();
        let alice = new_account("p", &identity("alice"), vec!["openid".into()], now);
        assert!(!registry.upsert(alice.clone()).expect("insert"));
        let mut renamed = alice.clone();
        renamed.name = Some("Alice B.".into());
        renamed.created_at = 1;
        assert!(registry.upsert(renamed).expect("update"));
        let loaded = registry.load().expect("load");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].name.as_deref(), Some("Alice B."));
        assert_eq!(
            loaded[0].created_at, alice.created_at,
            "creation time is kept"
        );
        assert!(registry.remove(&alice.id).expect("remove"));
        assert!(!registry.remove(&alice.id).expect("remove again"));
        let text = std::fs::read_to_string(registry.path()).expect("read");
        assert!(text.contains("\"version\": 1"));
        // No temp files left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn damaged_and_future_files_are_reported() {
        let dir = temp_dir("corrupt");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let registry = Registry::in_dir(&dir);
        std::fs::write(registry.path(), b"{\"version\": 1, \"accounts\": [").expect("write");
        assert_eq!(
            registry.load().expect_err("truncated").code(),
            "registry_corrupt"
        );
        std::fs::write(registry.path(), b"{\"version\": 99, \"accounts\": []}").expect("write");
        let err = registry.load().expect_err("future");
        assert!(err.to_string().contains("99"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
