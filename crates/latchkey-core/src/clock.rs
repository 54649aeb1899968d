//! The injected clock. Expiry of pending sign-ins, ID token `exp`/`iat` checks
//! and refresh scheduling read the time from a [`Clock`] and wait on it, so
//! tests drive time deterministically.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::http::BoxFuture;

/// The longest a [`Clock::sleep_until`] naps before looking at the wall clock
/// again. Timers run on the monotonic clock, which stops while a laptop is
/// suspended; token expiry does not. After a resume, a wait ends within this
/// much of the wall-clock deadline instead of hours late.
pub const MAX_NAP: Duration = Duration::from_secs(15);

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Completes once [`Clock::now`] has reached `deadline`. The default naps on
    /// the runtime's timer in steps of at most [`MAX_NAP`], re-reading the clock
    /// after each one.
    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            while let Ok(left) = deadline.duration_since(self.now()) {
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(MAX_NAP)).await;
            }
        })
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests). Its [`Clock::sleep_until`]
/// ends when [`ManualClock::advance`] passes the deadline, not with real time.
#[derive(Debug)]
pub struct ManualClock(watch::Sender<SystemTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self(watch::Sender::new(start))
    }

    /// Moves the clock forward (and wakes whoever waits for a time now passed).
    pub fn advance(&self, by: Duration) {
        self.0.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.borrow()
    }

    fn sleep_until(&self, deadline: SystemTime) -> BoxFuture<'_, ()> {
        let mut time = self.0.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so this only ends by reaching the deadline.
            let _ = time.wait_for(|now| *now >= deadline).await;
        })
    }
}

/// Seconds since the Unix epoch (0 before it).
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `secs` seconds after the Unix epoch.
pub fn from_unix_seconds(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A wall clock that jumps, as it does across a suspend: only `now()` is
    /// implemented, so the trait's default `sleep_until` is under test.
    #[derive(Debug)]
    struct Jumpy(Mutex<SystemTime>);

    impl Clock for Jumpy {
        fn now(&self) -> SystemTime {
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_soon_after_the_wall_clock_jumps_past_its_deadline() {
        let t0 = from_unix_seconds(1_800_000_000);
        let clock = std::sync::Arc::new(Jumpy(Mutex::new(t0)));
        let waiter = {
            let clock = std::sync::Arc::clone(&clock);
            tokio::spawn(async move { clock.sleep_until(t0 + Duration::from_secs(3600)).await })
        };
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!waiter.is_finished(), "a minute of an hour");
        // The laptop sleeps for two hours: the timer does not see it, the wall clock does.
        *clock.0.lock().expect("lock") += Duration::from_secs(7200);
        tokio::time::sleep(MAX_NAP + Duration::from_millis(1)).await;
        assert!(waiter.is_finished(), "woke within one nap of the resume");
    }

    #[tokio::test]
    async fn a_manual_clock_wait_ends_when_it_is_advanced_past_the_deadline() {
        let t0 = from_unix_seconds(1_800_000_000);
        let clock = std::sync::Arc::new(ManualClock::new(t0));
        let waiter = {
            let clock = std::sync::Arc::clone(&clock);
            tokio::spawn(async move { clock.sleep_until(t0 + Duration::from_secs(10)).await })
        };
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by advance")
            .expect("no panic");
        // A deadline already passed does not wait at all.
        clock.sleep_until(t0).await;
    }
}
