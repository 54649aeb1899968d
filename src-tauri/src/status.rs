//! An account's status as the window shows it, from the registry's status,
//! the core's live status and the in-memory access token.

use std::time::SystemTime;

use latchkey_core::accounts::AccountStatus;
use latchkey_core::clock::unix_millis;
use latchkey_core::refresh::LiveStatus;

/// What the window shows about an account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// `refreshing`, `ready`, `offline`, `refused`, `needs_sign_in` or `signed_in`.
    pub status: &'static str,
    /// Why it is offline, refused or needs sign-in (plain language, no secret).
    pub problem: Option<String>,
    /// The stable code of a refusal (e.g. `invalid_client`).
    pub problem_code: Option<&'static str>,
    /// When offline: the next attempt (ms since epoch).
    pub retry_at_ms: Option<u64>,
}

/// `expiry` is the in-memory access token's expiry (`Some(None)`: a token
/// without a known expiry; `None`: no token).
pub fn account_status(
    stored: AccountStatus,
    live: Option<&LiveStatus>,
    expiry: Option<Option<SystemTime>>,
) -> Shown {
    let shown = |status| Shown {
        status,
        problem: None,
        problem_code: None,
        retry_at_ms: None,
    };
    match (stored, live, expiry) {
        (AccountStatus::NeedsSignIn, _, _) => shown("needs_sign_in"),
        (_, Some(LiveStatus::NeedsSignIn { reason }), _) => Shown {
            problem: Some(reason.clone()),
            ..shown("needs_sign_in")
        },
        (_, Some(LiveStatus::Refreshing), _) => shown("refreshing"),
        (
            _,
            Some(LiveStatus::Offline {
                reason, retry_at, ..
            }),
            _,
        ) => Shown {
            problem: Some(reason.clone()),
            retry_at_ms: Some(unix_millis(*retry_at)),
            ..shown("offline")
        },
        // Tokens kept; waits for "Retry now" (or the next launch).
        (_, Some(LiveStatus::Refused { reason, code }), _) => Shown {
            problem: Some(reason.clone()),
            problem_code: Some(code),
            ..shown("refused")
        },
        (_, _, Some(_)) => shown("ready"),
        (_, _, None) => shown("signed_in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_has_its_own_status_with_the_reason() {
        let refused = LiveStatus::Refused {
            reason: "the provider refused Latchkey's client (invalid_client)".into(),
            code: "invalid_client",
        };
        let shown = account_status(AccountStatus::Active, Some(&refused), None);
        assert_eq!(shown.status, "refused");
        assert_eq!(shown.problem_code, Some("invalid_client"));
        assert!(
            shown
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("invalid_client"))
        );
        // A token still in memory does not hide the refusal.
        let with_token = account_status(
            AccountStatus::Active,
            Some(&refused),
            Some(Some(SystemTime::now())),
        );
        assert_eq!(with_token.status, "refused");
        // "Needs sign-in" in the registry wins over everything.
        assert_eq!(
            account_status(AccountStatus::NeedsSignIn, Some(&refused), None).status,
            "needs_sign_in"
        );
    }

    #[test]
    fn the_other_states() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10);
        let offline = LiveStatus::Offline {
            reason: "cannot reach the provider".into(),
            retry_at: at,
            attempt: 2,
        };
        let shown = account_status(AccountStatus::Active, Some(&offline), None);
        assert_eq!((shown.status, shown.retry_at_ms), ("offline", Some(10_000)));
        assert_eq!(
            account_status(AccountStatus::Active, Some(&LiveStatus::Refreshing), None).status,
            "refreshing"
        );
        assert_eq!(
            account_status(AccountStatus::Active, None, Some(None)).status,
            "ready"
        );
        assert_eq!(
            account_status(AccountStatus::Active, None, None).status,
            "signed_in"
        );
    }
}
