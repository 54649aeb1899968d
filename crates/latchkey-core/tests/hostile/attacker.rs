//! The malicious authorization server and the fixture the attacks share.

pub(crate) use std::collections::HashMap;
pub(crate) use std::net::SocketAddr;
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::{Arc, Mutex};
pub(crate) use std::time::{Duration, SystemTime};

pub(crate) use base64::Engine as _;
pub(crate) use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub(crate) use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub(crate) use tokio::net::{TcpListener, TcpStream};
pub(crate) use url::Url;

pub(crate) use latchkey_core::Latchkey;
pub(crate) use latchkey_core::clock::SystemClock;
pub(crate) use latchkey_core::config::provider::parse_providers;
pub(crate) use latchkey_core::error::ErrorCode;
pub(crate) use latchkey_core::flow::id_token::Identity;
pub(crate) use latchkey_core::flow::request::SignInOptions;
pub(crate) use latchkey_core::http::{
    BoxFuture, HttpClient, HttpLimits, HttpRequest, HttpResponse, ReqwestHttpClient, TransportError,
};
pub(crate) use latchkey_core::secret::SecretString;
pub(crate) use latchkey_core::store::registry::{AccountId, Registry, new_account};
pub(crate) use latchkey_core::store::vault::{KeyringStore, SecretStore, Vault};
pub(crate) use latchkey_core::testing::{CLIENT_ID, Claims, jwks};

/// What the attacker answers on one path.
#[derive(Clone)]
pub(crate) enum Reply {
    Json(u16, serde_json::Value),
    Raw(u16, &'static str, String),
    Redirect(String),
    Huge,
    Trickle,
}

#[derive(Default)]
pub(crate) struct Script {
    pub(crate) routes: Mutex<HashMap<String, Reply>>,
    pub(crate) hits: Mutex<HashMap<String, usize>>,
}

pub(crate) struct Attacker {
    pub(crate) addr: SocketAddr,
    pub(crate) script: Arc<Script>,
}

impl Attacker {
    pub(crate) async fn start() -> Self {
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

    pub(crate) fn on(&self, path: &str, reply: Reply) {
        self.script
            .routes
            .lock()
            .expect("lock")
            .insert(path.to_owned(), reply);
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.script
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

pub(crate) async fn serve(mut stream: TcpStream, script: Arc<Script>) {
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
pub(crate) struct ToAttacker {
    pub(crate) inner: ReqwestHttpClient,
    pub(crate) addr: SocketAddr,
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

pub(crate) const ISSUER: &str = "https://as.example";
pub(crate) const ISSUER_B: &str = "https://other-as.example";

pub(crate) fn metadata_doc(issuer: &str) -> serde_json::Value {
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

pub(crate) struct Fixture {
    pub(crate) attacker: Attacker,
    pub(crate) core: Arc<Latchkey>,
    pub(crate) store: Arc<KeyringStore>,
    pub(crate) dir: std::path::PathBuf,
    pub(crate) bystander: AccountId,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Everything a failed attack must leave as it was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) registry: Option<Vec<u8>>,
    pub(crate) keys: Vec<String>,
    pub(crate) bystander_token: Option<String>,
}

impl Fixture {
    pub(crate) async fn new(name: &str) -> Self {
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
        let core = Arc::new(Latchkey::new(
            Arc::new(http),
            Vault::new(store.clone()),
            Arc::new(SystemClock),
            Registry::in_dir(&dir),
            providers,
        ));
        // A bystander account that no attack may touch.
        let identity = Identity {
            issuer: ISSUER.into(),
            subject: "bystander".into(),
            name: Some("By Stander".into()),
            username: None,
            email: Some("by@example.test".into()),
            picture: None,
        };
        let account = new_account("a", &identity, vec!["openid".into()], SystemTime::now());
        let bystander = account.id.clone();
        core.registry()
            .update(|b| b.upsert(account))
            .expect("registry");
        core.testing_store_refresh_token(&bystander, &SecretString::new("RT-bystander"))
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

    pub(crate) async fn snapshot(&self) -> Snapshot {
        let mut keys = self.store.list_keys().expect("keys");
        keys.retain(|k| !k.starts_with(latchkey_core::flow::request::PENDING_KEY));
        Snapshot {
            registry: std::fs::read(self.core.registry().path()).ok(),
            keys,
            bystander_token: self
                .core
                .testing_refresh_token(&self.bystander)
                .await
                .expect("read")
                .map(|t| t.expose().to_owned()),
        }
    }

    /// Starts a sign-in at provider `a`; returns (state, nonce).
    pub(crate) async fn begin(&self) -> (String, String) {
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

    pub(crate) fn callback(state: &str, extra: &str) -> String {
        let iss: String = url::form_urlencoded::byte_serialize(ISSUER.as_bytes()).collect();
        format!("dev.latchkey:/oauth/callback?code=stolen-or-real&state={state}&iss={iss}{extra}")
    }

    /// Runs a sign-in whose token endpoint answers `reply`; returns the error.
    pub(crate) async fn sign_in_with(
        &self,
        reply: Reply,
    ) -> latchkey_core::session::sign_in::CompleteError {
        let (state, _) = self.begin().await;
        self.attacker.on("/token", reply);
        self.complete(&Self::callback(&state, "")).await
    }

    pub(crate) async fn complete(
        &self,
        url: &str,
    ) -> latchkey_core::session::sign_in::CompleteError {
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
    pub(crate) async fn sign_in_with_id_token(
        &self,
        edit: impl FnOnce(&mut Claims),
    ) -> latchkey_core::session::sign_in::CompleteError {
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

pub(crate) fn token_body(id_token: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": "AT-attacker", "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": "RT-attacker", "id_token": id_token,
    })
}

pub(crate) fn assert_case(
    err: &latchkey_core::session::sign_in::CompleteError,
    code: &str,
    shown: &str,
) {
    assert_eq!(err.code(), code, "{err}");
    let message = latchkey_core::error::report(err);
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

pub(crate) fn jwt(
    header: &serde_json::Value,
    payload: &serde_json::Value,
    signature: &[u8],
) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub(crate) fn payload(nonce: &str) -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    serde_json::json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "mallory", "nonce": nonce, "iat": now, "exp": now + 600})
}
