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
}
