//! The status block: integrity counters on the rule, then connection, rates and the last event.
//!
//! ```text
//! ── gaps 1 · resyncs 1 · reconnects 0 · errors 0 ──────────────────────────────
//!  Subscribed · wss://advanced-trade-ws.coinbase.com · up 00:12:34 · public
//!  msg/s 52.0  upd/s 1,234  seq 12,345  hb 75,497  age 0.3s  latency 34ms
//!  2.0s ago  sequence gap: expected 120, got 125; resyncing
//! ```
//! Rates come from differences of the feed's counters over the last second; ages and uptime from
//! the App's clock, never the system's.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::app::{App, Level, auth_refused};
use crate::feed::events::{ConnectionState, FeedView};
use crate::ui::format::{clock, duration_ms, rate, shorten, thousands};
use crate::ui::theme::Theme;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let mut lines: Vec<Line> = Vec::with_capacity(4);
    lines.push(rule(app, area.width));
    match &app.latest {
        Some(view) => {
            lines.push(connection_line(app, view, area.width));
            lines.push(rates_line(app, view));
        }
        None => {
            lines.push(Line::from(vec![
                Span::styled(" Starting", theme.warn),
                Span::styled(" · ", theme.dim),
                Span::styled(app.setup.endpoint.clone(), theme.text),
            ]));
            lines.push(Line::default());
        }
    }
    lines.push(notice_line(app));
    for (i, line) in lines.into_iter().enumerate() {
        let y = area.y + i as u16;
        if y < area.y + area.height {
            line.render(Rect::new(area.x, y, area.width, 1), buf);
        }
    }
}

/// The rule with the integrity counters on it; counters that matter turn to the warn style.
fn rule(app: &App, width: u16) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = vec![Span::styled("── ", theme.border)];
    if let Some(view) = &app.latest {
        let s = &view.stats;
        let mut items = vec![
            ("gaps", s.gaps),
            ("resyncs", s.resyncs),
            ("reconnects", s.reconnects),
            ("errors", s.errors),
        ];
        if s.bad_frames > 0 {
            items.push(("bad frames", s.bad_frames));
        }
        if s.events_dropped > 0 {
            items.push(("events dropped", s.events_dropped));
        }
        for (i, (label, n)) in items.into_iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme.dim));
            }
            spans.push(Span::styled(format!("{label} "), theme.dim));
            let style = if n > 0 { theme.warn } else { theme.text };
            spans.push(Span::styled(thousands(n), style));
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
    let theme = &app.theme;
    if app.feed_closed && view.connection != ConnectionState::Finished {
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
                duration_ms(retry_at_ms - app.now_ms)
            ),
            theme.error,
        ),
        ConnectionState::Replaying => ("Replaying".into(), theme.ok),
        ConnectionState::Finished => ("Finished".into(), theme.dim),
    }
}

/// How the feed is authenticated, in a word or two.
fn auth_text(view: &FeedView, theme: &Theme) -> (&'static str, Style) {
    if !view.auth.key_configured {
        ("public", theme.dim)
    } else if view.auth.fell_back_to_public {
        ("key refused → public", theme.warn)
    } else if auth_refused(view) {
        ("key refused", theme.error)
    } else {
        ("signed", theme.ok)
    }
}

fn connection_line(app: &App, view: &FeedView, width: u16) -> Line<'static> {
    let theme = &app.theme;
    let (state, state_style) = connection_text(app, view);
    let (auth, auth_style) = auth_text(view, theme);
    let mut uptime = Some(format!("up {}", clock(app.now_ms - view.stats.started_ms)));
    // The endpoint gets what the rest leaves: the uptime goes first, then the endpoint is
    // shortened in the middle.
    let others = |uptime: &Option<String>| {
        1 + state.chars().count()
            + 3
            + uptime.as_ref().map_or(0, |u| u.len() + 3)
            + 3
            + auth.chars().count()
    };
    let endpoint_len = view.endpoint.chars().count();
    if others(&uptime) + endpoint_len > usize::from(width) {
        uptime = None;
    }
    let room = usize::from(width).saturating_sub(others(&uptime)).max(12);
    let endpoint = if endpoint_len > room {
        shorten(&view.endpoint, room / 2, room.saturating_sub(room / 2 + 1))
    } else {
        view.endpoint.clone()
    };
    let sep = || Span::styled(" · ", theme.dim);
    let mut spans = vec![
        Span::raw(" "),
        Span::styled(state, state_style),
        sep(),
        Span::styled(endpoint, theme.text),
    ];
    if let Some(uptime) = uptime {
        spans.push(sep());
        spans.push(Span::styled(uptime, theme.text));
    }
    spans.push(sep());
    spans.push(Span::styled(auth, auth_style));
    Line::from(spans)
}

fn rates_line(app: &App, view: &FeedView) -> Line<'static> {
    let theme = &app.theme;
    let s = &view.stats;
    let (msgs, upds) = match app.rates.per_second(app.now_ms) {
        Some((m, u)) => (rate(m), rate(u)),
        None => ("-".into(), "-".into()),
    };
    // Sequence numbers and heartbeat counters are identifiers: no thousands separators.
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
    let age = s.last_frame_ms.map(|t| app.now_ms - t);
    let age_style = if age.is_none_or(|a| a > crate::app::STALE_MS) {
        theme.warn
    } else {
        theme.text
    };
    let pair = |label: &'static str, value: String, style: Style| {
        [
            Span::styled(label, theme.dim),
            Span::styled(value, style),
            Span::raw("  "),
        ]
    };
    let mut spans = vec![Span::raw(" ")];
    spans.extend(pair("msg/s ", msgs, theme.text));
    spans.extend(pair("upd/s ", upds, theme.text));
    spans.extend(pair("seq ", opt(s.last_sequence_num), theme.text));
    spans.extend(pair("hb ", opt(s.heartbeat_counter), theme.text));
    spans.extend(pair(
        "age ",
        age.map_or_else(|| "-".into(), duration_ms),
        age_style,
    ));
    spans.extend(pair(
        "latency ",
        s.latency_ms
            .map_or_else(|| "-".into(), |l| format!("{l}ms")),
        theme.text,
    ));
    Line::from(spans)
}

fn notice_line(app: &App) -> Line<'static> {
    let theme = &app.theme;
    let Some(notice) = &app.notice else {
        return Line::default();
    };
    let style = match notice.level {
        Level::Info => theme.text,
        Level::Warn => theme.warn,
        Level::Error => theme.error,
    };
    Line::from(vec![
        Span::styled(
            format!(" {:>6} ago  ", duration_ms(app.now_ms - notice.at_ms)),
            theme.dim,
        ),
        Span::styled(notice.text.clone(), style),
    ])
}
