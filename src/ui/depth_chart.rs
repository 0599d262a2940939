//! The depth chart (`d`): cumulative bid and ask size against price, around the mid.
//!
//! ```text
//! ┌ depth · BTC-USD · mid 64930.50 · ±25.00 ─────────────────┐
//! │  41.2│█████▇▅▃                                           │
//! │      │████████▆▄▂                               ▁▂▃▄▅▆▇██│
//! │  20.6│█████████████▆▅▃▂                ▁▂▃▅▆█████████████│
//! │     0│███████████████████▇▄▁      ▁▃▅▇███████████████████│
//! │       64905.50              64930.50              64955.50│
//! └──────────────────────────────────────────────────────────┘
//! ```
//! Hand-drawn in eighths of a cell. The price range is symmetric around the mid and as wide as
//! the shallower side reaches, so both sides are drawn over the same distance. Each column shows
//! the cumulative size out to its edge away from the mid. At any grouping a row is a bucket, its
//! size spread over the prices the bucket covers (see [`Step`]), so that coarse groupings draw
//! as ramps instead of nothing. Prices stay exact decimals; only sizes become `f64`, for the
//! bar heights.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::app::App;
use crate::feed::events::{LevelRow, ProductView};
use crate::ui::format::{fixed, scale_of};
use crate::ui::theme::Theme;

/// Partial blocks, from one eighth to seven eighths of a cell.
const UP: [&str; 8] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇"];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let product = app.shown_product();
    let name = product.map_or("", |p| p.product.as_str());
    let range = product.and_then(Range::of);
    let mut title = format!(" depth · {name} ");
    let mut block = Block::bordered().border_style(theme.border);
    if let (Some(product), Some(range)) = (product, &range) {
        let scale = scale_of(product.tick);
        title.push_str(&format!(
            "· mid {} · ±{} ",
            fixed(range.mid, scale.max(scale_of(range.mid))),
            fixed(range.half, scale)
        ));
        let base = name.split('-').next().unwrap_or(name);
        block = block.title_bottom(Line::styled(
            format!(" bids left · asks right · cumulative size in {base} "),
            theme.dim,
        ));
    }
    let block = block.title(Line::styled(title, theme.title));
    let inner = block.inner(area);
    block.render(area, buf);
    match (product, range) {
        (Some(product), Some(range)) if inner.height >= 3 && inner.width >= 20 => {
            plot(app, product, &range, inner, buf);
        }
        _ => {
            let text = match product {
                // A crossed book has no side of the mid to draw each side on.
                Some(p) if p.crossed => "no depth to draw: the book is crossed",
                Some(_) => "no depth to draw yet: the book needs both sides",
                None => "no book yet",
            };
            Paragraph::new(Line::styled(text, theme.dim))
                .centered()
                .wrap(Wrap { trim: true })
                .render(inner, buf);
        }
    }
}

/// The price range drawn: mid ± half.
struct Range {
    mid: Decimal,
    half: Decimal,
}

impl Range {
    fn of(product: &ProductView) -> Option<Range> {
        let mid = product.mid?;
        let (bids, asks) = sides(product);
        let bid_reach = bids.last().map(|r| mid - r.price);
        let ask_reach = asks.last().map(|r| r.price - mid);
        let half = match (bid_reach, ask_reach) {
            (Some(b), Some(a)) => b.min(a),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return None,
        };
        (half > Decimal::ZERO).then_some(Range { mid, half })
    }
}

/// The chart rows when the feed sent them, else the ladder rows.
fn sides(product: &ProductView) -> (&[LevelRow], &[LevelRow]) {
    let bids = if product.chart_bids.is_empty() {
        &product.bids
    } else {
        &product.chart_bids
    };
    let asks = if product.chart_asks.is_empty() {
        &product.asks
    } else {
        &product.chart_asks
    };
    (bids, asks)
}

/// One row of a side as the chart draws it. A row is a bucket of `group_ticks` ticks (one
/// level when ungrouped) whose price is its edge away from the mid (bids round down, asks up):
/// its levels lie anywhere between that `outer` edge and the `inner` one (the bucket's other
/// end, or the best price for the bucket at the touch). Its size is spread evenly over
/// `[inner, outer]`, so the cumulative size ramps from `before` at `inner` to `after` at
/// `outer`. Ungrouped, `inner == outer` and the ramp is the exact step at the level's price.
///
/// Drawing a bucket's whole size at its outer edge instead (the row's price) left the chart
/// empty at coarse groupings: with one or two buckets a side, the range ends at that edge and
/// no column reached any.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    outer: Decimal,
    inner: Decimal,
    before: f64,
    after: f64,
}

