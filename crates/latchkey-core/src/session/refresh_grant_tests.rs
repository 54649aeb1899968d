//! "Never lose a grant": every way a refresh can fail, and what it must keep.
//! Each test names the finding of the reliability issue it covers.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::tests::{Setup, setup, stored_token, t0, tokens};
use super::*;
use crate::accounts::AccountStatus;
use crate::testing::{Canned, Claims, FakeServer, ISSUER, eventually, jwks, jwks_without_kid};
use crate::vault::SecretStore as _;

fn status(s: &Setup) -> AccountStatus {
    s.core
        .accounts()
        .expect("book")
        .get(&s.id)
        .expect("account kept")
        .status
}

fn with_revocation(s: &Setup, server: &FakeServer) {
    let url = Url::parse(&format!("{ISSUER}/revoke")).expect("url");
    lock(&s.core.metadata)
        .get_mut("p")
        .expect("metadata")
        .revocation_endpoint = Some(url);
    server.set("/revoke", Canned::json(200, serde_json::json!({})));
}

fn revoked(server: &FakeServer) -> Vec<String> {
    server.bodies("/revoke")
}

/// A token response carrying `id_token` (and a rotated refresh token).
fn with_id_token(claims: &Claims) -> Canned {
    Canned::json(
        200,
        serde_json::json!({
            "access_token": "AT", "token_type": "Bearer", "expires_in": 600,
            "refresh_token": "RT-1", "id_token": claims.sign().to_string(),
        }),
    )
}

fn refreshed_claims() -> Claims {
    let mut claims = Claims::valid(t0(), "unused");
    claims.nonce = None;
    claims
}

/// Finding 1: only `invalid_grant` says the refresh token is dead.
#[tokio::test]
async fn only_invalid_grant_ends_a_grant_every_other_answer_keeps_it() {
    let oauth =
        |status: u16, error: &str| Canned::json(status, serde_json::json!({ "error": error }));
    let cases: Vec<(&str, Canned, bool)> = vec![
        (
            "waf-403",
            Canned::html(403, "<html>Checking your browser…</html>"),
            false,
        ),
        (
            "proxy-407",
            Canned::html(407, "<html>Proxy Authentication Required</html>"),
            false,
        ),
        ("lb-404", Canned::html(404, "<html>Not Found</html>"), false),
        (
            "captive-302",
            Canned::html(302, "").with_header("location", "https://captive.example/"),
            false,
        ),
        (
            "html-200",
            Canned::html(200, "<html><body>Sign in to the Wi-Fi</body></html>"),
            false,
        ),
        (
            "json-200-garbage",
            Canned::json(200, serde_json::json!({"hello": "world"})),
            false,
        ),
        ("invalid_client", oauth(401, "invalid_client"), true),
        (
            "unauthorized_client",
            oauth(400, "unauthorized_client"),
            true,
        ),
        ("invalid_scope", oauth(400, "invalid_scope"), true),
        ("invalid_request", oauth(400, "invalid_request"), true),
        ("server_error", oauth(500, "server_error"), false),
        (
            "temporarily_unavailable",
            oauth(503, "temporarily_unavailable"),
            false,
        ),
    ];
    for (name, answer, refused) in cases {
        let server = Arc::new(FakeServer::new());
        let s = setup(&format!("keep-{name}"), server.clone()).await;
        server.set("/token", answer);
        let err = s.core.refresh_account(&s.id).await.expect_err(name);
        assert_eq!(
            stored_token(&s.core, &s.id).await,
            "RT-0",
            "{name}: token lost"
        );
        assert_eq!(status(&s), AccountStatus::Active, "{name}: marked");
        if refused {
            assert!(
                matches!(err, RefreshError::Refused { .. }),
                "{name}: {err:?}"
            );
            assert_eq!(err.code(), name);
        } else {
            assert!(err.is_transient(), "{name}: {err:?}");
        }
    }
    // invalid_grant, and only it, ends the grant.
    let server = Arc::new(FakeServer::new());
    let s = setup("keep-invalid-grant", server.clone()).await;
    server.set("/token", oauth(400, "invalid_grant"));
    let err = s.core.refresh_account(&s.id).await.expect_err("dead");
    assert_eq!(err.code(), "invalid_grant");
    assert_eq!(s.store.get(s.id.as_str()).expect("get"), None);
    assert_eq!(status(&s), AccountStatus::NeedsSignIn);
}

