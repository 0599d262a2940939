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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::book::{Book, BookError, Price, Side, Size};
use crate::feed::events::{
    AuthView, BookState, ConnectionState, FeedEvent, FeedStats, FeedView, ProductView, ServerError,
    ViewRequest, is_auth_failure,
};
use crate::feed::latency::Histogram;
use crate::feed::protocol::{self, L2Batch, L2Header, L2Kind, L2Update, ServerMessage};
use crate::feed::time::TimestampCache;

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
    /// The server refused products by name: subscribe level2 again for
    /// [`FeedCore::active_products`] (none left: [`FeedCore::all_refused`]).
    pub resubscribe: bool,
}

/// One product's book and what the feed knows about it.
#[derive(Debug, Clone)]
pub struct ProductBook {
    pub book: Book,
    pub state: BookState,
    /// Level updates applied since start (snapshot levels included).
    pub updates: u64,
    pub last_change_ms: Option<i64>,
    /// `sequence_num` of the last frame that touched this book.
    pub sequence_num: u64,
    /// The server's reason, when it refused to subscribe this product ([`BookState::Refused`]).
    pub refused: Option<String>,
}

impl ProductBook {
    fn new() -> ProductBook {
        ProductBook {
            book: Book::new(),
            state: BookState::Waiting,
            updates: 0,
            last_change_ms: None,
            sequence_num: 0,
            refused: None,
        }
    }
}

/// One product in the `--dump-book` file (docs/feed.md, "Headless mode"). The simulator's
/// `--dump-book` writes the same struct through [`dump_json`], so both files have one form.
#[derive(Debug, Serialize)]
pub struct DumpedBook {
    pub state: BookState,
    /// Why the server refused the product (only with `"state":"refused"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `sequence_num` of the last frame that touched the book (the simulator: see docs/sim.md).
    pub sequence_num: u64,
    /// `["price", "size"]`, best first, canonical numbers.
    pub bids: Vec<[String; 2]>,
    pub asks: Vec<[String; 2]>,
}

/// The `--dump-book` text: products in sorted order, each book's fields in the order of
/// [`DumpedBook`], compact JSON (no trailing newline).
pub fn dump_json(books: &BTreeMap<&str, DumpedBook>) -> String {
    // Strings, numbers and a state enum: serialising cannot fail.
    serde_json::to_string(books).unwrap_or_default()
}

