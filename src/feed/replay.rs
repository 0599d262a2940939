//! Replay: a recording (or a file of bare frames) through the same [`FeedCore`] as live.
//!
//! The reader streams line by line with one reused buffer, so memory stays flat whatever the
//! file size. The loop is synchronous: headless replay runs it on the calling thread at full
//! speed and ends with the file; the viewer's replay runs it on a thread of its own ([`spawn`]),
//! paced by the recorded receive times, and keeps serving the viewer after the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::cli::Speed;
use crate::feed::core::{FeedCore, UserCore};
use crate::feed::events::{
    BookState, ConnectionState, ConnectionView, FeedCommand, FeedEvent, FeedHandle, FeedView,
    ViewRequest,
};
use crate::feed::publish::{self, Publisher, VIEW_INTERVAL};
use crate::feed::record::{ConnectInfo, Entry, PROBE_LINES, Polled, RecordError, RecordReader};
use crate::feed::session::{ConnectionSlot, merge_views};
use crate::feed::time::TimestampCache;
use crate::feed::user_events::UserView;

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub file: PathBuf,
    /// `Factor(1.0)` plays at recorded speed; `Max` does not wait at all.
    pub speed: Speed,
    /// Products to keep; empty: every product that gets a snapshot (and those a recording's
    /// connection markers name).
    pub products: Vec<String>,
    pub view: ViewRequest,
    /// How every core samples the heatmap (`cbbook heatmap` draws a whole recording).
    pub heatmap: crate::feed::core::heatmap::HeatSettings,
}

impl ReplayConfig {
    pub fn new(file: impl Into<PathBuf>) -> ReplayConfig {
        ReplayConfig {
            file: file.into(),
            speed: Speed::Max,
            products: Vec::new(),
            view: ViewRequest::default(),
            heatmap: crate::feed::core::heatmap::HeatSettings::default(),
        }
    }
}

/// Connection indexes replay follows; entries of higher ones (a corrupt file) are read as
/// connection 0's.
pub const MAX_CONNECTIONS: usize = 4096;

/// The slowest `--speed` factor: slower than this, one recorded second would last over a quarter
/// of an hour.
pub const MIN_SPEED: f64 = 0.001;

/// A pause in recorded time longer than this (two runs appended to one file, a corrupt time) is
/// not waited out when pacing: playback goes straight on and the pause is counted. Live, frames
/// are at most about 40 s apart (heartbeats every second; a retry after a 30 s backoff and a 10 s
/// connect timeout).
pub const MAX_PAUSE_MS: i64 = 60_000;

/// The end state of a replay.
pub struct ReplayReport {
    pub core: FeedCore,
    /// Lines that were neither an entry nor a frame, skipped.
    pub broken_lines: u64,
    /// Of those, lines over [`crate::feed::record::MAX_LINE_BYTES`].
    pub too_long_lines: u64,
    pub lines: u64,
    /// Pauses over [`MAX_PAUSE_MS`] of recorded time that paced playback did not wait out.
    pub skipped_pauses: u64,
    /// Connections open at the end of the file (a `connect` with no `disconnect` after it; a
    /// file of bare frames: 1).
    pub connections_open: usize,
    /// Compressed data that ended early or was damaged, and where: the replay went up to there.
    pub damaged: Option<String>,
    /// The user connection's final state, when the recording has one (your orders).
    pub user: Option<UserCore>,
}

/// What the replay loop asks of whoever runs it. `core` is connection 0's (every connection's
/// events are queued in it); `connections` holds the others of a several-connection recording,
/// for a host that shows the whole session ([`Connections::merged_view`]).
pub trait ReplayHost {
    /// After each entry (events to hand over, commands to read). `false` stops the replay.
    fn after_entry(&mut self, core: &mut FeedCore, connections: &Connections, t_ms: i64) -> bool;
    /// Paced playback: wait `d` before the next entry. `false` stops the replay.
    fn wait(
        &mut self,
        d: Duration,
        core: &mut FeedCore,
        connections: &Connections,
        t_ms: i64,
    ) -> bool;
}

