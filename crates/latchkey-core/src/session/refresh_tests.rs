//! Refresh tests over a fake IdP and an in-memory keychain.
use super::*;
use std::time::SystemTime;

use crate::secret::SecretString;
use std::path::PathBuf;

pub(super) fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

use crate::accounts::{Registry, new_account};
use crate::clock::ManualClock;
use crate::discovery::ProviderMetadata;
use crate::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
use crate::id_token::Identity;
use crate::testing::{
    CLIENT_ID, Canned, Claims, FakeServer, ISSUER, RefusingStore, eventually, jwks,
};
use crate::vault::{KeyringStore, SecretStore, Vault};
use url::Url;

pub(super) fn provider() -> crate::provider::ProviderConfig {
    crate::provider::parse_providers(&format!(
        "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\n"
    ))
    .expect("parses")
    .remove(0)
    .config
    .expect("valid")
}

pub(super) fn metadata() -> ProviderMetadata {
    let url = |p: &str| Url::parse(&format!("{ISSUER}{p}")).expect("url");
    ProviderMetadata {
        issuer: ISSUER.into(),
        authorization_endpoint: url("/auth"),
        token_endpoint: url("/token"),
        jwks_uri: Some(url("/jwks")),
        userinfo_endpoint: None,
        revocation_endpoint: None,
        authorization_response_iss_parameter_supported: true,
        scopes_supported: vec![],
        prompt_values_supported: None,
        device_authorization_endpoint: None,
    }
}

pub(super) struct Setup {
    pub(super) core: Latchkey,
    pub(super) clock: Arc<ManualClock>,
    pub(super) store: Arc<KeyringStore>,
    pub(super) id: AccountId,
    pub(super) dir: PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-refresh-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(super) fn core_over(
    http: Arc<dyn HttpClient>,
    store: Arc<dyn SecretStore>,
    dir: &std::path::Path,
    clock: Arc<ManualClock>,
) -> Latchkey {
    let core = Latchkey::new(
        http,
        Vault::new(store),
        clock,
        Registry::in_dir(dir),
        vec![provider()],
    );
    lock(&core.metadata).insert("p".into(), metadata());
    core
}

pub(super) async fn setup(name: &str, http: Arc<dyn HttpClient>) -> Setup {
    let dir = dir(name);
    let store = Arc::new(KeyringStore::in_memory(format!("refresh-{name}")));
    let clock = Arc::new(ManualClock::new(t0()));
    let core = core_over(http, store.clone(), &dir, Arc::clone(&clock));
    let identity = Identity {
        issuer: ISSUER.into(),
        subject: "alice".into(),
        name: None,
        username: None,
        email: Some("alice@example.test".into()),
        picture: None,
    };
    let account = new_account("p", &identity, vec!["openid".into()], t0());
    let id = account.id.clone();
    core.registry
        .update(|b| b.upsert(account))
        .expect("registry");
    core.write_refresh_token(&id, &SecretString::new("RT-0"))
        .await
        .expect("store");
    Setup {
        core,
        clock,
        store,
        id,
        dir,
    }
}

/// The refresh token in the account's keychain item (it must be there).
pub(super) async fn stored_token(core: &Latchkey, id: &AccountId) -> String {
    core.read_refresh_token(id)
        .await
        .expect("get")
        .expect("rt")
        .expose()
        .to_owned()
}

pub(super) fn tokens(rt: Option<&str>) -> Canned {
    let mut body =
        serde_json::json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 600});
    if let Some(rt) = rt {
        body["refresh_token"] = rt.into();
    }
    Canned::json(200, body)
}

#[tokio::test]
async fn rotation_is_stored_and_no_rotation_keeps_the_old_token() {
    let server = Arc::new(FakeServer::new());
    let s = setup("rotate", server.clone()).await;
    server.set("/token", tokens(Some("RT-1")));
    let access = s.core.refresh_account(&s.id).await.expect("refreshed");
    assert_eq!(access.token.expose(), "AT");
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    assert!(
        server.requests.lock().expect("lock")[0]
            .1
            .contains("refresh_token=RT-0")
    );
    server.set("/token", tokens(None));
    s.core.refresh_account(&s.id).await.expect("refreshed");
    assert_eq!(stored_token(&s.core, &s.id).await, "RT-1");
    assert!(
        s.core
            .accounts()
            .expect("book")
            .get(&s.id)
            .expect("a")
            .last_refreshed_at
            .is_some()
    );
}

