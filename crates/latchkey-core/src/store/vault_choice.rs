//! Which vault a process uses, always an explicit choice: the system keychain
//! unless `LATCHKEY_VAULT=file` (or the CLI's `--vault file`) asks for the
//! encrypted file vault. Latchkey never falls back to the file vault (or to
//! plaintext) on its own when no keychain answers; it says so and names this
//! option.

use std::path::{Path, PathBuf};

use crate::error::ErrorCode;
use crate::secret::SecretString;
pub use crate::store::vault::VaultKind;

/// `keychain` or `file`.
pub const VAULT_ENV: &str = "LATCHKEY_VAULT";
/// A file holding the file vault's passphrase (scripts, CI, the app).
pub const PASSPHRASE_FILE_ENV: &str = "LATCHKEY_VAULT_PASSPHRASE_FILE";

/// Why the chosen vault cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChoiceError {
    /// `LATCHKEY_VAULT` (or `--vault`) names no vault.
    #[error("{VAULT_ENV}={value} names no vault: use `keychain` or `file`")]
    UnknownVault {
        /// The value given.
        value: String,
    },
    /// The passphrase file cannot be read.
    #[error("cannot read the passphrase file {} ({PASSPHRASE_FILE_ENV}): {source}", path.display())]
    PassphraseFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The passphrase file is empty (or not UTF-8).
    #[error("the passphrase file {} ({PASSPHRASE_FILE_ENV}) holds no usable passphrase (empty or not UTF-8)", path.display())]
    BadPassphraseFile {
        /// The file.
        path: PathBuf,
    },
}

impl ErrorCode for ChoiceError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownVault { .. } => "vault_unknown",
            Self::PassphraseFile { .. } | Self::BadPassphraseFile { .. } => "vault_passphrase_file",
        }
    }
}

impl std::str::FromStr for VaultKind {
    type Err = ChoiceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "keychain" => Ok(Self::Keychain),
            "file" => Ok(Self::File),
            _ => Err(ChoiceError::UnknownVault {
                value: value.to_owned(),
            }),
        }
    }
}

impl VaultKind {
    /// The choice `LATCHKEY_VAULT` makes: `None` when unset or empty.
    ///
    /// # Errors
    /// [`ChoiceError::UnknownVault`] for any other value than `keychain` or `file`.
    pub fn from_env() -> Result<Option<Self>, ChoiceError> {
        match std::env::var(VAULT_ENV) {
            Ok(value) if !value.trim().is_empty() => value.parse().map(Some),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(value)) => Err(ChoiceError::UnknownVault {
                value: value.to_string_lossy().into_owned(),
            }),
        }
    }

    /// How the window and `--help` name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keychain => "keychain",
            Self::File => "file",
        }
    }
}

/// The passphrase file `LATCHKEY_VAULT_PASSPHRASE_FILE` names, if any.
pub fn passphrase_file_from_env() -> Option<PathBuf> {
    std::env::var_os(PASSPHRASE_FILE_ENV)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// Reads a passphrase file: its content less one trailing newline.
///
/// # Errors
/// [`ChoiceError::PassphraseFile`] when it cannot be read,
/// [`ChoiceError::BadPassphraseFile`] when it is empty or not UTF-8 (the
/// content is never part of an error).
pub fn read_passphrase_file(path: &Path) -> Result<SecretString, ChoiceError> {
    let bytes = std::fs::read(path).map_err(|source| ChoiceError::PassphraseFile {
        path: path.to_owned(),
        source,
    })?;
    let bad = || ChoiceError::BadPassphraseFile {
        path: path.to_owned(),
    };
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            zeroize::Zeroize::zeroize(&mut err.into_bytes());
            return Err(bad());
        }
    };
    for end in ["\r\n", "\n"] {
        if text.ends_with(end) {
            let keep = text.len() - end.len();
            text.truncate(keep);
            break;
        }
    }
    let passphrase = SecretString::new(text);
    if passphrase.expose().is_empty() {
        return Err(bad());
    }
    Ok(passphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_is_keychain_or_file_and_nothing_else() {
        assert_eq!("file".parse::<VaultKind>().expect("file"), VaultKind::File);
        assert_eq!(
            " Keychain ".parse::<VaultKind>().expect("keychain"),
            VaultKind::Keychain
        );
        let err = "plaintext".parse::<VaultKind>().expect_err("no such vault");
        assert_eq!(err.code(), "vault_unknown");
        assert!(err.to_string().contains("`keychain` or `file`"), "{err}");
    }

    #[test]
    fn a_passphrase_file_loses_one_trailing_newline_and_never_shows_in_errors() {
        let dir = std::env::temp_dir().join(format!("latchkey-pass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("pass");
        std::fs::write(&file, "two words \n\n").expect("write");
        assert_eq!(
            read_passphrase_file(&file).expect("read").expose(),
            "two words \n"
        );
        std::fs::write(&file, "secret-pass\r\n").expect("write");
        assert_eq!(
            read_passphrase_file(&file).expect("read").expose(),
            "secret-pass"
        );
        std::fs::write(&file, "\n").expect("write");
        let err = read_passphrase_file(&file).expect_err("empty");
        assert_eq!(err.code(), "vault_passphrase_file");
        std::fs::write(&file, b"secret-\xff").expect("write");
        let err = read_passphrase_file(&file).expect_err("not UTF-8");
        assert!(!err.to_string().contains("secret-"), "{err}");
        let err = read_passphrase_file(&dir.join("absent")).expect_err("missing");
        assert!(err.to_string().contains(PASSPHRASE_FILE_ENV), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
