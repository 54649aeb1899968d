//! When to refresh: proactively before expiry ([`next_refresh_at`]), and how
//! long to wait while offline ([`Backoff`], honouring `Retry-After`).

use std::time::{Duration, SystemTime};

/// Assumed access token lifetime when the server does not say.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The shortest time between two proactive refreshes of one account.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// When to refresh an access token proactively: at 80 % of its lifetime or
/// 60 s before it expires, whichever is earlier — but not before half of its
/// lifetime, and not within [`MIN_REFRESH_INTERVAL`]: a provider that issues
/// very short-lived (or already expired) tokens is not hammered in a loop.
pub fn next_refresh_at(issued_at: SystemTime, expires_at: Option<SystemTime>) -> SystemTime {
    let expires_at = expires_at.unwrap_or(issued_at + DEFAULT_LIFETIME);
    let lifetime = expires_at.duration_since(issued_at).unwrap_or_default();
    let at_80 = issued_at + lifetime.mul_f64(0.8);
    let before_60 = expires_at
        .checked_sub(Duration::from_secs(60))
        .unwrap_or(issued_at);
    at_80
        .min(before_60)
        .max(issued_at + lifetime / 2)
        .max(issued_at + MIN_REFRESH_INTERVAL)
}

/// Capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
    /// Fraction of the delay that is randomized (0.0–1.0).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
            jitter: 0.3,
        }
    }
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based), with `random` in [0, 1)
    /// picking the jitter: `min(cap, base·2^(attempt-1))`, minus up to `jitter` of it.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.cap);
        let jitter = capped.mul_f64(self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0));
        capped.saturating_sub(jitter)
    }

    /// The delay before attempt `attempt`, but never shorter than what the
    /// server asked for (`Retry-After`, up to [`MAX_RETRY_AFTER`]).
    pub fn delay_honouring(
        &self,
        attempt: u32,
        random: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let ours = self.delay(attempt, random);
        retry_after.map_or(ours, |asked| ours.max(asked.min(MAX_RETRY_AFTER)))
    }
}

pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn proactive_refresh_at_80_percent_or_60_seconds_before_expiry() {
        // One hour: 80 % = 48 min; 60 s before = 59 min → 48 min.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(3600))),
            t0() + Duration::from_secs(2880)
        );
        // Four minutes: 80 % = 192 s; 60 s before = 180 s → 180 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(240))),
            t0() + Duration::from_secs(180)
        );
        // Seventy seconds: 60 s before would be after 10 s; not before half-life → 35 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(70))),
            t0() + Duration::from_secs(35)
        );
        // Thirty seconds: 60 s before is in the past → half-life, 15 s.
        assert_eq!(
            next_refresh_at(t0(), Some(t0() + Duration::from_secs(30))),
            t0() + Duration::from_secs(15)
        );
        // Four seconds, or already expired: never sooner than the minimum interval.
        for expires_at in [t0() + Duration::from_secs(4), t0() - Duration::from_secs(5)] {
            assert_eq!(
                next_refresh_at(t0(), Some(expires_at)),
                t0() + MIN_REFRESH_INTERVAL
            );
        }
        // Unknown lifetime: assume an hour.
        assert_eq!(
            next_refresh_at(t0(), None),
            t0() + Duration::from_secs(2880)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
            jitter: 0.5,
        };
        let no_jitter: Vec<u64> = (1..=7).map(|n| b.delay(n, 0.0).as_secs()).collect();
        assert_eq!(no_jitter, [2, 4, 8, 16, 32, 60, 60]);
        // Jitter only shortens, by at most half.
        for n in 1..=10 {
            let full = b.delay(n, 0.0);
            let min = b.delay(n, 0.999_999);
            assert!(
                min <= full && min >= full / 2,
                "attempt {n}: {min:?} vs {full:?}"
            );
        }
        // Huge attempt counts do not overflow.
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_secs(60));
        let r = random_unit();
        assert!((0.0..1.0).contains(&r));
    }
}
