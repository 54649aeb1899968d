//! The README's embedding, compiled (not run: single-instance wants a
//! session bus): the plugin order and the deep-link wiring type-check.

use tauri_plugin_deep_link::DeepLinkExt as _;
use tauri_plugin_latchkey::latchkey_core::config::identity::AppIdentity;
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

fn embed<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    identity: AppIdentity,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {})) // first, feature "deep-link"
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_latchkey::init(Config::new(identity)))
        .setup(|app| {
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |e| {
                e.urls()
                    .iter()
                    .for_each(|u| handle.latchkey_link(u.as_str()))
            });
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                urls.iter().for_each(|u| app.latchkey_link(u.as_str()));
            }
            Ok(())
        })
}

#[test]
fn the_readme_embedding_type_checks() {
    let embed: fn(_, _) -> _ = embed::<tauri::test::MockRuntime>;
    let _ = embed;
}