#[tokio::test]
async fn invalid_grant_is_terminal_and_removes_only_the_token() {
    let server = Arc::new(FakeServer::new());
    let s = setup("dead", server.clone()).await;
    server.set(
        "/token",
        Canned::json(400, serde_json::json!({"error": "invalid_grant"})),
    );
    let err = s.core.refresh_account(&s.id).await.expect_err("dead");
    assert!(!err.is_transient());
    assert_eq!(err.code(), "invalid_grant");
    assert_eq!(
        s.store.get(s.id.as_str()).expect("get"),
        None,
        "the dead token is deleted"
    );
    let book = s.core.accounts().expect("book");
    assert_eq!(
        book.get(&s.id).expect("metadata kept").status,
        AccountStatus::NeedsSignIn
    );
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_transient_and_keep_everything() {
    for status in [500, 503, 429] {
        let server = Arc::new(FakeServer::new());
        let s = setup(&format!("transient-{status}"), server.clone()).await;
        server.set(
            "/token",
            Canned {
                headers: Vec::new(),
                status,
                content_type: "text/html",
                body: "<html>busy</html>".into(),
            },
        );
        let err = s.core.refresh_account(&s.id).await.expect_err("transient");
        assert!(err.is_transient(), "{status}: {err}");
        assert_eq!(stored_token(&s.core, &s.id).await, "RT-0");
        assert_eq!(
            s.core
                .accounts()
                .expect("book")
                .get(&s.id)
                .expect("a")
                .status,
            AccountStatus::Active
        );
    }
    // No route at all = connection failure.
    let server = Arc::new(FakeServer::new());
    let s = setup("transient-network", server.clone()).await;
    assert!(
        s.core
            .refresh_account(&s.id)
            .await
            .expect_err("network")
            .is_transient()
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let server = Arc::new(FakeServer::new());
    let s = setup("single-flight", server.clone()).await;
    server.set("/token", tokens(Some("RT-1")));
    // The refresh must still be running when the others call.
    *server.delay.lock().expect("lock") = Duration::from_millis(100);
    let calls = (0..20).map(|_| s.core.refresh_account(&s.id));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.count("/token"), 1, "one refresh for twenty callers");
}

#[tokio::test]
async fn an_id_token_for_another_subject_after_refresh_is_refused() {
    let server = Arc::new(FakeServer::new());
    let s = setup("sub-changed", server.clone()).await;
    let mut claims = Claims::valid(t0(), "unused");
    claims.nonce = None;
    claims.sub = "mallory".into();
    server.set("/token", Canned::json(200, serde_json::json!({
        "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT-1", "id_token": claims.sign().to_string(),
    })));
    server.set(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
    let err = s
        .core
        .refresh_account(&s.id)
        .await
        .expect_err("sub changed");
    assert_eq!(err.code(), "id_token_subject_changed");
    assert!(
        s.core.access_token(&s.id).is_none(),
        "the access token is not used"
    );
    // A same-subject ID token without nonce is fine (OIDC Core 12.2).
    let s = setup("sub-same", server.clone()).await;
    let mut claims = Claims::valid(t0(), "unused");
    claims.nonce = None;
    server.set("/token", Canned::json(200, serde_json::json!({
        "access_token": "AT", "token_type": "Bearer", "refresh_token": "RT-1", "id_token": claims.sign().to_string(),
    })));
    assert!(s.core.refresh_account(&s.id).await.is_ok());
}

/// An IdP that rotates on every refresh and reports any reuse of a rotated token.
#[derive(Debug, Default)]
struct RotatingIdp {
    current: std::sync::Mutex<String>,
    served: std::sync::atomic::AtomicUsize,
    reused: std::sync::atomic::AtomicUsize,
}

impl HttpClient for RotatingIdp {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let body = String::from_utf8_lossy(request.body()).into_owned();
        let presented = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        Box::pin(async move {
            // Yield so that concurrent requests really interleave.
            tokio::time::sleep(Duration::from_millis(1)).await;
            let reply = {
                let mut current = self.current.lock().expect("lock");
                if *current == presented {
                    let n = self
                        .served
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                        + 1;
                    *current = format!("RT-{n}");
                    serde_json::json!({"access_token": format!("AT-{n}"), "token_type": "Bearer", "expires_in": 600, "refresh_token": *current})
                } else {
                    self.reused
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    serde_json::json!({"error": "invalid_grant"})
                }
            };
            let status = if reply.get("error").is_some() {
                400
            } else {
                200
            };
            Ok(http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(reply.to_string().into_bytes())
                .expect("response"))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_present_a_rotated_token() {
    let idp = Arc::new(RotatingIdp::default());
    *idp.current.lock().expect("lock") = "RT-0".into();
    let s = setup("two-processes", idp.clone()).await;
    // A second "process": its own core (own in-process locks) over the same keychain and data dir.
    let other = core_over(idp.clone(), s.store.clone(), &s.dir, Arc::clone(&s.clock));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let core = if i % 2 == 0 { &s.core } else { &other };
        tasks.push(core.refresh_account(&s.id));
    }
    let results = futures_util::future::join_all(tasks).await;
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        idp.reused.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no rotated token was presented"
    );
    let served = idp.served.load(std::sync::atomic::Ordering::SeqCst);
    assert!(served >= 2, "both processes refreshed ({served})");
    assert_eq!(
        stored_token(&s.core, &s.id).await,
        format!("RT-{served}"),
        "the keychain holds the newest token"
    );
}

#[tokio::test]
async fn shutdown_waits_for_a_running_refresh_and_refuses_new_ones() {
    let server = Arc::new(FakeServer::new());
    let s = Arc::new(setup("shutdown", server.clone()).await);
    server.set("/token", tokens(Some("RT-1")));
    *server.delay.lock().expect("lock") = Duration::from_millis(300);
    let running = {
        let s = Arc::clone(&s);
        tokio::spawn(async move { s.core.refresh_account(&s.id).await })
    };
    // The refresh request is at the provider.
    eventually("the refresh is in flight", || server.count("/token") == 1).await;
    assert!(
        s.core.shutdown(Duration::from_secs(5)).await,
        "the running refresh finished"
    );
    assert!(running.await.expect("task").is_ok());
    assert_eq!(
        stored_token(&s.core, &s.id).await,
        "RT-1",
        "the rotated token was stored"
    );
    let err = s.core.refresh_account(&s.id).await.expect_err("closing");
    assert_eq!(err.code(), "shutting_down");
}

#[tokio::test]
async fn a_rotated_token_the_keychain_refuses_is_kept_and_used_by_the_next_refresh() {
    let server = Arc::new(FakeServer::new());
    let s = setup("unsaved", server.clone()).await;
    let store = Arc::new(RefusingStore::over(s.store.clone()));
    store.refuse_writes(true);
    let core = core_over(server.clone(), store.clone(), &s.dir, Arc::clone(&s.clock));
    // The provider rotates RT-0 into RT-1, but the keychain refuses RT-1.
    server.set("/token", tokens(Some("RT-1")));
    let err = core.refresh_account(&s.id).await.expect_err("not stored");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(stored_token(&core, &s.id).await, "RT-0");
    assert!(
        core.access_token(&s.id).is_none(),
        "the new access token is not used before its refresh token is stored"
    );
    // Still refused: the next refresh presents RT-1 (RT-0 is dead at the provider).
    server.set("/token", tokens(Some("RT-2")));
    assert!(core.refresh_account(&s.id).await.is_err());
    // The keychain is back: RT-2 is stored first, then used; the account works.
    store
        .refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    server.set("/token", tokens(Some("RT-3")));
    core.refresh_account(&s.id).await.expect("refreshed");
    let sent: Vec<String> = server
        .requests
        .lock()
        .expect("lock")
        .iter()
        .filter(|(path, _)| path == "/token")
        .map(|(_, body)| body.clone())
        .collect();
    assert!(sent[0].contains("refresh_token=RT-0"));
    assert!(sent[1].contains("refresh_token=RT-1"), "{}", sent[1]);
    assert!(sent[2].contains("refresh_token=RT-2"), "{}", sent[2]);
    assert_eq!(stored_token(&core, &s.id).await, "RT-3");
    assert!(core.slot(&s.id).unsaved().is_none());
}
