//! Commands the accounts window may call. Each one delegates; none returns a secret.

use std::sync::Arc;

use tauri::State;
use tauri::ipc::Channel;

use crate::dto::{StateDto, UiEvent};
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
