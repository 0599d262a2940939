//! Running without a terminal: `--headless` for live and replay, `--dump-book`, `--stats`.
//!
//! Events go to stderr as JSON, one per line; with `--stats` the last line of stderr is
//! `frames=N updates=N gaps=N resyncs=N reconnects=N errors=N crossed=N trades=N elapsed_ms=N
//! updates_per_s=N connections=N` (live runs add `clock_offset_ms=N auth=signed|public|refused`),
//! after (live runs) `latency: receive_to_applied_us p50=.. ...; server_to_received_ms ...`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

use crate::feed::client::{self, FeedError, LiveConfig};
use crate::feed::core::FeedCore;
use crate::feed::events::{FeedCommand, FeedEvent};
use crate::feed::record::RecordError;
use crate::feed::replay::{self, ReplayConfig};
use crate::feed::user_events::{OrderRow, UserView};
use crate::output::to_stderr;

/// The I/O cause is part of each message (not a separate `source`), so that the error chain
/// prints it once.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Replay(#[from] RecordError),
    #[error(
        "cannot write the book dump to {path}: {error}. Check the directory exists and is writable"
    )]
    DumpDestination {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write the book dump to {path}: {error}. Check the disk has space")]
    Dump {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("--dump-book {path} is a directory: give the path of a file")]
    DumpIsDirectory { path: PathBuf },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot watch for Ctrl-C and SIGTERM: {0}")]
    Signals(std::io::Error),
    #[error("the live feed task failed: {0}")]
    Task(String),
}

/// What to do at the end of a headless run.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOutput {
    pub dump_book: Option<PathBuf>,
    pub stats: bool,
}

/// Writes one line to stderr. A closed or full stderr is ignored: it must not stop the run nor
/// lose the dump.
fn say(line: std::fmt::Arguments<'_>) {
    to_stderr(format_args!("{line}\n"));
}

/// Prints an event to stderr as one JSON line (server text in it, such as an error reason,
/// made safe for a terminal by [`crate::output::json_line_to_stderr`]).
fn print_event(event: &FeedEvent) {
    if let Ok(line) = serde_json::to_string(event) {
        crate::output::json_line_to_stderr(&line);
    }
}

/// Live, until `duration` is over (or Ctrl-C when `None`), then the dump and the stats line.
/// Ctrl-C or SIGTERM ends the run early the same way.
pub fn run_live(
    config: LiveConfig,
    duration: Option<Duration>,
    output: &HeadlessOutput,
) -> Result<(), HeadlessError> {
    config.validate()?;
    check_dump_destination(output)?;
    let signals = StopSignals::install(output)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HeadlessError::Runtime)?;
    let started = Instant::now();
    let result = runtime.block_on(async move {
        let (task, mut handle) = client::start_session(config);
        let stop = async {
            match duration {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = signals.notify.notified() => {}
                    }
                }
                None => signals.notify.notified().await,
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                event = handle.events.recv() => match event {
                    Some(event) => print_event(&event),
                    None => break,
                },
            }
        }
        let _ = handle.commands.send(FeedCommand::Shutdown);
        let core = task.await.map_err(|e| HeadlessError::Task(e.to_string()));
        while let Ok(event) = handle.events.try_recv() {
            print_event(&event);
        }
        core
    })?;
    finish(
        &result.core,
        started.elapsed(),
        output,
        (result.connections_open, &live_stats(&result.core)),
        result.user.as_ref(),
    )?;
    Ok(client::check_products_accepted(&result.core)?)
}

