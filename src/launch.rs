//! Start-up of the viewer and of replay: validate everything (config, key, products), start the
//! demo simulator when asked, then run headless or take the terminal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{HeadlessArgs, ReplayArgs, Speed, ViewerArgs};
use crate::feed::headless::{self, HeadlessOutput};
use crate::feed::{LiveConfig, ReplayConfig};

/// `cbbook [PRODUCT...]`: the live viewer, or a headless live run.
pub fn live(args: ViewerArgs) -> anyhow::Result<ExitCode> {
    // An unusable key stops start-up with the same diagnosis as `cbbook auth check`, before the
    // terminal is touched.
    let key = match crate::auth::load_configured_key(args.feed.key.as_deref()) {
        Ok(key) => key,
        Err(failure) => {
            eprint!("cbbook: cannot start with this key\n\n{failure}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if args.headless.headless {
        return live_headless(&args, key);
    }
    bail!("the live viewer is not built yet")
}

/// `cbbook [live options] --headless [--duration SECS] PRODUCT...`.
fn live_headless(args: &ViewerArgs, key: Option<crate::auth::Key>) -> anyhow::Result<ExitCode> {
    if args.demo {
        bail!("--demo does not run headless: start `cbbook sim` and pass its address with --url");
    }
    let key = key.map(Arc::new);
    let watchdog = positive_secs(args.feed.watchdog_secs, "--watchdog-secs")?;
    let duration = args
        .headless
        .duration
        .map(|d| positive_secs(d, "--duration"))
        .transpose()?;
    let config = LiveConfig {
        key,
        ca_cert: args.feed.ca_cert.clone(),
        record: args.feed.record.clone(),
        watchdog,
        ..LiveConfig::new(args.feed.url.clone(), args.products.clone())
    };
    config.validate()?;
    let _log = crate::logging::init(args.feed.log_file.as_deref())?;
    headless::run_live(config, duration, &output(&args.headless))?;
    Ok(ExitCode::SUCCESS)
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
            ..ReplayConfig::new(args.file.clone())
        };
        let _log = crate::logging::init(args.log_file.as_deref())?;
        headless::run_replay(&config, duration, &output(&args.headless))?;
        return Ok(ExitCode::SUCCESS);
    }
    let display = crate::config::load(args.display.config.as_deref())?.display(&args.display)?;
    let config = ReplayConfig {
        speed: args.speed.unwrap_or(Speed::Factor(1.0)),
        ..ReplayConfig::new(args.file.clone())
    };
    let setup = crate::tui::ViewerSetup {
        // The products come with the replayed views.
        products: Vec::new(),
        endpoint: args.file.display().to_string(),
        key: None,
        display,
        demo: false,
    };
    let _log = crate::logging::init(args.log_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::tui::run(crate::feed::spawn_replay(config), setup))
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
