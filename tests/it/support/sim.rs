//! Helpers for the simulator's integration tests: a WebSocket test client that speaks JSON, and
//! an exact client-side book to check what the simulator sends.
// Test helpers fail the test loudly, which is what expect and unwrap are for here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use cbbook::sim::{self, SimConfig, SimHandle, SimLog};
use futures_util::{SinkExt, StreamExt};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

/// Generous: the test machine has two busy cores.
pub const WAIT: Duration = Duration::from_secs(20);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts an in-process simulator with `config`, logging nothing.
pub fn start(config: SimConfig) -> SimHandle {
    sim::spawn(SimConfig {
        log: SimLog::Silent,
        ..config
    })
    .unwrap()
}

/// A test client.
pub struct Client {
    pub ws: Ws,
}

/// What reading the next frame found.
#[derive(Debug)]
pub enum Next {
    Frame(Value),
    /// The server sent a close frame.
    Closed(Option<String>),
    /// The connection ended without a close frame (or with an error).
    Dropped(String),
    /// Nothing arrived in time.
    Silent,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        Client::connect_with(url, None).await
    }

    pub async fn connect_with(url: &str, connector: Option<Connector>) -> Client {
        let (ws, _) = timeout(
            WAIT,
            tokio_tungstenite::connect_async_tls_with_config(
                url,
                Some(ws_config()),
                true,
                connector,
            ),
        )
        .await
        .expect("connect timed out")
        .expect("connect failed");
        Client { ws }
    }

    /// A plain `ws://` client whose socket's receive buffer is `bytes` (the kernel may double
    /// it), so that a client that does not read soon leaves the server's writes waiting.
    pub async fn connect_small_window(addr: SocketAddr, bytes: u32) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let tcp = timeout(WAIT, socket.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        let (ws, _) = timeout(
            WAIT,
            tokio_tungstenite::client_async_with_config(
                format!("ws://{addr}"),
                MaybeTlsStream::Plain(tcp),
                Some(ws_config()),
            ),
        )
        .await
        .expect("handshake timed out")
        .expect("handshake failed");
        Client { ws }
    }

    pub async fn send(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .expect("send failed");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send failed");
    }

    pub async fn subscribe(&mut self, channel: &str, products: &[&str]) {
        self.send(json!({"type":"subscribe","product_ids":products,"channel":channel}))
            .await;
    }

    pub async fn unsubscribe(&mut self, channel: &str, products: &[&str]) {
        self.send(json!({"type":"unsubscribe","product_ids":products,"channel":channel}))
            .await;
    }

    /// The next text frame as raw text, within `limit`.
    pub async fn next_raw(&mut self, limit: Duration) -> Result<String, Next> {
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match timeout(left, self.ws.next()).await {
                Err(_) => return Err(Next::Silent),
                Ok(None) => return Err(Next::Dropped("end of stream".into())),
                Ok(Some(Err(e))) => return Err(Next::Dropped(describe(&e))),
                Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Err(Next::Closed(frame.map(|f| f.reason.to_string())));
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next frame, whatever it is.
    pub async fn next_within(&mut self, limit: Duration) -> Next {
        match self.next_raw(limit).await {
            Ok(text) => Next::Frame(serde_json::from_str(&text).expect("frame is not JSON")),
            Err(other) => other,
        }
    }

    /// The next frame; panics if none arrives.
    pub async fn next(&mut self) -> Value {
        match self.next_within(WAIT).await {
            Next::Frame(v) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Frames until one satisfies `pred` (returned); every frame read is passed to `seen`.
    pub async fn until(
        &mut self,
        mut pred: impl FnMut(&Value) -> bool,
        mut seen: impl FnMut(&Value),
    ) -> Value {
        let until = Instant::now() + WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.next_within(left).await {
                Next::Frame(v) => {
                    seen(&v);
                    if pred(&v) {
                        return v;
                    }
                }
                other => panic!("waiting for a frame, got {other:?}"),
            }
        }
    }

    /// Skips frames until the connection ends (or stays silent for `WAIT`); returns how.
    pub async fn until_closed(&mut self) -> Next {
        loop {
            match self.next_within(WAIT).await {
                Next::Frame(_) => continue,
                other => return other,
            }
        }
    }

    /// The next frame on `channel` (skipping others).
    pub async fn next_on(&mut self, channel: &str) -> Value {
        self.until(|v| v["channel"] == channel, |_| {}).await
    }

    /// The next error frame (skipping data frames).
    pub async fn next_error(&mut self) -> Value {
        self.until(|v| v["type"] == "error", |_| {}).await
    }
}

fn describe(e: &WsError) -> String {
    e.to_string()
}

/// The envelope's channel, or "error".
pub fn kind(v: &Value) -> String {
    match v["channel"].as_str() {
        Some(c) => c.to_string(),
        None => v["type"].as_str().unwrap_or("?").to_string(),
    }
}

pub fn seq(v: &Value) -> u64 {
    v["sequence_num"].as_u64().expect("no sequence_num")
}

/// An exact book as a client keeps it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TestBook {
    pub bids: BTreeMap<Decimal, Decimal>,
    pub asks: BTreeMap<Decimal, Decimal>,
}

/// A price or size is printed minimally: no trailing zeros after a point, no bare point, no
/// exponent, no sign.
pub fn is_minimal_decimal(text: &str) -> bool {
    let ok_chars = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let no_trailing = !text.contains('.') || !(text.ends_with('0') || text.ends_with('.'));
    let no_leading_zero = !(text.len() > 1 && text.starts_with('0') && !text.starts_with("0."));
    ok_chars && no_trailing && no_leading_zero && !text.is_empty()
}

impl TestBook {
    /// Applies every l2_data event of a frame for `product`; panics on anything malformed.
    pub fn apply_frame(&mut self, frame: &Value, product: &str) {
        for event in frame["events"].as_array().expect("events") {
            if event["product_id"] != product {
                continue;
            }
            if event["type"] == "snapshot" {
                self.bids.clear();
                self.asks.clear();
            }
            for u in event["updates"].as_array().expect("updates") {
                let price_text = u["price_level"].as_str().expect("price_level");
                let size_text = u["new_quantity"].as_str().expect("new_quantity");
                assert!(is_minimal_decimal(price_text), "price {price_text}");
                assert!(is_minimal_decimal(size_text), "size {size_text}");
                let price = Decimal::from_str(price_text).expect("price");
                let size = Decimal::from_str(size_text).expect("size");
                let side = match u["side"].as_str() {
                    Some("bid") => &mut self.bids,
                    Some("offer") => &mut self.asks,
                    other => panic!("side {other:?}"),
                };
                if size.is_zero() {
                    side.remove(&price);
                } else {
                    side.insert(price, size);
                }
            }
        }
    }

    pub fn is_crossed(&self) -> bool {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(b), Some(a)) => b >= a,
            _ => false,
        }
    }

    pub fn levels(&self) -> usize {
        self.bids.len() + self.asks.len()
    }

    /// The book as the dump-book JSON's `bids`/`asks` (canonical text, best first).
    pub fn dump_sides(&self) -> (Value, Value) {
        let row = |(p, s): (&Decimal, &Decimal)| {
            json!([p.normalize().to_string(), s.normalize().to_string()])
        };
        (
            Value::Array(self.bids.iter().rev().map(row).collect()),
            Value::Array(self.asks.iter().map(row).collect()),
        )
    }
}

/// Waits until `cond` holds, polling; panics after `WAIT`.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// RFC 3339 UTC with an optional fraction of up to nine digits and a `Z`.
pub fn is_rfc3339_nanos_z(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 20 || !text.ends_with('Z') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let head = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let rest = &text[19..text.len() - 1];
    let frac_ok = rest.is_empty()
        || (rest.starts_with('.')
            && (2..=10).contains(&rest.len())
            && rest[1..].bytes().all(|c| c.is_ascii_digit()));
    head && frac_ok && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}
