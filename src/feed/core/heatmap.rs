//! The liquidity heatmap's history: the resting size near the touch, sampled from the exact
//! book at a fixed interval, per product, into a bounded ring (docs/viewer.md, "Heatmap").
//!
//! Sampling lives here, in the sans-IO core, so that live and replay fill it the same way and
//! the viewer pays nothing for it: time is the frames' receive time, so a replay fills at replay
//! speed and a paused replay freezes it. Every product samples, shown or not, so the history
//! survives switching products.
//!
//! Rules:
//! - Sample times are multiples of the interval (`at_ms % interval_ms == 0`). The first frame at
//!   or after a sample time samples every book as it was before that frame, i.e. as it was at
//!   the sample time. When several sample times passed without a frame, the book did not change
//!   in between: the one column is repeated for each (at most a ring's worth).
//! - A column holds the buckets of `width` price units (the product's tick times its grouping,
//!   the ladder's `+`/`-`) from the best bid down and from the best ask up, `depth` buckets per
//!   side: the rows the pane can draw around the mid plus a margin, never the whole book.
//!   Buckets are `[k * width, (k + 1) * width)` on both sides, so bids and asks share one price
//!   axis.
//! - A column is suspect (drawn hatched) when its book was not live when sampled: after a gap,
//!   a resync or a lost connection until the next snapshot, its sizes are what the book held,
//!   not what the market held. Sample times that passed while the connection was down are
//!   filled when the next frame arrives, from the book as it then is (desynced): suspect too.
//! - Trades received during an interval are kept with the column that closes it.
//! - The ring keeps the newest `capacity` columns (default 30 minutes at 1 s).

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock};

use crate::book::fixed::{POW10, SCALE};
use crate::book::{Book, Side};
use crate::feed::core::FeedCore;
use crate::feed::events::{Aggressor, BookState, TradeRow, ViewRequest};

mod column;
pub use column::column;
use column::fill_column;

/// The default time between two samples.
pub const DEFAULT_INTERVAL_MS: i64 = 1_000;
/// The default history kept per product.
pub const DEFAULT_HISTORY_MS: i64 = 30 * 60 * 1_000;
/// The shortest interval accepted (the pane's finest time per column).
pub const MIN_INTERVAL_MS: i64 = 250;
/// The longest interval accepted.
pub const MAX_INTERVAL_MS: i64 = 60_000;
/// The most columns a ring keeps, whatever the settings (a day at 1 s).
pub const MAX_CAPACITY: usize = 86_400;
/// Buckets kept per side when no pane asked for more: a 60-row pane draws 120 price rows, 60 a
/// side around the mid, and the mid can move away from the touch by a few buckets.
pub const DEFAULT_DEPTH: usize = 80;
/// Buckets kept per side beyond the half the pane draws: the mid moves within a column.
pub const DEPTH_MARGIN: usize = 16;
/// The most buckets per side (a 4,000-row picture).
pub const MAX_DEPTH: usize = 4_096;

/// How the heatmap samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatSettings {
    pub interval_ms: i64,
    /// Columns kept per product.
    pub capacity: usize,
    /// Buckets per side, at least (a pane that needs more asks for more).
    pub depth: usize,
    /// A fixed bucket width for every product, in parts per million of its first mid (rounded
    /// to a multiple of the tick): the picture of a whole recording, whose price range is not
    /// known in advance. `None`: the ladder's grouping.
    pub relative_width_ppm: Option<u32>,
    /// Whether to sample at all: not in headless runs and exports, where nothing reads the
    /// history (sampling is a few percent of a replay's time).
    pub enabled: bool,
}

impl Default for HeatSettings {
    fn default() -> Self {
        HeatSettings::new(DEFAULT_INTERVAL_MS, DEFAULT_HISTORY_MS)
    }
}

/// Reads a duration such as `250ms`, `1s`, `30m`, `1h` or `1h30m`: whole numbers each followed
/// by a unit (`ms`, `s`, `m`, `h`), in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let usage = "use whole numbers with a unit ms, s, m or h, such as 250ms, 1s, 30m or 1h30m";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty: {usage}"));
    }
    let mut total: i64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: {usage}"))?;
        let after = &rest[digits..];
        let (unit_ms, unit_len) = if after.starts_with("ms") {
            (1, 2)
        } else {
            match after.chars().next() {
                Some('s') => (1_000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                _ => return Err(format!("{text:?} is not a duration: {usage}")),
            }
        };
        total = number
            .checked_mul(unit_ms)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        rest = &after[unit_len..];
    }
    Ok(total)
}

