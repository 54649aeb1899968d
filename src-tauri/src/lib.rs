//! Latchkey's desktop shell: plugins, deep-link wiring and commands that
//! delegate to `latchkey-core`. No OAuth logic lives here.

mod commands;
mod device;
mod dto;
mod error;
mod events;
mod handoff;
mod keychain;
mod provider_commands;
mod rendering;
mod shell;
mod status;

use std::sync::Arc;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::config::provider::{load_providers_for, providers_path_for};
use latchkey_core::store::registry::default_data_dir;
use tauri::Manager;
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_latchkey::LatchkeyExt as _;

use crate::error::UiError;
use crate::shell::Shell;

/// The log file: `<data dir>/logs/latchkey.log` (never holds a secret).
pub(crate) fn log_file() -> Option<std::path::PathBuf> {
    default_data_dir().map(|d| d.join("logs").join("latchkey.log"))
}

/// Opens the log for appending: folder 0700, file 0600 on Unix whatever the
/// umask (an older, looser log is tightened); past 5 MiB it starts over and
/// keeps the previous one as `latchkey.log.old` (also 0600).
fn open_log(path: &std::path::Path) -> Option<std::fs::File> {
    use latchkey_core::store::fsperm::{FILE_MODE, create_private_dir_all, open_private, tighten};
    create_private_dir_all(path.parent()?).ok()?;
    let old = path.with_extension("log.old");
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 5 * 1024 * 1024) {
        let _ = std::fs::rename(path, &old);
    }
    tighten(&old, FILE_MODE);
    open_private(path, std::fs::OpenOptions::new().create(true).append(true)).ok()
}

fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let file = log_file().and_then(|path| open_log(&path));
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(f))
            .with_ansi(false)
            .with_target(false)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .try_init();
}

fn build_shell() -> Shell {
    let identity = AppIdentity::latchkey();
    let path = providers_path_for(&identity);
    let entries = match &path {
        Some(path) => load_providers_for(path, &identity).map_err(|err| UiError::from_core(&err)),
        None => Err(UiError::new(
            "config_no_dir",
            "no configuration folder is known for this user",
        )),
    };
    match &entries {
        Ok(list) => {
            tracing::info!(path = ?path, providers = list.len(), "providers file loaded");
            for entry in list {
                if let Err(err) = &entry.config {
                    tracing::warn!(provider = %entry.label, error = %err, "provider entry rejected");
                }
            }
        }
        Err(err) => tracing::error!(path = ?path, error = %err, "providers file rejected"),
    }
    let data_dir = identity
        .data_dir()
        .unwrap_or_else(|| std::env::temp_dir().join(identity.identifier()));
    let configs = entries
        .as_ref()
        .map(|list| {
            list.iter()
                .filter_map(|e| e.config.as_ref().ok().cloned())
                .collect()
        })
        .unwrap_or_default();
    let vault = keychain::open_vault(&identity, &data_dir);
    let core = match Latchkey::builder(identity)
        .vault(vault)
        .data_dir(data_dir)
        .providers(configs)
        .build()
    {
        Ok(core) => Arc::new(core),
        #[allow(clippy::panic)]
        Err(err) => panic!("cannot build Latchkey's core: {err}"),
    };
    core.registry().tighten_permissions();
    tracing::info!(path = %core.registry().path().display(), "accounts file");
    Shell::new(core, path, entries)
}

