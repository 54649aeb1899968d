//! Tests of the preset catalogue, through the providers file.
use super::*;
use crate::config::provider::{ProviderConfig, RedirectKind, parse_providers};
use crate::error::ErrorCode as _;

fn entry(fields: &str) -> Result<ProviderConfig, crate::config::provider::ConfigError> {
    let text = format!("[[provider]]\nid = \"p\"\nclient_id = \"c\"\n{fields}\n");
    parse_providers(&text)
        .expect("file parses")
        .remove(0)
        .config
}

fn reason(fields: &str) -> String {
    entry(fields).expect_err(fields).to_string()
}

#[test]
fn every_preset_has_one_catalogue_entry_and_a_round_trip_key() {
    for info in PRESETS {
        assert_eq!(Preset::from_key(info.preset.key()), Some(info.preset));
        assert_eq!(info.preset.info(), info);
        assert!(!info.help.is_empty());
    }
    assert_eq!(PRESETS.len(), 9);
    assert_eq!(Preset::from_key("facebook"), None);
}

#[test]
fn google_is_loopback_with_a_secret_and_offline_access_by_parameter() {
    let cfg = entry("preset = \"google\"").expect("valid");
    assert_eq!(cfg.issuer.as_str(), "https://accounts.google.com");
    assert!(cfg.discovery);
    assert_eq!(cfg.redirect, RedirectKind::Loopback { ports: vec![] });
    assert!(cfg.client_secret);
    assert!(!cfg.scopes.iter().any(|s| s == "offline_access"));
    assert!(
        cfg.authorization_params
            .contains(&("access_type".into(), "offline".into()))
    );
    assert!(
        cfg.authorization_params
            .contains(&("prompt".into(), "consent".into()))
    );
}

