//! The heatmap's columns: the book near the touch summed into buckets of a fixed width, built
//! every interval for every product (docs/viewer.md, "Heatmap"). Most of sampling's time is
//! the walk over the levels here, so it is done in 64 bits when the prices fit and into the
//! allocations of the column it replaces (see BENCHMARKS.md, "Heatmap").

use std::ops::ControlFlow;

use crate::book::{Book, Side};

use super::HeatColumn;

/// The book near the touch in buckets of `width` units, `depth` a side.
pub fn column(book: &Book, width: u128, depth: usize) -> HeatColumn {
    let mut out = HeatColumn::default();
    fill_column(&mut out, book, width, depth);
    out
}

/// [`column`] into `out`, in its sides' allocations (a column recycled from the ring: after
/// the first time, filling one allocates nothing).
pub(super) fn fill_column(out: &mut HeatColumn, book: &Book, width: u128, depth: usize) {
    let width = width.max(1);
    out.width = width;
    let best_bid = book.best_level(Side::Bid).map(|(p, _)| p.units());
    let best_ask = book.best_level(Side::Ask).map(|(p, _)| p.units());
    out.best_bid = best_bid;
    out.best_ask = best_ask;
    match best_bid {
        Some(best) => {
            out.bid_top = best / width;
            // A bid's bucket counted down from the best's: the distance from the top of the best
            // bucket, in widths.
            let top = (out.bid_top + 1) * width - 1;
            fill_side(&mut out.bids, depth, |sums| {
                side_buckets(book, Side::Bid, width, top, sums)
            });
        }
        None => {
            out.bid_top = 0;
            out.bids.clear();
        }
    }
    match best_ask {
        Some(best) => {
            out.ask_bottom = best / width;
            let bottom = out.ask_bottom * width;
            fill_side(&mut out.asks, depth, |sums| {
                side_buckets(book, Side::Ask, width, bottom, sums)
            });
        }
        None => {
            out.ask_bottom = 0;
            out.asks.clear();
        }
    }
}

/// `side` as `depth` empty buckets, summed into by `sum` (which says how many of them hold a
/// level), then cut to those. Its allocation keeps room for `depth` buckets: a recycled side is
/// not allocated again (unless a taller pane asks for more buckets), and cutting it is not a
/// reallocation.
fn fill_side(side: &mut Vec<f32>, depth: usize, sum: impl FnOnce(&mut [f32]) -> usize) {
    side.clear();
    side.reserve_exact(depth);
    side.resize(depth, 0.0);
    let used = sum(side);
    side.truncate(used);
}

/// Sums one side's levels into the buckets of `sums` (all zeros, one per bucket kept), best
/// first, and returns how many buckets hold a level (the last one that does, and those before
/// it). `edge` is the edge of the best bucket: the top of the bids' (bids count down from it),
/// the bottom of the asks' (asks count up); a level's bucket is its distance from the edge over
/// `width`, never negative, as every level of a side is at or behind its best. Walks only the
/// levels within the buckets.
fn side_buckets(book: &Book, side: Side, width: u128, edge: u128, sums: &mut [f32]) -> usize {
    let span = width.saturating_mul(sums.len() as u128);
    // Every price the buckets span below 2^64 units (18 million of the quote currency): done
    // in 64 bits, most of the sampling time.
    let narrow = (
        u64::try_from(width),
        u64::try_from(edge.saturating_add(span)),
    );
    if let (Ok(width), Ok(_)) = narrow {
        // Fits since `edge + span` does.
        let edge = edge as u64;
        return match side {
            Side::Bid => sum_levels(book, side, |p| edge.wrapping_sub(p), width, sums),
            Side::Ask => sum_levels(book, side, |p| p.wrapping_sub(edge), width, sums),
        };
    }
    match side {
        Side::Bid => sum_levels(book, side, |p| edge.wrapping_sub(p), width, sums),
        Side::Ask => sum_levels(book, side, |p| p.wrapping_sub(edge), width, sums),
    }
}

/// The loop of [`side_buckets`], in 64 or 128 bits: `distance` from the edge. The first level
/// past the last bucket ends the walk (so does a price the 64-bit walk cannot hold: it is past
/// every bucket).
#[inline(always)]
fn sum_levels<T>(
    book: &Book,
    side: Side,
    distance: impl Fn(T) -> T,
    width: T,
    sums: &mut [f32],
) -> usize
where
    T: Copy + std::ops::Div<Output = T> + TryInto<usize> + TryFrom<u128>,
{
    const UNIT: f64 = 1e12;
    let mut used = 0;
    book.walk_levels_units(side, |price, size| {
        let Some(at) = T::try_from(price)
            .ok()
            .and_then(|price| (distance(price) / width).try_into().ok())
        else {
            return ControlFlow::Break(());
        };
        let Some(sum) = sums.get_mut(at) else {
            return ControlFlow::Break(());
        };
        *sum += (units_f64(size) / UNIT) as f32;
        // Levels come best first: no later one is in a bucket before this one.
        used = at + 1;
        ControlFlow::Continue(())
    });
    used
}

