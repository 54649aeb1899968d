//! Tests of `discovery`.
use super::*;
use crate::http::{BoxFuture, HttpRequest, HttpResponse};
use crate::provider::parse_providers;
use std::sync::Mutex;

/// Answers each request from a list of (url, status, body); records the URLs asked.
#[derive(Debug, Default)]
struct FakeHttp {
    routes: Vec<(String, u16, String)>,
    asked: Mutex<Vec<String>>,
}

impl HttpClient for FakeHttp {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        let url = request.uri().to_string();
        self.asked.lock().expect("lock").push(url.clone());
        let found = self.routes.iter().find(|(u, _, _)| *u == url).cloned();
        Box::pin(async move {
            let (status, body) = found.map_or((404, String::new()), |(_, s, b)| (s, b));
            Ok(http::Response::builder()
                .status(status)
                .body(body.into_bytes())
                .expect("response"))
        })
    }
}

fn provider(issuer: &str, dev: bool) -> ProviderConfig {
    let text = format!(
        "[[provider]]\nid = \"p\"\nissuer = \"{issuer}\"\nclient_id = \"c\"\ninsecure_http_loopback = {dev}\n"
    );
    parse_providers(&text)
        .expect("parses")
        .remove(0)
        .config
        .expect("valid")
}

fn doc(issuer: &str, base: &str) -> String {
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/auth"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "userinfo_endpoint": format!("{base}/me"),
        "revocation_endpoint": format!("{base}/token/revocation"),
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "offline_access"],
    })
    .to_string()
}

fn fake(routes: &[(&str, u16, String)]) -> FakeHttp {
    FakeHttp {
        routes: routes
            .iter()
            .map(|(u, s, b)| ((*u).to_owned(), *s, b.clone()))
            .collect(),
        asked: Mutex::default(),
    }
}

#[tokio::test]
async fn valid_document_is_accepted() {
    let p = provider("https://id.example", false);
    let http = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        200,
        doc("https://id.example", "https://id.example"),
    )]);
    let md = discover(&http, &p).await.expect("valid");
    assert_eq!(md.issuer, "https://id.example");
    assert_eq!(md.token_endpoint.as_str(), "https://id.example/token");
    assert!(md.authorization_response_iss_parameter_supported);
    assert!(md.revocation_endpoint.is_some());
}

#[tokio::test]
async fn issuer_mismatch_is_rejected() {
    let p = provider("https://id.example", false);
    let http = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        200,
        doc("https://evil.example", "https://id.example"),
    )]);
    let err = discover(&http, &p).await.expect_err("mismatch");
    assert_eq!(err.code(), "issuer_mismatch");
    assert!(err.to_string().contains("evil.example"));
}

#[tokio::test]
async fn trailing_slash_difference_is_a_mismatch() {
    let p = provider("https://id.example", false);
    let http = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        200,
        doc("https://id.example/", "https://id.example"),
    )]);
    assert_eq!(
        discover(&http, &p).await.expect_err("exact").code(),
        "issuer_mismatch"
    );
}

#[tokio::test]
async fn http_endpoints_rejected_for_non_loopback_issuer() {
    let p = provider("https://id.example", false);
    let http = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        200,
        doc("https://id.example", "http://id.example"),
    )]);
    let err = discover(&http, &p).await.expect_err("http endpoint");
    assert_eq!(err.code(), "discovery_insecure_endpoint");
}

