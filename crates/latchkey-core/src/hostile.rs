//! The hostile authorization server suite (issue 6).
//!
//! A deliberately malicious authorization server runs on 127.0.0.1:0 and the
//! real sign-in and refresh code is driven against it over real sockets with
//! the production HTTP client (a resolver-like wrapper sends every host to the
//! attacker, so issuers can be ordinary `https://` names). Each case checks
//! the error code, the message a person sees, and that no keychain item,
//! registry entry or other account changed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::accounts::{AccountId, Registry, new_account};
use crate::authorize::SignInOptions;
use crate::clock::SystemClock;
use crate::error::ErrorCode;
use crate::http::{
    BoxFuture, HttpClient, HttpLimits, HttpRequest, HttpResponse, ReqwestHttpClient, TransportError,
};
use crate::id_token::Identity;
use crate::provider::parse_providers;
use crate::secret::SecretString;
use crate::signin::Latchkey;
use crate::testing::{CLIENT_ID, Claims, jwks};
use crate::vault::{KeyringStore, SecretStore, Vault};

/// What the attacker answers on one path.
#[derive(Clone)]
enum Reply {
    Json(u16, serde_json::Value),
    Raw(u16, &'static str, String),
    Redirect(String),
    Huge,
    Trickle,
}

#[derive(Default)]
struct Script {
    routes: Mutex<HashMap<String, Reply>>,
    hits: Mutex<HashMap<String, usize>>,
}

struct Attacker {
    addr: SocketAddr,
    script: Arc<Script>,
}

impl Attacker {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(Script::default());
        let s = Arc::clone(&script);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&s)));
            }
        });
        Self { addr, script }
    }

    fn on(&self, path: &str, reply: Reply) {
        self.script
            .routes
            .lock()
            .expect("lock")
            .insert(path.to_owned(), reply);
    }

    fn hits(&self, path: &str) -> usize {
        self.script
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Script>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap_or("/")
        .to_owned();
    *script
        .hits
        .lock()
        .expect("lock")
        .entry(path.clone())
        .or_default() += 1;
    let reply = script.routes.lock().expect("lock").get(&path).cloned();
    let write = |status: u16, ct: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {ct}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match reply {
        None => {
            let _ = stream
                .write_all(write(404, "text/plain", "no").as_bytes())
                .await;
        }
        Some(Reply::Json(status, value)) => {
            let _ = stream
                .write_all(write(status, "application/json", &value.to_string()).as_bytes())
                .await;
        }
        Some(Reply::Raw(status, ct, body)) => {
            let _ = stream.write_all(write(status, ct, &body).as_bytes()).await;
        }
        Some(Reply::Redirect(location)) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
        }
        Some(Reply::Huge) => {
            // 10 MB of JSON-looking bytes, without a content-length.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"access_token\":\"").await;
            let block = vec![b'a'; 64 * 1024];
            for _ in 0..160 {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
            }
        }
        Some(Reply::Trickle) => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{")
                .await;
            for _ in 0..600 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b" ").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends every request to the attacker, whatever its host (a hostile DNS).
#[derive(Debug)]
struct ToAttacker {
    inner: ReqwestHttpClient,
    addr: SocketAddr,
}

impl HttpClient for ToAttacker {
    fn execute(
        &self,
        mut request: HttpRequest,
    ) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), ToString::to_string);
        *request.uri_mut() = format!("http://{}{path}", self.addr).parse().expect("uri");
        self.inner.execute(request)
    }
}

const ISSUER: &str = "https://as.example";
const ISSUER_B: &str = "https://other-as.example";

fn metadata_doc(issuer: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "revocation_endpoint": format!("{issuer}/token/revocation"),
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "authorization_response_iss_parameter_supported": true,
    })
}

struct Fixture {
    attacker: Attacker,
    core: Latchkey,
    store: Arc<KeyringStore>,
    dir: std::path::PathBuf,
    bystander: AccountId,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Everything a failed attack must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    registry: Option<Vec<u8>>,
    keys: Vec<String>,
    bystander_token: Option<String>,
}

