//! Replay: a recording (or a file of bare frames) through the same [`FeedCore`] as live.
//!
//! The reader streams line by line with one reused buffer, so memory stays flat whatever the
//! file size. The loop is synchronous: headless replay runs it on the calling thread at full
//! speed; the viewer's replay runs it on a thread of its own ([`spawn`]), paced by the recorded
//! receive times.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::cli::Speed;
use crate::feed::core::FeedCore;
use crate::feed::events::{ConnectionState, FeedCommand, FeedHandle, ViewRequest};
use crate::feed::publish::{self, Publisher, VIEW_INTERVAL};
use crate::feed::record::{Entry, RecordError, RecordReader};
use crate::feed::time::rfc3339_ms;

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

/// The end state of a replay.
pub struct ReplayReport {
    pub core: FeedCore,
    /// Lines that were neither an entry nor a frame, skipped.
    pub broken_lines: u64,
    pub lines: u64,
}

/// What the replay loop asks of whoever runs it.
pub trait ReplayHost {
    /// After each entry (events to hand over, commands to read). `false` stops the replay.
    fn after_entry(&mut self, core: &mut FeedCore, t_ms: i64) -> bool;
    /// Paced playback: wait `d` before the next entry. `false` stops the replay.
    fn wait(&mut self, d: Duration, core: &mut FeedCore, t_ms: i64) -> bool;
}

/// Replays `config.file` into a fresh core. Only failing to open or read the file is an error;
/// broken lines and bad frames are counted.
pub fn run(config: &ReplayConfig, host: &mut impl ReplayHost) -> Result<ReplayReport, RecordError> {
    let mut reader = RecordReader::open(&config.file)?;
    let mut core = new_core(config);
    let mut pace = Pacer::new(config.speed);
    let mut connections = 0u64;
    let mut t_ms = 0i64;
    while let Some(entry) = reader.next_entry()? {
        match entry {
            Entry::Frame {
                t_ms: t,
                text,
                bare,
            } => {
                if bare {
                    // No receive time was recorded: the envelope's timestamp stands in for it
                    // (error frames have none and keep the time of the frame before).
                    if let Some(ts) = envelope_time(&text) {
                        t_ms = ts;
                    }
                    if connections == 0 {
                        // A bare file: one implicit connection, and a sequence back at 0 is a new one.
                        connections = 1;
                        core.set_restart_on_zero(true);
                        core.connection_started(t_ms, false);
                        core.set_connection(ConnectionState::Replaying);
                    }
                }
                if let Some(t) = t {
                    t_ms = t;
                }
                if !pace.wait_for(t_ms, &mut core, host) {
                    break;
                }
                core.on_frame_bytes(&text, t_ms);
            }
            Entry::Connect { t_ms: t, info } => {
                t_ms = t;
                connections += 1;
                if config.products.is_empty() {
                    for p in &info.products {
                        core.add_product(p);
                    }
                }
                core.connection_started(t, info.authenticated);
                core.set_connection(ConnectionState::Replaying);
            }
            Entry::Disconnect { t_ms: t, reason } => {
                t_ms = t;
                core.connection_lost(t, &reason);
                // Live, every recorded loss (failed attempts included) scheduled one retry.
                core.replayed_reconnect();
            }
            Entry::Resync { t_ms: t } => {
                t_ms = t;
                core.resync(t);
            }
        }
        if !host.after_entry(&mut core, t_ms) {
            break;
        }
    }
    core.note_broken_lines(reader.broken_lines());
    core.finish(t_ms);
    Ok(ReplayReport {
        core,
        broken_lines: reader.broken_lines(),
        lines: reader.lines(),
    })
}

fn new_core(config: &ReplayConfig) -> FeedCore {
    let endpoint = config.file.display().to_string();
    let mut core = FeedCore::new(endpoint, &config.products, false, 0);
    core.set_auto_products(config.products.is_empty());
    core.set_connection(ConnectionState::Replaying);
    core
}

/// The envelope `timestamp` of a bare frame, found without parsing the frame.
fn envelope_time(text: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    let head = &text[..text.len().min(512)];
    let start = memchr::memmem::find(head, KEY)? + KEY.len();
    let rest = text.get(start..)?;
    let end = memchr::memchr(b'"', rest)?;
    rfc3339_ms(std::str::from_utf8(&rest[..end]).ok()?)
}