#[tokio::test]
async fn loopback_dev_issuer_allows_http_loopback_endpoints_only() {
    let p = provider("http://127.0.0.1:9000", true);
    let ok = fake(&[(
        "http://127.0.0.1:9000/.well-known/openid-configuration",
        200,
        doc("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    )]);
    assert!(discover(&ok, &p).await.is_ok());
    let escaping = fake(&[(
        "http://127.0.0.1:9000/.well-known/openid-configuration",
        200,
        doc("http://127.0.0.1:9000", "http://attacker.example"),
    )]);
    assert_eq!(
        discover(&escaping, &p)
            .await
            .expect_err("non-loopback http")
            .code(),
        "discovery_insecure_endpoint"
    );
}

#[tokio::test]
async fn falls_back_to_rfc8414_on_404() {
    let p = provider("https://id.example/tenant", false);
    let http = fake(&[(
        "https://id.example/.well-known/oauth-authorization-server/tenant",
        200,
        doc("https://id.example/tenant", "https://id.example"),
    )]);
    assert!(discover(&http, &p).await.is_ok());
    let asked = http.asked.lock().expect("lock").clone();
    assert_eq!(
        asked,
        [
            "https://id.example/tenant/.well-known/openid-configuration",
            "https://id.example/.well-known/oauth-authorization-server/tenant"
        ]
    );
}

#[tokio::test]
async fn html_and_server_errors_are_reported() {
    let p = provider("https://id.example", false);
    let html = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        200,
        "<html>login</html>".into(),
    )]);
    let err = discover(&html, &p).await.expect_err("html");
    assert_eq!(err.code(), "discovery_not_json");
    assert!(err.to_string().contains("HTML"));
    let down = fake(&[(
        "https://id.example/.well-known/openid-configuration",
        503,
        String::new(),
    )]);
    assert_eq!(
        discover(&down, &p).await.expect_err("503").code(),
        "discovery_http_status"
    );
}

#[test]
fn missing_pkce_s256_or_endpoint_is_rejected() {
    let p = provider("https://id.example", false);
    let mut v: serde_json::Value =
        serde_json::from_str(&doc("https://id.example", "https://id.example")).expect("json");
    v["code_challenge_methods_supported"] = serde_json::json!(["plain"]);
    let err = parse_metadata(v.to_string().as_bytes(), "u", &p).expect_err("plain only");
    assert_eq!(err.code(), "discovery_unsupported");
    let mut v: serde_json::Value =
        serde_json::from_str(&doc("https://id.example", "https://id.example")).expect("json");
    v.as_object_mut().expect("object").remove("token_endpoint");
    let err = parse_metadata(v.to_string().as_bytes(), "u", &p).expect_err("no token endpoint");
    assert_eq!(err.code(), "discovery_missing_field");
}

#[tokio::test]
async fn an_endpoint_from_the_providers_file_fills_a_gap_in_discovery_and_wins_over_it() {
    let issuer = "https://login.example.com";
    let mut document: serde_json::Value = serde_json::from_str(&doc(issuer, issuer)).expect("json");
    document
        .as_object_mut()
        .expect("object")
        .remove("revocation_endpoint");
    let http = fake(&[(
        "https://login.example.com/.well-known/openid-configuration",
        200,
        document.to_string(),
    )]);
    let text = format!(
        "[[provider]]\nid = \"p\"\nissuer = \"{issuer}\"\nclient_id = \"c\"\n\
         revocation_endpoint = \"https://login.example.com/oauth/revoke\"\n\
         userinfo_endpoint = \"https://api.example.com/me\"\n"
    );
    let config = parse_providers(&text)
        .expect("parses")
        .remove(0)
        .config
        .expect("valid");
    let metadata = discover(&http, &config).await.expect("discovered");
    assert_eq!(
        metadata.revocation_endpoint.as_ref().map(Url::as_str),
        Some("https://login.example.com/oauth/revoke"),
        "the gap is filled (sign-out can revoke)"
    );
    assert_eq!(
        metadata.userinfo_endpoint.as_ref().map(Url::as_str),
        Some("https://api.example.com/me"),
        "the file wins over the document"
    );
}

#[tokio::test]
async fn a_provider_without_discovery_asks_nothing_and_has_no_signing_keys() {
    let http = fake(&[]);
    let text = "[[provider]]\nid = \"gh\"\npreset = \"github\"\nclient_id = \"c\"\n";
    let config = parse_providers(text)
        .expect("parses")
        .remove(0)
        .config
        .expect("valid");
    let metadata = discover(&http, &config).await.expect("configured");
    assert!(
        http.asked.lock().expect("lock").is_empty(),
        "no discovery request"
    );
    assert_eq!(metadata.jwks_uri, None);
    assert!(!metadata.authorization_response_iss_parameter_supported);
    assert_eq!(
        metadata.token_endpoint.as_str(),
        "https://github.com/login/oauth/access_token"
    );
}