impl Fixture {
    async fn new(name: &str) -> Self {
        let attacker = Attacker::start().await;
        attacker.on(
            "/.well-known/openid-configuration",
            Reply::Json(200, metadata_doc(ISSUER)),
        );
        attacker.on(
            "/jwks",
            Reply::Json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
        );
        let http = ToAttacker {
            inner: ReqwestHttpClient::with_limits(HttpLimits {
                connect_timeout: Duration::from_secs(2),
                total_timeout: Duration::from_secs(2),
                max_body_bytes: 1024 * 1024,
            })
            .expect("client"),
            addr: attacker.addr,
        };
        let providers = parse_providers(&format!(
            "[[provider]]\nid = \"a\"\nname = \"Provider A\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\n\
             [[provider]]\nid = \"b\"\nname = \"Provider B\"\nissuer = \"{ISSUER_B}\"\nclient_id = \"{CLIENT_ID}\"\n"
        ))
        .expect("parses")
        .into_iter()
        .map(|e| e.config.expect("valid"))
        .collect();
        let dir =
            std::env::temp_dir().join(format!("latchkey-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(KeyringStore::in_memory(format!("hostile-{name}")));
        let core = Latchkey::new(
            Arc::new(http),
            Vault::new(store.clone()),
            Arc::new(SystemClock),
            Registry::in_dir(&dir),
            providers,
        );
        // A bystander account that no attack may touch.
        let identity = Identity {
            issuer: ISSUER.into(),
            subject: "bystander".into(),
            name: Some("By Stander".into()),
            email: Some("by@example.test".into()),
            picture: None,
        };
        let account = new_account("a", &identity, vec!["openid".into()], SystemTime::now());
        let bystander = account.id.clone();
        core.registry()
            .update(|b| b.upsert(account))
            .expect("registry");
        core.write_refresh_token(&bystander, &SecretString::new("RT-bystander"))
            .await
            .expect("store");
        Self {
            attacker,
            core,
            store,
            dir,
            bystander,
        }
    }

    async fn snapshot(&self) -> Snapshot {
        let mut keys = self.store.list_keys().expect("keys");
        keys.retain(|k| !k.starts_with(crate::authorize::PENDING_KEY));
        Snapshot {
            registry: std::fs::read(self.core.registry().path()).ok(),
            keys,
            bystander_token: self
                .core
                .read_refresh_token(&self.bystander)
                .await
                .expect("read")
                .map(|t| t.expose().to_owned()),
        }
    }

    /// Starts a sign-in at provider `a`; returns (state, nonce).
    async fn begin(&self) -> (String, String) {
        let pending = self
            .core
            .begin("a", &SignInOptions::default())
            .await
            .expect("begin");
        let q: HashMap<String, String> = pending
            .authorization_url
            .query_pairs()
            .into_owned()
            .collect();
        (q["state"].clone(), q["nonce"].clone())
    }

    fn callback(state: &str, extra: &str) -> String {
        let iss: String = url::form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect();
        format!("dev.latchkey:/oauth/callback?code=stolen-or-real&state={state}&iss={iss}{extra}")
    }

    /// Runs a sign-in whose token endpoint answers `reply`; returns the error.
    async fn sign_in_with(&self, reply: Reply) -> crate::signin::CompleteError {
        let (state, _) = self.begin().await;
        self.attacker.on("/token", reply);
        self.complete(&Self::callback(&state, "")).await
    }

    async fn complete(&self, url: &str) -> crate::signin::CompleteError {
        let before = self.snapshot().await;
        let redirect = Url::parse("dev.latchkey:/oauth/callback").expect("url");
        let err = self
            .core
            .complete(url, &redirect)
            .await
            .expect_err("the attack must fail");
        assert_eq!(self.snapshot().await, before, "nothing may change ({err})");
        assert!(
            self.core.accounts().expect("book").accounts.len() == 1,
            "no account was added"
        );
        err
    }

    /// Runs a sign-in whose token response carries the ID token made by `claims`.
    async fn sign_in_with_id_token(
        &self,
        edit: impl FnOnce(&mut Claims),
    ) -> crate::signin::CompleteError {
        let (state, nonce) = self.begin().await;
        let mut claims = Claims::valid(SystemTime::now(), &nonce);
        claims.iss = ISSUER.into();
        edit(&mut claims);
        self.attacker.on(
            "/token",
            Reply::Json(200, token_body(&claims.sign().to_string())),
        );
        self.complete(&Self::callback(&state, "")).await
    }
}

fn token_body(id_token: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": "AT-attacker", "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "RT-attacker", "id_token": id_token,
    })
}

