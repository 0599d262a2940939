//! Sharding: which connection carries which level2 products, and how fast connections may be
//! opened and messages sent (docs/feed.md, "Sharding"). Both are pure data told the time; the
//! live session (`feed/session.rs`) does the I/O.
//!
//! The exchange's limits (docs/feed.md, "Sharding"):
//! - about 16 level2 products per connection; past it `too many L2 streams requested in a single
//!   session` and nothing for that subscribe ([`MAX_L2_PER_CONNECTION`]);
//! - 8 new connections per second per IP (HTTP 429 past it);
//! - 8 unauthenticated messages per second per IP.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::product_id::served_as;

/// The most level2 products one connection may carry on Coinbase (reported: 16 worked, 32
/// failed).
pub const MAX_L2_PER_CONNECTION: usize = 16;
/// `--products-per-connection` by default: well under the exchange's limit.
pub const DEFAULT_PRODUCTS_PER_CONNECTION: usize = 10;
/// New connections per second the exchange allows per IP.
pub const EXCHANGE_CONNECTIONS_PER_SEC: u32 = 8;
/// Unauthenticated messages per second the exchange allows per IP.
pub const EXCHANGE_MESSAGES_PER_SEC: u32 = 8;
/// What cbbook allows itself, with margin under the exchange's 8/s (another client on the same
/// IP, clocks that disagree about where a second starts).
pub const CONNECTIONS_PER_SEC: u32 = 6;
/// Subscribe and unsubscribe messages per second, over all connections, with the same margin.
pub const MESSAGES_PER_SEC: u32 = 6;

/// `--products-per-connection` out of range, with what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "products per connection must be between 1 and {MAX_L2_PER_CONNECTION}, got {0} (Coinbase \
     refuses more than about {MAX_L2_PER_CONNECTION} level2 products on one connection: \"too \
     many L2 streams requested in a single session\"; the default is \
     {DEFAULT_PRODUCTS_PER_CONNECTION})"
)]
pub struct BadProductsPerConnection(pub usize);

/// Checks a products-per-connection value (flag or config key).
pub fn check_products_per_connection(n: usize) -> Result<usize, BadProductsPerConnection> {
    if (1..=MAX_L2_PER_CONNECTION).contains(&n) {
        Ok(n)
    } else {
        Err(BadProductsPerConnection(n))
    }
}

/// The key that keeps products together: the id the exchange serves them under (`BTC-USDC` and
/// `BTC-USD` are one stream, so one connection).
fn stream_of(product: &str) -> &str {
    served_as(product).unwrap_or(product)
}

/// The products of a session spread over connections: at most `per_connection` products each,
/// in the order asked for, a product and its `-USDC` alias always on the same connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    pub shards: Vec<Vec<String>>,
}

impl ShardPlan {
    /// Spreads `products` (duplicates dropped) over connections of at most `per_connection`
    /// products (0 counts as 1). Products that share a stream (an id and its `-USDC` alias) form
    /// one group that is never split; a group larger than `per_connection` (a pair with a limit
    /// of 1) gets a connection of its own: it is one stream on the exchange.
    pub fn new(products: &[String], per_connection: usize) -> ShardPlan {
        let per = per_connection.max(1);
        let groups = groups(products);
        let mut shards: Vec<Vec<String>> = Vec::new();
        for group in groups {
            match shards.last_mut() {
                Some(last) if last.len() + group.len() <= per => last.extend(group),
                _ => shards.push(group),
            }
        }
        ShardPlan { shards }
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

/// `products` grouped by stream, groups in the order of their first product, duplicates dropped.
fn groups(products: &[String]) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for p in products {
        if groups.iter().flatten().any(|q| q == p) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| g.iter().any(|q| stream_of(q) == stream_of(p)))
        {
            Some(g) => g.push(p.clone()),
            None => groups.push(vec![p.clone()]),
        }
    }
    groups
}

/// The two halves a refused connection's products are retried as (`too many L2 streams`):
/// streams kept together, the first half the larger. `None` when they are one stream (a single
/// product, or a product and its alias): nothing left to split.
pub fn split(products: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let groups = groups(products);
    if groups.len() < 2 {
        return None;
    }
    let total: usize = groups.iter().map(Vec::len).sum();
    let mut first = Vec::new();
    let mut rest = groups.into_iter().peekable();
    while let Some(g) =
        rest.next_if(|g| first.is_empty() || first.len() + g.len() <= total.div_ceil(2))
    {
        first.extend(g);
    }
    let second: Vec<String> = rest.flatten().collect();
    if second.is_empty() {
        return None;
    }
    Some((first, second))
}

/// At most `limit` events in any `window`: a sliding window of the times granted. Slots are
/// reserved ahead: [`RateLimit::reserve`] returns when the caller may go (now, or later), and
/// counts it as taken then, so that callers that share one limit queue up in order.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limit: usize,
    window: Duration,
    granted: VecDeque<Instant>,
}

impl RateLimit {
    /// `limit` per `window`; a limit of 0 means none.
    pub fn new(limit: u32, window: Duration) -> RateLimit {
        RateLimit {
            limit: limit as usize,
            window,
            granted: VecDeque::new(),
        }
    }

