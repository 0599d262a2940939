//! One client connection: the WebSocket handshake, subscribe and unsubscribe, snapshots and acks,
//! forwarding the market's frames in a per-connection envelope, and the injected faults.
//!
//! Slow consumers: every connection reads the market through its own bounded queue of
//! `queue_frames` frames ([`super::outlets`]), fed only with the products it subscribed to and
//! the heartbeats. A connection whose queue fills up, or whose socket accepts nothing for
//! `write_timeout`, is closed (close code 1008, "slow consumer") rather than allowed to slow the
//! market or anyone else, as the exchange drops slow consumers by their own backlog.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async_with_config};

use super::auth_check::check_jwt;
use super::clock::rfc3339_nanos;
use super::frames;
use super::limits::{TOO_MANY_L2_STREAMS, l2_over_limit, l2_streams_after};
use super::orders::{UserUpdate, wanted};
use super::outlets::{Inlet, Lost};
use super::protocol::{
    AUTHENTICATION_FAILURE, Action, Channel, ErrorFrame, FAILURE_TO_SUBSCRIBE, INJECTED_FAULT,
    MALFORMED_MESSAGE, RATE_LIMIT_EXCEEDED, Request, echo, parse_request,
};
use super::publisher::Outgoing;
use super::server::{OpenGuard, Shared};

/// A WebSocket handshake that takes longer than this is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A stalled connection is held open at most this long (or until the server stops).
const STALL_HOLD: Duration = Duration::from_secs(600);
/// Frames forwarded before the socket is flushed, so a fast market is written in large writes.
const FORWARD_BURST: usize = 256;
/// Clients only send small subscribe messages.
const MAX_CLIENT_MESSAGE: usize = 1 << 20;
/// After a message over the limit, how long and how much of the rest is read and discarded.
const DRAIN_TIME: Duration = Duration::from_secs(2);
const DRAIN_LIMIT: usize = 256 << 20;

/// Why a connection ended.
#[derive(Debug)]
enum End {
    ClientClosed,
    ClientGone(String),
    ServerShutdown,
    SubscribeTimeout,
    Disconnected,
    Stalled,
    SlowConsumer(String),
    MessageTooBig(String),
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::ClientClosed => write!(f, "the client closed it"),
            End::ClientGone(why) => write!(f, "the client went away ({why})"),
            End::ServerShutdown => write!(f, "the server is shutting down"),
            End::SubscribeTimeout => write!(f, "no subscribe in time"),
            End::Disconnected => write!(f, "dropped abruptly (--disconnect-every)"),
            End::Stalled => write!(f, "stalled (--stall-after), then released"),
            End::SlowConsumer(why) => write!(f, "slow consumer: {why}"),
            End::MessageTooBig(why) => write!(
                f,
                "the client sent a message over the size limit of {MAX_CLIENT_MESSAGE} bytes ({why}); closed with 1009"
            ),
        }
    }
}

/// Headers worth a mention in the connection's log line.
#[derive(Debug, Default)]
struct HandshakeInfo {
    user_agent: Option<String>,
    retry_counter: Option<String>,
    /// Refused with HTTP 429 (`--max-connections-per-sec`).
    rate_limited: bool,
}

/// The body of the HTTP 429 answer to an upgrade past `--max-connections-per-sec`.
fn too_many_connections(limit: u32) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(format!(
        "too many connections: at most {limit} new connections per second (--max-connections-per-sec); retry after a second\n"
    )));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    resp
}

