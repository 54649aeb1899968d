//! The live check against the fake server: discovery's issuer, and the
//! endpoints of a provider without discovery.
use super::*;
use crate::config::provider::parse_providers;
use crate::testing::{Canned, FakeServer, ISSUER, discovery_document};

fn config(toml: &str) -> ProviderConfig {
    parse_providers(toml).expect("parses")[0]
        .config
        .as_ref()
        .expect("valid")
        .clone()
}

fn oidc() -> ProviderConfig {
    config(&format!(
        "[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"c\"\n"
    ))
}

fn oauth2() -> ProviderConfig {
    config(&format!(
        "[[provider]]\nid = \"o\"\npreset = \"oauth2\"\nissuer = \"{ISSUER}\"\nclient_id = \"c\"\n\
         authorization_endpoint = \"{ISSUER}/auth\"\ntoken_endpoint = \"{ISSUER}/token\"\n\
         userinfo_endpoint = \"{ISSUER}/user\"\n"
    ))
}

#[tokio::test]
async fn a_discovered_provider_passes_with_its_own_issuer() {
    let server = FakeServer::new();
    server.serve_discovery();
    let metadata = check_provider_config(&server, &oidc())
        .await
        .expect("passes");
    assert_eq!(metadata.issuer, ISSUER);
    assert_eq!(server.count("/.well-known/openid-configuration"), 1);
    // Discovery is all a discovered provider needs: no endpoint is probed.
    assert_eq!(server.count("/auth"), 0);
}

#[tokio::test]
async fn a_document_naming_another_issuer_fails_the_check() {
    let server = FakeServer::new();
    let mut document = discovery_document();
    document["issuer"] = "https://attacker.example".into();
    server.set(
        "/.well-known/openid-configuration",
        Canned::json(200, document),
    );
    let err = check_provider_config(&server, &oidc())
        .await
        .expect_err("another issuer");
    assert_eq!(err.code(), "issuer_mismatch");
    assert!(err.to_string().contains("attacker.example"), "{err}");
}

#[tokio::test]
async fn a_provider_that_does_not_answer_fails_the_check() {
    let server = FakeServer::new();
    let err = check_provider_config(&server, &oidc())
        .await
        .expect_err("nothing answers");
    assert_eq!(err.code(), "network_unreachable");
    let server = FakeServer::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        server.set(path, Canned::html(404, "<html>not here</html>"));
    }
    let err = check_provider_config(&server, &oidc())
        .await
        .expect_err("no document");
    assert_eq!(err.code(), "discovery_http_status");
}

#[tokio::test]
async fn without_discovery_every_given_endpoint_must_answer_with_anything() {
    let server = FakeServer::new();
    server.set("/auth", Canned::html(400, "missing client_id"));
    server.set("/token", Canned::json(405, serde_json::json!({})));
    // The user endpoint does not answer at all.
    let err = check_provider_config(&server, &oauth2())
        .await
        .expect_err("the user endpoint is unreachable");
    let CheckError::Unreachable { field, url, .. } = &err else {
        panic!("not an unreachable endpoint: {err:?}");
    };
    assert_eq!(*field, "userinfo_endpoint");
    assert_eq!(url, &format!("{ISSUER}/user"));
    assert_eq!(err.code(), "network_unreachable");
    assert!(err.to_string().contains("/user did not answer"), "{err}");
    // An error status is still an answer.
    server.set("/user", Canned::json(401, serde_json::json!({})));
    check_provider_config(&server, &oauth2())
        .await
        .expect("every endpoint answered");
    assert_eq!(server.count("/.well-known/openid-configuration"), 0);
}
