//! The orders pane (`o`): your open orders, read-only, then your last fills.
//!
//! ```text
//! ┌ your orders · BTC-USD · 3 open (m: all) ─────────────────────────────────────┐
//! │side type   price       remaining   filled   status  age   level size         │
//! │BUY  Limit  64929.50    0.0100      0        OPEN    3m    0.5000             │
//! │SELL Limit  price unknown 0.0200    0.0100   OPEN    1h    -                  │
//! │last fills                                                                     │
//! │BUY  0.0050 @ 64929.50  FILLED  12s ago                                        │
//! └ cbbook only reads: it never places, amends or cancels an order ───────────────┘
//! ```
//! Sorted by distance from the touch (a BUY's below the best bid, a SELL's above the best
//! ask), orders of unknown price last. "level size" is the book's size at the order's price: your
//! place in that queue is not known, so nothing claims to be "ahead of you".

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};
use rust_decimal::Decimal;

use crate::app::duration::duration_ms;
use crate::app::{App, SidePane};
use crate::feed::events::ProductView;
use crate::feed::user_events::{OrderRow, OrderSide};
use crate::ui::theme::Theme;

/// What to tell a user without a key.
pub const NO_KEY: &str = "no key: your orders come from the signed user channel. Give a CDP key (--key FILE, or COINBASE_API_KEY and COINBASE_API_SECRET); the view permission is enough: cbbook never places, amends or cancels an order";

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let all = matches!(app.side_pane(), SidePane::Orders(true));
    let shown = app.selected_name().unwrap_or("").to_string();
    let user = app.user_view();
    let orders: Vec<&OrderRow> = match user {
        Some(u) => u
            .orders
            .iter()
            .filter(|o| all || o.product_id == shown)
            .collect(),
        None => Vec::new(),
    };
    let scope = if all {
        "all products".to_string()
    } else {
        shown.clone()
    };
    let title = format!(
        " your orders · {scope} · {} open (m: {}) ",
        orders.len(),
        if all { "close" } else { "all" }
    );
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::styled(title, theme.title))
        .title_bottom(Line::styled(
            " cbbook only reads: it never places, amends or cancels an order ",
            theme.dim,
        ));
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines: Vec<Line> = Vec::new();
    let Some(user) = user else {
        Paragraph::new(Line::styled(NO_KEY, theme.dim))
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(inner, buf);
        return;
    };
    if let Some(refused) = &user.refused {
        lines.push(Line::styled(
            format!(
                "user channel refused: {}{} (a: auth pane)",
                refused.message,
                refused
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            theme.error,
        ));
    } else if !user.snapshot_complete && user.orders.is_empty() {
        lines.push(Line::styled("waiting for the orders snapshot", theme.dim));
    }
    lines.push(Line::styled(
        format!(
            "{}{:<5}{:<6}{:>11} {:>9} {:>9} {:<8}{:>4} {:>10}",
            if all {
                format!("{:<10}", "product")
            } else {
                String::new()
            },
            "side",
            "type",
            "price",
            "remaining",
            "filled",
            "status",
            "age",
            "level size"
        ),
        theme.header,
    ));
    let mut sorted: Vec<(Option<Decimal>, &OrderRow)> = orders
        .iter()
        .map(|o| {
            let product = app
                .latest()
                .and_then(|v| v.products.iter().find(|p| p.product == o.product_id));
            (distance(o, product), *o)
        })
        .collect();
    sorted.sort_by(|a, b| {
        (a.0.is_none(), a.0, &a.1.order_id).cmp(&(b.0.is_none(), b.0, &b.1.order_id))
    });
    for (_, o) in &sorted {
        let product = app
            .latest()
            .and_then(|v| v.products.iter().find(|p| p.product == o.product_id));
        let style = match o.side {
            OrderSide::Buy => theme.bid,
            OrderSide::Sell => theme.ask,
        };
        let price = o
            .price
            .map_or("price unknown".to_string(), |p| p.to_string());
        let age = o
            .created_ms
            .map_or("-".to_string(), |c| duration_ms(app.clock_ms() - c));
        let level = product
            .and_then(|p| level_size(p, o))
            .map_or("-".to_string(), |s| s.normalize().to_string());
        lines.push(Line::styled(
            format!(
                "{}{:<5}{:<6}{:>11} {:>9} {:>9} {:<8}{:>4} {:>10}",
                if all {
                    format!("{:<10}", o.product_id)
                } else {
                    String::new()
                },
                o.side.as_str(),
                o.order_type,
                price,
                o.leaves.normalize().to_string(),
                o.filled.normalize().to_string(),
                o.status,
                age,
                level
            ),
            style,
        ));
    }
    let fills: Vec<_> = user
        .fills
        .iter()
        .filter(|f| all || f.product_id == shown)
        .take(10)
        .collect();
    if !fills.is_empty() {
        lines.push(Line::styled("last fills", theme.header));
        for f in fills {
            let style = match f.side {
                OrderSide::Buy => theme.bid,
                OrderSide::Sell => theme.ask,
            };
            lines.push(Line::styled(
                format!(
                    "{}{:<5}{} @ {}  {}  {} ago",
                    if all {
                        format!("{:<10}", f.product_id)
                    } else {
                        String::new()
                    },
                    f.side.as_str(),
                    f.size.normalize(),
                    f.price
                        .map_or("price unknown".to_string(), |p| p.to_string()),
                    f.status,
                    duration_ms(app.clock_ms() - f.at_ms)
                ),
                style,
            ));
        }
    }
    Paragraph::new(lines).render(inner, buf);
}

/// How far the order rests from the touch on its side (`None`: price or touch unknown).
pub fn distance(order: &OrderRow, product: Option<&ProductView>) -> Option<Decimal> {
    let price = order.price?;
    let product = product?;
    match order.side {
        OrderSide::Buy => product.best_bid.map(|(b, _)| (b - price).abs()),
        OrderSide::Sell => product.best_ask.map(|(a, _)| (price - a).abs()),
    }
}

/// The book's size at the order's price, from the rows the view carries.
fn level_size(product: &ProductView, order: &OrderRow) -> Option<Decimal> {
    let price = order.price?;
    let rows = match order.side {
        OrderSide::Buy => &product.bids,
        OrderSide::Sell => &product.asks,
    };
    rows.iter().find(|r| r.price == price).map(|r| r.size)
}