/// Finding 2: a refreshed ID token that fails a check never deletes the
/// token that was just rotated and stored.
#[tokio::test]
async fn a_refreshed_id_token_that_fails_a_check_keeps_the_rotated_token() {
    let mut bad_signature = refreshed_claims();
    bad_signature.key = 2; // not in the key set, even after a re-fetch
    let mut expired = refreshed_claims();
    expired.iat = t0() - Duration::from_secs(3 * 3600);
    expired.exp = t0() - Duration::from_secs(2 * 3600);
    let mut other_audience = refreshed_claims();
    other_audience.aud = vec!["someone-else".into()];
    other_audience.key = 2; // and not signed by the provider: proves nothing
    for (name, claims, code) in [
        ("bad-signature", bad_signature, "id_token_signature"),
        ("expired", expired, "clock_skew"),
        ("unsigned-audience", other_audience, "id_token_audience"),
    ] {
        let server = Arc::new(FakeServer::new());
        let s = setup(&format!("idt-{name}"), server.clone()).await;
        server.set("/token", with_id_token(&claims));
        server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        let err = s.core.refresh_account(&s.id).await.expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        assert_eq!(
            stored_token(&s.core, &s.id).await,
            "RT-1",
            "{name}: rotated token lost"
        );
        assert_eq!(status(&s), AccountStatus::Active, "{name}");
        assert!(
            s.core.access_token(&s.id).is_none(),
            "{name}: unverified access token used"
        );
    }
}

/// Finding 2: a JWKS outage (503, HTML) at launch is transient.
#[tokio::test]
async fn a_jwks_outage_is_transient_and_keeps_the_token() {
    for (name, answer) in [
        ("503", Canned::html(503, "<html>down</html>")),
        ("html", Canned::html(200, "<html>login</html>")),
    ] {
        let server = Arc::new(FakeServer::new());
        let s = setup(&format!("jwks-{name}"), server.clone()).await;
        server.set("/token", with_id_token(&refreshed_claims()));
        server.set("/jwks", answer);
        let err = s.core.refresh_account(&s.id).await.expect_err(name);
        assert!(err.is_transient(), "{name}: {err:?}");
        assert_eq!(err.code(), "jwks_unavailable");
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
        assert_eq!(status(&s), AccountStatus::Active);
        // The JWKS comes back: the next refresh succeeds.
        server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        server.set("/token", tokens(Some("RT-2")));
        s.core.refresh_account(&s.id).await.expect("recovered");
    }
}

/// Finding 2: a clock a few minutes fast with 5-minute ID tokens.
#[tokio::test]
async fn a_clock_six_minutes_fast_with_five_minute_id_tokens_keeps_the_account() {
    let server = Arc::new(FakeServer::new());
    let s = setup("skew-6m", server.clone()).await;
    // The provider's clock says t0 - 6 min; its ID token lives 5 minutes.
    let provider_now = t0() - Duration::from_secs(6 * 60);
    let mut claims = refreshed_claims();
    claims.iat = provider_now;
    claims.exp = provider_now + Duration::from_secs(5 * 60);
    server.set("/token", with_id_token(&claims));
    server.set(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
    s.core
        .refresh_account(&s.id)
        .await
        .expect("6 minutes of skew tolerated");
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    // Far off: kept, and the message says what is wrong.
    let provider_now = t0() - Duration::from_secs(40 * 60);
    let mut claims = refreshed_claims();
    claims.iat = provider_now;
    claims.exp = provider_now + Duration::from_secs(5 * 60);
    let date = chrono::DateTime::<chrono::Utc>::from(provider_now).to_rfc2822();
    server.set("/token", with_id_token(&claims).with_header("date", date));
    let err = s.core.refresh_account(&s.id).await.expect_err("40 minutes");
    assert_eq!(err.code(), "clock_skew");
    assert!(err.to_string().contains("40 minutes ahead of"), "{err}");
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    assert_eq!(status(&s), AccountStatus::Active);
}

/// Finding 13: a provider that signs without `kid` and rotates its only key.
#[tokio::test]
async fn a_rotated_key_without_kid_is_refetched_not_fatal() {
    let server = Arc::new(FakeServer::new());
    let s = setup("nokid", server.clone()).await;
    // The first refresh caches the provider's only key (no kid).
    let mut claims = refreshed_claims();
    claims.no_kid = true;
    server.set("/token", with_id_token(&claims));
    server.set(
        "/jwks",
        Canned::json(
            200,
            serde_json::to_value(jwks_without_kid(&[1])).expect("jwks"),
        ),
    );
    s.core.refresh_account(&s.id).await.expect("first");
    // The provider rotates to a new unnamed key.
    claims.key = 2;
    let mut second =
        serde_json::from_str::<serde_json::Value>(&with_id_token(&claims).body).expect("json");
    second["refresh_token"] = "RT-2".into();
    server.set("/token", Canned::json(200, second));
    server.set(
        "/jwks",
        Canned::json(
            200,
            serde_json::to_value(jwks_without_kid(&[2])).expect("jwks"),
        ),
    );
    s.core
        .refresh_account(&s.id)
        .await
        .expect("re-fetched the key set");
    assert_eq!(server.count("/jwks"), 2);
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-2");
}

/// Rule: a validly signed ID token proving another subject or issuer ends the
/// grant — and the still-live token is revoked first.
#[tokio::test]
async fn a_proven_identity_change_revokes_then_ends_the_grant() {
    let mut other_subject = refreshed_claims();
    other_subject.sub = "mallory".into();
    let mut other_issuer = refreshed_claims();
    other_issuer.iss = "https://evil.example".into();
    for (name, claims, code) in [
        ("sub", other_subject, "id_token_subject_changed"),
        ("iss", other_issuer, "id_token_issuer"),
    ] {
        let server = Arc::new(FakeServer::new());
        let s = setup(&format!("proven-{name}"), server.clone()).await;
        with_revocation(&s, &server);
        server.set("/token", with_id_token(&claims));
        server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        let err = s.core.refresh_account(&s.id).await.expect_err(name);
        assert_eq!(err.code(), code);
        let revoked = revoked(&server);
        assert_eq!(revoked.len(), 1, "{name}: revoked once");
        assert!(
            revoked[0].contains("token=RT-1"),
            "{name}: the live token: {}",
            revoked[0]
        );
        assert_eq!(s.store.get(s.id.as_str()).expect("get"), None);
        assert_eq!(status(&s), AccountStatus::NeedsSignIn);
    }
}

/// Finding 13: a 2xx response whose body is unusable but carries a rotated
/// refresh token: the provider may have retired ours, so it is kept.
#[tokio::test]
async fn a_rotated_token_in_an_unusable_response_is_kept() {
    let server = Arc::new(FakeServer::new());
    let s = setup("salvage", server.clone()).await;
    server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({"token_type": "Bearer", "refresh_token": "RT-1"}),
        ),
    );
    let err = s
        .core
        .refresh_account(&s.id)
        .await
        .expect_err("no access token");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
}