impl HeatSettings {
    /// `history_ms` of columns every `interval_ms`, refused (with what is accepted) rather than
    /// clamped: what a user asked for with `--heatmap-interval`/`--heatmap-history`.
    pub fn checked(interval_ms: i64, history_ms: i64) -> Result<HeatSettings, String> {
        if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&interval_ms) {
            return Err(format!(
                "the heatmap's interval must be between {MIN_INTERVAL_MS} ms and {} s, got {interval_ms} ms",
                MAX_INTERVAL_MS / 1_000
            ));
        }
        let columns = history_ms / interval_ms;
        if history_ms < interval_ms || columns > MAX_CAPACITY as i64 {
            return Err(format!(
                "the heatmap's history must hold between 1 and {MAX_CAPACITY} columns of its \
                 interval ({interval_ms} ms), got {history_ms} ms"
            ));
        }
        Ok(HeatSettings::new(interval_ms, history_ms))
    }

    /// No sampling (a headless run, an export).
    pub fn off() -> HeatSettings {
        HeatSettings {
            enabled: false,
            ..HeatSettings::default()
        }
    }

    /// `history_ms` of columns every `interval_ms` (both clamped to what is accepted).
    pub fn new(interval_ms: i64, history_ms: i64) -> HeatSettings {
        let interval_ms = interval_ms.clamp(MIN_INTERVAL_MS, MAX_INTERVAL_MS);
        let columns = (history_ms.max(interval_ms) / interval_ms).max(1);
        HeatSettings {
            interval_ms,
            capacity: usize::try_from(columns)
                .unwrap_or(MAX_CAPACITY)
                .min(MAX_CAPACITY),
            depth: DEFAULT_DEPTH,
            relative_width_ppm: None,
            enabled: true,
        }
    }
}

/// The book of one sample, near the touch. Sizes are in the base currency (`f32`: a colour's
/// worth of precision; the book itself stays exact).
#[derive(Debug, Clone, Default)]
pub struct HeatColumn {
    /// Bucket width in price units (`10^-12`).
    pub width: u128,
    /// Bucket index (`price / width`) of `bids[0]`: the best bid's bucket.
    pub bid_top: u128,
    /// Size per bucket from the best bid's down.
    pub bids: Vec<f32>,
    /// Bucket index of `asks[0]`: the best ask's bucket.
    pub ask_bottom: u128,
    /// Size per bucket from the best ask's up.
    pub asks: Vec<f32>,
    /// Best bid and ask, price units.
    pub best_bid: Option<u128>,
    pub best_ask: Option<u128>,
}

/// Sizes compare by their bits: a column equals its copy.
impl PartialEq for HeatColumn {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &[f32], b: &[f32]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        self.width == other.width
            && self.bid_top == other.bid_top
            && self.ask_bottom == other.ask_bottom
            && self.best_bid == other.best_bid
            && self.best_ask == other.best_ask
            && same(&self.bids, &other.bids)
            && same(&self.asks, &other.asks)
    }
}

impl Eq for HeatColumn {}

impl HeatColumn {
    /// The size resting in bucket `index` as (bids, asks).
    pub fn at(&self, index: u128) -> (f32, f32) {
        let bid = self
            .bid_top
            .checked_sub(index)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.bids.get(i))
            .copied()
            .unwrap_or(0.0);
        let ask = index
            .checked_sub(self.ask_bottom)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.asks.get(i))
            .copied()
            .unwrap_or(0.0);
        (bid, ask)
    }

    /// The lowest and highest price (units) the column holds sizes for.
    pub fn price_span(&self) -> Option<(u128, u128)> {
        let low = if self.bids.is_empty() {
            self.ask_bottom
        } else {
            self.bid_top.saturating_sub(self.bids.len() as u128 - 1)
        };
        let high = if self.asks.is_empty() {
            self.bid_top
        } else {
            self.ask_bottom + self.asks.len() as u128 - 1
        };
        (!self.bids.is_empty() || !self.asks.is_empty())
            .then(|| (low * self.width, (high + 1) * self.width))
    }
}

