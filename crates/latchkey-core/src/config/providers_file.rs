//! The providers file: reading, parsing and validating each `[[provider]]`
//! entry on its own (the format is documented in [`crate::config::provider`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::identity::AppIdentity;
use crate::config::provider::*;
use crate::config::provider_entry::validate_entry;
use crate::error::ErrorCode;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    provider: Vec<toml::Value>,
    /// `[[git]]` host-to-account mappings, read by the `latchkey` CLI's git
    /// credential helper (`latchkey git-credential`), not by the core.
    #[serde(default, rename = "git")]
    _git: Vec<toml::Value>,
}

/// Why a providers file or one of its entries was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the providers file {path}: {source}")]
    Read {
        /// The providers file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown top-level keys.
    #[error("the providers file {path} is not valid: {message}")]
    Syntax {
        /// The providers file.
        path: PathBuf,
        /// What the TOML parser reported.
        message: String,
    },
    /// An entry has a missing, unknown or mistyped key.
    #[error("provider entry #{index} is not valid: {message}")]
    Entry {
        /// The entry's position in the file (1-based).
        index: usize,
        /// What is wrong with the entry, as the parser put it.
        message: String,
    },
    /// A URL field does not parse.
    #[error("{field} is not a valid URL ({value}): {reason}")]
    BadUrl {
        /// The field's key in the providers file.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The issuer uses http but is not loopback, or is loopback without the development flag.
    #[error("issuer {issuer} must use https{hint}")]
    InsecureIssuer {
        /// The configured issuer.
        issuer: String,
        /// Advice appended to the message (with its leading space).
        hint: &'static str,
    },
    /// The issuer has a query or fragment (forbidden by RFC 8414 §2).
    #[error("issuer {issuer} must not have a query or fragment")]
    IssuerQuery {
        /// The configured issuer.
        issuer: String,
    },
    /// A field has an invalid value.
    #[error("{field} is not valid: {reason}")]
    Invalid {
        /// The field's key in the providers file.
        field: &'static str,
        /// Why the value is refused.
        reason: String,
    },
    /// Two entries share an id.
    #[error("provider id {id:?} is used more than once")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
}

impl ErrorCode for ConfigError {
    fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "config_unreadable",
            Self::Syntax { .. } => "config_syntax",
            Self::Entry { .. } => "config_entry_invalid",
            Self::BadUrl { .. } => "config_bad_url",
            Self::InsecureIssuer { .. } => "config_insecure_issuer",
            Self::IssuerQuery { .. } => "config_bad_url",
            Self::Invalid { .. } => "config_invalid_value",
            Self::DuplicateId { .. } => "config_duplicate_id",
        }
    }
}

/// One `[[provider]]` entry after validation: usable, or the reason it is not.
#[derive(Debug)]
pub struct ProviderEntry {
    /// The entry's id when it could be read, else `#<index>` (1-based).
    pub label: String,
    /// The display name when it could be read.
    pub name: Option<String>,
    /// The validated configuration or why the entry was rejected.
    pub config: Result<ProviderConfig, ConfigError>,
}

/// The default providers file path: `$LATCHKEY_PROVIDERS`, else
/// `<platform config dir>/dev.latchkey.app/providers.toml`.
pub fn default_providers_path() -> Option<PathBuf> {
    providers_path_for(&AppIdentity::latchkey())
}

/// The providers file of an app: `$LATCHKEY_PROVIDERS`, else
/// `providers.toml` in the app's config folder.
pub fn providers_path_for(identity: &AppIdentity) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(PROVIDERS_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    identity.config_dir().map(|dir| dir.join("providers.toml"))
}

/// Reads and validates a providers file for the Latchkey app. A missing file
/// is an empty list.
pub fn load_providers(path: &Path) -> Result<Vec<ProviderEntry>, ConfigError> {
    load_providers_for(path, &AppIdentity::latchkey())
}

/// Reads and validates a providers file for an app: redirect URIs default to
/// the app's and must use its scheme (or loopback). A missing file is an
/// empty list.
pub fn load_providers_for(
    path: &Path,
    identity: &AppIdentity,
) -> Result<Vec<ProviderEntry>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_providers_for(&text, identity).map_err(|message| ConfigError::Syntax {
        path: path.to_owned(),
        message,
    })
}

/// Parses providers from TOML text. `Err` only when the file as a whole is
/// unusable; each entry carries its own result.
pub fn parse_providers(text: &str) -> Result<Vec<ProviderEntry>, String> {
    parse_providers_for(text, &AppIdentity::latchkey())
}

/// Like [`parse_providers`], for an app's identity.
pub fn parse_providers_for(
    text: &str,
    identity: &AppIdentity,
) -> Result<Vec<ProviderEntry>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|err| err.message().to_owned())?;
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(raw.provider.len());
    for (i, value) in raw.provider.into_iter().enumerate() {
        let index = i + 1;
        let label = value
            .get("id")
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("#{index}"), str::to_owned);
        let name = value
            .get("name")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let config = validate_entry(value, index, identity).and_then(|config| {
            if seen.insert(config.id.clone()) {
                Ok(config)
            } else {
                Err(ConfigError::DuplicateId {
                    id: config.id.0.clone(),
                })
            }
        });
        entries.push(ProviderEntry {
            label,
            name,
            config,
        });
    }
    Ok(entries)
}

/// A provider id's syntax: 1-64 lowercase ASCII letters, digits, `-` or `_`
/// (so it is also a safe path segment of a redirect URI).
pub fn is_valid_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
