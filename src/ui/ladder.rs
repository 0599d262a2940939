//! The depth ladder of the selected product (its title is the header row above it:
//! `ui::header`).
//!
//! ```text
//!       price          size    cumulative    bought      sold  depth
//!    64931.10    0.25000000    3.44210000                       ██████████████▍  <- asks, worst at the top
//!   ▸64930.55    0.50000000    0.50000000    0.0210    0.0040  ██               <- best ask; ▸ last trade
//!  ── spread 0.05 · 0.01 bps · mid 64930.525 ─────────────────────
//!    64930.50    1.20000000    1.20000000              0.5000  █████            <- best bid
//!    64930.45    ...                                                            <- bids, worst at the bottom
//! ```
//! `▸` marks the row whose bucket holds the last trade's price (on the side the taker hit first:
//! a buyer lifts the asks), in the taker's colour. With `v`, two columns show the volume traded
//! at each row since the session started, bought and sold by takers, from the feed's volume at
//! price at the ladder's grouping (its buckets are keyed as the ladder's rows are, so a row's
//! volume is the one at its price; a row with none shows nothing).
//! Numbers are right-aligned with a fixed number of decimals per column, so points line up.
//! Columns never narrow and sizes never lose decimals from one frame to the next: a
//! [`ColumnMemory`] per product, kept across frames in the [`LadderState`] the draw is given,
//! holds the widest columns and finest size scale drawn at its grouping (reset when the grouping
//! changes, and on resize), so columns do not jump sideways as levels come and go. The bar is
//! scaled to the larger cumulative size of the two sides, so the sides compare. Levels that
//! changed since the last frame are drawn in the flash style.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use rust_decimal::Decimal;

use crate::app::{App, Health, auth_refused, level2_refused};
use crate::feed::events::{
    Aggressor, BookState, ConnectionState, LevelRow, ProductView, VolumeRow,
};
use crate::feed::user_events::OrderSide;
use crate::ui::format::{bps, duration_ms, fixed, scale_of};
use crate::ui::order_marks;
use crate::ui::theme::Theme;
use crate::ui::wrap::wrap_text;

/// Most decimals shown for sizes (Coinbase sizes have at most 8).
const MAX_SIZE_DECIMALS: u32 = 8;
/// Columns between two number columns.
const GAP: usize = 2;
/// Marks the row of the last trade's price, in the row's first cell (a narrow triangle, one
/// cell wide in every terminal, unlike `▶`).
pub const LAST_TRADE_MARK: &str = "▸";

/// What the ladder keeps from one frame to the next: per product, the widest columns drawn at
/// its grouping. Dropped on resize (by `ui::render`), so a new size gets a fresh layout.
#[derive(Debug, Default)]
pub struct LadderState {
    columns: HashMap<String, ColumnMemory>,
}

pub fn render(app: &App, state: &mut LadderState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    match app.shown_product() {
        Some(product) if draws_book(product) => draw_book(app, state, product, area, buf),
        _ => draw_waiting(app, area, buf),
    }
}

/// Whether the ladder draws `product`'s book (else what it waits for): a book that has had its
/// snapshot, or has rows.
pub fn draws_book(product: &ProductView) -> bool {
    !matches!(product.state, BookState::Waiting | BookState::Refused) || has_rows(product)
}

fn has_rows(product: &ProductView) -> bool {
    !product.bids.is_empty() || !product.asks.is_empty()
}