/// Serves one accepted (and, for `wss://`, TLS-wrapped) connection to its end.
pub async fn serve<S>(shared: Arc<Shared>, stream: S, peer: SocketAddr, id: u64, scheme: &str)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut info = HandshakeInfo::default();
    // The callback's signature is tungstenite's, large error type included.
    #[allow(clippy::result_large_err)]
    let callback = |req: &HttpRequest, resp: Response| {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        info.user_agent = header("user-agent");
        info.retry_counter = header("x-cb-retry-counter");
        // Counted at the upgrade, as the exchange answers HTTP 429 to an upgrade past its limit.
        if !shared.admit_connection() {
            info.rate_limited = true;
            return Err(too_many_connections(shared.config.max_connections_per_sec));
        }
        Ok(resp)
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE))
        .write_buffer_size(64 * 1024);
    let handshake = accept_hdr_async_with_config(stream, callback, Some(ws_config));
    let ws = match timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(_)) if info.rate_limited => {
            shared.log.line(format_args!(
                "connection {id} from {peer} refused: HTTP 429, over {} new connections per second (--max-connections-per-sec); {} refused so far",
                shared.config.max_connections_per_sec,
                shared.refused_connections.load(std::sync::atomic::Ordering::SeqCst)
            ));
            return;
        }
        Ok(Err(e)) => {
            shared.log.line(format_args!(
                "connection {id} from {peer} refused: not a WebSocket handshake ({e})"
            ));
            return;
        }
        Err(_) => {
            shared.log.line(format_args!(
                "connection {id} from {peer} refused: no WebSocket handshake within {} s",
                HANDSHAKE_TIMEOUT.as_secs()
            ));
            return;
        }
    };
    let _open = OpenGuard::new(shared.clone());
    let mut details = String::new();
    if let Some(ua) = &info.user_agent {
        details.push_str(&format!(", user-agent {}", echo(ua)));
    }
    if let Some(retry) = &info.retry_counter {
        details.push_str(&format!(", x-cb-retry-counter {}", echo(retry)));
    }
    shared.log.line(format_args!(
        "connection {id} from {peer} open ({scheme}{details})"
    ));
    // Its queue of market frames; it wants a product from just before that product's snapshot.
    let inlet = shared.outlets.open(id);
    let mut conn = Connection::new(shared.clone(), ws, id, inlet);
    let end = conn.run().await;
    let mut summary = format!("{} frames sent", conn.frames_sent);
    for (n, what) in [
        (conn.frames_dropped, "dropped (--gap-every)"),
        (conn.faults.duplicated, "sent twice (--duplicate-every)"),
        (conn.faults.reordered, "sent late (--reorder-every)"),
        (conn.faults.errors, "error frames injected (--error-every)"),
        (
            conn.faults.unsubscribed,
            "of unsubscribed products (--unsubscribed-every)",
        ),
    ] {
        if n > 0 {
            summary.push_str(&format!(", {n} {what}"));
        }
    }
    shared.log.line(format_args!(
        "connection {id} closed after {:.1} s: {end}; {summary}",
        conn.opened.elapsed().as_secs_f64()
    ));
}

struct Connection<S> {
    shared: Arc<Shared>,
    ws: WebSocketStream<S>,
    id: u64,
    /// This connection's queue of market frames (unregistered when the connection drops).
    inlet: Inlet,
    opened: Instant,
    /// The next envelope's `sequence_num`.
    seq: u64,
    /// A `--gap-every` drop is due and waits for a droppable frame.
    owe_gap: bool,
    frames_sent: u64,
    frames_dropped: u64,
    /// A frame held back by `--reorder-every`, sent after the next one.
    held: Option<String>,
    faults: FaultCounts,
    /// Products this connection ever subscribed to on level2 (`--unsubscribed-every` sends
    /// frames of the others only).
    asked_level2: Vec<bool>,
    /// The subscription map, channels and products in the order first asked for.
    subs: Vec<(Channel, Vec<String>)>,
    /// `active[channel][product]`: forward that product's frames on that channel.
    active: Vec<Vec<bool>>,
    heartbeats: bool,
    /// The market version each level2 snapshot was taken at.
    l2_version: Vec<Option<u64>>,
    /// The newest trade id in each `market_trades` snapshot: trade frames up to it are already
    /// in the snapshot and are not forwarded.
    trades_after: Vec<Option<u64>>,
    /// A subscribe message has arrived, accepted or refused (the subscribe deadline is met).
    subscribe_seen: bool,
    /// The `user` subscription: whose orders, and the updates after its snapshot.
    user: Option<UserSub>,
}

/// A connection's `user` subscription (docs/sim.md, "Your orders").
struct UserSub {
    /// The key name its JWT was signed with: the orders are that key's.
    key: String,
    /// Products asked for (all when empty); never `-USDC` aliased.
    products: Vec<String>,
    /// Updates up to this version are in the snapshot already.
    after: u64,
    updates: tokio::sync::broadcast::Receiver<Arc<UserUpdate>>,
}

