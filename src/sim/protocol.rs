//! What clients send: reading a subscribe or unsubscribe message, and the error frames the
//! server answers with when it cannot accept one.
//!
//! Error frames have no envelope. Their `message` is the exchange's text; `reason` is a simulator
//! extension that says what exactly was wrong (the exchange never does).

use std::borrow::Cow;

use serde_json::Value;

/// The channels a client can subscribe to (docs/sim.md, "Protocol").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Candles,
    FuturesBalanceSummary,
    Heartbeats,
    Level2,
    MarketTrades,
    Status,
    Ticker,
    TickerBatch,
    User,
}

impl Channel {
    pub const ALL: [Channel; 9] = [
        Channel::Candles,
        Channel::FuturesBalanceSummary,
        Channel::Heartbeats,
        Channel::Level2,
        Channel::MarketTrades,
        Channel::Status,
        Channel::Ticker,
        Channel::TickerBatch,
        Channel::User,
    ];

    /// The name a subscribe message uses.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Candles => "candles",
            Channel::FuturesBalanceSummary => "futures_balance_summary",
            Channel::Heartbeats => "heartbeats",
            Channel::Level2 => "level2",
            Channel::MarketTrades => "market_trades",
            Channel::Status => "status",
            Channel::Ticker => "ticker",
            Channel::TickerBatch => "ticker_batch",
            Channel::User => "user",
        }
    }

    /// The `channel` field of the data frames it produces (`level2` arrives as `l2_data`).
    pub fn wire(self) -> &'static str {
        match self {
            Channel::Level2 => "l2_data",
            other => other.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Channels that need a valid JWT.
    pub fn needs_jwt(self) -> bool {
        matches!(self, Channel::User | Channel::FuturesBalanceSummary)
    }

    /// Channels about products, which need at least one product id.
    pub fn needs_products(self) -> bool {
        matches!(
            self,
            Channel::Level2
                | Channel::Ticker
                | Channel::TickerBatch
                | Channel::MarketTrades
                | Channel::Candles
                | Channel::Status
        )
    }
}

/// Subscribe or unsubscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Subscribe,
    Unsubscribe,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Subscribe => "subscribe",
            Action::Unsubscribe => "unsubscribe",
        }
    }
}

/// A well-formed client message (its JWT and products are not checked yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    pub channel: Channel,
    pub product_ids: Vec<String>,
    pub jwt: Option<String>,
}

/// The exchange's error texts.
pub const AUTHENTICATION_FAILURE: &str = "authentication failure";
pub const SUBSCRIBE_REQUIRED: &str = "subscribe or unsubscribe required";
pub const FAILURE_TO_SUBSCRIBE: &str = "failure to subscribe";
/// Unparsable input (the exchange's answer is undocumented; this one is the simulator's choice).
pub const MALFORMED_MESSAGE: &str = "malformed message";
/// A message past `--max-unauth-messages-per-sec` (the exchange's text is undocumented; this one
/// is the simulator's).
pub const RATE_LIMIT_EXCEEDED: &str = "rate limit exceeded";
/// The message of the error frames `--error-every` sends mid-stream (the simulator's own text).
pub const INJECTED_FAULT: &str = "injected fault";

/// Client text (a product id, a channel name, a header) echoed in a frame or a log line is cut to
/// this many characters, so a huge message cannot make huge frames or log lines.
pub const MAX_ECHO_CHARS: usize = 200;
/// A backstop for a whole error reason: the simulator's own reasons are far shorter.
const MAX_REASON_CHARS: usize = 1000;

/// `text` cut to at most `max` characters, with a note of the cut when there is one.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!(
            "{}... (cut: {} bytes in all)",
            &text[..at],
            text.len()
        )),
    }
}

/// Client text as it may be echoed: at most [`MAX_ECHO_CHARS`] characters.
pub fn echo(text: &str) -> Cow<'_, str> {
    clip(text, MAX_ECHO_CHARS)
}

/// An error frame: `{"type":"error","message":...,"reason":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    pub message: &'static str,
    pub reason: String,
}

impl ErrorFrame {
    pub fn new(message: &'static str, reason: impl Into<String>) -> ErrorFrame {
        let mut reason = reason.into();
        if let Cow::Owned(cut) = clip(&reason, MAX_REASON_CHARS) {
            reason = cut;
        }
        ErrorFrame { message, reason }
    }

    /// The frame's JSON text, fields in the exchange's order.
    pub fn to_json(&self) -> String {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
        format!(
            "{{\"type\":\"error\",\"message\":{},\"reason\":{}}}",
            quote(self.message),
            quote(&self.reason)
        )
    }
}