/// The connections of a recording other than 0 (docs/recording.md, `"c":I`), each with its own
/// core, and the products each connection's last `connect` named.
#[derive(Default)]
pub struct Connections {
    /// Connection `i + 1`'s core; `None` for an index the file never used.
    others: Vec<Option<FeedCore>>,
    /// By connection index (0 included): the products of its last `connect`.
    recorded: Vec<Vec<String>>,
    /// The user connection's index and state, once its `connect` line has come
    /// (`replay_user.rs`).
    user_conn: Option<usize>,
    user: Option<UserCore>,
}

impl Connections {
    /// Only connection 0 so far (a one-connection recording, a file of bare frames).
    pub fn is_single(&self) -> bool {
        self.others.iter().all(Option::is_none)
    }

    fn core_mut(&mut self, conn: usize, config: &ReplayConfig) -> &mut FeedCore {
        if self.others.len() < conn {
            self.others.resize_with(conn, || None);
        }
        self.others[conn - 1].get_or_insert_with(|| new_core(config))
    }

    fn note_connect(&mut self, conn: usize, products: &[String]) {
        if self.recorded.len() <= conn {
            self.recorded.resize_with(conn + 1, Vec::new);
        }
        self.recorded[conn] = products.to_vec();
    }

    /// The session as of now, merged as live merges its connections
    /// ([`crate::feed::session::merge_views`]): every product from the connection that carries
    /// it (the last one whose `connect` named it or whose book got data), one
    /// [`ConnectionView`] per recorded connection, the least advanced state as the session's,
    /// the counters summed. Products come in connection 0's order, then each other
    /// connection's new ones (the order of the books merged at the end); a product no
    /// connection carries (asked for with `--products`, absent from the file) is left out until
    /// the end. A connection whose every product a later one carries was split live (closed by
    /// cbbook, so without a `disconnect` line) and is left out like a live retired one.
    pub fn merged_view(&self, core: &FeedCore, request: &ViewRequest, at_ms: i64) -> FeedView {
        let cores = std::iter::once((0, core)).chain(
            self.others
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i + 1, c.as_ref()?))),
        );
        let mut order: Vec<String> = core.products().to_vec();
        let mut slots: Vec<ConnectionSlot> = Vec::new();
        for (index, c) in cores {
            let view = c.view(request, at_ms);
            let recorded = self.recorded.get(index).map(Vec::as_slice).unwrap_or(&[]);
            let products: Vec<String> = view
                .products
                .iter()
                .filter(|p| {
                    recorded.contains(&p.product)
                        || p.state != BookState::Waiting
                        || p.last_change_ms.is_some()
                })
                .map(|p| p.product.clone())
                .collect();
            for p in &products {
                if !order.contains(p) {
                    order.push(p.clone());
                }
            }
            slots.push(ConnectionSlot {
                index,
                products,
                view: Arc::new(view),
                retired: false,
            });
        }
        for i in 0..slots.len() {
            let (head, later) = slots.split_at_mut(i + 1);
            let slot = &mut head[i];
            slot.retired = !slot.products.is_empty()
                && slot
                    .products
                    .iter()
                    .all(|p| later.iter().any(|s| s.products.contains(p)));
        }
        let endpoint = slots
            .first()
            .map(|s| s.view.endpoint.clone())
            .unwrap_or_default();
        merge_views(
            &endpoint,
            &order,
            &slots.iter().collect::<Vec<_>>(),
            at_ms,
            0,
        )
    }
}

