//! The one code path that turns received frames into books, for live and replay alike.
//!
//! [`FeedCore`] is synchronous and does no I/O: the live client and the replay reader hand it each
//! frame with its receive time, and it checks the sequence, applies the frame to the books, keeps
//! the counters and the auth state, queues [`FeedEvent`]s, and answers with what the caller must do
//! on the socket ([`Outcome`]). The same recording therefore always yields the same books.
//!
//! Integrity rules (see `docs/feed.md`):
//! - `sequence_num` is one counter per connection, from 0. A jump is a gap: every book becomes
//!   [`BookState::Desynced`] and level2 must be resubscribed for fresh snapshots. A number at or
//!   below the last one is a stale or duplicate frame: ignored and counted.
//! - A snapshot replaces its product's book and makes it live; updates for a product that has had
//!   no snapshot (or was never asked for) are ignored and counted.
//! - A lost connection makes every book desynced until its next snapshot.
//! - A book left crossed (best bid at or above best ask) by a snapshot or an update is
//!   [`BookState::Crossed`] until its next snapshot; [`Outcome::crossed`] asks for a paced resync.
//!
//! The core's concerns, one module each (each with its own unit tests):
//! - `registry`: the products asked for and their books ([`ProductBook`]);
//! - `sequencer`: `sequence_num` checks, gaps and stale frames (a pure [`Sequencer`]);
//! - `apply`: `l2_data` events into the books;
//! - `refusals`: error frames, the auth fallback and products the server refuses;
//! - `views`: the viewer's copies ([`FeedView`]);
//! - `dump`: the `--dump-book` file ([`DumpedBook`], [`dump_json`]);
//! - `stats`: latency and the `--stats` lines.
//!
//! This module keeps [`FeedCore`] itself, its connection lifecycle and [`FeedCore::on_frame`],
//! which reads a frame and hands it to the others.

#[cfg(test)]
mod alias_tests;
mod apply;
pub mod clock;
mod dump;
pub mod heatmap;
mod jwt_clock;
mod merge;
mod orders;
mod refusals;
mod registry;
mod sequencer;
mod stats;
pub mod tap;
#[cfg(test)]
mod test_frames;
mod ticker;
mod trades;
mod views;

use std::collections::{BTreeMap, HashMap};

use crate::feed::events::{AuthView, BookState, ConnectionState, FeedEvent, FeedStats};
use crate::feed::latency::Histogram;
use crate::feed::protocol::{self, L2Batch, L2Header, ServerMessage};
use crate::feed::time::TimestampCache;

pub use dump::{DumpedBook, DumpedOrder, DumpedTicker, DumpedTrade, dump_json, dumped_orders};
pub use orders::{FILLS_KEPT, UserCore, UserOutcome, open_order_rows};
pub use registry::ProductBook;
use registry::Routes;
pub use sequencer::{SequenceCheck, Sequencer};
pub use trades::{
    DEFAULT_TRADES_KEPT, DUMPED_TRADES, MarketTape, ticker_of_events, trades_of_events,
};

use apply::parse_level;
use refusals::{MAX_BAD_FRAME_TEXT, shorten};

/// What the caller must do on the socket after a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Unsubscribe and resubscribe level2 to get fresh snapshots.
    pub resync: bool,
    /// The key was refused: stop sending JWTs and subscribe again on the public path.
    pub fall_back_to_public: bool,
    /// The server acknowledged level2 for our products, or sent a snapshot: the subscribe worked.
    pub subscribed: bool,
    /// The frame parsed (so it is valid JSON and may be recorded as is).
    pub parsed: bool,
    /// The server refused products (by name, or a subscribe failure that named none: the
    /// products of the last level2 subscribe): subscribe level2 again for
    /// [`FeedCore::active_products`] (none left: [`FeedCore::all_refused`]).
    pub resubscribe: bool,
    /// The refusal was the level2 stream limit (`too many L2 streams requested in a single
    /// session`): the connection carries too many products. The refused ones are
    /// [`FeedCore::stream_limited_products`]; a sharding layer moves them to other connections
    /// ([`FeedCore::release_products`]) instead of giving up on them. `resubscribe` is set too.
    pub stream_limit: bool,
    /// A book became crossed ([`BookState::Crossed`]): it needs a fresh snapshot, asked for
    /// with a growing delay (the connection policy's crossed-book pacing), not at once every
    /// time, so that a server that keeps sending crossed books is not asked again and again.
    pub crossed: bool,
    /// A signed subscribe was refused and the refusal waits to be judged against the clock:
    /// subscribe `heartbeats` without a JWT, whose answer is timed (docs/feed.md, "Clock
    /// offset").
    pub measure_clock: bool,
    /// The measured clock explains the refusal: sign again with the server's time and
    /// subscribe once more (level2 and heartbeats).
    pub retry_signed: bool,
}

