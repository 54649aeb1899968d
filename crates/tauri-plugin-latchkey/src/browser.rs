//! Opening the authorization URL in the system browser (RFC 8252 §4: an
//! external user agent, never a webview).

use tauri::{AppHandle, Runtime};
use url::Url;

/// Opens `url` through tauri-plugin-opener when the app registered it.
/// Returns whether it was opened; `false` leaves it to the app.
#[cfg(feature = "opener")]
pub(crate) async fn open<R: Runtime>(app: AppHandle<R>, url: &Url) -> bool {
    use tauri::Manager as _;
    let url = url.to_string();
    // The opener waits for the launcher (~¼ s): keep it off the async workers.
    let opened = tauri::async_runtime::spawn_blocking(move || {
        app.try_state::<tauri_plugin_opener::Opener<R>>()
            .map(|opener| opener.open_url(url, None::<&str>))
    })
    .await;
    match opened {
        Ok(Some(Ok(()))) => true,
        Ok(None) => false,
        Ok(Some(Err(err))) => {
            tracing::warn!(error = %err, "cannot open the system browser");
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot open the system browser");
            false
        }
    }
}

/// Without the `opener` feature the app opens the URL itself.
#[cfg(not(feature = "opener"))]
pub(crate) async fn open<R: Runtime>(_app: AppHandle<R>, _url: &Url) -> bool {
    false
}
