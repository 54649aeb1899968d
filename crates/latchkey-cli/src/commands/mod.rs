//! One file per command group.

pub mod accounts;
pub mod client_secret;
pub mod git;
pub mod git_config;
pub mod sign_in;
pub mod token;

use std::time::{Duration, SystemTime};

use latchkey_core::session::sign_in::AccessToken;
use latchkey_core::store::registry::Account;

use crate::exit::CliError;
use crate::select;

/// RFC 3339 in UTC with whole seconds (`2026-12-02T10:00:00Z`).
pub fn rfc3339(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Seconds since the Unix epoch.
pub fn unix(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An account and an access token for it.
pub struct Fresh {
    pub account: Account,
    pub token: AccessToken,
}

/// The account `selector` names (the default one for `None`) and an access
/// token valid for at least `min_valid`, through the core's
/// `fresh_access_token` (the account's lock, rotation stored first).
pub fn fresh_token(selector: Option<&str>, min_valid: Duration) -> Result<Fresh, CliError> {
    let core = crate::app::build()?;
    let book = core.accounts().map_err(|err| CliError::registry(&err))?;
    let account = select::select(&book, selector)?.clone();
    let runtime = crate::app::runtime()?;
    let token = runtime
        .block_on(core.fresh_access_token(&account.id, min_valid))
        .map_err(|err| CliError::refresh(&err, select::who(&account)))?;
    Ok(Fresh { account, token })
}
