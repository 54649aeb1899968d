//! Provider reachability: checked by discovery, proven by a refresh.
use std::time::Duration;

use super::*;
use crate::clock::Clock as _;
use crate::session::fixture::{fixture, provider_entry, signed_in};
use crate::testing::Canned;

fn reachability(f: &crate::session::fixture::Fixture) -> Reachability {
    let views = f.signin.provider_views();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].id, "p");
    assert_eq!(views[0].name, "Example");
    views[0].reachability.clone()
}

#[tokio::test]
async fn a_provider_is_checking_then_unreachable_then_reachable() {
    let f = fixture("providers-check");
    assert_eq!(reachability(&f), Reachability::Checking);
    // A WAF page where the discovery document should be.
    f.server.set(
        "/.well-known/openid-configuration",
        Canned::html(403, "<html>blocked</html>"),
    );
    let found = f.signin.check_provider("p").await;
    assert_eq!(reachability(&f), found);
    let Reachability::Unreachable { code, reason } = found else {
        panic!("reachable through a WAF page: {found:?}");
    };
    assert!(!code.is_empty());
    assert!(!reason.is_empty());
    f.server.set(
        "/.well-known/openid-configuration",
        Canned::json(200, crate::testing::discovery_document()),
    );
    assert_eq!(f.signin.check_provider("p").await, Reachability::Reachable);
    assert_eq!(reachability(&f), Reachability::Reachable);
}

#[tokio::test]
async fn a_refreshed_account_proves_its_provider_reachable() {
    let f = fixture("providers-refreshed");
    let id = signed_in(&f).await;
    f.server.set(
        "/.well-known/openid-configuration",
        Canned::html(503, "down"),
    );
    assert!(matches!(
        f.signin.check_provider("p").await,
        Reachability::Unreachable { .. }
    ));
    assert!(matches!(reachability(&f), Reachability::Unreachable { .. }));
    let now = f.clock.now();
    f.signin.set_live(
        &id,
        LiveStatus::Ready {
            expires_at: Some(now + Duration::from_secs(3600)),
            next_refresh_at: now + Duration::from_secs(2880),
        },
    );
    assert_eq!(reachability(&f), Reachability::Reachable);
    // It stays so: the refresh proved it, whatever the launch check said.
    f.signin.set_live(&id, LiveStatus::Refreshing);
    assert_eq!(reachability(&f), Reachability::Reachable);
}

#[tokio::test]
async fn providers_without_iss_sharing_a_redirect_uri_are_reported() {
    let identity = crate::config::identity::AppIdentity::latchkey();
    let toml = |ids: &[&str]| {
        ids.iter()
            .map(|id| {
                format!(
                    "[[provider]]\nid = \"{id}\"\nissuer = \"https://{id}.example\"\nclient_id = \"c\"\nredirect_uri = \"dev.latchkey:/oauth/shared\"\n"
                )
            })
            .collect::<String>()
    };
    let core = |ids: &[&str]| {
        let providers = crate::provider::parse_providers_for(&toml(ids), &identity)
            .expect("parses")
            .into_iter()
            .map(|e| e.config.expect("valid"))
            .collect();
        let dir = std::env::temp_dir().join(format!(
            "latchkey-shared-uri-{}-{}",
            ids.len(),
            std::process::id()
        ));
        Latchkey::builder(identity.clone())
            .http(std::sync::Arc::new(crate::testing::FakeServer::new()))
            .vault(crate::vault::Vault::new(std::sync::Arc::new(
                crate::vault::KeyringStore::in_memory("shared-uri"),
            )))
            .data_dir(dir)
            .providers(providers)
            .build()
            .expect("built")
    };
    // Their metadata cannot be fetched: neither is known to send `iss`.
    let risky = core(&["a", "b"]).warn_shared_redirect_uris().await;
    assert_eq!(
        risky.iter().map(url::Url::as_str).collect::<Vec<_>>(),
        ["dev.latchkey:/oauth/shared"]
    );
    assert!(core(&["a"]).warn_shared_redirect_uris().await.is_empty());
}

#[tokio::test]
async fn set_providers_drops_what_was_known_of_changed_and_removed_providers_only() {
    let f = fixture("providers-set");
    f.server.serve_discovery();
    assert_eq!(f.signin.check_provider("p").await, Reachability::Reachable);
    let discoveries = f.server.count("/.well-known/openid-configuration");
    let original = f.signin.provider("p").expect("configured");

    // The same configuration again: its metadata stays cached.
    f.signin.set_providers(vec![original.clone()]);
    assert_eq!(reachability(&f), Reachability::Reachable);
    assert!(f.signin.unchecked_providers().is_empty());
    f.signin.metadata("p").await.expect("cached");
    assert_eq!(
        f.server.count("/.well-known/openid-configuration"),
        discoveries
    );

    // A changed one (another name) is discovered again and shown as new.
    let renamed = ProviderConfig {
        name: "Example".into(),
        client_id: "another-client".into(),
        ..original.clone()
    };
    f.signin.set_providers(vec![renamed]);
    assert_eq!(reachability(&f), Reachability::Checking);
    assert_eq!(f.signin.unchecked_providers(), ["p"], "to be checked again");
    assert_eq!(
        f.signin.provider("p").expect("kept").client_id,
        "another-client"
    );
    f.signin.metadata("p").await.expect("discovered again");
    assert_eq!(
        f.server.count("/.well-known/openid-configuration"),
        discoveries + 1
    );

    // Removed: gone from the list and from the caches.
    f.signin.set_providers(Vec::new());
    assert!(f.signin.provider("p").is_none());
    assert!(f.signin.provider_views().is_empty());
    assert!(f.signin.metadata("p").await.is_err());
}

#[tokio::test]
async fn an_edited_providers_file_replaces_the_providers_and_a_broken_one_changes_nothing() {
    let f = fixture("providers-file");
    f.server.serve_discovery();
    assert_eq!(f.signin.check_provider("p").await, Reachability::Reachable);
    std::fs::create_dir_all(&f.dir).expect("mkdir");
    let path = f.dir.join("providers.toml");
    let p = provider_entry("");
    // Edited by hand: a second provider, and an entry that is rejected.
    std::fs::write(
        &path,
        format!(
            "{p}\n[[provider]]\nid = \"q\"\nissuer = \"https://q.example\"\nclient_id = \"c\"\n\n[[provider]]\nid = \"bad\"\nissuer = \"http://plain.example\"\nclient_id = \"c\"\n"
        ),
    )
    .expect("write");
    let entries = f.signin.reload_providers_file(&path).expect("loaded");
    assert_eq!(entries.len(), 3, "every entry, for display");
    assert!(entries[2].config.is_err(), "plain http is rejected");
    let ids: Vec<String> = f
        .signin
        .providers()
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(ids, ["p", "q"]);
    assert_eq!(
        f.signin.unchecked_providers(),
        ["q"],
        "the unchanged provider keeps its check"
    );

    // A file that does not parse (saved half-way) changes nothing.
    std::fs::write(&path, "[[provider]\nid = ").expect("write");
    let err = f.signin.reload_providers_file(&path).expect_err("broken");
    assert!(!err.code().is_empty());
    assert_eq!(f.signin.providers().len(), 2);
}
