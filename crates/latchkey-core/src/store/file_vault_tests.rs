//! File vault tests: round trip, wrong passphrase, damage, concurrent writers.
use super::*;
use crate::error::ErrorCode as _;
use std::sync::Arc;

/// A fresh data folder (vault file + lock folder) under the temp dir.
pub(crate) fn temp_data_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("latchkey-file-vault-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A store with cheap argon2 costs on `<dir>/vault.bin`.
pub(crate) fn open_in(dir: &Path, passphrase: &str) -> Result<FileVaultStore, VaultError> {
    FileVaultStore::open(
        dir.join(FILE_NAME),
        dir.join("locks"),
        SecretString::new(passphrase),
        KdfParams::INSECURE_FAST_FOR_TESTS,
    )
}

#[cfg(unix)] // its only user checks file modes
fn value(store: &FileVaultStore, key: &str) -> Option<String> {
    store
        .get(key)
        .expect("get")
        .map(|secret| secret.expose().to_owned())
}

#[test]
#[cfg(unix)] // file modes
fn items_round_trip_through_the_encrypted_file() {
    crate::fsperm::tests::permissive_umask();
    let dir = temp_data_dir("round-trip");
    let store = open_in(&dir, "correct horse").expect("open");
    assert_eq!(
        crate::fsperm::tests::mode(&dir.join(FILE_NAME)),
        0o600,
        "created at open"
    );
    assert_eq!(crate::fsperm::tests::mode(&dir), 0o700);
    store
        .set("acct-1", &SecretString::new("rt-secret-one"))
        .expect("set");
    store
        .set("acct-2", &SecretString::new("rt-secret-two é"))
        .expect("set");
    store.delete("acct-2").expect("delete");
    store.delete("acct-2").expect("delete again");
    // A second store (another process) with the same passphrase reads it all.
    let other = open_in(&dir, "correct horse").expect("reopen");
    assert_eq!(value(&other, "acct-1").as_deref(), Some("rt-secret-one"));
    assert_eq!(value(&other, "acct-2"), None);
    assert_eq!(other.list_keys().expect("keys"), ["acct-1"]);
    let raw = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    assert!(
        !raw.windows(b"rt-secret".len()).any(|w| w == b"rt-secret"),
        "a secret is on disk in plaintext"
    );
    assert!(!raw.windows(b"acct-1".len()).any(|w| w == b"acct-1"));
    assert!(!format!("{other:?}").contains("correct horse"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_write_uses_a_fresh_nonce() {
    let dir = temp_data_dir("nonce");
    let store = open_in(&dir, "pw").expect("open");
    store.set("k", &SecretString::new("v1")).expect("set");
    let first = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    store.set("k", &SecretString::new("v2")).expect("set");
    store.set("k", &SecretString::new("v1")).expect("set");
    let third = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    assert_eq!(first.len(), third.len());
    assert_eq!(first[..38], third[..38], "same header up to the salt");
    assert_ne!(first[38..62], third[38..62], "the nonce is new");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_passphrase_is_refused_and_the_file_is_unchanged() {
    let dir = temp_data_dir("wrong");
    let store = open_in(&dir, "right").expect("open");
    store
        .set("acct-1", &SecretString::new("rt-1"))
        .expect("set");
    let before = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    let err = open_in(&dir, "wrong").expect_err("wrong passphrase");
    assert_eq!(err.code(), "vault_wrong_passphrase");
    assert!(err.to_string().contains("passphrase"), "{err}");
    assert!(!err.to_string().contains("wrong\""));
    // A store that was opened before the passphrase changed under it (the
    // file re-created by another process) refuses to write as well.
    std::fs::remove_file(dir.join(FILE_NAME)).expect("rm");
    let other = open_in(&dir, "another").expect("new file");
    other.set("acct-9", &SecretString::new("x")).expect("set");
    let theirs = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    let err = store
        .set("acct-1", &SecretString::new("overwrite"))
        .expect_err("not our passphrase");
    assert_eq!(err.code(), "vault_wrong_passphrase");
    assert_eq!(
        std::fs::read(dir.join(FILE_NAME)).expect("raw"),
        theirs,
        "nothing overwritten"
    );
    assert_eq!(
        store.get("acct-9").expect_err("cannot read").code(),
        "vault_wrong_passphrase"
    );
    drop(before);
    let err = open_in(&dir, "").expect_err("empty");
    assert_eq!(err.code(), "vault_wrong_passphrase");
    let _ = std::fs::remove_dir_all(&dir);
}

fn damaged(name: &str, damage: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, FileVaultStore, Vec<u8>) {
    let dir = temp_data_dir(name);
    let store = open_in(&dir, "pw").expect("open");
    store
        .set("acct-1", &SecretString::new("x".repeat(300)))
        .expect("set");
    let mut bytes = std::fs::read(dir.join(FILE_NAME)).expect("raw");
    damage(&mut bytes);
    std::fs::write(dir.join(FILE_NAME), &bytes).expect("write");
    (dir, store, bytes)
}

#[test]
fn a_truncated_file_is_corrupt_and_never_half_read() {
    for cut in [0, 5, 40, 70, 200] {
        let (dir, store, bytes) = damaged(&format!("cut-{cut}"), |b| b.truncate(cut));
        let err = store.get("acct-1").expect_err("truncated");
        assert_eq!(err.code(), "keychain_corrupt", "cut at {cut}: {err}");
        assert_eq!(
            store.list_keys().expect_err("no partial list").code(),
            "keychain_corrupt"
        );
        // A write does not replace what it cannot read.
        let write = store.set("acct-2", &SecretString::new("y"));
        assert_eq!(write.expect_err("refused").code(), "keychain_corrupt");
        assert_eq!(std::fs::read(dir.join(FILE_NAME)).expect("raw"), bytes);
        assert_eq!(
            open_in(&dir, "pw").expect_err("reopen").code(),
            "keychain_corrupt"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_flipped_byte_anywhere_is_corrupt() {
    let len = {
        let (dir, _, bytes) = damaged("len", |_| {});
        let _ = std::fs::remove_dir_all(&dir);
        bytes.len()
    };
    // In the magic, the costs, the salt, the nonce, the ciphertext, the checksum.
    for at in [0, 12, 30, 50, 100, len - 40, len - 1] {
        let (dir, store, _) = damaged(&format!("flip-{at}"), |b| b[at] ^= 0x01);
        let err = store.get("acct-1").expect_err("flipped");
        assert_eq!(err.code(), "keychain_corrupt", "byte {at}: {err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_newer_format_asks_for_an_update() {
    let (dir, store, _) = damaged("newer", |b| b[8] = 9);
    let err = store.get("acct-1").expect_err("newer");
    assert!(err.to_string().contains("update Latchkey"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_stores_writing_at_once_lose_no_update() {
    let dir = temp_data_dir("threads");
    let stores = [
        Arc::new(open_in(&dir, "pw").expect("open")),
        Arc::new(open_in(&dir, "pw").expect("open")),
    ];
    let writers: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(w, store)| {
            let store = Arc::clone(store);
            std::thread::spawn(move || {
                for i in 0..50 {
                    store
                        .set(&format!("w{w}-{i}"), &SecretString::new(format!("v{i}")))
                        .expect("set");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let keys = open_in(&dir, "pw")
        .expect("open")
        .list_keys()
        .expect("keys");
    assert_eq!(keys.len(), 100, "lost updates: {keys:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run as a child process by the test below (ignored on its own).
#[test]
#[ignore = "a helper process of two_processes_writing_at_once_lose_no_update"]
fn child_writer() {
    let Some(dir) = std::env::var_os("LATCHKEY_TEST_VAULT_DIR") else {
        return;
    };
    let tag = std::env::var("LATCHKEY_TEST_WRITER").expect("writer tag");
    let store = open_in(Path::new(&dir), "pw").expect("open");
    for i in 0..50 {
        store
            .set(&format!("{tag}-{i}"), &SecretString::new("v"))
            .expect("set");
    }
}

#[test]
fn two_processes_writing_at_once_lose_no_update() {
    let dir = temp_data_dir("processes");
    open_in(&dir, "pw").expect("create");
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = ["p1", "p2"]
        .iter()
        .map(|tag| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "store::file_vault::tests::child_writer",
                    "--nocapture",
                ])
                .env("LATCHKEY_TEST_VAULT_DIR", &dir)
                .env("LATCHKEY_TEST_WRITER", tag)
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success(), "a writer failed");
    }
    let keys = open_in(&dir, "pw")
        .expect("open")
        .list_keys()
        .expect("keys");
    assert_eq!(keys.len(), 100, "lost updates: {keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("p1-")) && keys.iter().any(|k| k.starts_with("p2-")));
    let _ = std::fs::remove_dir_all(&dir);
}
