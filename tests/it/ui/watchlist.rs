//! The watchlist (`w`), the session's connections and aliases on screen: whole-screen snapshots,
//! and the App's watchlist rules driven by keys (pure: no terminal).

use crate::support::ui as ui_fixtures;

use std::sync::Arc;

use cbbook::app::keymap::{KeyMode, key_action_in};
use cbbook::app::watchlist::{Column, RESORT_MS};
use cbbook::app::{Action, App, KeyAction};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ui_fixtures::*;

fn watch(w: u16, h: u16, n: usize) -> App {
    let mut app = app_with_rates(setup(), w, h, many_view(n));
    key(&mut app, KeyAction::ToggleWatchlist);
    app
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyAction::FilterChar(c));
    }
}

/// The product ids of the watchlist's rows, in order.
fn rows(app: &App) -> Vec<String> {
    let view = app.latest().unwrap();
    app.watchlist()
        .order()
        .iter()
        .map(|&i| view.products[i].product.clone())
        .collect()
}

#[test]
fn two_hundred_products() {
    for (w, h) in [(120, 40), (200, 60)] {
        let app = watch(w, h, 200);
        let screen = screen(&app);
        insta::assert_snapshot!(format!("watchlist_200_{w}x{h}"), screen);
    }
}

#[test]
fn at_120x40_at_least_30_rows_show() {
    let app = watch(120, 40, 200);
    let screen = screen(&app);
    let shown = rows(&app)
        .iter()
        .filter(|name| screen.contains(&format!(" {name} ")))
        .count();
    assert!(shown >= 30, "{shown} rows:\n{screen}");
}

#[test]
fn sorted_by_spread_bps() {
    let mut app = watch(120, 40, 200);
    // Session -> product -> health -> spread bps.
    for _ in 0..3 {
        key(&mut app, KeyAction::CycleSort);
    }
    assert_eq!(app.watchlist().sort(), (Column::SpreadBps, true));
    insta::assert_snapshot!("watchlist_sorted_spread_bps_120x40", screen(&app));
}

#[test]
fn filtered_while_typing_and_after() {
    let mut app = watch(120, 40, 200);
    key(&mut app, KeyAction::Filter);
    typed(&mut app, "usdc");
    insta::assert_snapshot!("watchlist_filter_typing_120x40", screen(&app));
    key(&mut app, KeyAction::FilterDone);
    key(&mut app, KeyAction::Scroll(1));
    key(&mut app, KeyAction::Scroll(1));
    insta::assert_snapshot!("watchlist_filtered_120x40", screen(&app));
}

#[test]
fn narrow_terminals_drop_columns_from_the_right() {
    let app = watch(80, 24, 200);
    let screen = screen(&app);
    insta::assert_snapshot!("watchlist_200_80x24", screen);
    let header = screen.lines().nth(2).unwrap();
    assert!(
        header.contains("product") && header.contains("health"),
        "{header}"
    );
    assert!(!header.contains("24h"), "{header}");
}

#[test]
fn several_connections_on_the_status_line_and_in_the_auth_pane() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut view = live_view();
        let names: Vec<String> = many_products(40).into_iter().map(|p| p.product).collect();
        view.connections = connections(4, 1, &names);
        let mut app = app(w, h, view);
        insta::assert_snapshot!(format!("connections_status_{w}x{h}"), screen(&app));
        // No session-wide `seq` (each connection numbers its own messages); the counters
        // around it stay.
        assert!(!screen(&app).contains(" seq "), "{}", screen(&app));
        if w == 120 {
            assert!(
                screen(&app).contains("  hb 75497  age "),
                "{}",
                screen(&app)
            );
        }
        key(&mut app, KeyAction::ToggleAuth);
        insta::assert_snapshot!(format!("connections_auth_pane_{w}x{h}"), screen(&app));
    }
}

