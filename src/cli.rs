//! The command line: the viewer (the default command), `replay`, `sim`, `auth`, `completions`
//! and `man`.
//!
//! Only argument shapes live here; each command's behaviour lives in its module.

use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

/// The public Coinbase Advanced Trade market-data endpoint.
pub const DEFAULT_URL: &str = "wss://advanced-trade-ws.coinbase.com";
/// Coinbase's user-data endpoint: the `user` channel (your orders) is read there with a key.
pub const DEFAULT_USER_URL: &str = "wss://advanced-trade-ws-user.coinbase.com";

#[derive(Debug, Parser)]
#[command(
    name = "cbbook",
    version,
    about = "Live Coinbase Advanced Trade order books in the terminal",
    long_about = "Live Coinbase Advanced Trade level-2 order books in the terminal.\n\n\
                  `cbbook BTC-USD ETH-USD` connects to Coinbase; `cbbook --demo` runs the viewer \
                  against the built-in simulator, with no network needed.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub viewer: ViewerArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build Coinbase JWTs and diagnose keys and tokens, offline.
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Run a Coinbase-compatible Advanced Trade WebSocket server on loopback.
    Sim(Box<SimArgs>),
    /// Show a recording made with `--record` (or a file of raw frames, one per line).
    Replay(Box<ReplayArgs>),
    /// Export recordings to Parquet: levels.parquet, trades.parquet and top.parquet in DIR.
    Export(Box<crate::export::ExportArgs>),
    /// Draw a recording's book through time (the liquidity heatmap) as a PNG.
    Heatmap(Box<crate::heatmap_png::HeatmapArgs>),
    /// Print a shell completion script on stdout, e.g.
    /// `cbbook completions bash > ~/.local/share/bash-completion/completions/cbbook`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, e.g. `cbbook man > ~/.local/share/man/man1/cbbook.1`.
    Man,
}

/// The viewer: live books for the given products.
#[derive(Debug, Args, Clone)]
pub struct ViewerArgs {
    /// Products to show, e.g. BTC-USD ETH-USD.
    #[arg(value_name = "PRODUCT", value_parser = parse_product)]
    pub products: Vec<String>,

    /// More products from FILE: one id a line, `#` starts a comment. Added after the PRODUCT
    /// arguments; at most 500 products in all.
    #[arg(long, value_name = "FILE")]
    pub products_file: Option<PathBuf>,

    /// Start the built-in simulator on a free loopback port and view it with a demo key (no network needed).
    #[arg(long)]
    pub demo: bool,

    #[command(flatten)]
    pub feed: FeedArgs,

    #[command(flatten)]
    pub headless: HeadlessArgs,

    #[command(flatten)]
    pub display: DisplayArgs,
}

/// How to reach the exchange.
#[derive(Debug, Args, Clone)]
pub struct FeedArgs {
    /// WebSocket endpoint (ws:// or wss://).
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    pub url: String,

    /// Where the signed `user` channel (your open orders and fills) is read, with a key
    /// [default: wss://advanced-trade-ws-user.coinbase.com, or --url when only --url is given].
    /// cbbook only reads: it never places, amends or cancels an order.
    #[arg(long, value_name = "URL")]
    pub user_url: Option<String>,

    /// CDP API key file (JSON with name/id and privateKey). Without it, COINBASE_API_KEY and
    /// COINBASE_API_SECRET are used if set; otherwise the feed is public (level2 needs no key).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Extra trust anchor (PEM) for wss:// servers with a private certificate authority.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Append every received frame to FILE as JSON Lines (no JWT is ever written). Its directory
    /// must exist. FILE.jsonl.zst or FILE.jsonl.gz writes it compressed (zstd, gzip), flushed
    /// every half second; a compressed FILE must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// With --record: start a new file every PERIOD (1h, 15m, 1d, 1h30m; at least 1s), aligned
    /// to UTC, named FILE's name with its start time (session-20261204T230000Z.jsonl.zst).
    /// Each file starts with fresh snapshots and replays on its own.
    #[arg(long, value_name = "PERIOD", value_parser = crate::feed::rotate::parse_period, requires = "record")]
    pub record_rotate: Option<std::time::Duration>,

    /// Reconnect when no frame arrives for this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub watchdog_secs: f64,