/// A side's rows (best first) as [`Step`]s, converted once per frame. `bucket` is the width of
/// a row less one tick (the farthest a level can sit from the row's price), `best` the side's
/// best price.
fn steps(rows: &[LevelRow], bid: bool, bucket: Decimal, best: Option<Decimal>) -> Vec<Step> {
    let as_f64 = |d: Decimal| d.to_f64().unwrap_or(0.0);
    let mut before = 0.0;
    rows.iter()
        .map(|r| {
            let mut inner = if bid {
                r.price + bucket
            } else {
                r.price - bucket
            };
            // The bucket at the touch holds nothing beyond the best price.
            if let Some(best) = best {
                inner = if bid {
                    inner.min(best)
                } else {
                    inner.max(best)
                };
            }
            // A best price outside the rows (a view built by hand) cannot invert a bucket.
            inner = if bid {
                inner.max(r.price)
            } else {
                inner.min(r.price)
            };
            let after = as_f64(r.cum_size);
            let step = Step {
                outer: r.price,
                inner,
                before,
                after,
            };
            before = after;
            step
        })
        .collect()
}

/// Cumulative size on the side of `price`: bids at or above it, asks at or below it, each
/// bucket counted in part when `price` falls inside it. Both sides are best first, so the
/// rows passed whole are a prefix.
fn depth_at(bids: &[Step], asks: &[Step], mid: Decimal, price: Decimal) -> f64 {
    let bid = price < mid;
    let side = if bid { bids } else { asks };
    // Rows whose outer edge is at or beyond `price`, away from the mid, count whole.
    let whole = side.partition_point(|s| {
        if bid {
            s.outer >= price
        } else {
            s.outer <= price
        }
    });
    let mut depth = whole.checked_sub(1).map_or(0.0, |last| side[last].after);
    if let Some(s) = side.get(whole) {
        let inside = if bid {
            price <= s.inner
        } else {
            price >= s.inner
        };
        let span = (s.outer - s.inner).abs();
        if inside && !span.is_zero() {
            let part = ((s.inner - price).abs() / span).to_f64().unwrap_or(0.0);
            depth = s.before + (s.after - s.before) * part;
        }
    }
    depth
}

/// The chart's columns: `width` of them over `mid ± half`.
struct Columns {
    low: Decimal,
    span: Decimal,
    width: u16,
    mid: Decimal,
}

impl Columns {
    fn new(range: &Range, width: u16) -> Columns {
        Columns {
            low: range.mid - range.half,
            span: range.half * Decimal::TWO,
            width: width.max(1),
            mid: range.mid,
        }
    }

    /// The price at a column boundary, `0..=width`.
    fn edge(&self, k: u16) -> Decimal {
        self.low + self.span * Decimal::from(k) / Decimal::from(self.width)
    }

    /// Whether column `c` is on the bid side (its centre below the mid).
    fn is_bid(&self, c: u16) -> bool {
        (self.edge(c) + self.edge(c + 1)) / Decimal::TWO < self.mid
    }

    /// The depth column `c` shows: the cumulative size out to its edge away from the mid, so
    /// that the outermost columns reach the ends of the range (the last row of the shallower
    /// side sits exactly there).
    fn depth(&self, c: u16, bids: &[Step], asks: &[Step]) -> f64 {
        let at = if self.is_bid(c) {
            self.edge(c)
        } else {
            self.edge(c + 1)
        };
        depth_at(bids, asks, self.mid, at)
    }
}

