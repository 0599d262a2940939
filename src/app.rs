//! The viewer's state and how actions change it: pure, no I/O.
//!
//! Everything that happens reaches [`App::update`] as an [`Action`]: a key, a new [`FeedView`], a
//! [`FeedEvent`], a resize, or a clock tick carrying the time. `update` returns the
//! [`FeedCommand`]s to send and never touches a terminal, a socket or the clock, so a test can
//! drive the whole viewer with a script of actions and fixed times.
//!
//! Two copies of the feed's state are kept: `latest` (drives tabs, status and the auth pane, so
//! health stays true while paused) and `shown` (drives the ladder and the chart; it stops moving
//! while paused). Levels that changed between two shown views flash for [`FLASH_MS`].

pub mod auth_debug;
pub mod keymap;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::config::{DisplaySettings, MAX_GROUP};
use crate::feed::events::{
    BookState, ConnectionState, FeedCommand, FeedEvent, FeedStats, FeedView, LevelRow, ProductView,
    ViewRequest,
};
use crate::ui::layout;
use crate::ui::theme::Theme;

pub use auth_debug::SentToken;
pub use keymap::KeyAction;

/// How long a changed level stays highlighted.
pub const FLASH_MS: i64 = 400;
/// A live book with no frame for this long is shown as STALE (heartbeats come every second).
pub const STALE_MS: i64 = 3_000;
/// Rows per side asked for while the depth chart is open.
pub const CHART_DEPTH: usize = 400;
/// A warning or error stays on the status line this long against routine notices.
pub const NOTICE_HOLD_MS: i64 = 10_000;
/// The auth pane never scrolls further than this (it is far longer than any content).
const MAX_SCROLL: u16 = 200;
/// Window over which messages/s and updates/s are measured.
const RATE_WINDOW_MS: i64 = 1_000;
/// Clock-driven text (ages, countdowns) is redrawn at this period even when nothing else changes.
const CLOCK_REDRAW_MS: i64 = 250;

/// What the viewer needs besides the feed.
#[derive(Clone, Default)]
pub struct ViewerSetup {
    /// Products, in tab order.
    pub products: Vec<String>,
    /// The endpoint, as shown in the status line (a URL, or a replayed file).
    pub endpoint: String,
    /// The key the feed signs with, for the auth pane: name, algorithm, format, warnings, and
    /// its public key to check the sent JWTs locally. Never drawn: only those facts about it.
    pub key: Option<Arc<crate::auth::Key>>,
    pub display: DisplaySettings,
    /// Running against the built-in simulator with the test-only demo key.
    pub demo: bool,
}

/// Something that changes the viewer.
#[derive(Debug, Clone)]
pub enum Action {
    /// The clock moved: Unix milliseconds.
    Tick {
        now_ms: i64,
    },
    Resize {
        width: u16,
        height: u16,
    },
    View(Arc<FeedView>),
    Event(FeedEvent),
    /// The feed is gone (its channels closed): nothing more will come.
    FeedClosed,
    Key(KeyAction),
}

/// A product's health, as its tab badge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    Connecting,
    Live,
    Stale,
    Resync,
    AuthError,
    Down,
}

impl Health {
    pub fn label(self) -> &'static str {
        match self {
            Health::Connecting => "CONNECTING",
            Health::Live => "LIVE",
            Health::Stale => "STALE",
            Health::Resync => "RESYNC",
            Health::AuthError => "AUTH-ERR",
            Health::Down => "DOWN",
        }
    }
}

/// The server refused the key on the current connection (and the feed did not fall back).
pub fn auth_refused(view: &FeedView) -> bool {
    let Some(error) = &view.auth.last_error else {
        return false;
    };
    let since = view.stats.connected_since_ms.unwrap_or(i64::MIN);
    error.message.eq_ignore_ascii_case("authentication failure")
        && error.at_ms >= since
        && !view.auth.fell_back_to_public
}

