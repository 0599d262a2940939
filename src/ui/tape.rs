//! The tape (`t`): the selected product's trades, newest at the top.
//!
//! ```text
//! ┌ trades · BTC-USD ──────────────────────────────────────┐
//! │ time UTC         price        size         USD         │
//! │ 14:03:07.123 ▲ 64930.51  0.00422106      274.08        │   <- a buyer lifted the ask
//! │ 14:03:07.101 ▼ 64930.50  1.25000000   81,163.13 ×3     │   <- one seller, three fills
//! │ 14:03:06.950 ▲ 64930.51  0.01000000      649.31        │
//! └ ▲ buy ▼ sell (taker) · bold: size ≥ 0.5 ───────────────┘
//! ```
//! Each line is a taker: its time (local, or UTC with `time = "utc"` / `--utc`, to the
//! millisecond), its side by colour and by arrow (`▲` a buyer, `▼` a seller: the arrow alone
//! tells them apart in the mono theme), the price, the size in the base currency and the
//! notional (price × size, exact in decimals, rounded once to the price's precision, at least
//! cents) in the quote currency. Consecutive trades of one taker (the same time to the
//! millisecond and the same side: an order that filled at several levels) are one line with
//! their count (`×3`): the size and notional are their sums, the price the last fill's (the
//! furthest level the order reached). A line whose size is at least the big-trade threshold is
//! bold: `--big-trade SIZE` (or `big_trade` in the config file) when given, else the feed's 95th
//! percentile of the product's recent trades.
//!
//! The feed sends the newest trades up to what the viewer asks for
//! ([`crate::app::TAPE_TRADES_PER_ROW`] per line); when the tape is as long as that, its oldest
//! taker may have had more fills beyond it, so that line is left out rather than drawn with a
//! count too small. Columns remember their widest per product (reset on resize), so they do not
//! jump as trades come and go. Like the ladder, the tape shows the product as drawn: frozen while
//! paused.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use rust_decimal::Decimal;

use crate::app::App;
use crate::config::TimeDisplay;
use crate::feed::events::{Aggressor, ProductView, TradeRow};
use crate::ui::format::{fixed, fixed_grouped, scale_of, trade_time};
use crate::ui::ladder::RowCells;
use crate::ui::theme::Theme;

/// Most decimals shown for sizes (Coinbase sizes have at most 8).
const MAX_SIZE_DECIMALS: u32 = 8;
/// Columns between the price, size and notional columns.
const GAP: usize = 2;
/// `HH:MM:SS.mmm`.
const TIME_WIDTH: usize = 12;

/// One line of the tape: one taker's consecutive trades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeLine {
    pub time_ms: i64,
    pub aggressor: Aggressor,
    /// The newest trade's price: the last level the taker's order filled at.
    pub price: Decimal,
    /// The trades' sizes summed.
    pub size: Decimal,
    /// The trades' notionals (price × size) summed, exact.
    pub notional: Decimal,
    /// Trades on the line.
    pub count: usize,
}

/// The tape's lines from trades newest first: consecutive trades with the same time and the
/// same taker side are one line. When `may_be_cut` (the feed sent as many trades as were asked
/// for, so older ones exist), the oldest line is left out unless it is the only one: its
/// taker's older fills may be missing, and its count and size would be too small.
pub fn tape_lines(trades: &[TradeRow], may_be_cut: bool) -> Vec<TapeLine> {
    let mut lines: Vec<TapeLine> = Vec::new();
    for trade in trades {
        match lines.last_mut() {
            Some(line) if line.time_ms == trade.time_ms && line.aggressor == trade.aggressor => {
                line.size += trade.size;
                line.notional += trade.notional();
                line.count += 1;
            }
            _ => lines.push(TapeLine {
                time_ms: trade.time_ms,
                aggressor: trade.aggressor,
                price: trade.price,
                size: trade.size,
                notional: trade.notional(),
                count: 1,
            }),
        }
    }
    if may_be_cut && lines.len() > 1 {
        lines.pop();
    }
    lines
}

/// The size at or above which a line is big: the configured size, else the product's (the
/// feed's 95th percentile of its recent trades), else none.
pub fn big_threshold(configured: Option<Decimal>, product: &ProductView) -> Option<Decimal> {
    configured.or(product.market.big_size)
}

