//! The device grant against a fake authorization server.
use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::error::ErrorCode as _;
use crate::testing::{CLIENT_ID, Canned, FakeServer, ISSUER};

fn endpoints() -> DeviceEndpoints {
    DeviceEndpoints {
        device_authorization: Url::parse(&format!("{ISSUER}/device/auth")).expect("url"),
        token: Url::parse(&format!("{ISSUER}/token")).expect("url"),
        client_id: CLIENT_ID.into(),
    }
}

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn device_answer() -> Canned {
    Canned::json(
        200,
        serde_json::json!({
            "device_code": "DEVICE-SECRET",
            "user_code": "WDJB-MJHT",
            "verification_uri": format!("{ISSUER}/device"),
            "verification_uri_complete": format!("{ISSUER}/device?user_code=WDJB-MJHT"),
            "expires_in": 600,
            "interval": 5,
        }),
    )
}

fn error(code: &str) -> Canned {
    Canned::json(400, serde_json::json!({ "error": code }))
}

#[tokio::test]
async fn the_device_authorization_is_asked_for_with_the_client_and_scopes() {
    let server = FakeServer::new();
    server.set("/device/auth", device_answer());
    let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
    let auth = request_device_authorization(&server, &endpoints(), &scopes, t0())
        .await
        .expect("authorized");
    assert_eq!(auth.user_code, "WDJB-MJHT");
    assert_eq!(auth.verification_uri.as_str(), format!("{ISSUER}/device"));
    assert!(auth.verification_uri_complete.is_some());
    assert_eq!(auth.expires_at, t0() + Duration::from_secs(600));
    assert_eq!(auth.interval, Duration::from_secs(5));
    assert!(
        !format!("{auth:?}").contains("DEVICE-SECRET"),
        "no device code in Debug"
    );
    let body = &server.bodies("/device/auth")[0];
    assert!(body.contains(&format!("client_id={CLIENT_ID}")), "{body}");
    assert!(body.contains("scope=openid+offline_access"), "{body}");
}

#[tokio::test]
async fn a_verification_page_that_is_not_a_web_address_is_refused() {
    let server = FakeServer::new();
    server.set(
        "/device/auth",
        Canned::json(
            200,
            serde_json::json!({
                "device_code": "D", "user_code": "U",
                "verification_uri": "file:///etc/passwd", "expires_in": 600,
            }),
        ),
    );
    let err = request_device_authorization(&server, &endpoints(), &[], t0())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "token_invalid_response");
}

#[tokio::test(start_paused = true)]
async fn polling_waits_the_interval_and_slows_down_when_told() {
    let server = FakeServer::new();
    server.set("/device/auth", device_answer());
    let auth = request_device_authorization(&server, &endpoints(), &[], t0())
        .await
        .expect("authorized");
    server
        .on("/token", error("authorization_pending"))
        .on("/token", error("slow_down"))
        .on(
            "/token",
            Canned::json(
                200,
                serde_json::json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "RT"}),
            ),
        );
    let clock = Arc::new(ManualClock::new(t0()));
    let started = tokio::time::Instant::now();
    let tokens = poll_device_token(&server, &endpoints(), &auth, clock.as_ref())
        .await
        .expect("approved");
    assert_eq!(tokens.access_token.expose(), "AT");
    assert_eq!(
        tokens.refresh_token.as_ref().map(SecretString::expose),
        Some("RT")
    );
    let bodies = server.bodies("/token");
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies[0].contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("device_code=DEVICE-SECRET"));
    // The first poll at once, then 5 s (the interval), then 10 s (slow_down
    // adds 5 s for this and every later request).
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_denied_device_sign_in_is_an_oauth_error() {
    let server = FakeServer::new();
    server.set("/device/auth", device_answer());
    let auth = request_device_authorization(&server, &endpoints(), &[], t0())
        .await
        .expect("authorized");
    server.set("/token", error("access_denied"));
    let clock = ManualClock::new(t0());
    let err = poll_device_token(&server, &endpoints(), &auth, &clock)
        .await
        .expect_err("denied");
    assert!(
        matches!(&err, TokenError::OAuth { error, .. } if error == "access_denied"),
        "{err:?}"
    );
}

use crate::secret::SecretString;
