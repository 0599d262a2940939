//! Server frames, byte for byte as the exchange prints them (docs/sim.md, "Protocol").
//!
//! A data frame is an envelope around an `events` array. The events of a market batch are
//! serialised once and shared by every connection; each connection only splices its own
//! `sequence_num` into the envelope ([`envelope`]). Product ids are checked to be `[A-Z0-9-]` before
//! they get here, and times are ASCII, so nothing in these frames needs escaping.

use super::clock::{UnixNanos, rfc3339_nanos};
use super::fixed::{push_u64, write_units};
use super::market::{Candle, Change, Market, ProductSpec, Side, Trade};
use super::protocol::Channel;

/// Appends a whole frame: `{"channel":..,"client_id":"","timestamp":..,"sequence_num":N,"events":..}`.
pub fn envelope(out: &mut String, channel: &str, timestamp: &str, seq: u64, events: &str) {
    out.reserve(80 + channel.len() + timestamp.len() + events.len());
    out.push_str("{\"channel\":\"");
    out.push_str(channel);
    out.push_str("\",\"client_id\":\"\",\"timestamp\":\"");
    out.push_str(timestamp);
    out.push_str("\",\"sequence_num\":");
    push_u64(out, seq);
    out.push_str(",\"events\":");
    out.push_str(events);
    out.push('}');
}

/// [`envelope`] into a new string.
pub fn envelope_string(channel: &str, timestamp: &str, seq: u64, events: &str) -> String {
    let mut s = String::new();
    envelope(&mut s, channel, timestamp, seq, events);
    s
}

fn push_quoted_units(out: &mut String, units: u64, scale: u32) {
    out.push('"');
    write_units(out, units, scale);
    out.push('"');
}

fn push_update(
    out: &mut String,
    spec: &ProductSpec,
    side: Side,
    price: u64,
    size: u64,
    time: &str,
) {
    out.push_str("{\"side\":\"");
    out.push_str(side.wire());
    out.push_str("\",\"event_time\":\"");
    out.push_str(time);
    out.push_str("\",\"price_level\":");
    push_quoted_units(out, price, spec.price_scale);
    out.push_str(",\"new_quantity\":");
    push_quoted_units(out, size, spec.size_scale);
    out.push('}');
}

fn open_l2_event(out: &mut String, kind: &str, product: &str) {
    out.push_str("{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"product_id\":\"");
    out.push_str(product);
    out.push_str("\",\"updates\":[");
}

/// The events of an `l2_data` update frame: one event for the product with every change.
pub fn l2_update_events(spec: &ProductSpec, changes: &[Change], event_time: &str) -> String {
    let mut out = String::with_capacity(64 + changes.len() * (90 + event_time.len()));
    out.push('[');
    open_l2_event(&mut out, "update", &spec.id);
    for (i, c) in changes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_update(&mut out, spec, c.side, c.price, c.size, event_time);
    }
    out.push_str("]}]");
    out
}

/// The events of an `l2_data` snapshot frame: the whole book, bids best first then offers.
pub fn l2_snapshot_events(market: &Market, event_time: &str) -> String {
    let levels = market.levels.bids.len() + market.levels.asks.len();
    let mut out = String::with_capacity(64 + levels * (90 + event_time.len()));
    out.push('[');
    open_l2_event(&mut out, "snapshot", &market.spec.id);
    for (i, (side, price, size)) in market.levels.iter_best_first().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_update(&mut out, &market.spec, side, price, size, event_time);
    }
    out.push_str("]}]");
    out
}

/// The events of a heartbeat.
pub fn heartbeat_events(current_time: &str, counter: u64) -> String {
    let mut out = String::with_capacity(100);
    out.push_str("[{\"current_time\":\"");
    out.push_str(current_time);
    out.push_str("\",\"heartbeat_counter\":");
    push_u64(&mut out, counter);
    out.push_str("}]");
    out
}

/// The events of a `subscriptions` ack: the connection's whole subscription map.
///
/// Channels are in name order (the exchange's server sorts them); a channel without products
/// (`heartbeats`, `futures_balance_summary`, or `user` for every product) lists its own name.
pub fn subscriptions_events(subs: &[(Channel, Vec<String>)]) -> String {
    let mut sorted: Vec<&(Channel, Vec<String>)> = subs.iter().collect();
    sorted.sort_by_key(|(c, _)| c.name());
    let mut out = String::from("[{\"subscriptions\":{");
    for (i, (channel, products)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(channel.name());
        out.push_str("\":[");
        if products.is_empty() {
            out.push('"');
            out.push_str(channel.name());
            out.push('"');
        }
        for (j, p) in products.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(p);
            out.push('"');
        }
        out.push(']');
    }
    out.push_str("}}]");
    out
}

