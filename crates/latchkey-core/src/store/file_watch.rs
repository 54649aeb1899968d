//! Following a file for changes other processes make: the accounts file (the
//! `latchkey` CLI signs in, refreshes, makes another account the default) and
//! the providers file (edited by hand while the app runs).
//!
//! On Linux the kernel says when the file's folder changes (inotify, on a
//! thread that sleeps in `read` until then): an idle app does no work at all.
//! Elsewhere, or when the folder cannot be watched, the file is checked every
//! [`POLL`]. Either way a change is reported only when the file's modification
//! time or length differs from the last one seen, so a burst of events (write
//! to a temporary file, fsync, rename) is one change. Dropping the watch
//! removes the kernel's watch, which wakes the thread and ends it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::registry::Registry;

/// How often the file is checked where the kernel cannot tell.
pub const POLL: Duration = Duration::from_secs(2);

/// How a [`FileWatch`] learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// The kernel reports changes to the file's folder (Linux inotify).
    Notify,
    /// The file is checked every [`POLL`].
    Poll,
}

type Stamp = Option<(Option<SystemTime>, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// Reports changes of one file; see the module docs.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    last: Stamp,
    /// Wake-ups from the notifying thread (none: polling).
    wakes: Option<mpsc::Receiver<()>>,
    /// The kernel's watch and its thread, ended when this is dropped.
    notifier: Option<notify::Notifier>,
}

impl Registry {
    /// Starts following this file (see [`FileWatch::new`]).
    pub fn watch(&self) -> FileWatch {
        FileWatch::new(self.path())
    }
}

impl FileWatch {
    /// Starts following `path`: [`FileWatch::changed`] returns after each
    /// change from now on. Creates the file's folder (private, as
    /// [`Registry::save`] does) so that a first start can be watched too.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        if let Some(dir) = path.parent() {
            let _ = super::fsperm::create_private_dir_all(dir);
        }
        let last = stamp(&path);
        let (wakes, notifier) = match notify::start(&path) {
            Some((wakes, notifier)) => (Some(wakes), Some(notifier)),
            None => {
                tracing::debug!(path = %path.display(), "the file is polled for changes");
                (None, None)
            }
        };
        FileWatch {
            path,
            last,
            wakes,
            notifier,
        }
    }

    /// The file this watch follows.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How this watch learns of changes.
    pub fn kind(&self) -> WatchKind {
        if self.wakes.is_some() {
            WatchKind::Notify
        } else {
            WatchKind::Poll
        }
    }

    /// Waits until the file differs from when it was last seen (created,
    /// replaced, written or deleted).
    pub async fn changed(&mut self) {
        loop {
            match &mut self.wakes {
                Some(wakes) => {
                    if wakes.recv().await.is_none() {
                        // The notifying thread ended (a read error): poll from now on.
                        tracing::debug!("the file's watch ended; polling it instead");
                        self.wakes = None;
                        self.notifier = None;
                        continue;
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
            let now = stamp(&self.path);
            if now != self.last {
                self.last = now;
                return;
            }
        }
    }

    /// Drops the watch and hands back its thread, to check that it ends.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn into_thread(mut self) -> Option<std::thread::JoinHandle<()>> {
        self.notifier.as_mut().and_then(|n| n.thread.take())
    }
}

#[cfg(target_os = "linux")]
mod notify {
    use std::mem::MaybeUninit;
    use std::os::fd::OwnedFd;
    use std::path::Path;
    use std::sync::Arc;

    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
    use tokio::sync::mpsc;

    /// The kernel's watch on the file's folder and the thread that reads it.
    #[derive(Debug)]
    pub(super) struct Notifier {
        fd: Arc<OwnedFd>,
        wd: i32,
        /// Kept for tests only; elsewhere the thread is detached and ends by itself.
        #[cfg(test)]
        pub(super) thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for Notifier {
        /// Removing the watch makes the kernel send `IN_IGNORED`: the thread
        /// wakes from its `read`, sees the watch gone and ends.
        fn drop(&mut self) {
            let _ = inotify::remove_watch(&*self.fd, self.wd);
        }
    }

    /// Watches the file's folder from a thread of its own; `None` when it
    /// cannot be watched (no folder yet, no inotify).
    pub(super) fn start(path: &Path) -> Option<(mpsc::Receiver<()>, Notifier)> {
        let dir = path.parent()?;
        let name = path.file_name()?.to_owned();
        let fd = Arc::new(inotify::init(CreateFlags::CLOEXEC).ok()?);
        let events = WatchFlags::CLOSE_WRITE
            | WatchFlags::MOVED_TO
            | WatchFlags::MOVED_FROM
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF;
        let wd = inotify::add_watch(&*fd, dir, events).ok()?;
        // One pending wake is enough: the watch compares the file afterwards.
        let (tx, rx) = mpsc::channel(1);
        let thread_fd = Arc::clone(&fd);
        let thread = std::thread::Builder::new()
            .name("latchkey-file-watch".into())
            .spawn(move || {
                let mut buf = [MaybeUninit::uninit(); 4096];
                let mut reader = inotify::Reader::new(&*thread_fd, &mut buf);
                loop {
                    let Ok(event) = reader.next() else { return };
                    let ours = event
                        .file_name()
                        .is_some_and(|n| n.to_bytes() == name.as_encoded_bytes());
                    // The folder went away, or the watch was dropped: nothing more will come.
                    let gone = event.events().intersects(
                        ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF | ReadFlags::IGNORED,
                    );
                    if ours || gone {
                        match tx.try_send(()) {
                            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {}
                            Err(mpsc::error::TrySendError::Closed(())) => return,
                        }
                    }
                    if gone {
                        return;
                    }
                }
            })
            .ok()?;
        #[cfg(not(test))]
        drop(thread);
        Some((
            rx,
            Notifier {
                fd,
                wd,
                #[cfg(test)]
                thread: Some(thread),
            },
        ))
    }
}

#[cfg(not(target_os = "linux"))]
mod notify {
    use std::path::Path;

    use tokio::sync::mpsc;

    /// Never made: where the kernel is not asked there is nothing to end.
    #[derive(Debug)]
    pub(super) enum Notifier {}

    pub(super) fn start(_path: &Path) -> Option<(mpsc::Receiver<()>, Notifier)> {
        None
    }
}

#[cfg(test)]
#[path = "file_watch_tests.rs"]
mod tests;
