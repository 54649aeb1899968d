//! Tests of `file_watch`: real files in a temporary folder, written the
//! way another process writes them (a second `Registry` on the same path).
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::store::registry::AccountBook;

/// Long enough for a change to be reported; a wait this long that returns
/// nothing is "no change".
const QUIET: Duration = Duration::from_millis(400);
/// The bound on a change being reported (a failure, never a measurement).
const NOTICED: Duration = Duration::from_secs(10);

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("latchkey-watch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Another process saves the accounts file in `dir` (temporary file, fsync, rename).
fn another_process_saves(dir: &std::path::Path) {
    Registry::in_dir(dir)
        .save(&AccountBook::default())
        .expect("save");
}

async fn reports_change(watch: &mut FileWatch) -> bool {
    tokio::time::timeout(NOTICED, watch.changed()).await.is_ok()
}

async fn stays_quiet(watch: &mut FileWatch) -> bool {
    tokio::time::timeout(QUIET, watch.changed()).await.is_err()
}

#[tokio::test]
async fn reports_each_change_another_process_makes_and_nothing_else() {
    let dir = temp_dir("changes");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let registry = Registry::in_dir(&dir);
    let mut watch = registry.watch();
    assert!(stays_quiet(&mut watch).await, "nothing changed yet");

    // Another process creates the file (temporary file, fsync, rename).
    another_process_saves(&dir);
    assert!(reports_change(&mut watch).await, "the file was created");
    assert!(stays_quiet(&mut watch).await, "one save is one change");

    // Another file in the same folder is not the accounts file.
    std::fs::write(dir.join("other.json"), b"{}").expect("file operation");
    assert!(
        stays_quiet(&mut watch).await,
        "a neighbour's write is no change"
    );

    std::fs::remove_file(registry.path()).expect("file operation");
    assert!(reports_change(&mut watch).await, "the file was deleted");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn on_linux_the_kernel_tells_and_nothing_polls() {
    let dir = temp_dir("notify");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut watch = Registry::in_dir(&dir).watch();
    assert_eq!(watch.kind(), WatchKind::Notify);
    // Well within one poll interval: only a notification can report it.
    another_process_saves(&dir);
    assert!(
        tokio::time::timeout(POLL / 2, watch.changed())
            .await
            .is_ok(),
        "reported before a poll could have seen it"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn dropping_the_watch_ends_its_thread_without_a_change() {
    let dir = temp_dir("drop");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let watch = Registry::in_dir(&dir).watch();
    assert_eq!(watch.kind(), WatchKind::Notify);
    let thread = watch.into_thread().expect("a notifying thread");
    // Nothing in the folder changes: only the dropped watch can wake it.
    crate::testing::eventually("the watch's thread ended", || thread.is_finished()).await;
    thread.join().expect("the thread ended cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_first_start_without_the_folder_is_watched_too() {
    let dir = temp_dir("missing");
    let mut watch = Registry::in_dir(&dir).watch();
    assert!(dir.is_dir(), "the folder was made");
    #[cfg(target_os = "linux")]
    assert_eq!(watch.kind(), WatchKind::Notify);
    another_process_saves(&dir);
    assert!(reports_change(&mut watch).await, "the new file was seen");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_removed_folder_ends_the_notification_and_polling_takes_over() {
    let dir = temp_dir("removed");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut watch = Registry::in_dir(&dir).watch();
    assert_eq!(watch.kind(), WatchKind::Notify);
    std::fs::remove_dir_all(&dir).expect("file operation");
    // The folder's removal is no change of the (absent) file.
    assert!(stays_quiet(&mut watch).await);
    assert_eq!(
        watch.kind(),
        WatchKind::Poll,
        "the kernel's watch ended with the folder"
    );
    std::fs::create_dir_all(&dir).expect("mkdir");
    another_process_saves(&dir);
    assert!(
        reports_change(&mut watch).await,
        "the poll saw the file in the new folder"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
