//! The exact level-2 order book: one sorted map per side ([`levels::Levels`]: the levels near the
//! touch in a sorted array, the rest in a `BTreeMap`), keyed by fixed-point prices.
//!
//! Prices and sizes are held as exact counts of `10^-12` units ([`Price`], [`Size`]; see
//! [`fixed`] for why that representation), so that `"64930.5"` and `"64930.50"` are one level,
//! keys compare as integers, and nothing is ever rounded. `rust_decimal::Decimal` appears only at
//! the edges (best levels, views, dumps), always exact and normalised.
//!
//! Two ways in:
//! - [`Book::apply`] takes the strings of a Coinbase `l2_data` update;
//! - [`Book::apply_level`] takes values already parsed with [`Price::parse`] and [`Size::parse`]
//!   (or their `_bytes` forms), so a frame parser can parse each field once, validate a whole
//!   event before touching the book, and then apply without parsing again.
//!
//! Invariants: no level holds a zero size or sits at a zero price (a price of zero is refused as
//! bad data, as a negative one is by the parser); each side's total size stays below `2^96`
//! units (an update that would break this is refused), so every cumulative sum converts to an
//! exact `Decimal`.

mod error;
pub mod fixed;
mod levels;

use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::feed::events::LevelRow;
pub use error::BookError;
use fixed::{POW10, SCALE, SIDE_TOTAL_LIMIT, decimal_from_mantissa, decimal_from_units};
pub use fixed::{Price, Size};
use levels::Levels;

/// A side of the book. Coinbase calls the ask side `offer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Bid,
    Ask,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::Bid => 0,
            Side::Ask => 1,
        }
    }

    /// Price units to map key and back (an involution): complemented for bids, so that the best
    /// level of either side is the first key.
    #[inline]
    fn key(self, units: u128) -> u128 {
        match self {
            Side::Bid => !units,
            Side::Ask => units,
        }
    }

    /// Map key back to price units.
    #[inline]
    fn price_of(self, key: u128) -> u128 {
        self.key(key)
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        })
    }
}

/// An exact L2 book for one product. One writer (the feed task); views are copies.
#[derive(Default, Clone)]
pub struct Book {
    /// Per side (bids, asks): key -> size units. The key is the price's units for asks and their
    /// bitwise complement for bids, so that on both sides the best level is the first key.
    /// Updates cluster at the touch, which [`Levels`] keeps in a short sorted array.
    sides: [Levels; 2],
    /// Sum of the sizes on each side in units, bids then asks; at most `2^96 - 1` each.
    totals: [u128; 2],
    /// Finest normalised scale of any price applied since the last clear.
    max_scale: u8,
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    /// Empties both sides and forgets the tick: a snapshot is `clear()` then one apply per level
    /// (or, faster, [`Book::load_snapshot`]).
    pub fn clear(&mut self) {
        self.sides[0].clear();
        self.sides[1].clear();
        self.totals = [0, 0];
        self.max_scale = 0;
    }

    /// One level, as Coinbase prints it: `quantity` is the new absolute size; zero (`"0"`,
    /// `"0.00000000"`) removes the level; removing an absent level is harmless. `"64930.5"` and
    /// `"64930.50"` are the same level. On error the book is unchanged.
    pub fn apply(&mut self, side: Side, price: &str, quantity: &str) -> Result<(), BookError> {
        let price = Price::parse(price)?;
        let size = Size::parse(quantity)?;
        self.apply_level(side, price, size)
    }