/// A size in units as `f64`: in one instruction below 2^63 units (9 million of the base
/// currency), the rest out of line (a branch that does the same conversion in both arms is
/// folded into the slow one).
#[inline]
fn units_f64(units: u128) -> f64 {
    #[cold]
    #[inline(never)]
    fn large(units: u128) -> f64 {
        units as f64
    }
    match i64::try_from(units) {
        Ok(small) => small as f64,
        Err(_) => large(units),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Price, Size};
    use crate::feed::core::heatmap::{BookState, DEFAULT_DEPTH, HeatRing, HeatSettings};

    fn book(levels: &[(Side, &str, &str)]) -> Book {
        let mut b = Book::new();
        for (side, p, s) in levels {
            b.apply_level(*side, Price::parse(p).unwrap(), Size::parse(s).unwrap())
                .unwrap();
        }
        b
    }

    const CENT: u128 = 10_000_000_000;

    #[test]
    fn buckets_sum_the_levels_at_every_grouping() {
        let b = book(&[
            (Side::Bid, "100.00", "1"),
            (Side::Bid, "99.99", "2"),
            (Side::Bid, "99.95", "4"),
            (Side::Bid, "99.90", "8"),
            (Side::Ask, "100.01", "1"),
            (Side::Ask, "100.02", "2"),
            (Side::Ask, "100.10", "4"),
        ]);
        let mut group = 1;
        while group <= 1_000_000 {
            let c = column(&b, CENT * u128::from(group), 64);
            let width = CENT * u128::from(group);
            assert_eq!(c.bid_top, 100 * 100 * CENT / width, "group {group}");
            // Every level lands in the bucket [k w, (k + 1) w) that holds its price.
            let total_bids: f32 = c.bids.iter().sum();
            let total_asks: f32 = c.asks.iter().sum();
            assert_eq!((total_bids, total_asks), (15.0, 7.0), "group {group}");
            for (price, size, bid) in [
                ("100.00", 1.0, true),
                ("99.90", 8.0, true),
                ("100.10", 4.0, false),
            ] {
                let units = Price::parse(price).unwrap().units();
                let (b_size, a_size) = c.at(units / width);
                let got = if bid { b_size } else { a_size };
                assert!(got >= size, "group {group} {price}: {got}");
            }
            group = crate::app::coarser_group(group);
            if group == 1_000_000 {
                break;
            }
        }
        // Ungrouped, each level is its own bucket.
        let c = column(&b, CENT, 64);
        assert_eq!(&c.bids[..6], &[1.0, 2.0, 0.0, 0.0, 0.0, 4.0]);
        assert_eq!(c.asks[9], 4.0);
        // Grouped by 5 ticks: 99.95..99.99 together, 100.00 alone at the top.
        let c = column(&b, 5 * CENT, 64);
        assert_eq!(&c.bids[..3], &[1.0, 6.0, 8.0]);
        // Depth cuts the far levels.
        let c = column(&b, CENT, 3);
        assert_eq!(c.bids.len(), 2);
        assert_eq!(c.bids.iter().sum::<f32>(), 3.0);
    }

    #[test]
    fn prices_and_sizes_past_64_bits_of_units_bucket_as_the_others() {
        // 2^64 units is 18,446,744.07 of the quote currency, 2^63 units 9,223,372.04 of the base.
        let b = book(&[
            (Side::Bid, "18446744.00", "1"),
            (Side::Bid, "18446743.98", "10000000"),
            (Side::Ask, "18446744.05", "2"),
            (Side::Ask, "18446744.08", "4"),
            (Side::Ask, "18446744.20", "20000000"),
            (Side::Ask, "18446745.00", "4"),
        ]);
        let c = column(&b, CENT, 64);
        assert_eq!(&c.bids[..], &[1.0, 0.0, 10_000_000.0]);
        assert_eq!(c.asks.len(), 16);
        assert_eq!((c.asks[0], c.asks[3], c.asks[15]), (2.0, 4.0, 20_000_000.0));
        assert_eq!(c.asks.iter().sum::<f32>(), 20_000_006.0);
        // Grouped by a unit of the quote currency.
        let c = column(&b, 100 * CENT, 4);
        assert_eq!(&c.bids[..], &[1.0, 10_000_000.0]);
        assert_eq!(&c.asks[..], &[20_000_006.0, 4.0]);
        // A ring samples them the same way.
        let mut ring = HeatRing::default();
        ring.sample(
            (&b, BookState::Live, 1),
            &HeatSettings::default(),
            1,
            (1_000, 1),
        );
        let sampled = &ring.samples()[0].book;
        assert_eq!(**sampled, column(&b, CENT, DEFAULT_DEPTH));
        // Sizes past 2^63 units at everyday prices.
        let b = book(&[
            (Side::Bid, "100.00", "10000000"),
            (Side::Ask, "100.01", "20000000"),
        ]);
        let c = column(&b, CENT, 4);
        assert_eq!(
            (&c.bids[..], &c.asks[..]),
            (&[10_000_000.0][..], &[20_000_000.0][..])
        );
        // Buckets below 2^64 units with a level above it: past the last bucket when the
        // buckets end below 2^64, in one when they reach past it.
        let b = book(&[
            (Side::Ask, "18446743.00", "1"),
            (Side::Ask, "18446745.00", "2"),
        ]);
        assert_eq!(&column(&b, CENT, 64).asks[..], &[1.0]);
        let c = column(&b, CENT, 300);
        assert_eq!((c.asks.len(), c.asks[0], c.asks[200]), (201, 1.0, 2.0));
    }
}
