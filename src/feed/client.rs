//! The live connection: connect (ws or wss), subscribe, read frames into the core, resync on a
//! gap, leave a silent server, reconnect with backoff, and fall back to the public subscribe when
//! the key is refused. All socket I/O of the feed lives here; the books live in [`FeedCore`], and
//! when to resync, leave or retry is decided by the connection's [`ConnectionPolicy`]
//! (`feed/policy.rs`): this loop reads and writes the socket, reports to both, and sleeps until
//! there is something to publish or the policy's next deadline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::auth::Key;
use crate::feed::backoff::Backoff;
use crate::feed::core::FeedCore;
use crate::feed::core::clock::ClockEstimate;
use crate::feed::events::{FeedCommand, FeedHandle, TOO_MANY_L2_STREAMS, ViewRequest};
use crate::feed::policy::{ConnectionPolicy, Decision, PolicyConfig};
use crate::feed::protocol::SubscribeMessage;
use crate::feed::publish::{self, ConnectionChannel, Publisher, VIEW_INTERVAL};
use crate::feed::record::{ConnectInfo, RecordError, Recorder};
use crate::feed::rounds::FrameCount;
use crate::feed::session::{self, SessionResult};
use crate::feed::shards::{DEFAULT_PRODUCTS_PER_CONNECTION, Pacing};
use crate::feed::time::now_ms;
use crate::feed::tls::{self, TlsError};
use crate::logging::jwt_summary;

/// Largest message and frame accepted: the real BTC-USD snapshot is about 5 MB in one frame.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// Bytes asked of the socket per read. A frame's whole length is reserved from its header, so a
/// 5 MB snapshot lands in one contiguous buffer whatever this is; tungstenite zero-fills this
/// much on every read attempt (even one that finds nothing to read), so a larger value only
/// costs time: at 200k updates/s 32 KiB takes about a fifth less CPU than 256 KiB
/// (`bench/live`), and an idle viewer's 30 wake-ups a second stop clearing 8 MB/s.
pub const READ_CHUNK_BYTES: usize = 32 << 10;

/// The idle tick when the policy has no deadline (limits too far off to be reached): nothing
/// needs the task then, but a wake-up now and then costs nothing.
const NO_DEADLINE_TICK: Duration = Duration::from_secs(60);

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why the live feed cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("`{url}` is not a WebSocket URL ({reason}): use ws://HOST:PORT or wss://HOST")]
    BadUrl { url: String, reason: String },
    #[error("no product given: name at least one, e.g. `cbbook BTC-USD ETH-USD`")]
    NoProducts,
    #[error(
        "--record-rotate needs --record FILE: the files are named after FILE, e.g. --record session.jsonl.zst --record-rotate 1h"
    )]
    RotateWithoutRecord,
    #[error(transparent)]
    BadProduct(#[from] crate::product_id::ProductIdError),
    #[error("the watchdog must be a positive number of seconds, e.g. --watchdog-secs 5")]
    BadWatchdog,
    #[error("products per connection must be at least 1, e.g. --products-per-connection 10")]
    BadProductsPerConnection,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the server refused every product: {refused}. {hint}")]
    AllRefused {
        /// `FOO-BAR (FOO-BAR is not a valid product), ...`
        refused: String,
        /// What to do: it depends on why they were refused.
        hint: &'static str,
    },
}

/// A feed that ended because the server refused every product it asked for is a failure (a
/// headless run exits 1 with this), not an empty success.
pub fn check_products_accepted(core: &FeedCore) -> Result<(), FeedError> {
    if !core.all_refused() {
        return Ok(());
    }
    let refused = core
        .refused_products()
        .iter()
        .map(|(product, reason)| format!("{product} ({reason})"))
        .collect::<Vec<_>>()
        .join(", ");
    let stream_limit = core.refused_products().iter().any(|(_, reason)| {
        reason
            .get(..TOO_MANY_L2_STREAMS.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(TOO_MANY_L2_STREAMS))
    });
    let hint = if stream_limit {
        "The server carries fewer level2 products on one connection than asked for, even one \
         product with its -USDC alias: ask for fewer products, or for the product and its alias \
         in separate sessions"
    } else {
        "Product ids are the exchange's, in upper case, e.g. BTC-USD; start cbbook with products \
         the server lists"
    };
    Err(FeedError::AllRefused { refused, hint })
}

