//! `sign-in PROVIDER`: a sign-in from the terminal with the device
//! authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)).
//! The command line cannot receive the app's `dev.latchkey:` redirect, so it
//! always uses the device grant: the person opens the verification page on
//! any device and enters the code shown here, while the core polls the
//! provider (its `interval`, longer after `slow_down`) and then stores the
//! account exactly as the app would.
//!
//! The code and the page go to stderr (stdout stays for `--json`). The
//! device code itself never leaves the core.

use std::time::SystemTime;

use latchkey_core::config::discovery::DiscoveryError;
use latchkey_core::flow::id_token::IdTokenError;
use latchkey_core::flow::request::AuthorizeError;
use latchkey_core::flow::token::{Failure, TokenError};
use latchkey_core::{CompleteError, DeviceError, DeviceSignIn, ErrorCode, Latchkey};
use serde::Serialize;
use url::Url;

use crate::commands::rfc3339;
use crate::duration::human;
use crate::exit::{CliError, Exit};
use crate::{app, output, select};

/// What the person needs, as `--json` prints it first (no secret: the user
/// code is meant to be shown).
#[derive(Debug, Serialize)]
pub struct Prompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// RFC 3339.
    pub expires_at: String,
    #[serde(skip)]
    pub expires: SystemTime,
}

impl Prompt {
    fn of(sign_in: &DeviceSignIn) -> Self {
        let a = &sign_in.authorization;
        Self {
            verification_uri: a.verification_uri.to_string(),
            verification_uri_complete: a.verification_uri_complete.as_ref().map(Url::to_string),
            user_code: a.user_code.clone(),
            expires_at: rfc3339(a.expires_at),
            expires: a.expires_at,
        }
    }

    /// The lines for a person, the way `gh auth login` shows them.
    pub fn text(&self, provider_name: &str, opening: bool, now: SystemTime) -> String {
        // To the nearest second: "10m" for a code printed 0.1 s after it was issued.
        let left = self.expires.duration_since(now).unwrap_or_default();
        let left = std::time::Duration::from_secs(left.as_secs_f64().round() as u64);
        let mut text = format!(
            "! First copy your one-time code: {}\n{} {} in a browser",
            self.user_code,
            if opening { "Opening" } else { "Open" },
            self.verification_uri
        );
        if let Some(complete) = &self.verification_uri_complete {
            text.push_str(&format!(" (or {complete}, with the code filled in)"));
        }
        text.push_str(&format!(
            " and sign in to {provider_name}.\nThe code expires in {} ({}). Waiting for approval… (Ctrl-C to cancel)",
            human(left),
            self.expires_at
        ));
        text
    }
}