/// Replays `config.file` into a fresh core. Broken lines and bad frames are counted; the errors
/// are a file that cannot be opened or read, a speed below [`MIN_SPEED`], and a file with nothing
/// to replay: empty, compressed, or whose first [`PROBE_LINES`] lines (or all, when fewer) hold no
/// usable entry or frame.
pub fn run(config: &ReplayConfig, host: &mut impl ReplayHost) -> Result<ReplayReport, RecordError> {
    if let Speed::Factor(speed) = config.speed
        && (speed.is_nan() || speed < MIN_SPEED)
    {
        return Err(RecordError::TooSlow { speed });
    }
    let mut reader = RecordReader::open(&config.file)?;
    let mut core = new_core(config);
    // Connections other than 0 of a sharded session's recording (docs/recording.md): each has
    // its own core (its own sequence, its own books), its events reported through `core`, its
    // books merged into `core` at the end.
    let mut conns = Connections::default();
    let mut open: Vec<bool> = Vec::new();
    let mut pace = Pacer::new(config.speed);
    let mut connections = 0u64;
    let mut t_ms = 0i64;
    // Something in the file was a recorded entry or a frame the core could use.
    let mut usable = false;
    let mut stopped = false;
    loop {
        // Between bounded steps of reading, the host looks for a stop (a signal, --duration,
        // the viewer quitting), so that no file, however long its lines or its junk, holds the
        // replay up.
        let (entry, conn) = match reader.poll_entry_on()? {
            Polled::Entry(entry, conn) => (entry, conn),
            Polled::Busy => {
                if !host.after_entry(&mut core, &conns, t_ms) {
                    stopped = true;
                    break;
                }
                continue;
            }
            Polled::End => break,
        };
        if !matches!(entry, Entry::Frame { .. }) {
            usable = true;
        }
        let continued = matches!(entry, Entry::Continued { .. });
        if conns.is_user_entry(conn, &entry) {
            if let Some(t) = entry_time(&entry) {
                t_ms = t;
            }
            if !pace.wait_for(t_ms, &mut core, &conns, host) {
                stopped = true;
                break;
            }
            conns.user_entry(conn, entry, t_ms);
            if !host.after_entry(&mut core, &conns, t_ms) {
                stopped = true;
                break;
            }
            continue;
        }
        if conn >= open.len() {
            open.resize(conn.saturating_add(1).min(MAX_CONNECTIONS), false);
        }
        if conn > 0 && conn < MAX_CONNECTIONS {
            // An entry of another connection: through its own core.
            conns.core_mut(conn, config);
            match entry {
                Entry::Frame { t_ms: t, text, .. } => {
                    if let Some(t) = t {
                        t_ms = t;
                    }
                    if !pace.wait_for(t_ms, &mut core, &conns, host) {
                        stopped = true;
                        break;
                    }
                    let other = conns.core_mut(conn, config);
                    other.on_frame_bytes(&text, t_ms);
                    usable |= other.stats().last_sequence_num.is_some();
                }
                Entry::Binary { t_ms: t, bytes } => {
                    t_ms = t;
                    if !pace.wait_for(t_ms, &mut core, &conns, host) {
                        stopped = true;
                        break;
                    }
                    conns.core_mut(conn, config).on_binary_frame(&bytes, t_ms);
                }
                Entry::Unread { t_ms: t, reason } => {
                    t_ms = t;
                    if !pace.wait_for(t_ms, &mut core, &conns, host) {
                        stopped = true;
                        break;
                    }
                    conns.core_mut(conn, config).count_bad_frame(t_ms, reason);
                }
                Entry::Connect { t_ms: t, info } => {
                    t_ms = t;
                    open[conn] = true;
                    conns.note_connect(conn, &info.products);
                    replayed_connect(conns.core_mut(conn, config), t, &info, config, false);
                }
                Entry::Continued { t_ms: t, info } => {
                    t_ms = t;
                    open[conn] = true;
                    conns.note_connect(conn, &info.products);
                    replayed_connect(conns.core_mut(conn, config), t, &info, config, true);
                }
                Entry::Disconnect { t_ms: t, reason } => {
                    t_ms = t;
                    open[conn] = false;
                    let other = conns.core_mut(conn, config);
                    other.connection_lost(t, &reason);
                    other.replayed_reconnect();
                }
                Entry::Resync { t_ms: t } => {
                    t_ms = t;
                    conns.core_mut(conn, config).resync(t);
                }
            }
            core.take_events_from(conns.core_mut(conn, config));
            if !host.after_entry(&mut core, &conns, t_ms) {
                stopped = true;
                break;
            }
            continue;
        }
        match entry {
            Entry::Frame {
                t_ms: t,
                text,
                bare,
            } => {
                if bare {
                    // No receive time was recorded: the envelope's timestamp stands in for it
                    // (error frames have none and keep the time of the frame before).
                    if let Some(ts) = envelope_time(&text, core.timestamps()) {
                        t_ms = ts;
                    }
                    if connections == 0 {
                        // A bare file: one implicit connection, and a sequence back at 0 is a new one.
                        connections = 1;
                        if let Some(first) = open.first_mut() {
                            *first = true;
                        }
                        core.set_restart_on_zero(true);
                        core.connection_started(t_ms, false);
                        core.set_connection(ConnectionState::Replaying);
                    }
                }
                if let Some(t) = t {
                    t_ms = t;
                }
                if !pace.wait_for(t_ms, &mut core, &conns, host) {
                    stopped = true;
                    break;
                }
                let before = (core.stats().bad_frames, core.stats().errors);
                core.on_frame_bytes(&text, t_ms);
                let stats = core.stats();
                usable |= stats.bad_frames == before.0
                    && (stats.last_sequence_num.is_some() || stats.errors > before.1);
            }
            Entry::Binary { t_ms: t, bytes } => {
                t_ms = t;
                if !pace.wait_for(t_ms, &mut core, &conns, host) {
                    stopped = true;
                    break;
                }
                core.on_binary_frame(&bytes, t_ms);
            }
            Entry::Unread { t_ms: t, reason } => {
                t_ms = t;
                if !pace.wait_for(t_ms, &mut core, &conns, host) {
                    stopped = true;
                    break;
                }
                core.count_bad_frame(t_ms, reason);
            }
            Entry::Connect { t_ms: t, info } | Entry::Continued { t_ms: t, info } => {
                t_ms = t;
                connections += 1;
                if let Some(first) = open.first_mut() {
                    *first = true;
                }
                conns.note_connect(0, &info.products);
                replayed_connect(&mut core, t, &info, config, continued);
            }
            Entry::Disconnect { t_ms: t, reason } => {
                t_ms = t;
                if let Some(first) = open.first_mut() {
                    *first = false;
                }
                core.connection_lost(t, &reason);
                // Live, every recorded loss (failed attempts included) scheduled one retry.
                core.replayed_reconnect();
            }
            Entry::Resync { t_ms: t } => {
                t_ms = t;
                core.resync(t);
            }
        }
        if !usable && reader.lines() >= PROBE_LINES {
            return Err(not_a_recording(&reader, config));
        }
        if !host.after_entry(&mut core, &conns, t_ms) {
            stopped = true;
            break;
        }
    }
    if !usable && !stopped {
        return Err(not_a_recording(&reader, config));
    }
    if pace.skipped > 0 {
        tracing::info!(
            "{}: {} pause(s) over {} s of recorded time not waited out",
            config.file.display(),
            pace.skipped,
            MAX_PAUSE_MS / 1000
        );
    }
    let damaged = reader.damage();
    if let Some(why) = &damaged {
        let message = format!("{}: {why}", config.file.display());
        tracing::warn!("{message}");
        core.report_problem(t_ms, message);
    }
    let user = conns.user.take();
    for other in conns.others.into_iter().flatten() {
        core.absorb(other, crate::feed::session::add_stats);
    }
    core.note_broken_lines(reader.broken_lines());
    core.finish(t_ms);
    Ok(ReplayReport {
        core,
        broken_lines: reader.broken_lines(),
        too_long_lines: reader.too_long_lines(),
        lines: reader.lines(),
        skipped_pauses: pace.skipped,
        connections_open: open.iter().filter(|&&o| o).count(),
        damaged,
        user,
    })
}

