//! `cbbook sim`: a Coinbase-compatible Advanced Trade WebSocket server on loopback.
//!
//! It speaks Coinbase's protocol byte for byte (subscribe/unsubscribe, `l2_data` snapshots
//! and updates, heartbeats, tickers, trades, acks, error frames), verifies JWTs with the auth
//! module's rules, and injects the faults the real feed has (sequence gaps, abrupt disconnects,
//! stalls, a frozen market, a skewed clock). Every test of the client and `cbbook --demo` run
//! against it. See `docs/sim.md` for the flags and the frames.
//!
//! - [`spawn`] starts one inside a tokio runtime and returns a [`SimHandle`].
//! - [`run`] is the `cbbook sim` command.

mod auth_check;
pub mod book_file;
mod clock;
mod config;
mod connection;
mod corpus;
mod dump;
mod fixed;
mod frames;
mod limits;
mod log;
pub mod market;
mod orders;
mod outlets;
mod protocol;
mod publisher;
mod rng;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth_check::{AuthorizedKey, DEMO_PUBLIC_KEYS};
pub use book_file::{BookFileError, LoadedBook, load_book_file};
pub use config::{
    DEFAULT_LEVELS_PER_SIDE, DEFAULT_QUEUE_FRAMES, DEFAULT_UPDATES_PER_SEC,
    DEFAULT_USER_CHURN_PER_SEC, SimConfig,
};
pub use corpus::{CorpusSummary, write_corpus};
pub use limits::{
    DEFAULT_MAX_CONNECTIONS_PER_SEC, DEFAULT_MAX_L2_PER_CONNECTION, TOO_MANY_L2_STREAMS,
};
pub use log::SimLog;
pub use protocol::{Channel, valid_product_id};

use crate::cli::SimArgs;
use market::Market;
use server::{ProductState, Shared};

/// Why a simulator could not start (bad configuration, files, or the port).
#[derive(Debug, Error)]
pub enum SimError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Book(#[from] BookFileError),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Key(String),
    #[error("cannot listen on {addr}: {error}; pick another --port (0 picks a free one)")]
    Bind {
        addr: SocketAddr,
        /// Shown in the message (not chained, so it is printed once).
        error: std::io::Error,
    },
    #[error("the simulator must be started from inside a tokio runtime")]
    NoRuntime,
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        /// Shown in the message (not chained, so it is printed once).
        error: std::io::Error,
    },
}

/// The markets of a configuration: products with a book start from it, the others are seeded.
fn build_markets(config: &SimConfig) -> Vec<Market> {
    let mut ids: Vec<String> = config.products.clone();
    for book in &config.books {
        if !ids.contains(&book.product) {
            ids.push(book.product.clone());
        }
    }
    ids.iter()
        .map(|id| match config.books.iter().find(|b| &b.product == id) {
            Some(book) => Market::from_book(book, config.seed),
            None => Market::synthetic(id, config.seed, config.levels_per_side),
        })
        .collect()
}

/// `--user-orders N`: N open orders for every trusted key, spread over the products (the first
/// products take one more when N does not divide evenly).
fn seed_orders(config: &SimConfig, accounts: &orders::Accounts, markets: &[Market]) {
    if config.user_orders == 0 || markets.is_empty() {
        return;
    }
    let now = clock::ServerClock::new(config.clock_skew_ms).now();
    let n = markets.len();
    for key in &config.authorized_keys {
        for (i, market) in markets.iter().enumerate() {
            let share = config.user_orders / n + usize::from(i < config.user_orders % n);
            accounts.seed(&key.name, market, share, config.user_orders_near, now);
        }
    }
}

/// A running simulator. Dropping it shuts the simulator down.
#[derive(Debug)]
pub struct SimHandle {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl SimHandle {
    /// `ws://127.0.0.1:PORT` (or `wss://` with TLS).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The products it simulates, in order.
    pub fn products(&self) -> Vec<String> {
        self.shared.products.iter().map(|p| p.id.clone()).collect()
    }

    /// Every product's book now, in the dump-book JSON (docs/feed.md, "Headless mode").
    pub fn dump_books(&self) -> serde_json::Value {
        dump::dump_books(&self.shared)
    }

    /// The text `--dump-book` would write now (without its final newline): the same form as the
    /// client's dump, byte for byte, except what `sequence_num` counts (docs/sim.md).
    pub fn dump_text(&self) -> String {
        dump::dump_text(&self.shared)
    }

    /// The open orders of `key` on `product`, as the `orders` array of a `user` frame (what a
    /// client subscribed to `user` with that key must end up holding).
    pub fn open_orders(&self, key: &str, product: &str) -> serde_json::Value {
        serde_json::from_str(&self.shared.accounts.open_orders_json(Some(key), product))
            .unwrap_or_default()
    }

