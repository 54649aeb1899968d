//! The shell's state: what the window shows, and who to tell when it changes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_core::ErrorCode;
use latchkey_core::Latchkey;
use latchkey_core::clock::unix_millis;
use latchkey_core::config::provider::ProviderEntry;
use latchkey_core::config::providers_edit::ProvidersFile;
use latchkey_core::picture::PictureFetcher;
use latchkey_core::picture::cache::PictureCache;
use latchkey_core::session::providers::{ProviderView, Reachability};
use latchkey_core::session::views::{AccountState, AccountView};
use tauri::ipc::Channel;

use crate::dto::{
    AccountDto, KeychainDto, KeychainStatus, NoticeDto, NoticeLevel, PendingDto, ProviderDto,
    ProviderStatus, StateDto, UiEvent,
};
use crate::error::UiError;

/// Notices kept for the window.
const MAX_NOTICES: usize = 20;

/// Everything the shell holds; shared by commands, deep-link handlers and tasks.
pub struct Shell {
    /// The providers file's entries as written: the valid ones stand for the
    /// core's providers (whose state the core decides), the rejected ones
    /// carry their error.
    entries: Mutex<Vec<Result<String, Box<ProviderDto>>>>,
    /// The providers file (`None`: no configuration folder is known).
    providers_file: Option<PathBuf>,
    /// The core.
    pub core: Arc<Latchkey>,
    /// Profile pictures by URL (`None` = could not be loaded).
    pictures: Mutex<std::collections::HashMap<String, Option<String>>>,
    /// Fetches pictures with fenced clients (built at the first picture).
    picture_fetcher: PictureFetcher,
    /// Pictures kept across launches (`None`: no cache folder is known).
    picture_cache: Option<PictureCache>,
    /// Sign-ins on another device waiting for approval.
    pub devices: crate::device::Waiting,
    state: Mutex<StateDto>,
    next_notice: Mutex<u64>,
    subscribers: Mutex<Vec<Channel<UiEvent>>>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell")
            .field("providers", &Self::lock(&self.entries).len())
            .finish_non_exhaustive()
    }
}

impl Shell {
    /// Builds the shell from the loaded providers file.
    pub fn new(
        core: Arc<Latchkey>,
        providers_file: Option<PathBuf>,
        entries: Result<Vec<ProviderEntry>, UiError>,
    ) -> Self {
        let (entries, file_error) = match entries {
            Ok(entries) => (shown_entries(entries), None),
            Err(err) => (Vec::new(), Some(err)),
        };
        let accounts_file = Some(core.registry().path().display().to_string());
        let vault = core.vault().kind();
        let shell = Self {
            entries: Mutex::new(entries),
            providers_file: providers_file.clone(),
            core,
            pictures: Mutex::new(std::collections::HashMap::new()),
            picture_fetcher: PictureFetcher::new(),
            picture_cache: PictureCache::default_dir().map(PictureCache::in_dir),
            devices: crate::device::Waiting::default(),
            state: Mutex::new(StateDto {
                version: env!("CARGO_PKG_VERSION"),
                accounts_file,
                log_file: crate::log_file().map(|p| p.display().to_string()),
                providers_file: providers_file.map(|p| p.display().to_string()),
                providers_file_error: file_error,
                providers: Vec::new(),
                keychain: KeychainDto {
                    vault,
                    status: KeychainStatus::Checking,
                    error: None,
                },
                notices: Vec::new(),
                accounts: Vec::new(),
                registry_error: None,
                pending: Vec::new(),
                registry_quarantined: None,
                last_added: None,
            }),
            next_notice: Mutex::new(1),
            subscribers: Mutex::new(Vec::new()),
        };
        shell.show_providers();
        shell
    }

    /// The providers as the core sees them (reachable, unreachable, not
    /// checked yet), with the rejected entries of the file in their place.
    pub fn show_providers(&self) {
        let providers = self.providers_now();
        self.update(|state| state.providers = providers);
    }

    /// The providers file, for editing.
    pub fn providers_file(&self) -> Result<ProvidersFile, UiError> {
        self.providers_file
            .as_ref()
            .map(|path| ProvidersFile::new(path, self.core.identity().clone()))
            .ok_or_else(|| {
                UiError::new(
                    "config_no_dir",
                    "no configuration folder is known for this user",
                )
            })
    }

