//! A live session over several connections (docs/feed.md, "Sharding").
//!
//! [`run`] spreads the products over connections ([`ShardPlan`]), starts one task per
//! connection (`client::Connection`: its own [`FeedCore`], its own `ConnectionPolicy`), and
//! merges for the viewer: one [`FeedView`] with the products in the order asked for, the
//! counters summed, one [`ConnectionView`] per connection and the least advanced state as the
//! session's. Every connection's events go into the one event channel as they happen. Commands
//! go to every connection. When a connection is refused for carrying too many level2 products
//! (`too many L2 streams requested in a single session`) its task ends, and the session retries
//! its products as two connections ([`split`]), down to one stream per connection.
//!
//! The merge itself ([`merge_views`], [`add_stats`], [`least_advanced`]) is pure and tested here.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::feed::client::{self, ConnectionExit, LiveConfig, Shared};
use crate::feed::core::FeedCore;
use crate::feed::events::{
    ConnectionState, ConnectionView, FeedCommand, FeedEvent, FeedStats, FeedView, ProductView,
};
use crate::feed::publish::{self, Publisher};
use crate::feed::rounds;
use crate::feed::shards::{ShardPlan, split};
use crate::feed::time::now_ms;

/// The end of a live session.
#[derive(Debug)]
pub struct SessionResult {
    /// The books and counters of the whole session: with one connection, its core as it was;
    /// with several, their cores merged (each product from the connection that carried it last).
    pub core: FeedCore,
    /// Connections open when the session was stopped (the `connections=N` of `--stats`).
    pub connections_open: usize,
    /// Connections the session opened in all (splits included).
    pub connections_started: usize,
    /// The user connection's last state (your orders), when a key was configured.
    pub user: Option<crate::feed::user_events::UserView>,
}

/// Adds `other`'s counters to `total`: counts are summed; the latest of the times and of the
/// last numbers are kept; `started_ms` stays `total`'s.
pub fn add_stats(total: &mut FeedStats, other: &FeedStats) {
    total.frames += other.frames;
    total.updates += other.updates;
    total.snapshot_levels += other.snapshot_levels;
    total.gaps += other.gaps;
    total.resyncs += other.resyncs;
    total.reconnects += other.reconnects;
    total.errors += other.errors;
    total.crossed += other.crossed;
    total.bad_frames += other.bad_frames;
    total.stale_frames += other.stale_frames;
    total.ignored_updates += other.ignored_updates;
    total.trades += other.trades;
    total.broken_lines += other.broken_lines;
    total.events_dropped += other.events_dropped;
    total.last_sequence_num = total.last_sequence_num.max(other.last_sequence_num);
    total.heartbeat_counter = total.heartbeat_counter.max(other.heartbeat_counter);
    if other.last_frame_ms > total.last_frame_ms {
        total.last_frame_ms = other.last_frame_ms;
        total.latency_ms = other.latency_ms;
    }
    total.connected_since_ms = match (total.connected_since_ms, other.connected_since_ms) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}

/// How far a connection has come: lower is less advanced.
fn progress(state: &ConnectionState) -> u8 {
    match state {
        ConnectionState::Reconnecting { .. } => 0,
        ConnectionState::Connecting { .. } => 1,
        ConnectionState::Connected => 2,
        ConnectionState::Subscribed | ConnectionState::Replaying => 3,
        ConnectionState::Finished => 4,
    }
}

/// The session's state: the least advanced of its connections' (one reconnecting makes the
/// session reconnecting); `Connecting` when there is none yet.
pub fn least_advanced<'a>(
    states: impl IntoIterator<Item = &'a ConnectionState>,
) -> ConnectionState {
    states
        .into_iter()
        .min_by_key(|s| progress(s))
        .cloned()
        .unwrap_or(ConnectionState::Connecting { attempt: 0 })
}

/// One connection as the merge sees it.
#[derive(Debug, Clone)]
pub struct ConnectionSlot {
    pub index: usize,
    /// The products it carries, as asked for.
    pub products: Vec<String>,
    /// Its last view.
    pub view: Arc<FeedView>,
    /// Replaced by others after a refusal (its products moved): left out of the connection
    /// list and of the products, still counted in the stats.
    pub retired: bool,
}

impl ConnectionSlot {
    pub fn connection_view(&self) -> ConnectionView {
        ConnectionView {
            index: self.index,
            products: self.products.clone(),
            state: self.view.connection.clone(),
            last_sequence_num: self.view.stats.last_sequence_num,
            reconnects: self.view.stats.reconnects,
            connected_since_ms: self.view.stats.connected_since_ms,
            clock: self.view.auth.clock,
        }
    }

