//! Why a refresh failed, and what that means: only a dead grant needs the
//! person; transient failures are retried; refusals wait for "Retry now".

use std::time::Duration;

use crate::error::ErrorCode;
use crate::file_lock::LockError;
use crate::store::registry::RegistryError;
use crate::vault::VaultError;

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// No such account.
    #[error("there is no account {id}")]
    UnknownAccount {
        /// The account id that was asked for.
        id: String,
    },
    /// The grant is gone: the person must sign in again.
    #[error("the account needs to sign in again: {reason}")]
    NeedsSignIn {
        /// Why, in words for a person (never a secret).
        reason: String,
        /// The machine-readable code ([`ErrorCode`]).
        code: &'static str,
    },
    /// The provider refused Latchkey's request (an OAuth error other than
    /// `invalid_grant`, an ID token Latchkey cannot accept, a provider no
    /// longer configured): the tokens are kept; retrying will not help until
    /// the settings change.
    #[error("the provider refused Latchkey's request: {reason}")]
    Refused {
        /// Why, in words for a person (never a secret).
        reason: String,
        /// The machine-readable code ([`ErrorCode`]).
        code: &'static str,
    },
    /// Network trouble, a timeout, 5xx, 429, a non-OAuth answer, JWKS
    /// trouble, clock skew: try again later.
    #[error("the provider could not be reached: {reason}")]
    Transient {
        /// Why, in words for a person (never a secret).
        reason: String,
        /// The machine-readable code ([`ErrorCode`]).
        code: &'static str,
        /// How long the server asked us to wait, if it did.
        retry_after: Option<Duration>,
    },
    /// The keychain failed.
    #[error("{0}")]
    Vault(#[from] VaultError),
    /// The registry failed.
    #[error("{0}")]
    Registry(#[from] RegistryError),
}

impl RefreshError {
    /// A transient failure caused by `err` (its message and code kept).
    pub(crate) fn transient<E: ErrorCode + std::fmt::Display>(err: &E) -> Self {
        Self::Transient {
            reason: err.to_string(),
            code: err.code(),
            retry_after: None,
        }
    }

    /// True when a later retry may succeed on its own.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transient { .. } => true,
            Self::Vault(err) => matches!(
                err,
                VaultError::Timeout { .. }
                    | VaultError::Locked { .. }
                    | VaultError::WrongPassphrase { .. }
                    | VaultError::Unavailable { .. }
                    | VaultError::Platform { .. }
            ),
            Self::Registry(_) => true,
            Self::UnknownAccount { .. } | Self::NeedsSignIn { .. } | Self::Refused { .. } => false,
        }
    }
}

impl From<LockError> for RefreshError {
    fn from(err: LockError) -> Self {
        Self::transient(&err)
    }
}

impl ErrorCode for RefreshError {
    fn code(&self) -> &'static str {
        match self {
            Self::UnknownAccount { .. } => "unknown_account",
            Self::NeedsSignIn { code, .. }
            | Self::Transient { code, .. }
            | Self::Refused { code, .. } => code,
            Self::Vault(err) => err.code(),
            Self::Registry(err) => err.code(),
        }
    }
}
