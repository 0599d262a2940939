//! The watchlist (`w`): every product of the session in one table, in the body under the tabs
//! (the status block and the footer stay).
//!
//! ```text
//!  watchlist  200 products · ▼ spread bps · filter: btc▏
//!    #  product     health  orders       bid        ask  spread  spread bps        mid  upd/s  levels  last  24h
//!    1  BTC-USD      LIVE         3  64930.50   64930.51    0.01      0.0015  64930.505  1,310  45,605  64930.51  +1.23%
//! ```
//! `orders` counts your open orders of the product (from the signed `user` channel); it is drawn
//! only with a key, and says `-` until the user connection's first snapshot.
//! The App keeps the sort, the filter, the row order and the highlighted product
//! (`app::watchlist`); what only a draw knows is kept here, in [`WatchlistState`]: the first row
//! shown (moved just enough to keep the highlighted row in sight) and the widest each column has
//! been at this size, so that columns do not jump sideways as values change. The rows that fit
//! go back to the App (`Measured::watchlist_rows`) for PgUp/PgDn. On a narrow terminal columns
//! leave from the right; `#`, the product and its badge always stay. Only the rows in sight are
//! formatted.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::app::App;
use crate::app::watchlist::{Column, levels, spread_bps};
use crate::feed::events::ProductView;
use crate::ui::format::{fixed, percent_change, rate, scale_of, thousands};
use crate::ui::theme::Theme;

/// The columns, left to right (the order they leave in is the reverse).
const COLUMNS: [Column; 13] = [
    Column::Session,
    Column::Product,
    Column::Health,
    Column::Orders,
    Column::Bid,
    Column::Ask,
    Column::Spread,
    Column::SpreadBps,
    Column::Mid,
    Column::UpdatesPerSec,
    Column::Levels,
    Column::Last,
    Column::Change24h,
];
/// The columns that stay however narrow the terminal.
const KEPT: usize = 3;
/// Between two columns.
const GAP: usize = 2;
/// Rows above the table: the title and the column header.
const CHROME: u16 = 2;

/// What the watchlist keeps from one frame to the next (see the module's doc).
#[derive(Debug, Default)]
pub struct WatchlistState {
    /// The first row shown.
    top: usize,
    /// The widest each column has been drawn (reset with the size, by the caller).
    widths: [usize; COLUMNS.len()],
}

/// Draws the watchlist into `area`; returns the rows shown at once.
pub fn render(app: &App, state: &mut WatchlistState, area: Rect, buf: &mut Buffer) -> u16 {
    let theme = &Theme::of(app);
    let watchlist = app.watchlist();
    let view = app.latest();
    let order = watchlist.order();
    let rows = area.height.saturating_sub(CHROME);
    let page = usize::from(rows);
    let cursor = watchlist.cursor_row(view);

    // The first row: the highlighted one in sight, moving as little as possible.
    let mut top = state.top.min(order.len().saturating_sub(page));
    if let Some(cursor) = cursor {
        if cursor < top {
            top = cursor;
        } else if page > 0 && cursor >= top + page {
            top = cursor + 1 - page;
        }
    }
    state.top = top;

    title(app, area, buf, order.len());

    // The cells of the rows in sight.
    let products = view.map_or(&[][..], |v| v.products.as_slice());
    let shown: Vec<(usize, [String; COLUMNS.len()])> = order
        .iter()
        .skip(top)
        .take(page)
        .filter_map(|&i| products.get(i).map(|p| (i, cells(app, i, p))))
        .collect();
    // The columns drawn: every one, but `orders` only with a user connection (a key).
    let drawn: Vec<usize> = (0..COLUMNS.len())
        .filter(|&c| COLUMNS[c] != Column::Orders || app.user_view().is_some())
        .collect();
    for (c, column) in COLUMNS.iter().enumerate() {
        let widest = shown
            .iter()
            .map(|(_, cells)| cells[c].chars().count())
            .max()
            .unwrap_or(0);
        let header = column.label().chars().count() + 2; // room for the sort mark
        state.widths[c] = state.widths[c].max(widest).max(header);
    }
    // Columns leave from the right until the rest fits.
    let width = usize::from(area.width);
    let mut count = drawn.len();
    let widths_of =
        |count: usize| -> Vec<usize> { drawn[..count].iter().map(|&c| state.widths[c]).collect() };
    while count > KEPT && used(&widths_of(count)) > width {
        count -= 1;
    }
    let widths = &widths_of(count);
    let columns: Vec<Column> = drawn[..count].iter().map(|&c| COLUMNS[c]).collect();

    // The header, with the sort mark on the sorted column.
    let (sort, descending) = watchlist.sort();
    let header: Vec<String> = columns
        .iter()
        .map(|column| {
            if *column == sort {
                format!("{} {}", mark(descending), column.label())
            } else {
                column.label().to_string()
            }
        })
        .collect();
    let header_line = row_line(&columns, widths, &header, |_| theme.header);
    header_line.render(Rect::new(area.x, area.y + 1, area.width, 1), buf);

    if shown.is_empty() {
        let text = if watchlist.filter().is_empty() {
            "no products yet".to_string()
        } else {
            format!("no product matches \"{}\"", watchlist.filter())
        };
        if rows > 0 {
            Line::styled(format!(" {text}"), theme.dim)
                .render(Rect::new(area.x, area.y + CHROME, area.width, 1), buf);
        }
        return rows;
    }
    for (k, (index, cells)) in shown.iter().enumerate() {
        let y = area.y + CHROME + k as u16;
        let selected = cursor == Some(top + k);
        let health = app.health_of_view_product(*index);
        let cells: Vec<String> = drawn[..count].iter().map(|&c| cells[c].clone()).collect();
        let line = row_line(&columns, widths, &cells, |c| match columns[c] {
            Column::Health => theme.health(health),
            Column::Session => theme.dim,
            // Up in the buy colour, down in the sell colour (the text's sign says it too).
            Column::Change24h if cells[c].starts_with('+') => theme.bid,
            Column::Change24h if cells[c].starts_with('-') && cells[c].len() > 1 => theme.ask,
            _ => theme.text,
        });
        let rect = Rect::new(area.x, y, area.width, 1);
        line.render(rect, buf);
        if selected {
            buf.set_style(rect, Style::new().add_modifier(Modifier::REVERSED));
            // A mark too, for the mono theme and for the text of the screen.
            buf.set_string(area.x, y, "›", theme.key.add_modifier(Modifier::REVERSED));
        }
    }
    rows
}

