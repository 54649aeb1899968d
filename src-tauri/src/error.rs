//! The one error shape the UI sees: `{ code, message }`.
//!
//! Codes come from the core's typed errors ([`latchkey_core::ErrorCode`]) so
//! the UI never matches message strings. Messages never contain secrets: the
//! core's errors are written that way.

use latchkey_core::ErrorCode;
use serde::Serialize;

/// An error for the UI.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiError {
    /// Stable machine-readable code.
    pub code: String,
    /// Plain-language message.
    pub message: String,
}

impl UiError {
    /// An error with an explicit code.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// From any core error.
    pub fn from_core<E: ErrorCode + std::error::Error + 'static>(err: &E) -> Self {
        Self::new(err.code(), latchkey_core::error::report(err))
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for UiError {}
