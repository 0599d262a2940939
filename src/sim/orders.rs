//! The `user` channel's orders: each trusted key's open orders, how they fill when the market
//! trades through their price, and how they come and go (docs/sim.md, "Your orders").
//!
//! The orders are the simulator's, never the client's: cbbook never places an order, and the
//! simulator takes none (an order message gets the error frame of any unknown message type).
//! Synthetic orders are seeded per key at start-up (`--user-orders N`, and `cbbook --demo`), then:
//!
//! - a resting BUY fills (partly or wholly) when the market trades at or below its limit price
//!   against the bids, a SELL when it trades at or above its price against the offers; the fill
//!   is at the order's limit price, and it is also a `market_trades` trade (the order was the
//!   maker), so the tape shows it;
//! - every [`CHURN_TICK`], an order may be cancelled (`--user-churn-per-sec`), an order whose
//!   time in force has run out expires, and new orders (first `PENDING`, then `OPEN`) bring
//!   each key back to its seeded number.
//!
//! Every change is one `update` event with the order as it now is, published under the accounts
//! lock with a version: a connection subscribes to the updates before it takes its snapshot under
//! the same lock, then forwards only updates newer than the snapshot (as level2 does). Lock
//! order: a market lock, then the accounts lock; never the other way round.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::Rng;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::broadcast;

use super::clock::{UnixNanos, rfc3339_nanos};
use super::market::{Market, ProductSpec, Side, Trade};
use super::rng::SimRng;

/// Orders per snapshot event, as on the exchange ("open orders are returned in the snapshot
/// batched by 50").
pub const SNAPSHOT_BATCH: usize = 50;
/// How often orders are cancelled, expired and replaced.
pub const CHURN_TICK: Duration = Duration::from_millis(250);
/// Updates a slow `user` subscriber may fall behind by before it is dropped.
const UPDATE_QUEUE: usize = 4096;
/// One order in this many is sent without `limit_price`, as in older captures of the channel.
const NO_LIMIT_PRICE_ONE_IN: u64 = 16;
/// One new order in this many is good until a time, and expires.
const EXPIRING_ONE_IN: u64 = 8;

/// The status of a simulated order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Open,
    Filled,
    Cancelled,
    Expired,
}

impl Status {
    fn wire(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Open => "OPEN",
            Status::Filled => "FILLED",
            Status::Cancelled => "CANCELLED",
            Status::Expired => "EXPIRED",
        }
    }

    fn is_open(self) -> bool {
        matches!(self, Status::Pending | Status::Open)
    }
}

/// One resting limit order of one key. Prices and sizes are integers at the product's scales.
#[derive(Debug, Clone)]
pub struct SimOrder {
    serial: u64,
    key: String,
    pub product_id: String,
    price_scale: u32,
    size_scale: u32,
    /// `Bid` is a BUY order, `Ask` a SELL.
    pub side: Side,
    pub limit: u64,
    pub quantity: u64,
    pub filled: u64,
    fills: u64,
    pub status: Status,
    created: UnixNanos,
    expires: Option<UnixNanos>,
    /// Older captures of the channel lack `limit_price`: some orders are sent without it.
    shows_limit_price: bool,
}

impl SimOrder {
    fn order_id(&self) -> String {
        // A UUID-shaped id, stable for a seed.
        let h = self.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (h >> 32) as u32,
            (h >> 16) as u16,
            (h & 0xfff) as u16,
            (self.serial >> 48) as u16 & 0xfff,
            self.serial & 0xffff_ffff_ffff
        )
    }

    fn leaves(&self) -> u64 {
        if self.status.is_open() {
            self.quantity - self.filled
        } else {
            0
        }
    }
}

/// One order as the exchange prints it on the `user` channel (fields in its order; the ones the
/// current docs add after the capture follow).
#[derive(Serialize)]
struct WireOrder {
    order_id: String,
    client_order_id: String,
    cumulative_quantity: String,
    leaves_quantity: String,
    avg_price: String,
    total_fees: String,
    status: &'static str,
    product_id: String,
    creation_time: String,
    order_side: &'static str,
    order_type: &'static str,
    cancel_reason: &'static str,
    reject_reason: &'static str,
    total_value_after_fees: String,
    product_type: &'static str,
    time_in_force: &'static str,
    trigger_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit_price: Option<String>,
    filled_value: String,
    number_of_fills: String,
    post_only: bool,
}

