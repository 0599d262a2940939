//! Trades and tickers (`market_trades`, `ticker`): each product keeps its last trades, each
//! `trade_id` once, in trade-id order, and its latest ticker (docs/feed.md, "Trades").
//!
//! - A `market_trades` subscribe, and every resubscribe after a reconnect, is answered first with
//!   a `snapshot` of recent trades that overlaps what was already seen: a trade id already kept,
//!   or older than the oldest kept, is dropped, so no trade is counted twice.
//! - Trades in one frame may come newest first: they are ordered by trade id (numeric ids compare
//!   as numbers), then time.
//! - `side` is kept as sent (the maker's side); the aggressor is
//!   [`Aggressor::from_maker_side`]. As a guard, each trade priced at or beyond the touch of the
//!   book at that moment is checked against it: a buyer lifts the ask, so a trade at or above the
//!   best ask should have a maker `SELL`. When most such trades say the opposite, the feed's
//!   convention is flagged ([`MarketView::sides_look_inverted`]) instead of showing wrong colours
//!   silently.
//! - Trades and tickers follow the `-USDC` aliases like the books ([`super::registry::Routes`]).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use compact_str::CompactString;
use rust_decimal::Decimal;

use crate::book::Side;

use crate::feed::events::{
    Aggressor, FeedEvent, MarketView, PriceTick, TickerView, TradeRow, VolumeRow,
};
use crate::feed::protocol::{
    self, MarketHeader, TickerBatch, TickerEvent, TickerFields, TradeBatch, TradeFields,
    TradesEvent,
};
use crate::feed::time::TimestampCache;

use super::ticker::{LatestTicker, ticker_view};
use super::{FeedCore, Outcome};

/// Trades kept per product when nothing else is asked for.
pub const DEFAULT_TRADES_KEPT: usize = 1000;
/// Trades in the dump, per product (the newest).
pub const DUMPED_TRADES: usize = 100;
/// Judged trades (at or beyond the touch) before the side convention is called inverted.
const GUARD_MIN_JUDGED: u64 = 50;
/// Of the judged trades, the share that must contradict the maker convention (percent).
const GUARD_INVERTED_PERCENT: u64 = 80;
/// The window of `bought_1m` / `sold_1m`.
const MINUTE_MS: i64 = 60_000;

/// One product's trades and ticker.
#[derive(Debug, Clone, Default)]
pub struct MarketTape {
    /// Oldest first, in trade-id order (so an id is found by binary search); at most the core's
    /// `trades_kept`.
    kept: VecDeque<TradeRow>,
    /// Distinct trades since start.
    total: u64,
    tick: PriceTick,
    ticker: LatestTicker,
    /// Taker volume at each exact price since start: (the price as first written, bought,
    /// sold). Hashed, not ordered: a trade updates it, and only the ladder's volume column (one
    /// product, when shown) reads it in price order, so it sorts then.
    volume: HashMap<PriceKey, (Decimal, Decimal, Decimal), foldhash::fast::RandomState>,
    /// The side-convention guard: trades at or beyond the touch that agree / disagree with
    /// `side` being the maker's.
    agree: u64,
    disagree: u64,
}

/// A price as the volume map keys it: its value, so `100.5` and `100.50` are one key as they are
/// one `Decimal`, read off the mantissa and scale (`Decimal`'s own hash normalizes the number
/// with 96-bit divisions first, then runs SipHash: most of what a trade cost to keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PriceKey(u128);

impl PriceKey {
    fn of(price: Decimal) -> PriceKey {
        let mut scale = price.scale();
        let mantissa = match u64::try_from(price.mantissa().unsigned_abs()) {
            Ok(mut m) => {
                while scale > 0 && m % 10 == 0 {
                    m /= 10;
                    scale -= 1;
                }
                u128::from(m)
            }
            Err(_) => {
                let normal = price.normalize();
                scale = normal.scale();
                normal.mantissa().unsigned_abs()
            }
        };
        // A mantissa is at most 96 bits and a scale at most 28: the three fit.
        let negative = price.is_sign_negative() && mantissa != 0;
        PriceKey(mantissa << 8 | u128::from(scale) << 1 | u128::from(negative))
    }
}