    /// [`Book::apply`] for values already parsed: sets the level at `price` to `size` (zero
    /// removes it). Errs when the price is zero (no order rests at a price of nothing: bad
    /// data, even as a removal) or when the side's total size would reach `2^96` units (about
    /// `7.9 * 10^16`), beyond exact cumulative sums; the book is then unchanged.
    ///
    /// Every price applied, removals included, counts towards [`Book::tick`]: Coinbase prints
    /// every price on the product's tick grid.
    #[inline]
    pub fn apply_level(&mut self, side: Side, price: Price, size: Size) -> Result<(), BookError> {
        check_positive(price)?;
        let levels = &mut self.sides[side.index()];
        let total = &mut self.totals[side.index()];
        let key = side.key(price.units());
        let size = size.units();
        if size == 0 {
            if let Some(old) = levels.remove(key) {
                *total -= old;
            }
        } else {
            levels.set(key, size, |old| {
                let new_total = *total - old.unwrap_or(0) + size;
                if new_total > SIDE_TOTAL_LIMIT {
                    return Err(BookError::SideTotalTooLarge { side });
                }
                *total = new_total;
                Ok(())
            })?;
        }
        // Scale is at most SCALE = 12.
        self.max_scale = self.max_scale.max(price.scale() as u8);
        Ok(())
    }

    /// Replaces the whole book with a snapshot: the same result as [`Book::clear`] then
    /// [`Book::apply_level`] for each level in order (a later level at the same price wins, zero
    /// sizes remove), but built in one pass instead of one tree descent per level, which matters
    /// for a 45,000-level snapshot. On error (a zero price, a side's total too large) the book
    /// is unchanged.
    pub fn load_snapshot<I>(&mut self, levels: I) -> Result<(), BookError>
    where
        I: IntoIterator<Item = (Side, Price, Size)>,
    {
        let levels = levels.into_iter();
        // A snapshot is roughly half bids, half asks. The upper bound, when known, is the
        // better guess (a filtered iterator's lower bound is 0).
        let (lower, upper) = levels.size_hint();
        let half = upper.unwrap_or(lower) / 2;
        let mut sides: [Vec<(u128, u128)>; 2] =
            [Vec::with_capacity(half), Vec::with_capacity(half)];
        let mut max_scale = 0u8;
        for (side, price, size) in levels {
            check_positive(price)?;
            sides[side.index()].push((side.key(price.units()), size.units()));
            // Scale is at most SCALE = 12.
            max_scale = max_scale.max(price.scale() as u8);
        }
        let [bids, asks] = sides;
        let (bids, bid_total) = snapshot_side(Side::Bid, bids)?;
        let (asks, ask_total) = snapshot_side(Side::Ask, asks)?;
        self.sides = [bids, asks];
        self.totals = [bid_total, ask_total];
        self.max_scale = max_scale;
        Ok(())
    }

    /// Highest bid: (price, size).
    pub fn best_bid(&self) -> Option<(Decimal, Decimal)> {
        self.best(Side::Bid).map(|(p, s)| to_decimals(p, s))
    }

    /// Lowest ask: (price, size).
    pub fn best_ask(&self) -> Option<(Decimal, Decimal)> {
        self.best(Side::Ask).map(|(p, s)| to_decimals(p, s))
    }

    /// The best level of a side in fixed point.
    pub fn best_level(&self, side: Side) -> Option<(Price, Size)> {
        self.best(side).map(to_fixed)
    }

    /// The best price of a side as a count of `10^-12` units: [`Book::best_level`]'s price
    /// without making a [`Price`] of it (for comparisons on a hot path).
    #[inline]
    pub fn best_units(&self, side: Side) -> Option<u128> {
        self.best(side).map(|(price, _)| price)
    }

    /// Best ask minus best bid; negative when the book is crossed.
    pub fn spread(&self) -> Option<Decimal> {
        let (bid, ask) = self.best_prices()?;
        Some(if ask >= bid {
            decimal_from_units(ask - bid, false)
        } else {
            decimal_from_units(bid - ask, true)
        })
    }

    /// (best bid + best ask) / 2, exact (one decimal finer than the prices at most).
    pub fn mid(&self) -> Option<Decimal> {
        let (bid, ask) = self.best_prices()?;
        // Both below 10^27 units: the sum and five times it fit u128 and a Decimal mantissa.
        let sum = bid + ask;
        Some(if sum % 2 == 0 {
            decimal_from_units(sum / 2, false)
        } else {
            decimal_from_mantissa(sum * 5, false, SCALE + 1).normalize()
        })
    }

