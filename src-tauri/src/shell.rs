//! The shell's state: what the window shows, and who to tell when it changes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_core::http::HttpClient;
use latchkey_core::provider::{ProviderConfig, ProviderEntry};
use latchkey_core::vault::Vault;
use tauri::ipc::Channel;

use crate::dto::{
    KeychainDto, KeychainStatus, NoticeDto, NoticeLevel, ProviderDto, ProviderStatus, StateDto,
    UiEvent,
};
use crate::error::UiError;

/// Notices kept for the window.
const MAX_NOTICES: usize = 20;

/// Everything the shell holds; shared by commands, deep-link handlers and tasks.
pub struct Shell {
    /// HTTP for the core.
    pub http: Arc<dyn HttpClient>,
    /// The OS keychain.
    pub vault: Vault,
    /// Valid provider configurations, by position in `state.providers`.
    pub configs: Vec<Option<ProviderConfig>>,
    state: Mutex<StateDto>,
    next_notice: Mutex<u64>,
    subscribers: Mutex<Vec<Channel<UiEvent>>>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("providers", &self.configs.len())
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl Shell {
    /// Builds the shell from the loaded providers file.
    pub fn new(
        http: Arc<dyn HttpClient>,
        vault: Vault,
        providers_file: Option<PathBuf>,
        entries: Result<Vec<ProviderEntry>, UiError>,
    ) -> Self {
        let (entries, file_error) = match entries {
            Ok(entries) => (entries, None),
            Err(err) => (Vec::new(), Some(err)),
        };
        let mut providers = Vec::with_capacity(entries.len());
        let mut configs = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry.config {
                Ok(config) => {
                    providers.push(ProviderDto {
                        id: config.id.to_string(),
                        name: config.name.clone(),
                        issuer: Some(config.issuer.to_string()),
                        status: ProviderStatus::Checking,
                        error: None,
                    });
                    configs.push(Some(config));
                }
                Err(err) => {
                    providers.push(ProviderDto {
                        id: entry.label.clone(),
                        name: entry.name.unwrap_or(entry.label),
                        issuer: None,
                        status: ProviderStatus::Invalid,
                        error: Some(UiError::from_core(&err)),
                    });
                    configs.push(None);
                }
            }
        }
        Self {
            http,
            vault,
            configs,
            state: Mutex::new(StateDto {
                providers_file: providers_file.map(|p| p.display().to_string()),
                providers_file_error: file_error,
                providers,
                keychain: KeychainDto {
                    status: KeychainStatus::Checking,
                    error: None,
                },
                notices: Vec::new(),
            }),
            next_notice: Mutex::new(1),
            subscribers: Mutex::new(Vec::new()),
        }
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the state for the UI.
    pub fn snapshot(&self) -> StateDto {
        Self::lock(&self.state).clone()
    }

    /// Changes the state and tells every subscriber.
    pub fn update(&self, f: impl FnOnce(&mut StateDto)) {
        f(&mut Self::lock(&self.state));
        let mut subscribers = Self::lock(&self.subscribers);
        subscribers.retain(|channel| channel.send(UiEvent::StateChanged).is_ok());
    }

    /// Adds a UI channel that hears about every change.
    pub fn subscribe(&self, channel: Channel<UiEvent>) {
        let _ = channel.send(UiEvent::StateChanged);
        Self::lock(&self.subscribers).push(channel);
    }

    /// Adds a notice for the person.
    pub fn notify(&self, level: NoticeLevel, code: &str, message: impl Into<String>) {
        let id = {
            let mut next = Self::lock(&self.next_notice);
            let id = *next;
            *next += 1;
            id
        };
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let notice = NoticeDto {
            id,
            level,
            code: code.to_owned(),
            message: message.into(),
            at_ms,
        };
        self.update(|state| {
            state.notices.push(notice);
            let excess = state.notices.len().saturating_sub(MAX_NOTICES);
            state.notices.drain(..excess);
        });
    }

    /// Removes a notice.
    pub fn dismiss(&self, id: u64) {
        self.update(|state| state.notices.retain(|n| n.id != id));
    }
}
