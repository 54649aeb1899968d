//! What the window hears from the plugin: account changes, provider checks,
//! sign-ins completed or failed by a deep link (warm or cold), and the
//! launch's outcome. Only wording and window behaviour live here; the plugin
//! and the core decide.
//!
//! Any web page can send a `dev.latchkey:` link, so a link raises the window
//! only when it belonged to a sign-in in progress; one that matches none is
//! noted quietly.

use std::sync::Arc;

use latchkey_core::ErrorCode as _;
use tauri::{AppHandle, Manager};
use tauri_plugin_latchkey::LatchkeyExt as _;
use tauri_plugin_latchkey::dto::ChangeEvent;
use tokio::sync::broadcast::error::RecvError;

use crate::dto::NoticeLevel;
use crate::error::UiError;
use crate::shell::Shell;

/// Follows the plugin's events for the life of the app. Subscribed before it
/// returns: call it before handing the plugin any link.
pub fn follow(app: &AppHandle, shell: &Arc<Shell>) {
    let mut events = app.latchkey_events();
    let (app, shell) = (app.clone(), Arc::clone(shell));
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => on_event(&app, &shell, event).await,
                // Several changes were missed: show everything again.
                Err(RecvError::Lagged(_)) => shell.reload_accounts().await,
                Err(RecvError::Closed) => break,
            }
        }
    });
}

async fn on_event(app: &AppHandle, shell: &Arc<Shell>, event: ChangeEvent) {
    match event {
        // Only account states change here: no keychain read for pending
        // sign-ins on this path (a launch refresh sends several per account).
        ChangeEvent::Changed { .. } => shell.show_accounts(),
        ChangeEvent::ProviderChecked { .. } => shell.show_providers(),
        ChangeEvent::SignedIn {
            account,
            provider,
            replaced,
            old_token_revoked,
            reauth_of,
        } => {
            signed_in(
                app,
                shell,
                &account,
                &provider,
                replaced,
                old_token_revoked,
                reauth_of,
            )
            .await;
        }
        ChangeEvent::SignInFailed {
            code,
            message,
            ignored_link,
        } => sign_in_failed(app, shell, &code, &message, ignored_link).await,
        // Through the plugin's own command (the window's sign-out reloads itself).
        ChangeEvent::SignedOut { .. } => shell.reload_accounts().await,
    }
}

/// A completed sign-in (by a link, a loopback redirect or a device code):
/// the account and pending list in one change, the notices, the window raised.
pub async fn signed_in(
    app: &AppHandle,
    shell: &Arc<Shell>,
    account: &str,
    provider: &str,
    replaced: bool,
    old_token_revoked: Option<bool>,
    reauth_of: Option<String>,
) {
    shell.show_completed_sign_in(account).await;
    signed_in_notices(
        shell,
        account,
        provider,
        replaced,
        old_token_revoked,
        reauth_of,
    );
    focus_main_window(app);
    load_pictures(shell);
}

/// A sign-in that completed nothing: its notice, the lists again, and the
/// window raised unless the link belonged to no sign-in.
pub async fn sign_in_failed(
    app: &AppHandle,
    shell: &Arc<Shell>,
    code: &str,
    message: &str,
    ignored_link: bool,
) {
    sign_in_failed_notice(shell, code, message, ignored_link);
    shell.reload_accounts().await;
    if !ignored_link {
        focus_main_window(app);
    }
}

fn signed_in_notices(
    shell: &Shell,
    account: &str,
    provider: &str,
    replaced: bool,
    old_token_revoked: Option<bool>,
    reauth_of: Option<String>,
) {
    let provider = shell.provider_name(provider);
    let who = shell
        .core
        .accounts()
        .ok()
        .and_then(|book| book.accounts.into_iter().find(|a| a.id.as_str() == account))
        .map_or_else(
            || format!("a new {provider} account"),
            |a| a.email.clone().unwrap_or_else(|| a.title(&provider)),
        );
    let verb = if replaced {
        "Signed in again"
    } else {
        "Signed in"
    };
    let unnamed = who.starts_with(&format!("{provider} account "));
    shell.notify(
        NoticeLevel::Info,
        "signed_in",
        if unnamed {
            format!(
                "{verb} as {who} at {provider}. {provider} gave no name or email for it: \
                 \"Name this account\" gives it one."
            )
        } else {
            format!("{verb} as {who} at {provider}.")
        },
    );
    if old_token_revoked == Some(false) {
        shell.notify(
            NoticeLevel::Warning,
            "old_token_not_revoked",
            "The previous refresh token of this account could not be revoked at the \
             provider; it was replaced here.",
        );
    }
    if let Some(other) = reauth_of {
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

/// A link that completed nothing: a warning when it belonged to no sign-in
/// or the person cancelled (or let it expire), an error otherwise.
fn sign_in_failed_notice(shell: &Shell, code: &str, message: &str, ignored_link: bool) {
    let text = capitalize(message);
    if ignored_link {
        tracing::warn!(code, error = %message, "deep link ignored");
        shell.notify(NoticeLevel::Warning, code, text);
    } else if matches!(code, "sign_in_cancelled" | "sign_in_expired") {
        tracing::info!(code, error = %message, "sign-in did not complete");
        shell.notify(NoticeLevel::Warning, code, text);
    } else {
        tracing::error!(code, error = %message, "sign-in failed");
        shell.notify(NoticeLevel::Error, code, text);
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

/// Once the plugin's launch ran: the banner of a damaged accounts file moved
/// aside, then the accounts and pending sign-ins, then the pictures.
pub fn after_launch(app: &AppHandle, shell: &Arc<Shell>) {
    shell.show_accounts();
    let mut launched = app.latchkey_launched();
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn(async move {
        let report = launched
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|r| r.clone());
        match report.as_deref() {
            Some(Ok(report)) => {
                if let Some((moved, reason)) = &report.quarantined {
                    shell.update(|state| {
                        state.registry_quarantined = Some(UiError::new(
                            "registry_quarantined",
                            format!(
                                "The accounts file was damaged ({reason}). It was kept as {} and Latchkey started with an empty list; your keychain items were left untouched.",
                                moved.display()
                            ),
                        ));
                    });
                }
                // Loopback sign-ins the last run left waiting: said once.
                for err in &report.interrupted_sign_ins {
                    sign_in_failed_notice(&shell, err.code(), &err.to_string(), false);
                }
                if !report.orphans_deleted.is_empty() {
                    tracing::info!(
                        count = report.orphans_deleted.len(),
                        "orphan keychain items deleted"
                    );
                }
            }
            Some(Err(err)) => {
                tracing::error!(code = err.code(), error = %err, "startup reconciliation failed");
            }
            None => {}
        }
        shell.reload_accounts().await;
        shell.load_pictures().await;
    });
}

fn load_pictures(shell: &Arc<Shell>) {
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn(async move { shell.load_pictures().await });
}

/// Shows, unminimizes and focuses the accounts window.
pub fn focus_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}
