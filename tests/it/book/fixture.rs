//! The real BTC-USD book (45,393 levels, captured from Coinbase's public REST book) loaded the way
//! a snapshot is: clear, then one apply per level.

// Test helpers too: a failed unwrap is a failed test.

use std::fs::File;
use std::path::PathBuf;
use std::str::FromStr;

use cbbook::book::{Book, Price, Side, Size};
use flate2::read::GzDecoder;
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    product: String,
    /// `[price, size, number of orders]`, best first.
    bids: Vec<(String, String, u64)>,
    asks: Vec<(String, String, u64)>,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_reader(GzDecoder::new(file)).unwrap()
}

fn canonical(text: &str) -> String {
    Decimal::from_str(text).unwrap().normalize().to_string()
}

fn load(book: &mut Book, fixture: &Fixture) {
    book.clear();
    for (price, size, _) in &fixture.bids {
        book.apply(Side::Bid, price, size).unwrap();
    }
    for (price, size, _) in &fixture.asks {
        book.apply(Side::Ask, price, size).unwrap();
    }
}

#[test]
fn real_btc_usd_book_loads_exactly() {
    let fixture = fixture();
    assert_eq!(fixture.product, "BTC-USD");
    let mut book = Book::new();
    // Something stale first: the snapshot must replace it.
    book.apply(Side::Bid, "70000.001", "9").unwrap();
    book.apply(Side::Ask, "1", "9").unwrap();
    load(&mut book, &fixture);

    assert_eq!(book.len(Side::Bid), 18_376);
    assert_eq!(book.len(Side::Ask), 27_017);
    let d = |s: &str| Decimal::from_str(s).unwrap();
    assert_eq!(book.best_bid(), Some((d("64930.57"), d("0.07705309"))));
    assert_eq!(book.best_ask().map(|(p, _)| p), Some(d("64934.09")));
    assert_eq!(book.spread(), Some(d("3.52")));
    assert_eq!(book.mid(), Some(d("64932.33")));
    assert!(!book.is_crossed());
    assert_eq!(book.tick().to_string(), "0.01");
    let highest_ask = book.levels(Side::Ask).last().map(|(p, _)| p.to_string());
    assert_eq!(highest_ask.as_deref(), Some("138991023.41"));
    let lowest_bid = book.levels(Side::Bid).last().map(|(p, _)| p.to_string());
    assert_eq!(lowest_bid.as_deref(), Some("0.01"));

    // The dump is the file's levels, best first, in canonical text.
    for (side, levels) in [(Side::Bid, &fixture.bids), (Side::Ask, &fixture.asks)] {
        let expected: Vec<[String; 2]> = levels
            .iter()
            .map(|(p, s, _)| [canonical(p), canonical(s)])
            .collect();
        assert_eq!(book.dump_side(side), expected, "{side}");
    }

    // Ungrouped top = the first levels, with a running sum.
    let top = book.top(Side::Bid, 20, 1);
    assert_eq!(top.len(), 20);
    let mut cum = Decimal::ZERO;
    for (row, (price, size, _)) in top.iter().zip(&fixture.bids) {
        cum += d(size);
        assert_eq!(
            (row.price, row.size, row.cum_size),
            (d(price), d(size), cum)
        );
    }
    // Grouped by $1 (100 ticks): the best bid bucket is 64930 and holds 64930.57 and 64930.
    let grouped = book.top(Side::Bid, 20, 100);
    assert_eq!(grouped[0].price, d("64930"));
    assert_eq!(grouped[0].size, d("0.07705309") + d("1.5"));
    let grouped = book.top(Side::Ask, 20, 100);
    assert_eq!(grouped[0].price, d("64935"));
    assert_eq!(grouped.len(), 20);
}

#[test]
fn dump_round_trips() {
    let fixture = fixture();
    let mut book = Book::new();
    load(&mut book, &fixture);
    let bids = book.dump_side(Side::Bid);
    let asks = book.dump_side(Side::Ask);

    let mut again = Book::new();
    for (side, levels) in [(Side::Bid, &bids), (Side::Ask, &asks)] {
        for [price, size] in levels {
            again.apply(side, price, size).unwrap();
        }
    }
    assert_eq!(again.dump_side(Side::Bid), bids);
    assert_eq!(again.dump_side(Side::Ask), asks);
    assert_eq!(again.tick(), book.tick());
    // Through JSON too, as `--dump-book` writes it.
    let json = serde_json::to_string(&bids).unwrap();
    let parsed: Vec<[String; 2]> = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, bids);
}

#[test]
fn one_pass_snapshot_matches_level_by_level() {
    let fixture = fixture();
    let mut applied = Book::new();
    load(&mut applied, &fixture);
    let mut loaded = Book::new();
    loaded.apply(Side::Ask, "1", "1").unwrap();
    let parse = |side: Side, levels: &Vec<(String, String, u64)>| -> Vec<(Side, Price, Size)> {
        levels
            .iter()
            .map(|(p, s, _)| (side, Price::parse(p).unwrap(), Size::parse(s).unwrap()))
            .collect()
    };
    let mut levels = parse(Side::Bid, &fixture.bids);
    levels.extend(parse(Side::Ask, &fixture.asks));
    loaded.load_snapshot(levels).unwrap();
    for side in [Side::Bid, Side::Ask] {
        assert_eq!(loaded.dump_side(side), applied.dump_side(side));
    }
    assert_eq!(loaded.len(Side::Bid), 18_376);
    assert_eq!(loaded.len(Side::Ask), 27_017);
    assert_eq!(loaded.tick(), applied.tick());
    assert_eq!(
        loaded.top(Side::Ask, 20, 100),
        applied.top(Side::Ask, 20, 100)
    );
}
