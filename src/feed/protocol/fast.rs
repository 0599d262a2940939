//! A hand-written reader for `l2_data` frames in the exact compact form Coinbase (and the
//! simulator) send, several times faster than the general serde path: one forward scan, no
//! field-name dispatch, every string borrowed.
//!
//! It accepts only that form: keys in the usual order, no whitespace, no escapes, no unknown keys,
//! integers without leading zeros, strings of printable ASCII (so an accepted frame is valid UTF-8
//! without a separate pass over it). On anything else it answers `None` and the caller uses the
//! general parser, so the fast path changes speed, never results (a property test checks that
//! whatever it accepts, the general parser reads the same way).

use std::borrow::Cow;

use super::{Envelope, L2Event, L2Kind, L2Update, NumberText, ServerMessage, WireSide};

/// Reads an `l2_data` frame, or `None` if it is not in the exact compact form.
pub fn l2(bytes: &[u8]) -> Option<ServerMessage<'_>> {
    let mut c = Cursor { bytes, at: 0 };
    c.lit(br#"{"channel":"l2_data","#)?;
    if c.lit(br#""client_id":""#).is_some() {
        c.skip_string()?;
        c.lit(b",")?;
    }
    c.lit(br#""timestamp":""#)?;
    let timestamp = c.string()?;
    c.lit(br#","sequence_num":"#)?;
    let sequence_num = c.integer()?;
    c.lit(br#","events":["#)?;
    let mut events = Vec::new();
    if c.lit(b"]").is_none() {
        loop {
            events.push(c.event()?);
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
    Some(ServerMessage::L2 {
        envelope: Envelope {
            sequence_num: Some(sequence_num),
            timestamp: Some(Cow::Borrowed(timestamp)),
        },
        events,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
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

    /// The body of a string whose opening quote was consumed; consumes the closing quote.
    /// `None` on an escape, a control character or a non-ASCII byte (the general parser
    /// handles those).
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        let body = self.skip_string()?;
        // Printable ASCII only (checked by `string_end`): this cannot fail.
        std::str::from_utf8(body).ok()
    }

    /// [`Cursor::string`] as bytes (printable ASCII, unchecked as UTF-8 since nothing needs it).
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

    /// A JSON integer that fits a u64, without sign, fraction, exponent or leading zero.
    #[inline]
    fn integer(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.at..)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && rest[0] == b'0') || digits > 20 {
            return None;
        }
        if matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let mut value = 0u64;
        for &d in &rest[..digits] {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.at += digits;
        Some(value)
    }

    fn event(&mut self) -> Option<L2Event<'a>> {
        self.lit(br#"{"type":""#)?;
        let kind = if self.lit(br#"update""#).is_some() {
            L2Kind::Update
        } else {
            self.lit(br#"snapshot""#)?;
            L2Kind::Snapshot
        };
        self.lit(br#","product_id":""#)?;
        let product_id = self.string()?;
        self.lit(br#","updates":["#)?;
        let mut updates = Vec::new();
        if self.lit(b"]").is_none() {
            loop {
                updates.push(self.update()?);
                if self.lit(b",").is_none() {
                    self.lit(b"]")?;
                    break;
                }
            }
        }
        self.lit(b"}")?;
        Some(L2Event {
            kind,
            product_id: Cow::Borrowed(product_id),
            updates,
        })
    }

    #[inline]
    fn update(&mut self) -> Option<L2Update<'a>> {
        self.lit(br#"{"side":""#)?;
        let side = if self.lit(br#"bid""#).is_some() {
            WireSide::Bid
        } else {
            self.lit(br#"offer""#)?;
            WireSide::Offer
        };
        if self.lit(br#","event_time":""#).is_some() {
            self.skip_string()?;
        }
        self.lit(br#","price_level":""#)?;
        let price_level = self.skip_string()?;
        self.lit(br#","new_quantity":""#)?;
        let new_quantity = self.skip_string()?;
        self.lit(b"}")?;
        Some(L2Update {
            side,
            price_level: NumberText(Cow::Borrowed(price_level)),
            new_quantity: NumberText(Cow::Borrowed(new_quantity)),
        })
    }
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

    /// (is a snapshot, product, [(is a bid, price, size)]).
    type GeneratedEvent = (bool, String, Vec<(bool, String, String)>);

    /// A frame in the compact form, from generated parts.
    fn compact(client_id: bool, event_time: bool, seq: u64, events: &[GeneratedEvent]) -> String {
        let events: Vec<String> = events
            .iter()
            .map(|(snapshot, product, updates)| {
                let updates: Vec<String> = updates
                    .iter()
                    .map(|(bid, price, qty)| {
                        let side = if *bid { "bid" } else { "offer" };
                        let time = if event_time { r#","event_time":"2026-08-07T20:04:08.4375Z""# } else { "" };
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
        let update = (any::<bool>(), text_part(), text_part());
        let event = (
            any::<bool>(),
            "[A-Z]{3}-[A-Z]{3}",
            prop::collection::vec(update, 0..6),
        );
        (
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
            prop::collection::vec(event, 0..4),
        )
            .prop_map(|(c, t, seq, events)| compact(c, t, seq, &events))
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