/// Before the first snapshot: say what is being waited for, or why nothing will come.
fn draw_waiting(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let name = app.selected_name().unwrap_or_default().to_string();
    let health = app.health_of(app.selected());
    // A replay that stopped on its file: why, instead of what is awaited.
    let failure = app.replay_failure().map(|error| {
        vec![
            (
                format!("cannot replay {}", app.setup().endpoint),
                theme.error,
            ),
            (error.to_string(), theme.warn),
        ]
    });
    let replay_over = app
        .latest()
        .is_some_and(|v| v.connection == ConnectionState::Finished);
    let paragraphs: Vec<(String, Style)> = match (app.latest(), health) {
        _ if failure.is_some() => failure.unwrap_or_default(),
        // A replay with no product yet: its file is still being read, or held no book.
        (Some(_), _) if app.is_replay() && name.is_empty() && !replay_over => {
            vec![(format!("reading {}…", app.setup().endpoint), theme.dim)]
        }
        (Some(_), _) if app.is_replay() && name.is_empty() => vec![(
            "the recording holds no book: no snapshot of any product".to_string(),
            theme.warn,
        )],
        (Some(view), Health::AuthError) if auth_refused(view) => {
            let error = view.auth.last_error.as_ref();
            vec![
                (
                    format!(
                        "{name}: level2 refused: {}",
                        error.map_or("authentication failure", |e| e.message.as_str())
                    ),
                    theme.error,
                ),
                (
                    error
                        .and_then(|e| e.reason.clone())
                        .unwrap_or_else(|| "no reason given".into()),
                    theme.warn,
                ),
                ("press a for the auth-debug pane".into(), theme.dim),
            ]
        }
        (Some(view), Health::Down) if view.auth.last_error.is_some() => {
            let error = view.auth.last_error.as_ref();
            let said = error
                .map(|e| match &e.reason {
                    Some(reason) => format!("{}: {reason}", e.message),
                    None => e.message.clone(),
                })
                .unwrap_or_default();
            let named = error
                .and_then(|e| e.reason.as_deref())
                .is_some_and(|r| r.contains(name.as_str()));
            let mut lines = vec![
                (format!("{name}: not available"), theme.error),
                (said, theme.warn),
            ];
            if level2_refused(view) {
                lines.push((
                    if named {
                        format!("start cbbook without {name}")
                    } else {
                        "cbbook asks for every product in one level2 subscribe, and the \
                         server refused all of it: start cbbook without the product it names"
                            .to_string()
                    },
                    theme.dim,
                ));
            }
            lines
        }
        (Some(_), Health::Ended) => vec![(
            format!("{name}: the recording ended before its snapshot"),
            theme.warn,
        )],
        (Some(_), _) => vec![(format!("waiting for the {name} snapshot…"), theme.dim)],
        (None, _) => vec![(
            format!("connecting to {}…", app.setup().endpoint),
            theme.dim,
        )],
    };
    // Wrapped here (not by the widget) so that the block can be centred on its real height.
    let room = usize::from(area.width.saturating_sub(2)).max(1);
    let lines: Vec<Line> = paragraphs
        .into_iter()
        .flat_map(|(text, style)| {
            wrap_text(&text, room)
                .into_iter()
                .map(move |piece| Line::styled(piece, style))
        })
        .collect();
    let height = (lines.len() as u16).min(area.height);
    let top = area.y + (area.height - height) / 2;
    Paragraph::new(lines)
        .centered()
        .render(Rect::new(area.x, top, area.width, height), buf);
}

/// Text of one row, before styling.
struct RowText {
    price: String,
    size: String,
    cum: String,
    /// Volume bought and sold at the row's price (empty when none, or no volume column).
    bought: String,
    sold: String,
}

/// The widest columns and the finest scales one product's ladder has needed at one grouping.
/// Kept per product in the [`LadderState`] and used as a floor when drawing (see
/// [`ColumnMemory::fit`]), so that a frame whose rows need less room draws the columns where the
/// last one did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnMemory {
    group_ticks: u32,
    price_scale: u32,
    size_scale: u32,
    price: usize,
    size: usize,
    cum: usize,
    volume_scale: u32,
    bought: usize,
    sold: usize,
}

impl ColumnMemory {
    /// The columns for `asks` and `bids` of `product` and their text, never narrower nor
    /// coarser than the memory; the memory widens to them. It starts afresh when its grouping is
    /// not the product's (the prices and sizes of other buckets are another layout).
    fn fit(
        &mut self,
        product: &ProductView,
        asks: &[LevelRow],
        bids: &[LevelRow],
        volume: Option<&[VolumeRow]>,
    ) -> (Vec<RowText>, Vec<RowText>) {
        if self.group_ticks != product.group_ticks {
            *self = ColumnMemory {
                group_ticks: product.group_ticks,
                ..ColumnMemory::default()
            };
        }
        let (layout, asks, bids) = measure(product, asks, bids, volume, self);
        *self = layout;
        (asks, bids)
    }
}

