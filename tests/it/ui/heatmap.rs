//! The heatmap pane: whole screens (live, after a gap, mono) at two sizes from a feed core fed
//! a made-up minute and a half of market, and its keys.

use std::sync::Arc;

use cbbook::app::{Action, App, KeyAction};
use cbbook::config::{DisplaySettings, ThemeName, TimeDisplay};
use cbbook::feed::core::FeedCore;
use cbbook::feed::events::FeedCommand;
use ratatui::style::Color;

use crate::support::ui::{ENDPOINT, T0, buffer, key, screen, setup};

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];
/// The market runs from here for [`SECONDS`] seconds, ending at T0.
const SECONDS: i64 = 90;

fn l2(seq: u64, kind: &str, levels: &[(String, String, String)]) -> String {
    let updates: Vec<String> = levels
        .iter()
        .map(|(side, price, qty)| {
            format!(r#"{{"side":"{side}","event_time":"2026-01-01T00:00:00Z","price_level":"{price}","new_quantity":"{qty}"}}"#)
        })
        .collect();
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{}]}}]}}"#,
        updates.join(",")
    )
}

fn heartbeat(seq: u64) -> String {
    format!(
        r#"{{"channel":"heartbeats","sequence_num":{seq},"events":[{{"heartbeat_counter":{seq}}}]}}"#
    )
}

fn trade(seq: u64, id: u64, price: &str, size: &str, maker_side: &str) -> String {
    format!(
        r#"{{"channel":"market_trades","sequence_num":{seq},"events":[{{"type":"update","trades":[{{"trade_id":"{id}","product_id":"BTC-USD","price":"{price}","size":"{size}","side":"{maker_side}","time":"2026-01-01T00:00:00Z"}}]}}]}}"#
    )
}

/// The book at second `s`: the mid wanders by a few cents; a wall of 40 rests at 99.80 until
/// second 60, when it is pulled.
fn book_at(s: i64) -> Vec<(String, String, String)> {
    let mid_cents = 10_000 + ((s * 7) % 13 - 6);
    let mut levels = Vec::new();
    for k in 1..=45i64 {
        let size = 1 + (k * 3 + s) % 7;
        let bid = mid_cents - k;
        let ask = mid_cents + k;
        let bid_size = if bid == 9_980 && s < 60 { 40 } else { size };
        levels.push(("bid".into(), cents(bid), bid_size.to_string()));
        levels.push(("offer".into(), cents(ask), (size + 1).to_string()));
    }
    levels
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// A viewer with the heatmap open over a core that saw the market; `gap`: the sequence jumps at
/// second 40 and no snapshot comes until second 50.
fn heatmap_app(width: u16, height: u16, theme: ThemeName, gap: bool) -> App {
    let mut s = setup();
    s.display = DisplaySettings {
        time: TimeDisplay::Utc,
        theme,
        ..DisplaySettings::default()
    };
    let start = T0 - SECONDS * 1_000;
    let mut app = App::new(s, start);
    app.update(cbbook::ui::resize(width, height));
    let commands = key(&mut app, KeyAction::ToggleHeatmap);
    let request = commands
        .iter()
        .rev()
        .find_map(|c| match c {
            FeedCommand::SetView(r) => Some(r.clone()),
            _ => None,
        })
        .expect("opening the pane asks the feed for the heatmap");
    assert!(request.heatmap.is_some());
    let products = ["BTC-USD".to_string(), "ETH-USD".to_string()];
    let mut core = FeedCore::new(ENDPOINT, &products, false, start);
    core.connection_started(start, false);
    core.heat_follow(&request);
    let mut seq = 0;
    for s in 0..SECONDS {
        let t = start + s * 1_000 + 300;
        let frame = if gap && (40..50).contains(&s) {
            if s == 40 {
                seq += 5;
            }
            heartbeat(seq)
        } else {
            l2(seq, "snapshot", &book_at(s))
        };
        core.on_frame(&frame, t);
        seq += 1;
        if s % 3 == 0 {
            let mid = 10_000 + ((s * 7) % 13 - 6);
            let (price, side) = if s % 2 == 0 {
                (mid + 1, "SELL")
            } else {
                (mid - 1, "BUY")
            };
            let size = format!("{}.5", s % 4);
            core.on_frame(&trade(seq, s as u64, &cents(price), &size, side), t + 100);
            seq += 1;
        }
    }
    core.on_frame(&heartbeat(seq), T0);
    let view = core.view(&request, T0);
    app.update(Action::Tick { now_ms: T0 });
    app.update(Action::View(Arc::new(view)));
    app
}

#[test]
fn heatmap_live() {
    for (w, h) in SIZES {
        let app = heatmap_app(w, h, ThemeName::Dark, false);
        insta::assert_snapshot!(format!("heatmap_live_{w}x{h}"), screen(&app));
    }
}

#[test]
fn heatmap_after_a_gap() {
    for (w, h) in SIZES {
        let app = heatmap_app(w, h, ThemeName::Dark, true);
        let text = screen(&app);
        assert!(text.contains('╱'), "the gap's columns are hatched:\n{text}");
        insta::assert_snapshot!(format!("heatmap_gap_{w}x{h}"), text);
    }
}

#[test]
fn heatmap_mono() {
    for (w, h) in SIZES {
        let app = heatmap_app(w, h, ThemeName::Mono, false);
        let buf = buffer(&app);
        assert!(
            buf.content()
                .iter()
                .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
            "mono draws no colour"
        );
        insta::assert_snapshot!(format!("heatmap_mono_{w}x{h}"), screen(&app));
    }
}

#[test]
fn the_pane_colours_bids_and_asks_and_marks_trades() {
    let app = heatmap_app(120, 40, ThemeName::Dark, false);
    let buf = buffer(&app);
    let rgb = |c: Color| matches!(c, Color::Rgb(..));
    let coloured = buf
        .content()
        .iter()
        .filter(|c| rgb(c.fg) || rgb(c.bg))
        .count();
    assert!(coloured > 1_000, "a coloured picture: {coloured} cells");
    let markers = buf
        .content()
        .iter()
        .filter(|c| ["·", "•", "●"].contains(&c.symbol()))
        .count();
    assert!(markers >= 10, "the trades are marked: {markers}");
}

#[test]
fn keys_open_close_and_change_the_time_per_column() {
    let mut app = heatmap_app(120, 40, ThemeName::Dark, false);
    assert!(app.heatmap().is_open());
    let before = app.view_request().heatmap.unwrap().samples;
    key(&mut app, KeyAction::HeatmapCoarser);
    assert_eq!(app.heatmap().column_ms(), 2_000);
    assert_eq!(app.view_request().heatmap.unwrap().samples, before * 2);
    assert!(screen(&app).contains("2s/col"));
    key(&mut app, KeyAction::HeatmapFiner);
    key(&mut app, KeyAction::HeatmapFiner);
    assert_eq!(app.heatmap().column_ms(), 500);
    assert!(screen(&app).contains("500ms/col"));
    key(&mut app, KeyAction::Back);
    assert!(!app.heatmap().is_open());
    assert_eq!(
        app.view_request().heatmap,
        None,
        "closed: no history shipped"
    );
}
