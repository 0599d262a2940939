//! Colours and emphasis that the text snapshots cannot show: sides, badges, flashes, dimming.

use crate::support::ui as ui_fixtures;

use std::sync::Arc;

use cbbook::app::{Action, KeyAction};
use cbbook::config::DisplaySettings;
use cbbook::ui::theme::{Theme, ThemeName};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use ui_fixtures::*;

/// The first cell where `text` starts on screen.
fn find(buf: &Buffer, text: &str) -> (u16, u16) {
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(text) {
            let x = row[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("`{text}` is not on screen");
}

fn style_at(buf: &Buffer, text: &str) -> Style {
    let (x, y) = find(buf, text);
    buf[(x, y)].style()
}

#[test]
fn asks_and_bids_have_their_colours_and_badges_theirs() {
    let app = app(80, 24, live_view());
    let theme = Theme::new(ThemeName::Dark);
    let buf = buffer(&app);
    assert_eq!(style_at(&buf, "64930.51").fg, theme.ask.fg, "best ask");
    assert_eq!(
        style_at(&buf, "64930.50  0.00422106").fg,
        theme.bid.fg,
        "best bid"
    );
    assert_eq!(style_at(&buf, " LIVE ").bg, Some(Color::Green));
    assert_ne!(theme.ask.fg, theme.bid.fg);
}

#[test]
fn a_changed_level_is_drawn_in_the_flash_style() {
    let mut app = app(80, 24, live_view());
    let mut next = live_view();
    next.products[0].bids[1].size += dec("1");
    let price = next.products[0].bids[1].price.to_string();
    app.update(Action::View(Arc::new(next)));
    let buf = buffer(&app);
    assert!(
        style_at(&buf, &price)
            .add_modifier
            .contains(Modifier::REVERSED)
    );
    assert!(
        !style_at(&buf, "64930.50  0.00422106")
            .add_modifier
            .contains(Modifier::REVERSED),
        "unchanged rows are plain"
    );
}

#[test]
fn a_suspect_book_is_dimmed() {
    let app = app(80, 24, resync_view());
    let theme = Theme::new(ThemeName::Dark);
    let buf = buffer(&app);
    assert_eq!(style_at(&buf, "64930.51").fg, theme.dim.fg);
    assert_eq!(style_at(&buf, " RESYNC ").bg, Some(Color::Magenta));
}

#[test]
fn mono_draws_without_colour() {
    let mut s = setup();
    s.display = DisplaySettings {
        theme: ThemeName::Mono,
        ..DisplaySettings::default()
    };
    let (mut app, _) = app_with(s, 80, 24, live_view());
    key(&mut app, KeyAction::ToggleHelp);
    let buf = buffer(&app);
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "coloured cell in mono: {cell:?}"
        );
    }
}

#[test]
fn light_theme_never_draws_white_text() {
    let mut s = setup();
    s.display = DisplaySettings {
        theme: ThemeName::Light,
        ..DisplaySettings::default()
    };
    let (app, _) = app_with(s, 120, 40, live_view());
    let buf = buffer(&app);
    for cell in buf.content() {
        // White text is only readable on a coloured badge.
        if matches!(cell.fg, Color::White | Color::Gray) {
            assert!(
                !matches!(cell.bg, Color::Reset),
                "white on the page: {cell:?}"
            );
        }
    }
}

#[test]
fn a_resync_the_user_asked_for_is_not_drawn_as_a_warning() {
    let mut app = app(120, 40, live_view());
    let theme = Theme::new(ThemeName::Dark);
    key(&mut app, KeyAction::Resync);
    app.update(Action::Event(cbbook::feed::events::FeedEvent::Resync {
        at_ms: T0,
        products: vec!["BTC-USD".into(), "ETH-USD".into()],
    }));
    let buf = buffer(&app);
    let style = style_at(&buf, "resync: fresh snapshot for BTC-USD ETH-USD");
    assert_eq!(style.fg, theme.text.fg);
    assert_ne!(style.fg, theme.warn.fg);
}
