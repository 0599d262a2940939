//! Helpers for the feed's integration tests: the server's side of a scripted WebSocket session,
//! wait for a view, drain events, stop a feed, and compare a client's dump with the simulator's.

use std::sync::Arc;
use std::time::Duration;

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{BookState, FeedCommand, FeedEvent, FeedHandle, FeedView};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Generous: the machine is small and shared.
pub const WAIT: Duration = Duration::from_secs(40);

/// A scripted server's side of one client connection.
pub type ServerWs = WebSocketStream<TcpStream>;

/// A listener on a free loopback port, and the `ws://` URL a client reaches it at.
pub async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Accepts the client's next connection (within `limit`) and completes the WebSocket handshake.
pub async fn accept_within(listener: &TcpListener, limit: Duration) -> ServerWs {
    let (tcp, _) = tokio::time::timeout(limit, listener.accept())
        .await
        .expect("the client did not connect in time")
        .unwrap();
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

/// The client's next text message (within `limit`), as JSON; other messages are skipped.
pub async fn recv_within(ws: &mut ServerWs, limit: Duration) -> Value {
    loop {
        let msg = tokio::time::timeout(limit, ws.next())
            .await
            .expect("the client sent nothing in time")
            .expect("connection ended")
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Waits until a published view satisfies `cond`.
pub async fn wait_view(
    handle: &mut FeedHandle,
    what: &str,
    cond: impl Fn(&FeedView) -> bool,
) -> Arc<FeedView> {
    wait_view_within(WAIT, handle, what, cond).await
}

/// Waits, at most `limit`, until a published view satisfies `cond`.
pub async fn wait_view_within(
    limit: Duration,
    handle: &mut FeedHandle,
    what: &str,
    cond: impl Fn(&FeedView) -> bool,
) -> Arc<FeedView> {
    let result = tokio::time::timeout(limit, async {
        loop {
            {
                let view = handle.views.borrow_and_update().clone();
                if cond(&view) {
                    return view;
                }
            }
            handle.views.changed().await.expect("the feed stopped");
        }
    })
    .await;
    match result {
        Ok(view) => view,
        Err(_) => panic!(
            "timed out waiting for: {what}; last view: {:?}",
            handle.views.borrow()
        ),
    }
}

/// The events received so far.
pub fn events(handle: &mut FeedHandle) -> Vec<FeedEvent> {
    let mut out = Vec::new();
    while let Ok(e) = handle.events.try_recv() {
        out.push(e);
    }
    out
}

/// The reasons of the `Disconnected` events among `events`, in order.
pub fn disconnect_reasons(events: Vec<FeedEvent>) -> Vec<String> {
    events
        .into_iter()
        .filter_map(|e| match e {
            FeedEvent::Disconnected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

/// Shuts the feed down and returns its final core.
pub async fn stop(task: JoinHandle<FeedCore>, handle: &FeedHandle) -> FeedCore {
    stop_within(WAIT, task, handle).await
}

/// Shuts the feed down and returns its final core, failing the test if it takes over `limit`.
pub async fn stop_within(
    limit: Duration,
    task: JoinHandle<FeedCore>,
    handle: &FeedHandle,
) -> FeedCore {
    handle.commands.send(FeedCommand::Shutdown).unwrap();
    tokio::time::timeout(limit, task)
        .await
        .expect("feed did not stop")
        .unwrap()
}

pub fn state(view: &FeedView, product: &str) -> BookState {
    view.products
        .iter()
        .find(|p| p.product == product)
        .unwrap()
        .state
}

pub fn all_live(view: &FeedView) -> bool {
    view.products.iter().all(|p| p.state == BookState::Live)
}

/// Asserts that every product's book is `live` in the client's dump and has the same bids and
/// asks as in the simulator's, and that the books are not trivially empty.
pub fn assert_same_books(client: &Value, sim: &Value, products: &[&str]) {
    for product in products {
        let (c, s) = (&client[product], &sim[product]);
        assert!(c.is_object(), "client dump has no {product}: {client}");
        assert!(s.is_object(), "simulator dump has no {product}");
        assert_eq!(
            c["state"], "live",
            "{product}: the client's book is not live"
        );
        assert_eq!(s["state"], "live", "{product}: the simulator's book");
        let levels =
            s["bids"].as_array().map_or(0, Vec::len) + s["asks"].as_array().map_or(0, Vec::len);
        assert!(
            levels > 10,
            "{product}: the simulator's book is nearly empty ({levels} levels)"
        );
        for side in ["bids", "asks"] {
            if c[side] != s[side] {
                let (cs, ss) = (c[side].as_array().unwrap(), s[side].as_array().unwrap());
                let first_diff = cs.iter().zip(ss).position(|(a, b)| a != b);
                panic!(
                    "{product} {side} differ: client {} levels, simulator {} levels, first difference at {first_diff:?}",
                    cs.len(),
                    ss.len()
                );
            }
        }
    }
}

/// A dump-book text with every `"sequence_num":N` made `"sequence_num":_`: the one field whose
/// meaning differs between the client's dump and the simulator's (docs/sim.md), so that the rest
/// can be compared byte for byte.
pub fn without_sequence_nums(dump: &str) -> String {
    const KEY: &str = "\"sequence_num\":";
    let mut out = String::with_capacity(dump.len());
    let mut rest = dump;
    while let Some(at) = rest.find(KEY) {
        let after = &rest[at + KEY.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        assert!(digits > 0, "sequence_num is not a number in {dump:.200}");
        out.push_str(&rest[..at + KEY.len()]);
        out.push('_');
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}
