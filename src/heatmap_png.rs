//! `cbbook heatmap FILE -o OUT.png`: a recording's book through time as a picture.
//!
//! The recording is replayed headless through the replay code path (the same cores, the same
//! sampling as the pane: `feed::core::heatmap`), at one sample per pixel column, and drawn with
//! the pane's columns and colours (`ui::heatmap_grid`) into an `image` buffer, saved as PNG.
//! Because the price range is not known before the end, every product is sampled in buckets of
//! a fixed share of its first mid ([`BUCKET_PPM`]), far enough to each side ([`DEPTH`]) to
//! follow a move of several percent; the picture's price axis is then fitted to where the touch
//! went.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use image::{Rgb, RgbImage};

use crate::config::ThemeName;
use crate::feed::core::heatmap::{HeatSample, HeatSettings};
use crate::feed::record::{Entry, RecordReader};
use crate::feed::replay::{self, Connections, ReplayConfig, ReplayHost};
use crate::ui::heatmap_grid::{
    background_rgb, dimmed, heat_rgb, intensity, pick_columns, size_in, touch_rgb, trade_rgb,
};

/// Bucket width, in millionths of the product's first mid.
pub const BUCKET_PPM: u32 = 5;
/// Buckets kept per side of the touch: 4,000 of 5 ppm follow a move of 2%.
pub const DEPTH: usize = 4_000;
/// Picture sizes accepted.
const MIN_SIZE: (u32, u32) = (320, 200);
const MAX_SIZE: (u32, u32) = (10_000, 10_000);
/// The margins around the plot: title and legend above, time axis below, prices on the right.
const TOP: u32 = 44;
const BOTTOM: u32 = 28;
const LEFT: u32 = 8;
const RIGHT: u32 = 104;
/// Text is the 8x8 font drawn at this scale.
const TEXT_SCALE: u32 = 2;

/// `cbbook heatmap`.
#[derive(Debug, clap::Args, Clone)]
pub struct HeatmapArgs {
    /// A recording made with --record.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The PNG to write.
    #[arg(short = 'o', long = "output", value_name = "OUT.png")]
    pub output: PathBuf,
    /// The product to draw (default: the recording's first).
    #[arg(long, value_name = "PRODUCT")]
    pub product: Option<String>,
    /// Start: an RFC 3339 time (2026-08-07T12:00:00Z), or +DURATION after the recording's first
    /// frame (+90s, +5m), or -DURATION before its last.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// End, written as --from.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 1600)]
    pub width: u32,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 900)]
    pub height: u32,
    /// Colours for a dark or a light page: dark or light.
    #[arg(long, default_value = "dark", value_name = "dark|light")]
    pub theme: String,
}

