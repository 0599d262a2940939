//! The fast path for `market_trades` and `ticker` (or `ticker_batch`) frames: the same compact
//! envelope as `l2_data` (see the parent module), then events whose objects are flat maps of
//! string values, read in one forward scan.
//!
//! Inside an event, a trade or a ticker, keys may come in any order and unknown keys are skipped,
//! as long as every value cbbook does not read is a plain string too (the exchange's tickers carry
//! a dozen such fields). Anything else (a number, `null`, a nested value, an escape, a key twice,
//! whitespace) answers `None` and the general parser takes the frame, so this path changes speed,
//! never results: property tests check that whatever it accepts, the general parser reads the
//! same way.
//!
//! One scanner, two outputs: [`trades_into`] and [`ticker_into`] note where each value lies in
//! the frame, in a [`MarketBatch`] the caller reuses from frame to frame (the feed's path: nothing
//! allocated per frame, no value copied); [`trades`] and [`ticker`] build a [`ServerMessage`] of
//! borrowed text from it. Every byte of an accepted frame was read as a literal, a digit or a
//! string of printable ASCII, so the frame is ASCII without a UTF-8 pass over it.

use std::borrow::Cow;
use std::ops::Range;

use super::{Cursor, string_end};
use crate::feed::protocol::{
    Envelope, RawTicker, RawTrade, ServerMessage, TickerEvent, TickerFields, TradeFields,
    TradesEvent,
};

/// The envelope of a `market_trades` or `ticker` frame read into a [`MarketBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketHeader<'a> {
    pub sequence_num: u64,
    /// The envelope timestamp's text (printable ASCII).
    pub timestamp: &'a [u8],
}

/// Where one trade's values lie in its frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeSpan {
    trade_id: Range<usize>,
    product_id: Range<usize>,
    price: Range<usize>,
    size: Range<usize>,
    side: Range<usize>,
    time: Range<usize>,
}

/// Where one ticker's values lie in its frame; a number the ticker lacks is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerSpan {
    product_id: Range<usize>,
    price: Option<Range<usize>>,
    volume_24_h: Option<Range<usize>>,
    price_percent_chg_24_h: Option<Range<usize>>,
    high_24_h: Option<Range<usize>>,
    low_24_h: Option<Range<usize>>,
}

/// A value's text in `frame` (empty for a frame the span does not come from: never the case for
/// the frame the batch was read from).
fn at<'a>(frame: &'a [u8], span: &Range<usize>) -> &'a [u8] {
    frame.get(span.clone()).unwrap_or_default()
}

impl TradeSpan {
    /// The trade's values; `frame` must be the frame the batch was read from.
    pub fn fields<'a>(&self, frame: &'a [u8]) -> TradeFields<'a> {
        TradeFields {
            trade_id: at(frame, &self.trade_id),
            product_id: at(frame, &self.product_id),
            price: at(frame, &self.price),
            size: at(frame, &self.size),
            side: at(frame, &self.side),
            time: at(frame, &self.time),
        }
    }
}

impl TickerSpan {
    /// The ticker's values; `frame` must be the frame the batch was read from.
    pub fn fields<'a>(&self, frame: &'a [u8]) -> TickerFields<'a> {
        let number = |span: &Option<Range<usize>>| span.as_ref().map(|s| at(frame, s));
        TickerFields {
            product_id: at(frame, &self.product_id),
            price: number(&self.price),
            volume_24_h: number(&self.volume_24_h),
            price_percent_chg_24_h: number(&self.price_percent_chg_24_h),
            high_24_h: number(&self.high_24_h),
            low_24_h: number(&self.low_24_h),
        }
    }
}

/// The events of a `market_trades` or `ticker` frame as places in the frame: [`TradeBatch`] or
/// [`TickerBatch`]. Reused from frame to frame: a read clears it first and then only grows it.
#[derive(Debug)]
pub struct MarketBatch<T> {
    /// Each event's `type` (`None` when it has none) and its items' range in `items`.
    events: Vec<(Option<Range<usize>>, Range<usize>)>,
    items: Vec<T>,
}