    /// Level2 products per connection, 1 to 16 (Coinbase refuses more than about 16 on one
    /// connection); more products are spread over several connections [default: 10, or
    /// `products_per_connection` in the config file].
    #[arg(long, value_name = "N")]
    pub products_per_connection: Option<usize>,

    /// Subscribe level2 (and heartbeats) only: no `market_trades` and `ticker`, so no tape,
    /// last price or 24 h figures.
    #[arg(long)]
    pub no_trades: bool,

    /// Which clock signs JWTs: `auto` (this machine's until an offset over 500 ms is measured
    /// from the frames, then the server's; a refusal the clock explains is retried once with
    /// the server's time), `local` or `server` [default: auto, or `jwt_clock` in the config
    /// file].
    #[arg(long, value_enum, value_name = "CLOCK")]
    pub jwt_clock: Option<crate::auth::clock::JwtClock>,

    /// Trades kept per product, 1 to 100000 [default: 1000, or `trades_kept` in the config
    /// file].
    #[arg(long, value_name = "N")]
    pub trades_kept: Option<usize>,

    /// Log file, its directory created if missing (default: cbbook.log under the user's state
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// Running without a terminal: for scripts and tests.
#[derive(Debug, Args, Clone, Default)]
pub struct HeadlessArgs {
    /// Run without a terminal UI.
    #[arg(long)]
    pub headless: bool,

    /// With --headless, stop after this many seconds (default: a live run goes on until Ctrl-C,
    /// a replay until the end of its file).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// At the end, write every book as JSON to FILE. Its directory must exist.
    #[arg(long, value_name = "FILE")]
    pub dump_book: Option<PathBuf>,

    /// At the end, print a one-line summary of counters on stderr.
    #[arg(long)]
    pub stats: bool,
}

/// How the viewer draws. Unset values come from the config file, then built-in defaults.
#[derive(Debug, Args, Clone, Default)]
pub struct DisplayArgs {
    /// Maximum frames drawn per second.
    #[arg(long, value_name = "N")]
    pub fps: Option<u32>,

    /// Ladder levels per side (default: as many as the terminal fits).
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,

    /// Price grouping in multiples of the product's tick.
    #[arg(long, value_name = "TICKS")]
    pub group: Option<u32>,

    /// Colour theme: dark, light or mono.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,

    /// Show trade times in UTC (default: local time, or `time` in the config file).
    #[arg(long)]
    pub utc: bool,

    /// Trades of at least this size (in the base currency) are drawn in bold on the tape
    /// (default: the 95th percentile of the product's recent trades).
    #[arg(long, value_name = "SIZE", value_parser = parse_big_trade)]
    pub big_trade: Option<rust_decimal::Decimal>,

    /// The heatmap's time per sampled column, 250ms to 1m [default: 1s, or `heatmap_interval` in
    /// the config file].
    #[arg(long, value_name = "DURATION")]
    pub heatmap_interval: Option<String>,

    /// How much of the heatmap each product keeps, such as 30m or 2h [default: 30m, or
    /// `heatmap_history` in the config file].
    #[arg(long, value_name = "DURATION")]
    pub heatmap_history: Option<String>,

    /// Show this machine's clock offset against the server's when it is over this many
    /// milliseconds [default: 250, or `clock_warn_ms` in the config file].
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub clock_warn_ms: Option<i64>,

    /// Config file (default: ~/.config/cbbook/config.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `cbbook replay FILE`.
#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// A recording made with --record, or a file of raw frames, one per line.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Playback speed: a factor such as 1, 10 or 0.5, or `max` for as fast as possible.
    /// Default: 1 in the viewer, max when headless.
    #[arg(long, value_name = "X|max")]
    pub speed: Option<Speed>,

    /// Log file, its directory created if missing (default: cbbook.log under the user's state
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    #[command(flatten)]
    pub headless: HeadlessArgs,

    #[command(flatten)]
    pub display: DisplayArgs,
}

/// A product id as the exchange writes it (`BTC-USD`), by the one rule of
/// [`crate::product_id`]: anything else would be refused by the server only once connected.
fn parse_product(s: &str) -> Result<String, String> {
    crate::product_id::check(s)
        .map(|()| s.to_owned())
        .map_err(|err| err.to_string())
}

/// A trade size for `--big-trade`: a positive decimal number.
fn parse_big_trade(s: &str) -> Result<rust_decimal::Decimal, String> {
    crate::config::parse_big_trade(s)
}

/// Replay speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Scale the recorded gaps between frames by 1/factor.
    Factor(f64),
    /// No waiting at all.
    Max,
}