    /// The socket is open (connected or subscribed).
    pub fn is_open(&self) -> bool {
        matches!(
            self.view.connection,
            ConnectionState::Connected | ConnectionState::Subscribed
        )
    }
}

/// The session's view: `products` in the order asked for, each from the connection that carries
/// it now; counters summed over every connection (retired ones included); the connections in
/// index order and the least advanced state; the auth state of the first connection, with the
/// products asked for and acknowledged over all, the latest error, and the fallback when any
/// connection fell back.
pub fn merge_views(
    endpoint: &str,
    products: &[String],
    slots: &[&ConnectionSlot],
    at_ms: i64,
    extra_dropped: u64,
) -> FeedView {
    let live: Vec<&ConnectionSlot> = slots.iter().copied().filter(|s| !s.retired).collect();
    // Each product's carrier is the last live connection that lists it; found once per merge
    // rather than by scanning every connection for each of up to 500 products (foldhash: the
    // merge runs up to 30 times a second over every product).
    let mut carrier: foldhash::HashMap<&str, &ConnectionSlot> = foldhash::HashMap::default();
    for slot in &live {
        for product in &slot.products {
            carrier.insert(product, slot);
        }
    }
    let product_views: Vec<ProductView> = products
        .iter()
        .filter_map(|p| {
            carrier
                .get(p.as_str())?
                .view
                .products
                .iter()
                .find(|v| &v.product == p)
                .cloned()
        })
        .collect();
    let mut stats = FeedStats {
        started_ms: slots
            .iter()
            .map(|s| s.view.stats.started_ms)
            .min()
            .unwrap_or(at_ms),
        ..FeedStats::default()
    };
    for slot in slots {
        add_stats(&mut stats, &slot.view.stats);
    }
    stats.events_dropped += extra_dropped;
    let mut auth = live
        .first()
        .map(|s| s.view.auth.clone())
        .unwrap_or_default();
    let mut requested = Vec::new();
    let mut acknowledged = Vec::new();
    for slot in &live {
        let a = &slot.view.auth;
        requested.extend(a.requested.get("level2").into_iter().flatten().cloned());
        acknowledged.extend(a.acknowledged.get("level2").into_iter().flatten().cloned());
        auth.fell_back_to_public |= a.fell_back_to_public;
        auth.clock_retried |= a.clock_retried;
        if a.last_error.as_ref().map(|e| e.at_ms) > auth.last_error.as_ref().map(|e| e.at_ms) {
            auth.last_error = a.last_error.clone();
        }
    }
    // One server clock, measured on every connection: the best of their estimates.
    auth.clock = live
        .iter()
        .filter_map(|s| s.view.auth.clock)
        .reduce(crate::feed::core::clock::ClockEstimate::combine);
    set_level2(&mut auth.requested, requested);
    set_level2(&mut auth.acknowledged, acknowledged);
    FeedView {
        at_ms,
        endpoint: endpoint.to_owned(),
        connection: least_advanced(live.iter().map(|s| &s.view.connection)),
        connections: live.iter().map(|s| s.connection_view()).collect(),
        products: product_views,
        stats,
        auth,
        user: None,
    }
}

/// Puts the level2 products of every connection in `auth.requested` or `auth.acknowledged`.
fn set_level2(map: &mut BTreeMap<String, Vec<String>>, products: Vec<String>) {
    if products.is_empty() && !map.contains_key("level2") {
        return;
    }
    map.insert("level2".to_owned(), products);
}

/// A running connection.
struct Running {
    slot: ConnectionSlot,
    views: watch::Receiver<Arc<FeedView>>,
    commands: mpsc::UnboundedSender<FeedCommand>,
    /// Its task has ended.
    ended: bool,
}

