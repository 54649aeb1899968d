//! Deep links (`dev.latchkey:/oauth/callback?...`), warm and cold.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::redirect::{RedactedUrl, Redirect, parse_redirect};
use tauri::{AppHandle, Manager};

use crate::dto::NoticeLevel;
use crate::shell::Shell;

/// Handles one link that reached the app (forwarded by single-instance or at cold start).
pub fn handle_link(app: &AppHandle, url: &str) {
    let shell = app.state::<Arc<Shell>>();
    tracing::info!(link = %RedactedUrl(url), "deep link received");
    focus_main_window(app);
    let expected = latchkey_core::provider::DEFAULT_REDIRECT_URI;
    #[allow(clippy::expect_used)]
    let expected = url::Url::parse(expected).expect("the default redirect URI is valid");
    match parse_redirect(url, &expected) {
        Ok(redirect) => {
            // No sign-in can be pending yet in this version of the shell.
            let what = match &redirect {
                Redirect::Success(_) => "A sign-in link arrived",
                Redirect::Error(_) => "A sign-in error response arrived",
            };
            tracing::warn!(
                has_state = redirect.state().is_some(),
                "deep link ignored: no sign-in is pending"
            );
            shell.notify(
                NoticeLevel::Warning,
                "unexpected_link",
                format!("{what}, but no sign-in is pending. It was ignored."),
            );
        }
        Err(err) => {
            tracing::warn!(code = err.code(), error = %err, "deep link rejected");
            shell.notify(
                NoticeLevel::Warning,
                err.code(),
                format!("A link was ignored: {err}."),
            );
        }
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