/// Column formats for `asks` and `bids` of `product`, never narrower nor coarser than `floor`:
/// prices at the bucket's precision, sizes at the finest size shown, volumes (when `volume` is
/// given) at the finest volume shown. Returns the layout and the rows' text.
fn measure(
    product: &ProductView,
    asks: &[LevelRow],
    bids: &[LevelRow],
    volume: Option<&[VolumeRow]>,
    floor: &ColumnMemory,
) -> (ColumnMemory, Vec<RowText>, Vec<RowText>) {
    let bucket = product.tick * Decimal::from(product.group_ticks.max(1));
    let price_scale = asks
        .iter()
        .chain(bids)
        .map(|r| scale_of(r.price))
        .fold(scale_of(bucket).max(floor.price_scale), u32::max);
    let size_scale = asks
        .iter()
        .chain(bids)
        .map(|r| scale_of(r.size).max(scale_of(r.cum_size)))
        .fold(floor.size_scale, u32::max)
        .min(MAX_SIZE_DECIMALS);
    let traded = |row: &LevelRow| volume.and_then(|rows| volume_at(rows, row.price));
    let volume_scale = asks
        .iter()
        .chain(bids)
        .filter_map(traded)
        .map(|v| scale_of(v.bought).max(scale_of(v.sold)))
        .fold(floor.volume_scale, u32::max)
        .min(MAX_SIZE_DECIMALS);
    let amount = |v: Decimal| {
        if v > Decimal::ZERO {
            fixed(v, volume_scale)
        } else {
            String::new()
        }
    };
    let text = |row: &LevelRow| {
        let (bought, sold) = traded(row).map_or((String::new(), String::new()), |v| {
            (amount(v.bought), amount(v.sold))
        });
        RowText {
            price: fixed(row.price, price_scale),
            size: fixed(row.size, size_scale),
            cum: fixed(row.cum_size, size_scale),
            bought,
            sold,
        }
    };
    let ask_text: Vec<RowText> = asks.iter().map(text).collect();
    let bid_text: Vec<RowText> = bids.iter().map(text).collect();
    let width_of = |f: fn(&RowText) -> &String, title: &str, floor: usize| {
        ask_text
            .iter()
            .chain(&bid_text)
            .map(|t| f(t).len())
            .fold(floor.max(title.len()), usize::max)
    };
    let layout = ColumnMemory {
        group_ticks: product.group_ticks,
        price_scale,
        size_scale,
        price: width_of(|t| &t.price, "price", floor.price),
        size: width_of(|t| &t.size, "size", floor.size),
        cum: width_of(|t| &t.cum, "cumulative", floor.cum),
        volume_scale,
        bought: width_of(|t| &t.bought, "bought", floor.bought),
        sold: width_of(|t| &t.sold, "sold", floor.sold),
    };
    (layout, ask_text, bid_text)
}

/// The volume traded at `price` (a row of the ladder), from rows highest price first.
pub fn volume_at(rows: &[VolumeRow], price: Decimal) -> Option<&VolumeRow> {
    rows.binary_search_by(|row| price.cmp(&row.price))
        .ok()
        .and_then(|at| rows.get(at))
}

/// The ladder row the last trade's price falls in, as (bid side, row price): among the rows of
/// the side its taker hit (asks for a buyer) first, then the other. A bid row covers
/// `[price, price + bucket)`, an ask row `(price - bucket, price]` (the book's grouping rule);
/// ungrouped, each row is its own price. None when the price is on no row drawn (in the
/// spread, or beyond the rows).
pub fn last_trade_row(
    product: &ProductView,
    asks: &[LevelRow],
    bids: &[LevelRow],
) -> Option<(bool, Decimal)> {
    let trade = product.market.last_trade.as_ref()?;
    let bucket = product.tick * Decimal::from(product.group_ticks.max(1));
    let t = trade.price;
    let in_bid = |row: &&LevelRow| row.price <= t && t < row.price + bucket;
    let in_ask = |row: &&LevelRow| row.price - bucket < t && t <= row.price;
    let bid = || bids.iter().find(in_bid).map(|r| (true, r.price));
    let ask = || asks.iter().find(in_ask).map(|r| (false, r.price));
    match trade.aggressor {
        Aggressor::Buy => ask().or_else(bid),
        Aggressor::Sell => bid().or_else(ask),
    }
}

