//! Tests of `id_token`.
use super::*;
use crate::testing::{CLIENT_ID, Canned, Claims, FakeServer, ISSUER, jwks, unsigned_token};

const NONCE: &str = "n-0S6_WzA2Mj";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn check(claims: &Claims) -> Result<Identity, IdTokenError> {
    check_token(&claims.sign(), Some(NONCE), None)
}

fn check_token(
    token: &CoreIdToken,
    nonce: Option<&str>,
    subject: Option<&str>,
) -> Result<Identity, IdTokenError> {
    let nonce = nonce.map(SecretString::new);
    verify_with_keys(
        token,
        jwks(&[1]),
        &Expectations {
            issuer: ISSUER,
            client_id: CLIENT_ID,
            nonce: nonce.as_ref(),
            subject,
            now: now(),
        },
    )
}

#[test]
fn a_valid_token_yields_the_identity() {
    let identity = check(&Claims::valid(now(), NONCE)).expect("valid");
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.issuer, ISSUER);
    assert_eq!(identity.name.as_deref(), Some("Alice"));
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
}

#[test]
fn signature_by_another_key_is_refused() {
    let mut claims = Claims::valid(now(), NONCE);
    claims.key = 2; // kid "k2" is not in the JWKS
    assert_eq!(
        check(&claims).expect_err("unknown key").code(),
        "id_token_signature"
    );
}

#[test]
fn tampered_payload_is_refused() {
    let token = Claims::valid(now(), NONCE).sign().to_string();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE.decode(parts[1]).expect("b64")).expect("json");
    payload["sub"] = "mallory".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE.encode(payload.to_string()),
        parts[2]
    );
    let token: CoreIdToken = forged.parse().expect("jwt");
    assert_eq!(
        check_token(&token, Some(NONCE), None)
            .expect_err("forged")
            .code(),
        "id_token_signature"
    );
}

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE;

#[test]
fn alg_none_is_refused() {
    let token = unsigned_token(&serde_json::json!({
        "iss": ISSUER, "aud": CLIENT_ID, "sub": "alice", "nonce": NONCE,
        "exp": 1_800_003_600, "iat": 1_800_000_000,
    }));
    let err = check_token(&token, Some(NONCE), None).expect_err("alg none");
    assert_eq!(err.code(), "id_token_signature", "{err}");
}

#[test]
fn wrong_issuer_audience_and_azp() {
    let mut claims = Claims::valid(now(), NONCE);
    claims.iss = "https://evil.example".into();
    assert_eq!(check(&claims).expect_err("iss").code(), "id_token_issuer");

    let mut claims = Claims::valid(now(), NONCE);
    claims.aud = vec!["someone-else".into()];
    assert_eq!(check(&claims).expect_err("aud").code(), "id_token_audience");

    let mut claims = Claims::valid(now(), NONCE);
    claims.aud = vec![CLIENT_ID.into(), "another-client".into()];
    let err = check(&claims).expect_err("several audiences without azp");
    assert_eq!(err.code(), "id_token_audience", "{err}");

    let mut claims = Claims::valid(now(), NONCE);
    claims.azp = Some("another-client".into());
    let err = check(&claims).expect_err("wrong azp");
    assert_eq!(err.code(), "id_token_audience", "{err}");

    let mut claims = Claims::valid(now(), NONCE);
    claims.azp = Some(CLIENT_ID.into());
    assert!(check(&claims).is_ok(), "azp = our client id is fine");
}

/// A JWT whose payload lacks `claim` (the signature does not matter: the
/// claims are read first).
fn without(claim: &str) -> SecretString {
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let mut payload = serde_json::json!({
        "iss": ISSUER, "aud": CLIENT_ID, "sub": "alice", "iat": 1_800_000_000, "exp": 1_800_003_600,
    });
    payload.as_object_mut().expect("object").remove(claim);
    let header = serde_json::json!({"alg": "RS256", "kid": "k1"});
    SecretString::new(format!("{}.{}.c2ln", b64(&header), b64(&payload)))
}

#[test]
fn a_missing_claim_is_named_not_called_an_invalid_token_response() {
    for claim in ["iat", "sub", "exp"] {
        let err = parse(&without(claim)).expect_err(claim);
        assert_eq!(err.code(), "id_token_invalid");
        assert!(
            err.to_string()
                .contains(&format!("`{claim}` claim is missing")),
            "{claim}: {err}"
        );
    }
    assert!(parse(&without("nothing")).is_ok());
    let err = parse(&SecretString::new("not-a-jwt")).expect_err("garbage");
    assert!(!err.to_string().contains("not-a-jwt"), "{err}");
}

#[test]
fn expiry_and_issue_time() {
    let mut claims = Claims::valid(now(), NONCE);
    claims.exp = now() - CLOCK_SKEW_LEEWAY - Duration::from_secs(1);
    assert_eq!(
        check(&claims).expect_err("expired").code(),
        "id_token_expired"
    );

    // A clock a few minutes fast and a 5-minute ID token (Keycloak's
    // default): the same leeway on `exp` as on `iat`.
    let mut claims = Claims::valid(now(), NONCE);
    claims.iat = now() - Duration::from_secs(6 * 60);
    claims.exp = claims.iat + Duration::from_secs(5 * 60);
    assert!(
        check(&claims).is_ok(),
        "a clock 6 minutes fast, 5-minute token"
    );

    let mut claims = Claims::valid(now(), NONCE);
    claims.iat = now() + Duration::from_secs(3600);
    claims.exp = now() + Duration::from_secs(7200);
    assert_eq!(
        check(&claims).expect_err("future iat").code(),
        "id_token_iat"
    );

    let mut claims = Claims::valid(now(), NONCE);
    claims.iat = now() + Duration::from_secs(60);
    assert!(
        check(&claims).is_ok(),
        "a minute of clock skew is tolerated"
    );
}

