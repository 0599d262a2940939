//! The status block: integrity counters on the rule, then connection, rates and the last event.
//!
//! ```text
//! ── gaps 1 · resyncs 1 · reconnects 0 · errors 0 ──────────────────────────────
//!  Subscribed · wss://advanced-trade-ws.coinbase.com · up 00:12:34 · public
//!  msg/s 52.0  upd/s 1,234  seq 12,345  hb 75,497  age 0.3s  latency 34ms  trades/s 3.2  1m buy 0.5123  sell 1.25
//!  2.0s ago  sequence gap: expected 120, got 125; resyncing
//! ```
//! Once the product shown has trades, the rates line adds its trades per second and the volume
//! its takers bought and sold over the minute up to its last trade (none once that trade is a
//! minute old), and says when the feed's trade sides look inverted (the aggressor colours may
//! then be wrong: the feed's guard, docs/feed.md "Trades").
//! Rates come from differences of the feed's counters over the last second; ages and uptime (of
//! the current connection) from the App's clock, never the system's: in a replay, the recorded
//! time ([`App::clock_ms`]). Counters that only matter when something went wrong (bad, stale or
//! dropped frames...) join the rule when they are not zero. With several connections there is no
//! one sequence number (each connection numbers its own messages): `seq` is left out, and each
//! connection's is in the auth pane.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::app::{App, Notice, Severity, Topic, auth_refused};
use crate::feed::events::{ConnectionState, FeedStats, FeedView};
use crate::ui::format::{amount, clock, duration_ms, rate, shorten, thousands, utc_datetime};
use crate::ui::theme::Theme;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let mut lines: Vec<Line> = Vec::with_capacity(4);
    lines.push(rule(app, area.width));
    match app.latest() {
        Some(view) => {
            lines.push(connection_line(app, view, area.width));
            lines.push(rates_line(app, view, area.width));
        }
        None => {
            lines.push(Line::from(vec![
                Span::styled(" Starting", theme.warn),
                Span::styled(" · ", theme.dim),
                Span::styled(app.setup().endpoint.clone(), theme.text),
            ]));
            lines.push(Line::default());
        }
    }
    lines.push(notice_line(app, area.width));
    for (i, line) in lines.into_iter().enumerate() {
        let y = area.y + i as u16;
        if y < area.y + area.height {
            line.render(Rect::new(area.x, y, area.width, 1), buf);
        }
    }
}

/// One counter on the rule: its label, a shorter one for narrow terminals, its value, and
/// whether it shows when zero.
struct Counter {
    long: &'static str,
    short: &'static str,
    value: u64,
    always: bool,
}

/// The counters of the rule: the four integrity counters always, then the ones that only
/// matter when something went wrong (books crossed, frames bad, stale or dropped), when non-zero.
fn counters(stats: &FeedStats) -> Vec<Counter> {
    let counter = |long, short, value, always| Counter {
        long,
        short,
        value,
        always,
    };
    [
        counter("gaps", "gaps", stats.gaps, true),
        counter("resyncs", "resyncs", stats.resyncs, true),
        counter("reconnects", "reconn", stats.reconnects, true),
        counter("errors", "err", stats.errors, true),
        counter("crossed books", "crossed", stats.crossed, false),
        counter("bad frames", "bad", stats.bad_frames, false),
        counter("stale frames", "stale", stats.stale_frames, false),
        counter("ignored updates", "ignored", stats.ignored_updates, false),
        counter("broken lines", "broken", stats.broken_lines, false),
        counter("events dropped", "dropped", stats.events_dropped, false),
    ]
    .into_iter()
    .filter(|c| c.always || c.value > 0)
    .collect()
}

/// The rule with the integrity counters on it; counters that are not zero turn to the warn
/// style. When they do not fit, labels shorten, then zero counters go: a non-zero counter is
/// the last thing to leave the screen.
fn rule(app: &App, width: u16) -> Line<'static> {
    let theme = &Theme::of(app);
    let mut spans = vec![Span::styled("── ", theme.border)];
    if let Some(view) = app.latest() {
        let all = counters(&view.stats);
        // Room for the lead, a space after the counters and a little rule.
        let room = usize::from(width).saturating_sub(3 + 1 + 2);
        // Labels: long for all; long for the four, short for the rest; short for all.
        let label = |c: &Counter, tier: u8| match tier {
            0 => c.long,
            1 if c.always => c.long,
            _ => c.short,
        };
        let fits = |shown: &[&Counter], tier: u8| {
            let widths: usize = shown
                .iter()
                .map(|c| label(c, tier).chars().count() + 1 + thousands(c.value).len())
                .sum();
            widths + 3 * shown.len().saturating_sub(1) <= room
        };
        let every: Vec<&Counter> = all.iter().collect();
        let nonzero: Vec<&Counter> = all.iter().filter(|c| c.value > 0).collect();
        let (shown, tier) = match (0..3).find(|&tier| fits(&every, tier)) {
            Some(tier) => (every, tier),
            None if nonzero.is_empty() => (every, 2),
            None => (nonzero, 2),
        };
        for (i, c) in shown.into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme.dim));
            }
            let label = label(c, tier);
            spans.push(Span::styled(format!("{label} "), theme.dim));
            let style = if c.value > 0 { theme.warn } else { theme.text };
            spans.push(Span::styled(thousands(c.value), style));
        }
        spans.push(Span::raw(" "));
    }
    let used: usize = spans.iter().map(Span::width).sum();
    spans.push(Span::styled(
        "─".repeat(usize::from(width).saturating_sub(used)),
        theme.border,
    ));
    Line::from(spans)
}

