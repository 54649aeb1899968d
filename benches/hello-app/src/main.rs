//! The baseline of `scripts/bench-app.sh`: a hello-world Tauri 2 app with the
//! plugins Latchkey's app uses (single-instance, deep-link, opener,
//! window-state), the same window and the same content security policy —
//! what any Tauri app of this shape costs, against which Latchkey is measured.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {}))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_window_state::Builder::new().build())
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("hello-app failed: {err}");
        std::process::exit(1);
    }
}
