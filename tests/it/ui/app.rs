//! The viewer's behaviour through its pure core: actions in, commands and state out.

use crate::support::ui as ui_fixtures;

use std::collections::BTreeMap;
use std::sync::Arc;

use cbbook::app::{Action, App, FLASH_MS, Health, KeyAction, NOTICE_HOLD_MS, SidePane, health};
use cbbook::config::DisplaySettings;
use cbbook::feed::events::{BookState, ConnectionState, FeedCommand, FeedEvent, ViewRequest};
use ui_fixtures::*;

fn set_views(commands: &[FeedCommand]) -> Vec<ViewRequest> {
    commands
        .iter()
        .filter_map(|c| match c {
            FeedCommand::SetView(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn asks_for_the_rows_that_fit_and_again_on_resize() {
    let (mut app, commands) = app_with(setup(), 80, 24, live_view());
    assert_eq!(
        set_views(&commands),
        [ViewRequest {
            depth: 8,
            group_ticks: 1,
            chart_depth: 0,
            rows_for: Some("BTC-USD".into()),
            ..ViewRequest::default()
        }],
        "one request, sent once"
    );
    let commands = app.update(cbbook::ui::resize(120, 40));
    assert_eq!(set_views(&commands)[0].depth, 16);
    let commands = app.update(cbbook::ui::resize(100, 40));
    assert!(
        set_views(&commands).is_empty(),
        "same height: nothing new to ask"
    );
}

#[test]
fn depth_setting_caps_the_rows() {
    let mut s = setup();
    s.display = DisplaySettings {
        depth: Some(5),
        ..DisplaySettings::default()
    };
    let (_, commands) = app_with(s.clone(), 120, 40, live_view());
    assert_eq!(set_views(&commands)[0].depth, 5);
    let (_, commands) = app_with(s, 80, 16, live_view());
    assert_eq!(set_views(&commands)[0].depth, 4, "never more than fits");
}

/// The ladder's title row (the second row of the screen).
fn ladder_title(app: &App) -> String {
    let screen = screen(app);
    let row = screen.lines().nth(1).unwrap_or_default();
    row.trim_matches('"').trim_end().to_string()
}

/// BTC-USD with sizes of 0.1: rows that need narrower size and cumulative columns than the
/// fixture's eight-decimal ones.
fn whole_sizes(mut view: cbbook::feed::events::FeedView) -> cbbook::feed::events::FeedView {
    let product = &mut view.products[0];
    for side in [&mut product.bids, &mut product.asks] {
        let mut cum = rust_decimal::Decimal::ZERO;
        for row in side.iter_mut() {
            row.size = rust_decimal::Decimal::new(1, 1);
            cum += row.size;
            row.cum_size = cum;
        }
    }
    view
}

/// The screen's rows, unquoted.
fn rows(app: &App) -> Vec<String> {
    screen(app)
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

/// The rows of the next of a run of frames (the ladder's column memory carries over).
fn next_rows(frames: &mut Frames, app: &mut App) -> Vec<String> {
    frames
        .screen(app)
        .lines()
        .map(|l| l.trim_matches('"').to_string())
        .collect()
}

#[test]
fn ladder_columns_do_not_move_when_the_rows_need_less_room() {
    let (mut app, _) = app_with(setup(), 120, 40, live_view());
    let mut frames = Frames::default();
    let before = next_rows(&mut frames, &mut app);
    let header = before[2].clone();
    assert!(header.contains("size  cumulative"), "{header}");
    // The same header is drawn from scratch for the narrow rows alone: they do need less room.
    let (fresh, _) = app_with(setup(), 120, 40, whole_sizes(live_view()));
    assert_ne!(
        rows(&fresh)[2],
        header,
        "the narrow rows must need other widths"
    );

    app.update(Action::View(Arc::new(whole_sizes(live_view()))));
    let after = next_rows(&mut frames, &mut app);
    assert_eq!(after[2], header, "the header moved");
    // Every number still ends under its title: sizes keep their eight decimals, right-aligned.
    let size_end = header.find("size").unwrap() + "size".len();
    let cum_end = header.find("cumulative").unwrap() + "cumulative".len();
    let best_bid = after.iter().position(|r| r.contains("spread")).unwrap() + 1;
    let row = &after[best_bid];
    assert_eq!(&row[size_end - 11..size_end], " 0.10000000", "{row}");
    assert_eq!(&row[cum_end - 11..cum_end], " 0.10000000", "{row}");

    // A resize starts the layout afresh: the narrow rows get their own widths.
    app.update(cbbook::ui::resize(121, 40));
    assert_eq!(
        next_rows(&mut frames, &mut app)[2],
        rows(&fresh)[2].clone() + " "
    );
}

#[test]
fn ladder_columns_survive_a_visit_to_a_product_at_another_grouping() {
    let (mut app, _) = app_with(setup(), 120, 40, live_view());
    let mut frames = Frames::default();
    let header = next_rows(&mut frames, &mut app)[2].clone();
    // On ETH-USD grouped by 2, the feed sends every product at 2: BTC-USD's rows there are
    // narrow and at a grouping BTC-USD is not shown at.
    key(&mut app, KeyAction::NextProduct);
    key(&mut app, KeyAction::GroupCoarser);
    assert_eq!(
        (app.group_ticks_of("BTC-USD"), app.group_ticks_of("ETH-USD")),
        (1, 2)
    );
    let mut at_two = whole_sizes(live_view());
    for product in &mut at_two.products {
        product.group_ticks = 2;
    }
    app.update(Action::View(Arc::new(at_two)));
    next_rows(&mut frames, &mut app);
    // Back on BTC-USD: drawn at 2 ticks until the feed regroups, then at 1, where narrow rows
    // draw where the wide ones did.
    key(&mut app, KeyAction::SelectProduct(0));
    next_rows(&mut frames, &mut app);
    app.update(Action::View(Arc::new(whole_sizes(live_view()))));
    assert_eq!(
        next_rows(&mut frames, &mut app)[2],
        header,
        "the header moved"
    );
}

#[test]
fn level_counts_always_say_which_side_is_which() {
    let mut shown = 0;
    for width in 80..=200 {
        for pane in [false, true] {
            let (mut app, _) = app_with(setup(), width, 40, live_view());
            key(&mut app, KeyAction::GroupCoarser);
            if pane {
                key(&mut app, KeyAction::ToggleAuth);
            }
            let title = ladder_title(&app);
            let ladder = title.split('┌').next().unwrap_or_default();
            if ladder.contains("22,871") || ladder.contains("22,734") {
                shown += 1;
                let labelled = ladder.contains("22,871 bids · 22,734 asks")
                    || ladder.contains("22,871 bid/22,734 ask");
                assert!(labelled, "width {width}, pane {pane}: {ladder}");
            }
        }
    }
    assert!(shown > 100, "the counts were shown at {shown} layouts only");
}

#[test]
fn grouping_is_per_product() {
    let (mut app, _) = app_with(setup(), 120, 40, live_view());
    assert_eq!(
        set_views(&key(&mut app, KeyAction::GroupCoarser))[0].group_ticks,
        2
    );
    assert_eq!(
        set_views(&key(&mut app, KeyAction::GroupCoarser))[0].group_ticks,
        5
    );
    assert_eq!(
        (app.group_ticks_of("BTC-USD"), app.group_ticks_of("ETH-USD")),
        (5, 1)
    );

    // ETH-USD keeps its own grouping: switching asks the feed for it.
    let commands = key(&mut app, KeyAction::NextProduct);
    assert_eq!(set_views(&commands)[0].group_ticks, 1);
    assert_eq!(app.group_ticks(), 1);
    // Until the feed answers, the ETH-USD rows it has are grouped by 5, and the title says so.
    let mut stale = live_view();
    stale.products[1] = product_grouped("ETH-USD", "3456.75", "3456.80", "0.01", 5, 40);
    app.update(Action::View(Arc::new(stale)));
    let title = ladder_title(&app);
    assert!(title.contains("ETH-USD  group 0.05 (5 × 0.01) "), "{title}");
    assert!(title.ends_with("  → 1 tick…"), "{title}");
    app.update(Action::View(Arc::new(live_view())));
    let title = ladder_title(&app);
    assert!(title.contains("ETH-USD  tick 0.01 "), "{title}");
    assert!(!title.contains("group") && !title.contains('→'), "{title}");

    key(&mut app, KeyAction::GroupCoarser);
    assert_eq!(
        (app.group_ticks_of("BTC-USD"), app.group_ticks_of("ETH-USD")),
        (5, 2)
    );
    let commands = key(&mut app, KeyAction::SelectProduct(0));
    assert_eq!(set_views(&commands)[0].group_ticks, 5);
}

#[test]
fn the_configured_grouping_applies_to_each_product() {
    let mut s = setup();
    s.display.group_ticks = 10;
    let (mut app, commands) = app_with(s, 120, 40, live_view());
    assert_eq!(set_views(&commands)[0].group_ticks, 10);
    key(&mut app, KeyAction::GroupFiner);
    assert_eq!(
        (app.group_ticks_of("BTC-USD"), app.group_ticks_of("ETH-USD")),
        (5, 10)
    );
    let commands = key(&mut app, KeyAction::NextProduct);
    assert_eq!(set_views(&commands)[0].group_ticks, 10);
}

#[test]
fn grouping_steps_through_one_two_five_and_is_requested() {
    let mut app = app(80, 24, live_view());
    let mut groups = Vec::new();
    for _ in 0..4 {
        let commands = key(&mut app, KeyAction::GroupCoarser);
        groups.push(set_views(&commands)[0].group_ticks);
    }
    assert_eq!(groups, [2, 5, 10, 20]);
    let commands = key(&mut app, KeyAction::GroupFiner);
    assert_eq!(set_views(&commands)[0].group_ticks, 10);
    for _ in 0..5 {
        key(&mut app, KeyAction::GroupFiner);
    }
    assert_eq!(app.group_ticks(), 1, "never below one tick");
    assert!(set_views(&key(&mut app, KeyAction::GroupFiner)).is_empty());
}

#[test]
fn chart_asks_for_chart_rows() {
    let mut app = app(120, 40, live_view());
    let commands = key(&mut app, KeyAction::ToggleChart);
    assert_eq!(app.side_pane(), SidePane::Chart);
    assert!(set_views(&commands)[0].chart_depth > 0);
    let commands = key(&mut app, KeyAction::ToggleChart);
    assert_eq!(set_views(&commands)[0].chart_depth, 0);
}

#[test]
fn resync_key_sends_resync() {
    let mut app = app(80, 24, live_view());
    assert_eq!(key(&mut app, KeyAction::Resync), [FeedCommand::Resync]);
}

#[test]
fn esc_closes_overlays_before_quitting_and_q_always_quits() {
    let mut app = app(80, 24, live_view());
    key(&mut app, KeyAction::ToggleAuth);
    key(&mut app, KeyAction::ToggleHelp);
    key(&mut app, KeyAction::Back);
    assert!(!app.help_open());
    assert_eq!(app.side_pane(), SidePane::Auth);
    assert!(!app.should_quit());
    key(&mut app, KeyAction::Back);
    assert_eq!(app.side_pane(), SidePane::None);
    assert!(!app.should_quit());
    key(&mut app, KeyAction::Back);
    assert!(app.should_quit());

    let mut app = ui_fixtures::app(80, 24, live_view());
    key(&mut app, KeyAction::ToggleHelp);
    key(&mut app, KeyAction::Quit);
    assert!(app.should_quit(), "q quits even with help open");
}

#[test]
fn tabs_wrap_and_numbers_past_the_last_are_ignored() {
    let mut app = app(80, 24, live_view());
    assert_eq!(app.selected(), 0);
    key(&mut app, KeyAction::PrevProduct);
    assert_eq!(app.selected(), 1);
    key(&mut app, KeyAction::NextProduct);
    assert_eq!(app.selected(), 0);
    key(&mut app, KeyAction::SelectProduct(1));
    assert_eq!(app.selected(), 1);
    assert_eq!(app.shown_product().unwrap().product, "ETH-USD");
    key(&mut app, KeyAction::SelectProduct(5));
    assert_eq!(app.selected(), 1);
}

#[test]
fn pause_freezes_the_book_but_not_the_health() {
    let mut app = app(80, 24, live_view());
    key(&mut app, KeyAction::TogglePause);
    let mut next = live_view();
    next.products[0].bids[0].size = dec("9.5");
    next.products[0].state = BookState::Desynced;
    app.update(Action::View(Arc::new(next)));
    let shown = app.shown_product().unwrap();
    assert_ne!(shown.bids[0].size, dec("9.5"), "the ladder stays as it was");
    assert_eq!(
        app.health_of(0),
        Health::Resync,
        "the badge follows the feed"
    );
    key(&mut app, KeyAction::TogglePause);
    assert_eq!(app.shown_product().unwrap().bids[0].size, dec("9.5"));
}

#[test]
fn changed_levels_flash_then_fade() {
    let mut app = app(80, 24, live_view());
    let before = live_view();
    let mut next = live_view();
    let changed_bid = next.products[0].bids[2].price;
    let changed_ask = next.products[0].asks[0].price;
    next.products[0].bids[2].size += dec("1");
    next.products[0].asks[0].size = dec("0.5");
    app.update(Action::View(Arc::new(next)));
    assert!(app.is_lit(true, &changed_bid));
    assert!(app.is_lit(false, &changed_ask));
    assert!(
        !app.is_lit(true, &before.products[0].bids[0].price),
        "unchanged"
    );
    assert!(!app.is_lit(false, &changed_bid), "sides are separate");

    app.update(Action::Tick {
        now_ms: T0 + FLASH_MS - 1,
    });
    assert!(app.is_lit(true, &changed_bid));
    app.update(Action::Tick {
        now_ms: T0 + FLASH_MS,
    });
    assert!(!app.is_lit(true, &changed_bid), "faded");
}

#[test]
fn only_a_flash_on_screen_asks_for_a_redraw_when_it_fades() {
    // Product 0 (BTC-USD) is shown; a change to `changed` flashes until T0 + FLASH_MS.
    for (changed, redraw) in [(1, false), (0, true)] {
        let mut app = app(80, 24, live_view());
        let mut next = live_view();
        next.products[changed].bids[0].size += dec("1");
        app.update(Action::View(Arc::new(next)));
        // Drawn just before the flash ends, in the same clock period as its end.
        app.update(Action::Tick {
            now_ms: T0 + FLASH_MS - 1,
        });
        app.drawn();
        app.update(Action::Tick {
            now_ms: T0 + FLASH_MS,
        });
        assert_eq!(app.needs_draw(), redraw, "product {changed}");
    }
}

#[test]
fn rows_that_only_scroll_into_view_or_regroup_do_not_flash() {
    let mut app = app(80, 24, live_view());
    // The best bid is removed: every row moves up one and a new worst row appears.
    let mut next = live_view();
    next.products[0].bids.remove(0);
    let scrolled_in = next.products[0].bids.last().unwrap().price;
    let moved = next.products[0].bids[0].price;
    app.update(Action::View(Arc::new(next)));
    assert!(!app.is_lit(true, &scrolled_in));
    assert!(!app.is_lit(true, &moved));

    let mut grouped = live_view();
    grouped.products[0] = product_grouped("BTC-USD", "64930.50", "64930.55", "0.01", 5, 40);
    let price = grouped.products[0].bids[0].price;
    app.update(Action::View(Arc::new(grouped)));
    assert!(
        !app.is_lit(true, &price),
        "a new grouping is not a market change"
    );
}

#[test]
fn draws_only_when_something_changed() {
    let mut app = app(80, 24, live_view());
    assert!(app.needs_draw());
    app.drawn();
    app.update(Action::Tick { now_ms: T0 + 10 });
    assert!(!app.needs_draw(), "10 ms later, nothing on screen differs");
    app.update(Action::Tick { now_ms: T0 + 260 });
    assert!(app.needs_draw(), "ages on screen move on");
    app.drawn();
    app.update(Action::View(Arc::new(live_view())));
    assert!(app.needs_draw(), "a new view");
    app.drawn();
    key(&mut app, KeyAction::ToggleHelp);
    assert!(app.needs_draw(), "a key");
}

#[test]
fn rates_come_from_counter_differences() {
    let app = app(80, 24, live_view());
    // The fixture's earlier view is 1 s older with 52 fewer frames and 1,310 fewer updates.
    let (msgs, updates) = app.rates().per_second(app.now_ms()).unwrap();
    assert!((msgs - 52.0).abs() < 1e-9, "{msgs}");
    assert!((updates - 1310.0).abs() < 1e-9, "{updates}");
    // Nothing for two seconds: the rates fall to zero instead of freezing.
    let (msgs, _) = app.rates().per_second(app.now_ms() + 2_000).unwrap();
    assert_eq!(msgs, 0.0);
}

#[test]
fn badges_follow_connection_book_age_and_auth() {
    let at = |view: &cbbook::feed::events::FeedView, i: usize, now: i64| {
        health(view, &view.products[i], now)
    };
    assert_eq!(at(&connecting_view(), 0, T0), Health::Connecting);
    assert_eq!(at(&live_view(), 0, T0), Health::Live);
    // The last frame came 150 ms before T0; stale after 3 s without one.
    assert_eq!(at(&live_view(), 0, T0 + 2_850), Health::Live);
    assert_eq!(at(&live_view(), 0, T0 + 2_851), Health::Stale);
    assert_eq!(at(&resync_view(), 0, T0), Health::Resync);
    assert_eq!(at(&resync_view(), 1, T0), Health::Live);
    assert_eq!(at(&reconnecting_view(), 0, T0), Health::Down);
    let refused = auth_refused_view("key_unknown: no such key");
    assert_eq!(at(&refused, 0, T0), Health::AuthError);

    // After a fallback to the public feed the key error no longer blocks the book.
    let mut fell_back = refused.clone();
    fell_back.auth.fell_back_to_public = true;
    assert_eq!(at(&fell_back, 0, T0), Health::Connecting);

    // An error from an earlier connection does not count.
    let mut old_error = refused.clone();
    old_error.stats.connected_since_ms = Some(T0);
    assert_eq!(at(&old_error, 0, T0), Health::Connecting);

    // A product the server refused to subscribe is down.
    let mut unknown = connecting_view();
    unknown.connection = ConnectionState::Subscribed;
    unknown.products[1] = waiting("FOO-BAR");
    unknown.auth.last_error = Some(cbbook::feed::events::ServerError {
        raw: String::new(),
        message: "failure to subscribe".into(),
        reason: Some("FOO-BAR is not a valid product".into()),
        at_ms: T0,
    });
    assert_eq!(at(&unknown, 1, T0), Health::Down);
    // The server refused the whole level2 subscribe (it names every product): nothing comes
    // for the other products either.
    assert_eq!(at(&unknown, 0, T0), Health::Down);
    // Had it acknowledged level2 for the others, they would be waiting for their snapshot.
    unknown.auth.acknowledged = acknowledged();
    assert_eq!(at(&unknown, 0, T0), Health::Connecting);
    assert_eq!(at(&unknown, 1, T0), Health::Down);

    // A replay does not go stale with the wall clock.
    let mut replay = live_view();
    replay.connection = ConnectionState::Replaying;
    assert_eq!(at(&replay, 0, T0 + 60_000), Health::Live);
    replay.connection = ConnectionState::Finished;
    assert_eq!(at(&replay, 0, T0), Health::Down);
}

#[test]
fn before_any_view_the_configured_products_show() {
    let mut app = App::new(setup(), T0);
    app.update(cbbook::ui::resize(80, 24));
    let screen = screen(&app);
    assert!(screen.contains("1 BTC-USD"), "{screen}");
    assert!(screen.contains("CONNECTING"), "{screen}");
    assert!(
        screen.contains("connecting to wss://advanced-trade-ws.coinbase.com"),
        "{screen}"
    );
}

#[test]
fn feed_closed_is_shown() {
    let mut app = app(80, 24, live_view());
    app.update(Action::FeedClosed);
    assert!(screen(&app).contains("Feed stopped"));
}

#[test]
fn a_replay_measures_time_in_recorded_time() {
    // The wall clock is a day past the recording: nothing may be measured against it.
    let mut app = app_with(replay_setup(), 120, 40, replay_view()).0;
    app.update(Action::Tick { now_ms: T0 + 5_000 });
    assert_eq!(app.clock_ms(), R0);
    assert_eq!(app.health_of(0), Health::Live);
    let (msgs, _) = app.rates().per_second(app.clock_ms()).unwrap();
    assert_eq!(msgs, 52.0, "rates per recorded second");
    let screen = screen(&app);
    assert!(screen.contains("age 150ms"), "{screen}");
    assert!(screen.contains("up 01:00:00"), "{screen}");
    assert!(
        screen.contains("Replaying at 2025-12-30 23:59:59 UTC"),
        "{screen}"
    );
    assert!(!screen.contains("DOWN"), "{screen}");

    // Live, the same view would be measured against the wall clock.
    let mut live = app_with(setup(), 120, 40, replay_view()).0;
    live.update(Action::Tick { now_ms: T0 + 5_000 });
    assert_eq!(live.clock_ms(), T0 + 5_000);
}

#[test]
fn a_finished_replay_is_the_end_not_down() {
    let mut app = app_with(replay_setup(), 120, 40, replay_view()).0;
    app.update(Action::View(Arc::new(replay_finished_view())));
    app.update(Action::Event(FeedEvent::Finished { at_ms: R0 }));
    assert_eq!(app.health_of(0), Health::Ended);
    assert_eq!(app.health_of(1), Health::Ended);
    let screen = screen(&app);
    assert!(screen.contains(" END "), "{screen}");
    assert!(screen.contains("END of the recording"), "{screen}");
    assert!(screen.contains("Replay finished"), "{screen}");
    assert!(
        screen.contains("replay finished: the end of the recording"),
        "{screen}"
    );
    assert!(!screen.contains("DOWN"), "{screen}");
    assert!(!screen.contains("not connected"), "{screen}");

    // A live feed that finishes is down.
    let mut live = ui_fixtures::app(120, 40, live_view());
    let mut finished = live_view();
    finished.connection = ConnectionState::Finished;
    live.update(Action::View(Arc::new(finished)));
    assert_eq!(live.health_of(0), Health::Down);
}

#[test]
fn a_recording_cannot_be_resynced() {
    let mut app = app_with(replay_setup(), 80, 24, replay_view()).0;
    assert!(key(&mut app, KeyAction::Resync).is_empty());
    let screen = screen(&app);
    assert!(
        screen.contains("a recording cannot be resynced"),
        "{screen}"
    );
    assert!(
        !screen.contains("r resync"),
        "no footer hint for it: {screen}"
    );
}

#[test]
fn another_key_closes_help_and_acts() {
    let mut app = app(120, 40, live_view());
    key(&mut app, KeyAction::ToggleHelp);
    key(&mut app, KeyAction::ToggleChart);
    assert!(!app.help_open(), "what the key did is in sight");
    assert_eq!(app.side_pane(), SidePane::Chart);
    key(&mut app, KeyAction::ToggleHelp);
    key(&mut app, KeyAction::ToggleHelp);
    assert!(!app.help_open(), "? closes help");
}

fn notice_text(app: &App) -> String {
    let screen = screen(app);
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len() - 2].trim_matches('"').trim().to_string()
}

#[test]
fn the_retry_notice_keeps_the_reason_and_a_reconnect_settles_it() {
    let mut app = app(120, 40, reconnecting_view());
    app.update(Action::Event(FeedEvent::Disconnected {
        at_ms: T0,
        reason: "no frame for 5 s (watchdog)".into(),
    }));
    app.update(Action::Event(FeedEvent::Reconnecting {
        at_ms: T0,
        in_ms: 300,
        attempt: 1,
    }));
    assert!(
        notice_text(&app)
            .ends_with("disconnected: no frame for 5 s (watchdog); retrying (attempt 1)"),
        "{}",
        notice_text(&app)
    );
    // The next attempt starting is routine: the reason stays.
    app.update(Action::Event(FeedEvent::Connecting {
        at_ms: T0 + 300,
        url: ENDPOINT.into(),
        attempt: 2,
    }));
    assert!(
        notice_text(&app).contains("watchdog"),
        "{}",
        notice_text(&app)
    );
    // Connected settles it.
    app.update(Action::Event(FeedEvent::Connected {
        at_ms: T0 + 400,
        url: ENDPOINT.into(),
    }));
    assert!(
        notice_text(&app).ends_with(&format!("connected to {ENDPOINT}")),
        "{}",
        notice_text(&app)
    );
    // A later retry without a new loss says only that.
    app.update(Action::Event(FeedEvent::Reconnecting {
        at_ms: T0 + 500,
        in_ms: 300,
        attempt: 1,
    }));
    assert!(notice_text(&app).ends_with("reconnecting in 300ms (attempt 1)"));
}

#[test]
fn the_fallback_notice_is_not_hidden_by_the_second_refusal() {
    let mut app = app_with(keyed_setup(), 120, 40, live_view()).0;
    let refusal = |at_ms| FeedEvent::ErrorFrame {
        at_ms,
        message: "authentication failure".into(),
        reason: Some("key_unknown: no such key".into()),
    };
    app.update(Action::Event(FeedEvent::AuthRejected {
        at_ms: T0,
        channel: "level2".into(),
        message: "authentication failure".into(),
        reason: Some("key_unknown: no such key".into()),
    }));
    app.update(Action::Event(FeedEvent::FellBackToPublic { at_ms: T0 }));
    app.update(Action::Event(refusal(T0 + 1)));
    assert!(
        notice_text(&app).ends_with("key refused: using the public level2 feed; press a for why"),
        "{}",
        notice_text(&app)
    );
    // Another kind of error still shows.
    app.update(Action::Event(FeedEvent::ErrorFrame {
        at_ms: T0 + 2,
        message: "failure to subscribe".into(),
        reason: Some("FOO-BAR is not a valid product".into()),
    }));
    assert!(
        notice_text(&app).contains("FOO-BAR"),
        "{}",
        notice_text(&app)
    );
}

#[test]
fn trouble_counters_show_only_when_not_zero() {
    let rule = |app: &App| {
        let screen = screen(app);
        screen
            .lines()
            .find(|l| l.starts_with("\"──"))
            .unwrap()
            .to_string()
    };
    let quiet = app(120, 40, live_view());
    for word in ["bad", "stale", "ignored", "broken", "dropped"] {
        assert!(!rule(&quiet).contains(word), "{}", rule(&quiet));
    }
    let mut view = live_view();
    view.stats.broken_lines = 3;
    view.stats.events_dropped = 7;
    let loud = app(120, 40, view.clone());
    assert!(rule(&loud).contains("broken lines 3"), "{}", rule(&loud));
    assert!(rule(&loud).contains("events dropped 7"), "{}", rule(&loud));
    // Narrow: labels shorten, zero counters go before any non-zero one does.
    view.stats.stale_frames = 100;
    view.stats.ignored_updates = 200;
    view.stats.bad_frames = 3;
    let narrow = app(60, 20, view);
    let line = rule(&narrow);
    for part in ["bad 3", "stale 100", "ignored 200", "broken 3", "dropped 7"] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!line.contains("gaps 0"), "{line}");
}

#[test]
fn a_long_notice_is_cut_with_an_ellipsis_and_drops_the_endpoint() {
    let mut app = app(80, 24, reconnecting_view());
    app.update(Action::Event(FeedEvent::Disconnected {
        at_ms: T0,
        reason: format!(
            "cannot connect to {ENDPOINT}: IO error: Connection refused (os error 111)"
        ),
    }));
    app.update(Action::Event(FeedEvent::Reconnecting {
        at_ms: T0,
        in_ms: 300,
        attempt: 7,
    }));
    let text = notice_text(&app);
    assert!(
        text.contains("disconnected: cannot connect: IO error: Connection refused"),
        "{text}"
    );
    assert!(!text.contains(ENDPOINT), "{text}");
    let wide = {
        let mut app = app;
        app.update(cbbook::ui::resize(120, 40));
        notice_text(&app)
    };
    assert!(wide.ends_with("; retrying (attempt 7)"), "{wide}");
    let mut narrow = ui_fixtures::app(60, 20, reconnecting_view());
    narrow.update(Action::Event(FeedEvent::Disconnected {
        at_ms: T0,
        reason: "x".repeat(100),
    }));
    let text = notice_text(&narrow);
    assert!(text.ends_with('…'), "{text}");
}

#[test]
fn a_recorded_outage_is_down_in_replay_too() {
    let mut view = replay_view();
    view.stats.connected_since_ms = None;
    for product in &mut view.products {
        product.state = BookState::Desynced;
    }
    let mut app = app_with(replay_setup(), 120, 40, view.clone()).0;
    app.update(Action::Event(FeedEvent::Disconnected {
        at_ms: R0 - 100,
        reason: "the server closed the connection".into(),
    }));
    assert_eq!(app.health_of(0), Health::Down);
    let screen = screen(&app);
    assert!(
        screen.contains("DOWN: the recorded connection was lost here"),
        "{screen}"
    );
    assert!(!screen.contains(" up "), "{screen}");
    // The next recorded connection.
    view.stats.connected_since_ms = Some(R0);
    app.update(Action::View(Arc::new(view)));
    app.update(Action::Event(FeedEvent::Connected {
        at_ms: R0,
        url: RECORDING.into(),
    }));
    assert_eq!(app.health_of(0), Health::Resync);
    assert!(notice_text(&app).ends_with("a recorded connection opens"));
    // Before the first recorded frame nothing was lost yet.
    let mut start = replay_view();
    start.stats = cbbook::feed::events::FeedStats::default();
    let app = app_with(replay_setup(), 120, 40, start).0;
    assert_eq!(app.health_of(0), Health::Live);
}

#[test]
fn the_rates_line_fits_narrow_terminals_and_keeps_the_age() {
    let line = |width, height| {
        let app = app(width, height, live_view());
        let screen = screen(&app);
        let lines: Vec<&str> = screen.lines().collect();
        lines[lines.len() - 3]
            .trim_matches('"')
            .trim_end()
            .to_string()
    };
    let wide = line(120, 40);
    for part in [
        "msg/s",
        "upd/s",
        "seq 4180",
        "hb 75497",
        "age 150ms",
        "latency 34ms",
    ] {
        assert!(wide.contains(part), "{part}: {wide}");
    }
    let narrow = line(60, 20);
    assert!(narrow.contains("age 150ms"), "{narrow}");
    assert!(
        narrow.contains("latency 34ms"),
        "whole items only: {narrow}"
    );
    assert!(!narrow.contains("hb"), "{narrow}");
    assert!(narrow.chars().count() <= 60);
}

#[test]
fn a_refused_level2_subscribe_says_why_every_product_is_down() {
    let mut view = connecting_view();
    view.connection = ConnectionState::Subscribed;
    view.products.insert(1, waiting("FOO-BAR"));
    view.stats.connected_since_ms = Some(T0 - 2_000);
    view.auth.acknowledged =
        BTreeMap::from([("heartbeats".to_string(), vec!["heartbeats".to_string()])]);
    view.auth.last_error = Some(cbbook::feed::events::ServerError {
        raw: String::new(),
        message: "failure to subscribe".into(),
        reason: Some("FOO-BAR is not a valid product".into()),
        at_ms: T0 - 1_900,
    });
    let mut app = app(80, 24, view);
    let screen = screen(&app);
    assert!(screen.contains("BTC-USD: not available"), "{screen}");
    assert!(
        screen.contains("start cbbook without the product it names"),
        "{screen}"
    );
    assert_eq!(app.health_of(2), Health::Down);
    key(&mut app, KeyAction::SelectProduct(1));
    let screen = ui_fixtures::screen(&app);
    assert!(screen.contains("FOO-BAR: not available"), "{screen}");
    assert!(
        screen.contains("failure to subscribe: FOO-BAR is not a valid product"),
        "{screen}"
    );
    assert!(screen.contains("start cbbook without FOO-BAR"), "{screen}");
}

#[test]
fn a_gap_stays_on_the_notice_line_through_the_resync_it_causes() {
    let mut app = app(120, 40, live_view());
    app.update(Action::Event(FeedEvent::Gap {
        at_ms: T0,
        expected: 4120,
        got: 4125,
    }));
    app.update(Action::Event(FeedEvent::Resync {
        at_ms: T0,
        products: vec!["BTC-USD".into(), "ETH-USD".into()],
    }));
    app.update(Action::Event(FeedEvent::Snapshot {
        at_ms: T0 + 50,
        product: "BTC-USD".into(),
        bids: 10,
        asks: 10,
    }));
    app.update(Action::Tick {
        now_ms: T0 + NOTICE_HOLD_MS - 1,
    });
    assert!(
        notice_text(&app).ends_with("sequence gap: expected 4120, got 4125; resyncing"),
        "{}",
        notice_text(&app)
    );
}

fn rates_line(app: &App) -> String {
    let screen = screen(app);
    let lines: Vec<&str> = screen.lines().collect();
    lines[lines.len() - 3].trim_matches('"').to_string()
}

#[test]
fn an_ended_replay_shows_no_uptime_no_rates_no_age_and_ages_key_notices_by_the_wall_clock() {
    let mut app = app_with(replay_setup(), 120, 40, replay_view()).0;
    app.update(Action::Tick { now_ms: T0 });
    // Under way: rates and age as recorded.
    assert!(
        rates_line(&app).contains("msg/s 52.0"),
        "{}",
        rates_line(&app)
    );
    app.update(Action::View(Arc::new(replay_finished_view())));
    app.update(Action::Event(FeedEvent::Finished { at_ms: R0 }));
    app.update(Action::Tick { now_ms: T0 + 4_000 });
    let screen = screen(&app);
    assert!(
        !screen.contains(" up "),
        "the recorded connection is over:\n{screen}"
    );
    let rates = rates_line(&app);
    assert!(rates.contains("msg/s 0  upd/s 0"), "{rates}");
    assert!(rates.contains("age -"), "{rates}");
    let notice = notice_text(&app);
    assert!(
        notice == "replay finished: the end of the recording",
        "no frozen `0ms ago`: {notice}"
    );
    // The user's own key press is aged by the wall clock.
    key(&mut app, KeyAction::Resync);
    app.update(Action::Tick { now_ms: T0 + 6_000 });
    let notice = notice_text(&app);
    assert!(
        notice.starts_with("2.0s ago  a recording cannot be resynced"),
        "{notice}"
    );
}

#[test]
fn help_lists_every_badge_end_too() {
    let mut app = app(120, 40, live_view());
    key(&mut app, KeyAction::ToggleHelp);
    let screen = screen(&app);
    for badge in [
        "LIVE",
        "CONNECTING",
        "STALE",
        "RESYNC",
        "AUTH-ERR",
        "DOWN",
        "END ",
    ] {
        assert!(screen.contains(&format!(" {badge}")), "{badge}:\n{screen}");
    }
    assert!(screen.contains("replay over"), "{screen}");
}

/// The footer row of a screen, without TestBackend's quotes.
fn footer(screen: &str) -> String {
    let last = screen.lines().last().unwrap_or_default();
    last.trim_matches('"').trim_end().to_string()
}

#[test]
fn the_footer_shows_every_hint_or_says_there_are_more() {
    let every = [
        "q quit",
        "? help",
        "←→ product",
        "+- group",
        "a auth",
        "d depth",
        "p pause",
        "r resync",
    ];
    for width in [60, 61, 66, 74, 75, 80, 120] {
        let app = app(width, 24, live_view());
        let footer = footer(&screen(&app));
        let shown = every.iter().filter(|h| footer.contains(*h)).count();
        if shown < every.len() {
            assert!(
                footer.ends_with("? more"),
                "{width} columns: hints dropped without `? more`: {footer:?}"
            );
        } else {
            assert!(!footer.contains("more"), "{width} columns: {footer:?}");
        }
        assert!(footer.chars().count() <= usize::from(width), "{footer:?}");
    }
    // 60 columns: the footer cannot hold every hint, so it says so.
    let footer = footer(&screen(&app(60, 24, live_view())));
    assert!(footer.ends_with("? more"), "{footer:?}");
    assert!(footer.starts_with(" q quit"), "{footer:?}");
    // Wide enough: every hint, nothing more.
    let footer = footer_of(120);
    assert!(footer.ends_with("r resync"), "{footer:?}");
}

fn footer_of(width: u16) -> String {
    footer(&screen(&app(width, 24, live_view())))
}

/// `view` as the feed builds it when the viewer asks for rows of `shown` only.
fn rows_only_for(
    mut view: cbbook::feed::events::FeedView,
    shown: &str,
) -> cbbook::feed::events::FeedView {
    for p in view.products.iter_mut().filter(|p| p.product != shown) {
        p.bids.clear();
        p.asks.clear();
    }
    view
}

#[test]
fn rows_are_asked_for_the_selected_product_only() {
    let mut app = app(80, 24, live_view());
    let commands = key(&mut app, KeyAction::NextProduct);
    assert_eq!(
        set_views(&commands)[0].rows_for.as_deref(),
        Some("ETH-USD"),
        "switching products asks again"
    );
    let commands = key(&mut app, KeyAction::SelectProduct(0));
    assert_eq!(set_views(&commands)[0].rows_for.as_deref(), Some("BTC-USD"));
}

#[test]
fn a_product_switched_to_does_not_flash_its_levels() {
    let mut app = app(80, 24, rows_only_for(live_view(), "BTC-USD"));
    app.update(Action::View(Arc::new(rows_only_for(
        live_view(),
        "BTC-USD",
    ))));
    key(&mut app, KeyAction::NextProduct);
    // The view still as first asked, then the first with ETH-USD's rows (sizes moved too).
    app.update(Action::View(Arc::new(rows_only_for(
        live_view(),
        "BTC-USD",
    ))));
    let mut next = rows_only_for(live_view(), "ETH-USD");
    let eth_rows = &mut next.products[1];
    for row in eth_rows.bids.iter_mut().chain(&mut eth_rows.asks) {
        row.size += dec("1");
    }
    app.update(Action::View(Arc::new(next.clone())));
    let eth = app.shown_product().unwrap().clone();
    assert_eq!(eth.product, "ETH-USD");
    assert!(!eth.bids.is_empty());
    assert!(
        eth.bids.iter().all(|r| !app.is_lit(true, &r.price))
            && eth.asks.iter().all(|r| !app.is_lit(false, &r.price)),
        "rows that only arrived are not changes"
    );
    // From then on, changes flash as before.
    let changed = next.products[1].bids[1].price;
    next.products[1].bids[1].size += dec("1");
    app.update(Action::View(Arc::new(next)));
    assert!(app.is_lit(true, &changed));
    // Back to BTC-USD: its rows were withheld in between; they come back without flashing.
    key(&mut app, KeyAction::SelectProduct(0));
    let mut back = rows_only_for(live_view(), "BTC-USD");
    back.products[0].bids[0].size += dec("1");
    let price = back.products[0].bids[0].price;
    app.update(Action::View(Arc::new(back)));
    assert!(!app.is_lit(true, &price));
}

#[test]
fn a_product_selected_while_paused_gets_its_rows() {
    let mut app = app(80, 24, rows_only_for(live_view(), "BTC-USD"));
    key(&mut app, KeyAction::TogglePause);
    key(&mut app, KeyAction::NextProduct);
    assert!(
        app.shown_product().unwrap().bids.is_empty(),
        "not yet built"
    );
    app.update(Action::View(Arc::new(rows_only_for(
        live_view(),
        "ETH-USD",
    ))));
    assert!(app.paused());
    assert_eq!(app.shown_product().unwrap().bids.len(), 40);
    key(&mut app, KeyAction::SelectProduct(0));
    assert_eq!(
        app.shown_product().unwrap().bids[0].size,
        live_view().products[0].bids[0].size,
        "the product shown when paused stays frozen"
    );
}

#[test]
fn a_product_switched_to_is_drawn_when_its_rows_arrive_not_empty_before() {
    let mut app = app(80, 24, rows_only_for(live_view(), "BTC-USD"));
    app.drawn();
    key(&mut app, KeyAction::NextProduct);
    assert!(
        !app.needs_draw(),
        "ETH-USD's rows are on their way: an empty ladder is not drawn"
    );
    let wait_ends = app.next_clock_change_ms();
    assert!(
        wait_ends > T0 && wait_ends <= T0 + 100,
        "the loop wakes when the wait ends ({wait_ends})"
    );
    app.update(Action::View(Arc::new(rows_only_for(
        live_view(),
        "ETH-USD",
    ))));
    assert!(app.needs_draw(), "drawn as soon as the rows are there");
    assert!(!app.shown_product().unwrap().bids.is_empty());

    // Rows that never come: drawn without them once the wait is over, not never.
    key(&mut app, KeyAction::SelectProduct(0));
    app.update(Action::View(Arc::new(rows_only_for(
        live_view(),
        "ETH-USD",
    ))));
    assert!(!app.needs_draw());
    app.update(Action::Tick { now_ms: T0 + 100 });
    assert!(app.needs_draw(), "the wait is bounded");
}