#[test]
fn one_connection_changes_nothing_on_screen() {
    for (w, h) in [(120, 40), (80, 24)] {
        let before = app(w, h, live_view());
        let mut view = live_view();
        view.connections = connections(1, 0, &["BTC-USD".into(), "ETH-USD".into()]);
        let mut after = app(w, h, view);
        assert_eq!(screen(&before), screen(&after));
        if w == 120 {
            assert!(screen(&after).contains(" seq 4180 "), "{}", screen(&after));
        }
        let mut before = before;
        key(&mut before, KeyAction::ToggleAuth);
        key(&mut after, KeyAction::ToggleAuth);
        assert_eq!(screen(&before), screen(&after));
    }
}

#[test]
fn a_product_served_under_another_id() {
    let mut view = live_view();
    view.products[0].product = "BTC-USDC".into();
    view.products[0].served_as = Some("BTC-USD".into());
    let mut setup = setup();
    setup.products[0] = "BTC-USDC".into();
    let app = app_with(setup, 120, 40, view).0;
    let screen = screen(&app);
    insta::assert_snapshot!("served_as_120x40", screen);
    assert!(screen.contains("BTC-USDC (served as BTC-USD)"));
    // The tab keeps the short id.
    assert!(screen.lines().next().unwrap().contains(" BTC-USDC  LIVE"));
}

#[test]
fn s_cycles_the_sort_columns_and_o_reverses() {
    let mut app = watch(120, 40, 20);
    let mut seen = vec![app.watchlist().sort().0];
    for _ in 0..Column::SORTABLE.len() {
        key(&mut app, KeyAction::CycleSort);
        seen.push(app.watchlist().sort().0);
    }
    assert_eq!(&seen[..Column::SORTABLE.len()], Column::SORTABLE);
    assert_eq!(seen.last(), Some(&Column::Session), "wraps around");
    let first = rows(&app);
    key(&mut app, KeyAction::ReverseSort);
    assert_eq!(app.watchlist().sort(), (Column::Session, true));
    let reversed: Vec<String> = first.iter().rev().cloned().collect();
    assert_eq!(rows(&app), reversed);
    // Levels, largest first; rows without a book last.
    while app.watchlist().sort().0 != Column::Levels {
        key(&mut app, KeyAction::CycleSort);
    }
    let view = app.latest().unwrap();
    let levels: Vec<usize> = app
        .watchlist()
        .order()
        .iter()
        .map(|&i| view.products[i].bid_levels + view.products[i].ask_levels)
        .collect();
    assert!(levels.windows(2).all(|w| w[0] >= w[1]), "{levels:?}");
}

#[test]
fn ties_keep_the_session_order_and_rows_hold_still_for_a_second() {
    let mut view = many_view(6);
    for p in &mut view.products {
        // Every spread the same: the sort ties everywhere.
        p.best_bid = Some((dec("100.00"), dec("1")));
        p.best_ask = Some((dec("100.02"), dec("1")));
        p.spread = Some(dec("0.02"));
        p.mid = Some(dec("100.01"));
    }
    let mut app = app_with_rates(setup(), 120, 40, view.clone());
    key(&mut app, KeyAction::ToggleWatchlist);
    while app.watchlist().sort().0 != Column::Spread {
        key(&mut app, KeyAction::CycleSort);
    }
    let session: Vec<String> = view.products.iter().map(|p| p.product.clone()).collect();
    assert_eq!(rows(&app), session, "ties go by the session's order");

    // The last product's spread widens: within the second its row stays put...
    let mut wider = view.clone();
    wider.products[5].spread = Some(dec("0.50"));
    app.update(Action::Tick { now_ms: T0 + 400 });
    app.update(Action::View(Arc::new(wider.clone())));
    assert_eq!(rows(&app), session);
    // ... and moves up with the first view a second after the last sort.
    app.update(Action::Tick {
        now_ms: T0 + RESORT_MS,
    });
    app.update(Action::View(Arc::new(wider)));
    assert_eq!(rows(&app)[0], session[5]);
    assert_eq!(rows(&app)[1..], session[..5]);
}