impl<T> Default for MarketBatch<T> {
    fn default() -> Self {
        MarketBatch {
            events: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T> MarketBatch<T> {
    /// The trades or tickers of every event of the frame last read, in frame order.
    pub fn items(&self) -> &[T] {
        &self.items
    }
}

/// A `market_trades` frame's trades.
pub type TradeBatch = MarketBatch<TradeSpan>;
/// A `ticker` or `ticker_batch` frame's tickers.
pub type TickerBatch = MarketBatch<TickerSpan>;

/// Reads a `market_trades` frame into `batch`, or `None` (and a batch to ignore) if it is not in
/// the compact form.
pub fn trades_into<'a>(bytes: &'a [u8], batch: &mut TradeBatch) -> Option<MarketHeader<'a>> {
    let mut c = Cursor::new(bytes);
    c.lit(br#"{"channel":"market_trades","#)?;
    scan(&mut c, batch)
}

/// Reads a `ticker` or `ticker_batch` frame into `batch`, or `None` (and a batch to ignore) if it
/// is not in the compact form.
pub fn ticker_into<'a>(bytes: &'a [u8], batch: &mut TickerBatch) -> Option<MarketHeader<'a>> {
    let mut c = Cursor::new(bytes);
    if c.lit(br#"{"channel":"ticker","#).is_none() {
        c.lit(br#"{"channel":"ticker_batch","#)?;
    }
    scan(&mut c, batch)
}

/// Reads a `market_trades` frame, or `None` if it is not in the compact form.
pub fn trades(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let mut batch = TradeBatch::default();
    let header = trades_into(bytes, &mut batch)?;
    let events = message_events(bytes, &batch, |t| {
        Some(RawTrade {
            trade_id: text(bytes, &t.trade_id)?,
            product_id: text(bytes, &t.product_id)?,
            price: text(bytes, &t.price)?,
            size: text(bytes, &t.size)?,
            side: text(bytes, &t.side)?,
            time: text(bytes, &t.time)?,
        })
    })?
    .into_iter()
    .map(|(kind, trades)| TradesEvent { kind, trades })
    .collect();
    Some(ServerMessage::Trades {
        envelope: envelope(header)?,
        events,
    })
}

/// Reads a `ticker` or `ticker_batch` frame, or `None` if it is not in the compact form.
pub fn ticker(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let mut batch = TickerBatch::default();
    let header = ticker_into(bytes, &mut batch)?;
    let number = |span: &Option<Range<usize>>| match span {
        Some(span) => text(bytes, span).map(Some),
        None => Some(None),
    };
    let events = message_events(bytes, &batch, |t| {
        Some(RawTicker {
            product_id: text(bytes, &t.product_id)?,
            price: number(&t.price)?,
            volume_24_h: number(&t.volume_24_h)?,
            price_percent_chg_24_h: number(&t.price_percent_chg_24_h)?,
            high_24_h: number(&t.high_24_h)?,
            low_24_h: number(&t.low_24_h)?,
        })
    })?
    .into_iter()
    .map(|(kind, tickers)| TickerEvent { kind, tickers })
    .collect();
    Some(ServerMessage::Ticker {
        envelope: envelope(header)?,
        events,
    })
}

/// A value's text, borrowed (a string body the scan found to be printable ASCII).
fn text<'a>(frame: &'a [u8], span: &Range<usize>) -> Option<Cow<'a, str>> {
    std::str::from_utf8(frame.get(span.clone())?)
        .ok()
        .map(Cow::Borrowed)
}

