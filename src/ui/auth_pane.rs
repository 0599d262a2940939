//! The auth-debug pane (`a`): what was sent, what the server said, why, and what to try.
//!
//! ```text
//! ┌ auth ────────────────────────────────────────────┐
//! │ verdict    refused: authentication failure       │
//! │ reason     key_unknown: ...                      │
//! │ clock      +2.98 s ahead of Coinbase, from 42 frames (±3 ms)
//! │            JWTs signed with the server's time (--jwt-clock auto)
//! │ diagnosis  ✗ key_unknown: ...                    │
//! │ fix        ...                                   │
//! │ key        organizations/.../apiKeys/...         │
//! │ jwt        header, claims (never the signature)  │
//! │ subscribe  {"type":"subscribe",...,"jwt":"<redacted>"}
//! │            (after a refusal: the refused signed one, then the public fallback)
//! │ level2     requested BTC-USD ETH-USD             │
//! │            acknowledged BTC-USD ETH-USD          │
//! │            refused      FOO-BAR (FOO-BAR is not a valid product)
//! └──────────────────────────────────────────────────┘
//! ```
//! The failure comes first, because that is what the user opened the pane for. The private key
//! and the JWT's signature are never drawn: only the decoded header and claims.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};

use serde_json::Value;

use crate::app::{App, ScrollRoom, auth_refused};
use crate::auth::clock::{SignedWith, describe_offset};
use crate::auth::{Severity, SignatureVerdict};
use crate::feed::events::{BookState, ConnectionState, FeedView, ServerError};
use crate::ui::format::{duration_secs, shorten, utc_time};
use crate::ui::status::connection_up;
use crate::ui::theme::Theme;
use crate::ui::wrap::field;

/// Width of the label column.
const LABEL: usize = 12;

/// Builds the pane's lines for a given inner width.
struct Lines<'t> {
    theme: &'t Theme,
    width: usize,
    lines: Vec<Line<'static>>,
}

impl Lines<'_> {
    fn field(&mut self, label: &str, value: &str, style: Style) {
        self.lines.extend(field(
            label,
            LABEL,
            value,
            self.theme.dim,
            style,
            self.width,
        ));
    }

    fn gap(&mut self) {
        self.lines.push(Line::default());
    }
}

/// The pane's inner (width, height): borders take two columns and two rows.
fn inner(area: Rect) -> (usize, usize) {
    (
        usize::from(area.width.saturating_sub(2)),
        usize::from(area.height.saturating_sub(2)),
    )
}

/// Draws the pane from the App's scroll, stopping at the content's end; returns how far it can
/// scroll as drawn: the last first line, and the lines it shows at once. The App keeps its
/// scroll within the first and pages by the second (`Action::Measured`), so that every Up after
/// the bottom moves at once.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) -> ScrollRoom {
    let theme = &Theme::of(app);
    let (inner_width, inner_height) = inner(area);
    let lines = content(app, inner_width);
    let max_scroll = lines.len().saturating_sub(inner_height);
    let scroll = usize::from(app.auth_scroll()).min(max_scroll);
    let room = ScrollRoom {
        max_top: u16::try_from(max_scroll).unwrap_or(u16::MAX),
        page: u16::try_from(inner_height).unwrap_or(u16::MAX),
    };
    let hint = match (scroll > 0, scroll < max_scroll) {
        (_, true) => " ↓ more · Up/Down scroll · a closes ",
        (true, false) => " ↑ more · Up/Down scroll · a closes ",
        (false, false) => " a closes ",
    };
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::styled(" auth ", theme.title))
        .title_bottom(Line::styled(hint, theme.dim).right_aligned());
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .block(block)
        .render(area, buf);
    room
}

/// Every line of the pane.
fn content(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &Theme::of(app);
    let mut out = Lines {
        theme,
        width,
        lines: Vec::new(),
    };
    if app.is_replay() {
        replay_content(&mut out, app.latest());
        return out.lines;
    }
    let Some(view) = app.latest() else {
        out.field("verdict", "no news from the feed yet", theme.dim);
        key(&mut out, app);
        return out.lines;
    };
    verdict(&mut out, view);
    clock(&mut out, app, view);
    diagnosis(&mut out, app, view);
    key(&mut out, app);
    jwt(&mut out, app);
    subscribe(&mut out, view);
    products(&mut out, view);
    connections(&mut out, view);
    error_frame(&mut out, view);
    out.lines
}

