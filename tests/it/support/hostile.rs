//! A scripted hostile WebSocket server: it plays a script of frames to each connection the
//! client opens (crossed books, bad levels, unknown sides and event types, binary frames,
//! frames on the wrong channel, acks out of order, refusals with ids cut short), numbering the
//! frames that carry an envelope itself, waits for what the client sends where the script says
//! so, and keeps every message the client sent with when it arrived. The frame builders are
//! also what the reference-model property test (`rel::model`) feeds the core without a socket,
//! so both speak the same frames.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::support::feed::WAIT;

/// One step of a connection's script.
#[derive(Debug, Clone)]
pub enum Step {
    /// A frame with an envelope: the server gives it the connection's next `sequence_num`.
    Numbered { channel: String, events: Value },
    /// A text frame sent exactly as given (errors have no envelope; broken frames carry what
    /// number they like). Takes no number.
    Text(String),
    /// A text frame with `{seq}` replaced by the connection's next number: a frame the client
    /// will refuse but whose number is there to be read.
    TextNumbered(String),
    /// [`Step::Numbered`], sent as a binary frame (UTF-8 JSON: the client reads it as text).
    NumberedBinary { channel: String, events: Value },
    /// A binary frame sent as given (takes no number).
    Binary(Vec<u8>),
    /// Skip `n` numbers: the client sees a gap.
    Skip(u64),
    /// Wait (at most [`WAIT`]) until the client has sent, on this connection, a message with
    /// this `type` and `channel`, after those already waited for.
    Expect { kind: String, channel: String },
}

/// A message the client sent.
#[derive(Debug, Clone)]
pub struct Received {
    /// The connection, from 0 in the order accepted.
    pub connection: usize,
    pub at: Instant,
    pub message: Value,
}

/// The server: its URL and what the client sent.
pub struct Hostile {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Listens on loopback; connection `i` plays `scripts[i]`. Connections past the last script
    /// are held open and silent.
    pub async fn start(scripts: Vec<Vec<Step>>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            let mut scripts = scripts.into_iter();
            let mut connection = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let script = scripts.next().unwrap_or_default();
                tokio::spawn(play(connection, ws, script, log.clone()));
                connection += 1;
            }
        });
        Hostile {
            url,
            received,
            task,
        }
    }

    /// Everything the client sent so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The client's subscribes and unsubscribes for `channel` so far, as (type, when, products).
    pub fn sent_for(&self, channel: &str) -> Vec<(String, Instant, Vec<String>)> {
        self.received()
            .into_iter()
            .filter(|r| r.message["channel"] == channel)
            .map(|r| {
                let products = r.message["product_ids"]
                    .as_array()
                    .map(|ids| {
                        ids.iter()
                            .map(|p| p.as_str().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                let kind = r.message["type"].as_str().unwrap_or_default().to_owned();
                (kind, r.at, products)
            })
            .collect()
    }
}

/// Plays one script to one connection, logging what the client sends meanwhile and after.
async fn play(
    connection: usize,
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    script: Vec<Step>,
    log: Arc<Mutex<Vec<Received>>>,
) {
    let (mut sink, mut stream) = ws.split();
    let arrived = Arc::new(Notify::new());
    let reader = {
        let (log, arrived) = (log.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let message = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    log.lock().unwrap().push(Received {
                        connection,
                        at: Instant::now(),
                        message,
                    });
                    arrived.notify_waiters();
                }
            }
        })
    };
    let mut seq = 0u64;
    // How many of this connection's messages the script's `Expect`s have used up.
    let mut used = 0usize;
    for step in script {
        let sent = match step {
            Step::Numbered { channel, events } => {
                let frame = envelope(&channel, seq, &events);
                seq += 1;
                sink.send(Message::text(frame)).await
            }
            Step::NumberedBinary { channel, events } => {
                let frame = envelope(&channel, seq, &events);
                seq += 1;
                sink.send(Message::binary(frame.into_bytes())).await
            }
            Step::Text(text) => sink.send(Message::text(text)).await,
            Step::TextNumbered(text) => {
                let frame = text.replace("{seq}", &seq.to_string());
                seq += 1;
                sink.send(Message::text(frame)).await
            }
            Step::Binary(bytes) => sink.send(Message::binary(bytes)).await,
            Step::Skip(n) => {
                seq += n;
                Ok(())
            }
            Step::Expect { kind, channel } => {
                used = wait_for_message(connection, &log, &arrived, used, &kind, &channel).await;
                Ok(())
            }
        };
        if sent.is_err() {
            break;
        }
    }
    // Held open: the client decides when it ends.
    let _ = reader.await;
}

