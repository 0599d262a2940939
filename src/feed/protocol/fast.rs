//! A hand-written reader for `l2_data` (and `heartbeats`) frames in the exact compact form
//! Coinbase (and the simulator) send, several times faster than the general serde path: one
//! forward scan, no field-name dispatch, every string borrowed.
//!
//! It accepts only that form: keys in the usual order, no whitespace, no escapes, no unknown keys,
//! integers without leading zeros, strings of printable ASCII (so an accepted frame is valid UTF-8
//! without a separate pass over it). On anything else it answers `None` and the caller uses the
//! general parser, so the fast path changes speed, never results (property tests check that
//! whatever it accepts, the general parser reads the same way).
//!
//! One scanner, two outputs ([`Build`]): [`l2`] builds a [`ServerMessage`] whose prices and sizes
//! are borrowed text; [`l2_levels`] parses them to fixed point during the scan (no second pass
//! over their bytes) into an [`L2Batch`] that the caller reuses from frame to frame, so the feed's
//! hot path allocates nothing per frame.

use std::borrow::Cow;
use std::ops::Range;

mod market;

pub use market::{
    MarketHeader, TickerBatch, TickerSpan, TradeBatch, TradeSpan, ticker, ticker_into, trades,
    trades_into,
};

use super::{Envelope, L2Event, L2Kind, L2Update, NumberText, ServerMessage, WireSide};
use crate::book::{Price, Side, Size};

/// Reads an `l2_data` frame, or `None` if it is not in the exact compact form.
pub fn l2(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let mut events = MessageEvents(Vec::new());
    let header = scan(bytes, &mut events)?;
    Some(ServerMessage::L2 {
        envelope: Envelope {
            sequence_num: Some(header.sequence_num),
            timestamp: Some(Cow::Borrowed(ascii(header.timestamp)?)),
        },
        events: events.0,
    })
}

/// The envelope of an `l2_data` frame read by [`l2_levels`]; its events are in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Header<'a> {
    pub sequence_num: u64,
    /// The envelope timestamp's text (printable ASCII).
    pub timestamp: &'a [u8],
}

/// The events of an `l2_data` frame with every price and size already exact. Reused from frame to
/// frame: [`l2_levels`] clears it first and then only grows it, so that after the first frames
/// it allocates nothing.
#[derive(Debug, Default)]
pub struct L2Batch {
    events: Vec<BatchEvent>,
    levels: Vec<(Side, Price, Size)>,
}

#[derive(Debug)]
struct BatchEvent {
    kind: L2Kind,
    /// Where the product id lies in the frame (printable ASCII, checked by the scan).
    product_id: Range<usize>,
    levels: Range<usize>,
}

/// One event of an [`L2Batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEventRef<'a> {
    pub kind: L2Kind,
    /// The product id's text (printable ASCII).
    pub product_id: &'a [u8],
    pub levels: &'a [(Side, Price, Size)],
}

impl L2Batch {
    /// The events of the frame last read into the batch; `frame` must be that frame's bytes.
    pub fn events<'a>(
        &'a self,
        frame: &'a [u8],
    ) -> impl ExactSizeIterator<Item = BatchEventRef<'a>> {
        self.events.iter().map(move |event| BatchEventRef {
            kind: event.kind,
            product_id: &frame[event.product_id.clone()],
            levels: &self.levels[event.levels.clone()],
        })
    }
}

/// The shortest text of one level in the compact form:
/// `{"side":"bid","event_time":"","price_level":"1","new_quantity":"0"}` and a comma.
const MIN_LEVEL_BYTES: usize = 68;

/// Reads an `l2_data` frame in the exact compact form into `batch`, prices and sizes parsed to
/// fixed point; `None` (and a batch to ignore) if the frame is not in that form, or a price or
/// size is not in the form Coinbase prints (the caller then takes the general path, which reads
/// any valid frame and explains a bad number).
pub fn l2_levels<'a>(bytes: &'a [u8], batch: &mut L2Batch) -> Option<L2Header<'a>> {
    batch.events.clear();
    batch.levels.clear();
    // Room for every level the frame can hold at once (a level takes at least
    // `MIN_LEVEL_BYTES` of text): a 5 MB snapshot gets its batch in one allocation rather than
    // a chain of doublings, each touching fresh pages.
    batch.levels.reserve(bytes.len() / MIN_LEVEL_BYTES);
    let header = scan(bytes, batch)?;
    if let Some(last) = batch.events.last_mut() {
        last.levels.end = batch.levels.len();
    }
    Some(header)
}