/// A trade as the heatmap marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatTrade {
    /// Price units.
    pub price: u128,
    /// Size in the base currency, as `f32` bits (for `Eq`); see [`HeatTrade::size`].
    size_bits: u32,
    pub aggressor: Aggressor,
}

impl HeatTrade {
    pub fn new(price: u128, size: f32, aggressor: Aggressor) -> HeatTrade {
        HeatTrade {
            price,
            size_bits: size.to_bits(),
            aggressor,
        }
    }

    pub fn of(row: &TradeRow) -> Option<HeatTrade> {
        let price = crate::book::Price::from_decimal(row.price).ok()?.units();
        let size = f32::try_from(row.size).unwrap_or(0.0);
        Some(HeatTrade::new(price, size, row.aggressor))
    }

    pub fn size(&self) -> f32 {
        f32::from_bits(self.size_bits)
    }
}

/// One column of the history: the book at `at_ms` and the trades of the interval before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatSample {
    /// The sample time (the end of its interval).
    pub at_ms: i64,
    /// Shared by the repeats of one column.
    pub book: Arc<HeatColumn>,
    pub trades: Arc<[HeatTrade]>,
    /// Not exact: see the module docs.
    pub suspect: bool,
}

/// What the viewer gets of the product on screen while the pane is open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeatmapView {
    pub interval_ms: i64,
    /// Oldest first.
    pub samples: Vec<HeatSample>,
}

/// What the pane asks for (in [`ViewRequest::heatmap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeatmapRequest {
    /// Columns of history wanted (the newest).
    pub samples: usize,
    /// Price rows the pane draws (two per terminal row).
    pub rows: usize,
}

/// One product's history.
#[derive(Debug, Clone, Default)]
pub struct HeatRing {
    samples: VecDeque<HeatSample>,
    /// Trades since the last sample.
    pending: Vec<HeatTrade>,
    /// The grouping the product is sampled at, in ticks; None: the default's.
    group_ticks: Option<u32>,
    /// Under [`HeatSettings::relative_width_ppm`]: the width fixed at the first sample.
    fixed_width: Option<u128>,
    /// The book's update count, width and depth at the last sample: the same again means the
    /// same column (a quiet product costs a comparison).
    last: Option<(u64, u128, usize)>,
}

impl HeatRing {
    pub fn samples(&self) -> &VecDeque<HeatSample> {
        &self.samples
    }

    pub fn add_trade(&mut self, trade: HeatTrade) {
        // Bounded by the trades of one interval; a flood is cut rather than kept unbounded.
        if self.pending.len() < MAX_TRADES_PER_SAMPLE {
            self.pending.push(trade);
        }
    }

    /// Samples `book` for `count` sample times from `first_at_ms`, `interval_ms` apart.
    pub fn sample(
        &mut self,
        (book, state, updates): (&Book, BookState, u64),
        settings: &HeatSettings,
        default_group: u32,
        (first_at_ms, count): (i64, usize),
    ) {
        let width = self.width(book, settings, default_group);
        let key = (updates, width, settings.depth);
        let column = match self.samples.back() {
            Some(last) if self.last == Some(key) => Arc::clone(&last.book),
            _ => {
                let mut column = self.recycled(settings.capacity);
                match Arc::get_mut(&mut column) {
                    Some(reused) => fill_column(reused, book, width, settings.depth),
                    None => column = Arc::new(self::column(book, width, settings.depth)),
                }
                column
            }
        };
        self.last = Some(key);
        let trades = if self.pending.is_empty() {
            no_trades()
        } else {
            let trades = Arc::from(self.pending.as_slice());
            self.pending.clear();
            trades
        };
        let suspect = state != BookState::Live;
        let count = count.min(settings.capacity).max(1);
        for k in 0..count {
            let sample = HeatSample {
                at_ms: first_at_ms.saturating_add((k as i64).saturating_mul(settings.interval_ms)),
                book: Arc::clone(&column),
                trades: if k == 0 {
                    Arc::clone(&trades)
                } else {
                    no_trades()
                },
                suspect,
            };
            if self.samples.len() >= settings.capacity {
                self.samples.pop_front();
            }
            self.samples.push_back(sample);
        }
    }