    /// Best bid >= best ask: the book cannot be right (missed updates).
    pub fn is_crossed(&self) -> bool {
        self.best_prices().is_some_and(|(bid, ask)| bid >= ask)
    }

    /// Number of levels on a side.
    pub fn len(&self, side: Side) -> usize {
        self.map(side).len()
    }

    /// No level on either side.
    pub fn is_empty(&self) -> bool {
        self.sides[0].is_empty() && self.sides[1].is_empty()
    }

    /// `10^-s`, where `s` is the finest normalised scale of any price applied since the last
    /// clear (`"64930.50"` has scale 1); 1 when no price had decimals (or none was applied).
    pub fn tick(&self) -> Decimal {
        decimal_from_mantissa(1, false, u32::from(self.max_scale))
    }

    /// Every level of a side, best first.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Decimal, Decimal)> + '_ {
        self.side_iter(side).map(|(p, s)| to_decimals(p, s))
    }

    /// [`Book::levels`] as raw counts of `10^-12` units (price, size), to `visit` until it
    /// breaks: no scale worked out per level, and no iterator's bookkeeping per level (the
    /// heatmap's sampling walks many levels every interval).
    #[inline]
    pub fn walk_levels_units(
        &self,
        side: Side,
        mut visit: impl FnMut(u128, u128) -> std::ops::ControlFlow<()>,
    ) {
        self.map(side)
            .walk(|key, size| visit(side.price_of(key), size));
    }

    /// [`Book::levels`] in fixed point.
    pub fn levels_fixed(&self, side: Side) -> impl Iterator<Item = (Price, Size)> + '_ {
        self.side_iter(side).map(to_fixed)
    }

    /// Best first: levels grouped into buckets of `group_ticks * tick` (bids round down, asks
    /// round up, exactly; 0 counts as 1), at most `depth` rows, sizes summed per bucket,
    /// `cum_size` accumulated from the best row. Walks only the levels of the rows it returns.
    pub fn top(&self, side: Side, depth: usize, group_ticks: u32) -> Vec<LevelRow> {
        let mut rows = Vec::with_capacity(depth.min(1024));
        if depth == 0 {
            return rows;
        }
        let grouped = group_ticks > 1;
        let width = u128::from(POW10[(SCALE - u32::from(self.max_scale)) as usize])
            * u128::from(group_ticks.max(1));
        let mut cum: u128 = 0;
        // The open bucket: (its price, its size so far).
        let mut open: Option<(u128, u128)> = None;
        for (price, size) in self.side_iter(side) {
            if let Some((bucket, bucket_size)) = open.as_mut() {
                let inside = grouped
                    && match side {
                        // Bid bucket [bucket, bucket + width), walked downwards.
                        Side::Bid => price >= *bucket,
                        // Ask bucket (bucket - width, bucket], walked upwards.
                        Side::Ask => price <= *bucket,
                    };
                if inside {
                    *bucket_size += size;
                    continue;
                }
                cum += *bucket_size;
                rows.push(row(*bucket, *bucket_size, cum));
                if rows.len() == depth {
                    return rows;
                }
            }
            // Ungrouped, every price is already on the tick grid: it is its own bucket.
            let bucket = if grouped {
                bucket_price(side, price, width)
            } else {
                price
            };
            open = Some((bucket, size));
        }
        if let Some((bucket, bucket_size)) = open {
            cum += bucket_size;
            rows.push(row(bucket, bucket_size, cum));
        }
        rows
    }

    /// The dump format: `[["price", "size"], ...]` best first, every level, canonical text.
    pub fn dump_side(&self, side: Side) -> Vec<[String; 2]> {
        self.levels_fixed(side)
            .map(|(p, s)| [p.to_string(), s.to_string()])
            .collect()
    }

    fn map(&self, side: Side) -> &Levels {
        &self.sides[side.index()]
    }

    fn side_iter(&self, side: Side) -> SideIter<'_> {
        SideIter {
            side,
            iter: self.map(side).iter(),
        }
    }

    /// (best bid, best ask) in units, when both sides have a level.
    fn best_prices(&self) -> Option<(u128, u128)> {
        let (bid, _) = self.best(Side::Bid)?;
        let (ask, _) = self.best(Side::Ask)?;
        Some((bid, ask))
    }

    /// The best level of a side: (price units, size units).
    #[inline]
    fn best(&self, side: Side) -> Option<(u128, u128)> {
        let (key, size) = self.map(side).first()?;
        Some((side.price_of(key), size))
    }
}