    /// Reads the providers file again (the window or a person edited it):
    /// the core gets its valid entries, the window all of them. A file that
    /// cannot be read or parsed leaves the providers as they are, in the core
    /// and in the window, which says why.
    pub fn reload_providers(&self) {
        let Some(path) = &self.providers_file else {
            return;
        };
        let file_error = match self.core.reload_providers_file(path) {
            Ok(list) => {
                *Self::lock(&self.entries) = shown_entries(list);
                None
            }
            // The core keeps the providers in use, and the window shows them.
            Err(err) => {
                let err = UiError::from_core(&err);
                tracing::warn!(error = %err, "providers file rejected; the providers in use stay");
                Some(UiError::new(
                    err.code,
                    format!("{} (the providers read before stay in use)", err.message),
                ))
            }
        };
        let providers = self.providers_now();
        self.update(|state| {
            state.providers_file_error = file_error;
            state.providers = providers;
        });
    }

    /// Follows the providers file for the life of the app, so that an entry
    /// edited by hand while it runs shows (and works) without a restart:
    /// reloaded, new or changed providers checked, the window told.
    pub fn follow_providers_file(self: &Arc<Self>) {
        let Some(path) = self.providers_file.clone() else {
            return;
        };
        let shell = Arc::clone(self);
        // Watched from now on: an edit right after start is not missed.
        let mut watch = latchkey_core::store::file_watch::FileWatch::new(path);
        tauri::async_runtime::spawn(async move {
            tracing::debug!(kind = ?watch.kind(), "following the providers file");
            loop {
                watch.changed().await;
                tracing::info!("the providers file changed; reloaded");
                shell.reload_providers();
                for id in shell.core.unchecked_providers() {
                    shell.core.check_provider(&id).await;
                }
                shell.show_providers();
            }
        });
    }

    fn providers_now(&self) -> Vec<ProviderDto> {
        let views = self.core.provider_views();
        Self::lock(&self.entries)
            .iter()
            .filter_map(|entry| match entry {
                Ok(id) => views.iter().find(|v| &v.id == id).map(provider_dto),
                Err(rejected) => Some(ProviderDto::clone(rejected)),
            })
            .collect()
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

    /// A provider's display name (its id when it has none).
    pub fn provider_name(&self, id: &str) -> String {
        self.core
            .provider(id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    }

    /// Re-reads accounts and pending sign-ins into the window state.
    pub async fn reload_accounts(&self) {
        // Accounts come from a file: show them at once; pending sign-ins come
        // from the keychain, which may be slow or hung.
        self.apply_accounts(self.core.account_views());
        let pending = self.core.pending().await;
        self.update(|state| match pending {
            Ok(list) => {
                state.pending = self.with_devices(list);
            }
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "pending sign-ins unreadable");
            }
        });
    }

    /// The pending sign-ins: those waiting for the browser, then those
    /// waiting on another device.
    fn with_devices(
        &self,
        list: Vec<latchkey_core::flow::request::PendingSummary>,
    ) -> Vec<PendingDto> {
        list.into_iter()
            .map(PendingDto::from)
            .chain(self.devices.listed())
            .collect()
    }

    /// Shows the accounts from the registry now (no keychain access).
    pub fn show_accounts(&self) {
        self.apply_accounts(self.core.account_views());
    }

    /// After a sign-in completed: the new account (highlighted) and the pending
    /// list without its request, in one change, so the window does not show the
    /// account and "Continue in your browser" at once.
    pub async fn show_completed_sign_in(&self, account: &str) {
        let pending = self.core.pending().await;
        self.apply_accounts_and(self.core.account_views(), |state| {
            state.last_added = Some(account.to_owned());
            match pending {
                Ok(list) => state.pending = self.with_devices(list),
                Err(err) => {
                    tracing::warn!(code = err.code(), error = %err, "pending sign-ins unreadable");
                }
            }
        });
    }

    fn apply_accounts(
        &self,
        accounts: Result<Vec<AccountView>, latchkey_core::store::registry::RegistryError>,
    ) {
        self.apply_accounts_and(accounts, |_| {});
    }