    /// When the ring is full, the oldest sample is about to be pushed out: its column, to be
    /// filled anew when nothing else holds it (no repeat of it left in the ring, no view of it
    /// in the viewer), saves allocating one per sample. Else an empty one to replace.
    fn recycled(&mut self, capacity: usize) -> Arc<HeatColumn> {
        if self.samples.len() >= capacity.max(1)
            && let Some(oldest) = self.samples.pop_front()
        {
            return oldest.book;
        }
        Arc::new(HeatColumn::default())
    }

    fn width(&mut self, book: &Book, settings: &HeatSettings, default_group: u32) -> u128 {
        let tick = tick_units(book);
        if let Some(ppm) = settings.relative_width_ppm {
            if let Some(width) = self.fixed_width {
                return width;
            }
            let Some(mid) = mid_units(book) else {
                return tick;
            };
            let width = nice_width(mid / 1_000_000 * u128::from(ppm), tick);
            self.fixed_width = Some(width);
            return width;
        }
        tick * u128::from(self.group_ticks.unwrap_or(default_group).max(1))
    }

    /// The newest `n` samples.
    pub fn view(&self, n: usize, interval_ms: i64) -> HeatmapView {
        let skip = self.samples.len().saturating_sub(n);
        HeatmapView {
            interval_ms,
            samples: self.samples.iter().skip(skip).cloned().collect(),
        }
    }

    /// Approximate bytes held (for the memory figure).
    pub fn heap_bytes(&self) -> usize {
        let mut seen: Option<*const HeatColumn> = None;
        let mut bytes = self.samples.capacity() * std::mem::size_of::<HeatSample>();
        for s in &self.samples {
            let ptr = Arc::as_ptr(&s.book);
            if seen != Some(ptr) {
                bytes += std::mem::size_of::<HeatColumn>()
                    + (s.book.bids.capacity() + s.book.asks.capacity()) * 4
                    + 16;
                seen = Some(ptr);
            }
            bytes += s.trades.len() * std::mem::size_of::<HeatTrade>() + 16;
        }
        bytes
    }
}

/// Trades kept per sample at most.
const MAX_TRADES_PER_SAMPLE: usize = 4_096;

/// The product's tick in price units.
fn tick_units(book: &Book) -> u128 {
    let scale = book.tick().scale().min(SCALE);
    POW10
        .get((SCALE - scale) as usize)
        .map_or(1, |&p| u128::from(p))
}

fn mid_units(book: &Book) -> Option<u128> {
    let bid = book.best_level(Side::Bid)?.0.units();
    let ask = book.best_level(Side::Ask)?.0.units();
    Some((bid + ask) / 2)
}

/// `target` rounded to a 1-2-5 multiple of `tick` (at least one tick).
pub fn nice_width(target: u128, tick: u128) -> u128 {
    let ticks = (target / tick.max(1)).max(1);
    let mut decade: u128 = 1;
    loop {
        for step in [1, 2, 5] {
            if step * decade >= ticks {
                return step * decade * tick.max(1);
            }
        }
        decade *= 10;
    }
}

/// The trades of an interval without any: one list shared by all, not an allocation a sample.
fn no_trades() -> Arc<[HeatTrade]> {
    static NONE: LazyLock<Arc<[HeatTrade]>> = LazyLock::new(|| Arc::from(Vec::new()));
    Arc::clone(&NONE)
}

/// The core's sampling clock and settings (one per core: every product samples at once).
#[derive(Debug, Clone, Default)]
pub struct HeatClock {
    pub settings: HeatSettings,
    /// The next sample time, and the time before which a frame's time counts as having gone
    /// back (a ring's worth before it); None before the first frame.
    next: Option<(i64, i64)>,
    /// The grouping of products the viewer has not shown (the last grouping it asked for).
    default_group: u32,
}

impl HeatClock {
    /// The next sample time is `due`: a frame more than a ring's worth before it went back.
    fn set_next(&mut self, due: i64) {
        let ring = (self.settings.capacity as i64).saturating_mul(self.settings.interval_ms);
        self.next = Some((due, due.saturating_sub(ring)));
    }
}

