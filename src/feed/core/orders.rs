//! The user connection's state, sans I/O (docs/feed.md, "Your orders"): frames and time in, an
//! [`UserOutcome`] and a [`UserView`] out, as [`super::FeedCore`] does for the market.
//!
//! - **Snapshot batches.** The exchange sends the open orders "in the snapshot batched by 50":
//!   several `snapshot` events (in one frame or several). They are collected into a new set; the
//!   set is complete when a batch carries fewer than 50 orders, or when any frame that is not a
//!   snapshot arrives on the connection (the ack, a heartbeat, an update), which also covers a
//!   set of exactly 50, 100... orders. Until then the last complete set stays shown.
//! - **Updates** replace an order by `order_id`; a terminal status (`FILLED`, `CANCELLED`,
//!   `EXPIRED`, `FAILED`) removes it. Any other status (`OPEN`, `PENDING`, `QUEUED`,
//!   `CANCEL_QUEUED`, one cbbook does not know) keeps it as open. A growing
//!   `cumulative_quantity` is a fill, kept in the last fills.
//! - An order without `limit_price` (older captures) is kept, with no price ("price unknown").
//!   An order without `order_id`, `product_id`, `order_side` or `status` cannot be tracked: it is
//!   counted as malformed and skipped.
//! - **Reconnects** and **gaps**: a new connection's snapshot replaces the whole set. A jump in
//!   `sequence_num` may have lost an update, so the outcome asks for a resubscribe, whose
//!   snapshot replaces the set the same way.
//! - **Refusals**: `authentication failure` marks the user connection refused (with the
//!   server's words); the market feed is not affected.

use crate::auth::clock::SignedWith;
use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::feed::events::{AuthView, ConnectionState, ServerError, is_auth_failure};
use crate::feed::protocol::{RawOrder, USER_SNAPSHOT_BATCH, parse_user_events};
use crate::feed::time::rfc3339_ms;
use crate::feed::user_events::{FillRow, OrderRow, OrderSide, UserView};

/// Fills kept for the orders pane and the tape.
pub const FILLS_KEPT: usize = 50;

/// Statuses after which an order is no longer open.
const TERMINAL: [&str; 4] = ["FILLED", "CANCELLED", "EXPIRED", "FAILED"];

/// What the connection's loop must do after a frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserOutcome {
    /// A sequence gap may have lost an order update: subscribe `user` again (its snapshot
    /// replaces the set).
    pub resubscribe: bool,
}

/// The envelope and events of a frame on the user connection.
#[derive(Deserialize)]
struct Frame<'a> {
    channel: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    sequence_num: Option<u64>,
    message: Option<String>,
    reason: Option<String>,
    #[serde(borrow)]
    events: Option<&'a RawValue>,
}

/// The user connection's state (see the module docs).
#[derive(Debug, Clone)]
pub struct UserCore {
    endpoint: String,
    /// The last complete set, by order id.
    orders: BTreeMap<String, OrderRow>,
    /// A snapshot being collected, and whether its last batch was full.
    incoming: Option<BTreeMap<String, OrderRow>>,
    complete: bool,
    fills: VecDeque<FillRow>,
    last_seq: Option<u64>,
    connection: ConnectionState,
    refused: Option<ServerError>,
    auth: AuthView,
    frames: u64,
    reconnects: u64,
    malformed: u64,
    gaps: u64,
    dirty: bool,
    /// Fills not yet taken by [`UserCore::take_new_fills`] (the tape marks them).
    new_fills: Vec<FillRow>,
}

impl UserCore {
    pub fn new(endpoint: impl Into<String>) -> UserCore {
        UserCore {
            endpoint: endpoint.into(),
            orders: BTreeMap::new(),
            incoming: None,
            complete: false,
            fills: VecDeque::new(),
            last_seq: None,
            connection: ConnectionState::Connecting { attempt: 1 },
            refused: None,
            auth: AuthView {
                key_configured: true,
                ..AuthView::default()
            },
            frames: 0,
            reconnects: 0,
            malformed: 0,
            gaps: 0,
            dirty: true,
            new_fills: Vec::new(),
        }
    }

    /// Something changed since the last [`UserCore::take_dirty`].
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn connecting(&mut self, attempt: u32) {
        self.connection = ConnectionState::Connecting { attempt };
        self.dirty = true;
    }

    /// A new connection is open: its snapshot will replace the set; its numbers start again.
    pub fn connection_started(&mut self) {
        self.connection = ConnectionState::Connected;
        self.last_seq = None;
        self.incoming = None;
        self.complete = false;
        self.refused = None;
        self.dirty = true;
    }

