//! The product header: the row under the tabs, across the whole width (over the ladder and the
//! panes beside it).
//!
//! ```text
//!  BTC-USD  tick 0.01   last 64930.50 ▲  24h +1.23%  high 65100.00  low 63800.00  vol 12,346 BTC   22,871 bids · 22,734 asks
//! ```
//! The product (and the id it is served as), the ladder's grouping (and the one on its way,
//! `→ 5 ticks…`), the last trade's price with the way it moved from the trade before (`▲`, `▼`,
//! a blank for the same price), the 24 h change, high, low and volume of the latest `ticker`,
//! and the levels of the whole book per side. A figure the feed has not sent is left out, never
//! shown as 0: without trades or a ticker the header is the ladder's title it always was.
//!
//! On a narrow terminal pieces shorten, then leave, in this order: the level counts
//! (`22,871 bid/22,734 ask`, then none), the volume, high and low (`H 65100.00 L 63800.00`,
//! then none), the grouping's breakdown (`group 0.05`), the 24 h change, and the word `last`.
//! The product, the grouping, the price and a pending regroup always stay.
//!
//! Like the ladder it shows the product as drawn (frozen while paused).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use rust_decimal::Decimal;

use crate::app::App;
use crate::feed::events::{MarketView, PriceTick, ProductView};
use crate::ui::format::{amount, fixed, percent_change, scale_of, thousands};
use crate::ui::ladder::draws_book;
use crate::ui::theme::Theme;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    if let Some(line) = app
        .shown_product()
        .and_then(|p| header_line(app, p, area.width))
    {
        line.render(area, buf);
    }
}

/// One piece of the header: its forms from the fullest to the shortest (an empty form means
/// the piece leaves), and when it shortens (higher first).
struct Piece {
    forms: Vec<Vec<Span<'static>>>,
    rank: u8,
    /// The form drawn.
    at: usize,
}

impl Piece {
    fn new(rank: u8, forms: Vec<Vec<Span<'static>>>) -> Piece {
        Piece { forms, rank, at: 0 }
    }

    fn width(&self) -> usize {
        self.forms
            .get(self.at)
            .map_or(0, |spans| spans.iter().map(Span::width).sum())
    }

    fn can_shorten(&self) -> bool {
        self.at + 1 < self.forms.len()
    }
}

/// The header of `product`, shortened to fit `width`; None when there is nothing to say yet (no
/// book and no trades: the ladder says what it waits for).
pub fn header_line(app: &App, product: &ProductView, width: u16) -> Option<Line<'static>> {
    let theme = &Theme::of(app);
    let book = draws_book(product);
    let market = market_pieces(product, theme);
    if !book && market.is_empty() {
        return None;
    }
    // An alias says what it is served as (`BTC-USDC (served as BTC-USD)`); the tabs keep the
    // short id.
    let name = match &product.served_as {
        Some(served) => format!(" {} (served as {served})", product.product),
        None => format!(" {}", product.product),
    };
    let mut pieces = vec![Piece::new(0, vec![vec![Span::styled(name, theme.title)]])];
    if book {
        let bucket = product.tick * Decimal::from(product.group_ticks.max(1));
        let grouping = |text: String| vec![Span::raw("  "), Span::styled(text, theme.text)];
        let forms = if product.group_ticks <= 1 {
            vec![grouping(format!("tick {}", product.tick.normalize()))]
        } else {
            vec![
                grouping(format!(
                    "group {} ({} × {})",
                    bucket.normalize(),
                    product.group_ticks,
                    product.tick.normalize()
                )),
                grouping(format!("group {}", bucket.normalize())),
            ]
        };
        pieces.push(Piece::new(6, forms));
    }
    pieces.extend(market);
    if book {
        let (bids, asks) = (
            thousands(product.bid_levels as u64),
            thousands(product.ask_levels as u64),
        );
        let counts = |text: String| vec![Span::styled(text, theme.dim)];
        pieces.push(Piece::new(
            9,
            vec![
                counts(format!("   {bids} bids · {asks} asks")),
                // Narrow: still says which count is which side's.
                counts(format!("   {bids} bid/{asks} ask")),
                Vec::new(),
            ],
        ));
        let wanted = app.group_ticks_of(&product.product);
        if wanted != product.group_ticks {
            let pending = match wanted {
                1 => "  → 1 tick…".to_string(),
                n => format!("  → {n} ticks…"),
            };
            pieces.push(Piece::new(0, vec![vec![Span::styled(pending, theme.dim)]]));
        }
    }
    fit(&mut pieces, usize::from(width));
    let spans: Vec<Span<'static>> = pieces
        .into_iter()
        .flat_map(|p| {
            let at = p.at;
            p.forms.into_iter().nth(at).unwrap_or_default()
        })
        .collect();
    Some(Line::from(spans))
}

