//! What a simulator runs with: [`SimConfig`], built from the `cbbook sim` flags or by hand.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::SimError;
use super::auth_check::AuthorizedKey;
use super::book_file::{LoadedBook, load_book_file};
use super::limits::{DEFAULT_MAX_CONNECTIONS_PER_SEC, DEFAULT_MAX_L2_PER_CONNECTION};
use super::log::SimLog;
use crate::cli::SimArgs;

/// Book changes per second and product when none is asked for: a calm but visibly moving market.
pub const DEFAULT_UPDATES_PER_SEC: f64 = 80.0;
/// Levels per side of a product seeded without a book file.
pub const DEFAULT_LEVELS_PER_SIDE: usize = 2500;
/// The frames each connection's queue holds (of its own products, and heartbeats): a connection
/// whose queue is full when a frame is due is dropped as a slow consumer.
pub const DEFAULT_QUEUE_FRAMES: usize = 16_384;
/// Orders cancelled (and replaced) per second per key, when orders are seeded.
pub const DEFAULT_USER_CHURN_PER_SEC: f64 = 0.5;
/// The most open orders `--user-orders` seeds per key.
pub const MAX_USER_ORDERS: usize = 10_000;
/// The most updates per second and product the simulator accepts.
pub const MAX_UPDATES_PER_SEC: f64 = 5_000_000.0;

/// Everything a simulator runs with. `SimConfig::default()` is a quiet two-product market
/// (BTC-USD, ETH-USD) on a free loopback port that trusts no key.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind (loopback by default).
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Seed of every product's market.
    pub seed: u64,
    /// Products, in order. A product with a book in `books` starts from it.
    pub products: Vec<String>,
    /// Real books that seed products (their product is added to `products` if missing).
    pub books: Vec<Arc<LoadedBook>>,
    /// Levels per side of products without a book.
    pub levels_per_side: usize,
    /// Book changes per second, per product (0 freezes the market from the start).
    pub updates_per_sec: f64,
    /// Drop one in N enveloped frames on every connection (the sequence number still advances).
    pub gap_every: Option<u64>,
    /// With `gap_every`: drop frames only on the connections whose number is a multiple of this
    /// (1: every connection), to show that a gap on one connection resyncs only its products.
    pub gap_one_in: u64,
    /// Close every connection abruptly (no close frame) this long after it opened.
    pub disconnect_every: Option<Duration>,
    /// Stop sending anything this long after a connection opened, keeping the socket open.
    pub stall_after: Option<Duration>,
    /// Stall only the connections whose number is a multiple of this (1: every connection).
    pub stall_one_in: u64,
    /// Freeze every market this long after the server started.
    pub stop_updates_after: Option<Duration>,
    /// Send one in N droppable enveloped frames twice, with the same sequence number.
    pub duplicate_every: Option<u64>,
    /// Hold back one in N droppable enveloped frames and send it after the next frame.
    pub reorder_every: Option<u64>,
    /// Send an error frame on every connection this often.
    pub error_every: Option<Duration>,
    /// Send one in N level2 update frames of products a level2 connection did not subscribe to.
    pub unsubscribed_every: Option<u64>,
    /// The server's clock runs this many milliseconds ahead (negative: behind).
    pub clock_skew_ms: i64,
    /// Leeway for a JWT's `nbf`, in seconds.
    pub jwt_leeway_secs: i64,
    /// Serve `wss://` with this TLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Keys whose JWTs are accepted.
    pub authorized_keys: Vec<AuthorizedKey>,
    /// Serve `-USDC` products as their `-USD` product on every channel but `user`, as the
    /// exchange does ([`crate::product_id::served_as`]; `--no-usdc-alias` turns it off).
    pub usdc_alias: bool,
    /// Level2 products (distinct served products) one connection may hold; 0: no limit.
    pub max_l2_per_connection: usize,
    /// New WebSocket connections per second (per server); past it, HTTP 429. 0: no limit.
    pub max_connections_per_sec: u32,
    /// Client messages without a JWT per second (per server); past it, an error frame and the
    /// message is not acted on. 0 (the default): no limit.
    pub max_unauth_messages_per_sec: u32,
    /// A connection that has not subscribed within this time is closed (5 s on the exchange).
    pub subscribe_deadline: Duration,
    /// The frames each connection's queue holds (its own products' frames and the heartbeats;
    /// at least one); a connection whose queue is full is dropped as a slow consumer.
    pub queue_frames: usize,
    /// A write that makes no progress for this long drops the connection as a slow consumer.
    pub write_timeout: Duration,
    /// Open orders seeded for every trusted key, spread over the products (`--user-orders`).
    pub user_orders: usize,
    /// Seed them a few ticks from the touch, so that they fill soon (`cbbook --demo`).
    pub user_orders_near: bool,
    /// Orders cancelled per second per key (new ones replace them); `--user-churn-per-sec`.
    pub user_churn_per_sec: f64,
    /// Where log lines go.
    pub log: SimLog,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: 1,
            products: vec!["BTC-USD".to_string(), "ETH-USD".to_string()],
            books: Vec::new(),
            levels_per_side: DEFAULT_LEVELS_PER_SIDE,
            updates_per_sec: DEFAULT_UPDATES_PER_SEC,
            gap_every: None,
            gap_one_in: 1,
            disconnect_every: None,
            stall_after: None,
            stall_one_in: 1,
            stop_updates_after: None,
            duplicate_every: None,
            reorder_every: None,
            error_every: None,
            unsubscribed_every: None,
            clock_skew_ms: 0,
            jwt_leeway_secs: 1,
            tls: None,
            authorized_keys: Vec::new(),
            usdc_alias: true,
            max_l2_per_connection: DEFAULT_MAX_L2_PER_CONNECTION,
            max_connections_per_sec: DEFAULT_MAX_CONNECTIONS_PER_SEC,
            max_unauth_messages_per_sec: 0,
            subscribe_deadline: Duration::from_secs(5),
            queue_frames: DEFAULT_QUEUE_FRAMES,
            write_timeout: Duration::from_secs(10),
            log: SimLog::Tracing,
            user_orders: 0,
            user_orders_near: false,
            user_churn_per_sec: DEFAULT_USER_CHURN_PER_SEC,
        }
    }
}

