//! Your orders on screen: ladder markers (also at a price absent from the book), the orders
//! pane (`m`) for the shown product and for all, and the pane without a key.

use crate::support::ui as ui_fixtures;

use cbbook::app::KeyAction;
use cbbook::feed::events::{AuthView, ConnectionState, FeedView};
use cbbook::feed::user_events::{FillRow, OrderRow, OrderSide, UserView};
use rust_decimal::Decimal;
use ui_fixtures::*;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn order(id: &str, product: &str, side: OrderSide, price: Option<&str>, leaves: &str) -> OrderRow {
    OrderRow {
        order_id: id.to_string(),
        client_order_id: None,
        product_id: product.to_string(),
        side,
        order_type: "Limit".to_string(),
        price: price.map(d),
        leaves: d(leaves),
        filled: d("0"),
        avg_price: None,
        status: "OPEN".to_string(),
        created: None,
        created_ms: Some(T0 - 95_000),
    }
}

fn with_orders() -> FeedView {
    let mut view = live_view();
    view.user = Some(UserView {
        endpoint: ENDPOINT.to_string(),
        connection: ConnectionState::Subscribed,
        refused: None,
        snapshot_complete: true,
        orders: vec![
            order("a", "BTC-USD", OrderSide::Buy, Some("64930.5"), "0.01"),
            order("b", "BTC-USD", OrderSide::Buy, Some("64930.5"), "0.02"),
            // Absent from the book (its rows are whole cents).
            order("c", "BTC-USD", OrderSide::Buy, Some("64930.46"), "0.005"),
            order("d", "BTC-USD", OrderSide::Sell, Some("64930.52"), "0.1"),
            order("e", "BTC-USD", OrderSide::Sell, None, "0.3"),
            order("f", "ETH-USD", OrderSide::Buy, Some("3456.7"), "1.5"),
        ],
        fills: vec![FillRow {
            order_id: "z".to_string(),
            product_id: "BTC-USD".to_string(),
            side: OrderSide::Buy,
            price: Some(d("64930.49")),
            size: d("0.004"),
            status: "FILLED".to_string(),
            at_ms: T0 - 12_000,
        }],
        auth: AuthView::default(),
        frames: 12,
        reconnects: 0,
        malformed_orders: 0,
        gaps: 0,
    });
    view
}

#[test]
fn the_ladder_marks_your_orders_and_the_pane_lists_them() {
    let app = app(120, 40, with_orders());
    let text = screen(&app);
    assert!(text.contains("◆ 0.03 ×2"), "{text}");
    assert!(text.contains("◆ 64930.46: 0.005 ×1"), "{text}");
    insta::assert_snapshot!("orders_ladder_markers_120x40", text);
    let mut app = app;
    key(&mut app, KeyAction::ToggleOrders);
    let text = screen(&app);
    assert!(text.contains("price unknown"), "{text}");
    assert!(
        !text.contains("ETH-USD   BUY"),
        "the shown product's only: {text}"
    );
    insta::assert_snapshot!("orders_pane_shown_product_120x40", text);
    key(&mut app, KeyAction::ToggleOrders);
    let text = screen(&app);
    assert!(text.contains("all products"), "{text}");
    insta::assert_snapshot!("orders_pane_all_120x40", text);
    key(&mut app, KeyAction::ToggleOrders);
    assert!(!screen(&app).contains("your orders"));
}

#[test]
fn without_a_key_the_pane_says_how_to_add_one() {
    let mut app = app(120, 40, live_view());
    key(&mut app, KeyAction::ToggleOrders);
    let text = screen(&app);
    assert!(text.contains("no key"), "{text}");
    insta::assert_snapshot!("orders_pane_no_key_120x40", text);
}
