//! The Advanced Trade WebSocket messages, parsed in one pass and borrowing from the frame text.
//!
//! Prices and sizes stay text (`&str`, no allocation): the book parses them exactly. The envelope
//! is read field by field, so the `events` array is parsed straight into the shape its `channel`
//! calls for (when `channel` comes first, as Coinbase sends it) with no intermediate
//! `serde_json::Value`; when `events` comes first it is kept as raw text and parsed once the
//! channel is known. Unknown channels, event types' extra fields and unknown top-level fields are
//! skipped, as the protocol asks.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::book::Side;

/// Why a frame could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame is not valid JSON or has a field of the wrong type: {0}")]
    Json(#[from] serde_json::Error),
    #[error("frame has neither a `channel` nor a `type`")]
    Unrecognised,
    #[error("frame is not UTF-8 text (bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("`l2_data` frame has no `events`")]
    NoEvents,
}

/// A level-2 side as Coinbase prints it: `bid` or `offer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireSide {
    Bid,
    Offer,
}

impl From<WireSide> for Side {
    fn from(side: WireSide) -> Side {
        match side {
            WireSide::Bid => Side::Bid,
            WireSide::Offer => Side::Ask,
        }
    }
}

/// One price level of an `l2_data` event. `event_time` is skipped (not monotonic, often 1970).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct L2Update<'a> {
    pub side: WireSide,
    #[serde(borrow)]
    pub price_level: NumberText<'a>,
    /// The new absolute size; zero removes the level.
    #[serde(borrow)]
    pub new_quantity: NumberText<'a>,
}

/// The text of a price or size (a JSON string, unescaped), kept as bytes: the book parses bytes,
/// and the fast path never needs to prove the text is UTF-8.
#[derive(Clone, PartialEq, Eq)]
pub struct NumberText<'a>(pub Cow<'a, [u8]>);

impl NumberText<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for NumberText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for NumberText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = BorrowedText::deserialize(deserializer)?.0;
        Ok(NumberText(match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }))
    }
}

/// Whether an `l2_data` event is the whole book or a change to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L2Kind {
    Snapshot,
    Update,
}

/// One product's part of an `l2_data` frame.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct L2Event<'a> {
    #[serde(rename = "type")]
    pub kind: L2Kind,
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub updates: Vec<L2Update<'a>>,
}

/// The `subscriptions` ack: the cumulative channel -> products map of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct SubscriptionsEvent {
    #[serde(default)]
    subscriptions: BTreeMap<String, Vec<String>>,
}

/// A `heartbeats` event. `heartbeat_counter` is an integer live and a string in the docs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct HeartbeatEvent {
    #[serde(default, deserialize_with = "counter")]
    heartbeat_counter: Option<u64>,
}

/// The envelope fields every data and ack message carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub sequence_num: Option<u64>,
    /// RFC 3339, up to nanoseconds.
    pub timestamp: Option<Cow<'a, str>>,
}

/// A server frame, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage<'a> {
    L2 {
        envelope: Envelope<'a>,
        events: Vec<L2Event<'a>>,
    },
    Subscriptions {
        envelope: Envelope<'a>,
        subscriptions: BTreeMap<String, Vec<String>>,
    },
    Heartbeat {
        envelope: Envelope<'a>,
        counter: Option<u64>,
    },
    /// `{"type":"error","message":...,"reason":...}`: no envelope.
    Error {
        message: String,
        reason: Option<String>,
    },
    /// `market_trades`: trades, the maker's side in `side`.
    Trades {
        envelope: Envelope<'a>,
        events: Vec<TradesEvent<'a>>,
    },
    /// `ticker` and `ticker_batch`.
    Ticker {
        envelope: Envelope<'a>,
        events: Vec<TickerEvent<'a>>,
    },
    /// A channel or type cbbook does not use (candles, status, ...): only its envelope counts.
    Other {
        envelope: Envelope<'a>,
        channel: Option<Cow<'a, str>>,
        kind: Option<Cow<'a, str>>,
    },
}