/// The connection state, in words, and its style.
pub fn connection_text(app: &App, view: &FeedView) -> (String, Style) {
    let theme = &Theme::of(app);
    if app.feed_closed() && view.connection != ConnectionState::Finished {
        return ("Feed stopped".into(), theme.error);
    }
    match &view.connection {
        ConnectionState::Connecting { attempt } if *attempt > 1 => {
            (format!("Connecting (attempt {attempt})"), theme.warn)
        }
        ConnectionState::Connecting { .. } => ("Connecting".into(), theme.warn),
        ConnectionState::Connected => ("Connected, awaiting ack".into(), theme.warn),
        ConnectionState::Subscribed => ("Subscribed".into(), theme.ok),
        // The reason is on the notice line (from the Disconnected event).
        ConnectionState::Reconnecting {
            retry_at_ms,
            attempt,
            ..
        } => (
            format!(
                "Reconnecting in {} (attempt {attempt})",
                duration_ms(retry_at_ms - app.now_ms())
            ),
            theme.error,
        ),
        // With the recorded time the replay has reached (none before the first frame).
        ConnectionState::Replaying => (recorded("Replaying", view.stats.last_frame_ms), theme.ok),
        ConnectionState::Finished if app.is_replay() => (
            recorded("Replay finished", view.stats.last_frame_ms),
            theme.title,
        ),
        ConnectionState::Finished => ("Finished".into(), theme.dim),
    }
}

/// `Replaying at 2025-12-31 23:59:58 UTC`, when the replay has reached a recorded time.
fn recorded(state: &str, at_ms: Option<i64>) -> String {
    match at_ms {
        Some(t) => format!("{state} at {}", utc_datetime(t)),
        None => state.to_string(),
    }
}

/// How the feed is authenticated, in a word or two.
fn auth_text(view: &FeedView, theme: &Theme) -> (&'static str, Style) {
    let server_clock = matches!(
        view.auth.signed_with,
        Some(crate::auth::clock::SignedWith::Server { offset_ms }) if offset_ms > 0
    );
    if !view.auth.key_configured {
        ("public", theme.dim)
    } else if view.auth.fell_back_to_public {
        ("key refused → public", theme.warn)
    } else if auth_refused(view) {
        ("key refused", theme.error)
    } else if server_clock {
        ("signed (server time)", theme.ok)
    } else {
        ("signed", theme.ok)
    }
}

/// `clock +2.98 s ahead of Coinbase, from 42 frames`, when the measured offset is over
/// `clock_warn_ms` (docs/auth.md, "Clock skew"); shorter forms for narrow terminals, the
/// shortest last.
fn clock_text(app: &App, view: &FeedView) -> Option<[String; 3]> {
    let clock = view.auth.clock?;
    if clock.offset_ms.abs() <= app.setup().display.clock_warn_ms {
        return None;
    }
    let short = format!(
        "clock {} Coinbase",
        crate::auth::clock::describe_offset(clock.offset_ms)
    );
    let long = format!("{short}, from {} frames", clock.samples);
    let tiny = format!("clock {:+.2}s", clock.offset_ms as f64 / 1000.0);
    Some([long, short, tiny])
}

/// Whether a connection of the session is up (open, or replaying).
pub fn connection_up(state: &ConnectionState) -> bool {
    matches!(
        state,
        ConnectionState::Connected | ConnectionState::Subscribed | ConnectionState::Replaying
    )
}

/// `connections 3/4 up`, for a session of several connections (one, or none yet, says nothing:
/// the session's state is that connection's).
fn connections_text(app: &App, view: &FeedView) -> Option<(String, Style)> {
    let theme = &Theme::of(app);
    if view.connections.len() < 2 {
        return None;
    }
    let up = view
        .connections
        .iter()
        .filter(|c| connection_up(&c.state))
        .count();
    let style = if up == view.connections.len() {
        theme.ok
    } else {
        theme.warn
    };
    Some((
        format!("connections {up}/{} up", view.connections.len()),
        style,
    ))
}