fn positive_secs(flag: &str, value: Option<f64>) -> Result<Option<Duration>, SimError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(SimError::Config(format!(
            "{flag} {v}: give a positive number of seconds, e.g. {flag} 4"
        ))),
    }
}

/// A one-in-N fault flag: N must be at least 1 (every frame).
fn every_n(flag: &str, value: Option<u64>, what: &str) -> Result<Option<u64>, SimError> {
    match value {
        Some(0) => Err(SimError::Config(format!(
            "{flag} 0: give N >= 1 (one frame in N is {what})"
        ))),
        other => Ok(other),
    }
}

impl SimConfig {
    /// The configuration of `cbbook sim` with these flags: reads book, key and TLS files, and
    /// checks every value, so that a bad flag fails before the server starts. Logs go to stderr.
    pub fn from_args(args: &SimArgs) -> Result<SimConfig, SimError> {
        let bind: IpAddr = args.bind.parse().map_err(|_| {
            SimError::Config(format!(
                "--bind {}: give an IP address such as 127.0.0.1 (or 0.0.0.0 for every interface)",
                args.bind
            ))
        })?;
        let mut config = SimConfig {
            bind,
            port: args.port,
            seed: args.seed,
            log: SimLog::Stderr,
            clock_skew_ms: args.clock_skew_ms,
            ..SimConfig::default()
        };
        config.products = Vec::new();
        for product in &args.products {
            let product = product.trim();
            if product.is_empty() {
                continue;
            }
            config.add_product(product)?;
        }
        for path in &args.book {
            config.add_book_file(path)?;
        }
        if config.products.is_empty() {
            return Err(SimError::Config(
                "--products is empty: name at least one product, e.g. --products BTC-USD,ETH-USD"
                    .to_string(),
            ));
        }
        if let Some(rate) = args.updates_per_sec {
            if !(rate.is_finite() && (0.0..=MAX_UPDATES_PER_SEC).contains(&rate)) {
                return Err(SimError::Config(format!(
                    "--updates-per-sec {rate}: give a rate between 0 and {MAX_UPDATES_PER_SEC} (per product)"
                )));
            }
            config.updates_per_sec = rate;
        }
        config.gap_every = match args.gap_every {
            None => None,
            Some(n) if n >= 2 => Some(n),
            Some(n) => {
                return Err(SimError::Config(format!(
                    "--gap-every {n}: give N >= 2 (one frame in N is dropped)"
                )));
            }
        };
        config.duplicate_every = every_n("--duplicate-every", args.duplicate_every, "sent twice")?;
        config.reorder_every = every_n("--reorder-every", args.reorder_every, "sent late")?;
        config.unsubscribed_every = every_n(
            "--unsubscribed-every",
            args.unsubscribed_every,
            "sent to connections that did not subscribe to its product",
        )?;
        config.error_every = positive_secs("--error-every", args.error_every)?;
        config.disconnect_every = positive_secs("--disconnect-every", args.disconnect_every)?;
        config.stall_after = positive_secs("--stall-after", args.stall_after)?;
        if let Some(n) = every_n("--gap-one-in", args.gap_one_in, "given gaps")? {
            if config.gap_every.is_none() {
                return Err(SimError::Config(
                    "--gap-one-in goes with --gap-every: give both, e.g. --gap-every 50 --gap-one-in 2"
                        .to_string(),
                ));
            }
            config.gap_one_in = n;
        }
        if let Some(n) = every_n("--stall-one-in", args.stall_one_in, "stalled")? {
            if config.stall_after.is_none() {
                return Err(SimError::Config(
                    "--stall-one-in goes with --stall-after: give both, e.g. --stall-after 5 --stall-one-in 2"
                        .to_string(),
                ));
            }
            config.stall_one_in = n;
        }
        config.stop_updates_after = positive_secs("--stop-updates-after", args.stop_updates_after)?;
        if !(0..=3600).contains(&args.jwt_leeway_secs) {
            return Err(SimError::Config(format!(
                "--jwt-leeway-secs {}: give a number of seconds between 0 and 3600",
                args.jwt_leeway_secs
            )));
        }
        config.jwt_leeway_secs = args.jwt_leeway_secs;
        if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
            config.tls = Some(load_tls(cert, key)?);
        } else if args.tls_cert.is_some() || args.tls_key.is_some() {
            return Err(SimError::Config(
                "--tls-cert and --tls-key go together: give both PEM files".to_string(),
            ));
        }
        for spec in &args.authorized_key {
            config.authorized_keys.push(AuthorizedKey::from_flag(spec)?);
        }
        if args.user_orders > MAX_USER_ORDERS {
            return Err(SimError::Config(format!(
                "--user-orders {}: give at most {MAX_USER_ORDERS} open orders per key",
                args.user_orders
            )));
        }
        if args.user_orders > 0 && config.authorized_keys.is_empty() {
            return Err(SimError::Config(
                "--user-orders needs a key to hold them: give --authorized-key (the orders are seeded for every trusted key)".to_string(),
            ));
        }
        config.user_orders = args.user_orders;
        if !(args.user_churn_per_sec.is_finite()
            && (0.0..=100.0).contains(&args.user_churn_per_sec))
        {
            return Err(SimError::Config(format!(
                "--user-churn-per-sec {}: give a rate between 0 and 100 (orders cancelled per second per key)",
                args.user_churn_per_sec
            )));
        }
        config.user_churn_per_sec = args.user_churn_per_sec;
        config.usdc_alias = !args.no_usdc_alias;
        config.max_l2_per_connection = args.max_l2_per_connection;
        config.max_connections_per_sec = args.max_connections_per_sec;
        config.max_unauth_messages_per_sec = args.max_unauth_messages_per_sec;
        config.check_aliases()?;
        Ok(config)
    }

    /// With `-USDC` aliasing on, an aliased product (`BTC-USDC`) cannot be a market of its own:
    /// every subscribe for it is served from its `-USD` product (docs/sim.md, "-USDC aliasing").
    pub fn check_aliases(&self) -> Result<(), SimError> {
        if !self.usdc_alias {
            return Ok(());
        }
        let all = self
            .products
            .iter()
            .chain(self.books.iter().map(|b| &b.product));
        for product in all {
            if let Some(served) = crate::product_id::served_as(product) {
                return Err(SimError::Config(format!(
                    "--products {product}: the exchange serves {product} as {served} on every market-data channel (-USDC aliasing); simulate {served} (a subscribe for {product} gets its data), or give --no-usdc-alias to make {product} a market of its own"
                )));
            }
        }
        Ok(())
    }

    /// Adds a product (ignored if present).
    pub fn add_product(&mut self, product: &str) -> Result<(), SimError> {
        // The one rule (src/product_id.rs): the message names the actual problem.
        if let Err(problem) = crate::product_id::check(product) {
            return Err(SimError::Config(format!("--products: {problem}")));
        }
        if !self.products.iter().any(|p| p == product) {
            self.products.push(product.to_string());
        }
        Ok(())
    }

    /// Seeds a product from a real book file (`--book FILE`), adding the product if needed.
    pub fn add_book_file(&mut self, path: &Path) -> Result<(), SimError> {
        let book = load_book_file(path)?;
        self.add_product(&book.product)?;
        self.books.retain(|b| b.product != book.product);
        self.books.push(Arc::new(book));
        Ok(())
    }

    /// Trusts the public test-only demo keys (`assets/demo-key.json`, ES256, and
    /// `assets/demo-key-ed25519.json`, EdDSA), as `cbbook --demo` and the tests need.
    pub fn trust_demo_keys(&mut self) -> Result<(), SimError> {
        for key in AuthorizedKey::demo_keys()? {
            self.authorized_keys.push(key);
        }
        Ok(())
    }

    /// [`SimConfig::trust_demo_keys`] in builder style.
    pub fn with_demo_keys(mut self) -> Result<SimConfig, SimError> {
        self.trust_demo_keys()?;
        Ok(self)
    }

    /// The URL scheme clients use.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "wss" } else { "ws" }
    }
}