/// The next update of the connection's `user` subscription; pending forever without one.
async fn next_user_update(
    user: &mut Option<UserSub>,
) -> Result<Arc<UserUpdate>, tokio::sync::broadcast::error::RecvError> {
    match user {
        Some(sub) => sub.updates.recv().await,
        None => std::future::pending().await,
    }
}

/// What the fault flags other than `--gap-every` did on one connection.
#[derive(Debug, Default)]
struct FaultCounts {
    duplicated: u64,
    reordered: u64,
    errors: u64,
    unsubscribed: u64,
    /// Level2 frames of products this connection never asked for, seen so far.
    unsubscribed_seen: u64,
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<S> Connection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn new(shared: Arc<Shared>, ws: WebSocketStream<S>, id: u64, inlet: Inlet) -> Connection<S> {
        let n = shared.products.len();
        Connection {
            ws,
            id,
            inlet,
            opened: Instant::now(),
            seq: 0,
            owe_gap: false,
            frames_sent: 0,
            frames_dropped: 0,
            held: None,
            faults: FaultCounts::default(),
            asked_level2: vec![false; n],
            subs: Vec::new(),
            active: vec![vec![false; n]; Channel::ALL.len()],
            heartbeats: false,
            l2_version: vec![None; n],
            trades_after: vec![None; n],
            subscribe_seen: false,
            user: None,
            shared,
        }
    }

