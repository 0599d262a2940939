//! The tasks that move the market and tell every connection: one per product (book changes in
//! frames of 1-15 updates, trades, tickers, candles) and one for heartbeats.
//!
//! Each frame's `events` are serialised once and queued as one shared [`Outgoing`] for every
//! connection that wants it ([`super::outlets`]: a product's frames only to the connections
//! interested in that product, heartbeats to all); connections only wrap them in their own
//! envelope. A product's changes are generated and queued under its market lock, so a connection
//! that marks the product wanted and then snapshots the book under the same lock misses no frame
//! after its snapshot, and knows exactly which queued updates are already in it (by `version`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::rng::SimRng;
use rand::Rng;
use tokio::time::{MissedTickBehavior, interval, sleep_until};

use super::clock::{go_time_string, rfc3339_nanos};
use super::frames;
use super::market::Change;
use super::protocol::Channel;
use super::server::Shared;

/// One frame for every connection that subscribed to `channel` (and `product`).
#[derive(Debug)]
pub struct Outgoing {
    pub channel: Channel,
    /// Index into the server's products; `None` for heartbeats.
    pub product: Option<usize>,
    /// For `l2_data`: the product's market version after this frame's changes. For
    /// `market_trades`: the largest trade id in the frame.
    pub version: u64,
    pub timestamp: String,
    pub events: String,
}

/// The most updates one `l2_data` frame carries (like the real feed at high rates).
pub const MAX_UPDATES_PER_FRAME: usize = 15;
/// How often trades are published (the real `market_trades` batches about 250 ms).
const TRADE_FLUSH: Duration = Duration::from_millis(250);
const CANDLE_FLUSH: Duration = Duration::from_secs(1);
const TICKER_BATCH_EVERY: Duration = Duration::from_secs(5);

/// Queues `out` for the connections that want it; a product's frame is sent under the product's
/// market lock (see the module comment).
fn send(shared: &Shared, out: Outgoing) {
    shared.outlets.publish(out);
}

/// Moves one product's market at the configured rate until shutdown or `--stop-updates-after`.
pub async fn run_market(shared: Arc<Shared>, product: usize) {
    let mut shutdown = shared.shutdown.clone();
    let rate = shared.config.updates_per_sec;
    let start = Instant::now();
    let stop_at = shared
        .config
        .stop_updates_after
        .map(|d| shared.clock.started() + d);
    // Batch sizes come from their own generator, so the sequence of book changes depends on
    // the seed alone, not on timing.
    let mut batch_rng = SimRng::new(shared.config.seed.wrapping_add(product as u64));
    let tick = if rate >= 2_000.0 {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(20)
    };
    let mut ticker = interval(tick);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut generated: u64 = 0;
    let mut last_trades = Instant::now();
    let mut last_candle = Instant::now();
    let mut last_batch_ticker = Instant::now();
    let mut changes = Vec::with_capacity(MAX_UPDATES_PER_FRAME);
    let mut candle_dirty = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = Instant::now();
        if stop_at.is_some_and(|s| now >= s) {
            // The trades made since the last flush are published: the frozen market's ticker
            // and tape agree with what its subscribers were sent.
            flush_trades(&shared, product, &mut batch_rng);
            shared.log.line(format_args!(
                "market {} frozen (--stop-updates-after)",
                shared.products[product].id
            ));
            // Heartbeats go on; this market never changes again.
            return;
        }
        let due_total = (start.elapsed().as_secs_f64() * rate) as u64;
        let mut due = due_total.saturating_sub(generated);
        // After a long pause (a loaded machine), skip ahead rather than burst.
        let cap = ((rate * 0.25) as u64).max(MAX_UPDATES_PER_FRAME as u64);
        if due > cap {
            generated += due - cap;
            due = cap;
        }
        let handle = &shared.products[product];
        // One lock per frame, so a connection taking a snapshot never waits for a whole burst.
        let mut frames_in_tick = 0u32;
        while due > 0 {
            let n = batch_rng
                .gen_range(1..=MAX_UPDATES_PER_FRAME)
                .min(usize::try_from(due).unwrap_or(MAX_UPDATES_PER_FRAME));
            publish_changes(&shared, product, n, &mut changes);
            due -= n as u64;
            generated += n as u64;
            frames_in_tick += 1;
            if frames_in_tick % 64 == 0 {
                // Let connections on this worker run during a long catch-up.
                tokio::task::yield_now().await;
            }
        }
        if now.duration_since(last_trades) >= TRADE_FLUSH {
            last_trades = now;
            candle_dirty |= flush_trades(&shared, product, &mut batch_rng);
        }
        if candle_dirty && now.duration_since(last_candle) >= CANDLE_FLUSH {
            last_candle = now;
            candle_dirty = false;
            let market = handle.lock();
            let timestamp = rfc3339_nanos(shared.clock.now());
            let events = frames::candles_events("update", &market.spec, market.candle.as_ref());
            send(
                &shared,
                outgoing(Channel::Candles, product, &timestamp, events),
            );
        }
        if now.duration_since(last_batch_ticker) >= TICKER_BATCH_EVERY {
            last_batch_ticker = now;
            let market = handle.lock();
            let timestamp = rfc3339_nanos(shared.clock.now());
            let events = frames::ticker_events("update", &market);
            send(
                &shared,
                outgoing(Channel::TickerBatch, product, &timestamp, events),
            );
        }
    }
}