/// A signed percentage with up to 8 decimals, trailing zeros dropped (`"-4.15"`, `"0"`).
fn percent_text(from: u64, to: u64) -> String {
    if from == 0 {
        return "0".to_string();
    }
    let pct = (to as f64 - from as f64) / from as f64 * 100.0;
    let mut s = format!("{pct:.8}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" { "0".to_string() } else { s }
}

fn push_field(out: &mut String, name: &str, units: u64, scale: u32) {
    out.push_str(",\"");
    out.push_str(name);
    out.push_str("\":");
    push_quoted_units(out, units, scale);
}

fn push_ticker(out: &mut String, market: &Market) {
    let spec = &market.spec;
    let (ps, ss) = (spec.price_scale, spec.size_scale);
    let s = &market.stats;
    out.push_str("{\"type\":\"ticker\",\"product_id\":\"");
    out.push_str(&spec.id);
    out.push('"');
    push_field(out, "price", s.last_price, ps);
    push_field(out, "volume_24_h", s.volume_24h, ss);
    push_field(out, "low_24_h", s.low_24h, ps);
    push_field(out, "high_24_h", s.high_24h, ps);
    push_field(out, "low_52_w", s.low_52w, ps);
    push_field(out, "high_52_w", s.high_52w, ps);
    out.push_str(",\"price_percent_chg_24_h\":\"");
    out.push_str(&percent_text(s.open_24h, s.last_price));
    out.push('"');
    let (bid, bid_q) = market.levels.best_bid().unwrap_or((0, 0));
    let (ask, ask_q) = market.levels.best_ask().unwrap_or((0, 0));
    push_field(out, "best_bid", bid, ps);
    push_field(out, "best_bid_quantity", bid_q, ss);
    push_field(out, "best_ask", ask, ps);
    push_field(out, "best_ask_quantity", ask_q, ss);
    out.push('}');
}

/// The events of a `ticker` (or `ticker_batch`) frame for one product.
pub fn ticker_events(kind: &str, market: &Market) -> String {
    let mut out = String::with_capacity(400);
    out.push_str("[{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"tickers\":[");
    push_ticker(&mut out, market);
    out.push_str("]}]");
    out
}

/// The events of a `market_trades` frame. `side` is the maker's side.
pub fn trades_events<'a>(
    kind: &str,
    spec: &ProductSpec,
    trades: impl Iterator<Item = &'a Trade>,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("[{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"trades\":[");
    for (i, t) in trades.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"trade_id\":\"");
        push_u64(&mut out, t.trade_id);
        out.push_str("\",\"product_id\":\"");
        out.push_str(&spec.id);
        out.push_str("\",\"price\":");
        push_quoted_units(&mut out, t.price, spec.price_scale);
        out.push_str(",\"size\":");
        push_quoted_units(&mut out, t.size, spec.size_scale);
        out.push_str(",\"side\":\"");
        out.push_str(match t.maker {
            Side::Bid => "BUY",
            Side::Ask => "SELL",
        });
        out.push_str("\",\"time\":\"");
        // Trade times are printed to the microsecond.
        let micros = UnixNanos(t.time.0 - t.time.0.rem_euclid(1000));
        out.push_str(&rfc3339_nanos(micros));
        out.push_str("\"}");
    }
    out.push_str("]}]");
    out
}

/// The events of a `candles` frame: the current five-minute candle.
pub fn candles_events(kind: &str, spec: &ProductSpec, candle: Option<&Candle>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("[{\"type\":\"");
    out.push_str(kind);
    out.push_str("\",\"candles\":[");
    if let Some(c) = candle {
        let ps = spec.price_scale;
        out.push_str("{\"start\":\"");
        out.push_str(&c.start.to_string());
        out.push('"');
        push_field(&mut out, "high", c.high, ps);
        push_field(&mut out, "low", c.low, ps);
        push_field(&mut out, "open", c.open, ps);
        push_field(&mut out, "close", c.close, ps);
        push_field(&mut out, "volume", c.volume, spec.size_scale);
        out.push_str(",\"product_id\":\"");
        out.push_str(&spec.id);
        out.push_str("\"}");
    }
    out.push_str("]}]");
    out
}

