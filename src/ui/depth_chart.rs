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
//! the shallower side reaches, so both sides are drawn over the same distance. Positions use
//! `f64`; every number printed comes from the exact decimals.

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
            let text = if product.is_some() {
                "no depth to draw yet: the book needs both sides"
            } else {
                "no book yet"
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

/// A side's rows as (price, cumulative size), converted to `f64` once per frame (the columns
/// then look them up by binary search instead of converting every row for every column).
fn points(rows: &[LevelRow]) -> Vec<(f64, f64)> {
    let as_f64 = |d: Decimal| d.to_f64().unwrap_or(0.0);
    rows.iter()
        .map(|r| (as_f64(r.price), as_f64(r.cum_size)))
        .collect()
}

/// Cumulative size on the side of `price`: bids at or above it, asks at or below it. Both sides
/// are best first, so the rows that count are a prefix.
fn depth_at(bids: &[(f64, f64)], asks: &[(f64, f64)], mid: f64, price: f64) -> f64 {
    let (side, count) = if price < mid {
        (bids, bids.partition_point(|&(p, _)| p >= price))
    } else {
        (asks, asks.partition_point(|&(p, _)| p <= price))
    };
    count.checked_sub(1).map_or(0.0, |last| side[last].1)
}

fn plot(app: &App, product: &ProductView, range: &Range, inner: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let (bid_rows, ask_rows) = sides(product);
    let (bids, asks) = (points(bid_rows), points(ask_rows));
    let (bids, asks) = (bids.as_slice(), asks.as_slice());
    let mid = range.mid.to_f64().unwrap_or(0.0);
    let half = range.half.to_f64().unwrap_or(0.0);

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
    let probe_width = inner.width.saturating_sub(8).max(1);
    let probe_max = (0..probe_width)
        .map(|c| column_depth(bids, asks, mid, half, c, probe_width))
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
    let depths: Vec<f64> = (0..plot.width)
        .map(|c| column_depth(bids, asks, mid, half, c, plot.width))
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
            let style: Style = if column_price(mid, half, c as u16, plot.width) < mid {
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

/// The price at the centre of column `c` of `width`.
fn column_price(mid: f64, half: f64, c: u16, width: u16) -> f64 {
    let lo = mid - half;
    lo + (f64::from(c) + 0.5) * (2.0 * half) / f64::from(width.max(1))
}

fn column_depth(
    bids: &[(f64, f64)],
    asks: &[(f64, f64)],
    mid: f64,
    half: f64,
    c: u16,
    width: u16,
) -> f64 {
    depth_at(bids, asks, mid, column_price(mid, half, c, width))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn row(price: &str, cum: &str) -> LevelRow {
        LevelRow {
            price: Decimal::from_str(price).unwrap(),
            size: Decimal::ONE,
            cum_size: Decimal::from_str(cum).unwrap(),
        }
    }

    #[test]
    fn depth_accumulates_away_from_the_mid() {
        let bids = points(&[row("99", "1"), row("98", "3"), row("97", "6")]);
        let asks = points(&[row("101", "2"), row("102", "5")]);
        assert_eq!(
            depth_at(&bids, &asks, 100.0, 99.5),
            0.0,
            "inside the spread"
        );
        assert_eq!(depth_at(&bids, &asks, 100.0, 99.0), 1.0);
        assert_eq!(depth_at(&bids, &asks, 100.0, 97.5), 3.0);
        assert_eq!(depth_at(&bids, &asks, 100.0, 90.0), 6.0);
        assert_eq!(depth_at(&bids, &asks, 100.0, 100.5), 0.0);
        assert_eq!(depth_at(&bids, &asks, 100.0, 101.5), 2.0);
        assert_eq!(depth_at(&bids, &asks, 100.0, 150.0), 5.0);
    }
}
