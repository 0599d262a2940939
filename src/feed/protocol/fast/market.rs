//! The fast path for `market_trades` and `ticker` (or `ticker_batch`) frames: the same compact
//! envelope as `l2_data` (see the parent module), then events whose objects are flat maps of
//! string values, read in one forward scan with every string borrowed.
//!
//! Inside an event, a trade or a ticker, keys may come in any order and unknown keys are skipped,
//! as long as every value cbbook does not read is a plain string too (the exchange's tickers carry
//! a dozen such fields). Anything else (a number, `null`, a nested value, an escape, a key twice,
//! whitespace) answers `None` and the general parser takes the frame, so this path changes speed,
//! never results: property tests check that whatever it accepts, the general parser reads the
//! same way.
//!
//! The frame is checked to be UTF-8 once, up front (a trade frame is a few hundred bytes), so each
//! string value is a slice of it without a check of its own.

use std::borrow::Cow;

use super::Cursor;

/// The frame's text, for the string values (the scan itself works on its bytes).
type Frame<'a> = &'a str;
use crate::feed::protocol::{
    Envelope, RawTicker, RawTrade, ServerMessage, TickerEvent, TradesEvent,
};

/// Reads a `market_trades` frame, or `None` if it is not in the compact form.
pub fn trades(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let frame = std::str::from_utf8(bytes).ok()?;
    let mut c = Cursor::new(bytes);
    c.lit(br#"{"channel":"market_trades","#)?;
    let envelope = envelope(&mut c, frame)?;
    let events = list(&mut c, |c| {
        let (kind, trades) = event(c, frame, b"trades", trade)?;
        Some(TradesEvent { kind, trades })
    })?;
    finish(&mut c)?;
    Some(ServerMessage::Trades { envelope, events })
}

/// Reads a `ticker` or `ticker_batch` frame, or `None` if it is not in the compact form.
pub fn ticker(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let frame = std::str::from_utf8(bytes).ok()?;
    let mut c = Cursor::new(bytes);
    if c.lit(br#"{"channel":"ticker","#).is_none() {
        c.lit(br#"{"channel":"ticker_batch","#)?;
    }
    let envelope = envelope(&mut c, frame)?;
    let events = list(&mut c, |c| {
        let (kind, tickers) = event(c, frame, b"tickers", ticker_object)?;
        Some(TickerEvent { kind, tickers })
    })?;
    finish(&mut c)?;
    Some(ServerMessage::Ticker { envelope, events })
}

/// The envelope after the channel, up to and including `"events":[`.
fn envelope<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<Envelope<'a>> {
    let (sequence_num, timestamp) = c.envelope()?;
    Some(Envelope {
        sequence_num: Some(sequence_num),
        timestamp: Some(Cow::Borrowed(text_of(frame, timestamp)?)),
    })
}

/// `part` (a slice of `frame`'s bytes the scan found to be printable ASCII) as text, without
/// checking it again.
fn text_of<'a>(frame: Frame<'a>, part: &[u8]) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(frame.as_ptr() as usize)?;
    frame.get(start..start.checked_add(part.len())?)
}

/// The end of the frame: the events' closing bracket was read; the object closes, nothing after.
fn finish(c: &mut Cursor<'_>) -> Option<()> {
    c.lit(b"}")?;
    (c.at == c.bytes.len()).then_some(())
}

/// The items of a JSON array whose `[` was consumed, through its `]`.
fn list<'a, T>(
    c: &mut Cursor<'a>,
    mut item: impl FnMut(&mut Cursor<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    if c.lit(b"]").is_some() {
        return Some(Vec::new());
    }
    // Room for what a frame usually holds (one event, a few trades): allocated once.
    let mut items = Vec::with_capacity(4);
    loop {
        items.push(item(c)?);
        if c.lit(b",").is_none() {
            c.lit(b"]")?;
            return Some(items);
        }
    }
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

/// A string value (after the colon), borrowed from `frame`; `None` for anything else.
fn text<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<Cow<'a, str>> {
    c.lit(b"\"")?;
    body(c, frame)
}

/// Stores a field's value, refusing a key seen twice (the general parser refuses it too).
fn once<'a>(
    field: &mut Option<Cow<'a, str>>,
    c: &mut Cursor<'a>,
    frame: Frame<'a>,
) -> Option<bool> {
    if field.is_some() {
        return None;
    }
    *field = Some(text(c, frame)?);
    Some(true)
}

/// One event: `type` and the array named `items_key` of objects read by `item`.
fn event<'a, T>(
    c: &mut Cursor<'a>,
    frame: Frame<'a>,
    items_key: &[u8],
    item: fn(&mut Cursor<'a>, Frame<'a>) -> Option<T>,
) -> Option<(Cow<'a, str>, Vec<T>)> {
    let mut kind = None;
    let mut items = None;
    object(c, |c, key| {
        if key == b"type" {
            once(&mut kind, c, frame)
        } else if key == items_key {
            if items.is_some() {
                return None;
            }
            c.lit(b"[")?;
            items = Some(list(c, |c| item(c, frame))?);
            Some(true)
        } else {
            Some(false)
        }
    })?;
    Some((kind.unwrap_or_default(), items.unwrap_or_default()))
}

