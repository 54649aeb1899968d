//! Sign-in and account management tests over a fake IdP.
use std::time::Duration;

use super::*;
use crate::accounts::AccountId;
use crate::session::fixture::*;
use crate::testing::{Canned, Claims, ISSUER, jwks};
use crate::vault::SecretStore;

#[tokio::test]
async fn a_sign_in_completes_and_stores_token_and_metadata() {
    let f = fixture("happy");
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback?code=C1&state={state}&iss={}",
        urlencode(ISSUER)
    );
    let done = f
        .signin
        .complete(&url, &callback())
        .await
        .expect("signed in");
    assert_eq!(done.account.subject, "alice");
    assert_eq!(done.account.email.as_deref(), Some("alice@example.test"));
    assert!(!done.replaced);
    assert_eq!(
        f.signin
            .read_refresh_token(&done.account.id)
            .await
            .expect("get")
            .expect("rt")
            .expose(),
        "RT-1"
    );
    assert_eq!(f.signin.accounts().expect("accounts").accounts.len(), 1);
    assert!(f.signin.access_token(&done.account.id).is_some());
    let token_request = f
        .server
        .requests
        .lock()
        .expect("lock")
        .iter()
        .find(|(p, _)| p == "/token")
        .cloned()
        .expect("token request");
    assert!(token_request.1.contains("code=C1"));
    assert!(token_request.1.contains("code_verifier="));
    // The pending request is gone: a repeat of the link (a double click on
    // the browser's prompt) is a quiet no-op, not a forgery alarm.
    let replay = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("replay");
    assert_eq!(replay.code(), "sign_in_link_repeated");
    assert!(replay.is_repeat() && !replay.is_ignored_link());
    assert_eq!(f.server.count("/token"), 1);
    // A state nobody issued is still reported.
    let forged = f
        .signin
        .complete(&callback_for("never-issued"), &callback())
        .await
        .expect_err("forged");
    assert_eq!(forged.code(), "unknown_state");
    // A minute later a replay is an unknown link again.
    lock(&f.signin.recent).clear();
    let late = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("late");
    assert_eq!(late.code(), "unknown_state");
}

#[tokio::test]
async fn the_link_of_a_sign_in_begun_here_reaches_the_stored_account_without_reading_the_keychain()
{
    let f = fixture("sign-in-path");
    let (state, _) = f.begin(true, true).await;
    let id = AccountId::derive(ISSUER, "alice");
    f.store.take_calls();
    f.signin
        .complete(&callback_for(&state), &callback())
        .await
        .expect("signed in");
    f.signin.settle().await;
    let calls = f.store.take_calls();
    let stored = calls
        .iter()
        .position(|c| *c == format!("set {id}"))
        .expect("the account's item is stored");
    assert!(
        calls[..stored]
            .iter()
            .all(|c| !c.ends_with("pending-authorizations")),
        "nothing of the pending request before the account is stored: {calls:?}"
    );
    // Then the request it answered leaves the keychain.
    assert_eq!(
        calls.last().map(String::as_str),
        Some("delete pending-authorizations")
    );
    assert!(f.signin.pending().await.expect("pending").is_empty());
    // A repeat of the link finds nothing, in memory or in the keychain.
    assert!(matches!(
        f.signin.complete(&callback_for(&state), &callback()).await,
        Err(CompleteError::Repeated)
    ));
}

#[tokio::test]
async fn unknown_state_changes_nothing() {
    let f = fixture("unknown");
    let (state, _) = f.begin(true, true).await;
    let err = f
        .signin
        .complete(
            "dev.latchkey:/oauth/callback?code=C&state=forged",
            &callback(),
        )
        .await
        .expect_err("unknown");
    assert!(err.is_ignored_link());
    assert_eq!(
        f.signin.pending().await.expect("pending").len(),
        1,
        "the real one is still pending"
    );
    f.nothing_stored();
    // The real one still completes.
    let url = callback_for(&state);
    assert!(f.signin.complete(&url, &callback()).await.is_ok());
}

