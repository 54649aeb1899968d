//! Attacks through the discovery document.

#![allow(unused_imports)]

use super::attacker::*;
use super::*;

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
