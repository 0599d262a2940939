//! Tests of the tapes: dedup, order, the aggressor rule, the side guard, exact numbers, and the
//! fast route for trade and ticker frames against the general one.

use super::*;
use crate::book::Price;
use crate::feed::core::FeedCore;
use crate::feed::protocol::RawTrade;

fn trade(id: &str, price: &str, size: &str, side: &str) -> TradeRow {
    trade_row(
        &RawTrade {
            trade_id: id.into(),
            product_id: "BTC-USD".into(),
            price: price.into(),
            size: size.into(),
            side: side.into(),
            time: "2026-12-04T10:00:00.123Z".into(),
        }
        .fields(),
        &mut TimestampCache::default(),
    )
    .unwrap()
}

#[test]
fn the_aggressor_is_the_side_opposite_the_maker() {
    assert_eq!(trade("1", "10", "1", "SELL").aggressor, Aggressor::Buy);
    assert_eq!(trade("1", "10", "1", "BUY").aggressor, Aggressor::Sell);
    assert_eq!(trade("1", "10", "1", "sell").aggressor, Aggressor::Buy);
    assert_eq!(Aggressor::from_maker_side("HOLD"), None);
}

#[test]
fn each_trade_id_is_kept_once_and_in_id_order() {
    let mut tape = MarketTape::default();
    assert!(tape.add(trade("10", "100", "1", "SELL"), 5));
    assert!(tape.add(trade("12", "101", "1", "SELL"), 5));
    assert!(tape.add(trade("11", "99", "1", "BUY"), 5), "late but new");
    assert!(!tape.add(trade("12", "101", "1", "SELL"), 5), "resent");
    let ids: Vec<&str> = tape.newest(10).map(|t| t.trade_id.as_str()).collect();
    assert_eq!(ids, ["10", "11", "12"]);
    assert_eq!(tape.total(), 3);
    // Numeric ids of different lengths sort as numbers.
    assert!(tape.add(trade("100", "100", "1", "SELL"), 5));
    assert_eq!(tape.newest(1).next().unwrap().trade_id, "100");
}

#[test]
fn a_full_tape_forgets_the_oldest_and_drops_what_is_older_still() {
    let mut tape = MarketTape::default();
    for id in 1..=5 {
        tape.add(trade(&id.to_string(), "100", "1", "SELL"), 3);
    }
    let ids: Vec<&str> = tape.newest(10).map(|t| t.trade_id.as_str()).collect();
    assert_eq!(ids, ["3", "4", "5"]);
    assert!(
        !tape.add(trade("1", "100", "1", "SELL"), 3),
        "forgotten, not news"
    );
    assert!(!tape.add(trade("2", "100", "1", "SELL"), 3));
    assert_eq!(tape.total(), 5);
}

#[test]
fn the_tick_follows_the_last_price() {
    let mut tape = MarketTape::default();
    tape.add(trade("1", "100", "1", "SELL"), 10);
    assert_eq!(tape.tick, PriceTick::Same);
    tape.add(trade("2", "101", "1", "SELL"), 10);
    assert_eq!(tape.tick, PriceTick::Up);
    tape.add(trade("3", "101", "1", "SELL"), 10);
    assert_eq!(
        tape.tick,
        PriceTick::Up,
        "an unchanged price keeps the direction"
    );
    tape.add(trade("4", "99.5", "1", "BUY"), 10);
    assert_eq!(tape.tick, PriceTick::Down);
}

#[test]
fn notional_and_minute_volume_are_exact() {
    let t = trade("1", "64930.57", "0.03710506", "SELL");
    assert_eq!(t.notional().to_string(), "2409.2526956842");
    let mut tape = MarketTape::default();
    tape.add(t, 10);
    tape.add(trade("2", "64930.57", "0.1", "BUY"), 10);
    assert_eq!(
        tape.view(false, 0, None, None).bought_1m,
        Decimal::ZERO,
        "not on screen"
    );
    let view = tape.view(true, 10, None, None);
    assert_eq!(view.bought_1m.to_string(), "0.03710506");
    assert_eq!(view.sold_1m.to_string(), "0.1");
    assert_eq!(view.tape[0].trade_id, "2", "newest first");
    assert_eq!(view.last_trade.unwrap().trade_id, "2");
}