    pub fn reconnecting(&mut self, reason: &str, retry_at_ms: i64, attempt: u32) {
        self.connection = ConnectionState::Reconnecting {
            reason: reason.to_string(),
            retry_at_ms,
            attempt,
        };
        self.reconnects += 1;
        self.incoming = None;
        self.dirty = true;
    }

    pub fn finished(&mut self) {
        self.connection = ConnectionState::Finished;
        self.dirty = true;
    }

    /// A subscribe or unsubscribe went out: `redacted` without its JWT, `jwt` for the auth pane
    /// (decoded there; the signature is never shown), signed with the clock `signed_with`.
    pub fn subscribe_sent(
        &mut self,
        channel: &str,
        redacted: String,
        jwt: Option<String>,
        signed_with: SignedWith,
    ) {
        if channel == "user" || self.auth.last_subscribe.is_none() {
            self.auth.last_subscribe = Some(redacted);
        }
        if jwt.is_some() {
            self.auth.last_jwt = jwt;
            self.auth.signed_with = Some(signed_with);
        }
        self.auth.requested.entry(channel.to_string()).or_default();
        self.dirty = true;
    }

    /// A resubscribe is going out: its snapshot replaces the set.
    pub fn resubscribing(&mut self) {
        self.incoming = None;
        self.complete = false;
        self.dirty = true;
    }

    /// The server refused the `user` subscribe.
    pub fn is_refused(&self) -> bool {
        self.refused.is_some()
    }

    /// One text frame received at `now_ms`.
    pub fn on_frame(&mut self, text: &str, now_ms: i64) -> UserOutcome {
        self.frames += 1;
        self.dirty = true;
        let mut outcome = UserOutcome::default();
        let Ok(frame) = serde_json::from_str::<Frame>(text) else {
            return outcome;
        };
        if frame.kind.as_deref() == Some("error") {
            let error = ServerError {
                raw: text.to_string(),
                message: frame.message.unwrap_or_default(),
                reason: frame.reason,
                at_ms: now_ms,
            };
            if is_auth_failure(&error.message) {
                self.refused = Some(error.clone());
            }
            self.auth.last_error = Some(error);
            return outcome;
        }
        if let Some(seq) = frame.sequence_num {
            match self.last_seq {
                Some(last) if seq <= last => return outcome,
                Some(last) if seq > last + 1 => {
                    self.gaps += 1;
                    outcome.resubscribe = true;
                }
                _ => {}
            }
            self.last_seq = Some(seq);
        }
        let user_events = match (frame.channel.as_deref(), frame.events) {
            (Some("user"), Some(raw)) => parse_user_events(raw.get()).unwrap_or_default(),
            (Some("subscriptions"), Some(raw)) => {
                self.note_ack(raw.get());
                Vec::new()
            }
            _ => Vec::new(),
        };
        if user_events.is_empty() || user_events.iter().all(|e| e.kind != "snapshot") {
            // Anything but a snapshot ends one being collected.
            self.complete_snapshot();
        }
        for event in user_events {
            match event.kind.as_str() {
                "snapshot" => {
                    let set = self.incoming.get_or_insert_with(BTreeMap::new);
                    let mut malformed = 0;
                    for raw in &event.orders {
                        match order_row(raw) {
                            Some(row) if is_open(&row.status) => {
                                set.insert(row.order_id.clone(), row);
                            }
                            Some(_) => {}
                            None => malformed += 1,
                        }
                    }
                    self.malformed += malformed;
                    if event.orders.len() < USER_SNAPSHOT_BATCH {
                        self.complete_snapshot();
                    }
                }
                "update" => {
                    self.complete_snapshot();
                    for raw in &event.orders {
                        self.apply_update(raw, now_ms);
                    }
                }
                _ => {}
            }
        }
        outcome
    }

    fn note_ack(&mut self, events: &str) {
        #[derive(Deserialize)]
        struct Ack {
            #[serde(default)]
            subscriptions: BTreeMap<String, Vec<String>>,
        }
        if let Ok(list) = serde_json::from_str::<Vec<Ack>>(events)
            && let Some(last) = list.into_iter().last()
        {
            if last.subscriptions.contains_key("user") {
                self.refused = None;
            }
            self.auth.acknowledged = last.subscriptions;
            self.connection = ConnectionState::Subscribed;
        }
    }

    fn complete_snapshot(&mut self) {
        if let Some(set) = self.incoming.take() {
            self.orders = set;
            self.complete = true;
        }
    }