/// A level2 subscribe sent on the current connection.
#[derive(Debug, Clone)]
struct Level2Subscribe {
    /// The products it asked for.
    products: Vec<String>,
    /// An ack or a snapshot has arrived since: the server acted on it.
    answered: bool,
}

/// The parts of a subscribe message as sent that the core reads back.
#[derive(serde::Deserialize)]
struct SentMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    product_ids: Vec<String>,
}

/// The bad-frame error of a binary frame that is not UTF-8 text.
pub const BINARY_NOT_TEXT: &str = "binary frame that is not UTF-8 text";

/// The books of one feed, their integrity state and counters. See the module docs.
#[derive(Debug)]
pub struct FeedCore {
    endpoint: String,
    /// In the order asked for.
    products: Vec<String>,
    index: HashMap<String, usize>,
    /// A frame's product id -> the books it feeds (aliases: docs/feed.md, "Aliases").
    routes: Routes,
    books: Vec<ProductBook>,
    /// `sequence_num` checks of the current connection.
    sequencer: Sequencer,
    /// Replay: a product is added when its first snapshot (or a connect marker) names it.
    auto_products: bool,
    stats: FeedStats,
    auth: AuthView,
    /// Subscribes on the current connection carry a JWT.
    authenticated: bool,
    /// The last level2 subscribe sent on the current connection: what an error that names no
    /// product (the stream limit) answers.
    level2_subscribe: Option<Level2Subscribe>,
    connection: ConnectionState,
    events: Vec<FeedEvent>,
    dirty: bool,
    /// The fast path's reused frame batch (empty between frames).
    batch: L2Batch,
    /// Envelope timestamps to milliseconds, for the latency.
    timestamps: TimestampCache,
    /// Live: microseconds from receiving each frame to having applied it.
    apply_us: Histogram,
    /// Milliseconds from each frame's envelope timestamp (the server's clock) to its receipt.
    server_to_received_ms: Histogram,
    /// Trades kept per product ([`trades`]).
    trades_kept: usize,
    /// What reading trades reuses from frame to frame ([`trades`]).
    trade_work: trades::TradeWork,
    /// `cbbook export`: what was applied, until taken ([`tap`]).
    tap: Option<Vec<tap::Tapped>>,
    /// The clock offset and the clock of the JWTs ([`jwt_clock`]).
    clock: jwt_clock::JwtClockState,
    /// The heatmap's sampling clock and settings ([`heatmap`]).
    heat: heatmap::HeatClock,
}

