//! A latency histogram: fixed memory, constant-time recording, percentiles within about 3%.
//!
//! Values are bucketed log-linearly: exact below 64, then 32 buckets per power of two, so a
//! percentile is reported as the upper bound of its bucket (never below the true value, at most
//! 1/32 above it). The live client records, per frame, the time from receiving it to having
//! applied it (`--stats` prints the percentiles).

use std::fmt;

/// Values below this are their own bucket.
const LINEAR: u64 = 64;
/// Buckets per power of two above `LINEAR` (a power of two itself).
const SUB_BUCKETS: u64 = 32;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// Powers of two covered above `LINEAR` (`2^6` to `2^64`).
const OCTAVES: usize = 64 - LINEAR.trailing_zeros() as usize;
const BUCKETS: usize = LINEAR as usize + OCTAVES * SUB_BUCKETS as usize;

#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.counts[bucket(value)] += 1;
        self.total += 1;
        self.max = self.max.max(value);
    }

    /// Adds every value recorded in `other` (the histograms of several connections as one).
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The smallest bucket bound at or above `q` (0 to 1) of the values: the `q` quantile, at
    /// most 1/32 high (and never above the maximum). 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The rank of the quantile value, 1-based: ceil(q * n), at least 1.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper_bound(i).min(self.max);
            }
        }
        self.max
    }
}

/// `p50=.. p90=.. p99=.. p99.9=.. max=.. n=..`
impl fmt::Display for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50={} p90={} p99={} p99.9={} max={} n={}",
            self.quantile(0.5),
            self.quantile(0.9),
            self.quantile(0.99),
            self.quantile(0.999),
            self.max,
            self.total
        )
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Histogram({self})")
    }
}

fn bucket(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    // 6 for 64..128, up to 63.
    let octave = 63 - value.leading_zeros();
    let sub = (value >> (octave - SUB_BITS)) & (SUB_BUCKETS - 1);
    LINEAR as usize
        + (octave - LINEAR.trailing_zeros()) as usize * SUB_BUCKETS as usize
        + sub as usize
}

/// The largest value in bucket `i`.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let octave = (i - LINEAR) / SUB_BUCKETS + u64::from(LINEAR.trailing_zeros());
    let sub = (i - LINEAR) % SUB_BUCKETS;
    let width = 1u64 << (octave - u64::from(SUB_BITS));
    // The bucket is [2^octave + sub * width, 2^octave + (sub + 1) * width).
    ((1u64 << octave) + sub * width).saturating_add(width - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bounds_contain_their_values() {
        let mut last = 0;
        for value in (0..5000).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let b = bucket(value);
            assert!(b >= last, "{value}");
            assert!(b < BUCKETS, "{value}");
            last = b;
            let bound = upper_bound(b);
            assert!(bound >= value, "{value} {bound}");
            // Within 1/32 of the value above the linear range.
            assert!(bound - value <= value / SUB_BUCKETS, "{value} {bound}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.99), 0);
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.len(), 1000);
        assert_eq!(h.quantile(0.0), 1);
        let p50 = h.quantile(0.5);
        assert!((500..=500 + 500 / 32).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99);
        assert!((990..=990 + 990 / 32).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), 1000);
        assert_eq!(h.max(), 1000);
        // One slow outlier moves the maximum, not the p99.
        h.record(1_000_000);
        assert!(h.quantile(0.99) < 1100);
        assert_eq!(h.max(), 1_000_000);
        assert!(h.to_string().starts_with("p50="));
    }
}
