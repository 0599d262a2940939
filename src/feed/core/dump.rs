//! The `--dump-book` file (docs/feed.md, "Headless mode"): every book, products in sorted
//! order, all levels best first, canonical numbers, compact JSON. The simulator writes its own
//! books through [`dump_json`] too, so the two files compare byte for byte.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::book::Side;
use crate::feed::core::FeedCore;
use crate::feed::events::BookState;

/// One product in the `--dump-book` file (docs/feed.md, "Headless mode"). The simulator's
/// `--dump-book` writes the same struct through [`dump_json`], so both files have one form.
#[derive(Debug, Serialize)]
pub struct DumpedBook {
    pub state: BookState,
    /// Why the server refused the product (only with `"state":"refused"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `sequence_num` of the last frame that touched the book (the simulator: see docs/sim.md).
    pub sequence_num: u64,
    /// `["price", "size"]`, best first, canonical numbers.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

/// The `--dump-book` text: products in sorted order, each book's fields in the order of
/// [`DumpedBook`], compact JSON (no trailing newline). Server text in it (a refusal's reason, a
/// product id) may hold DEL or C1 characters, which JSON allows raw: they are written as `\u00XX`
/// ([`crate::text::json_printable`]), so that showing the file in a terminal is safe.
pub fn dump_json(books: &BTreeMap<&str, DumpedBook>) -> String {
    // Strings, numbers and a state enum: serialising cannot fail.
    let json = serde_json::to_string(books).unwrap_or_default();
    // Almost always nothing to escape: then the text is kept as it is, not copied.
    if let std::borrow::Cow::Owned(safe) = crate::text::json_printable(&json) {
        return safe;
    }
    json
}

impl FeedCore {
    /// Every book in the `--dump-book` format (docs/feed.md, "Headless mode"): products in sorted
    /// order, all levels best first, canonical numbers, compact JSON.
    pub fn dump_books(&self) -> String {
        let dump: BTreeMap<&str, DumpedBook> = self
            .products
            .iter()
            .zip(&self.books)
            .map(|(name, p)| {
                (
                    name.as_str(),
                    DumpedBook {
                        state: p.state,
                        reason: p.refused.clone(),
                        sequence_num: p.sequence_num,
                        bids: p.book.dump_side(Side::Bid),
                        asks: p.book.dump_side(Side::Ask),
                    },
                )
            })
            .collect();
        dump_json(&dump)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::core::test_frames::*;

    #[test]
    fn server_text_in_the_dump_has_no_del_or_c1_and_reads_back_the_same() {
        let reason = "refused \u{9b}2J\x1b]0;t\x07\x7f".to_string();
        let book = DumpedBook {
            state: BookState::Refused,
            reason: Some(reason.clone()),
            sequence_num: 0,
            bids: Vec::new(),
            asks: Vec::new(),
        };
        let json = dump_json(&BTreeMap::from([("X\u{85}-USD", book)]));
        assert!(!json.chars().any(char::is_control), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["X\u{85}-USD"]["reason"], reason.as_str());
    }

    #[test]
    fn dump_is_sorted_compact_and_canonical() {
        let products = vec!["ETH-USD".to_owned(), "BTC-USD".to_owned()];
        let mut c = FeedCore::new("ws://test", &products, false, 0);
        c.connection_started(0, false);
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "64930.50", "0.50000000"), ("offer", "64931", "2")],
            ),
            1,
        );
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"live","sequence_num":0,"bids":[["64930.5","0.5"]],"asks":[["64931","2"]]},"ETH-USD":{"state":"waiting","sequence_num":0,"bids":[],"asks":[]}}"#
        );
    }

    #[test]
    fn only_a_refused_book_carries_a_reason() {
        let book = |state, reason: Option<&str>| DumpedBook {
            state,
            reason: reason.map(str::to_owned),
            sequence_num: 7,
            bids: vec![["1".to_owned(), "2".to_owned()]],
            asks: vec![],
        };
        let mut books = BTreeMap::new();
        books.insert("B-USD", book(BookState::Desynced, None));
        books.insert("A-USD", book(BookState::Refused, Some("not \"valid\"")));
        assert_eq!(
            dump_json(&books),
            r#"{"A-USD":{"state":"refused","reason":"not \"valid\"","sequence_num":7,"bids":[["1","2"]],"asks":[]},"B-USD":{"state":"desynced","sequence_num":7,"bids":[["1","2"]],"asks":[]}}"#
        );
        assert_eq!(dump_json(&BTreeMap::new()), "{}");
    }

    #[test]
    fn a_desynced_book_is_dumped_with_the_levels_it_had() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&heartbeat(4), 2);
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"desynced","sequence_num":0,"bids":[["100","1"]],"asks":[]},"ETH-USD":{"state":"waiting","sequence_num":0,"bids":[],"asks":[]}}"#
        );
        assert_eq!(FeedCore::new("file", &[], false, 0).dump_books(), "{}");
    }
}
