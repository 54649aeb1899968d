//! `accounts`, `status`, `sign-out`, `default`.

use std::time::SystemTime;

use latchkey_core::session::accounts::Revocation;
use latchkey_core::session::views::{AccountState, AccountView};
use latchkey_core::{AccountId, ErrorCode, Latchkey, VaultError};
use serde::Serialize;

use crate::commands::rfc3339;
use crate::duration::human;
use crate::exit::{CliError, Exit};
use crate::{app, output, select};

/// One account as `accounts --json` and `status --json` print it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    provider: String,
    provider_name: Option<String>,
    name: Option<String>,
    /// User name (`preferred_username`, GitHub's `login`).
    username: Option<String>,
    email: Option<String>,
    label: Option<String>,
    default: bool,
    /// The access token never expires (nothing is refreshed).
    never_expires: bool,
    /// `signed_in`, `ready`, `needs_sign_in`, … (`AccountState::name`).
    state: &'static str,
    /// Why, for `needs_sign_in`, `offline` and `refused`, when known.
    reason: Option<String>,
    /// The cached access token's expiry (RFC 3339), if known: the one the
    /// app or a `latchkey` process stored in the account's keychain item.
    expires_at: Option<String>,
    /// `status` only: `present`, `missing` or `unavailable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    keychain: Option<&'static str>,
    /// `status` only: whether a token can be had for this account.
    #[serde(skip_serializing_if = "Option::is_none")]
    usable: Option<bool>,
}

/// One account's row, with its access token's expiry read from the keychain
/// item's cache (one read; no network). `cached`: that read's answer.
fn row(core: &Latchkey, view: &AccountView, cached: Option<SystemTime>) -> Row {
    let a = &view.account;
    let (reason, expires_at) = match &view.state {
        AccountState::NeedsSignIn { reason } => (reason.clone(), None),
        AccountState::Offline { reason, .. } | AccountState::Refused { reason, .. } => {
            (Some(reason.clone()), None)
        }
        AccountState::Ready { expires_at } => (None, expires_at.or(cached)),
        _ => (None, cached),
    };
    Row {
        id: a.id.to_string(),
        provider: a.provider_id.clone(),
        provider_name: core.provider(&a.provider_id).map(|p| p.name.clone()),
        name: a.name.clone(),
        username: a.username.clone(),
        email: a.email.clone(),
        label: a.label.clone(),
        default: view.is_default,
        never_expires: a.never_expires,
        state: view.state.name(),
        reason,
        expires_at: expires_at.map(rfc3339),
        keychain: None,
        usable: None,
    }
}

fn state_text(view: &AccountView, row: &Row, expires_at: Option<SystemTime>) -> String {
    let mut text = match (&view.state, expires_at) {
        (AccountState::Ready { .. } | AccountState::SignedIn, None) if row.never_expires => {
            "ready, token does not expire".to_owned()
        }
        (AccountState::Ready { .. } | AccountState::SignedIn, Some(at)) => {
            let state = view.state.name().replace('_', " ");
            match at.duration_since(SystemTime::now()) {
                Ok(left) => format!("{state}, token expires in {}", human(left)),
                Err(_) => format!("{state}, token expired"),
            }
        }
        (other, _) => other.name().replace('_', " "),
    };
    match row.keychain {
        Some("missing") => text = "needs sign in (no keychain item)".into(),
        Some("unavailable") => text.push_str(" (keychain unavailable)"),
        _ => {}
    }
    text
}

fn print(
    views: &[AccountView],
    rows: &[Row],
    expiries: &[Option<SystemTime>],
    json: bool,
) -> Result<(), CliError> {
    if json {
        let text = serde_json::to_string_pretty(rows)
            .map_err(|err| CliError::new(Exit::Failure, err.to_string()))?;
        return output::stdout_line(&text);
    }
    if rows.is_empty() {
        output::stderr("No accounts yet: add one in the Latchkey app.");
        return Ok(());
    }
    let cells: Vec<[String; 5]> = views
        .iter()
        .zip(rows)
        .zip(expiries)
        .map(|((view, row), expires_at)| {
            [
                format!(
                    "{} {}",
                    if row.default { "*" } else { " " },
                    select::who(&view.account)
                ),
                row.provider.clone(),
                row.label.clone().unwrap_or_default(),
                state_text(view, row, *expires_at),
                row.id.clone(),
            ]
        })
        .collect();
    let header = ["  ACCOUNT", "PROVIDER", "LABEL", "STATE", "ID"].map(String::from);
    let mut widths = [0; 5];
    for line in std::iter::once(&header).chain(&cells) {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&cells) {
        let parts: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    }
    output::stdout_bytes(out.as_bytes())
}

fn views(core: &Latchkey) -> Result<Vec<AccountView>, CliError> {
    core.account_views().map_err(|err| CliError::registry(&err))
}

