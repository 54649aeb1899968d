//! Commands the accounts window may call. Each one delegates to the core; none
//! returns a secret.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::flow::request::{PendingHandle, PendingSummary, SignInOptions};
use latchkey_core::session::accounts::Revocation;
use latchkey_core::store::registry::AccountId;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::dto::{NoticeLevel, PendingDto, StateDto, UiEvent};
use crate::error::UiError;
use crate::shell::Shell;

fn ui<E: ErrorCode + std::error::Error + 'static>(err: E) -> UiError {
    UiError::from_core(&err)
}

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
    begin_sign_in(&app, &shell, &provider_id).await
}

/// "Add account" at a provider: the window's button, or a sign-in handed
/// over by the command line (`handoff.rs`).
pub async fn begin_sign_in(
    app: &AppHandle,
    shell: &Shell,
    provider_id: &str,
) -> Result<PendingDto, UiError> {
    let pending = shell
        .core
        .begin(provider_id, &SignInOptions::default())
        .await
        .map_err(|err| {
            tracing::error!(code = err.code(), error = %err, "sign-in could not start");
            ui(err)
        })?;
    started(app, shell, pending).await
}

/// Starts a sign-in on another device (device grant): resolves to the code
/// and page to show; the core waits for the approval in the background.
#[tauri::command]
pub async fn start_device_sign_in(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    provider_id: String,
) -> Result<PendingDto, UiError> {
    crate::device::start(&app, &shell, &provider_id).await
}

async fn started(
    app: &AppHandle,
    shell: &Shell,
    pending: PendingSummary,
) -> Result<PendingDto, UiError> {
    shell.reload_accounts().await;
    open_in_browser(app, pending.authorization_url.as_str())?;
    Ok(PendingDto::from(pending))
}

fn not_pending() -> UiError {
    UiError::new(
        "sign_in_not_pending",
        "this sign-in is no longer in progress",
    )
}

/// A sign-in that is still waiting for its redirect.
async fn find_pending(shell: &Shell, handle: &str) -> Result<PendingSummary, UiError> {
    let pending = shell.core.pending().await.map_err(ui)?;
    pending
        .into_iter()
        .find(|p| p.handle.as_str() == handle)
        .ok_or_else(|| {
            UiError::new(
                "sign_in_not_pending",
                "this sign-in is no longer in progress",
            )
        })
}

/// Opens the browser again for a pending sign-in.
#[tauri::command]
pub async fn open_sign_in_again(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    handle: String,
) -> Result<(), UiError> {
    if crate::device::Waiting::owns(&handle) {
        let code = shell.devices.code(&handle).ok_or_else(not_pending)?;
        return open_in_browser(&app, &code.verification_uri);
    }
    let found = find_pending(&shell, &handle).await?;
    open_in_browser(&app, found.authorization_url.as_str())
}