/// Runs the session until Shutdown (or the handle is dropped), or until every connection has
/// ended (every product refused). See the module docs.
pub(crate) async fn run(
    config: LiveConfig,
    shared: Arc<Shared>,
    mut publisher: Publisher,
    mut commands: mpsc::UnboundedReceiver<FeedCommand>,
) -> SessionResult {
    let products = dedup(&config.products);
    let plan = ShardPlan::new(&products, config.products_per_connection);
    let events = publisher.event_sender();
    let mut running: Vec<Running> = Vec::new();
    let mut tasks: JoinSet<(usize, FeedCore, ConnectionExit)> = JoinSet::new();
    let mut cores: Vec<(usize, FeedCore)> = Vec::new();
    let mut dropped = 0u64;
    let start = |running: &mut Vec<Running>,
                 tasks: &mut JoinSet<(usize, FeedCore, ConnectionExit)>,
                 products: Vec<String>,
                 request| {
        let index = running.len();
        let (core, channel) = client::connection(&config, &products, request, events.clone());
        let slot = ConnectionSlot {
            index,
            products,
            view: channel.views.borrow().clone(),
            retired: false,
        };
        running.push(Running {
            slot,
            views: channel.views.clone(),
            commands: channel.command_sender.clone(),
            ended: false,
        });
        let conn = client::Connection::new(&config, index, core, channel, Arc::clone(&shared));
        tasks.spawn(async move { conn.run().await });
    };
    for shard in plan.shards {
        start(&mut running, &mut tasks, shard, publisher.request().clone());
    }
    // Aborted with the session when dropped.
    let mut rounds = JoinSet::new();
    if config.read_in_rounds {
        if rounds::can_rest_here() {
            rounds.spawn(rounds::rest_between_rounds(Arc::clone(&shared.frames)));
        } else {
            tracing::debug!("not reading in rounds: the feed does not have a thread of its own");
        }
    }
    // With a key, the user connection (docs/feed.md, "Your orders"): its own task, never in the
    // way of the market connections.
    let mut user = config.key.clone().map(|key| {
        let (views, view_rx) = watch::channel(Arc::new(
            crate::feed::core::UserCore::new(user_url(&config)).view(),
        ));
        let (stop, shutdown) = watch::channel(false);
        let connection = crate::feed::user_client::UserConnection {
            url: user_url(&config),
            key,
            connect_timeout: config.connect_timeout,
            watchdog: config.watchdog,
            shared: Arc::clone(&shared),
            jwt_clock: config.jwt_clock,
            views,
            shutdown,
        };
        let first = view_rx.borrow().clone();
        UserTask {
            view: first,
            views: view_rx,
            stop,
            task: tokio::spawn(connection.run()),
        }
    });
    let mut dirty = true;
    let mut shutting_down = false;
    let mut tick = tokio::time::interval(publish::VIEW_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if dirty && publisher.view_due() {
            let slots: Vec<&ConnectionSlot> = running.iter().map(|r| &r.slot).collect();
            let mut view = merge_views(&config.url, &products, &slots, now_ms(), dropped);
            view.user = user.as_ref().map(|u| (*u.view).clone());
            publisher.publish_view(Arc::new(view));
            dirty = false;
        }
        let changed = any_changed(&mut running);
        tokio::select! {
            index = changed => {
                if let Some(i) = index {
                    let r = &mut running[i];
                    r.slot.view = r.views.borrow_and_update().clone();
                    dirty = true;
                }
            }
            changed = user_changed(&mut user) => {
                if changed && let Some(u) = user.as_mut() {
                    u.view = u.views.borrow_and_update().clone();
                    dirty = true;
                }
            }
            _ = tick.tick(), if dirty => {}
            command = commands.recv(), if !shutting_down => match command {
                None | Some(FeedCommand::Shutdown) => {
                    shutting_down = true;
                    if let Some(u) = &user {
                        u.stop.send_replace(true);
                    }
                    for r in running.iter().filter(|r| !r.ended) {
                        let _ = r.commands.send(FeedCommand::Shutdown);
                    }
                }
                Some(FeedCommand::SetView(request)) => {
                    for r in running.iter().filter(|r| !r.ended) {
                        let _ = r.commands.send(FeedCommand::SetView(request.clone()));
                    }
                    publisher.set_request(request);
                }
                Some(FeedCommand::Resync) => {
                    for r in running.iter().filter(|r| !r.ended) {
                        let _ = r.commands.send(FeedCommand::Resync);
                    }
                }
            },
            joined = tasks.join_next() => {
                let Some(joined) = joined else { break };
                let (index, core, exit) = match joined {
                    Ok(done) => done,
                    Err(err) => {
                        tracing::error!("a connection task failed: {err}");
                        continue;
                    }
                };
                let r = &mut running[index];
                r.ended = true;
                r.slot.view = r.views.borrow().clone();
                dirty = true;
                if let ConnectionExit::Split { products: refused, reason } = exit {
                    r.slot.retired = true;
                    if let Some((a, b)) = split(&refused)
                        && !shutting_down
                    {
                        let first = running.len();
                        tracing::warn!(
                            connection = index,
                            "{reason}: retrying its {} products as connections #{} ({}) and #{} ({})",
                            refused.len(), first + 1, a.len(), first + 2, b.len()
                        );
                        let event = FeedEvent::ConnectionSplit {
                            at_ms: now_ms(),
                            connection: index,
                            reason: reason.clone(),
                            into: vec![a.clone(), b.clone()],
                        };
                        if !publisher.send_event(event) {
                            dropped += 1;
                        }
                        start(&mut running, &mut tasks, a, publisher.request().clone());
                        start(&mut running, &mut tasks, b, publisher.request().clone());
                    }
                }
                cores.push((index, core));
                if tasks.is_empty() {
                    break;
                }
            }
        }
    }
    // Connections open just before the end: each one's last state before it was closed.
    let connections_open = running
        .iter()
        .filter(|r| !r.slot.retired && r.slot.view.stats.frames > 0 && was_open(&r.slot))
        .count();
    cores.sort_by_key(|(index, _)| *index);
    let connections_started = running.len();
    let now = now_ms();
    let mut core = if cores.len() == 1 {
        match cores.pop() {
            Some((_, core)) => core,
            None => FeedCore::new(config.url.clone(), &products, config.key.is_some(), now),
        }
    } else {
        let started = running
            .iter()
            .map(|r| r.slot.view.stats.started_ms)
            .min()
            .unwrap_or(now);
        let mut merged =
            FeedCore::new(config.url.clone(), &products, config.key.is_some(), started);
        for (_, c) in cores {
            merged.absorb(c, add_stats);
        }
        merged
    };
    core.finish(now);
    let user_view = match user.take() {
        Some(u) => {
            u.stop.send_replace(true);
            match tokio::time::timeout(std::time::Duration::from_secs(3), u.task).await {
                Ok(Ok(final_core)) => Some(final_core.view()),
                _ => Some((*u.views.borrow().clone()).clone()),
            }
        }
        None => None,
    };
    publisher.forward_events(&mut core);
    for r in &mut running {
        r.slot.view = r.views.borrow().clone();
    }
    let mut view = core.view(publisher.request(), now);
    view.connections = running
        .iter()
        .filter(|r| !r.slot.retired)
        .map(|r| r.slot.connection_view())
        .collect();
    view.stats.events_dropped += dropped;
    view.user = user_view.clone();
    core.take_dirty();
    publisher.publish_view(Arc::new(view));
    shared.flush_recording();
    SessionResult {
        core,
        connections_open,
        connections_started,
        user: user_view,
    }
}

