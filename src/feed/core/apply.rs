//! `l2_data` events into the books (docs/feed.md, "Integrity rules"): a snapshot replaces its
//! product's book and makes it live; an update applies level by level; updates for a product
//! with no snapshot yet, one never asked for, or one the server refused are ignored and counted.
//! A level the book refuses makes its product desynced and the frame a bad one (a resync).
//!
//! One event feeds every book its product id serves (docs/feed.md, "Aliases"): `BTC-USD`'s
//! feeds `BTC-USD` and `BTC-USDC` when both were asked for, from the one parsed batch.

use crate::book::{Book, BookError, Price, Side, Size};
use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::{BookState, FeedEvent};
use crate::feed::protocol::{L2Kind, L2Update};

/// What one event did to one book.
enum Fed {
    /// Not this book's (no snapshot yet, refused, or another market's under a served id).
    Skipped,
    /// Applied to the book.
    Yes,
    /// A level was refused: the book is desynced; the error to report.
    Failed(String),
}

impl FeedCore {
    /// One `l2_data` event into the books its product id feeds; `at` is (receive time, sequence
    /// number). `levels` are the event's levels, each parsed or the reason it could not be; they
    /// are walked once per book fed (the frame itself is parsed once). Returns the error to
    /// report when a level was refused (the product is then desynced).
    pub(super) fn l2_event<I>(
        &mut self,
        kind: L2Kind,
        product_id: &[u8],
        levels: I,
        at: (i64, u64),
        outcome: &mut Outcome,
    ) -> Option<String>
    where
        I: ExactSizeIterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
    {
        let n = levels.len() as u64;
        if kind == L2Kind::Snapshot {
            self.level2_answered();
            if self.auto_products && self.is_new_market(product_id) {
                self.add_product(&String::from_utf8_lossy(product_id));
            }
        }
        let mut applied = false;
        let mut bad = None;
        let targets = self.find_books(product_id).len();
        for k in 0..targets {
            let i = self.find_books(product_id)[k];
            match self.l2_event_into(i, kind, product_id, levels.clone(), at, outcome) {
                Fed::Skipped => {}
                Fed::Yes => applied = true,
                Fed::Failed(error) => {
                    applied = true;
                    bad.get_or_insert(error);
                }
            }
        }
        if applied {
            self.stats.updates += n;
            if kind == L2Kind::Snapshot {
                self.stats.snapshot_levels += n;
            }
        } else {
            self.stats.ignored_updates += n;
        }
        bad
    }

    /// Replay of a file whose products are not known in advance: a snapshot for `product_id`
    /// starts a product of its own unless a tracked book takes it (its own id, or the id a
    /// tracked product is served as, while that product is not fed under its own id).
    fn is_new_market(&self, product_id: &[u8]) -> bool {
        let books = self.find_books(product_id);
        books.is_empty()
            || books
                .iter()
                .all(|&i| self.products[i].as_bytes() != product_id && self.books[i].fed_as_itself)
    }

    /// One event into book `i`.
    fn l2_event_into<I>(
        &mut self,
        i: usize,
        kind: L2Kind,
        product_id: &[u8],
        levels: I,
        (now_ms, sequence_num): (i64, u64),
        outcome: &mut Outcome,
    ) -> Fed
    where
        I: ExactSizeIterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
    {
        let n = levels.len() as u64;
        let own_id = self.products[i].as_bytes() == product_id;
        let product = &mut self.books[i];
        if own_id {
            product.fed_as_itself = true;
        } else if product.fed_as_itself {
            // The server sends this product under its own id: the served id's events are
            // another market's.
            return Fed::Skipped;
        }
        // A refused product was not asked for (again): whatever arrives for it is not its book.
        if (kind == L2Kind::Update && product.state == BookState::Waiting)
            || product.state == BookState::Refused
        {
            return Fed::Skipped;
        }
        let failed = match kind {
            L2Kind::Snapshot => load_snapshot(&mut product.book, levels),
            L2Kind::Update => apply_levels(&mut product.book, levels),
        };
        product.updates += n;
        product.last_change_ms = Some(now_ms);
        product.sequence_num = sequence_num;
        if let Some(err) = failed {
            product.state = BookState::Desynced;
            return Fed::Failed(format!("{}: {err}", self.products[i]));
        }
        if kind == L2Kind::Snapshot {
            product.state = BookState::Live;
            outcome.subscribed = true;
            let (bids, asks) = (product.book.len(Side::Bid), product.book.len(Side::Ask));
            let product = self.products[i].clone();
            self.emit(FeedEvent::Snapshot {
                at_ms: now_ms,
                product,
                bids,
                asks,
            });
        }
        Fed::Yes
    }

