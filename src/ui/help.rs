//! The help overlay (`?`) and the footer of key hints, both drawn from the keymap's table
//! ([`KEYMAP`]): a key bound there is listed here.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::app::KeyAction;
use crate::app::KeyMode;
use crate::app::keymap::{Binding, HintContext, KEYMAP, hinted_in};
use crate::app::{App, Health};
use crate::ui::theme::Theme;

/// What each badge means, for the legend under the keys.
const BADGES: [(Health, &str); 7] = [
    (Health::Live, "snapshot applied, every update in sequence"),
    (Health::Connecting, "no snapshot yet"),
    (Health::Stale, "no message for 3 s"),
    (Health::Resync, "sequence gap: fresh snapshot coming"),
    (Health::AuthError, "the server refused the key (press a)"),
    (Health::Down, "disconnected or refused"),
    (
        Health::Ended,
        "replay over: the book as recorded at the end",
    ),
];

/// The counters that join the status rule when not zero, for the legend under the badges.
const COUNTERS: [(&str, &str); 5] = [
    ("bad", "frames that could not be used (skipped)"),
    ("stale", "frames with an old sequence number (ignored)"),
    ("ignored", "updates before their product's snapshot"),
    ("broken", "unreadable lines in a recording (skipped)"),
    ("dropped", "feed events the viewer missed"),
];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let labels: Vec<String> = KEYMAP.iter().map(Binding::label).collect();
    let key_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .zip(&labels)
        .map(|(binding, keys)| {
            Line::from(vec![
                Span::styled(format!(" {keys:<key_width$}  "), theme.key),
                Span::styled(binding.what, theme.text),
            ])
        })
        .collect();
    let badge_lines = BADGES.len() + 1;
    // Inside the border: the keys, then the legend if there is room for all of it.
    if usize::from(area.height.saturating_sub(2)) >= lines.len() + badge_lines {
        lines.push(Line::default());
        let badge_width = BADGES
            .iter()
            .map(|(h, _)| h.label().len())
            .max()
            .unwrap_or(0)
            + 2;
        // Every badge, END (a replay's) too: the legend is where a user looks one up.
        let badges = BADGES.into_iter();
        for (health, what) in badges {
            lines.push(Line::from(vec![
                Span::raw(" "),
                Span::styled(
                    format!("{:^badge_width$}", health.label()),
                    theme.health(health),
                ),
                Span::raw(" "),
                Span::styled(what, theme.text),
            ]));
        }
    }
    // Then what the counters of the rule mean, if there is room for all of it.
    if usize::from(area.height.saturating_sub(2)) >= lines.len() + COUNTERS.len() + 2 {
        lines.push(Line::default());
        lines.push(Line::styled(
            " counters on the rule, when not zero:",
            theme.dim,
        ));
        for (name, what) in COUNTERS {
            lines.push(Line::from(vec![
                Span::styled(format!(" {name:<key_width$}  "), theme.key),
                Span::styled(what, theme.text),
            ]));
        }
    }
    // A terminal too short for every key: the last row says how many are not shown, rather
    // than the list ending as if it were whole.
    let room = usize::from(area.height.saturating_sub(2));
    if lines.len() > room && room > 0 {
        let hidden = lines.len() - (room - 1);
        lines.truncate(room - 1);
        lines.push(Line::styled(
            format!(" … {hidden} more: a taller terminal shows every key"),
            theme.dim,
        ));
    }
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
    let height = lines.len() as u16 + 2;
    let popup = area.centered(
        Constraint::Length(width.min(area.width)),
        Constraint::Length(height.min(area.height)),
    );
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(
            Block::bordered()
                .border_style(theme.border)
                .title(Line::styled(" keys ", theme.title))
                .title_bottom(Line::styled(" Esc or ? closes ", theme.dim).right_aligned()),
        )
        .render(popup, buf);
}

/// What ends the footer when some hints do not fit: the help lists every key.
const MORE: (&str, &str) = ("?", "more");

/// The footer: the most used keys. When not all of them fit, as many as fit (the help's own
/// hint dropped) and then `? more`, so that no key goes missing without a word.
pub fn render_footer(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    // The footer of what is on screen: typing a filter, the watchlist, or the ladder.
    let context = if app.key_mode() == KeyMode::Typing {
        HintContext::Typing
    } else if app.watchlist().is_open() {
        HintContext::Watchlist
    } else {
        HintContext::Ladder
    };
    // A recording cannot be resynced: no hint for it.
    let hints: Vec<(&str, &str)> = hinted_in(context)
        .into_iter()
        .filter(|(binding, _)| !(app.is_replay() && binding.asks(KeyAction::Resync)))
        .map(|(_, hint)| (hint.keys, hint.what))
        .collect();
    let shown = footer_hints(&hints, usize::from(area.width));
    let mut spans = vec![Span::raw(" ")];
    for (i, (key, what)) in shown.iter().enumerate() {
        let gap = if i + 1 < shown.len() { "  " } else { "" };
        spans.push(Span::styled(*key, theme.key));
        spans.push(Span::styled(format!(" {what}{gap}"), theme.dim));
    }
    Line::from(spans).render(area, buf);
}

/// The hints that fit in `width` columns: all of them, or a first few and then [`MORE`].
fn footer_hints<'a>(hints: &[(&'a str, &'a str)], width: usize) -> Vec<(&'a str, &'a str)> {
    // One leading space, then `key what` per hint, two spaces between hints.
    let text_width = |(key, what): &(&str, &str)| key.chars().count() + 1 + what.chars().count();
    let total = |shown: &[(&str, &str)]| {
        1 + shown.iter().map(text_width).sum::<usize>() + 2 * shown.len().saturating_sub(1)
    };
    if total(hints) <= width {
        return hints.to_vec();
    }
    let mut shown: Vec<(&str, &str)> = Vec::new();
    for hint in hints.iter().filter(|(key, _)| *key != MORE.0) {
        shown.push(*hint);
        shown.push(MORE);
        let fits = total(&shown) <= width;
        shown.pop();
        if !fits {
            shown.pop();
            break;
        }
    }
    shown.push(MORE);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hint_when_they_fit_else_a_first_few_and_more() {
        let hints = [("q", "quit"), ("?", "help"), ("a", "auth"), ("d", "depth")];
        // " q quit  ? help  a auth  d depth" is 32 columns.
        assert_eq!(footer_hints(&hints, 32), hints);
        assert_eq!(
            footer_hints(&hints, 31),
            [("q", "quit"), ("a", "auth"), MORE]
        );
        assert_eq!(
            footer_hints(&hints, 23),
            [("q", "quit"), ("a", "auth"), MORE]
        );
        assert_eq!(footer_hints(&hints, 22), [("q", "quit"), MORE]);
        assert_eq!(footer_hints(&hints, 5), [MORE]);
    }
}