#[test]
fn microsoft_tenant_builds_the_issuer_and_allows_the_template() {
    let cfg = entry("preset = \"microsoft\"").expect("valid");
    assert_eq!(
        cfg.issuer.as_str(),
        "https://login.microsoftonline.com/common/v2.0"
    );
    assert!(cfg.tenant_issuer);
    assert!(cfg.scopes.iter().any(|s| s == "offline_access"));
    let cfg = entry("preset = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"").expect("valid");
    assert_eq!(
        cfg.issuer.as_str(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    );
    assert!(reason("preset = \"microsoft\"\ntenant = \"a/b\"").contains("tenant"));
}

#[test]
fn tenant_issuer_accepts_the_template_or_a_tenant_of_a_single_tenant_config() {
    let common = "https://login.microsoftonline.com/common/v2.0";
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let guid = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    assert!(tenant_issuer_matches(common, template));
    // A multi-tenant config never accepts one tenant's own metadata.
    assert!(!tenant_issuer_matches(common, guid));
    // A domain-named tenant's metadata names its GUID issuer.
    let contoso = "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0";
    assert!(tenant_issuer_matches(contoso, guid));
    // Another host, another version, or junk: refused.
    assert!(!tenant_issuer_matches(
        common,
        "https://login.evil.example/{tenantid}/v2.0"
    ));
    assert!(!tenant_issuer_matches(
        common,
        "https://login.microsoftonline.com/{tenantid}/v1.0"
    ));
    assert!(!tenant_issuer_matches(
        contoso,
        "https://login.microsoftonline.com/not-a-guid/v2.0"
    ));
}

#[test]
fn github_has_explicit_endpoints_and_its_user_endpoint() {
    let cfg = entry("preset = \"github\"").expect("valid");
    assert!(!cfg.discovery);
    assert_eq!(cfg.identity, IdentityKind::UserEndpoint);
    assert_eq!(cfg.issuer.as_str(), "https://github.com");
    let ep = &cfg.endpoints;
    assert_eq!(
        ep.token_endpoint.as_ref().map(url::Url::as_str),
        Some("https://github.com/login/oauth/access_token")
    );
    assert_eq!(
        ep.userinfo_endpoint.as_ref().map(url::Url::as_str),
        Some("https://api.github.com/user")
    );
    assert_eq!(cfg.dead_grant_errors, ["bad_refresh_token"]);
    assert!(cfg.client_secret);
    assert!(!cfg.scopes.iter().any(|s| s == "openid"));
    // GitHub Enterprise Server: the API lives under /api/v3.
    let ghes = entry("preset = \"github\"\nbase_url = \"https://ghe.example.com\"").expect("valid");
    assert_eq!(
        ghes.endpoints
            .userinfo_endpoint
            .as_ref()
            .map(url::Url::as_str),
        Some("https://ghe.example.com/api/v3/user")
    );
}

#[test]
fn okta_auth0_keycloak_gitlab_issuers() {
    let okta = entry("preset = \"okta\"\ndomain = \"acme.okta.com\"").expect("valid");
    assert_eq!(okta.issuer.as_str(), "https://acme.okta.com/oauth2/default");
    let org =
        entry("preset = \"okta\"\ndomain = \"acme.okta.com\"\nauthorization_server = \"org\"")
            .expect("valid");
    assert_eq!(org.issuer.as_str(), "https://acme.okta.com");
    // Auth0's issuer keeps its trailing slash: compared exactly.
    let auth0 = entry("preset = \"auth0\"\ndomain = \"acme.eu.auth0.com\"").expect("valid");
    assert_eq!(auth0.issuer.as_str(), "https://acme.eu.auth0.com/");
    let kc =
        entry("preset = \"keycloak\"\nbase_url = \"https://sso.example.com/\"\nrealm = \"staff\"")
            .expect("valid");
    assert_eq!(kc.issuer.as_str(), "https://sso.example.com/realms/staff");
    let gitlab = entry("preset = \"gitlab\"").expect("valid");
    assert_eq!(gitlab.issuer.as_str(), "https://gitlab.com");
    assert!(!gitlab.scopes.iter().any(|s| s == "offline_access"));
    assert!(reason("preset = \"okta\"").contains("domain is not valid"));
    assert!(reason("preset = \"keycloak\"\nbase_url = \"https://k\"").contains("realm"));
    assert!(reason("preset = \"auth0\"\ndomain = \"a/b\"").contains("not a host name"));
}

#[test]
fn oauth2_needs_its_endpoints_and_no_openid() {
    let cfg = entry(
        "preset = \"oauth2\"\nissuer = \"https://api.example.com\"\n\
         authorization_endpoint = \"https://api.example.com/authorize\"\n\
         token_endpoint = \"https://api.example.com/token\"\n\
         userinfo_endpoint = \"https://api.example.com/me\"\nscopes = [\"read\"]",
    )
    .expect("valid");
    assert!(!cfg.discovery);
    assert_eq!(cfg.identity, IdentityKind::UserEndpoint);
    let missing = reason("preset = \"oauth2\"\nissuer = \"https://api.example.com\"");
    assert!(missing.contains("authorization_endpoint"), "{missing}");
    let http = reason(
        "preset = \"oauth2\"\nissuer = \"https://api.example.com\"\n\
         authorization_endpoint = \"http://api.example.com/authorize\"",
    );
    assert!(http.contains("https"), "{http}");
}

#[test]
fn file_endpoints_fill_what_discovery_omits() {
    let cfg = entry(
        "issuer = \"https://login.example.com\"\n\
         revocation_endpoint = \"https://login.example.com/revoke\"",
    )
    .expect("valid");
    assert!(cfg.discovery);
    assert_eq!(
        cfg.endpoints
            .revocation_endpoint
            .as_ref()
            .map(url::Url::as_str),
        Some("https://login.example.com/revoke")
    );
}

#[test]
fn a_client_secret_is_never_read_from_the_file() {
    let err = entry("preset = \"google\"\nclient_secret = \"GOCSPX-abc\"").expect_err("secret");
    assert_eq!(err.code(), "config_invalid_value");
    let text = err.to_string();
    assert!(!text.contains("GOCSPX"), "{text}");
    assert!(text.contains("keychain"), "{text}");
    let cfg = entry("issuer = \"https://login.example.com\"\nclient_secret = true").expect("valid");
    assert!(cfg.client_secret);
}

#[test]
fn fields_of_another_preset_and_reserved_parameters_are_refused() {
    assert!(
        reason("preset = \"google\"\nrealm = \"x\"").contains("not a field of the google preset")
    );
    assert!(reason("preset = \"google\"\nissuer = \"https://evil.example\"").contains("derived"));
    // A sovereign cloud or custom domain names its issuer in full.
    let gov =
        entry("preset = \"microsoft\"\nissuer = \"https://login.microsoftonline.us/common/v2.0\"")
            .expect("valid");
    assert!(gov.tenant_issuer);
    assert!(
        reason("issuer = \"https://a.example\"\nauthorization_params = { state = \"x\" }")
            .contains("set by Latchkey")
    );
    assert!(reason("preset = \"nope\"").contains("is not one of"));
    let auth0 = entry(
        "preset = \"auth0\"\ndomain = \"a.auth0.com\"\nauthorization_params = { audience = \"https://api\" }",
    )
    .expect("valid");
    assert_eq!(
        auth0.authorization_params,
        [("audience".to_owned(), "https://api".to_owned())]
    );
}

#[test]
fn a_ca_file_is_read_when_the_entry_is_checked() {
    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testdata/test-ca.pem");
    let cfg = entry(&format!(
        "issuer = \"https://login.example.com\"\nca_file = \"{pem}\""
    ))
    .expect("valid");
    assert_eq!(cfg.ca_certs.len(), 1);
    assert!(reason("issuer = \"https://a.example\"\nca_file = \"ca.pem\"").contains("absolute"));
    assert!(
        reason("issuer = \"https://a.example\"\nca_file = \"/nonexistent/ca.pem\"")
            .contains("cannot read")
    );
    // A key is not a certificate.
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/testdata/rsa-test-key-1.pem"
    );
    assert!(
        reason(&format!(
            "issuer = \"https://a.example\"\nca_file = \"{key}\""
        ))
        .contains("no PEM certificate")
    );
}