fn draw_book(
    app: &App,
    state: &mut LadderState,
    product: &ProductView,
    area: Rect,
    buf: &mut Buffer,
) {
    let theme = &Theme::of(app);
    let health = app.health_of(app.selected());
    let suspect = product.state != BookState::Live || health == Health::Down;
    let (ask_rows, bid_rows) = crate::ui::layout::ladder_rows(area.height);
    let asks = &product.asks[..product.asks.len().min(ask_rows)];
    let bids = &product.bids[..product.bids.len().min(bid_rows)];

    // The feed groups every product at the selected one's grouping: a product drawn at another
    // grouping than its own (a regroup on its way) is laid out afresh, without touching the
    // memory of its own grouping.
    let mut scratch = ColumnMemory::default();
    let layout = if product.group_ticks == app.group_ticks_of(&product.product) {
        state.columns.entry(product.product.clone()).or_default()
    } else {
        &mut scratch
    };
    let volume = app
        .volume_column()
        .then_some(product.market.volume_at_price.as_slice());
    let (ask_text, bid_text) = layout.fit(product, asks, bids, volume);
    let layout = *layout;
    let cols = Columns {
        price: layout.price,
        size: layout.size,
        cum: layout.cum,
        volume: volume.map(|_| (layout.bought, layout.sold)),
    };
    let last_trade = last_trade_row(product, asks, bids);
    let mark = |bid: bool, price: &Decimal| {
        (last_trade == Some((bid, *price))).then(|| {
            let taker = if bid { theme.ask } else { theme.bid };
            // The taker's colour: a buyer lifted this ask, a seller hit this bid.
            taker.add_modifier(ratatui::style::Modifier::BOLD)
        })
    };
    // Your open orders on the rows drawn (ui::order_marks), in a style of their own.
    let mine: Vec<&crate::feed::user_events::OrderRow> = app
        .user_view()
        .map(|u| u.orders_of(&product.product).collect())
        .unwrap_or_default();
    let bucket = product.tick * Decimal::from(product.group_ticks.max(1));
    let ask_marks = order_marks::marks(asks, &mine, OrderSide::Sell, bucket);
    let bid_marks = order_marks::marks(bids, &mine, OrderSide::Buy, bucket);
    let mine_style = theme.title.add_modifier(ratatui::style::Modifier::REVERSED);
    let max_cum = asks
        .last()
        .into_iter()
        .chain(bids.last())
        .map(|r| r.cum_size)
        .max()
        .unwrap_or_default();

    // Rows top to bottom; whatever does not fit the area is not drawn.
    let rows: Vec<Rect> = (area.y..area.y + area.height)
        .map(|y| Rect::new(area.x, y, area.width, 1))
        .collect();
    let mut rows = rows.into_iter();
    let mut next = || rows.next();
    // A suspect book's changes are not news: nothing flashes on it.
    let lit = |bid: bool, price: &Decimal| !suspect && app.is_lit(bid, price);

    if let Some(line) = next() {
        cols.header(theme.header, area.width).render(line, buf);
    }
    // Asks: padded at the top so that the best ask sits just above the spread row.
    for _ in asks.len()..ask_rows {
        next();
    }
    for ((row, text), own) in asks.iter().zip(&ask_text).zip(&ask_marks).rev() {
        if let Some(line) = next() {
            let level = Level {
                text,
                row,
                max_cum,
                style: if suspect { theme.dim } else { theme.ask },
                bar_style: theme.ask_bar,
                flash: lit(false, &row.price).then_some(theme.flash),
                mark: mark(false, &row.price),
                volume_styles: (theme.bid, theme.ask),
                own: own.as_ref().map(|m| (m.text(), mine_style)),
            };
            cols.draw_row(buf, line, &level);
        }
    }
    if let Some(line) = next() {
        spread_line(app, product, health, area.width).render(line, buf);
    }
    for ((row, text), own) in bids.iter().zip(&bid_text).zip(&bid_marks) {
        if let Some(line) = next() {
            let level = Level {
                text,
                row,
                max_cum,
                style: if suspect { theme.dim } else { theme.bid },
                bar_style: theme.bid_bar,
                flash: lit(true, &row.price).then_some(theme.flash),
                mark: mark(true, &row.price),
                volume_styles: (theme.bid, theme.ask),
                own: own.as_ref().map(|m| (m.text(), mine_style)),
            };
            cols.draw_row(buf, line, &level);
        }
    }
}

