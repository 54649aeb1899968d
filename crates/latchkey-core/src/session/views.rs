//! What an app shows of each account: its metadata and one typed state,
//! decided here (from the registry, the lifecycle's live status and the
//! in-memory access token) so no app has to.

use std::time::SystemTime;

use crate::accounts::{Account, AccountStatus, RegistryError};
use crate::session::latchkey::Latchkey;
use crate::session::state::LiveStatus;

/// The state of an account, as a person should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountState {
    /// A refresh is running.
    Refreshing,
    /// An access token is in memory (`expires_at`: when it expires, if known).
    Ready {
        /// When the access token expires, if known.
        expires_at: Option<SystemTime>,
    },
    /// Signed in; no access token in memory yet (the lifecycle has not run).
    SignedIn,
    /// The provider could not be reached; tokens kept, retried at `retry_at`.
    Offline {
        /// Why, in words for a person (never a secret).
        reason: String,
        /// When the next refresh is tried.
        retry_at: SystemTime,
    },
    /// The provider refused Latchkey's request; tokens kept; waits for
    /// "Retry now" (or the next launch).
    Refused {
        /// Why, in words for a person (never a secret).
        reason: String,
        /// The machine-readable code ([`ErrorCode`](crate::error::ErrorCode)).
        code: &'static str,
    },
    /// The grant has ended: the person must sign in again.
    NeedsSignIn {
        /// Why, in words for a person (never a secret), when known.
        reason: Option<String>,
    },
}

impl AccountState {
    /// A stable name (`ready`, `offline`, `refused`, `needs_sign_in`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Refreshing => "refreshing",
            Self::Ready { .. } => "ready",
            Self::SignedIn => "signed_in",
            Self::Offline { .. } => "offline",
            Self::Refused { .. } => "refused",
            Self::NeedsSignIn { .. } => "needs_sign_in",
        }
    }

    /// Decides the state from the registry's status, the live status and the
    /// in-memory access token's expiry (`Some(None)`: a token whose expiry is
    /// unknown; `None`: no token).
    pub fn decide(
        stored: AccountStatus,
        live: Option<&LiveStatus>,
        expiry: Option<Option<SystemTime>>,
    ) -> Self {
        match (stored, live, expiry) {
            (AccountStatus::NeedsSignIn, _, _) => Self::NeedsSignIn { reason: None },
            (_, Some(LiveStatus::NeedsSignIn { reason }), _) => Self::NeedsSignIn {
                reason: Some(reason.clone()),
            },
            (_, Some(LiveStatus::Refreshing), _) => Self::Refreshing,
            (
                _,
                Some(LiveStatus::Offline {
                    reason, retry_at, ..
                }),
                _,
            ) => Self::Offline {
                reason: reason.clone(),
                retry_at: *retry_at,
            },
            (_, Some(LiveStatus::Refused { reason, code }), _) => Self::Refused {
                reason: reason.clone(),
                code,
            },
            (_, _, Some(expires_at)) => Self::Ready { expires_at },
            (_, _, None) => Self::SignedIn,
        }
    }
}

/// One account as an app shows it.
#[derive(Debug, Clone)]
pub struct AccountView {
    /// The account's metadata.
    pub account: Account,
    /// Whether it is the default account.
    pub is_default: bool,
    /// Its state.
    pub state: AccountState,
}

impl Latchkey {
    /// Every account with its state, in the registry's order.
    pub fn account_views(&self) -> Result<Vec<AccountView>, RegistryError> {
        let book = self.accounts()?;
        let default = book.default.clone();
        Ok(book
            .accounts
            .into_iter()
            .map(|account| {
                let state = AccountState::decide(
                    account.status,
                    self.live_status(&account.id).as_ref(),
                    self.access_token_expiry(&account.id),
                );
                AccountView {
                    is_default: default.as_ref() == Some(&account.id),
                    account,
                    state,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_state_follows_the_registry_then_the_lifecycle_then_the_token() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let refused = LiveStatus::Refused {
            reason: "invalid_client".into(),
            code: "invalid_client",
        };
        assert_eq!(
            AccountState::decide(AccountStatus::Active, Some(&refused), Some(Some(at))),
            AccountState::Refused {
                reason: "invalid_client".into(),
                code: "invalid_client"
            },
            "a refusal wins over an older access token"
        );
        assert_eq!(
            AccountState::decide(AccountStatus::NeedsSignIn, Some(&refused), None).name(),
            "needs_sign_in",
            "the registry's word on a dead grant wins"
        );
        let offline = LiveStatus::Offline {
            reason: "down".into(),
            retry_at: at,
            attempt: 2,
        };
        assert_eq!(
            AccountState::decide(AccountStatus::Active, Some(&offline), None),
            AccountState::Offline {
                reason: "down".into(),
                retry_at: at
            }
        );
        assert_eq!(
            AccountState::decide(AccountStatus::Active, Some(&LiveStatus::Refreshing), None).name(),
            "refreshing"
        );
        assert_eq!(
            AccountState::decide(AccountStatus::Active, None, Some(None)),
            AccountState::Ready { expires_at: None }
        );
        assert_eq!(
            AccountState::decide(AccountStatus::Active, None, None),
            AccountState::SignedIn
        );
    }
}