    fn apply_accounts_and(
        &self,
        accounts: Result<Vec<AccountView>, latchkey_core::store::registry::RegistryError>,
        also: impl FnOnce(&mut StateDto),
    ) {
        let name_of = |id: &str| self.provider_name(id);
        // A provider that just served a refresh is reachable (the core decides).
        let providers = self.providers_now();
        self.update(|state| {
            state.providers = providers;
            match accounts {
                Ok(views) => {
                    state.registry_error = None;
                    state.accounts = views
                        .into_iter()
                        .map(|view| {
                            let shown = crate::status::shown(&view.state);
                            let (a, is_default) = (view.account, view.is_default);
                            let provider_name = name_of(&a.provider_id);
                            AccountDto {
                                title: a.title(&provider_name),
                                never_expires: a.never_expires,
                                unnamed: a.name.is_none()
                                    && a.username.is_none()
                                    && a.email.is_none(),
                                provider_name,
                                id: a.id.to_string(),
                                provider_id: a.provider_id,
                                issuer: a.issuer,
                                name: a.name,
                                email: a.email,
                                label: a.label,
                                picture: a.picture.as_ref().and_then(|url| {
                                    Self::lock(&self.pictures).get(url).cloned().flatten()
                                }),
                                is_default,
                                status: shown.status,
                                access_expires_at_ms: match view.state {
                                    AccountState::Ready { expires_at } => {
                                        expires_at.map(unix_millis)
                                    }
                                    _ => self
                                        .core
                                        .access_token_expiry(&a.id)
                                        .flatten()
                                        .map(unix_millis),
                                },
                                retry_at_ms: shown.retry_at_ms,
                                problem: shown.problem,
                                problem_code: shown.problem_code,
                                created_at_ms: a.created_at * 1000,
                            }
                        })
                        .collect();
                }
                Err(err) => {
                    tracing::error!(code = err.code(), error = %err, "accounts file unusable");
                    state.registry_error = Some(UiError::from_core(&err));
                }
            }
            also(state);
        });
    }

    /// Loads the profile pictures not tried yet in this run, then shows them:
    /// from the picture cache, else fetched once (and cached) — so a picture's
    /// host is asked again only when the account's `picture` URL changes.
    pub async fn load_pictures(&self) {
        let Ok(book) = self.core.accounts() else {
            return;
        };
        let mut loaded = false;
        for account in &book.accounts {
            let Some(url) = account.picture.clone() else {
                continue;
            };
            if Self::lock(&self.pictures).contains_key(&url) {
                continue;
            }
            let fetch = || self.picture_fetcher.fetch(&url, &account.issuer);
            let data = match &self.picture_cache {
                Some(cache) => cache.get_or_fetch(&url, fetch).await,
                None => fetch().await,
            };
            if data.is_none() {
                tracing::info!(account = %account.id, "profile picture not loaded; showing initials");
            }
            Self::lock(&self.pictures).insert(url, data);
            loaded = true;
        }
        if let Some(cache) = &self.picture_cache {
            cache.retain(book.accounts.iter().filter_map(|a| a.picture.as_deref()));
        }
        if loaded {
            self.reload_accounts().await;
        }
    }

    /// Removes a notice.
    pub fn dismiss(&self, id: u64) {
        self.update(|state| state.notices.retain(|n| n.id != id));
    }
}

/// The providers file's entries as the shell keeps them (valid ones by id,
/// rejected ones with their error).
fn shown_entries(entries: Vec<ProviderEntry>) -> Vec<Result<String, Box<ProviderDto>>> {
    entries
        .into_iter()
        .map(|entry| match entry.config {
            Ok(config) => Ok(config.id.to_string()),
            Err(err) => Err(Box::new(ProviderDto {
                id: entry.label.clone(),
                name: entry.name.unwrap_or(entry.label),
                issuer: None,
                status: ProviderStatus::Invalid,
                error: Some(UiError::from_core(&err)),
            })),
        })
        .collect()
}

/// A provider as the window shows it.
fn provider_dto(view: &ProviderView) -> ProviderDto {
    let (status, error) = match &view.reachability {
        Reachability::Reachable => (ProviderStatus::Reachable, None),
        Reachability::Unreachable { code, reason } => (
            ProviderStatus::Unreachable,
            Some(UiError::new(*code, reason.clone())),
        ),
        _ => (ProviderStatus::Checking, None),
    };
    ProviderDto {
        id: view.id.clone(),
        name: view.name.clone(),
        issuer: Some(view.issuer.clone()),
        status,
        error,
    }
}
