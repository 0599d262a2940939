//! Reconnect delays: exponential from 250 ms to 30 s, with jitter so that many clients cut off at
//! once do not come back in step. Reset after a good subscribe.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The first delay.
pub const BASE: Duration = Duration::from_millis(250);
/// No delay is longer.
pub const MAX: Duration = Duration::from_secs(30);

/// Delay `n` (from 0) is `min(MAX, BASE * 2^n)` plus up to half of it again at random, capped at
/// [`MAX`]: 250-375 ms, 500-750 ms, ... 30 s.
#[derive(Debug)]
pub struct Backoff {
    attempt: u32,
    rng: StdRng,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff {
            attempt: 0,
            rng: StdRng::from_entropy(),
        }
    }

    /// Reproducible jitter, for tests.
    pub fn with_seed(seed: u64) -> Backoff {
        Backoff {
            attempt: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The delay before the next attempt; each call doubles the base of the next.
    pub fn next_delay(&mut self) -> Duration {
        let exp = BASE.saturating_mul(1u32 << self.attempt.min(16));
        let base = exp.min(MAX);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = base.mul_f64(self.rng.gen_range(0.0..0.5));
        (base + jitter).min(MAX)
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A good subscribe: the next failure starts again from [`BASE`].
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_bounds() {
        let mut b = Backoff::with_seed(7);
        let mut previous_base = Duration::ZERO;
        for n in 0..20u32 {
            let d = b.next_delay();
            let base = BASE.saturating_mul(1 << n.min(16)).min(MAX);
            assert!(d >= base, "delay {n} = {d:?} below its base {base:?}");
            assert!(d <= MAX, "delay {n} = {d:?} above the cap");
            assert!(
                d <= base + base / 2,
                "delay {n} = {d:?} has too much jitter"
            );
            assert!(base >= previous_base);
            previous_base = base;
        }
        assert_eq!(b.attempts(), 20);
        assert_eq!(b.next_delay(), MAX);
    }

    #[test]
    fn reset_starts_again_from_the_base() {
        let mut b = Backoff::with_seed(1);
        for _ in 0..6 {
            b.next_delay();
        }
        b.reset();
        let d = b.next_delay();
        assert!(d >= BASE && d < BASE * 2, "{d:?}");
    }

    #[test]
    fn jitter_varies() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..20 {
            seen.insert(Backoff::with_seed(seed).next_delay());
        }
        assert!(
            seen.len() > 10,
            "jitter produced only {} distinct delays",
            seen.len()
        );
    }
}
