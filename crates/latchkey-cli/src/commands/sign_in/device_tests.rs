use std::time::{Duration, SystemTime};

use latchkey_core::config::discovery::DiscoveryError;
use latchkey_core::flow::request::AuthorizeError;
use latchkey_core::flow::token::TokenError;
use latchkey_core::{CompleteError, DeviceError, VaultError};

use super::*;

const DEVICE: Method = Method::Device { explicit: false };

fn prompt(complete: bool) -> Prompt {
    let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_600);
    Prompt {
        verification_uri: "https://id.example.com/device".into(),
        verification_uri_complete: complete
            .then(|| "https://id.example.com/device?user_code=WDJB-MJHT".into()),
        user_code: "WDJB-MJHT".into(),
        expires_at: rfc3339(expires),
        expires,
    }
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

#[test]
fn the_prompt_shows_the_code_the_page_and_the_expiry_like_gh() {
    let text = prompt(true).text("Work", false, now());
    assert!(
        text.starts_with("! First copy your one-time code: WDJB-MJHT\n"),
        "{text}"
    );
    assert!(
        text.contains("Open https://id.example.com/device in a browser"),
        "{text}"
    );
    assert!(text.contains(
        "(or https://id.example.com/device?user_code=WDJB-MJHT, with the code filled in)"
    ));
    assert!(text.contains("sign in to Work."));
    assert!(
        text.contains("expires in 10m (2027-01-15T08:10:00Z)"),
        "{text}"
    );
    assert!(text.contains("Ctrl-C to cancel"));

    let a_moment_later = prompt(true).text("Work", false, now() + Duration::from_millis(300));
    assert!(
        a_moment_later.contains("expires in 10m ("),
        "{a_moment_later}"
    );

    let opening = prompt(false).text("Work", true, now());
    assert!(opening.contains("Opening https://id.example.com/device in a browser and sign in"));
    assert!(!opening.contains("filled in"));
}

#[test]
fn the_json_prompt_has_the_four_fields() {
    let value = serde_json::to_value(prompt(true)).expect("serializes");
    assert_eq!(
        value,
        serde_json::json!({
            "verification_uri": "https://id.example.com/device",
            "verification_uri_complete": "https://id.example.com/device?user_code=WDJB-MJHT",
            "user_code": "WDJB-MJHT",
            "expires_at": "2027-01-15T08:10:00Z",
        })
    );
    let value = serde_json::to_value(prompt(false)).expect("serializes");
    assert_eq!(value["verification_uri_complete"], serde_json::Value::Null);
}

#[test]
fn a_provider_without_the_device_grant_is_a_usage_error_pointing_at_the_app() {
    let err = DeviceError::NotOffered {
        provider_name: "Work".into(),
    };
    let asked = begin_error(&err, true);
    assert_eq!(asked.exit, Exit::Usage);
    assert!(
        asked.message.starts_with("--device is not offered by Work"),
        "{}",
        asked.message
    );
    assert!(asked.message.contains("Latchkey window"));
    let implied = begin_error(&err, false);
    assert_eq!(implied.exit, Exit::Usage);
    assert!(
        implied
            .message
            .contains("comes back only to the Latchkey app (the dev.latchkey: redirect)")
    );
    assert!(
        implied.message.contains("set LATCHKEY_APP"),
        "{}",
        implied.message
    );
    assert!(implied.message.contains("Latchkey window"));
}

fn unavailable() -> TokenError {
    TokenError::InvalidResponse {
        status: Some(503),
        reason: "HTML page".into(),
        retry_after: None,
        rotated: None,
    }
}

fn refused() -> TokenError {
    TokenError::OAuth {
        error: "unauthorized_client".into(),
        description: None,
        status: Some(400),
        retry_after: None,
    }
}

#[test]
fn an_unreachable_provider_exits_4_and_a_refusal_1() {
    let down = DeviceError::Authorize(AuthorizeError::Discovery(DiscoveryError::Status {
        url: "https://id.example.com/.well-known/openid-configuration".into(),
        status: 502,
    }));
    assert_eq!(begin_error(&down, true).exit, Exit::Unreachable);
    let busy = DeviceError::Token {
        provider_name: "Work".into(),
        source: unavailable(),
    };
    assert_eq!(begin_error(&busy, true).exit, Exit::Unreachable);
    let no = DeviceError::Token {
        provider_name: "Work".into(),
        source: refused(),
    };
    let e = begin_error(&no, true);
    assert_eq!(e.exit, Exit::Failure);
    assert!(e.message.contains("unauthorized_client") && e.message.contains("providers file"));
}

#[test]
fn denied_and_expired_exit_1_and_say_nothing_was_stored() {
    let denied = complete_error(
        &CompleteError::Cancelled {
            provider_name: "Work".into(),
            description: Some("End-User aborted interaction".into()),
        },
        DEVICE,
    );
    assert_eq!(denied.exit, Exit::Failure);
    assert!(
        denied
            .message
            .starts_with("the sign-in was denied at Work (End-User aborted")
    );
    assert!(denied.message.contains("nothing was stored"));
    let expired = complete_error(
        &CompleteError::Expired {
            provider_name: "Work".into(),
        },
        DEVICE,
    );
    assert_eq!(expired.exit, Exit::Failure);
    assert!(
        expired.message.contains("the code expired"),
        "{}",
        expired.message
    );
    assert!(expired.message.contains("run the command again"));
}

#[test]
fn while_waiting_transport_trouble_is_4_and_the_keychain_5() {
    let lost = complete_error(
        &CompleteError::Token {
            provider_name: "Work".into(),
            source: unavailable(),
        },
        DEVICE,
    );
    assert_eq!(lost.exit, Exit::Unreachable);
    let refused = complete_error(
        &CompleteError::Token {
            provider_name: "Work".into(),
            source: refused(),
        },
        DEVICE,
    );
    assert_eq!(refused.exit, Exit::Failure);
    let keychain = complete_error(
        &CompleteError::Vault(VaultError::Unavailable {
            reason: "no bus".into(),
        }),
        DEVICE,
    );
    assert_eq!(keychain.exit, Exit::Keychain);
    assert!(keychain.message.contains("nothing was stored"));
    assert!(keychain.message.contains("unlock the system keychain"));
    assert_eq!(
        std::process::ExitCode::from(Exit::Interrupted),
        std::process::ExitCode::from(130)
    );
}
