//! The tab row: one tab per product with its health badge, and the mode on the right.
//!
//! ```text
//!  1 BTC-USD ◆3  LIVE   2 ETH-USD  RESYNC                            demo  PAUSED
//! ```
//! `◆3`: three of your orders rest on the product (with a key; the `user` channel's open
//! orders), in the style of the ladder's markers; none, no mark.
//! When the tabs do not fit, a window around the selected tab is shown, with `‹` / `›` marking
//! hidden tabs on either side.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::app::App;
use crate::ui::theme::Theme;

/// One tab's spans and width.
struct Tab<'a> {
    spans: Vec<Span<'a>>,
    width: usize,
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let names = app.product_names();

    let mut right: Vec<Span> = Vec::new();
    if app.setup().demo {
        right.push(Span::styled(" demo ", theme.dim));
    }
    if app.paused() {
        right.push(Span::styled(" PAUSED ", theme.paused));
    }
    let right_width: usize = right.iter().map(Span::width).sum();
    // Your orders' count, in the style of the ladder's markers.
    let mine_style = theme.title.add_modifier(ratatui::style::Modifier::REVERSED);

    let tabs: Vec<Tab> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let health = app.health_of(i);
            let name_style = if i == app.selected() {
                theme.tab_selected
            } else {
                theme.text
            };
            let mut spans = vec![
                Span::styled(format!(" {} ", i + 1), theme.dim),
                Span::styled((*name).to_string(), name_style),
                Span::raw(" "),
            ];
            if let Some(count) = app.open_orders_of(name).filter(|&n| n > 0) {
                spans.push(Span::styled(format!("◆{count}"), mine_style));
                spans.push(Span::raw(" "));
            }
            spans.extend([
                Span::styled(format!(" {} ", health.label()), theme.health(health)),
                Span::raw(" "),
            ]);
            let width = spans.iter().map(Span::width).sum();
            Tab { spans, width }
        })
        .collect();

    let room = usize::from(area.width).saturating_sub(right_width + 1);
    let (first, last) = visible_window(&tabs, app.selected(), room);

    let mut spans: Vec<Span> = Vec::new();
    if first > 0 {
        spans.push(Span::styled("‹", theme.dim));
    }
    for tab in tabs.into_iter().skip(first).take(last + 1 - first) {
        spans.extend(tab.spans);
    }
    if last + 1 < names.len() {
        spans.push(Span::styled("›", theme.dim));
    }
    Line::from(spans).render(area, buf);

    if right_width > 0 && usize::from(area.width) > right_width {
        let x = area.x + area.width - right_width as u16;
        Line::from(right).render(Rect::new(x, area.y, right_width as u16, 1), buf);
    }
}

/// The first and last tab to draw so that the selected one is visible and the rest fits `room`
/// (two columns are kept for the `‹` `›` markers when tabs are hidden).
fn visible_window(tabs: &[Tab], selected: usize, room: usize) -> (usize, usize) {
    if tabs.is_empty() {
        return (0, 0);
    }
    let total: usize = tabs.iter().map(|t| t.width).sum();
    if total <= room {
        return (0, tabs.len() - 1);
    }
    let room = room.saturating_sub(2);
    let selected = selected.min(tabs.len() - 1);
    let (mut first, mut last) = (selected, selected);
    let mut used = tabs[selected].width;
    loop {
        let mut grew = false;
        if last + 1 < tabs.len() && used + tabs[last + 1].width <= room {
            last += 1;
            used += tabs[last].width;
            grew = true;
        }
        if first > 0 && used + tabs[first - 1].width <= room {
            first -= 1;
            used += tabs[first].width;
            grew = true;
        }
        if !grew {
            return (first, last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tabs(widths: &[usize]) -> Vec<Tab<'static>> {
        widths
            .iter()
            .map(|&width| Tab {
                spans: Vec::new(),
                width,
            })
            .collect()
    }

    #[test]
    fn all_tabs_when_they_fit() {
        assert_eq!(visible_window(&tabs(&[10, 10, 10]), 2, 30), (0, 2));
    }

    #[test]
    fn window_keeps_the_selected_tab() {
        let t = tabs(&[10; 9]);
        let (first, last) = visible_window(&t, 8, 40);
        assert!(first <= 8 && last == 8, "{first}..{last}");
        assert_eq!(
            last - first + 1,
            3,
            "three tabs of 10 fit in 40 - 2 markers"
        );
        let (first, last) = visible_window(&t, 0, 40);
        assert_eq!((first, last), (0, 2));
    }
}