#[test]
fn nonce_missing_or_wrong() {
    let mut claims = Claims::valid(now(), NONCE);
    claims.nonce = None;
    let err = check(&claims).expect_err("missing");
    assert_eq!(err.code(), "id_token_nonce");
    assert!(err.to_string().contains("missing"));

    let claims = Claims::valid(now(), "another-nonce");
    let err = check(&claims).expect_err("wrong");
    assert_eq!(err.code(), "id_token_nonce");
    assert!(
        !err.to_string().contains("another-nonce"),
        "the nonce value is not echoed"
    );
}

#[test]
fn after_a_refresh_no_nonce_is_needed_but_sub_must_match() {
    let mut claims = Claims::valid(now(), NONCE);
    claims.nonce = None;
    assert!(check_token(&claims.sign(), None, Some("alice")).is_ok());
    let mut claims = Claims::valid(now(), NONCE);
    claims.sub = "bob".into();
    assert_eq!(
        check_token(&claims.sign(), None, Some("alice"))
            .expect_err("sub changed")
            .code(),
        "id_token_subject_changed"
    );
}

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_once() {
    let jwks_uri = Url::parse("https://id.example/jwks").expect("url");
    let mut claims = Claims::valid(now(), NONCE);
    claims.key = 2;
    let raw = claims.raw();
    let nonce = SecretString::new(NONCE);
    let expect = Expectations {
        issuer: ISSUER,
        client_id: CLIENT_ID,
        nonce: Some(&nonce),
        subject: None,
        now: now(),
    };
    // Rotation: the first JWKS has only k1, the second has k2 as well.
    let server = FakeServer::new();
    server.on(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("json")),
    );
    server.on(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1, 2])).expect("json")),
    );
    assert!(verify(&server, &jwks_uri, &raw, &expect).await.is_ok());
    assert_eq!(server.count("/jwks"), 2);

    // Still unknown after the re-fetch: refused, and no third fetch.
    let server = FakeServer::new();
    server.on(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("json")),
    );
    let err = verify(&server, &jwks_uri, &raw, &expect)
        .await
        .expect_err("unknown kid");
    assert_eq!(err.code(), "id_token_signature");
    assert_eq!(server.count("/jwks"), 2);
}

#[tokio::test]
async fn a_jwks_url_returning_html_is_reported() {
    let server = FakeServer::new();
    server.on(
        "/jwks",
        Canned {
            headers: Vec::new(),
            status: 200,
            content_type: "text/html",
            body: "<html>login</html>".into(),
        },
    );
    let err = fetch_jwks(
        &server,
        &Url::parse("https://id.example/jwks").expect("url"),
    )
    .await
    .expect_err("html");
    assert_eq!(err.code(), "jwks_unavailable");
    assert!(err.to_string().contains("HTML"));
}

fn without_profile() -> Identity {
    Identity {
        issuer: ISSUER.into(),
        subject: "alice".into(),
        name: None,
        username: None,
        email: Some("alice@example.test".into()),
        picture: None,
    }
}

#[tokio::test]
async fn missing_profile_claims_come_from_userinfo() {
    let server = FakeServer::new();
    server.set(
        "/me",
        Canned::json(
            200,
            serde_json::json!({"sub": "alice", "name": "Alice Liddell",
                "email": "alice@userinfo.test", "picture": "https://id.example/alice.png"}),
        ),
    );
    let userinfo = Url::parse("https://id.example/me").expect("url");
    let mut identity = without_profile();
    complete_from_userinfo(
        &server,
        &userinfo,
        &SecretString::new("AT-1"),
        &mut identity,
    )
    .await
    .expect("filled");
    assert_eq!(identity.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(
        identity.email.as_deref(),
        Some("alice@example.test"),
        "a claim of the ID token wins"
    );
    assert_eq!(
        identity.picture.as_deref(),
        Some("https://id.example/alice.png")
    );
    assert_eq!(server.count("/me"), 1);
}

#[tokio::test]
async fn userinfo_for_another_subject_or_broken_is_refused_and_changes_nothing() {
    let server = FakeServer::new();
    let userinfo = Url::parse("https://id.example/me").expect("url");
    for (canned, reason) in [
        (
            Canned::json(
                200,
                serde_json::json!({"sub": "mallory", "name": "Mallory"}),
            ),
            "its sub differs",
        ),
        (
            Canned::json(401, serde_json::json!({"error": "invalid_token"})),
            "HTTP 401",
        ),
        (
            Canned {
                headers: Vec::new(),
                status: 200,
                content_type: "text/html",
                body: "<html>Mallory</html>".into(),
            },
            "not a JSON",
        ),
    ] {
        server.set("/me", canned);
        let mut identity = without_profile();
        let err = complete_from_userinfo(
            &server,
            &userinfo,
            &SecretString::new("AT-1"),
            &mut identity,
        )
        .await
        .expect_err("refused");
        assert_eq!(err.code(), "userinfo_invalid");
        assert!(err.to_string().contains(reason), "{err}");
        assert!(!err.to_string().contains("Mallory") && !err.to_string().contains("AT-1"));
        assert_eq!(identity.name, None, "nothing taken from a refused answer");
    }
}
