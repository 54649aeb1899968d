//! Tests of `provider`.
use super::*;
use crate::config::provider_entry::parse_issuer;
use crate::error::ErrorCode as _;

fn one(text: &str) -> Result<ProviderConfig, ConfigError> {
    let mut entries = parse_providers(text).expect("file parses");
    assert_eq!(entries.len(), 1);
    entries.remove(0).config
}

#[test]
fn full_entry_parses_with_defaults() {
    let cfg = one(r#"
        [[provider]]
        id = "work"
        issuer = "https://login.example.com"
        client_id = "latchkey-desktop"
        "#)
    .expect("valid");
    assert_eq!(cfg.id.as_str(), "work");
    assert_eq!(cfg.name, "work");
    assert_eq!(cfg.issuer.as_str(), "https://login.example.com");
    assert_eq!(cfg.scopes, ["openid", "offline_access"]);
    assert_eq!(cfg.redirect_uri.as_str(), DEFAULT_REDIRECT_URI);
    assert!(!cfg.insecure_http_loopback);
}

#[test]
fn issuer_with_path_is_kept_exactly() {
    let cfg = one(r#"
        [[provider]]
        id = "tenant"
        issuer = "https://login.example.com/tenant/v2.0"
        client_id = "c"
        "#)
    .expect("valid");
    assert_eq!(cfg.issuer.as_str(), "https://login.example.com/tenant/v2.0");
}

#[test]
fn unknown_field_is_rejected_for_that_entry_only() {
    let entries = parse_providers(
        r#"
        [[provider]]
        id = "typo"
        issuer = "https://a.example"
        client_id = "c"
        scope = ["openid"]

        [[provider]]
        id = "good"
        issuer = "https://b.example"
        client_id = "c"
        "#,
    )
    .expect("file parses");
    assert_eq!(entries.len(), 2);
    let err = entries[0].config.as_ref().expect_err("unknown field");
    assert_eq!(err.code(), "config_entry_invalid");
    assert!(err.to_string().contains("scope"), "{err}");
    assert_eq!(entries[0].label, "typo");
    assert!(entries[1].config.is_ok());
}

#[test]
fn http_issuer_rules() {
    let non_loopback = parse_issuer("http://login.example.com", true).expect_err("http");
    assert_eq!(non_loopback.code(), "config_insecure_issuer");
    let loopback_without_flag = parse_issuer("http://127.0.0.1:9000", false).expect_err("flag");
    assert!(
        loopback_without_flag
            .to_string()
            .contains("insecure_http_loopback")
    );
    assert!(parse_issuer("http://127.0.0.1:9000", true).is_ok());
    assert!(parse_issuer("http://[::1]:9000", true).is_ok());
    assert!(parse_issuer("http://localhost:9000", true).is_ok());
    // A name that merely starts with 127. is not loopback.
    assert!(parse_issuer("http://127.0.0.1.example.com", true).is_err());
}

#[test]
fn bad_urls_are_rejected() {
    assert_eq!(
        parse_issuer("not a url", false).expect_err("bad").code(),
        "config_bad_url"
    );
    assert_eq!(
        parse_issuer("ftp://x.example", false)
            .expect_err("bad")
            .code(),
        "config_bad_url"
    );
    assert!(parse_issuer("https://x.example?tenant=1", false).is_err());
    assert!(parse_issuer("https://x.example#frag", false).is_err());
    // Non-canonical spelling would never match the discovery document exactly.
    assert!(parse_issuer("https://X.example", false).is_err());
}

#[test]
fn scopes_must_include_openid_and_be_tokens() {
    let err = one(r#"
        [[provider]]
        id = "p"
        issuer = "https://a.example"
        client_id = "c"
        scopes = ["profile"]
        "#)
    .expect_err("no openid");
    assert!(err.to_string().contains("openid"));
    let err = one(r#"
        [[provider]]
        id = "p"
        issuer = "https://a.example"
        client_id = "c"
        scopes = ["openid", "two words"]
        "#)
    .expect_err("space");
    assert_eq!(err.code(), "config_invalid_value");
}

#[test]
fn redirect_uri_must_be_ours_or_loopback() {
    let err = one(r#"
        [[provider]]
        id = "p"
        issuer = "https://a.example"
        client_id = "c"
        redirect_uri = "https://evil.example/cb"
        "#)
    .expect_err("foreign redirect");
    assert_eq!(err.code(), "config_invalid_value");
    assert!(
        one(r#"
        [[provider]]
        id = "p"
        issuer = "https://a.example"
        client_id = "c"
        redirect_uri = "http://127.0.0.1/callback"
        "#,)
        .is_ok()
    );
}

#[test]
fn providers_without_iss_get_a_redirect_uri_of_their_own() {
    let entries = parse_providers(
        r#"
        [[provider]]
        id = "work"
        issuer = "https://a.example"
        client_id = "c"
        [[provider]]
        id = "custom"
        issuer = "https://b.example"
        client_id = "c"
        redirect_uri = "dev.latchkey:/cb"
        "#,
    )
    .expect("file parses");
    let work = entries[0].config.as_ref().expect("valid");
    assert_eq!(work.redirect_uri_for(true).as_str(), DEFAULT_REDIRECT_URI);
    assert_eq!(
        work.redirect_uri_for(false).as_str(),
        "dev.latchkey:/oauth/callback/work"
    );
    // An explicit redirect URI is used as written.
    let custom = entries[1].config.as_ref().expect("valid");
    assert_eq!(custom.redirect_uri_for(false).as_str(), "dev.latchkey:/cb");
    assert_eq!(custom.redirect_uri_for(true).as_str(), "dev.latchkey:/cb");
}

#[test]
fn shared_explicit_redirect_uris_are_found() {
    let configs: Vec<ProviderConfig> = parse_providers(
        r#"
        [[provider]]
        id = "a"
        issuer = "https://a.example"
        client_id = "c"
        redirect_uri = "dev.latchkey:/cb"
        [[provider]]
        id = "b"
        issuer = "https://b.example"
        client_id = "c"
        redirect_uri = "dev.latchkey:/cb"
        [[provider]]
        id = "c"
        issuer = "https://c.example"
        client_id = "c"
        [[provider]]
        id = "d"
        issuer = "https://d.example"
        client_id = "c"
        "#,
    )
    .expect("file parses")
    .into_iter()
    .map(|e| e.config.expect("valid"))
    .collect();
    let shared = shared_redirect_uris(&configs);
    assert_eq!(shared.len(), 1, "the default URI is split per provider");
    assert_eq!(shared[0].0.as_str(), "dev.latchkey:/cb");
    assert_eq!(
        shared[0]
            .1
            .iter()
            .map(ProviderId::as_str)
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn duplicate_ids_and_bad_ids() {
    let entries = parse_providers(
        r#"
        [[provider]]
        id = "same"
        issuer = "https://a.example"
        client_id = "c"
        [[provider]]
        id = "same"
        issuer = "https://b.example"
        client_id = "c"
        [[provider]]
        id = "Bad Id"
        issuer = "https://c.example"
        client_id = "c"
        "#,
    )
    .expect("file parses");
    assert!(entries[0].config.is_ok());
    assert_eq!(
        entries[1].config.as_ref().expect_err("dup").code(),
        "config_duplicate_id"
    );
    assert_eq!(
        entries[2].config.as_ref().expect_err("id").code(),
        "config_invalid_value"
    );
}

#[test]
fn missing_id_is_labelled_by_position() {
    let entries = parse_providers(
        r#"
        [[provider]]
        issuer = "https://a.example"
        client_id = "c"
        "#,
    )
    .expect("file parses");
    assert_eq!(entries[0].label, "#1");
    assert!(entries[0].config.is_err());
}

#[test]
fn syntax_error_and_unknown_top_level_key_fail_the_file() {
    assert!(parse_providers("[[provider]\nid=").is_err());
    assert!(parse_providers("providers = []").is_err());
    assert!(parse_providers("").expect("empty").is_empty());
}

#[test]
fn git_tables_for_the_cli_are_allowed_beside_the_providers() {
    let text = "[[provider]]\nid = \"work\"\nissuer = \"https://login.example.com\"\nclient_id = \"c\"\n\n[[git]]\nhost = \"git.example.com\"\naccount = \"work:alice\"\n";
    let entries = parse_providers(text).expect("the file is usable");
    assert_eq!(entries.len(), 1);
    assert!(entries[0].config.is_ok());
}

#[test]
fn missing_file_is_empty_and_unreadable_is_an_error() {
    let dir = std::env::temp_dir().join(format!("latchkey-provider-test-{}", std::process::id()));
    assert!(
        load_providers(&dir.join("absent.toml"))
            .expect("missing")
            .is_empty()
    );
    std::fs::create_dir_all(&dir).expect("mkdir");
    // A directory cannot be read as a file.
    assert_eq!(
        load_providers(&dir).expect_err("dir").code(),
        "config_unreadable"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn loopback_redirects_parse_with_optional_ports() {
    let entry = |extra: &str| {
        one(&format!(
            "[[provider]]\nid = \"g\"\nissuer = \"https://accounts.example\"\nclient_id = \"c\"\n{extra}"
        ))
    };
    let cfg = entry("redirect = \"loopback\"").expect("valid");
    assert_eq!(cfg.redirect, RedirectKind::Loopback { ports: vec![] });
    assert_eq!(cfg.redirect_uri.as_str(), LOOPBACK_REDIRECT_URI);
    // Mix-up defence as for the scheme: a path of its own without RFC 9207.
    assert_eq!(
        cfg.redirect_uri_for(false).as_str(),
        "http://127.0.0.1/oauth/callback/g"
    );
    assert_eq!(cfg.redirect_uri_for(true).as_str(), LOOPBACK_REDIRECT_URI);
    let cfg =
        entry("redirect = \"loopback\"\nloopback_ports = [53682, 1024, 65535]").expect("valid");
    assert_eq!(
        cfg.redirect,
        RedirectKind::Loopback {
            ports: vec![53682, 1024, 65535]
        }
    );
    assert_eq!(
        entry("redirect = \"scheme\"").expect("valid").redirect,
        RedirectKind::Scheme
    );
    assert_eq!(entry("").expect("valid").redirect, RedirectKind::Scheme);
    for (extra, field) in [
        (
            "redirect = \"loopback\"\nloopback_ports = [80]",
            "loopback_ports",
        ),
        (
            "redirect = \"loopback\"\nloopback_ports = [1023]",
            "loopback_ports",
        ),
        (
            "redirect = \"loopback\"\nloopback_ports = [65536]",
            "loopback_ports",
        ),
        (
            "redirect = \"loopback\"\nloopback_ports = [-1]",
            "loopback_ports",
        ),
        (
            "redirect = \"loopback\"\nloopback_ports = [5000, 5000]",
            "loopback_ports",
        ),
        (
            "redirect = \"loopback\"\nloopback_ports = []",
            "loopback_ports",
        ),
        ("loopback_ports = [5000]", "loopback_ports"),
        (
            "redirect = \"loopback\"\nredirect_uri = \"http://127.0.0.1:5000/cb\"",
            "redirect_uri",
        ),
    ] {
        let err = entry(extra).expect_err(extra);
        assert_eq!(err.code(), "config_invalid_value", "{extra}");
        assert!(err.to_string().starts_with(field), "{extra}: {err}");
    }
    let err = entry("redirect = \"localhost\"").expect_err("unknown kind");
    assert_eq!(err.code(), "config_entry_invalid");
}
