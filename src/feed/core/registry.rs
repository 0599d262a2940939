//! The products asked for and their books, in the order asked for, with the index that finds
//! a product's book from the name a frame carries.

use crate::book::Book;
use crate::feed::core::FeedCore;
use crate::feed::events::BookState;

/// One product's book and what the feed knows about it.
#[derive(Debug, Clone)]
pub struct ProductBook {
    pub book: Book,
    pub state: BookState,
    /// Level updates applied since start (snapshot levels included).
    pub updates: u64,
    pub last_change_ms: Option<i64>,
    /// `sequence_num` of the last frame that touched this book.
    pub sequence_num: u64,
    /// The server's reason, when it refused to subscribe this product ([`BookState::Refused`]).
    pub refused: Option<String>,
}

impl ProductBook {
    pub(super) fn new() -> ProductBook {
        ProductBook {
            book: Book::new(),
            state: BookState::Waiting,
            updates: 0,
            last_change_ms: None,
            sequence_num: 0,
            refused: None,
        }
    }
}

impl FeedCore {
    /// A product's book, if it was asked for.
    pub fn product(&self, product: &str) -> Option<&ProductBook> {
        self.index.get(product).map(|&i| &self.books[i])
    }

    /// Starts tracking `product` (no-op if already tracked); its book waits for a snapshot.
    pub fn add_product(&mut self, product: &str) -> usize {
        if let Some(&i) = self.index.get(product) {
            return i;
        }
        let i = self.products.len();
        self.products.push(product.to_owned());
        self.index.insert(product.to_owned(), i);
        self.books.push(ProductBook::new());
        if let Some(level2) = self.auth.requested.get_mut("level2") {
            level2.push(product.to_owned());
        }
        self.dirty = true;
        i
    }

    pub(super) fn desync_all(&mut self) {
        for b in &mut self.books {
            if b.state == BookState::Live {
                b.state = BookState::Desynced;
            }
        }
        self.dirty = true;
    }

    /// Products whose book is desynced (waiting for a fresh snapshot).
    pub fn any_desynced(&self) -> bool {
        self.books.iter().any(|b| b.state == BookState::Desynced)
    }

    /// The index of a tracked product. A handful of products are found faster by comparing
    /// names than by hashing.
    #[inline]
    pub(super) fn find_product(&self, product: &[u8]) -> Option<usize> {
        if self.products.len() <= 8 {
            self.products.iter().position(|p| p.as_bytes() == product)
        } else {
            let product = std::str::from_utf8(product).ok()?;
            self.index.get(product).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;

    #[test]
    fn auto_products_track_every_snapshot() {
        let mut c = FeedCore::new("file", &[], false, 0);
        c.set_auto_products(true);
        c.connection_started(0, false);
        c.on_frame(&l2(0, "update", "SOL-USD", &[("bid", "1", "1")]), 1);
        c.on_frame(&l2(1, "snapshot", "SOL-USD", &[("bid", "2", "1")]), 1);
        c.on_frame(&l2(2, "snapshot", "ADA-USD", &[("bid", "3", "1")]), 1);
        assert_eq!(c.products(), ["SOL-USD", "ADA-USD"]);
        assert_eq!(c.stats().ignored_updates, 1);
        assert_eq!(c.auth().requested["level2"], ["SOL-USD", "ADA-USD"]);
        assert_eq!(state(&c, "ADA-USD"), BookState::Live);
    }

    #[test]
    fn products_asked_for_twice_are_tracked_once_in_the_order_asked() {
        let asked = ["ETH-USD", "BTC-USD", "ETH-USD"].map(str::to_owned);
        let c = FeedCore::new("ws://test", &asked, false, 0);
        assert_eq!(c.products(), ["ETH-USD", "BTC-USD"]);
        assert_eq!(c.auth().requested["level2"], ["ETH-USD", "BTC-USD"]);
        assert_eq!(c.product("ETH-USD").unwrap().state, BookState::Waiting);
        assert!(c.product("SOL-USD").is_none());
    }

    #[test]
    fn adding_a_product_again_returns_its_index_and_adds_nothing() {
        let mut c = FeedCore::new("ws://test", &products(), false, 0);
        assert_eq!(c.add_product("ETH-USD"), 1);
        assert_eq!(c.add_product("SOL-USD"), 2);
        assert_eq!(c.add_product("SOL-USD"), 2);
        assert_eq!(c.products(), ["BTC-USD", "ETH-USD", "SOL-USD"]);
        assert_eq!(
            c.auth().requested["level2"],
            ["BTC-USD", "ETH-USD", "SOL-USD"]
        );
    }

    #[test]
    fn many_products_are_found_by_name_as_a_few_are() {
        // Past eight products the lookup hashes instead of comparing names one by one.
        for n in [2usize, 8, 9, 20] {
            let asked: Vec<String> = (0..n).map(|i| format!("P{i}-USD")).collect();
            let mut c = FeedCore::new("ws://test", &asked, false, 0);
            c.connection_started(0, false);
            for (i, p) in asked.iter().enumerate() {
                assert_eq!(c.find_product(p.as_bytes()), Some(i), "{n}: {p}");
            }
            assert_eq!(c.find_product(b"NOPE-USD"), None);
            assert_eq!(c.find_product(&[0xff, 0xfe]), None);
            let last = &asked[n - 1];
            c.on_frame(&l2(0, "snapshot", last, &[("bid", "1", "1")]), 1);
            assert_eq!(state(&c, last), BookState::Live, "{n}");
        }
    }

    #[test]
    fn desync_all_leaves_waiting_and_refused_books_as_they_are() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 1);
        assert!(!c.any_desynced());
        c.desync_all();
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert_eq!(state(&c, "ETH-USD"), BookState::Waiting);
        assert!(c.any_desynced());
    }
}