#[test]
fn volume_at_price_groups_at_the_bucket() {
    let mut tape = MarketTape::default();
    tape.add(trade("1", "100.01", "1", "SELL"), 10);
    tape.add(trade("2", "100.09", "2", "BUY"), 10);
    tape.add(trade("3", "100.10", "4", "SELL"), 10);
    // Below the mid, bid buckets by their low price.
    let rows = tape
        .view(
            true,
            0,
            Some(Decimal::new(10, 2)),
            Some(Decimal::new(200, 0)),
        )
        .volume_at_price;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].price.to_string(), "100.10");
    assert_eq!(
        (rows[0].bought, rows[0].sold),
        (Decimal::new(4, 0), Decimal::ZERO)
    );
    assert_eq!(rows[1].price.to_string(), "100.00");
    assert_eq!((rows[1].bought, rows[1].sold), (Decimal::ONE, Decimal::TWO));
    // Above it, ask buckets by their high price.
    let rows = tape
        .view(
            true,
            0,
            Some(Decimal::new(10, 2)),
            Some(Decimal::new(50, 0)),
        )
        .volume_at_price;
    assert_eq!(
        rows.len(),
        1,
        "100.01, 100.09 and 100.10 are all in (100.00, 100.10]"
    );
    assert_eq!(rows[0].price.to_string(), "100.10");
}

#[test]
fn one_price_written_two_ways_is_one_row_of_volume() {
    let mut tape = MarketTape::default();
    tape.add(trade("1", "100.5", "1", "SELL"), 10);
    tape.add(trade("2", "100.50", "2", "SELL"), 10);
    tape.add(trade("3", "99", "1", "BUY"), 10);
    tape.add(trade("4", "101", "1", "BUY"), 10);
    let rows = tape
        .view(true, 0, Some(Decimal::ZERO), None)
        .volume_at_price;
    let rows: Vec<(String, Decimal, Decimal)> = rows
        .iter()
        .map(|r| (r.price.normalize().to_string(), r.bought, r.sold))
        .collect();
    assert_eq!(
        rows,
        [
            ("101".to_string(), Decimal::ZERO, Decimal::ONE),
            ("100.5".to_string(), Decimal::new(3, 0), Decimal::ZERO),
            ("99".to_string(), Decimal::ZERO, Decimal::ONE),
        ],
        "highest price first, 100.5 and 100.50 together"
    );
}

#[test]
fn the_big_size_is_the_95th_percentile() {
    let mut tape = MarketTape::default();
    for i in 1..=100 {
        tape.add(trade(&i.to_string(), "100", &i.to_string(), "SELL"), 1000);
    }
    assert_eq!(
        tape.view(true, 5, None, None).big_size,
        Some(Decimal::new(95, 0))
    );
    assert_eq!(
        MarketTape::default().view(true, 5, None, None).big_size,
        None
    );
}

#[test]
fn the_guard_calls_a_feed_with_taker_sides_inverted() {
    let units = |p: &str| Price::parse(p).ok().map(Price::units);
    let (bid, ask) = (units("99"), units("101"));
    let mut maker = MarketTape::default();
    let mut taker = MarketTape::default();
    for i in 0..60 {
        // Lifting the ask: the maker sold. A feed of taker sides says BUY.
        let right = trade(&i.to_string(), "101", "1", "SELL");
        let wrong = trade(&i.to_string(), "101", "1", "BUY");
        maker.judge(vote(&right, bid, ask));
        taker.judge(vote(&wrong, bid, ask));
        // Inside the spread: no vote.
        taker.judge(vote(&trade(&i.to_string(), "100", "1", "SELL"), bid, ask));
    }
    assert!(!maker.sides_look_inverted());
    assert!(taker.sides_look_inverted());
    let mut few = MarketTape::default();
    for i in 0..10 {
        few.judge(vote(&trade(&i.to_string(), "101", "1", "BUY"), bid, ask));
    }
    assert!(!few.sides_look_inverted(), "too few trades to judge");
}

#[test]
fn bad_trades_say_what_is_wrong() {
    let mut raw = RawTrade {
        trade_id: "7".into(),
        product_id: "BTC-USD".into(),
        price: "abc".into(),
        size: "1".into(),
        side: "SELL".into(),
        time: "2026-12-04T10:00:00Z".into(),
    };
    assert!(
        trade_row(&raw.fields(), &mut TimestampCache::default())
            .unwrap_err()
            .contains("price `abc`")
    );
    raw.price = "0".into();
    assert!(
        trade_row(&raw.fields(), &mut TimestampCache::default())
            .unwrap_err()
            .contains("positive")
    );
    raw.price = "1".into();
    raw.side = "UP".into();
    assert!(
        trade_row(&raw.fields(), &mut TimestampCache::default())
            .unwrap_err()
            .contains("side `UP`")
    );
}