/// What reading trades reuses from frame to frame.
#[derive(Debug, Default)]
pub(super) struct TradeWork {
    /// A frame's trades with the book each goes to (empty between frames).
    rows: Vec<(usize, TradeRow)>,
    /// Trade times: the trades of a frame, and of frames close together, share their minute and
    /// often their whole time.
    times: TimestampCache,
    /// The fast path's reused frame batches ([`FeedCore::on_market_frame`]).
    trade_batch: TradeBatch,
    ticker_batch: TickerBatch,
    /// Tests: sort every frame's trades (the route the in-order one is checked against).
    #[cfg(test)]
    sort_always: bool,
}

/// How a trade id sorts: numeric ids (no leading zeros) by length, then by text.
fn id_order(id: &str) -> (usize, &str) {
    (id.len(), id)
}

impl MarketTape {
    /// Keeps `trade` unless it is already kept or older than everything kept; returns whether
    /// it was new.
    fn add(&mut self, trade: TradeRow, capacity: usize) -> bool {
        let key = id_order(&trade.trade_id);
        // Where it goes in id order; almost always at the back.
        let at = match self.kept.back() {
            Some(last) if id_order(&last.trade_id) < key => self.kept.len(),
            _ => match self
                .kept
                .binary_search_by(|t| id_order(&t.trade_id).cmp(&key))
            {
                Ok(_) => return false,
                Err(at) => at,
            },
        };
        if at == 0 && self.kept.len() >= capacity {
            // Older than everything kept by a full tape: seen and forgotten, or too old to
            // keep; either way not news.
            return false;
        }
        let (_, bought, sold) = self.volume.entry(PriceKey::of(trade.price)).or_insert((
            trade.price,
            Decimal::ZERO,
            Decimal::ZERO,
        ));
        match trade.aggressor {
            Aggressor::Buy => *bought += trade.size,
            Aggressor::Sell => *sold += trade.size,
        }
        if at == self.kept.len() {
            self.tick = match self.kept.back() {
                Some(last) => match price_order(trade.price, last.price) {
                    Ordering::Greater => PriceTick::Up,
                    Ordering::Less => PriceTick::Down,
                    Ordering::Equal => self.tick,
                },
                None => PriceTick::Same,
            };
        }
        if at == self.kept.len() {
            // Where nearly every trade goes: cheaper than an insert at the end.
            self.kept.push_back(trade);
        } else {
            self.kept.insert(at, trade);
        }
        while self.kept.len() > capacity.max(1) {
            self.kept.pop_front();
        }
        self.total += 1;
        true
    }

    /// Counts the guard's vote (see [`vote`]) for a trade that was new.
    fn judge(&mut self, vote: Option<bool>) {
        match vote {
            Some(true) => self.agree += 1,
            Some(false) => self.disagree += 1,
            None => {}
        }
    }

    /// The side convention looks inverted on this feed (see the module comment).
    pub fn sides_look_inverted(&self) -> bool {
        let judged = self.agree + self.disagree;
        judged >= GUARD_MIN_JUDGED && self.disagree * 100 >= judged * GUARD_INVERTED_PERCENT
    }

