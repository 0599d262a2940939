//! One side of the book: a sorted map from key to size, shaped for updates that land near the
//! touch.
//!
//! Almost every update of a busy book lands within a few hundred levels of the best price, while
//! the book holds tens of thousands. So the side is kept in two parts:
//!
//! - `near`: the best [`NEAR_MIN`] to [`NEAR_MAX`] levels in a `Vec` sorted by descending key,
//!   so that the best level is the last. A search first counts, without a branch per level, how
//!   many of the last [`TOUCH`] levels are at or beyond the key (where most updates land, and a
//!   gallop's exit was a mispredicted branch for most of them); deeper, it gallops back from
//!   there, finding a level `d` places from the touch in about `2 log2(d)` comparisons. An
//!   insertion or removal moves only the `d` levels after it.
//! - `far`: every other level, in a `BTreeMap`.
//!
//! Levels cross between the parts in batches at the boundary: when `near` outgrows
//! [`NEAR_MAX`], its worst levels go to `far` until it holds [`NEAR_LOAD`]; when it falls below
//! [`NEAR_MIN`], the best of `far` come back up to [`NEAR_LOAD`]. A batch costs one move of
//! `near` and a tree operation per level, and is at least [`NEAR_MAX`] - [`NEAR_LOAD`] updates
//! away from the next one.
//!
//! Invariants: every key in `near` is below every key in `far`; `near` is empty only when `far`
//! is; `near` holds at most `NEAR_MAX` levels, and at least `NEAR_MIN` unless the side holds
//! fewer. The layout never changes what the side holds or its order: iteration is `near`
//! (backwards) then `far`, best first.

use std::collections::btree_map::{self, BTreeMap, Entry};
use std::iter::Rev;
use std::ops::ControlFlow;
use std::slice;

/// The most levels `near` holds.
pub const NEAR_MAX: usize = 256;
/// The levels nearest the touch that [`find`] compares with `key` all at once, before it
/// gallops: most updates land within them (BENCHMARKS.md, "Replay as a whole process").
const TOUCH: usize = 16;
/// The fewest levels `near` holds while `far` has more to give.
pub const NEAR_MIN: usize = 128;
/// Levels `near` holds after a batch crossed the boundary, and after a snapshot.
pub const NEAR_LOAD: usize = (NEAR_MIN + NEAR_MAX) / 2;

/// A sorted map of key to size (see the module docs). Keys are ordered best first.
#[derive(Clone, Default)]
pub struct Levels {
    /// Descending keys: the best level last.
    near: Vec<(u128, u128)>,
    far: BTreeMap<u128, u128>,
}