impl FeedCore {
    /// A feed for `products` (duplicates dropped), with no connection yet.
    pub fn new(
        endpoint: impl Into<String>,
        products: &[String],
        key_configured: bool,
        now_ms: i64,
    ) -> FeedCore {
        let mut list: Vec<String> = Vec::with_capacity(products.len());
        for p in products {
            if !list.contains(p) {
                list.push(p.clone());
            }
        }
        let index = list
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i))
            .collect();
        let books = list.iter().map(|_| ProductBook::new()).collect();
        let routes = Routes::new(&list);
        let mut requested = BTreeMap::new();
        requested.insert("level2".to_owned(), list.clone());
        requested.insert("heartbeats".to_owned(), Vec::new());
        FeedCore {
            endpoint: endpoint.into(),
            products: list,
            index,
            routes,
            books,
            sequencer: Sequencer::default(),
            auto_products: false,
            stats: FeedStats {
                started_ms: now_ms,
                ..FeedStats::default()
            },
            auth: AuthView {
                key_configured,
                requested,
                ..AuthView::default()
            },
            authenticated: false,
            level2_subscribe: None,
            connection: ConnectionState::Connecting { attempt: 0 },
            events: Vec::new(),
            dirty: true,
            batch: L2Batch::default(),
            timestamps: TimestampCache::default(),
            apply_us: Histogram::default(),
            server_to_received_ms: Histogram::default(),
            trades_kept: DEFAULT_TRADES_KEPT,
            trade_work: trades::TradeWork::default(),
            tap: None,
            clock: jwt_clock::JwtClockState::default(),
            heat: heatmap::HeatClock::default(),
        }
    }

    pub fn products(&self) -> &[String] {
        &self.products
    }

    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }

    pub fn auth(&self) -> &AuthView {
        &self.auth
    }

    pub fn connection(&self) -> &ConnectionState {
        &self.connection
    }

    /// The key was refused earlier in this session: subscribe without JWTs from now on.
    pub fn fell_back_to_public(&self) -> bool {
        self.auth.fell_back_to_public
    }

    /// Treat a `sequence_num` of 0 after higher ones as a new connection (for files of bare
    /// frames, which carry no connection markers).
    pub fn set_restart_on_zero(&mut self, on: bool) {
        self.sequencer.set_restart_on_zero(on);
    }

    /// Track every product that gets a snapshot, not only those given to [`FeedCore::new`]
    /// (replay of a file whose products are not known in advance).
    pub fn set_auto_products(&mut self, on: bool) {
        self.auto_products = on;
    }

    /// Something changed since the last [`FeedCore::take_dirty`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether something changed, and clear the mark.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    /// The events queued since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, FeedEvent> {
        self.events.drain(..)
    }

    /// Replay: lines of the file that could not be read as an entry or a frame.
    pub fn note_broken_lines(&mut self, lines: u64) {
        self.stats.broken_lines = lines;
        self.dirty = true;
    }

    /// The replay of this core's file stopped on `error` (the viewer shows it in place of the
    /// books).
    pub fn replay_failed(&mut self, now_ms: i64, error: String) {
        self.emit(FeedEvent::ReplayFailed {
            at_ms: now_ms,
            error,
        });
    }

    /// A problem outside any frame (a file that cannot be read), shown as a bad-frame event.
    pub fn report_problem(&mut self, now_ms: i64, error: String) {
        self.emit(FeedEvent::BadFrame {
            at_ms: now_ms,
            error,
        });
    }

    /// Writing the recording failed and it stopped; `error` says why and what to do.
    pub fn recording_stopped(&mut self, now_ms: i64, path: String, error: String) {
        self.emit(FeedEvent::RecordingStopped {
            at_ms: now_ms,
            path,
            error,
        });
    }

    /// A binary frame, live or replayed: the exchange sends text, but a binary frame holding
    /// UTF-8 text is read as that text; any other is a bad frame ([`BINARY_NOT_TEXT`]).
    pub fn on_binary_frame(&mut self, bytes: &[u8], now_ms: i64) -> Outcome {
        if std::str::from_utf8(bytes).is_ok() {
            return self.on_frame_bytes(bytes, now_ms);
        }
        self.count_bad_frame(now_ms, BINARY_NOT_TEXT.into());
        Outcome::default()
    }

    /// A frame that never reached the parser (over the size limit, binary): counted and reported.
    pub fn count_bad_frame(&mut self, now_ms: i64, error: String) {
        self.stats.frames += 1;
        self.bad_frame(now_ms, error, false);
    }

    /// Counts an event the caller could not deliver.
    pub fn count_dropped_event(&mut self) {
        self.stats.events_dropped += 1;
    }

    fn emit(&mut self, event: FeedEvent) {
        self.events.push(event);
        self.dirty = true;
    }

    pub fn set_connection(&mut self, state: ConnectionState) {
        self.connection = state;
        self.dirty = true;
    }

    /// An attempt to connect starts.
    pub fn connecting(&mut self, now_ms: i64, attempt: u32) {
        self.set_connection(ConnectionState::Connecting { attempt });
        let url = self.endpoint.clone();
        self.emit(FeedEvent::Connecting {
            at_ms: now_ms,
            url,
            attempt,
        });
    }

    /// A connection of a rotated recording going on from the previous file (docs/recording.md,
    /// "Rotation"): started as a new one, except that its next sequence number is taken as it
    /// comes, not expected to be 0.
    pub fn connection_continued(&mut self, now_ms: i64, authenticated: bool) {
        self.connection_started(now_ms, authenticated);
        self.sequencer.take_next_as_it_comes();
    }

    /// A new connection is open: its sequence starts again at 0, and every book waits for its
    /// next snapshot. `authenticated`: its subscribes carry a JWT.
    pub fn connection_started(&mut self, now_ms: i64, authenticated: bool) {
        self.sequencer.reset();
        self.authenticated = authenticated;
        self.desync_all();
        self.stats.connected_since_ms = Some(now_ms);
        self.stats.last_sequence_num = None;
        self.auth.acknowledged.clear();
        self.level2_subscribe = None;
        self.clock_connection_started();
        self.set_connection(ConnectionState::Connected);
        let url = self.endpoint.clone();
        self.emit(FeedEvent::Connected { at_ms: now_ms, url });
    }

    /// The connection is gone: every book is suspect until its next snapshot.
    pub fn connection_lost(&mut self, now_ms: i64, reason: &str) {
        self.clock_connection_lost(now_ms);
        self.desync_all();
        self.stats.connected_since_ms = None;
        self.emit(FeedEvent::Disconnected {
            at_ms: now_ms,
            reason: reason.to_owned(),
        });
    }

    /// The feed closed the connection itself (shutdown, end of a headless run): the books were
    /// in sync up to here, so they keep their state.
    pub fn connection_closed(&mut self, now_ms: i64) {
        self.stats.connected_since_ms = None;
        self.emit(FeedEvent::Disconnected {
            at_ms: now_ms,
            reason: "closed by cbbook".to_owned(),
        });
    }

    /// The next attempt starts in `in_ms`.
    pub fn reconnecting(&mut self, now_ms: i64, reason: &str, in_ms: u64, attempt: u32) {
        self.stats.reconnects += 1;
        self.set_connection(ConnectionState::Reconnecting {
            reason: reason.to_owned(),
            retry_at_ms: now_ms.saturating_add(i64::try_from(in_ms).unwrap_or(i64::MAX)),
            attempt,
        });
        self.emit(FeedEvent::Reconnecting {
            at_ms: now_ms,
            in_ms,
            attempt,
        });
    }

    /// A replayed connection loss that the recorded session retried (a `disconnect` marker, or
    /// a bare file's sequence back at 0): counts one `reconnects`, as [`FeedCore::reconnecting`]
    /// did live.
    pub fn replayed_reconnect(&mut self) {
        self.stats.reconnects += 1;
    }

    /// A subscribe or unsubscribe for `channel` went out. `redacted`: the message with the JWT
    /// replaced. `last_subscribe` keeps the level2 message (the one that carries the books and
    /// the one a refusal is about): another channel's only fills it in when no level2 message
    /// was sent yet. `last_jwt` is the last JWT sent, whatever the channel.
    pub fn subscribe_sent(
        &mut self,
        now_ms: i64,
        channel: &str,
        redacted: String,
        jwt: Option<String>,
    ) {
        self.clock_message_sent(now_ms);
        if channel == "level2" || self.auth.last_subscribe.is_none() {
            self.auth.last_subscribe = Some(redacted.clone());
        }
        if channel == "level2" {
            if let Ok(sent) = serde_json::from_str::<SentMessage>(&redacted) {
                if sent.kind == "subscribe" {
                    self.level2_subscribe = Some(Level2Subscribe {
                        products: sent.product_ids,
                        answered: false,
                    });
                }
            }
        }
        if jwt.is_some() {
            self.auth.last_jwt = jwt;
        }
        self.emit(FeedEvent::SubscribeSent {
            at_ms: now_ms,
            message: redacted,
        });
    }

    /// Marks every book desynced and counts a resync; the caller resubscribes level2.
    pub fn resync(&mut self, now_ms: i64) {
        self.desync_all();
        self.stats.resyncs += 1;
        // The products asked for again: a refused one is not.
        let products = self.active_products();
        self.emit(FeedEvent::Resync {
            at_ms: now_ms,
            products,
        });
    }

    /// A resync of the crossed books only (docs/feed.md, "Crossed books"): counted and
    /// reported as a resync of those products, which stay crossed until their snapshots
    /// arrive; the other books are left as they are. Returns the products, for the caller to
    /// unsubscribe and subscribe (none: nothing to do).
    pub fn resync_crossed(&mut self, now_ms: i64) -> Vec<String> {
        let products: Vec<String> = self
            .products
            .iter()
            .zip(&self.books)
            .filter(|(_, b)| b.state == BookState::Crossed)
            .map(|(p, _)| p.clone())
            .collect();
        if !products.is_empty() {
            self.stats.resyncs += 1;
            self.emit(FeedEvent::Resync {
                at_ms: now_ms,
                products: products.clone(),
            });
        }
        products
    }

    /// The feed is over.
    pub fn finish(&mut self, now_ms: i64) {
        self.set_connection(ConnectionState::Finished);
        self.emit(FeedEvent::Finished { at_ms: now_ms });
    }

    /// One received text frame. Never panics: a frame that cannot be used is counted, reported
    /// and skipped (and, if it may have carried book data, triggers a resync).
    pub fn on_frame(&mut self, text: &str, now_ms: i64) -> Outcome {
        self.on_frame_bytes(text.as_bytes(), now_ms)
    }

    /// [`FeedCore::on_frame`] for a frame not yet known to be UTF-8 (replay's raw lines): text
    /// that is not UTF-8 is a bad frame.
    ///
    /// `l2_data` frames in the exchange's compact form take a fast path: read into a batch the
    /// core keeps from frame to frame, numbers already exact, nothing allocated. So do
    /// `market_trades` and `ticker` frames ([`FeedCore::on_market_frame`]). Every other frame
    /// (and any the fast paths are unsure of) goes through [`protocol::parse_bytes`]; both reach
    /// the books through the same [`FeedCore::l2_event`], the tapes through the same
    /// [`FeedCore::on_trades`] and [`FeedCore::on_tickers`].
    pub fn on_frame_bytes(&mut self, text: &[u8], now_ms: i64) -> Outcome {
        self.heat_clock(now_ms);
        self.stats.frames += 1;
        self.stats.last_frame_ms = Some(now_ms);
        self.dirty = true;
        let mut batch = std::mem::take(&mut self.batch);
        let outcome = match protocol::parse_l2_levels(text, &mut batch) {
            Some(header) => self.on_l2_batch(text, header, &batch, now_ms),
            None => match self.on_market_frame(text, now_ms) {
                Some(outcome) => outcome,
                None => self.on_message(text, now_ms),
            },
        };
        self.batch = batch;
        outcome
    }

    /// An `l2_data` frame read by the fast path.
    fn on_l2_batch(
        &mut self,
        frame: &[u8],
        header: L2Header<'_>,
        batch: &L2Batch,
        now_ms: i64,
    ) -> Outcome {
        let mut outcome = Outcome {
            parsed: true,
            ..Outcome::default()
        };
        let envelope = (Some(header.sequence_num), Some(header.timestamp));
        let Some(sequence_num) = self.check_envelope(envelope, now_ms, &mut outcome) else {
            return outcome;
        };
        let mut bad = None;
        for event in batch.events(frame) {
            let levels = event.levels.iter().map(|&level| Ok(level));
            let at = (now_ms, sequence_num);
            if let Some(error) =
                self.l2_event(event.kind, event.product_id, levels, at, &mut outcome)
            {
                bad = Some(error);
            }
        }
        self.after_l2(bad, now_ms, &mut outcome);
        outcome
    }

    /// Any frame, through the general parser.
    fn on_message(&mut self, text: &[u8], now_ms: i64) -> Outcome {
        match protocol::parse_bytes(text) {
            Ok(message) => self.on_parsed(text, message, now_ms),
            Err(err) => self.refused_frame(text, err.to_string(), now_ms),
        }
    }

    /// [`FeedCore::on_frame`] with every frame read by the serde path alone
    /// ([`protocol::parse_general`]): what the fast paths are checked against.
    #[cfg(test)]
    fn on_frame_general(&mut self, text: &str, now_ms: i64) -> Outcome {
        self.heat_clock(now_ms);
        self.stats.frames += 1;
        self.stats.last_frame_ms = Some(now_ms);
        self.dirty = true;
        match protocol::parse_general(text) {
            Ok(message) => self.on_parsed(text.as_bytes(), message, now_ms),
            Err(err) => self.refused_frame(text.as_bytes(), err.to_string(), now_ms),
        }
    }

    /// A frame `text` the general parser read as `message`.
    fn on_parsed(&mut self, text: &[u8], message: ServerMessage<'_>, now_ms: i64) -> Outcome {
        let mut outcome = Outcome {
            parsed: true,
            ..Outcome::default()
        };
        let mut sequence_num = 0;
        if let Some(envelope) = message.envelope() {
            let parts = (
                envelope.sequence_num,
                envelope.timestamp.as_deref().map(str::as_bytes),
            );
            match self.check_envelope(parts, now_ms, &mut outcome) {
                Some(seq) => sequence_num = seq,
                None => return outcome,
            }
        }
        match message {
            ServerMessage::L2 { events, .. } => {
                let mut bad = None;
                for event in &events {
                    let at = (now_ms, sequence_num);
                    let product_id = event.product_id.as_bytes();
                    let levels = event.updates.iter().map(parse_level);
                    // The text's numbers are parsed once, however many books the event feeds.
                    let error = if self.find_books(product_id).len() > 1 {
                        let parsed: Vec<_> = levels.collect();
                        let levels = parsed.iter().cloned();
                        self.l2_event(event.kind, product_id, levels, at, &mut outcome)
                    } else {
                        self.l2_event(event.kind, product_id, levels, at, &mut outcome)
                    };
                    if error.is_some() {
                        bad = error;
                    }
                }
                self.after_l2(bad, now_ms, &mut outcome);
            }
            ServerMessage::Subscriptions {
                mut subscriptions, ..
            } => {
                // The ack may name the ids asked for or the ids they are served as: either
                // way, the view and the events speak the ids asked for.
                let mut level2_ok = false;
                if let Some(acked) = subscriptions.get_mut("level2") {
                    let (ids, ours) = self.as_requested(acked);
                    *acked = ids;
                    level2_ok = ours;
                }
                if level2_ok {
                    self.level2_answered();
                }
                outcome.subscribed |= level2_ok;
                self.auth.acknowledged = subscriptions.clone();
                self.clock_answer(now_ms);
                self.clock_judge(now_ms, &mut outcome);
                if self.connection == ConnectionState::Connected {
                    self.set_connection(ConnectionState::Subscribed);
                }
                self.emit(FeedEvent::Subscribed {
                    at_ms: now_ms,
                    subscriptions,
                });
            }
            ServerMessage::Heartbeat { counter, .. } => {
                if counter.is_some() {
                    self.stats.heartbeat_counter = counter;
                }
            }
            ServerMessage::Error { message, reason } => {
                // Error frames come from the general parser, which checked the text is UTF-8.
                let raw = String::from_utf8_lossy(text);
                match self.error_frame(&raw, message, reason, now_ms) {
                    refusals::AuthAction::None => {}
                    refusals::AuthAction::FallBack => outcome.fall_back_to_public = true,
                    refusals::AuthAction::MeasureClock => outcome.measure_clock = true,
                }
                outcome.resubscribe = self.refuse_named_products(now_ms);
                if !outcome.resubscribe {
                    let (refused, stream_limit) = self.refuse_unnamed_subscribe(now_ms);
                    outcome.resubscribe = refused;
                    outcome.stream_limit = stream_limit;
                }
            }
            ServerMessage::Trades { events, .. } => {
                let trades = events.iter().flat_map(|e| &e.trades).map(|t| t.fields());
                if let Some(why) = self.on_trades(trades, now_ms) {
                    // Trades are not book data: the books stay as they are.
                    self.bad_frame(now_ms, why, false);
                }
            }
            ServerMessage::Ticker { events, .. } => {
                let tickers = events.iter().flat_map(|e| &e.tickers).map(|t| t.fields());
                self.on_tickers(tickers, now_ms);
            }
            ServerMessage::Other { .. } => {}
        }
        outcome
    }

    /// The server acted on the last level2 subscribe (an ack naming our products, a snapshot).
    #[inline]
    fn level2_answered(&mut self) {
        if let Some(subscribe) = &mut self.level2_subscribe {
            subscribe.answered = true;
        }
    }

    /// The ids of a level2 ack as the products asked for (an id served for several names each
    /// of them, in the order asked for; an id that feeds none kept as it is), and whether any
    /// is ours.
    fn as_requested(&self, acked: &[String]) -> (Vec<String>, bool) {
        let mut ids: Vec<String> = Vec::with_capacity(acked.len());
        let mut ours = false;
        for id in acked {
            let books = self.find_books(id.as_bytes());
            ours |= !books.is_empty();
            if books.is_empty() && !ids.contains(id) {
                ids.push(id.clone());
            }
            for &i in books {
                if !ids.contains(&self.products[i]) {
                    ids.push(self.products[i].clone());
                }
            }
        }
        (ids, ours)
    }

    /// A frame the parser refused (docs/feed.md, "Integrity rules"). When its `sequence_num`
    /// can still be read, the frame used that number up on the server's counter, so the
    /// sequence counts it whatever else is wrong with it: a jump before it is still a gap, a
    /// number already seen makes it stale, and otherwise, if it may have carried book data, the
    /// books are resynced as for any bad book data (a bad frame, not a gap). When the number
    /// cannot be read, the frame counts for nothing in the sequence and resyncs nothing: the
    /// next frame's number tells whether a numbered frame was lost (a garbage line in a
    /// recording then leaves the books alone when the frames around it follow each other).
    fn refused_frame(&mut self, text: &[u8], error: String, now_ms: i64) -> Outcome {
        let Some(seq) = protocol::readable_sequence_num(text) else {
            return self.bad_frame(now_ms, error, false);
        };
        let mut outcome = Outcome::default();
        let in_sequence = self
            .check_envelope((Some(seq), None), now_ms, &mut outcome)
            .is_some();
        // A gap has resynced already; a stale frame is ignored however good it is.
        let may_hold_book_data =
            in_sequence && !outcome.resync && text.windows(7).any(|w| w == b"l2_data");
        outcome.resync |= self.bad_frame(now_ms, error, may_hold_book_data).resync;
        outcome
    }

    fn bad_frame(&mut self, now_ms: i64, error: String, may_hold_book_data: bool) -> Outcome {
        self.stats.bad_frames += 1;
        self.emit(FeedEvent::BadFrame {
            at_ms: now_ms,
            error: shorten(error, MAX_BAD_FRAME_TEXT),
        });
        if may_hold_book_data && self.books.iter().any(|b| b.state != BookState::Waiting) {
            self.resync(now_ms);
            return Outcome {
                resync: true,
                ..Outcome::default()
            };
        }
        Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::test_frames::*;
    use super::*;

    #[test]
    fn bad_frames_are_counted_and_bad_book_data_resyncs() {
        let mut c = core();
        assert_eq!(c.on_frame("garbage", 1), Outcome::default());
        assert!(c.on_frame("{}", 1) == Outcome::default());
        assert_eq!(c.stats().bad_frames, 2);
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        // A price the book refuses: the product cannot be trusted any more.
        let out = c.on_frame(
            &l2(
                1,
                "update",
                "BTC-USD",
                &[("bid", "abc", "1"), ("bid", "99", "1")],
            ),
            2,
        );
        assert!(out.resync);
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert_eq!(c.stats().bad_frames, 3);
        // A broken l2_data frame may have carried updates: resync too.
        assert!(
            c.on_frame(
                r#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update"}]}"#,
                3
            )
            .resync
        );
        let ev = events(&mut c);
        assert!(
            ev.iter()
                .filter(|e| matches!(e, FeedEvent::BadFrame { .. }))
                .count()
                == 4,
            "{ev:?}"
        );
    }

    #[test]
    fn subscriptions_ack_marks_the_subscribe_good() {
        let mut c = core();
        let ack = r#"{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":0,"events":[{"subscriptions":{"heartbeats":["heartbeats"],"level2":["BTC-USD","ETH-USD"]}}]}"#;
        assert!(c.on_frame(ack, 1).subscribed);
        assert_eq!(c.connection(), &ConnectionState::Subscribed);
        assert_eq!(c.auth().acknowledged["level2"], products());
        let heartbeats_only = r#"{"channel":"subscriptions","sequence_num":1,"events":[{"subscriptions":{"heartbeats":["heartbeats"]}}]}"#;
        assert!(!c.on_frame(heartbeats_only, 2).subscribed);
    }
}

