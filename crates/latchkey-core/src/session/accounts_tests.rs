//! Account management tests: sign-out, sign in again, reconciliation, labels.
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::accounts::AccountId;
use crate::clock::Clock as _;
use crate::secret::SecretString;
use crate::session::fixture::*;
use crate::testing::{Canned, Claims, ISSUER};
use crate::vault::SecretStore;
use std::collections::HashMap;

#[tokio::test]
async fn sign_out_revokes_then_deletes_everything() {
    let f = fixture("signout");
    let id = signed_in(&f).await;
    with_revocation(&f, 200);
    let report = f.signin.sign_out(&id).await.expect("signed out");
    assert!(matches!(
        report.revocation,
        crate::manage::Revocation::Revoked
    ));
    let body = f
        .server
        .bodies("/token/revocation")
        .into_iter()
        .next()
        .expect("revoked");
    assert!(body.contains("token=RT-1"));
    assert!(body.contains("token_type_hint=refresh_token"));
    assert!(body.contains("client_id=latchkey-desktop"));
    f.nothing_stored();
    assert!(f.signin.access_token(&id).is_none());
}

#[tokio::test]
async fn sign_out_when_the_provider_fails_is_local_and_says_so() {
    let f = fixture("signout-offline");
    let id = signed_in(&f).await;
    with_revocation(&f, 503);
    let report = f.signin.sign_out(&id).await.expect("signed out locally");
    assert!(matches!(
        report.revocation,
        crate::manage::Revocation::Failed { .. }
    ));
    f.nothing_stored();
}

#[tokio::test]
async fn signing_in_again_revokes_the_replaced_token() {
    let f = fixture("again");
    let id = signed_in(&f).await;
    with_revocation(&f, 200);
    let (state, nonce) = f.begin(true, true).await;
    let body = serde_json::json!({
        "access_token": "AT-2", "token_type": "Bearer", "refresh_token": "RT-2",
        "id_token": Claims::valid(f.clock.now(), &nonce).sign().to_string(),
    });
    f.server.set("/token", Canned::json(200, body));
    let url = format!(
        "dev.latchkey:/oauth/callback?code=C2&state={state}&iss={}",
        urlencode(ISSUER)
    );
    let done = f.signin.complete(&url, &callback()).await.expect("again");
    assert!(done.replaced);
    assert_eq!(done.old_token_revoked, Some(true));
    assert_eq!(done.account.id, id);
    assert_eq!(
        f.signin
            .read_refresh_token(&id)
            .await
            .expect("get")
            .expect("rt")
            .expose(),
        "RT-2"
    );
    let revoked = f
        .server
        .bodies("/token/revocation")
        .into_iter()
        .next()
        .expect("revoked");
    assert!(revoked.contains("token=RT-1"));
    assert_eq!(f.signin.accounts().expect("book").accounts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_during_a_refresh_ends_on_the_new_grant() {
    let f = fixture("again-race");
    let id = signed_in(&f).await;
    with_revocation(&f, 200);
    let (state, nonce) = f.begin(true, true).await;
    // A refresh of the old grant is at the provider, slowly.
    f.server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({
                "access_token": "AT-1b", "token_type": "Bearer", "refresh_token": "RT-1b",
            }),
        ),
    );
    *f.server.delay.lock().expect("delay") = Duration::from_millis(300);
    let core = Arc::new(f);
    let refresh = {
        let core = Arc::clone(&core);
        let id = id.clone();
        tokio::spawn(async move { core.signin.refresh_account(&id).await })
    };
    while core.server.count("/token") < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Meanwhile the person signs in again: the new grant's code exchange.
    core.server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({
                "access_token": "AT-2", "token_type": "Bearer", "refresh_token": "RT-2",
                "id_token": Claims::valid(core.clock.now(), &nonce).sign().to_string(),
            }),
        ),
    );
    *core.server.delay.lock().expect("delay") = Duration::ZERO;
    let done = core
        .signin
        .complete(&callback_for(&state), &callback())
        .await
        .expect("signed in again");
    refresh
        .await
        .expect("task")
        .expect("the old grant's refresh finished first");
    assert_eq!(done.old_token_revoked, Some(true));
    assert_eq!(
        core.signin
            .read_refresh_token(&id)
            .await
            .expect("get")
            .expect("rt")
            .expose(),
        "RT-2",
        "the old grant's rotated token overwrote the new grant's"
    );
    let revoked: Vec<String> = core.server.bodies("/token/revocation");
    assert_eq!(revoked.len(), 1);
    assert!(revoked[0].contains("token=RT-1b"), "{}", revoked[0]);
}

