//! # tauri-plugin-latchkey
//!
//! Latchkey's OAuth 2.0 / OpenID Connect sign-in for any Tauri 2 app: the
//! system browser for the authorization request (RFC 8252), the app's own
//! custom scheme (or, per provider, a loopback listener on 127.0.0.1) for the
//! response, refresh tokens in the platform keychain
//! under the app's own identity, and access tokens kept fresh.
//!
//! ```ignore
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use latchkey_core::config::identity::AppIdentity;
//! use tauri_plugin_latchkey::LatchkeyExt as _;
//!
//! let identity = AppIdentity::new("com.example.notes", "com.example.notes")?;
//! tauri::Builder::default()
//!     .plugin(tauri_plugin_single_instance::init(|_, _, _| {})) // feature "deep-link"
//!     .plugin(tauri_plugin_deep_link::init())
//!     .plugin(tauri_plugin_opener::init())
//!     .plugin(tauri_plugin_latchkey::init(tauri_plugin_latchkey::Config::new(identity)))
//!     .setup(|app| {
//!         use tauri_plugin_deep_link::DeepLinkExt as _;
//!         let handle = app.handle().clone();
//!         app.deep_link().on_open_url(move |event| {
//!             for url in event.urls() {
//!                 handle.latchkey_link(url.as_str());
//!             }
//!         });
//!         Ok(())
//!     })
//!     .run(tauri::generate_context!())?;
//! # Ok(()) }
//! ```
//!
//! The app's Rust side reaches the core with [`LatchkeyExt::latchkey`], e.g.
//! `app.latchkey().fresh_access_token(&id, min_validity)`.
//!
//! ## Permissions
//! `latchkey:default` allows `sign_in`, `accounts`, `sign_out` and
//! `subscribe`. `latchkey:allow-access-token` (hands access tokens to the
//! webview) is never in the default set: grant it explicitly.
//!
//! ## Platform-specific
//! - The app must register its scheme (deep-link plugin config) and, on
//!   Linux and Windows, single-instance with its `deep-link` feature, so a
//!   link reaches the running instance.
//! - Refresh tokens go to the platform keychain under the identity's
//!   identifier as service name (Secret Service on Linux).
#![warn(missing_docs)]

mod browser;
mod commands;
pub mod dto;
mod error;
mod links;
mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::config::provider::{
    ProviderConfig, ProviderEntry, load_providers_for, providers_path_for,
};
use tauri::plugin::TauriPlugin;
use tauri::{Manager, RunEvent, Runtime};

pub use error::{Error, Result};
/// The core this plugin is built on.
pub use latchkey_core;
pub use state::Launched;

use crate::state::Plugin;

/// How long quitting waits for running refreshes (their rotated refresh
/// tokens must reach the keychain).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Where the providers come from.
#[derive(Debug)]
enum Providers {
    /// The identity's providers file (`providers.toml` in its config folder).
    IdentityFile,
    /// A providers file.
    File(PathBuf),
    /// Given by the app.
    List(Vec<ProviderConfig>),
}

/// The plugin's configuration: the app's identity and its providers.
#[derive(Debug)]
#[must_use]
pub struct Config {
    identity: AppIdentity,
    providers: Providers,
    data_dir: Option<PathBuf>,
    core: Option<Arc<Latchkey>>,
    open_browser: bool,
}

impl Config {
    /// For the app's identity (its keychain service, data folder and
    /// redirect scheme), with the providers of the identity's providers file.
    pub fn new(identity: AppIdentity) -> Self {
        Self {
            identity,
            providers: Providers::IdentityFile,
            data_dir: None,
            core: None,
            open_browser: true,
        }
    }

    /// Uses these providers instead of the providers file.
    pub fn providers(mut self, providers: Vec<ProviderConfig>) -> Self {
        self.providers = Providers::List(providers);
        self
    }

    /// Reads the providers from this file (invalid entries are skipped and logged).
    pub fn providers_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.providers = Providers::File(path.into());
        self
    }

    /// The folder of the accounts file (default: the identity's data folder).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Whether `signIn` opens the system browser through tauri-plugin-opener
    /// (default `true`; needs the `opener` feature and the opener plugin).
    /// When it does not, the app opens the returned `authorizationUrl`.
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// Uses a core the app built itself (its own HTTP client, keychain,
    /// clock); the identity, providers and data folder above are then ignored.
    pub fn core(mut self, core: Arc<Latchkey>) -> Self {
        self.core = Some(core);
        self
    }

    /// Builds the core; with it, the providers file it follows (none when
    /// the app gave the providers or the core).
    fn build(self) -> std::result::Result<(Arc<Latchkey>, Option<PathBuf>), Error> {
        if let Some(core) = self.core {
            return Ok((core, None));
        }
        let (providers, file) = match self.providers {
            Providers::List(list) => (list, None),
            Providers::File(path) => (load_file(&path, &self.identity)?, Some(path)),
            Providers::IdentityFile => match providers_path_for(&self.identity) {
                Some(path) => (load_file(&path, &self.identity)?, Some(path)),
                None => {
                    tracing::warn!("no configuration folder is known: no providers");
                    (Vec::new(), None)
                }
            },
        };
        let mut builder = Latchkey::builder(self.identity).providers(providers);
        if let Some(dir) = self.data_dir {
            builder = builder.data_dir(dir);
        }
        let core = builder.build().map(Arc::new).map_err(error::core)?;
        Ok((core, file))
    }
}