#[cfg(test)]
mod robustness {
    use proptest::prelude::*;

    use super::*;
    use crate::feed::events::ViewRequest;
    use crate::feed::record::{Entry, RecordReader};

    /// Frame-like text: real frames cut, spliced and sprinkled with junk.
    fn framish() -> impl Strategy<Value = String> {
        let real = prop_oneof![
            Just(include_str!("../fixtures/l2_snapshot.json")),
            Just(include_str!("../fixtures/l2_update_several_products.json")),
            Just(include_str!("../fixtures/heartbeat_string.json")),
            Just(include_str!("../fixtures/subscriptions.json")),
            Just(include_str!("../fixtures/error_auth_with_reason.json")),
            Just(include_str!("../fixtures/l2_events_before_channel.json")),
        ];
        (real, any::<usize>(), "\\PC{0,8}", any::<bool>()).prop_map(|(frame, at, junk, cut)| {
            let frame = frame.trim_end();
            let mut at = at % (frame.len() + 1);
            while !frame.is_char_boundary(at) {
                at -= 1;
            }
            if cut {
                format!("{}{junk}", &frame[..at])
            } else {
                format!("{}{junk}{}", &frame[..at], &frame[at..])
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn no_frame_makes_the_core_panic(frames in prop::collection::vec(framish(), 1..20)) {
            let mut core = FeedCore::new("test", &["BTC-USD".to_owned(), "ETH-USD".to_owned()], true, 0);
            core.connection_started(0, true);
            for (i, frame) in frames.iter().enumerate() {
                core.on_frame(frame, i as i64);
            }
            prop_assert_eq!(core.stats().frames, frames.len() as u64);
            let _ = core.view(&ViewRequest::default(), 0);
            let _ = core.dump_books();
        }

        #[test]
        fn no_file_makes_replay_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let mut reader = RecordReader::new(&bytes[..], std::path::Path::new("fuzz"));
            let mut core = FeedCore::new("test", &[], false, 0);
            core.set_auto_products(true);
            while let Ok(Some(entry)) = reader.next_entry() {
                if let Entry::Frame { text, .. } = entry {
                    core.on_frame_bytes(&text, 0);
                }
            }
        }
    }
}
