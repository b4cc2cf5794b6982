//! The one retry schedule of plat: exponential back-off with jitter, for AMQP reconnects, HTTP
//! step retries and constant automations after failures. Each wait is drawn between half and
//! all of its exponential step ("equal jitter"), so clients that failed together, such as every
//! replica when the broker restarts, do not all retry at the same instant.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            attempt: 0,
        }
    }

    #[cfg(any(feature = "server", test))]
    /// Starts again from the first step (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The longest the `attempt`-th wait (from 0) may be: `first` doubled `attempt` times,
    /// never more than `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max)
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let wait = jittered(self.ceiling(self.attempt));
        self.attempt = self.attempt.saturating_add(1);
        wait
    }
}

/// A duration between half of `ceiling` and `ceiling`.
pub fn jittered(ceiling: Duration) -> Duration {
    let half = ceiling / 2;
    half + half.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_each_jittered_within_its_step() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
        for ceiling in ceilings {
            let ceiling = Duration::from_millis(ceiling);
            let wait = backoff.next_wait();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{wait:?} outside {ceiling:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(500));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_spreads_waits() {
        let waits: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| jittered(Duration::from_secs(10))).collect();
        assert!(waits.len() > 10, "waits did not spread: {waits:?}");
    }
}