/// The server refused to subscribe this product (e.g. "FOO-BAR is not a valid product").
fn product_refused(view: &FeedView, product: &str) -> bool {
    view.auth.last_error.as_ref().is_some_and(|error| {
        error.message.to_ascii_lowercase().contains("subscribe")
            && error.reason.as_deref().is_some_and(|r| r.contains(product))
    })
}

fn acknowledged(view: &FeedView, product: &str) -> bool {
    view.auth
        .acknowledged
        .get("level2")
        .is_some_and(|products| products.iter().any(|p| p == product))
}

/// Derives a product's badge from the connection, its book state, the age of the last frame and
/// the auth outcome.
pub fn health(view: &FeedView, product: &ProductView, now_ms: i64) -> Health {
    match view.connection {
        ConnectionState::Reconnecting { .. } | ConnectionState::Finished => Health::Down,
        ConnectionState::Connecting { .. } => Health::Connecting,
        ConnectionState::Connected | ConnectionState::Subscribed | ConnectionState::Replaying => {
            match product.state {
                BookState::Waiting if product_refused(view, &product.product) => Health::Down,
                BookState::Waiting
                    if auth_refused(view) && !acknowledged(view, &product.product) =>
                {
                    Health::AuthError
                }
                BookState::Waiting => Health::Connecting,
                BookState::Desynced => Health::Resync,
                BookState::Live => {
                    let replaying = view.connection == ConnectionState::Replaying;
                    let age = view.stats.last_frame_ms.map(|t| now_ms - t);
                    if !replaying && age.is_none_or(|age| age > STALE_MS) {
                        Health::Stale
                    } else {
                        Health::Live
                    }
                }
            }
        }
    }
}

/// The pane shown next to (or, on narrow terminals, instead of) the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidePane {
    #[default]
    None,
    Auth,
    Chart,
}

/// How bad a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// The last notable thing the feed reported, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub at_ms: i64,
    pub level: Level,
    pub text: String,
}

/// Messages/s and updates/s from differences of the feed's counters.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    /// (local time, frames, updates), oldest first, a few seconds' worth.
    samples: VecDeque<(i64, u64, u64)>,
}

impl Rates {
    fn push(&mut self, now_ms: i64, stats: &FeedStats) {
        self.samples
            .push_back((now_ms, stats.frames, stats.updates));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|s| s.0 <= now_ms - RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// (messages/s, updates/s) as of `now_ms`; None until there is enough history.
    pub fn per_second(&self, now_ms: i64) -> Option<(f64, f64)> {
        let newest = self.samples.back()?;
        // The newest sample at least a window old is the base; without one, the oldest.
        let base = self
            .samples
            .iter()
            .rev()
            .find(|s| s.0 <= now_ms - RATE_WINDOW_MS)
            .or(self.samples.front())?;
        let span = now_ms - base.0;
        if span < RATE_WINDOW_MS / 4 || (base == newest && span < RATE_WINDOW_MS) {
            return None;
        }
        let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 * 1000.0 / span as f64;
        Some((per_sec(newest.1, base.1), per_sec(newest.2, base.2)))
    }
}

/// Which levels of one product flash, and until when.
#[derive(Debug, Clone, Default)]
pub struct Flashes {
    pub bids: HashMap<Decimal, i64>,
    pub asks: HashMap<Decimal, i64>,
}

impl Flashes {
    /// Marks the rows of `new` that differ from `old`. A book that was not live, or a change of
    /// grouping, marks nothing: the whole ladder would light up for no market reason.
    fn diff(&mut self, old: &ProductView, new: &ProductView, until_ms: i64) {
        if old.state != BookState::Live
            || new.state != BookState::Live
            || old.group_ticks != new.group_ticks
        {
            return;
        }
        mark(&mut self.bids, &old.bids, &new.bids, until_ms, |p, edge| {
            p >= edge
        });
        mark(&mut self.asks, &old.asks, &new.asks, until_ms, |p, edge| {
            p <= edge
        });
    }

