//! Deep links (`dev.latchkey:/oauth/callback[/<provider id>]?...`), warm and cold.
//!
//! Any web page can send such a link, so a link raises the window only when it
//! belonged to a sign-in in progress; one that matches none is logged and
//! noted, quietly.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::provider::{DEFAULT_REDIRECT_URI, REDIRECT_SCHEME};
use latchkey_core::redirect::{RedactedUrl, callback_uri};
use latchkey_core::signin::CompleteError;
use tauri::{AppHandle, Manager};

use crate::dto::NoticeLevel;
use crate::shell::Shell;

/// Handles one link that reached the app (forwarded by single-instance or at
/// cold start): completes the matching sign-in on the async runtime.
pub fn handle_link(app: &AppHandle, url: &str) {
    tracing::info!(link = %RedactedUrl(url), "deep link received");
    let shell = Arc::clone(&app.state::<Arc<Shell>>());
    let url = url.to_owned();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = match received_on(&url) {
            // The redirect URI the link came on (shared or per provider): the
            // core checks it against the one its sign-in was started with.
            Ok(redirect_uri) => shell.core.complete(&url, &redirect_uri).await,
            Err(err) => Err(CompleteError::Link(err)),
        };
        let matched = !matches!(&result, Err(err) if err.is_ignored_link() || err.is_repeat());
        match result {
            Ok(signed_in) => {
                let who = signed_in
                    .account
                    .email
                    .clone()
                    .or_else(|| signed_in.account.name.clone())
                    .unwrap_or_else(|| signed_in.account.subject.clone());
                let provider = shell
                    .provider(&signed_in.account.provider_id)
                    .map_or_else(|| signed_in.account.provider_id.clone(), |c| c.name.clone());
                let verb = if signed_in.replaced {
                    "Signed in again"
                } else {
                    "Signed in"
                };
                shell.show_completed_sign_in(&signed_in);
                crate::startup::start_lifecycle(&shell, signed_in.account.id.clone());
                shell.notify(
                    NoticeLevel::Info,
                    "signed_in",
                    format!("{verb} as {who} at {provider}."),
                );
                if signed_in.old_token_revoked == Some(false) {
                    shell.notify(
                        NoticeLevel::Warning,
                        "old_token_not_revoked",
                        "The previous refresh token of this account could not be revoked at the \
                         provider; it was replaced here.",
                    );
                }
                if let Some(other) = &signed_in.reauth_of {
                    shell.notify(
                        NoticeLevel::Warning,
                        "reauth_other_account",
                        format!(
                            "You signed in as {who}, a different account, which was added. \
                             The account you meant to sign in again ({other}) still needs sign-in."
                        ),
                    );
                }
            }
            Err(err) => report(&shell, &err),
        }
        shell.reload_accounts().await;
        if matched {
            focus_main_window(&app);
        }
        shell.load_pictures().await;
    });
}

/// The redirect URI a link arrived on, when it is one of Latchkey's callbacks
/// (`dev.latchkey:/oauth/callback` or `dev.latchkey:/oauth/callback/<id>`).
fn received_on(url: &str) -> Result<url::Url, latchkey_core::redirect::RedirectError> {
    #[allow(clippy::expect_used)]
    let base = url::Url::parse(DEFAULT_REDIRECT_URI).expect("the default redirect URI is valid");
    callback_uri(url, &base)
}

/// True when a second launch carries a `dev.latchkey:` link (the deep-link
/// plugin delivers it; the window is raised only if it matches a sign-in).
pub fn carries_link(argv: &[String]) -> bool {
    let prefix = format!("{REDIRECT_SCHEME}:");
    argv.iter().skip(1).any(|arg| {
        arg.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(&prefix))
    })
}

fn report(shell: &Shell, err: &CompleteError) {
    let code = err.code();
    let message = latchkey_core::error::report(err);
    if err.is_repeat() {
        // A double click on the browser's "open Latchkey?" prompt: nothing to say.
        tracing::info!(
            code,
            "a repeat of a sign-in link that just completed; ignored"
        );
    } else if err.is_ignored_link() {
        tracing::warn!(code, error = %message, "deep link ignored");
        shell.notify(NoticeLevel::Warning, code, capitalize(&message));
    } else if matches!(
        err,
        CompleteError::Cancelled { .. } | CompleteError::Expired { .. }
    ) {
        tracing::info!(code, error = %message, "sign-in did not complete");
        shell.notify(NoticeLevel::Warning, code, capitalize(&message));
    } else {
        tracing::error!(code, error = %message, "sign-in failed");
        shell.notify(NoticeLevel::Error, code, capitalize(&message));
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

/// Shows, unminimizes and focuses the accounts window.
pub fn focus_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn a_second_launch_with_a_link_is_told_apart_from_a_plain_one() {
        assert!(!carries_link(&argv(&["latchkey-app"])));
        assert!(
            !carries_link(&argv(&["dev.latchkey:/x"])),
            "argv[0] is the program"
        );
        assert!(carries_link(&argv(&[
            "latchkey-app",
            "dev.latchkey:/oauth/callback?code=c&state=s"
        ])));
        assert!(carries_link(&argv(&[
            "latchkey-app",
            "DEV.LATCHKEY:/anything"
        ])));
        assert!(!carries_link(&argv(&[
            "latchkey-app",
            "--flag",
            "https://x.example"
        ])));
    }

    #[test]
    fn links_on_shared_and_per_provider_callbacks_are_received() {
        assert_eq!(
            received_on("dev.latchkey:/oauth/callback/work?code=c&state=s")
                .expect("per provider")
                .as_str(),
            "dev.latchkey:/oauth/callback/work"
        );
        assert_eq!(
            received_on("dev.latchkey:/oauth/callback?code=c&state=s")
                .expect("shared")
                .as_str(),
            DEFAULT_REDIRECT_URI
        );
        assert_eq!(
            received_on("dev.latchkey:/elsewhere?code=c")
                .expect_err("other")
                .code(),
            "link_not_callback"
        );
    }
}