/// Replays a file at `speed` (headless default: as fast as possible), then the dump and stats.
/// `duration`: stop after this much wall time even if the file goes on. Ctrl-C or SIGTERM stops
/// it the same way.
pub fn run_replay(
    config: &ReplayConfig,
    duration: Option<Duration>,
    output: &HeadlessOutput,
) -> Result<(), HeadlessError> {
    check_dump_destination(output)?;
    let signals = StopFlags::install()?;
    let started = Instant::now();
    let mut host = replay::HeadlessHost {
        on_event: |event: FeedEvent| print_event(&event),
        deadline: duration.map(|d| started + d),
        stop: Arc::clone(&signals.stopped),
    };
    let mut report = replay::run(config, &mut host)?;
    if let Some(name) = signals.caught() {
        say(format_args!("cbbook: {name}: {}", stop_notice(output)));
    }
    for event in report.core.drain_events() {
        print_event(&event);
    }
    if report.broken_lines > 0 {
        let too_long = match report.too_long_lines {
            0 => String::new(),
            n => format!(
                " ({n} over the {} MiB line limit)",
                crate::feed::record::MAX_LINE_BYTES >> 20
            ),
        };
        say(format_args!(
            "cbbook: skipped {} broken line(s){too_long} of {} in {}",
            report.broken_lines,
            report.lines,
            crate::text::printable(&config.file.display().to_string())
        ));
    }
    if let Some(why) = &report.damaged {
        say(format_args!(
            "cbbook: {}: {why}",
            crate::text::printable(&config.file.display().to_string())
        ));
    }
    if report.skipped_pauses > 0 {
        say(format_args!(
            "cbbook: did not wait out {} pause(s) of more than {} s in recorded time",
            report.skipped_pauses,
            replay::MAX_PAUSE_MS / 1000
        ));
    }
    // A recording with the user connection's frames: the orders as live had them.
    let user = report.user.as_ref().map(|u| u.view());
    finish(
        &report.core,
        started.elapsed(),
        output,
        (report.connections_open, ""),
        user.as_ref(),
    )
}

/// The end of a live run's stats line: ` clock_offset_ms=N auth=signed|public|refused`. The
/// offset is this machine's clock minus the server's, measured over every connection (`none`
/// when no frame was timed); `auth` is `signed` when the key's subscribes were accepted (after a
/// retry with the server's time, too), `public` without a key, `refused` when the key was
/// refused and the feed fell back to the public one (docs/feed.md, "Headless mode").
pub fn live_stats(core: &FeedCore) -> String {
    let offset = core
        .overall_clock()
        .map_or_else(|| "none".to_owned(), |c| c.offset_ms.to_string());
    let auth = match (core.auth().key_configured, core.fell_back_to_public()) {
        (false, _) => "public",
        (true, true) => "refused",
        (true, false) => "signed",
    };
    format!(" clock_offset_ms={offset} auth={auth}")
}

/// Ctrl-C (SIGINT) and SIGTERM during a headless live run: the first stops the run cleanly (the
/// dump and the stats line are still written, and the exit status is 0); a second one ends the
/// process at once (status 130 or 143, as a shell reports a signal).
struct StopSignals {
    notify: Arc<Notify>,
}

