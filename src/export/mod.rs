//! `cbbook export FILE... --parquet DIR` (docs/export.md): recordings to Parquet tables for data
//! tools, through the same [`FeedCore`] as replay, so that the rows are what the books were
//! built from.
//!
//! The files are read in the order given, as one session (rotated files of a recording follow
//! each other). Each recorded connection has a core of its own, as in replay; the cores tap what
//! they apply ([`crate::feed::core::tap`]): every level of every `l2_data` event applied to a book
//! becomes a row of `levels.parquet` under the product as asked for, every trade new to a
//! product's tape a row of `trades.parquet`, and every `--top-every` of recorded time the best
//! `--top-levels` levels of each live book rows of `top.parquet`. Memory stays bounded whatever
//! the recordings' size: one line at a time, the books, and one row group per table.

mod tables;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;

use crate::book::{Price, Side, Size};
use crate::feed::core::FeedCore;
use crate::feed::core::tap::Tapped;
use crate::feed::events::{BookState, TradeRow};
use crate::feed::protocol::L2Kind;
use crate::feed::record::{Entry, PROBE_LINES, RecordError, RecordReader};
use crate::feed::replay::MAX_CONNECTIONS;
use tables::{LevelRows, Table, TableError, TopRows, TradeRows};

pub use tables::{DECIMAL_PRECISION, DECIMAL_SCALE, ROW_GROUP_ROWS};

/// `cbbook export`'s command line.
#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// Recordings (plain, .zst or .gz; files of raw frames too), read in this order as one
    /// session: give a rotated recording's files in time order.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Write levels.parquet, trades.parquet and top.parquet into DIR (created if missing).
    #[arg(long, value_name = "DIR", required = true)]
    pub parquet: PathBuf,

    /// Sample the best levels of every live book into top.parquet this often, in recorded time:
    /// whole seconds and up (1s, 15s, 1m, 1h).
    #[arg(long, value_name = "PERIOD", default_value = "1s", value_parser = crate::feed::rotate::parse_period)]
    pub top_every: Duration,

    /// Levels per side in each top.parquet sample, 1 to 1000.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub top_levels: u16,

    /// Replace the tables if DIR already has them.
    #[arg(long)]
    pub force: bool,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("cannot create the directory {path}: {error}")]
    Directory {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} exists: give --force to replace it, or another --parquet DIR")]
    Exists { path: PathBuf },
}

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub levels: u64,
    pub trades: u64,
    pub top: u64,
    pub broken_lines: u64,
    /// Trades whose price or size is beyond `DECIMAL(38, 12)` (none from Coinbase): left out and
    /// reported.
    pub trades_left_out: u64,
}

/// The table names, in DIR.
pub const LEVELS: &str = "levels.parquet";
pub const TRADES: &str = "trades.parquet";
pub const TOP: &str = "top.parquet";

/// Runs `cbbook export`; progress and warnings go to `say` (stderr).
pub fn run(args: &ExportArgs, say: &mut dyn FnMut(&str)) -> Result<ExportSummary, ExportError> {
    std::fs::create_dir_all(&args.parquet).map_err(|error| ExportError::Directory {
        path: args.parquet.clone(),
        error,
    })?;
    let paths = [LEVELS, TRADES, TOP].map(|name| args.parquet.join(name));
    if !args.force
        && let Some(existing) = paths.iter().find(|p| p.exists())
    {
        return Err(ExportError::Exists {
            path: existing.clone(),
        });
    }
    let mut out = Output {
        levels: Table::create(&paths[0], tables::levels_schema(), LevelRows::new())?,
        trades: Table::create(&paths[1], tables::trades_schema(), TradeRows::new())?,
        top: Table::create(&paths[2], tables::top_schema(), TopRows::new())?,
        trades_left_out: 0,
    };
    let mut session = Session::new(args);
    let mut broken_lines = 0;
    for file in &args.files {
        broken_lines += session.read_file(file, &mut out, say)?;
    }
    session.sample_top(session.last_t_ms, &mut out)?;
    let summary = ExportSummary {
        levels: out.levels.close()?,
        trades: out.trades.close()?,
        top: out.top.close()?,
        broken_lines,
        trades_left_out: out.trades_left_out,
    };
    Ok(summary)
}