    /// Forgets flashes that are over; true if any was.
    fn expire(&mut self, now_ms: i64) -> bool {
        let before = self.bids.len() + self.asks.len();
        self.bids.retain(|_, until| *until > now_ms);
        self.asks.retain(|_, until| *until > now_ms);
        before != self.bids.len() + self.asks.len()
    }

    pub fn is_lit(&self, bid: bool, price: &Decimal, now_ms: i64) -> bool {
        let map = if bid { &self.bids } else { &self.asks };
        map.get(price).is_some_and(|until| *until > now_ms)
    }
}

/// Marks rows whose size changed or that appeared, within the price range the old rows covered
/// (`inside(price, old_worst)`): a row that only scrolled into view is not a change.
fn mark(
    lit: &mut HashMap<Decimal, i64>,
    old: &[LevelRow],
    new: &[LevelRow],
    until_ms: i64,
    inside: impl Fn(Decimal, Decimal) -> bool,
) {
    let Some(worst) = old.last().map(|row| row.price) else {
        return;
    };
    let before: HashMap<Decimal, Decimal> = old.iter().map(|r| (r.price, r.size)).collect();
    for row in new {
        if inside(row.price, worst) && before.get(&row.price) != Some(&row.size) {
            lit.insert(row.price, until_ms);
        }
    }
}

/// The groupings `+` and `-` step through, in ticks.
const GROUP_STEPS: [u32; 3] = [1, 2, 5];

/// The next coarser grouping after `ticks` in the 1-2-5 series.
pub fn coarser_group(ticks: u32) -> u32 {
    let mut decade: u32 = 1;
    loop {
        for step in GROUP_STEPS {
            let candidate = step.saturating_mul(decade);
            if candidate > ticks {
                return candidate.min(MAX_GROUP).max(ticks);
            }
        }
        if decade >= MAX_GROUP {
            return ticks;
        }
        decade = decade.saturating_mul(10);
    }
}

/// The next finer grouping before `ticks` in the 1-2-5 series (at least 1).
pub fn finer_group(ticks: u32) -> u32 {
    let mut best = 1;
    let mut decade: u32 = 1;
    while decade <= ticks {
        for step in GROUP_STEPS {
            let candidate = step.saturating_mul(decade);
            if candidate < ticks {
                best = best.max(candidate);
            }
        }
        decade = decade.saturating_mul(10);
    }
    best
}

/// The viewer.
pub struct App {
    pub(crate) setup: ViewerSetup,
    pub(crate) theme: Theme,
    pub(crate) now_ms: i64,
    pub(crate) width: u16,
    pub(crate) height: u16,
    /// The newest view from the feed.
    pub(crate) latest: Option<Arc<FeedView>>,
    /// The view the ladder and chart draw (equals `latest` unless paused).
    pub(crate) shown: Option<Arc<FeedView>>,
    pub(crate) selected: usize,
    pub(crate) side_pane: SidePane,
    pub(crate) help: bool,
    pub(crate) paused: bool,
    /// First line of the auth pane shown (Up/Down scroll it).
    pub(crate) scroll: u16,
    pub(crate) group_ticks: u32,
    pub rates: Rates,
    pub(crate) flashes: HashMap<String, Flashes>,
    pub(crate) notice: Option<Notice>,
    pub(crate) feed_closed: bool,
    /// The last JWT the feed sent, decoded and checked locally.
    pub(crate) token: Option<SentToken>,
    /// The view request last sent to the feed.
    sent_request: Option<ViewRequest>,
    quit: bool,
    dirty: bool,
    drawn_at_ms: i64,
    frames_drawn: u64,
}

impl App {
    pub fn new(setup: ViewerSetup, now_ms: i64) -> App {
        App {
            theme: Theme::new(setup.display.theme),
            group_ticks: setup.display.group_ticks.max(1),
            setup,
            now_ms,
            width: 0,
            height: 0,
            latest: None,
            shown: None,
            selected: 0,
            side_pane: SidePane::None,
            help: false,
            paused: false,
            scroll: 0,
            rates: Rates::default(),
            flashes: HashMap::new(),
            notice: None,
            feed_closed: false,
            token: None,
            sent_request: None,
            quit: false,
            dirty: true,
            drawn_at_ms: now_ms,
            frames_drawn: 0,
        }
    }

