//! Device sign-in through the core, against a fake authorization server.
use std::time::Duration;

use crate::accounts::AccountId;
use crate::clock::Clock as _;
use crate::error::ErrorCode as _;
use crate::session::fixture::{Fixture, fixture, metadata};
use crate::session::latchkey::lock;
use crate::testing::{Canned, Claims, ISSUER, jwks};

fn offer_device_grant(f: &Fixture) {
    let mut md = metadata(true);
    md.device_authorization_endpoint =
        Some(url::Url::parse(&format!("{ISSUER}/device/auth")).expect("url"));
    lock(&f.signin.metadata).insert("p".into(), md);
    f.server.set(
        "/device/auth",
        Canned::json(
            200,
            serde_json::json!({
                "device_code": "DEVICE-SECRET", "user_code": "WDJB-MJHT",
                "verification_uri": format!("{ISSUER}/device"), "expires_in": 600, "interval": 5,
            }),
        ),
    );
    f.server.set(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
}

fn approved(f: &Fixture) -> Canned {
    let mut claims = Claims::valid(f.clock.now(), "");
    claims.nonce = None;
    Canned::json(
        200,
        serde_json::json!({
            "access_token": "AT-D", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "RT-D", "id_token": claims.sign().to_string(),
        }),
    )
}

#[tokio::test(start_paused = true)]
async fn a_device_sign_in_stores_the_account_once_approved() {
    let f = fixture("device-ok");
    offer_device_grant(&f);
    let sign_in = f.signin.begin_device("p").await.expect("begun");
    assert_eq!(sign_in.user_code(), "WDJB-MJHT");
    assert_eq!(
        sign_in.verification_uri().as_str(),
        format!("{ISSUER}/device")
    );
    f.server
        .on(
            "/token",
            Canned::json(400, serde_json::json!({"error": "authorization_pending"})),
        )
        .on("/token", approved(&f));
    let signed_in = f.signin.complete_device(sign_in).await.expect("signed in");
    assert_eq!(
        signed_in.account.email.as_deref(),
        Some("alice@example.test")
    );
    let id = AccountId::derive(ISSUER, "alice");
    assert_eq!(signed_in.account.id, id);
    assert_eq!(
        f.signin
            .testing_refresh_token(&id)
            .await
            .expect("keychain")
            .expect("stored")
            .expose(),
        "RT-D"
    );
    // Its access token is there for other processes too.
    let token = f
        .signin
        .fresh_access_token(&id, Duration::from_secs(60))
        .await
        .expect("token");
    assert_eq!(token.token.expose(), "AT-D");
    assert_eq!(f.server.count("/token"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_denied_device_sign_in_is_cancelled_and_stores_nothing() {
    let f = fixture("device-denied");
    offer_device_grant(&f);
    let sign_in = f.signin.begin_device("p").await.expect("begun");
    f.server.set(
        "/token",
        Canned::json(400, serde_json::json!({"error": "access_denied"})),
    );
    let err = f.signin.complete_device(sign_in).await.expect_err("denied");
    assert_eq!(err.code(), "sign_in_cancelled");
    f.nothing_stored();
}

#[tokio::test(start_paused = true)]
async fn an_id_token_for_another_client_is_refused_and_nothing_is_stored() {
    let f = fixture("device-bad-id-token");
    offer_device_grant(&f);
    let sign_in = f.signin.begin_device("p").await.expect("begun");
    let mut claims = Claims::valid(f.clock.now(), "");
    claims.nonce = None;
    claims.aud = vec!["someone-else".into()];
    f.server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({
                "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT",
                "id_token": claims.sign().to_string(),
            }),
        ),
    );
    let err = f
        .signin
        .complete_device(sign_in)
        .await
        .expect_err("refused");
    assert!(err.code().starts_with("id_token"), "{}", err.code());
    f.nothing_stored();
}

#[tokio::test]
async fn a_provider_without_the_device_grant_says_so() {
    let f = fixture("device-none");
    lock(&f.signin.metadata).insert("p".into(), metadata(true));
    let err = f.signin.begin_device("p").await.expect_err("not offered");
    assert_eq!(err.code(), "device_grant_not_offered");
    assert!(err.to_string().contains("Example"), "{err}");
}
