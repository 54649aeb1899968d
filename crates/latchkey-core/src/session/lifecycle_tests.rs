//! The account lifecycle over a fake IdP and an in-memory keychain: when it
//! refreshes, how it backs off while offline, and when it stops.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{setup, stored_token, t0, tokens};
use super::*;
use crate::testing::{Canned, FakeServer, eventually};

#[tokio::test]
async fn the_lifecycle_stops_when_the_account_needs_sign_in() {
    let server = Arc::new(FakeServer::new());
    let s = setup("lifecycle", server.clone()).await;
    server.set(
        "/token",
        Canned::json(400, serde_json::json!({"error": "invalid_grant"})),
    );
    tokio::time::timeout(
        Duration::from_secs(5),
        s.core.run_account(s.id.clone(), Backoff::default()),
    )
    .await
    .expect("the loop ends by itself");
    assert!(matches!(
        s.core.live_status(&s.id),
        Some(LiveStatus::NeedsSignIn { .. })
    ));
    assert!(!s.core.is_running(&s.id));
}

#[tokio::test(start_paused = true)]
async fn the_lifecycle_backs_off_while_offline_and_recovers() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("offline", server.clone()).await);
    server.set(
        "/token",
        Canned {
            headers: Vec::new(),
            status: 503,
            content_type: "text/html",
            body: String::new(),
        },
    );
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            s.core
                .run_account(
                    s.id.clone(),
                    Backoff {
                        base: Duration::from_secs(2),
                        cap: Duration::from_secs(60),
                        jitter: 0.0,
                    },
                )
                .await
        })
    };
    eventually("offline, first attempt", || {
        matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Offline { attempt: 1, .. })
        )
    })
    .await;
    s.clock.advance(Duration::from_millis(1999));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count("/token"), 1, "not before the 2 s backoff");
    s.clock.advance(Duration::from_millis(1));
    eventually("offline, second attempt", || {
        matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Offline { attempt: 2, .. })
        )
    })
    .await;
    assert_eq!(server.count("/token"), 2);
    // The provider comes back; "Retry now" does not wait for the 4 s backoff.
    server.set("/token", tokens(Some("RT-1")));
    s.core.retry_now(&s.id);
    eventually("ready after Retry now", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    runner.abort();
}

#[tokio::test(start_paused = true)]
async fn the_lifecycle_refreshes_at_80_percent_of_the_lifetime() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("proactive", server.clone()).await);
    // expires_in 600 s: 80 % (480 s) comes before "60 s before expiry" (540 s).
    server.set("/token", tokens(Some("RT-1")));
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.run_account(s.id.clone(), Backoff::default()).await })
    };
    eventually("refreshed at start", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(server.count("/token"), 1, "refreshed at start");
    let Some(LiveStatus::Ready {
        expires_at: Some(expires_at),
        next_refresh_at,
    }) = s.core.live_status(&s.id)
    else {
        panic!("ready: {:?}", s.core.live_status(&s.id));
    };
    assert_eq!(expires_at, t0() + Duration::from_secs(600));
    assert_eq!(next_refresh_at, t0() + Duration::from_secs(480));
    // Real time passing does nothing: only the injected clock schedules.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    s.clock.advance(Duration::from_secs(479));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.count("/token"), 1, "not before 80 %");
    server.set("/token", tokens(Some("RT-2")));
    s.clock.advance(Duration::from_secs(1));
    eventually("refreshed at 80 % and planned again", || {
        matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Ready { next_refresh_at, .. })
                if next_refresh_at > t0() + Duration::from_secs(480)
        )
    })
    .await;
    assert_eq!(server.count("/token"), 2, "refreshed once at 80 %");
    assert!(
        server.requests.lock().expect("lock")[1]
            .1
            .contains("refresh_token=RT-1"),
        "with the rotated token"
    );
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-2");
    let Some(LiveStatus::Ready {
        next_refresh_at, ..
    }) = s.core.live_status(&s.id)
    else {
        panic!("ready again");
    };
    assert_eq!(next_refresh_at, t0() + Duration::from_secs(480 + 480));
    runner.abort();
}

#[tokio::test]
async fn an_account_refused_for_a_missing_provider_is_retried_when_it_comes_back() {
    let server = Arc::new(FakeServer::new());
    server.serve_discovery();
    let s = Arc::new(setup("provider-back", server.clone()).await);
    server.set("/token", tokens(Some("RT-1")));
    // The providers file lost the account's provider (an edit by hand).
    let configured = s.core.providers().to_vec();
    s.core.set_providers(Vec::new());
    let runner = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.run_account(s.id.clone(), Backoff::default()).await })
    };
    eventually("refused: its provider is not configured", || {
        matches!(
            s.core.live_status(&s.id),
            Some(LiveStatus::Refused {
                code: "unknown_provider",
                ..
            })
        )
    })
    .await;
    assert_eq!(server.count("/token"), 0);
    assert_eq!(
        stored_token(&s.core, &s.id).await,
        "RT-0",
        "the grant is kept"
    );
    // The provider is back: no "Retry now" is needed.
    s.core.set_providers(configured);
    eventually("ready once the provider is back", || {
        matches!(s.core.live_status(&s.id), Some(LiveStatus::Ready { .. }))
    })
    .await;
    assert_eq!(server.count("/token"), 1);
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    runner.abort();
}