    /// After the events of an `l2_data` frame: a refused level makes it a bad frame.
    pub(super) fn after_l2(&mut self, bad: Option<String>, now_ms: i64, outcome: &mut Outcome) {
        if let Some(error) = bad {
            let bad_outcome = self.bad_frame(now_ms, error, true);
            outcome.resync |= bad_outcome.resync;
        }
    }
}

/// A level as the general parser kept it (text), parsed as the book parses text.
#[inline]
pub(super) fn parse_level(update: &L2Update<'_>) -> Result<(Side, Price, Size), BookError> {
    let price = Price::parse_bytes(update.price_level.as_bytes())?;
    let size = Size::parse_bytes(update.new_quantity.as_bytes())?;
    Ok((update.side.into(), price, size))
}

/// An update event's levels, in order; a level that cannot be parsed or applied is skipped.
/// Returns the first error.
pub(super) fn apply_levels<I>(book: &mut Book, levels: I) -> Option<BookError>
where
    I: Iterator<Item = Result<(Side, Price, Size), BookError>>,
{
    let mut failed = None;
    for level in levels {
        let applied = level.and_then(|(side, price, size)| book.apply_level(side, price, size));
        if let Err(err) = applied {
            failed.get_or_insert(err);
        }
    }
    failed
}

/// A snapshot event: the book becomes exactly its levels, as [`Book::clear`] then
/// [`apply_levels`] would make it, but built in one pass ([`Book::load_snapshot`]). Levels that
/// cannot be parsed are skipped; returns the first error.
pub(super) fn load_snapshot<I>(book: &mut Book, levels: I) -> Option<BookError>
where
    I: Iterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
{
    let mut failed = None;
    let parsed = levels.clone().filter_map(|level| match level {
        Ok(level) => Some(level),
        Err(err) => {
            failed.get_or_insert(err);
            None
        }
    });
    if book.load_snapshot(parsed).is_ok() {
        return failed;
    }
    // A side's total beyond exact sums: level by level, keeping every level that fits, as
    // updates do.
    book.clear();
    apply_levels(book, levels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;

    #[test]
    fn snapshot_replaces_and_updates_apply() {
        let mut c = core();
        let out = c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            1,
        );
        assert!(out.subscribed);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert_eq!(state(&c, "ETH-USD"), BookState::Waiting);
        c.on_frame(
            &l2(
                1,
                "update",
                "BTC-USD",
                &[("bid", "99.50", "3"), ("offer", "101.0", "0.00000000")],
            ),
            2,
        );
        assert_eq!(
            dump(&c, "BTC-USD"),
            (vec![pair("100", "1"), pair("99.5", "3")], vec![])
        );
        // A second snapshot replaces the whole book.
        c.on_frame(&l2(2, "snapshot", "BTC-USD", &[("offer", "105", "1")]), 3);
        assert_eq!(dump(&c, "BTC-USD"), (vec![], vec![pair("105", "1")]));
        assert_eq!(c.stats().updates, 5);
        assert_eq!(
            c.stats().snapshot_levels,
            3,
            "two snapshots: 2 levels, then 1"
        );
        assert_eq!(c.product("BTC-USD").unwrap().updates, 5);
        assert_eq!(c.product("BTC-USD").unwrap().sequence_num, 2);
    }

    #[test]
    fn updates_before_a_snapshot_or_for_other_products_are_ignored() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "update",
                "BTC-USD",
                &[("bid", "100", "1"), ("bid", "99", "1")],
            ),
            1,
        );
        c.on_frame(&l2(1, "snapshot", "DOGE-USD", &[("bid", "1", "1")]), 1);
        assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
        assert!(c.product("BTC-USD").unwrap().book.is_empty());
        assert!(c.product("DOGE-USD").is_none());
        assert_eq!(c.stats().ignored_updates, 3);
        assert_eq!(c.stats().updates, 0);
    }
}