/// What the live feed connects to and how.
#[derive(Clone)]
pub struct LiveConfig {
    /// `ws://` or `wss://`.
    pub url: String,
    /// Subscribed to level2 in one message, in this order.
    pub products: Vec<String>,
    /// With a key every subscribe and unsubscribe carries a fresh JWT; without, the public path.
    pub key: Option<Arc<Key>>,
    /// Extra trust anchor (PEM) for wss://.
    pub ca_cert: Option<PathBuf>,
    /// Append every received frame here (JSON Lines, compressed by the name's extension).
    pub record: Option<PathBuf>,
    /// Start a new recording file every this long (`--record-rotate`, docs/recording.md).
    pub record_rotate: Option<Duration>,
    /// No frame for this long: leave and reconnect.
    pub watchdog: Duration,
    pub view: ViewRequest,
    /// Give up a connection attempt (TCP + TLS + WebSocket handshake) after this long.
    pub connect_timeout: Duration,
    /// A book still desynced this long after its resubscribe: resubscribe again.
    pub resync_timeout: Duration,
    /// Level2 products per connection (docs/feed.md, "Sharding"); the command line and the
    /// config file keep it to 1..=16, the exchange's limit; the API takes any positive number
    /// (the tests go past the limit to meet the server's refusal).
    pub products_per_connection: usize,
    /// New connections and subscribe messages per second over the session (0: no limit).
    pub pacing: (u32, u32),
    /// Subscribe `market_trades` and `ticker` too (the command line's default; `--no-trades`).
    pub trades: bool,
    /// Trades kept per product.
    pub trades_kept: usize,
    /// Where the `user` channel is read from (with a key); `None`: the same URL as the market
    /// data (docs/feed.md, "Your orders").
    pub user_url: Option<String>,
    /// Read a busy feed in rounds ([`crate::feed::rounds`]): the viewer's choice, on a runtime
    /// with one worker of the feed's own; ignored anywhere else.
    pub read_in_rounds: bool,
    /// How the heatmap samples (the viewer's settings; a headless run, which has no use for the
    /// history, turns it off).
    pub heatmap: crate::feed::core::heatmap::HeatSettings,
    /// Which clock signs the JWTs (`--jwt-clock`, docs/auth.md "Clock skew").
    pub jwt_clock: crate::auth::clock::JwtClock,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("url", &self.url)
            .field("products", &self.products)
            .field("key", &self.key.as_ref().map(|k| k.name().to_owned()))
            .field("ca_cert", &self.ca_cert)
            .field("record", &self.record)
            .field("watchdog", &self.watchdog)
            .finish_non_exhaustive()
    }
}

impl LiveConfig {
    /// Defaults: no key, no extra anchor, no recording, 5 s watchdog, 10 s connect timeout.
    pub fn new(url: impl Into<String>, products: Vec<String>) -> LiveConfig {
        LiveConfig {
            url: url.into(),
            products,
            key: None,
            ca_cert: None,
            record: None,
            record_rotate: None,
            watchdog: Duration::from_secs(5),
            view: ViewRequest::default(),
            connect_timeout: Duration::from_secs(10),
            resync_timeout: Duration::from_secs(10),
            products_per_connection: DEFAULT_PRODUCTS_PER_CONNECTION,
            pacing: (
                crate::feed::shards::CONNECTIONS_PER_SEC,
                crate::feed::shards::MESSAGES_PER_SEC,
            ),
            read_in_rounds: false,
            heatmap: crate::feed::core::heatmap::HeatSettings::default(),
            user_url: None,
            trades: false,
            trades_kept: crate::feed::core::DEFAULT_TRADES_KEPT,
            jwt_clock: crate::auth::clock::JwtClock::default(),
        }
    }

    /// Checks everything that can be checked before connecting, with an error that says what
    /// to do: the URL, the products, the watchdog, the CA file, the recording file.
    pub fn validate(&self) -> Result<(), FeedError> {
        check_url(&self.url)?;
        if let Some(url) = &self.user_url {
            check_url(url)?;
        }
        if self.products.is_empty() {
            return Err(FeedError::NoProducts);
        }
        for p in &self.products {
            crate::product_id::check(p)?;
        }
        if self.watchdog.is_zero() {
            return Err(FeedError::BadWatchdog);
        }
        if self.products_per_connection == 0 {
            return Err(FeedError::BadProductsPerConnection);
        }
        tls::client_config(self.ca_cert.as_deref())?;
        match (&self.record, self.record_rotate) {
            (Some(path), None) => Recorder::check(path)?,
            // The files are named when they start: only the directory can be checked now.
            (Some(path), Some(_)) => Recorder::check_directory(path)?,
            (None, Some(_)) => return Err(FeedError::RotateWithoutRecord),
            (None, None) => {}
        }
        Ok(())
    }
}

