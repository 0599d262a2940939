//! `cbbook sim --write-corpus FILE --updates N`: a reproducible benchmark corpus, written as
//! bare frames, one per line (a file `cbbook replay` reads).
//!
//! The corpus is what a client subscribed to `level2` and `heartbeats` would receive: one snapshot
//! frame per product (the whole book: with `--book` the real BTC-USD book), the `subscriptions`
//! ack, then N book updates in frames of 1-15 updates spread over the products, with a heartbeat
//! every simulated second; with `--corpus-trades`, also the `market_trades` and `ticker` frames
//! a client subscribed to them receives (each product's trades every 250 simulated ms, then its
//! ticker). The same seed, products, books, rate and N give the same bytes:
//! timestamps run on a simulated clock from a fixed start, not the wall clock.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use super::rng::SimRng;
use rand::Rng;

use super::clock::{UnixNanos, go_time_string, rfc3339_nanos};
use super::config::SimConfig;
use super::frames;
use super::market::Market;
use super::protocol::Channel;
use super::publisher::MAX_UPDATES_PER_FRAME;
use super::{SimError, build_markets};

/// The simulated start time: 2026-08-07T20:04:08Z, when the real BTC-USD book was captured.
const CORPUS_START_SECS: i64 = 1_786_133_048;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusSummary {
    pub frames: u64,
    pub updates: u64,
    pub bytes: u64,
}

/// Writes the corpus to `path`.
pub fn write_corpus(
    config: &SimConfig,
    path: &Path,
    updates: u64,
    trades: bool,
) -> Result<CorpusSummary, SimError> {
    let write_err = |error| SimError::Write {
        path: path.to_path_buf(),
        error,
    };
    let file = File::create(path).map_err(write_err)?;
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        bytes: 0,
    };
    let summary = write_frames(config, updates, trades, &mut out).map_err(write_err)?;
    out.inner.flush().map_err(write_err)?;
    Ok(CorpusSummary {
        bytes: out.bytes,
        ..summary
    })
}

struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> CountingWriter<W> {
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.inner.write_all(text.as_bytes())?;
        self.inner.write_all(b"\n")?;
        self.bytes += text.len() as u64 + 1;
        Ok(())
    }
}

/// How often a corpus with trades flushes each product's trades (as the live publisher does).
const TRADE_FLUSH_NS: i128 = 250_000_000;

fn write_frames<W: Write>(
    config: &SimConfig,
    updates: u64,
    trades: bool,
    out: &mut CountingWriter<W>,
) -> std::io::Result<CorpusSummary> {
    let mut markets: Vec<Market> = build_markets(config);
    let mut rng = SimRng::new(config.seed ^ 0x636f_7270_7573);
    let start = UnixNanos(i128::from(CORPUS_START_SECS) * 1_000_000_000);
    let mut now = start;
    let mut seq: u64 = 0;
    let mut frames_written: u64 = 0;
    let mut emit = |out: &mut CountingWriter<W>, channel: &str, t: UnixNanos, events: &str| {
        let text = frames::envelope_string(channel, &rfc3339_nanos(t), seq, events);
        seq += 1;
        frames_written += 1;
        out.line(&text)
    };
    for market in &markets {
        let events = frames::l2_snapshot_events(market, &rfc3339_nanos(now));
        emit(out, Channel::Level2.wire(), now, &events)?;
    }
    let products: Vec<String> = markets.iter().map(|m| m.spec.id.clone()).collect();
    let mut subscribed = vec![
        (Channel::Heartbeats, Vec::new()),
        (Channel::Level2, products.clone()),
    ];
    if trades {
        for market in &markets {
            let events = frames::trades_events("snapshot", &market.spec, market.recent_trades());
            emit(out, Channel::MarketTrades.wire(), now, &events)?;
            emit(
                out,
                Channel::Ticker.wire(),
                now,
                &frames::ticker_events("snapshot", market),
            )?;
        }
        subscribed.push((Channel::MarketTrades, products.clone()));
        subscribed.push((Channel::Ticker, products));
    }
    emit(
        out,
        "subscriptions",
        now,
        &frames::subscriptions_events(&subscribed),
    )?;
    let mut next_trades = now.0 + TRADE_FLUSH_NS;

    // Simulated time per update, over all products together.
    let total_rate = (config.updates_per_sec * markets.len() as f64).max(1.0);
    let ns_per_update = (1e9 / total_rate) as i128;
    let mut next_heartbeat: u64 = 1;
    let mut written: u64 = 0;
    let mut changes = Vec::with_capacity(MAX_UPDATES_PER_FRAME);
    while written < updates {
        let p = rng.gen_range(0..markets.len());
        let n = rng
            .gen_range(1..=MAX_UPDATES_PER_FRAME)
            .min(usize::try_from(updates - written).unwrap_or(MAX_UPDATES_PER_FRAME));
        now = UnixNanos(now.0 + ns_per_update * n as i128);
        let elapsed_ns = now.0 - start.0;
        while elapsed_ns >= i128::from(next_heartbeat) * 1_000_000_000 {
            let t = UnixNanos(start.0 + i128::from(next_heartbeat) * 1_000_000_000);
            let uptime = Duration::from_secs(next_heartbeat);
            let events = frames::heartbeat_events(&go_time_string(t, uptime), next_heartbeat);
            emit(out, Channel::Heartbeats.wire(), t, &events)?;
            next_heartbeat += 1;
        }
        while trades && now.0 >= next_trades {
            let t = UnixNanos(next_trades);
            for market in &mut markets {
                let made = market.take_trades();
                if made.is_empty() {
                    continue;
                }
                let events = frames::trades_events("update", &market.spec, made.iter());
                emit(out, Channel::MarketTrades.wire(), t, &events)?;
                emit(
                    out,
                    Channel::Ticker.wire(),
                    t,
                    &frames::ticker_events("update", market),
                )?;
            }
            next_trades += TRADE_FLUSH_NS;
        }
        changes.clear();
        let market = &mut markets[p];
        market.generate(n, now, &mut changes);
        let events = frames::l2_update_events(&market.spec, &changes, &rfc3339_nanos(now));
        emit(out, Channel::Level2.wire(), now, &events)?;
        written += n as u64;
    }
    Ok(CorpusSummary {
        frames: frames_written,
        updates: written,
        bytes: 0,
    })
}
