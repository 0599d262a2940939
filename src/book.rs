//! The exact level-2 order book.
//!
//! TEMPORARY STAND-IN on branch `feed` (simple, correct, slow), written against INTERFACES.md
//! section 2 so the feed compiles and its tests run; replaced by branch `book` on merge.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::feed::events::LevelRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Bid,
    Ask,
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("`{0}` is not a decimal number")]
    BadNumber(String),
    #[error("`{0}` is negative")]
    Negative(String),
}

#[derive(Debug, Default, Clone)]
pub struct Book {
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
    scale: Option<u32>,
}

fn number(text: &str) -> Result<Decimal, BookError> {
    let d = Decimal::from_str(text).map_err(|_| BookError::BadNumber(text.to_owned()))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(BookError::Negative(text.to_owned()));
    }
    Ok(d)
}

impl Book {
    pub fn new() -> Book {
        Book::default()
    }

    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    pub fn apply(&mut self, side: Side, price: &str, quantity: &str) -> Result<(), BookError> {
        let p = number(price)?;
        let q = number(quantity)?;
        self.scale = Some(self.scale.unwrap_or(0).max(p.scale()));
        let map = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if q.is_zero() {
            map.remove(&p.normalize());
        } else {
            map.insert(p.normalize(), q.normalize());
        }
        Ok(())
    }

    pub fn best_bid(&self) -> Option<(Decimal, Decimal)> {
        self.bids.iter().next_back().map(|(p, q)| (*p, *q))
    }

    pub fn best_ask(&self) -> Option<(Decimal, Decimal)> {
        self.asks.iter().next().map(|(p, q)| (*p, *q))
    }

    pub fn spread(&self) -> Option<Decimal> {
        Some(self.best_ask()?.0 - self.best_bid()?.0)
    }

    pub fn mid(&self) -> Option<Decimal> {
        Some((self.best_ask()?.0 + self.best_bid()?.0) / Decimal::TWO)
    }

    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.0 >= a.0)
    }

    pub fn len(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.bids.len(),
            Side::Ask => self.asks.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    pub fn tick(&self) -> Decimal {
        Decimal::new(1, self.scale.unwrap_or(0))
    }

    pub fn levels(&self, side: Side) -> Box<dyn Iterator<Item = (Decimal, Decimal)> + '_> {
        match side {
            Side::Bid => Box::new(self.bids.iter().rev().map(|(p, q)| (*p, *q))),
            Side::Ask => Box::new(self.asks.iter().map(|(p, q)| (*p, *q))),
        }
    }

    pub fn top(&self, side: Side, depth: usize, group_ticks: u32) -> Vec<LevelRow> {
        let step = self.tick() * Decimal::from(group_ticks.max(1));
        let mut rows: Vec<LevelRow> = Vec::new();
        let mut cum = Decimal::ZERO;
        for (p, q) in self.levels(side) {
            let bucket = match side {
                Side::Bid => (p / step).floor() * step,
                Side::Ask => (p / step).ceil() * step,
            };
            cum += q;
            match rows.last_mut() {
                Some(last) if last.price == bucket => {
                    last.size += q;
                    last.cum_size = cum;
                }
                _ => {
                    if rows.len() == depth {
                        break;
                    }
                    rows.push(LevelRow {
                        price: bucket,
                        size: q,
                        cum_size: cum,
                    });
                }
            }
        }
        rows
    }

    pub fn dump_side(&self, side: Side) -> Vec<[String; 2]> {
        self.levels(side)
            .map(|(p, q)| [p.normalize().to_string(), q.normalize().to_string()])
            .collect()
    }
}