/// The books of one feed, their integrity state and counters. See the module docs.
#[derive(Debug)]
pub struct FeedCore {
    endpoint: String,
    /// In the order asked for.
    products: Vec<String>,
    index: HashMap<String, usize>,
    books: Vec<ProductBook>,
    /// Last `sequence_num` on the current connection.
    sequence: Option<u64>,
    /// Bare-frame replay: a `sequence_num` of 0 after higher ones starts a new connection.
    restart_on_zero: bool,
    /// Replay: a product is added when its first snapshot (or a connect marker) names it.
    auto_products: bool,
    stats: FeedStats,
    auth: AuthView,
    /// Subscribes on the current connection carry a JWT.
    authenticated: bool,
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
        let mut requested = BTreeMap::new();
        requested.insert("level2".to_owned(), list.clone());
        requested.insert("heartbeats".to_owned(), Vec::new());
        FeedCore {
            endpoint: endpoint.into(),
            products: list,
            index,
            books,
            sequence: None,
            restart_on_zero: false,
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
            connection: ConnectionState::Connecting { attempt: 0 },
            events: Vec::new(),
            dirty: true,
            batch: L2Batch::default(),
            timestamps: TimestampCache::default(),
            apply_us: Histogram::default(),
            server_to_received_ms: Histogram::default(),
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

    /// A product's book, if it was asked for.
    pub fn product(&self, product: &str) -> Option<&ProductBook> {
        self.index.get(product).map(|&i| &self.books[i])
    }

    /// The key was refused earlier in this session: subscribe without JWTs from now on.
    pub fn fell_back_to_public(&self) -> bool {
        self.auth.fell_back_to_public
    }

    /// Treat a `sequence_num` of 0 after higher ones as a new connection (for files of bare
    /// frames, which carry no connection markers).
    pub fn set_restart_on_zero(&mut self, on: bool) {
        self.restart_on_zero = on;
    }

    /// Track every product that gets a snapshot, not only those given to [`FeedCore::new`]
    /// (replay of a file whose products are not known in advance).
    pub fn set_auto_products(&mut self, on: bool) {
        self.auto_products = on;
    }

    /// Starts tracking `product` (no-op if already tracked); its book waits for a snapshot.
    pub fn add_product(&mut self, product: &str) -> usize {
        if let Some(&i) = self.index.get(product) {
            return i;
        }
        let i = self.products.len();
        self.products.push(product.to_owned());
        self.index.insert(product.to_owned(), i);
        self.books.push(ProductBook::new());
        if let Some(level2) = self.auth.requested.get_mut("level2") {
            level2.push(product.to_owned());
        }
        self.dirty = true;
        i
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

    /// A new connection is open: its sequence starts again at 0, and every book waits for its
    /// next snapshot. `authenticated`: its subscribes carry a JWT.
    pub fn connection_started(&mut self, now_ms: i64, authenticated: bool) {
        self.sequence = None;
        self.authenticated = authenticated;
        self.desync_all();
        self.stats.connected_since_ms = Some(now_ms);
        self.stats.last_sequence_num = None;
        self.auth.acknowledged.clear();
        self.set_connection(ConnectionState::Connected);
        let url = self.endpoint.clone();
        self.emit(FeedEvent::Connected { at_ms: now_ms, url });
    }

    /// The connection is gone: every book is suspect until its next snapshot.
    pub fn connection_lost(&mut self, now_ms: i64, reason: &str) {
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
        if channel == "level2" || self.auth.last_subscribe.is_none() {
            self.auth.last_subscribe = Some(redacted.clone());
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

    /// The feed is over.
    pub fn finish(&mut self, now_ms: i64) {
        self.set_connection(ConnectionState::Finished);
        self.emit(FeedEvent::Finished { at_ms: now_ms });
    }

    fn desync_all(&mut self) {
        for b in &mut self.books {
            if b.state == BookState::Live {
                b.state = BookState::Desynced;
            }
        }
        self.dirty = true;
    }

    /// Products whose book is desynced (waiting for a fresh snapshot).
    pub fn any_desynced(&self) -> bool {
        self.books.iter().any(|b| b.state == BookState::Desynced)
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
    /// core keeps from frame to frame, numbers already exact, nothing allocated. Every other
    /// frame (and any the fast path is unsure of) goes through [`protocol::parse_bytes`]; both
    /// reach the books through the same [`FeedCore::l2_event`].
    pub fn on_frame_bytes(&mut self, text: &[u8], now_ms: i64) -> Outcome {
        self.stats.frames += 1;
        self.stats.last_frame_ms = Some(now_ms);
        self.dirty = true;
        let mut batch = std::mem::take(&mut self.batch);
        let outcome = match protocol::parse_l2_levels(text, &mut batch) {
            Some(header) => self.on_l2_batch(text, header, &batch, now_ms),
            None => self.on_message(text, now_ms),
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

    /// The sequence and latency checks of an enveloped frame. `None` when the frame is stale (to
    /// be ignored), else its sequence number (0 when it has none).
    fn check_envelope(
        &mut self,
        (sequence_num, timestamp): (Option<u64>, Option<&[u8]>),
        now_ms: i64,
        outcome: &mut Outcome,
    ) -> Option<u64> {
        let Some(seq) = sequence_num else {
            self.note_latency(timestamp, now_ms);
            return Some(0);
        };
        match self.check_sequence(seq, now_ms) {
            SequenceCheck::InOrder => {}
            SequenceCheck::Gap => {
                self.resync(now_ms);
                outcome.resync = true;
            }
            SequenceCheck::Stale => {
                self.stats.stale_frames += 1;
                return None;
            }
        }
        self.note_latency(timestamp, now_ms);
        Some(seq)
    }

    /// The latency from the server's envelope timestamp to the receive time.
    #[inline]
    fn note_latency(&mut self, timestamp: Option<&[u8]>, now_ms: i64) {
        if let Some(ts) = timestamp.and_then(|t| self.timestamps.ms(t)) {
            // Saturating: a recording's receive time can be anything.
            let latency = now_ms.saturating_sub(ts);
            self.stats.latency_ms = Some(latency);
            // A server clock ahead of ours counts as no delay.
            self.server_to_received_ms
                .record(u64::try_from(latency).unwrap_or(0));
        }
    }

    /// One `l2_data` event into its product's book; `at` is (receive time, sequence number).
    /// `levels` are the event's levels, each parsed or the reason it could not be. Returns the
    /// error to report when a level was refused (the product is then desynced).
    fn l2_event<I>(
        &mut self,
        kind: L2Kind,
        product_id: &[u8],
        levels: I,
        (now_ms, sequence_num): (i64, u64),
        outcome: &mut Outcome,
    ) -> Option<String>
    where
        I: ExactSizeIterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
    {
        let n = levels.len() as u64;
        let i = match self.find_product(product_id) {
            Some(i) => i,
            None if self.auto_products && kind == L2Kind::Snapshot => {
                self.add_product(&String::from_utf8_lossy(product_id))
            }
            None => {
                self.stats.ignored_updates += n;
                return None;
            }
        };
        let product = &mut self.books[i];
        // A refused product was not asked for (again): whatever arrives for it is not its book.
        if (kind == L2Kind::Update && product.state == BookState::Waiting)
            || product.state == BookState::Refused
        {
            self.stats.ignored_updates += n;
            return None;
        }
        let failed = match kind {
            L2Kind::Snapshot => load_snapshot(&mut product.book, levels),
            L2Kind::Update => apply_levels(&mut product.book, levels),
        };
        product.updates += n;
        product.last_change_ms = Some(now_ms);
        product.sequence_num = sequence_num;
        self.stats.updates += n;
        if kind == L2Kind::Snapshot {
            self.stats.snapshot_levels += n;
        }
        if let Some(err) = failed {
            product.state = BookState::Desynced;
            return Some(format!("{}: {err}", String::from_utf8_lossy(product_id)));
        }
        if kind == L2Kind::Snapshot {
            product.state = BookState::Live;
            outcome.subscribed = true;
            let (bids, asks) = (product.book.len(Side::Bid), product.book.len(Side::Ask));
            self.emit(FeedEvent::Snapshot {
                at_ms: now_ms,
                product: String::from_utf8_lossy(product_id).into_owned(),
                bids,
                asks,
            });
        }
        None
    }

    /// After the events of an `l2_data` frame: a refused level makes it a bad frame.
    fn after_l2(&mut self, bad: Option<String>, now_ms: i64, outcome: &mut Outcome) {
        if let Some(error) = bad {
            let bad_outcome = self.bad_frame(now_ms, error, true);
            outcome.resync |= bad_outcome.resync;
        }
    }

    /// The index of a tracked product. A handful of products are found faster by comparing
    /// names than by hashing.
    #[inline]
    fn find_product(&self, product: &[u8]) -> Option<usize> {
        if self.products.len() <= 8 {
            self.products.iter().position(|p| p.as_bytes() == product)
        } else {
            let product = std::str::from_utf8(product).ok()?;
            self.index.get(product).copied()
        }
    }

    /// Any frame, through the general parser.
    fn on_message(&mut self, text: &[u8], now_ms: i64) -> Outcome {
        let message = match protocol::parse_bytes(text) {
            Ok(message) => message,
            Err(err) => {
                let may_hold_book_data = text.windows(7).any(|w| w == b"l2_data");
                return self.bad_frame(now_ms, err.to_string(), may_hold_book_data);
            }
        };
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
                    let levels = event.updates.iter().map(parse_level);
                    let at = (now_ms, sequence_num);
                    if let Some(error) = self.l2_event(
                        event.kind,
                        event.product_id.as_bytes(),
                        levels,
                        at,
                        &mut outcome,
                    ) {
                        bad = Some(error);
                    }
                }
                self.after_l2(bad, now_ms, &mut outcome);
            }
            ServerMessage::Subscriptions { subscriptions, .. } => {
                let level2_ok = subscriptions
                    .get("level2")
                    .is_some_and(|ps| self.products.iter().any(|p| ps.contains(p)));
                outcome.subscribed |= level2_ok;
                self.auth.acknowledged = subscriptions.clone();
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
                outcome.fall_back_to_public = self.error_frame(&raw, message, reason, now_ms);
                outcome.resubscribe = self.refuse_named_products(now_ms);
            }
            ServerMessage::Other { .. } => {}
        }
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

    /// An error frame; returns whether to fall back to the public subscribe.
    fn error_frame(
        &mut self,
        raw: &str,
        message: String,
        reason: Option<String>,
        now_ms: i64,
    ) -> bool {
        self.stats.errors += 1;
        let message = shorten(message, MAX_ERROR_FRAME_TEXT);
        let reason = reason.map(|r| shorten(r, MAX_ERROR_FRAME_TEXT));
        self.auth.last_error = Some(ServerError {
            raw: shorten(raw.to_owned(), MAX_ERROR_FRAME_TEXT),
            message: message.clone(),
            reason: reason.clone(),
            at_ms: now_ms,
        });
        if is_auth_failure(&message) && self.authenticated && !self.auth.fell_back_to_public {
            self.authenticated = false;
            self.auth.fell_back_to_public = true;
            // The refusal answers the signed level2 subscribe, the last one sent; the public
            // fallback about to go out replaces `last_subscribe`.
            self.auth.refused_subscribe = self.auth.last_subscribe.clone();
            self.emit(FeedEvent::AuthRejected {
                at_ms: now_ms,
                channel: "level2".to_owned(),
                message,
                reason,
            });
            self.emit(FeedEvent::FellBackToPublic { at_ms: now_ms });
            return true;
        }
        self.emit(FeedEvent::ErrorFrame {
            at_ms: now_ms,
            message,
            reason,
        });
        false
    }

    /// After an error frame: a subscribe failure whose reason names products still asked for
    /// (`failure to subscribe` / `FOO-BAR is not a valid product`) marks them refused, for the
    /// rest of the session. Returns whether any was, so that level2 is subscribed again without
    /// them (the server refuses a subscribe whole, so the others got nothing either).
    fn refuse_named_products(&mut self, now_ms: i64) -> bool {
        let Some(error) = &self.auth.last_error else {
            return false;
        };
        let Some(reason) = error.reason.clone() else {
            return false;
        };
        let newly_refused: Vec<usize> = (0..self.products.len())
            .filter(|&i| {
                self.books[i].state != BookState::Refused
                    && error.refuses_product(&self.products[i])
            })
            .collect();
        let any = !newly_refused.is_empty();
        for i in newly_refused {
            let book = &mut self.books[i];
            book.state = BookState::Refused;
            book.refused = Some(reason.clone());
            book.book = Book::new();
            let product = self.products[i].clone();
            self.emit(FeedEvent::ProductRefused {
                at_ms: now_ms,
                product,
                reason: reason.clone(),
            });
        }
        if any {
            let active = self.active_products();
            self.auth.requested.insert("level2".to_owned(), active);
        }
        any
    }

    /// The products still asked for: all but those the server refused.
    pub fn active_products(&self) -> Vec<String> {
        self.products
            .iter()
            .zip(&self.books)
            .filter(|(_, b)| b.state != BookState::Refused)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The products the server refused, with its reason, in the order asked for.
    pub fn refused_products(&self) -> Vec<(String, String)> {
        self.products
            .iter()
            .zip(&self.books)
            .filter_map(|(p, b)| b.refused.clone().map(|r| (p.clone(), r)))
            .collect()
    }

    /// Every product was refused: nothing is left to subscribe.
    pub fn all_refused(&self) -> bool {
        !self.books.is_empty() && self.books.iter().all(|b| b.state == BookState::Refused)
    }

    fn check_sequence(&mut self, seq: u64, now_ms: i64) -> SequenceCheck {
        if self.restart_on_zero && seq == 0 && self.sequence.is_some_and(|last| last > 0) {
            self.replayed_reconnect();
            let authenticated = self.authenticated;
            self.connection_started(now_ms, authenticated);
        }
        let expected = self.sequence.map_or(0, |last| last.saturating_add(1));
        if self.sequence.is_some() && seq < expected {
            return SequenceCheck::Stale;
        }
        self.sequence = Some(seq);
        self.stats.last_sequence_num = Some(seq);
        if seq == expected {
            return SequenceCheck::InOrder;
        }
        self.stats.gaps += 1;
        self.emit(FeedEvent::Gap {
            at_ms: now_ms,
            expected,
            got: seq,
        });
        SequenceCheck::Gap
    }

    /// The viewer's copy of everything, as of `now_ms`.
    pub fn view(&self, request: &ViewRequest, now_ms: i64) -> FeedView {
        let products = self
            .products
            .iter()
            .zip(&self.books)
            .map(|(name, p)| product_view(name, p, request))
            .collect();
        FeedView {
            at_ms: now_ms,
            endpoint: self.endpoint.clone(),
            connection: self.connection.clone(),
            products,
            stats: self.stats.clone(),
            auth: self.auth.clone(),
        }
    }

    /// The view, shared.
    pub fn shared_view(&self, request: &ViewRequest, now_ms: i64) -> Arc<FeedView> {
        Arc::new(self.view(request, now_ms))
    }

    /// Every book in the `--dump-book` format (docs/feed.md, "Headless mode"): products in sorted
    /// order, all levels best first, canonical numbers, compact JSON.
    pub fn dump_books(&self) -> String {
        let dump: BTreeMap<&str, DumpedBook> = self
            .products
            .iter()
            .zip(&self.books)
            .map(|(name, p)| {
                (
                    name.as_str(),
                    DumpedBook {
                        state: p.state,
                        reason: p.refused.clone(),
                        sequence_num: p.sequence_num,
                        bids: p.book.dump_side(Side::Bid),
                        asks: p.book.dump_side(Side::Ask),
                    },
                )
            })
            .collect();
        dump_json(&dump)
    }

    /// The core's reader of envelope timestamps, for a caller that reads the timestamps of the
    /// frames it hands over (replay of bare frames): shared, each timestamp is parsed once.
    pub fn timestamps(&mut self) -> &mut TimestampCache {
        &mut self.timestamps
    }

    /// Live: the time from receiving a frame to having applied it (the caller times
    /// [`FeedCore::on_frame`] and whatever it does before).
    pub fn note_apply_time(&mut self, elapsed: Duration) {
        self.apply_us
            .record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    /// Receive-to-applied percentiles, and server-to-received ones, when frames were timed
    /// (live runs): `latency: receive_to_applied_us p50=.. p90=.. p99=.. p99.9=.. max=.. n=..;
    /// server_to_received_ms p50=.. ...`.
    pub fn latency_line(&self) -> Option<String> {
        if self.apply_us.is_empty() {
            return None;
        }
        Some(format!(
            "latency: receive_to_applied_us {}; server_to_received_ms {}",
            self.apply_us, self.server_to_received_ms
        ))
    }

    /// The `--stats` line: `frames=N updates=N gaps=N resyncs=N reconnects=N errors=N
    /// elapsed_ms=N updates_per_s=N`.
    pub fn stats_line(&self, elapsed_ms: u64) -> String {
        let s = &self.stats;
        let per_s = if elapsed_ms == 0 {
            0
        } else {
            (u128::from(s.updates) * 1000 / u128::from(elapsed_ms)) as u64
        };
        format!(
            "frames={} updates={} gaps={} resyncs={} reconnects={} errors={} elapsed_ms={} updates_per_s={}",
            s.frames, s.updates, s.gaps, s.resyncs, s.reconnects, s.errors, elapsed_ms, per_s
        )
    }
}

/// A level as the general parser kept it (text), parsed as the book parses text.
#[inline]
fn parse_level(update: &L2Update<'_>) -> Result<(Side, Price, Size), BookError> {
    let price = Price::parse_bytes(update.price_level.as_bytes())?;
    let size = Size::parse_bytes(update.new_quantity.as_bytes())?;
    Ok((update.side.into(), price, size))
}

/// An update event's levels, in order; a level that cannot be parsed or applied is skipped.
/// Returns the first error.
fn apply_levels<I>(book: &mut Book, levels: I) -> Option<BookError>
where
    I: Iterator<Item = Result<(Side, Price, Size), BookError>>,
{
    let mut failed = None;
    for level in levels {
        let applied = level.and_then(|(side, price, size)| book.apply_level(side, price, size));
        if let Err(err) = applied {
            failed.get_or_insert(err);
        }
    }
    failed
}

/// A snapshot event: the book becomes exactly its levels, as [`Book::clear`] then
/// [`apply_levels`] would make it, but built in one pass ([`Book::load_snapshot`]). Levels that
/// cannot be parsed are skipped; returns the first error.
fn load_snapshot<I>(book: &mut Book, levels: I) -> Option<BookError>
where
    I: Iterator<Item = Result<(Side, Price, Size), BookError>> + Clone,
{
    let mut failed = None;
    let parsed = levels.clone().filter_map(|level| match level {
        Ok(level) => Some(level),
        Err(err) => {
            failed.get_or_insert(err);
            None
        }
    });
    if book.load_snapshot(parsed).is_ok() {
        return failed;
    }
    // A side's total beyond exact sums: level by level, keeping every level that fits, as
    // updates do.
    book.clear();
    apply_levels(book, levels)
}

/// The most of a bad frame's error text kept: parse errors quote the offending value, which a
/// broken or hostile server can make megabytes long (and events are kept, printed and shown).
const MAX_BAD_FRAME_TEXT: usize = 300;
/// The most of each text of an error frame kept (they are a sentence or two; the view that holds
/// the last one is copied to the viewer many times a second).
const MAX_ERROR_FRAME_TEXT: usize = 2000;

/// `text` cut to at most `max` bytes (on a character boundary), saying how long it was.
fn shorten(mut text: String, max: usize) -> String {
    if text.len() > max {
        let total = text.len();
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(&format!("... ({total} bytes in all)"));
    }
    text
}

enum SequenceCheck {
    InOrder,
    Gap,
    Stale,
}

fn product_view(name: &str, p: &ProductBook, request: &ViewRequest) -> ProductView {
    let group = request.group_ticks.max(1);
    let (chart_bids, chart_asks) = if request.chart_depth == 0 {
        (Vec::new(), Vec::new())
    } else {
        (
            p.book.top(Side::Bid, request.chart_depth, group),
            p.book.top(Side::Ask, request.chart_depth, group),
        )
    };
    ProductView {
        product: name.to_owned(),
        state: p.state,
        bids: p.book.top(Side::Bid, request.depth, group),
        asks: p.book.top(Side::Ask, request.depth, group),
        chart_bids,
        chart_asks,
        best_bid: p.book.best_bid(),
        best_ask: p.book.best_ask(),
        spread: p.book.spread(),
        mid: p.book.mid(),
        crossed: p.book.is_crossed(),
        tick: p.book.tick(),
        group_ticks: group,
        bid_levels: p.book.len(Side::Bid),
        ask_levels: p.book.len(Side::Ask),
        updates: p.updates,
        last_change_ms: p.last_change_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products() -> Vec<String> {
        vec!["BTC-USD".to_owned(), "ETH-USD".to_owned()]
    }

    fn core() -> FeedCore {
        let mut core = FeedCore::new("ws://test", &products(), false, 1_000);
        core.connection_started(1_000, false);
        core.drain_events();
        core
    }

    fn l2(seq: u64, kind: &str, product: &str, levels: &[(&str, &str, &str)]) -> String {
        let updates: Vec<String> = levels
            .iter()
            .map(|(side, price, qty)| {
                format!(r#"{{"side":"{side}","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"{qty}"}}"#)
            })
            .collect();
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"{product}","updates":[{}]}}]}}"#,
            updates.join(",")
        )
    }

    fn heartbeat(seq: u64) -> String {
        format!(
            r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":{seq},"events":[{{"heartbeat_counter":{seq}}}]}}"#
        )
    }

    fn state(core: &FeedCore, product: &str) -> BookState {
        core.product(product).unwrap().state
    }

    fn dump(core: &FeedCore, product: &str) -> (Vec<[String; 2]>, Vec<[String; 2]>) {
        let b = &core.product(product).unwrap().book;
        (b.dump_side(Side::Bid), b.dump_side(Side::Ask))
    }

    fn pair(p: &str, q: &str) -> [String; 2] {
        [p.to_owned(), q.to_owned()]
    }

    fn events(core: &mut FeedCore) -> Vec<FeedEvent> {
        core.drain_events().collect()
    }

    #[test]
    fn snapshot_replaces_and_updates_apply() {
        let mut c = core();
        let out = c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("offer", "101", "2")],
            ),
            1,
        );
        assert!(out.subscribed);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert_eq!(state(&c, "ETH-USD"), BookState::Waiting);
        c.on_frame(
            &l2(
                1,
                "update",
                "BTC-USD",
                &[("bid", "99.50", "3"), ("offer", "101.0", "0.00000000")],
            ),
            2,
        );
        assert_eq!(
            dump(&c, "BTC-USD"),
            (vec![pair("100", "1"), pair("99.5", "3")], vec![])
        );
        // A second snapshot replaces the whole book.
        c.on_frame(&l2(2, "snapshot", "BTC-USD", &[("offer", "105", "1")]), 3);
        assert_eq!(dump(&c, "BTC-USD"), (vec![], vec![pair("105", "1")]));
        assert_eq!(c.stats().updates, 5);
        assert_eq!(
            c.stats().snapshot_levels,
            3,
            "two snapshots: 2 levels, then 1"
        );
        assert_eq!(c.product("BTC-USD").unwrap().updates, 5);
        assert_eq!(c.product("BTC-USD").unwrap().sequence_num, 2);
    }