    /// Connections open now (after their WebSocket handshake).
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::SeqCst)
    }

    /// WebSocket upgrades refused with HTTP 429 (`--max-connections-per-sec`) so far. A client
    /// test can assert it stayed 0: the client never reconnected faster than the exchange allows.
    pub fn refused_connections(&self) -> u64 {
        self.shared.refused_connections.load(Ordering::SeqCst)
    }

    /// Client messages refused by `--max-unauth-messages-per-sec` so far.
    pub fn refused_messages(&self) -> u64 {
        self.shared.refused_messages.load(Ordering::SeqCst)
    }

    /// Stops accepting, freezes the markets, and closes every connection (close code 1001).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Shuts down and waits (at most `limit`) until every connection has closed.
    pub async fn shutdown_and_wait(&self, limit: Duration) {
        self.shutdown();
        let until = tokio::time::Instant::now() + limit;
        while self.open_connections() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a simulator inside the current tokio runtime: binds, seeds the markets, and returns
/// once it accepts connections.
pub fn spawn(config: SimConfig) -> Result<SimHandle, SimError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| SimError::NoRuntime)?;
    config.check_aliases()?;
    let addr = SocketAddr::new(config.bind, config.port);
    let bind_err = |error| SimError::Bind { addr, error };
    let std_listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
    std_listener.set_nonblocking(true).map_err(bind_err)?;
    let local = std_listener.local_addr().map_err(bind_err)?;
    let listener = {
        let _entered = runtime.enter();
        TcpListener::from_std(std_listener).map_err(bind_err)?
    };
    let markets = build_markets(&config);
    let accounts = orders::Accounts::new(config.seed, config.user_churn_per_sec);
    seed_orders(&config, &accounts, &markets);
    let products: Vec<ProductState> = markets.into_iter().map(ProductState::new).collect();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // `--unsubscribed-every` sends frames of products a connection did not subscribe to, so
    // with it every connection's queue takes every product.
    let outlets = Arc::new(outlets::Outlets::new(
        products.len(),
        config.queue_frames,
        config.unsubscribed_every.is_some(),
    ));
    let url = format!("{}://{local}", config.scheme());
    let config_rate = config.max_connections_per_sec;
    let message_rate = config.max_unauth_messages_per_sec;
    let shared = Arc::new(Shared {
        clock: clock::ServerClock::new(config.clock_skew_ms),
        log: config.log,
        config,
        products,
        outlets,
        shutdown: shutdown_rx,
        next_connection: AtomicU64::new(1),
        open_connections: AtomicUsize::new(0),
        connection_rate: Mutex::new(limits::RateWindow::new(config_rate)),
        message_rate: Mutex::new(limits::RateWindow::new(message_rate)),
        refused_connections: AtomicU64::new(0),
        refused_messages: AtomicU64::new(0),
        accounts,
    });
    runtime.spawn(server::accept_loop(shared.clone(), listener));
    for product in 0..shared.products.len() {
        runtime.spawn(publisher::run_market(shared.clone(), product));
    }
    runtime.spawn(publisher::run_heartbeats(shared.clone()));
    if shared.accounts.active() {
        runtime.spawn(publisher::run_accounts(shared.clone()));
    }
    Ok(SimHandle {
        url,
        addr: local,
        shared,
        shutdown: shutdown_tx,
    })
}

/// `cbbook sim`: serves until SIGINT or SIGTERM, then writes `--dump-book` if asked.
pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let config = SimConfig::from_args(&args)?;
    if let Some(path) = &args.write_corpus {
        let summary = write_corpus(&config, path, args.updates, args.corpus_trades)?;
        // The corpus is written: a stderr whose reader is gone must not turn that into a failure.
        crate::output::to_stderr(format_args!(
            "cbbook sim: wrote {} ({} frames, {} updates, {} bytes)\n",
            path.display(),
            summary.frames,
            summary.updates,
            summary.bytes
        ));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.dump_book {
        dump::check_dump_path(path)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve_until_signal(config, args.dump_book))
}

async fn serve_until_signal(
    config: SimConfig,
    dump_path: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let log = config.log;
    let mut stop = StopSignals::new().context("cannot listen for SIGINT/SIGTERM")?;
    let handle = spawn(config)?;
    crate::output::to_stdout(format_args!("listening on {}\n", handle.url()))
        .context("cannot write to stdout")?;
    let signal = stop.recv().await;
    log.line(format_args!(
        "{signal}: shutting down; {} HTTP 429 refusals (--max-connections-per-sec), {} rate-limited messages (--max-unauth-messages-per-sec)",
        handle.refused_connections(),
        handle.refused_messages()
    ));
    handle.shutdown();
    if let Some(path) = dump_path {
        dump::write_dump(&handle.dump_text(), &path)?;
        log.line(format_args!("wrote the books to {}", path.display()));
    }
    handle.shutdown_and_wait(Duration::from_secs(2)).await;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