    fn apply_update(&mut self, raw: &RawOrder, now_ms: i64) {
        let Some(row) = order_row(raw) else {
            self.malformed += 1;
            return;
        };
        let before = self.orders.get(&row.order_id);
        let filled_before = before.map_or(Decimal::ZERO, |o| o.filled);
        if row.filled > filled_before {
            let fill = FillRow {
                order_id: row.order_id.clone(),
                product_id: row.product_id.clone(),
                side: row.side,
                price: row
                    .price
                    .or(before.and_then(|o| o.price))
                    .or(row.avg_price.filter(|p| !p.is_zero())),
                size: row.filled - filled_before,
                status: row.status.clone(),
                at_ms: now_ms,
            };
            self.fills.push_front(fill.clone());
            self.fills.truncate(FILLS_KEPT);
            self.new_fills.push(fill);
        }
        if is_open(&row.status) {
            // An update without `limit_price` keeps the price an earlier frame gave.
            let price = row.price.or(before.and_then(|o| o.price));
            self.orders
                .insert(row.order_id.clone(), OrderRow { price, ..row });
        } else {
            self.orders.remove(&row.order_id);
        }
    }

    /// Fills seen since the last call (oldest first), for the tape.
    pub fn take_new_fills(&mut self) -> Vec<FillRow> {
        std::mem::take(&mut self.new_fills)
    }

    /// The open orders, oldest first (by creation time, then id).
    pub fn orders(&self) -> Vec<OrderRow> {
        let mut list: Vec<OrderRow> = self.orders.values().cloned().collect();
        list.sort_by(|a, b| {
            (a.created_ms.is_none(), a.created_ms, &a.order_id).cmp(&(
                b.created_ms.is_none(),
                b.created_ms,
                &b.order_id,
            ))
        });
        list
    }

    pub fn view(&self) -> UserView {
        UserView {
            endpoint: self.endpoint.clone(),
            connection: self.connection.clone(),
            refused: self.refused.clone(),
            snapshot_complete: self.complete,
            orders: self.orders(),
            fills: self.fills.iter().cloned().collect(),
            auth: self.auth.clone(),
            frames: self.frames,
            reconnects: self.reconnects,
            malformed_orders: self.malformed,
            gaps: self.gaps,
        }
    }
}

/// The open orders of an `orders` JSON array as the client reads them (the simulator's dump
/// goes through this, so that both dumps have one form).
pub fn open_order_rows(orders_json: &str) -> Vec<OrderRow> {
    serde_json::from_str::<Vec<RawOrder>>(orders_json)
        .unwrap_or_default()
        .iter()
        .filter_map(order_row)
        .filter(|o| is_open(&o.status))
        .collect()
}

fn is_open(status: &str) -> bool {
    !TERMINAL.contains(&status)
}

fn number(text: &Option<String>) -> Option<Decimal> {
    text.as_deref()
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse::<Decimal>().ok())
        .map(|d| d.normalize())
}

