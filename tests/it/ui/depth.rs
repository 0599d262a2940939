//! The depth chart at every grouping: the simulator's ETH-USD book (as `--demo` serves it) goes
//! through the feed core's view at each grouping `+` reaches, and the chart must draw bars with
//! a scale above zero; and the screen of the case that drew nothing (ETH-USD at 2000 a bucket,
//! one bucket a side), kept as a snapshot.

use crate::support::ui as ui_fixtures;

use std::sync::Arc;

use cbbook::app::{Action, KeyAction};
use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{FeedView, LevelRow};
use cbbook::sim::market::Market;
use rust_decimal::Decimal;
use ui_fixtures::*;

/// The simulator's starting book for `product` (seed 1, the default depth) as a snapshot frame.
fn snapshot_frame(product: &str, seq: u64) -> String {
    let market = Market::synthetic(product, 1, cbbook::sim::DEFAULT_LEVELS_PER_SIDE);
    let spec = &market.spec;
    let updates: Vec<String> = market
        .levels
        .iter_best_first()
        .map(|(side, price, size)| {
            let price = Decimal::new(price as i64, spec.price_scale);
            let size = Decimal::new(size as i64, spec.size_scale);
            format!(
                r#"{{"side":"{}","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"{size}"}}"#,
                side.wire()
            )
        })
        .collect();
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":{seq},"events":[{{"type":"snapshot","product_id":"{product}","updates":[{}]}}]}}"#,
        updates.join(",")
    )
}

/// The columns of the chart pane's plot on each line of the screen, as text.
fn chart_plot(screen: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = screen
        .lines()
        .map(|l| l.trim_matches('"').chars().collect())
        .collect();
    let top = lines
        .iter()
        .position(|l| l.iter().collect::<String>().contains("┌ depth"))
        .expect("no depth chart on the screen");
    let left = lines[top].iter().position(|&c| c == '┌').unwrap();
    lines[top + 1..]
        .iter()
        .take_while(|l| l.get(left) == Some(&'│'))
        .map(|l| l[left + 1..].iter().collect())
        .collect()
}

/// The y label at the top of the plot (the largest depth shown).
fn top_label(plot: &[String]) -> f64 {
    let first = &plot[0];
    let label: String = first.split('│').next().unwrap().trim().to_string();
    label
        .parse()
        .unwrap_or_else(|_| panic!("no label in {first:?}"))
}

fn bar_cells(plot: &[String]) -> usize {
    plot.iter()
        .map(|l| {
            l.split('│')
                .nth(1)
                .unwrap_or("")
                .chars()
                .filter(|c| "█▁▂▃▄▅▆▇".contains(*c))
                .count()
        })
        .sum()
}

#[test]
fn the_depth_chart_draws_at_every_grouping() {
    let products = ["BTC-USD".to_string(), "ETH-USD".to_string()];
    let mut core = FeedCore::new(ENDPOINT, &products, false, T0 - 5_000);
    core.connection_started(T0 - 5_000, false);
    core.on_frame(&snapshot_frame("BTC-USD", 0), T0 - 4_000);
    core.on_frame(&snapshot_frame("ETH-USD", 1), T0 - 4_000);
    let mut app = app(120, 40, core.view(&Default::default(), T0));
    key(&mut app, KeyAction::NextProduct);
    key(&mut app, KeyAction::ToggleChart);
    let mut groupings = Vec::new();
    loop {
        let request = app.view_request();
        if groupings.last() == Some(&request.group_ticks) {
            break;
        }
        groupings.push(request.group_ticks);
        let view: FeedView = core.view(&request, T0);
        app.update(Action::View(Arc::new(view)));
        let screen = screen(&app);
        let plot = chart_plot(&screen);
        let group = request.group_ticks;
        assert!(
            top_label(&plot) > 0.0,
            "group {group}: a zero scale\n{screen}"
        );
        assert!(bar_cells(&plot) >= 40, "group {group}: no bars\n{screen}");
        key(&mut app, KeyAction::GroupCoarser);
    }
    // Every grouping up to the coarsest there is (the reported case was 200,000 ticks).
    assert_eq!(groupings.len(), 19, "{groupings:?}");
    assert_eq!(groupings.last(), Some(&cbbook::config::MAX_GROUP));
    assert!(groupings.contains(&200_000), "{groupings:?}");
}

fn row(price: &str, size: &str) -> LevelRow {
    LevelRow {
        price: dec(price),
        size: dec(size),
        cum_size: dec(size),
    }
}

/// ETH-USD at a grouping of 200,000 ticks (2000 a bucket): one bucket a side, the book's whole
/// depth in each. The chart ramps from the touch out to each bucket's edge.
#[test]
fn depth_chart_at_a_coarse_grouping() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut view = live_view();
        let mut eth = product_grouped("ETH-USD", "2668.34", "2668.35", "0.01", 200_000, 1);
        eth.bids = vec![row("2000", "40146.99768821")];
        eth.asks = vec![row("4000", "40921.57102395")];
        eth.chart_bids = eth.bids.clone();
        eth.chart_asks = eth.asks.clone();
        view.products[1] = eth;
        let mut app = app(w, h, view);
        key(&mut app, KeyAction::NextProduct);
        // `+` sixteen times, as in the report.
        for _ in 0..16 {
            key(&mut app, KeyAction::GroupCoarser);
        }
        assert_eq!(app.view_request().group_ticks, 200_000);
        key(&mut app, KeyAction::ToggleChart);
        let screen = screen(&app);
        let plot = chart_plot(&screen);
        assert!(top_label(&plot) > 40_000.0, "{screen}");
        insta::assert_snapshot!(format!("depth_chart_coarse_{w}x{h}"), screen);
    }
}

/// A crossed book has no range around its mid to draw: the chart says why.
#[test]
fn a_crossed_book_s_chart_says_it_is_crossed() {
    let mut view = live_view();
    let mut btc = product("BTC-USD", "101", "100", "1", 1);
    btc.state = cbbook::feed::events::BookState::Crossed;
    view.products[0] = btc;
    let mut app = app(120, 40, view);
    key(&mut app, KeyAction::ToggleChart);
    let screen = screen(&app);
    assert!(
        screen.contains("no depth to draw: the book is crossed"),
        "{screen}"
    );
}
