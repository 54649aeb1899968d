//! Attacks through the ID token.

#![allow(unused_imports)]

use super::attacker::*;
use super::*;

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
        latchkey_core::store::registry::AccountStatus::NeedsSignIn
    );
    assert_eq!(
        f.core
            .testing_refresh_token(&f.bystander)
            .await
            .expect("read"),
        None
    );
}