#[tokio::test]
async fn iss_mismatch_and_missing_are_rejected_before_any_exchange() {
    let f = fixture("iss");
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback?code=C&state={state}&iss={}",
        urlencode("https://evil.example")
    );
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("mismatch")
            .code(),
        "issuer_mismatch"
    );
    let (state, _) = f.begin(true, true).await;
    let url = format!("dev.latchkey:/oauth/callback?code=C&state={state}");
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("missing")
            .code(),
        "issuer_missing"
    );
    assert_eq!(f.server.count("/token"), 0);
    f.nothing_stored();
    // A provider that does not promise iss may omit it, on its own
    // redirect URI (mix-up defence without RFC 9207)…
    let (state, _) = f.begin(false, true).await;
    let shared = format!("dev.latchkey:/oauth/callback?code=C&state={state}");
    let err = f
        .signin
        .complete(&shared, &callback())
        .await
        .expect_err("on the shared callback");
    assert_eq!(err.code(), "redirect_mismatch");
    assert!(!err.is_ignored_link(), "shown, not ignored");
    let (state, _) = f.begin(false, true).await;
    let url = format!("dev.latchkey:/oauth/callback/p?code=C&state={state}");
    let on = crate::redirect::callback_uri(&url, &callback()).expect("callback");
    assert!(f.signin.complete(&url, &on).await.is_ok());
}

#[tokio::test]
async fn a_response_in_the_fragment_ends_its_sign_in_and_says_so() {
    let f = fixture("fragment");
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback#code=C&state={state}&iss={}",
        urlencode(ISSUER)
    );
    let err = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("fragment");
    assert_eq!(err.code(), "fragment_response");
    assert!(!err.is_ignored_link(), "{err}");
    assert!(err.to_string().contains("fragment"), "{err}");
    assert!(!err.to_string().contains(&state), "{err}");
    assert!(
        f.signin.pending().await.expect("pending").is_empty(),
        "the sign-in ended"
    );
    assert_eq!(f.server.count("/token"), 0);
}

#[tokio::test]
async fn error_responses_are_typed() {
    let f = fixture("errors");
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback?error=access_denied&error_description=End-User+aborted+interaction&state={state}&iss={}",
        urlencode(ISSUER)
    );
    let err = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("denied");
    assert_eq!(err.code(), "sign_in_cancelled");
    assert!(err.to_string().contains("End-User aborted interaction"));
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback?error=server_error&state={state}&iss={}",
        urlencode(ISSUER)
    );
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("error")
            .code(),
        "authorization_error"
    );
    f.nothing_stored();
    assert!(f.signin.pending().await.expect("pending").is_empty());
}

#[tokio::test]
async fn expired_pending_sign_in() {
    let f = fixture("expired");
    let (state, _) = f.begin(true, true).await;
    f.clock.advance(Duration::from_secs(11 * 60));
    let url = callback_for(&state);
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("expired")
            .code(),
        "sign_in_expired"
    );
    f.nothing_stored();
}

#[tokio::test]
async fn duplicate_parameters_do_not_consume_the_pending_request() {
    let f = fixture("dup");
    let (state, _) = f.begin(true, true).await;
    let url = format!(
        "dev.latchkey:/oauth/callback?code=A&code=B&state={state}&iss={}",
        urlencode(ISSUER)
    );
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("dup")
            .code(),
        "link_duplicate_parameter"
    );
    assert_eq!(f.signin.pending().await.expect("pending").len(), 1);
}

#[tokio::test]
async fn a_failing_keychain_write_stores_nothing() {
    let f = fixture("vault");
    f.store.refuse_writes(true);
    let (state, _) = f.begin(true, true).await;
    let url = callback_for(&state);
    let err = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("keychain");
    assert_eq!(err.code(), "keychain_locked");
    assert!(err.to_string().contains("nothing was stored"));
    f.nothing_stored();
}

#[tokio::test]
async fn a_failing_registry_write_removes_the_keychain_item() {
    let f = fixture("registry");
    // The registry's lock file is a folder: every write fails (reads work).
    std::fs::create_dir_all(f.dir.join("accounts.lock")).expect("mkdir");
    let (state, _) = f.begin(true, true).await;
    let url = callback_for(&state);
    let err = f
        .signin
        .complete(&url, &callback())
        .await
        .expect_err("registry");
    assert_eq!(err.code(), "registry_io");
    let id = AccountId::derive(ISSUER, "alice");
    assert_eq!(
        f.store.get(id.as_str()).expect("get"),
        None,
        "no orphan keychain item"
    );
}