/// The events of a `status` snapshot for the given products.
pub fn status_events(specs: &[&ProductSpec]) -> String {
    let mut out = String::from("[{\"type\":\"snapshot\",\"products\":[");
    for (i, spec) in specs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let (base, quote) = spec.id.split_once('-').unwrap_or((&spec.id, ""));
        out.push_str("{\"product_type\":\"SPOT\",\"id\":\"");
        out.push_str(&spec.id);
        out.push_str("\",\"base_currency\":\"");
        out.push_str(base);
        out.push_str("\",\"quote_currency\":\"");
        out.push_str(quote);
        out.push('"');
        push_field(&mut out, "base_increment", 1, spec.size_scale);
        push_field(&mut out, "quote_increment", 1, spec.price_scale);
        out.push_str(",\"display_name\":\"");
        out.push_str(base);
        out.push('/');
        out.push_str(quote);
        out.push_str(
            "\",\"status\":\"online\",\"status_message\":\"\",\"min_market_funds\":\"1\"}",
        );
    }
    out.push_str("]}]");
    out
}

/// The `futures_balance_summary` snapshot: an empty account.
pub const FUTURES_BALANCE_EVENTS: &str = "[{\"type\":\"snapshot\",\"fcm_balance_summary\":{\"futures_buying_power\":\"0\",\"total_usd_balance\":\"0\",\"cbi_usd_balance\":\"0\",\"cfm_usd_balance\":\"0\",\"total_open_orders_hold_amount\":\"0\",\"unrealized_pnl\":\"0\",\"daily_realized_pnl\":\"0\",\"initial_margin\":\"0\",\"available_margin\":\"0\",\"liquidation_threshold\":\"0\",\"liquidation_buffer_amount\":\"0\",\"liquidation_buffer_percentage\":\"0\"}}]";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn btc() -> ProductSpec {
        ProductSpec {
            id: "BTC-USD".into(),
            price_scale: 2,
            size_scale: 8,
        }
    }

    #[test]
    fn envelope_matches_the_exchange_layout() {
        let f = envelope_string("l2_data", "2023-02-09T20:32:50.714964855Z", 7, "[]");
        assert_eq!(
            f,
            r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":7,"events":[]}"#
        );
    }

    #[test]
    fn l2_update_is_valid_json_with_minimal_numbers() {
        let changes = [
            Change {
                side: Side::Bid,
                price: 6_493_050,
                size: 6_317_902,
            },
            Change {
                side: Side::Ask,
                price: 6_493_400,
                size: 0,
            },
        ];
        let events = l2_update_events(&btc(), &changes, "2023-02-09T20:32:50.7Z");
        let v: Value = serde_json::from_str(&events).unwrap();
        assert_eq!(
            v,
            json!([{"type":"update","product_id":"BTC-USD","updates":[
                {"side":"bid","event_time":"2023-02-09T20:32:50.7Z","price_level":"64930.5","new_quantity":"0.06317902"},
                {"side":"offer","event_time":"2023-02-09T20:32:50.7Z","price_level":"64934","new_quantity":"0"}]}])
        );
    }

    #[test]
    fn heartbeat_and_acks() {
        let v: Value = serde_json::from_str(&heartbeat_events("x", 75_497)).unwrap();
        assert_eq!(v, json!([{"current_time":"x","heartbeat_counter":75497}]));
        let acks = subscriptions_events(&[
            (Channel::Level2, vec!["BTC-USD".into(), "ETH-USD".into()]),
            (Channel::Heartbeats, vec![]),
        ]);
        assert_eq!(
            acks,
            r#"[{"subscriptions":{"heartbeats":["heartbeats"],"level2":["BTC-USD","ETH-USD"]}}]"#
        );
        assert_eq!(subscriptions_events(&[]), r#"[{"subscriptions":{}}]"#);
    }

    #[test]
    fn percent_text_is_plain() {
        assert_eq!(percent_text(10_000, 9_585), "-4.15");
        assert_eq!(percent_text(100, 100), "0");
        assert_eq!(percent_text(0, 5), "0");
    }

    #[test]
    fn other_channels_parse() {
        let m = Market::synthetic("ETH-USD", 1, 100);
        for events in [
            ticker_events("snapshot", &m),
            trades_events("update", &m.spec, [].iter()),
            candles_events("snapshot", &m.spec, None),
            status_events(&[&m.spec]),
            FUTURES_BALANCE_EVENTS.to_string(),
        ] {
            let v: Value = serde_json::from_str(&events).unwrap();
            assert!(v.is_array(), "{events}");
        }
        let status: Value = serde_json::from_str(&status_events(&[&m.spec])).unwrap();
        assert_eq!(status[0]["products"][0]["quote_increment"], "0.01");
        assert_eq!(status[0]["products"][0]["base_increment"], "0.00000001");
        let t: Value = serde_json::from_str(&ticker_events("update", &m)).unwrap();
        let ticker = &t[0]["tickers"][0];
        assert_eq!(ticker["product_id"], "ETH-USD");
        let num = |field: &str| ticker[field].as_str().unwrap().parse::<f64>().unwrap();
        assert!(num("best_bid") < num("best_ask"));
    }
}
