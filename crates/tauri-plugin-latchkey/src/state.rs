//! What the plugin keeps in the app's state.

use std::sync::Arc;

use latchkey_core::Latchkey;
use latchkey_core::session::accounts::ManageError;
use latchkey_core::session::reconcile::ReconcileReport;
use latchkey_core::store::file_watch::FileWatch;
use tokio::sync::{broadcast, watch};

use crate::dto::ChangeEvent;

/// The outcome of the launch (the startup reconciliation), once it ran.
pub type Launched = Option<Arc<Result<ReconcileReport, ManageError>>>;

/// The plugin's managed state: the core, the change feed of `onChange` and
/// the launch's outcome.
#[derive(Debug, Clone)]
pub(crate) struct Plugin {
    pub(crate) core: Arc<Latchkey>,
    pub(crate) changes: broadcast::Sender<ChangeEvent>,
    pub(crate) launched: watch::Sender<Launched>,
    pub(crate) open_browser: bool,
}

impl Plugin {
    pub(crate) fn new(core: Arc<Latchkey>, open_browser: bool) -> Self {
        Self {
            core,
            changes: broadcast::channel(256).0,
            launched: watch::channel(None).0,
            open_browser,
        }
    }

    /// Tells every subscriber (none listening is fine).
    pub(crate) fn notify(&self, event: ChangeEvent) {
        let _ = self.changes.send(event);
    }

    /// Launches the core (reconciliation, then every account's lifecycle) and
    /// checks every provider's discovery document, each reported to the feed
    /// as `provider_checked` when done.
    pub(crate) fn launch(&self) {
        let plugin = self.clone();
        tauri::async_runtime::spawn(async move {
            // Watched from before the launch reads the file: another process's
            // write during the launch, or just after it is announced, is seen.
            let watch = plugin.core.registry().watch();
            let report = plugin.core.launch().await;
            if let Err(err) = &report {
                tracing::warn!(error = %err, "startup reconciliation failed");
            }
            plugin.launched.send_replace(Some(Arc::new(report)));
            plugin.notify(ChangeEvent::Changed { account: None });
            plugin.watch_accounts_file(watch).await;
        });
        self.check_providers(self.core.providers().iter().map(|p| p.id.to_string()));
    }

    /// Checks these providers' discovery documents, each reported to the
    /// feed as `provider_checked` when done.
    fn check_providers(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            let plugin = self.clone();
            tauri::async_runtime::spawn(async move {
                let started = std::time::Instant::now();
                let found = plugin.core.check_provider(&id).await;
                tracing::info!(provider = %id, reachable = matches!(found, latchkey_core::session::providers::Reachability::Reachable), elapsed_ms = started.elapsed().as_millis(), "provider checked");
                plugin.notify(ChangeEvent::ProviderChecked { provider: id });
            });
        }
    }

    /// Follows the providers file for the life of the app (edited by hand
    /// while it runs): the core gets the file's valid entries (accounts of a
    /// provider that came back or changed are retried), providers not checked
    /// yet are checked, and the feed says `changed`. A file that cannot be
    /// read or parsed changes nothing: the providers in use stay.
    pub(crate) fn follow_providers_file(&self, path: std::path::PathBuf) {
        let plugin = self.clone();
        let mut watch = FileWatch::new(path);
        tauri::async_runtime::spawn(async move {
            tracing::debug!(kind = ?watch.kind(), "following the providers file");
            loop {
                watch.changed().await;
                match plugin.core.reload_providers_file(watch.path()) {
                    Ok(entries) => crate::log_rejected(&entries),
                    Err(err) => {
                        tracing::warn!(error = %err, "providers file rejected; the providers in use stay");
                        continue;
                    }
                }
                plugin.check_providers(plugin.core.unchecked_providers());
                plugin.notify(ChangeEvent::Changed { account: None });
            }
        });
    }

    /// Follows the accounts file for the life of the app (the kernel tells
    /// when it changes; see `latchkey_core::store::file_watch`): when
    /// another process changed it — the `latchkey` CLI signed an account in
    /// or out, made another the default, refreshed an account — new accounts
    /// get their lifecycle, tokens other processes refreshed are taken (one
    /// keychain read per such account, none while the file is unchanged) and
    /// the feed says `changed`.
    async fn watch_accounts_file(&self, mut watch: FileWatch) {
        tracing::debug!(kind = ?watch.kind(), "following the accounts file");
        loop {
            watch.changed().await;
            let adopted = self.core.adopt_new_accounts();
            let followed = self.core.follow_refreshes().await;
            tracing::debug!(
                adopted = adopted.len(),
                followed = followed.len(),
                "the accounts file changed"
            );
            self.notify(ChangeEvent::Changed { account: None });
        }
    }

    /// Forwards the sign-ins the core completed by itself (loopback
    /// redirects) to the feed, exactly like a deep link's.
    pub(crate) fn forward_sign_in_outcomes(&self) {
        let mut outcomes = self.core.sign_in_outcomes();
        let plugin = self.clone();
        tauri::async_runtime::spawn(async move {
            use broadcast::error::RecvError;
            loop {
                match outcomes.recv().await {
                    Ok(outcome) => crate::links::report(&plugin, &outcome.result),
                    Err(RecvError::Lagged(_)) => {
                        plugin.notify(ChangeEvent::Changed { account: None });
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    /// Forwards the core's account changes (lifecycle, refreshes) to the feed.
    pub(crate) fn forward_core_changes(&self) {
        let mut from_core = self.core.subscribe();
        let to = self.changes.clone();
        tauri::async_runtime::spawn(async move {
            use broadcast::error::RecvError;
            loop {
                let account = match from_core.recv().await {
                    Ok(id) => Some(id.to_string()),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                let _ = to.send(ChangeEvent::Changed { account });
            }
        });
    }
}