/// The receive time of an entry, when it has one (a bare frame has none).
fn entry_time(entry: &Entry<'_>) -> Option<i64> {
    match entry {
        Entry::Frame { t_ms, .. } => *t_ms,
        Entry::Binary { t_ms, .. }
        | Entry::Unread { t_ms, .. }
        | Entry::Connect { t_ms, .. }
        | Entry::Continued { t_ms, .. }
        | Entry::Disconnect { t_ms, .. }
        | Entry::Resync { t_ms } => Some(*t_ms),
    }
}

/// A recorded connection opens on `core`: the products its marker names join the core when
/// `--products` did not fix them, and the core counts the connection as started. `continued`:
/// a rotated recording's connection going on from the previous file (its sequence numbers go on
/// too).
fn replayed_connect(
    core: &mut FeedCore,
    t_ms: i64,
    info: &ConnectInfo,
    config: &ReplayConfig,
    continued: bool,
) {
    if config.products.is_empty() {
        // Only ids by the product-id rule: a hand-edited marker is no way around it.
        for p in info
            .products
            .iter()
            .filter(|p| crate::product_id::is_product_id(p))
        {
            core.add_product(p);
        }
    }
    if continued {
        core.connection_continued(t_ms, info.authenticated);
    } else {
        core.connection_started(t_ms, info.authenticated);
    }
    core.set_connection(ConnectionState::Replaying);
}

