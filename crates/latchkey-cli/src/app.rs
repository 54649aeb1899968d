//! The core, built exactly as the app builds it: the Latchkey identity, the
//! providers file (`$LATCHKEY_PROVIDERS`, else `providers.toml` in the app's
//! config folder) and the app's data folder, so the CLI sees the app's
//! accounts and keychain items. Never launched: no reconciliation, no
//! lifecycles — only the calls a command needs.

use std::path::PathBuf;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::config::provider::{load_providers_for, providers_path_for};

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
    Latchkey::builder(identity)
        .data_dir(data_dir)
        .providers(providers)
        .build()
        .map_err(|err| CliError::build(&err))
}

/// A current-thread runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CliError::new(Exit::Failure, format!("cannot start the runtime: {err}")))
}
