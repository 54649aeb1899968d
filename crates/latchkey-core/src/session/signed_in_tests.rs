//! Sign-ins at providers whose issuer is not one exact string: Microsoft's
//! `{tenantid}` template (metadata as login.microsoftonline.com/common
//! serves it, ID tokens signed per tenant with `tid`) and Auth0's trailing
//! slash. Modelled on a fake server: neither provider is reachable here.
use crate::clock::Clock as _;
use crate::config::identity::AppIdentity;
use crate::error::ErrorCode as _;
use crate::session::fixture::{callback, fixture_with, metadata};
use crate::testing::{Canned, Claims, ISSUER, jwks};

const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Begins a sign-in at provider `p` whose metadata names `issuer`, answering
/// the code with `id_token(nonce)`; returns the link that completes it.
async fn sign_in_with(
    f: &crate::session::fixture::Fixture,
    issuer: &str,
    id_token: impl Fn(&str) -> crate::secret::SecretString,
) -> (String, url::Url) {
    let mut md = metadata(false);
    md.issuer = issuer.to_owned();
    let (_, state, nonce) = f.begin_with(md).await;
    f.server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "RT", "id_token": id_token(&nonce).expose()}),
        ),
    );
    f.server.set(
        "/jwks",
        Canned::json(200, serde_json::to_value(jwks(&[1])).expect("jwks")),
    );
    let link = format!("dev.latchkey:/oauth/callback/p?code=C&state={state}");
    let on = crate::redirect::callback_uri(&link, &callback()).expect("callback");
    (link, on)
}

fn tenant_token(
    f: &crate::session::fixture::Fixture,
    nonce: &str,
    iss_tenant: &str,
    tid: &str,
) -> crate::secret::SecretString {
    let mut claims = Claims::valid(f.clock.now(), nonce);
    claims.iss = format!("{ISSUER}/{iss_tenant}/v2.0");
    claims.raw_with_tenant(tid)
}

#[tokio::test]
async fn a_multi_tenant_issuer_takes_each_tokens_tenant_and_keys_accounts_per_tenant() {
    let f = fixture_with(
        "ms-tenants",
        &AppIdentity::latchkey(),
        "preset = \"microsoft\"\n",
    );
    let template = format!("{ISSUER}/{{tenantid}}/v2.0");
    let (link, on) = sign_in_with(&f, &template, |n| tenant_token(&f, n, TENANT_A, TENANT_A)).await;
    let a = f.signin.complete(&link, &on).await.expect("tenant A");
    assert_eq!(a.account.issuer, format!("{ISSUER}/{TENANT_A}/v2.0"));
    let (link, on) = sign_in_with(&f, &template, |n| tenant_token(&f, n, TENANT_B, TENANT_B)).await;
    let b = f.signin.complete(&link, &on).await.expect("tenant B");
    assert_ne!(
        a.account.id, b.account.id,
        "the same sub in two tenants is two accounts"
    );
}

#[tokio::test]
async fn a_token_whose_iss_is_not_its_own_tenant_is_refused_and_nothing_is_stored() {
    let f = fixture_with(
        "ms-mixup",
        &AppIdentity::latchkey(),
        "preset = \"microsoft\"\n",
    );
    let template = format!("{ISSUER}/{{tenantid}}/v2.0");
    // Signed by the provider's key, but claiming tenant B's issuer with tenant A's tid.
    let (link, on) = sign_in_with(&f, &template, |n| tenant_token(&f, n, TENANT_B, TENANT_A)).await;
    let err = f
        .signin
        .complete(&link, &on)
        .await
        .expect_err("mixed tenant");
    assert_eq!(err.code(), "id_token_issuer", "{err}");
    // No tid at all under a template issuer.
    let (link, on) = sign_in_with(&f, &template, |n| {
        let mut claims = Claims::valid(f.clock.now(), n);
        claims.iss = template.clone();
        claims.raw()
    })
    .await;
    let err = f.signin.complete(&link, &on).await.expect_err("no tid");
    assert_eq!(err.code(), "id_token_issuer", "{err}");
    assert!(f.signin.accounts().expect("registry").accounts.is_empty());
}

#[tokio::test]
async fn a_plain_provider_never_substitutes_a_template() {
    // The same template issuer from a provider that is not Microsoft's: the
    // token's iss must equal it literally, which no real token does.
    let f = fixture_with("plain-template", &AppIdentity::latchkey(), "");
    let template = format!("{ISSUER}/{{tenantid}}/v2.0");
    let (link, on) = sign_in_with(&f, &template, |n| tenant_token(&f, n, TENANT_A, TENANT_A)).await;
    assert!(f.signin.complete(&link, &on).await.is_err());
}

#[tokio::test]
async fn auth0s_trailing_slash_issuer_is_matched_exactly() {
    let f = fixture_with("auth0", &AppIdentity::latchkey(), "");
    let slash = format!("{ISSUER}/");
    let (link, on) = sign_in_with(&f, &slash, |n| {
        let mut claims = Claims::valid(f.clock.now(), n);
        claims.iss = slash.clone();
        claims.raw()
    })
    .await;
    let signed = f.signin.complete(&link, &on).await.expect("signed in");
    assert_eq!(signed.account.issuer, slash);
    // Without the slash the token is another issuer's.
    let (link, on) = sign_in_with(&f, &slash, |n| Claims::valid(f.clock.now(), n).raw()).await;
    let err = f.signin.complete(&link, &on).await.expect_err("no slash");
    assert_eq!(err.code(), "id_token_issuer", "{err}");
}
