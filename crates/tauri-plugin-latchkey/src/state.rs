//! What the plugin keeps in the app's state.

use std::sync::Arc;

use latchkey_core::signin::Latchkey;
use tokio::sync::broadcast;

use crate::dto::ChangeEvent;

/// The plugin's managed state: the core and the change feed of `onChange`.
#[derive(Debug, Clone)]
pub(crate) struct Plugin {
    pub(crate) core: Arc<Latchkey>,
    pub(crate) changes: broadcast::Sender<ChangeEvent>,
    pub(crate) open_browser: bool,
}

impl Plugin {
    pub(crate) fn new(core: Arc<Latchkey>, open_browser: bool) -> Self {
        Self {
            core,
            changes: broadcast::channel(256).0,
            open_browser,
        }
    }

    /// Tells every subscriber (none listening is fine).
    pub(crate) fn notify(&self, event: ChangeEvent) {
        let _ = self.changes.send(event);
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