    /// The earliest time at or after `now` an event may happen, reserved for the caller.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        if self.limit == 0 {
            return now;
        }
        // Forget what is out of every window that can still matter.
        while self
            .granted
            .front()
            .is_some_and(|&t| t + self.window <= now)
        {
            self.granted.pop_front();
        }
        let at = if self.granted.len() < self.limit {
            // Room in the window; but never before a slot already granted (keep the order).
            self.granted.back().map_or(now, |&last| last.max(now))
        } else {
            // The event `limit` places back must have left the window.
            let i = self.granted.len() - self.limit;
            (self.granted[i] + self.window).max(now)
        };
        self.granted.push_back(at);
        at
    }

    /// Reserves `now` only if an event may happen now without waiting and without going before
    /// slots already granted: spare room for what can wait (see [`Pacing::spare_message`]).
    pub fn reserve_if_free(&mut self, now: Instant) -> bool {
        let mut probe = self.clone();
        if probe.reserve(now) > now {
            return false;
        }
        *self = probe;
        true
    }
}

/// The session's pacing, over all its connections: new connections (reconnects included) and
/// subscribe/unsubscribe messages, each under its own limit.
#[derive(Debug, Clone)]
pub struct Pacing {
    connects: RateLimit,
    messages: RateLimit,
}

impl Pacing {
    pub fn new(connections_per_sec: u32, messages_per_sec: u32) -> Pacing {
        let second = Duration::from_secs(1);
        Pacing {
            connects: RateLimit::new(connections_per_sec, second),
            messages: RateLimit::new(messages_per_sec, second),
        }
    }

    /// When the next connection may be opened (reserved).
    pub fn connect_at(&mut self, now: Instant) -> Instant {
        self.connects.reserve(now)
    }

    /// When the next subscribe or unsubscribe may be sent (reserved).
    pub fn message_at(&mut self, now: Instant) -> Instant {
        self.messages.reserve(now)
    }

    /// A message slot now, if the budget has one to spare: what can wait (the trades and ticker
    /// subscribes) never delays a book's level2 subscribe queued behind it.
    pub fn spare_message(&mut self, now: Instant) -> bool {
        self.messages.reserve_if_free(now)
    }
}