    #[test]
    fn updates_before_a_snapshot_or_for_other_products_are_ignored() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "update",
                "BTC-USD",
                &[("bid", "100", "1"), ("bid", "99", "1")],
            ),
            1,
        );
        c.on_frame(&l2(1, "snapshot", "DOGE-USD", &[("bid", "1", "1")]), 1);
        assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
        assert!(c.product("BTC-USD").unwrap().book.is_empty());
        assert!(c.product("DOGE-USD").is_none());
        assert_eq!(c.stats().ignored_updates, 3);
        assert_eq!(c.stats().updates, 0);
    }

    #[test]
    fn a_sequence_jump_desyncs_every_book_and_asks_for_a_resync() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "snapshot", "ETH-USD", &[("bid", "10", "1")]), 1);
        events(&mut c);
        let out = c.on_frame(&heartbeat(5), 2);
        assert!(out.resync);
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        assert_eq!(state(&c, "ETH-USD"), BookState::Desynced);
        assert_eq!((c.stats().gaps, c.stats().resyncs), (1, 1));
        let ev = events(&mut c);
        assert!(
            matches!(
                ev[0],
                FeedEvent::Gap {
                    expected: 2,
                    got: 5,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(matches!(ev[1], FeedEvent::Resync { .. }), "{ev:?}");
        // Fresh snapshots bring each book back.
        c.on_frame(&l2(6, "snapshot", "BTC-USD", &[("bid", "101", "1")]), 3);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        assert_eq!(state(&c, "ETH-USD"), BookState::Desynced);
        assert!(c.any_desynced());
        assert_eq!(c.stats().gaps, 1);
    }

    #[test]
    fn the_first_frame_of_a_connection_must_be_zero() {
        let mut c = core();
        assert!(c.on_frame(&heartbeat(3), 1).resync);
        assert_eq!(c.stats().gaps, 1);
    }

    #[test]
    fn lower_and_repeated_numbers_are_ignored() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "100", "2")]), 1);
        // A duplicate of frame 1 and an older frame: neither applies.
        let out = c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "100", "7")]), 1);
        c.on_frame(&l2(0, "update", "BTC-USD", &[("bid", "100", "8")]), 1);
        assert_eq!(
            out,
            Outcome {
                parsed: true,
                ..Outcome::default()
            }
        );
        assert_eq!(dump(&c, "BTC-USD").0, [pair("100", "2")]);
        assert_eq!(c.stats().stale_frames, 2);
        assert_eq!(c.stats().gaps, 0);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
        // The sequence goes on from the highest number seen.
        assert!(!c.on_frame(&heartbeat(2), 1).resync);
    }

    #[test]
    fn a_new_connection_restarts_at_zero_and_waits_for_snapshots() {
        let mut c = core();
        c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
        c.on_frame(&heartbeat(1), 1);
        c.connection_lost(2, "closed");
        assert_eq!(state(&c, "BTC-USD"), BookState::Desynced);
        c.connection_started(3, false);
        assert!(!c.on_frame(&heartbeat(0), 4).resync);
        assert_eq!(c.stats().gaps, 0);
        // The old book is kept (shown as desynced) until the new snapshot replaces it.
        assert_eq!(dump(&c, "BTC-USD").0, [pair("100", "1")]);
        c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "200", "1")]), 5);
        assert_eq!(dump(&c, "BTC-USD").0, [pair("200", "1")]);
        assert_eq!(state(&c, "BTC-USD"), BookState::Live);
    }

    #[test]
    fn bare_frame_replay_treats_zero_as_a_new_connection() {
        let mut c = core();
        c.set_restart_on_zero(true);
        c.on_frame(&heartbeat(0), 1);
        c.on_frame(&heartbeat(1), 1);
        assert!(!c.on_frame(&heartbeat(0), 1).resync);
        assert_eq!(
            (c.stats().gaps, c.stats().stale_frames, c.stats().reconnects),
            (0, 0, 1)
        );
    }

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
    fn error_frames_become_events() {
        let mut c = core();
        let frame = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
        assert!(!c.on_frame(frame, 7).resync);
        assert_eq!(c.stats().errors, 1);
        let ev = events(&mut c);
        assert_eq!(
            ev,
            [FeedEvent::ErrorFrame {
                at_ms: 7,
                message: "failure to subscribe".into(),
                reason: Some("FOO-BAR is not a valid product".into())
            }]
        );
        let last = c.auth().last_error.clone().unwrap();
        assert_eq!(last.raw, frame);
        assert_eq!(
            last.reason.as_deref(),
            Some("FOO-BAR is not a valid product")
        );
    }

    #[test]
    fn a_subscribe_failure_naming_a_product_refuses_it_and_asks_for_the_others() {
        let asked = ["BTC-USD".to_owned(), "FOO-BAR".to_owned()];
        let mut c = FeedCore::new("ws://test", &asked, false, 0);
        c.connection_started(0, false);
        c.drain_events();
        let frame = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
        let out = c.on_frame(frame, 7);
        assert!(out.resubscribe && !out.resync && !out.fall_back_to_public);
        assert_eq!(state(&c, "FOO-BAR"), BookState::Refused);
        assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
        assert_eq!(c.active_products(), ["BTC-USD"]);
        assert_eq!(c.auth().requested["level2"], ["BTC-USD"]);
        assert!(!c.all_refused());
        assert_eq!(
            events(&mut c),
            [
                FeedEvent::ErrorFrame {
                    at_ms: 7,
                    message: "failure to subscribe".into(),
                    reason: Some("FOO-BAR is not a valid product".into())
                },
                FeedEvent::ProductRefused {
                    at_ms: 7,
                    product: "FOO-BAR".into(),
                    reason: "FOO-BAR is not a valid product".into()
                }
            ]
        );
        // Refused for the session: new connections, data sent anyway and repeats change nothing.
        c.connection_started(10, false);
        c.on_frame(&l2(0, "snapshot", "FOO-BAR", &[("bid", "1", "1")]), 11);
        assert_eq!(state(&c, "FOO-BAR"), BookState::Refused);
        assert_eq!(dump(&c, "FOO-BAR"), (vec![], vec![]));
        assert!(!c.on_frame(frame, 12).resubscribe);
        c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 13);
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"live","sequence_num":1,"bids":[["1","1"]],"asks":[]},"FOO-BAR":{"state":"refused","reason":"FOO-BAR is not a valid product","sequence_num":0,"bids":[],"asks":[]}}"#
        );
        let view = c.view(&ViewRequest::default(), 14);
        assert_eq!(view.products[1].state, BookState::Refused);
        // A resync asks again for the others only.
        c.drain_events();
        c.resync(15);
        assert_eq!(
            events(&mut c),
            [FeedEvent::Resync {
                at_ms: 15,
                products: vec!["BTC-USD".into()]
            }]
        );
    }

    #[test]
    fn only_whole_product_ids_in_a_subscribe_failure_are_refused() {
        let asked = ["BTC-USD".to_owned(), "ETH-USD".to_owned()];
        let mut c = FeedCore::new("ws://test", &asked, false, 0);
        c.connection_started(0, false);
        for (message, reason) in [
            ("failure to subscribe", "BTC-USDC is not a valid product"),
            ("failure to subscribe", "XBTC-USD is not a valid product"),
            (
                "failure to subscribe",
                "the level2 channel needs product ids",
            ),
            ("authentication failure", "BTC-USD: key_unknown"),
            ("rate limit exceeded", "ETH-USD"),
            // An unsubscribe's failure (a resync sends one) refuses nothing.
            ("failure to unsubscribe", "BTC-USD is not subscribed"),
            ("subscribe or unsubscribe required", "BTC-USD"),
        ] {
            let frame = format!(r#"{{"type":"error","message":"{message}","reason":"{reason}"}}"#);
            assert!(!c.on_frame(&frame, 1).resubscribe, "{reason}");
        }
        assert_eq!(c.active_products(), asked);
        // Both named, in the exchange's older wording: both refused, nothing left.
        let frame = r#"{"type":"error","message":"Failed to subscribe","reason":"ETH-USD, BTC-USD are not valid products"}"#;
        assert!(c.on_frame(frame, 2).resubscribe);
        assert!(c.all_refused());
        assert_eq!(
            c.refused_products(),
            [
                (
                    "BTC-USD".to_owned(),
                    "ETH-USD, BTC-USD are not valid products".to_owned()
                ),
                (
                    "ETH-USD".to_owned(),
                    "ETH-USD, BTC-USD are not valid products".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_receive_time_from_any_recording_is_no_overflow() {
        let mut c = FeedCore::new("ws://test", &products(), false, 0);
        c.connection_started(0, false);
        let heartbeat = |seq: u64| {
            format!(
                r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-06-01T00:00:00Z","sequence_num":{seq},"events":[{{"current_time":"2023-06-01 00:00:00","heartbeat_counter":{seq}}}]}}"#
            )
        };
        c.on_frame(&heartbeat(0), i64::MIN);
        assert_eq!(c.stats().latency_ms, Some(i64::MIN));
        c.on_frame(&heartbeat(1), i64::MAX);
        assert_eq!(c.stats().latency_ms, Some(i64::MAX - 1_685_577_600_000));
    }

    #[test]
    fn auth_failure_with_a_key_falls_back_to_public_once() {
        let mut c = FeedCore::new("ws://test", &products(), true, 0);
        c.connection_started(0, true);
        let signed = r#"{"type":"subscribe","channel":"level2","jwt":"<redacted>"}"#;
        c.subscribe_sent(1, "level2", signed.into(), Some("a.b.c".into()));
        c.drain_events();
        let frame = r#"{"type":"error","message":"authentication failure","reason":"key_unknown: no such key"}"#;
        let out = c.on_frame(frame, 5);
        assert!(out.fall_back_to_public);
        assert!(c.fell_back_to_public());
        assert!(c.auth().fell_back_to_public);
        let ev = events(&mut c);
        assert_eq!(
            ev,
            [
                FeedEvent::AuthRejected {
                    at_ms: 5,
                    channel: "level2".into(),
                    message: "authentication failure".into(),
                    reason: Some("key_unknown: no such key".into())
                },
                FeedEvent::FellBackToPublic { at_ms: 5 }
            ]
        );
        // The public subscribe that follows replaces the last one; the refused one is kept.
        let public = r#"{"type":"subscribe","channel":"level2"}"#;
        c.subscribe_sent(5, "level2", public.into(), None);
        assert_eq!(c.auth().last_subscribe.as_deref(), Some(public));
        assert_eq!(c.auth().refused_subscribe.as_deref(), Some(signed));
        c.drain_events();
        // A second refusal (say, for the heartbeats subscribe) is only an error frame.
        assert!(!c.on_frame(frame, 6).fall_back_to_public);
        assert!(matches!(events(&mut c)[..], [FeedEvent::ErrorFrame { .. }]));
        assert_eq!(c.stats().errors, 2);
    }

    #[test]
    fn auth_failure_without_a_key_is_an_error_frame() {
        let mut c = core();
        assert!(
            !c.on_frame(r#"{"type":"error","message":"authentication failure"}"#, 1)
                .fall_back_to_public
        );
        assert!(matches!(events(&mut c)[..], [FeedEvent::ErrorFrame { .. }]));
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

    #[test]
    fn auto_products_track_every_snapshot() {
        let mut c = FeedCore::new("file", &[], false, 0);
        c.set_auto_products(true);
        c.connection_started(0, false);
        c.on_frame(&l2(0, "update", "SOL-USD", &[("bid", "1", "1")]), 1);
        c.on_frame(&l2(1, "snapshot", "SOL-USD", &[("bid", "2", "1")]), 1);
        c.on_frame(&l2(2, "snapshot", "ADA-USD", &[("bid", "3", "1")]), 1);
        assert_eq!(c.products(), ["SOL-USD", "ADA-USD"]);
        assert_eq!(c.stats().ignored_updates, 1);
        assert_eq!(c.auth().requested["level2"], ["SOL-USD", "ADA-USD"]);
        assert_eq!(state(&c, "ADA-USD"), BookState::Live);
    }

    #[test]
    fn view_reflects_books_and_request() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[
                    ("bid", "100", "1"),
                    ("bid", "99.5", "2"),
                    ("offer", "101", "3"),
                ],
            ),
            1_500,
        );
        let request = ViewRequest {
            depth: 1,
            group_ticks: 1,
            chart_depth: 5,
        };
        let view = c.view(&request, 2_000);
        assert_eq!(view.at_ms, 2_000);
        assert_eq!(view.products.len(), 2);
        let btc = &view.products[0];
        assert_eq!(btc.product, "BTC-USD");
        assert_eq!(btc.state, BookState::Live);
        assert_eq!(btc.bids.len(), 1);
        assert_eq!(btc.chart_bids.len(), 2);
        assert_eq!((btc.bid_levels, btc.ask_levels), (2, 1));
        assert_eq!(btc.best_bid.unwrap().0.to_string(), "100");
        assert_eq!(btc.spread.unwrap().to_string(), "1");
        assert_eq!(btc.last_change_ms, Some(1_500));
        assert_eq!(view.products[1].state, BookState::Waiting);
        assert_eq!(view.stats.frames, 1);
    }

    #[test]
    fn dump_is_sorted_compact_and_canonical() {
        let products = vec!["ETH-USD".to_owned(), "BTC-USD".to_owned()];
        let mut c = FeedCore::new("ws://test", &products, false, 0);
        c.connection_started(0, false);
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "64930.50", "0.50000000"), ("offer", "64931", "2")],
            ),
            1,
        );
        assert_eq!(
            c.dump_books(),
            r#"{"BTC-USD":{"state":"live","sequence_num":0,"bids":[["64930.5","0.5"]],"asks":[["64931","2"]]},"ETH-USD":{"state":"waiting","sequence_num":0,"bids":[],"asks":[]}}"#
        );
    }

    #[test]
    fn stats_line_format() {
        let mut c = core();
        c.on_frame(
            &l2(
                0,
                "snapshot",
                "BTC-USD",
                &[("bid", "100", "1"), ("bid", "99", "1")],
            ),
            1,
        );
        c.on_frame(&heartbeat(3), 1);
        assert_eq!(
            c.stats_line(500),
            "frames=2 updates=2 gaps=1 resyncs=1 reconnects=0 errors=0 elapsed_ms=500 updates_per_s=4"
        );
        assert!(c.stats_line(0).ends_with("elapsed_ms=0 updates_per_s=0"));
    }

    #[test]
    fn latency_line_only_for_timed_frames() {
        let mut c = core();
        c.on_frame(&heartbeat(0), 1_675_974_770_250);
        assert_eq!(c.latency_line(), None);
        c.note_apply_time(Duration::from_micros(40));
        c.note_apply_time(Duration::from_micros(7));
        assert_eq!(
            c.latency_line().unwrap(),
            "latency: receive_to_applied_us p50=7 p90=40 p99=40 p99.9=40 max=40 n=2; \
             server_to_received_ms p50=250 p90=250 p99=250 p99.9=250 max=250 n=1"
        );
    }

    #[test]
    fn latency_from_envelope_timestamp() {
        let mut c = core();
        // 2023-02-09T20:32:50Z = 1_675_974_770_000 ms.
        c.on_frame(&heartbeat(0), 1_675_974_770_250);
        assert_eq!(c.stats().latency_ms, Some(250));
    }
}

#[cfg(test)]
mod robustness {
    use proptest::prelude::*;

    use super::*;
    use crate::feed::record::{Entry, RecordReader};

    /// Frame-like text: real frames cut, spliced and sprinkled with junk.
    fn framish() -> impl Strategy<Value = String> {
        let real = prop_oneof![
            Just(include_str!("fixtures/l2_snapshot.json")),
            Just(include_str!("fixtures/l2_update_several_products.json")),
            Just(include_str!("fixtures/heartbeat_string.json")),
            Just(include_str!("fixtures/subscriptions.json")),
            Just(include_str!("fixtures/error_auth_with_reason.json")),
            Just(include_str!("fixtures/l2_events_before_channel.json")),
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