fn connection_line(app: &App, view: &FeedView, width: u16) -> Line<'static> {
    let theme = &Theme::of(app);
    let (state, state_style) = connection_text(app, view);
    let connections = connections_text(app, view);
    // A replay shows no auth state: recordings hold no key and no JWT.
    let auth = (!app.is_replay()).then(|| auth_text(view, theme));
    // Nor the clock: the recording machine's is not this one's.
    let clock_texts = clock_text(app, view).filter(|_| !app.is_replay());
    // How long the current connection has been up (none while down).
    // A finished feed (the end of a recording too) has no connection up.
    let mut uptime = view
        .stats
        .connected_since_ms
        .filter(|_| view.connection != ConnectionState::Finished)
        .map(|since| format!("up {}", clock(app.clock_ms() - since)));
    let endpoint_text = if app.setup().demo {
        app.setup().endpoint.clone()
    } else {
        view.endpoint.clone()
    };
    // The endpoint gets what the rest leaves: the uptime goes first, then the endpoint is
    // shortened in the middle.
    let others = |uptime: &Option<String>, clock: &Option<String>| {
        1 + state.chars().count()
            + 3
            + uptime.as_ref().map_or(0, |u| u.len() + 3)
            + auth.map_or(0, |(a, _)| a.chars().count() + 3)
            + connections
                .as_ref()
                .map_or(0, |(c, _)| c.chars().count() + 3)
            + clock.as_ref().map_or(0, |c: &String| c.chars().count() + 3)
    };
    // The clock's words go before the uptime does: in full, then shorter, with the uptime;
    // then both without it; then the shortest, with the uptime if it fits. Only then is the
    // endpoint cut.
    let endpoint_len = endpoint_text.chars().count();
    let fits = |uptime: &Option<String>, clock: &Option<String>| {
        others(uptime, clock) + endpoint_len <= usize::from(width)
    };
    let mut clock = None;
    if let Some([long, short, tiny]) = clock_texts {
        let (long, short, tiny) = (Some(long), Some(short), Some(tiny));
        let up = uptime.clone();
        let choices = [
            (&long, &up),
            (&short, &up),
            (&long, &None),
            (&short, &None),
            (&tiny, &up),
        ];
        let (c, u) = choices
            .into_iter()
            .find(|(c, u)| fits(u, c))
            .unwrap_or((&tiny, &None));
        clock = c.clone();
        uptime = u.clone();
    } else if !fits(&uptime, &None) {
        uptime = None;
    }
    let room = usize::from(width)
        .saturating_sub(others(&uptime, &clock))
        .max(12);
    let endpoint = if endpoint_len > room {
        shorten(&endpoint_text, room / 2, room.saturating_sub(room / 2 + 1))
    } else {
        endpoint_text
    };
    let sep = || Span::styled(" · ", theme.dim);
    let mut spans = vec![Span::raw(" "), Span::styled(state, state_style)];
    if let Some((connections, style)) = connections {
        spans.push(sep());
        spans.push(Span::styled(connections, style));
    }
    spans.push(sep());
    spans.push(Span::styled(endpoint, theme.text));
    if let Some(uptime) = uptime {
        spans.push(sep());
        spans.push(Span::styled(uptime, theme.text));
    }
    if let Some((auth, auth_style)) = auth {
        spans.push(sep());
        spans.push(Span::styled(auth, auth_style));
    }
    if let Some(clock) = clock {
        spans.push(sep());
        spans.push(Span::styled(clock, theme.warn));
    }
    Line::from(spans)
}