    /// Applies one action; returns the commands for the feed.
    pub fn update(&mut self, action: Action) -> Vec<FeedCommand> {
        let mut commands = Vec::new();
        match action {
            Action::Tick { now_ms } => self.tick(now_ms),
            Action::Resize { width, height } => {
                self.width = width;
                self.height = height;
                self.dirty = true;
            }
            Action::View(view) => self.on_view(view),
            Action::Event(event) => self.on_event(event),
            Action::FeedClosed => {
                self.feed_closed = true;
                self.dirty = true;
            }
            Action::Key(key) => {
                self.dirty = true;
                if let Some(command) = self.on_key(key) {
                    commands.push(command);
                }
            }
        }
        if self.width > 0 && self.height > 0 {
            let wanted = self.view_request();
            if self.sent_request != Some(wanted) {
                self.sent_request = Some(wanted);
                commands.push(FeedCommand::SetView(wanted));
            }
        }
        commands
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Something on screen differs from the last frame drawn.
    pub fn needs_draw(&self) -> bool {
        self.dirty
    }

    /// Records that a frame was drawn as of the current time.
    pub fn drawn(&mut self) {
        self.dirty = false;
        self.drawn_at_ms = self.now_ms;
        self.frames_drawn += 1;
    }

    /// Frames drawn since start (for pacing checks).
    pub fn frames_drawn(&self) -> u64 {
        self.frames_drawn
    }

    /// The terminal size last reported: (width, height).
    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn side_pane(&self) -> SidePane {
        self.side_pane
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn group_ticks(&self) -> u32 {
        self.group_ticks
    }

    pub fn setup(&self) -> &ViewerSetup {
        &self.setup
    }

    /// The last JWT sent, with its local report.
    pub fn sent_token(&self) -> Option<&SentToken> {
        self.token.as_ref()
    }

    /// The diagnosis the auth pane shows.
    pub fn diagnosis(&self) -> auth_debug::Diagnosis {
        let error = self
            .latest
            .as_ref()
            .and_then(|v| v.auth.last_error.as_ref());
        auth_debug::diagnose(
            self.token.as_ref(),
            error,
            self.setup.key.as_deref(),
            self.setup.demo,
        )
    }

    /// What the viewer currently asks of the feed: rows that fit the terminal, the grouping,
    /// and chart rows while the chart is open.
    pub fn view_request(&self) -> ViewRequest {
        let fit = layout::ladder_depth(self.width, self.height, self.side_pane).max(1);
        let depth = self.setup.display.depth.map_or(fit, |d| d.min(fit));
        ViewRequest {
            depth,
            group_ticks: self.group_ticks,
            chart_depth: if self.side_pane == SidePane::Chart {
                CHART_DEPTH
            } else {
                0
            },
        }
    }

    /// The product names in tab order: the feed's when it has spoken, else the configured ones.
    pub fn product_names(&self) -> Vec<&str> {
        match &self.latest {
            Some(view) if !view.products.is_empty() => {
                view.products.iter().map(|p| p.product.as_str()).collect()
            }
            _ => self.setup.products.iter().map(String::as_str).collect(),
        }
    }

    /// The selected product as the ladder shows it (frozen while paused).
    pub fn shown_product(&self) -> Option<&ProductView> {
        let name = *self.product_names().get(self.selected)?;
        self.shown
            .as_ref()?
            .products
            .iter()
            .find(|p| p.product == name)
    }

    /// Whether a level of the selected product is flashing.
    pub fn is_lit(&self, bid: bool, price: &Decimal) -> bool {
        let Some(product) = self.shown_product() else {
            return false;
        };
        self.flashes
            .get(&product.product)
            .is_some_and(|f| f.is_lit(bid, price, self.now_ms))
    }

    /// The badge of the product at `index`.
    pub fn health_of(&self, index: usize) -> Health {
        let Some(view) = &self.latest else {
            return Health::Connecting;
        };
        let names = self.product_names();
        let Some(name) = names.get(index) else {
            return Health::Connecting;
        };
        match view.products.iter().find(|p| p.product == *name) {
            Some(product) => health(view, product, self.now_ms),
            None => Health::Connecting,
        }
    }

    fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        let mut expired = false;
        for flashes in self.flashes.values_mut() {
            expired |= flashes.expire(now_ms);
        }
        if expired || now_ms / CLOCK_REDRAW_MS != self.drawn_at_ms / CLOCK_REDRAW_MS {
            self.dirty = true;
        }
    }

    fn on_view(&mut self, view: Arc<FeedView>) {
        self.rates.push(self.now_ms, &view.stats);
        match &view.auth.last_jwt {
            Some(jwt) if self.token.as_ref().is_none_or(|t| &t.jwt != jwt) => {
                let key = self.setup.key.as_deref();
                self.token = Some(SentToken::inspect(jwt, key, self.now_ms.div_euclid(1000)));
            }
            Some(_) => {}
            None => self.token = None,
        }
        if !self.paused {
            self.show(Arc::clone(&view));
        }
        self.latest = Some(view);
        let count = self.product_names().len();
        if count > 0 && self.selected >= count {
            self.selected = count - 1;
        }
        self.dirty = true;
    }

    fn show(&mut self, view: Arc<FeedView>) {
        let until = self.now_ms + FLASH_MS;
        if let Some(old) = &self.shown {
            for new in &view.products {
                if let Some(prev) = old.products.iter().find(|p| p.product == new.product) {
                    self.flashes
                        .entry(new.product.clone())
                        .or_default()
                        .diff(prev, new, until);
                }
            }
        }
        self.shown = Some(view);
    }

    fn on_key(&mut self, key: KeyAction) -> Option<FeedCommand> {
        let count = self.product_names().len();
        match key {
            KeyAction::Quit => self.quit = true,
            KeyAction::Back => {
                if self.help {
                    self.help = false;
                } else if self.side_pane != SidePane::None {
                    self.side_pane = SidePane::None;
                } else {
                    self.quit = true;
                }
            }
            KeyAction::NextProduct if count > 0 => self.selected = (self.selected + 1) % count,
            KeyAction::PrevProduct if count > 0 => {
                self.selected = (self.selected + count - 1) % count;
            }
            KeyAction::SelectProduct(index) if index < count => self.selected = index,
            KeyAction::NextProduct | KeyAction::PrevProduct | KeyAction::SelectProduct(_) => {}
            KeyAction::ToggleAuth => self.toggle_pane(SidePane::Auth),
            KeyAction::ToggleChart => self.toggle_pane(SidePane::Chart),
            KeyAction::ToggleHelp => self.help = !self.help,
            KeyAction::Resync => {
                self.notice = Some(Notice {
                    at_ms: self.now_ms,
                    level: Level::Info,
                    text: "resync requested".into(),
                });
                return Some(FeedCommand::Resync);
            }
            KeyAction::TogglePause => {
                self.paused = !self.paused;
                if !self.paused
                    && let Some(latest) = self.latest.clone()
                {
                    self.show(latest);
                }
            }
            KeyAction::GroupCoarser => self.group_ticks = coarser_group(self.group_ticks),
            KeyAction::GroupFiner => self.group_ticks = finer_group(self.group_ticks),
            KeyAction::Scroll(lines) => {
                if self.side_pane == SidePane::Auth {
                    let to = i32::from(self.scroll) + i32::from(lines);
                    self.scroll = u16::try_from(to.clamp(0, i32::from(MAX_SCROLL))).unwrap_or(0);
                }
            }
        }
        None
    }

    fn toggle_pane(&mut self, pane: SidePane) {
        self.scroll = 0;
        self.side_pane = if self.side_pane == pane {
            SidePane::None
        } else {
            pane
        };
    }

    fn on_event(&mut self, event: FeedEvent) {
        let Some(notice) = notice_for(&event) else {
            return;
        };
        // Routine news (a snapshot, an ack) does not hide a recent warning or error.
        let keep = self.notice.as_ref().is_some_and(|current| {
            current.level != Level::Info
                && notice.level == Level::Info
                && notice.at_ms - current.at_ms < NOTICE_HOLD_MS
        });
        if !keep {
            self.notice = Some(notice);
            self.dirty = true;
        }
    }
}

/// The status-line text for an event worth telling the user about.
fn notice_for(event: &FeedEvent) -> Option<Notice> {
    let (at_ms, level, text) = match event {
        FeedEvent::Connecting {
            at_ms,
            url,
            attempt,
        } => (
            *at_ms,
            Level::Info,
            if *attempt > 1 {
                format!("connecting to {url} (attempt {attempt})")
            } else {
                format!("connecting to {url}")
            },
        ),
        FeedEvent::Connected { at_ms, url } => (*at_ms, Level::Info, format!("connected to {url}")),
        FeedEvent::SubscribeSent { .. } => return None,
        FeedEvent::Subscribed {
            at_ms,
            subscriptions,
        } => {
            let level2 = subscriptions
                .get("level2")
                .map(|p| p.join(" "))
                .unwrap_or_default();
            (*at_ms, Level::Info, format!("subscribed level2: {level2}"))
        }
        FeedEvent::Snapshot {
            at_ms,
            product,
            bids,
            asks,
        } => (
            *at_ms,
            Level::Info,
            format!("snapshot {product}: {bids} bids, {asks} asks"),
        ),
        FeedEvent::Gap {
            at_ms,
            expected,
            got,
        } => (
            *at_ms,
            Level::Warn,
            format!("sequence gap: expected {expected}, got {got}; resyncing"),
        ),
        FeedEvent::Resync { at_ms, products } => (
            *at_ms,
            Level::Warn,
            format!("resync: fresh snapshot for {}", products.join(" ")),
        ),
        FeedEvent::Disconnected { at_ms, reason } => {
            (*at_ms, Level::Error, format!("disconnected: {reason}"))
        }
        FeedEvent::Reconnecting {
            at_ms,
            in_ms,
            attempt,
        } => (
            *at_ms,
            Level::Warn,
            format!(
                "reconnecting in {} (attempt {attempt})",
                crate::ui::format::duration_ms(*in_ms as i64)
            ),
        ),
        // The reason is long; the ladder and the auth pane show it in full.
        FeedEvent::AuthRejected {
            at_ms,
            channel,
            message,
            ..
        } => (
            *at_ms,
            Level::Error,
            format!("{channel} refused: {message}; press a for why"),
        ),
        FeedEvent::ErrorFrame {
            at_ms,
            message,
            reason,
        } => (
            *at_ms,
            Level::Error,
            match reason {
                Some(reason) => format!("server error: {message} ({reason})"),
                None => format!("server error: {message}"),
            },
        ),
        FeedEvent::BadFrame { at_ms, error } => {
            (*at_ms, Level::Warn, format!("bad frame skipped: {error}"))
        }
        FeedEvent::FellBackToPublic { at_ms } => (
            *at_ms,
            Level::Warn,
            "key refused: using the public level2 feed; press a".to_string(),
        ),
        FeedEvent::Finished { at_ms } => (*at_ms, Level::Info, "feed finished".to_string()),
    };
    Some(Notice { at_ms, level, text })
}

#[cfg(test)]
mod tests;
