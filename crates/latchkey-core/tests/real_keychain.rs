//! Smoke test of the machine's real keychain — the Secret Service on Linux,
//! the login keychain on macOS, the Credential Manager on Windows — through
//! the same store and vault the app uses: store, read, a long secret split
//! into parts (over Windows' 2,560-byte cap), replace, delete.
//!
//! Ignored by default (it needs an unlocked keychain and writes to it):
//!
//! ```sh
//! cargo test -p latchkey-core --test real_keychain -- --ignored
//! ```
//!
//! Run here on Linux (gnome-keyring on a throwaway D-Bus session). The CI
//! jobs on macOS and Windows run it; it has not been run on those systems
//! from this repository's machine.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use latchkey_core::SecretString;
use latchkey_core::store::vault::{CHUNK_CHARS, KeyringStore, SecretStore, Vault};

const SERVICE: &str = "dev.latchkey.keychain-smoke-test";

fn exposed(secret: Option<SecretString>) -> Option<String> {
    secret.map(|s| s.expose().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes to this machine's real keychain: cargo test -p latchkey-core --test real_keychain -- --ignored"]
async fn store_read_chunked_and_delete_on_the_real_keychain() {
    let store = Arc::new(KeyringStore::platform_for(SERVICE).expect("the platform keychain opens"));
    let vault = Vault::new(Arc::clone(&store) as Arc<dyn SecretStore>);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let run = format!("smoke-{}-{nanos}", std::process::id());
    let small = format!("{run}-small");
    let long_key = format!("{run}-long");

    // Store and read (non-ASCII too: Windows keeps UTF-16).
    let secret = "a small secret: päss ✓";
    vault
        .set(&small, SecretString::new(secret))
        .await
        .expect("store");
    assert_eq!(
        exposed(vault.get(&small).await.expect("read")),
        Some(secret.to_owned())
    );

    // A secret larger than any platform's item limit: parts of at most CHUNK_CHARS.
    let long: String = (0..3_000u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert!(long.len() > 2_560);
    vault
        .set(&long_key, SecretString::new(long.clone()))
        .await
        .expect("store a long secret");
    assert_eq!(
        exposed(vault.get(&long_key).await.expect("read it back")),
        Some(long.clone())
    );
    let raw = store.list_keys().expect("list the service's items");
    let parts: Vec<&String> = raw
        .iter()
        .filter(|k| k.starts_with(&format!("{long_key}.")))
        .collect();
    assert_eq!(
        parts.len(),
        2,
        "3,000 characters = a head and two parts: {raw:?}"
    );
    for key in raw.iter().filter(|k| k.starts_with(&run)) {
        let item = store
            .get(key)
            .expect("read an item")
            .expect("listed items exist");
        assert!(
            item.expose().chars().count() <= CHUNK_CHARS,
            "{key} fits one item"
        );
    }
    let mut listed = vault.list_keys().await.expect("list");
    listed.retain(|k| k.starts_with(&run));
    listed.sort();
    assert_eq!(
        listed,
        vec![long_key.clone(), small.clone()],
        "parts are not listed as keys"
    );

    // Replaced by a short secret: the parts go.
    vault
        .set(&long_key, SecretString::new("short now"))
        .await
        .expect("replace");
    assert_eq!(
        exposed(vault.get(&long_key).await.expect("read")),
        Some("short now".to_owned())
    );
    let raw = store.list_keys().expect("list");
    assert!(
        !raw.iter().any(|k| k.starts_with(&format!("{long_key}."))),
        "old parts deleted: {raw:?}"
    );

    // Delete (twice: deleting a missing item is not an error).
    for key in [&small, &long_key] {
        vault.delete(key).await.expect("delete");
        vault.delete(key).await.expect("delete again");
        assert_eq!(exposed(vault.get(key).await.expect("read")), None);
    }
    let raw = store.list_keys().expect("list");
    assert!(
        !raw.iter().any(|k| k.starts_with(&run)),
        "nothing of this run is left: {raw:?}"
    );
}