/// The error for a file that held nothing to replay.
fn not_a_recording<R: std::io::Read>(
    reader: &RecordReader<R>,
    config: &ReplayConfig,
) -> RecordError {
    if reader.non_blank_lines() == 0 {
        RecordError::Empty {
            path: config.file.clone(),
        }
    } else {
        RecordError::NotARecording {
            path: config.file.clone(),
            lines: reader.lines(),
        }
    }
}

fn new_core(config: &ReplayConfig) -> FeedCore {
    let endpoint = config.file.display().to_string();
    let mut core = FeedCore::new(endpoint, &config.products, false, 0);
    core.set_auto_products(config.products.is_empty());
    core.set_connection(ConnectionState::Replaying);
    core.set_heatmap(config.heatmap);
    core
}

/// The envelope `timestamp` of a bare frame, found without parsing the frame: right after the
/// channel and client id in the exchange's compact form, else searched for near the start.
pub(crate) fn envelope_time(text: &[u8], timestamps: &mut TimestampCache) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    const L2: &[u8] = br#"{"channel":"l2_data","client_id":"","timestamp":""#;
    let start = if text.starts_with(L2) {
        // Most frames.
        L2.len()
    } else {
        // The others are told apart by the channel's first letter (after `{"channel":"`), so
        // that a frame is compared with one head, not with each head before its own.
        let compact: &[u8] = match text.get(12) {
            Some(b'm') => br#"{"channel":"market_trades","client_id":"","timestamp":""#,
            Some(b't') => br#"{"channel":"ticker","client_id":"","timestamp":""#,
            Some(b'h') => br#"{"channel":"heartbeats","client_id":"","timestamp":""#,
            _ => b"",
        };
        if !compact.is_empty() && text.starts_with(compact) {
            compact.len()
        } else {
            let head = &text[..text.len().min(512)];
            memchr::memmem::find(head, KEY)? + KEY.len()
        }
    };
    let rest = text.get(start..)?;
    let end = memchr::memchr(b'"', rest)?;
    timestamps.ms(&rest[..end])
}

/// Maps recorded time to wall time at the chosen speed. A pause (or a step back) of more than
/// [`MAX_PAUSE_MS`] in recorded time starts the mapping afresh instead of being waited out.
struct Pacer {
    factor: Option<f64>,
    origin: Option<(Instant, i64)>,
    last_ms: Option<i64>,
    skipped: u64,
}

impl Pacer {
    fn new(speed: Speed) -> Pacer {
        Pacer {
            factor: match speed {
                Speed::Max => None,
                Speed::Factor(f) => Some(f),
            },
            origin: None,
            last_ms: None,
            skipped: 0,
        }
    }

    fn wait_for(
        &mut self,
        t_ms: i64,
        core: &mut FeedCore,
        connections: &Connections,
        host: &mut impl ReplayHost,
    ) -> bool {
        let Some(factor) = self.factor else {
            return true;
        };
        if let Some(last) = self.last_ms.replace(t_ms)
            && t_ms.saturating_sub(last).saturating_abs() > MAX_PAUSE_MS
        {
            self.skipped += 1;
            self.origin = None;
        }
        let (start, t0) = *self.origin.get_or_insert((Instant::now(), t_ms));
        let offset_ms = t_ms.saturating_sub(t0).max(0) as f64 / factor;
        let due = Duration::try_from_secs_f64(offset_ms / 1000.0)
            .ok()
            .and_then(|offset| start.checked_add(offset));
        let Some(due) = due else {
            // Beyond any clock: start afresh from here.
            self.skipped += 1;
            self.origin = Some((Instant::now(), t_ms));
            return true;
        };
        let now = Instant::now();
        if due <= now {
            return true;
        }
        host.wait(due - now, core, connections, t_ms)
    }
}