/// Whether a product id looks like one (`BTC-USD`, `BTC-PERP-INTX`): the one rule of
/// [`crate::product_id`].
pub fn valid_product_id(id: &str) -> bool {
    crate::product_id::is_product_id(id)
}

/// The product id whose data `channel` serves for a requested id: with aliasing on (the
/// default), `BTC-USDC` is served as `BTC-USD` on every channel but `user` (docs/sim.md, "-USDC
/// aliasing"; the rule itself is [`crate::product_id::served_as`]).
pub fn served_id(usdc_alias: bool, channel: Channel, id: &str) -> &str {
    match crate::product_id::served_as(id) {
        Some(served) if usdc_alias && channel != Channel::User => served,
        _ => id,
    }
}

fn channel_list() -> String {
    Channel::ALL
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one client message. Checks, in order: JSON object, `type`, `channel`, then the shapes of
/// `product_ids` and `jwt`.
pub fn parse_request(text: &str) -> Result<Request, ErrorFrame> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ErrorFrame::new(
            MALFORMED_MESSAGE,
            format!("the message is not JSON ({}); send {{\"type\":\"subscribe\",\"channel\":\"level2\",\"product_ids\":[\"BTC-USD\"]}}", echo(&e.to_string())),
        )
    })?;
    let Some(obj) = value.as_object() else {
        return Err(ErrorFrame::new(
            MALFORMED_MESSAGE,
            "the message must be a JSON object such as {\"type\":\"subscribe\",\"channel\":\"heartbeats\"}",
        ));
    };
    let action = match obj.get("type").and_then(Value::as_str) {
        Some("subscribe") => Action::Subscribe,
        Some("unsubscribe") => Action::Unsubscribe,
        Some(other) => {
            return Err(ErrorFrame::new(
                SUBSCRIBE_REQUIRED,
                format!(
                    "\"type\" is \"{}\"; it must be \"subscribe\" or \"unsubscribe\"",
                    echo(other)
                ),
            ));
        }
        None => {
            return Err(ErrorFrame::new(
                SUBSCRIBE_REQUIRED,
                "the message has no string \"type\"; it must be \"subscribe\" or \"unsubscribe\"",
            ));
        }
    };
    let channel = match obj.get("channel") {
        Some(Value::String(name)) => Channel::from_name(name).ok_or_else(|| {
            ErrorFrame::new(
                AUTHENTICATION_FAILURE,
                format!("unknown channel \"{}\" (the exchange answers an unknown channel with authentication failure); channels: {}", echo(name), channel_list()),
            )
        })?,
        Some(_) => {
            return Err(ErrorFrame::new(
                AUTHENTICATION_FAILURE,
                "\"channel\" must be a string naming one channel",
            ));
        }
        None if obj.contains_key("channels") => {
            return Err(ErrorFrame::new(
                AUTHENTICATION_FAILURE,
                "\"channels\" is the older Exchange feed's format; Advanced Trade takes one \"channel\" (a string) per message",
            ));
        }
        None => {
            return Err(ErrorFrame::new(
                AUTHENTICATION_FAILURE,
                format!("the message has no \"channel\"; channels: {}", channel_list()),
            ));
        }
    };
    let jwt = match obj.get("jwt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ErrorFrame::new(
                AUTHENTICATION_FAILURE,
                "malformed_token: \"jwt\" must be a string holding the token",
            ));
        }
    };
    let product_ids = match obj.get("product_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                match item.as_str() {
                    Some(id) => ids.push(id.to_string()),
                    None => {
                        return Err(ErrorFrame::new(
                            FAILURE_TO_SUBSCRIBE,
                            format!(
                                "\"product_ids\" must hold strings such as \"BTC-USD\", not {}",
                                echo(&item.to_string())
                            ),
                        ));
                    }
                }
            }
            ids
        }
        Some(_) => {
            return Err(ErrorFrame::new(
                FAILURE_TO_SUBSCRIBE,
                "\"product_ids\" must be an array such as [\"BTC-USD\"]",
            ));
        }
    };
    Ok(Request {
        action,
        channel,
        product_ids,
        jwt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_official_shapes() {
        let r = parse_request(
            r#"{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"level2","jwt":"a.b.c"}"#,
        )
        .unwrap();
        assert_eq!(r.action, Action::Subscribe);
        assert_eq!(r.channel, Channel::Level2);
        assert_eq!(r.product_ids, ["BTC-USD", "ETH-USD"]);
        assert_eq!(r.jwt.as_deref(), Some("a.b.c"));
        let r = parse_request(r#"{"type":"subscribe","channel":"heartbeats"}"#).unwrap();
        assert!(r.product_ids.is_empty() && r.jwt.is_none());
        let r = parse_request(r#"{"type":"unsubscribe","product_ids":[],"channel":"heartbeats"}"#)
            .unwrap();
        assert_eq!(r.action, Action::Unsubscribe);
    }

    #[test]
    fn error_texts_follow_the_exchange() {
        let msg = |text: &str| parse_request(text).unwrap_err().message;
        assert_eq!(msg("{"), MALFORMED_MESSAGE);
        assert_eq!(msg("[1,2]"), MALFORMED_MESSAGE);
        assert_eq!(
            msg(r#"{"type":"ping","channel":"level2"}"#),
            SUBSCRIBE_REQUIRED
        );
        assert_eq!(msg(r#"{"channel":"level2"}"#), SUBSCRIBE_REQUIRED);
        assert_eq!(
            msg(r#"{"type":"subscribe","channel":"heartbeat"}"#),
            AUTHENTICATION_FAILURE
        );
        assert_eq!(
            msg(r#"{"type":"subscribe","channels":["level2"]}"#),
            AUTHENTICATION_FAILURE
        );
        assert_eq!(
            msg(r#"{"type":"subscribe","channel":"level2","jwt":5}"#),
            AUTHENTICATION_FAILURE
        );
        assert_eq!(
            msg(r#"{"type":"subscribe","channel":"level2","product_ids":"BTC-USD"}"#),
            FAILURE_TO_SUBSCRIBE
        );
        let e = parse_request(r#"{"type":"subscribe","channel":"heartbeat"}"#).unwrap_err();
        assert!(e.reason.contains("heartbeats"), "{}", e.reason);
    }

    #[test]
    fn error_frames_serialise_in_the_exchange_order() {
        let e = ErrorFrame::new(FAILURE_TO_SUBSCRIBE, "FOO-BAR is not a valid product");
        assert_eq!(
            e.to_json(),
            r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#
        );
        let e = ErrorFrame::new(AUTHENTICATION_FAILURE, "say \"hi\"");
        assert_eq!(
            e.to_json(),
            r#"{"type":"error","message":"authentication failure","reason":"say \"hi\""}"#
        );
    }

    #[test]
    fn echoed_text_is_cut_on_a_character_boundary_with_a_note() {
        assert_eq!(echo("BTC-USD"), "BTC-USD");
        let exact = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(echo(&exact), exact);
        let long = "é".repeat(MAX_ECHO_CHARS + 1);
        let cut = echo(&long);
        assert!(cut.starts_with(&exact), "{cut}");
        assert!(cut.ends_with("... (cut: 402 bytes in all)"), "{cut}");
        let frame = ErrorFrame::new(MALFORMED_MESSAGE, "x".repeat(5000));
        assert!(frame.reason.len() < 1100, "{}", frame.reason.len());
    }

    #[test]
    fn product_ids() {
        for ok in ["BTC-USD", "ETH-USDC", "BTC-PERP-INTX", "1INCH-USD"] {
            assert!(valid_product_id(ok), "{ok}");
        }
        for bad in [
            "btc-usd", "BTCUSD", "BTC-", "-USD", "BTC USD", "", "BTC--USD",
        ] {
            assert!(!valid_product_id(bad), "{bad}");
        }
    }

    #[test]
    fn usdc_ids_are_served_as_usd_on_every_channel_but_user() {
        for c in Channel::ALL {
            let expected = if c == Channel::User {
                "BTC-USDC"
            } else {
                "BTC-USD"
            };
            assert_eq!(served_id(true, c, "BTC-USDC"), expected, "{c:?}");
            assert_eq!(served_id(false, c, "BTC-USDC"), "BTC-USDC", "{c:?}");
            assert_eq!(served_id(true, c, "USDT-USDC"), "USDT-USDC", "{c:?}");
            assert_eq!(served_id(true, c, "EURC-USDC"), "EURC-USDC", "{c:?}");
            assert_eq!(served_id(true, c, "BTC-USD"), "BTC-USD", "{c:?}");
        }
    }

    #[test]
    fn channels_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::from_name(c.name()), Some(c));
        }
        assert_eq!(Channel::Level2.wire(), "l2_data");
        assert_eq!(Channel::Heartbeats.wire(), "heartbeats");
        assert_eq!(Channel::from_name("l2_data"), None);
    }
}
