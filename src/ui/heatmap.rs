//! The heatmap pane (`m`): the selected product's book through time.
//!
//! ```text
//! ┌ title: BTC-USD heatmap · 1s/col · group 0.01 · legend ─────────────────────────┐
//! │ x: one column per time step, newest on the right            │ price axis      │
//! │ y: price buckets at the ladder's grouping, centred on the   │ (every 4th row) │
//! │    mid, two per row (half blocks); colour: resting size     │                 │
//! │    (log), best bid / ask as lines, trades as markers        │                 │
//! ├ time axis: -3m -2m -1m now ─────────────────────────────────┘                 │
//! ```
//! Drawn from the feed's samples of the product ([`crate::feed::core::heatmap`]); the columns
//! and the colour scale are shared with the picture (`ui::heatmap_grid`). Suspect columns
//! (after a gap or a lost connection) are hatched; the user's orders (when the orders code
//! hands them over) are marked at the right edge.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use rust_decimal::Decimal;

use crate::app::App;
use crate::book::Side;
use crate::book::fixed::SCALE;
use crate::feed::core::heatmap::HeatmapView;
use crate::feed::events::{Aggressor, ProductView};
use crate::ui::format::{amount, fixed, scale_of};
use crate::ui::heatmap_grid::{
    Palette, Pick, intensity, pick_columns, shade, size_color, size_in, term_color, touch_rgb,
    trade_rgb,
};
use crate::ui::theme::Theme;

/// Price labels every this many terminal rows.
const LABEL_EVERY: u16 = 4;
/// The time axis' labels at least this many columns apart.
const TIME_LABEL_GAP: u16 = 12;

/// Draws the pane in `area` (the full width under the tabs).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = Theme::of(app);
    let palette = Palette::new(theme.name, app.setup().display.colors);
    let product = app.shown_product();
    let heat = product.and_then(|p| p.market.heatmap.as_ref());
    let name = product.map_or("", |p| p.product.as_str());
    let column_ms = app.heatmap().column_ms();
    if area.height < 4 || area.width < 20 {
        return;
    }
    let [title, body, axis] = [
        Rect::new(area.x, area.y, area.width, 1),
        Rect::new(area.x, area.y + 1, area.width, area.height - 2),
        Rect::new(area.x, area.y + area.height - 1, area.width, 1),
    ];
    let (Some(product), Some(heat)) = (product, heat) else {
        title_line(&theme, palette, name, column_ms, None, None, title, buf);
        message(&theme, "heatmap: waiting for the feed's samples", body, buf);
        return;
    };
    let Some(geometry) = Geometry::of(product, app.group_ticks(), body) else {
        title_line(&theme, palette, name, column_ms, None, None, title, buf);
        message(
            &theme,
            "heatmap: no book to draw yet (no best bid and ask)",
            body,
            buf,
        );
        return;
    };
    if heat.samples.is_empty() {
        title_line(
            &theme,
            palette,
            name,
            column_ms,
            Some(&geometry),
            None,
            title,
            buf,
        );
        let text = format!(
            "heatmap: the first sample comes within {}",
            short_duration(heat.interval_ms)
        );
        message(&theme, &text, body, buf);
        return;
    }
    let plot = Rect::new(body.x, body.y, geometry.plot_width, body.height);
    let end_ms = heat.samples.last().map_or(0, |s| s.at_ms);
    let columns = pick_columns(&heat.samples, usize::from(plot.width), column_ms, end_ms);
    let max = max_size(&columns, &geometry);
    draw_cells(&columns, &geometry, max, palette, &theme, plot, buf);
    draw_marks(app, &geometry, palette, &theme, plot, buf);
    price_axis(&geometry, &theme, body, buf);
    time_axis(&columns, column_ms, &theme, axis, buf);
    title_line(
        &theme,
        palette,
        name,
        column_ms,
        Some(&geometry),
        Some((max, heat)),
        title,
        buf,
    );
}

/// Where prices go: bucket width, the bucket at the top row, the axis width.
struct Geometry {
    /// Bucket width in price units.
    width: u128,
    /// The bucket of the first price row (the highest).
    top: i128,
    /// Price rows (two per terminal row).
    rows: usize,
    plot_width: u16,
    /// Decimals of the price labels.
    scale: u32,
    group: Decimal,
}

