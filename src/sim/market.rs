//! The simulated market of one product: an exact order book seeded from the seed (or a real book
//! file) and a generator of realistic level-2 changes.
//!
//! Every generated step changes exactly one level, the way one `l2_data` update does: a size change,
//! a new level, a removed level, the touch improving inside the spread, or a trade eating into the
//! touch. Steps concentrate near the touch, keep the number of levels near where it started, drift
//! around the starting price with mild mean reversion, and never cross the book. The same seed
//! gives the same sequence of changes; only how they are batched into frames depends on time.

use std::collections::{BTreeMap, VecDeque};

use super::rng::SimRng;
use rand::Rng;

use super::book_file::LoadedBook;
use super::clock::UnixNanos;

/// A side of the book. On the wire a bid is `"bid"` and an ask is `"offer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

impl Side {
    /// The `side` text of an `l2_data` update.
    pub fn wire(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "offer",
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }
}

/// A product's identity and increments: prices are integers of `10^-price_scale` (the quote
/// increment, i.e. the tick), sizes integers of `10^-size_scale` (the base increment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    pub id: String,
    pub price_scale: u32,
    pub size_scale: u32,
}

/// One level change: `size` is the new absolute size; 0 removes the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub side: Side,
    pub price: u64,
    pub size: u64,
}

/// A trade against a resting order at the touch. `maker` is the resting order's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    pub trade_id: u64,
    pub price: u64,
    pub size: u64,
    pub maker: Side,
    pub time: UnixNanos,
}

/// The exact book: price units to size units, per side.
#[derive(Debug, Clone, Default)]
pub struct Levels {
    pub bids: BTreeMap<u64, u64>,
    pub asks: BTreeMap<u64, u64>,
}

impl Levels {
    fn side(&self, side: Side) -> &BTreeMap<u64, u64> {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<u64, u64> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// The best (highest) bid.
    pub fn best_bid(&self) -> Option<(u64, u64)> {
        self.bids.iter().next_back().map(|(p, s)| (*p, *s))
    }

    /// The best (lowest) ask.
    pub fn best_ask(&self) -> Option<(u64, u64)> {
        self.asks.iter().next().map(|(p, s)| (*p, *s))
    }

    fn best(&self, side: Side) -> Option<(u64, u64)> {
        match side {
            Side::Bid => self.best_bid(),
            Side::Ask => self.best_ask(),
        }
    }

    /// Best bid at or above best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some((b, _)), Some((a, _))) if b >= a)
    }

    /// The level `depth` places away from the touch (0 = the best).
    fn nth(&self, side: Side, depth: usize) -> Option<(u64, u64)> {
        match side {
            Side::Bid => self.bids.iter().rev().nth(depth),
            Side::Ask => self.asks.iter().nth(depth),
        }
        .map(|(p, s)| (*p, *s))
    }

    /// The level furthest from the touch.
    fn last(&self, side: Side) -> Option<u64> {
        match side {
            Side::Bid => self.bids.keys().next().copied(),
            Side::Ask => self.asks.keys().next_back().copied(),
        }
    }

    fn set(&mut self, change: Change) {
        let map = self.side_mut(change.side);
        if change.size == 0 {
            map.remove(&change.price);
        } else {
            map.insert(change.price, change.size);
        }
    }

    /// Bids best first, then asks best first.
    pub fn iter_best_first(&self) -> impl Iterator<Item = (Side, u64, u64)> + '_ {
        self.bids
            .iter()
            .rev()
            .map(|(p, s)| (Side::Bid, *p, *s))
            .chain(self.asks.iter().map(|(p, s)| (Side::Ask, *p, *s)))
    }
}

/// The 24-hour and 52-week figures the `ticker` channel prints, kept in price and size units.
#[derive(Debug, Clone)]
pub struct TickerStats {
    pub open_24h: u64,
    pub low_24h: u64,
    pub high_24h: u64,
    pub low_52w: u64,
    pub high_52w: u64,
    pub volume_24h: u64,
    pub last_price: u64,
}

