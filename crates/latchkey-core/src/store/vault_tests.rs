//! Vault tests: timeouts, ordering, health (chunking: vault_chunking_tests.rs).
use super::*;
use crate::error::ErrorCode;

fn memory_vault() -> Vault {
    Vault::new(Arc::new(KeyringStore::in_memory("test-service")))
}

/// The stores every store-level test runs against: keyring-core's in-memory
/// store (the keychain's stand-in) and the encrypted file vault.
pub(super) fn stores(name: &str) -> [Arc<dyn SecretStore>; 2] {
    let dir = crate::store::file_vault::tests::temp_data_dir(&format!("suite-{name}"));
    let file =
        crate::store::file_vault::tests::open_in(&dir, "suite passphrase").expect("file vault");
    [Arc::new(KeyringStore::in_memory(name)), Arc::new(file)]
}

#[tokio::test]
async fn missing_is_none_and_delete_is_idempotent() {
    for vault in stores("test-service").map(Vault::new) {
        assert_eq!(vault.get("absent").await.expect("get"), None);
        vault.delete("absent").await.expect("delete missing");
        vault.set("k", SecretString::new("v1")).await.expect("set");
        vault
            .set("k", SecretString::new("v2"))
            .await
            .expect("replace");
        assert_eq!(
            vault.get("k").await.expect("get").expect("some").expose(),
            "v2"
        );
        vault.delete("k").await.expect("delete");
        vault.delete("k").await.expect("delete again");
        assert_eq!(vault.get("k").await.expect("get"), None);
    }
}

/// A store whose first write of each value in `stuck` blocks until released.
#[derive(Debug, Default)]
struct GatedStore {
    inner: std::sync::Mutex<std::collections::HashMap<String, String>>,
    gate: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
    stuck: std::sync::Mutex<Vec<String>>,
}

impl GatedStore {
    fn release(&self) {
        *self.gate.lock().expect("gate") = true;
        self.opened.notify_all();
    }
}

impl SecretStore for GatedStore {
    fn get(&self, key: &str) -> Result<Option<SecretString>, VaultError> {
        Ok(self
            .inner
            .lock()
            .expect("inner")
            .get(key)
            .cloned()
            .map(SecretString::new))
    }
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), VaultError> {
        if self
            .stuck
            .lock()
            .expect("stuck")
            .iter()
            .any(|v| secret.expose().ends_with(v.as_str()))
        {
            let mut open = self.gate.lock().expect("gate");
            while !*open {
                open = self.opened.wait(open).expect("wait");
            }
        }
        self.inner
            .lock()
            .expect("inner")
            .insert(key.to_owned(), secret.expose().to_owned());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), VaultError> {
        self.inner.lock().expect("inner").remove(key);
        Ok(())
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Ok(self.inner.lock().expect("inner").keys().cloned().collect())
    }
}

#[tokio::test]
async fn a_write_that_timed_out_never_lands_after_a_newer_one() {
    let store = Arc::new(GatedStore::default());
    store.stuck.lock().expect("stuck").push("RT-old".into());
    let vault = Vault::new(store.clone()).with_timeout(Duration::from_millis(200));
    // A locked collection: the write hangs and its caller gives up.
    let old = vault.set("acct-1", SecretString::new("RT-old")).await;
    assert_eq!(old.expect_err("stuck").code(), "keychain_timeout");
    // A newer write while the old one is still stuck: it must not run, or
    // the old one would overwrite it when the keychain wakes up.
    let newer = vault.set("acct-1", SecretString::new("RT-new")).await;
    // Another key is not held up.
    vault
        .set("acct-2", SecretString::new("other"))
        .await
        .expect("other key");
    store.release();
    // Wait until the stuck write has landed.
    for _ in 0..100 {
        if store.get("acct-1").expect("get").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let landed = vault.get("acct-1").await.expect("get").expect("some");
    if newer.is_ok() {
        assert_eq!(
            landed.expose(),
            "RT-new",
            "a write reported as stored was overwritten by an older one"
        );
    }
    assert_eq!(
        newer.expect_err("queued behind the stuck write").code(),
        "keychain_timeout"
    );
    // Once the old write has returned, writes work again, in order.
    vault
        .set("acct-1", SecretString::new("RT-new"))
        .await
        .expect("set");
    assert_eq!(
        vault
            .get("acct-1")
            .await
            .expect("get")
            .expect("some")
            .expose(),
        "RT-new"
    );
}

#[tokio::test]
async fn health_follows_the_keychain_calls() {
    let vault = Vault::new(Arc::new(UnavailableStore(VaultError::Locked {
        reason: "locked".into(),
    })));
    let health = vault.health();
    assert!(health.borrow().is_none());
    let _ = vault.get("k").await;
    assert_eq!(
        health.borrow().as_ref().map(ErrorCode::code),
        Some("keychain_locked")
    );
    let ok = memory_vault();
    let health = ok.health();
    ok.get("k").await.expect("get");
    assert!(health.borrow().is_none());
}

#[tokio::test]
async fn a_failing_keychain_is_rechecked_until_it_works_again() {
    let store = crate::testing::FailingStore::new(VaultError::Timeout { seconds: 5 }, true);
    let vault = Vault::new(Arc::clone(&store) as Arc<dyn SecretStore>);
    let rechecking = tokio::spawn({
        let vault = vault.clone();
        async move { vault.recheck_while_failing(Duration::from_millis(20)).await }
    });
    let mut health = vault.health();
    let _ = vault.get("k").await;
    assert!(health.borrow_and_update().is_some());
    // The daemon comes back; nothing else calls the keychain.
    store.set_failing(false);
    tokio::time::timeout(Duration::from_secs(5), health.wait_for(Option::is_none))
        .await
        .expect("the recheck found the keychain working")
        .expect("health");
    assert_eq!(
        vault.get(PROBE_KEY).await.expect("get"),
        None,
        "the probe left nothing"
    );
    // And it stops probing while calls work.
    let calls = store.calls();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.calls(), calls);
    rechecking.abort();
}

