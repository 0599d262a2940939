//! Logs go to a file through `tracing`, never to the terminal the viewer draws on.
//!
//! Default file: `cbbook/cbbook.log` under the user's state directory (`$XDG_STATE_HOME`, else
//! `~/.local/state`). The level comes from `RUST_LOG` (default `info`). JWTs are never logged
//! whole: [`jwt_summary`] reduces one to its decoded header and claims.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use base64::Engine;
use tracing::{Level, Metadata};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
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
    _guard: Option<WorkerGuard>,
    pub path: PathBuf,
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
    // The writer thread's queue: tracing-appender's default of 128,000 lines is a 4 MB buffer
    // that is touched page by page when it is made, about 2 ms of every start.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .finish(file);
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
        .with_writer(writer)
        .with_ansi(false)
        .with_filter(filter.and(secrets));
    let installed = tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok();
    Ok(LogGuard {
        _guard: installed.then_some(guard),
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