/// Publishes the trades made since the last flush (and a ticker after them); whether there
/// were any.
fn flush_trades(shared: &Shared, product: usize, batch_rng: &mut SimRng) -> bool {
    let mut market = shared.products[product].lock();
    // The market's trades fill the resting user orders they went through; the fills are trades.
    shared
        .accounts
        .fill_from_trades(&mut market, shared.clock.now());
    let mut trades = market.take_trades();
    if trades.is_empty() {
        return false;
    }
    // The real tape sometimes lists the newest trade first.
    if batch_rng.gen_bool(0.5) {
        trades.reverse();
    }
    let timestamp = rfc3339_nanos(shared.clock.now());
    let events = frames::trades_events("update", &market.spec, trades.iter());
    let newest = trades.iter().map(|t| t.trade_id).max().unwrap_or(0);
    send(
        shared,
        Outgoing {
            version: newest,
            ..outgoing(Channel::MarketTrades, product, &timestamp, events)
        },
    );
    let events = frames::ticker_events("update", &market);
    send(
        shared,
        outgoing(Channel::Ticker, product, &timestamp, events),
    );
    true
}

/// Generates `n` changes of one product and queues them as one `l2_data` update frame, under
/// the market lock (see the module comment).
fn publish_changes(shared: &Shared, product: usize, n: usize, changes: &mut Vec<Change>) {
    let mut market = shared.products[product].lock();
    let t = shared.clock.now();
    let timestamp = rfc3339_nanos(t);
    changes.clear();
    market.generate(n, t, changes);
    let events = frames::l2_update_events(&market.spec, changes, &timestamp);
    send(
        shared,
        Outgoing {
            channel: Channel::Level2,
            product: Some(product),
            version: market.version,
            timestamp,
            events,
        },
    );
}

fn outgoing(channel: Channel, product: usize, timestamp: &str, events: String) -> Outgoing {
    Outgoing {
        channel,
        product: Some(product),
        version: 0,
        timestamp: timestamp.to_string(),
        events,
    }
}

/// The user orders' churn (docs/sim.md, "Your orders"): expiries, cancellations and new
/// orders every [`super::orders::CHURN_TICK`], until shutdown or the markets freeze.
pub async fn run_accounts(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut ticker = interval(super::orders::CHURN_TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        if shared.frozen() {
            // Orders stop changing with the market, so a client's set settles.
            return;
        }
        // Each touch under its own market lock, released before the accounts lock is taken.
        let touches: Vec<_> = shared
            .products
            .iter()
            .map(|p| {
                let market = p.lock();
                (market.spec.clone(), super::orders::Touch::of(&market))
            })
            .collect();
        shared.accounts.churn(&touches, shared.clock.now());
    }
}

/// One heartbeat a second for the life of the server; the counter never restarts.
pub async fn run_heartbeats(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let started = tokio::time::Instant::from_std(shared.clock.started());
    let mut counter: u64 = 0;
    loop {
        counter += 1;
        let due = started + Duration::from_secs(counter);
        tokio::select! {
            _ = sleep_until(due) => {}
            _ = shutdown.changed() => return,
        }
        let t = shared.clock.now();
        let events = frames::heartbeat_events(&go_time_string(t, shared.clock.uptime()), counter);
        send(
            &shared,
            Outgoing {
                channel: Channel::Heartbeats,
                product: None,
                version: 0,
                timestamp: rfc3339_nanos(t),
                events,
            },
        );
    }
}