/// Runs the app.
pub fn run() {
    init_tracing();
    let shell = Arc::new(build_shell());
    let result = tauri::Builder::default()
        // Single-instance first: a second launch (e.g. by a deep link) hands its
        // arguments to this process and exits; the deep-link feature turns them
        // into `on_open_url` events.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            tracing::info!("second instance forwarded its arguments");
            // A plain launch raises the window; a link raises it only when it
            // completes a sign-in in progress (events.rs), since any web page
            // can send one.
            if !app.latchkey().identity().carries_link(&argv) {
                events::focus_main_window(app);
            }
            // `latchkey sign-in` handing over a sign-in (handoff.rs).
            if let Some(shell) = app.try_state::<Arc<Shell>>() {
                handoff::on_launch(app, shell.inner(), &argv);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        // Sign-in, refresh, accounts: the plugin over Latchkey's core (it
        // launches the core, completes deep links, stores rotated tokens
        // before the process ends).
        .plugin(tauri_plugin_latchkey::init(
            tauri_plugin_latchkey::Config::new(AppIdentity::latchkey())
                .core(Arc::clone(&shell.core)),
        ))
        // The window comes back where and as large as the person left it
        // (`.window-state.json` in the config folder; never a secret).
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        )
        .setup(move |app| {
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                pid = std::process::id(),
                "Latchkey started"
            );
            app.manage(Arc::clone(&shell));
            if let Some(window) = app.get_webview_window("main") {
                rendering::draw_in_software(&window);
            }
            // Subscribed before any link is handed over.
            events::follow(app.handle(), &shell);
            shell.follow_providers_file();
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    handle.latchkey_link(url.as_str());
                }
            });
            // Cold start: the link that launched us.
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                for url in urls {
                    app.latchkey_link(url.as_str());
                }
            }
            // Cold start: a sign-in handed over by the command line.
            handoff::on_launch(app.handle(), &shell, &std::env::args().collect::<Vec<_>>());
            #[cfg(target_os = "linux")]
            register_appimage_handler(app.handle());
            keychain::watch_keychain(&shell);
            /// An AppImage has no install step to register the `dev.latchkey:` handler
            /// (the .deb and .rpm do it in their desktop entry), so it registers itself
            /// at every start: tauri-plugin-deep-link writes
            /// `~/.local/share/applications/latchkey-app-handler.desktop` with
            /// `Exec="$APPIMAGE" %u` and makes it the default (`xdg-mime default`). Off
            /// the start-up path, on its own thread. A real AppImage could not be built
            /// here (no network for linuxdeploy); `tests/e2e/appimage-handler.test.mjs`
            /// runs this with `APPIMAGE` pointing at a launcher of the debug binary.
            #[cfg(target_os = "linux")]
            fn register_appimage_handler(app: &tauri::AppHandle) {
                let Some(appimage) = app.env().appimage else {
                    return;
                };
                let app = app.clone();
                std::thread::spawn(move || match app.deep_link().register_all() {
                    Ok(()) => tracing::info!(
                        appimage = %std::path::Path::new(&appimage).display(),
                        "registered as the dev.latchkey: handler (AppImage)"
                    ),
                    Err(err) => tracing::warn!(
                        error = %err,
                        "could not register as the dev.latchkey: handler (AppImage)"
                    ),
                });
            }

            #[cfg(unix)]
            exit_on_signals(app.handle().clone(), Arc::clone(&shell));
            events::after_launch(app.handle(), &shell);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::dismiss_notice,
            commands::subscribe,
            commands::start_sign_in,
            commands::start_device_sign_in,
            commands::open_sign_in_again,
            commands::cancel_sign_in,
            commands::rename_account,
            commands::make_default_account,
            commands::reauthenticate_account,
            commands::sign_out_account,
            commands::retry_account,
            commands::refresh_account,
            commands::sign_in_link,
            commands::open_folder,
            provider_commands::provider_presets,
            provider_commands::provider_draft,
            provider_commands::check_provider,
            provider_commands::save_provider,
            provider_commands::remove_provider,
        ])
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(err) => {
            #[cfg(unix)]
            relaunch_after_lost_handoff(&err);
            tracing::error!(error = %err, "the app failed");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        // A launch from now on (a deep link, the user) starts a new app
        // instead of handing its arguments to one that is going away. Done
        // at the exit request: the plugin's own exit step (running refreshes
        // store their rotated tokens) runs before the app hears `Exit`.
        if let tauri::RunEvent::ExitRequested { .. } | tauri::RunEvent::Exit = event {
            tauri_plugin_single_instance::destroy(handle);
        }
    });
}

/// How long quitting waits for running refreshes.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// SIGTERM / SIGINT (logout, `kill`, Ctrl-C): finish running refreshes, then exit.
#[cfg(unix)]
fn exit_on_signals(handle: tauri::AppHandle, shell: Arc<Shell>) {
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for termination signals");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("termination requested; finishing running refreshes");
        tauri_plugin_single_instance::destroy(&handle);
        shell.core.shutdown(SHUTDOWN_GRACE).await;
        handle.exit(0);
    });
}

/// A second launch found another instance and handed it its arguments (say, a
/// sign-in link), but that instance quit before answering: it was shutting
/// down. Rather than fail and lose the link, start once more: the name is free
/// by now, so this launch becomes the app and handles its own arguments.
#[cfg(unix)]
fn relaunch_after_lost_handoff(err: &tauri::Error) {
    use std::os::unix::process::CommandExt as _;
    const RELAUNCHED: &str = "LATCHKEY_RELAUNCHED";
    // exec keeps the pid: the mark names this very process, so children (the
    // browser, later launches through it) do not inherit a "relaunched" state.
    let me = std::process::id().to_string();
    if !err
        .to_string()
        .contains("failed to forward arguments to the running instance")
        || std::env::var_os(RELAUNCHED).is_some_and(|v| v == me.as_str())
    {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    tracing::warn!("the running instance quit while this launch handed over; starting again");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(RELAUNCHED, &me)
        .exec();
    tracing::error!(error = %err, "could not start again");
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn the_log_and_its_folder_are_private() {
        let root = std::env::temp_dir().join(format!("latchkey-app-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let path = root.join("logs").join("latchkey.log");
        drop(super::open_log(&path).expect("log"));
        assert_eq!(mode(&root.join("logs")), 0o700);
        assert_eq!(mode(&path), 0o600);
        // A log (and folder) left loose by an older version is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(root.join("logs"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        drop(super::open_log(&path).expect("log"));
        assert_eq!(mode(&root.join("logs")), 0o700);
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(&root).ok();
    }
}