fn plot(app: &App, product: &ProductView, range: &Range, inner: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let (bid_rows, ask_rows) = sides(product);
    let bucket = product.tick * Decimal::from(product.group_ticks.max(1)) - product.tick;
    let bids = steps(bid_rows, true, bucket, product.best_bid.map(|(p, _)| p));
    let asks = steps(ask_rows, false, bucket, product.best_ask.map(|(p, _)| p));
    let (bids, asks) = (bids.as_slice(), asks.as_slice());

    // Y labels need the largest depth first, which needs the plot width: the label column is
    // sized from the largest cumulative size in range, which bounds every label.
    let size_scale = scale_of(
        bid_rows
            .iter()
            .chain(ask_rows)
            .map(|r| r.cum_size)
            .max()
            .unwrap_or_default(),
    )
    .min(2);
    let label = |v: f64| format!("{v:.prec$}", prec = size_scale as usize);
    let probe = Columns::new(range, inner.width.saturating_sub(8).max(1));
    let probe_max = (0..probe.width)
        .map(|c| probe.depth(c, bids, asks))
        .fold(0.0, f64::max);
    let label_width = label(probe_max).len().max(1) as u16 + 1;

    let plot = Rect::new(
        inner.x + label_width + 1,
        inner.y,
        inner.width.saturating_sub(label_width + 1),
        inner.height.saturating_sub(1),
    );
    if plot.width == 0 || plot.height == 0 {
        return;
    }
    let columns = Columns::new(range, plot.width);
    let depths: Vec<f64> = (0..plot.width)
        .map(|c| columns.depth(c, bids, asks))
        .collect();
    let max = depths.iter().copied().fold(0.0, f64::max);

    // Axis and its labels.
    for row in 0..plot.height {
        buf.set_string(plot.x - 1, plot.y + row, "│", theme.border);
    }
    let labels = [
        (0, label(max)),
        (plot.height / 2, label(max / 2.0)),
        (plot.height - 1, "0".to_string()),
    ];
    for (row, text) in labels {
        let x = inner.x + label_width.saturating_sub(text.len() as u16 + 1);
        buf.set_string(x, plot.y + row, text, theme.dim);
    }

    // Columns, bottom up, in eighths.
    if max > 0.0 {
        let total_eighths = f64::from(plot.height) * 8.0;
        for (c, depth) in depths.iter().enumerate() {
            let eighths = (depth / max * total_eighths).round() as u32;
            let style: Style = if columns.is_bid(c as u16) {
                theme.bid_bar
            } else {
                theme.ask_bar
            };
            let x = plot.x + c as u16;
            for row in 0..plot.height {
                let filled = eighths.saturating_sub(u32::from(row) * 8).min(8);
                let y = plot.y + plot.height - 1 - row;
                let symbol = match filled {
                    0 => continue,
                    8 => "█",
                    n => UP[n as usize],
                };
                buf[(x, y)].set_symbol(symbol).set_style(style);
            }
        }
    }

    // Price labels under the plot: low, mid, high.
    let scale = scale_of(product.tick);
    let price = |d: Decimal| fixed(d, scale.max(scale_of(d)));
    let low = price(range.mid - range.half);
    let centre = price(range.mid);
    let high = price(range.mid + range.half);
    let y = plot.y + plot.height;
    buf.set_string(plot.x, y, &low, theme.dim);
    let centre_x = plot.x + (plot.width / 2).saturating_sub(centre.len() as u16 / 2);
    if centre_x > plot.x + low.len() as u16 {
        buf.set_string(centre_x, y, &centre, theme.text);
    }
    let high_x = (plot.x + plot.width).saturating_sub(high.len() as u16);
    if high_x > centre_x + centre.len() as u16 {
        buf.set_string(high_x, y, &high, theme.dim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn row(price: &str, cum: &str) -> LevelRow {
        LevelRow {
            price: d(price),
            size: Decimal::ONE,
            cum_size: d(cum),
        }
    }

    #[test]
    fn ungrouped_depth_steps_at_each_level_away_from_the_mid() {
        let bids = steps(
            &[row("99", "1"), row("98", "3"), row("97", "6")],
            true,
            Decimal::ZERO,
            Some(d("99")),
        );
        let asks = steps(
            &[row("101", "2"), row("102", "5")],
            false,
            Decimal::ZERO,
            Some(d("101")),
        );
        let at = |p: &str| depth_at(&bids, &asks, d("100"), d(p));
        assert_eq!(at("99.5"), 0.0, "inside the spread");
        assert_eq!(at("99"), 1.0);
        assert_eq!(at("97.5"), 3.0);
        assert_eq!(at("97"), 6.0);
        assert_eq!(at("90"), 6.0);
        assert_eq!(at("100.5"), 0.0);
        assert_eq!(at("101"), 2.0);
        assert_eq!(at("101.5"), 2.0);
        assert_eq!(at("150"), 5.0);
    }

    #[test]
    fn a_grouped_bucket_ramps_from_the_touch_to_its_outer_edge() {
        // Buckets of 20 (tick 0.01): bids at 2000 hold 40 between 2000 and the best bid 2010;
        // asks at 2020 hold 10 between the best ask 2010.02 and 2020, then 30 more up to 2040.
        let bucket = d("19.99");
        let bids = steps(&[row("2000", "40")], true, bucket, Some(d("2010")));
        let asks = steps(
            &[row("2020", "10"), row("2040", "40")],
            false,
            bucket,
            Some(d("2010.02")),
        );
        assert_eq!(bids[0].inner, d("2010"), "clamped to the best bid");
        assert_eq!(asks[1].inner, d("2020.01"), "the bucket's first tick");
        let at = |p: &str| depth_at(&bids, &asks, d("2010.01"), d(p));
        assert_eq!(at("2010"), 0.0);
        assert_eq!(at("2005"), 20.0);
        assert_eq!(at("2000"), 40.0);
        assert_eq!(at("1990"), 40.0);
        assert_eq!(at("2010.02"), 0.0);
        assert_eq!(at("2020"), 10.0);
        assert!((at("2030.005") - 25.0).abs() < 1e-9, "{}", at("2030.005"));
        assert_eq!(at("2040"), 40.0);
    }

    #[test]
    fn the_outermost_columns_reach_the_ends_of_the_range() {
        // One level a side: the range ends at the shallower side's only level, and the column
        // there shows it (sampled at its centre, it showed nothing).
        let bids = steps(&[row("99", "1")], true, Decimal::ZERO, Some(d("99")));
        let asks = steps(&[row("102", "5")], false, Decimal::ZERO, Some(d("102")));
        let range = Range {
            mid: d("100.5"),
            half: d("1.5"),
        };
        let columns = Columns::new(&range, 10);
        assert_eq!(columns.depth(0, &bids, &asks), 1.0);
        assert_eq!(columns.depth(9, &bids, &asks), 5.0);
        assert_eq!(columns.depth(4, &bids, &asks), 0.0);
        assert!(columns.is_bid(4) && !columns.is_bid(5));
    }
}
