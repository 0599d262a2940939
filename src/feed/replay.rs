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
use crate::feed::core::FeedCore;
use crate::feed::events::{
    BookState, ConnectionState, ConnectionView, FeedCommand, FeedEvent, FeedHandle, FeedView,
    ViewRequest,
};
use crate::feed::publish::{self, Publisher, VIEW_INTERVAL};
use crate::feed::record::{ConnectInfo, Entry, PROBE_LINES, Polled, RecordError, RecordReader};
use crate::feed::session::{ConnectionSlot, merge_views};
use crate::feed::time::TimestampCache;

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
}

impl ReplayConfig {
    pub fn new(file: impl Into<PathBuf>) -> ReplayConfig {
        ReplayConfig {
            file: file.into(),
            speed: Speed::Max,
            products: Vec::new(),
            view: ViewRequest::default(),
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
                    replayed_connect(conns.core_mut(conn, config), t, &info, config);
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
            Entry::Connect { t_ms: t, info } => {
                t_ms = t;
                connections += 1;
                if let Some(first) = open.first_mut() {
                    *first = true;
                }
                conns.note_connect(0, &info.products);
                replayed_connect(&mut core, t, &info, config);
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
    })
}

/// A recorded connection opens on `core`: the products its marker names join the core when
/// `--products` did not fix them, and the core counts the connection as started.
fn replayed_connect(core: &mut FeedCore, t_ms: i64, info: &ConnectInfo, config: &ReplayConfig) {
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
    core.connection_started(t_ms, info.authenticated);
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
    core
}

/// The envelope `timestamp` of a bare frame, found without parsing the frame: right after the
/// channel and client id in the exchange's compact form, else searched for near the start.
fn envelope_time(text: &[u8], timestamps: &mut TimestampCache) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    const COMPACT: [&[u8]; 2] = [
        br#"{"channel":"l2_data","client_id":"","timestamp":""#,
        br#"{"channel":"heartbeats","client_id":"","timestamp":""#,
    ];
    let start = match COMPACT.iter().find(|head| text.starts_with(head)) {
        Some(head) => head.len(),
        None => {
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
        if self.connections.is_empty() {
            self.publisher.publish(core, t_ms);
            return;
        }
        self.publisher.forward_events(core);
        core.take_dirty();
        let mut view = core.view(self.publisher.request(), t_ms);
        view.connections = self.connections.clone();
        for c in &mut view.connections {
            c.state = view.connection.clone();
        }
        self.publisher.publish_view(Arc::new(view));
    }
}

impl ReplayHost for ViewerHost {
    fn after_entry(&mut self, core: &mut FeedCore, connections: &Connections, t_ms: i64) -> bool {
        self.publisher.forward_events(core);
        if connections.is_single() {
            self.publisher.publish_if_due(core, t_ms);
        } else if (self.publisher.view_due() || self.connections.is_empty()) && core.take_dirty() {
            // Several connections: the whole session, at the same bounded rate (the first merged
            // view at once, so that even a short file's final views list its connections).
            let view = connections.merged_view(core, self.publisher.request(), t_ms);
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
            };
            let (mut core, t_ms) = match run(&config, &mut host) {
                Ok(report) => {
                    let t_ms = report.core.stats().last_frame_ms.unwrap_or(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_frames_take_their_envelope_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bare.jsonl");
        let frames = [
            r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":0,"events":[]}"#,
            r#"{"type":"error","message":"x"}"#,
            r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:51.250Z","sequence_num":1,"events":[]}"#,
        ];
        std::fs::write(&path, frames.join("\n")).unwrap();
        let mut host = HeadlessHost::new(|_e: FeedEvent| {});
        let report = run(&ReplayConfig::new(&path), &mut host).unwrap();
        assert_eq!(report.core.stats().last_frame_ms, Some(1_675_974_771_250));
        assert_eq!(
            report.core.stats().connected_since_ms,
            Some(1_675_974_770_000)
        );
        assert_eq!(report.core.stats().latency_ms, Some(0));
    }

    fn replay_text(lines: &[&str]) -> FeedCore {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut host = HeadlessHost::new(|_e: FeedEvent| {});
        run(&ReplayConfig::new(&path), &mut host).unwrap().core
    }

    const CONNECT: &str =
        r#"{"t":1000,"connect":{"url":"ws://x","authenticated":false,"products":["BTC-USD"]}}"#;

    #[test]
    fn reconnects_count_the_recorded_losses_as_live_counted_the_retries() {
        // Live: a lost connection, then a failed attempt, then a good one: two retries scheduled.
        let core = replay_text(&[
            CONNECT,
            r#"{"t":2000,"disconnect":"the connection ended"}"#,
            r#"{"t":2300,"disconnect":"cannot connect to ws://x: Connection refused"}"#,
            CONNECT,
        ]);
        assert_eq!(core.stats().reconnects, 2);
        // A server down at start: failed attempts before any connection count too.
        let core = replay_text(&[
            r#"{"t":500,"disconnect":"cannot connect to ws://x: Connection refused"}"#,
            CONNECT,
        ]);
        assert_eq!(core.stats().reconnects, 1);
        // Two runs appended to one file: neither retried anything.
        let core = replay_text(&[CONNECT, CONNECT]);
        assert_eq!(core.stats().reconnects, 0);
    }

    #[test]
    fn envelope_time_of_bare_frames() {
        let frame = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50.5Z","sequence_num":1}"#;
        let mut cache = TimestampCache::default();
        assert_eq!(
            envelope_time(frame.as_bytes(), &mut cache),
            Some(1_675_974_770_500)
        );
        let compact = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":2,"events":[]}"#;
        assert_eq!(
            envelope_time(compact.as_bytes(), &mut cache),
            Some(1_675_974_771_000)
        );
        assert_eq!(envelope_time(br#"{"type":"error"}"#, &mut cache), None);
    }

    /// Notes each wait asked for instead of sleeping.
    #[derive(Default)]
    struct WaitLog(Vec<Duration>);

    impl ReplayHost for WaitLog {
        fn after_entry(&mut self, core: &mut FeedCore, _c: &Connections, _t_ms: i64) -> bool {
            core.drain_events().for_each(drop);
            true
        }
        fn wait(&mut self, d: Duration, _core: &mut FeedCore, _c: &Connections, _t: i64) -> bool {
            self.0.push(d);
            true
        }
    }

    fn write_lines(lines: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        (dir, path)
    }

    const HEARTBEAT: &str = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":0,"events":[]}"#;

    #[test]
    fn a_speed_too_slow_for_any_clock_is_refused_not_a_panic() {
        let a = format!(r#"{{"t":1001,"frame":{HEARTBEAT}}}"#);
        let b = format!(r#"{{"t":1002,"frame":{HEARTBEAT}}}"#);
        let (_dir, path) = write_lines(&[CONNECT, &a, &b]);
        for speed in [1e-300, 0.0009, f64::MIN_POSITIVE] {
            let config = ReplayConfig {
                speed: Speed::Factor(speed),
                ..ReplayConfig::new(&path)
            };
            let err = run(&config, &mut WaitLog::default()).err().unwrap();
            assert!(matches!(err, RecordError::TooSlow { .. }), "{err}");
            assert!(err.to_string().contains("at least 0.001"), "{err}");
            assert!(err.to_string().len() < 200, "{err}");
        }
        // The slowest allowed speed paces without trouble.
        let config = ReplayConfig {
            speed: Speed::Factor(MIN_SPEED),
            ..ReplayConfig::new(&path)
        };
        let mut waits = WaitLog::default();
        run(&config, &mut waits).unwrap();
        assert_eq!(waits.0.len(), 1);
        assert!(waits.0[0] > Duration::from_millis(900) && waits.0[0] <= Duration::from_secs(1));
    }

    #[test]
    fn a_corrupt_time_is_not_waited_out() {
        // A frame from the far future, then back to normal: at speed 1 no wait may be long.
        let frames: Vec<String> = [1001i64, 999_999_999_999_999_999, 1500, 2000, i64::MAX, 2100]
            .iter()
            .map(|t| format!(r#"{{"t":{t},"frame":{HEARTBEAT}}}"#))
            .collect();
        let mut lines = vec![CONNECT];
        lines.extend(frames.iter().map(String::as_str));
        lines.push(r#"{"t":-9223372036854775808,"resync":"user"}"#);
        let (_dir, path) = write_lines(&lines);
        let config = ReplayConfig {
            speed: Speed::Factor(1.0),
            ..ReplayConfig::new(&path)
        };
        let mut waits = WaitLog::default();
        let report = run(&config, &mut waits).unwrap();
        assert!(
            waits
                .0
                .iter()
                .all(|d| *d <= Duration::from_millis(MAX_PAUSE_MS as u64)),
            "{:?}",
            waits.0
        );
        assert_eq!(report.skipped_pauses, 4, "there, back, there, back");
        assert_eq!(report.core.stats().frames, 6);
    }

    #[test]
    fn a_pause_longer_than_the_bound_is_skipped_and_shorter_ones_kept() {
        let a = format!(r#"{{"t":1000,"frame":{HEARTBEAT}}}"#);
        let b = format!(r#"{{"t":41000,"frame":{HEARTBEAT}}}"#);
        let c = format!(r#"{{"t":3641000,"frame":{HEARTBEAT}}}"#);
        let (_dir, path) = write_lines(&[CONNECT, &a, &b, &c]);
        let config = ReplayConfig {
            speed: Speed::Factor(2.0),
            ..ReplayConfig::new(&path)
        };
        let mut waits = WaitLog::default();
        let report = run(&config, &mut waits).unwrap();
        assert_eq!(report.skipped_pauses, 1);
        assert_eq!(waits.0.len(), 1, "{:?}", waits.0);
        // 40 s recorded at double speed.
        let d = waits.0[0];
        assert!(
            d > Duration::from_secs(19) && d <= Duration::from_secs(20),
            "{d:?}"
        );
    }

    #[test]
    fn files_with_nothing_to_replay_are_errors_that_say_so() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "is empty"),
            (b"\n\n  \n", "is empty"),
            (b"\x00\x01binary\n\x02\x03\n", "not a cbbook recording"),
            (b"{\"a\":1}\n{\"b\":2}\n", "not a cbbook recording"),
            (b"{\"t\":\"x\"}\n", "not a cbbook recording"),
        ];
        for (content, expect) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            std::fs::write(&path, content).unwrap();
            let err = run(&ReplayConfig::new(&path), &mut WaitLog::default())
                .err()
                .unwrap_or_else(|| panic!("{content:?} replayed"));
            assert!(err.to_string().contains(expect), "{content:?}: {err}");
        }
        // A long binary file stops after the first lines, not at its end.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin");
        let junk: Vec<u8> = (0..2_000_000u32)
            .map(|i| if i % 97 == 0 { b'\n' } else { (i % 251) as u8 })
            .collect();
        std::fs::write(&path, &junk).unwrap();
        let mut events = 0;
        let mut host = HeadlessHost::new(|_e: FeedEvent| events += 1);
        let err = run(&ReplayConfig::new(&path), &mut host).err().unwrap();
        assert!(
            matches!(err, RecordError::NotARecording { lines, .. } if lines == PROBE_LINES),
            "{err}"
        );
        assert!(events <= PROBE_LINES as usize + 5, "{events} events");
        // One good frame among broken lines is enough.
        let (_dir, path) = write_lines(&["garbage", HEARTBEAT, "{\"t\":\"x\"}"]);
        run(&ReplayConfig::new(&path), &mut WaitLog::default()).unwrap();
    }

    #[test]
    fn a_stop_during_a_long_paced_wait_ends_the_headless_replay_promptly() {
        // Two frames 50 s apart at recorded speed: the stop, set 200 ms in, must not wait it out.
        let a = format!(r#"{{"t":1000,"frame":{HEARTBEAT}}}"#);
        let b = format!(r#"{{"t":51000,"frame":{HEARTBEAT}}}"#);
        let (_dir, path) = write_lines(&[CONNECT, &a, &b]);
        let config = ReplayConfig {
            speed: Speed::Factor(1.0),
            ..ReplayConfig::new(&path)
        };
        let mut host = HeadlessHost::new(|_e: FeedEvent| {});
        let stop = Arc::clone(&host.stop);
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            stop.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        let report = run(&config, &mut host).unwrap();
        setter.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            report.core.stats().frames,
            1,
            "stopped before the second frame"
        );
    }

    fn snapshot(product: &str) -> String {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":0,"events":[{{"type":"snapshot","product_id":"{product}","updates":[{{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"1","new_quantity":"1"}}]}}]}}"#
        )
    }

    #[test]
    fn merged_view_takes_each_product_from_its_connection_and_lists_them_all() {
        let config = ReplayConfig::new("rec.jsonl");
        let ids = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut core = new_core(&config);
        let mut conns = Connections::default();
        conns.note_connect(0, &ids(&["A-USD"]));
        core.add_product("A-USD");
        core.on_frame(&snapshot("A-USD"), 10);
        // Connection 2 (1 never appeared), its snapshot not in yet: its product waits there.
        conns.note_connect(2, &ids(&["B-USD"]));
        conns.core_mut(2, &config).add_product("B-USD");
        assert!(!conns.is_single());
        let view = conns.merged_view(&core, &ViewRequest::default(), 20);
        let names: Vec<&str> = view.products.iter().map(|p| p.product.as_str()).collect();
        assert_eq!(names, ["A-USD", "B-USD"]);
        assert_eq!(view.products[0].state, BookState::Live);
        assert_eq!(view.products[1].state, BookState::Waiting);
        let listed: Vec<(usize, Vec<String>)> = view
            .connections
            .iter()
            .map(|c| (c.index, c.products.clone()))
            .collect();
        assert_eq!(listed, [(0, ids(&["A-USD"])), (2, ids(&["B-USD"]))]);
        assert_eq!(view.at_ms, 20);
        // A later connection carrying connection 0's product (a split live): 0 is left out.
        conns.note_connect(2, &ids(&["B-USD", "A-USD"]));
        let other = conns.core_mut(2, &config);
        other.add_product("A-USD");
        other.on_frame(&snapshot("B-USD"), 30);
        let view = conns.merged_view(&core, &ViewRequest::default(), 40);
        assert_eq!(view.connections.len(), 1);
        assert_eq!(view.connections[0].index, 2);
        assert_eq!(view.products[1].state, BookState::Live);
        assert_eq!(
            view.products[0].state,
            BookState::Waiting,
            "from connection 2"
        );
        assert_eq!(view.stats.frames, 2, "counters over every connection");
    }
}