/// Whether a line of `size` is big under `threshold`.
pub fn is_big(size: Decimal, threshold: Option<Decimal>) -> bool {
    threshold.is_some_and(|t| size >= t)
}

/// The scales the tape's numbers are written at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scales {
    pub price: u32,
    pub size: u32,
    pub notional: u32,
}

/// A line's text, column by column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeText {
    pub time: String,
    pub arrow: &'static str,
    pub price: String,
    pub size: String,
    pub notional: String,
    /// `×3`; empty for a single trade.
    pub count: String,
}

/// The text of `line` at `scales`, its time in `zone`.
pub fn line_text(line: &TapeLine, scales: Scales, zone: TimeDisplay) -> TapeText {
    TapeText {
        time: trade_time(line.time_ms, zone),
        arrow: arrow(line.aggressor),
        price: fixed(line.price, scales.price),
        size: fixed(line.size, scales.size),
        notional: fixed_grouped(line.notional, scales.notional),
        count: if line.count > 1 {
            format!("×{}", line.count)
        } else {
            String::new()
        },
    }
}

/// `▲` for a buyer, `▼` for a seller.
pub fn arrow(aggressor: Aggressor) -> &'static str {
    match aggressor {
        Aggressor::Buy => "▲",
        Aggressor::Sell => "▼",
    }
}

/// The scales for `lines` of a product of price increment `tick`, never finer than needed nor
/// coarser than `floor`: prices at the tick's precision (or the price's own, if finer), sizes at
/// the finest size shown, notionals at the price's precision and at least cents (a notional is in
/// the quote currency, whose smallest step is the price's).
pub fn scales(lines: &[TapeLine], tick: Decimal, floor: Scales) -> Scales {
    let tick_scale = scale_of(tick);
    Scales {
        price: lines
            .iter()
            .map(|l| scale_of(l.price))
            .fold(tick_scale.max(floor.price), u32::max),
        size: lines
            .iter()
            .map(|l| scale_of(l.size))
            .fold(floor.size, u32::max)
            .min(MAX_SIZE_DECIMALS),
        notional: tick_scale.clamp(2, MAX_SIZE_DECIMALS).max(floor.notional),
    }
}

/// What the tape keeps from one frame to the next, per product: the finest scales and widest
/// columns drawn. Dropped on resize (by `ui::render`).
#[derive(Debug, Default)]
pub struct TapeState {
    columns: HashMap<String, TapeColumns>,
}

/// Scales and column widths of one product's tape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TapeColumns {
    scales: Scales,
    price: usize,
    size: usize,
    notional: usize,
}