/// Counts and the touch only: a full book is tens of thousands of lines.
impl fmt::Debug for Book {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Book")
            .field("bids", &self.len(Side::Bid))
            .field("asks", &self.len(Side::Ask))
            .field("best_bid", &self.best_level(Side::Bid))
            .field("best_ask", &self.best_level(Side::Ask))
            .field("tick", &self.tick())
            .finish()
    }
}

/// A side's levels best first, as (price units, size units).
struct SideIter<'a> {
    side: Side,
    iter: levels::Iter<'a>,
}

impl Iterator for SideIter<'_> {
    type Item = (u128, u128);

    #[inline]
    fn next(&mut self) -> Option<(u128, u128)> {
        let (key, size) = self.iter.next()?;
        Some((self.side.price_of(key), size))
    }
}

/// A price the book may hold: above zero. Coinbase never prints a zero price; one is bad data (a
/// broken or hostile server), and a level there would sit below every real bid and make the
/// spread and the depth chart nonsense.
#[inline]
fn check_positive(price: Price) -> Result<(), BookError> {
    if price.units() == 0 {
        return Err(BookError::NotPositive {
            text: price.to_decimal().to_string(),
        });
    }
    Ok(())
}

/// One side of a snapshot, as (key, size) in arrival order, to a map and its total size.
fn snapshot_side(side: Side, mut levels: Vec<(u128, u128)>) -> Result<(Levels, u128), BookError> {
    // Stable, and linear on the sorted (or reversed) runs a snapshot arrives in.
    levels.sort_by_key(|&(key, _)| key);
    // Keep the last level of each price, as successive applies would, then drop removals.
    // (`dedup_by` removes the later of two equal neighbours, so hand its size to the earlier.)
    levels.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = later.1;
        }
        same
    });
    levels.retain(|&(_, size)| size != 0);
    let mut total: u128 = 0;
    for &(_, size) in &levels {
        // Each size is below 10^27 units, so the sum cannot wrap before the check trips.
        total += size;
        if total > SIDE_TOTAL_LIMIT {
            return Err(BookError::SideTotalTooLarge { side });
        }
    }
    Ok((Levels::from_sorted(levels), total))
}

/// The bucket of `price`: bids round down, asks round up, to a multiple of `width`.
#[inline]
fn bucket_price(side: Side, price: u128, width: u128) -> u128 {
    let rest = match (u64::try_from(price), u64::try_from(width)) {
        (Ok(p), Ok(w)) => u128::from(p % w),
        _ => price % width,
    };
    match side {
        Side::Bid => price - rest,
        // price < 10^27 and width <= 2^32 * 10^12: the sum stays below 2^96.
        Side::Ask if rest != 0 => price - rest + width,
        Side::Ask => price,
    }
}

fn row(price: u128, size: u128, cum: u128) -> LevelRow {
    LevelRow {
        price: decimal_from_units(price, false),
        size: decimal_from_units(size, false),
        cum_size: decimal_from_units(cum, false),
    }
}

fn to_decimals(price: u128, size: u128) -> (Decimal, Decimal) {
    (
        decimal_from_units(price, false),
        decimal_from_units(size, false),
    )
}

fn to_fixed((price, size): (u128, u128)) -> (Price, Size) {
    (Price::from_stored(price), Size::from_stored(size))
}
