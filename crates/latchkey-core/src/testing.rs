//! Test fixtures shared by the unit tests: signing keys, ID token builders and
//! an in-process fake authorization server behind the [`HttpClient`] seam.
//! (The end-to-end tests use the real `oidc-provider`; this is for branches.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, ClientId, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl, JsonWebKeyId,
    LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};

use crate::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, TransportError};
use crate::secret::SecretString;

mod stores;
pub use stores::{FailingStore, RefusingStore};

pub const ISSUER: &str = "https://id.example";
pub const CLIENT_ID: &str = "latchkey-desktop";

pub fn key(n: u8) -> CoreRsaPrivateSigningKey {
    let pem = match n {
        1 => include_str!("testdata/rsa-test-key-1.pem"),
        _ => include_str!("testdata/rsa-test-key-2.pem"),
    };
    #[allow(clippy::expect_used)]
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(format!("k{n}"))))
        .expect("test key")
}

pub fn jwks(keys: &[u8]) -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(keys.iter().map(|n| key(*n).as_verification_key()).collect())
}

/// A test key with no `kid` (providers that publish a single unnamed key).
pub fn key_without_kid(n: u8) -> CoreRsaPrivateSigningKey {
    let pem = match n {
        1 => include_str!("testdata/rsa-test-key-1.pem"),
        _ => include_str!("testdata/rsa-test-key-2.pem"),
    };
    #[allow(clippy::expect_used)]
    CoreRsaPrivateSigningKey::from_pem(pem, None).expect("test key")
}

/// A key set of keys without `kid`.
pub fn jwks_without_kid(keys: &[u8]) -> CoreJsonWebKeySet {
    CoreJsonWebKeySet::new(
        keys.iter()
            .map(|n| key_without_kid(*n).as_verification_key())
            .collect(),
    )
}

/// What goes into a test ID token.
#[derive(Debug, Clone)]
pub struct Claims {
    pub iss: String,
    pub aud: Vec<String>,
    pub azp: Option<String>,
    pub sub: String,
    pub nonce: Option<String>,
    pub exp: SystemTime,
    pub iat: SystemTime,
    pub name: Option<String>,
    pub email: Option<String>,
    pub key: u8,
    /// Sign without a `kid` header.
    pub no_kid: bool,
}

impl Claims {
    pub fn valid(now: SystemTime, nonce: &str) -> Self {
        Self {
            iss: ISSUER.into(),
            aud: vec![CLIENT_ID.into()],
            azp: None,
            sub: "alice".into(),
            nonce: Some(nonce.into()),
            exp: now + Duration::from_secs(3600),
            iat: now,
            name: Some("Alice".into()),
            email: Some("alice@example.test".into()),
            key: 1,
            no_kid: false,
        }
    }

    #[allow(clippy::expect_used)]
    pub fn sign(&self) -> CoreIdToken {
        let mut standard = StandardClaims::new(SubjectIdentifier::new(self.sub.clone()));
        if let Some(name) = &self.name {
            let mut localized = LocalizedClaim::new();
            localized.insert(None, EndUserName::new(name.clone()));
            standard = standard.set_name(Some(localized));
        }
        if let Some(email) = &self.email {
            standard = standard.set_email(Some(EndUserEmail::new(email.clone())));
        }
        let claims = CoreIdTokenClaims::new(
            IssuerUrl::new(self.iss.clone()).expect("issuer"),
            self.aud.iter().cloned().map(Audience::new).collect(),
            DateTime::<Utc>::from(self.exp),
            DateTime::<Utc>::from(self.iat),
            standard,
            EmptyAdditionalClaims {},
        )
        .set_nonce(self.nonce.clone().map(Nonce::new))
        .set_authorized_party(self.azp.clone().map(ClientId::new));
        let signer = if self.no_kid {
            key_without_kid(self.key)
        } else {
            key(self.key)
        };
        CoreIdToken::new(
            claims,
            &signer,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .expect("signed")
    }
}

impl Claims {
    /// The signed token as the provider sends it.
    pub fn raw(&self) -> SecretString {
        SecretString::new(self.sign().to_string())
    }