impl<'a> ServerMessage<'a> {
    /// The envelope, for every message that has one.
    pub fn envelope(&self) -> Option<&Envelope<'a>> {
        match self {
            ServerMessage::L2 { envelope, .. }
            | ServerMessage::Subscriptions { envelope, .. }
            | ServerMessage::Heartbeat { envelope, .. }
            | ServerMessage::Trades { envelope, .. }
            | ServerMessage::Ticker { envelope, .. }
            | ServerMessage::Other { envelope, .. } => Some(envelope),
            ServerMessage::Error { .. } => None,
        }
    }
}

mod fast;
mod market;
mod user;

pub use fast::{
    BatchEventRef, L2Batch, L2Header, MarketHeader, TickerBatch, TickerSpan, TradeBatch, TradeSpan,
};
pub use market::{RawTicker, RawTrade, TickerEvent, TickerFields, TradeFields, TradesEvent};
pub use user::{RawOrder, USER_SNAPSHOT_BATCH, UserEvent, parse_user_events};

/// Parses one frame. Never panics; every failure is a [`ProtocolError`].
pub fn parse(text: &str) -> Result<ServerMessage<'_>, ProtocolError> {
    parse_bytes(text.as_bytes())
}

/// [`parse`] for a frame not yet checked to be UTF-8 (replay reads raw lines).
///
/// `l2_data`, `heartbeats`, `market_trades` and `ticker` frames in the compact, all-ASCII form
/// the exchange sends take a hand-written fast path that needs no UTF-8 pass over the whole
/// frame; everything else (and any frame the fast path is unsure of) is checked and goes through
/// serde.
pub fn parse_bytes(bytes: &[u8]) -> Result<ServerMessage<'_>, ProtocolError> {
    if bytes.starts_with(br#"{"channel":"l2_data","#)
        && let Some(message) = fast::l2(bytes)
    {
        return Ok(message);
    }
    if bytes.starts_with(br#"{"channel":"heartbeats","#)
        && let Some(message) = fast::heartbeat(bytes)
    {
        return Ok(message);
    }
    if bytes.starts_with(br#"{"channel":"market_trades","#)
        && let Some(message) = fast::trades(bytes)
    {
        return Ok(message);
    }
    if bytes.starts_with(br#"{"channel":"ticker"#)
        && let Some(message) = fast::ticker(bytes)
    {
        return Ok(message);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| ProtocolError::NotUtf8(e.valid_up_to()))?;
    parse_general(text)
}

/// The feed's hot path: an `l2_data` frame in the exact compact form the exchange sends, read into
/// `batch` with every price and size already exact (see [`L2Batch`]). `None` for any other frame,
/// or one with a number not in the form Coinbase prints: the caller then uses [`parse_bytes`],
/// which reads every frame and lets the book explain a bad number.
pub fn parse_l2_levels<'a>(bytes: &'a [u8], batch: &mut L2Batch) -> Option<L2Header<'a>> {
    if !bytes.starts_with(br#"{"channel":"l2_data","#) {
        return None;
    }
    fast::l2_levels(bytes, batch)
}

/// The feed's path for `market_trades` frames: a frame in the compact form the exchange sends,
/// read into `batch` as the places of its values, nothing copied. `None` for any other frame:
/// the caller then uses [`parse_bytes`], which reads every frame.
pub fn parse_trades<'a>(bytes: &'a [u8], batch: &mut TradeBatch) -> Option<MarketHeader<'a>> {
    fast::trades_into(bytes, batch)
}

/// [`parse_trades`] for `ticker` and `ticker_batch` frames.
pub fn parse_ticker<'a>(bytes: &'a [u8], batch: &mut TickerBatch) -> Option<MarketHeader<'a>> {
    fast::ticker_into(bytes, batch)
}

