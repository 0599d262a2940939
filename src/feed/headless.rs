//! Running without a terminal: `--headless` for live and replay, `--dump-book`, `--stats`.
//!
//! Events go to stderr as JSON, one per line; with `--stats` the last line of stderr is
//! `frames=N updates=N gaps=N resyncs=N reconnects=N errors=N elapsed_ms=N updates_per_s=N`,
//! after (live runs) `latency: receive_to_applied_us p50=.. ...; server_to_received_ms ...`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::feed::client::{self, FeedError, LiveConfig};
use crate::feed::core::FeedCore;
use crate::feed::events::{FeedCommand, FeedEvent};
use crate::feed::record::RecordError;
use crate::feed::replay::{self, HeadlessHost, ReplayConfig};

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Replay(#[from] RecordError),
    #[error("cannot write the book dump to {path}: {source}")]
    Dump {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the live feed task failed: {0}")]
    Task(String),
}

/// What to do at the end of a headless run.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOutput {
    pub dump_book: Option<PathBuf>,
    pub stats: bool,
}

/// Prints an event to stderr as one JSON line.
fn print_event(event: &FeedEvent) {
    if let Ok(line) = serde_json::to_string(event) {
        eprintln!("{line}");
    }
}

/// Live, until `duration` is over (or Ctrl-C when `None`), then the dump and the stats line.
pub fn run_live(
    config: LiveConfig,
    duration: Option<Duration>,
    output: &HeadlessOutput,
) -> Result<(), HeadlessError> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HeadlessError::Runtime)?;
    let started = Instant::now();
    let core = runtime.block_on(async move {
        let (task, mut handle) = client::start(config);
        let stop = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
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
    finish(&core, started.elapsed(), output)?;
    Ok(client::check_products_accepted(&core)?)
}

/// Replays a file at `speed` (headless default: as fast as possible), then the dump and stats.
/// `duration`: stop after this much wall time even if the file goes on.
pub fn run_replay(
    config: &ReplayConfig,
    duration: Option<Duration>,
    output: &HeadlessOutput,
) -> Result<(), HeadlessError> {
    let started = Instant::now();
    let mut host = HeadlessHost {
        on_event: |event: FeedEvent| print_event(&event),
        deadline: duration.map(|d| started + d),
    };
    let mut report = replay::run(config, &mut host)?;
    for event in report.core.drain_events() {
        print_event(&event);
    }
    if report.broken_lines > 0 {
        eprintln!(
            "cbbook: skipped {} broken line(s) of {} in {}",
            report.broken_lines,
            report.lines,
            config.file.display()
        );
    }
    finish(&report.core, started.elapsed(), output)
}

fn finish(
    core: &FeedCore,
    elapsed: Duration,
    output: &HeadlessOutput,
) -> Result<(), HeadlessError> {
    if let Some(path) = &output.dump_book {
        write_dump(core, path)?;
    }
    if output.stats {
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let mut stderr = std::io::stderr().lock();
        if let Some(latency) = core.latency_line() {
            let _ = writeln!(stderr, "{latency}");
        }
        let _ = writeln!(stderr, "{}", core.stats_line(elapsed_ms));
    }
    Ok(())
}

/// Writes the dump-book JSON (INTERFACES.md section 3).
pub fn write_dump(core: &FeedCore, path: &Path) -> Result<(), HeadlessError> {
    let mut text = core.dump_books();
    text.push('\n');
    std::fs::write(path, text).map_err(|source| HeadlessError::Dump {
        path: path.to_owned(),
        source,
    })
}