#[test]
fn the_guard_reads_prices_finer_than_the_book_as_decimals() {
    let units = |p: &str| Price::parse(p).ok().map(Price::units);
    let (bid, ask) = (units("99"), units("101"));
    // 13 decimals: not in the book's units, compared as a decimal.
    let above = trade("1", "101.0000000000001", "1", "SELL");
    assert_eq!(book_units(above.price), None);
    assert_eq!(vote(&above, bid, ask), Some(true));
    let below = trade("2", "98.9999999999999", "1", "SELL");
    assert_eq!(vote(&below, bid, ask), Some(false));
    let inside = trade("3", "100.0000000000001", "1", "SELL");
    assert_eq!(vote(&inside, bid, ask), None);
    assert_eq!(
        vote(&trade("4", "101.000", "1", "SELL"), bid, ask),
        Some(true)
    );
}

#[test]
fn a_frame_s_trades_are_kept_in_id_order_then_time_order() {
    let mut c = FeedCore::new("t", &["ETH-USD".to_owned()], false, 0);
    c.connection_started(0, false);
    let frame = |seq: u64, trades: &[(&str, &str, &str)]| {
        let trades: Vec<String> = trades
            .iter()
            .map(|(id, price, time)| format!(r#"{{"trade_id":"{id}","product_id":"ETH-USD","price":"{price}","size":"1","side":"SELL","time":"2026-12-04T10:00:{time}Z"}}"#))
            .collect();
        format!(
            r#"{{"channel":"market_trades","client_id":"","timestamp":"2026-12-04T10:00:09Z","sequence_num":{seq},"events":[{{"type":"update","trades":[{}]}}]}}"#,
            trades.join(",")
        )
    };
    // In id order, as the exchange sends them; then newest first; then one id twice, the
    // later time first: the earlier is the one kept.
    c.on_frame(&frame(0, &[("8", "10", "01"), ("9", "11", "02")]), 1);
    c.on_frame(&frame(1, &[("11", "13", "04"), ("10", "12", "03")]), 2);
    c.on_frame(&frame(2, &[("12", "15", "06"), ("12", "14", "05")]), 3);
    let kept: Vec<(String, String)> = c.books[0]
        .market
        .newest(10)
        .map(|t| (t.trade_id.to_string(), t.price.to_string()))
        .collect();
    let expected = [
        ("8", "10"),
        ("9", "11"),
        ("10", "12"),
        ("11", "13"),
        ("12", "14"),
    ];
    assert_eq!(kept, expected.map(|(id, p)| (id.to_owned(), p.to_owned())));
    assert_eq!(c.stats().trades, 5);
}

mod properties {
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::super::{PriceKey, book_units, exact, plain_decimal, price_order};

    /// Number text: mostly what the exchange prints, sometimes what it does not.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[0-9]{1,12}(\\.[0-9]{1,12})?",
            1 => "[0-9]{15,22}(\\.[0-9]{0,10})?",
            1 => "[-+]?[0-9._]{0,8}",
            1 => "[0-9]{0,3}\\.[0-9]{0,3}e?[0-9]?",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn numbers_read_exactly_as_decimal_parses_them(text in number()) {
            let parsed: Option<Decimal> = text.parse().ok();
            let read = exact(text.as_bytes());
            // The same value, mantissa and scale (`serialize` is the whole representation).
            prop_assert_eq!(read.map(|d| d.serialize()), parsed.map(|d| d.serialize()), "{}", text);
            if let Some(fast) = plain_decimal(text.as_bytes()) {
                prop_assert_eq!(Some(fast.serialize()), parsed.map(|d| d.serialize()));
            }
        }

        #[test]
        fn price_keys_and_order_agree_with_decimal(a in number(), b in number()) {
            let (Ok(a), Ok(b)) = (a.parse::<Decimal>(), b.parse::<Decimal>()) else {
                return Ok(());
            };
            prop_assert_eq!(PriceKey::of(a) == PriceKey::of(b), a == b, "{} {}", a, b);
            prop_assert_eq!(price_order(a, b), a.cmp(&b), "{} {}", a, b);
            // One value written with more zeros is one key and one place.
            if let Some(wider) = a.checked_mul(Decimal::new(1000, 3)) {
                prop_assert_eq!(PriceKey::of(wider), PriceKey::of(a));
            }
            if let (Some(units), Ok(price)) = (book_units(a), crate::book::Price::from_decimal(a)) {
                prop_assert_eq!(units, price.units());
            }
        }
    }
}

/// The core's route for trades and tickers (the fast path's batches, trades kept in frame
/// order when they come in id order) against the serde path with every frame's trades sorted:
/// the same tapes, tickers, volume, guard, events, counters and dump, frame after frame.
mod routes {
    use proptest::prelude::*;

    use super::super::PriceKey;
    use crate::feed::core::FeedCore;
    use crate::feed::core::tap::Tapped;
    use crate::feed::core::test_frames::l2;

    /// A JSON string value: mostly as the exchange writes it, sometimes with an escape (which
    /// only the serde path reads).
    fn quoted(values: &'static [&'static str]) -> impl Strategy<Value = String> {
        (prop::sample::select(values), 0..24u8).prop_map(|(v, escape)| {
            if escape == 0 && !v.is_empty() {
                format!("\"\\u{:04x}{}\"", u32::from(v.as_bytes()[0]), &v[1..])
            } else {
                format!("\"{v}\"")
            }
        })
    }

    /// An object of `fields` (name, value), in that order or rotated.
    fn object(fields: Vec<(&'static str, String)>, rotate: usize) -> String {
        let mut parts: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let len = parts.len().max(1);
        parts.rotate_left(rotate % len);
        format!("{{{}}}", parts.join(","))
    }

    /// `ETH-USD` feeds one book; `BTC-USD` one, or two with the alias; `SOL-USD` none.
    const PRODUCTS: &[&str] = &[
        "ETH-USD", "ETH-USD", "ETH-USD", "BTC-USD", "BTC-USD", "BTC-USDC", "SOL-USD",
    ];
    /// Numbers, one in six not one the core takes.
    const NUMBERS: &[&str] = &[
        "100",
        "101",
        "99.5",
        "100.50",
        "101.000",
        "0.5",
        "2.00000001",
        "102",
        "100",
        "101",
        "99",
        "1.5",
        "3",
        "0.25",
        "100.5",
        "98",
        "101.5",
        "1e2",
        "0",
        "-1",
        "abc",
        "",
    ];

    /// A trade for `product` (or, now and then, another), with id `id`.
    fn trade(product: &'static str, id: String) -> impl Strategy<Value = String> {
        (
            prop_oneof![5 => Just(format!("\"{product}\"")), 1 => quoted(PRODUCTS)],
            quoted(NUMBERS),
            quoted(NUMBERS),
            quoted(&["BUY", "SELL", "SELL", "BUY", "BUY", "SELL", "sell", "HOLD"]),
            quoted(&[
                "2026-12-04T10:00:00.123Z",
                "2026-12-04T10:00:01Z",
                "2026-12-04T10:00:00.5Z",
                "2026-12-04T10:00:00.123Z",
                "2026-12-04T10:00:02Z",
                "2026-12-04T10:00:00.9Z",
                "2026-12-04T10:00:01.5Z",
                "later",
            ]),
            prop_oneof![6 => Just(0usize), 1 => 1..6usize],
        )
            .prop_map(move |(product, price, size, side, time, rotate)| {
                object(
                    vec![
                        ("trade_id", format!("\"{id}\"")),
                        ("product_id", product),
                        ("price", price),
                        ("size", size),
                        ("side", side),
                        ("time", time),
                    ],
                    rotate,
                )
            })
    }

    /// A frame's trades: mostly one product, ids mostly rising (as the exchange sends
    /// them), now and then repeated, falling, or not numbers.
    fn trades() -> impl Strategy<Value = Vec<String>> {
        // Up one or two mostly; the same id again, or down, now and then.
        let step = prop_oneof![4 => 1i32..3, 2 => Just(0), 1 => -2i32..0];
        let head = prop::sample::select(&["", "", "", "", "0", "x"][..]);
        let steps = prop::collection::vec((step, head), 0..5);
        (prop::sample::select(PRODUCTS), 0i32..12, steps).prop_flat_map(
            |(product, first, steps)| {
                let mut id = first;
                let ids: Vec<String> = steps
                    .into_iter()
                    .map(|(step, head)| {
                        id = (id + step).max(0);
                        format!("{head}{id}")
                    })
                    .collect();
                ids.into_iter()
                    .map(|id| trade(product, id))
                    .collect::<Vec<_>>()
            },
        )
    }

    fn ticker() -> impl Strategy<Value = String> {
        (
            quoted(PRODUCTS),
            prop::collection::vec((any::<bool>(), quoted(NUMBERS)), 5),
            prop_oneof![4 => Just(0usize), 1 => 1..8usize],
        )
            .prop_map(|(product, numbers, rotate)| {
                let names = [
                    "price",
                    "volume_24_h",
                    "low_24_h",
                    "high_24_h",
                    "price_percent_chg_24_h",
                ];
                let mut fields = vec![("type", "\"ticker\"".to_owned()), ("product_id", product)];
                for (name, (kept, value)) in names.into_iter().zip(numbers) {
                    if kept {
                        fields.push((name, value));
                    }
                }
                fields.push(("best_bid", "\"100\"".to_owned()));
                object(fields, rotate)
            })
    }

    /// A frame with `{SEQ}` where its sequence number goes.
    fn frame() -> impl Strategy<Value = String> {
        let kind = prop::sample::select(&["update", "snapshot"][..]);
        prop_oneof![
            4 => (trades(), kind.clone()).prop_map(|(trades, kind)| format!(
                r#"{{"channel":"market_trades","client_id":"","timestamp":"2026-12-04T10:00:02Z","sequence_num":{{SEQ}},"events":[{{"type":"{kind}","trades":[{}]}}]}}"#,
                trades.join(",")
            )),
            2 => (prop::collection::vec(ticker(), 0..3), kind).prop_map(|(tickers, kind)| format!(
                r#"{{"channel":"ticker","client_id":"","timestamp":"2026-12-04T10:00:02Z","sequence_num":{{SEQ}},"events":[{{"type":"{kind}","tickers":[{}]}}]}}"#,
                tickers.join(",")
            )),
            1 => (95u32..106, 95u32..106).prop_map(|(bid, ask)| l2(0, "update", "BTC-USD", &[
                ("bid", &bid.to_string(), "1"), ("offer", &ask.to_string(), "1")
            ]).replace(r#""sequence_num":0"#, r#""sequence_num":{SEQ}"#)),
        ]
    }

    /// What a core holds of trades and tickers, every book: the tape, the count, the tick,
    /// the ticker, the guard's tallies and the volume at each price (exact, by key).
    fn markets(core: &FeedCore) -> Vec<String> {
        core.books
            .iter()
            .map(|p| {
                let m = &p.market;
                let mut volume: Vec<(u128, [[u8; 16]; 3])> = m
                    .volume
                    .iter()
                    .map(|(PriceKey(k), (price, bought, sold))| {
                        (
                            *k,
                            [price.serialize(), bought.serialize(), sold.serialize()],
                        )
                    })
                    .collect();
                volume.sort_unstable();
                format!(
                    "{:?} {} {:?} {:?} {} {} {:?}",
                    m.kept,
                    m.total,
                    m.tick,
                    m.ticker.get(),
                    m.agree,
                    m.disagree,
                    volume
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn trades_and_tickers_apply_as_the_serde_path_reads_them(
            frames in prop::collection::vec(frame(), 1..14), kept in 1..6usize, alias in any::<bool>(),
        ) {
            // With `BTC-USDC` too, a `BTC-USD` trade feeds two books.
            let products: Vec<String> = ["BTC-USD", "ETH-USD", "BTC-USDC"][..if alias { 3 } else { 2 }]
                .iter()
                .map(|p| p.to_string())
                .collect();
            let start = |core: &mut FeedCore| {
                core.connection_started(0, false);
                core.set_tap(true);
                core.set_trades_kept(kept);
            };
            let (mut fast, mut general) =
                (FeedCore::new("t", &products, false, 0), FeedCore::new("t", &products, false, 0));
            start(&mut fast);
            start(&mut general);
            general.trade_work.sort_always = true;
            let snapshot = l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1"), ("offer", "101", "1")]);
            fast.on_frame(&snapshot, 1);
            general.on_frame_general(&snapshot, 1);
            for (i, frame) in frames.iter().enumerate() {
                let frame = frame.replace("{SEQ}", &(i + 1).to_string());
                let at = 2 + i as i64;
                prop_assert_eq!(fast.on_frame(&frame, at), general.on_frame_general(&frame, at), "{}", frame);
            }
            prop_assert_eq!(markets(&fast), markets(&general));
            prop_assert_eq!(fast.dump_books(), general.dump_books());
            prop_assert_eq!(format!("{:?}", fast.stats()), format!("{:?}", general.stats()));
            let events = |core: &mut FeedCore| format!("{:?}", core.drain_events().collect::<Vec<_>>());
            prop_assert_eq!(events(&mut fast), events(&mut general));
            let tapped = |core: &mut FeedCore| {
                let mut rows: Vec<Tapped> = Vec::new();
                core.take_tapped(&mut rows);
                rows
            };
            prop_assert_eq!(tapped(&mut fast), tapped(&mut general));
        }
    }
}