    async fn run(&mut self) -> End {
        let mut shutdown = self.shared.shutdown.clone();
        if *shutdown.borrow() {
            return End::ServerShutdown;
        }
        let config = &self.shared.config;
        let deadline = self.opened + config.subscribe_deadline;
        let disconnect_at = config.disconnect_every.map(|d| self.opened + d);
        let stall_at = config
            .stall_after
            .filter(|_| self.id % config.stall_one_in.max(1) == 0)
            .map(|d| self.opened + d);
        let error_every = config.error_every;
        let mut next_error = error_every.map(|d| self.opened + d);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    self.close(CloseCode::Away, "server shutting down").await;
                    return End::ServerShutdown;
                }
                _ = sleep_until_opt(disconnect_at) => return End::Disconnected,
                _ = sleep_until_opt(stall_at) => {
                    self.inlet.release();
                    return self.stall(shutdown).await;
                }
                _ = sleep_until_opt(next_error) => {
                    next_error = error_every.map(|d| Instant::now() + d);
                    if let Err(end) = self.inject_error().await {
                        return end;
                    }
                }
                _ = sleep_until(deadline), if !self.subscribe_seen => {
                    let secs = self.shared.config.subscribe_deadline.as_secs_f64();
                    self.close(CloseCode::Policy, &format!("no subscribe within {secs} s")).await;
                    return End::SubscribeTimeout;
                }
                msg = self.ws.next() => {
                    let result = match msg {
                        Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                        Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                            Ok(text) => self.on_text(text).await,
                            Err(_) => {
                                let frame = ErrorFrame::new(
                                    MALFORMED_MESSAGE,
                                    "a binary message that is not UTF-8 text; send JSON text",
                                );
                                self.refuse(None, &frame).await
                            }
                        },
                        Some(Ok(Message::Close(_))) => {
                            // tungstenite queued the close reply; send it.
                            let _ = timeout(Duration::from_secs(1), self.ws.flush()).await;
                            return End::ClientClosed;
                        }
                        // tungstenite queued a pong for a ping: flushing sends it.
                        Some(Ok(_)) => self.flush().await,
                        Some(Err(WsError::Capacity(e))) => return self.too_big(e.to_string()).await,
                        Some(Err(e)) => return End::ClientGone(e.to_string()),
                        None => return End::ClientGone("end of stream".to_string()),
                    };
                    if let Err(end) = result {
                        return end;
                    }
                }
                update = next_user_update(&mut self.user) => {
                    if let Err(end) = self.forward_user(update).await {
                        return end;
                    }
                }
                item = self.inlet.recv() => {
                    let result = match item {
                        Ok(out) => self.forward_burst(out).await,
                        Err(lost) => Err(self.lost(lost).await),
                    };
                    if let Err(end) = result {
                        return end;
                    }
                }
            }
        }
    }

    /// Sends nothing more (not even a pong), keeping the socket open until the server stops or
    /// the client goes away. What the client sends is read below the WebSocket layer and
    /// ignored (the WebSocket layer would answer pings), only to notice when it closes, so that
    /// stalled connections the client has left do not pile up.
    async fn stall(&mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) -> End {
        self.shared.log.line(format_args!(
            "connection {} stalled (--stall-after): sending nothing from now on",
            self.id
        ));
        let socket = self.ws.get_mut();
        let client_gone = async {
            let mut ignored = [0u8; 4096];
            while let Ok(1..) = socket.read(&mut ignored).await {}
        };
        tokio::select! {
            _ = shutdown.changed() => End::Stalled,
            _ = sleep(STALL_HOLD) => End::Stalled,
            _ = client_gone => End::ClientGone("it closed the stalled connection".to_string()),
        }
    }

    /// A client message over [`MAX_CLIENT_MESSAGE`]: close with 1009 (message too big), then
    /// read and discard what the client is still sending for a moment, so that closing the
    /// socket with its data unread does not reset the connection before the close frame is read.
    async fn too_big(&mut self, why: String) -> End {
        self.close(CloseCode::Size, "message too big").await;
        let socket = self.ws.get_mut();
        let drain = async {
            let mut ignored = vec![0u8; 64 * 1024];
            let mut left = DRAIN_LIMIT;
            while let Ok(n @ 1..) = socket.read(&mut ignored).await {
                left = left.saturating_sub(n);
                if left == 0 {
                    break;
                }
            }
        };
        let _ = timeout(DRAIN_TIME, drain).await;
        End::MessageTooBig(why)
    }

    /// `--error-every`: an error frame mid-stream, once the client has subscribed; the
    /// connection and its subscriptions go on.
    async fn inject_error(&mut self) -> Result<(), End> {
        if !self.subscribe_seen {
            return Ok(());
        }
        let frame = ErrorFrame::new(
            INJECTED_FAULT,
            "an error frame mid-stream (--error-every); the connection and its subscriptions go on",
        );
        self.faults.errors += 1;
        self.write(Message::text(frame.to_json())).await?;
        self.flush().await
    }

    /// The queue has no more frames for this connection: it overflowed (a slow consumer, closed
    /// with 1008) or the server let go of it.
    async fn lost(&mut self, lost: Lost) -> End {
        match lost {
            Lost::Overflowed => {
                let why = format!(
                    "fell behind the market: its queue of {} frames was full",
                    self.shared.outlets.capacity()
                );
                self.close(CloseCode::Policy, "slow consumer").await;
                End::SlowConsumer(why)
            }
            Lost::Closed => End::ServerShutdown,
        }
    }

    /// Forwards one market frame and whatever else is already queued, then flushes.
    async fn forward_burst(&mut self, first: Arc<Outgoing>) -> Result<(), End> {
        self.forward(&first).await?;
        for _ in 0..FORWARD_BURST {
            match self.inlet.try_recv() {
                Ok(Some(out)) => self.forward(&out).await?,
                Ok(None) => break,
                Err(lost) => return Err(self.lost(lost).await),
            }
        }
        self.flush().await
    }

    async fn forward(&mut self, out: &Outgoing) -> Result<(), End> {
        let wanted = match out.product {
            None => out.channel == Channel::Heartbeats && self.heartbeats,
            Some(p) => {
                // Only frames newer than the connection's snapshot of that product.
                let newer = |after: Option<u64>| after.is_some_and(|v| out.version > v);
                let fresh = match out.channel {
                    Channel::Level2 => newer(self.l2_version[p]),
                    Channel::MarketTrades => newer(self.trades_after[p]),
                    _ => true,
                };
                self.active[out.channel as usize][p] && fresh
            }
        };
        if !wanted && !self.unsubscribed_due(out) {
            return Ok(());
        }
        self.send_enveloped(out.channel.wire(), &out.timestamp, &out.events, true)
            .await
    }

    /// Forwards one change of the accounts if it is this subscription's key and products and
    /// newer than its snapshot. A subscriber that fell more than the queue behind is a slow
    /// consumer.
    async fn forward_user(
        &mut self,
        update: Result<Arc<UserUpdate>, tokio::sync::broadcast::error::RecvError>,
    ) -> Result<(), End> {
        let update = match update {
            Ok(update) => update,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                self.close(CloseCode::Policy, "slow consumer").await;
                return Err(End::SlowConsumer(format!(
                    "fell {n} order updates behind on the user channel"
                )));
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return Err(End::ServerShutdown);
            }
        };
        let Some(sub) = &self.user else {
            return Ok(());
        };
        if update.key != sub.key
            || update.version <= sub.after
            || !wanted(&sub.products, &update.product_id)
        {
            return Ok(());
        }
        // Order updates are never dropped by the sequence faults: a client would need a new
        // snapshot to recover an order it missed (docs/sim.md, "Your orders").
        self.send_enveloped(
            Channel::User.wire(),
            &update.timestamp,
            &update.events,
            false,
        )
        .await?;
        self.flush().await
    }

    /// `--unsubscribed-every N`: whether this level2 frame of a product the connection never
    /// subscribed to is the N-th such frame (sent to level2 subscribers only).
    fn unsubscribed_due(&mut self, out: &Outgoing) -> bool {
        let (Some(n), Some(p)) = (self.shared.config.unsubscribed_every, out.product) else {
            return false;
        };
        if out.channel != Channel::Level2
            || self.asked_level2[p]
            || !self.asked_level2.iter().any(|&asked| asked)
        {
            return false;
        }
        self.faults.unsubscribed_seen += 1;
        let due = self.faults.unsubscribed_seen % n == 0;
        if due {
            self.faults.unsubscribed += 1;
        }
        due
    }

    /// Queues one enveloped frame, taking the next sequence number. A droppable frame may be
    /// dropped by `--gap-every` (its number is used all the same, so the client sees a gap);
    /// snapshots and acks are never dropped: the drop moves to the next droppable frame. A
    /// droppable frame may also be sent twice (`--duplicate-every`) or held back and sent after
    /// the next frame (`--reorder-every`); snapshots and acks never are.
    async fn send_enveloped(
        &mut self,
        channel: &str,
        timestamp: &str,
        events: &str,
        droppable: bool,
    ) -> Result<(), End> {
        let seq = self.seq;
        self.seq += 1;
        // Sequence faults stop with the market (`--stop-updates-after`), so books settle.
        let faults_on = !self.shared.frozen();
        let gaps_here = faults_on && self.id % self.shared.config.gap_one_in.max(1) == 0;
        if let Some(n) = self.shared.config.gap_every.filter(|_| gaps_here) {
            if (seq + 1) % n == 0 {
                self.owe_gap = true;
            }
        }
        // A gap still owed when the market froze (its number fell on a snapshot or an ack) is
        // forgiven: paid by a heartbeat after the freeze, it would desync a book that had
        // settled.
        if !faults_on {
            self.owe_gap = false;
        }
        if self.owe_gap && droppable {
            self.owe_gap = false;
            self.frames_dropped += 1;
            return Ok(());
        }
        let mut text = String::new();
        frames::envelope(&mut text, channel, timestamp, seq, events);
        self.frames_sent += 1;
        let config = &self.shared.config;
        let nth = |every: Option<u64>| {
            faults_on && droppable && every.is_some_and(|n| (seq + 1) % n == 0)
        };
        if self.held.is_none() && nth(config.reorder_every) {
            self.held = Some(text);
            return Ok(());
        }
        if nth(config.duplicate_every) {
            self.faults.duplicated += 1;
            self.write(Message::text(text.clone())).await?;
        }
        self.write(Message::text(text)).await?;
        if let Some(late) = self.held.take() {
            self.faults.reordered += 1;
            self.write(Message::text(late)).await?;
        }
        Ok(())
    }

    /// Queues a message for the socket (writing if tungstenite's buffer is full). A write that
    /// waits on the socket ends early if the connection's queue overflows meanwhile.
    async fn write(&mut self, msg: Message) -> Result<(), End> {
        let written = tokio::select! {
            biased;
            written = timeout(self.shared.config.write_timeout, self.ws.feed(msg)) => written,
            () = self.inlet.overflowed() => return Err(self.lost(Lost::Overflowed).await),
        };
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::ClientGone(e.to_string())),
            Err(_) => Err(self.write_stuck()),
        }
    }

    /// Writes what is queued for the socket; like [`Self::write`], ends early on an overflow.
    async fn flush(&mut self) -> Result<(), End> {
        let flushed = tokio::select! {
            biased;
            flushed = timeout(self.shared.config.write_timeout, self.ws.flush()) => flushed,
            () = self.inlet.overflowed() => return Err(self.lost(Lost::Overflowed).await),
        };
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::ClientGone(e.to_string())),
            Err(_) => Err(self.write_stuck()),
        }
    }

    fn write_stuck(&self) -> End {
        End::SlowConsumer(format!(
            "the socket accepted nothing for {} s",
            self.shared.config.write_timeout.as_secs_f64()
        ))
    }

    async fn close(&mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.to_string().into(),
        };
        let _ = timeout(Duration::from_secs(1), self.ws.close(Some(frame))).await;
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        let parsed = parse_request(text);
        let authenticated = matches!(&parsed, Ok(req) if req.jwt.is_some());
        if !authenticated && !self.shared.admit_unauthenticated_message() {
            if let Ok(req) = &parsed {
                if req.action == Action::Subscribe {
                    // It arrived (the subscribe deadline is met), but is not acted on.
                    self.subscribe_seen = true;
                }
            }
            let frame = ErrorFrame::new(
                RATE_LIMIT_EXCEEDED,
                format!(
                    "over {} messages without a JWT per second (--max-unauth-messages-per-sec); this message was ignored",
                    self.shared.config.max_unauth_messages_per_sec
                ),
            );
            return self.refuse(parsed.as_ref().ok(), &frame).await;
        }
        match parsed {
            Ok(req) => self.on_request(req).await,
            Err(frame) => self.refuse(None, &frame).await,
        }
    }

    /// Answers with an error frame (no envelope, no sequence number) and logs the refusal.
    async fn refuse(&mut self, req: Option<&Request>, frame: &ErrorFrame) -> Result<(), End> {
        let what = match req {
            Some(r) => format!(
                "{} {} [{}]",
                r.action.as_str(),
                r.channel.name(),
                echo(&r.product_ids.join(","))
            ),
            None => "a message".to_string(),
        };
        self.shared.log.line(format_args!(
            "connection {} refused {what}: {}: {}",
            self.id, frame.message, frame.reason
        ));
        self.write(Message::text(frame.to_json())).await?;
        self.flush().await
    }

    async fn on_request(&mut self, mut req: Request) -> Result<(), End> {
        // The exchange wants a subscribe within 5 s of connecting; one that is refused (a bad
        // JWT, an unknown product) still arrived, and the connection stays open after it.
        if req.action == Action::Subscribe {
            self.subscribe_seen = true;
        }
        let config = &self.shared.config;
        // The key whose orders a `user` subscribe is about.
        let mut key_name = None;
        match &req.jwt {
            Some(jwt) => {
                let now = self.shared.clock.now_unix();
                match check_jwt(&config.authorized_keys, jwt, now, config.jwt_leeway_secs) {
                    Ok(name) => key_name = Some(name.to_string()),
                    Err(frame) => return self.refuse(Some(&req), &frame).await,
                }
            }
            None if req.channel.needs_jwt() => {
                let frame = ErrorFrame::new(
                    AUTHENTICATION_FAILURE,
                    format!(
                        "jwt_required: the {} channel needs a JWT; build one from your CDP key (`cbbook auth jwt --key FILE`) and send it as \"jwt\"",
                        req.channel.name()
                    ),
                );
                return self.refuse(Some(&req), &frame).await;
            }
            None => {}
        }
        let mut seen = std::collections::HashSet::new();
        req.product_ids.retain(|p| seen.insert(p.clone()));
        if req.action == Action::Subscribe && req.channel.needs_products() {
            if req.product_ids.is_empty() {
                let frame = ErrorFrame::new(
                    FAILURE_TO_SUBSCRIBE,
                    format!(
                        "the {} channel needs product ids, e.g. \"product_ids\":[\"BTC-USD\"]",
                        req.channel.name()
                    ),
                );
                return self.refuse(Some(&req), &frame).await;
            }
            if let Some(bad) = req
                .product_ids
                .iter()
                .find(|p| self.shared.served_index(req.channel, p).is_none())
            {
                let mut reason = format!("{} is not a valid product", echo(bad));
                let served = self.shared.served_id(req.channel, bad);
                if let Err(problem) = crate::product_id::check(bad) {
                    // Not even an id: say what is wrong with it, since a long one is echoed
                    // cut and the client cannot match it by name (docs/sim.md). No example id:
                    // clients search the reason for the ids they asked for.
                    reason.push_str(&format!(" ({})", problem.problem()));
                } else if served != bad.as_str() {
                    reason.push_str(&format!(
                        " (it is served as {served}, which this server does not simulate)"
                    ));
                }
                let frame = ErrorFrame::new(FAILURE_TO_SUBSCRIBE, reason);
                return self.refuse(Some(&req), &frame).await;
            }
            if req.channel == Channel::Level2 {
                let adding: Vec<usize> = req
                    .product_ids
                    .iter()
                    .filter_map(|p| self.shared.served_index(req.channel, p))
                    .collect();
                let after = l2_streams_after(&self.active[Channel::Level2 as usize], &adding);
                let max = self.shared.config.max_l2_per_connection;
                if l2_over_limit(after, max) {
                    let frame = ErrorFrame::new(
                        TOO_MANY_L2_STREAMS,
                        format!(
                            "this subscribe would bring the connection to {after} level2 products; at most {max} per connection (--max-l2-per-connection), counting a -USDC product served as its -USD product once; spread products over several connections"
                        ),
                    );
                    return self.refuse(Some(&req), &frame).await;
                }
            }
        }
        match req.action {
            Action::Subscribe => self.subscribe(&req, key_name).await?,
            Action::Unsubscribe => self.unsubscribe(&req),
        }
        self.send_ack().await
    }

    async fn send_ack(&mut self) -> Result<(), End> {
        let events = frames::subscriptions_events(&self.subs);
        let timestamp = rfc3339_nanos(self.shared.clock.now());
        self.send_enveloped("subscriptions", &timestamp, &events, false)
            .await?;
        self.flush().await
    }

    /// Sends the channel's snapshots for the products, then records the subscription.
    async fn subscribe(&mut self, req: &Request, key_name: Option<String>) -> Result<(), End> {
        let shared = self.shared.clone();
        let channel = req.channel;
        let timestamp = rfc3339_nanos(shared.clock.now());
        // The served products, each once: BTC-USD and BTC-USDC in one subscribe are one stream.
        let mut indices: Vec<usize> = Vec::new();
        for p in req
            .product_ids
            .iter()
            .filter_map(|p| shared.served_index(channel, p))
        {
            if !indices.contains(&p) {
                indices.push(p);
            }
        }
        match channel {
            Channel::Level2 => {
                for &p in &indices {
                    // Wanted before the snapshot is taken, so no frame after it is missed.
                    self.inlet.want(p);
                    let (version, events) = {
                        let market = shared.products[p].lock();
                        (
                            market.version,
                            frames::l2_snapshot_events(&market, &timestamp),
                        )
                    };
                    // From now on only frames newer than the snapshot are forwarded.
                    self.l2_version[p] = Some(version);
                    self.active[channel as usize][p] = true;
                    self.asked_level2[p] = true;
                    self.send_enveloped(channel.wire(), &timestamp, &events, false)
                        .await?;
                }
            }
            Channel::Ticker | Channel::TickerBatch | Channel::MarketTrades | Channel::Candles => {
                for &p in &indices {
                    // Wanted before the snapshot is taken, so no frame after it is missed.
                    self.inlet.want(p);
                    let events = {
                        let market = shared.products[p].lock();
                        if channel == Channel::MarketTrades {
                            // Trade frames published before this snapshot are in it.
                            self.trades_after[p] = Some(market.last_published_trade_id());
                        }
                        match channel {
                            Channel::MarketTrades => frames::trades_events(
                                "snapshot",
                                &market.spec,
                                market.recent_trades(),
                            ),
                            Channel::Candles => frames::candles_events(
                                "snapshot",
                                &market.spec,
                                market.candle.as_ref(),
                            ),
                            _ => frames::ticker_events("snapshot", &market),
                        }
                    };
                    self.active[channel as usize][p] = true;
                    self.send_enveloped(channel.wire(), &timestamp, &events, false)
                        .await?;
                }
            }
            Channel::Status => {
                let specs: Vec<_> = indices
                    .iter()
                    .map(|&p| shared.products[p].lock().spec.clone())
                    .collect();
                let events = frames::status_events(&specs.iter().collect::<Vec<_>>());
                self.send_enveloped(channel.wire(), &timestamp, &events, false)
                    .await?;
            }
            Channel::User => {
                // A JWT was checked to get here (the channel needs one).
                let key = key_name.unwrap_or_default();
                // Subscribed to the updates before the snapshot is taken, so none is missed.
                let updates = shared.accounts.subscribe();
                let snapshot = shared.accounts.snapshot(&key, &req.product_ids);
                self.user = Some(UserSub {
                    key,
                    products: req.product_ids.clone(),
                    after: snapshot.version,
                    updates,
                });
                // Batches of 50 orders, one frame each (the exchange batches by 50).
                for events in &snapshot.batches {
                    self.send_enveloped(channel.wire(), &timestamp, events, false)
                        .await?;
                }
            }
            Channel::FuturesBalanceSummary => {
                self.send_enveloped(
                    channel.wire(),
                    &timestamp,
                    frames::FUTURES_BALANCE_EVENTS,
                    false,
                )
                .await?;
            }
            Channel::Heartbeats => self.heartbeats = true,
        }
        let entry = match self.subs.iter().position(|(c, _)| *c == channel) {
            Some(i) => &mut self.subs[i].1,
            None => {
                self.subs.push((channel, Vec::new()));
                let last = self.subs.len() - 1;
                &mut self.subs[last].1
            }
        };
        // Heartbeats and futures_balance_summary are not about products.
        let keeps_products = channel.needs_products() || channel == Channel::User;
        for p in req.product_ids.iter().filter(|_| keeps_products) {
            if !entry.contains(p) {
                entry.push(p.clone());
            }
        }
        Ok(())
    }

    /// Removes the listed products from the channel, or the whole channel when none is listed.
    fn unsubscribe(&mut self, req: &Request) {
        let channel = req.channel;
        let Some(i) = self.subs.iter().position(|(c, _)| *c == channel) else {
            return;
        };
        let removed: Vec<String> = if req.product_ids.is_empty() {
            self.subs.remove(i).1
        } else {
            let list = &mut self.subs[i].1;
            list.retain(|p| !req.product_ids.contains(p));
            if list.is_empty() {
                self.subs.remove(i);
            }
            req.product_ids.clone()
        };
        let still_asked: Vec<usize> = self
            .subs
            .iter()
            .filter(|(c, _)| *c == channel)
            .flat_map(|(_, ids)| ids.iter())
            .filter_map(|id| self.shared.served_index(channel, id))
            .collect();
        for product in removed {
            // A product still asked for under another id (BTC-USD after BTC-USDC is
            // unsubscribed) keeps its stream.
            if let Some(p) = self
                .shared
                .served_index(channel, &product)
                .filter(|p| !still_asked.contains(p))
            {
                self.active[channel as usize][p] = false;
                match channel {
                    Channel::Level2 => self.l2_version[p] = None,
                    Channel::MarketTrades => self.trades_after[p] = None,
                    _ => {}
                }
                if !self.active.iter().any(|on| on[p]) {
                    // No channel forwards it any more: its frames need not be queued.
                    self.inlet.unwant(p);
                }
            }
        }
        if channel == Channel::Heartbeats && !self.subs.iter().any(|(c, _)| *c == channel) {
            self.heartbeats = false;
        }
        if channel == Channel::User && !self.subs.iter().any(|(c, _)| *c == channel) {
            self.user = None;
        }
    }
}