impl FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "`{s}` is not a speed: use a positive factor such as 1, 10 or 0.5, or `max`"
            )),
        }
    }
}

/// `cbbook auth ...`.
#[derive(Debug, Subcommand, Clone)]
pub enum AuthCommand {
    /// Print one fresh WebSocket JWT on stdout (and nothing else).
    Jwt {
        /// CDP API key file; without it COINBASE_API_KEY and COINBASE_API_SECRET are used.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,

        /// Build a REST token instead, for this request, e.g. "GET /api/v3/brokerage/accounts".
        #[arg(long, value_name = "METHOD PATH")]
        rest: Option<String>,
    },
    /// Load a key and report every problem found, with a fix for each.
    Check {
        /// CDP API key file; without it COINBASE_API_KEY and COINBASE_API_SECRET are used.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,

        /// Print one JSON object instead of the readable report.
        #[arg(long)]
        json: bool,
    },
    /// Measure this machine's clock against the server's (heartbeats only, no key needed) and
    /// print the offset; exit 1 when it is over the server's tolerance (JWTs would be refused),
    /// 2 when nothing could be measured.
    Clock {
        /// WebSocket endpoint (ws:// or wss://).
        #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
        url: String,

        /// Extra trust anchor (PEM) for wss:// servers with a private certificate authority.
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,

        /// Heartbeats to read (one a second), 1 to 60.
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u32).range(1..=60))]
        heartbeats: u32,

        /// Print one JSON object: {"offset_ms":..,"samples":..,"error_ms":..,"ok":..}.
        #[arg(long)]
        json: bool,
    },
    /// Decode a JWT, verify its signature if a key is given, and explain every problem.
    Inspect {
        /// The token, or `-` to read it from stdin.
        #[arg(value_name = "TOKEN|-")]
        token: String,

        /// Verify with this CDP API key file (and check that kid is its name).
        #[arg(long, value_name = "FILE", conflicts_with = "public_key")]
        key: Option<PathBuf>,

        /// Verify with this public key (PEM file).
        #[arg(long, value_name = "PEM")]
        public_key: Option<PathBuf>,

        /// Print one JSON object instead of the readable report.
        #[arg(long)]
        json: bool,

        /// Judge the times as of this Unix time (seconds) instead of now.
        #[arg(long, value_name = "UNIX_SECS", hide = true)]
        at: Option<i64>,
    },
}

