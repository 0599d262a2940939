//! Messages/s and updates/s, from differences of the feed's counters over about a second.

use std::collections::VecDeque;

use crate::feed::events::FeedStats;

/// Window over which rates are measured.
const RATE_WINDOW_MS: i64 = 1_000;

/// Messages/s and updates/s from differences of the feed's counters.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    /// (local time, frames, updates), oldest first, a few seconds' worth.
    samples: VecDeque<(i64, u64, u64)>,
}

impl Rates {
    pub(crate) fn push(&mut self, now_ms: i64, stats: &FeedStats) {
        self.samples
            .push_back((now_ms, stats.frames, stats.updates));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| s.0 <= now_ms - RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// (messages/s, updates/s) as of `now_ms`; None until there is enough history.
    pub fn per_second(&self, now_ms: i64) -> Option<(f64, f64)> {
        let newest = self.samples.back()?;
        // The newest sample at least a window old is the base; without one, the oldest.
        let base = self
            .samples
            .iter()
            .rev()
            .find(|s| s.0 <= now_ms - RATE_WINDOW_MS)
            .or(self.samples.front())?;
        let span = now_ms - base.0;
        if span < RATE_WINDOW_MS / 4 || (base == newest && span < RATE_WINDOW_MS) {
            return None;
        }
        let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 * 1000.0 / span as f64;
        Some((per_sec(newest.1, base.1), per_sec(newest.2, base.2)))
    }
}
