//! The plugin builds into a Tauri app (mock runtime: no window, no display)
//! and the app's Rust side reaches the core through `LatchkeyExt`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_core::Latchkey;
use latchkey_core::config::identity::AppIdentity;
use latchkey_core::secret::SecretString;
use latchkey_core::store::vault::{SecretStore, Vault, VaultError};
use tauri_plugin_latchkey::dto::ChangeEvent;
use tauri_plugin_latchkey::{Config, LatchkeyExt as _};

/// A keychain in memory: the test never touches the platform's.
#[derive(Debug, Default)]
struct Memory(Mutex<HashMap<String, SecretString>>);

impl Memory {
    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<String, SecretString>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for Memory {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        Ok(self.items().get(key).cloned())
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        self.items().insert(key.to_owned(), secret.clone());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.items().remove(key);
        Ok(())
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Ok(self.items().keys().cloned().collect())
    }
}

/// The code of the next `sign_in_failed` event (other events are skipped).
fn next_failure(events: &mut tokio::sync::broadcast::Receiver<ChangeEvent>) -> String {
    tauri::async_runtime::block_on(async {
        loop {
            let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .expect("an event within 5 s")
                .expect("the feed is open");
            if let ChangeEvent::SignInFailed { code, message, .. } = event {
                assert!(
                    !message.contains("code=x"),
                    "no link parameters in: {message}"
                );
                return code;
            }
        }
    })
}

#[test]
fn the_plugin_builds_into_an_app_and_exposes_the_core() {
    let dir = std::env::temp_dir().join(format!("lk-plugin-mock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let identity = AppIdentity::new("com.example.notes", "com.example.notes").expect("identity");
    let core = Arc::new(
        Latchkey::builder(identity.clone())
            .vault(Vault::new(Arc::new(Memory::default())))
            .data_dir(&dir)
            .build()
            .expect("core"),
    );
    let app = tauri::test::mock_builder()
        .plugin(tauri_plugin_latchkey::init(
            Config::new(identity).core(Arc::clone(&core)),
        ))
        .build(tauri::test::mock_context(tauri::test::noop_assets()))
        .expect("the app builds with the plugin");

    assert!(
        Arc::ptr_eq(app.latchkey(), &core),
        "app.latchkey() is the core"
    );
    assert_eq!(app.latchkey().identity().scheme(), "com.example.notes");
    assert!(app.latchkey().account_views().expect("views").is_empty());
    // A link that belongs to no sign-in changes nothing; subscribers hear why.
    let mut events = app.latchkey_events();
    app.handle()
        .latchkey_link("com.example.notes:/oauth/callback?code=x&state=nobody");
    assert_eq!(next_failure(&mut events), "unknown_state");
    tauri_plugin_latchkey::handle_link(app.handle(), "https://evil.example/?code=x&state=y");
    assert_ne!(next_failure(&mut events), "unknown_state", "not our scheme");
    assert!(app.latchkey().account_views().expect("views").is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