/// Rule: transient failures honour `Retry-After`.
#[tokio::test]
async fn retry_after_is_honoured() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("retry-after", server.clone()).await);
    server.set(
        "/token",
        Canned::html(503, "").with_header("retry-after", "120"),
    );
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.run_account(s.id.clone(), Backoff::default()).await })
    };
    eventually("offline after the 503", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Offline { .. }))
    })
    .await;
    let Some(LiveStatus::Offline { retry_at, .. }) = s.core.live_status(&s.id) else {
        panic!("{:?}", s.core.live_status(&s.id))
    };
    assert!(retry_at >= t0() + Duration::from_secs(120), "{retry_at:?}");
    s.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count("/token"), 1, "retried before Retry-After");
    runner.abort();
}

/// Rule: "refused" is not retried in a loop; "Retry now" retries it.
#[tokio::test]
async fn a_refused_account_waits_for_retry_now() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("refused-loop", server.clone()).await);
    server.set(
        "/token",
        Canned::json(401, serde_json::json!({"error": "invalid_client"})),
    );
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.run_account(s.id.clone(), Backoff::default()).await })
    };
    eventually("refused after invalid_client", || {
        matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Refused {
                code: "invalid_client",
                ..
            })
        )
    })
    .await;
    s.clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count("/token"), 1, "retried on its own");
    // The provider settings are fixed; the person clicks Retry now.
    server.set("/token", tokens(Some("RT-1")));
    s.core.retry_now(&s.id);
    eventually("ready after Retry now", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    runner.abort();
}

/// Finding 3: sign-out during a refresh waits for it and revokes the token
/// it rotated: no live token survives, nothing is written back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_during_a_refresh_leaves_no_live_token() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("signout-race", server.clone()).await);
    with_revocation(&s, &server);
    server.set("/token", tokens(Some("RT-1")));
    *server.delay.lock().expect("delay") = Duration::from_millis(300);
    let refresh = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.refresh_account(&s.id).await })
    };
    // The refresh request is at the provider.
    while server.count("/token") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    *server.delay.lock().expect("delay") = Duration::ZERO;
    let report = s.core.sign_out(&s.id).await.expect("signed out");
    assert!(matches!(
        report.revocation,
        crate::manage::Revocation::Revoked
    ));
    let _ = refresh.await.expect("task");
    let revoked = revoked(&server);
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0].contains("token=RT-1"),
        "revoked the rotated token: {}",
        revoked[0]
    );
    assert_eq!(
        s.store.get(s.id.as_str()).expect("get"),
        None,
        "written back after sign-out"
    );
    assert!(s.core.accounts().expect("book").get(&s.id).is_none());
    assert!(s.core.access_token(&s.id).is_none());
}