/// `▼` for descending, `▲` for ascending.
fn mark(descending: bool) -> &'static str {
    if descending { "▼" } else { "▲" }
}

/// Columns and the gaps between them, with a leading space.
fn used(widths: &[usize]) -> usize {
    1 + widths.iter().sum::<usize>() + GAP * widths.len().saturating_sub(1)
}

/// ` watchlist  200 products · ▼ spread bps · filter: btc▏`
fn title(app: &App, area: Rect, buf: &mut Buffer, shown: usize) {
    let theme = &Theme::of(app);
    let watchlist = app.watchlist();
    let total = app.latest().map_or(0, |v| v.products.len());
    let count = if watchlist.filter().is_empty() {
        format!("{} products", thousands(total as u64))
    } else {
        format!(
            "{} of {} products",
            thousands(shown as u64),
            thousands(total as u64)
        )
    };
    let (sort, descending) = watchlist.sort();
    let sep = || Span::styled(" · ", theme.dim);
    let mut spans = vec![
        Span::styled(" watchlist", theme.title),
        Span::raw("  "),
        Span::styled(count, theme.text),
        sep(),
        Span::styled(format!("{} {}", mark(descending), sort.label()), theme.key),
    ];
    if watchlist.typing() {
        spans.push(sep());
        spans.push(Span::styled("filter: ", theme.dim));
        spans.push(Span::styled(format!("{}▏", watchlist.filter()), theme.key));
    } else if !watchlist.filter().is_empty() {
        spans.push(sep());
        spans.push(Span::styled("filter: ", theme.dim));
        spans.push(Span::styled(watchlist.filter().to_string(), theme.key));
    }
    Line::from(spans).render(Rect::new(area.x, area.y, area.width, 1), buf);
}

/// One row of cells: the product left-aligned, the rest right-aligned.
fn row_line<'a>(
    columns: &[Column],
    widths: &[usize],
    cells: &[String],
    style: impl Fn(usize) -> Style,
) -> Line<'a> {
    let mut spans = Vec::with_capacity(cells.len() * 2 + 1);
    spans.push(Span::raw(" "));
    for (c, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if c > 0 {
            spans.push(Span::raw(" ".repeat(GAP)));
        }
        let text = match columns[c] {
            Column::Product => format!("{cell:<width$}"),
            Column::Health => format!("{cell:^width$}"),
            _ => format!("{cell:>width$}"),
        };
        spans.push(Span::styled(text, style(c)));
    }
    Line::from(spans)
}

/// The text of each column of one product's row (`index`: its place in the session).
fn cells(app: &App, index: usize, p: &ProductView) -> [String; COLUMNS.len()] {
    let dash = || "-".to_string();
    let scale = scale_of(p.tick);
    let price =
        |v: Option<rust_decimal::Decimal>, scale: u32| v.map_or_else(dash, |v| fixed(v, scale));
    let bps = spread_bps(p).map_or_else(dash, |b| {
        let decimals = match b.abs() {
            b if b >= rust_decimal::Decimal::TEN => 1,
            b if b >= rust_decimal::Decimal::new(1, 1) => 2,
            _ => 4,
        };
        fixed(b, decimals)
    });
    let has_book = p.best_bid.is_some() || p.best_ask.is_some();
    [
        (index + 1).to_string(),
        p.product.clone(),
        app.health_of_view_product(index).label().to_string(),
        app.user_view()
            .filter(|u| u.snapshot_complete || !u.orders.is_empty())
            .map_or_else(dash, |u| u.orders_of(&p.product).count().to_string()),
        price(p.best_bid.map(|b| b.0), scale),
        price(p.best_ask.map(|a| a.0), scale),
        price(p.spread, scale),
        bps,
        price(p.mid, scale + 1),
        app.product_rate(&p.product).map_or_else(dash, rate),
        if has_book {
            thousands(levels(p) as u64)
        } else {
            dash()
        },
        p.market
            .last_trade
            .as_ref()
            .map_or_else(dash, |t| price(Some(t.price), scale.max(scale_of(t.price)))),
        p.market
            .ticker
            .as_ref()
            .and_then(|t| t.price_percent_chg_24_h)
            .map_or_else(dash, percent_change),
    ]
}