/// The spread row: spread, bps and mid, or why they cannot be trusted.
fn spread_line(app: &App, product: &ProductView, health: Health, width: u16) -> Line<'static> {
    let theme = &Theme::of(app);
    let tick_scale = scale_of(product.tick);
    let age = |view: &crate::feed::events::FeedView| {
        view.stats
            .last_frame_ms
            .map_or_else(|| "-".to_string(), |t| duration_ms(app.clock_ms() - t))
    };
    let (text, style) = match (app.latest(), health) {
        (_, Health::Down) if app.is_replay() => (
            " DOWN: the recorded connection was lost here ".to_string(),
            theme.error,
        ),
        (_, Health::Down) => (
            " DOWN: not connected, book not updating ".to_string(),
            theme.error,
        ),
        (_, Health::Ended) if product.state == BookState::Live => (
            " END of the recording: the book as it was at the end ".to_string(),
            theme.title,
        ),
        (_, Health::Ended) => (
            " END of the recording: this book was out of sync at the end ".to_string(),
            theme.warn,
        ),
        _ if product.state == BookState::Desynced => (
            " RESYNC: book suspect, fresh snapshot on its way ".to_string(),
            theme.warn,
        ),
        // Whether or not later updates uncrossed it, the book was shown wrong: until the fresh
        // snapshot, its spread means nothing.
        _ if product.state == BookState::Crossed => (
            " CROSSED: best bid >= best ask, book suspect, new snapshot asked for ".to_string(),
            theme.error,
        ),
        (Some(view), Health::Stale) => (
            format!(" STALE: no message for {}, book may be old ", age(view)),
            theme.warn,
        ),
        _ => match (product.spread, product.mid) {
            (Some(spread), Some(mid)) => {
                let spread_text = fixed(spread, tick_scale.max(scale_of(spread)));
                let mid_text = fixed(mid, tick_scale.max(scale_of(mid)));
                let bps_text = bps(spread, mid).unwrap_or_else(|| "-".into());
                if product.crossed {
                    (
                        format!(" CROSSED: spread {spread_text} · mid {mid_text} "),
                        theme.error,
                    )
                } else {
                    (
                        format!(" spread {spread_text} · {bps_text} bps · mid {mid_text} "),
                        theme.spread,
                    )
                }
            }
            _ => (" one side of the book is empty ".to_string(), theme.warn),
        },
    };
    let lead = "─".repeat(2);
    let used = 1 + lead.chars().count() + text.chars().count();
    let tail = "─".repeat(usize::from(width).saturating_sub(used));
    Line::from(vec![
        Span::raw(" "),
        Span::styled(lead, theme.border),
        Span::styled(text, style),
        Span::styled(tail, theme.border),
    ])
}

/// Column widths of the ladder.
struct Columns {
    price: usize,
    size: usize,
    cum: usize,
    /// The bought and sold columns, when the volume at price is shown.
    volume: Option<(usize, usize)>,
}

impl Columns {
    /// Where the bar starts: after the numbers and a gap.
    fn numbers_width(&self) -> usize {
        let volume = self.volume.map_or(0, |(b, s)| GAP + b + GAP + s);
        1 + self.price + GAP + self.size + GAP + self.cum + volume + GAP
    }

    /// Columns left for the bar after the numbers.
    fn bar_width(&self, width: u16) -> usize {
        usize::from(width).saturating_sub(self.numbers_width() + 1)
    }

    fn header(&self, style: Style, width: u16) -> Line<'static> {
        let mut text = format!(
            " {:>pw$}{:gap$}{:>sw$}{:gap$}{:>cw$}",
            "price",
            "",
            "size",
            "",
            "cumulative",
            pw = self.price,
            sw = self.size,
            cw = self.cum,
            gap = GAP
        );
        if let Some((bought, sold)) = self.volume {
            text.push_str(&format!(
                "{:gap$}{:>bw$}{:gap$}{:>sw$}",
                "",
                "bought",
                "",
                "sold",
                bw = bought,
                sw = sold,
                gap = GAP
            ));
        }
        if self.bar_width(width) >= 5 {
            text.push_str(&format!("{:gap$}depth", "", gap = GAP));
        }
        Line::styled(text, style)
    }

    /// Draws one level row into `line` (one row of the buffer): the numbers as text, the bar
    /// cell by cell (a bar of a hundred cells drawn as text would be segmented into graphemes
    /// on every frame).
    ///
    /// The numbers are written cell by cell too (they are ASCII): the same cells as a `Line` of
    /// right-aligned spans, without its allocations and grapheme segmentation, which made up most
    /// of an idle viewer's drawing time.
    fn draw_row(&self, buf: &mut Buffer, line: Rect, level: &Level<'_>) {
        let style = level.style;
        let lit = level.flash.map_or(style, |f| style.patch(f));
        let text = level.text;
        let mut cells = RowCells::new(buf, line);
        match level.mark {
            Some(mark) => cells.text(LAST_TRADE_MARK, mark),
            None => cells.text(" ", Style::default()),
        }
        cells.right_aligned(&text.price, self.price, lit);
        cells.text(&" ".repeat(GAP), Style::default());
        cells.right_aligned(&text.size, self.size, lit);
        cells.text(&" ".repeat(GAP), Style::default());
        cells.right_aligned(&text.cum, self.cum, style);
        if let Some((bought, sold)) = self.volume {
            let (bought_style, sold_style) = level.volume_styles;
            cells.text(&" ".repeat(GAP), Style::default());
            cells.right_aligned(&text.bought, bought, bought_style);
            cells.text(&" ".repeat(GAP), Style::default());
            cells.right_aligned(&text.sold, sold, sold_style);
        }
        let bar_width = self.bar_width(line.width);
        if bar_width > 0 {
            self.draw_bar(buf, line, level, bar_width);
        }
        // Over the bar's end: the marker of your orders at this row.
        if let Some((text, style)) = &level.own {
            let width = text.chars().count() as u16;
            let x = (line.x + line.width).saturating_sub(width + 1).max(line.x);
            buf.set_stringn(
                x,
                line.y,
                text,
                usize::from(line.x + line.width - x),
                *style,
            );
        }
    }

    fn draw_bar(&self, buf: &mut Buffer, line: Rect, level: &Level<'_>, bar_width: usize) {
        let start = line.x + self.numbers_width() as u16;
        let eighths = bar_eighths(level.row.cum_size, level.max_cum, bar_width);
        for (i, symbol) in bar_cells(eighths).enumerate() {
            let x = start + i as u16;
            if x < line.x + line.width {
                buf[(x, line.y)]
                    .set_symbol(symbol)
                    .set_style(level.bar_style);
            }
        }
    }
}