    /// The signed token with Microsoft's `tid` (tenant id) claim added.
    #[allow(clippy::expect_used)]
    pub fn raw_with_tenant(&self, tid: &str) -> SecretString {
        let mut standard = StandardClaims::new(SubjectIdentifier::new(self.sub.clone()));
        if let Some(email) = &self.email {
            standard = standard.set_email(Some(EndUserEmail::new(email.clone())));
        }
        let claims = openidconnect::IdTokenClaims::<TenantClaim, CoreGenderClaim>::new(
            IssuerUrl::new(self.iss.clone()).expect("issuer"),
            self.aud.iter().cloned().map(Audience::new).collect(),
            DateTime::<Utc>::from(self.exp),
            DateTime::<Utc>::from(self.iat),
            standard,
            TenantClaim {
                tid: tid.to_owned(),
            },
        )
        .set_nonce(self.nonce.clone().map(Nonce::new));
        let token = openidconnect::IdToken::<
            TenantClaim,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >::new(
            claims,
            &key(self.key),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .expect("signed");
        SecretString::new(token.to_string())
    }
}

/// Microsoft's tenant id claim.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TenantClaim {
    /// The tenant id.
    pub tid: String,
}

impl openidconnect::AdditionalClaims for TenantClaim {}

/// An unsigned token (`alg: none`) with the given payload.
#[allow(clippy::expect_used)]
pub fn unsigned_token(payload: &serde_json::Value) -> CoreIdToken {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{body}.")
        .parse()
        .expect("parses as a JWT")
}

/// One canned answer of the fake server.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
            headers: Vec::new(),
        }
    }

    /// An HTML page (a WAF challenge, a captive portal, a load balancer's error).
    pub fn html(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.to_owned(),
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A fake authorization server: answers by path (`/token`, `/jwks`, `/me`)
/// from queues of canned responses (the last one repeats) and records requests.
#[derive(Debug, Default)]
pub struct FakeServer {
    routes: Mutex<HashMap<String, Vec<Canned>>>,
    pub requests: Mutex<Vec<(String, String)>>,
    /// Time each answer takes (so a request is surely still in flight).
    pub delay: Mutex<Duration>,
}

/// The fake IdP's discovery document (OIDC Discovery) for [`ISSUER`]: code
/// flow, PKCE S256, RFC 9207 `iss` in authorization responses.
pub fn discovery_document() -> serde_json::Value {
    serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "jwks_uri": format!("{ISSUER}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    })
}

impl FakeServer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves [`discovery_document`] at the well-known path.
    pub fn serve_discovery(&self) -> &Self {
        self.set(
            "/.well-known/openid-configuration",
            Canned::json(200, discovery_document()),
        )
    }

    pub fn on(&self, path: &str, canned: Canned) -> &Self {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(path.to_owned())
            .or_default()
            .push(canned);
        self
    }

    /// Replaces every queued answer of `path` with `canned`.
    pub fn set(&self, path: &str, canned: Canned) -> &Self {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.to_owned(), vec![canned]);
        self
    }

    /// The bodies of the requests sent to `path`, in order.
    pub fn bodies(&self, path: &str) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }
}

impl HttpClient for FakeServer {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let path = request.uri().path().to_owned();
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((
                path.clone(),
                String::from_utf8_lossy(request.body()).into_owned(),
            ));
        let canned = {
            let mut routes = self
                .routes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match routes.get_mut(&path) {
                Some(queue) if queue.len() > 1 => Some(queue.remove(0)),
                Some(queue) => queue.first().cloned(),
                None => None,
            }
        };
        let delay = *self
            .delay
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let Some(canned) = canned else {
                return Err(TransportError::Connect {
                    host: "id.example".into(),
                    reason: format!("no route for {path}"),
                });
            };
            #[allow(clippy::expect_used)]
            let mut response = http::Response::builder()
                .status(canned.status)
                .header("content-type", canned.content_type);
            for (name, value) in &canned.headers {
                response = response.header(*name, value.as_str());
            }
            Ok(response.body(canned.body.into_bytes()).expect("response"))
        })
    }
}

/// Waits for background work a test started (a lifecycle's refresh, a write)
/// until `done` holds: checked every 10 ms, failing after 10 s of real time.
/// A fixed sleep before a positive assertion fails on a loaded machine (an
/// fsync'd file write alone can take longer than 100 ms there). Works with a
/// paused tokio clock too: the deadline is the wall clock's.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