/// Reads a `heartbeats` frame in the exact compact form the exchange sends, or `None`.
pub fn heartbeat(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let mut c = Cursor::new(bytes);
    c.lit(br#"{"channel":"heartbeats","#)?;
    let (sequence_num, timestamp) = c.envelope()?;
    let mut counter = None;
    if c.lit(b"]").is_none() {
        loop {
            c.lit(br#"{"current_time":""#)?;
            c.skip_string()?;
            c.lit(br#","heartbeat_counter":"#)?;
            counter = Some(c.integer()?);
            c.lit(b"}")?;
            if c.lit(b",").is_none() {
                c.lit(b"]")?;
                break;
            }
        }
    }
    c.lit(b"}")?;
    if c.at != c.bytes.len() {
        return None;
    }
    Some(ServerMessage::Heartbeat {
        envelope: Envelope {
            sequence_num: Some(sequence_num),
            timestamp: Some(Cow::Borrowed(ascii(timestamp)?)),
        },
        counter,
    })
}

/// Text the scan found to be printable ASCII, as a `str` (this cannot fail).
fn ascii(text: &[u8]) -> Option<&str> {
    std::str::from_utf8(text).ok()
}

/// What a scan of an `l2_data` frame builds.
trait Build<'a> {
    /// An event starts; its levels follow. `product_id` (printable ASCII) lies at `at` in the
    /// frame. `None` stops the scan.
    fn event(&mut self, kind: L2Kind, product_id: &'a [u8], at: usize) -> Option<()>;
    /// One level of the current event, after `"price_level":"`: reads the price text,
    /// `","new_quantity":"` and the size text, up to the size's closing quote (left for the
    /// caller, which reads it with what follows).
    fn level(&mut self, c: &mut Cursor<'a>, side: WireSide) -> Option<()>;
}

/// Builds the events of a [`ServerMessage::L2`].
struct MessageEvents<'a>(Vec<L2Event<'a>>);

impl<'a> Build<'a> for MessageEvents<'a> {
    fn event(&mut self, kind: L2Kind, product_id: &'a [u8], _at: usize) -> Option<()> {
        self.0.push(L2Event {
            kind,
            product_id: Cow::Borrowed(ascii(product_id)?),
            updates: Vec::new(),
        });
        Some(())
    }

    #[inline]
    fn level(&mut self, c: &mut Cursor<'a>, side: WireSide) -> Option<()> {
        let price_level = c.skip_string()?;
        c.lit(br#","new_quantity":""#)?;
        let new_quantity = c.string_body()?;
        self.0.last_mut()?.updates.push(L2Update {
            side,
            price_level: NumberText(Cow::Borrowed(price_level)),
            new_quantity: NumberText(Cow::Borrowed(new_quantity)),
        });
        Some(())
    }
}

impl<'a> Build<'a> for L2Batch {
    fn event(&mut self, kind: L2Kind, product_id: &'a [u8], at: usize) -> Option<()> {
        let first = self.levels.len();
        if let Some(last) = self.events.last_mut() {
            last.levels.end = first;
        }
        self.events.push(BatchEvent {
            kind,
            product_id: at..at + product_id.len(),
            levels: first..first,
        });
        Some(())
    }

    #[inline]
    fn level(&mut self, c: &mut Cursor<'a>, side: WireSide) -> Option<()> {
        let price = c.number(Price::parse_prefix)?;
        c.lit(br#"","new_quantity":""#)?;
        let size = c.number(Size::parse_prefix)?;
        self.levels.push((side.into(), price, size));
        Some(())
    }
}

/// The whole frame: envelope, then the events through `build`.
#[inline]
fn scan<'a>(bytes: &'a [u8], build: &mut impl Build<'a>) -> Option<L2Header<'a>> {
    let mut c = Cursor::new(bytes);
    c.lit(br#"{"channel":"l2_data","#)?;
    let (sequence_num, timestamp) = c.envelope()?;
    if c.lit(b"]").is_none() {
        loop {
            c.event(build)?;
            if c.lit(b",").is_none() {
                c.lit(b"]")?;
                break;
            }
        }
    }
    c.lit(b"}")?;
    if c.at != c.bytes.len() {
        return None;
    }
    Some(L2Header {
        sequence_num,
        timestamp,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The last `event_time` read (already checked): the levels of a frame usually share one.
    event_time: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            bytes,
            at: 0,
            event_time: b"",
        }
    }

    /// Consumes `expected` if the text continues with it.
    #[inline]
    fn lit(&mut self, expected: &[u8]) -> Option<()> {
        if self.bytes.get(self.at..)?.starts_with(expected) {
            self.at += expected.len();
            Some(())
        } else {
            None
        }
    }

    /// The envelope after the channel, up to and including `"events":[`: the sequence number
    /// and the timestamp.
    #[inline]
    fn envelope(&mut self) -> Option<(u64, &'a [u8])> {
        // The exchange's empty client id and the timestamp key in one comparison.
        if self.lit(br#""client_id":"","timestamp":""#).is_none() {
            if self.lit(br#""client_id":""#).is_some() {
                self.skip_string()?;
                self.lit(b",")?;
            }
            self.lit(br#""timestamp":""#)?;
        }
        let timestamp = self.skip_string()?;
        self.lit(br#","sequence_num":"#)?;
        let sequence_num = self.integer()?;
        self.lit(br#","events":["#)?;
        Some((sequence_num, timestamp))
    }

    /// [`Cursor::skip_string`] without consuming the closing quote.
    #[inline]
    fn string_body(&mut self) -> Option<&'a [u8]> {
        let body = self.skip_string()?;
        self.at -= 1;
        Some(body)
    }

    /// The body of a string whose opening quote was consumed, as bytes; consumes the closing
    /// quote. `None` on an escape, a control character or a non-ASCII byte (the general parser
    /// handles those), so the body is printable ASCII.
    #[inline]
    fn skip_string(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&rest[..len])
    }

    /// An `event_time` string whose opening quote was consumed, closing quote included: when it is
    /// the same text as the last one, a comparison replaces the scan.
    #[inline]
    fn skip_event_time(&mut self) -> Option<()> {
        let rest = self.bytes.get(self.at..)?;
        let last = self.event_time;
        if rest.get(last.len()) == Some(&b'"') && same_bytes(&rest[..last.len()], last) {
            self.at += last.len() + 1;
            return Some(());
        }
        self.event_time = self.skip_string()?;
        Some(())
    }

    /// A price or size string whose opening quote was consumed, read by `parse` (a
    /// `parse_prefix` of the book), up to where the number ends: the caller's next literal
    /// starts with the closing quote, so that a number that does not fill its string is refused.
    #[inline]
    fn number<T>(&mut self, parse: impl Fn(&[u8]) -> Option<(T, usize)>) -> Option<T> {
        let (value, used) = parse(self.bytes.get(self.at..)?)?;
        self.at += used;
        Some(value)
    }

    /// A JSON integer that fits a u64, without sign, fraction, exponent or leading zero.
    #[inline]
    fn integer(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.at..)?;
        let mut value = 0u64;
        let mut digits = 0;
        while let Some(&byte) = rest.get(digits) {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
            digits += 1;
        }
        if digits == 0 || (digits > 1 && rest[0] == b'0') {
            return None;
        }
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += digits;
        Some(value)
    }

    #[inline]
    fn event(&mut self, build: &mut impl Build<'a>) -> Option<()> {
        self.lit(br#"{"type":""#)?;
        let kind = if self.lit(br#"update""#).is_some() {
            L2Kind::Update
        } else {
            self.lit(br#"snapshot""#)?;
            L2Kind::Snapshot
        };
        self.lit(br#","product_id":""#)?;
        let at = self.at;
        let product_id = self.skip_string()?;
        build.event(kind, product_id, at)?;
        self.lit(br#","updates":["#)?;
        if self.lit(b"]").is_none() {
            loop {
                // Each level ends with its size's closing quote and brace, then a comma or the
                // end of the list: one comparison for the three.
                self.update(build)?;
                if self.lit(br#""},"#).is_none() {
                    self.lit(br#""}]"#)?;
                    break;
                }
            }
        }
        self.lit(b"}")
    }

    /// `{"side":"bid","event_time":"` or `{"side":"offer","event_time":"`, consumed. The side is
    /// read first and picks which head the text is compared with, rather than a comparison with
    /// one head and then the other: sides come in no order a branch could learn, and a level
    /// whose side was guessed wrong cost a mispredicted branch.
    #[inline]
    fn usual_head(&mut self) -> Option<WireSide> {
        // Each head as two 16-byte words: its first 16 bytes, and its last 16 (overlapping).
        const BID: &[u8; 28] = br#"{"side":"bid","event_time":""#;
        const OFFER: &[u8; 30] = br#"{"side":"offer","event_time":""#;
        const fn word(text: &[u8], at: usize) -> u128 {
            let mut bytes = [0u8; 16];
            let mut i = 0;
            while i < 16 {
                bytes[i] = text[at + i];
                i += 1;
            }
            u128::from_le_bytes(bytes)
        }
        const HEADS: [(u128, u128, usize); 2] = [
            (word(BID, 0), word(BID, BID.len() - 16), BID.len()),
            (word(OFFER, 0), word(OFFER, OFFER.len() - 16), OFFER.len()),
        ];
        let rest = self.bytes.get(self.at..)?;
        let offer = rest.get(9) == Some(&b'o');
        let (first, last, len) = HEADS[usize::from(offer)];
        let load = |at: usize| -> Option<u128> {
            let bytes: [u8; 16] = rest.get(at..at + 16)?.try_into().ok()?;
            Some(u128::from_le_bytes(bytes))
        };
        if (load(0)? ^ first) | (load(len - 16)? ^ last) != 0 {
            return None;
        }
        self.at += len;
        Some(if offer {
            WireSide::Offer
        } else {
            WireSide::Bid
        })
    }

    #[inline]
    /// One level, up to its size's closing quote.
    fn update(&mut self, build: &mut impl Build<'a>) -> Option<()> {
        // The usual heads in one comparison; levels without `event_time` piece by piece.
        let side = if let Some(side) = self.usual_head() {
            self.skip_event_time()?;
            side
        } else {
            self.lit(br#"{"side":""#)?;
            let side = if self.lit(br#"bid""#).is_some() {
                WireSide::Bid
            } else {
                self.lit(br#"offer""#)?;
                WireSide::Offer
            };
            if self.lit(br#","event_time":""#).is_some() {
                self.skip_event_time()?;
            }
            side
        };
        self.lit(br#","price_level":""#)?;
        build.level(self, side)
    }
}

/// `a == b`, eight bytes at a time (a call to `memcmp` costs more than these short strings).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    if len < 8 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut at = 0;
    while at + 8 < len {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the word before if the length is not a multiple of 8.
    word(a, len - 8) == word(b, len - 8)
}

/// The index of the first `"`, `\\`, control or non-ASCII byte in `bytes`, eight bytes at a time.
#[inline]
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // A byte is flagged when it is zero after xor with '"' or '\\', below 0x20, or has its
        // high bit set. The lowest flagged byte of each test is always a real match (borrows
        // only run upwards).
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | w.wrapping_sub(ONES * 0x20) & !w
            | w)
            & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b))
        .map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_compares_whole_slices() {
        let text = b"2026-08-07T20:04:08.123456789Z-and-more";
        for len in 0..text.len() {
            let a = &text[..len];
            let copy = a.to_vec();
            assert!(same_bytes(a, &copy));
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a, &b), "{len} {at}");
            }
            assert!(!same_bytes(a, &text[..len + 1]));
        }
    }

    #[test]
    fn string_end_finds_the_first_special_byte() {
        fn naive(b: &[u8]) -> Option<usize> {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        }
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"abc".to_vec(),
            b"64930.57\"".to_vec(),
            b"2026-08-07T20:04:08.4375Z\",\"price".to_vec(),
            b"abcdefgh\\x\"".to_vec(),
            b"\x1f".to_vec(),
            "caf\u{e9}\u{7f}\u{80}\"".as_bytes().to_vec(),
        ];
        // Every special byte at every position, after bytes that stress the borrow logic.
        for special in [b'"', b'\\', 0x00, 0x1f, 0x80, 0xc3, 0xff] {
            for pos in 0..20 {
                for filler in [b'a', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x01 + 0x20] {
                    let mut v = vec![filler; 20];
                    v[pos] = special;
                    cases.push(v);
                }
            }
        }
        for case in &cases {
            assert_eq!(string_end(case), naive(case), "{case:?}");
        }
    }

    use proptest::prelude::*;

    use crate::feed::protocol::parse_general;

    /// (is a snapshot, product, [(is a bid, price, size, event time)]).
    type GeneratedEvent = (bool, String, Vec<(bool, String, String, u8)>);

    /// A level's `event_time`: none, or one of two (levels usually share one, not always).
    fn level_time(choice: u8) -> &'static str {
        match choice % 4 {
            0 => "",
            3 => r#","event_time":"2026-08-07T20:04:09Z""#,
            _ => r#","event_time":"2026-08-07T20:04:08.4375Z""#,
        }
    }

    /// A frame in the compact form, from generated parts.
    fn compact(client_id: bool, seq: u64, events: &[GeneratedEvent]) -> String {
        let events: Vec<String> = events
            .iter()
            .map(|(snapshot, product, updates)| {
                let updates: Vec<String> = updates
                    .iter()
                    .map(|(bid, price, qty, time)| {
                        let side = if *bid { "bid" } else { "offer" };
                        let time = level_time(*time);
                        format!(r#"{{"side":"{side}"{time},"price_level":"{price}","new_quantity":"{qty}"}}"#)
                    })
                    .collect();
                let kind = if *snapshot { "snapshot" } else { "update" };
                format!(r#"{{"type":"{kind}","product_id":"{product}","updates":[{}]}}"#, updates.join(","))
            })
            .collect();
        let client = if client_id { r#""client_id":"","# } else { "" };
        format!(
            r#"{{"channel":"l2_data",{client}"timestamp":"2026-08-07T20:04:08Z","sequence_num":{seq},"events":[{}]}}"#,
            events.join(",")
        )
    }

    fn text_part() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[0-9]{1,6}(\\.[0-9]{1,8})?",
            1 => "[ -~]{0,12}",
            1 => "\\PC{0,6}",
        ]
    }

    fn frames() -> impl Strategy<Value = String> {
        let update = (any::<bool>(), text_part(), text_part(), any::<u8>());
        let event = (
            any::<bool>(),
            "[A-Z]{3}-[A-Z]{3}",
            prop::collection::vec(update, 0..6),
        );
        (
            any::<bool>(),
            any::<u64>(),
            prop::collection::vec(event, 0..4),
        )
            .prop_map(|(c, seq, events)| compact(c, seq, &events))
    }

    /// Damage that must either keep the meaning or make the fast path give up (raw bytes:
    /// the result may not be UTF-8).
    fn mutate(text: &str, how: u8, at: usize, byte: u8) -> Vec<u8> {
        let mut b = text.as_bytes().to_vec();
        let at = at % (b.len() + 1);
        match how % 4 {
            0 => b.truncate(at),
            1 => b.insert(at, byte),
            2 if at < b.len() => b[at] = byte,
            _ => b.insert(at, b' '),
        }
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn the_fast_path_reads_compact_frames_as_the_general_parser_does(text in frames()) {
            let general = parse_general(&text).ok();
            match l2(text.as_bytes()) {
                Some(fast) => prop_assert_eq!(Some(fast), general),
                // It may only give up on invalid frames, or strings it cannot borrow as they are.
                None => prop_assert!(
                    general.is_none() || text.contains('\\') || text.chars().any(|c| c < ' ' || !c.is_ascii()),
                    "{}",
                    text
                ),
            }
        }

        #[test]
        fn whatever_the_fast_path_accepts_the_general_parser_reads_the_same(
            text in frames(), how in any::<u8>(), at in any::<usize>(), byte in any::<u8>()
        ) {
            let damaged = mutate(&text, how, at, byte);
            if let Some(fast) = l2(&damaged) {
                let text = std::str::from_utf8(&damaged);
                prop_assert!(text.is_ok(), "accepted bytes that are not UTF-8: {:?}", damaged);
                let general = text.ok().and_then(|t| parse_general(t).ok());
                prop_assert_eq!(Some(fast), general, "{:?}", damaged);
            }
        }
    }

    /// An event as read: (kind, product id, levels).
    type ReadEvent = (L2Kind, String, Vec<(Side, Price, Size)>);

    /// The events of a frame as the general parser reads them, numbers parsed by the book; `None`
    /// when it is not an `l2_data` frame or a number is refused.
    fn general_levels(text: &str) -> Option<(L2Header<'_>, Vec<ReadEvent>)> {
        let ServerMessage::L2 { envelope, events } = parse_general(text).ok()? else {
            return None;
        };
        let header = L2Header {
            sequence_num: envelope.sequence_num?,
            timestamp: match envelope.timestamp? {
                Cow::Borrowed(t) => t.as_bytes(),
                Cow::Owned(_) => return None,
            },
        };
        let mut out = Vec::new();
        for event in events {
            let mut levels = Vec::new();
            for u in &event.updates {
                let price = Price::parse_bytes(u.price_level.as_bytes()).ok()?;
                let size = Size::parse_bytes(u.new_quantity.as_bytes()).ok()?;
                levels.push((u.side.into(), price, size));
            }
            out.push((event.kind, event.product_id.into_owned(), levels));
        }
        Some((header, out))
    }

    fn batch_levels<'a>(
        bytes: &'a [u8],
        batch: &mut L2Batch,
    ) -> Option<(L2Header<'a>, Vec<ReadEvent>)> {
        let header = l2_levels(bytes, batch)?;
        let events = batch
            .events(bytes)
            .map(|e| {
                (
                    e.kind,
                    String::from_utf8(e.product_id.to_vec()).unwrap(),
                    e.levels.to_vec(),
                )
            })
            .collect();
        Some((header, events))
    }

    fn heartbeats() -> impl Strategy<Value = String> {
        (any::<bool>(), any::<u64>(), prop::collection::vec(any::<u64>(), 0..3)).prop_map(
            |(client_id, seq, counters)| {
                let events: Vec<String> = counters
                    .iter()
                    .map(|n| format!(r#"{{"current_time":"2026-08-07 20:04:09 +0000 UTC m=+1.000000000","heartbeat_counter":{n}}}"#))
                    .collect();
                let client = if client_id { r#""client_id":"","# } else { "" };
                format!(
                    r#"{{"channel":"heartbeats",{client}"timestamp":"2026-08-07T20:04:09Z","sequence_num":{seq},"events":[{}]}}"#,
                    events.join(",")
                )
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn the_batch_reads_frames_as_the_general_parser_and_the_book_do(
            text in frames(), how in any::<u8>(), at in any::<usize>(), byte in any::<u8>(), damage in any::<bool>()
        ) {
            let bytes = if damage { mutate(&text, how, at, byte) } else { text.clone().into_bytes() };
            // A batch that held another frame before: nothing of it may leak into this one.
            let mut batch = L2Batch::default();
            let _ = l2_levels(include_str!("../fixtures/l2_update_several_products.json").trim_end().as_bytes(), &mut batch);
            match batch_levels(&bytes, &mut batch) {
                Some(fast) => {
                    let text = std::str::from_utf8(&bytes);
                    prop_assert!(text.is_ok(), "accepted bytes that are not UTF-8: {:?}", bytes);
                    prop_assert_eq!(Some(fast), text.ok().and_then(general_levels));
                }
                // On undamaged frames it gives up only where the message path does, or on a
                // number the book refuses (the generated numbers are short, never padded).
                None => if !damage && l2(&bytes).is_some() {
                    prop_assert!(general_levels(&text).is_none(), "{}", text);
                }
            }
        }

        #[test]
        fn the_heartbeat_path_reads_as_the_general_parser(
            text in heartbeats(), how in any::<u8>(), at in any::<usize>(), byte in any::<u8>(), damage in any::<bool>()
        ) {
            let bytes = if damage { mutate(&text, how, at, byte) } else { text.clone().into_bytes() };
            match heartbeat(&bytes) {
                Some(fast) => {
                    let text = std::str::from_utf8(&bytes);
                    prop_assert!(text.is_ok(), "accepted bytes that are not UTF-8: {:?}", bytes);
                    prop_assert_eq!(Some(fast), text.ok().and_then(|t| parse_general(t).ok()));
                }
                None => prop_assert!(damage, "refused a compact heartbeat: {}", text),
            }
        }
    }

    #[test]
    fn the_fixtures_take_the_fast_path() {
        for text in [
            include_str!("../fixtures/l2_snapshot.json"),
            include_str!("../fixtures/l2_update_several_products.json"),
            include_str!("../fixtures/l2_no_client_id.json"),
        ] {
            let text = text.trim_end();
            assert!(l2(text.as_bytes()).is_some(), "{text}");
            assert_eq!(l2(text.as_bytes()), parse_general(text).ok());
        }
        for text in [
            include_str!("../fixtures/l2_events_before_channel.json"),
            include_str!("../fixtures/l2_escaped_text.json"),
        ] {
            assert!(l2(text.trim_end().as_bytes()).is_none());
        }
        assert!(
            l2(br#"{"channel":"l2_data","timestamp":"x","sequence_num":01,"events":[]}"#).is_none()
        );
        assert!(l2(br#"{"channel":"l2_data","timestamp":"x","sequence_num":18446744073709551616,"events":[]}"#).is_none());
        assert!(
            l2(br#"{"channel":"l2_data","timestamp":"x","sequence_num":1.0,"events":[]}"#)
                .is_none()
        );
        assert!(
            l2(br#"{"channel":"l2_data","timestamp":"x","sequence_num":1,"events":[]} "#).is_none()
        );
    }
}
