//! Advisory lock files shared by every Latchkey process of one user (the app,
//! any number of `latchkey` CLI processes): one per account, one for the
//! pending sign-ins.
//!
//! Where: `$XDG_RUNTIME_DIR/dev.latchkey.app/locks-<hash of the data folder>/`
//! when the runtime folder exists (local to the machine, private to the user,
//! emptied at logout: never on a network file system where advisory locks are
//! unreliable), else `<data folder>/locks/`. The hash keeps the locks of two
//! data folders (tests, a second profile) apart while every process that uses
//! the same data folder meets the same files. Folders are 0700, files 0600.
//!
//! A lock is an exclusive `flock` on an open file. If the file was removed
//! (or replaced) after we opened it, another process may lock the new file at
//! the same time, so after locking we check that the path still names the
//! inode we hold, and start over when it does not.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest as _;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// The lock file could not be created or locked.
    #[error("cannot use the lock file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process held the lock for longer than we wait.
    #[error("another Latchkey process holds the lock {name}")]
    Timeout { name: String },
}

impl crate::error::ErrorCode for LockError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "lock_failed",
            Self::Timeout { .. } => "lock_timeout",
        }
    }
}

/// The folder of the lock files of the app `identifier` for the data folder
/// `data_dir`.
pub(crate) fn lock_dir_for(identifier: &str, data_dir: &Path) -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute() && dir.is_dir());
    match runtime {
        Some(runtime) => {
            let hash = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
            runtime
                .join(identifier)
                .join(format!("locks-{}", &hex::encode(hash)[..16]))
        }
        None => data_dir.join("locks"),
    }
}

/// A folder of lock files.
#[derive(Debug, Clone)]
pub(crate) struct LockDir {
    dir: PathBuf,
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl LockDir {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// Takes the lock `name`, waiting up to `timeout` (polling `try_lock`,
    /// so no runtime thread blocks).
    pub(crate) async fn lock(&self, name: &str, timeout: Duration) -> Result<FileLock, LockError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(held) = self.try_take(name)? {
                return Ok(held);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LockError::Timeout {
                    name: name.to_owned(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// [`Self::lock`] for a blocking thread (a [`crate::store::vault::SecretStore`]
    /// call): sleeps between tries instead of awaiting.
    pub(crate) fn lock_blocking(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<FileLock, LockError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(held) = self.try_take(name)? {
                return Ok(held);
            }
            if std::time::Instant::now() >= deadline {
                return Err(LockError::Timeout {
                    name: name.to_owned(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// One try: the lock if nobody holds it, `None` if somebody does.
    fn try_take(&self, name: &str) -> Result<Option<FileLock>, LockError> {
        let path = self.path(name);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        loop {
            crate::fsperm::create_private_dir_all(&self.dir).map_err(io)?;
            let file = open_private(&path).map_err(io)?;
            match file.try_lock() {
                // Locked the file the path names now: ours.
                Ok(()) if names_same_file(&path, &file) => {
                    return Ok(Some(FileLock { _file: file }));
                }
                // The file was removed or replaced between our open and our
                // lock (a holder let go meanwhile): that lock excludes nobody.
                Ok(()) => {
                    tracing::debug!(lock = name, "lock file replaced; locking again");
                }
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
            }
        }
    }
}

impl LockDir {
    /// Whether some process holds the lock `name` now (never waits, never
    /// creates the file).
    pub(crate) fn is_held(&self, name: &str) -> bool {
        match std::fs::OpenOptions::new()
            .write(true)
            .open(self.path(name))
        {
            Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }

    /// Removes the lock file `name` once nobody needs it (best effort).
    pub(crate) fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.path(name));
    }
}

#[cfg(unix)]
fn names_same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(on_disk), Ok(held)) => on_disk.dev() == held.dev() && on_disk.ino() == held.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn names_same_file(path: &Path, _file: &File) -> bool {
    // Windows does not let an open file be removed.
    path.exists()
}

fn open_private(path: &Path) -> std::io::Result<File> {
    crate::fsperm::open_private(
        path,
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("latchkey-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[tokio::test]
    async fn a_lock_excludes_another_until_dropped() {
        let locks = LockDir::new(dir("excl"));
        let held = locks.lock("a", Duration::from_secs(1)).await.expect("lock");
        let err = locks
            .lock("a", Duration::from_millis(100))
            .await
            .expect_err("held");
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
        locks
            .lock("b", Duration::from_millis(100))
            .await
            .expect("other name");
        drop(held);
        locks
            .lock("a", Duration::from_millis(100))
            .await
            .expect("free again");
    }

    #[test]
    fn a_lock_on_a_file_no_longer_at_its_path_does_not_count() {
        let root = dir("replaced");
        crate::fsperm::create_private_dir_all(&root).expect("mkdir");
        let path = root.join("a.lock");
        let old = open_private(&path).expect("open");
        assert!(names_same_file(&path, &old));
        // The folder is cleaned up and another process creates the file anew:
        // a lock on the old inode would exclude nobody.
        std::fs::remove_file(&path).expect("rm");
        assert!(!names_same_file(&path, &old), "removed");
        let new = open_private(&path).expect("recreate");
        assert!(!names_same_file(&path, &old), "replaced");
        assert!(names_same_file(&path, &new));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[cfg(unix)]
    #[test]
    fn lock_folders_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = dir("private");
        let locks = root.join("a").join("locks");
        crate::fsperm::create_private_dir_all(&locks).expect("mkdir");
        let file = open_private(&locks.join("x.lock")).expect("open");
        drop(file);
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&locks), 0o700);
        assert_eq!(mode(&locks.join("x.lock")), 0o600);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_lock_folder_is_per_data_folder_in_the_runtime_dir() {
        let a = lock_dir_for(
            "dev.latchkey.app",
            Path::new("/home/u/.local/share/dev.latchkey.app"),
        );
        let b = lock_dir_for("dev.latchkey.app", Path::new("/tmp/other"));
        assert_ne!(a, b);
        assert_eq!(
            a,
            lock_dir_for(
                "dev.latchkey.app",
                Path::new("/home/u/.local/share/dev.latchkey.app")
            )
        );
    }
}