fn assert_case(err: &crate::signin::CompleteError, code: &str, shown: &str) {
    assert_eq!(err.code(), code, "{err}");
    let message = crate::error::report(err);
    assert!(
        message.contains(shown),
        "message {message:?} should mention {shown:?}"
    );
    for secret in ["AT-attacker", "RT-attacker", "stolen-or-real"] {
        assert!(
            !message.contains(secret),
            "the message leaks {secret}: {message}"
        );
    }
}

fn jwt(header: &serde_json::Value, payload: &serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn payload(nonce: &str) -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    serde_json::json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "mallory", "nonce": nonce, "iat": now, "exp": now + 600})
}

// ---- ID token -------------------------------------------------------------

#[tokio::test]
async fn id_token_bad_signature() {
    let f = Fixture::new("bad-signature").await;
    let (state, nonce) = f.begin().await;
    let good = Claims {
        iss: ISSUER.into(),
        ..Claims::valid(SystemTime::now(), &nonce)
    }
    .sign()
    .to_string();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[2] = URL_SAFE_NO_PAD.encode(vec![7u8; 256]);
    f.attacker
        .on("/token", Reply::Json(200, token_body(&parts.join("."))));
    let err = f.complete(&Fixture::callback(&state, "")).await;
    assert_case(&err, "id_token_signature", "signature is not valid");
}

#[tokio::test]
async fn id_token_alg_none() {
    let f = Fixture::new("alg-none").await;
    let (state, nonce) = f.begin().await;
    let token = jwt(&serde_json::json!({"alg": "none"}), &payload(&nonce), b"");
    f.attacker
        .on("/token", Reply::Json(200, token_body(&token)));
    let err = f.complete(&Fixture::callback(&state, "")).await;
    assert_case(&err, "id_token_signature", "signature is not valid");
}

#[tokio::test]
async fn id_token_hs256_signed_with_the_public_key() {
    use hmac::Mac as _;
    let f = Fixture::new("hs256").await;
    let (state, nonce) = f.begin().await;
    // The classic key-confusion attack: HMAC keyed with the provider's public key.
    let public = serde_json::to_vec(&jwks(&[1])).expect("jwks");
    let header = serde_json::json!({"alg": "HS256", "kid": "k1"});
    let body = payload(&nonce);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(body.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&public).expect("key");
    mac.update(input.as_bytes());
    let token = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    f.attacker
        .on("/token", Reply::Json(200, token_body(&token)));
    let err = f.complete(&Fixture::callback(&state, "")).await;
    assert_case(&err, "id_token_signature", "signature is not valid");
}

#[tokio::test]
async fn id_token_wrong_iss() {
    let f = Fixture::new("wrong-iss").await;
    let err = f
        .sign_in_with_id_token(|c| c.iss = "https://evil.example".into())
        .await;
    assert_case(&err, "id_token_issuer", "issued by someone else");
}

#[tokio::test]
async fn id_token_wrong_aud() {
    let f = Fixture::new("wrong-aud").await;
    let err = f
        .sign_in_with_id_token(|c| c.aud = vec!["another-app".into()])
        .await;
    assert_case(&err, "id_token_audience", "not meant for Latchkey");
}