/// Runs the command; progress on stderr.
pub fn run(args: &HeatmapArgs) -> anyhow::Result<()> {
    let theme = match args.theme.to_ascii_lowercase().as_str() {
        "dark" => ThemeName::Dark,
        "light" => ThemeName::Light,
        other => bail!("unknown --theme `{other}`: use dark or light"),
    };
    let (w, h) = (args.width, args.height);
    if !(MIN_SIZE.0..=MAX_SIZE.0).contains(&w) || !(MIN_SIZE.1..=MAX_SIZE.1).contains(&h) {
        bail!(
            "--width and --height must be {}..{} by {}..{} pixels, got {w}x{h}",
            MIN_SIZE.0,
            MAX_SIZE.0,
            MIN_SIZE.1,
            MAX_SIZE.1
        );
    }
    let started = Instant::now();
    let (first, last) = time_span(&args.file)?;
    let from = match &args.from {
        Some(t) => parse_time(t, first, last).context("--from")?,
        None => first,
    };
    let to = match &args.to {
        Some(t) => parse_time(t, first, last).context("--to")?,
        None => last,
    };
    if to <= from {
        bail!(
            "nothing to draw: --from ({}) is not before --to ({}); the recording runs from {} to {}",
            utc(from),
            utc(to),
            utc(first),
            utc(last)
        );
    }
    let plot_w = w - LEFT - RIGHT;
    let interval = ((to - from) / i64::from(plot_w)).max(1);
    let config = ReplayConfig {
        products: args.product.iter().cloned().collect(),
        heatmap: HeatSettings {
            interval_ms: interval,
            capacity: plot_w as usize + 2,
            depth: DEPTH,
            relative_width_ppm: Some(BUCKET_PPM),
            enabled: true,
        },
        ..ReplayConfig::new(args.file.clone())
    };
    crate::output::to_stderr(format_args!(
        "heatmap: replaying {} from {} to {} ({} per column)\n",
        crate::text::printable(&args.file.display().to_string()),
        utc(from),
        utc(to),
        crate::ui::heatmap::short_duration(interval)
    ));
    let mut host = ProgressHost {
        from,
        to,
        interval,
        shown: Instant::now(),
    };
    let report = replay::run(&config, &mut host)
        .with_context(|| format!("cannot replay {}", args.file.display()))?;
    let core = report.core;
    let product = match &args.product {
        Some(p) => p.clone(),
        None => core
            .products()
            .iter()
            .find(|p| core.product(p).is_some_and(|b| b.last_change_ms.is_some()))
            .cloned()
            .context("the recording has no book to draw (no snapshot)")?,
    };
    let Some(book) = core.product(&product) else {
        bail!(
            "{product} is not in {}: it has {}",
            args.file.display(),
            core.products().join(", ")
        );
    };
    let samples: Vec<HeatSample> = book
        .heat
        .samples()
        .iter()
        .filter(|s| s.at_ms >= from && s.at_ms <= to + interval)
        .cloned()
        .collect();
    if samples.iter().all(|s| s.book.best_bid.is_none()) {
        bail!(
            "{product} has no book between {} and {}",
            utc(from),
            utc(to)
        );
    }
    let picture = draw(&samples, &product, theme, (w, h), (from, to, interval));
    picture
        .save_with_format(&args.output, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    crate::output::to_stderr(format_args!(
        "heatmap: wrote {} ({w}x{h}, {product}, {} columns) in {:.1}s\n",
        crate::text::printable(&args.output.display().to_string()),
        samples.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The recording's first and last recorded times, read through the one reader replay uses.
fn time_span(file: &Path) -> anyhow::Result<(i64, i64)> {
    let mut reader =
        RecordReader::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (mut first, mut last) = (None, None);
    let mut timestamps = crate::feed::time::TimestampCache::default();
    while let Some(entry) = reader
        .next_entry()
        .with_context(|| format!("cannot read {}", file.display()))?
    {
        let t = match entry {
            // A bare frame's time is its envelope's, as replay reads it.
            Entry::Frame { t_ms, text, .. } => {
                t_ms.or_else(|| replay::envelope_time(&text, &mut timestamps))
            }
            Entry::Binary { t_ms, .. }
            | Entry::Unread { t_ms, .. }
            | Entry::Connect { t_ms, .. }
            | Entry::Continued { t_ms, .. }
            | Entry::Disconnect { t_ms, .. }
            | Entry::Resync { t_ms } => Some(t_ms),
        };
        if let Some(t) = t {
            first.get_or_insert(t);
            last = Some(t);
        }
    }
    match (first, last) {
        (Some(a), Some(b)) if b > a => Ok((a, b)),
        _ => bail!(
            "{} has no recorded times to draw over (a file of bare frames, or a single moment): \
             record a session with --record",
            file.display()
        ),
    }
}

/// `--from`/`--to`: RFC 3339, `+D` after `first`, `-D` before `last`.
pub fn parse_time(text: &str, first: i64, last: i64) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Some(d) = text.strip_prefix('+') {
        return Ok(first + parse_duration(d)?);
    }
    if let Some(d) = text.strip_prefix('-') {
        return Ok(last - parse_duration(d)?);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            anyhow::anyhow!(
                "`{}` is not a time: write 2026-08-07T12:00:00Z, +5m (after the start) or -90s \
                 (before the end)",
                crate::text::printable(text)
            )
        })
}

/// `250ms`, `90s`, `5m`, `2h`.
fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().map_err(|_| {
        anyhow::anyhow!(
            "`{}` is not a duration: write 250ms, 90s, 5m or 2h",
            crate::text::printable(text)
        )
    })?;
    let scale = match unit {
        "ms" => 1,
        "s" | "" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => bail!(
            "`{}` is not a duration: write 250ms, 90s, 5m or 2h",
            crate::text::printable(text)
        ),
    };
    Ok(n.saturating_mul(scale))
}

fn utc(ms: i64) -> String {
    crate::ui::format::utc_datetime(ms)
}

/// Replays as fast as it can, saying how far it got twice a second.
struct ProgressHost {
    from: i64,
    to: i64,
    interval: i64,
    shown: Instant,
}

impl ReplayHost for ProgressHost {
    fn after_entry(
        &mut self,
        core: &mut crate::feed::core::FeedCore,
        _: &Connections,
        t_ms: i64,
    ) -> bool {
        core.drain_events().for_each(drop);
        if self.shown.elapsed().as_millis() >= 500 {
            self.shown = Instant::now();
            let done = (t_ms - self.from).max(0) as f64 / (self.to - self.from).max(1) as f64;
            crate::output::to_stderr(format_args!(
                "heatmap: {:3.0}% ({})\n",
                (done * 100.0).min(100.0),
                utc(t_ms)
            ));
        }
        // One interval past the end: its sample closes the last column.
        t_ms <= self.to + self.interval
    }

    fn wait(
        &mut self,
        _: std::time::Duration,
        _: &mut crate::feed::core::FeedCore,
        _: &Connections,
        _: i64,
    ) -> bool {
        true
    }
}

/// The picture.
pub fn draw(
    samples: &[HeatSample],
    product: &str,
    theme: ThemeName,
    (w, h): (u32, u32),
    (from, to, interval): (i64, i64, i64),
) -> RgbImage {
    let bg = background_rgb(theme);
    let fg: [u8; 3] = if theme == ThemeName::Light {
        [30, 30, 30]
    } else {
        [220, 220, 220]
    };
    let dim: [u8; 3] = if theme == ThemeName::Light {
        [120, 120, 120]
    } else {
        [130, 130, 140]
    };
    let mut img = RgbImage::from_pixel(w, h, Rgb(bg));
    let (plot_w, plot_h) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
    let columns = pick_columns(
        samples,
        plot_w as usize,
        interval,
        from + i64::from(plot_w) * interval,
    );
    // The price range: where the touch went, and a margin of a third of it (at least 20 buckets).
    let bucket = samples
        .iter()
        .map(|s| s.book.width)
        .max()
        .unwrap_or(1)
        .max(1);
    let (mut lo, mut hi) = (u128::MAX, 0u128);
    for s in samples {
        if let (Some(b), Some(a)) = (s.book.best_bid, s.book.best_ask) {
            lo = lo.min(b);
            hi = hi.max(a);
        }
    }
    let margin = ((hi.saturating_sub(lo)) / 3).max(20 * bucket);
    let (lo, hi) = (lo.saturating_sub(margin), hi + margin);
    let per_px = (hi - lo) as f64 / f64::from(plot_h);
    let price_at = |y: u32| hi as f64 - (f64::from(y) + 0.5) * per_px;
    let y_of = |price: u128| -> Option<u32> {
        let y = (hi as f64 - price as f64) / per_px;
        (y >= 0.0 && y < f64::from(plot_h)).then_some(y as u32)
    };
    // Sizes per pixel: a pixel finer than a bucket shows its bucket, a coarser one sums them.
    let size_at = |book: &crate::feed::core::heatmap::HeatColumn, y: u32| -> (f32, f32) {
        let centre = price_at(y).max(0.0) as u128;
        if per_px <= book.width as f64 {
            book.at(centre / book.width.max(1))
        } else {
            let low = (centre as f64 - per_px / 2.0).max(0.0) as u128;
            size_in(book, low, low + per_px as u128)
        }
    };
    let mut max = 0.0f32;
    for c in &columns {
        if let Some(book) = c.book {
            for y in 0..plot_h {
                let (b, a) = size_at(book, y);
                max = max.max(b).max(a);
            }
        }
    }
    for (x, c) in columns.iter().enumerate() {
        let Some(book) = c.book else { continue };
        let px = LEFT + x as u32;
        for y in 0..plot_h {
            let (b, a) = size_at(book, y);
            let (bid, size) = if b >= a { (true, b) } else { (false, a) };
            let t = intensity(size, max);
            let mut rgb = if t > 0.0 { heat_rgb(theme, bid, t) } else { bg };
            if c.suspect {
                rgb = if (px + y) % 6 < 2 { dim } else { dimmed(rgb) };
            }
            img.put_pixel(px, TOP + y, Rgb(rgb));
        }
    }
    // The touch as lines, joined from column to column.
    for bid in [true, false] {
        let colour = Rgb(touch_rgb(theme, bid));
        let mut before: Option<u32> = None;
        for (x, c) in columns.iter().enumerate() {
            let price = c
                .book
                .and_then(|b| if bid { b.best_bid } else { b.best_ask });
            let Some(y) = price.and_then(y_of) else {
                before = None;
                continue;
            };
            let (a, b) = before.map_or((y, y), |p| (p.min(y), p.max(y)));
            for yy in a..=b {
                for dy in 0..2 {
                    put(&mut img, LEFT + x as u32, TOP + yy + dy, colour);
                }
            }
            before = Some(y);
        }
    }
    // Trades: discs by size, coloured by aggressor.
    let trade_max = columns
        .iter()
        .flat_map(|c| c.trades.iter().map(|t| t.size()))
        .fold(0.0f32, f32::max);
    for (x, c) in columns.iter().enumerate() {
        for t in &c.trades {
            let Some(y) = y_of(t.price) else { continue };
            let r = 1.5 + 7.0 * (t.size() / trade_max.max(f32::MIN_POSITIVE)).sqrt();
            disc(
                &mut img,
                (LEFT + x as u32, TOP + y),
                r,
                Rgb(trade_rgb(theme, t.aggressor)),
                Rgb(bg),
            );
        }
    }
    // Axes.
    for y in TOP..TOP + plot_h {
        put(&mut img, LEFT + plot_w, y, Rgb(dim));
    }
    for x in LEFT..LEFT + plot_w {
        put(&mut img, x, TOP + plot_h, Rgb(dim));
    }
    let label_every = 60;
    let mut y = 0;
    while y + 8 < plot_h {
        let price = rust_decimal::Decimal::from_i128_with_scale(
            price_at(y) as i128,
            crate::book::fixed::SCALE,
        );
        let scale = crate::ui::format::scale_of(rust_decimal::Decimal::from_i128_with_scale(
            bucket as i128,
            crate::book::fixed::SCALE,
        ));
        put_line(&mut img, LEFT + plot_w, TOP + y, 5, Rgb(dim));
        text(
            &mut img,
            LEFT + plot_w + 8,
            TOP + y.saturating_sub(7),
            &crate::ui::format::fixed(price, scale),
            fg,
        );
        y += label_every;
    }
    let mut x = 0;
    while x + 100 < plot_w {
        let t = from + i64::from(x) * interval;
        for dy in 0..5 {
            put(&mut img, LEFT + x, TOP + plot_h + dy, Rgb(dim));
        }
        let label = utc(t);
        let label = label.split(' ').nth(1).unwrap_or(&label).to_string();
        text(&mut img, LEFT + x, TOP + plot_h + 8, &label, fg);
        x += 200;
    }
    // Title and legend.
    let title = format!(
        "{product}  {} - {} UTC  {}/column",
        utc(from),
        utc(to).split(' ').nth(1).unwrap_or(""),
        crate::ui::heatmap::short_duration(interval)
    );
    text(&mut img, LEFT, 4, &crate::text::printable(&title), fg);
    let mut lx = LEFT;
    let ly = 24;
    for (label, bid) in [("bids", true), ("asks", false)] {
        text(&mut img, lx, ly, label, dim);
        lx += 5 * 9 + 4;
        for i in 0..60u32 {
            let rgb = heat_rgb(theme, bid, (i as f32 + 1.0) / 60.0);
            for dy in 0..12 {
                put(&mut img, lx + i, ly + dy, Rgb(rgb));
            }
        }
        lx += 70;
    }
    let max_text = format!(
        "0 - {} (log)",
        crate::ui::format::amount(
            rust_decimal::Decimal::try_from(max)
                .unwrap_or_default()
                .round_dp(2)
        )
    );
    text(&mut img, lx, ly, &max_text, dim);
    lx += max_text.len() as u32 * 9 + 16;
    for (label, bid) in [("best bid", true), ("best ask", false)] {
        for dx in 0..20 {
            put(&mut img, lx + dx, ly + 6, Rgb(touch_rgb(theme, bid)));
            put(&mut img, lx + dx, ly + 7, Rgb(touch_rgb(theme, bid)));
        }
        text(&mut img, lx + 24, ly, label, dim);
        lx += 24 + label.len() as u32 * 9 + 16;
    }
    for (label, aggressor) in [
        ("buy", crate::feed::events::Aggressor::Buy),
        ("sell", crate::feed::events::Aggressor::Sell),
    ] {
        disc(
            &mut img,
            (lx + 6, ly + 6),
            5.0,
            Rgb(trade_rgb(theme, aggressor)),
            Rgb(bg),
        );
        text(&mut img, lx + 16, ly, label, dim);
        lx += 16 + label.len() as u32 * 9 + 16;
    }
    img
}

fn put(img: &mut RgbImage, x: u32, y: u32, c: Rgb<u8>) {
    if x < img.width() && y < img.height() {
        img.put_pixel(x, y, c);
    }
}

fn put_line(img: &mut RgbImage, x: u32, y: u32, len: u32, c: Rgb<u8>) {
    for dx in 0..len {
        put(img, x + dx, y, c);
    }
}

fn disc(img: &mut RgbImage, (cx, cy): (u32, u32), r: f32, fill: Rgb<u8>, edge: Rgb<u8>) {
    let ri = r.ceil() as i64 + 1;
    for dy in -ri..=ri {
        for dx in -ri..=ri {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            let (x, y) = (i64::from(cx) + dx, i64::from(cy) + dy);
            if x < 0 || y < 0 {
                continue;
            }
            if d <= r - 1.0 {
                put(img, x as u32, y as u32, fill);
            } else if d <= r {
                put(img, x as u32, y as u32, edge);
            }
        }
    }
}

/// ASCII text in the 8x8 font, scaled; other characters are skipped.
fn text(img: &mut RgbImage, x: u32, y: u32, s: &str, rgb: [u8; 3]) {
    use font8x8::UnicodeFonts;
    let step = 8 * TEXT_SCALE / 2 + 1;
    for (i, ch) in s.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        let gx = x + i as u32 * step;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits & (1 << col) != 0 {
                    // Drawn at 1x wide and 2x tall: narrow enough for long labels, tall enough to read.
                    put(img, gx + col, y + row as u32 * TEXT_SCALE, Rgb(rgb));
                    put(img, gx + col, y + row as u32 * TEXT_SCALE + 1, Rgb(rgb));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_offsets_from_either_end() {
        assert_eq!(parse_time("+90s", 1_000, 9_000_000).unwrap(), 91_000);
        assert_eq!(parse_time("-5m", 0, 600_000).unwrap(), 300_000);
        assert_eq!(parse_time("+250ms", 0, 1).unwrap(), 250);
        assert_eq!(
            parse_time("2026-01-01T00:00:00Z", 0, 0).unwrap(),
            1_767_225_600_000
        );
        let err = parse_time("yesterday", 0, 0).unwrap_err().to_string();
        assert!(err.contains("+5m"), "{err}");
        assert!(parse_time("+5x", 0, 0).is_err());
    }
}