/// Waits for the client's next `kind` message for `channel` on `connection` after the first
/// `used` of its messages; returns how many are used up then.
async fn wait_for_message(
    connection: usize,
    log: &Mutex<Vec<Received>>,
    arrived: &Notify,
    used: usize,
    kind: &str,
    channel: &str,
) -> usize {
    let found = async {
        loop {
            let notified = arrived.notified();
            {
                let log = log.lock().unwrap();
                let mine = log.iter().filter(|r| r.connection == connection);
                if let Some(at) = mine
                    .clone()
                    .skip(used)
                    .position(|r| r.message["type"] == kind && r.message["channel"] == channel)
                {
                    return used + at + 1;
                }
            }
            notified.await;
        }
    };
    tokio::time::timeout(WAIT, found)
        .await
        .unwrap_or_else(|_| panic!("the client sent no {kind} for {channel} in time"))
}

/// The text frames a script sends, numbered as the server numbers them, without a socket:
/// what the property test feeds the core. `Expect` steps send nothing; binary frames come as
/// bytes. (The scripted server plays the same steps to a client.)
pub fn frames_of(script: &[Step]) -> Vec<Vec<u8>> {
    let mut seq = 0u64;
    let mut frames = Vec::new();
    for step in script {
        match step {
            Step::Numbered { channel, events } | Step::NumberedBinary { channel, events } => {
                frames.push(envelope(channel, seq, events).into_bytes());
                seq += 1;
            }
            Step::Text(text) => frames.push(text.clone().into_bytes()),
            Step::TextNumbered(text) => {
                frames.push(text.replace("{seq}", &seq.to_string()).into_bytes());
                seq += 1;
            }
            Step::Binary(bytes) => frames.push(bytes.clone()),
            Step::Skip(n) => seq += n,
            Step::Expect { .. } => {}
        }
    }
    frames
}

/// The frame the server sends: the exchange's envelope around `events`.
pub fn envelope(channel: &str, seq: u64, events: &Value) -> String {
    json!({"channel": channel, "client_id": "", "timestamp": "2026-01-01T00:00:00.123Z",
           "sequence_num": seq, "events": events})
    .to_string()
}

/// A level as `(side, price, size)`, side as the wire writes it (`bid`, `offer`, or anything).
pub type Level<'a> = (&'a str, &'a str, &'a str);

/// The `events` of an `l2_data` frame: one event of `kind` for `product`.
pub fn l2_events(kind: &str, product: &str, levels: &[Level<'_>]) -> Value {
    let updates: Vec<Value> = levels
        .iter()
        .map(|(side, price, size)| {
            json!({"side": side, "event_time": "2026-01-01T00:00:00Z",
                   "price_level": price, "new_quantity": size})
        })
        .collect();
    json!([{"type": kind, "product_id": product, "updates": updates}])
}

pub fn snapshot(product: &str, levels: &[Level<'_>]) -> Step {
    l2("snapshot", product, levels)
}

pub fn update(product: &str, levels: &[Level<'_>]) -> Step {
    l2("update", product, levels)
}

/// An `l2_data` frame whose event type is `kind` (`delta` for one the client does not know).
pub fn l2(kind: &str, product: &str, levels: &[Level<'_>]) -> Step {
    Step::Numbered {
        channel: "l2_data".into(),
        events: l2_events(kind, product, levels),
    }
}

/// Book data on a channel that is not `l2_data` (`ticker`, a channel that does not exist):
/// ignored, but its number counts.
pub fn on_channel(channel: &str, product: &str, levels: &[Level<'_>]) -> Step {
    Step::Numbered {
        channel: channel.into(),
        events: l2_events("update", product, levels),
    }
}

/// The `subscriptions` ack naming `level2` products (cumulative, with heartbeats).
pub fn ack(level2: &[&str]) -> Step {
    Step::Numbered {
        channel: "subscriptions".into(),
        events: json!([{"subscriptions": {"heartbeats": ["heartbeats"], "level2": level2}}]),
    }
}

pub fn heartbeat() -> Step {
    Step::Numbered {
        channel: "heartbeats".into(),
        events: json!([{"current_time": "2026-01-01 00:00:00 +0000 UTC", "heartbeat_counter": 1}]),
    }
}

/// An error frame (no envelope, no number).
pub fn error(message: &str, reason: &str) -> Step {
    Step::Text(json!({"type": "error", "message": message, "reason": reason}).to_string())
}

/// An `l2_data` update sent as a binary frame (UTF-8 JSON: the client reads it as text).
pub fn binary_update(product: &str, levels: &[Level<'_>]) -> Step {
    Step::NumberedBinary {
        channel: "l2_data".into(),
        events: l2_events("update", product, levels),
    }
}

/// The client's subscribes on a new connection: level2, then heartbeats.
pub fn hello() -> Vec<Step> {
    vec![
        expect("subscribe", "level2"),
        expect("subscribe", "heartbeats"),
    ]
}

pub fn expect(kind: &str, channel: &str) -> Step {
    Step::Expect {
        kind: kind.into(),
        channel: channel.into(),
    }
}

/// A resync the client sends: unsubscribe then subscribe level2.
pub fn resync() -> Vec<Step> {
    vec![
        expect("unsubscribe", "level2"),
        expect("subscribe", "level2"),
    ]
}
