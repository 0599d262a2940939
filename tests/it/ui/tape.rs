//! Trades on screen: the tape (`t`), the product header, the last trade's mark and the volume
//! column (`v`) on the ladder, the status's trades/s and minute volume, the watchlist's last and
//! 24h columns; and what `t` and `v` ask of the feed. Times are UTC (the fixtures' setup), so
//! the snapshots read the same on every machine.

use crate::support::ui as ui_fixtures;

use cbbook::app::{Action, App, KeyAction, SidePane, TAPE_TRADES_PER_ROW};
use cbbook::config::DisplaySettings;
use cbbook::feed::events::{FeedCommand, ViewRequest};
use cbbook::ui::theme::{Theme, ThemeName};
use ratatui::buffer::Buffer;
use ratatui::style::Modifier;
use std::sync::Arc;
use ui_fixtures::*;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

fn check(name: &str, sizes: &[(u16, u16)], build: impl Fn(u16, u16) -> App) {
    for &(w, h) in sizes {
        let app = build(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&app));
    }
}

fn with_keys(w: u16, h: u16, keys: &[KeyAction]) -> App {
    let mut app = app_with_trades(setup(), w, h);
    for k in keys {
        key(&mut app, *k);
    }
    app
}

fn set_views(commands: &[FeedCommand]) -> Vec<ViewRequest> {
    commands
        .iter()
        .filter_map(|c| match c {
            FeedCommand::SetView(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// Row `n` of the screen, without its quotes and trailing blanks.
fn row(app: &App, n: usize) -> String {
    let screen = screen(app);
    let line = screen.lines().nth(n).unwrap_or_default();
    line.trim_matches('"').trim_end().to_string()
}

// Screens.

#[test]
fn tape_beside_the_ladder_or_over_it() {
    check("tape", &SIZES, |w, h| {
        with_keys(w, h, &[KeyAction::ToggleTape])
    });
}

#[test]
fn header_status_and_last_trade_mark() {
    check("trades_header", &SIZES[..2], |w, h| with_keys(w, h, &[]));
}

#[test]
fn volume_column() {
    check("volume_column", &SIZES[..2], |w, h| {
        with_keys(w, h, &[KeyAction::ToggleVolume])
    });
}

#[test]
fn tape_and_chart_share_the_room_beside_the_ladder() {
    // Three columns at 200; at 120, the one opened last.
    check("tape_and_chart", &[(200, 60), (120, 40)], |w, h| {
        with_keys(w, h, &[KeyAction::ToggleChart, KeyAction::ToggleTape])
    });
    let app = with_keys(120, 40, &[KeyAction::ToggleTape, KeyAction::ToggleChart]);
    let text = screen(&app);
    assert!(text.contains("┌ depth · BTC-USD"), "{text}");
    assert!(!text.contains("┌ trades"), "{text}");
}

#[test]
fn tape_with_volume_and_the_watchlist_columns() {
    check("tape_volume", &[(200, 60)], |w, h| {
        with_keys(w, h, &[KeyAction::ToggleTape, KeyAction::ToggleVolume])
    });
    check("watchlist_trades", &[(120, 40)], |w, h| {
        with_keys(w, h, &[KeyAction::ToggleWatchlist])
    });
}

#[test]
fn inverted_sides_are_said_on_the_status_line_and_the_tape() {
    let mut view = trades_view();
    view.products[0].market.sides_look_inverted = true;
    let mut app = app_with_trades(setup(), 120, 40);
    app.update(Action::View(Arc::new(view)));
    key(&mut app, KeyAction::ToggleTape);
    let text = screen(&app);
    assert!(text.contains("trade sides look inverted"), "{text}");
    assert!(
        text.contains("┌ trades · BTC-USD · sides look inverted ─"),
        "{text}"
    );
    insta::assert_snapshot!("inverted_sides_120x40", text);
}

#[test]
fn a_product_without_trades_shows_no_market_figures() {
    // The header is the ladder's title it always was, and the status line has no trades.
    let app = app(120, 40, live_view());
    assert_eq!(
        row(&app, 1),
        " BTC-USD  tick 0.01   22,871 bids · 22,734 asks"
    );
    assert!(!screen(&app).contains("trades/s"));
    assert!(!screen(&app).contains('▸'));
    // Its tape says so.
    let mut app = app;
    key(&mut app, KeyAction::ToggleTape);
    assert!(screen(&app).contains("no trades yet"));
}

#[test]
fn the_header_shows_only_what_the_feed_sent() {
    // A ticker without trades: its price, with no direction; no 24 h figures it left out.
    let mut view = live_view();
    view.products[0].market.ticker = Some(cbbook::feed::events::TickerView {
        price: Some(dec("64930.5")),
        ..Default::default()
    });
    let app = app(120, 40, view);
    assert_eq!(
        row(&app, 1),
        " BTC-USD  tick 0.01   last 64930.50     22,871 bids · 22,734 asks"
    );
    // Trades without a ticker: the last price and its tick.
    let mut view = live_view();
    view.products[0].market.last_trade = btc_trades(1).pop();
    view.products[0].market.tick = cbbook::feed::events::PriceTick::Down;
    let app = app_with(setup(), 120, 40, view).0;
    assert_eq!(
        row(&app, 1),
        " BTC-USD  tick 0.01   last 64930.51 ▼   22,871 bids · 22,734 asks"
    );
}

#[test]
fn the_header_shortens_on_a_narrow_terminal() {
    let full = row(&with_keys(200, 60, &[]), 1);
    assert_eq!(
        full,
        " BTC-USD  tick 0.01   last 64930.51 ▲  24h -1.23%  high 65800.00  low 63950.12  vol 12,346 BTC   \
         22,871 bids · 22,734 asks"
    );
    assert_eq!(
        row(&with_keys(120, 40, &[]), 1),
        " BTC-USD  tick 0.01   last 64930.51 ▲  24h -1.23%  high 65800.00  low 63950.12  vol 12,346 BTC   \
         22,871 bid/22,734 ask"
    );
    assert_eq!(
        row(&with_keys(80, 24, &[]), 1),
        " BTC-USD  tick 0.01   last 64930.51 ▲  24h -1.23%  high 65800.00  low 63950.12"
    );
    assert_eq!(
        row(&with_keys(75, 24, &[]), 1),
        " BTC-USD  tick 0.01   last 64930.51 ▲  24h -1.23%  H 65800.00  L 63950.12"
    );
    assert_eq!(
        row(&with_keys(60, 24, &[]), 1),
        " BTC-USD  tick 0.01   last 64930.51 ▲  24h -1.23%"
    );
}

// Styles.

/// The row of the screen whose text contains `text`, and its cells.
fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            return (row[..byte].chars().count() as u16, y);
        }
    }
    panic!("`{text}` is not on screen");
}

#[test]
fn takers_have_their_colours_and_big_trades_are_bold() {
    let app = with_keys(120, 40, &[KeyAction::ToggleTape]);
    let theme = Theme::new(ThemeName::Dark);
    let buf = buffer(&app);
    let trades = btc_trades(80);
    // The newest line: a buyer, small.
    let (x, y) = find(&buf, &format!("{} ▲", time_text(T0 - 150)));
    let arrow = &buf[(x + 13, y)];
    assert_eq!(arrow.fg, theme.bid.fg.unwrap());
    assert!(!arrow.modifier.contains(Modifier::BOLD));
    // A seller.
    let seller = trades
        .iter()
        .find(|t| t.aggressor == cbbook::feed::events::Aggressor::Sell)
        .unwrap();
    let (x, y) = find(&buf, &format!("{} ▼", time_text(seller.time_ms)));
    assert_eq!(buf[(x + 13, y)].fg, theme.ask.fg.unwrap());
    // The first big one (1.5 and more: the fixture's threshold) is bold.
    let big = &trades[6];
    assert!(big.size >= dec("1.5"));
    let (x, y) = find(&buf, &time_text(big.time_ms));
    assert!(buf[(x + 13, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn the_configured_big_trade_size_wins_over_the_feeds() {
    let mut s = setup();
    s.display.big_trade = Some(dec("0.001"));
    let mut app = app_with_trades(s, 120, 40);
    key(&mut app, KeyAction::ToggleTape);
    let buf = buffer(&app);
    let newest = &btc_trades(1)[0];
    assert!(newest.size >= dec("0.001"), "{newest:?}");
    let (x, y) = find(&buf, &format!("{} ▲", time_text(T0 - 150)));
    assert!(buf[(x + 13, y)].modifier.contains(Modifier::BOLD));
    assert!(screen(&app).contains("bold: size ≥ 0.001"));
}

#[test]
fn the_mono_theme_tells_buyers_from_sellers_by_arrow() {
    let mut s = setup();
    s.display = DisplaySettings {
        theme: ThemeName::Mono,
        ..s.display
    };
    let mut app = app_with_trades(s, 120, 40);
    key(&mut app, KeyAction::ToggleTape);
    let buf = buffer(&app);
    let (x, y) = find(&buf, &format!("{} ▲", time_text(T0 - 150)));
    assert_eq!(buf[(x + 13, y)].fg, ratatui::style::Color::Reset);
    let text = screen(&app);
    assert!(text.contains(" ▲ ") && text.contains(" ▼ "), "{text}");
}

#[test]
fn the_last_trade_row_is_marked_in_the_takers_colour() {
    let app = with_keys(120, 40, &[]);
    let buf = buffer(&app);
    let (x, y) = find(&buf, "▸64930.51");
    assert_eq!(buf[(x, y)].fg, Theme::new(ThemeName::Dark).bid.fg.unwrap());
    assert_eq!(screen(&app).matches('▸').count(), 1);
}

fn time_text(ms: i64) -> String {
    cbbook::ui::format::trade_time(ms, cbbook::config::TimeDisplay::Utc)
}

// What `t` and `v` ask of the feed.

#[test]
fn t_asks_for_trades_to_fill_the_tape_and_v_for_volume_at_price() {
    let (mut app, commands) = app_with(setup(), 120, 40, trades_view());
    let first = set_views(&commands);
    assert_eq!(
        (first[0].tape_depth, first[0].volume_at_price),
        (0, false),
        "nothing asked while closed"
    );
    let rows = cbbook::ui::layout::tape_rows(120, 40);
    assert_eq!(rows, 30);
    let asked = set_views(&key(&mut app, KeyAction::ToggleTape));
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].tape_depth, rows * TAPE_TRADES_PER_ROW);
    assert!(app.tape_open());
    // A resize asks for what the new size fits.
    let asked = set_views(&app.update(cbbook::ui::resize(120, 30)));
    assert_eq!(
        asked[0].tape_depth,
        cbbook::ui::layout::tape_rows(120, 30) * TAPE_TRADES_PER_ROW
    );
    let asked = set_views(&key(&mut app, KeyAction::ToggleVolume));
    assert!(asked[0].volume_at_price);
    assert!(app.volume_column());
    let asked = set_views(&key(&mut app, KeyAction::ToggleTape));
    assert_eq!(
        (asked[0].tape_depth, asked[0].volume_at_price),
        (0, true),
        "closed: no trades; the volume column stays"
    );
    let asked = set_views(&key(&mut app, KeyAction::ToggleVolume));
    assert!(!asked[0].volume_at_price);
    // Every request names the selected product only: the feed fills the tape for it alone.
    key(&mut app, KeyAction::ToggleTape);
    let asked = set_views(&key(&mut app, KeyAction::NextProduct));
    assert_eq!(asked[0].rows_for.as_deref(), Some("ETH-USD"));
    assert!(asked[0].tape_depth > 0);
}

#[test]
fn esc_closes_the_pane_in_front_first() {
    let mut app = app_with_trades(setup(), 120, 40);
    key(&mut app, KeyAction::ToggleChart);
    key(&mut app, KeyAction::ToggleTape);
    assert!(app.tape_in_front());
    key(&mut app, KeyAction::Back);
    assert!(!app.tape_open());
    assert_eq!(app.side_pane(), SidePane::Chart);
    key(&mut app, KeyAction::ToggleTape);
    key(&mut app, KeyAction::ToggleAuth);
    assert!(!app.tape_in_front(), "the auth pane was opened last");
    key(&mut app, KeyAction::Back);
    assert_eq!(app.side_pane(), SidePane::None);
    assert!(app.tape_open());
    key(&mut app, KeyAction::Back);
    assert!(!app.tape_open());
    assert!(!app.should_quit());
    key(&mut app, KeyAction::Back);
    assert!(app.should_quit());
}

#[test]
fn t_on_the_watchlist_closes_it_to_show_the_tape() {
    let mut app = app_with_trades(setup(), 120, 40);
    key(&mut app, KeyAction::ToggleWatchlist);
    assert!(app.watchlist().is_open());
    key(&mut app, KeyAction::ToggleTape);
    assert!(!app.watchlist().is_open());
    assert!(app.tape_open());
    key(&mut app, KeyAction::ToggleWatchlist);
    key(&mut app, KeyAction::ToggleTape);
    assert!(
        app.tape_open(),
        "t on the watchlist shows the tape, never hides it"
    );
}

#[test]
fn trades_per_second_come_from_the_products_trade_counter() {
    let app = app_with_trades(setup(), 120, 40);
    assert_eq!(app.trade_rate("BTC-USD"), Some(300.0));
    assert_eq!(app.trade_rate("ETH-USD"), None, "only the product shown");
    assert!(row(&app, 37).contains("trades/s 300"), "{}", row(&app, 37));
}

#[test]
fn the_minute_volume_is_none_once_the_last_trade_is_a_minute_old() {
    let mut app = app_with_trades(setup(), 120, 40);
    assert!(!row(&app, 37).contains("1m buy 0  sell 0"));
    app.update(Action::Tick {
        now_ms: T0 + 60_000,
    });
    assert!(
        row(&app, 37).contains("1m buy 0  sell 0"),
        "{}",
        row(&app, 37)
    );
}

#[test]
fn the_watchlist_sorts_by_last_price_and_24h_change() {
    let mut app = app_with_trades(setup(), 120, 40);
    key(&mut app, KeyAction::ToggleWatchlist);
    // # product health spread-bps spread mid upd/s levels bid last 24h
    for _ in 0..9 {
        key(&mut app, KeyAction::CycleSort);
    }
    assert_eq!(app.watchlist().sort().0.label(), "last");
    assert_eq!(app.watchlist().order(), [0, 1], "BTC's price is the higher");
    key(&mut app, KeyAction::CycleSort);
    assert_eq!(app.watchlist().sort().0.label(), "24h");
    assert_eq!(
        app.watchlist().order(),
        [1, 0],
        "ETH +2.5% before BTC -1.23%"
    );
}

#[test]
fn a_tape_opened_while_paused_shows_the_first_view_that_has_it() {
    // Before `t` the feed sent no tape and no volume at price.
    let mut bare = trades_view();
    bare.products[0].market.tape.clear();
    bare.products[0].market.volume_at_price.clear();
    let (mut app, _) = app_with(setup(), 120, 40, bare);
    key(&mut app, KeyAction::TogglePause);
    key(&mut app, KeyAction::ToggleTape);
    assert!(screen(&app).contains("waiting for the trades…"));
    // The feed's answer: the frozen product is frozen again from it.
    app.update(Action::View(Arc::new(trades_view())));
    let text = screen(&app);
    assert!(text.contains(&time_text(T0 - 150)), "{text}");
    assert!(app.paused());
    // The same for the volume columns.
    let mut app = app_with(setup(), 120, 40, {
        let mut v = trades_view();
        v.products[0].market.volume_at_price.clear();
        v
    })
    .0;
    key(&mut app, KeyAction::TogglePause);
    key(&mut app, KeyAction::ToggleVolume);
    app.update(Action::View(Arc::new(trades_view())));
    let shown = app.shown_product().unwrap();
    assert!(!shown.market.volume_at_price.is_empty());
}