fn envelope(header: MarketHeader<'_>) -> Option<Envelope<'_>> {
    Some(Envelope {
        sequence_num: Some(header.sequence_num),
        timestamp: Some(Cow::Borrowed(std::str::from_utf8(header.timestamp).ok()?)),
    })
}

/// Each event of `batch` as (its `type`, empty when it has none; its items made by `item`).
fn message_events<'a, T, U>(
    frame: &'a [u8],
    batch: &MarketBatch<T>,
    item: impl Fn(&T) -> Option<U>,
) -> Option<Vec<(Cow<'a, str>, Vec<U>)>> {
    batch
        .events
        .iter()
        .map(|(kind, items)| {
            let kind = match kind {
                Some(kind) => text(frame, kind)?,
                None => Cow::Borrowed(""),
            };
            let items = batch.items.get(items.clone())?.iter().map(&item);
            Some((kind, items.collect::<Option<Vec<U>>>()?))
        })
        .collect()
}

/// What the events of a channel hold: trades or tickers.
trait Item: Sized {
    /// The name of the events' array of items.
    const KEY: &'static [u8];
    /// What follows an event's `type` value in the exchange's key order, through the array's `[`.
    const AFTER_TYPE: &'static [u8];
    /// One item, from its `{` through its `}`.
    fn read(c: &mut Cursor<'_>) -> Option<Self>;
}

impl Item for TradeSpan {
    const KEY: &'static [u8] = b"trades";
    const AFTER_TYPE: &'static [u8] = br#","trades":["#;
    fn read(c: &mut Cursor<'_>) -> Option<Self> {
        trade(c)
    }
}

impl Item for TickerSpan {
    const KEY: &'static [u8] = b"tickers";
    const AFTER_TYPE: &'static [u8] = br#","tickers":["#;
    fn read(c: &mut Cursor<'_>) -> Option<Self> {
        ticker_object(c)
    }
}

/// The frame after its channel: the envelope, then the events, each an object with a `type` and
/// the array of items; then the end of the frame.
fn scan<'a, T: Item>(c: &mut Cursor<'a>, batch: &mut MarketBatch<T>) -> Option<MarketHeader<'a>> {
    batch.events.clear();
    batch.items.clear();
    let (sequence_num, timestamp) = c.envelope()?;
    if !lit(c, b"]") {
        loop {
            let start = c.at;
            if event_in_order(c, batch).is_none() {
                c.at = start;
                event(c, batch)?;
            }
            if !lit(c, b",") {
                if !lit(c, b"]") {
                    return None;
                }
                break;
            }
        }
    }
    if !lit(c, b"}") || c.at != c.bytes.len() {
        return None;
    }
    Some(MarketHeader {
        sequence_num,
        timestamp,
    })
}

/// One event in the exchange's form: `{"type":"…","trades":[…]}`. `None` for any other (the
/// caller then reads it again with [`event`], from where it started; the items read are dropped).
#[inline(always)]
fn event_in_order<T: Item>(c: &mut Cursor<'_>, batch: &mut MarketBatch<T>) -> Option<()> {
    let first = batch.items.len();
    let read = (|| {
        if !lit(c, br#"{"type":""#) {
            return None;
        }
        let kind = body(c)?;
        if !lit(c, T::AFTER_TYPE) {
            return None;
        }
        items(c, batch)?;
        lit(c, b"}").then_some(kind)
    })();
    match read {
        Some(kind) => {
            batch.events.push((Some(kind), first..batch.items.len()));
            Some(())
        }
        None => {
            batch.items.truncate(first);
            None
        }
    }
}

/// The items of an array whose `[` was consumed, through its `]`, onto `batch`.
#[inline(always)]
fn items<T: Item>(c: &mut Cursor<'_>, batch: &mut MarketBatch<T>) -> Option<()> {
    if lit(c, b"]") {
        return Some(());
    }
    loop {
        batch.items.push(T::read(c)?);
        if !lit(c, b",") {
            return lit(c, b"]").then_some(());
        }
    }
}