impl Levels {
    /// The levels of `sorted`, which must be sorted by key with no key twice.
    pub fn from_sorted(mut sorted: Vec<(u128, u128)>) -> Levels {
        debug_assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0));
        let far = sorted.split_off(sorted.len().min(NEAR_LOAD));
        let mut near = Vec::with_capacity(NEAR_MAX + 1);
        near.extend(sorted.into_iter().rev());
        Levels {
            near,
            // Sorted and unique: `from_iter` checks that in one pass and builds bottom-up.
            far: far.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.near.len() + self.far.len()
    }

    pub fn is_empty(&self) -> bool {
        self.near.is_empty()
    }

    pub fn clear(&mut self) {
        self.near.clear();
        self.far.clear();
    }

    /// The best level.
    #[inline]
    pub fn first(&self) -> Option<(u128, u128)> {
        self.near.last().copied()
    }

    /// Every level, best first.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            near: self.near.iter().rev(),
            far: self.far.iter(),
        }
    }

    /// Every level, best first, to `visit` until it breaks: `near` in one tight loop, without
    /// the check per level of which part of the side it is in that [`Levels::iter`] makes.
    #[inline]
    pub fn walk(&self, mut visit: impl FnMut(u128, u128) -> ControlFlow<()>) {
        for &(key, size) in self.near.iter().rev() {
            if visit(key, size).is_break() {
                return;
            }
        }
        for (&key, &size) in &self.far {
            if visit(key, size).is_break() {
                return;
            }
        }
    }

    /// Whether `key` belongs in `near`: at or below its worst key, or anywhere while `far` is
    /// empty.
    #[inline]
    fn in_near(&self, key: u128) -> bool {
        self.far.is_empty() || self.near.first().is_some_and(|&(worst, _)| key <= worst)
    }

    /// Removes the level at `key`; returns its size.
    #[inline]
    pub fn remove(&mut self, key: u128) -> Option<u128> {
        if !self.in_near(key) {
            return self.far.remove(&key);
        }
        let at = find(&self.near, key).ok()?;
        let (_, size) = self.near.remove(at);
        if self.near.len() < NEAR_MIN && !self.far.is_empty() {
            self.refill();
        }
        Some(size)
    }

    /// Sets the level at `key` to `size` if `admit(old size)` agrees; the side is unchanged when
    /// it refuses.
    #[inline]
    pub fn set<E>(
        &mut self,
        key: u128,
        size: u128,
        admit: impl FnOnce(Option<u128>) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.in_near(key) {
            return match self.far.entry(key) {
                Entry::Occupied(mut level) => {
                    admit(Some(*level.get()))?;
                    level.insert(size);
                    Ok(())
                }
                Entry::Vacant(level) => {
                    admit(None)?;
                    level.insert(size);
                    Ok(())
                }
            };
        }
        match find(&self.near, key) {
            Ok(at) => {
                let level = &mut self.near[at];
                admit(Some(level.1))?;
                level.1 = size;
            }
            Err(at) => {
                admit(None)?;
                self.near.insert(at, (key, size));
                if self.near.len() > NEAR_MAX {
                    self.spill();
                }
            }
        }
        Ok(())
    }

    /// `near` is too long: its worst levels go to `far` until it holds `NEAR_LOAD`.
    #[cold]
    fn spill(&mut self) {
        let excess = self.near.len().saturating_sub(NEAR_LOAD);
        for (key, size) in self.near.drain(..excess) {
            self.far.insert(key, size);
        }
    }

    /// `near` is too short: the best levels of `far` come back until it holds `NEAR_LOAD`.
    #[cold]
    fn refill(&mut self) {
        let want = NEAR_LOAD.saturating_sub(self.near.len());
        let mut moved = Vec::with_capacity(want);
        while moved.len() < want {
            match self.far.pop_first() {
                Some(level) => moved.push(level),
                None => break,
            }
        }
        // They are all worse than every level of `near`: in front of them, worst first.
        self.near.splice(0..0, moved.into_iter().rev());
    }

    /// Checks the invariants of the module docs (tests): the boundary and the bounds at once,
    /// the order of `near` too when `full`.
    #[cfg(test)]
    fn check(&self, full: bool) {
        if full {
            assert!(
                self.near.windows(2).all(|w| w[0].0 > w[1].0),
                "near is sorted, best last"
            );
        }
        if let (Some(&(worst, _)), Some((&first_far, _))) =
            (self.near.first(), self.far.first_key_value())
        {
            assert!(worst < first_far, "near below far");
        }
        assert!(
            !self.near.is_empty() || self.far.is_empty(),
            "near empty only if far is"
        );
        assert!(self.near.len() <= NEAR_MAX, "near bounded");
        assert!(
            self.far.is_empty() || self.near.len() >= NEAR_MIN,
            "near kept full"
        );
    }
}

/// Where `key` is in `near` (sorted by descending key): `Ok(index)`, or `Err(index)` where it
/// would be inserted. Probes back from the end (the touch), 1, 2, 4, ... places, to find a range
/// that holds it, then a binary search within that range.
#[inline]
fn find(near: &[(u128, u128)], key: u128) -> Result<usize, usize> {
    let n = near.len();
    let tail = &near[n.saturating_sub(TOUCH)..];
    // The levels at or below `key` are a suffix: counted in the last `TOUCH` levels without a
    // branch per level.
    let below = tail
        .iter()
        .fold(0, |count, &(k, _)| count + usize::from(k <= key));
    if below < tail.len() || below == n {
        let at = n - below;
        return match near.get(at) {
            Some(&(k, _)) if k == key => Ok(at),
            _ => Err(at),
        };
    }
    // The levels with a larger key than `key` are a prefix; its length is in `lo..=hi`.
    let (mut lo, mut hi) = (0, n - TOUCH);
    let mut step = 1;
    while step <= hi {
        let i = hi - step;
        if near[i].0 > key {
            lo = i + 1;
            break;
        }
        hi = i;
        step *= 2;
    }
    let at = lo + near[lo..hi].partition_point(|&(k, _)| k > key);
    match near.get(at) {
        Some(&(k, _)) if k == key => Ok(at),
        _ => Err(at),
    }
}

/// A side's levels, best first: `near` (backwards) then `far`.
#[derive(Clone)]
pub struct Iter<'a> {
    near: Rev<slice::Iter<'a, (u128, u128)>>,
    far: btree_map::Iter<'a, u128, u128>,
}