/// Writes text into one row of the buffer left to right, cut at the row's end, as a `Line` of
/// spans would (each cell's style patched with the span's).
pub(crate) struct RowCells<'a> {
    buf: &'a mut Buffer,
    x: u16,
    y: u16,
    end: u16,
}

impl<'a> RowCells<'a> {
    pub(crate) fn new(buf: &'a mut Buffer, line: Rect) -> RowCells<'a> {
        RowCells {
            buf,
            x: line.x,
            y: line.y,
            end: line.x.saturating_add(line.width),
        }
    }

    /// `text` in `style`; ASCII cell by cell, anything else through `Buffer::set_stringn`.
    pub(crate) fn text(&mut self, text: &str, style: Style) {
        if !text.is_ascii() || text.bytes().any(|b| b.is_ascii_control()) {
            let room = usize::from(self.end.saturating_sub(self.x));
            self.x = self.buf.set_stringn(self.x, self.y, text, room, style).0;
            return;
        }
        for byte in text.bytes() {
            if self.x >= self.end {
                return;
            }
            self.buf[(self.x, self.y)]
                .set_char(char::from(byte))
                .set_style(style);
            self.x += 1;
        }
    }

    /// `text` right-aligned in `width` cells, the padding in `style` too.
    pub(crate) fn right_aligned(&mut self, text: &str, width: usize, style: Style) {
        const SPACES: &str = "                                ";
        let mut pad = width.saturating_sub(text.chars().count());
        while pad > 0 {
            let n = pad.min(SPACES.len());
            self.text(&SPACES[..n], style);
            pad -= n;
        }
        self.text(text, style);
    }
}

/// What one level row shows, and how.
struct Level<'a> {
    text: &'a RowText,
    row: &'a LevelRow,
    max_cum: Decimal,
    style: Style,
    bar_style: Style,
    flash: Option<Style>,
    /// The last trade's row: the mark's style.
    mark: Option<Style>,
    /// The bought and sold columns' styles.
    volume_styles: (Style, Style),
    /// Your orders in this row: the marker's text and style, drawn at the row's end.
    own: Option<(String, Style)>,
}

/// Partial cells of a bar, from nothing to seven eighths.
const PARTS: [&str; 8] = [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/// The length, in eighths of a cell, of a bar of `value / max` of `width` cells (at least one
/// eighth for any positive value).
pub fn bar_eighths(value: Decimal, max: Decimal, width: usize) -> usize {
    if max <= Decimal::ZERO || value <= Decimal::ZERO || width == 0 {
        return 0;
    }
    let eighths_total = Decimal::from(width as u64 * 8);
    // value <= max by construction; checked anyway, so that odd input gives a full bar.
    let eighths = value
        .checked_div(max)
        .and_then(|share| share.checked_mul(eighths_total))
        .unwrap_or(eighths_total)
        .round()
        .min(eighths_total)
        .max(Decimal::ONE);
    u64::try_from(eighths).unwrap_or(0) as usize
}

/// The cells of a bar `eighths` long: full blocks, then a partial one.
fn bar_cells(eighths: usize) -> impl Iterator<Item = &'static str> {
    std::iter::repeat_n("█", eighths / 8).chain((eighths % 8 > 0).then_some(PARTS[eighths % 8]))
}