impl Geometry {
    fn of(product: &ProductView, group_ticks: u32, body: Rect) -> Option<Geometry> {
        let mid = product.mid?;
        let tick = product.tick;
        let group = tick * Decimal::from(group_ticks.max(1));
        let units = |d: Decimal| crate::book::Price::from_decimal(d).ok().map(|p| p.units());
        let width = units(group)?.max(1);
        let mid_units = crate::book::Price::from_decimal(mid.round_dp(SCALE))
            .ok()?
            .units();
        let rows = usize::from(body.height) * 2;
        let centre = (mid_units / width) as i128;
        let top = centre + (rows / 2) as i128;
        let scale = scale_of(tick).max(scale_of(group));
        let sample = fixed(mid, scale);
        let axis = (sample.len() as u16 + 2).min(body.width / 3);
        Some(Geometry {
            width,
            top,
            rows,
            plot_width: body.width.saturating_sub(axis),
            scale,
            group,
        })
    }

    /// The price range `[low, high)` of price row `r` (None below zero).
    fn range(&self, r: usize) -> Option<(u128, u128)> {
        let bucket = u128::try_from(self.top - r as i128).ok()?;
        Some((bucket * self.width, (bucket + 1) * self.width))
    }

    /// The price row of `price` units, if on screen.
    fn row_of(&self, price: u128) -> Option<usize> {
        let r = self.top - (price / self.width) as i128;
        (0..self.rows as i128).contains(&r).then_some(r as usize)
    }

    fn label(&self, r: usize) -> Option<String> {
        let (low, _) = self.range(r)?;
        let price = Decimal::from_i128_with_scale(i128::try_from(low).ok()?, SCALE);
        Some(fixed(price, self.scale))
    }
}