#[tokio::test]
async fn no_refresh_token_is_a_clear_error() {
    let f = fixture("nort");
    let (state, _) = f.begin(true, false).await;
    let url = callback_for(&state);
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("no rt")
            .code(),
        "no_refresh_token"
    );
    f.nothing_stored();
}

#[tokio::test]
async fn a_wrong_nonce_in_the_id_token_stores_nothing() {
    let f = fixture("nonce");
    with_revocation(&f, 200);
    let pending = f
        .signin
        .begin("p", &SignInOptions::default())
        .await
        .expect("begin");
    let state = query(&pending.authorization_url, "state");
    let id_token = Claims::valid(f.clock.now(), "replayed-nonce").sign();
    f.server.on(
        "/token",
        Canned::json(200, serde_json::json!({"access_token": "AT", "token_type": "Bearer", "refresh_token": "RT", "id_token": id_token.to_string()})),
    );
    f.server.on(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
    let url = callback_for(&state);
    assert_eq!(
        f.signin
            .complete(&url, &callback())
            .await
            .expect_err("nonce")
            .code(),
        "id_token_nonce"
    );
    f.nothing_stored();
    // The grant the provider just issued is ended there too.
    let revoked = f
        .server
        .bodies("/token/revocation")
        .into_iter()
        .next()
        .expect("the refused sign-in's refresh token is revoked");
    assert!(revoked.contains("token=RT&"), "{revoked}");
}

#[tokio::test]
async fn another_app_signs_in_on_its_own_scheme() {
    let identity =
        crate::config::identity::AppIdentity::new("com.example.notes", "com.example.notes")
            .expect("identity");
    let f = fixture_for("other-app", &identity);
    let (state, _) = f.begin(true, true).await;
    let pending = f.signin.pending().await.expect("pending");
    assert_eq!(
        query(&pending[0].authorization_url, "redirect_uri"),
        "com.example.notes:/oauth/callback"
    );
    // Latchkey's own scheme does not complete another app's sign-in.
    let on_latchkey = callback_for(&state);
    let err = f
        .signin
        .complete(&on_latchkey, &callback())
        .await
        .expect_err("not this app's link");
    assert_eq!(err.code(), "redirect_mismatch");
    let (state, _) = f.begin(true, true).await;
    let url = callback_for(&state).replacen("dev.latchkey:", "com.example.notes:", 1);
    let ours = identity.redirect_uri();
    let done = f.signin.complete(&url, &ours).await.expect("signed in");
    f.signin.settle().await;
    assert_eq!(
        f.store.inner.list_keys().expect("keys"),
        [done.account.id.to_string()]
    );
    assert_eq!(f.signin.identity().identifier(), "com.example.notes");
}

/// The request a link answered leaves the keychain after the account is
/// stored, not on the way to it: `complete` returns while the keychain is
/// still busy with the pending sign-ins' item; `settle` waits for its removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_used_request_leaves_the_keychain_off_the_sign_ins_path() {
    let f = fixture("forget-later");
    let (state, _) = f.begin(true, true).await;
    f.store.hold(crate::authorize::PENDING_KEY);
    let done = tokio::time::timeout(
        Duration::from_secs(2),
        f.signin.complete(&callback_for(&state), &callback()),
    )
    .await;
    let used_still_there = f
        .store
        .inner
        .get(crate::authorize::PENDING_KEY)
        .expect("get")
        .is_some();
    f.store.release();
    let done = done
        .expect("complete does not wait for the pending sign-ins' item")
        .expect("signed in");
    assert!(used_still_there, "removed only after `complete` returned");
    assert_eq!(f.signin.accounts().expect("accounts").accounts.len(), 1);
    assert!(f.signin.access_token(&done.account.id).is_some());
    f.signin.settle().await;
    assert!(
        f.store
            .inner
            .get(crate::authorize::PENDING_KEY)
            .expect("get")
            .is_none(),
        "the used request left the keychain"
    );
    // Used here: never accepted again, even before its removal.
    let replay = f
        .signin
        .complete(&callback_for(&state), &callback())
        .await
        .expect_err("replay");
    assert_eq!(replay.code(), "sign_in_link_repeated");
}
