//! Work started at launch, on the async runtime, while the window shows.

use std::sync::Arc;

use latchkey_core::ErrorCode;
use latchkey_core::discovery::discover;

use crate::dto::{KeychainStatus, ProviderStatus};
use crate::error::UiError;
use crate::shell::Shell;

/// Checks every valid provider's discovery document, concurrently.
pub fn check_providers(shell: &Arc<Shell>) {
    for (index, config) in shell.configs.iter().enumerate() {
        let Some(config) = config.clone() else {
            continue;
        };
        let shell = Arc::clone(shell);
        tauri::async_runtime::spawn(async move {
            let started = std::time::Instant::now();
            let result = discover(shell.http.as_ref(), &config).await;
            let elapsed_ms = started.elapsed().as_millis();
            match &result {
                Ok(_) => tracing::info!(provider = %config.id, elapsed_ms, "provider reachable"),
                Err(err) => {
                    tracing::warn!(provider = %config.id, code = err.code(), error = %latchkey_core::error::report(err), "provider unreachable")
                }
            }
            if let Ok(metadata) = &result {
                shell
                    .metadata
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(config.id.to_string(), metadata.clone());
            }
            shell.update(|state| {
                if let Some(p) = state.providers.get_mut(index) {
                    match result {
                        Ok(_) => {
                            p.status = ProviderStatus::Reachable;
                            p.error = None;
                        }
                        Err(err) => {
                            p.status = ProviderStatus::Unreachable;
                            p.error = Some(UiError::from_core(&err));
                        }
                    }
                }
            });
        });
    }
}

/// Proves the keychain works (write, read back, delete a probe item).
pub fn check_keychain(shell: &Arc<Shell>) {
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn(async move {
        let started = std::time::Instant::now();
        let result = shell.vault.check().await;
        let elapsed_ms = started.elapsed().as_millis();
        match &result {
            Ok(()) => tracing::info!(elapsed_ms, "keychain usable"),
            Err(err) => {
                tracing::error!(code = err.code(), error = %err, elapsed_ms, "keychain unusable")
            }
        }
        shell.update(|state| match result {
            Ok(()) => {
                state.keychain.status = KeychainStatus::Ok;
                state.keychain.error = None;
            }
            Err(err) => {
                state.keychain.status = KeychainStatus::Unavailable;
                state.keychain.error = Some(UiError::from_core(&err));
            }
        });
    });
}