/// One line per connection of a session of several (none for one: the status says it all):
/// `#2 Subscribed    seq 4180  reconn 1  16 products: SOL-USD DOGE-USD …`, cut to the pane's
/// width.
fn connections(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    if view.connections.len() < 2 {
        return;
    }
    out.gap();
    let room = out.width.saturating_sub(LABEL + 2);
    for (k, connection) in view.connections.iter().enumerate() {
        let label = if k == 0 { "connections" } else { "" };
        let state = match &connection.state {
            ConnectionState::Connecting { .. } => "Connecting",
            ConnectionState::Connected => "Connected",
            ConnectionState::Subscribed => "Subscribed",
            ConnectionState::Reconnecting { .. } => "Reconnecting",
            ConnectionState::Replaying => "Replaying",
            ConnectionState::Finished => "Finished",
        };
        let seq = connection
            .last_sequence_num
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        let text = format!(
            "#{} {state:<12}  seq {seq}  reconn {}  {} products: {}",
            connection.index + 1,
            connection.reconnects,
            connection.products.len(),
            connection.products.join(" ")
        );
        let mut text = text;
        if text.chars().count() > room {
            text = text.chars().take(room.saturating_sub(1)).collect();
            text.push('…');
        }
        let style = if connection_up(&connection.state) {
            theme.text
        } else {
            theme.warn
        };
        out.lines.push(Line::from(vec![
            ratatui::text::Span::styled(format!(" {label:<LABEL$} "), theme.dim),
            ratatui::text::Span::styled(text, style),
        ]));
    }
}

/// A replay: recordings hold what the server sent (its errors, its acks), never a key or a JWT.
fn replay_content(out: &mut Lines, view: Option<&FeedView>) {
    let theme = out.theme;
    out.field(
        "verdict",
        "replay: recordings hold what the server sent, never the key or the JWTs",
        theme.text,
    );
    let Some(view) = view else {
        return;
    };
    if let Some(error) = &view.auth.last_error {
        out.field("error", &error.message, theme.error);
        out.field(
            "reason",
            error.reason.as_deref().unwrap_or("(none given)"),
            theme.warn,
        );
    }
    products(out, view);
    error_frame(out, view);
}

fn verdict(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    let error = auth.last_error.as_ref();
    let (text, style) = if !auth.key_configured {
        ("unauthenticated (level2 is public)".to_string(), theme.text)
    } else if auth.fell_back_to_public {
        (
            "key refused; the feed fell back to the public level2 subscribe".to_string(),
            theme.warn,
        )
    } else if let (true, Some(error)) = (auth_refused(view), error) {
        (format!("refused: {}", error.message), theme.error)
    } else if auth.acknowledged.contains_key("level2") && auth.last_jwt.is_some() {
        ("signed subscribe accepted".to_string(), theme.ok)
    } else if auth.last_jwt.is_some() {
        (
            "signed subscribe sent, waiting for the ack".to_string(),
            theme.warn,
        )
    } else {
        ("key loaded, nothing sent yet".to_string(), theme.dim)
    };
    out.field("verdict", &text, style);
    if let Some(error) = error {
        if !text.contains(&error.message) {
            out.field("error", &error.message, theme.error);
        }
        out.field(
            "reason",
            error.reason.as_deref().unwrap_or("(none given)"),
            theme.warn,
        );
    }
}

/// This machine's clock against the server's, measured from the frames, and which clock signs
/// the JWTs (docs/auth.md, "Clock skew"). Over `clock_warn_ms` it stands out.
fn clock(out: &mut Lines, app: &App, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    let Some(clock) = auth.clock else {
        return;
    };
    let error = clock
        .error_ms
        .map_or_else(String::new, |e| format!(" (±{e} ms)"));
    let text = format!(
        "{} Coinbase, from {} frames{error}",
        describe_offset(clock.offset_ms),
        clock.samples
    );
    let style = if clock.offset_ms.abs() > app.setup().display.clock_warn_ms {
        theme.warn
    } else {
        theme.dim
    };
    out.field("clock", &text, style);
    if auth.key_configured {
        out.field("", &signing_clock(auth), theme.text);
    }
}

