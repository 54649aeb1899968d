//! The size floor of `scripts/size-floor.sh`: the hello-world app (the
//! baseline of `scripts/bench-app.sh`) plus the libraries Latchkey cannot do
//! without, used on the command line's input so that nothing is optimized
//! away (`benches/size-floor`: HTTPS with rustls and the system's trust
//! store, ID token verification, the Secret Service, the OAuth 2.0 grants,
//! the providers file, the file vault, logging). Latchkey's binary less this
//! one is Latchkey's own code. Built for its size, not run.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    size_floor::required::init_logging();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|_, _, _| {}))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_window_state::Builder::new().build())
        .setup(|_| {
            let input: Vec<String> = std::env::args().skip(1).collect();
            std::thread::spawn(move || {
                size_floor::required::use_all(&size_floor::runtime(), &input)
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("hello-floor failed: {err}");
        std::process::exit(1);
    }
}