fn units(value: u128, scale: u32) -> String {
    let value = i128::try_from(value).unwrap_or(i128::MAX);
    Decimal::try_from_i128_with_scale(value, scale)
        .map(|d| d.normalize().to_string())
        .unwrap_or_else(|_| "0".to_string())
}

fn wire(order: &SimOrder) -> WireOrder {
    let (ps, ss) = (order.price_scale, order.size_scale);
    let value = |size: u64| u128::from(order.limit) * u128::from(size);
    WireOrder {
        order_id: order.order_id(),
        client_order_id: format!("cbbook-sim-{:06}", order.serial),
        cumulative_quantity: units(u128::from(order.filled), ss),
        leaves_quantity: units(u128::from(order.leaves()), ss),
        // Every fill is at the limit price.
        avg_price: if order.filled > 0 {
            units(u128::from(order.limit), ps)
        } else {
            "0".to_string()
        },
        total_fees: "0".to_string(),
        status: order.status.wire(),
        product_id: order.product_id.clone(),
        creation_time: rfc3339_nanos(order.created),
        order_side: match order.side {
            Side::Bid => "BUY",
            Side::Ask => "SELL",
        },
        order_type: "Limit",
        cancel_reason: match order.status {
            Status::Cancelled => "User requested cancel",
            _ => "",
        },
        reject_reason: "",
        total_value_after_fees: units(value(order.quantity), ps + ss),
        product_type: "SPOT",
        time_in_force: if order.expires.is_some() {
            "GOOD_UNTIL_DATE_TIME"
        } else {
            "GOOD_UNTIL_CANCELLED"
        },
        trigger_status: "INVALID_ORDER_TYPE",
        limit_price: order
            .shows_limit_price
            .then(|| units(u128::from(order.limit), ps)),
        filled_value: units(value(order.filled), ps + ss),
        number_of_fills: order.fills.to_string(),
        post_only: false,
    }
}

fn orders_json<'a>(orders: impl Iterator<Item = &'a SimOrder>) -> String {
    let list: Vec<WireOrder> = orders.map(wire).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string())
}

/// The `events` of one snapshot batch.
fn snapshot_events(orders_json: &str) -> String {
    format!(
        "[{{\"type\":\"snapshot\",\"orders\":{orders_json},\"positions\":{{\"perpetual_futures_positions\":[],\"expiring_futures_positions\":[]}}}}]"
    )
}

/// The `events` of one update.
fn update_events(order: &SimOrder) -> String {
    format!(
        "[{{\"type\":\"update\",\"orders\":{}}}]",
        orders_json(std::iter::once(order))
    )
}

/// One change of one key's orders, for the `user` subscribers of that key.
#[derive(Debug)]
pub struct UserUpdate {
    pub key: String,
    pub product_id: String,
    /// The accounts' version after this change.
    pub version: u64,
    pub timestamp: String,
    pub events: String,
}

/// A user subscription's view of the accounts: the snapshot's batches (each an `events` array)
/// and the version it was taken at.
#[derive(Debug)]
pub struct UserSnapshot {
    pub version: u64,
    pub batches: Vec<String>,
}

/// What the market looks like near the touch, for placing orders.
#[derive(Debug, Clone, Copy)]
pub struct Touch {
    pub best_bid: u64,
    pub best_ask: u64,
    /// A typical order size, in size units.
    pub size: u64,
}

impl Touch {
    /// The touch of a market, when it has both sides.
    pub fn of(market: &Market) -> Option<Touch> {
        let (bid, bid_size) = market.levels.best_bid()?;
        let (ask, ask_size) = market.levels.best_ask()?;
        Some(Touch {
            best_bid: bid,
            best_ask: ask,
            size: bid_size.min(ask_size).max(1),
        })
    }
}

#[derive(Debug)]
struct State {
    version: u64,
    next_serial: u64,
    orders: Vec<SimOrder>,
    /// Keys and how many open orders each is brought back to (the seeded number).
    targets: Vec<(String, usize)>,
    rng: SimRng,
}