pub fn render(app: &App, state: &mut TapeState, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let product = app.shown_product();
    let name = product.map_or_else(
        || app.selected_name().unwrap_or_default().to_string(),
        |p| p.product.clone(),
    );
    let mut title = vec![Span::styled(format!(" trades · {name} "), theme.title)];
    if product.is_some_and(|p| p.market.sides_look_inverted) {
        // The colours may be wrong: said where they are drawn (the status says it too).
        title.push(Span::styled("· sides look inverted ", theme.warn));
    }
    let threshold = product.and_then(|p| big_threshold(app.setup().display.big_trade, p));
    let mut legend = vec![
        Span::raw(" "),
        Span::styled("▲ buy", theme.bid),
        Span::raw(" "),
        Span::styled("▼ sell", theme.ask),
        Span::styled(" (taker)", theme.dim),
    ];
    if let Some(t) = threshold {
        legend.push(Span::styled(
            format!(" · bold: size ≥ {} ", t.normalize()),
            theme.dim,
        ));
    } else {
        legend.push(Span::raw(" "));
    }
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::from(title))
        .title_bottom(Line::from(legend));
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let Some(product) = product else {
        return;
    };
    let asked = app.view_request().tape_depth;
    let trades = &product.market.tape;
    let lines = tape_lines(trades, asked > 0 && trades.len() >= asked);
    if lines.is_empty() {
        let text = if product.market.trades == 0 {
            "no trades yet"
        } else {
            "waiting for the trades…"
        };
        Paragraph::new(Line::styled(text, theme.dim))
            .centered()
            .wrap(Wrap { trim: true })
            .render(
                Rect::new(inner.x, inner.y + inner.height / 2, inner.width, 1),
                buf,
            );
        return;
    }
    let shown = &lines[..lines.len().min(usize::from(inner.height.saturating_sub(1)))];
    let memory = state.columns.entry(product.product.clone()).or_default();
    let scales = scales(shown, product.tick, memory.scales);
    let zone = app.setup().display.time;
    let texts: Vec<TapeText> = shown.iter().map(|l| line_text(l, scales, zone)).collect();
    let quote = product
        .product
        .split_once('-')
        .map_or("notional", |(_, quote)| quote);
    let widest = |f: fn(&TapeText) -> &String, title: &str, floor: usize| {
        texts
            .iter()
            .map(|t| f(t).chars().count())
            .fold(floor.max(title.chars().count()), usize::max)
    };
    *memory = TapeColumns {
        scales,
        price: widest(|t| &t.price, "price", memory.price),
        size: widest(|t| &t.size, "size", memory.size),
        notional: widest(|t| &t.notional, quote, memory.notional),
    };
    let cols = *memory;
    let time_title = match zone {
        TimeDisplay::Utc => "time UTC",
        TimeDisplay::Local => "time",
    };
    let header = format!(
        " {time_title:<tw$}   {:>pw$}{:gap$}{:>sw$}{:gap$}{:>nw$}",
        "price",
        "",
        "size",
        "",
        quote,
        tw = TIME_WIDTH,
        pw = cols.price,
        sw = cols.size,
        nw = cols.notional,
        gap = GAP
    );
    Line::styled(header, theme.header).render(Rect::new(inner.x, inner.y, inner.width, 1), buf);
    for (i, (line, text)) in shown.iter().zip(&texts).enumerate() {
        let row = Rect::new(inner.x, inner.y + 1 + i as u16, inner.width, 1);
        let mut style = match line.aggressor {
            Aggressor::Buy => theme.bid,
            Aggressor::Sell => theme.ask,
        };
        if is_big(line.size, threshold) {
            style = style.add_modifier(Modifier::BOLD);
        }
        let mut cells = RowCells::new(buf, row);
        cells.text(" ", Style::default());
        cells.text(&text.time, theme.dim);
        cells.text(" ", Style::default());
        cells.text(text.arrow, style);
        cells.text(" ", Style::default());
        cells.right_aligned(&text.price, cols.price, style);
        cells.text(&" ".repeat(GAP), Style::default());
        cells.right_aligned(&text.size, cols.size, style);
        cells.text(&" ".repeat(GAP), Style::default());
        cells.right_aligned(&text.notional, cols.notional, style);
        if !text.count.is_empty() {
            cells.text(" ", Style::default());
            cells.text(&text.count, style);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn trade(id: u64, time_ms: i64, price: &str, size: &str, maker_side: &str) -> TradeRow {
        TradeRow {
            trade_id: id.to_string().into(),
            time_ms,
            price: d(price),
            size: d(size),
            side: maker_side.to_string().into(),
            aggressor: Aggressor::from_maker_side(maker_side).unwrap(),
        }
    }

    #[test]
    fn one_takers_trades_are_one_line_with_their_count() {
        // Newest first: a buyer (maker SELL) at 100 and 101 at t=5, then a seller at t=5, then a
        // buyer at t=4 and again at t=4 but after a seller in between (another taker).
        let trades = [
            trade(7, 5, "101.00", "0.5", "SELL"),
            trade(6, 5, "100.00", "1.25", "SELL"),
            trade(5, 5, "99.00", "2", "BUY"),
            trade(4, 4, "100.00", "1", "SELL"),
            trade(3, 4, "99.50", "1", "BUY"),
            trade(2, 4, "100.00", "3", "SELL"),
        ];
        let lines = tape_lines(&trades, false);
        let summary: Vec<(i64, Aggressor, Decimal, Decimal, usize)> = lines
            .iter()
            .map(|l| (l.time_ms, l.aggressor, l.price, l.size, l.count))
            .collect();
        assert_eq!(
            summary,
            [
                (5, Aggressor::Buy, d("101.00"), d("1.75"), 2),
                (5, Aggressor::Sell, d("99.00"), d("2"), 1),
                (4, Aggressor::Buy, d("100.00"), d("1"), 1),
                (4, Aggressor::Sell, d("99.50"), d("1"), 1),
                (4, Aggressor::Buy, d("100.00"), d("3"), 1),
            ]
        );
        // 101 × 0.5 + 100 × 1.25, exact.
        assert_eq!(lines[0].notional, d("175.500"));
        // The same time on the other side is another taker; so is the same side at another time.
        assert_eq!(tape_lines(&trades[..2], false).len(), 1);
        assert_eq!(tape_lines(&trades[2..4], false).len(), 2);
    }

    #[test]
    fn a_tape_cut_at_what_was_asked_leaves_out_its_oldest_line() {
        let trades = [
            trade(3, 5, "100", "1", "SELL"),
            trade(2, 4, "100", "1", "BUY"),
            trade(1, 4, "100", "1", "BUY"),
        ];
        assert_eq!(tape_lines(&trades, false).len(), 2);
        let cut = tape_lines(&trades, true);
        assert_eq!(cut.len(), 1, "the t=4 seller may have had older fills");
        assert_eq!(cut[0].time_ms, 5);
        // A single line stays: something is better than nothing.
        assert_eq!(tape_lines(&trades[1..], true).len(), 1);
        assert!(tape_lines(&[], true).is_empty());
    }

    #[test]
    fn rows_are_written_exactly() {
        let line = TapeLine {
            time_ms: 1_767_225_600_000 + 14 * 3_600_000 + 3 * 60_000 + 7_123,
            aggressor: Aggressor::Buy,
            price: d("64930.51"),
            size: d("0.00422106"),
            notional: d("64930.51") * d("0.00422106"),
            count: 1,
        };
        // 64930.51 × 0.00422106 is exactly 274.0755785406: rounded once, to cents.
        assert_eq!(line.notional, d("274.0755785406"));
        let cents = scales(std::slice::from_ref(&line), d("0.01"), Scales::default());
        assert_eq!(
            cents,
            Scales {
                price: 2,
                size: 8,
                notional: 2
            }
        );
        let text = line_text(&line, cents, TimeDisplay::Utc);
        assert_eq!(
            text,
            TapeText {
                time: "14:03:07.123".into(),
                arrow: "▲",
                price: "64930.51".into(),
                size: "0.00422106".into(),
                notional: "274.08".into(),
                count: String::new(),
            }
        );
        let big = TapeLine {
            aggressor: Aggressor::Sell,
            size: d("25.5"),
            notional: d("1655728.005"),
            count: 3,
            ..line
        };
        let text = line_text(&big, cents, TimeDisplay::Utc);
        assert_eq!(
            (text.arrow, text.size.as_str(), text.notional.as_str()),
            ("▼", "25.50000000", "1,655,728.01")
        );
        assert_eq!(text.count, "×3");
        // A quote with a finer step than cents: notionals at the price's precision.
        let eth_btc = TapeLine {
            price: d("0.03412"),
            size: d("0.5"),
            notional: d("0.01706"),
            ..line
        };
        let s = scales(
            std::slice::from_ref(&eth_btc),
            d("0.00001"),
            Scales::default(),
        );
        assert_eq!(s.notional, 5);
        assert_eq!(line_text(&eth_btc, s, TimeDisplay::Utc).notional, "0.01706");
    }

    #[test]
    fn big_is_the_configured_size_else_the_products() {
        let mut product = crate::feed::events::ProductView {
            product: "BTC-USD".into(),
            served_as: None,
            state: crate::feed::events::BookState::Live,
            bids: Vec::new(),
            asks: Vec::new(),
            chart_bids: Vec::new(),
            chart_asks: Vec::new(),
            best_bid: None,
            best_ask: None,
            spread: None,
            mid: None,
            crossed: false,
            tick: d("0.01"),
            group_ticks: 1,
            bid_levels: 0,
            ask_levels: 0,
            updates: 0,
            last_change_ms: None,
            market: Default::default(),
        };
        assert_eq!(big_threshold(None, &product), None);
        assert!(!is_big(d("1000"), None), "no threshold: nothing is big");
        product.market.big_size = Some(d("0.8"));
        assert_eq!(big_threshold(None, &product), Some(d("0.8")));
        assert_eq!(big_threshold(Some(d("2")), &product), Some(d("2")));
        let t = big_threshold(None, &product);
        assert!(is_big(d("0.8"), t), "at the threshold is big");
        assert!(is_big(d("3"), t));
        assert!(!is_big(d("0.79999999"), t));
    }
}
