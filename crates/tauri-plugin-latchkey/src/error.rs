//! The one error shape that crosses IPC: `{ code, message }`.
//!
//! Codes are the core's stable [`ErrorCode`]s, so a webview never matches
//! message strings. Messages come from the core's errors, which are written
//! never to hold a token, code or verifier.

use latchkey_core::ErrorCode;
use serde::Serialize;

/// A plugin error: a stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct Error {
    /// Stable `snake_case` code (e.g. `unknown_provider`, `needs_sign_in`).
    pub code: String,
    /// Plain-language message, with the chain of causes.
    pub message: String,
}

/// The plugin's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with an explicit code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// From any core error: its code and its message with causes.
    pub fn from_core<E: ErrorCode + std::error::Error + 'static>(err: &E) -> Self {
        Self::new(err.code(), latchkey_core::error::report(err))
    }
}

/// For `map_err`: a core error to the IPC error.
pub(crate) fn core<E: ErrorCode + std::error::Error + 'static>(err: E) -> Error {
    Error::from_core(&err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::flow::request::AuthorizeError;
    use latchkey_core::store::registry::RegistryError;

    #[test]
    fn a_core_error_keeps_its_code_and_message() {
        let err = core(AuthorizeError::UnknownProvider { id: "acme".into() });
        assert_eq!(err.code, "unknown_provider");
        assert!(err.message.contains("acme"), "{}", err.message);
    }

    #[test]
    fn it_serializes_as_code_and_message_only() {
        let err = Error::new("needs_sign_in", "sign in again");
        let json = serde_json::to_value(&err).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"code": "needs_sign_in", "message": "sign in again"})
        );
        assert_eq!(err.to_string(), "sign in again (needs_sign_in)");
    }

    #[test]
    fn the_cause_chain_reaches_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied here");
        let err = core(RegistryError::Io {
            action: "read",
            path: "/x/accounts.json".into(),
            source: io,
        });
        assert!(err.message.contains("denied here"), "{}", err.message);
        assert!(!err.code.is_empty());
    }
}