/// The largest bucket size on screen (the top of the scale).
fn max_size(columns: &[Pick<'_>], g: &Geometry) -> f32 {
    let mut max = 0.0f32;
    for c in columns {
        let Some(book) = c.book else { continue };
        for r in 0..g.rows {
            if let Some((low, high)) = g.range(r) {
                let (b, a) = size_in(book, low, high);
                max = max.max(b).max(a);
            }
        }
    }
    max
}

/// One price row of one column: its size's intensity and side, or a touch line.
#[derive(Clone, Copy, PartialEq)]
enum Half {
    Empty,
    Size { bid: bool, t: f32 },
    Touch { bid: bool },
}

fn half(book: &crate::feed::core::heatmap::HeatColumn, g: &Geometry, r: usize, max: f32) -> Half {
    let Some((low, high)) = g.range(r) else {
        return Half::Empty;
    };
    let inside = |p: Option<u128>| p.is_some_and(|p| p >= low && p < high);
    if inside(book.best_bid) {
        return Half::Touch { bid: true };
    }
    if inside(book.best_ask) {
        return Half::Touch { bid: false };
    }
    let (b, a) = size_in(book, low, high);
    let (bid, size) = if b >= a { (true, b) } else { (false, a) };
    let t = intensity(size, max);
    if t <= 0.0 {
        Half::Empty
    } else {
        Half::Size { bid, t }
    }
}

fn half_color(h: Half, palette: Palette, theme: &Theme) -> Option<ratatui::style::Color> {
    match h {
        Half::Empty => None,
        Half::Size { bid, t } => size_color(palette, bid, t),
        Half::Touch { bid } => term_color(palette, touch_rgb(theme.name, bid)),
    }
}

fn draw_cells(
    columns: &[Pick<'_>],
    g: &Geometry,
    max: f32,
    palette: Palette,
    theme: &Theme,
    plot: Rect,
    buf: &mut Buffer,
) {
    let trade_max = columns
        .iter()
        .flat_map(|c| c.trades.iter().map(|t| t.size()))
        .fold(0.0f32, f32::max);
    for (x, column) in columns.iter().enumerate() {
        let Some(book) = column.book else { continue };
        let cx = plot.x + x as u16;
        for y in 0..plot.height {
            let (upper, lower) = (
                half(book, g, usize::from(y) * 2, max),
                half(book, g, usize::from(y) * 2 + 1, max),
            );
            let Some(cell) = buf.cell_mut((cx, plot.y + y)) else {
                continue;
            };
            let symbol_style = if palette == Palette::Mono {
                mono_cell(upper, lower, theme)
            } else {
                let (top, bottom) = (
                    half_color(upper, palette, theme),
                    half_color(lower, palette, theme),
                );
                match (top, bottom) {
                    (None, None) => (' ', Style::new()),
                    (Some(t), _) if column.suspect => ('╱', Style::new().fg(t)),
                    (None, Some(b)) if column.suspect => ('╱', Style::new().fg(b)),
                    (Some(t), None) => ('▀', Style::new().fg(t)),
                    (None, Some(b)) => ('▄', Style::new().fg(b)),
                    (Some(t), Some(b)) => ('▀', Style::new().fg(t).bg(b)),
                }
            };
            let (symbol, style) = match symbol_style {
                // Hatched: the book was not known to be exact here.
                (' ', style) if column.suspect => ('╱', style.add_modifier(Modifier::DIM)),
                (_, style) if column.suspect && palette == Palette::Mono => {
                    ('╱', style.add_modifier(Modifier::DIM))
                }
                (symbol, style) if column.suspect => (symbol, style.add_modifier(Modifier::DIM)),
                other => other,
            };
            cell.set_char(symbol).set_style(style);
        }
        for trade in &column.trades {
            let Some(r) = g.row_of(trade.price) else {
                continue;
            };
            let Some(cell) = buf.cell_mut((cx, plot.y + (r / 2) as u16)) else {
                continue;
            };
            let share = if trade_max > 0.0 {
                trade.size() / trade_max
            } else {
                0.0
            };
            let symbol = if palette == Palette::Mono {
                match trade.aggressor {
                    Aggressor::Buy => '▲',
                    Aggressor::Sell => '▼',
                }
            } else if share > 0.5 {
                '●'
            } else if share > 0.1 {
                '•'
            } else {
                '·'
            };
            cell.set_char(symbol);
            let mut style = Style::new().add_modifier(Modifier::BOLD);
            if let Some(c) = term_color(palette, trade_rgb(theme.name, trade.aggressor)) {
                style = style.fg(c);
            }
            cell.set_style(style);
        }
    }
}

/// Mono: a shade per cell (the stronger half), the touch as a line, bids plain and asks dim.
fn mono_cell(upper: Half, lower: Half, theme: &Theme) -> (char, Style) {
    match (upper, lower) {
        (Half::Touch { .. }, _) => ('▀', theme.title),
        (_, Half::Touch { .. }) => ('▄', theme.title),
        (a, b) => {
            let t = |h: Half| match h {
                Half::Size { t, .. } => t,
                _ => 0.0,
            };
            let bid = matches!(a, Half::Size { bid: true, .. })
                || matches!(b, Half::Size { bid: true, .. });
            let style = if bid { theme.bid } else { theme.dim };
            (shade(t(a).max(t(b))), style)
        }
    }
}

/// The user's orders, at the right edge: `◀` at their price.
fn draw_marks(
    app: &App,
    g: &Geometry,
    palette: Palette,
    theme: &Theme,
    plot: Rect,
    buf: &mut Buffer,
) {
    for mark in app.heatmap().marks() {
        let Ok(price) = crate::book::Price::from_decimal(mark.price) else {
            continue;
        };
        let Some(r) = g.row_of(price.units()) else {
            continue;
        };
        let x = plot.x + plot.width.saturating_sub(1);
        if let Some(cell) = buf.cell_mut((x, plot.y + (r / 2) as u16)) {
            let bid = mark.side == Side::Bid;
            let mut style = Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED);
            if let Some(c) = term_color(palette, touch_rgb(theme.name, bid)) {
                style = style.fg(c);
            }
            cell.set_char('◀').set_style(style);
        }
    }
}

fn price_axis(g: &Geometry, theme: &Theme, body: Rect, buf: &mut Buffer) {
    let x = body.x + g.plot_width;
    let width = body.width.saturating_sub(g.plot_width);
    for y in (0..body.height).step_by(usize::from(LABEL_EVERY)) {
        if let Some(label) = g.label(usize::from(y) * 2) {
            buf.set_stringn(
                x + 1,
                body.y + y,
                label,
                usize::from(width.saturating_sub(1)),
                theme.dim,
            );
        }
    }
}

fn time_axis(columns: &[Pick<'_>], column_ms: i64, theme: &Theme, axis: Rect, buf: &mut Buffer) {
    let n = columns.len() as u16;
    buf.set_stringn(
        axis.x,
        axis.y,
        "─".repeat(usize::from(n)),
        usize::from(n),
        theme.border,
    );
    let mut x = n;
    while x >= 1 {
        let back = i64::from(n - x) * column_ms;
        let label = if back == 0 {
            "now".to_string()
        } else {
            format!("-{}", short_duration(back))
        };
        let len = label.chars().count() as u16;
        let at = x.saturating_sub(len);
        buf.set_string(axis.x + at, axis.y, label, theme.dim);
        if x <= TIME_LABEL_GAP + len {
            break;
        }
        x -= TIME_LABEL_GAP.max(len + 2);
    }
}

#[allow(clippy::too_many_arguments)]
fn title_line(
    theme: &Theme,
    palette: Palette,
    name: &str,
    column_ms: i64,
    geometry: Option<&Geometry>,
    scale: Option<(f32, &HeatmapView)>,
    area: Rect,
    buf: &mut Buffer,
) {
    let mut spans = vec![
        Span::styled(format!(" {name} heatmap "), theme.title),
        Span::styled(format!("· {}/col ", short_duration(column_ms)), theme.text),
    ];
    if let Some(g) = geometry {
        spans.push(Span::styled(
            format!("· group {} ", fixed(g.group, g.scale)),
            theme.text,
        ));
    }
    if let Some((max, heat)) = scale {
        if heat.interval_ms > column_ms {
            spans.push(Span::styled(
                format!("· sampled every {} ", short_duration(heat.interval_ms)),
                theme.warn,
            ));
        }
        spans.push(Span::styled("· bid ", theme.dim));
        spans.extend(gradient(palette, true));
        spans.push(Span::styled(" ask ", theme.dim));
        spans.extend(gradient(palette, false));
        let max = Decimal::try_from(max).unwrap_or_default();
        spans.push(Span::styled(
            format!(" 0–{} log ", amount(max.round_sf(4).unwrap_or(max))),
            theme.dim,
        ));
        let touch = |bid| {
            let mut s = Style::new();
            if let Some(c) = term_color(palette, touch_rgb(theme.name, bid)) {
                s = s.fg(c);
            }
            s
        };
        spans.push(Span::styled("· ", theme.dim));
        spans.push(Span::styled("▀", touch(true)));
        spans.push(Span::styled("▀", touch(false)));
        spans.push(Span::styled(" touch ", theme.dim));
        let trade = |a| {
            let mut s = Style::new().add_modifier(Modifier::BOLD);
            if let Some(c) = term_color(palette, trade_rgb(theme.name, a)) {
                s = s.fg(c);
            }
            s
        };
        let (buy, sell) = if palette == Palette::Mono {
            ("▲", "▼")
        } else {
            ("●", "●")
        };
        spans.push(Span::styled(buy, trade(Aggressor::Buy)));
        spans.push(Span::styled(" buy ", theme.dim));
        spans.push(Span::styled(sell, trade(Aggressor::Sell)));
        spans.push(Span::styled(" sell ", theme.dim));
        spans.push(Span::styled("╱ suspect", theme.dim));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Five steps of a side's scale.
fn gradient(palette: Palette, bid: bool) -> Vec<Span<'static>> {
    [0.1f32, 0.3, 0.5, 0.7, 0.95]
        .iter()
        .map(|&t| match size_color(palette, bid, t) {
            Some(c) => Span::styled("█", Style::new().fg(c)),
            None => Span::raw(shade(t).to_string()),
        })
        .collect()
}

fn message(theme: &Theme, text: &str, area: Rect, buf: &mut Buffer) {
    let y = area.y + area.height / 2;
    Paragraph::new(Line::styled(text.to_string(), theme.dim))
        .centered()
        .render(Rect::new(area.x, y, area.width, 1), buf);
}

/// A time step in few characters: `250ms`, `1s`, `1m30s`.
pub fn short_duration(ms: i64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms}ms"),
        ms if ms < 60_000 && ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1_000.0),
        ms => {
            let (m, s) = (ms / 60_000, (ms % 60_000) / 1_000);
            if s == 0 {
                format!("{m}m")
            } else {
                format!("{m}m{s:02}s")
            }
        }
    }
}
