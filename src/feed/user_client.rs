//! The user connection (docs/feed.md, "Your orders"): with a key, one more socket, to the
//! user-data endpoint, subscribed to `user` (every product: `"product_ids":[]`) and `heartbeats`,
//! each with a fresh JWT. I/O only: what the frames mean is [`UserCore`]'s.
//!
//! It never stops the market feed: a refusal marks it refused (the auth pane says why) and it
//! tries again after [`REFUSED_RETRY`]; a lost connection is retried with the feed's backoff.
//! cbbook is read-only: this connection only subscribes and reads.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::auth::Key;
use crate::auth::clock::{JwtClock, signing_time};
use crate::feed::backoff::Backoff;
use crate::feed::client::{Shared, Socket, connect, describe};
use crate::feed::core::UserCore;
use crate::feed::protocol::SubscribeMessage;
use crate::feed::record::{ConnectInfo, USER_CONNECTION};
use crate::feed::time::now_ms;
use crate::feed::user_events::UserView;
use crate::logging::jwt_summary;

/// After a refused `user` subscribe, how long before trying again with a fresh JWT (a clock
/// put right, a key given the view permission), without pressing the server.
pub const REFUSED_RETRY: Duration = Duration::from_secs(60);
/// Heartbeats come every second: this long without any frame, the connection is left.
const WATCHDOG_FLOOR: Duration = Duration::from_secs(5);
/// Views of the user connection go out at most this often.
const VIEW_EVERY: Duration = Duration::from_millis(100);

/// What the user connection needs.
pub(crate) struct UserConnection {
    pub url: String,
    pub key: Arc<Key>,
    pub connect_timeout: Duration,
    pub watchdog: Duration,
    pub shared: Arc<Shared>,
    /// Which clock signs the JWTs (`--jwt-clock`), with the market connections' estimate.
    pub jwt_clock: JwtClock,
    pub views: watch::Sender<Arc<UserView>>,
    pub shutdown: watch::Receiver<bool>,
}

enum End {
    Lost(String),
    Shutdown,
}