/// Cancels a pending sign-in; its redirect will be ignored if it still comes.
#[tauri::command]
pub async fn cancel_sign_in(shell: State<'_, Arc<Shell>>, handle: String) -> Result<bool, UiError> {
    if crate::device::Waiting::owns(&handle) {
        let removed = shell.devices.cancel(&handle);
        shell.reload_accounts().await;
        return Ok(removed);
    }
    let removed = shell
        .core
        .cancel(&PendingHandle::new(handle))
        .await
        .map_err(ui)?;
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

/// Sets or clears an account's label.
#[tauri::command]
pub async fn rename_account(
    shell: State<'_, Arc<Shell>>,
    id: String,
    label: Option<String>,
) -> Result<(), UiError> {
    shell
        .core
        .rename(&AccountId::new(id), label.as_deref())
        .map_err(ui)?;
    shell.reload_accounts().await;
    Ok(())
}

/// Makes an account the default one.
#[tauri::command]
pub async fn make_default_account(shell: State<'_, Arc<Shell>>, id: String) -> Result<(), UiError> {
    shell.core.make_default(&AccountId::new(id)).map_err(ui)?;
    shell.reload_accounts().await;
    Ok(())
}

/// Signs in again to an account (login_hint, prompt=login) in the system browser.
#[tauri::command]
pub async fn reauthenticate_account(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    id: String,
) -> Result<PendingDto, UiError> {
    let pending = shell
        .core
        .reauthenticate(&AccountId::new(id))
        .await
        .map_err(ui)?;
    started(&app, &shell, pending).await
}

/// Signs an account out: revoke at the provider, delete keychain item and metadata.
#[tauri::command]
pub async fn sign_out_account(shell: State<'_, Arc<Shell>>, id: String) -> Result<(), UiError> {
    let report = shell.core.sign_out(&AccountId::new(id)).await.map_err(ui)?;
    match report.revocation {
        Revocation::Revoked | Revocation::NothingToRevoke => shell.notify(
            NoticeLevel::Info,
            "signed_out",
            format!("Signed out {}.", report.who),
        ),
        Revocation::Failed { reason } => shell.notify(
            NoticeLevel::Warning,
            "signed_out_locally",
            format!(
                "Signed out {} on this computer, but the provider could not be told ({reason}). \
                 The sign-in may stay valid there until it expires.",
                report.who
            ),
        ),
    }
    shell.reload_accounts().await;
    Ok(())
}

/// "Retry now": wakes an account's refresh lifecycle (or starts it).
#[tauri::command]
pub async fn retry_account(shell: State<'_, Arc<Shell>>, id: String) -> Result<(), UiError> {
    let id = AccountId::new(id);
    let book = shell.core.accounts().map_err(ui)?;
    if book.get(&id).is_none() {
        return Err(UiError::new("unknown_account", "there is no such account"));
    }
    shell.core.start_lifecycle(id);
    Ok(())
}

/// Refreshes an account's access token now; returns when it expires (ms
/// since epoch), never the token.
#[tauri::command]
pub async fn refresh_account(
    shell: State<'_, Arc<Shell>>,
    id: String,
) -> Result<Option<u64>, UiError> {
    refresh_and_show(&shell, id).await
}

/// The window shows the outcome either way: a failed refresh may have just
/// marked the account "needs sign-in".
async fn refresh_and_show(shell: &Shell, id: String) -> Result<Option<u64>, UiError> {
    let result = shell.core.refresh_account(&AccountId::new(id)).await;
    shell.reload_accounts().await;
    let token = result.map_err(ui)?;
    Ok(token.expires_at.map(latchkey_core::clock::unix_millis))
}

/// The authorization URL of a pending sign-in ("Copy sign-in link", for people
/// whose default browser is not the one they want). It is the front-channel
/// request the browser gets anyway: no token, code or verifier.
#[tauri::command]
pub async fn sign_in_link(shell: State<'_, Arc<Shell>>, handle: String) -> Result<String, UiError> {
    // A device sign-in: its code is what the person copies.
    if crate::device::Waiting::owns(&handle) {
        return shell
            .devices
            .code(&handle)
            .map(|code| code.user_code)
            .ok_or_else(not_pending);
    }
    let found = find_pending(&shell, &handle).await?;
    Ok(found.authorization_url.to_string())
}

/// Opens one of Latchkey's folders in the file manager: `config`, `data` or `logs`.
#[tauri::command]
pub async fn open_folder(
    app: AppHandle,
    shell: State<'_, Arc<Shell>>,
    folder: String,
) -> Result<(), UiError> {
    let state = shell.snapshot();
    let file = match folder.as_str() {
        "config" => state.providers_file,
        "data" => state.accounts_file,
        "logs" => state.log_file,
        _ => None,
    }
    .ok_or_else(|| UiError::new("unknown_folder", "there is no such folder"))?;
    let dir = std::path::Path::new(&file)
        .parent()
        .ok_or_else(|| UiError::new("unknown_folder", "there is no such folder"))?
        .to_path_buf();
    if !dir.is_dir() {
        // Latchkey's folders are private (0700 on Unix).
        let _ = latchkey_core::store::fsperm::create_private_dir_all(&dir);
    }
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|err| {
            UiError::new(
                "open_failed",
                format!("the folder could not be opened: {err}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::Latchkey;
    use latchkey_core::flow::id_token::Identity;
    use latchkey_core::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
    use latchkey_core::store::registry::{Registry, new_account};
    use latchkey_core::store::vault::{KeyringStore, Vault};

    const ISSUER: &str = "https://id.example";

    /// Answers discovery only.
    #[derive(Debug)]
    struct Discovery;

    impl HttpClient for Discovery {
        fn execute(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
            let body = serde_json::json!({
                "issuer": ISSUER,
                "authorization_endpoint": format!("{ISSUER}/auth"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
                "code_challenge_methods_supported": ["S256"],
                "response_types_supported": ["code"],
            });
            let mut response = HttpResponse::new(body.to_string().into_bytes());
            #[allow(clippy::expect_used)]
            let json = "application/json".parse().expect("header value");
            response.headers_mut().insert("content-type", json);
            Box::pin(async move { Ok(response) })
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_still_shows_the_new_account_state() {
        let dir = std::env::temp_dir().join(format!("latchkey-app-refresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let providers = latchkey_core::config::provider::parse_providers(&format!(
            "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"c\"\n"
        ))
        .expect("parses");
        let config = providers[0].config.as_ref().expect("valid").clone();
        let registry = Registry::in_dir(&dir);
        let identity = Identity {
            issuer: ISSUER.into(),
            subject: "alice".into(),
            name: None,
            username: None,
            email: Some("alice@example.test".into()),
            picture: None,
        };
        let account = new_account(
            "p",
            &identity,
            vec!["openid".into()],
            std::time::SystemTime::now(),
        );
        let id = account.id.to_string();
        registry.update(|b| b.upsert(account)).expect("account");
        // The keychain has no item for it: the refresh marks it "needs sign-in".
        let vault = Vault::new(Arc::new(KeyringStore::in_memory("app-refresh-test")));
        let core = Arc::new(Latchkey::new(
            Arc::new(Discovery),
            vault.clone(),
            Arc::new(latchkey_core::clock::SystemClock),
            registry,
            vec![config],
        ));
        let shell = Shell::new(core, None, Ok(providers));
        shell.show_accounts();
        assert_eq!(
            shell.snapshot().accounts[0].status,
            tauri_plugin_latchkey::dto::StateName::SignedIn
        );
        let err = refresh_and_show(&shell, id)
            .await
            .expect_err("no refresh token");
        assert_eq!(err.code, "refresh_token_missing");
        assert_eq!(
            shell.snapshot().accounts[0].status,
            tauri_plugin_latchkey::dto::StateName::NeedsSignIn
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
