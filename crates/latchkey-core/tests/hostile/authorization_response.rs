//! Attacks through the authorization response (the deep link).

#![allow(unused_imports)]

use super::attacker::*;
use super::*;

#[tokio::test]
async fn authorization_response_state_mismatch() {
    let f = Fixture::new("state").await;
    let (state, _) = f.begin().await;
    let err = f
        .complete(&Fixture::callback(&format!("{state}x"), ""))
        .await;
    assert_case(&err, "unknown_state", "matches no sign-in");
    assert_eq!(
        f.core.pending().await.expect("pending").len(),
        1,
        "the real request is still pending"
    );
    assert_eq!(f.attacker.hits("/token"), 0);
}

#[tokio::test]
async fn authorization_response_iss_mismatch() {
    let f = Fixture::new("iss").await;
    let (state, _) = f.begin().await;
    let url = format!(
        "dev.latchkey:/oauth/callback?code=stolen-or-real&state={state}&iss=https%3A%2F%2Fevil.example"
    );
    let err = f.complete(&url).await;
    assert_case(&err, "issuer_mismatch", "possible mix-up attack");
    assert_eq!(
        f.attacker.hits("/token"),
        0,
        "the code was not sent anywhere"
    );
}

#[tokio::test]
async fn authorization_response_iss_missing_where_required() {
    let f = Fixture::new("iss-missing").await;
    let (state, _) = f.begin().await;
    let err = f
        .complete(&format!(
            "dev.latchkey:/oauth/callback?code=stolen-or-real&state={state}"
        ))
        .await;
    assert_case(&err, "issuer_missing", "has no issuer");
    assert_eq!(f.attacker.hits("/token"), 0);
}

#[tokio::test]
async fn authorization_response_duplicate_code_or_state() {
    let f = Fixture::new("dup").await;
    let (state, _) = f.begin().await;
    let err = f.complete(&Fixture::callback(&state, "&code=second")).await;
    assert_case(&err, "link_duplicate_parameter", "repeats");
    let err = f
        .complete(&Fixture::callback(&state, &format!("&state={state}")))
        .await;
    assert_case(&err, "link_duplicate_parameter", "repeats");
    assert_eq!(
        f.core.pending().await.expect("pending").len(),
        1,
        "the request survives the forgery"
    );
}

#[tokio::test]
async fn authorization_response_mix_up_between_providers() {
    let f = Fixture::new("mix-up").await;
    f.attacker.on(
        "/.well-known/openid-configuration",
        Reply::Json(200, metadata_doc(ISSUER)),
    );
    // A request to provider B is pending...
    let discovery_b = metadata_doc(ISSUER_B);
    f.attacker.on(
        "/.well-known/openid-configuration",
        Reply::Json(200, discovery_b),
    );
    let pending = f
        .core
        .begin("b", &SignInOptions::default())
        .await
        .expect("begin at B");
    let state_b = pending
        .authorization_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .into_owned();
    // ...and a response from provider A (iss = A) is presented with B's state.
    let err = f.complete(&Fixture::callback(&state_b, "")).await;
    assert_case(&err, "issuer_mismatch", "possible mix-up attack");
    assert_eq!(
        f.attacker.hits("/token"),
        0,
        "B's code was not redeemed at A (or anywhere)"
    );
    let _ = AtomicUsize::new(0).load(Ordering::SeqCst);
}
