//! The products asked for and their books, in the order asked for, with the routes that find
//! the books a frame's product id feeds.
//!
//! A frame's `product_id` may feed several books, or a book under another name: the exchange
//! serves `BTC-USDC` as `BTC-USD` ([`served_as`], docs/feed.md "Aliases"), so an event for
//! `BTC-USD` feeds the books of `BTC-USD` and `BTC-USDC` when both were asked for. A server that
//! does not alias sends `BTC-USDC` under its own name, which feeds that book too. The routes
//! (served id -> books) are built when the products change, never per frame.

use crate::book::Book;
use crate::feed::core::FeedCore;
use crate::feed::events::BookState;
use crate::product_id::served_as;

/// The books one product id in a frame feeds: the product asked for under that id, and those
/// the exchange serves under it (`BTC-USD` feeds `BTC-USD` and `BTC-USDC`).
#[derive(Debug, Clone, Default)]
pub(super) struct Routes {
    /// Served (or own) id, and the indices of the books it feeds in the order asked for.
    routes: Vec<(String, Vec<usize>)>,
    /// Id -> position in `routes`, used past a handful of routes. Looked up for every event:
    /// foldhash rather than the default SipHash, which guards against keys chosen to collide
    /// (the ids here are the user's own products) at several times the cost.
    index: foldhash::HashMap<Box<[u8]>, usize>,
}

/// Up to this many routes, a lookup compares names instead of hashing.
const LINEAR_ROUTES: usize = 8;

impl Routes {
    /// The routes of `products` (each distinct): every product is fed under its own id, and an
    /// aliased one under its served id too.
    pub(super) fn new(products: &[String]) -> Routes {
        let mut routes = Routes::default();
        for (i, product) in products.iter().enumerate() {
            routes.add(product, i);
            if let Some(served) = served_as(product) {
                routes.add(served, i);
            }
        }
        routes
    }

    fn add(&mut self, id: &str, book: usize) {
        match self.index.get(id.as_bytes()) {
            Some(&r) => self.routes[r].1.push(book),
            None => {
                self.index.insert(id.as_bytes().into(), self.routes.len());
                self.routes.push((id.to_owned(), vec![book]));
            }
        }
    }

    /// The books fed by events for `id` (empty: none).
    #[inline]
    pub(super) fn find(&self, id: &[u8]) -> &[usize] {
        let found = if self.routes.len() <= LINEAR_ROUTES {
            self.routes
                .iter()
                .find(|(served, _)| served.as_bytes() == id)
        } else {
            self.index.get(id).map(|&r| &self.routes[r])
        };
        found.map_or(&[], |(_, books)| books.as_slice())
    }
}

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
    /// The refusal was the level2 stream limit (too many products on one connection): the
    /// product may be asked for again on another connection.
    pub stream_limited: bool,
    /// An event arrived under the product's own id although the exchange serves it under
    /// another ([`served_as`]): the server does not alias it, so events for the served id are
    /// another market's and no longer feed this book (for the rest of the session).
    pub fed_as_itself: bool,
    /// Its trades and ticker.
    pub market: super::trades::MarketTape,
    /// Its heatmap history.
    pub heat: super::heatmap::HeatRing,
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
            stream_limited: false,
            fed_as_itself: false,
            market: super::trades::MarketTape::default(),
            heat: super::heatmap::HeatRing::default(),
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
        self.routes = Routes::new(&self.products);
        self.dirty = true;
        i
    }

    /// Stops tracking `products` (for a sharding layer that moves them to another connection,
    /// say after [`Outcome::stream_limit`](crate::feed::core::Outcome::stream_limit)): their
    /// books, states and refusals go, and they are no longer asked for here. Returns those that
    /// were tracked, in the order asked for.
    pub fn release_products(&mut self, products: &[String]) -> Vec<String> {
        let mut released = Vec::new();
        let mut kept_products = Vec::with_capacity(self.products.len());
        let mut kept_books = Vec::with_capacity(self.books.len());
        let books = std::mem::take(&mut self.books);
        for (name, book) in std::mem::take(&mut self.products).into_iter().zip(books) {
            if products.contains(&name) {
                released.push(name);
            } else {
                kept_products.push(name);
                kept_books.push(book);
            }
        }
        self.products = kept_products;
        self.books = kept_books;
        self.index = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        self.routes = Routes::new(&self.products);
        let active = self.active_products();
        self.auth.requested.insert("level2".to_owned(), active);
        self.dirty = true;
        released
    }

    /// Every book with content becomes desynced, waiting for the snapshot a resync of every
    /// product (or a new connection) brings: live ones, and crossed ones too, whose snapshot
    /// that resync asks for as well (so the paced resync of crossed books has nothing left to
    /// do, and live and replay count the same resyncs).
    pub(super) fn desync_all(&mut self) {
        for b in &mut self.books {
            if matches!(b.state, BookState::Live | BookState::Crossed) {
                b.state = BookState::Desynced;
            }
        }
        self.dirty = true;
    }

    /// Products whose book is desynced (waiting for a fresh snapshot).
    pub fn any_desynced(&self) -> bool {
        self.books.iter().any(|b| b.state == BookState::Desynced)
    }

    /// A book is crossed (waiting for the paced resync that brings a fresh snapshot).
    pub fn any_crossed(&self) -> bool {
        self.books.iter().any(|b| b.state == BookState::Crossed)
    }

    /// The books fed by events for `product_id` (see [`Routes`]).
    #[inline]
    pub(super) fn find_books(&self, product_id: &[u8]) -> &[usize] {
        self.routes.find(product_id)
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
                assert_eq!(c.find_books(p.as_bytes()), [i], "{n}: {p}");
            }
            assert!(c.find_books(b"NOPE-USD").is_empty());
            assert!(c.find_books(&[0xff, 0xfe]).is_empty());
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