impl UserConnection {
    /// Runs until shutdown; returns the final state (for the dump and `--stats`).
    pub(crate) async fn run(mut self) -> UserCore {
        let mut core = UserCore::new(self.url.clone());
        let mut backoff = Backoff::new();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            core.connecting(attempt);
            self.publish(&mut core);
            self.shared.connect_slot().await;
            let connecting = connect(self.url.clone(), self.shared.tls(), self.connect_timeout);
            let connected = tokio::select! {
                result = connecting => result,
                _ = self.shutdown.changed() => break,
            };
            let reason = match connected {
                Ok(socket) => {
                    let reason = match self.session(&mut core, socket).await {
                        End::Shutdown => break,
                        End::Lost(reason) => reason,
                    };
                    // Only a connection that was open (its `connect` line written) is recorded
                    // as lost: a failed attempt has nothing to replay.
                    let now = now_ms();
                    self.shared
                        .record(|r| r.disconnect_on(USER_CONNECTION, now, &reason));
                    reason
                }
                Err(reason) => reason,
            };
            let delay = if core.is_refused() {
                REFUSED_RETRY
            } else {
                backoff.next_delay()
            };
            tracing::warn!(%reason, delay_ms = delay.as_millis() as u64, "user connection lost");
            let retry_at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            core.reconnecting(&reason, retry_at, attempt);
            self.publish(&mut core);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.changed() => break,
            }
            if !core.is_refused() && core.view().snapshot_complete {
                backoff.reset();
            }
        }
        core.finished();
        self.publish(&mut core);
        core
    }

    fn publish(&self, core: &mut UserCore) {
        core.take_dirty();
        self.views.send_replace(Arc::new(core.view()));
    }

    async fn session(&mut self, core: &mut UserCore, mut socket: Socket) -> End {
        core.connection_started();
        tracing::info!(url = %self.url, "user connection open");
        // Recorded as a connection of its own (docs/recording.md, "Your orders").
        let info = ConnectInfo {
            url: self.url.clone(),
            authenticated: true,
            products: Vec::new(),
            user: true,
        };
        let now = now_ms();
        self.shared
            .record(|r| r.connect_on(USER_CONNECTION, now, &info));
        let mut recorded_generation = self.shared.recording_generation();
        for channel in ["user", "heartbeats"] {
            if let Err(reason) = self.send(core, &mut socket, "subscribe", channel).await {
                return End::Lost(reason);
            }
        }
        self.publish(core);
        let watchdog = self.watchdog.max(WATCHDOG_FLOOR);
        let mut last_frame = Instant::now();
        let mut tick = tokio::time::interval(VIEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                message = socket.next() => {
                    last_frame = Instant::now();
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text.to_string(),
                        Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                        Some(Ok(Message::Close(frame))) => {
                            return End::Lost(format!("the server closed the user connection{}",
                                frame.map(|f| format!(" ({} {})", u16::from(f.code), f.reason)).unwrap_or_default()));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(err)) => return End::Lost(describe(&err)),
                        None => return End::Lost("the user connection ended".to_string()),
                    };
                    let now = now_ms();
                    let is_json = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
                    self.shared
                        .record(|r| r.frame_on(USER_CONNECTION, now, &text, is_json));
                    let outcome = core.on_frame(&text, now);
                    if outcome.resubscribe
                        && let Err(reason) = self.resubscribe(core, &mut socket).await
                    {
                        return End::Lost(reason);
                    }
                }
                _ = tick.tick() => {
                    // The recording went on in a new file (`--record-rotate`): a fresh snapshot,
                    // so that the file starts with the whole set of orders.
                    let generation = self.shared.recording_generation();
                    if generation != recorded_generation {
                        recorded_generation = generation;
                        let now = now_ms();
                        self.shared
                            .record(|r| r.rotated_resync_on(USER_CONNECTION, now));
                        if let Err(reason) = self.resubscribe(core, &mut socket).await {
                            return End::Lost(reason);
                        }
                    }
                    if last_frame.elapsed() >= watchdog {
                        let _ = socket.close(None).await;
                        return End::Lost(format!(
                            "no frame on the user connection for {} s",
                            watchdog.as_secs()
                        ));
                    }
                    if core.take_dirty() {
                        self.views.send_replace(Arc::new(core.view()));
                    }
                }
                _ = self.shutdown.changed() => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return End::Shutdown;
                }
            }
        }
    }

    /// `user` again: its snapshot replaces the set (after a gap that may have lost an update, or
    /// to start a new recording file with every order).
    async fn resubscribe(&self, core: &mut UserCore, socket: &mut Socket) -> Result<(), String> {
        core.resubscribing();
        for kind in ["unsubscribe", "subscribe"] {
            self.send(core, socket, kind, "user").await?;
        }
        Ok(())
    }

    /// One subscribe or unsubscribe with a fresh JWT, every product (`[]`).
    async fn send(
        &self,
        core: &mut UserCore,
        socket: &mut Socket,
        kind: &str,
        channel: &str,
    ) -> Result<(), String> {
        self.shared.message_slot().await;
        // The market connections measure the clock (the user connection may have no frame yet
        // when it signs): their estimate moves `nbf` as it does theirs.
        let offset = self.shared.clock().map(|estimate| estimate.offset_ms);
        let (nbf, signed_with) = signing_time(self.jwt_clock, now_ms(), offset);
        let jwt = self.key.ws_jwt(nbf);
        let products: [String; 0] = [];
        let message = if kind == "unsubscribe" {
            SubscribeMessage::unsubscribe(channel, &products, Some(&jwt))
        } else {
            SubscribeMessage::subscribe(channel, &products, Some(&jwt))
        };
        let redacted = message.to_redacted_json();
        socket
            .send(Message::text(message.to_json()))
            .await
            .map_err(|err| format!("cannot send {redacted}: {}", describe(&err)))?;
        tracing::info!(message = %redacted, jwt = %jwt_summary(&jwt), "sent on the user connection");
        core.subscribe_sent(channel, redacted, Some(jwt), signed_with);
        Ok(())
    }
}