#[tokio::test]
async fn id_token_several_audiences_without_azp() {
    let f = Fixture::new("multi-aud").await;
    let err = f
        .sign_in_with_id_token(|c| c.aud = vec![CLIENT_ID.into(), "another-app".into()])
        .await;
    assert_case(&err, "id_token_audience", "not meant for Latchkey");
}

#[tokio::test]
async fn id_token_wrong_azp() {
    let f = Fixture::new("wrong-azp").await;
    let err = f
        .sign_in_with_id_token(|c| c.azp = Some("another-app".into()))
        .await;
    assert_case(&err, "id_token_audience", "azp");
}

#[tokio::test]
async fn id_token_expired() {
    let f = Fixture::new("expired").await;
    let err = f
        .sign_in_with_id_token(|c| {
            c.iat = SystemTime::now() - Duration::from_secs(7200);
            c.exp = SystemTime::now() - Duration::from_secs(3600);
        })
        .await;
    assert_case(&err, "id_token_expired", "expired");
}

#[tokio::test]
async fn id_token_iat_far_in_the_future() {
    let f = Fixture::new("iat-future").await;
    let err = f
        .sign_in_with_id_token(|c| {
            c.iat = SystemTime::now() + Duration::from_secs(86_400);
            c.exp = SystemTime::now() + Duration::from_secs(90_000);
        })
        .await;
    assert_case(&err, "id_token_iat", "issued in the future");
}

#[tokio::test]
async fn id_token_missing_nonce() {
    let f = Fixture::new("no-nonce").await;
    let err = f.sign_in_with_id_token(|c| c.nonce = None).await;
    assert_case(&err, "id_token_nonce", "nonce");
}

#[tokio::test]
async fn id_token_wrong_nonce() {
    let f = Fixture::new("wrong-nonce").await;
    let err = f
        .sign_in_with_id_token(|c| c.nonce = Some("a-replayed-nonce".into()))
        .await;
    assert_case(&err, "id_token_nonce", "nonce");
}

#[tokio::test]
async fn id_token_unknown_kid_refetches_once_then_fails() {
    let f = Fixture::new("unknown-kid").await;
    let err = f.sign_in_with_id_token(|c| c.key = 2).await;
    assert_case(&err, "id_token_signature", "signature is not valid");
    assert_eq!(
        f.attacker.hits("/jwks"),
        2,
        "the JWKS is fetched again exactly once"
    );
}

#[tokio::test]
async fn id_token_sub_changed_on_refresh() {
    let f = Fixture::new("sub-changed").await;
    let mut claims = Claims::valid(SystemTime::now(), "unused");
    claims.iss = ISSUER.into();
    claims.nonce = None;
    claims.sub = "mallory".into();
    f.attacker.on(
        "/token",
        Reply::Json(200, token_body(&claims.sign().to_string())),
    );
    let err = f
        .core
        .refresh_account(&f.bystander)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "id_token_subject_changed");
    assert!(
        f.core.access_token(&f.bystander).is_none(),
        "the attacker's access token is never used"
    );
    // The grant is treated as dead: metadata kept, token removed, needs sign-in.
    let book = f.core.accounts().expect("book");
    assert_eq!(book.accounts.len(), 1);
    assert_eq!(
        book.accounts[0].status,
        crate::accounts::AccountStatus::NeedsSignIn
    );
    assert_eq!(
        f.core.read_refresh_token(&f.bystander).await.expect("read"),
        None
    );
}

// ---- Discovery ------------------------------------------------------------