/// The valid providers of a file; rejected entries are logged.
fn load_file(
    path: &std::path::Path,
    identity: &AppIdentity,
) -> std::result::Result<Vec<ProviderConfig>, Error> {
    let entries = load_providers_for(path, identity).map_err(error::core)?;
    tracing::info!(path = %path.display(), providers = entries.len(), "providers file loaded");
    log_rejected(&entries);
    Ok(entries
        .into_iter()
        .filter_map(|entry| entry.config.ok())
        .collect())
}

/// Logs the entries of a providers file that were rejected, with why.
pub(crate) fn log_rejected(entries: &[ProviderEntry]) {
    for entry in entries {
        if let Err(err) = &entry.config {
            tracing::warn!(provider = %entry.label, error = %err, "provider entry rejected");
        }
    }
}

/// The plugin. At setup it builds the core, registers it, follows the
/// sign-ins the core completes by itself (loopback redirects: reported on the
/// feed exactly like a deep link's) and launches it
/// (reconciliation, then every account's refresh lifecycle, and a check of
/// every provider); on exit it waits briefly for running refreshes.
pub fn init<R: Runtime>(config: Config) -> TauriPlugin<R> {
    let open_browser = config.open_browser;
    // The config is consumed by the first setup (there is only one).
    let config = std::sync::Mutex::new(Some(config));
    tauri::plugin::Builder::new("latchkey")
        .invoke_handler(tauri::generate_handler![
            commands::sign_in,
            commands::accounts,
            commands::sign_out,
            commands::subscribe,
            commands::access_token,
        ])
        .setup(move |app, _api| {
            let config = config
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .ok_or_else(|| Error::new("already_set_up", "the plugin was set up twice"))?;
            let (core, providers_file) = config.build()?;
            let plugin = Plugin::new(core, open_browser);
            plugin.forward_core_changes();
            plugin.forward_sign_in_outcomes();
            plugin.launch();
            if let Some(path) = providers_file {
                plugin.follow_providers_file(path);
            }
            app.manage(plugin);
            Ok(())
        })
        .on_event(|app, event| {
            if let RunEvent::Exit = event
                && let Some(plugin) = app.try_state::<Plugin>()
            {
                let core = Arc::clone(&plugin.core);
                tauri::async_runtime::block_on(core.shutdown(SHUTDOWN_GRACE));
            }
        })
        .build()
}

/// Reaches the plugin from the app's Rust side (`app.latchkey()`).
pub trait LatchkeyExt<R: Runtime> {
    /// The core: access tokens for the app's own Rust code
    /// (`fresh_access_token`), accounts, sign-in and sign-out.
    ///
    /// # Panics
    /// When the plugin is not registered (or its setup failed).
    fn latchkey(&self) -> &Arc<Latchkey>;

    /// Completes the sign-in a deep link belongs to; wire it from the
    /// deep-link plugin's `on_open_url` (and `get_current()` at a cold start).
    fn latchkey_link(&self, url: &str);

    /// The feed of `onChange`, for the app's Rust side: account changes,
    /// sign-ins completed or failed by a link, sign-outs (a lagging receiver
    /// gets `RecvError::Lagged`: reload everything).
    ///
    /// # Panics
    /// When the plugin is not registered (or its setup failed).
    fn latchkey_events(&self) -> tokio::sync::broadcast::Receiver<dto::ChangeEvent>;

    /// The launch's outcome: `None` until the startup reconciliation ran,
    /// then its report (say, a damaged accounts file moved aside). Wait with
    /// `wait_for(Option::is_some)`.
    ///
    /// # Panics
    /// When the plugin is not registered (or its setup failed).
    fn latchkey_launched(&self) -> tokio::sync::watch::Receiver<Launched>;
}

impl<R: Runtime, T: Manager<R>> LatchkeyExt<R> for T {
    fn latchkey(&self) -> &Arc<Latchkey> {
        &self.state::<Plugin>().inner().core
    }

    fn latchkey_link(&self, url: &str) {
        match self.try_state::<Plugin>() {
            Some(plugin) => links::handle(plugin.inner(), url),
            None => tracing::warn!("a deep link arrived before the latchkey plugin was set up"),
        }
    }

    fn latchkey_events(&self) -> tokio::sync::broadcast::Receiver<dto::ChangeEvent> {
        self.state::<Plugin>().changes.subscribe()
    }

    fn latchkey_launched(&self) -> tokio::sync::watch::Receiver<Launched> {
        self.state::<Plugin>().launched.subscribe()
    }
}

/// Completes the sign-in a deep link belongs to (same as
/// [`LatchkeyExt::latchkey_link`]).
pub fn handle_link<R: Runtime>(app: &tauri::AppHandle<R>, url: &str) {
    app.latchkey_link(url);
}