/// The current five-minute candle of the `candles` channel.
#[derive(Debug, Clone, Copy)]
pub struct Candle {
    /// Unix seconds of the candle's start (a multiple of 300).
    pub start: i64,
    pub open: u64,
    pub high: u64,
    pub low: u64,
    pub close: u64,
    pub volume: u64,
}

/// How the generator behaves for one product, derived from the starting book.
#[derive(Debug, Clone)]
struct Model {
    /// The price the market drifts around (mean reversion).
    anchor: u64,
    /// Typical distance between neighbouring levels near the touch, in ticks.
    gap_ticks: f64,
    /// Log-normal size distribution: ln of the median size in units, and its sigma.
    size_mu: f64,
    size_sigma: f64,
    /// The smallest size a new or resized level gets (about $1 of a synthetic product, like the
    /// exchange's minimum order), in units.
    min_size: u64,
    /// The number of levels each side started with; the generator keeps close to it.
    target_bids: usize,
    target_asks: usize,
}

/// A side never shrinks below this many levels.
const MIN_LEVELS: usize = 10;
/// Recent trades kept for the `market_trades` snapshot.
const RECENT_TRADES: usize = 100;

/// One product's market.
#[derive(Debug)]
pub struct Market {
    pub spec: ProductSpec,
    pub levels: Levels,
    /// Level changes applied since the market was created (the dump's `sequence_num`).
    pub version: u64,
    pub stats: TickerStats,
    pub candle: Option<Candle>,
    recent_trades: VecDeque<Trade>,
    pending_trades: Vec<Trade>,
    next_trade_id: u64,
    model: Model,
    rng: SimRng,
}

/// FNV-1a, a stable hash so that a product's seed does not depend on the Rust version.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Approximate USD prices of well-known assets, so that default products look familiar.
fn usd_price(asset: &str) -> Option<f64> {
    Some(match asset {
        "USD" | "USDC" | "USDT" | "DAI" | "PYUSD" => 1.0,
        "EUR" => 1.08,
        "GBP" => 1.27,
        "BTC" => 64_930.0,
        "ETH" => 2_668.35,
        "SOL" => 151.2,
        "LTC" => 84.7,
        "BCH" => 371.0,
        "AVAX" => 27.3,
        "LINK" => 13.8,
        "DOT" => 5.9,
        "ADA" => 0.452,
        "XRP" => 0.5873,
        "DOGE" => 0.1234,
        "SHIB" => 0.0000178,
        "MATIC" | "POL" => 0.52,
        "UNI" => 7.4,
        "ATOM" => 6.3,
        _ => return None,
    })
}

/// A product with no book file: its starting price and increments, and the USD value of one unit
/// of its base currency (which sets realistic order sizes in base-currency terms).
#[derive(Debug, Clone, Copy, PartialEq)]
struct SyntheticProfile {
    price: f64,
    price_scale: u32,
    size_scale: u32,
    base_usd: f64,
}

/// As real-looking as we can make it: known assets at familiar prices; others at a price derived
/// from the name.
fn synthetic_profile(product: &str) -> SyntheticProfile {
    let (base, quote) = product.split_once('-').unwrap_or((product, "USD"));
    let h = stable_hash(product);
    let base_usd = usd_price(base).unwrap_or_else(|| {
        // 0.01 .. 1000, log-uniform, fixed per name.
        let exp = (h % 500) as f64 / 100.0 - 2.0;
        10f64.powf(exp)
    });
    let quote_usd = usd_price(quote).unwrap_or(1.0);
    let price = base_usd / quote_usd;
    // About six significant digits of price: BTC-USD 0.01, ETH-USD 0.01, DOGE-USD 0.00001.
    let magnitude = price.log10().floor() as i32;
    let price_scale = (4 - magnitude).clamp(2, 10) as u32;
    // The base increment follows the base currency, whatever the quote: 8 decimals for BTC and
    // ETH (ETH-BTC too), 0.1 DOGE, whole SHIB.
    let size_scale = if base_usd >= 1.0 {
        8
    } else if base_usd >= 0.01 {
        1
    } else {
        0
    };
    SyntheticProfile {
        price,
        price_scale,
        size_scale,
        base_usd,
    }
}

