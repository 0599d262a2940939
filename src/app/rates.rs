//! Messages/s and updates/s, from differences of the feed's counters over about a second.
//!
//! Updates/s is market activity: the level changes of `l2update` events. Snapshot levels (a whole
//! book at once, on every subscribe and resync) are left out, or each resync would read as a
//! burst of tens of thousands of updates.

use std::collections::VecDeque;

use crate::feed::events::FeedStats;

/// Window over which rates are measured.
const RATE_WINDOW_MS: i64 = 1_000;

/// Messages/s and updates/s from differences of the feed's counters.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    /// (local time, frames, updates without snapshot levels), oldest first, a few seconds' worth.
    samples: VecDeque<(i64, u64, u64)>,
}

impl Rates {
    pub(crate) fn push(&mut self, now_ms: i64, stats: &FeedStats) {
        self.samples
            .push_back((now_ms, stats.frames, market_updates(stats)));
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

/// Level updates that were market activity: all of them but the snapshots' levels.
fn market_updates(stats: &FeedStats) -> u64 {
    stats.updates.saturating_sub(stats.snapshot_levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_levels_are_not_updates_per_second() {
        let stats = |updates, snapshot_levels| FeedStats {
            frames: updates,
            updates,
            snapshot_levels,
            ..FeedStats::default()
        };
        let mut rates = Rates::default();
        rates.push(0, &stats(0, 0));
        // 150 updates in the second, and a resync's 20,000-level snapshot.
        rates.push(1_000, &stats(20_150, 20_000));
        let (_, updates) = rates.per_second(1_000).unwrap();
        assert_eq!(updates, 150.0);
    }
}