impl Iterator for Iter<'_> {
    type Item = (u128, u128);

    #[inline]
    fn next(&mut self) -> Option<(u128, u128)> {
        match self.near.next() {
            Some(&level) => Some(level),
            None => self.far.next().map(|(&k, &s)| (k, s)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.near.len() + self.far.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn set(levels: &mut Levels, key: u128, size: u128) {
        levels.set(key, size, |_| Ok::<(), ()>(())).unwrap();
    }

    #[test]
    fn a_snapshot_splits_at_the_load_point_and_iterates_in_order() {
        let sorted: Vec<(u128, u128)> = (0..1000).map(|k| (k * 2, k + 1)).collect();
        let levels = Levels::from_sorted(sorted.clone());
        levels.check(true);
        assert_eq!(levels.near.len(), NEAR_LOAD);
        assert_eq!(levels.len(), 1000);
        assert_eq!(levels.iter().collect::<Vec<_>>(), sorted);
        assert_eq!(levels.iter().len(), 1000);
        assert_eq!(levels.first(), Some((0, 1)));
    }

    #[test]
    fn a_walk_visits_the_levels_in_order_across_both_parts_and_stops_when_told() {
        let sorted: Vec<(u128, u128)> = (0..1000).map(|k| (k * 2, k + 1)).collect();
        let levels = Levels::from_sorted(sorted.clone());
        let mut seen = Vec::new();
        levels.walk(|key, size| {
            seen.push((key, size));
            ControlFlow::Continue(())
        });
        assert_eq!(seen, sorted);
        // Past `near` into `far`, then stopped.
        for stop in [1, NEAR_LOAD, NEAR_LOAD + 10] {
            let mut seen = Vec::new();
            levels.walk(|key, size| {
                seen.push((key, size));
                if seen.len() == stop {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            assert_eq!(seen, sorted[..stop], "stop after {stop}");
        }
        Levels::default().walk(|_, _| panic!("an empty side has no level"));
    }

    #[test]
    fn the_search_answers_as_binary_search() {
        for n in 0..40u128 {
            let near: Vec<(u128, u128)> = (0..n).rev().map(|k| (k * 2 + 1, 1)).collect();
            for key in 0..n * 2 + 3 {
                assert_eq!(
                    find(&near, key),
                    near.binary_search_by(|&(k, _)| key.cmp(&k)),
                    "{n} {key}"
                );
            }
        }
    }

    #[test]
    fn a_refusal_changes_nothing() {
        let mut levels = Levels::from_sorted(vec![(1, 1), (3, 3)]);
        assert_eq!(
            levels.set(2, 2, |old| if old.is_none() { Err("no") } else { Ok(()) }),
            Err("no")
        );
        assert_eq!(
            levels.set(3, 9, |old| if old == Some(3) { Err("no") } else { Ok(()) }),
            Err("no")
        );
        assert_eq!(levels.iter().collect::<Vec<_>>(), [(1, 1), (3, 3)]);
    }

    #[test]
    fn draining_the_best_levels_pulls_far_ones_near() {
        let sorted: Vec<(u128, u128)> = (0..2000).map(|k| (k, 1)).collect();
        let mut levels = Levels::from_sorted(sorted);
        for k in 0..1990 {
            assert_eq!(levels.remove(k), Some(1));
            levels.check(k % 100 == 0);
            assert_eq!(levels.first(), Some((k + 1, 1)));
        }
        assert_eq!(levels.len(), 10);
        // And growing at the touch pushes the worst near levels far.
        for k in (0..1990).rev() {
            set(&mut levels, k, 2);
            levels.check(k % 100 == 0);
        }
        assert_eq!(levels.len(), 2000);
        assert!((NEAR_LOAD..=NEAR_MAX).contains(&levels.near.len()));
        let expected: Vec<(u128, u128)> = (0..2000)
            .map(|k| (k, if k < 1990 { 2 } else { 1 }))
            .collect();
        assert_eq!(levels.iter().collect::<Vec<_>>(), expected);
    }

    /// Every length around [`TOUCH`] (fewer levels, as many, more), every key present and
    /// absent on both sides of each level: `find` agrees with a linear search.
    #[test]
    fn find_agrees_with_a_linear_search() {
        for n in 0..=3 * TOUCH {
            // Descending even keys: the odd keys between them are absent.
            let near: Vec<(u128, u128)> = (0..n as u128).rev().map(|k| (2 * k + 2, 1)).collect();
            for key in 0..=2 * n as u128 + 3 {
                let at = near.iter().take_while(|&&(k, _)| k > key).count();
                let expected = if near.get(at).is_some_and(|&(k, _)| k == key) {
                    Ok(at)
                } else {
                    Err(at)
                };
                assert_eq!(find(&near, key), expected, "n={n} key={key}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// Against a plain `BTreeMap`, with keys from a range about three windows wide so that
        /// levels cross the boundary both ways.
        #[test]
        fn behaves_as_a_sorted_map(
            start in prop::collection::vec((0u128..1500, 1u128..5), 0..1200),
            ops in prop::collection::vec((0u128..1600, 0u128..5), 0..2000),
        ) {
            let model: BTreeMap<u128, u128> = start.iter().copied().collect();
            let mut levels = Levels::from_sorted(model.iter().map(|(&k, &s)| (k, s)).collect());
            let mut model = model;
            for (key, size) in ops {
                if size == 0 {
                    prop_assert_eq!(levels.remove(key), model.remove(&key));
                } else {
                    set(&mut levels, key, size);
                    model.insert(key, size);
                }
                levels.check(false);
                prop_assert_eq!(levels.first(), model.first_key_value().map(|(&k, &s)| (k, s)));
                prop_assert_eq!(levels.len(), model.len());
            }
            levels.check(true);
            prop_assert_eq!(
                levels.iter().collect::<Vec<_>>(),
                model.into_iter().collect::<Vec<_>>()
            );
        }
    }
}
