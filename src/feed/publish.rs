//! Hands the core's state to the viewer without ever waiting on it: views through a `watch`
//! (latest only) at most [`MAX_VIEWS_PER_SEC`] times a second and only when something changed,
//! events through a bounded channel with `try_send` (dropped and counted when full).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::feed::core::FeedCore;
use crate::feed::events::{FeedCommand, FeedEvent, FeedHandle, FeedView, ViewRequest};

/// Views published per second, at most.
pub const MAX_VIEWS_PER_SEC: u32 = 30;
/// The shortest time between two views.
pub const VIEW_INTERVAL: Duration = Duration::from_millis(1000 / MAX_VIEWS_PER_SEC as u64);
/// The shortest time between two views of a connection that does not carry the product on
/// screen (its products show only in the tabs and the watchlist, which need no 30 updates a
/// second): with 20 connections, views are built mostly for the one that is drawn.
pub const BACKGROUND_VIEW_INTERVAL: Duration = Duration::from_millis(100);
/// Events buffered for the viewer before new ones are dropped (and counted).
pub const EVENT_CAPACITY: usize = 4096;

/// The feed's end of a [`FeedHandle`].
pub struct Publisher {
    views: watch::Sender<Arc<FeedView>>,
    events: mpsc::Sender<FeedEvent>,
    request: ViewRequest,
    last_view: Option<Instant>,
}

/// A connected pair: the feed keeps the [`Publisher`] and the command receiver, the viewer the
/// [`FeedHandle`].
pub fn channel(
    core: &FeedCore,
    request: ViewRequest,
    now_ms: i64,
) -> (Publisher, mpsc::UnboundedReceiver<FeedCommand>, FeedHandle) {
    let (view_tx, view_rx) = watch::channel(core.shared_view(&request, now_ms));
    let (event_tx, event_rx) = mpsc::channel(EVENT_CAPACITY);
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let publisher = Publisher {
        views: view_tx,
        events: event_tx,
        request,
        last_view: None,
    };
    let handle = FeedHandle {
        views: view_rx,
        events: event_rx,
        commands: command_tx,
    };
    (publisher, command_rx, handle)
}

/// One connection's end of a sharded session (`feed/session.rs`): its views go to the session
/// (which merges them), its events straight into the session's shared channel `events`.
pub struct ConnectionChannel {
    pub publisher: Publisher,
    pub commands: mpsc::UnboundedReceiver<FeedCommand>,
    pub command_sender: mpsc::UnboundedSender<FeedCommand>,
    pub views: watch::Receiver<Arc<FeedView>>,
}

/// A [`Publisher`] whose events go into an existing channel.
pub fn connection_channel(
    core: &FeedCore,
    request: ViewRequest,
    now_ms: i64,
    events: mpsc::Sender<FeedEvent>,
) -> ConnectionChannel {
    let (view_tx, view_rx) = watch::channel(core.shared_view(&request, now_ms));
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    ConnectionChannel {
        publisher: Publisher {
            views: view_tx,
            events,
            request,
            last_view: None,
        },
        commands: command_rx,
        command_sender: command_tx,
        views: view_rx,
    }
}

impl Publisher {
    /// The sender of the event channel (for the connections of a sharded session).
    pub fn event_sender(&self) -> mpsc::Sender<FeedEvent> {
        self.events.clone()
    }

    /// Sends one event; never waits. `false` when it was dropped (the channel is full).
    pub fn send_event(&self, event: FeedEvent) -> bool {
        !matches!(
            self.events.try_send(event),
            Err(mpsc::error::TrySendError::Full(_))
        )
    }

    /// Publishes a view built elsewhere (the session's merge of its connections' views).
    pub fn publish_view(&mut self, view: Arc<FeedView>) {
        self.views.send_replace(view);
        self.last_view = Some(Instant::now());
    }

    /// Whether a view may go out now (the last one is at least [`VIEW_INTERVAL`] old).
    pub fn view_due(&self) -> bool {
        self.last_view
            .is_none_or(|last| last.elapsed() >= VIEW_INTERVAL)
    }

    pub fn request(&self) -> &ViewRequest {
        &self.request
    }

    /// A new view request applies from the next view, which is due at once.
    pub fn set_request(&mut self, request: ViewRequest) {
        self.request = request;
        self.last_view = None;
    }

