//! Loopback sign-ins through the core: a real listener, a fake IdP.
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use url::Url;

use super::*;
use crate::ErrorCode as _;
use crate::config::identity::AppIdentity;
use crate::session::fixture::{Fixture, fixture_with, urlencode};
use crate::testing::ISSUER;
use crate::vault::SecretStore as _;

fn loopback(name: &str, extra: &str) -> Fixture {
    fixture_with(
        name,
        &AppIdentity::latchkey(),
        &format!("redirect = \"loopback\"\n{extra}"),
    )
}

/// The redirect URI a pending sign-in was started with (port included).
fn redirect_uri_of(summary: &PendingSummary) -> Url {
    let sent = summary
        .authorization_url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("redirect_uri");
    Url::parse(&sent).expect("url")
}

/// What the browser does at the end: GET the redirect, read the page.
async fn browser_get(uri: &Url, query: &str) -> String {
    let port = uri.port().expect("port");
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let request = format!(
        "GET {}?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: keep-alive\r\n\r\n",
        uri.path()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut page = Vec::new();
    let _ = stream.read_to_end(&mut page).await;
    String::from_utf8_lossy(&page).into_owned()
}

fn response_for(state: &str) -> String {
    format!("code=C1&state={state}&iss={}", urlencode(ISSUER))
}

async fn refused(uri: &Url) -> bool {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", uri.port().expect("port")))
            .await
            .is_err()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn next_outcome(
    outcomes: &mut tokio::sync::broadcast::Receiver<SignInOutcome>,
) -> SignInOutcome {
    tokio::time::timeout(Duration::from_secs(10), outcomes.recv())
        .await
        .expect("an outcome in time")
        .expect("an outcome")
}

#[tokio::test]
async fn a_loopback_sign_in_completes_from_one_request_and_closes_its_port() {
    let f = loopback("lb-happy", "");
    let mut outcomes = f.signin.sign_in_outcomes();
    let (summary, state, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    assert_eq!(
        uri.host_str(),
        Some("127.0.0.1"),
        "the IP literal, never localhost"
    );
    assert_eq!(uri.path(), "/oauth/callback");
    assert!(f.signin.is_listening(&summary.handle));

    let page = browser_get(&uri, &response_for(&state)).await;
    assert!(
        page.starts_with("HTTP/1.1 200 ") && page.contains("You are signed in"),
        "{page}"
    );
    assert!(
        !page.contains(&state) && !page.contains("C1"),
        "no state or code in the page"
    );
    let outcome = next_outcome(&mut outcomes).await;
    assert_eq!(outcome.handle, summary.handle);
    let signed_in = outcome.result.as_ref().as_ref().expect("signed in");
    assert_eq!(signed_in.account.subject, "alice");
    assert!(
        f.store
            .get(signed_in.account.id.as_str())
            .expect("get")
            .is_some(),
        "the refresh token is in the keychain"
    );
    // The code was redeemed with the exact redirect URI, port included.
    let token_request = f.server.bodies("/token").remove(0);
    assert!(
        token_request.contains(&format!("redirect_uri={}", urlencode(uri.as_str()))),
        "{token_request}"
    );
    assert!(refused(&uri).await, "the port is closed after completion");
    assert!(!f.signin.is_listening(&summary.handle));
    assert!(f.signin.pending().await.expect("pending").is_empty());
}

#[tokio::test]
async fn a_request_with_another_state_or_path_does_not_end_the_sign_in() {
    let f = loopback("lb-forged", "");
    let mut outcomes = f.signin.sign_in_outcomes();
    // A scheme-style sign-in cannot be reached through a loopback listener:
    // only this listener's own state counts.
    let (summary, state, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    let forged = browser_get(&uri, &response_for("forged-state")).await;
    assert!(forged.starts_with("HTTP/1.1 400 "), "{forged}");
    let mut elsewhere = uri.clone();
    elsewhere.set_path("/other");
    assert!(
        browser_get(&elsewhere, &response_for(&state))
            .await
            .starts_with("HTTP/1.1 404 ")
    );
    assert_eq!(f.server.count("/token"), 0, "nothing was exchanged");
    assert!(f.signin.is_listening(&summary.handle), "still listening");
    assert_eq!(
        f.signin.pending().await.expect("pending").len(),
        1,
        "still pending"
    );
    assert!(outcomes.try_recv().is_err(), "nothing reported");
    f.nothing_stored();
    // The real response still completes it.
    browser_get(&uri, &response_for(&state)).await;
    assert!(next_outcome(&mut outcomes).await.result.is_ok());
}

#[tokio::test]
async fn a_failed_response_ends_the_sign_in_like_a_deep_link_would() {
    let f = loopback("lb-iss", "");
    let mut outcomes = f.signin.sign_in_outcomes();
    let (summary, state, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    let query = format!(
        "code=C1&state={state}&iss={}",
        urlencode("https://evil.example")
    );
    let page = browser_get(&uri, &query).await;
    assert!(
        page.contains("Sign-in failed") && !page.contains("evil"),
        "{page}"
    );
    let outcome = next_outcome(&mut outcomes).await;
    let err = outcome.result.as_ref().as_ref().expect_err("refused");
    assert_eq!(err.code(), "issuer_mismatch");
    assert!(refused(&uri).await);
    f.nothing_stored();
}

#[tokio::test]
async fn cancel_closes_the_listener() {
    let f = loopback("lb-cancel", "");
    let mut outcomes = f.signin.sign_in_outcomes();
    let (summary, state, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    assert!(f.signin.cancel(&summary.handle).await.expect("cancel"));
    assert!(refused(&uri).await, "the port is closed after cancel");
    assert!(!f.signin.is_listening(&summary.handle));
    assert_eq!(browser_get(&uri, &response_for(&state)).await, "");
    assert!(
        outcomes.try_recv().is_err(),
        "a cancel is not reported back"
    );
    assert_eq!(f.server.count("/token"), 0);
}

#[tokio::test]
async fn an_expired_sign_in_closes_its_listener_and_says_so() {
    let f = loopback("lb-expiry", "");
    let mut outcomes = f.signin.sign_in_outcomes();
    let (summary, _, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    f.clock
        .advance(crate::authorize::PENDING_TTL + Duration::from_secs(1));
    let outcome = next_outcome(&mut outcomes).await;
    let err = outcome.result.as_ref().as_ref().expect_err("expired");
    assert_eq!(err.code(), "sign_in_expired");
    assert!(refused(&uri).await);
    assert!(
        f.store
            .get(crate::authorize::PENDING_KEY)
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn a_fixed_port_list_is_used_in_order() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy_port = busy.local_addr().expect("addr").port();
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let f = loopback(
        "lb-ports",
        &format!("loopback_ports = [{busy_port}, {free_port}]\n"),
    );
    let (summary, _, _) = f.begin_summary(true, true).await;
    assert_eq!(redirect_uri_of(&summary).port(), Some(free_port));
    // Every port taken: the sign-in does not start, and says why.
    let err = f
        .signin
        .begin("p", &SignInOptions::default())
        .await
        .expect_err("no free port");
    assert_eq!(err.code(), "loopback_unavailable");
    assert!(err.to_string().contains(&busy_port.to_string()), "{err}");
}

#[tokio::test]
async fn a_provider_without_iss_gets_a_loopback_path_of_its_own() {
    let f = loopback("lb-noiss", "");
    let (summary, _, _) = f.begin_summary(false, true).await;
    assert_eq!(redirect_uri_of(&summary).path(), "/oauth/callback/p");
}

#[tokio::test]
async fn a_sign_in_left_pending_by_a_quit_is_reported_once_at_the_next_launch() {
    let f = loopback("lb-quit", "");
    let (summary, _, _) = f.begin_summary(true, true).await;
    let uri = redirect_uri_of(&summary);
    // Another core over the same keychain and folder (a second process):
    // this listener lives, so its launch leaves the sign-in alone.
    let other = || {
        Arc::new(
            crate::Latchkey::builder(AppIdentity::latchkey())
                .http(f.server.clone())
                .vault(crate::vault::Vault::new(f.store.clone()))
                .clock(f.clock.clone())
                .data_dir(&f.dir)
                .providers(f.signin.providers().to_vec())
                .build()
                .expect("built"),
        )
    };
    let report = other().launch().await.expect("launched");
    assert!(report.interrupted_sign_ins.is_empty());
    assert_eq!(f.signin.pending().await.expect("pending").len(), 1);
    // The app quits: the listener closes, the sign-in stays for the next start.
    f.signin.shutdown(Duration::from_secs(1)).await;
    assert!(refused(&uri).await, "quitting closes the port");
    let next = other();
    let report = next.launch().await.expect("launched");
    let [interrupted] = report.interrupted_sign_ins.as_slice() else {
        panic!("one interrupted sign-in: {:?}", report.interrupted_sign_ins);
    };
    assert_eq!(interrupted.code(), "sign_in_cancelled");
    assert!(interrupted.to_string().contains("Example"), "{interrupted}");
    assert!(next.pending().await.expect("pending").is_empty());
    // Shown once: the launch after that has nothing to say.
    assert!(
        other()
            .launch()
            .await
            .expect("launched")
            .interrupted_sign_ins
            .is_empty()
    );
}
