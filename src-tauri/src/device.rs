//! "Sign in on another device" (the device grant, RFC 8628) in the window:
//! the core asks the provider for a code, the window shows it with the page
//! to open, and the core waits for the approval in the background. The
//! waiting sign-in is listed with the pending ones (handle `device-<code>`),
//! so Cancel, "Open the page" and "Copy code" work like theirs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey_core::ErrorCode as _;
use tauri::AppHandle;

use crate::dto::{DeviceCodeDto, PendingDto};
use crate::error::UiError;
use crate::shell::Shell;

/// The prefix of a device sign-in's handle.
const PREFIX: &str = "device-";

/// The device sign-ins waiting for approval, by handle.
#[derive(Debug, Default)]
pub struct Waiting(Mutex<HashMap<String, (PendingDto, tauri::async_runtime::JoinHandle<()>)>>);

impl Waiting {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        HashMap<String, (PendingDto, tauri::async_runtime::JoinHandle<()>)>,
    > {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The waiting device sign-ins, for the pending list.
    pub fn listed(&self) -> Vec<PendingDto> {
        let mut list: Vec<PendingDto> = self.lock().values().map(|(p, _)| p.clone()).collect();
        list.sort_by_key(|p| p.expires_at_ms);
        list
    }

    /// Whether a handle is a device sign-in's.
    pub fn owns(handle: &str) -> bool {
        handle.starts_with(PREFIX)
    }

    /// A waiting device sign-in's code and page.
    pub fn code(&self, handle: &str) -> Option<DeviceCodeDto> {
        self.lock().get(handle).and_then(|(p, _)| p.device.clone())
    }

    /// Stops waiting (the provider is no longer asked); true when it was waiting.
    pub fn cancel(&self, handle: &str) -> bool {
        match self.lock().remove(handle) {
            Some((_, task)) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    fn done(&self, handle: &str) {
        self.lock().remove(handle);
    }
}

/// Starts a device sign-in with a provider; the window lists it until it
/// completes, fails or is cancelled.
pub async fn start(
    app: &AppHandle,
    shell: &Arc<Shell>,
    provider_id: &str,
) -> Result<PendingDto, UiError> {
    let sign_in = shell.core.begin_device(provider_id).await.map_err(|err| {
        tracing::warn!(code = err.code(), error = %err, "device sign-in could not start");
        UiError::from_core(&err)
    })?;
    let handle = format!("{PREFIX}{}", sign_in.user_code());
    let pending = PendingDto {
        handle: handle.clone(),
        provider_id: sign_in.provider_id.clone(),
        provider_name: sign_in.provider_name.clone(),
        expires_at_ms: latchkey_core::clock::unix_millis(sign_in.authorization.expires_at),
        device: Some(DeviceCodeDto {
            user_code: sign_in.user_code().to_owned(),
            verification_uri: sign_in.verification_uri().to_string(),
        }),
    };
    {
        // Listed before its task can finish (the task's `done` waits for this lock).
        let mut waiting = shell.devices.lock();
        let task = {
            let (app, shell, handle) = (app.clone(), Arc::clone(shell), handle.clone());
            tauri::async_runtime::spawn(async move {
                let result = shell.core.complete_device(sign_in).await;
                shell.devices.done(&handle);
                match result {
                    Ok(signed_in) => {
                        shell.core.start_lifecycle(signed_in.account.id.clone());
                        crate::events::signed_in(
                            &app,
                            &shell,
                            signed_in.account.id.as_str(),
                            &signed_in.account.provider_id,
                            signed_in.replaced,
                            signed_in.old_token_revoked,
                            None,
                        )
                        .await;
                    }
                    Err(err) => {
                        let ui = UiError::from_core(&err);
                        crate::events::sign_in_failed(&app, &shell, &ui.code, &ui.message, false)
                            .await;
                    }
                }
            })
        };
        waiting.insert(handle, (pending.clone(), task));
    }
    shell.reload_accounts().await;
    Ok(pending)
}