    /// Distinct trades since start.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn ticker(&self) -> Option<&TickerView> {
        self.ticker.get()
    }

    /// The newest `n` trades, oldest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &TradeRow> {
        self.kept.iter().skip(self.kept.len().saturating_sub(n))
    }

    /// The size at or above which a trade is big: the 95th percentile of the trades kept.
    fn big_size(&self) -> Option<Decimal> {
        let mut sizes: Vec<Decimal> = self.kept.iter().map(|t| t.size).collect();
        if sizes.is_empty() {
            return None;
        }
        sizes.sort_unstable();
        let at = (sizes.len() * 95).div_ceil(100).saturating_sub(1);
        sizes.get(at).copied()
    }

    /// Volume at price in buckets of `bucket` (the ladder's grouping in price units), keyed as
    /// the ladder's rows are: below `mid` a bid bucket `[p, p + bucket)` is keyed by its low
    /// price, above it an ask bucket `(p - bucket, p]` by its high price. Highest price first.
    fn volume_at(&self, bucket: Decimal, mid: Option<Decimal>) -> Vec<VolumeRow> {
        let mut prices: Vec<&(Decimal, Decimal, Decimal)> = self.volume.values().collect();
        prices.sort_unstable_by_key(|&&(price, _, _)| std::cmp::Reverse(price));
        let mut rows: Vec<VolumeRow> = Vec::new();
        for (price, bought, sold) in prices {
            let key = if bucket <= Decimal::ZERO {
                *price
            } else if mid.is_some_and(|m| *price > m) {
                (price / bucket).ceil() * bucket
            } else {
                (price / bucket).floor() * bucket
            };
            match rows.last_mut() {
                Some(row) if row.price == key => {
                    row.bought += bought;
                    row.sold += sold;
                }
                _ => rows.push(VolumeRow {
                    price: key,
                    bought: *bought,
                    sold: *sold,
                }),
            }
        }
        rows
    }

    /// The viewer's copy: the last trade, tick, ticker and count for every product; the minute's
    /// volume only for the product on screen (`shown`: the rest would walk up to a minute of
    /// trades for each of hundreds of products, 30 times a second, for nothing drawn), the tape
    /// and volume at price only when asked (`tape_depth`, `volume_bucket`; `mid` places the
    /// buckets as the ladder does).
    pub fn view(
        &self,
        shown: bool,
        tape_depth: usize,
        volume_bucket: Option<Decimal>,
        mid: Option<Decimal>,
    ) -> MarketView {
        let last = self.kept.back();
        let since = last.map_or(0, |t| t.time_ms - MINUTE_MS);
        let (mut bought_1m, mut sold_1m) = (Decimal::ZERO, Decimal::ZERO);
        let minute = self.kept.iter().rev().take_while(|t| t.time_ms > since);
        for t in minute.take(if shown { usize::MAX } else { 0 }) {
            match t.aggressor {
                Aggressor::Buy => bought_1m += t.size,
                Aggressor::Sell => sold_1m += t.size,
            }
        }
        MarketView {
            last_trade: last.cloned(),
            tick: self.tick,
            ticker: self.ticker.get().cloned(),
            trades: self.total,
            bought_1m,
            sold_1m,
            tape: self.kept.iter().rev().take(tape_depth).cloned().collect(),
            big_size: if tape_depth > 0 {
                self.big_size()
            } else {
                None
            },
            volume_at_price: volume_bucket.map_or_else(Vec::new, |b| self.volume_at(b, mid)),
            sides_look_inverted: self.sides_look_inverted(),
            heatmap: None,
        }
    }
}

/// The side-convention guard's vote on one trade against the touch of the book when it arrived:
/// whether its maker side agrees with where it traded, `None` for a trade inside the spread.
/// The touch is in the book's units (see [`book_units`]).
fn vote(trade: &TradeRow, best_bid: Option<u128>, best_ask: Option<u128>) -> Option<bool> {
    // The trade's price in the book's units compares with the touch as integers (the few prices
    // finer than that compare as decimals).
    let units = book_units(trade.price);
    let cmp = |touch: u128| match units {
        Some(units) => units.cmp(&touch),
        None => trade
            .price
            .cmp(&crate::book::fixed::decimal_from_units(touch, false)),
    };
    let taker = if best_ask.is_some_and(|ask| cmp(ask).is_ge()) {
        Aggressor::Buy
    } else if best_bid.is_some_and(|bid| cmp(bid).is_le()) {
        Aggressor::Sell
    } else {
        return None;
    };
    Some(taker == trade.aggressor)
}

/// `price` as a count of the book's `10^-12` units, when it has at most 12 decimals and is not
/// negative (as the exchange's prices are): comparing two of these is comparing the prices.
fn book_units(price: Decimal) -> Option<u128> {
    let shift = crate::book::fixed::SCALE.checked_sub(price.scale())?;
    let mantissa = u128::try_from(price.mantissa()).ok()?;
    let power = crate::book::fixed::POW10.get(usize::try_from(shift).ok()?)?;
    mantissa.checked_mul(u128::from(*power))
}

