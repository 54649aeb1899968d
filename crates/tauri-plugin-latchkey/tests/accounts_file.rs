//! An account another process (the `latchkey` CLI) signs in while the app
//! runs: the plugin notices the accounts file changed, starts the account's
//! refresh lifecycle and tells `onChange` subscribers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use latchkey_core::config::identity::AppIdentity;
use latchkey_core::flow::id_token::Identity;
use latchkey_core::secret::SecretString;
use latchkey_core::store::registry::new_account;
use latchkey_core::testing::{CLIENT_ID, Canned, FakeServer, ISSUER};
use latchkey_core::{Latchkey, ProviderConfig, Vault};
use tauri_plugin_latchkey::dto::ChangeEvent;
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

fn core(
    identity: &AppIdentity,
    server: &Arc<FakeServer>,
    vault: &Vault,
    dir: &std::path::Path,
    providers: &[ProviderConfig],
) -> Arc<Latchkey> {
    Arc::new(
        Latchkey::builder(identity.clone())
            .http(server.clone())
            .vault(vault.clone())
            .data_dir(dir)
            .providers(providers.to_vec())
            .build()
            .expect("core"),
    )
}

#[test]
fn an_account_signed_in_by_another_process_is_adopted() {
    let dir = std::env::temp_dir().join(format!("lk-plugin-adopt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let identity = AppIdentity::new("com.example.adopt", "com.example.adopt").expect("identity");
    let providers: Vec<ProviderConfig> = latchkey_core::config::provider::parse_providers_for(
        &format!("[[provider]]\nid = \"p\"\nissuer = \"{ISSUER}\"\nclient_id = \"{CLIENT_ID}\"\n"),
        &identity,
    )
    .expect("parses")
    .into_iter()
    .map(|e| e.config.expect("valid"))
    .collect();
    let server = Arc::new(FakeServer::new());
    server.serve_discovery();
    server.set(
        "/token",
        Canned::json(
            200,
            serde_json::json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 3600}),
        ),
    );
    let vault = Vault::new(Arc::new(latchkey_core::KeyringStore::in_memory(
        identity.identifier(),
    )));
    let app = tauri::test::mock_builder()
        .plugin(tauri_plugin_latchkey::init(
            Config::new(identity.clone())
                .core(core(&identity, &server, &vault, &dir, &providers))
                .open_browser(false),
        ))
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .expect("app");
    let mut events = app.latchkey_events();
    let mut launched = app.latchkey_launched();
    tauri::async_runtime::block_on(async {
        tokio::time::timeout(Duration::from_secs(10), launched.wait_for(Option::is_some))
            .await
            .expect("launched")
            .expect("alive");
        // Another process (a CLI) signs bob in: keychain item, then the accounts file.
        let cli = core(&identity, &server, &vault, &dir, &providers);
        let bob = new_account(
            "p",
            &Identity {
                issuer: ISSUER.into(),
                subject: "bob".into(),
                name: None,
                username: None,
                email: Some("bob@example.test".into()),
                picture: None,
            },
            vec!["openid".into()],
            SystemTime::now(),
        );
        let id = bob.id.clone();
        cli.testing_store_refresh_token(&id, &SecretString::new("RT-bob"))
            .await
            .expect("keychain");
        cli.registry()
            .update(|book| book.upsert(bob))
            .expect("registry");
        let adopted = async {
            loop {
                if app.latchkey().is_running(&id) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), adopted)
            .await
            .expect("bob's lifecycle runs within 10 s");
        // Subscribers were told to reload.
        let told = async {
            loop {
                if let Ok(ChangeEvent::Changed { .. }) = events.recv().await {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), told)
            .await
            .expect("a changed event");
        // And it refreshed: an access token is in memory.
        let ready = async {
            while app.latchkey().access_token(&id).is_none() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), ready)
            .await
            .expect("bob refreshed");
    });
    std::fs::remove_dir_all(&dir).ok();
}