/// Which clock signs the JWTs, and why.
fn signing_clock(auth: &crate::feed::events::AuthView) -> String {
    let mode = auth.jwt_clock;
    let retried = if auth.clock_retried {
        ", after a refusal the clock explained (retried once)"
    } else {
        ""
    };
    match auth.signed_with {
        Some(SignedWith::Server { offset_ms }) if offset_ms > 0 => format!(
            "JWTs signed with the server's time: this machine's minus {:.2} s (--jwt-clock {mode}){retried}",
            offset_ms as f64 / 1000.0
        ),
        Some(SignedWith::Server { .. }) => format!(
            "JWTs signed with the server's time, which is not behind this machine's (--jwt-clock {mode})"
        ),
        Some(SignedWith::Local) => {
            format!("JWTs signed with this machine's time (--jwt-clock {mode})")
        }
        None => format!("no JWT signed yet (--jwt-clock {mode})"),
    }
}

/// The last error frame, verbatim, for reference.
fn error_frame(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    if let Some(error) = &view.auth.last_error {
        out.gap();
        out.field("error frame", &error.raw, theme.dim);
    }
}

/// The local diagnosis: a summary, then each finding with its fix.
fn diagnosis(out: &mut Lines, app: &App, view: &FeedView) {
    let theme = out.theme;
    if app.setup().key.is_none() && view.auth.last_error.is_none() {
        return;
    }
    let diagnosis = crate::app::auth_debug::name_the_clock(app.diagnosis(), &view.auth);
    let reason = view
        .auth
        .last_error
        .as_ref()
        .and_then(|e| e.reason.as_deref())
        .unwrap_or("");
    out.gap();
    let summary_style = if diagnosis
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error)
    {
        theme.error
    } else {
        theme.ok
    };
    out.field("diagnosis", &diagnosis.summary, summary_style);
    for finding in &diagnosis.findings {
        let (mark, style) = match finding.severity {
            Severity::Error => ("✗", theme.error),
            Severity::Warning => ("⚠", theme.warn),
        };
        // A finding the server's reason already spells out is named, not repeated.
        let text = if reason.contains(finding.message.as_str()) {
            format!("{mark} {} (as the reason says)", finding.code)
        } else {
            format!("{mark} {}: {}", finding.code, finding.message)
        };
        out.field("", &text, style);
        out.field("  fix", &finding.fix, theme.text);
    }
}

fn key(out: &mut Lines, app: &App) {
    let theme = out.theme;
    out.gap();
    match &app.setup().key {
        Some(key) => {
            out.field("key", key.name(), theme.text);
            out.field(
                "",
                &format!("{} · {}", key.algorithm(), key.format()),
                theme.dim,
            );
        }
        None => {
            out.field("key", "none", theme.text);
            out.field(
                "to add one",
                "cbbook --key FILE (a CDP key JSON file), or set COINBASE_API_KEY and \
                 COINBASE_API_SECRET; check it first with `cbbook auth check --key FILE`",
                theme.dim,
            );
        }
    }
}

/// The last JWT, decoded: header and claims, never the signature.
fn jwt(out: &mut Lines, app: &App) {
    let theme = out.theme;
    let Some(token) = app.sent_token() else {
        return;
    };
    out.gap();
    let title = match app.latest() {
        Some(view) if view.auth.fell_back_to_public => {
            " JWT refused (decoded; the signature is never shown)"
        }
        _ => " JWT sent (decoded; the signature is never shown)",
    };
    out.lines.push(Line::styled(title, theme.header));
    if let Some(view) = app.latest() {
        let clock = match view.auth.signed_with {
            Some(SignedWith::Server { offset_ms }) => format!(
                "the server's (this machine's {:+.2} s)",
                -(offset_ms.max(0) as f64) / 1000.0
            ),
            Some(SignedWith::Local) | None => "this machine's".to_string(),
        };
        out.field("  clock", &clock, theme.text);
    }
    let now = app.now_ms().div_euclid(1000);
    let report = &token.report;
    if let Some(Value::Object(header)) = &report.header {
        for (name, value) in ordered(header, &["alg", "typ", "kid", "nonce"]) {
            let text = match (name, value) {
                ("nonce", Value::String(nonce)) => shorten(nonce, 8, 4),
                _ => plain(value),
            };
            out.field(&format!("  {name}"), &text, theme.text);
        }
    } else {
        out.field("  header", "cannot be decoded", theme.error);
    }
    if let Some(Value::Object(claims)) = &report.claims {
        for (name, value) in ordered(claims, &["iss", "sub", "nbf", "exp"]) {
            let (text, style) = match (name, value.as_i64()) {
                ("nbf", Some(nbf)) => (
                    format!("{} ({})", utc_time(nbf), relative(nbf - now)),
                    theme.text,
                ),
                ("exp", Some(exp)) if exp > now => (
                    format!("{} (in {})", utc_time(exp), duration_secs(exp - now)),
                    theme.text,
                ),
                ("exp", Some(exp)) => (
                    format!(
                        "{} (expired {} ago; each subscribe signs a fresh one)",
                        utc_time(exp),
                        duration_secs(now - exp)
                    ),
                    theme.dim,
                ),
                _ => (plain(value), theme.text),
            };
            out.field(&format!("  {name}"), &text, style);
        }
    } else {
        out.field("  claims", "cannot be decoded", theme.error);
    }
    let (text, style) = match report.signature {
        SignatureVerdict::Valid => ("valid with this key's public key", theme.ok),
        SignatureVerdict::Invalid => ("INVALID with this key's public key", theme.error),
        SignatureVerdict::Unchecked => ("not checked (no key to check it with)", theme.dim),
    };
    out.field("  signature", text, style);
}