#[test]
fn typing_a_filter_is_a_mode() {
    let mut app = watch(120, 40, 200);
    assert_eq!(app.key_mode(), KeyMode::Normal);
    key(&mut app, KeyAction::Filter);
    assert_eq!(app.key_mode(), KeyMode::Typing);
    // Keys are text: `q` does not quit, `w` does not close.
    for c in ['e', 'T', 'h', 'q', 'w'] {
        let action = key_action_in(app.key_mode(), &KeyEvent::from(KeyCode::Char(c)));
        app.update(Action::Key(action.unwrap()));
    }
    assert_eq!(app.watchlist().filter(), "eThqw");
    assert!(!app.should_quit());
    assert!(app.watchlist().is_open());
    for _ in 0..2 {
        key(&mut app, KeyAction::FilterBackspace);
    }
    assert_eq!(app.watchlist().filter(), "eTh");
    // Any case: ETH-USD, ETH-USDC, ETH-EUR, ETH-USDT and no other.
    let matched = rows(&app);
    assert_eq!(matched.len(), 4, "{matched:?}");
    assert!(matched.iter().all(|n| n.starts_with("ETH-")), "{matched:?}");
    // Enter keeps the filter and ends typing; `/` types again; Esc drops it.
    key(&mut app, KeyAction::FilterDone);
    assert_eq!(app.key_mode(), KeyMode::Normal);
    assert_eq!(rows(&app).len(), 4);
    key(&mut app, KeyAction::Filter);
    assert_eq!(app.key_mode(), KeyMode::Typing);
    key(&mut app, KeyAction::FilterCancel);
    assert_eq!(app.key_mode(), KeyMode::Normal);
    assert_eq!(app.watchlist().filter(), "");
    assert_eq!(rows(&app).len(), 200);
    assert!(
        app.watchlist().is_open(),
        "Esc while typing ends typing only"
    );
    key(&mut app, KeyAction::Back);
    assert!(!app.watchlist().is_open());
}

#[test]
fn ctrl_c_quits_while_typing() {
    let mut app = watch(120, 40, 20);
    key(&mut app, KeyAction::Filter);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let action = key_action_in(app.key_mode(), &ctrl_c);
    assert_eq!(action, Some(KeyAction::Quit));
    app.update(Action::Key(KeyAction::Quit));
    assert!(app.should_quit());
}

#[test]
fn enter_opens_the_highlighted_product() {
    let mut app = watch(120, 40, 200);
    // `/` opens the watchlist already typing, from the ladder too.
    key(&mut app, KeyAction::ToggleWatchlist);
    assert!(!app.watchlist().is_open());
    key(&mut app, KeyAction::Filter);
    assert!(app.watchlist().is_open());
    typed(&mut app, "sol-eur");
    key(&mut app, KeyAction::FilterDone);
    key(&mut app, KeyAction::Open);
    assert!(!app.watchlist().is_open());
    assert_eq!(app.selected_name(), Some("SOL-EUR"));
    assert_eq!(app.selected(), 102);
    // The ladder is back, with that product.
    assert!(screen(&app).lines().nth(1).unwrap().contains("SOL-EUR"));

    // Opening again highlights the product shown; Down, PgDn move the highlight.
    key(&mut app, KeyAction::ToggleWatchlist);
    assert_eq!(app.watchlist().filter(), "sol-eur", "the filter is kept");
    key(&mut app, KeyAction::Filter);
    key(&mut app, KeyAction::FilterCancel);
    let view = app.latest().unwrap();
    assert_eq!(app.watchlist().cursor_product(Some(view)), Some("SOL-EUR"));
    key(&mut app, KeyAction::Scroll(1));
    let mut frames = Frames::default();
    frames.screen(&mut app);
    key(&mut app, KeyAction::Page(1));
    let view = app.latest().unwrap();
    // 40 rows: tabs 1, status 4, footer 1, title and header 2 leave 32 rows a page.
    let expected = view.products[102 + 1 + 32].product.clone();
    assert_eq!(
        app.watchlist().cursor_product(Some(view)),
        Some(expected.as_str())
    );
    key(&mut app, KeyAction::Open);
    assert_eq!(app.selected(), 135);
}
