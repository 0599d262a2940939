//! Table-driven cases for the exact L2 book: levels, deletes, scales, tick, grouping, errors.

// Test helpers too: a failed unwrap is a failed test.

use std::str::FromStr;

use cbbook::book::{Book, BookError, Price, Side, Size};
use cbbook::feed::events::LevelRow;
use rust_decimal::Decimal;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn book(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> Book {
    let mut book = Book::new();
    for &(p, q) in bids {
        book.apply(Side::Bid, p, q).unwrap();
    }
    for &(p, q) in asks {
        book.apply(Side::Ask, p, q).unwrap();
    }
    book
}

fn rows(rows: &[LevelRow]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|r| {
            (
                r.price.to_string(),
                r.size.to_string(),
                r.cum_size.to_string(),
            )
        })
        .collect()
}

fn dump(book: &Book, side: Side) -> Vec<(String, String)> {
    book.dump_side(side)
        .into_iter()
        .map(|[p, s]| (p, s))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|&(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn updates_set_replace_and_delete_levels() {
    struct Case {
        name: &'static str,
        ops: &'static [(Side, &'static str, &'static str)],
        bids: &'static [(&'static str, &'static str)],
        asks: &'static [(&'static str, &'static str)],
    }
    use Side::{Ask, Bid};
    let cases = [
        Case {
            name: "scale variants are one level",
            ops: &[
                (Bid, "64930.5", "1"),
                (Bid, "64930.50", "2"),
                (Bid, "64930.500", "3.10"),
            ],
            bids: &[("64930.5", "3.1")],
            asks: &[],
        },
        Case {
            name: "zero removes, whatever its scale and the price's",
            ops: &[
                (Ask, "1.5", "1"),
                (Ask, "2", "1"),
                (Ask, "1.50", "0.00000000"),
                (Ask, "2.000", "0"),
            ],
            bids: &[],
            asks: &[],
        },
        Case {
            name: "removing an absent level is harmless",
            ops: &[
                (Bid, "10", "1"),
                (Bid, "11", "0"),
                (Ask, "11", "0"),
                (Bid, "10.1", "0"),
            ],
            bids: &[("10", "1")],
            asks: &[],
        },
        Case {
            name: "quantity is absolute, not a delta",
            ops: &[(Bid, "10", "5"), (Bid, "10", "2")],
            bids: &[("10", "2")],
            asks: &[],
        },
        Case {
            name: "best first on each side, interleaved",
            ops: &[
                (Bid, "99.5", "1"),
                (Ask, "101", "1"),
                (Bid, "100", "2"),
                (Ask, "100.5", "2"),
                (Bid, "98", "3"),
                (Ask, "102.25", "3"),
            ],
            bids: &[("100", "2"), ("99.5", "1"), ("98", "3")],
            asks: &[("100.5", "2"), ("101", "1"), ("102.25", "3")],
        },
        Case {
            name: "sides are independent",
            ops: &[(Bid, "100", "1"), (Ask, "100", "2"), (Ask, "100", "0")],
            bids: &[("100", "1")],
            asks: &[],
        },
        Case {
            name: "extreme values print plainly",
            ops: &[
                (Ask, "138991023.41", "0.00000001"),
                (Bid, "0.000000000001", "999999999999999.999999999999"),
            ],
            bids: &[("0.000000000001", "999999999999999.999999999999")],
            asks: &[("138991023.41", "0.00000001")],
        },
    ];
    for case in cases {
        let mut book = Book::new();
        for &(side, price, qty) in case.ops {
            book.apply(side, price, qty).unwrap();
        }
        assert_eq!(dump(&book, Side::Bid), pairs(case.bids), "{}", case.name);
        assert_eq!(dump(&book, Side::Ask), pairs(case.asks), "{}", case.name);
        assert_eq!(book.len(Side::Bid), case.bids.len(), "{}", case.name);
        assert_eq!(book.len(Side::Ask), case.asks.len(), "{}", case.name);
        assert_eq!(
            book.is_empty(),
            case.bids.is_empty() && case.asks.is_empty(),
            "{}",
            case.name
        );
    }
}

#[test]
fn touch_spread_mid_and_crossing() {
    struct Case {
        bid: Option<&'static str>,
        ask: Option<&'static str>,
        spread: Option<&'static str>,
        mid: Option<&'static str>,
        crossed: bool,
    }
    let cases = [
        Case {
            bid: None,
            ask: None,
            spread: None,
            mid: None,
            crossed: false,
        },
        Case {
            bid: Some("100"),
            ask: None,
            spread: None,
            mid: None,
            crossed: false,
        },
        Case {
            bid: None,
            ask: Some("100"),
            spread: None,
            mid: None,
            crossed: false,
        },
        Case {
            bid: Some("64930.57"),
            ask: Some("64934.09"),
            spread: Some("3.52"),
            mid: Some("64932.33"),
            crossed: false,
        },
        Case {
            bid: Some("1.01"),
            ask: Some("1.02"),
            spread: Some("0.01"),
            mid: Some("1.015"),
            crossed: false,
        },
        Case {
            bid: Some("0.010000000001"),
            ask: Some("0.010000000002"),
            spread: Some("0.000000000001"),
            mid: Some("0.0100000000015"),
            crossed: false,
        },
        Case {
            bid: Some("100"),
            ask: Some("100.0"),
            spread: Some("0"),
            mid: Some("100"),
            crossed: true,
        },
        Case {
            bid: Some("101.5"),
            ask: Some("100"),
            spread: Some("-1.5"),
            mid: Some("100.75"),
            crossed: true,
        },
        Case {
            bid: Some("999999999999998.999999999999"),
            ask: Some("999999999999999.999999999998"),
            spread: Some("0.999999999999"),
            mid: Some("999999999999999.4999999999985"),
            crossed: false,
        },
    ];
    for case in cases {
        let mut book = Book::new();
        if let Some(p) = case.bid {
            book.apply(Side::Bid, p, "1.5").unwrap();
            book.apply(Side::Bid, "0.01", "7").unwrap();
        }
        if let Some(p) = case.ask {
            book.apply(Side::Ask, p, "2.5").unwrap();
            book.apply(Side::Ask, "999999999999999.999999999999", "7")
                .unwrap();
        }
        let label = format!("bid {:?} ask {:?}", case.bid, case.ask);
        assert_eq!(
            book.best_bid(),
            case.bid.map(|p| (d(p), d("1.5"))),
            "{label}"
        );
        assert_eq!(
            book.best_ask(),
            case.ask.map(|p| (d(p), d("2.5"))),
            "{label}"
        );
        // Exact and printed canonically, not just numerically equal.
        assert_eq!(
            book.spread().map(|x| x.to_string()).as_deref(),
            case.spread,
            "{label}"
        );
        assert_eq!(
            book.mid().map(|x| x.to_string()).as_deref(),
            case.mid,
            "{label}"
        );
        assert_eq!(book.is_crossed(), case.crossed, "{label}");
    }
}

#[test]
fn tick_follows_the_finest_normalised_price_scale_since_clear() {
    let mut book = Book::new();
    assert_eq!(book.tick(), d("1"));
    let steps: &[(Side, &str, &str, &str)] = &[
        (Side::Bid, "64930", "1", "1"),
        (Side::Bid, "64930.50", "1", "0.1"), // trailing zero does not count
        (Side::Ask, "64931.0000", "1", "0.1"),
        (Side::Ask, "64931.25", "0", "0.01"), // a removal's price counts too
        (Side::Bid, "0.00000001", "1", "0.00000001"),
        (Side::Bid, "5", "1", "0.00000001"), // never coarser again until clear
    ];
    for &(side, price, qty, tick) in steps {
        book.apply(side, price, qty).unwrap();
        assert_eq!(book.tick().to_string(), tick, "after {price}");
    }
    book.clear();
    assert_eq!(book.tick(), d("1"));
    assert!(book.is_empty());
    book.apply(Side::Ask, "3.5", "1").unwrap();
    assert_eq!(book.tick().to_string(), "0.1");
}

#[test]
fn top_groups_exactly_and_accumulates_from_the_best() {
    type Row = (&'static str, &'static str, &'static str);
    struct Case {
        name: &'static str,
        side: Side,
        levels: &'static [(&'static str, &'static str)],
        depth: usize,
        group: u32,
        expect: &'static [Row],
    }
    let bids: &[(&str, &str)] = &[
        ("100.07", "1"),
        ("100.03", "2"),
        ("100", "0.5"),
        ("99.99", "3"),
        ("99.5", "4"),
        ("97.01", "0.25"),
    ];
    let asks: &[(&str, &str)] = &[
        ("100.11", "1"),
        ("100.19", "2"),
        ("100.2", "3"),
        ("100.21", "4"),
        ("103", "0.00000001"),
    ];
    let cases = [
        Case {
            name: "bids ungrouped",
            side: Side::Bid,
            levels: bids,
            depth: 3,
            group: 1,
            expect: &[
                ("100.07", "1", "1"),
                ("100.03", "2", "3"),
                ("100", "0.5", "3.5"),
            ],
        },
        Case {
            name: "group 0 is group 1",
            side: Side::Bid,
            levels: bids,
            depth: 2,
            group: 0,
            expect: &[("100.07", "1", "1"), ("100.03", "2", "3")],
        },
        Case {
            name: "bids round down into 0.1 buckets",
            side: Side::Bid,
            levels: bids,
            depth: 10,
            group: 10,
            expect: &[
                ("100", "3.5", "3.5"),
                ("99.9", "3", "6.5"),
                ("99.5", "4", "10.5"),
                ("97", "0.25", "10.75"),
            ],
        },
        Case {
            name: "bids in 1.00 buckets, cut at depth",
            side: Side::Bid,
            levels: bids,
            depth: 2,
            group: 100,
            expect: &[("100", "3.5", "3.5"), ("99", "7", "10.5")],
        },
        Case {
            name: "asks round up into 0.1 buckets",
            side: Side::Ask,
            levels: asks,
            depth: 10,
            group: 10,
            expect: &[
                ("100.2", "6", "6"),
                ("100.3", "4", "10"),
                ("103", "0.00000001", "10.00000001"),
            ],
        },
        Case {
            name: "asks in 0.07 buckets (not a power of ten)",
            side: Side::Ask,
            levels: asks,
            depth: 10,
            group: 7,
            expect: &[
                ("100.17", "1", "1"),
                ("100.24", "9", "10"),
                ("103.04", "0.00000001", "10.00000001"),
            ],
        },
        Case {
            name: "one huge bucket holds the whole side",
            side: Side::Ask,
            levels: asks,
            depth: 5,
            group: 1_000_000,
            expect: &[("10000", "10.00000001", "10.00000001")],
        },
        Case {
            name: "depth 0",
            side: Side::Ask,
            levels: asks,
            depth: 0,
            group: 1,
            expect: &[],
        },
        Case {
            name: "empty side",
            side: Side::Bid,
            levels: &[],
            depth: 5,
            group: 3,
            expect: &[],
        },
    ];
    for case in cases {
        let book = match case.side {
            Side::Bid => book(case.levels, &[]),
            Side::Ask => book(&[], case.levels),
        };
        let expect: Vec<(String, String, String)> = case
            .expect
            .iter()
            .map(|&(p, s, c)| (p.to_string(), s.to_string(), c.to_string()))
            .collect();
        assert_eq!(
            rows(&book.top(case.side, case.depth, case.group)),
            expect,
            "{}",
            case.name
        );
    }
}

#[test]
fn bad_numbers_are_errors_and_leave_the_book_unchanged() {
    let garbage = [
        "",
        ".",
        "1.2.3",
        "-1",
        "1e5",
        " 1",
        "1 ",
        "NaN",
        "+1",
        "0x10",
        "1_000",
        "١٢",
        "0.0000000000001",
        "1000000000000000",
        "12345678901234567890123456789012345678901234567890",
    ];
    let mut book = book(&[("100", "1")], &[("101", "2")]);
    let before = (
        book.dump_side(Side::Bid),
        book.dump_side(Side::Ask),
        book.tick(),
    );
    for text in garbage {
        let as_price = book.apply(Side::Bid, text, "1");
        let as_size = book.apply(Side::Ask, "101", text);
        assert!(as_price.is_err(), "price {text:?} accepted");
        assert!(as_size.is_err(), "size {text:?} accepted");
        assert!(
            Price::parse(text).is_err() && Size::parse(text).is_err(),
            "{text:?}"
        );
        let message = as_price.unwrap_err().to_string();
        assert!(message.starts_with("price "), "{message}");
        let message = as_size.unwrap_err().to_string();
        assert!(message.starts_with("size "), "{message}");
    }
    assert_eq!(
        (
            book.dump_side(Side::Bid),
            book.dump_side(Side::Ask),
            book.tick()
        ),
        before
    );
    assert!(matches!(
        Price::parse("-1"),
        Err(BookError::Negative { .. })
    ));
    assert!(matches!(
        Price::parse("1e5"),
        Err(BookError::Malformed { .. })
    ));
    assert!(matches!(
        Size::parse("0.1234567890123"),
        Err(BookError::TooManyDecimals { .. })
    ));
    assert!(matches!(
        Size::parse("1000000000000000"),
        Err(BookError::TooLarge { .. })
    ));
}

#[test]
fn side_totals_stay_within_exact_sums() {
    let max = "999999999999999.999999999999";
    let mut book = Book::new();
    // 79 maximal sizes fit below 2^96 units; the 80th would not.
    for i in 1..=79 {
        book.apply(Side::Ask, &i.to_string(), max).unwrap();
    }
    let err = book.apply(Side::Ask, "80", max).unwrap_err();
    assert_eq!(err, BookError::SideTotalTooLarge { side: Side::Ask });
    assert!(err.to_string().contains("ask side"), "{err}");
    assert_eq!(book.len(Side::Ask), 79);
    // Replacing a level counts the difference, not the sum.
    book.apply(Side::Ask, "79", max).unwrap();
    book.apply(Side::Ask, "79", "1").unwrap();
    book.apply(Side::Ask, "80", "1").unwrap();
    // The other side is independent.
    book.apply(Side::Bid, "1", max).unwrap();
    let top = book.top(Side::Ask, 100, 1);
    assert_eq!(top.len(), 80);
    let expected_cum = d(max) * Decimal::from(78) + Decimal::from(2);
    assert_eq!(top[79].cum_size, expected_cum);
    assert_eq!(
        top[79].cum_size.to_string(),
        "78000000000000001.999999999922"
    );
    // Removing frees room again.
    book.apply(Side::Ask, "1", "0").unwrap();
    book.apply(Side::Ask, "81", max).unwrap();
}

#[test]
fn fixed_point_path_matches_the_string_path() {
    let mut by_text = Book::new();
    let mut by_value = Book::new();
    let updates = [
        (Side::Bid, "64930.57", "0.07705309"),
        (Side::Bid, "64930.5", "1.5"),
        (Side::Ask, "64934.09", "0.2"),
        (Side::Bid, "64930.50", "0"),
        (Side::Ask, "64934.1", "3"),
    ];
    for (side, p, q) in updates {
        by_text.apply(side, p, q).unwrap();
        let (price, size) = (Price::parse(p).unwrap(), Size::parse(q).unwrap());
        assert_eq!(
            (price.to_string(), size.to_decimal()),
            (d(p).normalize().to_string(), d(q))
        );
        by_value.apply_level(side, price, size).unwrap();
    }
    for side in [Side::Bid, Side::Ask] {
        assert_eq!(by_text.dump_side(side), by_value.dump_side(side));
        let fixed: Vec<(Price, Size)> = by_text.levels_fixed(side).collect();
        let decimal: Vec<(Decimal, Decimal)> = by_text.levels(side).collect();
        let converted: Vec<(Decimal, Decimal)> = fixed
            .iter()
            .map(|(p, s)| (p.to_decimal(), s.to_decimal()))
            .collect();
        assert_eq!(converted, decimal);
        assert_eq!(by_text.best_level(side), fixed.first().copied());
    }
    assert_eq!(by_text.tick(), by_value.tick());
    assert_eq!(by_text.tick().to_string(), "0.01");
}

#[test]
fn load_snapshot_refuses_an_unsummable_side_and_keeps_the_book() {
    let max = Size::parse("999999999999999.999999999999").unwrap();
    let mut book = book(&[("100", "1")], &[("101.5", "2")]);
    let before = (
        book.dump_side(Side::Bid),
        book.dump_side(Side::Ask),
        book.tick(),
    );
    let too_much: Vec<_> = (1..=80u32)
        .map(|i| (Side::Bid, Price::parse(&i.to_string()).unwrap(), max))
        .chain([(Side::Ask, Price::parse("200.25").unwrap(), max)])
        .collect();
    assert_eq!(
        book.load_snapshot(too_much.clone()),
        Err(BookError::SideTotalTooLarge { side: Side::Bid })
    );
    assert_eq!(
        (
            book.dump_side(Side::Bid),
            book.dump_side(Side::Ask),
            book.tick()
        ),
        before
    );
    // Removing one of them in the same snapshot makes it fit: the last word on a price wins.
    let mut fits = too_much;
    fits.push((Side::Bid, Price::parse("80.0").unwrap(), Size::ZERO));
    book.load_snapshot(fits).unwrap();
    assert_eq!(book.len(Side::Bid), 79);
    assert_eq!(book.best_bid().unwrap().0, d("79"));
    assert_eq!(book.best_ask().unwrap().0, d("200.25"));
    assert_eq!(book.tick(), d("0.01"));
}

/// A price of zero is bad data, refused like a negative one, in every way into the book (an
/// update, a removal, an already-parsed level, a snapshot), and the book is left as it was.
#[test]
fn a_zero_price_is_refused_and_leaves_the_book_unchanged() {
    let mut book = book(&[("100", "1")], &[("101", "2")]);
    let before = |b: &Book| (b.dump_side(Side::Bid), b.dump_side(Side::Ask), b.tick());
    let was = before(&book);
    for (side, price, size) in [
        (Side::Bid, "0", "1"),
        (Side::Bid, "0.00", "1"),
        (Side::Ask, "0.000000000000", "5"),
        (Side::Bid, "0", "0"),
    ] {
        let err = book.apply(side, price, size).unwrap_err();
        assert!(
            matches!(err, BookError::NotPositive { .. }),
            "{price}: {err}"
        );
        assert!(
            err.to_string().starts_with("price \"0\" is not positive"),
            "{err}"
        );
    }
    let zero = Price::parse("0").unwrap();
    assert!(
        book.apply_level(Side::Bid, zero, Size::parse("1").unwrap())
            .is_err()
    );
    let snapshot = [
        (
            Side::Bid,
            Price::parse("99").unwrap(),
            Size::parse("1").unwrap(),
        ),
        (Side::Bid, zero, Size::parse("3").unwrap()),
    ];
    assert!(matches!(
        book.load_snapshot(snapshot),
        Err(BookError::NotPositive { .. })
    ));
    assert_eq!(before(&book), was);
}