fn check_url(url: &str) -> Result<(), FeedError> {
    let bad = |reason: &str| FeedError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let request = url.into_client_request().map_err(|e| bad(&e.to_string()))?;
    match request.uri().scheme_str() {
        Some("ws" | "wss") => {}
        _ => return Err(bad("the scheme must be ws or wss")),
    }
    if request.uri().host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(())
}

/// Starts the feed on the current tokio runtime; the viewer's end is the [`FeedHandle`], and the
/// task's result is the final core (for headless dumps): with several connections, their cores
/// merged ([`start_session`] says how many connections were open, too).
pub fn start(config: LiveConfig) -> (tokio::task::JoinHandle<FeedCore>, FeedHandle) {
    let (task, handle) = start_session(config);
    let task = tokio::spawn(async move {
        match task.await {
            Ok(result) => result.core,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    });
    (task, handle)
}

/// Starts the session (one connection per shard of products, docs/feed.md "Sharding").
pub fn start_session(config: LiveConfig) -> (tokio::task::JoinHandle<SessionResult>, FeedHandle) {
    let now = now_ms();
    let mut core = FeedCore::new(
        config.url.clone(),
        &config.products,
        config.key.is_some(),
        now,
    );
    core.set_jwt_clock(config.jwt_clock);
    let (publisher, commands, handle) = publish::channel(&core, config.view.clone(), now);
    let task = tokio::spawn(run(config, core, publisher, commands));
    (task, handle)
}

/// [`start`], for the viewer.
pub fn spawn(config: LiveConfig) -> FeedHandle {
    start_session(config).1
}

async fn run(
    config: LiveConfig,
    mut core: FeedCore,
    mut publisher: Publisher,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
) -> SessionResult {
    let setup = tls::client_config(config.ca_cert.as_deref())
        .map_err(FeedError::from)
        .and_then(|tls| {
            let recorder = config
                .record
                .as_deref()
                .map(|path| Recorder::open_with(path, config.record_rotate))
                .transpose()?;
            Ok((tls, recorder))
        });
    let (tls, recorder) = match setup {
        Ok(ok) => ok,
        Err(err) => {
            tracing::error!("live feed cannot start: {err}");
            let now = now_ms();
            core.report_problem(now, err.to_string());
            core.finish(now);
            publisher.publish(&mut core, now);
            return SessionResult {
                core,
                connections_open: 0,
                connections_started: 0,
                user: None,
            };
        }
    };
    let shared = Arc::new(Shared {
        pacing: std::sync::Mutex::new(Pacing::new(config.pacing.0, config.pacing.1)),
        recorder: std::sync::Mutex::new(recorder),
        tls,
        frames: Arc::default(),
        clock: std::sync::Mutex::default(),
    });
    session::run(config, shared, publisher, commands).await
}

/// What the connections of a session share: the pacing of connects and messages, the
/// recording, the TLS configuration, the count of frames received (for the rounds).
pub struct Shared {
    pacing: std::sync::Mutex<Pacing>,
    recorder: std::sync::Mutex<Option<Recorder>>,
    tls: Arc<rustls::ClientConfig>,
    pub(crate) frames: Arc<FrameCount>,
    /// The latest clock estimate of the market connections, for the user connection's JWTs
    /// (docs/feed.md, "Clock offset"): it signs with the server's time as they do.
    clock: std::sync::Mutex<Option<ClockEstimate>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// A market connection's clock estimate, when it has one.
    fn note_clock(&self, estimate: Option<ClockEstimate>) {
        if let (Some(estimate), Ok(mut clock)) = (estimate, self.clock.lock()) {
            *clock = Some(estimate);
        }
    }

    /// The latest clock estimate of any market connection.
    pub(crate) fn clock(&self) -> Option<ClockEstimate> {
        self.clock.lock().ok().and_then(|clock| *clock)
    }

    /// Waits until the pacing lets a new connection be opened.
    pub(crate) async fn connect_slot(&self) {
        let at = match self.pacing.lock() {
            Ok(mut pacing) => pacing.connect_at(Instant::now()),
            Err(_) => return,
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// Waits until the pacing lets a message be sent.
    /// A message slot now if the budget has one to spare (see [`Pacing::spare_message`]).
    fn spare_message_slot(&self) -> bool {
        self.pacing
            .lock()
            .is_ok_and(|mut pacing| pacing.spare_message(Instant::now()))
    }

    pub(crate) async fn message_slot(&self) {
        let at = match self.pacing.lock() {
            Ok(mut pacing) => pacing.message_at(Instant::now()),
            Err(_) => return,
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// The TLS configuration every connection of the session uses.
    pub(crate) fn tls(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.tls)
    }

    fn recording(&self) -> bool {
        self.recorder.lock().is_ok_and(|r| r.is_some())
    }

    /// Ends the recording (at the end of the session): written out, a compressed stream
    /// finished.
    pub fn flush_recording(&self) {
        if let Ok(mut recorder) = self.recorder.lock()
            && let Some(recorder) = recorder.as_mut()
            && let Err(err) = recorder.finish()
        {
            tracing::error!("{err}");
        }
    }
}

/// How a connection's task ended.
#[derive(Debug)]
pub enum ConnectionExit {
    /// Shutdown asked for.
    Shutdown,
    /// The server refused every product of the connection (by name, or for the stream limit
    /// with nothing left to split): nothing more to do on it.
    AllRefused,
    /// The server refused the connection's level2 subscribe for carrying too many products:
    /// the session retries them split in two.
    Split {
        products: Vec<String>,
        reason: String,
    },
}

/// A connection's core and its channel to the session.
pub(crate) fn connection(
    config: &LiveConfig,
    products: &[String],
    request: ViewRequest,
    events: mpsc::Sender<crate::feed::events::FeedEvent>,
) -> (FeedCore, ConnectionChannel) {
    let now = now_ms();
    let mut core = FeedCore::new(config.url.clone(), products, config.key.is_some(), now);
    core.set_trades_kept(config.trades_kept);
    core.set_jwt_clock(config.jwt_clock);
    core.set_heatmap(config.heatmap);
    let channel = publish::connection_channel(&core, request, now, events);
    (core, channel)
}

/// How a connection ended.
enum SessionEnd {
    Lost(String),
    Shutdown,
}

/// One connection of a session: its products' core, its policy (watchdog, resync pacing,
/// backoff, across its reconnects), and the socket while it is open.
pub(crate) struct Connection {
    config: LiveConfig,
    /// Its index in the session (recorded as `c`, shown as `#index+1`).
    index: usize,
    policy: ConnectionPolicy,
    core: FeedCore,
    publisher: Publisher,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
    shared: Arc<Shared>,
    /// Set when the server refused the level2 subscribe for too many products.
    exit: Option<ConnectionExit>,
    /// Channels still to subscribe on this connection when the message budget has room
    /// (`market_trades`, `ticker`: docs/feed.md, "Trades"), once level2 is acknowledged.
    market_pending: Vec<&'static str>,
    /// The server acknowledged this connection's level2 subscribe: the products it refused
    /// are known, so the trades and ticker subscribes leave them out.
    level2_acked: bool,
    /// The recording's file switches this connection has answered with fresh snapshots
    /// ([`Recorder::generation`]).
    recorded_generation: u64,
    /// Origin of the monotonic readings that tell a step of the wall clock.
    monotonic_origin: Instant,
}

/// The channels of trades and market context, subscribed after level2 when `LiveConfig::trades`.
const MARKET_CHANNELS: [&str; 2] = ["market_trades", "ticker"];

impl Connection {
    pub(crate) fn new(
        config: &LiveConfig,
        index: usize,
        core: FeedCore,
        channel: ConnectionChannel,
        shared: Arc<Shared>,
    ) -> Connection {
        let policy = ConnectionPolicy::new(
            PolicyConfig {
                watchdog: config.watchdog,
                resync_timeout: config.resync_timeout,
            },
            Backoff::new(),
        );
        Connection {
            config: config.clone(),
            index,
            policy,
            core,
            publisher: channel.publisher,
            commands: channel.commands,
            shared,
            exit: None,
            market_pending: Vec::new(),
            level2_acked: false,
            recorded_generation: 0,
            monotonic_origin: Instant::now(),
        }
    }

    /// Runs the connection until shutdown or a refusal ends it; its index, core and why it ended.
    pub(crate) async fn run(mut self) -> (usize, FeedCore, ConnectionExit) {
        self.run_loop().await;
        let exit = self.exit.take().unwrap_or(ConnectionExit::Shutdown);
        (self.index, self.core, exit)
    }

    async fn run_loop(&mut self) {
        loop {
            let attempt = self.policy.connecting();
            self.shared.connect_slot().await;
            self.core.connecting(now_ms(), attempt);
            self.publisher.publish(&mut self.core, now_ms());
            tracing::info!(url = %self.config.url, attempt, "connecting");
            let connecting = connect(
                self.config.url.clone(),
                self.shared.tls.clone(),
                self.config.connect_timeout,
            );
            tokio::pin!(connecting);
            let connected = loop {
                tokio::select! {
                    result = &mut connecting => break Some(result),
                    command = self.commands.recv() => {
                        if !self.idle_command(command) {
                            break None;
                        }
                    }
                }
            };
            let Some(connected) = connected else {
                break;
            };
            let reason = match connected {
                Ok(socket) => match self.session(socket).await {
                    SessionEnd::Shutdown => break,
                    SessionEnd::Lost(reason) => reason,
                },
                Err(reason) => reason,
            };
            let now = now_ms();
            tracing::warn!(connection = self.index, %reason, "disconnected");
            self.core.connection_lost(now, &reason);
            let index = self.index;
            self.record(|r| r.disconnect_on(index, now, &reason));
            let retry = self.policy.connection_lost();
            let delay_ms = u64::try_from(retry.delay.as_millis()).unwrap_or(u64::MAX);
            self.core
                .reconnecting(now, &reason, delay_ms, retry.attempt);
            self.publisher.publish(&mut self.core, now);
            tracing::info!(delay_ms, "reconnecting");
            if !self.pause(retry.delay).await {
                break;
            }
        }
        // The session finishes the feed once every connection has ended.
        self.publisher.publish(&mut self.core, now_ms());
    }

    /// Waits out a reconnect delay; `false` if the viewer asked to shut down meanwhile.
    async fn pause(&mut self, delay: Duration) -> bool {
        let end = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(end) => return true,
                command = self.commands.recv() => {
                    if !self.idle_command(command) {
                        return false;
                    }
                }
            }
        }
    }

    /// A command while there is no connection; `false` means shut down.
    fn idle_command(&mut self, command: Option<FeedCommand>) -> bool {
        match command {
            None | Some(FeedCommand::Shutdown) => false,
            Some(FeedCommand::SetView(request)) => {
                self.publisher.set_request(request);
                self.publisher.publish(&mut self.core, now_ms());
                true
            }
            // Nothing to resync without a connection: the next one brings snapshots anyway.
            Some(FeedCommand::Resync) => true,
        }
    }

    fn key_active(&self) -> bool {
        self.config.key.is_some() && !self.core.fell_back_to_public()
    }

    /// One connection, from subscribe to its end.
    async fn session(&mut self, mut socket: Socket) -> SessionEnd {
        let now = now_ms();
        let authenticated = self.key_active();
        self.core.connection_started(now, authenticated);
        let info = ConnectInfo {
            url: self.config.url.clone(),
            authenticated,
            products: self.core.products().to_vec(),
            user: false,
        };
        let index = self.index;
        self.record(|r| r.connect_on(index, now, &info));
        // A connection starts its file's books with its snapshots anyway.
        self.recorded_generation = self.shared.recording_generation();
        tracing::info!(url = %self.config.url, connection = index, authenticated, "connected");
        if let Err(reason) = self.subscribe_all(&mut socket).await {
            return SessionEnd::Lost(reason);
        }
        self.publisher.publish(&mut self.core, now_ms());
        self.policy.connected(Instant::now());
        let mut tick = tokio::time::interval(VIEW_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // With nothing to publish or flush, the tick sleeps until the policy's next deadline (a
        // quiet feed then wakes the task about once per watchdog period instead of 30 times a
        // second), and speeds up again as soon as a frame leaves something to publish. Frames
        // and subscribes only move the deadline later, so waking at the old one is early, never
        // late; a book that becomes desynced leaves events to publish, which speeds the tick up.
        let mut tick_slowed = false;
        loop {
            tokio::select! {
                message = socket.next() => {
                    let received = Instant::now();
                    self.shared.frames.add_one();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        // A binary frame of UTF-8 text is read (and recorded) as that text; any
                        // other is a bad frame, recorded whole so that replay counts it too.
                        Some(Ok(Message::Binary(bytes))) => match tungstenite::Utf8Bytes::try_from(bytes.clone()) {
                            Ok(text) => text,
                            Err(_) => {
                                self.policy.frame_received(Instant::now());
                                let now = now_ms();
                                let index = self.index;
                                self.record(|r| r.binary_on(index, now, &bytes));
                                self.core.on_binary_frame(&bytes, now);
                                continue;
                            }
                        },
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map(|f| format!(" ({} {})", f.code, f.reason)).unwrap_or_default();
                            return SessionEnd::Lost(format!("the server closed the connection{why}"));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(err)) => {
                            if matches!(err, tungstenite::Error::Capacity(_) | tungstenite::Error::Utf8(_)) {
                                // A frame arrived but its bytes were refused: recorded as such.
                                let (now, index, why) = (now_ms(), self.index, describe(&err));
                                self.record(|r| r.unread_on(index, now, &why));
                                self.core.count_bad_frame(now, why);
                            }
                            return SessionEnd::Lost(format!("connection error: {}", describe(&err)));
                        }
                        None => return SessionEnd::Lost("the connection ended".into()),
                    };
                    self.policy.frame_received(Instant::now());
                    let now = now_ms();
                    let monotonic = received.duration_since(self.monotonic_origin).as_millis();
                    self.core.note_local_clock(now, i64::try_from(monotonic).unwrap_or(i64::MAX));
                    let outcome = self.core.on_frame(text.as_str(), now);
                    self.core.note_apply_time(received.elapsed());
                    let index = self.index;
                    self.record(|r| r.frame_on(index, now, text.as_str(), outcome.parsed));
                    if outcome.stream_limit {
                        return self.on_stream_limit(&mut socket).await;
                    }
                    if outcome.subscribed {
                        self.policy.subscribed();
                        self.level2_acked = true;
                    }
                    if outcome.measure_clock {
                        // Needs no JWT, and none is signed while the refusal waits: its
                        // answer is timed, then the refusal is judged (docs/feed.md, "Clock
                        // offset").
                        tracing::warn!("the key was refused; timing an answer to check the clock");
                        if let Err(reason) = self.send(&mut socket, SubscribeKind::Subscribe, "heartbeats", &[]).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    if outcome.retry_signed {
                        tracing::warn!("the key was refused and the clock explains it; signing with the server's time");
                        self.policy.level2_sent(Instant::now());
                        if let Err(reason) = self.subscribe_all(&mut socket).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    if outcome.fall_back_to_public {
                        tracing::warn!("the key was refused; subscribing on the public path");
                        self.policy.level2_sent(Instant::now());
                        if let Err(reason) = self.subscribe_all(&mut socket).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    if outcome.resubscribe {
                        if self.core.all_refused() {
                            tracing::error!("the server refused every product; stopping the feed");
                            let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                            self.core.connection_closed(now_ms());
                            return SessionEnd::Shutdown;
                        }
                        tracing::warn!("products refused; subscribing level2 without them");
                        self.policy.level2_sent(Instant::now());
                        let products = self.core.active_products();
                        if let Err(reason) = self.send(&mut socket, SubscribeKind::Subscribe, "level2", &products).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    if outcome.resync {
                        self.policy.level2_sent(Instant::now());
                        if let Err(reason) = self.resubscribe_level2(&mut socket).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    // A crossed book's resync is paced; one due with a gap's resync is that one.
                    let crossed_due = self.policy.crossed_resync(Instant::now(), self.core.any_crossed());
                    if crossed_due && !outcome.resync {
                        if let Err(reason) = self.crossed_resync(&mut socket, now).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    if !self.market_pending.is_empty() && let Err(reason) = self.send_market(&mut socket).await {
                        return SessionEnd::Lost(reason);
                    }
                    self.publisher.forward_events(&mut self.core);
                    self.publisher.publish_if_due(&mut self.core, now);
                    if tick_slowed && self.core.is_dirty() {
                        tick.reset_after(VIEW_INTERVAL);
                        tick_slowed = false;
                    }
                }
                _ = tick.tick() => {
                    let now = now_ms();
                    self.shared.note_clock(self.core.clock_estimate());
                    match self.policy.tick(Instant::now(), self.core.any_desynced()) {
                        Decision::Wait => {}
                        Decision::Reconnect(leave) => return SessionEnd::Lost(leave.to_string()),
                        Decision::Resync => {
                            tracing::warn!("still desynced after a resubscribe; resubscribing again");
                            self.core.resync(now);
                            if let Err(reason) = self.resubscribe_level2(&mut socket).await {
                                return SessionEnd::Lost(reason);
                            }
                        }
                    }
                    if self.policy.crossed_resync(Instant::now(), self.core.any_crossed()) {
                        if let Err(reason) = self.crossed_resync(&mut socket, now).await {
                            return SessionEnd::Lost(reason);
                        }
                    }
                    self.record(Recorder::flush);
                    if let Err(reason) = self.resync_for_new_file(&mut socket).await {
                        return SessionEnd::Lost(reason);
                    }
                    if let Err(reason) = self.send_market(&mut socket).await {
                        return SessionEnd::Lost(reason);
                    }
                    self.publisher.forward_events(&mut self.core);
                    self.publisher.publish_if_due(&mut self.core, now);
                    // Published, and no recording to flush 30 times a second: nothing is
                    // waiting for the next tick.
                    if !self.core.is_dirty() && !self.shared.recording() && self.market_pending.is_empty() {
                        match self.policy.next_deadline(self.core.any_desynced()) {
                            Some(deadline) => tick.reset_at(deadline.into()),
                            None => tick.reset_after(NO_DEADLINE_TICK),
                        }
                        tick_slowed = true;
                    }
                }
                command = self.commands.recv() => match command {
                    None | Some(FeedCommand::Shutdown) => {
                        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                        // No marker: the end of the recording is the end of the session, and
                        // its books stay as they were, in replay as here.
                        self.core.connection_closed(now_ms());
                        return SessionEnd::Shutdown;
                    }
                    Some(FeedCommand::Resync) => {
                        let now = now_ms();
                        self.core.resync(now);
                        let index = self.index;
                        self.record(|r| r.resync_on(index, now));
                        self.policy.level2_sent(Instant::now());
                        if let Err(reason) = self.resubscribe_level2(&mut socket).await {
                            return SessionEnd::Lost(reason);
                        }
                        self.publisher.publish(&mut self.core, now);
                        // The books wait for snapshots now: an idle tick set for the
                        // watchdog may be later than the resync timeout's deadline.
                        if tick_slowed {
                            tick.reset_after(VIEW_INTERVAL);
                            tick_slowed = false;
                        }
                    }
                    Some(FeedCommand::SetView(request)) => {
                        self.publisher.set_request(request);
                        self.publisher.publish(&mut self.core, now_ms());
                    }
                },
            }
        }
    }

    /// The server answered `too many L2 streams requested in a single session` (the core has
    /// refused that subscribe's products with the server's words: docs/feed.md, "Refusals that
    /// name no product"). With more than one stream among them, this connection is left so that
    /// the session retries them split in two on new connections: they are asked for again
    /// there, so their refusal here is taken back and not reported. With one stream, nothing is
    /// left to split: they stay refused, reported, and the connection ends.
    async fn on_stream_limit(&mut self, socket: &mut Socket) -> SessionEnd {
        let reason = self.core.auth().last_error.as_ref().map_or_else(
            || crate::feed::events::TOO_MANY_L2_STREAMS.to_owned(),
            |e| e.message.clone(),
        );
        let products = self.core.stream_limited_products();
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        if crate::feed::shards::split(&products).is_some() {
            tracing::warn!(
                connection = self.index,
                "{reason}: leaving the connection to retry its {} products on two",
                products.len()
            );
            self.core.unrefuse(&products);
            let events: Vec<crate::feed::events::FeedEvent> = self
                .core
                .drain_events()
                .filter(|e| !matches!(e, crate::feed::events::FeedEvent::ProductRefused { product, .. } if products.contains(product)))
                .collect();
            for event in events {
                if !self.publisher.send_event(event) {
                    self.core.count_dropped_event();
                }
            }
            self.exit = Some(ConnectionExit::Split { products, reason });
        } else {
            tracing::error!(
                connection = self.index,
                "{reason}, with one stream on the connection: {} refused",
                products.join(", ")
            );
            self.exit = Some(ConnectionExit::AllRefused);
        }
        self.core.connection_closed(now_ms());
        SessionEnd::Shutdown
    }

    /// A resync for the crossed books, due by the policy's pacing (docs/feed.md, "Crossed
    /// books"): unsubscribe and subscribe level2 for those products only, so that the others
    /// keep their books and a crossed product does not bring every snapshot again. Counted
    /// and reported as any resync; not recorded: replay rebuilds the same books from the
    /// snapshots that answer it, and the other books are not touched.
    async fn crossed_resync(&mut self, socket: &mut Socket, now: i64) -> Result<(), String> {
        let products = self.core.resync_crossed(now);
        if products.is_empty() {
            return Ok(());
        }
        tracing::warn!(
            products = %products.join(" "),
            "crossed book; resubscribing level2 for a fresh snapshot"
        );
        self.send(socket, SubscribeKind::Unsubscribe, "level2", &products)
            .await?;
        self.send(socket, SubscribeKind::Subscribe, "level2", &products)
            .await
    }

    /// level2 for every product in one message (but those the server refused), then heartbeats;
    /// the trades and ticker follow when the message budget has room ([`Self::send_market`]).
    async fn subscribe_all(&mut self, socket: &mut Socket) -> Result<(), String> {
        let products = self.core.active_products();
        self.send(socket, SubscribeKind::Subscribe, "level2", &products)
            .await?;
        self.send(socket, SubscribeKind::Subscribe, "heartbeats", &[])
            .await?;
        if self.config.trades {
            self.market_pending = MARKET_CHANNELS.to_vec();
            self.level2_acked = false;
        }
        Ok(())
    }

    /// Sends the next pending trades or ticker subscribe if the session's message budget has a
    /// slot to spare now: they wait for room rather than delay another connection's level2.
    async fn send_market(&mut self, socket: &mut Socket) -> Result<(), String> {
        let Some(&channel) = self.market_pending.first() else {
            return Ok(());
        };
        if !self.level2_acked || !self.shared.spare_message_slot() {
            return Ok(());
        }
        self.market_pending.remove(0);
        let products = self.core.active_products();
        self.send_in_slot(socket, SubscribeKind::Subscribe, channel, &products)
            .await
    }

    /// Unsubscribe and subscribe level2: the server answers with fresh snapshots.
    async fn resubscribe_level2(&mut self, socket: &mut Socket) -> Result<(), String> {
        let products = self.core.active_products();
        self.send(socket, SubscribeKind::Unsubscribe, "level2", &products)
            .await?;
        self.send(socket, SubscribeKind::Subscribe, "level2", &products)
            .await?;
        // Frames lost in a gap may have carried trades: the trades snapshot that answers a new
        // subscribe fills them in (each trade id kept once). It waits for a spare message slot
        // like the first one: waiting here would stop the connection reading its frames.
        if self.config.trades && !self.market_pending.contains(&"market_trades") {
            self.market_pending.push("market_trades");
        }
        Ok(())
    }

    /// Sends one subscribe or unsubscribe, with a fresh JWT when the key is in use.
    async fn send(
        &mut self,
        socket: &mut Socket,
        kind: SubscribeKind,
        channel: &str,
        products: &[String],
    ) -> Result<(), String> {
        self.shared.message_slot().await;
        self.send_in_slot(socket, kind, channel, products).await
    }

    /// [`Self::send`] in a message slot already reserved.
    async fn send_in_slot(
        &mut self,
        socket: &mut Socket,
        kind: SubscribeKind,
        channel: &str,
        products: &[String],
    ) -> Result<(), String> {
        let now = now_ms();
        // The clock of the JWT is the core's to choose (`--jwt-clock`, the measured offset).
        let jwt = match (&self.config.key, self.key_active()) {
            (Some(key), true) => self.core.jwt_nbf(now).map(|nbf| key.ws_jwt(nbf)),
            _ => None,
        };
        let message = match kind {
            SubscribeKind::Subscribe => {
                SubscribeMessage::subscribe(channel, products, jwt.as_deref())
            }
            SubscribeKind::Unsubscribe => {
                SubscribeMessage::unsubscribe(channel, products, jwt.as_deref())
            }
        };
        let redacted = message.to_redacted_json();
        socket
            .send(Message::text(message.to_json()))
            .await
            .map_err(|err| format!("cannot send {redacted}: {}", describe(&err)))?;
        match &jwt {
            Some(token) => tracing::info!(message = %redacted, jwt = %jwt_summary(token), "sent"),
            None => tracing::info!(message = %redacted, "sent"),
        }
        self.core.subscribe_sent(now, channel, redacted, jwt);
        Ok(())
    }

    /// Writes to the recording; on failure, says so and stops recording (the feed goes on).
    fn record(&mut self, write: impl FnOnce(&mut Recorder) -> Result<(), RecordError>) {
        if let Some((path, err)) = self.shared.record(write) {
            self.core.recording_stopped(now_ms(), path, err);
        }
    }
}

#[derive(Clone, Copy)]
enum SubscribeKind {
    Subscribe,
    Unsubscribe,
}

#[path = "client_connect.rs"]
mod connecting;
#[cfg(test)]
use connecting::plain_to_tls_hint;
pub(crate) use connecting::{connect, describe};

#[path = "client_rotation.rs"]
mod rotation;

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
