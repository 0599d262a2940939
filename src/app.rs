//! The viewer's state and how actions change it: pure, no I/O.
//!
//! Everything that happens reaches [`App::update`] as an [`Action`]: a key, a new [`FeedView`], a
//! [`FeedEvent`], a resize, a clock tick carrying the time, or what the last frame measured.
//! `update` returns the [`FeedCommand`]s to send and never touches a terminal, a socket or the
//! clock, so a test can drive the whole viewer with a script of actions and fixed times.
//!
//! The App never calls into the ui: the panes read it through its accessors, and what only a
//! draw knows (the ladder rows and tape lines that fit, the auth pane's room to scroll) comes
//! back as actions ([`Action::Resize`], [`Action::Measured`]).
//!
//! Two copies of the feed's state are kept: `latest` (drives tabs, status and the auth pane, so
//! health stays true while paused) and `shown` (drives the ladder and the chart; it stops moving
//! while paused). Levels that changed between two shown views flash for [`FLASH_MS`].

pub mod auth_debug;
pub mod duration;
pub mod flash;
pub mod grouping;
pub mod health;
pub mod heatmap;
pub mod keymap;
pub mod notice;
mod orders;
mod paused;
pub mod rates;
pub mod watchlist;

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::config::DisplaySettings;
use crate::feed::events::{
    ConnectionState, FeedCommand, FeedEvent, FeedView, ProductView, ViewRequest,
};

pub use auth_debug::SentToken;
pub use flash::{FLASH_MS, Flashes};
pub use grouping::{coarser_group, finer_group};
pub use health::{Health, STALE_MS, auth_refused, health, level2_refused};
pub use keymap::{KeyAction, KeyMode};
pub use notice::{NOTICE_HOLD_MS, Notice, Severity, Topic, notice_for};
pub use rates::{ProductRates, Rates, TradeRate};
pub use watchlist::Watchlist;

/// Rows per side asked for while the depth chart is open.
pub const CHART_DEPTH: usize = 400;
/// Trades asked for per row of the open tape: the tape draws one taker's trades (same time, same
/// side) as one line, and a taker sweeping the book fills several levels at once, so a pane of N
/// lines needs more than N trades to be full.
pub const TAPE_TRADES_PER_ROW: usize = 4;
/// The most trades the tape asks for (the feed keeps 1,000 per product by default).
pub const TAPE_MAX_TRADES: usize = 1_000;
/// Clock-driven text (ages, countdowns) is redrawn this long after the last frame even when
/// nothing else changes.
const CLOCK_REDRAW_MS: i64 = 250;
/// After another product is selected, how long the screen waits for a view with its rows (the
/// feed builds rows for the selected product only) before drawing without them. The feed
/// answers a new request at once, so the wait is normally a few milliseconds; drawing at once
/// would show an empty ladder for one frame.
const ROWS_WAIT_MS: i64 = 100;

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
    /// Showing a recording (`cbbook replay`): times come from the recording, a finished feed is
    /// the end of the file, and there is nothing to resync.
    pub replay: bool,
}

/// Something that changes the viewer.
#[derive(Debug, Clone)]
pub enum Action {
    /// The clock moved: Unix milliseconds.
    Tick {
        now_ms: i64,
    },
    /// The terminal's new size, with the ladder rows per side and the tape rows that fit it: the
    /// ui's layout measures those (the ui's `resize` builds this action), so the App never lays
    /// out a screen.
    Resize {
        width: u16,
        height: u16,
        ladder_rows: usize,
        tape_rows: usize,
    },
    View(Arc<FeedView>),
    Event(FeedEvent),
    /// The feed is gone (its channels closed): nothing more will come.
    FeedClosed,
    Key(KeyAction),
    /// What the frame just drawn measured (see [`Measured`]).
    Measured(Measured),
}

/// Facts only a draw knows, fed back after each frame so that keys act on what is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Measured {
    /// The auth pane's room to scroll, when the frame drew the pane.
    pub auth_pane: Option<ScrollRoom>,
    /// The watchlist's rows shown at once, when the frame drew it (what PgUp/PgDn move by).
    pub watchlist_rows: Option<u16>,
}

/// How far a pane can scroll, as last drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrollRoom {
    /// The last first line: the one that puts the content's end at the pane's bottom.
    pub max_top: u16,
    /// Lines shown at once (what PgUp/PgDn move by).
    pub page: u16,
}

