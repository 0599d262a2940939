//! Opening a connection (TCP, TLS, the WebSocket handshake) and its errors in words: what a
//! tungstenite error means, with the cause of TLS failures spelled out and a hint when a `ws://`
//! URL meets a TLS server.

use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{MAX_MESSAGE_BYTES, READ_CHUNK_BYTES, Socket};
use crate::feed::tls;

/// TCP, TLS and the WebSocket handshake, within `timeout`.
pub(crate) async fn connect(
    url: String,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Socket, String> {
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .read_buffer_size(READ_CHUNK_BYTES);
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(ws_config),
        true,
        Some(Connector::Rustls(tls)),
    );
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(err)) => Err(format!(
            "cannot connect to {url}: {}{}",
            describe(&err),
            plain_to_tls_hint(&url, &err)
        )),
        Err(_) => Err(format!(
            "cannot connect to {url}: no answer within {} s",
            timeout.as_secs_f64()
        )),
    }
}

/// A `ws://` handshake answered with something that is not HTTP: most likely a TLS server,
/// whose alert bytes the HTTP parser cannot read (`invalid HTTP version`).
pub(super) fn plain_to_tls_hint(url: &str, err: &tungstenite::Error) -> &'static str {
    let plain = url
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("ws://"));
    let not_http = matches!(
        err,
        tungstenite::Error::Protocol(tungstenite::error::ProtocolError::HttparseError(_))
            | tungstenite::Error::HttpFormat(_)
    );
    if plain && not_http {
        " (the server may speak TLS: try wss://)"
    } else {
        ""
    }
}

/// A tungstenite error in words, with the cause of TLS failures spelled out.
pub(crate) fn describe(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Capacity(c) => {
            format!(
                "a frame over the {} MiB limit ({c})",
                MAX_MESSAGE_BYTES >> 20
            )
        }
        tungstenite::Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => format!("TLS: {}", tls::describe_tls_error(tls)),
            None => io.to_string(),
        },
        other => other.to_string(),
    }
}