/// Shortens the pieces, the highest rank first, until they fit `width` or none can shorten.
fn fit(pieces: &mut [Piece], width: usize) {
    loop {
        let used: usize = pieces.iter().map(Piece::width).sum();
        if used <= width {
            return;
        }
        let next = pieces
            .iter_mut()
            .filter(|p| p.can_shorten())
            .max_by_key(|p| p.rank);
        match next {
            Some(piece) => piece.at += 1,
            None => return,
        }
    }
}

/// The market's pieces: last price and tick, 24 h change, high and low, volume. Each only when
/// the feed sent it.
fn market_pieces(product: &ProductView, theme: &Theme) -> Vec<Piece> {
    let market = &product.market;
    let ticker = market.ticker.as_ref();
    let price_text = |p: Decimal| fixed(p, scale_of(product.tick).max(scale_of(p)));
    let label = |text: &str| Span::styled(text.to_string(), theme.dim);
    let mut pieces = Vec::new();
    if let Some((price, tick)) = last_price(market) {
        let (arrow, style) = tick_arrow(tick, theme);
        let value = vec![
            Span::styled(price_text(price), theme.title),
            Span::raw(" "),
            Span::styled(arrow, style),
        ];
        let mut full = vec![Span::raw("   "), label("last ")];
        full.extend(value.clone());
        let mut short = vec![Span::raw("   ")];
        short.extend(value);
        pieces.push(Piece::new(1, vec![full, short]));
    }
    if let Some(change) = ticker.and_then(|t| t.price_percent_chg_24_h) {
        let style = change_style(change, theme);
        pieces.push(Piece::new(
            5,
            vec![
                vec![
                    Span::raw("  "),
                    label("24h "),
                    Span::styled(percent_change(change), style),
                ],
                Vec::new(),
            ],
        ));
    }
    let high = ticker.and_then(|t| t.high_24_h);
    let low = ticker.and_then(|t| t.low_24_h);
    if high.is_some() || low.is_some() {
        let pair = |high_label: &str, low_label: &str| {
            let mut spans = Vec::new();
            if let Some(h) = high {
                spans.push(Span::raw("  "));
                spans.push(label(high_label));
                spans.push(Span::styled(price_text(h), theme.text));
            }
            if let Some(l) = low {
                spans.push(Span::raw("  "));
                spans.push(label(low_label));
                spans.push(Span::styled(price_text(l), theme.text));
            }
            spans
        };
        pieces.push(Piece::new(
            7,
            vec![pair("high ", "low "), pair("H ", "L "), Vec::new()],
        ));
    }
    if let Some(volume) = ticker.and_then(|t| t.volume_24_h) {
        let base = product.product.split('-').next().unwrap_or_default();
        pieces.push(Piece::new(
            8,
            vec![
                vec![
                    Span::raw("  "),
                    label("vol "),
                    Span::styled(format!("{} {base}", amount(volume)), theme.text),
                ],
                Vec::new(),
            ],
        ));
    }
    pieces
}

/// The last price and how it moved: the last trade's, else the ticker's (with no direction:
/// the ticker's price alone says nothing about the trade before).
pub fn last_price(market: &MarketView) -> Option<(Decimal, PriceTick)> {
    match (&market.last_trade, &market.ticker) {
        (Some(trade), _) => Some((trade.price, market.tick)),
        (None, Some(ticker)) => ticker.price.map(|p| (p, PriceTick::Same)),
        (None, None) => None,
    }
}

/// `▲` up (the buy colour), `▼` down (the sell colour), a blank for the same price: the arrow
/// keeps its cell, so the figures after it do not move as the tick changes.
pub fn tick_arrow(tick: PriceTick, theme: &Theme) -> (&'static str, Style) {
    match tick {
        PriceTick::Up => ("▲", theme.bid),
        PriceTick::Down => ("▼", theme.ask),
        PriceTick::Same => (" ", theme.text),
    }
}

/// A change's colour, as its text reads ([`percent_change`]): up in the buy colour, down in the
/// sell colour, none for what rounds to no change.
pub fn change_style(change: Decimal, theme: &Theme) -> Style {
    let text = percent_change(change);
    if text.starts_with('+') {
        theme.bid
    } else if text.starts_with('-') {
        theme.ask
    } else {
        theme.text
    }
}