/// One event: `type` and the array of items, each at most once, in either order.
fn event<T: Item>(c: &mut Cursor<'_>, batch: &mut MarketBatch<T>) -> Option<()> {
    let mut kind = None;
    let mut range = None;
    object(c, |c, key| {
        if key == b"type" {
            once(&mut kind, c)
        } else if key == T::KEY {
            if range.is_some() || !lit(c, b"[") {
                return None;
            }
            let first = batch.items.len();
            items(c, batch)?;
            range = Some(first..batch.items.len());
            Some(true)
        } else {
            Some(false)
        }
    })?;
    let end = batch.items.len();
    batch.events.push((kind, range.unwrap_or(end..end)));
    Some(())
}

/// Consumes `expected` if the text continues with it. Always inlined, so that the comparison
/// with a literal of known length is a few loads rather than a call to `memcmp`.
#[inline(always)]
fn lit(c: &mut Cursor<'_>, expected: &[u8]) -> bool {
    let end = c.at + expected.len();
    if c.bytes.get(c.at..end) == Some(expected) {
        c.at = end;
        true
    } else {
        false
    }
}

/// [`lit`] for a literal that must come: `None` when it does not.
#[inline(always)]
fn expect(c: &mut Cursor<'_>, expected: &[u8]) -> Option<()> {
    lit(c, expected).then_some(())
}

/// The keys of a flat object, from its `{` through its `}`: for each key, `value` reads what
/// follows the colon and answers whether it knew the key; an unknown key's value must be a string
/// (skipped).
fn object<'a>(
    c: &mut Cursor<'a>,
    mut value: impl FnMut(&mut Cursor<'a>, &'a [u8]) -> Option<bool>,
) -> Option<()> {
    c.lit(b"{")?;
    if c.lit(b"}").is_some() {
        return Some(());
    }
    loop {
        c.lit(b"\"")?;
        let key = c.skip_string()?;
        c.lit(b":")?;
        if !value(c, key)? {
            c.lit(b"\"")?;
            c.skip_string()?;
        }
        if c.lit(b",").is_none() {
            return c.lit(b"}");
        }
    }
}

/// A string whose opening quote was consumed: where its body lies (closing quote consumed).
/// `None` on an escape, a control character or a non-ASCII byte, as [`Cursor::skip_string`].
#[inline(always)]
fn body(c: &mut Cursor<'_>) -> Option<Range<usize>> {
    let start = c.at;
    let len = string_end(c.bytes.get(start..)?)?;
    let end = start + len;
    if c.bytes.get(end) != Some(&b'"') {
        return None;
    }
    c.at = end + 1;
    Some(start..end)
}

/// Stores where a field's string value lies, refusing a key seen twice (the general parser
/// refuses it too) or a value that is not a string.
fn once(field: &mut Option<Range<usize>>, c: &mut Cursor<'_>) -> Option<bool> {
    if field.is_some() {
        return None;
    }
    if !lit(c, b"\"") {
        return None;
    }
    *field = Some(body(c)?);
    Some(true)
}

/// One trade: in the exchange's key order (docs/feed.md, "Trades") one literal per key, else any
/// order.
fn trade(c: &mut Cursor<'_>) -> Option<TradeSpan> {
    let start = c.at;
    if let Some(trade) = trade_in_order(c) {
        return Some(trade);
    }
    c.at = start;
    trade_any_order(c)
}

