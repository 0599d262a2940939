//! The price groupings `+` and `-` step through: 1, 2, 5, 10, 20, 50... ticks.

use crate::config::MAX_GROUP;

/// The groupings `+` and `-` step through, in ticks.
const GROUP_STEPS: [u32; 3] = [1, 2, 5];

/// The next coarser grouping after `ticks` in the 1-2-5 series.
pub fn coarser_group(ticks: u32) -> u32 {
    let mut decade: u32 = 1;
    loop {
        for step in GROUP_STEPS {
            let candidate = step.saturating_mul(decade);
            if candidate > ticks {
                return candidate.min(MAX_GROUP).max(ticks);
            }
        }
        if decade >= MAX_GROUP {
            return ticks;
        }
        decade = decade.saturating_mul(10);
    }
}

/// The next finer grouping before `ticks` in the 1-2-5 series (at least 1).
pub fn finer_group(ticks: u32) -> u32 {
    let mut best = 1;
    let mut decade: u32 = 1;
    while decade <= ticks {
        for step in GROUP_STEPS {
            let candidate = step.saturating_mul(decade);
            if candidate < ticks {
                best = best.max(candidate);
            }
        }
        decade = decade.saturating_mul(10);
    }
    best
}
