//! How the window's page is drawn on Linux.
//!
//! WebKitGTK composites a page's layers through OpenGL by default. On a machine
//! without a GPU (virtual machines, remote desktops, containers: Mesa's llvmpipe),
//! that means compiling shaders on the CPU at every start: measured with
//! `scripts/bench-app.sh`, it was most of Latchkey's CPU in its first 5 s (2.0 s
//! against 0.76 s without it) and 80 MiB of PSS. The accounts window is a static
//! page with no animation or video to accelerate, so Latchkey draws it with
//! WebKit's software path on every Linux machine.

/// Turns WebKit's accelerated compositing off for `window`'s webview.
#[cfg(target_os = "linux")]
pub fn draw_in_software(window: &tauri::WebviewWindow) {
    use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
    let applied = window.with_webview(|webview| {
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(err) = applied {
        tracing::warn!(error = %err, "could not set the window's rendering policy");
    }
}

/// Other systems keep their webview's defaults.
#[cfg(not(target_os = "linux"))]
pub fn draw_in_software(_window: &tauri::WebviewWindow) {}