/// `a.cmp(&b)`, as integers when both are in the book's units (a comparison of two decimals
/// rescales one when their scales differ).
fn price_order(a: Decimal, b: Decimal) -> Ordering {
    match (book_units(a), book_units(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.cmp(&b),
    }
}

/// A trade's price or size, exactly as `str::parse::<Decimal>` reads it (same mantissa, same
/// scale): the exchange's plain digits with an optional point are read here in one pass, anything
/// else by `parse`.
fn exact(text: &[u8]) -> Option<Decimal> {
    plain_decimal(text).or_else(|| std::str::from_utf8(text).ok()?.parse().ok())
}

/// Up to 19 digits with at most one point between digits; `None` for anything else.
fn plain_decimal(text: &[u8]) -> Option<Decimal> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    // The digits before the point, then those after it: two tight loops rather than one that
    // asks of every byte whether it is the point.
    let mut mantissa = 0u64;
    let mut at = 0;
    let mut digits = |at: &mut usize| {
        while let Some(&byte) = text.get(*at) {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            // Cannot wrap in what is kept: 19 digits fit a u64 (more are refused below).
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            *at += 1;
        }
    };
    digits(&mut at);
    let mut scale = 0;
    if at < text.len() {
        // A point with digits on both sides, and nothing after those digits.
        if text[at] != b'.' || at == 0 {
            return None;
        }
        let point = at;
        at += 1;
        digits(&mut at);
        scale = at - point - 1;
        if scale == 0 || at < text.len() {
            return None;
        }
    }
    if text.len() - usize::from(scale > 0) > 19 {
        return None;
    }
    // Low and middle 32 bits of the mantissa (the high word is zero); a scale of at most 18.
    Some(Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        0,
        false,
        u32::try_from(scale).ok()?,
    ))
}

/// A trade as received, made exact; an error for a bad number, side or time (the frame is bad).
fn trade_row(raw: &TradeFields<'_>, times: &mut TimestampCache) -> Result<TradeRow, String> {
    // The text of a value for an error (what either parser read is UTF-8).
    let shown = |value: &[u8]| String::from_utf8_lossy(value).into_owned();
    let price = exact(raw.price).ok_or_else(|| {
        format!(
            "trade {}: price `{}` is not a number",
            shown(raw.trade_id),
            shown(raw.price)
        )
    })?;
    let size = exact(raw.size).ok_or_else(|| {
        format!(
            "trade {}: size `{}` is not a number",
            shown(raw.trade_id),
            shown(raw.size)
        )
    })?;
    // `<= 0` without a comparison of two decimals.
    let not_positive = |d: Decimal| d.is_zero() || d.is_sign_negative();
    if not_positive(price) || not_positive(size) {
        return Err(format!(
            "trade {}: price {price} and size {size} must be positive",
            shown(raw.trade_id)
        ));
    }
    let aggressor = Aggressor::from_maker_side_bytes(raw.side).ok_or_else(|| {
        format!(
            "trade {}: side `{}` is not BUY or SELL",
            shown(raw.trade_id),
            shown(raw.side)
        )
    })?;
    let time_ms = times.ms(raw.time).ok_or_else(|| {
        format!(
            "trade {}: time `{}` is not RFC 3339",
            shown(raw.trade_id),
            shown(raw.time)
        )
    })?;
    let trade_id = match std::str::from_utf8(raw.trade_id) {
        Ok(id) => CompactString::from(id),
        Err(_) => CompactString::from(shown(raw.trade_id)),
    };
    Ok(TradeRow {
        trade_id,
        time_ms,
        price,
        size,
        side: match raw.side {
            b"BUY" => Cow::Borrowed("BUY"),
            b"SELL" => Cow::Borrowed("SELL"),
            other => Cow::Owned(shown(other)),
        },
        aggressor,
    })
}

