//! Deep links (`dev.latchkey:/oauth/callback?...`), warm and cold.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::redirect::RedactedUrl;
use latchkey_core::signin::CompleteError;
use tauri::{AppHandle, Manager};

use crate::dto::NoticeLevel;
use crate::shell::Shell;

/// Handles one link that reached the app (forwarded by single-instance or at
/// cold start): completes the matching sign-in on the async runtime.
pub fn handle_link(app: &AppHandle, url: &str) {
    tracing::info!(link = %RedactedUrl(url), "deep link received");
    focus_main_window(app);
    let shell = Arc::clone(&app.state::<Arc<Shell>>());
    let url = url.to_owned();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        #[allow(clippy::expect_used)]
        let expected = url::Url::parse(latchkey_core::provider::DEFAULT_REDIRECT_URI)
            .expect("the default redirect URI is valid");
        match shell.core.complete(&url, &expected).await {
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
        focus_main_window(&app);
        shell.load_pictures().await;
    });
}

fn report(shell: &Shell, err: &CompleteError) {
    let code = err.code();
    let message = latchkey_core::error::report(err);
    if err.is_ignored_link() {
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
