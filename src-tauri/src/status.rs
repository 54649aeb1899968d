//! An account's state as the window's DTO carries it. The state itself is
//! decided by the core ([`AccountState`]); this only names it for the UI.

use latchkey_core::clock::unix_millis;
use latchkey_core::session::views::AccountState;
use tauri_plugin_latchkey::dto::StateName;

/// What the window shows about an account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The state's name (`refreshing`, `ready`, `offline`, …).
    pub status: StateName,
    /// Why it is offline, refused or needs sign-in (plain language, no secret).
    pub problem: Option<String>,
    /// The stable code of a refusal (e.g. `invalid_client`).
    pub problem_code: Option<&'static str>,
    /// When offline: the next attempt (ms since epoch).
    pub retry_at_ms: Option<u64>,
}

/// The DTO fields of a state.
pub fn shown(state: &AccountState) -> Shown {
    let mut shown = Shown {
        status: StateName::of(state),
        problem: None,
        problem_code: None,
        retry_at_ms: None,
    };
    match state {
        AccountState::Offline { reason, retry_at } => {
            shown.problem = Some(reason.clone());
            shown.retry_at_ms = Some(unix_millis(*retry_at));
        }
        AccountState::Refused { reason, code } => {
            shown.problem = Some(reason.clone());
            shown.problem_code = Some(code);
        }
        AccountState::NeedsSignIn { reason } => shown.problem = reason.clone(),
        _ => {}
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_request_carries_its_reason_and_code() {
        let shown = shown(&AccountState::Refused {
            reason: "the provider refused the request: invalid_client".into(),
            code: "invalid_client",
        });
        assert_eq!(shown.status, StateName::Refused);
        assert_eq!(shown.problem_code, Some("invalid_client"));
        assert!(
            shown
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("invalid_client"))
        );
        assert_eq!(shown.retry_at_ms, None);
    }
}