/// Reads a certificate chain and its private key (PEM) into a rustls server configuration.
pub fn load_tls(cert: &PathBuf, key: &PathBuf) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let tls_err = |what: String| SimError::Tls(what);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(format!("cannot read --tls-cert {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            tls_err(format!(
                "--tls-cert {} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(tls_err(format!(
            "--tls-cert {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        tls_err(format!(
            "--tls-key {} is not a PEM private key (PKCS#8, SEC1 or PKCS#1): {e}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(format!("TLS set-up failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| {
            tls_err(format!(
                "--tls-key {} does not fit --tls-cert {}: {e}",
                key.display(),
                cert.display()
            ))
        })?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(extra: &[&str]) -> SimArgs {
        let mut argv = vec!["cbbook", "sim"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Some(Command::Sim(args)) => *args,
            other => panic!("{other:?}"),
        }
    }

    fn config(extra: &[&str]) -> Result<SimConfig, String> {
        SimConfig::from_args(&args(extra)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(c.port, 0);
        assert_eq!(c.products, ["BTC-USD", "ETH-USD"]);
        assert_eq!(c.updates_per_sec, DEFAULT_UPDATES_PER_SEC);
        assert_eq!(c.subscribe_deadline, Duration::from_secs(5));
        assert_eq!(c.jwt_leeway_secs, 1);
        assert_eq!(c.log, SimLog::Stderr);
        assert!(c.tls.is_none() && c.authorized_keys.is_empty() && c.books.is_empty());
        assert!(c.gap_every.is_none() && c.disconnect_every.is_none());
        assert!(c.stall_after.is_none() && c.stop_updates_after.is_none());
        assert_eq!(c.scheme(), "ws");
        assert!(c.usdc_alias);
        assert_eq!(c.max_l2_per_connection, 16);
        assert_eq!(c.max_connections_per_sec, 8);
        assert_eq!(c.max_unauth_messages_per_sec, 0);
        let d = SimConfig::default();
        assert!(d.usdc_alias);
        assert_eq!(
            (d.max_l2_per_connection, d.max_connections_per_sec),
            (16, 8)
        );
    }

    #[test]
    fn limit_and_alias_flags_reach_the_config() {
        let c = config(&[
            "--no-usdc-alias",
            "--products",
            "BTC-USDC,USDT-USDC",
            "--max-l2-per-connection",
            "32",
            "--max-connections-per-sec",
            "0",
            "--max-unauth-messages-per-sec",
            "8",
        ])
        .unwrap();
        assert!(!c.usdc_alias);
        assert_eq!(c.products, ["BTC-USDC", "USDT-USDC"]);
        assert_eq!(c.max_l2_per_connection, 32);
        assert_eq!(c.max_connections_per_sec, 0);
        assert_eq!(c.max_unauth_messages_per_sec, 8);
        // USDT-USDC is a product of its own; BTC-USDC is served as BTC-USD unless told otherwise.
        assert!(config(&["--products", "USDT-USDC,EURC-USDC"]).is_ok());
        let err = config(&["--products", "BTC-USD,BTC-USDC"]).unwrap_err();
        assert!(
            err.contains("serves BTC-USDC as BTC-USD") && err.contains("--no-usdc-alias"),
            "{err}"
        );
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let book = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/btc-usd-l2-2026-08-07.json.gz");
        let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo-key.json");
        let c = config(&[
            "--bind",
            "0.0.0.0",
            "--port",
            "4567",
            "--seed",
            "9",
            "--products",
            "SOL-USD,ETH-USD",
            "--book",
            book.to_str().unwrap(),
            "--updates-per-sec",
            "250.5",
            "--gap-every",
            "300",
            "--disconnect-every",
            "4",
            "--stall-after",
            "2.5",
            "--stall-one-in",
            "3",
            "--stop-updates-after",
            "9",
            "--duplicate-every",
            "7",
            "--reorder-every",
            "11",
            "--error-every",
            "2.5",
            "--unsubscribed-every",
            "3",
            "--clock-skew-ms",
            "-1500",
            "--jwt-leeway-secs",
            "0",
            "--authorized-key",
            key.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0");
        assert_eq!(c.port, 4567);
        assert_eq!(c.seed, 9);
        assert_eq!(c.products, ["SOL-USD", "ETH-USD", "BTC-USD"]);
        assert_eq!(c.books.len(), 1);
        assert_eq!(c.books[0].product, "BTC-USD");
        assert_eq!(c.updates_per_sec, 250.5);
        assert_eq!(c.gap_every, Some(300));
        assert_eq!(c.disconnect_every, Some(Duration::from_secs(4)));
        assert_eq!(c.stall_after, Some(Duration::from_millis(2500)));
        assert_eq!(c.stall_one_in, 3);
        assert_eq!(c.stop_updates_after, Some(Duration::from_secs(9)));
        assert_eq!(c.duplicate_every, Some(7));
        assert_eq!(c.reorder_every, Some(11));
        assert_eq!(c.error_every, Some(Duration::from_millis(2500)));
        assert_eq!(c.unsubscribed_every, Some(3));
        assert_eq!(c.clock_skew_ms, -1500);
        assert_eq!(c.jwt_leeway_secs, 0);
        assert_eq!(c.authorized_keys.len(), 1);
        assert_eq!(
            c.authorized_keys[0].name,
            "organizations/cbbook-demo/apiKeys/demo-es256-test-only"
        );
    }

    #[test]
    fn bad_values_say_what_to_do() {
        let cases: [(&[&str], &str); 15] = [
            (&["--stall-one-in", "2"], "goes with --stall-after"),
            (&["--stall-after", "1", "--stall-one-in", "0"], "N >= 1"),
            (&["--bind", "localhost:80"], "--bind"),
            (&["--duplicate-every", "0"], "N >= 1"),
            (&["--reorder-every", "0"], "N >= 1"),
            (&["--unsubscribed-every", "0"], "N >= 1"),
            (&["--error-every", "0"], "positive number of seconds"),
            (&["--products", "btc-usd"], "not a product id"),
            (&["--products", ","], "--products is empty"),
            (&["--updates-per-sec=-1"], "--updates-per-sec"),
            (&["--updates-per-sec", "NaN"], "--updates-per-sec"),
            (&["--gap-every", "1"], "N >= 2"),
            (&["--disconnect-every", "0"], "positive number of seconds"),
            (&["--jwt-leeway-secs=-2"], "--jwt-leeway-secs"),
            (
                &["--authorized-key", "/no/such/key.json"],
                "NAME=PUBLIC_KEY.pem",
            ),
        ];
        for (flags, expected) in cases {
            let err = config(flags).unwrap_err();
            assert!(err.contains(expected), "{flags:?}: {err}");
        }
        let err = config(&["--book", "/no/such/book.json"]).unwrap_err();
        assert!(err.contains("cannot read book file"), "{err}");
        let err = config(&["--tls-cert", "/no/cert.pem", "--tls-key", "/no/key.pem"]).unwrap_err();
        assert!(err.contains("--tls-cert"), "{err}");
    }

    #[test]
    fn demo_keys_can_be_trusted_in_one_call() {
        let c = SimConfig::default().with_demo_keys().unwrap();
        let names: Vec<&str> = c.authorized_keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "organizations/cbbook-demo/apiKeys/demo-es256-test-only",
                "5f0c1b2e-9a7d-4c3e-8b1a-00000000de30"
            ]
        );
    }
}