/// A standard normal sample (Box-Muller).
fn normal(rng: &mut SimRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Sizes are cut at this many times the median (before `scale`), so no level holds an
/// implausible amount (a BTC-USD level near the touch at most about 5 BTC).
const MAX_SIZE_OVER_MEDIAN: f64 = 150.0;

/// A size from the model's log-normal distribution, `scale` times larger; sometimes rounded.
fn sample_size(model: &Model, rng: &mut SimRng, scale: f64) -> u64 {
    let median = model.size_mu.exp();
    let x = ((model.size_mu + model.size_sigma * normal(rng)).exp())
        .min(median * MAX_SIZE_OVER_MEDIAN)
        * scale;
    let mut units = x.clamp(1.0, 1e17) as u64;
    // Round sizes are common: keep two significant digits now and then.
    if rng.gen_bool(0.3) && units >= 100 {
        let unit = 10u64.pow(units.ilog10() - 1);
        units = (units / unit) * unit;
    }
    units.max(model.min_size)
}

/// A geometric sample with the given mean (0, 1, 2, ...).
fn geometric(rng: &mut SimRng, mean: f64) -> u64 {
    let p = 1.0 / (1.0 + mean.max(0.0));
    if p >= 1.0 {
        return 0;
    }
    let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    (u.ln() / (1.0 - p).ln()).floor().min(1e15) as u64
}

impl Market {
    /// A product with no book file: thousands of levels per side around a plausible price.
    pub fn synthetic(product: &str, seed: u64, levels_per_side: usize) -> Market {
        let mut rng = SimRng::new(seed ^ stable_hash(product));
        let SyntheticProfile {
            price,
            price_scale,
            size_scale,
            base_usd,
        } = synthetic_profile(product);
        let spec = ProductSpec {
            id: product.to_string(),
            price_scale,
            size_scale,
        };
        let tick = 10f64.powi(-(price_scale as i32));
        let anchor = ((price / tick).round() as u64).max(1000);
        // Near-touch gap chosen so that the book spans about 20% of the price on each side.
        let n = levels_per_side.max(MIN_LEVELS);
        let weight = |i: usize| (1.0 + i as f64 / 50.0).powf(1.3);
        let span_per_weight = 0.2 * anchor as f64 / (0..n).map(weight).sum::<f64>();
        let gap_ticks = span_per_weight.max(1.0);
        // Sizes in base-currency terms: a median order of about $2,000 worth of the base
        // currency, log-normal, none under about $1.
        let units_per_usd = 10f64.powi(size_scale as i32) / base_usd.max(1e-12);
        let median_units = (2_000.0 * units_per_usd).max(1.0);
        let model = Model {
            anchor,
            gap_ticks,
            size_mu: median_units.ln(),
            size_sigma: 1.5,
            min_size: (units_per_usd.round() as u64).max(1),
            target_bids: n,
            target_asks: n,
        };
        let mut market = Market::with_levels(spec, Levels::default(), model, rng.clone());
        let best_bid = anchor;
        let best_ask = anchor + 1 + geometric(&mut rng, 2.0 * gap_ticks);
        for (side, start) in [(Side::Bid, best_bid), (Side::Ask, best_ask)] {
            let mut price = start;
            for i in 0..n {
                let size = sample_size(&market.model, &mut rng, 1.0 + i as f64 / 200.0);
                market.levels.set(Change { side, price, size });
                let mean_gap = (span_per_weight * weight(i)).max(1.0);
                let step = 1 + geometric(&mut rng, mean_gap - 1.0);
                price = match side {
                    Side::Bid => match price.checked_sub(step) {
                        Some(p) if p > anchor / 10 => p,
                        _ => break,
                    },
                    Side::Ask => match price.checked_add(step) {
                        Some(p) if p < anchor.saturating_mul(2) => p,
                        _ => break,
                    },
                };
            }
        }
        market.model.target_bids = market.levels.bids.len();
        market.model.target_asks = market.levels.asks.len();
        market.rng = rng;
        market.stats = TickerStats::starting_at(anchor, median_units as u64);
        market
    }

    /// A product seeded from a real book; the generator takes its gaps and sizes from it.
    pub fn from_book(book: &LoadedBook, seed: u64) -> Market {
        let rng = SimRng::new(seed ^ stable_hash(&book.product));
        let spec = ProductSpec {
            id: book.product.clone(),
            price_scale: book.price_scale,
            size_scale: book.size_scale,
        };
        let levels = book.levels.clone();
        let near_gaps = |prices: Vec<u64>| -> Vec<u64> {
            prices.windows(2).map(|w| w[0].abs_diff(w[1])).collect()
        };
        let top = 100;
        let mut gaps = near_gaps(levels.bids.keys().rev().take(top).copied().collect());
        gaps.extend(near_gaps(levels.asks.keys().take(top).copied().collect()));
        gaps.sort_unstable();
        let gap_ticks = gaps.get(gaps.len() / 2).copied().unwrap_or(1).max(1) as f64;
        let mut sizes: Vec<u64> = levels
            .bids
            .values()
            .rev()
            .take(top)
            .chain(levels.asks.values().take(top))
            .copied()
            .collect();
        sizes.sort_unstable();
        let median = sizes.get(sizes.len() / 2).copied().unwrap_or(1).max(1);
        let anchor = match (levels.best_bid(), levels.best_ask()) {
            (Some((b, _)), Some((a, _))) => b / 2 + a / 2,
            (Some((b, _)), None) => b,
            (None, Some((a, _))) => a,
            (None, None) => 1,
        };
        let model = Model {
            anchor,
            gap_ticks,
            size_mu: (median as f64).ln(),
            size_sigma: 1.5,
            min_size: 1,
            target_bids: levels.bids.len().max(MIN_LEVELS),
            target_asks: levels.asks.len().max(MIN_LEVELS),
        };
        let mut market = Market::with_levels(spec, levels, model, rng);
        market.stats = TickerStats::starting_at(anchor, median);
        market
    }

    fn with_levels(spec: ProductSpec, levels: Levels, model: Model, rng: SimRng) -> Market {
        let anchor = model.anchor;
        Market {
            spec,
            levels,
            version: 0,
            stats: TickerStats::starting_at(anchor, 1),
            candle: None,
            recent_trades: VecDeque::with_capacity(RECENT_TRADES),
            pending_trades: Vec::new(),
            next_trade_id: 100_000_000 + anchor % 1_000_000,
            model,
            rng,
        }
    }

    /// Generates and applies `n` changes, appending them to `out`.
    pub fn generate(&mut self, n: usize, now: UnixNanos, out: &mut Vec<Change>) {
        for _ in 0..n {
            let change = self.next_change(now);
            self.levels.set(change);
            self.version += 1;
            out.push(change);
        }
    }

    /// Trades made since the last call, oldest first. They count as published from now on: the
    /// `market_trades` snapshot holds published trades only, so a subscriber gets each trade
    /// exactly once, either in its snapshot or in a later update.
    pub fn take_trades(&mut self) -> Vec<Trade> {
        let trades = std::mem::take(&mut self.pending_trades);
        for trade in &trades {
            if self.recent_trades.len() == RECENT_TRADES {
                self.recent_trades.pop_front();
            }
            self.recent_trades.push_back(*trade);
        }
        trades
    }

    /// Trades made since the last [`Market::take_trades`], oldest first (not yet published).
    pub fn pending_trades(&self) -> &[Trade] {
        &self.pending_trades
    }

    /// Records a trade that fills a user's resting order at its limit price (docs/sim.md, "Your
    /// orders"): it reaches `market_trades` and the ticker like the market's own trades. The
    /// book is left as it is (the order was never in it).
    pub fn record_fill(&mut self, price: u64, size: u64, maker: Side, now: UnixNanos) {
        self.record_trade(Trade {
            trade_id: self.next_trade_id,
            price,
            size,
            maker,
            time: now,
        });
    }

    /// The last published trades, newest first (the `market_trades` snapshot).
    pub fn recent_trades(&self) -> impl Iterator<Item = &Trade> {
        self.recent_trades.iter().rev()
    }

    /// The id of the newest published trade (0 before the first): every trade published later
    /// has a larger id.
    pub fn last_published_trade_id(&self) -> u64 {
        self.recent_trades.back().map_or(0, |t| t.trade_id)
    }

    fn target(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.model.target_bids,
            Side::Ask => self.model.target_asks,
        }
    }

    /// The next change; it is not applied yet.
    fn next_change(&mut self, now: UnixNanos) -> Change {
        let side = if self.rng.gen_bool(0.5) {
            Side::Bid
        } else {
            Side::Ask
        };
        let len = self.levels.side(side).len();
        if len < MIN_LEVELS {
            if let Some(c) = self.add_far(side) {
                return c;
            }
        }
        let target = self.target(side) as f64;
        let r: f64 = self.rng.r#gen();
        let mut op = match r {
            r if r < 0.50 => Op::Resize,
            r if r < 0.66 => Op::Delete,
            r if r < 0.84 => Op::Add,
            r if r < 0.92 => Op::Improve,
            _ => Op::Trade,
        };
        // Keep the number of levels near where it started.
        if op == Op::Delete && (len as f64) < 0.9 * target {
            op = Op::Add;
        } else if op == Op::Add && (len as f64) > 1.1 * target {
            op = Op::Delete;
        }
        let change = match op {
            Op::Resize => None,
            Op::Delete => self.delete(side),
            Op::Add => self.add_in_gap(side),
            Op::Improve => self.improve(),
            Op::Trade => self.trade(now),
        };
        change
            .or_else(|| self.resize(side))
            .or_else(|| self.resize(side.other()))
            .or_else(|| self.add_far(side))
            .unwrap_or(Change {
                side,
                price: self.model.anchor,
                size: 0,
            })
    }

    /// How far from the touch a change lands: mostly within a few levels, sometimes deeper.
    fn pick_depth(&mut self, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let d = if self.rng.gen_bool(0.85) {
            geometric(&mut self.rng, 5.0) as usize
        } else {
            self.rng.gen_range(0..len.min(400))
        };
        d.min(len - 1)
    }

    fn sample_size(&mut self) -> u64 {
        sample_size(&self.model, &mut self.rng, 1.0)
    }

    /// A new size for an existing level.
    fn resize(&mut self, side: Side) -> Option<Change> {
        let len = self.levels.side(side).len();
        let depth = self.pick_depth(len);
        let (price, old) = self.levels.nth(side, depth)?;
        let mut size = if self.rng.gen_bool(0.5) {
            let factor = (0.6 * normal(&mut self.rng)).exp();
            let cap = self.model.size_mu.exp() * MAX_SIZE_OVER_MEDIAN * 20.0;
            ((old as f64) * factor)
                .round()
                .clamp(self.model.min_size as f64, cap.max(1.0)) as u64
        } else {
            self.sample_size()
        };
        if size == old {
            size = old + 1;
        }
        Some(Change { side, price, size })
    }

    fn delete(&mut self, side: Side) -> Option<Change> {
        let len = self.levels.side(side).len();
        if len <= MIN_LEVELS {
            return None;
        }
        let depth = self.pick_depth(len);
        let (price, _) = self.levels.nth(side, depth)?;
        Some(Change {
            side,
            price,
            size: 0,
        })
    }

    /// A new level in the gap behind a level near the touch.
    fn add_in_gap(&mut self, side: Side) -> Option<Change> {
        let len = self.levels.side(side).len();
        let depth = self.pick_depth(len);
        let (near, _) = self.levels.nth(side, depth)?;
        let Some((far, _)) = self.levels.nth(side, depth + 1) else {
            return self.add_far(side);
        };
        let (lo, hi) = (near.min(far), near.max(far));
        if hi - lo < 2 {
            return None;
        }
        let price = self.rng.gen_range(lo + 1..hi);
        let size = self.sample_size();
        Some(Change { side, price, size })
    }

    /// A new level beyond the one furthest from the touch (or the first level of an empty side).
    fn add_far(&mut self, side: Side) -> Option<Change> {
        let step = 1 + geometric(&mut self.rng, 4.0 * self.model.gap_ticks);
        let price = match (self.levels.last(side), side) {
            (Some(last), Side::Bid) => last.checked_sub(step).filter(|p| *p > 0)?,
            (Some(last), Side::Ask) => last.checked_add(step)?,
            (None, _) => {
                let opposite = self.levels.best(side.other()).map(|(p, _)| p);
                match (side, opposite) {
                    (Side::Bid, Some(ask)) => ask.checked_sub(step).filter(|p| *p > 0)?,
                    (Side::Ask, Some(bid)) => bid.checked_add(step)?,
                    (Side::Bid, None) => self.model.anchor,
                    (Side::Ask, None) => self.model.anchor + step,
                }
            }
        };
        let size = self.sample_size();
        Some(Change { side, price, size })
    }

    /// How far the mid has wandered from the anchor, as a probability shift toward coming back.
    fn reversion_bias(&self) -> f64 {
        match (self.levels.best_bid(), self.levels.best_ask()) {
            (Some((b, _)), Some((a, _))) => {
                let mid = (b as f64 + a as f64) / 2.0;
                ((mid / self.model.anchor as f64 - 1.0) * 25.0).clamp(-0.45, 0.45)
            }
            _ => 0.0,
        }
    }

    /// A new best level inside the spread: the touch moves toward the other side.
    fn improve(&mut self) -> Option<Change> {
        let bias = self.reversion_bias();
        let side = if self.rng.gen_bool(0.5 + bias) {
            Side::Ask
        } else {
            Side::Bid
        };
        let (Some((bid, _)), Some((ask, _))) = (self.levels.best_bid(), self.levels.best_ask())
        else {
            return self.add_far(side);
        };
        if ask - bid < 2 {
            return None;
        }
        let room = ask - bid - 2;
        let offset = geometric(&mut self.rng, 1.5).min(room);
        let price = match side {
            Side::Bid => bid + 1 + offset,
            Side::Ask => ask - 1 - offset,
        };
        let size = self.sample_size();
        Some(Change { side, price, size })
    }

    /// A taker eats part or all of the best level on one side.
    fn trade(&mut self, now: UnixNanos) -> Option<Change> {
        let bias = self.reversion_bias();
        let maker = if self.rng.gen_bool(0.5 + bias) {
            Side::Bid
        } else {
            Side::Ask
        };
        let (price, size) = self.levels.best(maker)?;
        let can_empty = self.levels.side(maker).len() > MIN_LEVELS;
        let taken = if (can_empty && self.rng.gen_bool(0.4)) || size == 1 {
            size
        } else {
            let frac: f64 = self.rng.gen_range(0.05..0.95);
            ((size as f64 * frac) as u64).clamp(1, size - 1)
        };
        if taken == size && !can_empty {
            return None;
        }
        self.record_trade(Trade {
            trade_id: self.next_trade_id,
            price,
            size: taken,
            maker,
            time: now,
        });
        Some(Change {
            side: maker,
            price,
            size: size - taken,
        })
    }

    fn record_trade(&mut self, trade: Trade) {
        self.next_trade_id += 1;
        let s = &mut self.stats;
        s.last_price = trade.price;
        s.low_24h = s.low_24h.min(trade.price);
        s.high_24h = s.high_24h.max(trade.price);
        s.low_52w = s.low_52w.min(trade.price);
        s.high_52w = s.high_52w.max(trade.price);
        s.volume_24h = s.volume_24h.saturating_add(trade.size);
        let start = trade.time.secs().div_euclid(300) * 300;
        self.candle = Some(match self.candle {
            Some(mut c) if c.start == start => {
                c.high = c.high.max(trade.price);
                c.low = c.low.min(trade.price);
                c.close = trade.price;
                c.volume = c.volume.saturating_add(trade.size);
                c
            }
            _ => Candle {
                start,
                open: trade.price,
                high: trade.price,
                low: trade.price,
                close: trade.price,
                volume: trade.size,
            },
        });
        self.pending_trades.push(trade);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Resize,
    Delete,
    Add,
    Improve,
    Trade,
}

impl TickerStats {
    /// Plausible 24-hour and 52-week figures around a starting price.
    fn starting_at(price: u64, median_size: u64) -> TickerStats {
        let pct = |p: f64| (price as f64 * p).round() as u64;
        TickerStats {
            open_24h: pct(1.012),
            low_24h: pct(0.974),
            high_24h: pct(1.021),
            low_52w: pct(0.55),
            high_52w: pct(1.27),
            volume_24h: median_size.saturating_mul(40_000),
            last_price: price,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> UnixNanos {
        UnixNanos(1_784_233_733_000_000_000)
    }

    #[test]
    fn synthetic_books_are_deep_and_plausible() {
        for product in ["BTC-USD", "ETH-USD", "DOGE-USD", "FOO-USD", "ETH-BTC"] {
            let m = Market::synthetic(product, 7, 3000);
            assert!(
                m.levels.bids.len() >= 1000,
                "{product}: {}",
                m.levels.bids.len()
            );
            assert!(
                m.levels.asks.len() >= 1000,
                "{product}: {}",
                m.levels.asks.len()
            );
            assert!(!m.levels.is_crossed(), "{product}");
        }
        let btc = Market::synthetic("BTC-USD", 7, 3000);
        let (bid, _) = btc.levels.best_bid().unwrap();
        assert_eq!(btc.spec.price_scale, 2);
        assert_eq!(btc.spec.size_scale, 8);
        assert!((6_000_000..7_000_000).contains(&bid), "{bid}");
    }

    #[test]
    fn same_seed_same_changes() {
        let run = |seed| {
            let mut m = Market::synthetic("BTC-USD", seed, 2000);
            let mut out = Vec::new();
            m.generate(5000, t(), &mut out);
            out
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn generator_never_crosses_and_keeps_depth() {
        let mut m = Market::synthetic("ETH-USD", 11, 2000);
        let start_bids = m.levels.bids.len();
        let mut out = Vec::new();
        let mut near_touch = 0usize;
        for _ in 0..100 {
            out.clear();
            m.generate(1000, t(), &mut out);
            assert!(!m.levels.is_crossed());
            let (bid, _) = m.levels.best_bid().unwrap();
            let (ask, _) = m.levels.best_ask().unwrap();
            for c in &out {
                assert!(c.price > 0);
                let dist = if c.side == Side::Bid {
                    bid.saturating_sub(c.price)
                } else {
                    c.price.saturating_sub(ask)
                };
                if dist < 2000 {
                    near_touch += 1;
                }
            }
        }
        assert_eq!(m.version, 100_000);
        // Most changes land near the touch (within $20 of an ETH book).
        assert!(near_touch > 75_000, "{near_touch}");
        let bids = m.levels.bids.len();
        assert!(
            bids > start_bids * 8 / 10 && bids < start_bids * 12 / 10,
            "{start_bids} -> {bids}"
        );
        // The price stayed plausible.
        let (bid, _) = m.levels.best_bid().unwrap();
        assert!((200_000..350_000).contains(&bid), "{bid}");
    }

    #[test]
    fn every_kind_of_change_happens() {
        let mut m = Market::synthetic("BTC-USD", 5, 300);
        let mut out = Vec::new();
        let mut kinds = [0usize; 3]; // resize, add, delete
        for _ in 0..20_000 {
            let before = m.levels.clone();
            out.clear();
            m.generate(1, t(), &mut out);
            let c = out[0];
            let existed = before.side(c.side).contains_key(&c.price);
            match (existed, c.size) {
                (true, 0) => kinds[2] += 1,
                (true, _) => kinds[0] += 1,
                (false, s) => {
                    assert!(s > 0, "deleting an absent level");
                    kinds[1] += 1
                }
            }
        }
        assert!(kinds.iter().all(|k| *k > 1000), "{kinds:?}");
        let trades = m.take_trades();
        assert!(trades.len() > 500, "{}", trades.len());
        assert!(m.take_trades().is_empty());
        assert_eq!(m.recent_trades().count(), RECENT_TRADES);
        assert!(m.candle.is_some());
    }

    #[test]
    fn the_touch_moves() {
        let mut m = Market::synthetic("BTC-USD", 9, 2000);
        let mut out = Vec::new();
        let mut bests = std::collections::HashSet::new();
        for _ in 0..100 {
            m.generate(100, t(), &mut out);
            bests.insert(m.levels.best_bid().unwrap().0);
        }
        assert!(bests.len() > 20, "{}", bests.len());
    }
}