/// `cbbook sim`.
#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,

    /// Port to listen on; 0 picks a free port (the address is printed on stdout).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Seed of the simulated market.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Products to simulate, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "BTC-USD,ETH-USD")]
    pub products: Vec<String>,

    /// Seed a product from a real book file (JSON, plain or gzipped, with a "product" field). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub book: Vec<PathBuf>,

    /// Book updates per second, per product [default: 80].
    #[arg(long, value_name = "N")]
    pub updates_per_sec: Option<f64>,

    /// Drop one in N frames on every connection (the client sees a sequence gap).
    #[arg(long, value_name = "N")]
    pub gap_every: Option<u64>,

    /// Close every connection abruptly after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub disconnect_every: Option<f64>,

    /// Stop sending anything after this many seconds on a connection, keeping the socket open.
    #[arg(long, value_name = "SECS")]
    pub stall_after: Option<f64>,

    /// With --gap-every: drop frames only on one connection in N (numbered from 1 in the log).
    #[arg(long, value_name = "N")]
    pub gap_one_in: Option<u64>,

    /// With --stall-after: stall only one connection in N (the others are not stalled).
    #[arg(long, value_name = "N")]
    pub stall_one_in: Option<u64>,

    /// Freeze the market after this many seconds (books stop changing; heartbeats go on).
    #[arg(long, value_name = "SECS")]
    pub stop_updates_after: Option<f64>,

    /// Send one in N frames twice with the same sequence number (the client sees a duplicate).
    #[arg(long, value_name = "N")]
    pub duplicate_every: Option<u64>,

    /// Send one in N frames after the frame that follows it (the client sees a lower sequence
    /// number).
    #[arg(long, value_name = "N")]
    pub reorder_every: Option<u64>,

    /// Send an error frame on every connection every SECS seconds, mid-stream.
    #[arg(long, value_name = "SECS")]
    pub error_every: Option<f64>,

    /// Send one in N level2 update frames of the products a connection did not subscribe to.
    #[arg(long, value_name = "N")]
    pub unsubscribed_every: Option<u64>,

    /// Run the server's clock this many milliseconds off (negative: behind).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub clock_skew_ms: i64,

    /// Leeway in seconds for a JWT's nbf.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub jwt_leeway_secs: i64,

    /// Open orders to seed for every trusted key, spread over the products (the `user`
    /// channel's snapshot and updates; docs/sim.md, "Your orders").
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub user_orders: usize,

    /// With --user-orders: orders cancelled (and replaced by new ones) per second per key.
    #[arg(long, value_name = "RATE", default_value_t = crate::sim::DEFAULT_USER_CHURN_PER_SEC)]
    pub user_churn_per_sec: f64,

    /// Open orders to seed for trusted keys: a JSON object of key name to a list of orders
    /// (docs/sim.md, "Seeded orders").
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,

    /// Serve wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Trust this key: a CDP key JSON file, or NAME=PUBLIC_KEY.pem. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub authorized_key: Vec<String>,

    /// Serve -USDC products as themselves; by default BTC-USDC is served as BTC-USD on every
    /// channel but user, as on the exchange.
    #[arg(long)]
    pub no_usdc_alias: bool,

    /// Level2 products one connection may subscribe to; past it, "too many L2 streams
    /// requested in a single session". 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_l2_per_connection: usize,

    /// New connections per second (the exchange's is per IP); past it, HTTP 429. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_connections_per_sec: u32,

    /// Messages without a JWT per second, over all connections (the exchange's is per IP);
    /// past it, an error frame and the message is ignored. 0 (default): no limit.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_unauth_messages_per_sec: u32,

    /// On exit (SIGINT, SIGTERM), write every product's book as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub dump_book: Option<PathBuf>,

    /// Write a benchmark corpus (a recording of a snapshot then updates) to FILE and exit.
    #[arg(long, value_name = "FILE")]
    pub write_corpus: Option<PathBuf>,

    /// Number of updates in the corpus written by --write-corpus.
    #[arg(long, value_name = "N", default_value_t = 500_000)]
    pub updates: u64,

    /// With --write-corpus: the trades and tickers too, as a client subscribed to
    /// `market_trades` and `ticker` receives them (every 250 simulated ms).
    #[arg(long, requires = "write_corpus")]
    pub corpus_trades: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn products_and_subcommands_do_not_collide() {
        let cli = Cli::try_parse_from(["cbbook", "BTC-USD", "ETH-USD"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.viewer.products, ["BTC-USD", "ETH-USD"]);

        let cli = Cli::try_parse_from(["cbbook", "sim", "--port", "0"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Sim(_))));
    }

    #[test]
    fn completions_take_a_known_shell_and_man_takes_nothing() {
        let cli = Cli::try_parse_from(["cbbook", "completions", "zsh"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Completions {
                shell: clap_complete::Shell::Zsh
            })
        ));
        let cli = Cli::try_parse_from(["cbbook", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man)));

        let err = Cli::try_parse_from(["cbbook", "completions", "tcsh"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(Cli::try_parse_from(["cbbook", "completions"]).is_err());
        assert!(Cli::try_parse_from(["cbbook", "man", "extra"]).is_err());
    }

    #[test]
    fn products_must_be_upper_case_ids() {
        let cli = Cli::try_parse_from(["cbbook", "BTC-USD", "1INCH-USD"]).unwrap();
        assert_eq!(cli.viewer.products, ["BTC-USD", "1INCH-USD"]);
        let err = Cli::try_parse_from(["cbbook", "btc-usd"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "`btc-usd` is not a product id: ids are upper case; did you mean `BTC-USD`?"
            ),
            "{err}"
        );
        for bad in ["BTC USD", "BTC-", "BTC/USD", "BTC", "BTC--USD"] {
            let err = Cli::try_parse_from(["cbbook", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("is not a product id"), "{bad}: {err}");
        }
    }

    #[test]
    fn speed_parses_factor_and_max() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("2.5".parse::<Speed>(), Ok(Speed::Factor(2.5)));
        assert!("0".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }
}
