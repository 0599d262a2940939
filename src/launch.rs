//! Start-up of the viewer and of replay: validate everything (config, key, products), start the
//! demo simulator when asked, then run headless or take the terminal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{HeadlessArgs, ReplayArgs, Speed, ViewerArgs};
use crate::feed::headless::{self, HeadlessOutput};
use crate::feed::{LiveConfig, ReplayConfig};
use crate::output::to_stderr;

/// Products shown when none are given on the command line or in the config file.
pub const DEFAULT_PRODUCTS: [&str; 2] = ["BTC-USD", "ETH-USD"];

/// The public test-only key that `--demo` signs with; the built-in simulator trusts it.
const DEMO_KEY_JSON: &str = include_str!("../assets/demo-key.json");

/// `cbbook [PRODUCT...]`: the live viewer, or a headless live run.
///
/// Everything that can be wrong with the command line, the config file or the key is reported
/// here, before the terminal is touched.
pub fn live(args: ViewerArgs) -> anyhow::Result<ExitCode> {
    let config_file = crate::config::load(args.display.config.as_deref())?;
    let list = crate::product_list::build(
        &args.products,
        args.products_file.as_deref(),
        &config_file.products(&[]),
    )?;
    for repeated in &list.repeated {
        to_stderr(format_args!(
            "cbbook: warning: {} is asked for more than once; it is shown once\n",
            crate::text::printable(repeated)
        ));
    }
    let mut products = list.products;
    // The viewer and the demo fall back to a default pair; a headless run (a script) must say
    // what it wants.
    if products.is_empty() && (args.demo || !args.headless.headless) {
        products = DEFAULT_PRODUCTS.map(String::from).to_vec();
    }
    // --demo signs with the demo key unless a key file is given explicitly (then the simulator,
    // which trusts only the demo keys, shows what a refusal looks like). Without --demo: --key,
    // else the COINBASE_API_KEY/COINBASE_API_SECRET pair, else the public feed.
    let key = if args.demo && args.feed.key.is_none() {
        Ok(Some(demo_key()?))
    } else {
        crate::auth::load_configured_key(args.feed.key.as_deref())
    };
    // An unusable key stops start-up with the same diagnosis as `cbbook auth check`.
    let key = match key {
        Ok(key) => key.map(Arc::new),
        Err(failure) => {
            to_stderr(format_args!(
                "cbbook: cannot start with this key\n\n{failure}"
            ));
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(key) = &key {
        for warning in key.warnings() {
            to_stderr(format_args!(
                "{}",
                crate::auth::report::warning_line(warning)
            ));
        }
    }
    let watchdog = positive_secs(args.feed.watchdog_secs, "--watchdog-secs")?;
    let duration = args
        .headless
        .duration
        .map(|d| positive_secs(d, "--duration"))
        .transpose()?;
    let mut display = config_file.display(&args.display)?;
    display.colors = crate::config::ColorDepth::detect();
    let products_per_connection =
        config_file.products_per_connection(args.feed.products_per_connection)?;
    let trades_kept = config_file.trades_kept(args.feed.trades_kept)?;
    let jwt_clock = config_file.jwt_clock(args.feed.jwt_clock)?;
    let mut config = LiveConfig {
        products_per_connection,
        trades: !args.feed.no_trades && config_file.trades.unwrap_or(true),
        trades_kept,
        jwt_clock,
        key: key.clone(),
        ca_cert: args.feed.ca_cert.clone(),
        record: args.feed.record.clone(),
        record_rotate: args.feed.record_rotate,
        watchdog,
        // The viewer's feed has a thread of its own (`viewer_runtime`); a headless run reads
        // every frame as it lands, for its latency figures.
        read_in_rounds: !args.headless.headless,
        heatmap: if args.headless.headless {
            crate::feed::core::heatmap::HeatSettings::off()
        } else {
            display.heatmap
        },
        user_url: Some(user_url(&args.feed)),
        ..LiveConfig::new(args.feed.url.clone(), products.clone())
    };
    if !args.demo {
        config.validate()?;
    }
    let _log = crate::logging::init(args.feed.log_file.as_deref())?;
    // The demo simulator gets a runtime of its own, so that it outlives whatever runs the feed.
    let demo = if args.demo {
        let demo = DemoSimulator::start(&products)?;
        config.url = demo.url.clone();
        // The demo simulator serves the user channel too (signed with the demo key).
        config.user_url = None;
        config.validate()?;
        Some(demo)
    } else {
        None
    };
    if args.headless.headless {
        headless::run_live(config, duration, &output(&args.headless))?;
        return Ok(ExitCode::SUCCESS);
    }
    let setup = crate::tui::ViewerSetup {
        products,
        endpoint: match &demo {
            Some(demo) => format!("{} (demo simulator)", demo.url),
            None => config.url.clone(),
        },
        key,
        display,
        demo: args.demo,
        replay: false,
    };
    let runtime = viewer_runtime()?;
    let code = runtime.block_on(async {
        let handle = crate::feed::spawn_live(config);
        crate::tui::run(handle, setup).await
    });
    drop(demo);
    code
}

/// Where the user channel is read: `--user-url`; else, when `--url` names another server than
/// Coinbase's (a simulator, a proxy), that same server; else Coinbase's user-data endpoint.
fn user_url(feed: &crate::cli::FeedArgs) -> String {
    match &feed.user_url {
        Some(url) => url.clone(),
        None if feed.url != crate::cli::DEFAULT_URL => feed.url.clone(),
        None => crate::cli::DEFAULT_USER_URL.to_string(),
    }
}

/// The test-only demo key, built into the binary.
fn demo_key() -> anyhow::Result<crate::auth::Key> {
    #[derive(serde::Deserialize)]
    struct DemoKey {
        name: String,
        #[serde(rename = "privateKey")]
        private_key: String,
    }
    let demo: DemoKey =
        serde_json::from_str(DEMO_KEY_JSON).context("the built-in demo key is not valid JSON")?;
    crate::auth::load_key_parts(&demo.name, &demo.private_key)
        .map_err(|failure| anyhow::anyhow!("the built-in demo key does not load: {failure}"))
}

/// The in-process simulator behind `--demo`, trusting the demo keys, on a free loopback port.
struct DemoSimulator {
    url: String,
    handle: Option<crate::sim::SimHandle>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DemoSimulator {
    fn start(products: &[String]) -> anyhow::Result<DemoSimulator> {
        let mut config = crate::sim::SimConfig {
            products: Vec::new(),
            ..crate::sim::SimConfig::default()
        };
        // With -USDC aliasing on (the default, as on the exchange) an aliased id is served from
        // its -USD market: seed that one (the simulator refuses BTC-USDC as a market of its own).
        for product in products {
            let served = match config.usdc_alias {
                true => crate::product_id::served_as(product).unwrap_or(product),
                false => product,
            };
            config.add_product(served)?;
        }
        config.trust_demo_keys()?;
        // The demo key's resting orders, a few ticks from the touch, so that the ladder shows
        // them and they fill within a minute or two (docs/sim.md, "Your orders").
        config.user_orders = 4 * config.products.len();
        config.user_orders_near = true;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cbbook-demo-sim")
            .enable_all()
            .build()
            .context("cannot start the demo simulator's runtime")?;
        let handle = runtime
            .block_on(async { crate::sim::spawn(config) })
            .context("cannot start the demo simulator")?;
        Ok(DemoSimulator {
            url: handle.url(),
            handle: Some(handle),
            runtime: Some(runtime),
        })
    }
}

impl Drop for DemoSimulator {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// The screen runs on the calling thread (`block_on`), the feed on the runtime's one worker: the
/// viewer stays responsive while the feed parses a 5 MB snapshot, and the feed's thread, its own,
/// may rest between rounds of reading a busy feed (`feed::rounds`).
fn viewer_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `cbbook replay FILE`: in the viewer (at recorded speed by default), or headless (as fast as
/// possible by default).
pub fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let duration = args
        .headless
        .duration
        .map(|d| positive_secs(d, "--duration"))
        .transpose()?;
    std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read the recording {}", args.file.display()))?;
    if args.headless.headless {
        let config = ReplayConfig {
            speed: args.speed.unwrap_or(Speed::Max),
            // Nothing reads the heatmap's history headless.
            heatmap: crate::feed::core::heatmap::HeatSettings::off(),
            ..ReplayConfig::new(args.file.clone())
        };
        let _log = crate::logging::init(args.log_file.as_deref())?;
        headless::run_replay(&config, duration, &output(&args.headless))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut display =
        crate::config::load(args.display.config.as_deref())?.display(&args.display)?;
    display.colors = crate::config::ColorDepth::detect();
    let config = ReplayConfig {
        speed: args.speed.unwrap_or(Speed::Factor(1.0)),
        heatmap: display.heatmap,
        ..ReplayConfig::new(args.file.clone())
    };
    let setup = crate::tui::ViewerSetup {
        // The products come with the replayed views.
        products: Vec::new(),
        endpoint: args.file.display().to_string(),
        key: None,
        display,
        demo: false,
        replay: true,
    };
    let _log = crate::logging::init(args.log_file.as_deref())?;
    viewer_runtime()?
        .block_on(async { crate::tui::run(crate::feed::spawn_replay(config), setup).await })
}

fn output(args: &HeadlessArgs) -> HeadlessOutput {
    HeadlessOutput {
        dump_book: args.dump_book.clone(),
        stats: args.stats,
    }
}

fn positive_secs(secs: f64, flag: &str) -> anyhow::Result<Duration> {
    if !(secs.is_finite() && secs > 0.0) {
        bail!("{flag} must be a positive number of seconds, got {secs}");
    }
    Duration::try_from_secs_f64(secs).with_context(|| format!("{flag} {secs} is too large"))
}