/// Headless replay (`--headless` and tests): no viewer; events are handed to a callback. Stops
/// at the deadline or when `stop` is set (a signal), noticed within [`HEADLESS_SLICE`] even
/// during a long paced wait.
pub struct HeadlessHost<F: FnMut(FeedEvent)> {
    pub on_event: F,
    /// Stop here even if the file goes on.
    pub deadline: Option<Instant>,
    /// Set from elsewhere (a signal handler) to stop the replay.
    pub stop: Arc<AtomicBool>,
}

/// How long a paced headless wait sleeps before looking at the stop flag and the deadline again.
pub const HEADLESS_SLICE: Duration = Duration::from_millis(100);

impl<F: FnMut(FeedEvent)> HeadlessHost<F> {
    /// Runs to the end of the file: no deadline, nothing sets `stop`.
    pub fn new(on_event: F) -> HeadlessHost<F> {
        HeadlessHost {
            on_event,
            deadline: None,
            stop: Arc::default(),
        }
    }

    fn go_on(&self) -> bool {
        !self.stop.load(Ordering::Relaxed) && self.deadline.is_none_or(|end| Instant::now() < end)
    }
}

/// Headless replay needs only the final core: no views are built.
impl<F: FnMut(FeedEvent)> ReplayHost for HeadlessHost<F> {
    fn after_entry(&mut self, core: &mut FeedCore, _connections: &Connections, _t_ms: i64) -> bool {
        for event in core.drain_events() {
            (self.on_event)(event);
        }
        self.go_on()
    }

    fn wait(
        &mut self,
        d: Duration,
        core: &mut FeedCore,
        connections: &Connections,
        t_ms: i64,
    ) -> bool {
        wait_in_slices(d, HEADLESS_SLICE, || {
            self.after_entry(core, connections, t_ms)
        })
    }
}

/// The viewer's replay: views and events through the publisher, commands read between entries.
struct ViewerHost {
    publisher: Publisher,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
    /// The viewer asked to stop (Shutdown) or has gone.
    stopped: bool,
    /// The connections of the last merged view (a several-connection recording), kept for the
    /// views after the end, whose books are all in one core.
    connections: Vec<ConnectionView>,
    /// The user connection's last view (a recording with your orders), kept for the same.
    user: Option<UserView>,
}

impl ViewerHost {
    /// Reads pending commands; `false` on Shutdown or when the viewer has gone.
    fn commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => {
                    if !self.apply(command) {
                        return false;
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.stopped = true;
                    return false;
                }
                Err(mpsc::error::TryRecvError::Empty) => return true,
            }
        }
    }

    /// Applies one command; `false` on Shutdown.
    fn apply(&mut self, command: FeedCommand) -> bool {
        match command {
            FeedCommand::Shutdown => {
                self.stopped = true;
                return false;
            }
            FeedCommand::SetView(request) => self.publisher.set_request(request),
            // A recording cannot be asked for fresh snapshots (the viewer says so).
            FeedCommand::Resync => {}
        }
        true
    }

    /// Once the file is over: the final books stay with the viewer, which may still regroup
    /// them, ask for more rows or the depth chart. Each request gets a view at once, still as of
    /// `t_ms`; between requests the thread sleeps on the channel until Shutdown or the viewer
    /// has gone.
    fn serve_until_shutdown(&mut self, core: &mut FeedCore, t_ms: i64) {
        while !self.stopped {
            let Some(command) = self.commands.blocking_recv() else {
                return;
            };
            if self.apply(command) {
                self.publish_final(core, t_ms);
            }
        }
    }

    /// A view of the final core (every connection's books merged into it); after a
    /// several-connection recording it still lists the recorded connections, each in the
    /// core's final state.
    fn publish_final(&mut self, core: &mut FeedCore, t_ms: i64) {
        if self.connections.is_empty() && self.user.is_none() {
            self.publisher.publish(core, t_ms);
            return;
        }
        self.publisher.forward_events(core);
        core.take_dirty();
        let mut view = core.view(self.publisher.request(), t_ms);
        if !self.connections.is_empty() {
            view.connections = self.connections.clone();
            for c in &mut view.connections {
                c.state = view.connection.clone();
            }
        }
        view.user = self.user.clone();
        self.publisher.publish_view(Arc::new(view));
    }
}