/// Every key's orders (see the module docs).
#[derive(Debug)]
pub struct Accounts {
    state: Mutex<State>,
    updates: broadcast::Sender<Arc<UserUpdate>>,
    /// Cancellations per second per key.
    churn_per_sec: f64,
}

impl Accounts {
    pub fn new(seed: u64, churn_per_sec: f64) -> Accounts {
        let (updates, _) = broadcast::channel(UPDATE_QUEUE);
        Accounts {
            state: Mutex::new(State {
                version: 0,
                next_serial: 1,
                orders: Vec::new(),
                targets: Vec::new(),
                rng: SimRng::new(seed ^ 0x0005_ee0d_u64),
            }),
            updates,
            churn_per_sec,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Orders are plain data: a panic elsewhere cannot leave them inconsistent enough to
        // matter more than stopping the server would.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether any key has orders to keep (the churn task and the dump's `orders` depend on it).
    pub fn active(&self) -> bool {
        !self.lock().targets.is_empty()
    }

    /// Seeds `per_product` open orders of `key` on a product at start-up, near the touch when
    /// `near` (a few ticks: they fill soon), spread over the first few hundred ticks otherwise.
    pub fn seed(&self, key: &str, market: &Market, per_product: usize, near: bool, now: UnixNanos) {
        let Some(touch) = Touch::of(market) else {
            return;
        };
        let mut state = self.lock();
        match state.targets.iter_mut().find(|(k, _)| k == key) {
            Some((_, n)) => *n += per_product,
            None => state.targets.push((key.to_string(), per_product)),
        }
        for i in 0..per_product {
            let side = if i % 2 == 0 { Side::Bid } else { Side::Ask };
            let mut order = new_order(&mut state, key, &market.spec, touch, side, near, now);
            order.status = Status::Open;
            // Seeded orders are a while old.
            order.created =
                UnixNanos(now.0 - i128::from(state.rng.gen_range(60u32..86_400)) * 1_000_000_000);
            order.expires = None;
            state.orders.push(order);
        }
    }

    /// A new subscriber's end of the updates; subscribe before taking the snapshot.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<UserUpdate>> {
        self.updates.subscribe()
    }

    /// `key`'s open orders (of `products`, or all when empty) in snapshot batches of
    /// [`SNAPSHOT_BATCH`]; an empty set is one batch with no orders.
    pub fn snapshot(&self, key: &str, products: &[String]) -> UserSnapshot {
        let state = self.lock();
        let mine: Vec<&SimOrder> = state
            .orders
            .iter()
            .filter(|o| o.key == key && wanted(products, &o.product_id))
            .collect();
        let mut batches: Vec<String> = mine
            .chunks(SNAPSHOT_BATCH)
            .map(|chunk| snapshot_events(&orders_json(chunk.iter().copied())))
            .collect();
        if batches.is_empty() {
            batches.push(snapshot_events("[]"));
        }
        UserSnapshot {
            version: state.version,
            batches,
        }
    }

    /// `key`'s open orders of `product` as an `orders` JSON array (for the dump and the tests);
    /// every key's when `key` is `None`.
    pub fn open_orders_json(&self, key: Option<&str>, product: &str) -> String {
        let state = self.lock();
        orders_json(
            state
                .orders
                .iter()
                .filter(|o| key.is_none_or(|k| o.key == k) && o.product_id == product),
        )
    }

    /// Fills the orders of `market` that its pending trades went through, and records each fill
    /// as a trade of the market. Called under the market lock, before its trades are published.
    pub fn fill_from_trades(&self, market: &mut Market, now: UnixNanos) {
        let trades: Vec<Trade> = market.pending_trades().to_vec();
        if trades.is_empty() {
            return;
        }
        let product = market.spec.id.clone();
        let mut fills = Vec::new();
        {
            let mut state = self.lock();
            if state.orders.is_empty() {
                return;
            }
            for trade in &trades {
                let mut left = trade.size;
                for i in 0..state.orders.len() {
                    if left == 0 {
                        break;
                    }
                    let order = &state.orders[i];
                    let through = match order.side {
                        Side::Bid => trade.maker == Side::Bid && trade.price <= order.limit,
                        Side::Ask => trade.maker == Side::Ask && trade.price >= order.limit,
                    };
                    if order.product_id != product || order.status != Status::Open || !through {
                        continue;
                    }
                    let size = left.min(order.quantity - order.filled);
                    left -= size;
                    let order = &mut state.orders[i];
                    order.filled += size;
                    order.fills += 1;
                    if order.filled == order.quantity {
                        order.status = Status::Filled;
                    }
                    fills.push((order.limit, size, order.side));
                    let order = order.clone();
                    self.publish(&mut state, &order, now);
                }
            }
            state.orders.retain(|o| o.status.is_open());
        }
        for (price, size, side) in fills {
            market.record_fill(price, size, side, now);
        }
    }

    /// One churn tick: expiries, cancellations, and new orders back to each key's number.
    /// `touches` gives each simulated product's spec and touch (read without the accounts lock).
    pub fn churn(&self, touches: &[(ProductSpec, Option<Touch>)], now: UnixNanos) {
        let mut state = self.lock();
        // Pending orders from the last tick are open now.
        let pending: Vec<usize> = (0..state.orders.len())
            .filter(|&i| state.orders[i].status == Status::Pending)
            .collect();
        for i in pending {
            state.orders[i].status = Status::Open;
            let order = state.orders[i].clone();
            self.publish(&mut state, &order, now);
        }
        let expired: Vec<usize> = (0..state.orders.len())
            .filter(|&i| state.orders[i].expires.is_some_and(|at| at <= now))
            .collect();
        for i in expired {
            state.orders[i].status = Status::Expired;
            let order = state.orders[i].clone();
            self.publish(&mut state, &order, now);
        }
        state.orders.retain(|o| o.status.is_open());
        let chance = (self.churn_per_sec * CHURN_TICK.as_secs_f64()).clamp(0.0, 1.0);
        let targets = state.targets.clone();
        for (key, target) in targets {
            let open: Vec<usize> = (0..state.orders.len())
                .filter(|&i| state.orders[i].key == key && state.orders[i].status == Status::Open)
                .collect();
            if !open.is_empty() && chance > 0.0 && state.rng.gen_bool(chance) {
                let i = open[state.rng.gen_range(0..open.len())];
                state.orders[i].status = Status::Cancelled;
                let order = state.orders[i].clone();
                self.publish(&mut state, &order, now);
                state.orders.retain(|o| o.status.is_open());
            }
            let mut count = state.orders.iter().filter(|o| o.key == key).count();
            let usable: Vec<&(ProductSpec, Option<Touch>)> =
                touches.iter().filter(|(_, t)| t.is_some()).collect();
            // A few new orders per tick, so that the set refills within seconds.
            let mut placed = 0;
            while count < target && placed < 8 && !usable.is_empty() {
                let (spec, touch) = usable[state.rng.gen_range(0..usable.len())];
                let Some(touch) = *touch else { break };
                let side = if state.rng.gen_bool(0.5) {
                    Side::Bid
                } else {
                    Side::Ask
                };
                let near = state.rng.gen_bool(0.5);
                let order = new_order(&mut state, &key, spec, touch, side, near, now);
                self.publish(&mut state, &order, now);
                state.orders.push(order);
                count += 1;
                placed += 1;
            }
        }
    }

    /// Publishes `order` as it now is, under the accounts lock, with the next version.
    fn publish(&self, state: &mut State, order: &SimOrder, now: UnixNanos) {
        state.version += 1;
        // No subscriber is not an error: the update is simply not seen.
        let _ = self.updates.send(Arc::new(UserUpdate {
            key: order.key.clone(),
            product_id: order.product_id.clone(),
            version: state.version,
            timestamp: rfc3339_nanos(now),
            events: update_events(order),
        }));
    }
}

/// Whether a subscription to `products` (all when empty) carries orders of `product`. The
/// `user` channel is never `-USDC` aliased: ids are compared as they are.
pub fn wanted(products: &[String], product: &str) -> bool {
    products.is_empty() || products.iter().any(|p| p == product)
}

/// A new `PENDING` order of `key` a few ticks (`near`) or up to a few hundred ticks from the
/// touch, on the passive side, sized around a fraction of the touch's size.
fn new_order(
    state: &mut State,
    key: &str,
    spec: &ProductSpec,
    touch: Touch,
    side: Side,
    near: bool,
    now: UnixNanos,
) -> SimOrder {
    let rng = &mut state.rng;
    let ticks: u64 = if near {
        rng.gen_range(0..6)
    } else {
        rng.gen_range(6..300)
    };
    let limit = match side {
        Side::Bid => touch.best_bid.saturating_sub(ticks).max(1),
        Side::Ask => touch.best_ask.saturating_add(ticks),
    };
    let quantity = ((touch.size as f64 * rng.gen_range(0.05..0.6)) as u64).max(1);
    let serial = state.next_serial;
    state.next_serial += 1;
    let expires = (serial % EXPIRING_ONE_IN == 0)
        .then(|| UnixNanos(now.0 + i128::from(rng.gen_range(20u32..120)) * 1_000_000_000));
    SimOrder {
        serial,
        key: key.to_string(),
        product_id: spec.id.clone(),
        price_scale: spec.price_scale,
        size_scale: spec.size_scale,
        side,
        limit,
        quantity,
        filled: 0,
        fills: 0,
        status: Status::Pending,
        created: now,
        expires,
        shows_limit_price: serial % NO_LIMIT_PRICE_ONE_IN != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::market::Market;

    fn market() -> Market {
        Market::synthetic("BTC-USD", 1, 200)
    }

    #[test]
    fn the_snapshot_comes_in_batches_of_fifty() {
        let accounts = Accounts::new(1, 0.0);
        let m = market();
        accounts.seed("k", &m, 130, false, UnixNanos(1_800_000_000_000_000_000));
        let snap = accounts.snapshot("k", &[]);
        assert_eq!(snap.batches.len(), 3);
        let counts: Vec<usize> = snap
            .batches
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_str(b).unwrap();
                v[0]["orders"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(counts, [50, 50, 30]);
        assert_eq!(accounts.snapshot("other", &[]).batches.len(), 1);
        assert_eq!(
            accounts.snapshot("k", &["ETH-USD".to_string()]).batches[0]
                .matches("order_id")
                .count(),
            0
        );
    }

    #[test]
    fn a_trade_through_the_price_fills_and_is_recorded_as_a_trade() {
        let accounts = Accounts::new(1, 0.0);
        let mut m = market();
        let now = UnixNanos(1_800_000_000_000_000_000);
        accounts.seed("k", &m, 2, true, now);
        let mut rx = accounts.subscribe();
        let buy = {
            let state = accounts.lock();
            state
                .orders
                .iter()
                .find(|o| o.side == Side::Bid)
                .unwrap()
                .clone()
        };
        m.record_fill(buy.limit, buy.quantity * 10, Side::Bid, now);
        accounts.fill_from_trades(&mut m, now);
        let update = rx.try_recv().unwrap();
        assert!(
            update.events.contains("\"status\":\"FILLED\""),
            "{}",
            update.events
        );
        assert!(accounts.lock().orders.iter().all(|o| o.side == Side::Ask));
        // The fill is on the tape too: the triggering trade and the fill.
        let trades = m.take_trades();
        assert_eq!(trades.len(), 2);
        assert_eq!((trades[1].price, trades[1].size), (buy.limit, buy.quantity));
    }

    #[test]
    fn churn_keeps_the_number_and_new_orders_go_pending_then_open() {
        let accounts = Accounts::new(3, 1000.0);
        let m = market();
        let now = UnixNanos(1_800_000_000_000_000_000);
        accounts.seed("k", &m, 10, false, now);
        let touches = vec![(m.spec.clone(), Touch::of(&m))];
        let mut rx = accounts.subscribe();
        accounts.churn(&touches, now);
        let mut statuses = Vec::new();
        while let Ok(u) = rx.try_recv() {
            let v: serde_json::Value = serde_json::from_str(&u.events).unwrap();
            statuses.push(v[0]["orders"][0]["status"].as_str().unwrap().to_string());
        }
        assert_eq!(statuses, ["CANCELLED", "PENDING"]);
        accounts.churn(&touches, now);
        let first = rx.try_recv().unwrap();
        assert!(first.events.contains("\"status\":\"OPEN\""));
        assert_eq!(
            accounts.snapshot("k", &[]).batches[0]
                .matches("\"order_id\"")
                .count(),
            10
        );
    }
}
