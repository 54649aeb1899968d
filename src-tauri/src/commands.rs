//! Commands the accounts window may call. Each one delegates; none returns a secret.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::authorize::{PendingHandle, SignInOptions};
use latchkey_core::discovery::discover;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::dto::{PendingDto, StateDto, UiEvent};
use crate::error::UiError;
use crate::shell::Shell;

/// The current window state.
#[tauri::command]
pub fn get_state(shell: State<'_, Arc<Shell>>) -> Result<StateDto, UiError> {
    Ok(shell.snapshot())
}

/// Dismisses a notice.
#[tauri::command]
pub fn dismiss_notice(shell: State<'_, Arc<Shell>>, id: u64) -> Result<(), UiError> {
    shell.dismiss(id);
    Ok(())
}

/// Streams state-change events to the window.
#[tauri::command]
pub fn subscribe(shell: State<'_, Arc<Shell>>, on_event: Channel<UiEvent>) -> Result<(), UiError> {
    shell.subscribe(on_event);
    Ok(())
}

/// Starts signing in to a provider: remembers the request, then opens the
/// authorization URL in the system browser (never in the webview).
#[tauri::command]
pub async fn start_sign_in(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    provider_id: String,
) -> Result<PendingDto, UiError> {
    let config = shell.provider(&provider_id).cloned().ok_or_else(|| {
        UiError::new(
            "unknown_provider",
            format!("no usable provider {provider_id:?} is configured"),
        )
    })?;
    let cached = shell
        .metadata
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&provider_id)
        .cloned();
    let metadata = match cached {
        Some(metadata) => metadata,
        None => discover(shell.http.as_ref(), &config)
            .await
            .map_err(|err| UiError::from_core(&err))?,
    };
    let pending = shell
        .signin
        .begin(&config, &metadata, &SignInOptions::default())
        .await
        .map_err(|err| {
            tracing::error!(code = err.code(), error = %err, "sign-in could not start");
            UiError::from_core(&err)
        })?;
    shell.reload_accounts().await;
    open_in_browser(&app, pending.authorization_url.as_str())?;
    Ok(PendingDto {
        handle: pending.handle.as_str().to_owned(),
        provider_id: pending.provider_id,
        provider_name: pending.provider_name,
        expires_at_ms: latchkey_core::clock::unix_millis(pending.expires_at),
    })
}

/// Opens the browser again for a pending sign-in.
#[tauri::command]
pub async fn open_sign_in_again(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    handle: String,
) -> Result<(), UiError> {
    let pending = shell
        .signin
        .pending()
        .await
        .map_err(|err| UiError::from_core(&err))?;
    let found = pending
        .into_iter()
        .find(|p| p.handle.as_str() == handle)
        .ok_or_else(|| {
            UiError::new(
                "sign_in_not_pending",
                "this sign-in is no longer in progress",
            )
        })?;
    open_in_browser(&app, found.authorization_url.as_str())
}

/// Cancels a pending sign-in; its redirect will be ignored if it still comes.
#[tauri::command]
pub async fn cancel_sign_in(shell: State<'_, Arc<Shell>>, handle: String) -> Result<bool, UiError> {
    let removed = shell
        .signin
        .cancel(&PendingHandle::new(handle))
        .await
        .map_err(|err| UiError::from_core(&err))?;
    shell.reload_accounts().await;
    Ok(removed)
}

fn open_in_browser(app: &AppHandle, url: &str) -> Result<(), UiError> {
    app.opener().open_url(url, None::<&str>).map_err(|err| {
        tracing::error!(error = %err, "could not open the system browser");
        UiError::new(
            "browser_unavailable",
            format!("the system browser could not be opened: {err}"),
        )
    })
}
