use std::time::{Duration, SystemTime};

use latchkey_core::secret::SecretString;
use latchkey_core::session::accounts::{Revocation, SignOutReport};
use latchkey_core::session::latchkey::AccessToken;
use latchkey_core::session::views::{AccountState, AccountView};
use latchkey_core::store::registry::{Account, AccountId, AccountStatus};
use serde_json::json;

use super::*;

const AT: u64 = 1_800_000_000;

fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(AT)
}

fn view(state: AccountState) -> AccountView {
    AccountView {
        account: Account {
            id: AccountId::new("acct-1"),
            provider_id: "acme".into(),
            issuer: "https://id.acme.test".into(),
            subject: "s-1".into(),
            name: Some("Ada".into()),
            username: None,
            never_expires: false,
            email: Some("ada@acme.test".into()),
            picture: None,
            label: Some("Work".into()),
            scopes: vec!["openid".into(), "offline_access".into()],
            created_at: 1,
            last_refreshed_at: Some(2),
            status: AccountStatus::Active,
        },
        is_default: true,
        state,
    }
}

#[test]
fn an_account_becomes_camel_case_json_with_a_string_state() {
    let dto = AccountDto::from(view(AccountState::Ready {
        expires_at: Some(at()),
    }));
    assert_eq!(
        serde_json::to_value(&dto).expect("json"),
        json!({
            "id": "acct-1",
            "providerId": "acme",
            "issuer": "https://id.acme.test",
            "name": "Ada",
            "username": null,
            "email": "ada@acme.test",
            "picture": null,
            "label": "Work",
            "scopes": ["openid", "offline_access"],
            "isDefault": true,
            "state": "ready",
            "expiresAt": AT,
            "neverExpires": false,
            "retryAt": null,
            "reason": null,
            "reasonCode": null,
        })
    );
}

#[test]
fn every_state_maps_to_its_name_and_details() {
    let cases = [
        (AccountState::Refreshing, "refreshing"),
        (AccountState::SignedIn, "signed_in"),
        (
            AccountState::Offline {
                reason: "down".into(),
                retry_at: at(),
            },
            "offline",
        ),
        (
            AccountState::Refused {
                reason: "client refused".into(),
                code: "invalid_client",
            },
            "refused",
        ),
        (AccountState::NeedsSignIn { reason: None }, "needs_sign_in"),
    ];
    for (state, name) in cases {
        let core_name = state.name();
        let dto = AccountDto::from(view(state));
        assert_eq!(serde_json::to_value(dto.state).expect("json"), json!(name));
        assert_eq!(core_name, name, "the DTO names states as the core does");
    }
    let offline = AccountDto::from(view(AccountState::Offline {
        reason: "down".into(),
        retry_at: at(),
    }));
    assert_eq!(offline.retry_at, Some(AT));
    assert_eq!(offline.reason.as_deref(), Some("down"));
    let refused = AccountDto::from(view(AccountState::Refused {
        reason: "client refused".into(),
        code: "invalid_client",
    }));
    assert_eq!(refused.reason_code.as_deref(), Some("invalid_client"));
    assert_eq!(refused.expires_at, None);
}

#[test]
fn a_sign_out_names_its_revocation() {
    let dto = SignOutDto::from(SignOutReport {
        who: "ada@acme.test".into(),
        revocation: Revocation::Failed {
            reason: "unreachable".into(),
        },
    });
    assert_eq!(
        serde_json::to_value(&dto).expect("json"),
        json!({"who": "ada@acme.test", "revocation": "failed", "reason": "unreachable"})
    );
}

#[test]
fn the_access_token_is_sent_but_never_debug_printed() {
    let dto = AccessTokenDto::from(&AccessToken {
        token: SecretString::new("tok-123"),
        expires_at: Some(at()),
    });
    assert_eq!(
        serde_json::to_value(&dto).expect("json"),
        json!({"token": "tok-123", "expiresAt": AT})
    );
    assert!(!format!("{dto:?}").contains("tok-123"));
}

#[test]
fn change_events_are_tagged_by_kind() {
    assert_eq!(
        serde_json::to_value(ChangeEvent::Changed { account: None }).expect("json"),
        json!({"kind": "changed", "account": null})
    );
    assert_eq!(
        serde_json::to_value(ChangeEvent::sign_in_failed(
            &latchkey_core::session::sign_in::CompleteError::UnknownState
        ))
        .expect("json"),
        json!({"kind": "sign_in_failed", "code": "unknown_state",
               "message": latchkey_core::session::sign_in::CompleteError::UnknownState.to_string(),
               "ignoredLink": true})
    );
    assert_eq!(
        serde_json::to_value(ChangeEvent::SignedIn {
            account: "acct-1".into(),
            provider: "acme".into(),
            replaced: true,
            old_token_revoked: Some(false),
            reauth_of: None,
        })
        .expect("json"),
        json!({"kind": "signed_in", "account": "acct-1", "provider": "acme", "replaced": true,
               "oldTokenRevoked": false, "reauthOf": null})
    );
}
