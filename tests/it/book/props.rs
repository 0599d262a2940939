//! Property tests: the book against a naive model (`BTreeMap<Decimal, Decimal>` per side), and
//! the number parser against `rust_decimal`.

// Test helpers too: a failed unwrap is a failed test.

use std::collections::BTreeMap;
use std::str::FromStr;

use cbbook::book::{Book, Price, Side, Size};
use cbbook::feed::events::LevelRow;
use proptest::prelude::*;
use rust_decimal::Decimal;

/// The obvious book: exact decimals, no cleverness.
#[derive(Default)]
struct Model {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    max_scale: u32,
}

impl Model {
    fn apply(&mut self, side: Side, price: &str, qty: &str) {
        let price = Decimal::from_str(price).unwrap().normalize();
        let qty = Decimal::from_str(qty).unwrap();
        self.max_scale = self.max_scale.max(price.scale());
        let map = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if qty.is_zero() {
            map.remove(&price);
        } else {
            map.insert(price, qty);
        }
    }

    fn clear(&mut self) {
        *self = Model::default();
    }

    fn levels(&self, side: Side) -> Vec<(Decimal, Decimal)> {
        match side {
            Side::Bid => self.bids.iter().rev().map(|(p, s)| (*p, *s)).collect(),
            Side::Ask => self.asks.iter().map(|(p, s)| (*p, *s)).collect(),
        }
    }

    fn tick(&self) -> Decimal {
        Decimal::new(1, self.max_scale)
    }

