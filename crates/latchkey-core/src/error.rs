//! Shared error plumbing.
//!
//! Every operation has its own error enum (see [`crate::provider::ConfigError`],
//! [`crate::discovery::DiscoveryError`], [`crate::http::TransportError`],
//! [`crate::vault::VaultError`]). Each implements [`ErrorCode`], a stable
//! machine-readable code that the app's IPC layer hands to the UI so that the UI
//! never matches on message strings. Messages are written for people and never
//! contain a token, code or verifier.

/// A stable, machine-readable error code (`snake_case`).
pub trait ErrorCode {
    /// The code, e.g. `"issuer_mismatch"`. Codes never change meaning.
    fn code(&self) -> &'static str;
}

/// Formats an error with its chain of causes, `outer: inner: innermost`.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
