//! The smallest Tauri 2 app that embeds `tauri-plugin-latchkey`: the plugin
//! README's embedding, under this app's own identity. Its identifier (the
//! keychain service, its config and data folders) and its redirect scheme
//! are both `dev.latchkey.example.embed`: nothing is shared with Latchkey.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use tauri_plugin_deep_link::DeepLinkExt as _;
use tauri_plugin_latchkey::latchkey_core::config::identity::AppIdentity;
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let context = tauri::generate_context!();
    // tauri.conf.json's identifier, used as the redirect scheme too (the
    // deep-link scheme registered there; checked by the test below).
    let id = context.config().identifier.clone();
    let identity = match AppIdentity::new(&id, &id) {
        Ok(identity) => identity,
        Err(err) => {
            tracing::error!(error = %err, "invalid identity");
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {})) // FIRST, feature "deep-link"
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init()) // lets signIn open the system browser
        .plugin(tauri_plugin_latchkey::init(Config::new(identity)))
        .setup(|app| {
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |e| {
                e.urls()
                    .iter()
                    .for_each(|u| handle.latchkey_link(u.as_str()))
            });
            // Cold start: the link that launched us.
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                urls.iter().for_each(|u| app.latchkey_link(u.as_str()));
            }
            Ok(())
        })
        .run(context);
    if let Err(err) = result {
        tracing::error!(error = %err, "the app failed");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    /// The redirect scheme is the identifier: tauri.conf.json must register
    /// exactly that scheme for deep links.
    #[test]
    fn the_deep_link_scheme_is_the_identifier() {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(std::path::Path::new(&dir).join("tauri.conf.json"))
            .expect("tauri.conf.json");
        let conf: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let id = &conf["identifier"];
        assert_eq!(id, "dev.latchkey.example.embed");
        assert_eq!(
            conf["plugins"]["deep-link"]["desktop"]["schemes"],
            serde_json::json!([id])
        );
    }
}
