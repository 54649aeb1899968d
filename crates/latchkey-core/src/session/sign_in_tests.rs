//! Sign-in and account management tests over a fake IdP.
use super::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::accounts::{AccountId, Registry};
use crate::clock::ManualClock;
use crate::discovery::ProviderMetadata;
use crate::provider::ProviderConfig;
use crate::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, RefusingStore, jwks};
use crate::vault::Vault;
use crate::vault::{KeyringStore, SecretStore};
use std::time::Duration;

fn provider() -> ProviderConfig {
    crate::provider::parse_providers(&format!(
        "[[provider]]\nid = \"p\"\nname = \"Example\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\nscopes = [\"openid\", \"email\", \"offline_access\"]\n"
    ))
    .expect("parses")
    .remove(0)
    .config
    .expect("valid")
}

fn metadata(iss_required: bool) -> ProviderMetadata {
    let url = |p: &str| Url::parse(&format!("{ISSUER}{p}")).expect("url");
    ProviderMetadata {
        issuer: ISSUER.into(),
        authorization_endpoint: url("/auth"),
        token_endpoint: url("/token"),
        jwks_uri: url("/jwks"),
        userinfo_endpoint: Some(url("/me")),
        revocation_endpoint: None,
        authorization_response_iss_parameter_supported: iss_required,
        scopes_supported: vec![],
        prompt_values_supported: None,
    }
}

struct Fixture {
    server: Arc<FakeServer>,
    store: Arc<RefusingStore>,
    clock: Arc<ManualClock>,
    signin: Latchkey,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(name: &str) -> Fixture {
    let server = Arc::new(FakeServer::new());
    let store = Arc::new(RefusingStore::over(Arc::new(KeyringStore::in_memory(
        format!("signin-{name}"),
    ))));
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let dir = std::env::temp_dir().join(format!("latchkey-signin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let signin = Latchkey::new(
        server.clone(),
        Vault::new(store.clone()),
        clock.clone(),
        Registry::in_dir(&dir),
        vec![provider()],
    );
    Fixture {
        server,
        store,
        clock,
        signin,
        dir,
    }
}

fn callback() -> Url {
    Url::parse("dev.latchkey:/oauth/callback").expect("url")
}

fn query(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .expect("param")
}

impl Fixture {
    /// Begins a sign-in and sets the fake server up to answer it like a real IdP.
    async fn begin(&self, iss_required: bool, refresh_token: bool) -> (String, String) {
        let known = lock(&self.signin.metadata).get("p").cloned();
        let mut md = metadata(iss_required);
        md.revocation_endpoint = known.and_then(|k| k.revocation_endpoint);
        lock(&self.signin.metadata).insert("p".into(), md);
        let pending = self
            .signin
            .begin("p", &SignInOptions::default())
            .await
            .expect("begin");
        let state = query(&pending.authorization_url, "state");
        let nonce = query(&pending.authorization_url, "nonce");
        let id_token = Claims::valid(self.clock.now(), &nonce).sign();
        let mut body = serde_json::json!({
            "access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600,
            "id_token": id_token.to_string(), "scope": "openid email offline_access",
        });
        if refresh_token {
            body["refresh_token"] = "RT-1".into();
        }
        self.server.set("/token", Canned::json(200, body));
        self.server.set(
            "/jwks",
            Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        (state, nonce)
    }

    fn nothing_stored(&self) {
        assert!(
            self.signin
                .accounts()
                .expect("registry")
                .accounts
                .is_empty()
        );
        let id = AccountId::derive(ISSUER, "alice");
        assert_eq!(self.store.get(id.as_str()).expect("get"), None);
    }
}

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

/// A well-formed callback (code `C`, our issuer) for a pending request.
fn callback_for(state: &str) -> String {
    format!(
        "dev.latchkey:/oauth/callback?code=C&state={state}&iss={}",
        urlencode(ISSUER)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
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

async fn signed_in(f: &Fixture) -> AccountId {
    let (state, _) = f.begin(true, true).await;
    let url = callback_for(&state);
    f.signin
        .complete(&url, &callback())
        .await
        .expect("signed in")
        .account
        .id
}

fn with_revocation(f: &Fixture, status: u16) {
    let mut md = metadata(true);
    md.revocation_endpoint = Some(Url::parse(&format!("{ISSUER}/token/revocation")).expect("url"));
    lock(&f.signin.metadata).insert("p".into(), md);
    f.server.set(
        "/token/revocation",
        Canned::json(status, serde_json::json!({})),
    );
}

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
