//! The IPC commands: each delegates to the core and maps the result to a DTO.

use std::time::Duration;

use latchkey_core::flow::request::SignInOptions;
use latchkey_core::store::registry::AccountId;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tokio::sync::broadcast::error::RecvError;

use crate::dto::{AccessTokenDto, AccountDto, ChangeEvent, SignInDto, SignOutDto};
use crate::error::{Result, core};
use crate::state::Plugin;

/// How long an access token handed to the webview stays valid at least.
const MIN_VALIDITY: Duration = Duration::from_secs(60);

/// Starts a sign-in; opens the system browser when the plugin can (see
/// [`crate::Config::open_browser`]), else the app opens `authorizationUrl`.
#[tauri::command]
pub(crate) async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Plugin>,
    provider: String,
) -> Result<SignInDto> {
    let summary = state
        .core
        .begin(&provider, &SignInOptions::default())
        .await
        .map_err(core)?;
    let opened = state.open_browser && crate::browser::open(app, &summary.authorization_url).await;
    Ok(SignInDto::new(&summary, opened))
}

/// Every account with its state.
#[tauri::command]
pub(crate) async fn accounts(state: State<'_, Plugin>) -> Result<Vec<AccountDto>> {
    let views = state.core.account_views().map_err(core)?;
    Ok(views.into_iter().map(AccountDto::from).collect())
}

/// Signs an account out (revokes its grant at the provider when it can).
#[tauri::command]
pub(crate) async fn sign_out(state: State<'_, Plugin>, account: String) -> Result<SignOutDto> {
    let report = state
        .core
        .sign_out(&AccountId::new(account.clone()))
        .await
        .map_err(core)?;
    state.notify(ChangeEvent::SignedOut { account });
    Ok(report.into())
}

/// Sends every account change to `channel` until the webview goes away.
#[tauri::command]
pub(crate) async fn subscribe(
    state: State<'_, Plugin>,
    channel: Channel<ChangeEvent>,
) -> Result<()> {
    let mut changes = state.changes.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match changes.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => ChangeEvent::Changed { account: None },
                Err(RecvError::Closed) => break,
            };
            if channel.send(event).is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// An access token valid for at least a minute. NOT in the default
/// permission set: the app grants `latchkey:allow-access-token` explicitly.
#[tauri::command]
pub(crate) async fn access_token(
    state: State<'_, Plugin>,
    account: String,
) -> Result<AccessTokenDto> {
    let token = state
        .core
        .fresh_access_token(&AccountId::new(account), MIN_VALIDITY)
        .await
        .map_err(core)?;
    Ok(AccessTokenDto::from(&token))
}