/// An order of a frame, or `None` when it lacks what identifies it.
fn order_row(raw: &RawOrder) -> Option<OrderRow> {
    let order_id = raw.order_id.clone().filter(|id| !id.is_empty())?;
    let product_id = raw.product_id.clone().filter(|id| !id.is_empty())?;
    let side = OrderSide::parse(raw.order_side.as_deref()?)?;
    let status = raw.status.as_deref()?.trim().to_ascii_uppercase();
    if status.is_empty() {
        return None;
    }
    Some(OrderRow {
        order_id,
        client_order_id: raw.client_order_id.clone().filter(|c| !c.is_empty()),
        product_id,
        side,
        order_type: raw.order_type.clone().unwrap_or_default(),
        // A zero or unreadable limit price is no price.
        price: number(&raw.limit_price).filter(|p| !p.is_zero()),
        leaves: number(&raw.leaves_quantity).unwrap_or_default(),
        filled: number(&raw.cumulative_quantity).unwrap_or_default(),
        avg_price: number(&raw.avg_price),
        status,
        created_ms: raw.creation_time.as_deref().and_then(rfc3339_ms),
        created: raw.creation_time.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(id: usize, status: &str, leaves: &str, filled: &str) -> serde_json::Value {
        json!({"order_id": format!("o{id:03}"), "product_id": "BTC-USD", "order_side": "BUY",
               "order_type": "Limit", "status": status, "limit_price": "64900.5",
               "leaves_quantity": leaves, "cumulative_quantity": filled, "avg_price": "0",
               "creation_time": "2026-04-07T14:29:55.123456Z"})
    }

    fn frame(seq: u64, kind: &str, orders: Vec<serde_json::Value>) -> String {
        json!({"channel":"user","client_id":"","timestamp":"2026-04-07T14:30:06Z","sequence_num":seq,
               "events":[{"type":kind,"orders":orders}]})
        .to_string()
    }

    fn ack(seq: u64) -> String {
        json!({"channel":"subscriptions","sequence_num":seq,"events":[{"subscriptions":{"user":[]}}]})
            .to_string()
    }

    fn batch(from: usize, n: usize) -> Vec<serde_json::Value> {
        (from..from + n)
            .map(|i| order(i, "OPEN", "0.1", "0"))
            .collect()
    }

    #[test]
    fn batches_are_collected_until_a_short_one() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        core.on_frame(&frame(0, "snapshot", batch(0, 50)), 1);
        core.on_frame(&frame(1, "snapshot", batch(50, 50)), 1);
        // Two full batches: more may follow, nothing is complete yet.
        assert!(!core.view().snapshot_complete);
        assert!(core.view().orders.is_empty());
        core.on_frame(&frame(2, "snapshot", batch(100, 30)), 1);
        let view = core.view();
        assert!(view.snapshot_complete);
        assert_eq!(view.orders.len(), 130);
    }

    #[test]
    fn a_set_of_exactly_fifty_is_complete_at_the_next_frame() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        core.on_frame(&frame(0, "snapshot", batch(0, 50)), 1);
        assert!(!core.view().snapshot_complete);
        core.on_frame(&ack(1), 1);
        assert!(core.view().snapshot_complete);
        assert_eq!(core.view().orders.len(), 50);
    }

    #[test]
    fn status_transitions_fill_and_remove_orders() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        core.on_frame(&frame(0, "snapshot", batch(0, 2)), 1);
        core.on_frame(&frame(1, "update", vec![order(7, "PENDING", "1", "0")]), 2);
        assert_eq!(core.view().orders.len(), 3);
        core.on_frame(&frame(2, "update", vec![order(7, "OPEN", "1", "0")]), 3);
        core.on_frame(&frame(3, "update", vec![order(7, "OPEN", "0.4", "0.6")]), 4);
        let view = core.view();
        let o = view.orders.iter().find(|o| o.order_id == "o007").unwrap();
        assert_eq!(
            (o.leaves, o.filled, o.status.as_str()),
            (Decimal::new(4, 1), Decimal::new(6, 1), "OPEN")
        );
        core.on_frame(&frame(4, "update", vec![order(7, "FILLED", "0", "1")]), 5);
        core.on_frame(
            &frame(5, "update", vec![order(0, "CANCELLED", "0", "0")]),
            6,
        );
        let view = core.view();
        assert_eq!(view.orders.len(), 1);
        let fills: Vec<(String, Decimal)> = view
            .fills
            .iter()
            .map(|f| (f.status.clone(), f.size))
            .collect();
        assert_eq!(
            fills,
            [
                ("FILLED".to_string(), Decimal::new(4, 1)),
                ("OPEN".to_string(), Decimal::new(6, 1))
            ]
        );
        assert_eq!(view.fills[0].price, Some(Decimal::new(649005, 1)));
        assert_eq!(core.take_new_fills().len(), 2);
        assert!(core.take_new_fills().is_empty());
    }

    #[test]
    fn a_reconnect_snapshot_replaces_the_set() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        core.on_frame(&frame(0, "snapshot", batch(0, 5)), 1);
        core.connection_started();
        // The old set stays shown until the new one is complete.
        assert_eq!(core.view().orders.len(), 5);
        core.on_frame(&frame(0, "snapshot", batch(3, 4)), 2);
        let ids: Vec<String> = core
            .view()
            .orders
            .iter()
            .map(|o| o.order_id.clone())
            .collect();
        assert_eq!(ids, ["o003", "o004", "o005", "o006"]);
    }

    #[test]
    fn orders_without_a_limit_price_are_kept_with_no_price() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        let mut o = order(1, "OPEN", "1", "0");
        o.as_object_mut().unwrap().remove("limit_price");
        let mut bad = order(2, "OPEN", "1", "0");
        bad.as_object_mut().unwrap().remove("order_side");
        core.on_frame(&frame(0, "snapshot", vec![o, bad]), 1);
        let view = core.view();
        assert_eq!(view.orders.len(), 1);
        assert_eq!(view.orders[0].price, None);
        assert_eq!(view.malformed_orders, 1);
    }

    #[test]
    fn a_gap_asks_for_a_resubscribe_and_a_refusal_is_kept() {
        let mut core = UserCore::new("ws://x");
        core.connection_started();
        assert!(
            !core
                .on_frame(&frame(0, "snapshot", batch(0, 1)), 1)
                .resubscribe
        );
        assert!(core.on_frame(&ack(2), 1).resubscribe);
        core.on_frame(
            r#"{"type":"error","message":"authentication failure","reason":"expired: ..."}"#,
            3,
        );
        assert!(core.is_refused());
        assert_eq!(
            core.view().refused.unwrap().reason.as_deref(),
            Some("expired: ...")
        );
    }
}