/// The serde path alone: every message shape, any key order, escapes, whitespace.
pub fn parse_general(text: &str) -> Result<ServerMessage<'_>, ProtocolError> {
    let raw: RawFrame<'_> = serde_json::from_str(text)?;
    raw.classify()
}

/// The `sequence_num` of a frame the parser refused, when it can still be read: the frame is a
/// JSON object whose `sequence_num` is a whole number that fits a `u64` (whatever else is wrong
/// with it: an unknown event type or side, a field of the wrong type). `None` for anything
/// else: text that is not JSON, a number written as a string, negative, fractional or too large.
///
/// Such a frame still used up its number on the server's counter, so the sequence must count it
/// (docs/feed.md, "Integrity rules"); a frame whose number cannot be read counts for nothing.
pub fn readable_sequence_num(bytes: &[u8]) -> Option<u64> {
    /// Only the number is read; every other field is skipped unparsed.
    #[derive(Deserialize)]
    struct Numbered {
        sequence_num: Option<u64>,
    }
    serde_json::from_slice::<Numbered>(bytes).ok()?.sequence_num
}

/// What the channel asks the `events` array to be parsed as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventsShape {
    L2,
    Subscriptions,
    Heartbeats,
    Trades,
    Ticker,
    Ignored,
}

impl EventsShape {
    fn of(channel: &str) -> EventsShape {
        match channel {
            "l2_data" => EventsShape::L2,
            "subscriptions" => EventsShape::Subscriptions,
            "heartbeats" => EventsShape::Heartbeats,
            "market_trades" => EventsShape::Trades,
            "ticker" | "ticker_batch" => EventsShape::Ticker,
            _ => EventsShape::Ignored,
        }
    }
}