/// The pane shown next to (or, on narrow terminals, instead of) the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidePane {
    #[default]
    None,
    Auth,
    Chart,
    /// Your open orders (`o`): the shown product's, or every product's (`true`).
    Orders(bool),
}

/// The viewer.
pub struct App {
    setup: ViewerSetup,
    now_ms: i64,
    width: u16,
    height: u16,
    /// Ladder levels per side that fit the terminal (from the last `Resize`).
    ladder_rows: usize,
    /// Lines of the tape that fit the terminal when it is open (from the last `Resize`).
    tape_rows: usize,
    /// The newest view from the feed.
    latest: Option<Arc<FeedView>>,
    /// The view the ladder and chart draw (equals `latest` unless paused).
    shown: Option<Arc<FeedView>>,
    selected: usize,
    side_pane: SidePane,
    /// The tape (`t`) is open: beside the ladder, or over the side pane's area when there is no
    /// room for both (see [`App::tape_in_front`]).
    tape: bool,
    /// The tape was opened after the side pane: when only one of them fits, it is the tape.
    tape_in_front: bool,
    /// The ladder shows the volume traded at each price (`v`).
    volume_column: bool,
    /// The heatmap pane (`m`).
    heatmap: heatmap::HeatmapPane,
    help: bool,
    paused: bool,
    /// First line of the auth pane shown (Up/Down scroll it).
    scroll: u16,
    /// The auth pane's room to scroll as last drawn; None until it is drawn after opening or a
    /// resize (scrolling is then bounded by the next draw alone).
    auth_room: Option<ScrollRoom>,
    /// Price grouping per product, in ticks; a product not in the map has the configured
    /// default (`+`/`-` change only the selected product's).
    groups: HashMap<String, u32>,
    rates: Rates,
    /// Updates/s per product, for the watchlist.
    product_rates: ProductRates,
    /// Trades/s of the selected product, for the status.
    trade_rate: TradeRate,
    watchlist: Watchlist,
    flashes: HashMap<String, Flashes>,
    notice: Option<Notice>,
    /// Why the connection was last lost, until it is back (for the retry notice).
    last_loss: Option<String>,
    /// Why the replay stopped before the end of its file, if it did.
    replay_failure: Option<String>,
    feed_closed: bool,
    /// The last JWT the feed sent, decoded and checked locally; the user connection's apart.
    token: Option<SentToken>,
    user_token: Option<SentToken>,
    /// The view request last sent to the feed.
    sent_request: Option<ViewRequest>,
    /// When rows for another product were last asked for (see [`ROWS_WAIT_MS`]).
    rows_asked_ms: Option<i64>,
    quit: bool,
    dirty: bool,
    drawn_at_ms: i64,
    frames_drawn: u64,
}