    /// Sends the queued events; never waits.
    pub fn forward_events(&mut self, core: &mut FeedCore) {
        let mut dropped = 0;
        for event in core.drain_events() {
            if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
                dropped += 1;
            }
        }
        for _ in 0..dropped {
            core.count_dropped_event();
        }
    }

    /// Publishes a view if something changed and the last one is old enough
    /// ([`VIEW_INTERVAL`], or [`BACKGROUND_VIEW_INTERVAL`] when `core` does not carry the
    /// product on screen).
    pub fn publish_if_due(&mut self, core: &mut FeedCore, now_ms: i64) {
        let now = Instant::now();
        let background = self
            .request
            .rows_for
            .as_ref()
            .is_some_and(|shown| !core.products().contains(shown));
        let interval = if background {
            BACKGROUND_VIEW_INTERVAL
        } else {
            VIEW_INTERVAL
        };
        let due = self
            .last_view
            .is_none_or(|last| now.duration_since(last) >= interval);
        if due && core.is_dirty() {
            self.publish(core, now_ms);
        }
    }

    /// Publishes a view now (the final state, or after a change the viewer must see at once).
    pub fn publish(&mut self, core: &mut FeedCore, now_ms: i64) {
        self.forward_events(core);
        core.take_dirty();
        core.heat_follow(&self.request);
        self.views
            .send_replace(core.shared_view(&self.request, now_ms));
        self.last_view = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> FeedCore {
        FeedCore::new("ws://test", &["BTC-USD".to_owned()], false, 0)
    }

    #[test]
    fn a_connection_without_the_product_on_screen_publishes_less_often() {
        let mut core = core();
        let shown_elsewhere = ViewRequest {
            rows_for: Some("ETH-USD".to_owned()),
            ..ViewRequest::default()
        };
        let (mut publisher, _commands, mut handle) = channel(&core, shown_elsewhere, 0);
        publisher.publish_if_due(&mut core, 1);
        handle.views.borrow_and_update();
        std::thread::sleep(VIEW_INTERVAL + Duration::from_millis(5));
        core.on_frame("garbage", 2);
        publisher.publish_if_due(&mut core, 2);
        assert!(
            !handle.views.has_changed().unwrap(),
            "a background connection waits longer than the view interval"
        );
        std::thread::sleep(BACKGROUND_VIEW_INTERVAL);
        publisher.publish_if_due(&mut core, 3);
        assert!(handle.views.has_changed().unwrap());
        // Its product on screen: the normal interval.
        publisher.set_request(ViewRequest {
            rows_for: Some("BTC-USD".to_owned()),
            ..ViewRequest::default()
        });
        publisher.publish_if_due(&mut core, 4);
        handle.views.borrow_and_update();
        std::thread::sleep(VIEW_INTERVAL + Duration::from_millis(5));
        core.on_frame("garbage", 5);
        publisher.publish_if_due(&mut core, 5);
        assert!(handle.views.has_changed().unwrap());
    }

    #[test]
    fn views_are_bounded_in_rate_and_only_sent_when_dirty() {
        let mut core = core();
        let (mut publisher, _commands, mut handle) = channel(&core, ViewRequest::default(), 0);
        handle.views.borrow_and_update();
        publisher.publish_if_due(&mut core, 1);
        assert!(
            handle.views.has_changed().unwrap(),
            "the first view goes out at once"
        );
        handle.views.borrow_and_update();
        // Dirty again at once: too soon for another view.
        core.on_frame("garbage", 2);
        publisher.publish_if_due(&mut core, 2);
        assert!(!handle.views.has_changed().unwrap());
        std::thread::sleep(VIEW_INTERVAL + Duration::from_millis(5));
        publisher.publish_if_due(&mut core, 3);
        assert!(handle.views.has_changed().unwrap());
        assert_eq!(handle.views.borrow_and_update().at_ms, 3);
        // Nothing changed: no view, however long it has been.
        std::thread::sleep(VIEW_INTERVAL + Duration::from_millis(5));
        publisher.publish_if_due(&mut core, 4);
        assert!(!handle.views.has_changed().unwrap());
    }

    #[test]
    fn a_full_event_channel_drops_and_counts_never_blocks() {
        let mut core = core();
        let (mut publisher, _commands, mut handle) = channel(&core, ViewRequest::default(), 0);
        for i in 0..(EVENT_CAPACITY + 10) {
            core.on_frame("garbage", i as i64);
            publisher.forward_events(&mut core);
        }
        assert_eq!(core.stats().events_dropped, 10);
        let mut received = 0;
        while handle.events.try_recv().is_ok() {
            received += 1;
        }
        assert_eq!(received, EVENT_CAPACITY);
    }

    #[test]
    fn set_request_applies_to_the_next_view_at_once() {
        let mut core = core();
        let (mut publisher, _commands, handle) = channel(&core, ViewRequest::default(), 0);
        publisher.publish_if_due(&mut core, 1);
        let request = ViewRequest {
            depth: 3,
            group_ticks: 5,
            chart_depth: 0,
            rows_for: None,
            ..ViewRequest::default()
        };
        publisher.set_request(request.clone());
        core.on_frame("garbage", 2);
        publisher.publish_if_due(&mut core, 2);
        assert_eq!(handle.views.borrow().products[0].group_ticks, 5);
        assert_eq!(publisher.request(), &request);
    }
}
