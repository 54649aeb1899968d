//! Tests of `token`.
use super::*;
use crate::http::{BoxFuture, HttpRequest, HttpResponse};
use std::sync::Mutex;

#[derive(Debug)]
struct Canned {
    status: u16,
    content_type: &'static str,
    body: String,
    seen: Mutex<Vec<String>>,
}

impl Canned {
    fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            seen: Mutex::default(),
        }
    }
}

impl HttpClient for Canned {
    fn execute(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.seen
            .lock()
            .expect("lock")
            .push(String::from_utf8_lossy(request.body()).into_owned());
        let response = http::Response::builder()
            .status(self.status)
            .header("content-type", self.content_type)
            .body(self.body.clone().into_bytes())
            .expect("response");
        Box::pin(async move { Ok(response) })
    }
}

fn endpoint() -> TokenEndpoint {
    TokenEndpoint {
        url: Url::parse("https://id.example/token").expect("url"),
        client_id: "latchkey-desktop".into(),
        issuer: "https://id.example".into(),
        client_secret: None,
        dead_grant_errors: Vec::new(),
    }
}

async fn exchange(http: &Canned) -> Result<TokenSet, TokenError> {
    exchange_code(
        http,
        &endpoint(),
        &Url::parse("dev.latchkey:/oauth/callback").expect("url"),
        SecretString::new("the-code"),
        SecretString::new("the-verifier"),
        SystemTime::now(),
    )
    .await
}

#[tokio::test]
async fn sends_code_verifier_and_parses_tokens() {
    let http = Canned::new(
        200,
        "application/json",
        r#"{"access_token":"AT-secret","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-secret","scope":"openid offline_access"}"#,
    );
    let tokens = exchange(&http).await.expect("ok");
    assert_eq!(tokens.access_token.expose(), "AT-secret");
    assert_eq!(
        tokens.refresh_token.as_ref().map(SecretString::expose),
        Some("RT-secret")
    );
    assert!(tokens.expires_at.is_some());
    assert_eq!(
        tokens.scopes.as_deref(),
        Some(&["openid".to_owned(), "offline_access".to_owned()][..])
    );
    let body = http.seen.lock().expect("lock")[0].clone();
    assert!(body.contains("grant_type=authorization_code"));
    assert!(body.contains("code=the-code"));
    assert!(body.contains("code_verifier=the-verifier"));
    assert!(body.contains("client_id=latchkey-desktop"));
    assert!(body.contains("redirect_uri=dev.latchkey%3A%2Foauth%2Fcallback"));
    assert!(!format!("{tokens:?}").contains("secret"));
}

#[tokio::test]
async fn debug_output_shows_no_token_at_all() {
    let now = SystemTime::now();
    let id_token = crate::testing::Claims::valid(now, "the-nonce")
        .sign()
        .to_string();
    let http = Canned::new(
        200,
        "application/json",
        format!(
            r#"{{"access_token":"AT-secret","token_type":"Bearer","refresh_token":"RT-secret","id_token":"{id_token}"}}"#
        ),
    );
    let tokens = exchange(&http).await.expect("ok");
    assert!(tokens.id_token.is_some());
    let shown = format!("{tokens:?} {tokens:#?}");
    for part in id_token.split('.') {
        assert!(!shown.contains(part), "a part of the ID token in {shown}");
    }
    assert!(!shown.contains("AT-secret") && !shown.contains("RT-secret"));
    assert!(
        shown.contains("id_token: Some(SecretString([redacted]))"),
        "{shown}"
    );
}

#[tokio::test]
async fn oauth_errors_are_typed() {
    let http = Canned::new(
        400,
        "application/json",
        r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
    );
    let err = exchange(&http).await.expect_err("refused");
    assert_eq!(err.code(), "invalid_grant");
    assert_eq!(err.failure(), Failure::GrantDead);
    assert!(err.to_string().contains("grant request is invalid"));
}

#[tokio::test]
async fn hostile_responses_never_leak_their_body() {
    for (status, ct, body) in [
        (
            200,
            "application/json",
            r#"{"token_type":"Bearer","refresh_token":"LEAKED-RT"}"#,
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"LEAKED-AT","token_type":"mac"}"#,
        ),
        (200, "application/json", "{not json LEAKED"),
        (500, "text/html", "<html>LEAKED stack trace</html>"),
        (302, "text/html", ""),
        (
            200,
            "application/json",
            r#"{"access_token":"LEAKED-AT","token_type":"Bearer","expires_in":"LEAKED"}"#,
        ),
    ] {
        let http = Canned::new(status, ct, body);
        let err = exchange(&http).await.expect_err(body);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("LEAKED"), "{shown}");
        assert_eq!(err.code(), "token_invalid_response", "{body}: {shown}");
    }
}

