//! The exchange's limits as pure policies (docs/sim.md, "Limits"): a sliding one-second window
//! for new connections, and the count of level2 streams a subscribe would bring a connection to.
//! Time is passed in, so the tests need no clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Coinbase's error text when a connection asks for too many level2 products: the one the
/// client recognises.
pub use crate::feed::events::TOO_MANY_L2_STREAMS;

/// Level2 products (served streams) one connection may hold by default.
pub const DEFAULT_MAX_L2_PER_CONNECTION: usize = 16;
/// New connections per second (per server, standing in for the exchange's per IP) by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_SEC: u32 = 8;

const WINDOW: Duration = Duration::from_secs(1);

/// At most `per_sec` events in any one-second window (sliding, not aligned to clock seconds).
/// Only admitted events count: a refused attempt does not push the window on, so a client that
/// waits a second always gets in again. `per_sec == 0` admits everything.
#[derive(Debug)]
pub struct RateWindow {
    per_sec: u32,
    admitted: VecDeque<Instant>,
}

impl RateWindow {
    pub fn new(per_sec: u32) -> RateWindow {
        RateWindow {
            per_sec,
            admitted: VecDeque::new(),
        }
    }

    /// Whether an event at `now` is within the limit (and if so, counts it).
    pub fn admit(&mut self, now: Instant) -> bool {
        if self.per_sec == 0 {
            return true;
        }
        while self
            .admitted
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() >= self.per_sec as usize {
            return false;
        }
        self.admitted.push_back(now);
        true
    }
}

/// How many distinct level2 streams (served products, by index) a connection would hold after
/// subscribing to `adding`, given the streams it holds (`held[p]`).
pub fn l2_streams_after(held: &[bool], adding: &[usize]) -> usize {
    let already = held.iter().filter(|&&h| h).count();
    let mut new: Vec<usize> = adding
        .iter()
        .copied()
        .filter(|&p| !held.get(p).copied().unwrap_or(false))
        .collect();
    new.sort_unstable();
    new.dedup();
    already + new.len()
}

/// Whether a subscribe bringing a connection to `after` level2 streams is refused (`max == 0`:
/// no limit).
pub fn l2_over_limit(after: usize, max: usize) -> bool {
    max != 0 && after > max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_per_sliding_second() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut w = RateWindow::new(3);
        assert!(w.admit(ms(0)));
        assert!(w.admit(ms(100)));
        assert!(w.admit(ms(200)));
        assert!(!w.admit(ms(300)), "a fourth within the second");
        assert!(!w.admit(ms(999)), "still within a second of the first");
        assert!(w.admit(ms(1000)), "the first has left the window");
        assert!(!w.admit(ms(1050)));
        assert!(w.admit(ms(1100)));
        assert!(w.admit(ms(1200)));
        assert!(!w.admit(ms(1300)));
    }

    #[test]
    fn refusals_do_not_push_the_window_on() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(1);
        assert!(w.admit(t0));
        for i in 1..100 {
            assert!(!w.admit(t0 + Duration::from_millis(i * 9)));
        }
        assert!(w.admit(t0 + WINDOW));
    }

    #[test]
    fn zero_is_no_limit() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(0);
        assert!((0..1000).all(|_| w.admit(t0)));
    }

    #[test]
    fn l2_streams_count_distinct_served_products() {
        let held = [true, false, true, false];
        assert_eq!(l2_streams_after(&held, &[]), 2);
        assert_eq!(l2_streams_after(&held, &[0, 2]), 2, "already held");
        assert_eq!(l2_streams_after(&held, &[1, 1, 3]), 4, "each new one once");
        assert_eq!(
            l2_streams_after(&[false; 20], &(0..16).collect::<Vec<_>>()),
            16
        );
        assert!(!l2_over_limit(16, 16));
        assert!(l2_over_limit(17, 16));
        assert!(!l2_over_limit(1000, 0));
    }
}