/// Signs in at `provider` with the device grant. `explicit`: `--device` was
/// given (only the message differs when the provider does not offer it).
pub fn sign_in(provider: &str, explicit: bool, open: bool, json: bool) -> Result<Exit, CliError> {
    let core = app::build()?;
    if core.provider(provider).is_none() {
        let known: Vec<&str> = core.providers().iter().map(|p| p.id.as_str()).collect();
        return Err(CliError::usage(format!(
            "no provider {provider:?} is configured (configured: {}): check the providers file",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    let runtime = app::runtime()?;
    runtime.block_on(run(&core, provider, explicit, open, json))
}

async fn run(
    core: &Latchkey,
    provider: &str,
    explicit: bool,
    open: bool,
    json: bool,
) -> Result<Exit, CliError> {
    // The person must not approve a sign-in that could not be kept.
    core.vault()
        .check()
        .await
        .map_err(|err| CliError::vault(&err))?;
    let sign_in = core
        .begin_device(provider)
        .await
        .map_err(|err| begin_error(&err, explicit))?;
    let provider_name = sign_in.provider_name.clone();
    let prompt = Prompt::of(&sign_in);
    if json {
        output::stdout_line(&to_json(&prompt)?)?;
    }
    output::stderr(&prompt.text(&provider_name, open, SystemTime::now()));
    if open {
        open_browser(sign_in.verification_uri());
    }
    // Dropping the completion (Ctrl-C) stops the polling; nothing is stored
    // before the provider has answered with tokens.
    let done = tokio::select! {
        done = Box::pin(core.complete_device(sign_in)) => done,
        _ = tokio::signal::ctrl_c() => {
            return Err(CliError::new(Exit::Interrupted, "sign-in cancelled (Ctrl-C)"));
        }
    };
    let signed_in = done.map_err(|err| complete_error(&err))?;
    let account = &signed_in.account;
    if json {
        let row = super::accounts::row_of(core, &account.id).await?;
        output::stdout_line(&to_json(&row)?)?;
    }
    output::stderr(&format!(
        "✓ Signed in{} as {} at {provider_name} ({}).",
        if signed_in.replaced { " again" } else { "" },
        select::who(account),
        account.id
    ));
    Ok(Exit::Ok)
}

fn to_json<T: Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string(value).map_err(|err| CliError::new(Exit::Failure, err.to_string()))
}

/// Opens `url` in the system browser (the `open` crate: `xdg-open`, then
/// `gio open`, …, detached). A failure only says so: the address is shown.
fn open_browser(url: &Url) {
    if let Err(err) = open::that_detached(url.as_str()) {
        output::stderr(&format!(
            "latchkey: could not open a browser ({err}): open the address above yourself"
        ));
    }
}

const USE_THE_APP: &str = "sign in from the Latchkey window instead";

/// Why a device sign-in could not start, as an exit code and a next step.
pub fn begin_error(err: &DeviceError, explicit: bool) -> CliError {
    let code = err.code();
    match err {
        DeviceError::NotOffered { provider_name } if explicit => CliError::usage(format!(
            "--device is not offered by {provider_name} (it has no device authorization \
             endpoint, RFC 8628): {USE_THE_APP}"
        )),
        DeviceError::NotOffered { provider_name } => CliError::usage(format!(
            "{provider_name} does not offer sign-in from a terminal (the device grant, RFC 8628), \
             and the command line cannot receive the app's dev.latchkey: redirect: {USE_THE_APP}"
        )),
        DeviceError::Authorize(AuthorizeError::Discovery(
            DiscoveryError::Transport(_)
            | DiscoveryError::Status { .. }
            | DiscoveryError::NotJson { .. },
        )) => unreachable(err, code),
        DeviceError::Authorize(AuthorizeError::Vault(vault)) => CliError::vault(vault),
        DeviceError::Token { source, .. } if source.failure() == Failure::Transient => {
            unreachable(err, code)
        }
        _ => CliError::new(
            Exit::Failure,
            format!("{err} ({code}): check the provider's entry in the providers file"),
        ),
    }
}

fn unreachable(err: &dyn std::fmt::Display, code: &str) -> CliError {
    CliError::new(
        Exit::Unreachable,
        format!("{err} ({code}): check the connection and run the command again"),
    )
}

/// Why a device sign-in did not finish. Nothing was stored in any case.
pub fn complete_error(err: &CompleteError) -> CliError {
    let code = err.code();
    match err {
        CompleteError::Cancelled {
            provider_name,
            description,
        } => CliError::new(
            Exit::Failure,
            format!(
                "the sign-in was denied at {provider_name}{}: nothing was stored; run the \
                 command again to retry",
                description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        ),
        CompleteError::Expired { provider_name } => CliError::new(
            Exit::Failure,
            format!(
                "the code expired before the sign-in at {provider_name} was approved: nothing \
                 was stored; run the command again for a new code"
            ),
        ),
        CompleteError::Token { source, .. } if source.failure() == Failure::Transient => {
            unreachable(err, code)
        }
        CompleteError::Token {
            source: TokenError::OAuth { .. },
            ..
        } => CliError::new(
            Exit::Failure,
            format!("{err} ({code}): nothing was stored; check the provider's entry"),
        ),
        CompleteError::IdToken {
            source: IdTokenError::Jwks { .. } | IdTokenError::JwksTransport(_),
            ..
        } => unreachable(err, code),
        CompleteError::Vault(vault) => {
            let mut e = CliError::vault(vault);
            e.message = format!(
                "the sign-in could not be saved, nothing was stored: {}",
                e.message
            );
            e
        }
        CompleteError::Registry(registry) => CliError::registry(registry),
        CompleteError::Busy { .. } => CliError::new(
            Exit::Unreachable,
            format!("{err} ({code}): run the command again in a moment"),
        ),
        _ => CliError::new(Exit::Failure, format!("{err} ({code})")),
    }
}

#[cfg(test)]
#[path = "sign_in_tests.rs"]
mod tests;
