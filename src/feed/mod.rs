//! The live feed: WebSocket client, books, integrity checks, record, replay and headless mode.
//!
//! - [`core`]: the one path from frames to books, shared by live and replay.
//! - [`policy`]: when a connection resyncs, is left, or is retried (watchdog, resync pacing,
//!   backoff), as a pure struct told the time.
//! - [`client`]: connect, subscribe, read, and act on the core's outcomes and the policy's
//!   decisions ([`spawn_live`]).
//! - [`replay`]: recordings and bare-frame files through the same core ([`spawn_replay`]).
//! - [`record`]: the JSON Lines recording format, writer and streaming reader; [`source`]: where
//!   the reader reads from (a file that can block, on a thread of its own).
//! - [`headless`]: runs without a terminal, `--dump-book` and `--stats`.

pub mod backoff;
pub mod client;
pub mod clock_probe;
pub mod compressed;
pub mod core;
pub mod events;
pub mod headless;
pub mod latency;
pub mod policy;
pub mod protocol;
pub mod publish;
pub mod record;
pub mod recorder;
pub mod replay;
pub mod rotate;
pub mod rounds;
pub mod session;
pub mod shards;
pub mod source;
pub mod time;
pub mod tls;
pub(crate) mod user_client;
pub mod user_events;

pub use client::{FeedError, LiveConfig};
pub use replay::ReplayConfig;

use events::FeedHandle;

/// Starts the live feed as a task of the current tokio runtime. Problems with the
/// configuration (a CA file that cannot be read, a recording that cannot be opened) show as
/// events and a finished view: call [`LiveConfig::validate`] first to report them up front.
pub fn spawn_live(config: LiveConfig) -> FeedHandle {
    client::spawn(config)
}

/// Starts replaying a file on a thread of its own.
pub fn spawn_replay(config: ReplayConfig) -> FeedHandle {
    replay::spawn(config)
}
