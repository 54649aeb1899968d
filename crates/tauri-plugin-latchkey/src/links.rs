//! Deep links: the authorization response coming back on the app's scheme.

use latchkey_core::ErrorCode as _;
use latchkey_core::flow::response::{RedactedUrl, callback_uri};
use latchkey_core::session::sign_in::{CompleteError, SignedIn};

use crate::dto::ChangeEvent;
use crate::state::Plugin;

/// Completes the sign-in a link belongs to (on the async runtime) and tells
/// `onChange` subscribers. Any web page can send such a link: one that matches
/// no sign-in is logged and reported as `sign_in_failed`, nothing more.
pub(crate) fn handle(plugin: &Plugin, url: &str) {
    tracing::info!(link = %RedactedUrl(url), "deep link received");
    let plugin = plugin.clone();
    let url = url.to_owned();
    tauri::async_runtime::spawn(async move {
        let base = plugin.core.identity().redirect_uri();
        let result = match callback_uri(&url, &base) {
            // The redirect URI the link came on: the core checks it against
            // the one its sign-in was started with.
            Ok(redirect_uri) => plugin.core.complete(&url, &redirect_uri).await,
            Err(err) => Err(CompleteError::Link(err)),
        };
        report(&plugin, &result);
    });
}

/// Tells `onChange` subscribers how a sign-in's response ended (a deep link,
/// or a loopback redirect the core completed) and starts a new account's
/// lifecycle.
pub(crate) fn report(plugin: &Plugin, result: &Result<SignedIn, CompleteError>) {
    match result {
        Ok(signed_in) => {
            plugin.core.start_lifecycle(signed_in.account.id.clone());
            plugin.notify(ChangeEvent::signed_in(signed_in));
        }
        Err(err) if err.is_repeat() => {
            // A double click on the browser's "open the app?" prompt.
            tracing::info!(
                code = err.code(),
                "a repeat of a sign-in link that just completed; ignored"
            );
        }
        Err(err) => {
            tracing::warn!(
                code = err.code(),
                ignored_link = err.is_ignored_link(),
                "sign-in response not completed"
            );
            plugin.notify(ChangeEvent::sign_in_failed(err));
        }
    }
}