#[tokio::test]
async fn error_fields_are_reduced_to_the_rfc_charset() {
    let http = Canned::new(
        400,
        "application/json",
        r#"{"error":"invalid_grant\n<script>","error_description":"line1\u0007\nline2 \"quoted\""}"#,
    );
    let err = exchange(&http).await.expect_err("refused");
    let TokenError::OAuth {
        error, description, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(error, "invalid_grant<script>");
    assert_eq!(description.as_deref(), Some("line1line2 quoted"));
}

#[tokio::test]
async fn a_bad_id_token_does_not_hide_the_rest_of_the_response() {
    // An ID token without `iat`: before, the whole response failed to
    // parse ("not a JSON token response") and a rotated refresh token in
    // it was lost. The ID token is checked (and named) later.
    let http = Canned::new(
        200,
        "application/json",
        r#"{"access_token":"AT","token_type":"Bearer","refresh_token":"RT-2","id_token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}"#,
    );
    let tokens = exchange(&http).await.expect("the response itself is fine");
    assert_eq!(tokens.refresh_token.expect("rt").expose(), "RT-2");
    let err = crate::id_token::parse(&tokens.id_token.expect("kept raw")).expect_err("no iat");
    assert!(err.to_string().contains("claim is missing"), "{err}");
}

#[tokio::test]
async fn server_errors_are_transient() {
    let http = Canned::new(503, "text/html", "<html>down</html>");
    let err = exchange(&http).await.expect_err("503");
    assert_eq!(err.failure(), Failure::Transient, "{err}");
    assert!(err.to_string().contains("503"));
}

// GitHub's token endpoint (modelled from its docs; no GitHub here).

#[tokio::test]
async fn an_error_sent_with_http_200_is_an_oauth_error() {
    let http = Canned::new(
        200,
        "application/json",
        r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com"}"#,
    );
    let err = exchange(&http).await.expect_err("an error");
    assert!(
        matches!(&err, TokenError::OAuth { error, status: Some(200), .. } if error == "bad_verification_code"),
        "{err:?}"
    );
    assert_eq!(err.failure(), Failure::Refused);
}

#[tokio::test]
async fn a_providers_own_dead_grant_code_becomes_invalid_grant_on_refresh() {
    let http = Canned::new(200, "application/json", r#"{"error":"bad_refresh_token"}"#);
    let mut endpoint = endpoint();
    let refresh_token = SecretString::new("RT");
    let plain = refresh(&http, &endpoint, &refresh_token, SystemTime::now())
        .await
        .expect_err("error");
    // Unknown to this endpoint: the grant is kept.
    assert_eq!(plain.failure(), Failure::Refused);
    endpoint.dead_grant_errors = vec!["bad_refresh_token".into()];
    let dead = refresh(&http, &endpoint, &refresh_token, SystemTime::now())
        .await
        .expect_err("error");
    assert_eq!(dead.failure(), Failure::GrantDead);
    assert!(dead.to_string().contains("bad_refresh_token"), "{dead}");
}

#[tokio::test]
async fn comma_separated_scopes_and_a_string_expires_in_are_read() {
    let http = Canned::new(
        200,
        "application/json",
        r#"{"access_token":"ghu_x","token_type":"bearer","scope":"repo,read:user","expires_in":"28800","refresh_token":"ghr_y","refresh_token_expires_in":"15897600"}"#,
    );
    let tokens = exchange(&http).await.expect("ok");
    assert_eq!(
        tokens.scopes.as_deref(),
        Some(&["repo".to_owned(), "read:user".to_owned()][..])
    );
    let left = tokens
        .expires_at
        .expect("expiry")
        .duration_since(SystemTime::now())
        .expect("future");
    assert!(left > Duration::from_secs(28_000), "{left:?}");
}

#[tokio::test]
async fn a_client_secret_travels_in_the_body_only() {
    let http = Canned::new(
        200,
        "application/json",
        r#"{"access_token":"AT","token_type":"Bearer"}"#,
    );
    let mut endpoint = endpoint();
    endpoint.client_secret = Some(SecretString::new("the-client-secret"));
    exchange_code(
        &http,
        &endpoint,
        &Url::parse("http://127.0.0.1:5000/oauth/callback").expect("url"),
        SecretString::new("code"),
        SecretString::new("verifier"),
        SystemTime::now(),
    )
    .await
    .expect("ok");
    let body = http.seen.lock().expect("lock")[0].clone();
    assert!(body.contains("client_secret=the-client-secret"), "{body}");
    assert!(body.contains("client_id=latchkey-desktop"), "{body}");
}
