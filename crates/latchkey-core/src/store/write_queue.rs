//! The vault's write order: one queue per key.
//!
//! Writes and deletes of one key reach the keychain in the order they were
//! made: each takes the key's turn and keeps it until its keychain call has
//! really returned — a call that timed out is still running on its thread
//! (a keychain call cannot be cancelled) and could otherwise land after a
//! newer one.
//!
//! One exception: a write stuck on a keychain connection that has since been
//! given up (its daemon was replaced, see `store::reconnecting`) no longer
//! holds up the key. A secret it carries was encrypted for a session the new
//! daemon does not know, so it cannot land; the later writes to the key
//! queue up anew, in order, on the new connection. (A stuck *delete* could
//! still land if someone answered the old prompt later; this is left as is.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::lock;

/// How often a waiting write looks whether the write before it was given up.
const POLL: Duration = Duration::from_millis(250);

/// One key's queue: its turn, and the keychain connection its holder runs on.
#[derive(Clone, Default)]
struct Queue {
    turn: Arc<tokio::sync::Mutex<()>>,
    holder_connection: Arc<AtomicU64>,
}

/// The write queues of a vault, by key.
#[derive(Default)]
pub(crate) struct WriteQueues {
    queues: Mutex<HashMap<String, Queue>>,
}

impl std::fmt::Debug for WriteQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueues").finish_non_exhaustive()
    }
}

/// A key's turn; the next write of the key may go when it drops.
pub(crate) struct Turn {
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteQueues {
    fn current(&self, key: &str) -> Queue {
        lock(&self.queues)
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Starts the key's queue anew, unless another write already did.
    fn restart(&self, key: &str, stuck: &Queue) {
        let mut queues = lock(&self.queues);
        if queues
            .get(key)
            .is_some_and(|q| Arc::ptr_eq(&q.turn, &stuck.turn))
        {
            queues.insert(key.to_owned(), Queue::default());
        }
    }

    /// Waits until `deadline` for the key's turn. `connection` says which
    /// keychain connection calls go to now (it grows when the store
    /// reconnects); `None` when the turn did not come in time.
    pub(crate) async fn turn(
        &self,
        key: &str,
        deadline: Instant,
        connection: &(dyn Fn() -> u64 + Sync),
    ) -> Option<Turn> {
        loop {
            let queue = self.current(key);
            let until = deadline.min(Instant::now() + POLL);
            match tokio::time::timeout_at(until, Arc::clone(&queue.turn).lock_owned()).await {
                Ok(turn) => {
                    queue
                        .holder_connection
                        .store(connection(), Ordering::SeqCst);
                    return Some(Turn { _turn: turn });
                }
                Err(_) if Instant::now() >= deadline => return None,
                Err(_) => {
                    if queue.holder_connection.load(Ordering::SeqCst) < connection() {
                        tracing::warn!(
                            "a keychain write stuck on a replaced keychain daemon no longer holds up its item"
                        );
                        self.restart(key, &queue);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_of_a_key_take_turns_and_never_overtake_a_stuck_one() {
        let queues = WriteQueues::default();
        let first = queues
            .turn("k", Instant::now() + Duration::from_secs(1), &|| 0)
            .await
            .expect("first turn");
        let deadline = Instant::now() + Duration::from_millis(600);
        assert!(
            queues.turn("k", deadline, &|| 0).await.is_none(),
            "the same connection: wait for the stuck write"
        );
        let other = queues
            .turn("other", Instant::now() + Duration::from_secs(1), &|| 0)
            .await;
        assert!(other.is_some(), "other keys are not held up");
        drop(first);
        assert!(
            queues
                .turn("k", Instant::now() + Duration::from_secs(1), &|| 0)
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_write_stuck_on_a_given_up_connection_no_longer_holds_up_its_key() {
        let queues = Arc::new(WriteQueues::default());
        let connection = Arc::new(AtomicU64::new(0));
        let now = {
            let connection = Arc::clone(&connection);
            move || connection.load(Ordering::SeqCst)
        };
        let _stuck = queues
            .turn("k", Instant::now() + Duration::from_secs(1), &now)
            .await
            .expect("first turn");
        // The store reconnects (the daemon was replaced).
        connection.store(1, Ordering::SeqCst);
        let next = queues
            .turn("k", Instant::now() + Duration::from_secs(2), &now)
            .await
            .expect("the next write goes");
        // And the writes after it queue behind it, in order.
        assert!(
            queues
                .turn("k", Instant::now() + Duration::from_millis(600), &now)
                .await
                .is_none()
        );
        drop(next);
        assert!(
            queues
                .turn("k", Instant::now() + Duration::from_secs(1), &now)
                .await
                .is_some()
        );
    }
}
