//! Tests of `registry`.
use super::*;
use crate::id_token::Identity;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-registry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn identity(sub: &str) -> Identity {
    Identity {
        issuer: "https://id.example".into(),
        subject: sub.into(),
        name: Some("Alice".into()),
        username: None,
        email: Some("alice@example.test".into()),
        picture: None,
    }
}

#[test]
fn account_ids_are_stable_and_distinct() {
    let a = AccountId::derive("https://a.example", "alice");
    assert_eq!(a, AccountId::derive("https://a.example", "alice"));
    assert_ne!(a, AccountId::derive("https://b.example", "alice"));
    assert_ne!(a, AccountId::derive("https://a.example", "bob"));
    // No ambiguity between (issuer, sub) splits.
    assert_ne!(
        AccountId::derive("https://a.example/x", "y"),
        AccountId::derive("https://a.example/", "xy")
    );
    assert!(a.as_str().starts_with("acct-"));
}

#[test]
fn round_trip_upsert_default_and_remove() {
    let dir = temp_dir("roundtrip");
    let registry = Registry::in_dir(&dir);
    assert_eq!(registry.load().expect("empty"), AccountBook::default());
    let now = SystemTime::now();
    let alice = new_account("p", &identity("alice"), vec!["openid".into()], now);
    let bob = new_account("p", &identity("bob"), vec!["openid".into()], now);
    assert!(
        !registry
            .update(|b| b.upsert(alice.clone()))
            .expect("insert")
    );
    registry.update(|b| b.upsert(bob.clone())).expect("insert");
    let book = registry.load().expect("load");
    assert_eq!(
        book.default.as_ref(),
        Some(&alice.id),
        "the first account is the default"
    );
    // Labels survive a sign-in again; creation time is kept; order is stable.
    registry
        .update(|b| b.get_mut(&alice.id).expect("alice").label = Some("Work".into()))
        .expect("label");
    let mut again = alice.clone();
    again.name = Some("Alice B.".into());
    again.created_at = 1;
    assert!(registry.update(|b| b.upsert(again)).expect("update"));
    let book = registry.load().expect("load");
    assert_eq!(
        book.accounts
            .iter()
            .map(|a| a.subject.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(book.accounts[0].name.as_deref(), Some("Alice B."));
    assert_eq!(book.accounts[0].label.as_deref(), Some("Work"));
    assert_eq!(book.accounts[0].created_at, alice.created_at);
    // Removing the default makes the next one default.
    registry.update(|b| b.remove(&alice.id)).expect("remove");
    let book = registry.load().expect("load");
    assert_eq!(book.default.as_ref(), Some(&bob.id));
    registry.update(|b| b.remove(&bob.id)).expect("remove");
    assert_eq!(registry.load().expect("load").default, None);
    let text = std::fs::read_to_string(registry.path()).expect("read");
    assert!(text.contains("\"version\": 1"));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_damaged_file_is_moved_aside_not_overwritten() {
    let dir = temp_dir("quarantine");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let registry = Registry::in_dir(&dir);
    std::fs::write(registry.path(), b"{ garbage").expect("write");
    assert_eq!(
        registry.load().expect_err("corrupt").code(),
        "registry_corrupt"
    );
    assert!(
        registry.update(|_| ()).is_err(),
        "an update never overwrites a damaged file"
    );
    assert_eq!(
        std::fs::read(registry.path()).expect("still there"),
        b"{ garbage"
    );
    let aside = registry.quarantine(SystemTime::now()).expect("moved");
    assert_eq!(std::fs::read(&aside).expect("kept"), b"{ garbage");
    assert!(
        aside
            .file_name()
            .expect("name")
            .to_string_lossy()
            .starts_with("accounts.json.corrupt-")
    );
    assert_eq!(registry.load().expect("fresh"), AccountBook::default());
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(unix)]
#[test]
fn the_folder_and_every_file_are_private_whatever_the_umask() {
    use crate::fsperm::tests::{mode, permissive_umask};
    use std::os::unix::fs::PermissionsExt as _;
    permissive_umask();
    let dir = temp_dir("modes").join("data");
    let registry = Registry::in_dir(&dir);
    let now = SystemTime::now();
    let alice = new_account("p", &identity("alice"), vec!["openid".into()], now);
    registry.update(|b| b.upsert(alice)).expect("insert");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(registry.path()), 0o600);
    assert_eq!(mode(&dir.join("accounts.lock")), 0o600);
    // Files of an older version are tightened at startup.
    let loose = std::fs::Permissions::from_mode(0o644);
    std::fs::set_permissions(registry.path(), loose.clone()).expect("chmod");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    registry.tighten_permissions();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(registry.path()), 0o600);
    // The quarantined copy of a (loose) damaged file is private too.
    std::fs::write(registry.path(), b"{ garbage").expect("write");
    std::fs::set_permissions(registry.path(), loose).expect("chmod");
    let aside = registry.quarantine(now).expect("moved");
    assert_eq!(mode(&aside), 0o600);
    std::fs::remove_dir_all(dir.parent().expect("parent")).ok();
}

#[test]
fn damaged_and_future_files_are_reported() {
    let dir = temp_dir("corrupt");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let registry = Registry::in_dir(&dir);
    std::fs::write(registry.path(), b"{\"version\": 1, \"accounts\": [").expect("write");
    assert_eq!(
        registry.load().expect_err("truncated").code(),
        "registry_corrupt"
    );
    std::fs::write(registry.path(), b"{\"version\": 0, \"accounts\": []}").expect("write");
    assert_eq!(
        registry.load().expect_err("no such version").code(),
        "registry_corrupt"
    );
    // A newer Latchkey's file: its own error, and never written by this version.
    let newer = b"{\"version\": 99, \"accounts\": [], \"later\": {\"x\": 1}}";
    std::fs::write(registry.path(), newer).expect("write");
    let err = registry.load().expect_err("future");
    assert_eq!(err.code(), "registry_newer");
    assert!(err.to_string().contains("format 99"), "{err}");
    assert!(
        err.to_string().contains("newer version of Latchkey"),
        "{err}"
    );
    assert_eq!(
        registry.update(|_| ()).expect_err("refused").code(),
        "registry_newer"
    );
    assert_eq!(std::fs::read(registry.path()).expect("kept"), newer);
    std::fs::remove_dir_all(&dir).ok();
}