/// A string value whose opening quote was consumed, borrowed from `frame`.
#[inline]
fn body<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<Cow<'a, str>> {
    let start = c.at;
    let len = c.skip_string()?.len();
    // Printable ASCII (checked by the scan), so every index is a character boundary.
    Some(Cow::Borrowed(frame.get(start..start + len)?))
}

/// One trade: in the exchange's key order (docs/feed.md, "Trades") one literal per key, else any
/// order.
fn trade<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTrade<'a>> {
    let start = c.at;
    if let Some(trade) = trade_in_order(c, frame) {
        return Some(trade);
    }
    c.at = start;
    trade_any_order(c, frame)
}

fn trade_in_order<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTrade<'a>> {
    c.lit(br#"{"trade_id":""#)?;
    let trade_id = body(c, frame)?;
    c.lit(br#","product_id":""#)?;
    let product_id = body(c, frame)?;
    c.lit(br#","price":""#)?;
    let price = body(c, frame)?;
    c.lit(br#","size":""#)?;
    let size = body(c, frame)?;
    c.lit(br#","side":""#)?;
    let side = body(c, frame)?;
    c.lit(br#","time":""#)?;
    let time = body(c, frame)?;
    c.lit(b"}")?;
    Some(RawTrade {
        trade_id,
        product_id,
        price,
        size,
        side,
        time,
    })
}

/// One trade, keys in any order; every field is required, as in the general parser.
fn trade_any_order<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTrade<'a>> {
    let [
        mut trade_id,
        mut product_id,
        mut price,
        mut size,
        mut side,
        mut time,
    ] = [None, None, None, None, None, None];
    object(c, |c, key| match key {
        b"trade_id" => once(&mut trade_id, c, frame),
        b"product_id" => once(&mut product_id, c, frame),
        b"price" => once(&mut price, c, frame),
        b"size" => once(&mut size, c, frame),
        b"side" => once(&mut side, c, frame),
        b"time" => once(&mut time, c, frame),
        _ => Some(false),
    })?;
    Some(RawTrade {
        trade_id: trade_id?,
        product_id: product_id?,
        price: price?,
        size: size?,
        side: side?,
        time: time?,
    })
}

/// One ticker: in the exchange's key order one literal per key, else any order.
fn ticker_object<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTicker<'a>> {
    let start = c.at;
    if let Some(ticker) = ticker_in_order(c, frame) {
        return Some(ticker);
    }
    c.at = start;
    ticker_any_order(c, frame)
}

fn ticker_in_order<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTicker<'a>> {
    c.lit(br#"{"type":"ticker","product_id":""#)?;
    let product_id = body(c, frame)?;
    c.lit(br#","price":""#)?;
    let price = body(c, frame)?;
    c.lit(br#","volume_24_h":""#)?;
    let volume_24_h = body(c, frame)?;
    c.lit(br#","low_24_h":""#)?;
    let low_24_h = body(c, frame)?;
    c.lit(br#","high_24_h":""#)?;
    let high_24_h = body(c, frame)?;
    c.lit(br#","low_52_w":""#)?;
    c.skip_string()?;
    c.lit(br#","high_52_w":""#)?;
    c.skip_string()?;
    c.lit(br#","price_percent_chg_24_h":""#)?;
    let price_percent_chg_24_h = body(c, frame)?;
    for key in [
        &br#","best_bid":""#[..],
        br#","best_bid_quantity":""#,
        br#","best_ask":""#,
        br#","best_ask_quantity":""#,
    ] {
        c.lit(key)?;
        c.skip_string()?;
    }
    c.lit(b"}")?;
    Some(RawTicker {
        product_id,
        price: Some(price),
        volume_24_h: Some(volume_24_h),
        price_percent_chg_24_h: Some(price_percent_chg_24_h),
        high_24_h: Some(high_24_h),
        low_24_h: Some(low_24_h),
    })
}

/// One ticker, keys in any order; only `product_id` is required, as in the general parser.
fn ticker_any_order<'a>(c: &mut Cursor<'a>, frame: Frame<'a>) -> Option<RawTicker<'a>> {
    let mut product_id = None;
    let [mut price, mut volume, mut change, mut high, mut low] = [None, None, None, None, None];
    object(c, |c, key| match key {
        b"product_id" => once(&mut product_id, c, frame),
        b"price" => once(&mut price, c, frame),
        b"volume_24_h" => once(&mut volume, c, frame),
        b"price_percent_chg_24_h" => once(&mut change, c, frame),
        b"high_24_h" => once(&mut high, c, frame),
        b"low_24_h" => once(&mut low, c, frame),
        _ => Some(false),
    })?;
    Some(RawTicker {
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
        let frame = TICKER;
        assert!(
            ticker_in_order(&mut c, frame).is_some(),
            "the exchange's order"
        );
        let trade_at = TRADES.find(r#"{"trade_id""#).unwrap();
        let mut c = Cursor::new(TRADES.as_bytes());
        c.at = trade_at;
        assert!(
            trade_in_order(&mut c, TRADES).is_some(),
            "the exchange's order"
        );
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