#[tokio::test]
async fn discovery_issuer_mismatch() {
    let f = Fixture::new("disco-mismatch").await;
    f.attacker.on(
        "/.well-known/openid-configuration",
        Reply::Json(200, metadata_doc("https://evil.example")),
    );
    let before = f.snapshot().await;
    let err = f
        .core
        .begin("a", &SignInOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "issuer_mismatch");
    assert!(err.to_string().contains("evil.example"));
    assert_eq!(f.snapshot().await, before);
    assert!(
        f.core.pending().await.expect("pending").is_empty(),
        "no request was made"
    );
}

#[tokio::test]
async fn discovery_http_endpoints_for_a_non_loopback_issuer() {
    let f = Fixture::new("disco-http").await;
    let mut doc = metadata_doc(ISSUER);
    doc["token_endpoint"] = "http://as.example/token".into();
    f.attacker
        .on("/.well-known/openid-configuration", Reply::Json(200, doc));
    let err = f
        .core
        .begin("a", &SignInOptions::default())
        .await
        .expect_err("refused");
    assert_eq!(err.code(), "discovery_insecure_endpoint");
    assert!(err.to_string().contains("must use https"));
}

#[tokio::test]
async fn discovery_jwks_url_returns_html() {
    let f = Fixture::new("jwks-html").await;
    f.attacker.on(
        "/jwks",
        Reply::Raw(200, "text/html", "<html><body>Sign in</body></html>".into()),
    );
    let err = f.sign_in_with_id_token(|_| {}).await;
    assert_case(&err, "jwks_unavailable", "HTML");
}

// ---- Token endpoint -------------------------------------------------------

#[tokio::test]
async fn token_missing_access_token() {
    let f = Fixture::new("no-at").await;
    let err = f
        .sign_in_with(Reply::Json(
            200,
            serde_json::json!({"token_type": "Bearer", "refresh_token": "RT-attacker"}),
        ))
        .await;
    assert_case(&err, "token_invalid_response", "access_token");
}

#[tokio::test]
async fn token_type_not_bearer() {
    let f = Fixture::new("not-bearer").await;
    let err = f
        .sign_in_with(Reply::Json(200, serde_json::json!({"access_token": "AT-attacker", "token_type": "mac", "refresh_token": "RT-attacker"})))
        .await;
    assert_case(&err, "token_invalid_response", "Bearer");
}

#[tokio::test]
async fn token_invalid_json() {
    let f = Fixture::new("bad-json").await;
    let err = f
        .sign_in_with(Reply::Raw(
            200,
            "application/json",
            "{\"access_token\": \"AT-attacker\",".into(),
        ))
        .await;
    assert_case(&err, "token_invalid_response", "invalid response");
}

#[tokio::test]
async fn token_ten_megabyte_body_is_capped() {
    let f = Fixture::new("huge").await;
    let err = f.sign_in_with(Reply::Huge).await;
    assert_case(&err, "response_too_large", "larger than");
}

#[tokio::test]
async fn token_body_that_trickles_forever_times_out() {
    let f = Fixture::new("trickle").await;
    let started = std::time::Instant::now();
    let err = f.sign_in_with(Reply::Trickle).await;
    assert_case(&err, "network_timeout", "did not answer");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn token_redirect_to_another_host_is_not_followed() {
    let f = Fixture::new("redirect").await;
    let elsewhere = Attacker::start().await;
    elsewhere.on("/steal", Reply::Json(200, token_body("x")));
    let err = f
        .sign_in_with(Reply::Redirect(format!("http://{}/steal", elsewhere.addr)))
        .await;
    assert_case(&err, "token_invalid_response", "HTTP 302");
    assert_eq!(
        elsewhere.hits("/steal"),
        0,
        "the code and verifier never went to the other host"
    );
}

#[tokio::test]
async fn token_html_500() {
    let f = Fixture::new("html-500").await;
    let err = f
        .sign_in_with(Reply::Raw(
            500,
            "text/html",
            "<html>Internal error RT-attacker</html>".into(),
        ))
        .await;
    assert_case(&err, "token_invalid_response", "HTTP 500");
}

// ---- Authorization response -------------------------------------------------

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