impl StopSignals {
    /// Installs the handlers on a thread of their own before returning, so that no signal from
    /// here on is missed.
    fn install(output: &HeadlessOutput) -> Result<StopSignals, HeadlessError> {
        let notice = stop_notice(output);
        let notify = Arc::new(Notify::new());
        let (ready, installed) = std::sync::mpsc::channel();
        let wake = Arc::clone(&notify);
        std::thread::Builder::new()
            .name("cbbook-signals".into())
            .spawn(move || watch_signals(&wake, &ready, notice))
            .map_err(HeadlessError::Signals)?;
        match installed.recv() {
            Ok(Ok(())) => Ok(StopSignals { notify }),
            Ok(Err(e)) => Err(HeadlessError::Signals(e)),
            Err(_) => Err(HeadlessError::Signals(std::io::Error::other(
                "the signal thread ended",
            ))),
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM during a headless replay, as [`StopSignals`] has them for a live
/// run, without a thread: a replay runs on this thread alone and looks at `stopped` between
/// bounded steps, so the first signal only sets it (the caller says so once the replay has
/// stopped); a second one ends the process at once (status 130 or 143). The thread and its
/// runtime were most of a replay's start-up cost (BENCHMARKS.md, "Replay as a whole process").
struct StopFlags {
    stopped: Arc<AtomicBool>,
    /// The number of the signal that set `stopped`.
    signal: Arc<AtomicUsize>,
}

impl StopFlags {
    fn install() -> Result<StopFlags, HeadlessError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stopped = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        for (number, status) in [(SIGINT, 130), (SIGTERM, 143)] {
            // Actions run in the order they were registered: the shutdown looks at the flag
            // before this signal sets it, so only a second signal finds it set.
            signal_hook::flag::register_conditional_shutdown(number, status, Arc::clone(&stopped))
                .map_err(HeadlessError::Signals)?;
            let index = usize::try_from(number).unwrap_or(0);
            signal_hook::flag::register_usize(number, Arc::clone(&signal), index)
                .map_err(HeadlessError::Signals)?;
            signal_hook::flag::register(number, Arc::clone(&stopped))
                .map_err(HeadlessError::Signals)?;
        }
        Ok(StopFlags { stopped, signal })
    }

    /// The name of the signal that stopped the run, if one did.
    fn caught(&self) -> Option<&'static str> {
        if !self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        let number = i32::try_from(self.signal.load(Ordering::Relaxed)).unwrap_or(0);
        Some(if number == signal_hook::consts::SIGTERM {
            "SIGTERM"
        } else {
            "Ctrl-C"
        })
    }
}

/// What the first signal's line says follows, from what this run will write at its end.
fn stop_notice(output: &HeadlessOutput) -> &'static str {
    match (output.dump_book.is_some(), output.stats) {
        (true, true) => "stopping; the dump and stats follow (again to quit at once)",
        (true, false) => "stopping; the dump follows (again to quit at once)",
        (false, true) => "stopping; the stats follow (again to quit at once)",
        (false, false) => "stopping; press again to quit at once",
    }
}

fn watch_signals(
    notify: &Notify,
    ready: &std::sync::mpsc::Sender<std::io::Result<()>>,
    notice: &'static str,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    runtime.block_on(async {
        let handlers = signal(SignalKind::interrupt())
            .and_then(|int| Ok((int, signal(SignalKind::terminate())?)));
        let (mut int, mut term) = match handlers {
            Ok(handlers) => handlers,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let name = tokio::select! {
            _ = int.recv() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        };
        say(format_args!("cbbook: {name}: {notice}"));
        notify.notify_one();
        let code = tokio::select! {
            _ = int.recv() => 130,
            _ = term.recv() => 143,
        };
        std::process::exit(code);
    });
}

/// Fails fast when the dump could not be written at the end: its directory is missing or not
/// writable, or the path is a directory. Only a regular file or a missing path is tried by
/// opening it (a file that did not exist is not left behind); a FIFO or a device is not opened
/// (that would block for a reader, or end its stream), nor is a dangling symlink (opening would
/// create its target).
fn check_dump_destination(output: &HeadlessOutput) -> Result<(), HeadlessError> {
    let Some(path) = &output.dump_book else {
        return Ok(());
    };
    let unwritable = |error| HeadlessError::DumpDestination {
        path: path.clone(),
        error,
    };
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(unwritable)?;
            let _ = std::fs::remove_file(path);
            Ok(())
        }
        Err(e) => Err(unwritable(e)),
        // Through a symlink, to what it points at (if anything).
        Ok(_) => match std::fs::metadata(path).map(|m| m.file_type()) {
            Ok(kind) if kind.is_dir() => Err(HeadlessError::DumpIsDirectory { path: path.clone() }),
            Ok(kind) if kind.is_file() => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(unwritable)?;
                Ok(())
            }
            _ => Ok(()),
        },
    }
}

