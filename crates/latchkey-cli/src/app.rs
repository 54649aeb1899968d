//! The core, built exactly as the app builds it: the Latchkey identity, the
//! providers file (`$LATCHKEY_PROVIDERS`, else `providers.toml` in the app's
//! config folder) and the app's data folder, so the CLI sees the app's
//! accounts and keychain items. Never launched: no reconciliation, no
//! lifecycles — only the calls a command needs.
//!
//! The vault is the system keychain unless `--vault file` or
//! `LATCHKEY_VAULT=file` chooses the encrypted file vault; its passphrase
//! comes from `LATCHKEY_VAULT_PASSPHRASE_FILE`, else a prompt on the
//! terminal. There is no agent: every run needs one of the two (see the
//! README, "Without a keychain").

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::config::provider::{load_providers_for, providers_path_for};
use latchkey_core::secret::SecretString;
use latchkey_core::store::vault::Vault;
use latchkey_core::store::vault_choice::{
    PASSPHRASE_FILE_ENV, VAULT_ENV, VaultKind, passphrase_file_from_env, read_passphrase_file,
};

use crate::exit::{CliError, Exit};

/// The app's identity.
pub fn identity() -> AppIdentity {
    AppIdentity::latchkey()
}

/// The providers file the app reads.
pub fn providers_path() -> Option<PathBuf> {
    providers_path_for(&identity())
}

/// The core over the app's keychain, accounts file and valid providers.
/// Rejected provider entries are logged (and their accounts' refreshes say
/// "no longer configured"), as in the app.
pub fn build() -> Result<Latchkey, CliError> {
    let identity = identity();
    let path = providers_path().ok_or_else(|| {
        CliError::new(
            Exit::Failure,
            "no configuration folder is known for this user: set HOME or LATCHKEY_PROVIDERS",
        )
    })?;
    let entries = load_providers_for(&path, &identity).map_err(|err| {
        CliError::new(
            Exit::Failure,
            format!("{err}: fix the providers file (the app shows the same error)"),
        )
    })?;
    let providers = entries
        .into_iter()
        .filter_map(|entry| match entry.config {
            Ok(config) => Some(config),
            Err(err) => {
                tracing::warn!(provider = %entry.label, error = %err, "provider entry rejected");
                None
            }
        })
        .collect();
    let data_dir = identity
        .data_dir()
        .unwrap_or_else(|| std::env::temp_dir().join(identity.identifier()));
    let builder = match vault_kind()? {
        VaultKind::Keychain => Latchkey::builder(identity),
        VaultKind::File => {
            let vault = open_file_vault(&identity, &data_dir)?;
            Latchkey::builder(identity).vault(vault)
        }
    };
    builder
        .data_dir(data_dir)
        .providers(providers)
        .build()
        .map_err(|err| CliError::build(&err))
}

/// `--vault`, when given (set once, before any command runs).
static VAULT_FLAG: OnceLock<VaultKind> = OnceLock::new();

/// Records `--vault`: it wins over `LATCHKEY_VAULT`.
pub fn choose_vault(kind: VaultKind) {
    let _ = VAULT_FLAG.set(kind);
}

/// The vault chosen by `--vault`, else `LATCHKEY_VAULT`, else the keychain.
fn vault_kind() -> Result<VaultKind, CliError> {
    if let Some(kind) = VAULT_FLAG.get() {
        return Ok(*kind);
    }
    VaultKind::from_env()
        .map(|kind| kind.unwrap_or(VaultKind::Keychain))
        .map_err(|err| CliError::usage(err.to_string()))
}

/// Opens `<data dir>/vault.bin` with the passphrase from
/// `LATCHKEY_VAULT_PASSPHRASE_FILE`, else from a prompt on the terminal
/// (asked twice when the vault does not exist yet).
fn open_file_vault(identity: &AppIdentity, data_dir: &Path) -> Result<Vault, CliError> {
    let path = data_dir.join(latchkey_core::store::file_vault::FILE_NAME);
    let new = !path.exists();
    let passphrase = match passphrase_file_from_env() {
        Some(file) => read_passphrase_file(&file)
            .map_err(|err| CliError::new(Exit::Keychain, format!("{err}")))?,
        None => prompt_passphrase(&path, new)?,
    };
    let vault =
        Vault::open_file(identity, data_dir, passphrase).map_err(|err| CliError::vault(&err))?;
    if new {
        crate::output::stderr(&format!(
            "latchkey: created the encrypted file vault {}",
            path.display()
        ));
    }
    Ok(vault)
}

fn prompt_passphrase(path: &Path, new: bool) -> Result<SecretString, CliError> {
    let no_terminal = |err: std::io::Error| {
        CliError::new(
            Exit::Keychain,
            format!(
                "{VAULT_ENV}=file needs the vault's passphrase and there is no terminal to ask \
                 on ({err}): set {PASSPHRASE_FILE_ENV} to a file holding it"
            ),
        )
    };
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(SecretString::new)
            .map_err(no_terminal)
    };
    if !new {
        return ask(&format!("Passphrase for {}: ", path.display()));
    }
    let first = ask(&format!(
        "New passphrase for the encrypted file vault {}: ",
        path.display()
    ))?;
    let again = ask("The same passphrase again: ")?;
    if first != again {
        return Err(CliError::new(
            Exit::Keychain,
            "the two passphrases differ: nothing was created; run the command again",
        ));
    }
    Ok(first)
}

/// A current-thread runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::new(Exit::Failure, format!("cannot start the runtime: {err}")))
}