/// A bar as text (for tests and narrow uses).
pub fn bar(value: Decimal, max: Decimal, width: usize) -> String {
    bar_cells(bar_eighths(value, max, width)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::{Color, Modifier};

    /// A row as a `Line` of right-aligned spans: what `draw_row` writes cell by cell.
    fn row_as_line(cols: &Columns, text: &RowText, lit: Style, style: Style) -> Line<'static> {
        Line::from(vec![
            Span::raw(" "),
            Span::styled(format!("{:>w$}", text.price, w = cols.price), lit),
            Span::raw(" ".repeat(GAP)),
            Span::styled(format!("{:>w$}", text.size, w = cols.size), lit),
            Span::raw(" ".repeat(GAP)),
            Span::styled(format!("{:>w$}", text.cum, w = cols.cum), style),
        ])
    }

    #[test]
    fn rows_are_the_cells_a_line_of_spans_would_be() {
        let text = RowText {
            price: "64930.5".into(),
            size: "0.25".into(),
            cum: "12.5".into(),
            bought: String::new(),
            sold: String::new(),
        };
        let cols = Columns {
            price: 9,
            size: 10,
            cum: 12,
            volume: None,
        };
        let style = Style::default().fg(Color::Green);
        let flash = Style::default()
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        let row = LevelRow {
            price: Decimal::new(649305, 1),
            size: Decimal::new(25, 2),
            cum_size: Decimal::new(125, 1),
        };
        // Wide enough for a bar, too narrow for the numbers, and in between.
        for width in [80u16, 20, 37, 1] {
            for lit in [None, Some(flash)] {
                let area = Rect::new(3, 2, width + 6, 4);
                let line = Rect::new(5, 3, width, 1);
                let level = Level {
                    text: &text,
                    row: &row,
                    max_cum: Decimal::new(25, 0),
                    style,
                    bar_style: style,
                    flash: lit,
                    mark: None,
                    volume_styles: (style, style),
                    own: None,
                };
                let mut ours = Buffer::empty(area);
                cols.draw_row(&mut ours, line, &level);
                let mut theirs = Buffer::empty(area);
                let lit_style = lit.map_or(style, |f| style.patch(f));
                row_as_line(&cols, &text, lit_style, style).render(line, &mut theirs);
                // The bar is drawn the same way in both: copy it over before comparing.
                let bar_start =
                    line.x + (1 + cols.price + GAP + cols.size + GAP + cols.cum + GAP) as u16;
                for x in bar_start..line.x + line.width {
                    theirs[(x, line.y)] = ours[(x, line.y)].clone();
                }
                assert_eq!(ours, theirs, "width {width}, lit {lit:?}");
            }
        }
    }

    fn product_with(group_ticks: u32, sizes: &[&str]) -> ProductView {
        let mut cum = Decimal::ZERO;
        let rows: Vec<LevelRow> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let size: Decimal = size.parse().unwrap();
                cum += size;
                LevelRow {
                    price: Decimal::new(6_493_050 - i as i64, 2),
                    size,
                    cum_size: cum,
                }
            })
            .collect();
        ProductView {
            product: "BTC-USD".into(),
            served_as: None,
            state: BookState::Live,
            bids: rows,
            asks: Vec::new(),
            chart_bids: Vec::new(),
            chart_asks: Vec::new(),
            best_bid: None,
            best_ask: None,
            spread: None,
            mid: None,
            crossed: false,
            tick: Decimal::new(1, 2),
            group_ticks,
            bid_levels: 0,
            ask_levels: 0,
            updates: 0,
            last_change_ms: None,
            market: Default::default(),
        }
    }

    #[test]
    fn column_memory_only_widens_until_the_grouping_changes() {
        let mut memory = ColumnMemory::default();
        let observe = |memory: &mut ColumnMemory, product: &ProductView| {
            memory.fit(product, &product.asks, &product.bids, None);
        };
        observe(&mut memory, &product_with(1, &["12.12345678"]));
        let wide = memory;
        assert_eq!((wide.size_scale, wide.size, wide.cum), (8, 11, 11));
        observe(&mut memory, &product_with(1, &["0.5"]));
        assert_eq!(memory, wide, "narrower rows leave the memory as it was");
        observe(&mut memory, &product_with(1, &["123.5"]));
        assert_eq!(
            (memory.size_scale, memory.size),
            (8, 12),
            "wider rows widen it"
        );
        observe(&mut memory, &product_with(2, &["0.5"]));
        assert_eq!(
            (
                memory.group_ticks,
                memory.size_scale,
                memory.size,
                memory.cum
            ),
            (2, 1, 4, 10),
            "a new grouping starts afresh (titles are the minimum widths)"
        );
    }

    fn rows(prices: &[&str]) -> Vec<LevelRow> {
        prices
            .iter()
            .map(|p| LevelRow {
                price: p.parse().unwrap(),
                size: Decimal::ONE,
                cum_size: Decimal::ONE,
            })
            .collect()
    }

    fn with_last_trade(group_ticks: u32, price: &str, aggressor: Aggressor) -> ProductView {
        let mut product = product_with(group_ticks, &[]);
        product.market.last_trade = Some(crate::feed::events::TradeRow {
            trade_id: "1".into(),
            time_ms: 0,
            price: price.parse().unwrap(),
            size: Decimal::ONE,
            side: "".into(),
            aggressor,
        });
        product
    }

    #[test]
    fn the_last_trade_marks_the_row_whose_bucket_holds_its_price() {
        use Aggressor::{Buy, Sell};
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // Ungrouped: the row at the price.
        let asks = rows(&["100.02", "100.03"]);
        let bids = rows(&["100.00", "99.99"]);
        let at = |p: &ProductView| last_trade_row(p, &asks, &bids);
        assert_eq!(
            at(&with_last_trade(1, "100.02", Buy)),
            Some((false, d("100.02")))
        );
        assert_eq!(
            at(&with_last_trade(1, "99.99", Sell)),
            Some((true, d("99.99")))
        );
        // A seller at the ask's price (the book moved since): still that row.
        assert_eq!(
            at(&with_last_trade(1, "100.03", Sell)),
            Some((false, d("100.03")))
        );
        assert_eq!(
            at(&with_last_trade(1, "100.01", Buy)),
            None,
            "in the spread"
        );
        assert_eq!(at(&with_last_trade(1, "101", Buy)), None, "beyond the rows");
        assert_eq!(at(&product_with(1, &[])), None, "no trade");
        // Grouped by 5 ticks: bids [p, p + 0.05), asks (p - 0.05, p].
        let asks = rows(&["100.05", "100.10"]);
        let bids = rows(&["100.00", "99.95"]);
        let at = |p: &ProductView| last_trade_row(p, &asks, &bids);
        assert_eq!(
            at(&with_last_trade(5, "100.07", Buy)),
            Some((false, d("100.10")))
        );
        assert_eq!(
            at(&with_last_trade(5, "100.05", Buy)),
            Some((false, d("100.05")))
        );
        assert_eq!(
            at(&with_last_trade(5, "99.99", Sell)),
            Some((true, d("99.95")))
        );
        // 100.03 is in the best bid's bucket and the best ask's: the side the taker hit.
        assert_eq!(
            at(&with_last_trade(5, "100.03", Buy)),
            Some((false, d("100.05")))
        );
        assert_eq!(
            at(&with_last_trade(5, "100.03", Sell)),
            Some((true, d("100.00")))
        );
    }

    #[test]
    fn volume_is_matched_to_rows_by_price() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let volume = |p: &str| VolumeRow {
            price: d(p),
            bought: Decimal::ONE,
            sold: Decimal::ZERO,
        };
        let rows = [volume("100.10"), volume("100.05"), volume("99.95")];
        assert_eq!(volume_at(&rows, d("100.05")), Some(&rows[1]));
        assert_eq!(volume_at(&rows, d("99.95")), Some(&rows[2]));
        assert_eq!(volume_at(&rows, d("100.00")), None);
        assert_eq!(volume_at(&[], d("100.00")), None);
    }

    #[test]
    fn bar_scales_in_eighths() {
        let d = |n: i64| Decimal::from(n);
        assert_eq!(bar(d(10), d(10), 4), "████");
        assert_eq!(bar(d(5), d(10), 4), "██");
        assert_eq!(bar(d(1), d(16), 4), "▎", "2 of 32 eighths");
        assert_eq!(bar(d(2), d(16), 4), "▌", "4 of 32 eighths");
        assert_eq!(
            bar(d(1), d(1000), 4),
            "▏",
            "a non-zero size shows at least an eighth"
        );
        assert_eq!(bar(Decimal::ZERO, d(10), 4), "");
        assert_eq!(bar(d(20), d(10), 4), "████", "never wider than the column");
        assert_eq!(bar(d(1), Decimal::ZERO, 4), "");
    }
}
