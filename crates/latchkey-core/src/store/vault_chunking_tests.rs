//! Vault tests: secrets larger than one keychain item are split into parts
//! and put together again, on every store.

use super::tests::stores;
use super::*;
use crate::error::ErrorCode as _;

#[tokio::test]
async fn large_secrets_are_split_and_reassembled() {
    for store in stores("chunk-test") {
        let vault = Vault::new(store.clone()).with_chunk_chars(100);
        let big: String = (0..1000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        vault
            .set("acct-1", SecretString::new(big.clone()))
            .await
            .expect("set");
        assert_eq!(
            vault
                .get("acct-1")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            big
        );
        // Every raw item respects the limit.
        let keys = store.list_keys().expect("keys");
        assert_eq!(keys.len(), 11, "{keys:?}");
        for key in &keys {
            assert!(
                store
                    .get(key)
                    .expect("raw")
                    .expect("some")
                    .expose()
                    .chars()
                    .count()
                    <= 100,
                "{key}"
            );
        }
        assert_eq!(vault.list_keys().await.expect("list"), ["acct-1"]);
        // Shrinking removes the parts no longer needed.
        vault
            .set("acct-1", SecretString::new("short"))
            .await
            .expect("set");
        assert_eq!(store.list_keys().expect("keys"), ["acct-1"]);
        assert_eq!(
            vault
                .get("acct-1")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            "short"
        );
        // Delete removes the parts too.
        vault
            .set("acct-1", SecretString::new(big))
            .await
            .expect("set");
        vault.delete("acct-1").await.expect("delete");
        assert!(store.list_keys().expect("keys").is_empty());
    }
}

#[tokio::test]
async fn default_limit_fits_windows_credential_manager() {
    for store in stores("chunk-default") {
        let vault = Vault::new(store.clone());
        let secret: String = "é".repeat(5000);
        vault
            .set("k", SecretString::new(secret.clone()))
            .await
            .expect("set");
        for key in store.list_keys().expect("keys") {
            let raw = store.get(&key).expect("raw").expect("some");
            let utf16_bytes = raw.expose().encode_utf16().count() * 2;
            assert!(utf16_bytes <= 2560, "{key}: {utf16_bytes} bytes");
        }
        assert_eq!(
            vault.get("k").await.expect("get").expect("some").expose(),
            secret
        );
    }
}

#[tokio::test]
async fn a_missing_part_is_reported_as_damage() {
    for store in stores("chunk-missing") {
        let vault = Vault::new(store.clone()).with_chunk_chars(50);
        vault
            .set("k", SecretString::new("x".repeat(200)))
            .await
            .expect("set");
        store.delete("k.part2").expect("delete a part");
        assert_eq!(
            vault.get("k").await.expect_err("damaged").code(),
            "keychain_corrupt"
        );
    }
}