/// Each account's cached access-token expiry (one keychain read each). The
/// first keychain failure stops the reads (a locked keychain would fail them
/// all, each after its timeout): the rest show no expiry, and the error is
/// returned for `status` to report.
async fn expiries(
    core: &Latchkey,
    views: &[AccountView],
) -> (Vec<Option<SystemTime>>, Option<VaultError>) {
    let mut out = Vec::with_capacity(views.len());
    let mut failed = None;
    for view in views {
        if failed.is_some() {
            out.push(None);
            continue;
        }
        match core.cached_access_expiry(&view.account.id).await {
            Ok(at) => out.push(at),
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "cannot read the cached token's expiry");
                failed = Some(err);
                out.push(None);
            }
        }
    }
    (out, failed)
}

pub fn list(json: bool) -> Result<Exit, CliError> {
    let core = app::build()?;
    let views = views(&core)?;
    let (expiries, _) = app::runtime()?.block_on(expiries(&core, &views));
    let rows: Vec<Row> = views
        .iter()
        .zip(&expiries)
        .map(|(v, at)| row(&core, v, *at))
        .collect();
    print(&views, &rows, &expiries, json)?;
    Ok(Exit::Ok)
}

/// The row `accounts --json` prints for one account (for `sign-in --json`).
pub async fn row_of(core: &Latchkey, id: &AccountId) -> Result<impl Serialize, CliError> {
    let view = views(core)?
        .into_iter()
        .find(|v| &v.account.id == id)
        .ok_or_else(|| CliError::new(Exit::Failure, format!("{id} was signed out meanwhile")))?;
    let cached = core
        .cached_access_expiry(id)
        .await
        .map_err(|err| CliError::vault(&err))?;
    Ok(row(core, &view, cached))
}

/// Like `list`, with each account's keychain item checked. Exit 0 only
/// when every account is usable; 5 when the keychain could not be read, 3
/// when an account needs sign-in (or there is none).
pub fn status(json: bool) -> Result<Exit, CliError> {
    let core = app::build()?;
    let views = views(&core)?;
    let runtime = app::runtime()?;
    let (expiries, mut keychain_error) = runtime.block_on(expiries(&core, &views));
    let mut rows = Vec::with_capacity(views.len());
    for (view, at) in views.iter().zip(&expiries) {
        let mut row = row(&core, view, *at);
        let present = runtime.block_on(core.vault().get(view.account.id.as_str()));
        row.keychain = Some(match &present {
            Ok(Some(_)) => "present",
            Ok(None) => "missing",
            Err(_) => "unavailable",
        });
        if let Err(err) = present {
            keychain_error.get_or_insert(err);
        }
        row.usable = Some(row.keychain == Some("present") && row.state != "needs_sign_in");
        rows.push(row);
    }
    print(&views, &rows, &expiries, json)?;
    if let Some(err) = keychain_error {
        return Err(CliError::vault(&err));
    }
    let unusable = rows.iter().filter(|r| r.usable != Some(true)).count();
    if views.is_empty() {
        return Err(CliError::new(
            Exit::NeedsSignIn,
            "there are no accounts yet: add one in the Latchkey app",
        ));
    }
    if unusable > 0 {
        return Err(CliError::new(
            Exit::NeedsSignIn,
            format!(
                "{unusable} of {} accounts need to sign in again: open the Latchkey app and \
                 choose \"Sign in again\" on each (or add it again)",
                rows.len()
            ),
        ));
    }
    Ok(Exit::Ok)
}

pub fn sign_out(selector: &str) -> Result<Exit, CliError> {
    let core = app::build()?;
    let book = core.accounts().map_err(|err| CliError::registry(&err))?;
    let account = select::select(&book, Some(selector))?;
    let report = app::runtime()?
        .block_on(core.sign_out(&account.id))
        .map_err(|err| CliError::manage(&err))?;
    let how = match report.revocation {
        Revocation::Revoked => "the provider revoked its refresh token".to_owned(),
        Revocation::NothingToRevoke => "it had no refresh token to revoke".to_owned(),
        Revocation::Failed { reason } => {
            format!("signed out on this computer only: the provider could not be told ({reason})")
        }
    };
    output::stderr(&format!("Signed out {} ({how}).", report.who));
    Ok(Exit::Ok)
}

pub fn make_default(selector: &str) -> Result<Exit, CliError> {
    let core = app::build()?;
    let book = core.accounts().map_err(|err| CliError::registry(&err))?;
    let account = select::select(&book, Some(selector))?;
    core.make_default(&account.id)
        .map_err(|err| CliError::manage(&err))?;
    output::stderr(&format!(
        "{} ({}) is now the default account.",
        select::who(account),
        account.id
    ));
    Ok(Exit::Ok)
}