/// The user connection of a session.
struct UserTask {
    view: Arc<crate::feed::user_events::UserView>,
    views: watch::Receiver<Arc<crate::feed::user_events::UserView>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<crate::feed::core::UserCore>,
}

/// Whether the user connection's view changed; pending forever without one (or once it ended).
async fn user_changed(user: &mut Option<UserTask>) -> bool {
    match user {
        Some(u) => match u.views.changed().await {
            Ok(()) => true,
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Where the `user` channel is read: `--user-url`, else the market data URL (docs/feed.md,
/// "Your orders"; the command line resolves the exchange's user-data endpoint).
fn user_url(config: &LiveConfig) -> String {
    config
        .user_url
        .clone()
        .unwrap_or_else(|| config.url.clone())
}

/// Whether the connection was open when it was told to stop: its last view before closing
/// shows it connected or subscribed, or it was closed by cbbook (it had been open).
fn was_open(slot: &ConnectionSlot) -> bool {
    slot.is_open() || slot.view.stats.connected_since_ms.is_some()
}

/// The first running connection whose view changed; pending forever when none can change.
async fn any_changed(running: &mut [Running]) -> Option<usize> {
    let futures: Vec<_> = running
        .iter_mut()
        .enumerate()
        .filter(|(_, r)| !r.ended)
        .map(|(i, r)| {
            Box::pin(async move {
                match r.views.changed().await {
                    Ok(()) => Some(i),
                    // The task is ending: its end is handled by the join.
                    Err(_) => std::future::pending().await,
                }
            })
        })
        .collect();
    if futures.is_empty() {
        return std::future::pending().await;
    }
    futures_util::future::select_all(futures).await.0
}

fn dedup(products: &[String]) -> Vec<String> {
    let mut list: Vec<String> = Vec::with_capacity(products.len());
    for p in products {
        if !list.contains(p) {
            list.push(p.clone());
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::events::{BookState, ViewRequest};

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A connection's view for `products`, with `live` ones live and some counters.
    fn slot(index: usize, products: &[&str], live: &[&str], frames: u64) -> ConnectionSlot {
        let products = ids(products);
        let mut core = FeedCore::new("ws://x", &products, false, 100 + index as i64);
        core.connection_started(1_000 + index as i64, false);
        for (seq, p) in live.iter().enumerate() {
            let frame = format!(
                r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{{"type":"snapshot","product_id":"{p}","updates":[{{"side":"bid","event_time":"2023-02-09T20:32:50Z","price_level":"100","new_quantity":"1"}}]}}]}}"#
            );
            core.on_frame(&frame, 2_000);
        }
        let mut view = core.view(&ViewRequest::default(), 3_000);
        view.stats.frames = frames;
        ConnectionSlot {
            index,
            products,
            view: Arc::new(view),
            retired: false,
        }
    }

    #[test]
    fn products_come_in_the_order_asked_from_their_connection() {
        let asked = ids(&["C-USD", "A-USD", "B-USD", "D-USD"]);
        let slots = [
            slot(0, &["C-USD", "A-USD"], &["A-USD"], 5),
            slot(1, &["B-USD", "D-USD"], &["D-USD"], 7),
        ];
        let view = merge_views(
            "ws://x",
            &asked,
            &slots.iter().collect::<Vec<_>>(),
            9_000,
            0,
        );
        let names: Vec<&str> = view.products.iter().map(|p| p.product.as_str()).collect();
        assert_eq!(names, ["C-USD", "A-USD", "B-USD", "D-USD"]);
        let states: Vec<BookState> = view.products.iter().map(|p| p.state).collect();
        use BookState::*;
        assert_eq!(states, [Waiting, Live, Waiting, Live]);
        assert_eq!(view.at_ms, 9_000);
        assert_eq!(view.endpoint, "ws://x");
        assert_eq!(view.connections.len(), 2);
        assert_eq!(view.connections[1].index, 1);
        assert_eq!(view.connections[1].products, ids(&["B-USD", "D-USD"]));
        assert_eq!(view.connections[0].last_sequence_num, Some(0));
        assert_eq!(
            view.auth.requested["level2"],
            ids(&["C-USD", "A-USD", "B-USD", "D-USD"])
        );
    }

    #[test]
    fn counters_are_summed_and_times_merged() {
        let slots = [
            slot(0, &["A-USD"], &["A-USD"], 5),
            slot(1, &["B-USD"], &["B-USD"], 7),
        ];
        let view = merge_views(
            "ws://x",
            &ids(&["A-USD", "B-USD"]),
            &slots.iter().collect::<Vec<_>>(),
            0,
            3,
        );
        assert_eq!(view.stats.frames, 12);
        assert_eq!(view.stats.updates, 2);
        assert_eq!(view.stats.snapshot_levels, 2);
        assert_eq!(view.stats.events_dropped, 3);
        assert_eq!(view.stats.started_ms, 100);
        assert_eq!(view.stats.connected_since_ms, Some(1_000));
        let mut total = FeedStats {
            gaps: 1,
            last_frame_ms: Some(5),
            latency_ms: Some(1),
            ..FeedStats::default()
        };
        let other = FeedStats {
            gaps: 2,
            reconnects: 4,
            last_frame_ms: Some(9),
            latency_ms: Some(7),
            last_sequence_num: Some(3),
            ..FeedStats::default()
        };
        add_stats(&mut total, &other);
        assert_eq!((total.gaps, total.reconnects), (3, 4));
        assert_eq!((total.last_frame_ms, total.latency_ms), (Some(9), Some(7)));
        assert_eq!(total.last_sequence_num, Some(3));
    }

    #[test]
    fn the_session_is_as_far_as_its_least_advanced_connection() {
        use ConnectionState::*;
        let reconnecting = Reconnecting {
            reason: "x".into(),
            retry_at_ms: 0,
            attempt: 1,
        };
        assert_eq!(least_advanced(&[Subscribed, Connected]), Connected);
        assert_eq!(
            least_advanced(&[Subscribed, Connecting { attempt: 2 }, Finished]),
            Connecting { attempt: 2 }
        );
        assert_eq!(
            least_advanced(&[Connecting { attempt: 1 }, reconnecting.clone()]),
            reconnecting
        );
        assert_eq!(least_advanced(&[]), Connecting { attempt: 0 });
        assert_eq!(least_advanced(&[Finished, Finished]), Finished);
    }

    #[test]
    fn a_retired_connection_counts_but_shows_nothing() {
        let mut old = slot(0, &["A-USD", "B-USD"], &[], 4);
        old.retired = true;
        let slots = [
            old,
            slot(1, &["A-USD"], &["A-USD"], 5),
            slot(2, &["B-USD"], &[], 6),
        ];
        let view = merge_views(
            "ws://x",
            &ids(&["A-USD", "B-USD"]),
            &slots.iter().collect::<Vec<_>>(),
            0,
            0,
        );
        assert_eq!(view.stats.frames, 15);
        assert_eq!(
            view.connections.iter().map(|c| c.index).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(view.products[0].state, BookState::Live);
        assert_eq!(view.products.len(), 2);
    }
}