impl ReplayHost for ViewerHost {
    fn after_entry(&mut self, core: &mut FeedCore, connections: &Connections, t_ms: i64) -> bool {
        self.publisher.forward_events(core);
        let user = connections.has_user();
        if connections.is_single() && !user {
            self.publisher.publish_if_due(core, t_ms);
        } else if connections.is_single() {
            // One market connection and your orders: its view with the orders, at the same rate.
            if self.publisher.view_due() {
                core.take_dirty();
                let mut view = core.view(self.publisher.request(), t_ms);
                view.user = connections.user_view();
                self.user.clone_from(&view.user);
                self.publisher.publish_view(Arc::new(view));
            }
        } else if (self.publisher.view_due() || self.connections.is_empty())
            && (core.take_dirty() || user)
        {
            // Several connections: the whole session, at the same bounded rate (the first merged
            // view at once, so that even a short file's final views list its connections).
            let mut view = connections.merged_view(core, self.publisher.request(), t_ms);
            view.user = connections.user_view();
            self.user.clone_from(&view.user);
            self.connections.clone_from(&view.connections);
            self.publisher.publish_view(Arc::new(view));
        }
        self.commands()
    }

    fn wait(
        &mut self,
        d: Duration,
        core: &mut FeedCore,
        connections: &Connections,
        t_ms: i64,
    ) -> bool {
        wait_in_slices(d, VIEW_INTERVAL, || {
            self.after_entry(core, connections, t_ms)
        })
    }
}

/// Sleeps `d` in slices of at most `slice`, calling `go_on` before each, so that commands, a
/// signal or a deadline are noticed during a long pause; false as soon as `go_on` says stop.
pub(crate) fn wait_in_slices(
    d: Duration,
    slice: Duration,
    mut go_on: impl FnMut() -> bool,
) -> bool {
    let end = Instant::now() + d;
    loop {
        if !go_on() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(slice));
    }
}

/// Starts a replay for the viewer on its own thread. A file that cannot be replayed (missing,
/// not a recording, no readable entry) shows as a finished feed with a
/// [`crate::feed::events::FeedEvent::ReplayFailed`] naming the problem, which the viewer shows
/// in place of the books. After the end (or that failure) the thread keeps the final books and
/// answers view requests until [`FeedCommand::Shutdown`] or the handle is dropped.
pub fn spawn(config: ReplayConfig) -> FeedHandle {
    let core = new_core(&config);
    let (publisher, commands, handle) = publish::channel(&core, config.view.clone(), 0);
    let spawned = std::thread::Builder::new()
        .name("cbbook-replay".into())
        .spawn(move || {
            let mut host = ViewerHost {
                publisher,
                commands,
                stopped: false,
                connections: Vec::new(),
                user: None,
            };
            let (mut core, t_ms) = match run(&config, &mut host) {
                Ok(report) => {
                    let t_ms = report.core.stats().last_frame_ms.unwrap_or(0);
                    if let Some(user) = &report.user {
                        host.user = Some(user.view());
                    }
                    (report.core, t_ms)
                }
                Err(err) => {
                    let mut core = new_core(&config);
                    let at_ms = crate::feed::time::now_ms();
                    core.replay_failed(at_ms, err.to_string());
                    core.finish(at_ms);
                    (core, at_ms)
                }
            };
            host.publish_final(&mut core, t_ms);
            host.serve_until_shutdown(&mut core, t_ms);
        });
    if let Err(err) = spawned {
        tracing::error!("cannot start the replay thread: {err}");
    }
    handle
}

#[path = "replay_user.rs"]
mod user;

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
