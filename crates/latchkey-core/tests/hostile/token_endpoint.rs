//! Attacks through the token endpoint.

#![allow(unused_imports)]

use super::attacker::*;
use super::*;

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