/// The dump, then the stats line (even when the dump failed: the error follows it).
/// The stats line ends with `connections=N`: the connections open at the end (docs/feed.md,
/// "Headless mode").
fn finish(
    core: &FeedCore,
    elapsed: Duration,
    output: &HeadlessOutput,
    (connections, live): (usize, &str),
    user: Option<&UserView>,
) -> Result<(), HeadlessError> {
    let orders = user.map(|u| u.orders.as_slice());
    let dumped = match &output.dump_book {
        Some(path) => write_dump_with_orders(core, orders, path),
        None => Ok(()),
    };
    if output.stats {
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        if let Some(latency) = core.latency_line() {
            say(format_args!("{latency}"));
        }
        // With a key: the open orders at the end (docs/feed.md, "Your orders").
        let orders = orders.map_or(String::new(), |o| format!(" orders={}", o.len()));
        say(format_args!(
            "{} connections={connections}{orders}{live}",
            core.stats_line(elapsed_ms)
        ));
    }
    dumped
}

/// Writes the dump-book JSON (docs/feed.md, "Headless mode").
pub fn write_dump(core: &FeedCore, path: &Path) -> Result<(), HeadlessError> {
    write_dump_with_orders(core, None, path)
}

/// [`write_dump`] with each product's open orders (a session with a user connection).
pub fn write_dump_with_orders(
    core: &FeedCore,
    orders: Option<&[OrderRow]>,
    path: &Path,
) -> Result<(), HeadlessError> {
    let mut text = core.dump_books_with_orders(orders);
    text.push('\n');
    std::fs::write(path, text).map_err(|error| HeadlessError::Dump {
        path: path.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn dump_to(path: &Path) -> HeadlessOutput {
        HeadlessOutput {
            dump_book: Some(path.to_owned()),
            stats: false,
        }
    }

    /// Runs the check on a thread of its own: a check that blocks fails the test, not hangs it.
    fn check_within_seconds(path: &Path) -> Result<(), HeadlessError> {
        let (done, result) = mpsc::channel();
        let output = dump_to(path);
        std::thread::spawn(move || done.send(check_dump_destination(&output)));
        result
            .recv_timeout(Duration::from_secs(20))
            .expect("the check blocked")
    }

    #[test]
    fn the_stop_notice_names_only_what_follows() {
        let output = |dump: bool, stats| HeadlessOutput {
            dump_book: dump.then(|| PathBuf::from("d.json")),
            stats,
        };
        let notice = |dump, stats| stop_notice(&output(dump, stats));
        assert!(notice(true, true).contains("the dump and stats follow"));
        assert!(notice(true, false).contains("the dump follows"));
        assert!(notice(false, true).contains("the stats follow"));
        for (dump, stats) in [(true, false), (false, true), (false, false)] {
            assert!(!notice(dump, stats).contains("and stats"), "{dump} {stats}");
        }
        assert!(!notice(false, false).contains("follow"));
    }

    #[test]
    fn a_fifo_is_not_opened_to_check_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("dump.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        check_within_seconds(&fifo).unwrap();
        assert!(fifo.exists(), "the FIFO was removed");
    }

    #[test]
    fn a_dangling_symlink_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (link, target) = (dir.path().join("dump.json"), dir.path().join("target.json"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        check_within_seconds(&link).unwrap();
        let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
        assert!(kind.is_symlink(), "the symlink was removed");
        assert!(!target.exists(), "the target was created");
    }

    #[test]
    fn missing_files_are_not_left_behind_and_missing_directories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("dump.json");
        check_within_seconds(&fresh).unwrap();
        assert!(
            std::fs::symlink_metadata(&fresh).is_err(),
            "the probe file was left"
        );
        let nowhere = dir.path().join("missing").join("dump.json");
        let err = check_within_seconds(&nowhere).unwrap_err();
        assert!(
            matches!(err, HeadlessError::DumpDestination { .. }),
            "{err}"
        );
        let err = check_within_seconds(dir.path()).unwrap_err();
        assert!(
            matches!(err, HeadlessError::DumpIsDirectory { .. }),
            "{err}"
        );
    }

    #[test]
    fn an_existing_file_is_kept_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dump.json");
        std::fs::write(&file, "old").unwrap();
        check_within_seconds(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old");
    }
}
