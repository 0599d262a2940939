//! The auth-debug pane (`a`): what was sent, what the server said, why, and what to try.
//!
//! ```text
//! ┌ auth ────────────────────────────────────────────┐
//! │ verdict    refused: authentication failure       │
//! │ reason     key_unknown: ...                      │
//! │ diagnosis  ✗ key_unknown: ...                    │
//! │ fix        ...                                   │
//! │ key        organizations/.../apiKeys/...         │
//! │ jwt        header, claims (never the signature)  │
//! │ subscribe  {"type":"subscribe",...,"jwt":"<redacted>"}
//! │ level2     requested BTC-USD ETH-USD             │
//! │            acknowledged BTC-USD ETH-USD          │
//! └──────────────────────────────────────────────────┘
//! ```
//! The failure comes first, because that is what the user opened the pane for. The private key
//! and the JWT's signature are never drawn: only the decoded header and claims.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::app::{App, auth_refused};
use crate::feed::events::FeedView;
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

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Line::styled(" auth ", theme.title))
        .title_bottom(Line::styled(" a closes · Up/Down scroll ", theme.dim).right_aligned());
    let inner = block.inner(area);
    let lines = content(app, usize::from(inner.width));
    let max_scroll = lines.len().saturating_sub(usize::from(inner.height));
    let scroll = usize::from(app.scroll).min(max_scroll);
    Paragraph::new(lines)
        .scroll((scroll as u16, 0))
        .block(block)
        .render(area, buf);
}

/// Every line of the pane.
fn content(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut out = Lines {
        theme,
        width,
        lines: Vec::new(),
    };
    let Some(view) = &app.latest else {
        out.field("verdict", "no news from the feed yet", theme.dim);
        return out.lines;
    };
    verdict(&mut out, view);
    server_error(&mut out, view);
    key(&mut out, app, view);
    subscribe(&mut out, view);
    products(&mut out, view);
    out.lines
}

fn verdict(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    let (text, style) = if !auth.key_configured {
        ("unauthenticated (level2 is public)".to_string(), theme.text)
    } else if auth.fell_back_to_public {
        (
            "key refused: the feed fell back to the public level2 subscribe".to_string(),
            theme.warn,
        )
    } else if auth_refused(view) {
        (
            "refused: the server answered the signed subscribe with an error".to_string(),
            theme.error,
        )
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
}

fn server_error(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let Some(error) = &view.auth.last_error else {
        return;
    };
    out.gap();
    out.field("server", &error.message, theme.error);
    out.field(
        "reason",
        error.reason.as_deref().unwrap_or("(none given)"),
        theme.warn,
    );
    out.field("frame", &error.raw, theme.text);
}

fn key(out: &mut Lines, _app: &App, view: &FeedView) {
    let theme = out.theme;
    out.gap();
    if !view.auth.key_configured {
        out.field("key", "none", theme.text);
        out.field(
            "to add one",
            "cbbook --key FILE (a CDP key JSON file), or set COINBASE_API_KEY and \
             COINBASE_API_SECRET; check it first with `cbbook auth check --key FILE`",
            theme.dim,
        );
    }
}

fn subscribe(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    if let Some(message) = &view.auth.last_subscribe {
        out.gap();
        out.field("subscribe", message, theme.text);
    }
}

fn products(out: &mut Lines, view: &FeedView) {
    let theme = out.theme;
    let auth = &view.auth;
    if auth.requested.is_empty() && auth.acknowledged.is_empty() {
        return;
    }
    out.gap();
    let channels: std::collections::BTreeSet<&String> = auth
        .requested
        .keys()
        .chain(auth.acknowledged.keys())
        .collect();
    for channel in channels {
        let requested = auth.requested.get(channel);
        let acked = auth.acknowledged.get(channel);
        let list = |p: Option<&Vec<String>>| match p {
            Some(p) if !p.is_empty() => p.join(" "),
            Some(_) => "(whole channel)".to_string(),
            None => "-".to_string(),
        };
        let missing: Vec<&String> = requested
            .into_iter()
            .flatten()
            .filter(|p| !acked.is_some_and(|a| a.contains(p)))
            .collect();
        out.field(
            channel,
            &format!("requested    {}", list(requested)),
            theme.text,
        );
        let style = if acked.is_none() || !missing.is_empty() {
            theme.warn
        } else {
            theme.ok
        };
        out.field("", &format!("acknowledged {}", list(acked)), style);
    }
}
