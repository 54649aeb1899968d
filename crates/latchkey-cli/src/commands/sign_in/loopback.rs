//! A sign-in in the system browser with a loopback redirect
//! ([RFC 8252 §7.3](https://www.rfc-editor.org/rfc/rfc8252#section-7.3)),
//! for a provider with `redirect = "loopback"`: [`Latchkey::begin`] binds
//! the core's one-response listener on 127.0.0.1 in this process, the
//! browser (on this machine) comes back to it, and the core completes the
//! sign-in and stores the account exactly as the app would; its outcome
//! arrives on [`Latchkey::sign_in_outcomes`].
//!
//! Ctrl-C cancels the pending sign-in ([`Latchkey::cancel`]): the listener
//! closes and no pending request stays in the keychain. Once the browser's
//! response has arrived it is too late to cancel: the sign-in is finished
//! and reported instead, so "nothing was stored" is never said wrongly.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::{
    CompleteError, ErrorCode, Latchkey, PendingHandle, PendingSummary, SignInOptions,
    SignInOutcome, SignedIn,
};
use serde::Serialize;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{
    CtrlC, Method, Options, authorize_error, complete_error, open_browser, report, to_json,
};
use crate::exit::{CliError, Exit};
use crate::output;

/// What `--json` prints first: the address to open (no secret: the PKCE
/// challenge and `state` are meant to travel through the browser).
#[derive(Debug, Serialize)]
pub struct Started<'a> {
    pub authorization_url: &'a str,
}

/// Signs in at `provider` in the browser, back to a listener bound here.
pub async fn run(core: &Arc<Latchkey>, provider: &str, options: Options) -> Result<Exit, CliError> {
    let mut ctrl_c = CtrlC::listen()?;
    // The person must not sign in for an account that could not be kept.
    core.vault()
        .check()
        .await
        .map_err(|err| CliError::vault(&err))?;
    // Subscribed before the listener exists: its outcome cannot be missed.
    let mut outcomes = core.sign_in_outcomes();
    let pending = core
        .begin(provider, &SignInOptions::default())
        .await
        .map_err(|err| authorize_error(&err))?;
    let opening = !options.no_browser;
    if options.json {
        output::stdout_line(&to_json(&Started {
            authorization_url: pending.authorization_url.as_str(),
        })?)?;
    }
    output::stderr(&prompt(&pending, opening));
    if opening {
        open_browser(&pending.authorization_url);
    }
    let waited = tokio::select! {
        outcome = outcome_of(&mut outcomes, &pending.handle) => Some(outcome?),
        () = ctrl_c.pressed() => None,
    };
    let outcome = match waited {
        Some(outcome) => outcome,
        None => {
            if let Some(cancelled) = cancel(core, &pending.handle).await {
                return Err(cancelled);
            }
            // Too late to cancel: the browser's answer is being completed.
            output::stderr("latchkey: the browser had already answered: finishing the sign-in…");
            tokio::time::timeout(FINISHING, outcome_of(&mut outcomes, &pending.handle))
                .await
                .map_err(|_| {
                    CliError::new(
                        Exit::Interrupted,
                        "sign-in cancelled (Ctrl-C) while it was being completed: \
                         `latchkey accounts` shows whether it was stored",
                    )
                })??
        }
    };
    // The used request leaves the keychain before this process ends.
    core.settle().await;
    let signed_in: &SignedIn = outcome
        .as_ref()
        .as_ref()
        .map_err(|err| complete_error(err, Method::Loopback))?;
    report(
        core,
        &signed_in.account,
        signed_in.replaced,
        &pending.provider_name,
        options.json,
    )
    .await
}

/// The lines for a person: the address (always: a browser may not open),
/// then what happens next.
pub fn prompt(pending: &PendingSummary, opening: bool) -> String {
    let url = &pending.authorization_url;
    let listener = url
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let next = if opening {
        "Opening it in your browser."
    } else {
        "The browser must run on this machine"
    };
    let mut text = format!("Open this URL in your browser: {url}\n{next}");
    if !opening {
        text.push_str(&format!(
            ": it comes back to {listener} (from another device, use --device)."
        ));
    }
    text.push_str(&format!(
        " Waiting for the sign-in to {} there… (Ctrl-C to cancel)",
        pending.provider_name
    ));
    text
}

/// This sign-in's outcome (others cannot occur in this process; they would
/// be skipped).
async fn outcome_of(
    outcomes: &mut Receiver<SignInOutcome>,
    handle: &PendingHandle,
) -> Result<Arc<Result<SignedIn, CompleteError>>, CliError> {
    loop {
        match outcomes.recv().await {
            Ok(outcome) if &outcome.handle == handle => return Ok(outcome.result),
            // Another sign-in's, or outcomes dropped for a slow reader: this
            // process starts one sign-in, so its own is still to come.
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => {
                return Err(CliError::new(
                    Exit::Failure,
                    "the sign-in ended without an answer: run the command again",
                ));
            }
        }
    }
}

/// How long a sign-in whose response arrived before Ctrl-C may take to
/// finish (a code exchange and an ID token check, each under the core's own
/// HTTP timeouts).
const FINISHING: Duration = Duration::from_secs(60);

/// Ctrl-C: cancels the pending sign-in (its listener closes, its request
/// leaves the keychain) and says so; `None` when it was no longer pending:
/// the browser's response arrived and is being completed.
async fn cancel(core: &Latchkey, handle: &PendingHandle) -> Option<CliError> {
    let removed = core.cancel(handle).await;
    // The listener's task ends on this runtime: let it finish closing.
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    Some(match removed {
        Ok(false) => return None,
        Ok(true) => CliError::new(
            Exit::Interrupted,
            "sign-in cancelled (Ctrl-C): nothing was stored, and the browser's answer will be \
             refused",
        ),
        Err(err) => CliError::new(
            Exit::Interrupted,
            format!(
                "sign-in cancelled (Ctrl-C), but its request could not be removed from the \
                 keychain ({err}; {}): the Latchkey app removes it at its next start",
                err.code()
            ),
        ),
    })
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