#[tokio::test]
async fn reconcile_never_takes_an_unreadable_item_for_a_missing_one() {
    let f = fixture("reconcile-locked");
    let id = signed_in(&f).await;
    // The item is locked (a collection locked again, a D-Bus hiccup).
    f.store.inner.fail_next(
        id.as_str(),
        keyring_core::Error::NoStorageAccess("locked".into()),
    );
    let report = f.signin.reconcile().await.expect("reconciled");
    assert!(report.needs_sign_in.is_empty(), "{report:?}");
    assert_eq!(
        f.signin
            .accounts()
            .expect("book")
            .get(&id)
            .expect("kept")
            .status,
        crate::accounts::AccountStatus::Active
    );
    assert!(
        f.signin
            .read_refresh_token(&id)
            .await
            .expect("get")
            .is_some()
    );
}

#[tokio::test]
async fn reconcile_marks_missing_secrets_and_deletes_orphans() {
    let f = fixture("reconcile");
    let id = signed_in(&f).await;
    f.store.delete(id.as_str()).expect("delete by hand");
    f.store
        .set("acct-orphan", &SecretString::new("x"))
        .expect("plant");
    f.store
        .set("pending-authorizations-unrelated", &SecretString::new("x"))
        .expect("plant");
    let report = f.signin.reconcile().await.expect("reconciled");
    assert_eq!(report.needs_sign_in, std::slice::from_ref(&id));
    assert_eq!(report.orphans_deleted, ["acct-orphan"]);
    assert_eq!(f.store.get("acct-orphan").expect("get"), None);
    assert!(
        f.store
            .get("pending-authorizations-unrelated")
            .expect("get")
            .is_some(),
        "only account items are touched"
    );
    let book = f.signin.accounts().expect("book");
    assert_eq!(
        book.get(&id).expect("kept").status,
        crate::accounts::AccountStatus::NeedsSignIn
    );
}

#[tokio::test]
async fn reconcile_with_a_damaged_registry_keeps_every_secret() {
    let f = fixture("reconcile-corrupt");
    let id = signed_in(&f).await;
    std::fs::write(f.signin.registry().path(), b"{ damaged").expect("damage");
    let report = f.signin.reconcile().await.expect("reconciled");
    let (moved, _) = report.quarantined.expect("moved aside");
    assert_eq!(std::fs::read(moved).expect("kept"), b"{ damaged");
    assert!(report.orphans_deleted.is_empty());
    assert!(
        f.signin
            .read_refresh_token(&id)
            .await
            .expect("get")
            .is_some(),
        "the secret survives"
    );
}

#[tokio::test]
async fn labels_default_and_reauthentication_request() {
    let f = fixture("manage");
    let id = signed_in(&f).await;
    f.signin.rename(&id, Some("  Work\u{7}  ")).expect("rename");
    assert_eq!(
        f.signin
            .accounts()
            .expect("book")
            .get(&id)
            .expect("a")
            .label
            .as_deref(),
        Some("Work")
    );
    f.signin.rename(&id, Some("   ")).expect("clear");
    assert_eq!(
        f.signin
            .accounts()
            .expect("book")
            .get(&id)
            .expect("a")
            .label,
        None
    );
    f.signin.make_default(&id).expect("default");
    assert!(f.signin.accounts().expect("book").is_default(&id));
    assert_eq!(
        f.signin
            .make_default(&AccountId::new("acct-nope"))
            .expect_err("unknown")
            .code(),
        "unknown_account"
    );
    let pending = f.signin.reauthenticate(&id).await.expect("reauth");
    let q: HashMap<String, String> = pending
        .authorization_url
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["login_hint"], "alice@example.test");
    assert_eq!(q["prompt"], "login consent");
}
