//! At setup the plugin launches the core: the startup reconciliation (its
//! report reaches the app through `latchkey_launched`) and a check of every
//! provider (reachable, or why not, in `provider_views`).

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::session::providers::Reachability;
use latchkey_core::store::vault::{KeyringStore, Vault};
use latchkey_core::testing::{FakeServer, ISSUER};
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

#[test]
fn the_launch_reconciles_and_checks_every_provider() {
    let dir = std::env::temp_dir().join(format!("lk-plugin-launch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A damaged accounts file: the launch moves it aside and says so.
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("accounts.json"), "{ not json").expect("write");
    let identity = AppIdentity::new("com.example.launch", "com.example.launch").expect("identity");
    let providers = latchkey_core::config::provider::parse_providers_for(
        &format!(
            "[[provider]]\nid = \"up\"\nissuer = \"{ISSUER}\"\nclient_id = \"c\"\n\
             [[provider]]\nid = \"down\"\nissuer = \"https://down.example\"\nclient_id = \"c\"\n"
        ),
        &identity,
    )
    .expect("parses")
    .into_iter()
    .map(|e| e.config.expect("valid"))
    .collect();
    // The fake IdP speaks for ISSUER: the other provider gets a document
    // naming another issuer (rejected, RFC 8414 §3.3).
    let server = Arc::new(FakeServer::new());
    server.serve_discovery();
    let core = Arc::new(
        Latchkey::builder(identity.clone())
            .http(server)
            .vault(Vault::new(Arc::new(KeyringStore::in_memory(
                identity.identifier(),
            ))))
            .data_dir(&dir)
            .providers(providers)
            .build()
            .expect("core"),
    );
    let app = tauri::test::mock_builder()
        .plugin(tauri_plugin_latchkey::init(
            Config::new(identity).core(core).open_browser(false),
        ))
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .expect("app");
    let mut launched = app.latchkey_launched();
    tauri::async_runtime::block_on(async {
        let report =
            tokio::time::timeout(Duration::from_secs(10), launched.wait_for(Option::is_some))
                .await
                .expect("launched within 10 s")
                .expect("the plugin is alive")
                .clone()
                .expect("some");
        let report = report.as_ref().as_ref().expect("reconciled");
        let (moved, _) = report
            .quarantined
            .as_ref()
            .expect("the damaged file moved aside");
        assert!(moved.exists(), "{}", moved.display());
        let checked = async {
            loop {
                let views = app.latchkey().provider_views();
                if views
                    .iter()
                    .all(|v| v.reachability != Reachability::Checking)
                {
                    break views;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let views = tokio::time::timeout(Duration::from_secs(10), checked)
            .await
            .expect("every provider checked within 10 s");
        assert_eq!(views[0].id, "up");
        assert_eq!(views[0].reachability, Reachability::Reachable);
        assert_eq!(views[1].id, "down");
        assert!(
            matches!(&views[1].reachability, Reachability::Unreachable { reason, .. } if !reason.is_empty()),
            "{:?}",
            views[1].reachability
        );
    });
    std::fs::remove_dir_all(&dir).ok();
}