fn trade_in_order(c: &mut Cursor<'_>) -> Option<TradeSpan> {
    expect(c, br#"{"trade_id":""#)?;
    let trade_id = body(c)?;
    expect(c, br#","product_id":""#)?;
    let product_id = body(c)?;
    expect(c, br#","price":""#)?;
    let price = body(c)?;
    expect(c, br#","size":""#)?;
    let size = body(c)?;
    expect(c, br#","side":""#)?;
    let side = body(c)?;
    expect(c, br#","time":""#)?;
    let time = body(c)?;
    expect(c, b"}")?;
    Some(TradeSpan {
        trade_id,
        product_id,
        price,
        size,
        side,
        time,
    })
}

/// One trade, keys in any order; every field is required, as in the general parser.
fn trade_any_order(c: &mut Cursor<'_>) -> Option<TradeSpan> {
    let [
        mut trade_id,
        mut product_id,
        mut price,
        mut size,
        mut side,
        mut time,
    ] = [None, None, None, None, None, None];
    object(c, |c, key| match key {
        b"trade_id" => once(&mut trade_id, c),
        b"product_id" => once(&mut product_id, c),
        b"price" => once(&mut price, c),
        b"size" => once(&mut size, c),
        b"side" => once(&mut side, c),
        b"time" => once(&mut time, c),
        _ => Some(false),
    })?;
    Some(TradeSpan {
        trade_id: trade_id?,
        product_id: product_id?,
        price: price?,
        size: size?,
        side: side?,
        time: time?,
    })
}

/// One ticker: in the exchange's key order one literal per key, else any order.
fn ticker_object(c: &mut Cursor<'_>) -> Option<TickerSpan> {
    let start = c.at;
    if let Some(ticker) = ticker_in_order(c) {
        return Some(ticker);
    }
    c.at = start;
    ticker_any_order(c)
}

fn ticker_in_order(c: &mut Cursor<'_>) -> Option<TickerSpan> {
    expect(c, br#"{"type":"ticker","product_id":""#)?;
    let product_id = body(c)?;
    expect(c, br#","price":""#)?;
    let price = body(c)?;
    expect(c, br#","volume_24_h":""#)?;
    let volume_24_h = body(c)?;
    expect(c, br#","low_24_h":""#)?;
    let low_24_h = body(c)?;
    expect(c, br#","high_24_h":""#)?;
    let high_24_h = body(c)?;
    expect(c, br#","low_52_w":""#)?;
    body(c)?;
    expect(c, br#","high_52_w":""#)?;
    body(c)?;
    expect(c, br#","price_percent_chg_24_h":""#)?;
    let price_percent_chg_24_h = body(c)?;
    // One literal each (not a loop over them): compared as a few loads of known length.
    expect(c, br#","best_bid":""#)?;
    body(c)?;
    expect(c, br#","best_bid_quantity":""#)?;
    body(c)?;
    expect(c, br#","best_ask":""#)?;
    body(c)?;
    expect(c, br#","best_ask_quantity":""#)?;
    body(c)?;
    expect(c, b"}")?;
    Some(TickerSpan {
        product_id,
        price: Some(price),
        volume_24_h: Some(volume_24_h),
        price_percent_chg_24_h: Some(price_percent_chg_24_h),
        high_24_h: Some(high_24_h),
        low_24_h: Some(low_24_h),
    })
}

/// One ticker, keys in any order; only `product_id` is required, as in the general parser.
fn ticker_any_order(c: &mut Cursor<'_>) -> Option<TickerSpan> {
    let mut product_id = None;
    let [mut price, mut volume, mut change, mut high, mut low] = [None, None, None, None, None];
    object(c, |c, key| match key {
        b"product_id" => once(&mut product_id, c),
        b"price" => once(&mut price, c),
        b"volume_24_h" => once(&mut volume, c),
        b"price_percent_chg_24_h" => once(&mut change, c),
        b"high_24_h" => once(&mut high, c),
        b"low_24_h" => once(&mut low, c),
        _ => Some(false),
    })?;
    Some(TickerSpan {
        product_id: product_id?,
        price,
        volume_24_h: volume,
        price_percent_chg_24_h: change,
        high_24_h: high,
        low_24_h: low,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::protocol::parse_general;

    const TRADES: &str = r#"{"channel":"market_trades","client_id":"","timestamp":"2026-08-07T20:04:09Z","sequence_num":21,"events":[{"type":"update","trades":[{"trade_id":"100493237","product_id":"BTC-USD","price":"64929.86","size":"0.01210178","side":"BUY","time":"2026-08-07T20:04:08.8625Z"},{"trade_id":"100493236","product_id":"BTC-USD","price":"64929.8","size":"1","side":"SELL","time":"2026-08-07T20:04:08.8Z"}]}]}"#;
    const TICKER: &str = r#"{"channel":"ticker","client_id":"","timestamp":"2026-08-07T20:04:08Z","sequence_num":2,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"64932.32","volume_24_h":"2707.7012","low_24_h":"63244.08","high_24_h":"66295.9","low_52_w":"35712.78","high_52_w":"82464.05","price_percent_chg_24_h":"-1.185774","best_bid":"64930.57","best_bid_quantity":"0.07705309","best_ask":"64934.09","best_ask_quantity":"0.07704426"}]}]}"#;

    #[test]
    fn the_exchanges_frames_take_the_fast_path_and_read_as_the_general_parser() {
        let fast = trades(TRADES.as_bytes()).expect("a compact trades frame");
        assert_eq!(Some(&fast), parse_general(TRADES).ok().as_ref());
        let ServerMessage::Trades { events, .. } = &fast else {
            panic!("{fast:?}")
        };
        assert_eq!(events[0].trades[1].trade_id, "100493236");
        let fast = ticker(TICKER.as_bytes()).expect("a compact ticker frame");
        assert_eq!(Some(&fast), parse_general(TICKER).ok().as_ref());
        let batch = TICKER.replace(r#""channel":"ticker""#, r#""channel":"ticker_batch""#);
        assert_eq!(
            ticker(batch.as_bytes()),
            parse_general(&batch).ok(),
            "ticker_batch"
        );
        assert!(ticker(batch.as_bytes()).is_some());
    }

    #[test]
    fn keys_in_another_order_take_the_fast_path_too() {
        let mut c = Cursor::new(TICKER.as_bytes());
        let start = TICKER.find(r#"{"type":"ticker""#).unwrap();
        c.at = start;
        assert!(ticker_in_order(&mut c).is_some(), "the exchange's order");
        let trade_at = TRADES.find(r#"{"trade_id""#).unwrap();
        let mut c = Cursor::new(TRADES.as_bytes());
        c.at = trade_at;
        assert!(trade_in_order(&mut c).is_some(), "the exchange's order");
        for text in [
            TRADES.replace(
                r#""trade_id":"100493237","product_id":"BTC-USD""#,
                r#""product_id":"BTC-USD","trade_id":"100493237""#,
            ),
            TICKER.replace(r#""type":"ticker","#, "").replace(
                r#""best_ask":"64934.09","#,
                r#""best_ask":"64934.09","type":"ticker","#,
            ),
            TICKER.replace(r#""low_52_w":"35712.78","#, ""),
        ] {
            let fast = trades(text.as_bytes()).or_else(|| ticker(text.as_bytes()));
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, parse_general(&text).ok(), "{text}");
        }
    }

    #[test]
    fn what_the_fast_path_does_not_know_goes_to_the_general_parser() {
        let cases = [
            // A numeric trade id (the general parser reads it as text).
            TRADES.replace(r#""trade_id":"100493237""#, r#""trade_id":100493237"#),
            // A key twice (the general parser refuses the frame).
            TRADES.replace(r#""side":"BUY""#, r#""side":"BUY","side":"SELL""#),
            // A missing field (refused too).
            TRADES.replace(r#""side":"BUY","#, ""),
            // An escape, whitespace, a null, a nested unknown value, something after the end.
            TRADES.replace("BTC-USD", r"BTC\u002dUSD"),
            TRADES.replace(r#""price":"#, r#""price": "#),
            TICKER.replace(r#""high_24_h":"66295.9""#, r#""high_24_h":null"#),
            TICKER.replace(r#""type":"ticker","#, r#""extra":{"a":"b"},"#),
            format!("{TICKER} "),
        ];
        for case in &cases {
            let fast = trades(case.as_bytes()).or_else(|| ticker(case.as_bytes()));
            assert_eq!(fast, None, "{case}");
        }
    }

    #[test]
    fn missing_event_fields_read_as_the_general_parser_does() {
        for text in [
            r#"{"channel":"market_trades","client_id":"","timestamp":"t","sequence_num":1,"events":[{"trades":[]}]}"#,
            r#"{"channel":"market_trades","client_id":"","timestamp":"t","sequence_num":1,"events":[{"type":"snapshot"}]}"#,
            r#"{"channel":"market_trades","client_id":"","timestamp":"t","sequence_num":1,"events":[]}"#,
            r#"{"channel":"ticker","timestamp":"t","sequence_num":1,"events":[{"type":"update","tickers":[{"product_id":"X-Y"}]}]}"#,
        ] {
            let fast = trades(text.as_bytes()).or_else(|| ticker(text.as_bytes()));
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, parse_general(text).ok(), "{text}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{ticker, trades};
        use crate::feed::protocol::parse_general;

        /// A string value: mostly plain, sometimes with what the fast path must refuse.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                8 => "[0-9A-Za-z.:-]{0,12}".prop_map(|s| format!("\"{s}\"")),
                1 => "[ -~]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
                1 => "\\PC{0,4}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
                1 => Just("null".to_string()),
                1 => Just("12".to_string()),
            ]
        }

        /// An object with some of `keys` (and an unknown one), in a shuffled order.
        fn object(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
            let fields = keys
                .iter()
                .map(|k| (any::<bool>(), value(), Just(*k)))
                .collect::<Vec<_>>();
            (fields, any::<bool>(), value(), any::<u64>()).prop_map(|(fields, extra, v, seed)| {
                let mut parts: Vec<String> = fields
                    .into_iter()
                    .filter(|(keep, _, _)| *keep || seed % 5 != 0)
                    .map(|(_, v, k)| format!("\"{k}\":{v}"))
                    .collect();
                if extra {
                    parts.push(format!("\"best_bid\":{v}"));
                }
                let len = parts.len().max(1);
                parts.rotate_left((seed as usize) % len);
                format!("{{{}}}", parts.join(","))
            })
        }

        fn frame(
            channel: &'static str,
            items_key: &'static str,
            keys: &'static [&'static str],
        ) -> impl Strategy<Value = String> {
            let event = (prop::collection::vec(object(keys), 0..4), "update|snapshot");
            (prop::collection::vec(event, 0..3), any::<u32>()).prop_map(move |(events, seq)| {
                let events: Vec<String> = events
                    .iter()
                    .map(|(items, kind)| {
                        format!(r#"{{"type":"{kind}","{items_key}":[{}]}}"#, items.join(","))
                    })
                    .collect();
                format!(
                    r#"{{"channel":"{channel}","client_id":"","timestamp":"2026-08-07T20:04:08Z","sequence_num":{seq},"events":[{}]}}"#,
                    events.join(",")
                )
            })
        }

        /// A frame of objects with every key of `keys`, in that order (the exchange's, for
        /// [`TRADE_ORDER`] and [`TICKER_ORDER`]), values generated.
        fn in_order(
            channel: &'static str,
            items_key: &'static str,
            keys: &'static [&'static str],
        ) -> impl Strategy<Value = String> {
            let object = prop::collection::vec(value(), keys.len()).prop_map(move |values| {
                let fields: Vec<String> = keys
                    .iter()
                    .zip(values)
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", fields.join(","))
            });
            prop::collection::vec(object, 0..3).prop_map(move |items| {
                format!(
                    r#"{{"channel":"{channel}","client_id":"","timestamp":"t","sequence_num":7,"events":[{{"type":"update","{items_key}":[{}]}}]}}"#,
                    items.join(",")
                )
            })
        }

        const TRADE_ORDER: &[&str] = &["trade_id", "product_id", "price", "size", "side", "time"];
        const TICKER_ORDER: &[&str] = &[
            "type",
            "product_id",
            "price",
            "volume_24_h",
            "low_24_h",
            "high_24_h",
            "low_52_w",
            "high_52_w",
            "price_percent_chg_24_h",
            "best_bid",
            "best_bid_quantity",
            "best_ask",
            "best_ask_quantity",
        ];

        const TRADE_KEYS: &[&str] = &["trade_id", "product_id", "price", "size", "side", "time"];
        const TICKER_KEYS: &[&str] = &[
            "type",
            "product_id",
            "price",
            "volume_24_h",
            "low_24_h",
            "high_24_h",
            "price_percent_chg_24_h",
        ];

        /// The properties below check only the frames the fast path accepts: make sure the
        /// generators give it many.
        #[test]
        fn the_generated_frames_often_take_the_fast_path() {
            use proptest::strategy::ValueTree;
            use proptest::test_runner::TestRunner;
            let mut runner = TestRunner::deterministic();
            type Read = for<'a> fn(&'a [u8]) -> Option<crate::feed::protocol::ServerMessage<'a>>;
            let cases: [(BoxedStrategy<String>, Read); 2] = [
                (frame("market_trades", "trades", TRADE_KEYS).boxed(), trades),
                (frame("ticker", "tickers", TICKER_KEYS).boxed(), ticker),
            ];
            for (strategy, read) in cases {
                let accepted = (0..400)
                    .filter(|_| {
                        let text = strategy.new_tree(&mut runner).unwrap().current();
                        read(text.as_bytes()).is_some()
                    })
                    .count();
                assert!(accepted >= 40, "only {accepted} of 400 accepted");
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn whatever_the_trades_path_accepts_the_general_parser_reads_the_same(
                text in frame("market_trades", "trades", TRADE_KEYS)
            ) {
                if let Some(fast) = trades(text.as_bytes()) {
                    prop_assert_eq!(Some(fast), parse_general(&text).ok(), "{}", text);
                }
            }

            #[test]
            fn whatever_the_ticker_path_accepts_the_general_parser_reads_the_same(
                text in frame("ticker", "tickers", TICKER_KEYS)
            ) {
                if let Some(fast) = ticker(text.as_bytes()) {
                    prop_assert_eq!(Some(fast), parse_general(&text).ok(), "{}", text);
                }
            }

            #[test]
            fn frames_in_the_exchanges_key_order_read_as_the_general_parser(
                trades_text in in_order("market_trades", "trades", TRADE_ORDER),
                ticker_text in in_order("ticker", "tickers", TICKER_ORDER),
            ) {
                if let Some(fast) = trades(trades_text.as_bytes()) {
                    prop_assert_eq!(Some(fast), parse_general(&trades_text).ok(), "{}", trades_text);
                }
                if let Some(fast) = ticker(ticker_text.as_bytes()) {
                    prop_assert_eq!(Some(fast), parse_general(&ticker_text).ok(), "{}", ticker_text);
                }
            }

            #[test]
            fn plain_compact_frames_take_the_fast_path(
                ids in prop::collection::vec(1u64..u64::MAX, 0..5)
            ) {
                let trades_list: Vec<String> = ids.iter().map(|id| format!(
                    r#"{{"trade_id":"{id}","product_id":"BTC-USD","price":"1.5","size":"2","side":"BUY","time":"2026-08-07T20:04:08Z"}}"#
                )).collect();
                let text = format!(
                    r#"{{"channel":"market_trades","client_id":"","timestamp":"t","sequence_num":3,"events":[{{"type":"update","trades":[{}]}}]}}"#,
                    trades_list.join(",")
                );
                let fast = trades(text.as_bytes());
                prop_assert!(fast.is_some());
                prop_assert_eq!(fast, parse_general(&text).ok());
            }
        }
    }
}