impl FeedCore {
    /// A `market_trades` or `ticker` frame in the compact form, read by the fast path into the
    /// batch the core keeps from frame to frame and applied as [`FeedCore::on_message`] applies
    /// the frame the general parser reads: the same envelope checks, then
    /// [`FeedCore::on_trades`] or [`FeedCore::on_tickers`] on the same values. `None` for any
    /// other frame (and any the fast path is unsure of): the general parser takes it.
    pub(super) fn on_market_frame(&mut self, frame: &[u8], now_ms: i64) -> Option<Outcome> {
        if frame.starts_with(br#"{"channel":"market_trades","#) {
            let mut batch = std::mem::take(&mut self.trade_work.trade_batch);
            let outcome = protocol::parse_trades(frame, &mut batch).map(|header| {
                self.market_envelope(header, now_ms, |core| {
                    let trades = batch.items().iter().map(|t| t.fields(frame));
                    if let Some(why) = core.on_trades(trades, now_ms) {
                        // Trades are not book data: the books stay as they are.
                        core.bad_frame(now_ms, why, false);
                    }
                })
            });
            self.trade_work.trade_batch = batch;
            outcome
        } else if frame.starts_with(br#"{"channel":"ticker"#) {
            let mut batch = std::mem::take(&mut self.trade_work.ticker_batch);
            let outcome = protocol::parse_ticker(frame, &mut batch).map(|header| {
                self.market_envelope(header, now_ms, |core| {
                    core.on_tickers(batch.items().iter().map(|t| t.fields(frame)), now_ms);
                })
            });
            self.trade_work.ticker_batch = batch;
            outcome
        } else {
            None
        }
    }

    /// A frame the fast path read: its envelope checked, then `apply` unless the frame is stale.
    fn market_envelope(
        &mut self,
        header: MarketHeader<'_>,
        now_ms: i64,
        apply: impl FnOnce(&mut FeedCore),
    ) -> Outcome {
        let mut outcome = Outcome {
            parsed: true,
            ..Outcome::default()
        };
        let envelope = (Some(header.sequence_num), Some(header.timestamp));
        if self
            .check_envelope(envelope, now_ms, &mut outcome)
            .is_some()
        {
            apply(self);
        }
        outcome
    }

