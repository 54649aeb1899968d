//! Replays the committed cargo-fuzz corpus through the same property checks the
//! fuzz targets run (`fuzz/checks.rs`), so every input the fuzzer ever kept is
//! checked on each `cargo test` — including the ones that once found bugs.

use std::panic::{AssertUnwindSafe, catch_unwind};

#[path = "../fuzz/checks.rs"]
mod checks;

/// This crate's folder, as cargo says at run time: a test binary built from
/// another checkout sharing the target dir must not read that checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}

fn replay(target: &str, check: fn(&[u8]), at_least: usize) {
    let dir = manifest_dir().join("fuzz/corpus").join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= at_least,
        "{target}: only {} corpus inputs in {}",
        entries.len(),
        dir.display()
    );
    let failures: Vec<String> = entries
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).expect("corpus input");
            catch_unwind(AssertUnwindSafe(|| check(&data)))
                .err()
                .map(|_| path.display().to_string())
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{target}: {} inputs broke a property: {failures:#?}",
        failures.len()
    );
}

#[test]
fn redirect_corpus_keeps_its_properties() {
    replay("redirect", checks::redirect, 1000);
}

#[test]
fn token_response_corpus_keeps_its_properties() {
    replay("token_response", checks::token_response, 1000);
}