struct Output {
    levels: Table<LevelRows>,
    trades: Table<TradeRows>,
    top: Table<TopRows>,
    trades_left_out: u64,
}

/// The recorded session: one core per connection, across the files.
struct Session {
    cores: Vec<Option<FeedCore>>,
    tapped: Vec<Tapped>,
    top_every_ms: i64,
    top_levels: usize,
    /// The next sample of the top levels is due at this recorded time.
    next_top_ms: Option<i64>,
    last_t_ms: i64,
    progress_at: Instant,
    /// The user connection's index, once its `connect` line has come (its lines are skipped).
    user_conn: Option<usize>,
}

/// Every this long, a progress line.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl Session {
    fn new(args: &ExportArgs) -> Session {
        Session {
            cores: Vec::new(),
            tapped: Vec::new(),
            top_every_ms: i64::try_from(args.top_every.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            top_levels: usize::from(args.top_levels),
            next_top_ms: None,
            last_t_ms: 0,
            user_conn: None,
            progress_at: Instant::now(),
        }
    }

    fn core(&mut self, conn: usize) -> &mut FeedCore {
        let conn = conn.min(MAX_CONNECTIONS - 1);
        if self.cores.len() <= conn {
            self.cores.resize_with(conn + 1, || None);
        }
        self.cores[conn].get_or_insert_with(|| {
            let mut core = FeedCore::new("export", &[], false, 0);
            core.set_auto_products(true);
            core.set_tap(true);
            core.set_heatmap(crate::feed::core::heatmap::HeatSettings::off());
            core
        })
    }

    /// Reads one file to its end; the broken lines skipped.
    fn read_file(
        &mut self,
        file: &Path,
        out: &mut Output,
        say: &mut dyn FnMut(&str),
    ) -> Result<u64, ExportError> {
        let mut reader = RecordReader::open(file)?;
        let shown = file.display().to_string();
        let name = crate::text::printable(&shown);
        let mut bare_started = false;
        let mut t_ms = self.last_t_ms;
        // As for replay: a file with no recorded entry and no frame the feed could use in its
        // first lines is not a recording.
        let mut usable = false;
        while let Some((entry, conn)) = reader.next_entry_on()? {
            let conn = conn.min(MAX_CONNECTIONS - 1);
            // The user connection's lines are your orders, not market data: not exported.
            if let Entry::Connect { info, .. } | Entry::Continued { info, .. } = &entry
                && info.user
            {
                self.user_conn = Some(conn);
            }
            if self.user_conn == Some(conn) || conn == crate::feed::record::USER_CONNECTION {
                usable = true;
                continue;
            }
            let entry_t = match &entry {
                Entry::Frame { t_ms: Some(t), .. } => Some(*t),
                Entry::Frame {
                    t_ms: None, text, ..
                } => exchange_time_ns(text).map(|ns| ns / 1_000_000),
                Entry::Binary { t_ms, .. }
                | Entry::Unread { t_ms, .. }
                | Entry::Connect { t_ms, .. }
                | Entry::Continued { t_ms, .. }
                | Entry::Disconnect { t_ms, .. }
                | Entry::Resync { t_ms } => Some(*t_ms),
            };
            if let Some(t) = entry_t {
                t_ms = t;
            }
            // The books as they were before this entry, at each sample time it passes.
            self.sample_top(t_ms, out)?;
            usable |= !matches!(entry, Entry::Frame { .. });
            match entry {
                Entry::Frame { text, bare, .. } => {
                    let exchange_ns = exchange_time_ns(&text);
                    let core = self.core(conn);
                    if bare && !bare_started {
                        // A file of bare frames: one connection, a sequence back at 0 a new one.
                        bare_started = true;
                        core.set_restart_on_zero(true);
                        core.connection_started(t_ms, false);
                    }
                    let before = (core.stats().bad_frames, core.stats().errors);
                    core.on_frame_bytes(&text, t_ms);
                    let stats = core.stats();
                    usable |= stats.bad_frames == before.0
                        && (stats.last_sequence_num.is_some() || stats.errors > before.1);
                    self.drain(conn, t_ms, exchange_ns, out)?;
                }
                Entry::Binary { bytes, .. } => {
                    self.core(conn).on_binary_frame(&bytes, t_ms);
                }
                Entry::Unread { reason, .. } => self.core(conn).count_bad_frame(t_ms, reason),
                Entry::Connect { info, .. } => {
                    let core = self.core(conn);
                    for p in info
                        .products
                        .iter()
                        .filter(|p| crate::product_id::is_product_id(p))
                    {
                        core.add_product(p);
                    }
                    core.connection_started(t_ms, info.authenticated);
                }
                Entry::Continued { info, .. } => {
                    let core = self.core(conn);
                    for p in info
                        .products
                        .iter()
                        .filter(|p| crate::product_id::is_product_id(p))
                    {
                        core.add_product(p);
                    }
                    core.connection_continued(t_ms, info.authenticated);
                }
                Entry::Disconnect { reason, .. } => self.core(conn).connection_lost(t_ms, &reason),
                Entry::Resync { .. } => self.core(conn).resync(t_ms),
            }
            if !usable && reader.lines() >= PROBE_LINES {
                return Err(RecordError::NotARecording {
                    path: file.to_owned(),
                    lines: reader.lines(),
                }
                .into());
            }
            // Events are not wanted here: only the tapped rows.
            if let Some(core) = self.cores.get_mut(conn).and_then(Option::as_mut) {
                core.drain_events();
            }
            if self.progress_at.elapsed() >= PROGRESS_EVERY {
                self.progress_at = Instant::now();
                say(&format!(
                    "cbbook export: {name}: line {}, {} level rows, {} trades",
                    reader.lines(),
                    out.levels.written(),
                    out.trades.written()
                ));
            }
        }
        if !usable {
            return Err(if reader.non_blank_lines() == 0 {
                RecordError::Empty {
                    path: file.to_owned(),
                }
            } else {
                RecordError::NotARecording {
                    path: file.to_owned(),
                    lines: reader.lines(),
                }
            }
            .into());
        }
        self.last_t_ms = t_ms;
        if let Some(why) = reader.damage() {
            say(&format!("cbbook export: {name}: {why}"));
        }
        if reader.broken_lines() > 0 {
            say(&format!(
                "cbbook export: skipped {} broken line(s) of {} in {name}",
                reader.broken_lines(),
                reader.lines()
            ));
        }
        Ok(reader.broken_lines())
    }

    /// Writes what connection `conn`'s core applied for the frame just read.
    fn drain(
        &mut self,
        conn: usize,
        recv_ms: i64,
        exchange_ns: Option<i64>,
        out: &mut Output,
    ) -> Result<(), ExportError> {
        let Some(core) = self.cores.get_mut(conn).and_then(Option::as_mut) else {
            return Ok(());
        };
        core.take_tapped(&mut self.tapped);
        let products = core.products();
        for tapped in self.tapped.drain(..) {
            match tapped {
                Tapped::Level {
                    book,
                    kind,
                    side,
                    price,
                    size,
                    sequence_num,
                } => {
                    let rows = out.levels.rows();
                    rows.recv_time.append_value(recv_ms);
                    rows.exchange_time.append_option(exchange_ns);
                    rows.connection
                        .append_value(u32::try_from(conn).unwrap_or(u32::MAX));
                    rows.sequence_num.append_value(sequence_num);
                    rows.product_id
                        .append_value(products.get(book).map_or("", String::as_str));
                    rows.event.append_value(match kind {
                        L2Kind::Snapshot => "snapshot",
                        L2Kind::Update => "update",
                    });
                    rows.side.append_value(side_name(side));
                    rows.price.append_value(price_units(price));
                    rows.size.append_value(size_units(size));
                    out.levels.row_added()?;
                }
                Tapped::Trade { book, row } => {
                    let product = products.get(book).map_or("", String::as_str);
                    add_trade(out, product, &row, recv_ms)?;
                }
            }
        }
        Ok(())
    }

    /// At each `--top-every` boundary up to `t_ms` (one sample for a silence of several
    /// periods): the best levels of every live book.
    fn sample_top(&mut self, t_ms: i64, out: &mut Output) -> Result<(), ExportError> {
        let every = self.top_every_ms;
        let next = *self
            .next_top_ms
            .get_or_insert_with(|| (t_ms - t_ms.rem_euclid(every)).saturating_add(every));
        if t_ms < next {
            return Ok(());
        }
        let at = next.max(t_ms - t_ms.rem_euclid(every));
        self.next_top_ms = Some(at.saturating_add(every));
        let mut seen: Vec<&str> = Vec::new();
        for core in self.cores.iter().flatten() {
            for product in core.products() {
                if seen.contains(&product.as_str()) {
                    continue;
                }
                let Some(book) = core.product(product) else {
                    continue;
                };
                if book.state != BookState::Live {
                    continue;
                }
                seen.push(product);
                for side in [Side::Bid, Side::Ask] {
                    for (i, (price, size)) in book
                        .book
                        .levels_fixed(side)
                        .take(self.top_levels)
                        .enumerate()
                    {
                        let rows = out.top.rows();
                        rows.time.append_value(at);
                        rows.product_id.append_value(product);
                        rows.side.append_value(side_name(side));
                        rows.level
                            .append_value(u16::try_from(i + 1).unwrap_or(u16::MAX));
                        rows.price.append_value(price_units(price));
                        rows.size.append_value(size_units(size));
                        out.top.row_added()?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn add_trade(
    out: &mut Output,
    product: &str,
    row: &TradeRow,
    recv_ms: i64,
) -> Result<(), ExportError> {
    let (Ok(price), Ok(size)) = (Price::from_decimal(row.price), Size::from_decimal(row.size))
    else {
        out.trades_left_out += 1;
        tracing::warn!(
            trade_id = %row.trade_id,
            "a trade's price or size does not fit DECIMAL(38, 12): left out of trades.parquet"
        );
        return Ok(());
    };
    let rows = out.trades.rows();
    rows.trade_id.append_value(&row.trade_id);
    rows.time.append_value(row.time_ms);
    rows.recv_time.append_value(recv_ms);
    rows.product_id.append_value(product);
    rows.price.append_value(price_units(price));
    rows.size.append_value(size_units(size));
    rows.side.append_value(&row.side);
    rows.aggressor.append_value(match row.aggressor {
        crate::feed::events::Aggressor::Buy => "buy",
        crate::feed::events::Aggressor::Sell => "sell",
    });
    out.trades.row_added()?;
    Ok(())
}

/// As Coinbase names the sides of a level.
fn side_name(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "offer",
    }
}

/// Units of `10^-12` are the decimal's unscaled value at scale 12; every value is below `10^27`.
fn price_units(price: Price) -> i128 {
    i128::try_from(price.units()).unwrap_or(i128::MAX)
}

fn size_units(size: Size) -> i128 {
    i128::try_from(size.units()).unwrap_or(i128::MAX)
}

/// A frame's envelope `timestamp` (RFC 3339, up to nanoseconds) in Unix nanoseconds, found near
/// the start of the frame without parsing it.
fn exchange_time_ns(text: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    let head = &text[..text.len().min(512)];
    let start = memchr::memmem::find(head, KEY)? + KEY.len();
    let rest = text.get(start..)?;
    let end = memchr::memchr(b'"', &rest[..rest.len().min(64)])?;
    let stamp = std::str::from_utf8(&rest[..end]).ok()?;
    chrono::DateTime::parse_from_rfc3339(stamp)
        .ok()?
        .timestamp_nanos_opt()
}

/// `cbbook export` from the command line: progress on stderr, a summary at the end.
pub fn run_cli(args: &ExportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut say = |line: &str| crate::output::to_stderr(format_args!("{line}\n"));
    let summary = run(args, &mut say)?;
    say(&format!(
        "cbbook export: {} level rows, {} trades, {} top rows in {} ({:.1} s){}",
        summary.levels,
        summary.trades,
        summary.top,
        crate::text::printable(&args.parquet.display().to_string()),
        started.elapsed().as_secs_f64(),
        match summary.trades_left_out {
            0 => String::new(),
            n => format!("; {n} trade(s) left out: price or size beyond DECIMAL(38, 12)"),
        }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_times_are_read_to_the_nanosecond() {
        let frame = br#"{"channel":"l2_data","client_id":"","timestamp":"2026-12-04T23:00:00.123456789Z","sequence_num":1,"events":[]}"#;
        assert_eq!(exchange_time_ns(frame), Some(1_796_425_200_123_456_789));
        assert_eq!(exchange_time_ns(br#"{"type":"error"}"#), None);
        assert_eq!(exchange_time_ns(br#"{"timestamp":"yesterday"}"#), None);
    }
}