    /// A `market_trades` frame's trades, in frame order. Returns the first bad trade's
    /// description, if any (the frame is then counted bad; its good trades are kept).
    pub(super) fn on_trades<'t>(
        &mut self,
        trades: impl Iterator<Item = TradeFields<'t>> + Clone,
        now_ms: i64,
    ) -> Option<String> {
        // Nothing reads the heatmap's trades when it does not sample (headless runs, exports).
        let heat = self.heat.settings.enabled;
        let in_order = self.one_book_in_id_order(trades.clone());
        #[cfg(test)]
        let in_order = in_order.filter(|_| !self.trade_work.sort_always);
        if let Some(book) = in_order {
            // The order the rows below would be sorted into: each made and kept in turn.
            let mut bad = None;
            for trade in trades {
                match trade_row(&trade, &mut self.trade_work.times) {
                    Ok(row) => self.keep_trade(book, row, heat, now_ms),
                    Err(why) => bad = bad.or(Some(why)),
                }
            }
            self.dirty = true;
            return bad;
        }
        let mut rows = std::mem::take(&mut self.trade_work.rows);
        let mut bad = None;
        for trade in trades {
            match trade_row(&trade, &mut self.trade_work.times) {
                Ok(row) => {
                    // One book almost always; a copy for each alias after the first.
                    let books = self.find_books(trade.product_id);
                    if let Some((&last, others)) = books.split_last() {
                        rows.extend(others.iter().map(|&book| (book, row.clone())));
                        rows.push((last, row));
                    }
                }
                Err(why) => bad = bad.or(Some(why)),
            }
        }
        // Oldest first whatever order the frame used.
        rows.sort_by(|(_, a), (_, b)| {
            id_order(&a.trade_id)
                .cmp(&id_order(&b.trade_id))
                .then(a.time_ms.cmp(&b.time_ms))
        });
        for (book, row) in rows.drain(..) {
            self.keep_trade(book, row, heat, now_ms);
        }
        self.trade_work.rows = rows;
        self.dirty = true;
        bad
    }

    /// The one book a frame's trades all go to, when they are in increasing id order (as the
    /// exchange sends them): made and kept one by one, they are kept in the order sorting them
    /// would give. `None` for anything else (ids out of order or repeated, several products or
    /// books, no book, no trade).
    fn one_book_in_id_order<'t>(
        &self,
        mut trades: impl Iterator<Item = TradeFields<'t>>,
    ) -> Option<usize> {
        let first = trades.next()?;
        let &[book] = self.find_books(first.product_id) else {
            return None;
        };
        let mut last = first.trade_id;
        for trade in trades {
            let in_order = (last.len(), last) < (trade.trade_id.len(), trade.trade_id);
            if !in_order || trade.product_id != first.product_id {
                return None;
            }
            last = trade.trade_id;
        }
        Some(book)
    }

    /// One made trade for book `book`, in id order: kept unless already kept, with the guard's
    /// vote, the tap and the heatmap's mark.
    fn keep_trade(&mut self, book: usize, row: TradeRow, heat: bool, now_ms: i64) {
        let capacity = self.trades_kept;
        let Some(p) = self.books.get_mut(book) else {
            return;
        };
        let vote = vote(
            &row,
            p.book.best_units(Side::Bid),
            p.book.best_units(Side::Ask),
        );
        let was_inverted = p.market.sides_look_inverted();
        let tapped = self.tap.is_some().then(|| row.clone());
        let mark = heat.then(|| super::heatmap::HeatTrade::of(&row)).flatten();
        if p.market.add(row, capacity) {
            self.stats.trades += 1;
            if let (Some(tap), Some(row)) = (self.tap.as_mut(), tapped) {
                tap.push(super::tap::Tapped::Trade { book, row });
            }
            if let Some(mark) = mark {
                p.heat.add_trade(mark);
            }
            p.market.judge(vote);
            if !was_inverted && p.market.sides_look_inverted() {
                let product = self.products.get(book).cloned().unwrap_or_default();
                tracing::warn!(
                    product = %product,
                    "most trades at or beyond the touch carry the side opposite to the maker's: the feed's trade sides look inverted"
                );
                self.emit(FeedEvent::TradeSidesLookInverted {
                    at_ms: now_ms,
                    product,
                });
            }
        }
    }

    /// A `ticker` or `ticker_batch` frame's tickers, in frame order: the latest ticker per
    /// product.
    pub(super) fn on_tickers<'t>(
        &mut self,
        tickers: impl Iterator<Item = TickerFields<'t>>,
        now_ms: i64,
    ) {
        for raw in tickers {
            for &book in self.routes.find(raw.product_id) {
                if let Some(p) = self.books.get_mut(book) {
                    p.market.ticker.set(&raw, now_ms);
                }
            }
        }
        self.dirty = true;
    }

    /// Trades kept per product from now on (at least 1).
    pub fn set_trades_kept(&mut self, n: usize) {
        self.trades_kept = n.max(1);
    }
}

/// The trades of a `market_trades` events array, as the client reads them (the simulator's dump
/// uses this, so both dumps derive their trades one way). Bad trades are left out.
pub fn trades_of_events(events_json: &str) -> Vec<TradeRow> {
    let events: Vec<TradesEvent> = serde_json::from_str(events_json).unwrap_or_default();
    let mut times = TimestampCache::default();
    events
        .iter()
        .flat_map(|e| &e.trades)
        .filter_map(|t| trade_row(&t.fields(), &mut times).ok())
        .collect()
}

/// The first ticker of a `ticker` events array, as the client reads it.
pub fn ticker_of_events(events_json: &str) -> Option<TickerView> {
    let events: Vec<TickerEvent> = serde_json::from_str(events_json).unwrap_or_default();
    let raw = events.iter().flat_map(|e| &e.tickers).next()?;
    Some(ticker_view(&raw.fields(), 0))
}

#[cfg(test)]
mod tests;