/// The fields of a JSON object, `first` in that order, then the rest in key order.
fn ordered<'a>(
    object: &'a serde_json::Map<String, Value>,
    first: &[&'a str],
) -> Vec<(&'a str, &'a Value)> {
    let mut fields: Vec<(&str, &Value)> = first
        .iter()
        .filter_map(|name| object.get(*name).map(|v| (*name, v)))
        .collect();
    fields.extend(
        object
            .iter()
            .filter(|(name, _)| !first.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value)),
    );
    fields
}

/// A JSON value as text: strings without quotes, anything else as compact JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `12s ago` for a time in the past, `in 3s` for one in the future.
fn relative(delta_secs: i64) -> String {
    if delta_secs <= 0 {
        format!("{} ago", duration_secs(-delta_secs))
    } else {
        format!("in {}", duration_secs(delta_secs))
    }
}

/// The level2 subscribe sent. After a refusal, the signed one that was refused and then the
/// public one that replaced it, each labelled: the fallback alone would hide what was refused.
fn subscribe(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    match (&auth.refused_subscribe, &auth.last_subscribe) {
        (Some(refused), last) if auth.fell_back_to_public => {
            let said = auth
                .last_error
                .as_ref()
                .map_or("refused", |e| e.message.as_str());
            out.gap();
            out.field(
                "subscribe",
                &format!("signed, refused ({said}); JWT redacted:"),
                theme.error,
            );
            out.field("", refused, theme.text);
            if let Some(fallback) = last.as_ref().filter(|l| *l != refused) {
                out.field(
                    "then",
                    "public fallback, sent after the refusal:",
                    theme.warn,
                );
                out.field("", fallback, theme.text);
            }
        }
        (_, Some(message)) => {
            out.gap();
            out.field("subscribe", message, theme.text);
        }
        (_, None) => {}
    }
}

fn products(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    if auth.requested.is_empty() && auth.acknowledged.is_empty() {
        return;
    }
    out.gap();
    // level2 first: it carries the books.
    let mut channels: Vec<&String> = auth
        .requested
        .keys()
        .chain(auth.acknowledged.keys())
        .collect::<std::collections::BTreeSet<&String>>()
        .into_iter()
        .collect();
    channels.sort_by_key(|c| c.as_str() != "level2");
    for channel in channels {
        let requested = auth.requested.get(channel);
        let acked = auth.acknowledged.get(channel);
        let list = |p: Option<&Vec<String>>| match p {
            Some(p) if !p.is_empty() => p.join(" "),
            Some(_) => "(whole channel)".to_string(),
            None => "-".to_string(),
        };
        let missing = requested
            .into_iter()
            .flatten()
            .any(|p| !acked.is_some_and(|a| a.contains(p)));
        out.field(
            channel,
            &format!("requested    {}", list(requested)),
            theme.text,
        );
        let style = if acked.is_none() || missing {
            theme.warn
        } else {
            theme.ok
        };
        out.field("", &format!("acknowledged {}", list(acked)), style);
        if channel == "level2" {
            refused(out, view);
        }
    }
}

/// The products the server refused: the feed asks again without them, so they would vanish
/// from the requested list after a reconnect without this line. The reason is the server's
/// error frame while it is the last one received.
fn refused(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let error = view.auth.last_error.as_ref();
    for product in view
        .products
        .iter()
        .filter(|p| p.state == BookState::Refused)
    {
        let name = &product.product;
        let reason = match error.filter(|e| e.refuses_product(name)) {
            Some(ServerError {
                reason: Some(reason),
                ..
            }) => reason.clone(),
            _ => "the reason was in an earlier error frame".to_string(),
        };
        out.field("", &format!("refused      {name} ({reason})"), theme.error);
    }
}
