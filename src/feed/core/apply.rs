//! `l2_data` events into the books (docs/feed.md, "Integrity rules"): a snapshot replaces its
//! product's book and makes it live; an update applies level by level; updates for a product
//! with no snapshot yet, one never asked for, or one the server refused are ignored and counted.
//! A level the book refuses makes its product desynced and the frame a bad one (a resync).

use crate::book::{Book, BookError, Price, Side, Size};
use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::{BookState, FeedEvent};
use crate::feed::protocol::{L2Kind, L2Update};

impl FeedCore {
    /// One `l2_data` event into its product's book; `at` is (receive time, sequence number).
    /// `levels` are the event's levels, each parsed or the reason it could not be. Returns the
    /// error to report when a level was refused (the product is then desynced).
    pub(super) fn l2_event<I>(
        &mut self,
        kind: L2Kind,
        product_id: &[u8],
        levels: I,
        (now_ms, sequence_num): (i64, u64),
        outcome: &mut Outcome,
    ) -> Option<String>
    where
        I: ExactSizeIterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
    {
        let n = levels.len() as u64;
        let i = match self.find_product(product_id) {
            Some(i) => i,
            None if self.auto_products && kind == L2Kind::Snapshot => {
                self.add_product(&String::from_utf8_lossy(product_id))
            }
            None => {
                self.stats.ignored_updates += n;
                return None;
            }
        };
        let product = &mut self.books[i];
        // A refused product was not asked for (again): whatever arrives for it is not its book.
        if (kind == L2Kind::Update && product.state == BookState::Waiting)
            || product.state == BookState::Refused
        {
            self.stats.ignored_updates += n;
            return None;
        }
        let failed = match kind {
            L2Kind::Snapshot => load_snapshot(&mut product.book, levels),
            L2Kind::Update => apply_levels(&mut product.book, levels),
        };
        product.updates += n;
        product.last_change_ms = Some(now_ms);
        product.sequence_num = sequence_num;
        self.stats.updates += n;
        if kind == L2Kind::Snapshot {
            self.stats.snapshot_levels += n;
        }
        if let Some(err) = failed {
            product.state = BookState::Desynced;
            return Some(format!("{}: {err}", String::from_utf8_lossy(product_id)));
        }
        if kind == L2Kind::Snapshot {
            product.state = BookState::Live;
            outcome.subscribed = true;
            let (bids, asks) = (product.book.len(Side::Bid), product.book.len(Side::Ask));
            self.emit(FeedEvent::Snapshot {
                at_ms: now_ms,
                product: String::from_utf8_lossy(product_id).into_owned(),
                bids,
                asks,
            });
        }
        None
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