impl FeedCore {
    /// Called with every frame's receive time, before the frame is applied: two comparisons
    /// unless a sample is due.
    #[inline]
    pub(super) fn heat_clock(&mut self, now_ms: i64) {
        if !self.heat.settings.enabled {
            return;
        }
        match self.heat.next {
            Some((due, back)) if now_ms < due && now_ms >= back => {}
            Some((due, _)) if now_ms >= due => self.sample_heat(due, now_ms),
            // The first frame, or time went back by more than the ring (a recording's corrupt
            // time, two runs in one file): sample times start afresh from here.
            _ => {
                let interval = self.heat.settings.interval_ms.max(1);
                let next = now_ms.div_euclid(interval).saturating_add(1);
                self.heat.set_next(next.saturating_mul(interval));
            }
        }
    }

    #[cold]
    fn sample_heat(&mut self, due: i64, now_ms: i64) {
        let settings = self.heat.settings;
        let interval = settings.interval_ms.max(1);
        let passed = (now_ms.saturating_sub(due) / interval).saturating_add(1);
        let kept = usize::try_from(passed)
            .unwrap_or(usize::MAX)
            .min(settings.capacity)
            .max(1);
        // Sample times older than a ring's worth would be pushed out at once.
        let first = due.saturating_add((passed - kept as i64).saturating_mul(interval));
        let group = self.heat.default_group.max(1);
        for p in &mut self.books {
            p.heat.sample(
                (&p.book, p.state, p.updates),
                &settings,
                group,
                (first, kept),
            );
        }
        self.heat
            .set_next(due.saturating_add(passed.saturating_mul(interval)));
    }

    /// How the heatmap samples from now on (the ring's columns so far are kept, up to the new
    /// capacity).
    pub fn set_heatmap(&mut self, settings: HeatSettings) {
        self.heat.settings = settings;
        // Sample times are multiples of the interval: the next one is found afresh.
        self.heat.next = None;
        for p in &mut self.books {
            while p.heat.samples.len() > settings.capacity {
                p.heat.samples.pop_front();
            }
        }
    }

    pub fn heatmap_settings(&self) -> &HeatSettings {
        &self.heat.settings
    }

    /// The viewer's request: the product on screen samples at its grouping, the others at the
    /// same one until they are shown with their own; an open pane that draws more rows than the
    /// ring keeps asks for more.
    pub fn heat_follow(&mut self, request: &ViewRequest) {
        let group = request.group_ticks.max(1);
        self.heat.default_group = group;
        if let Some(shown) = &request.rows_for
            && let Some(&i) = self.index.get(shown)
        {
            self.books[i].heat.group_ticks = Some(group);
        }
        if let Some(pane) = request.heatmap {
            let wanted = (pane.rows / 2 + DEPTH_MARGIN).min(MAX_DEPTH);
            self.heat.settings.depth = self.heat.settings.depth.max(wanted);
        }
    }