    /// Grouping by definition: every level's bucket, then merge, then cut.
    fn top(&self, side: Side, depth: usize, group: u32) -> Vec<(Decimal, Decimal, Decimal)> {
        let width = self.tick() * Decimal::from(group.max(1));
        let mut buckets: Vec<(Decimal, Decimal)> = Vec::new();
        for (price, size) in self.levels(side) {
            let rest = price % width;
            let bucket = match side {
                Side::Bid => price - rest,
                Side::Ask if rest.is_zero() => price,
                Side::Ask => price - rest + width,
            };
            match buckets.last_mut() {
                Some((b, s)) if *b == bucket => *s += size,
                _ => buckets.push((bucket, size)),
            }
        }
        let mut cum = Decimal::ZERO;
        buckets
            .into_iter()
            .take(depth)
            .map(|(p, s)| {
                cum += s;
                (p, s, cum)
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Apply(Side, String, String),
    Clear,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

/// A decimal printed with `scale` decimals and `pad` extra trailing zeros.
fn printed(mantissa: u64, scale: u32, pad: usize) -> String {
    let mut text = Decimal::new(mantissa as i64, scale).to_string();
    if pad > 0 {
        if !text.contains('.') {
            text.push('.');
        }
        text.push_str(&"0".repeat(pad));
    }
    text
}

/// Few distinct prices, printed at several scales, so levels collide, repeat and cross.
fn price() -> impl Strategy<Value = String> {
    (1u64..400, 0u32..4, 0usize..3).prop_map(|(m, s, pad)| printed(m, s, pad))
}

fn quantity() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("0".to_string()),
        1 => Just("0.00000000".to_string()),
        4 => (1u64..100_000_000_000, 0u32..9, 0usize..2).prop_map(|(m, s, pad)| printed(m, s, pad)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (side(), price(), quantity()).prop_map(|(s, p, q)| Op::Apply(s, p, q)),
        1 => Just(Op::Clear),
    ]
}

/// `rust_decimal`'s exact reading of accepted text. It holds at most 28 digits, so it gets the
/// text without trailing zeros after the point.
fn exact(text: &str) -> Decimal {
    let trimmed = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    Decimal::from_str_exact(trimmed).unwrap()
}

fn row_tuple(r: &LevelRow) -> (Decimal, Decimal, Decimal) {
    (r.price, r.size, r.cum_size)
}

/// Everything the book answers, checked against the model.
fn check(book: &Book, model: &Model) -> Result<(), TestCaseError> {
    for side in [Side::Bid, Side::Ask] {
        let levels: Vec<_> = book.levels(side).collect();
        prop_assert_eq!(&levels, &model.levels(side));
        prop_assert!(
            levels.iter().all(|(_, s)| *s > Decimal::ZERO),
            "zero size kept"
        );
        let dump: Vec<[String; 2]> = model
            .levels(side)
            .iter()
            .map(|(p, s)| [p.normalize().to_string(), s.normalize().to_string()])
            .collect();
        prop_assert_eq!(book.dump_side(side), dump);
        prop_assert_eq!(book.len(side), levels.len());
        for depth in [1, 3, 50] {
            for group in [1, 2, 7, 100] {
                let got: Vec<_> = book.top(side, depth, group).iter().map(row_tuple).collect();
                prop_assert_eq!(
                    got,
                    model.top(side, depth, group),
                    "depth {} group {}",
                    depth,
                    group
                );
            }
        }
    }
    let best_bid = model.bids.iter().next_back().map(|(p, s)| (*p, *s));
    let best_ask = model.asks.iter().next().map(|(p, s)| (*p, *s));
    prop_assert_eq!(book.best_bid(), best_bid);
    prop_assert_eq!(book.best_ask(), best_ask);
    let both = best_bid.zip(best_ask);
    prop_assert_eq!(book.spread(), both.map(|((b, _), (a, _))| a - b));
    prop_assert_eq!(
        book.mid(),
        both.map(|((b, _), (a, _))| (a + b) / Decimal::TWO)
    );
    prop_assert_eq!(
        book.is_crossed(),
        both.is_some_and(|((b, _), (a, _))| b >= a)
    );
    prop_assert_eq!(
        book.is_empty(),
        model.bids.is_empty() && model.asks.is_empty()
    );
    prop_assert_eq!(book.tick(), model.tick());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn book_matches_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut book = Book::new();
        let mut model = Model::default();
        for op in &ops {
            match op {
                Op::Apply(side, p, q) => {
                    book.apply(*side, p, q).unwrap();
                    model.apply(*side, p, q);
                }
                Op::Clear => {
                    book.clear();
                    model.clear();
                }
            }
            check(&book, &model)?;
        }
    }

    /// A snapshot replaces everything: clear + applies equals a fresh book fed the same levels.
    #[test]
    fn snapshot_replaces_the_book(
        before in prop::collection::vec((side(), price(), quantity()), 0..60),
        snapshot in prop::collection::vec((side(), price(), quantity()), 0..60),
    ) {
        let mut book = Book::new();
        for (side, p, q) in &before {
            book.apply(*side, p, q).unwrap();
        }
        book.clear();
        let mut fresh = Book::new();
        for (side, p, q) in &snapshot {
            book.apply(*side, p, q).unwrap();
            fresh.apply(*side, p, q).unwrap();
        }
        for side in [Side::Bid, Side::Ask] {
            prop_assert_eq!(book.dump_side(side), fresh.dump_side(side));
        }
        prop_assert_eq!(book.tick(), fresh.tick());
    }

    /// The one-pass snapshot builds exactly what clear + apply in order builds.
    #[test]
    fn load_snapshot_equals_clear_and_apply(
        before in prop::collection::vec((side(), price(), quantity()), 0..40),
        snapshot in prop::collection::vec((side(), price(), quantity()), 0..120),
    ) {
        let mut applied = Book::new();
        let mut loaded = Book::new();
        for (side, p, q) in &before {
            applied.apply(*side, p, q).unwrap();
            loaded.apply(*side, p, q).unwrap();
        }
        applied.clear();
        let parsed: Vec<(Side, Price, Size)> = snapshot
            .iter()
            .map(|(side, p, q)| (*side, Price::parse(p).unwrap(), Size::parse(q).unwrap()))
            .collect();
        for &(side, p, q) in &parsed {
            applied.apply_level(side, p, q).unwrap();
        }
        loaded.load_snapshot(parsed).unwrap();
        for side in [Side::Bid, Side::Ask] {
            prop_assert_eq!(loaded.dump_side(side), applied.dump_side(side));
            prop_assert_eq!(loaded.len(side), applied.len(side));
            prop_assert_eq!(loaded.top(side, 5, 7), applied.top(side, 5, 7));
        }
        prop_assert_eq!(loaded.tick(), applied.tick());
        // Both keep working the same afterwards (the side totals agree).
        for (side, p, q) in &before {
            applied.apply(*side, p, q).unwrap();
            loaded.apply(*side, p, q).unwrap();
        }
        for side in [Side::Bid, Side::Ask] {
            prop_assert_eq!(loaded.dump_side(side), applied.dump_side(side));
        }
    }

    /// Any text: never a panic; what is accepted is exactly what `rust_decimal` reads.
    #[test]
    fn parser_never_panics_and_accepts_only_exact_values(
        text in prop_oneof![any::<String>(), "[-+0-9.eE ]{0,30}", "[0-9]{0,20}(\\.[0-9]{0,20})?"]
    ) {
        match Price::parse(&text) {
            Ok(price) => {
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
                let exact = exact(&text);
                prop_assert_eq!(price.to_decimal(), exact);
                prop_assert_eq!(price.scale(), exact.normalize().scale());
                prop_assert_eq!(Price::parse(&price.to_string()), Ok(price));
                prop_assert_eq!(Size::parse(&text).map(|s| s.units()), Ok(price.units()));
            }
            Err(err) => {
                prop_assert!(Size::parse(&text).is_err());
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }

    /// Every representable value prints canonically and converts exactly.
    #[test]
    fn fixed_point_converts_exactly(units in 0u128..1_000_000_000_000_000_000_000_000_000) {
        let price = Price::from_units(units).unwrap();
        let exact = Decimal::from_i128_with_scale(units as i128, 12);
        prop_assert_eq!(price.to_decimal(), exact);
        prop_assert_eq!(price.to_decimal().scale(), exact.normalize().scale());
        prop_assert_eq!(price.to_string(), exact.normalize().to_string());
        prop_assert!(!price.to_string().contains(['e', 'E']));
        prop_assert_eq!(Price::parse(&price.to_string()), Ok(price));
        prop_assert_eq!(Price::from_decimal(exact), Ok(price));
        prop_assert_eq!(Size::from_decimal(exact).map(|s| s.to_string()), Ok(price.to_string()));
    }

    /// Digits, a point, up to 12 significant decimals and any trailing zeros: always accepted.
    #[test]
    fn valid_text_is_always_accepted(
        int in 0u64..1_000_000_000_000_000,
        frac in "[0-9]{0,12}",
        pad in 0usize..10,
        leading in 0usize..3,
    ) {
        let mut text = format!("{}{int}", "0".repeat(leading));
        if !frac.is_empty() || pad > 0 {
            text = format!("{text}.{frac}{}", "0".repeat(pad.max(usize::from(frac.is_empty()))));
        }
        let price = Price::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(price.to_decimal(), exact(&text));
    }
}
