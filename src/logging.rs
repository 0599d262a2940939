//! Logs go to a file through `tracing`, never to the terminal the viewer draws on.
//!
//! Default file: `cbbook/cbbook.log` under the user's state directory (`$XDG_STATE_HOME`, else
//! `~/.local/state`). The level comes from `RUST_LOG` (default `info`). JWTs are never logged
//! whole: [`jwt_summary`] reduces one to its decoded header and claims.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use base64::Engine;
use tracing::{Level, Metadata};
use tracing_appender::non_blocking::{NonBlocking, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error(
        "cannot create the log directory {path}: {source}. Pass --log-file FILE to log elsewhere"
    )]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the log file {path}: {source}. Pass --log-file FILE to log elsewhere")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Keeps the background log writer alive; dropping it flushes what is queued.
pub struct LogGuard {
    writer: Option<LazyWriter>,
    pub path: PathBuf,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // The writer thread's guard, if a line started it: dropping it flushes the queue.
        if let Some(writer) = &self.writer {
            drop(
                writer
                    .0
                    .guard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take(),
            );
        }
    }
}

/// The log file's writer thread, started by the first line logged: a run that logs nothing (a
/// headless replay, `cbbook auth`, an export) starts no thread, which was a tenth of a headless
/// replay's start-up (BENCHMARKS.md, "Replay as a whole process"). The file is opened at once,
/// so that a log file that cannot be written is still an error before anything runs.
#[derive(Clone)]
struct LazyWriter(Arc<LazyWriterState>);

struct LazyWriterState {
    file: Mutex<Option<File>>,
    writer: OnceLock<NonBlocking>,
    guard: Mutex<Option<WorkerGuard>>,
}

impl LazyWriter {
    fn new(file: File) -> LazyWriter {
        LazyWriter(Arc::new(LazyWriterState {
            file: Mutex::new(Some(file)),
            writer: OnceLock::new(),
            guard: Mutex::new(None),
        }))
    }

    fn start(&self) -> NonBlocking {
        let file = self
            .0
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The file is taken once, by the one call `OnceLock` lets run; a sink stands in for it
        // otherwise rather than a panic in a log call.
        let file: Box<dyn std::io::Write + Send> = match file {
            Some(file) => Box::new(file),
            None => Box::new(std::io::sink()),
        };
        // The writer thread's queue: tracing-appender's default of 128,000 lines is a 4 MB
        // buffer that is touched page by page when it is made, about 2 ms of every start.
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_QUEUE_LINES)
            .finish(file);
        *self.0.guard.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
        writer
    }
}

impl<'a> MakeWriter<'a> for LazyWriter {
    type Writer = NonBlocking;

    fn make_writer(&'a self) -> NonBlocking {
        self.0.writer.get_or_init(|| self.start()).clone()
    }
}

/// `cbbook/cbbook.log` under the user's state directory.
pub fn default_log_path() -> PathBuf {
    let base = dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("cbbook").join("cbbook.log")
}

/// Log lines queued for the writer thread before new ones are dropped.
const LOG_QUEUE_LINES: usize = 4096;

/// Sends `tracing` output to `path` (or the default file), appending. If a global subscriber is
/// already installed (tests), the existing one stays and this is a no-op.
pub fn init(path: Option<&Path>) -> Result<LogGuard, LoggingError> {
    let path = path.map_or_else(default_log_path, Path::to_path_buf);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| LoggingError::Dir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| LoggingError::Open {
            path: path.clone(),
            source,
        })?;
    let writer = LazyWriter::new(file);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The filter's most verbose level, told to the `log` bridge too: without it the bridge
    // assumes TRACE, and every trace record of the WebSocket library (several per frame) is
    // built and dispatched only to be dropped here, a few percent of a core at 10,000 frames a
    // second (BENCHMARKS.md, "200 products in the viewer").
    let hint = filter.max_level_hint();
    let secrets = filter_fn(secret_safe);
    let secrets = match hint {
        Some(level) => secrets.with_max_level_hint(level),
        None => secrets,
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer.clone())
        .with_ansi(false)
        .with_filter(filter.and(secrets));
    let installed = tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok();
    Ok(LogGuard {
        writer: installed.then_some(writer),
        path,
    })
}

/// The WebSocket library logs whole frames at debug and trace level, subscribes (and so JWTs)
/// included: whatever `RUST_LOG` says (`trace`, `tungstenite=trace`, or a more specific target
/// such as `tungstenite::protocol=trace`), its events above `info` are never written.
fn secret_safe(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    let websocket = ["tungstenite", "tokio_tungstenite"].iter().any(|lib| {
        target
            .strip_prefix(lib)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    });
    !websocket || *meta.level() <= Level::INFO
}

/// A JWT as it may appear in a log: its decoded header and claims, never the signature.
pub fn jwt_summary(token: &str) -> String {
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| -> String {
        part.and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| serde_json::from_str::<serde_json::Value>(text).is_ok())
        .unwrap_or_else(|| "<undecodable>".to_owned())
    };
    let header = decode(parts.next());
    let claims = decode(parts.next());
    format!("jwt(header={header} claims={claims})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_summary_keeps_header_and_claims_only() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = r#"{"alg":"ES256","kid":"k"}"#;
        let claims = r#"{"sub":"k","nbf":1,"exp":121}"#;
        let signature = b64.encode(b"very secret signature bytes");
        let token = format!("{}.{}.{signature}", b64.encode(header), b64.encode(claims));
        let summary = jwt_summary(&token);
        assert_eq!(summary, format!("jwt(header={header} claims={claims})"));
        assert!(!summary.contains(&signature));
        assert!(!summary.contains(&token));
        assert_eq!(
            jwt_summary("garbage"),
            "jwt(header=<undecodable> claims=<undecodable>)"
        );
    }

    #[test]
    fn default_path_is_under_a_state_directory() {
        let p = default_log_path();
        assert!(p.ends_with("cbbook/cbbook.log"), "{}", p.display());
    }
}
