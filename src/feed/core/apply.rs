//! `l2_data` events into the books (docs/feed.md, "Integrity rules"): a snapshot replaces its
//! product's book and makes it live; an update applies level by level; updates for a product
//! with no snapshot yet, one never asked for, or one the server refused are ignored and counted.
//! A level the book refuses (a bad number, a price of zero) makes its product desynced and the
//! frame a bad one (a resync). An event that leaves a book crossed (best bid at or above best
//! ask) makes it crossed: suspect until its next snapshot, and resynced with a growing delay.
//!
//! One event feeds every book its product id serves (docs/feed.md, "Aliases"): `BTC-USD`'s
//! feeds `BTC-USD` and `BTC-USDC` when both were asked for, from the one parsed batch.

use crate::book::{Book, BookError, Price, Side, Size};
use crate::feed::core::tap::Tapped;
use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::{BookState, FeedEvent};
use crate::feed::protocol::{L2Kind, L2Update};
use crate::product_id::is_product_id;

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
            // Replay of a file whose products are not known in advance: a snapshot starts a
            // product, if its id is one by the rule every other way in follows (a hostile
            // file's megabyte-long "id" is not a tab).
            if self.auto_products
                && self.is_new_market(product_id)
                && std::str::from_utf8(product_id).is_ok_and(is_product_id)
            {
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
        let tapped_levels = self.tap.is_some().then(|| levels.clone());
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
        if let (Some(levels), Some(tap)) = (tapped_levels, self.tap.as_mut()) {
            tap.extend(levels.flatten().map(|(side, price, size)| Tapped::Level {
                book: i,
                kind,
                side,
                price,
                size,
                sequence_num,
            }));
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
        self.check_crossed(i, now_ms, outcome);
        Fed::Yes
    }

    /// After an event applied to book `i`: a live book whose best bid is at or above its best
    /// ask cannot be right. It becomes [`BookState::Crossed`] (suspect until its next snapshot,
    /// however later updates move it: they cannot show it right again), is reported once, and
    /// the caller paces a resync (`Outcome::crossed`). A desynced book is already suspect, with
    /// its snapshot on the way: updates lost in a gap may well cross it before then, and it
    /// needs no second resync. Checked per event, not per level: the exchange sends an event's
    /// levels together.
    fn check_crossed(&mut self, i: usize, now_ms: i64, outcome: &mut Outcome) {
        let product = &mut self.books[i];
        if product.state != BookState::Live || !product.book.is_crossed() {
            return;
        }
        let (Some((best_bid, _)), Some((best_ask, _))) =
            (product.book.best_bid(), product.book.best_ask())
        else {
            return;
        };
        product.state = BookState::Crossed;
        self.stats.crossed += 1;
        outcome.crossed = true;
        let product = self.products[i].clone();
        self.emit(FeedEvent::Crossed {
            at_ms: now_ms,
            product,
            best_bid,
            best_ask,
        });
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

    fn crossings(c: &mut FeedCore) -> Vec<FeedEvent> {
        events(c)
            .into_iter()
            .filter(|e| matches!(e, FeedEvent::Crossed { .. }))
            .collect()
    }

    #[test]
    fn a_crossed_snapshot_is_marked_reported_and_dumped_as_crossed() {
        let mut c = core();
        let out = c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "101", "1"), ("offer", "100", "2")],
            ),
            5,
        );
        assert!(out.crossed && out.subscribed && !out.resync);
        assert_eq!(state(&c, "BTC-USD"), BookState::Crossed);
        assert!(c.any_crossed() && !c.any_desynced());
        assert_eq!(c.stats().crossed, 1);
        let ev = events(&mut c);
        assert!(matches!(ev[0], FeedEvent::Snapshot { .. }), "{ev:?}");
        assert_eq!(
            ev[1],
            FeedEvent::Crossed {
                at_ms: 5,
                product: "BTC-USD".into(),
                best_bid: "101".parse().unwrap(),
                best_ask: "100".parse().unwrap(),
            }
        );
        assert!(
            c.dump_books()
                .starts_with(r#"{"BTC-USD":{"state":"crossed","sequence_num":0,"#),
            "{}",
            c.dump_books()
        );
        let view = c.view(&crate::feed::events::ViewRequest::default(), 6);
        assert_eq!(view.products[0].state, BookState::Crossed);
        assert_eq!(view.stats.crossed, 1);
        // Its next snapshot, uncrossed, makes it live.
        c.on_frame(
            &l2(
                1,
                "snapshot",
                "BTC-USD",
                &[("bid", "99", "1"), ("offer", "100", "2")],
            ),
            7,
        );
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert!(!c.any_crossed());
    }

    #[test]
    fn an_update_that_crosses_the_book_marks_it_until_its_next_snapshot() {
        let mut c = core();
        let snapshot = &[("bid", "99", "1"), ("offer", "100", "2")];
        c.on_frame(&l2(0, "snapshot", "BTC-USD", snapshot), 1);
        c.on_frame(&l2(1, "snapshot", "ETH-USD", snapshot), 1);
        events(&mut c);
        // A bid at the best ask: best bid == best ask is crossed too.
        let out = c.on_frame(&l2(2, "update", "BTC-USD", &[("bid", "100", "1")]), 2);
        assert!(out.crossed && !out.resync);
        assert_eq!(state(&c, "BTC-USD"), BookState::Crossed);
        assert_eq!(state(&c, "ETH-USD"), BookState::Live, "only that book");
        assert_eq!(crossings(&mut c).len(), 1);
        // More updates still apply (shown, greyed), and one that uncrosses it does not make it
        // right: it stays crossed, reported once.
        let out = c.on_frame(&l2(3, "update", "BTC-USD", &[("bid", "101", "1")]), 3);
        assert!(!out.crossed);
        c.on_frame(
            &l2(
                4,
                "update",
                "BTC-USD",
                &[("bid", "101", "0"), ("bid", "100", "0")],
            ),
            4,
        );
        assert!(!c.product("BTC-USD").unwrap().book.is_crossed());
        assert_eq!(state(&c, "BTC-USD"), BookState::Crossed);
        assert!(crossings(&mut c).is_empty());
        assert_eq!(c.stats().crossed, 1);
        // A resync of every book asks for its snapshot too: desynced (never live) until then.
        c.resync(5);
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert!(!c.any_crossed());
        c.on_frame(&l2(5, "snapshot", "BTC-USD", snapshot), 8);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        // A desynced book that an update crosses (updates were lost) stays desynced: its
        // snapshot is on the way, and it needs no second resync.
        c.resync(9);
        let out = c.on_frame(&l2(6, "update", "BTC-USD", &[("offer", "98", "1")]), 10);
        assert!(!out.crossed);
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert_eq!(c.stats().crossed, 1);
        // A crossed book across a lost connection is desynced as well, for the same reason.
        let crossed = &[("bid", "101", "1"), ("offer", "100", "2")];
        c.on_frame(&l2(7, "snapshot", "BTC-USD", crossed), 11);
        assert_eq!(state(&c, "BTC-USD"), BookState::Crossed);
        c.connection_lost(12, "closed");
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
    }

    #[test]
    fn one_sided_books_and_updates_elsewhere_are_not_crossed() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "200", "1")]), 1);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        // Ignored updates (no snapshot yet) cannot cross anything.
        c.on_frame(
            &l2(
                2,
                "update",
                "ETH-USD",
                &[("bid", "2", "1"), ("offer", "1", "1")],
            ),
            1,
        );
        assert_eq!(state(&c, "ETH-USD"), BookState::Waiting);
        assert_eq!(c.stats().crossed, 0);
    }

    #[test]
    fn a_zero_price_is_a_bad_level() {
        for kind in ["snapshot", "update"] {
            let mut c = core();
            c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
            let out = c.on_frame(
                &l2(1, kind, "BTC-USD", &[("bid", "0", "1"), ("bid", "99", "1")]),
                2,
            );
            assert!(out.resync, "{kind}");
            assert_eq!(state(&c, "BTC-USD"), BookState::Desynced, "{kind}");
            assert_eq!(c.stats().bad_frames, 1, "{kind}");
            // The level at zero is not in the book; the good one is.
            let bids = dump(&c, "BTC-USD").0;
            assert!(!bids.contains(&pair("0", "1")), "{kind}: {bids:?}");
            assert!(bids.contains(&pair("99", "1")), "{kind}: {bids:?}");
            let ev = events(&mut c);
            assert!(
                ev.iter().any(|e| matches!(e, FeedEvent::BadFrame { error, .. } if error.contains("not positive"))),
                "{ev:?}"
            );
        }
    }

    #[test]
    fn a_crossed_resync_asks_again_for_the_crossed_books_only() {
        let mut c = core();
        let crossed = &[("bid", "101", "1"), ("offer", "100", "1")];
        c.on_frame(&l2(0, "snapshot", "BTC-USD", crossed), 1);
        c.on_frame(
            &l2(
                1,
                "snapshot",
                "ETH-USD",
                &[("bid", "9", "1"), ("offer", "10", "1")],
            ),
            1,
        );
        events(&mut c);
        assert_eq!(c.resync_crossed(2), ["BTC-USD"]);
        assert_eq!(state(&c, "BTC-USD"), BookState::Crossed);
        assert_eq!(state(&c, "ETH-USD"), BookState::Live, "left alone");
        assert_eq!(c.stats().resyncs, 1);
        assert_eq!(
            events(&mut c),
            [FeedEvent::Resync {
                at_ms: 2,
                products: vec!["BTC-USD".into()]
            }]
        );
        // Its snapshot comes uncrossed: nothing left to ask for.
        c.on_frame(
            &l2(
                2,
                "snapshot",
                "BTC-USD",
                &[("bid", "99", "1"), ("offer", "100", "1")],
            ),
            3,
        );
        assert!(c.resync_crossed(4).is_empty());
        assert_eq!(c.stats().resyncs, 1);
    }

    #[test]
    fn replay_starts_no_product_for_an_id_that_breaks_the_rule() {
        let mut c = FeedCore::new("file", &[], false, 0);
        c.set_auto_products(true);
        c.connection_started(0, false);
        let long = format!("X-{}", "A".repeat(300));
        for (seq, id) in [&long, "btc-usd", "BTC--USD"].into_iter().enumerate() {
            c.on_frame(&l2(seq as u64, "snapshot", id, &[("bid", "1", "1")]), 1);
        }
        c.on_frame(&l2(3, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 1);
        assert_eq!(c.products(), ["BTC-USD"]);
        assert_eq!(c.stats().ignored_updates, 3);
    }
}