/// The `events` array, parsed as its channel asks, or kept raw until the channel is known.
enum Events<'a> {
    L2(Vec<L2Event<'a>>),
    Subscriptions(Vec<SubscriptionsEvent>),
    Heartbeats(Vec<HeartbeatEvent>),
    Trades(Vec<TradesEvent<'a>>),
    Ticker(Vec<TickerEvent<'a>>),
    Raw(&'a RawValue),
    Ignored,
}

impl<'a> Events<'a> {
    fn parse_raw(raw: &'a RawValue, shape: EventsShape) -> Result<Events<'a>, serde_json::Error> {
        Ok(match shape {
            EventsShape::L2 => Events::L2(serde_json::from_str(raw.get())?),
            EventsShape::Subscriptions => Events::Subscriptions(serde_json::from_str(raw.get())?),
            EventsShape::Heartbeats => Events::Heartbeats(serde_json::from_str(raw.get())?),
            EventsShape::Trades => Events::Trades(serde_json::from_str(raw.get())?),
            EventsShape::Ticker => Events::Ticker(serde_json::from_str(raw.get())?),
            EventsShape::Ignored => Events::Ignored,
        })
    }
}

struct RawFrame<'a> {
    kind: Option<Cow<'a, str>>,
    channel: Option<Cow<'a, str>>,
    envelope: Envelope<'a>,
    events: Option<Events<'a>>,
    message: Option<String>,
    reason: Option<String>,
}

impl<'a> RawFrame<'a> {
    fn classify(self) -> Result<ServerMessage<'a>, ProtocolError> {
        if self.kind.as_deref() == Some("error") {
            return Ok(ServerMessage::Error {
                message: self.message.unwrap_or_default(),
                reason: self.reason,
            });
        }
        let shape = self.channel.as_deref().map(EventsShape::of);
        let events = match (self.events, shape) {
            (Some(Events::Raw(raw)), Some(shape)) => Some(Events::parse_raw(raw, shape)?),
            (events, _) => events,
        };
        let envelope = self.envelope;
        Ok(match (shape, events) {
            (Some(EventsShape::L2), Some(Events::L2(events))) => {
                ServerMessage::L2 { envelope, events }
            }
            // Book data that did not arrive: the frame is malformed, not empty.
            (Some(EventsShape::L2), None) => return Err(ProtocolError::NoEvents),
            (Some(EventsShape::Subscriptions), events) => {
                let mut subscriptions = BTreeMap::new();
                if let Some(Events::Subscriptions(list)) = events {
                    // Cumulative: the last event holds the whole map.
                    if let Some(last) = list.into_iter().last() {
                        subscriptions = last.subscriptions;
                    }
                }
                ServerMessage::Subscriptions {
                    envelope,
                    subscriptions,
                }
            }
            (Some(EventsShape::Heartbeats), events) => {
                let counter = match events {
                    Some(Events::Heartbeats(list)) => {
                        list.iter().rev().find_map(|e| e.heartbeat_counter)
                    }
                    _ => None,
                };
                ServerMessage::Heartbeat { envelope, counter }
            }
            (Some(EventsShape::Trades), events) => ServerMessage::Trades {
                envelope,
                events: match events {
                    Some(Events::Trades(list)) => list,
                    _ => Vec::new(),
                },
            },
            (Some(EventsShape::Ticker), events) => ServerMessage::Ticker {
                envelope,
                events: match events {
                    Some(Events::Ticker(list)) => list,
                    _ => Vec::new(),
                },
            },
            _ => {
                if self.channel.is_none() && self.kind.is_none() {
                    return Err(ProtocolError::Unrecognised);
                }
                ServerMessage::Other {
                    envelope,
                    channel: self.channel,
                    kind: self.kind,
                }
            }
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawFrame<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FrameVisitor(std::marker::PhantomData))
    }
}

struct FrameVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FrameVisitor<'a> {
    type Value = RawFrame<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (an Advanced Trade frame)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFrame<'a>, A::Error> {
        let mut frame = RawFrame {
            kind: None,
            channel: None,
            envelope: Envelope::default(),
            events: None,
            message: None,
            reason: None,
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "channel" => frame.channel = Some(map.next_value::<BorrowedText<'a>>()?.0),
                "type" => frame.kind = Some(map.next_value::<BorrowedText<'a>>()?.0),
                "sequence_num" => frame.envelope.sequence_num = map.next_value()?,
                "timestamp" => {
                    frame.envelope.timestamp =
                        map.next_value::<Option<BorrowedText<'a>>>()?.map(|t| t.0)
                }
                "events" => {
                    let shape = frame.channel.as_deref().map(EventsShape::of);
                    frame.events = Some(match shape {
                        Some(EventsShape::L2) => Events::L2(map.next_value()?),
                        Some(EventsShape::Subscriptions) => {
                            Events::Subscriptions(map.next_value()?)
                        }
                        Some(EventsShape::Heartbeats) => Events::Heartbeats(map.next_value()?),
                        Some(EventsShape::Trades) => Events::Trades(map.next_value()?),
                        Some(EventsShape::Ticker) => Events::Ticker(map.next_value()?),
                        Some(EventsShape::Ignored) => {
                            map.next_value::<IgnoredAny>()?;
                            Events::Ignored
                        }
                        None => Events::Raw(map.next_value()?),
                    });
                }
                "message" => frame.message = map.next_value::<Option<AnyText>>()?.map(|t| t.0),
                "reason" => frame.reason = map.next_value::<Option<AnyText>>()?.map(|t| t.0),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(frame)
    }
}

/// A string, borrowed from the frame when it has no escapes.
struct BorrowedText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BorrowedText<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedText(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedText(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Error texts are shown verbatim: accept any JSON scalar (a number or bool shown as written).
struct AnyText(String);

impl<'de> Deserialize<'de> for AnyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(AnyText(match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

/// `heartbeat_counter`: an integer, or an integer in a string.
fn counter<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a non-negative integer, or one in a string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("negative heartbeat_counter {v}")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| E::custom(format!("heartbeat_counter `{v}` is not an integer")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    deserializer.deserialize_any(V)
}

/// A subscribe or unsubscribe message, as sent.
#[derive(Debug, Clone, Serialize)]
pub struct SubscribeMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub product_ids: &'a [String],
    pub channel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<&'a str>,
}

impl<'a> SubscribeMessage<'a> {
    /// `{"type":"subscribe","product_ids":[...],"channel":...,"jwt":...}`.
    pub fn subscribe(channel: &'a str, product_ids: &'a [String], jwt: Option<&'a str>) -> Self {
        SubscribeMessage {
            kind: "subscribe",
            product_ids,
            channel,
            jwt,
        }
    }

    /// `{"type":"unsubscribe",...}`.
    pub fn unsubscribe(channel: &'a str, product_ids: &'a [String], jwt: Option<&'a str>) -> Self {
        SubscribeMessage {
            kind: "unsubscribe",
            product_ids,
            channel,
            jwt,
        }
    }

    /// The message as sent on the wire.
    pub fn to_json(&self) -> String {
        // Serialising strings and string slices cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message with the JWT replaced by `"<redacted>"`, for events, views and logs.
    pub fn to_redacted_json(&self) -> String {
        let redacted = SubscribeMessage {
            jwt: self.jwt.map(|_| "<redacted>"),
            ..self.clone()
        };
        redacted.to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("fixtures/", $name, ".json")).trim_end()
        };
    }

    fn l2(text: &str) -> (Envelope<'_>, Vec<L2Event<'_>>) {
        match parse(text).unwrap() {
            ServerMessage::L2 { envelope, events } => (envelope, events),
            other => panic!("not l2_data: {other:?}"),
        }
    }

    fn levels<'a>(event: &'a L2Event<'_>) -> Vec<(WireSide, &'a str, &'a str)> {
        event
            .updates
            .iter()
            .map(|u| {
                let text = |t: &'a NumberText<'_>| std::str::from_utf8(t.as_bytes()).unwrap();
                (u.side, text(&u.price_level), text(&u.new_quantity))
            })
            .collect()
    }

    #[test]
    fn snapshot_with_interleaved_sides() {
        let (envelope, events) = l2(fixture!("l2_snapshot"));
        assert_eq!(envelope.sequence_num, Some(0));
        assert_eq!(
            envelope.timestamp.as_deref(),
            Some("2023-02-09T20:32:50.714964855Z")
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, L2Kind::Snapshot);
        assert_eq!(events[0].product_id, "BTC-USD");
        assert_eq!(
            levels(&events[0]),
            [
                (WireSide::Bid, "21921.73", "0.06317902"),
                (WireSide::Offer, "21922.1", "0.5"),
                (WireSide::Bid, "21921", "1.25"),
                (WireSide::Offer, "21923.57", "2"),
            ]
        );
    }

    #[test]
    fn prices_borrow_from_the_frame() {
        let text = fixture!("l2_snapshot");
        let (_, events) = l2(text);
        assert!(matches!(
            events[0].updates[0].price_level.0,
            Cow::Borrowed(_)
        ));
        assert!(matches!(events[0].product_id, Cow::Borrowed(_)));
    }

    #[test]
    fn several_products_in_one_frame_with_zero_sizes() {
        let (envelope, events) = l2(fixture!("l2_update_several_products"));
        assert_eq!(envelope.sequence_num, Some(5));
        let products: Vec<_> = events.iter().map(|e| e.product_id.as_ref()).collect();
        assert_eq!(products, ["BTC-USD", "ETH-USD"]);
        assert!(events.iter().all(|e| e.kind == L2Kind::Update));
        assert_eq!(
            levels(&events[0]),
            [
                (WireSide::Bid, "21921.73", "0.00000000"),
                (WireSide::Offer, "21922.10", "0.75")
            ]
        );
        assert_eq!(
            levels(&events[1]),
            [
                (WireSide::Offer, "1650.5", "3"),
                (WireSide::Bid, "1650.01", "0")
            ]
        );
    }

    #[test]
    fn missing_client_id_is_fine() {
        let (envelope, events) = l2(fixture!("l2_no_client_id"));
        assert_eq!(envelope.sequence_num, Some(7));
        assert_eq!(levels(&events[0]), [(WireSide::Bid, "21920", "4.5")]);
    }

    #[test]
    fn events_before_channel_are_parsed_once_the_channel_is_known() {
        let (envelope, events) = l2(fixture!("l2_events_before_channel"));
        assert_eq!(envelope.sequence_num, Some(9));
        assert_eq!(events[0].product_id, "BTC-USD");
        assert_eq!(levels(&events[0]), [(WireSide::Offer, "64930.5", "1")]);
    }

    #[test]
    fn escaped_text_is_decoded() {
        let (_, events) = l2(fixture!("l2_escaped_text"));
        assert_eq!(events[0].product_id, "BTC-USD");
        assert_eq!(levels(&events[0]), [(WireSide::Bid, "64930.5", "1")]);
    }

    #[test]
    fn subscriptions_ack() {
        match parse(fixture!("subscriptions")).unwrap() {
            ServerMessage::Subscriptions {
                envelope,
                subscriptions,
            } => {
                assert_eq!(envelope.sequence_num, Some(1));
                assert_eq!(subscriptions["level2"], ["BTC-USD", "ETH-USD"]);
                assert_eq!(subscriptions["heartbeats"], ["heartbeats"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn heartbeat_counter_integer_or_string() {
        for (text, seq, counter) in [
            (fixture!("heartbeat_integer"), 33, 75497),
            (fixture!("heartbeat_string"), 0, 3049),
        ] {
            match parse(text).unwrap() {
                ServerMessage::Heartbeat {
                    envelope,
                    counter: c,
                } => {
                    assert_eq!(envelope.sequence_num, Some(seq));
                    assert_eq!(c, Some(counter));
                }
                other => panic!("{other:?}"),
            }
        }
        let negative =
            r#"{"channel":"heartbeats","sequence_num":1,"events":[{"heartbeat_counter":-1}]}"#;
        assert!(parse(negative).is_err());
    }

    #[test]
    fn error_frames_with_and_without_reason() {
        let cases = [
            (fixture!("error_auth"), "authentication failure", None),
            (
                fixture!("error_auth_with_reason"),
                "authentication failure",
                Some("key_unknown: the server trusts no key named organizations/x/apiKeys/y"),
            ),
            (
                fixture!("error_unknown_product"),
                "Failed to subscribe",
                Some("FOO-BAR is not a valid product"),
            ),
            (
                fixture!("error_not_subscribe"),
                "subscribe or unsubscribe required",
                None,
            ),
        ];
        for (text, message, reason) in cases {
            assert_eq!(
                parse(text).unwrap(),
                ServerMessage::Error {
                    message: message.to_owned(),
                    reason: reason.map(str::to_owned)
                },
                "{text}"
            );
        }
        let odd = r#"{"type":"error","message":42,"reason":null}"#;
        assert_eq!(
            parse(odd).unwrap(),
            ServerMessage::Error {
                message: "42".into(),
                reason: None
            }
        );
    }

    #[test]
    fn trades_and_tickers_are_read_other_channels_keep_only_their_envelope() {
        match parse(fixture!("ticker")).unwrap() {
            ServerMessage::Ticker { envelope, events } => {
                assert_eq!(envelope.sequence_num, Some(12));
                assert_eq!(events[0].tickers[0].product_id, "BTC-USD");
                assert_eq!(events[0].tickers[0].price.as_deref(), Some("21932.98"));
            }
            other => panic!("{other:?}"),
        }
        match parse(fixture!("market_trades")).unwrap() {
            ServerMessage::Trades { envelope, events } => {
                assert_eq!(envelope.sequence_num, Some(13));
                assert!(!events[0].trades.is_empty());
            }
            other => panic!("{other:?}"),
        }
        for (text, channel, seq) in [
            (fixture!("status"), "status", 0),
            (fixture!("unknown_channel"), "futures_balance_summary", 14),
        ] {
            match parse(text).unwrap() {
                ServerMessage::Other {
                    envelope,
                    channel: c,
                    ..
                } => {
                    assert_eq!(c.as_deref(), Some(channel));
                    assert_eq!(envelope.sequence_num, Some(seq));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unusable_frames_are_errors_not_panics() {
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            "null",
            r#"{"channel":"l2_data","sequence_num":"x","events":[]}"#,
            r#"{"channel":"l2_data","sequence_num":-1,"events":[]}"#,
            r#"{"channel":"l2_data","events":[{"type":"snapshot"}]}"#,
            r#"{"channel":"l2_data","events":[{"type":"delta","product_id":"BTC-USD","updates":[]}]}"#,
            r#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"ask","price_level":"1","new_quantity":"1"}]}]}"#,
            r#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":1,"new_quantity":"1"}]}]}"#,
            r#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"1"}]}]}"#,
            r#"{"events":"nope","channel":"l2_data"}"#,
            r#"{"channel":"l2_data","sequence_num":1,"events":[]"#,
            r#"{"channel":"l2_data","sequence_num":3}"#,
            r#"{"sequence_num":3,"channel":"l2_data","events":null}"#,
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_refused_frame_still_shows_a_whole_sequence_num() {
        // Refused by the parser, but the number is there to be counted.
        for (frame, seq) in [
            (
                r#"{"channel":"l2_data","sequence_num":7,"events":[{"type":"delta","product_id":"BTC-USD","updates":[]}]}"#,
                7,
            ),
            (
                r#"{"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"ask","price_level":"1","new_quantity":"1"}]}],"sequence_num":8,"channel":"l2_data"}"#,
                8,
            ),
            (r#"{"channel":"l2_data","sequence_num":3}"#, 3),
            (
                r#"{"channel":"heartbeats","sequence_num":18446744073709551615,"events":[{"heartbeat_counter":"many"}]}"#,
                u64::MAX,
            ),
        ] {
            assert!(parse(frame).is_err(), "{frame}");
            assert_eq!(
                readable_sequence_num(frame.as_bytes()),
                Some(seq),
                "{frame}"
            );
        }
        // No number to count: not JSON, cut, or a number that is not a whole u64.
        for frame in [
            "garbage l2_data",
            r#"{"channel":"l2_data","sequence_num":1,"events":[]"#,
            r#"{"channel":"l2_data","sequence_num":"9","events":[]}"#,
            r#"{"channel":"l2_data","sequence_num":-1,"events":[]}"#,
            r#"{"channel":"l2_data","sequence_num":1.5,"events":[]}"#,
            r#"{"channel":"l2_data","sequence_num":18446744073709551616,"events":[]}"#,
            r#"{"channel":"l2_data","events":[]}"#,
            r#"[{"sequence_num":1}]"#,
        ] {
            assert_eq!(readable_sequence_num(frame.as_bytes()), None, "{frame}");
        }
    }

    #[test]
    fn subscribe_messages() {
        let products = vec!["BTC-USD".to_owned(), "ETH-USD".to_owned()];
        let msg = SubscribeMessage::subscribe("level2", &products, Some("a.b.c"));
        assert_eq!(
            msg.to_json(),
            r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"a.b.c"}"#
        );
        assert_eq!(
            msg.to_redacted_json(),
            r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"<redacted>"}"#
        );
        assert_eq!(
            SubscribeMessage::unsubscribe("level2", &products, None).to_json(),
            r#"{"type":"unsubscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2"}"#
        );
        assert_eq!(
            SubscribeMessage::subscribe("heartbeats", &[], None).to_json(),
            r#"{"type":"subscribe","product_ids":[],"channel":"heartbeats"}"#
        );
    }
}