impl Default for Pacing {
    /// [`CONNECTIONS_PER_SEC`] and [`MESSAGES_PER_SEC`].
    fn default() -> Pacing {
        Pacing::new(CONNECTIONS_PER_SEC, MESSAGES_PER_SEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn numbered(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("P{i}-USD")).collect()
    }

    #[test]
    fn spare_slots_never_go_before_a_queue() {
        let t0 = Instant::now();
        let mut pacing = Pacing::new(6, 2);
        assert!(pacing.spare_message(t0), "an idle budget has room");
        assert_eq!(pacing.message_at(t0), t0, "the second of two a second");
        assert!(!pacing.spare_message(t0), "full: spare nothing");
        let queued = pacing.message_at(t0);
        assert_eq!(queued, t0 + Duration::from_secs(1));
        let t1 = t0 + Duration::from_secs(1);
        assert!(
            pacing.spare_message(t1),
            "the queued message and a spare one fit at t1"
        );
        assert!(
            !pacing.spare_message(t1),
            "two a second, the queued one counted"
        );
        assert_eq!(pacing.message_at(t1), t1 + Duration::from_secs(1));
    }

    #[test]
    fn products_are_spread_in_order_at_most_n_per_connection() {
        let plan = ShardPlan::new(&numbered(25), 10);
        assert_eq!(plan.len(), 3);
        assert_eq!(
            plan.shards.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        assert_eq!(plan.shards[0][0], "P0-USD");
        assert_eq!(plan.shards[2][4], "P24-USD");
        assert_eq!(plan.shards.concat(), numbered(25));
        assert_eq!(ShardPlan::new(&numbered(1), 10).shards, [ids(&["P0-USD"])]);
        assert_eq!(ShardPlan::new(&numbered(10), 10).len(), 1);
        assert_eq!(ShardPlan::new(&numbered(11), 10).len(), 2);
        assert_eq!(ShardPlan::new(&numbered(3), 1).len(), 3);
        assert_eq!(ShardPlan::new(&numbered(3), 0).len(), 3);
        assert!(ShardPlan::new(&[], 10).is_empty());
    }

    #[test]
    fn duplicates_are_dropped() {
        let plan = ShardPlan::new(&ids(&["A-USD", "B-USD", "A-USD"]), 10);
        assert_eq!(plan.shards, [ids(&["A-USD", "B-USD"])]);
    }

    #[test]
    fn a_product_and_its_usdc_alias_share_a_connection() {
        // BTC-USDC is served as BTC-USD: one stream, asked for far apart.
        let products = ids(&["BTC-USD", "ETH-USD", "SOL-USD", "BTC-USDC", "USDT-USDC"]);
        let plan = ShardPlan::new(&products, 2);
        assert_eq!(
            plan.shards,
            [
                ids(&["BTC-USD", "BTC-USDC"]),
                ids(&["ETH-USD", "SOL-USD"]),
                ids(&["USDT-USDC"]),
            ]
        );
        // A pair does not fit in 1: it gets a connection of its own anyway.
        let plan = ShardPlan::new(&ids(&["ETH-USDC", "ETH-USD", "A-USD"]), 1);
        assert_eq!(
            plan.shards,
            [ids(&["ETH-USDC", "ETH-USD"]), ids(&["A-USD"])]
        );
        // A group that would overflow the current connection starts the next one.
        let plan = ShardPlan::new(&ids(&["A-USD", "B-USD", "B-USDC"]), 2);
        assert_eq!(plan.shards, [ids(&["A-USD"]), ids(&["B-USD", "B-USDC"])]);
    }

    #[test]
    fn split_halves_keep_streams_together_and_stop_at_one_stream() {
        let (a, b) = split(&numbered(40)).unwrap();
        assert_eq!((a.len(), b.len()), (20, 20));
        assert_eq!([a.clone(), b].concat(), numbered(40));
        let (a, b) = split(&numbered(5)).unwrap();
        assert_eq!((a.len(), b.len()), (3, 2));
        let (a, b) = split(&ids(&["A-USD", "B-USD"])).unwrap();
        assert_eq!((a, b), (ids(&["A-USD"]), ids(&["B-USD"])));
        assert_eq!(split(&ids(&["A-USD"])), None);
        assert_eq!(split(&ids(&["BTC-USD", "BTC-USDC"])), None);
        assert_eq!(split(&[]), None);
        let (a, b) = split(&ids(&["BTC-USD", "BTC-USDC", "C-USD"])).unwrap();
        assert_eq!((a, b), (ids(&["BTC-USD", "BTC-USDC"]), ids(&["C-USD"])));
        // Splitting again and again ends with single streams, never loses a product.
        let mut pending = vec![numbered(37)];
        let mut done = Vec::new();
        while let Some(list) = pending.pop() {
            match split(&list) {
                Some((a, b)) => pending.extend([a, b]),
                None => done.push(list),
            }
        }
        assert_eq!(done.len(), 37);
    }

    #[test]
    fn products_per_connection_is_checked_with_the_reason() {
        assert_eq!(check_products_per_connection(1), Ok(1));
        assert_eq!(check_products_per_connection(16), Ok(16));
        for bad in [0, 17, 40] {
            let err = check_products_per_connection(bad).unwrap_err().to_string();
            assert!(err.contains("must be between 1 and 16, got"), "{err}");
            assert!(err.contains("too many L2 streams"), "{err}");
        }
    }

    #[test]
    fn a_rate_limit_grants_at_most_n_per_window_in_order() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(3, Duration::from_secs(1));
        let granted: Vec<Duration> = (0..7).map(|_| r.reserve(t0) - t0).collect();
        let s = Duration::from_secs;
        assert_eq!(
            granted,
            [s(0), s(0), s(0), s(1), s(1), s(1), s(2)],
            "three a second, queued in order"
        );
        // Later, with the window empty again: at once.
        let later = t0 + s(10);
        assert_eq!(r.reserve(later), later);
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(6, Duration::from_secs(1));
        let mut times = Vec::new();
        // Callers arriving every 50 ms, faster than the limit.
        for i in 0..60u64 {
            times.push(r.reserve(t0 + Duration::from_millis(i * 50)));
        }
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|&&u| u < t + Duration::from_secs(1))
                .count();
            assert!(in_window <= 6, "{in_window} in the second from slot {i}");
        }
        // And it is not slower than needed: 60 events at 6/s take under 10 s.
        assert!(*times.last().unwrap() - t0 < Duration::from_secs(10));
    }

    #[test]
    fn a_slow_caller_is_never_delayed_and_zero_means_no_limit() {
        let t0 = Instant::now();
        let mut p = Pacing::default();
        for i in 0..20u64 {
            let now = t0 + Duration::from_millis(i * 200);
            assert_eq!(p.connect_at(now), now);
            assert_eq!(p.message_at(now), now);
        }
        let mut free = Pacing::new(0, 0);
        for _ in 0..100 {
            assert_eq!(free.connect_at(t0), t0);
            assert_eq!(free.message_at(t0), t0);
        }
    }

    #[test]
    fn the_default_pacing_stays_under_the_exchange_limits() {
        const {
            assert!(CONNECTIONS_PER_SEC < EXCHANGE_CONNECTIONS_PER_SEC);
            assert!(MESSAGES_PER_SEC < EXCHANGE_MESSAGES_PER_SEC);
            assert!(DEFAULT_PRODUCTS_PER_CONNECTION < MAX_L2_PER_CONNECTION);
        }
        // Ten connections asked for at once: the first six now, four a second later.
        let t0 = Instant::now();
        let mut p = Pacing::default();
        let at: Vec<Instant> = (0..10).map(|_| p.connect_at(t0)).collect();
        assert_eq!(at.iter().filter(|&&t| t == t0).count(), 6);
        assert!(at[6..].iter().all(|&t| t == t0 + Duration::from_secs(1)));
    }
}
