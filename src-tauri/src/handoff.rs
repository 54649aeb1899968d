//! A sign-in handed over by the `latchkey` command: `latchkey-app --sign-in
//! PROVIDER`, for a provider whose redirect only the app can receive (the
//! private-use scheme). It arrives in the launch's own arguments (a cold
//! start) or forwarded by single-instance (the app was running), and begins
//! the sign-in exactly as the window's "Add account" does: the browser
//! opened, the pending card shown, the window raised.
//!
//! Only a local process can pass argv flags. A web page can fire
//! `dev.latchkey:` links, which reach the app as the launch's single
//! argument: such a launch is never a hand-off, whatever the link's text
//! (so no link can start a sign-in), and the deep-link plugin never takes
//! `--sign-in PROVIDER` (two arguments) for a link.

use std::sync::Arc;

use latchkey_core::config::provider::is_valid_provider_id;
use tauri::AppHandle;
use tauri_plugin_latchkey::LatchkeyExt as _;

use crate::dto::NoticeLevel;
use crate::shell::Shell;

/// The flag the `latchkey` command passes.
pub const SIGN_IN_FLAG: &str = "--sign-in";

/// What a launch's arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Nothing of ours (a plain launch, or a deep link).
    Other,
    /// `[program, "--sign-in", PROVIDER]`, with a well-formed provider id
    /// that is not itself flag-like.
    SignIn(String),
    /// `--sign-in` in another shape (no provider, extra arguments, a value
    /// that is no provider id): refused, nothing starts.
    Malformed,
}

impl Launch {
    /// Reads `argv` (the program first). Only the exact shape
    /// `[program, "--sign-in", PROVIDER]` is a hand-off.
    pub fn of(argv: &[String]) -> Self {
        match argv {
            [_, flag, provider]
                if flag == SIGN_IN_FLAG
                    && is_valid_provider_id(provider)
                    && !provider.starts_with('-') =>
            {
                Self::SignIn(provider.clone())
            }
            [_, rest @ ..] if rest.iter().any(|arg| arg == SIGN_IN_FLAG) => Self::Malformed,
            _ => Self::Other,
        }
    }
}

/// Begins the sign-in a launch hands over, if it does (on the async
/// runtime, once the plugin's launch has run: the start-up reconciliation
/// must not meet a request made a moment before it).
pub fn on_launch(app: &AppHandle, shell: &Arc<Shell>, argv: &[String]) {
    let provider = match Launch::of(argv) {
        Launch::Other => return,
        Launch::Malformed => {
            tracing::warn!("a launch with a malformed --sign-in was ignored");
            return;
        }
        Launch::SignIn(provider) => provider,
    };
    tracing::info!(provider = %provider, "sign-in handed over by the command line");
    let (app, shell) = (app.clone(), Arc::clone(shell));
    tauri::async_runtime::spawn(async move {
        let mut launched = app.latchkey_launched();
        let _ = launched.wait_for(Option::is_some).await;
        begin(&app, &shell, &provider).await;
    });
}

async fn begin(app: &AppHandle, shell: &Shell, provider: &str) {
    crate::events::focus_main_window(app);
    if shell.core.provider(provider).is_none() {
        tracing::warn!(provider = %provider, "handed a sign-in at an unknown provider");
        shell.notify(
            NoticeLevel::Warning,
            "handoff_unknown_provider",
            format!(
                "The command line asked to sign in at \"{provider}\", which is not in the \
                 providers file. Nothing was started."
            ),
        );
        return;
    }
    if let Err(err) = crate::commands::begin_sign_in(app, shell, provider).await {
        shell.notify(NoticeLevel::Error, &err.code, err.message.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn only_the_exact_flag_and_a_provider_id_hand_over_a_sign_in() {
        assert_eq!(
            Launch::of(&argv(&["latchkey-app", "--sign-in", "work"])),
            Launch::SignIn("work".into())
        );
        assert_eq!(
            Launch::of(&argv(&[
                "/usr/bin/latchkey-app",
                "--sign-in",
                "gitlab_eu-2"
            ])),
            Launch::SignIn("gitlab_eu-2".into())
        );
        assert_eq!(Launch::of(&argv(&["latchkey-app"])), Launch::Other);
        assert_eq!(Launch::of(&argv(&[])), Launch::Other);
        // The program's own name is not an argument.
        assert_eq!(
            Launch::of(&argv(&["--sign-in", "work", "x"])),
            Launch::Other
        );
    }

    #[test]
    fn a_deep_link_never_hands_over_a_sign_in_whatever_its_text() {
        for link in [
            "dev.latchkey:/oauth/callback?code=c&state=s",
            "dev.latchkey:--sign-in work",
            "dev.latchkey:/x?--sign-in=work",
            "dev.latchkey:/oauth/callback?a=--sign-in&b=work",
            "--sign-in work",
            "--sign-in",
        ] {
            let launch = Launch::of(&argv(&["latchkey-app", link]));
            assert_ne!(
                std::mem::discriminant(&launch),
                std::mem::discriminant(&Launch::SignIn(String::new())),
                "{link}"
            );
        }
        // A lone "--sign-in" (no provider) is refused, not taken for a link.
        assert_eq!(
            Launch::of(&argv(&["latchkey-app", "--sign-in"])),
            Launch::Malformed
        );
    }

    #[test]
    fn a_malformed_hand_off_is_refused() {
        for args in [
            &["latchkey-app", "--sign-in", "dev.latchkey:/oauth/callback"][..],
            &["latchkey-app", "--sign-in", "Work"],
            &["latchkey-app", "--sign-in", ""],
            &["latchkey-app", "--sign-in", "work", "other"],
            &["latchkey-app", "dev.latchkey:/x", "--sign-in", "work"],
            &["latchkey-app", "--sign-in", "--sign-in"],
        ] {
            assert_eq!(Launch::of(&argv(args)), Launch::Malformed, "{args:?}");
        }
        // The deep-link plugin reads one lone argument as a link: a hand-off
        // always has two.
        assert!(
            !latchkey_core::AppIdentity::latchkey().carries_link(&argv(&[
                "latchkey-app",
                "--sign-in",
                "work"
            ]))
        );
    }
}