#[tokio::test]
async fn a_keychain_left_locked_is_not_asked_again_and_again() {
    let store = crate::testing::FailingStore::new(
        VaultError::Locked {
            reason: "the unlock prompt was dismissed".into(),
        },
        true,
    );
    let vault = Vault::new(Arc::clone(&store) as Arc<dyn SecretStore>);
    let rechecking = tokio::spawn({
        let vault = vault.clone();
        async move { vault.recheck_while_failing(Duration::from_millis(20)).await }
    });
    let _ = vault.get("k").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.calls(), 1, "no probe (each would prompt again)");
    rechecking.abort();
}

#[tokio::test]
async fn check_passes_on_a_working_store_and_leaves_nothing() {
    let vault = memory_vault();
    vault.check().await.expect("probe");
    assert_eq!(vault.get(PROBE_KEY).await.expect("get"), None);
}

#[tokio::test]
async fn unavailable_store_reports_its_reason() {
    let vault = Vault::new(Arc::new(UnavailableStore(VaultError::Unavailable {
        reason: "no session bus".into(),
    })));
    let err = vault.check().await.expect_err("unavailable");
    assert_eq!(err.code(), "keychain_unavailable");
    assert!(err.to_string().contains("no session bus"));
}

#[derive(Debug, Default)]
struct HangingStore {
    calls: std::sync::atomic::AtomicUsize,
}
impl SecretStore for HangingStore {
    fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(500));
        Ok(None)
    }
    fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }
    fn delete(&self, _: &str) -> Result<(), VaultError> {
        Ok(())
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn headless_parts_are_swept_and_nothing_else() {
    for store in stores("sweep-test") {
        let vault = Vault::new(store.clone()).with_chunk_chars(50);
        let long = "x".repeat(200);
        for key in ["acct-lost", "acct-kept", "pending-authorizations"] {
            vault
                .set(key, SecretString::new(long.clone()))
                .await
                .expect("set");
        }
        // A crash left parts without their head; a head was deleted by hand.
        store.delete("acct-lost").expect("delete head");
        store.delete("pending-authorizations").expect("delete head");
        assert_eq!(vault.headless_heads().await.expect("heads"), ["acct-lost"]);
        let removed = vault
            .delete_headless_parts("acct-lost")
            .await
            .expect("sweep");
        assert!(
            vault
                .delete_headless_parts("acct-kept")
                .await
                .expect("kept")
                .is_empty(),
            "a head that exists keeps its parts"
        );
        assert_eq!(
            removed,
            [
                "acct-lost.part1",
                "acct-lost.part2",
                "acct-lost.part3",
                "acct-lost.part4"
            ]
        );
        let left = store.list_keys().expect("keys");
        assert!(left.iter().all(|k| !k.starts_with("acct-lost")), "{left:?}");
        // An intact item, and parts that are not an account's, are left alone.
        assert_eq!(
            vault
                .get("acct-kept")
                .await
                .expect("get")
                .expect("some")
                .expose(),
            long
        );
        assert!(
            left.iter()
                .any(|k| k.starts_with("pending-authorizations.part"))
        );
        assert!(vault.headless_heads().await.expect("again").is_empty());
    }
}

#[tokio::test]
async fn stuck_calls_do_not_pile_up() {
    let store = Arc::new(HangingStore::default());
    let vault = Vault::new(store.clone()).with_timeout(Duration::from_millis(20));
    for _ in 0..MAX_IN_FLIGHT {
        assert!(vault.get("k").await.is_err());
    }
    // The stuck calls still hold every slot: more calls time out waiting,
    // without starting another blocking call.
    for _ in 0..3 {
        assert_eq!(
            vault.get("k").await.expect_err("busy").code(),
            "keychain_timeout"
        );
    }
    assert_eq!(
        store.calls.load(std::sync::atomic::Ordering::SeqCst),
        MAX_IN_FLIGHT
    );
    // Once they return, calls go through again.
    let patient = vault.clone().with_timeout(Duration::from_secs(2));
    assert_eq!(patient.get("k").await.expect("answers again"), None);
}

/// A keychain that answers, slowly: counts how many calls run at once.
#[derive(Debug, Default)]
struct SlowStore {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}
impl SecretStore for SlowStore {
    fn get(&self, _: &str) -> Result<Option<SecretString>, VaultError> {
        use std::sync::atomic::Ordering::SeqCst;
        let running = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(running, SeqCst);
        std::thread::sleep(Duration::from_millis(30));
        self.now.fetch_sub(1, SeqCst);
        Ok(Some(SecretString::new("lk1:1:v")))
    }
    fn set(&self, _: &str, _: &SecretString) -> Result<(), VaultError> {
        Ok(())
    }
    fn delete(&self, _: &str) -> Result<(), VaultError> {
        Ok(())
    }
    fn list_keys(&self) -> Result<Vec<String>, VaultError> {
        Ok(Vec::new())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_keychain_serves_every_caller_in_turn() {
    // Many accounts refresh at once (a launch): more calls than slots.
    let store = Arc::new(SlowStore::default());
    let vault = Vault::new(store.clone()).with_timeout(Duration::from_secs(5));
    let calls = (0..4 * MAX_IN_FLIGHT).map(|i| {
        let vault = vault.clone();
        tokio::spawn(async move { vault.get(&format!("acct-{i}")).await })
    });
    for call in futures_util::future::join_all(calls).await {
        let value = call.expect("task").expect("answered, not refused");
        assert_eq!(value.expect("some").expose(), "v");
    }
    assert_eq!(
        store.most.load(std::sync::atomic::Ordering::SeqCst),
        MAX_IN_FLIGHT,
        "never more than the slots at once"
    );
}

#[tokio::test]
async fn a_hung_keychain_times_out() {
    let vault =
        Vault::new(Arc::new(HangingStore::default())).with_timeout(Duration::from_millis(50));
    assert_eq!(
        vault.check().await.expect_err("timeout").code(),
        "keychain_timeout"
    );
}

#[tokio::test]
async fn an_item_read_or_written_here_is_not_read_again_before_its_next_write() {
    let store = Arc::new(crate::testing::RefusingStore::over(Arc::new(
        KeyringStore::in_memory("parts-known"),
    )));
    let vault = Vault::new(Arc::clone(&store) as Arc<dyn SecretStore>).with_chunk_chars(50);
    let long: String = "x".repeat(120);
    vault
        .set("acct-1", SecretString::new(long))
        .await
        .expect("set");
    // A refresh: read the item, write the rotated one.
    assert!(vault.get("acct-1").await.expect("get").is_some());
    store.take_calls();
    vault
        .set("acct-1", SecretString::new("short"))
        .await
        .expect("set");
    let calls = store.take_calls();
    assert!(
        calls.iter().all(|c| !c.starts_with("get ")),
        "no read before the write: {calls:?}"
    );
    // The parts the longer value had are gone all the same.
    assert_eq!(store.list_keys().expect("keys"), ["acct-1"]);
    // A new vault (another process) knows nothing: it reads the header first.
    let other = Vault::new(Arc::clone(&store) as Arc<dyn SecretStore>).with_chunk_chars(50);
    other
        .set("acct-1", SecretString::new("y".repeat(120)))
        .await
        .expect("set");
    assert!(store.take_calls().iter().any(|c| c == "get acct-1"));
    vault
        .set("acct-1", SecretString::new("z"))
        .await
        .expect("set");
    assert_eq!(
        vault
            .get("acct-1")
            .await
            .expect("get")
            .expect("some")
            .expose(),
        "z"
    );
}