    /// The heatmap view of `name`'s ring, when the pane asks for it.
    pub(super) fn heat_view(&self, name: &str, request: &ViewRequest) -> Option<HeatmapView> {
        let pane = request.heatmap?;
        if request
            .rows_for
            .as_deref()
            .is_some_and(|shown| shown != name)
        {
            return None;
        }
        let &i = self.index.get(name)?;
        Some(
            self.books[i]
                .heat
                .view(pane.samples, self.heat.settings.interval_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Price, Size};
    use crate::feed::core::test_frames::*;

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
    fn a_recycled_column_is_the_column_built_afresh_and_a_held_one_is_left_alone() {
        let settings = HeatSettings {
            capacity: 3,
            depth: 8,
            ..HeatSettings::default()
        };
        let mut ring = HeatRing::default();
        let mut b = book(&[(Side::Bid, "100.00", "1"), (Side::Ask, "100.01", "1")]);
        let mut held = None;
        for step in 0..12u32 {
            // Each step a different shape: more or fewer buckets a side, so a recycled side is
            // sometimes longer and sometimes shorter than the new one.
            let far = format!("{}.{:02}", 99 - step % 3, 50 + step);
            b.apply_level(
                Side::Bid,
                Price::parse(&far).unwrap(),
                Size::parse("2").unwrap(),
            )
            .unwrap();
            let ask = format!("100.{:02}", 2 + (step * 5) % 7);
            let size = if step % 2 == 0 { "3" } else { "0" };
            b.apply_level(
                Side::Ask,
                Price::parse(&ask).unwrap(),
                Size::parse(size).unwrap(),
            )
            .unwrap();
            ring.sample(
                (&b, BookState::Live, u64::from(step)),
                &settings,
                1,
                (i64::from(step) * 1_000, 1),
            );
            let newest = ring.samples().back().unwrap();
            assert_eq!(*newest.book, column(&b, CENT, 8), "step {step}");
            if step == 4 {
                // The viewer holds a column: the ring must not write over it when it leaves.
                held = Some((Arc::clone(&newest.book), column(&b, CENT, 8)));
            }
            assert!(ring.samples().len() <= 3);
        }
        let (held, then) = held.unwrap();
        assert_eq!(*held, then);
    }

    #[test]
    fn the_ring_is_bounded_and_samples_on_the_interval() {
        let mut c = core();
        c.set_heatmap(HeatSettings {
            capacity: 5,
            ..HeatSettings::new(1_000, 5_000)
        });
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            1_500,
        );
        assert!(c.product("BTC-USD").unwrap().heat.samples().is_empty());
        c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "100", "3")]), 2_000);
        let ring = &c.product("BTC-USD").unwrap().heat;
        assert_eq!(ring.samples().len(), 1);
        // Sampled before the frame at 2,000: the size was still 1.
        assert_eq!(ring.samples()[0].at_ms, 2_000);
        assert_eq!(ring.samples()[0].book.at(100), (1.0, 0.0));
        assert!(!ring.samples()[0].suspect);
        // Three sample times without a frame: the column is repeated for each.
        c.on_frame(&l2(2, "update", "BTC-USD", &[("bid", "100", "4")]), 5_100);
        let ring = &c.product("BTC-USD").unwrap().heat;
        let times: Vec<i64> = ring.samples().iter().map(|s| s.at_ms).collect();
        assert_eq!(times, [2_000, 3_000, 4_000, 5_000]);
        assert!(
            ring.samples()
                .iter()
                .skip(1)
                .all(|s| s.book.at(100).0 == 3.0)
        );
        // An hour later: only the ring's worth, the newest.
        c.on_frame(
            &l2(3, "update", "BTC-USD", &[("bid", "100", "5")]),
            3_605_000,
        );
        let ring = &c.product("BTC-USD").unwrap().heat;
        let times: Vec<i64> = ring.samples().iter().map(|s| s.at_ms).collect();
        assert_eq!(
            times,
            [3_601_000, 3_602_000, 3_603_000, 3_604_000, 3_605_000]
        );
        // A product with no book yet samples too: suspect (not live), empty.
        let eth = &c.product("ETH-USD").unwrap().heat;
        assert_eq!(eth.samples().len(), 5);
        assert!(
            eth.samples()
                .iter()
                .all(|s| s.suspect && s.book.bids.is_empty())
        );
    }

    #[test]
    fn a_core_told_not_to_sample_keeps_no_history() {
        let mut c = core();
        c.set_heatmap(HeatSettings::off());
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            1_500,
        );
        for (seq, t) in [(1, 2_000), (2, 5_100), (3, 60_000)] {
            c.on_frame(&l2(seq, "update", "BTC-USD", &[("bid", "100", "3")]), t);
        }
        assert!(c.product("BTC-USD").unwrap().heat.samples().is_empty());
        assert!(c.product("ETH-USD").unwrap().heat.samples().is_empty());
    }

    #[test]
    fn extreme_and_backward_times_neither_overflow_nor_stop_the_sampling() {
        let mut c = core();
        for t in [i64::MAX, i64::MIN, 0, i64::MAX - 1, -5] {
            c.on_frame(r#"{"channel":"heartbeats","sequence_num":1}"#, t);
        }
        // A corrupt time far ahead, then the real ones again: sampling goes on.
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            1_000,
        );
        c.on_frame(
            r#"{"channel":"heartbeats","sequence_num":1}"#,
            9_000_000_000_000,
        );
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":2}"#, 2_000);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":3}"#, 3_500);
        let ring = &c.product("BTC-USD").unwrap().heat;
        assert_eq!(ring.samples().back().unwrap().at_ms, 3_000);
    }

    #[test]
    fn columns_after_a_gap_are_suspect_until_the_next_snapshot() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            500,
        );
        c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "99", "1")]), 1_000);
        // A gap at 1,500: the column sampled at 2,000 covers it.
        c.on_frame(&l2(5, "update", "BTC-USD", &[("bid", "98", "1")]), 1_500);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":6}"#, 2_000);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":7}"#, 3_000);
        c.on_frame(
            &l2(
                8,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            3_500,
        );
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":9}"#, 4_000);
        let ring = &c.product("BTC-USD").unwrap().heat;
        let suspect: Vec<(i64, bool)> = ring
            .samples()
            .iter()
            .map(|s| (s.at_ms, s.suspect))
            .collect();
        assert_eq!(
            suspect,
            [(1_000, false), (2_000, true), (3_000, true), (4_000, false)]
        );
    }

    #[test]
    fn trades_go_with_the_column_that_closes_their_interval() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            500,
        );
        let trades = r#"{"channel":"market_trades","sequence_num":1,"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"BTC-USD","price":"101","size":"0.5","side":"SELL","time":"2024-01-01T00:00:00.6Z"}]}]}"#;
        c.on_frame(trades, 600);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":2}"#, 1_000);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":3}"#, 2_000);
        let ring = &c.product("BTC-USD").unwrap().heat;
        assert_eq!(ring.samples()[0].trades.len(), 1);
        let t = ring.samples()[0].trades[0];
        assert_eq!(
            (t.price, t.size(), t.aggressor),
            (101 * 1_000_000_000_000, 0.5, Aggressor::Buy)
        );
        assert!(ring.samples()[1].trades.is_empty());
    }

    #[test]
    fn the_view_ships_the_shown_products_newest_samples_only_when_asked() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            500,
        );
        for (i, t) in (1..=4).zip([1_000, 2_000, 3_000, 4_000]) {
            c.on_frame(
                &format!(r#"{{"channel":"heartbeats","sequence_num":{i}}}"#),
                t,
            );
        }
        let mut request = ViewRequest {
            rows_for: Some("BTC-USD".into()),
            ..ViewRequest::default()
        };
        assert!(c.view(&request, 5).products[0].market.heatmap.is_none());
        request.heatmap = Some(HeatmapRequest {
            samples: 2,
            rows: 40,
        });
        let view = c.view(&request, 5);
        let heat = view.products[0].market.heatmap.as_ref().unwrap();
        assert_eq!(
            heat.samples.iter().map(|s| s.at_ms).collect::<Vec<_>>(),
            [3_000, 4_000]
        );
        assert!(view.products[1].market.heatmap.is_none(), "not on screen");
        // A taller pane asks for deeper columns; the grouping follows the ladder's.
        request.heatmap = Some(HeatmapRequest {
            samples: 2,
            rows: 400,
        });
        request.group_ticks = 5;
        c.heat_follow(&request);
        assert_eq!(c.heatmap_settings().depth, 200 + DEPTH_MARGIN);
        c.on_frame(r#"{"channel":"heartbeats","sequence_num":5}"#, 5_000);
        let ring = &c.product("BTC-USD").unwrap().heat;
        assert_eq!(
            ring.samples().back().unwrap().book.width,
            5 * 1_000_000_000_000
        );
    }

    #[test]
    fn a_relative_width_is_fixed_at_the_first_mid() {
        let b = book(&[(Side::Bid, "64999.99", "1"), (Side::Ask, "65000.01", "1")]);
        let mut ring = HeatRing::default();
        let settings = HeatSettings {
            relative_width_ppm: Some(10),
            ..HeatSettings::default()
        };
        ring.sample((&b, BookState::Live, 1), &settings, 1, (1_000, 1));
        // 10 ppm of 65,000 is 0.65: rounded up to a 1-2-5 number of cents, 1.00.
        assert_eq!(ring.samples()[0].book.width, 100 * CENT);
        assert_eq!(nice_width(3 * CENT, CENT), 5 * CENT);
        assert_eq!(nice_width(0, CENT), CENT);
    }
}
