//! The device authorization grant ([RFC 8628](https://www.rfc-editor.org/rfc/rfc8628)):
//! the person opens the verification page on any device and enters the code
//! shown here, while the core polls the provider (its `interval`, longer
//! after `slow_down`) and then stores the account exactly as the app would.
//! With `--device`, and for a scheme provider when there is no Latchkey app
//! to hand the sign-in to (the command line cannot receive the app's
//! `dev.latchkey:` redirect).
//!
//! The code and the page go to stderr (stdout stays for `--json`). The
//! device code itself never leaves the core.

use std::time::SystemTime;

use latchkey_core::flow::token::Failure;
use latchkey_core::{DeviceError, DeviceSignIn, ErrorCode, Latchkey};
use serde::Serialize;
use url::Url;

use super::{
    CtrlC, Method, Options, USE_THE_APP, authorize_error, complete_error, open_browser, report,
    to_json, unreachable,
};
use crate::commands::rfc3339;
use crate::duration::human;
use crate::exit::{CliError, Exit};
use crate::output;

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
pub async fn run(
    core: &Latchkey,
    provider: &str,
    explicit: bool,
    options: Options,
) -> Result<Exit, CliError> {
    let Options { open, json, .. } = options;
    let mut ctrl_c = CtrlC::listen()?;
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
        () = ctrl_c.pressed() => {
            return Err(CliError::new(Exit::Interrupted, "sign-in cancelled (Ctrl-C)"));
        }
    };
    let signed_in = done.map_err(|err| complete_error(&err, Method::Device { explicit }))?;
    report(
        core,
        &signed_in.account,
        signed_in.replaced,
        &provider_name,
        json,
    )
    .await
}

/// Why a device sign-in could not start, as an exit code and a next step.
pub fn begin_error(err: &DeviceError, explicit: bool) -> CliError {
    let code = err.code();
    match err {
        DeviceError::NotOffered { provider_name } if explicit => CliError::usage(format!(
            "--device is not offered by {provider_name} (it has no device authorization \
             endpoint, RFC 8628): {USE_THE_APP}"
        )),
        DeviceError::NotOffered { provider_name } => CliError::usage(format!(
            "{provider_name} does not offer the device grant (RFC 8628), and its sign-in comes \
             back only to the Latchkey app (the dev.latchkey: redirect), which the command line \
             cannot receive: install the app (or set LATCHKEY_APP to it) and run the command \
             again, or {USE_THE_APP}"
        )),
        DeviceError::Authorize(authorize) => authorize_error(authorize),
        DeviceError::Token { source, .. } if source.failure() == Failure::Transient => {
            unreachable(err, code)
        }
        _ => CliError::new(
            Exit::Failure,
            format!("{err} ({code}): check the provider's entry in the providers file"),
        ),
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
