//! Work started at launch, on the async runtime, while the window shows.

use std::sync::Arc;

use latchkey_core::ErrorCode;

use crate::dto::ProviderStatus;
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
            let result = shell.core.discover(config.id.as_str()).await;
            let elapsed_ms = started.elapsed().as_millis();
            match &result {
                Ok(_) => tracing::info!(provider = %config.id, elapsed_ms, "provider reachable"),
                Err(err) => {
                    tracing::warn!(provider = %config.id, code = err.code(), error = %latchkey_core::error::report(err), "provider unreachable")
                }
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

/// Mix-up defence check (RFC 9700 §4.4.2): warns in the log when two providers
/// share one explicit redirect URI and neither names itself with RFC 9207
/// `iss` (then a response meant for one could complete a sign-in with the
/// other). A provider whose metadata cannot be fetched counts as not naming itself.
pub fn warn_shared_redirect_uris(shell: &Arc<Shell>) {
    let configs: Vec<_> = shell.configs.iter().flatten().cloned().collect();
    let shared = latchkey_core::provider::shared_redirect_uris(&configs);
    if shared.is_empty() {
        return;
    }
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn(async move {
        for (uri, ids) in shared {
            let mut without_iss = Vec::new();
            for id in ids {
                let named = shell
                    .core
                    .metadata(id.as_str())
                    .await
                    .is_ok_and(|m| m.authorization_response_iss_parameter_supported);
                if !named {
                    without_iss.push(id.to_string());
                }
            }
            if without_iss.len() > 1 {
                tracing::warn!(
                    redirect_uri = %uri,
                    providers = ?without_iss,
                    "providers without RFC 9207 (iss) share one redirect URI: a sign-in response \
                     meant for one could complete a sign-in with another; give each its own \
                     redirect_uri (or remove it to use dev.latchkey:/oauth/callback/<id>)"
                );
            }
        }
    });
}

/// The core's launch (reconciliation, then every account's lifecycle), then shows the accounts.
pub fn reconcile_accounts(shell: &Arc<Shell>) {
    let shell = Arc::clone(shell);
    shell.show_accounts();
    tauri::async_runtime::spawn(async move {
        match shell.core.launch().await {
            Ok(report) => {
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
                if !report.orphans_deleted.is_empty() {
                    tracing::info!(
                        count = report.orphans_deleted.len(),
                        "orphan keychain items deleted"
                    );
                }
            }
            Err(err) => {
                tracing::error!(code = err.code(), error = %err, "startup reconciliation failed");
            }
        }
        shell.reload_accounts().await;
        shell.load_pictures().await;
    });
}

/// Starts (or wakes) one account's lifecycle.
pub fn start_lifecycle(shell: &Arc<Shell>, id: latchkey_core::accounts::AccountId) {
    shell.core.start_lifecycle(id);
}

/// Forwards the core's "account changed" notifications to the window.
pub fn forward_changes(shell: &Arc<Shell>) {
    let mut changes = shell.core.subscribe();
    let shell = Arc::clone(shell);
    tauri::async_runtime::spawn(async move {
        while let Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) =
            changes.recv().await
        {
            // Only account states change here: no keychain read for pending sign-ins
            // on this path (a launch refresh sends several events per account).
            shell.show_accounts();
        }
    });
}