impl App {
    pub fn new(setup: ViewerSetup, now_ms: i64) -> App {
        App {
            groups: HashMap::new(),
            setup,
            now_ms,
            width: 0,
            height: 0,
            ladder_rows: 0,
            tape_rows: 0,
            latest: None,
            shown: None,
            selected: 0,
            side_pane: SidePane::None,
            tape: false,
            tape_in_front: false,
            volume_column: false,
            heatmap: heatmap::HeatmapPane::default(),
            help: false,
            paused: false,
            scroll: 0,
            auth_room: None,
            rates: Rates::default(),
            product_rates: ProductRates::default(),
            trade_rate: TradeRate::default(),
            watchlist: Watchlist::default(),
            flashes: HashMap::new(),
            notice: None,
            last_loss: None,
            replay_failure: None,
            feed_closed: false,
            token: None,
            user_token: None,
            sent_request: None,
            rows_asked_ms: None,
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
            Action::Resize {
                width,
                height,
                ladder_rows,
                tape_rows,
            } => {
                self.width = width;
                self.height = height;
                self.ladder_rows = ladder_rows;
                self.tape_rows = tape_rows;
                self.auth_room = None;
                self.dirty = true;
            }
            Action::Measured(measured) => self.measured(measured),
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
        if self.paused {
            self.fill_paused_rows();
        }
        if self.width > 0 && self.height > 0 {
            let wanted = self.view_request();
            if self.sent_request.as_ref() != Some(&wanted) {
                let rows_for = self.sent_request.as_ref().map(|r| &r.rows_for);
                if rows_for.is_some_and(|r| *r != wanted.rows_for) {
                    self.rows_asked_ms = Some(self.now_ms);
                }
                self.sent_request = Some(wanted.clone());
                commands.push(FeedCommand::SetView(wanted));
            }
        }
        commands
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Something on screen differs from the last frame drawn (and the selected product's rows
    /// are not on their way: [`ROWS_WAIT_MS`]).
    pub fn needs_draw(&self) -> bool {
        self.dirty && self.rows_wait_ends_ms().is_none()
    }

    /// While the selected product was just chosen and its rows have not arrived yet: when the
    /// screen stops waiting for them.
    fn rows_wait_ends_ms(&self) -> Option<i64> {
        let ends = self.rows_asked_ms? + ROWS_WAIT_MS;
        let withheld = self.shown_product().is_some_and(flash::rows_withheld);
        (withheld && self.now_ms < ends).then_some(ends)
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

    /// The time ages, uptime and notices are measured against: the wall clock live; in a replay,
    /// the recorded time the replay has reached (the view's `at_ms`, which the feed stamps with
    /// recorded receive times), so they read as they did in the recorded session at any speed.
    pub fn clock_ms(&self) -> i64 {
        match &self.latest {
            Some(view) if self.setup.replay => view.at_ms,
            _ => self.now_ms,
        }
    }

    /// Showing a recording.
    pub fn is_replay(&self) -> bool {
        self.setup.replay
    }

    /// The newest view from the feed (tabs, status and the auth pane draw it; it moves on while
    /// paused).
    pub fn latest(&self) -> Option<&FeedView> {
        self.latest.as_deref()
    }

    /// Why the replay stopped before the end of its file (not a recording, no readable entry,
    /// a read error), if it did.
    pub fn replay_failure(&self) -> Option<&str> {
        self.replay_failure.as_deref()
    }

    /// Whether the feed is gone (its channels closed).
    pub fn feed_closed(&self) -> bool {
        self.feed_closed
    }

    /// The status line's notice.
    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    /// Message and update rates.
    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    /// First line of the auth pane shown. The pane may hold fewer lines by the time it is drawn:
    /// the draw stops at its bottom.
    pub fn auth_scroll(&self) -> u16 {
        self.scroll
    }

    /// Index of the selected product in tab order.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The selected product's name (the one rule for it: the feed's products when it has
    /// spoken, else the configured ones; see [`App::product_names`]).
    pub fn selected_name(&self) -> Option<&str> {
        match &self.latest {
            Some(view) if !view.products.is_empty() => {
                view.products.get(self.selected).map(|p| p.product.as_str())
            }
            _ => self.setup.products.get(self.selected).map(String::as_str),
        }
    }

    pub fn side_pane(&self) -> SidePane {
        self.side_pane
    }

    /// The tape is open.
    pub fn tape_open(&self) -> bool {
        self.tape
    }

    /// When the tape and a side pane are both open and only one fits beside the ladder: whether
    /// it is the tape (the one opened last).
    pub fn tape_in_front(&self) -> bool {
        self.tape && (self.tape_in_front || self.side_pane == SidePane::None)
    }

    /// The ladder shows the volume traded at each price.
    pub fn volume_column(&self) -> bool {
        self.volume_column
    }

    /// Trades per second of `product` (the selected one), None until known.
    pub fn trade_rate(&self, product: &str) -> Option<f64> {
        self.trade_rate.per_second(product, self.rate_clock_ms())
    }

    pub fn help_open(&self) -> bool {
        self.help
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The selected product's grouping, in ticks.
    pub fn group_ticks(&self) -> u32 {
        self.selected_name()
            .map_or(self.default_group(), |name| self.group_ticks_of(name))
    }

    /// A product's grouping, in ticks: its own once `+`/`-` changed it, else the default.
    pub fn group_ticks_of(&self, product: &str) -> u32 {
        self.groups
            .get(product)
            .copied()
            .unwrap_or_else(|| self.default_group())
    }

    fn default_group(&self) -> u32 {
        self.setup.display.group_ticks.max(1)
    }

    /// Sets the selected product's grouping to `step(current)`.
    fn regroup(&mut self, step: fn(u32) -> u32) {
        let Some(name) = self.selected_name().map(str::to_string) else {
            return;
        };
        let ticks = step(self.group_ticks_of(&name));
        self.groups.insert(name, ticks);
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

    /// What the viewer currently asks of the feed: rows that fit the terminal, the selected
    /// product's grouping (the only book drawn; switching products asks again), chart rows
    /// while the chart is open, trades while the tape is open (enough for its lines when one
    /// taker's trades share a line: [`TAPE_TRADES_PER_ROW`]), volume at price while the ladder
    /// shows it, and rows only for the selected product (the watchlist and the tabs read none).
    pub fn view_request(&self) -> ViewRequest {
        let fit = self.ladder_rows.max(1);
        let depth = self.setup.display.depth.map_or(fit, |d| d.min(fit));
        ViewRequest {
            depth,
            group_ticks: self.group_ticks(),
            chart_depth: if self.side_pane == SidePane::Chart {
                CHART_DEPTH
            } else {
                0
            },
            rows_for: self.selected_name().map(str::to_owned),
            tape_depth: if self.tape {
                (self.tape_rows.max(1) * TAPE_TRADES_PER_ROW).min(TAPE_MAX_TRADES)
            } else {
                0
            },
            volume_at_price: self.volume_column,
            heatmap: self.heatmap.request(
                usize::from(self.width),
                usize::from(self.height).saturating_sub(heatmap::CHROME_LINES),
                self.shown_product()
                    .and_then(|p| p.market.heatmap.as_ref())
                    .map(|h| h.interval_ms),
            ),
        }
    }

    /// The heatmap pane's state.
    pub fn heatmap(&self) -> &heatmap::HeatmapPane {
        &self.heatmap
    }

    /// The user's orders the heatmap marks (the orders code's hook).
    pub fn set_heatmap_marks(&mut self, marks: Vec<heatmap::OrderMark>) {
        self.heatmap.set_marks(marks);
        self.dirty = true;
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
        let name = self.selected_name()?;
        self.shown
            .as_ref()?
            .products
            .iter()
            .find(|p| p.product == name)
    }

    /// Whether a level of the selected product is flashing (changed in the last [`FLASH_MS`]).
    /// The ladder asks this of every row it draws: a lookup, no allocation.
    pub fn is_lit(&self, bid: bool, price: &Decimal) -> bool {
        self.selected_name()
            .and_then(|name| self.flashes.get(name))
            .is_some_and(|f| f.is_lit(bid, price, self.now_ms))
    }

    /// The badge of the product at `index`.
    pub fn health_of(&self, index: usize) -> Health {
        let Some(view) = &self.latest else {
            return Health::Connecting;
        };
        // The names are the view's products: no lookup by name (the tabs ask this of each of
        // up to 500 products every frame).
        if !view.products.is_empty() {
            return self.health_of_view_product(index);
        }
        let names = self.product_names();
        let Some(name) = names.get(index) else {
            return Health::Connecting;
        };
        if let Some(badge) = self.replay_health(view) {
            return badge;
        }
        match view.products.iter().find(|p| p.product == *name) {
            Some(product) => health(view, product, self.now_ms),
            None => Health::Connecting,
        }
    }

    /// The badge of `product` of `view` (the rule of [`App::health_of`], without the lookup).
    fn health_in(&self, view: &FeedView, product: &ProductView) -> Health {
        self.replay_health(view)
            .unwrap_or_else(|| health(view, product, self.now_ms))
    }

    /// In a replay, the badge every product shares: END once the file is over, DOWN between a
    /// recorded loss and the next recorded connection.
    fn replay_health(&self, view: &FeedView) -> Option<Health> {
        if !self.setup.replay {
            return None;
        }
        match view.connection {
            ConnectionState::Finished => Some(Health::Ended),
            ConnectionState::Replaying
                if view.stats.connected_since_ms.is_none() && view.stats.frames > 0 =>
            {
                Some(Health::Down)
            }
            _ => None,
        }
    }

    /// The badge of the product of the latest view at `index` of its products (the
    /// watchlist's rows are such indices).
    pub fn health_of_view_product(&self, index: usize) -> Health {
        match &self.latest {
            Some(view) => view
                .products
                .get(index)
                .map_or(Health::Connecting, |p| self.health_in(view, p)),
            None => Health::Connecting,
        }
    }

    /// The watchlist's state.
    pub fn watchlist(&self) -> &Watchlist {
        &self.watchlist
    }

    /// What keys mean now: text while the watchlist's filter is typed.
    pub fn key_mode(&self) -> KeyMode {
        if self.watchlist.typing() {
            KeyMode::Typing
        } else {
            KeyMode::Normal
        }
    }

    /// A product's level updates per second (snapshots left out), None until known.
    pub fn product_rate(&self, product: &str) -> Option<f64> {
        self.product_rates.per_second(product, self.rate_clock_ms())
    }

    /// The clock rates are measured by: the recorded one in a replay.
    fn rate_clock_ms(&self) -> i64 {
        self.clock_ms()
    }

    /// Sorts the watchlist's rows again, when due (see `app::watchlist`), or at once when
    /// `force`.
    fn reorder_watchlist(&mut self, force: bool) {
        let Some(view) = self.latest.clone() else {
            return;
        };
        let now = self.now_ms;
        let due = (force && self.watchlist.is_open()) || self.watchlist.due(&view, now);
        if !due {
            return;
        }
        let clock = self.rate_clock_ms();
        let mut watchlist = std::mem::take(&mut self.watchlist);
        watchlist.reorder(
            &view,
            now,
            |i| {
                view.products
                    .get(i)
                    .map_or(Health::Connecting, |p| self.health_in(&view, p))
            },
            |p| self.product_rates.per_second(&p.product, clock),
        );
        self.watchlist = watchlist;
    }

    /// Enter on the watchlist: the highlighted product's ladder.
    fn open_highlighted(&mut self) {
        let view = self.latest.as_deref();
        let Some(name) = self.watchlist.cursor_product(view) else {
            return;
        };
        if let Some(index) = self.product_names().iter().position(|n| *n == name) {
            self.selected = index;
        }
        self.watchlist.close();
    }

    fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        // Only the shown product's flashes are on screen: another product's ending needs no
        // redraw.
        let shown = self.shown_product().map(|p| p.product.clone());
        let mut expired = false;
        for (product, flashes) in self.flashes.iter_mut() {
            expired |= flashes.expire(now_ms) && shown.as_ref() == Some(product);
        }
        if expired || now_ms - self.drawn_at_ms >= CLOCK_REDRAW_MS {
            self.dirty = true;
        }
    }

    /// When the screen next changes by the clock alone, in `Tick` milliseconds: ages and uptime
    /// [`CLOCK_REDRAW_MS`] after the last frame, or a flash on screen ending sooner. The event loop
    /// sleeps until then when nothing else happens, instead of ticking at the frame rate.
    pub fn next_clock_change_ms(&self) -> i64 {
        let clocks = self.drawn_at_ms + CLOCK_REDRAW_MS;
        if let Some(ends) = self.rows_wait_ends_ms() {
            return ends.min(clocks);
        }
        self.shown_product()
            .and_then(|p| self.flashes.get(&p.product))
            .and_then(Flashes::next_end_ms)
            .map_or(clocks, |flash| flash.min(clocks))
    }

    fn on_view(&mut self, view: Arc<FeedView>) {
        // A replay's rates are per recorded second, whatever the replay speed.
        let t = if self.setup.replay {
            view.at_ms
        } else {
            self.now_ms
        };
        self.rates.push(t, &view.stats);
        self.product_rates.push(t, &view);
        let selected = self.selected_name().map(str::to_owned);
        self.trade_rate.push(t, selected.as_deref(), &view);
        let (key, now) = (self.setup.key.as_deref(), self.now_ms.div_euclid(1000));
        SentToken::refresh(&mut self.token, view.auth.last_jwt.as_deref(), key, now);
        let user_jwt = view.user.as_ref().and_then(|u| u.auth.last_jwt.as_deref());
        SentToken::refresh(&mut self.user_token, user_jwt, key, now);
        if !self.paused {
            self.show(Arc::clone(&view));
        }
        self.latest = Some(view);
        let count = self.product_names().len();
        if count > 0 && self.selected >= count {
            self.selected = count - 1;
        }
        self.reorder_watchlist(false);
        self.dirty = true;
    }

    /// Shows `view`, lighting the levels of the selected product that changed since the view
    /// shown before. Only the selected product's flashes are ever drawn, so only its rows are
    /// compared: with hundreds of products, comparing every product 30 times a second was the
    /// viewer's largest cost (BENCHMARKS.md, "200 products in the viewer"). The feed builds rows
    /// for the selected product only anyway.
    fn show(&mut self, view: Arc<FeedView>) {
        let until = self.now_ms + FLASH_MS;
        let name = self.selected_name().map(str::to_owned);
        if let (Some(old), Some(name)) = (&self.shown, name) {
            let find = |v| orders::product_named(v, &name);
            if let (Some(prev), Some(new)) = (find(old), find(&view)) {
                self.flashes
                    .entry(name.clone())
                    .or_default()
                    .diff(prev, new, until);
            }
        }
        self.shown = Some(view);
    }

    fn on_key(&mut self, key: KeyAction) -> Option<FeedCommand> {
        if self.on_watchlist_key(key) {
            self.reorder_watchlist(true);
            return None;
        }
        let count = self.product_names().len();
        // Help is an overlay over the screen a key acts on: any other key closes it first, so
        // that what the key did is in sight.
        if self.help && !matches!(key, KeyAction::ToggleHelp | KeyAction::Back) {
            self.help = false;
        }
        match key {
            KeyAction::Quit => self.quit = true,
            KeyAction::Back => {
                if self.help {
                    self.help = false;
                } else if self.watchlist.is_open() {
                    self.watchlist.close();
                } else if self.heatmap.is_open() {
                    self.heatmap.close();
                } else if self.tape_in_front() {
                    self.tape = false;
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
            KeyAction::ToggleOrders => self.toggle_orders(),
            KeyAction::ToggleTape => self.toggle_tape(),
            KeyAction::ToggleVolume => self.volume_column = !self.volume_column,
            KeyAction::ToggleHeatmap => {
                // The watchlist would cover it.
                self.watchlist.close();
                self.heatmap.toggle();
            }
            KeyAction::HeatmapFiner => self.heatmap.finer(),
            KeyAction::HeatmapCoarser => self.heatmap.coarser(),
            KeyAction::ToggleHelp => self.help = !self.help,
            // The user's own notice: aged by the wall clock, not the recording's.
            KeyAction::Resync if self.setup.replay => {
                self.notice = Some(Notice {
                    at_ms: self.now_ms,
                    severity: Severity::Info,
                    topic: Topic::User,
                    text: "a recording cannot be resynced: r asks a live feed for fresh snapshots"
                        .into(),
                });
            }
            KeyAction::Resync => {
                self.notice = Some(Notice {
                    at_ms: self.now_ms,
                    severity: Severity::Info,
                    topic: Topic::User,
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
            KeyAction::GroupCoarser => self.regroup(coarser_group),
            KeyAction::GroupFiner => self.regroup(finer_group),
            KeyAction::Scroll(lines) => self.scroll_auth(i32::from(lines), 0),
            KeyAction::Page(pages) => self.scroll_auth(0, i32::from(pages)),
            // Only the watchlist's (`on_watchlist_key`): nothing on the ladder.
            KeyAction::ToggleWatchlist
            | KeyAction::CycleSort
            | KeyAction::ReverseSort
            | KeyAction::Filter
            | KeyAction::Open
            | KeyAction::FilterChar(_)
            | KeyAction::FilterBackspace
            | KeyAction::FilterDone
            | KeyAction::FilterCancel => {}
        }
        None
    }

    /// The keys the watchlist takes: opening it, and while it is open its sort, filter, moves
    /// and Enter. Returns whether the key was the watchlist's; other keys act as on the ladder
    /// (a side pane's key closes the watchlist to show that pane).
    fn on_watchlist_key(&mut self, key: KeyAction) -> bool {
        let open = self.watchlist.is_open();
        if self.watchlist.typing() {
            match key {
                KeyAction::FilterChar(c) => self.watchlist.push_char(c),
                KeyAction::FilterBackspace => self.watchlist.pop_char(),
                KeyAction::FilterDone => self.watchlist.done_typing(),
                KeyAction::FilterCancel => self.watchlist.cancel_typing(),
                KeyAction::Quit => self.quit = true,
                // Not a key of the mode (a script's): typing ends, the key acts as usual.
                _ => {
                    self.watchlist.done_typing();
                    return self.on_watchlist_key(key);
                }
            }
            return true;
        }
        let toggled_help = self.help && !matches!(key, KeyAction::ToggleHelp | KeyAction::Back);
        match key {
            KeyAction::ToggleWatchlist if open => self.watchlist.close(),
            KeyAction::ToggleWatchlist | KeyAction::Filter if !open => {
                let name = self.selected_name().map(str::to_string);
                self.watchlist.open_at(name.as_deref());
                if key == KeyAction::Filter {
                    self.watchlist.start_typing();
                }
            }
            KeyAction::Filter => self.watchlist.start_typing(),
            KeyAction::CycleSort if open => self.watchlist.cycle_sort(),
            KeyAction::ReverseSort if open => self.watchlist.reverse(),
            KeyAction::Open if open => self.open_highlighted(),
            KeyAction::Scroll(lines) if open => {
                self.watchlist
                    .move_cursor(self.latest.as_deref(), i64::from(lines), 0);
            }
            KeyAction::Page(pages) if open => {
                self.watchlist
                    .move_cursor(self.latest.as_deref(), 0, i64::from(pages));
            }
            KeyAction::ToggleAuth | KeyAction::ToggleChart if open => {
                self.watchlist.close();
                let pane = if key == KeyAction::ToggleAuth {
                    SidePane::Auth
                } else {
                    SidePane::Chart
                };
                if self.side_pane != pane {
                    self.toggle_pane(pane);
                }
            }
            KeyAction::ToggleTape if open => {
                self.watchlist.close();
                if !self.tape {
                    self.toggle_tape();
                }
            }
            _ => return false,
        }
        if toggled_help {
            self.help = false;
        }
        true
    }

    /// Scrolls the open auth pane by `lines` plus `pages` of its visible height, within the
    /// room its last draw measured (so that Up after the bottom moves at once, however often
    /// Down was pressed there). Before the pane's first draw there is no room to go by: the draw
    /// stops at the bottom, and its measure brings `scroll` back within the room.
    fn scroll_auth(&mut self, lines: i32, pages: i32) {
        if self.side_pane != SidePane::Auth {
            return;
        }
        let (max, page) = self.auth_room.map_or((i32::from(u16::MAX), 1), |room| {
            (i32::from(room.max_top), i32::from(room.page))
        });
        let from = i32::from(self.scroll).min(max);
        let to = (from + lines + pages.saturating_mul(page.max(1))).clamp(0, max);
        self.scroll = u16::try_from(to).unwrap_or(u16::MAX);
    }

    /// Takes what the last frame measured. No redraw: the frame drew what it measured.
    fn measured(&mut self, measured: Measured) {
        self.watchlist
            .set_page(measured.watchlist_rows.map(usize::from));
        self.auth_room = measured.auth_pane;
        if let Some(room) = measured.auth_pane {
            self.scroll = self.scroll.min(room.max_top);
        }
    }

    fn toggle_pane(&mut self, pane: SidePane) {
        self.scroll = 0;
        self.auth_room = None;
        self.side_pane = if self.side_pane == pane {
            SidePane::None
        } else {
            self.tape_in_front = false;
            pane
        };
    }

    fn toggle_tape(&mut self) {
        self.tape = !self.tape;
        self.tape_in_front = self.tape;
    }

    fn on_event(&mut self, event: FeedEvent) {
        let Some(mut notice) = notice_for(&event) else {
            return;
        };
        match &event {
            FeedEvent::Disconnected { reason, .. } => {
                // The endpoint is on the status line already; the notice has one row.
                let reason = match &self.latest {
                    Some(view) => reason.replace(&format!(" to {}", view.endpoint), ""),
                    None => reason.clone(),
                };
                notice.text = format!("disconnected: {reason}");
                self.last_loss = Some(reason);
            }
            // The retry notice says why the connection was lost, which it would otherwise hide.
            // The status line above counts down to the retry.
            FeedEvent::Reconnecting { attempt, .. } => {
                if let Some(reason) = &self.last_loss {
                    notice.severity = Severity::Error;
                    notice.text = format!("disconnected: {reason}; retrying (attempt {attempt})");
                }
            }
            FeedEvent::Connected { .. } => {
                self.last_loss = None;
                if self.setup.replay {
                    "a recorded connection opens".clone_into(&mut notice.text);
                }
            }
            FeedEvent::ReplayFailed { error, .. } => {
                self.replay_failure = Some(error.clone());
                self.dirty = true;
            }
            // The failure says more than the end that follows it.
            FeedEvent::Finished { .. } if self.replay_failure.is_some() => return,
            FeedEvent::Finished { .. } if self.setup.replay => {
                "replay finished: the end of the recording".clone_into(&mut notice.text);
            }
            _ => {}
        }
        if notice::takes_over(self.notice.as_ref(), &notice, &event) {
            self.notice = Some(notice);
            self.dirty = true;
        }
    }
}

#[cfg(test)]
mod tests;