/// Rates, sequence, heartbeat, age and latency, and the shown product's trades. On a narrow
/// terminal the least telling go first (heartbeat counter, then latency, then sequence, then the
/// minute's volume, then trades/s), never the age nor the warning that trade sides look
/// inverted. Several connections: no `seq` (the session's would be the highest of unrelated
/// numbers).
fn rates_line(app: &App, view: &FeedView, width: u16) -> Line<'static> {
    let theme = &Theme::of(app);
    let s = &view.stats;
    // At the end of a recording the recorded clock stops: nothing arrives any more, and the
    // last message only gets older, so rates are 0 and there is no age to tell.
    let over = replay_over(app, view);
    let (msgs, upds) = match app.rates().per_second(app.clock_ms()) {
        _ if over => (rate(0.0), rate(0.0)),
        Some((m, u)) => (rate(m), rate(u)),
        None => ("-".into(), "-".into()),
    };
    // Sequence numbers and heartbeat counters are identifiers: no thousands separators.
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
    let age = s
        .last_frame_ms
        .filter(|_| !over)
        .map(|t| app.clock_ms() - t);
    let age_style = if over {
        theme.dim
    } else if age.is_none_or(|a| a > crate::app::STALE_MS) {
        theme.warn
    } else {
        theme.text
    };
    // (label, value, style, drop order: 0 never, higher first).
    let mut items: Vec<(&str, String, Style, u8)> = vec![
        ("msg/s ", msgs, theme.text, 0),
        ("upd/s ", upds, theme.text, 0),
        ("seq ", opt(s.last_sequence_num), theme.text, 3),
        ("hb ", opt(s.heartbeat_counter), theme.text, 5),
        (
            "age ",
            age.map_or_else(|| "-".into(), duration_ms),
            age_style,
            0,
        ),
        (
            "latency ",
            s.latency_ms
                .map_or_else(|| "-".into(), |l| format!("{l}ms")),
            theme.text,
            4,
        ),
    ];
    if view.connections.len() > 1 {
        items.retain(|item| item.0 != "seq ");
    }
    items.extend(trade_items(app, view, over));
    let len = |items: &[(&str, String, Style, u8)]| {
        1 + items
            .iter()
            .map(|(label, value, ..)| label.len() + value.chars().count() + 2)
            .sum::<usize>()
            - 2
    };
    for drop in [5, 4, 3, 2, 1] {
        if len(&items) <= usize::from(width) {
            break;
        }
        items.retain(|item| item.3 != drop);
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, (label, value, style, _)) in items.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(label.to_string(), theme.dim));
        spans.push(Span::styled(value, style));
    }
    Line::from(spans)
}

/// The window of the status's bought and sold volume.
const MINUTE_MS: i64 = 60_000;

/// The selected product's trade items for the rates line: trades/s, the minute's bought and sold
/// volume (from the newest view, like the other rates), and the inverted-sides warning. None
/// for a product without trades (a feed without `market_trades`, an old recording): the line
/// stays as it was.
fn trade_items(app: &App, view: &FeedView, over: bool) -> Vec<(&'static str, String, Style, u8)> {
    let theme = &Theme::of(app);
    let Some(product) = app
        .selected_name()
        .and_then(|name| view.products.iter().find(|p| p.product == name))
    else {
        return Vec::new();
    };
    let market = &product.market;
    let Some(last) = &market.last_trade else {
        return Vec::new();
    };
    let per_sec = match app.trade_rate(&product.product) {
        _ if over => rate(0.0),
        Some(r) => rate(r),
        None => "-".into(),
    };
    // The feed's minute ends at the last trade: once that is a minute old, nothing was traded
    // in the minute up to now.
    let fresh = app.clock_ms() - last.time_ms < MINUTE_MS && !over;
    let (bought, sold) = if fresh {
        (amount(market.bought_1m), amount(market.sold_1m))
    } else {
        ("0".to_string(), "0".to_string())
    };
    let mut items = vec![
        ("trades/s ", per_sec, theme.text, 1),
        ("1m buy ", bought, theme.bid, 2),
        ("sell ", sold, theme.ask, 2),
    ];
    if market.sides_look_inverted {
        items.push(("", "trade sides look inverted".to_string(), theme.warn, 0));
    }
    items
}

/// Showing a recording that has ended: its clock no longer moves.
fn replay_over(app: &App, view: &FeedView) -> bool {
    app.is_replay() && view.connection == ConnectionState::Finished
}

/// How long ago a notice came, when that means something. What the user did is measured by the
/// wall clock (their key press is not part of the recording); what the feed reported, by the
/// feed's clock, which in an ended replay has stopped, so that such a notice gets no age.
fn notice_age(app: &App, notice: &Notice) -> Option<i64> {
    if notice.topic == Topic::User && app.is_replay() {
        return Some(app.now_ms() - notice.at_ms);
    }
    if app.latest().is_some_and(|v| replay_over(app, v)) {
        return None;
    }
    Some(app.clock_ms() - notice.at_ms)
}

/// The last notice and how long ago it came; cut with `…` when it does not fit.
fn notice_line(app: &App, width: u16) -> Line<'static> {
    let theme = &Theme::of(app);
    let Some(notice) = app.notice() else {
        return Line::default();
    };
    let style = match notice.severity {
        Severity::Info => theme.text,
        Severity::Warn => theme.warn,
        Severity::Error => theme.error,
    };
    let ago = match notice_age(app, notice) {
        Some(age) => format!(" {:>6} ago  ", duration_ms(age)),
        None => " ".repeat(13),
    };
    let room = usize::from(width).saturating_sub(ago.chars().count());
    let text = if notice.text.chars().count() > room {
        let mut cut: String = notice.text.chars().take(room.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        notice.text.clone()
    };
    Line::from(vec![
        Span::styled(ago, theme.dim),
        Span::styled(text, style),
    ])
}