/// Maps recorded time to wall time at the chosen speed.
struct Pacer {
    factor: Option<f64>,
    origin: Option<(Instant, i64)>,
}

impl Pacer {
    fn new(speed: Speed) -> Pacer {
        Pacer {
            factor: match speed {
                Speed::Max => None,
                Speed::Factor(f) => Some(f),
            },
            origin: None,
        }
    }

    fn wait_for(&mut self, t_ms: i64, core: &mut FeedCore, host: &mut impl ReplayHost) -> bool {
        let Some(factor) = self.factor else {
            return true;
        };
        let (start, t0) = *self.origin.get_or_insert((Instant::now(), t_ms));
        let offset_ms = (t_ms - t0).max(0) as f64 / factor;
        let due = start + Duration::from_secs_f64(offset_ms / 1000.0);
        let now = Instant::now();
        if due <= now {
            return true;
        }
        host.wait(due - now, core, t_ms)
    }
}

/// Headless: no viewer; events are handed to a callback.
pub struct HeadlessHost<F: FnMut(crate::feed::events::FeedEvent)> {
    pub on_event: F,
    /// Stop here even if the file goes on.
    pub deadline: Option<Instant>,
}

impl<F: FnMut(crate::feed::events::FeedEvent)> ReplayHost for HeadlessHost<F> {
    fn after_entry(&mut self, core: &mut FeedCore, _t_ms: i64) -> bool {
        for event in core.drain_events() {
            (self.on_event)(event);
        }
        self.deadline.is_none_or(|end| Instant::now() < end)
    }

    fn wait(&mut self, d: Duration, core: &mut FeedCore, t_ms: i64) -> bool {
        std::thread::sleep(d);
        self.after_entry(core, t_ms)
    }
}

/// The viewer's replay: views and events through the publisher, commands read between entries.
struct ViewerHost {
    publisher: Publisher,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
}

impl ViewerHost {
    /// Reads pending commands; `false` on Shutdown or when the viewer has gone.
    fn commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(FeedCommand::Shutdown) | Err(mpsc::error::TryRecvError::Disconnected) => {
                    return false;
                }
                Ok(FeedCommand::SetView(request)) => self.publisher.set_request(request),
                // A recording cannot be asked for fresh snapshots.
                Ok(FeedCommand::Resync) => {}
                Err(mpsc::error::TryRecvError::Empty) => return true,
            }
        }
    }
}

impl ReplayHost for ViewerHost {
    fn after_entry(&mut self, core: &mut FeedCore, t_ms: i64) -> bool {
        self.publisher.forward_events(core);
        self.publisher.publish_if_due(core, t_ms);
        self.commands()
    }

    fn wait(&mut self, d: Duration, core: &mut FeedCore, t_ms: i64) -> bool {
        let end = Instant::now() + d;
        loop {
            if !self.after_entry(core, t_ms) {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(VIEW_INTERVAL));
        }
    }
}

/// Starts a replay for the viewer on its own thread. Failing to open the file shows as a
/// finished feed with a [`crate::feed::events::FeedEvent::BadFrame`] naming the problem.
pub fn spawn(config: ReplayConfig) -> FeedHandle {
    let core = new_core(&config);
    let (publisher, commands, handle) = publish::channel(&core, config.view, 0);
    let spawned = std::thread::Builder::new()
        .name("cbbook-replay".into())
        .spawn(move || {
            let mut host = ViewerHost {
                publisher,
                commands,
            };
            match run(&config, &mut host) {
                Ok(mut report) => {
                    let t = report.core.stats().last_frame_ms.unwrap_or(0);
                    host.publisher.publish(&mut report.core, t);
                }
                Err(err) => {
                    let mut core = new_core(&config);
                    let at_ms = crate::feed::time::now_ms();
                    core.report_problem(at_ms, err.to_string());
                    core.finish(at_ms);
                    host.publisher.publish(&mut core, at_ms);
                }
            }
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
        let mut host = HeadlessHost {
            on_event: |_e: crate::feed::events::FeedEvent| {},
            deadline: None,
        };
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
        let mut host = HeadlessHost {
            on_event: |_e: crate::feed::events::FeedEvent| {},
            deadline: None,
        };
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
        assert_eq!(envelope_time(frame.as_bytes()), Some(1_675_974_770_500));
        assert_eq!(envelope_time(br#"{"type":"error"}"#), None);
    }
}
