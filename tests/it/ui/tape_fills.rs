//! Your fills on the tape: a line holding a trade that is a fill of one of your orders (from the
//! `user` channel) starts with `◆`; a fill matching no trade is counted in the title.

use crate::support::ui as ui_fixtures;

use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction};
use cbbook::feed::events::{Aggressor, FeedView};
use cbbook::feed::user_events::{FillRow, OrderSide};
use ui_fixtures::*;

fn fill_of(view: &FeedView, k: usize) -> FillRow {
    let trade = &view.products[0].market.tape[k];
    FillRow {
        order_id: format!("order-{k}"),
        product_id: "BTC-USD".to_string(),
        // A seller took a resting BUY: the maker (your order) is the BUY.
        side: match trade.aggressor {
            Aggressor::Sell => OrderSide::Buy,
            Aggressor::Buy => OrderSide::Sell,
        },
        price: Some(trade.price),
        size: trade.size,
        status: "OPEN".to_string(),
        at_ms: T0,
        server_ms: Some(trade.time_ms + 2),
    }
}

/// The tape of [`trades_view`] with your fills of trades `mine` and `extra` fills matching none.
fn tape_with_fills(mine: &[usize], extra: usize, w: u16, h: u16) -> App {
    let mut app = app_with_trades(keyed_setup(), w, h);
    let mut view = trades_view();
    let mut user = keyed_user_view(&demo_key(), None);
    user.fills = mine.iter().map(|&k| fill_of(&view, k)).collect();
    for e in 0..extra {
        let mut f = fill_of(&view, 0);
        f.size += dec("0.00000001") * rust_decimal::Decimal::from(e as u64 + 1);
        user.fills.push(f);
    }
    view.user = Some(user);
    app.update(Action::View(Arc::new(view)));
    key(&mut app, KeyAction::ToggleTape);
    app
}

/// The tape's rows (the lines inside its box right of the ladder), trimmed.
fn tape_rows(text: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let start = text
        .lines()
        .position(|l| l.contains("┌ trades"))
        .unwrap_or_else(|| panic!("no tape:\n{text}"));
    let column = lines[start].iter().position(|&c| c == '┌').unwrap();
    lines
        .iter()
        .skip(start + 1)
        .take_while(|l| l.get(column) != Some(&'└'))
        .map(|l| l.iter().skip(column).collect())
        .collect()
}

#[test]
fn your_fill_is_marked_on_its_trades_line() {
    let view = trades_view();
    let tape = &view.products[0].market.tape;
    // A trade alone on its line (not the same taker as its neighbours), a few lines down.
    let k = (3..tape.len() - 1)
        .find(|&k| {
            let (a, b, c) = (&tape[k - 1], &tape[k], &tape[k + 1]);
            (a.time_ms, a.aggressor) != (b.time_ms, b.aggressor)
                && (c.time_ms, c.aggressor) != (b.time_ms, b.aggressor)
        })
        .unwrap();
    let app = tape_with_fills(&[k], 0, 120, 40);
    let text = screen(&app);
    let rows = tape_rows(&text);
    let marked: Vec<&String> = rows.iter().filter(|r| r.contains('◆')).collect();
    assert_eq!(marked.len(), 1, "one line is yours:\n{text}");
    let price = tape[k].price.to_string();
    assert!(marked[0].contains(&price), "{}: {text}", marked[0]);
    assert!(
        text.contains("◆ your fill"),
        "the legend names the mark:\n{text}"
    );
    assert!(!text.contains("not on the tape"), "{text}");
    insta::assert_snapshot!("tape_your_fill_120x40", text);

    // Without a key: no mark, no legend.
    let mut plain = app_with_trades(setup(), 120, 40);
    key(&mut plain, KeyAction::ToggleTape);
    let text = screen(&plain);
    assert!(!text.contains('◆'), "{text}");
}

#[test]
fn a_fill_matching_no_trade_is_counted_not_guessed() {
    let app = tape_with_fills(&[], 2, 120, 40);
    let text = screen(&app);
    assert!(
        tape_rows(&text).iter().all(|r| !r.contains('◆')),
        "no size matches exactly: nothing is marked\n{text}"
    );
    assert!(text.contains("· 2 fills not on the tape (o)"), "{text}");
}
