//! `cbbook auth clock`: how far this machine's clock is from the server's, for bot developers
//! (docs/auth.md, "Clock skew").
//!
//! Connects, subscribes to `heartbeats` only (no JWT needed), reads frames until enough
//! heartbeats have come (one a second) and measures the offset as the feed does
//! ([`ClockEstimator`]): the smallest receive-minus-timestamp is the upper bound, and the ack of
//! the subscribe, stamped after it was sent, the lower one. Exit status: 0 within the server's
//! tolerance, 1 over it (JWTs signed with this machine's clock would be refused), 2 when nothing
//! could be measured.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::auth::clock::{SERVER_TOLERANCE_MS, describe_offset, offset_refuses_tokens};
use crate::feed::core::clock::{ClockEstimate, ClockEstimator};
use crate::feed::protocol::{self, ServerMessage, SubscribeMessage};
use crate::feed::time::{now_ms, rfc3339_ms};
use crate::output::{json_line_to_stdout, to_stderr, to_stdout};

/// What to measure against, and for how long.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub url: String,
    pub ca_cert: Option<PathBuf>,
    /// Heartbeats to read (one a second) before answering.
    pub heartbeats: u32,
    /// Give up after this long (connecting included).
    pub limit: Duration,
}

/// Connects and measures (see the module docs).
pub async fn probe(config: &ProbeConfig) -> Result<ClockEstimate, String> {
    let tls =
        crate::feed::tls::client_config(config.ca_cert.as_deref()).map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + config.limit;
    let mut socket = crate::feed::client::connect(config.url.clone(), tls, config.limit).await?;
    let message = SubscribeMessage::subscribe("heartbeats", &[], None).to_json();
    let sent_ms = now_ms();
    socket
        .send(Message::text(message))
        .await
        .map_err(|e| format!("cannot subscribe to heartbeats: {e}"))?;
    let mut estimator = ClockEstimator::default();
    let mut heartbeats = 0;
    let mut answered = false;
    while heartbeats < config.heartbeats {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let text = match next {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) => {
                return Err("the server closed the connection".to_owned());
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(format!("connection error: {e}")),
        };
        let received_ms = now_ms();
        let message = match protocol::parse(text.as_str()) {
            Ok(message) => message,
            Err(_) => continue,
        };
        if let ServerMessage::Error { message, reason } = &message {
            let reason = reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(format!(
                "the server refused the heartbeats subscribe: {message}{reason}"
            ));
        }
        let Some(server_ms) = message
            .envelope()
            .and_then(|e| e.timestamp.as_deref())
            .and_then(rfc3339_ms)
        else {
            continue;
        };
        estimator.sample(received_ms, server_ms);
        match message {
            ServerMessage::Subscriptions { .. } if !answered => {
                answered = true;
                estimator.answer(sent_ms, received_ms, server_ms);
            }
            ServerMessage::Heartbeat { .. } => heartbeats += 1,
            _ => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
    estimator.estimate().ok_or_else(|| {
        format!(
            "no timed frame arrived within {} s: is {} a Coinbase Advanced Trade WebSocket?",
            config.limit.as_secs(),
            config.url
        )
    })
}

/// The readable answer: `this machine is +2.98 s ahead of the server (from 6 frames, ±9 ms)`,
/// and what to do when it is over the tolerance.
pub fn report(estimate: &ClockEstimate) -> String {
    let error = estimate
        .error_ms
        .map_or_else(String::new, |e| format!(", ±{e} ms"));
    let mut text = format!(
        "this machine is {} the server (from {} frames{error})\n",
        describe_offset(estimate.offset_ms),
        estimate.samples
    );
    if offset_refuses_tokens(estimate.offset_ms) {
        text.push_str(&format!(
            "over the server's tolerance (about {} s): JWTs signed with this machine's clock are \
             refused (`authentication failure`). Sync the clock (NTP), or sign with the server's \
             time (cbbook --jwt-clock auto, the default, or server)\n",
            SERVER_TOLERANCE_MS / 1000
        ));
    }
    text
}

/// `cbbook auth clock`: measures, prints, and answers 0, 1 or 2 (see the module docs).
pub fn run(config: &ProbeConfig, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            to_stderr(format_args!(
                "cbbook: cannot start the async runtime: {e}\n"
            ));
            return ExitCode::from(2);
        }
    };
    let estimate = match runtime.block_on(probe(config)) {
        Ok(estimate) => estimate,
        Err(e) => {
            to_stderr(format_args!(
                "cbbook: cannot measure the clock offset: {}\n",
                crate::text::printable(&e)
            ));
            return ExitCode::from(2);
        }
    };
    let written = if json {
        let line = serde_json::json!({
            "offset_ms": estimate.offset_ms,
            "samples": estimate.samples,
            "error_ms": estimate.error_ms,
            "ok": !offset_refuses_tokens(estimate.offset_ms),
        });
        json_line_to_stdout(&line.to_string())
    } else {
        to_stdout(format_args!("{}", report(&estimate)))
    };
    if let Err(e) = written {
        to_stderr(format_args!(
            "cbbook: cannot write the result to stdout: {e}\n"
        ));
        return ExitCode::from(2);
    }
    if offset_refuses_tokens(estimate.offset_ms) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_the_offset_and_what_to_do_over_the_tolerance() {
        let ahead = ClockEstimate {
            offset_ms: 2_980,
            samples: 6,
            error_ms: Some(5),
        };
        let text = report(&ahead);
        assert!(
            text.starts_with(
                "this machine is +2.98 s ahead of the server (from 6 frames, ±5 ms)\n"
            ),
            "{text}"
        );
        assert!(text.contains("Sync the clock (NTP)"), "{text}");
        let fine = ClockEstimate {
            offset_ms: -40,
            samples: 6,
            error_ms: None,
        };
        assert_eq!(
            report(&fine),
            "this machine is -0.04 s behind the server (from 6 frames)\n"
        );
    }
}
