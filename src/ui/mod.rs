//! Drawing the viewer: one file per pane, each a function of `&App` into a buffer area.
//!
//! Views never read the clock or the feed: everything comes from the [`App`], so the same App
//! always draws the same screen (which is what the snapshot tests rely on).

pub mod auth_pane;
pub mod depth_chart;
pub mod format;
pub mod help;
pub mod ladder;
pub mod layout;
pub mod status;
pub mod tabs;
pub mod theme;
pub mod wrap;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::app::{App, SidePane};
use crate::ui::theme::Theme;

/// Draws one whole frame.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    render(app, area, frame.buffer_mut());
}

/// Draws the whole screen into `buf` (the same as [`draw`], without a terminal).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(screen) = layout::screen(area, app.side_pane()) else {
        too_small(app, area, buf);
        return;
    };
    tabs::render(app, screen.tabs, buf);
    if let Some(ladder) = screen.ladder {
        ladder::render(app, ladder, buf);
    }
    if let Some(pane) = screen.pane {
        match app.side_pane() {
            SidePane::Auth => auth_pane::render(app, pane, buf),
            SidePane::Chart => depth_chart::render(app, pane, buf),
            SidePane::None => {}
        }
    }
    status::render(app, screen.status, buf);
    help::render_footer(app, screen.footer, buf);
    if app.help_open() {
        help::render(app, area, buf);
    }
}

/// The message shown instead of the layout on a terminal that is too small.
fn too_small(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &Theme::of(app);
    let lines = vec![
        Line::styled("terminal too small", theme.warn),
        Line::styled(
            format!(
                "{}x{}, need {}x{}",
                area.width,
                area.height,
                layout::MIN_WIDTH,
                layout::MIN_HEIGHT
            ),
            theme.dim,
        ),
        Line::styled("q quits", theme.dim),
    ];
    let top = area.y + area.height.saturating_sub(lines.len() as u16) / 2;
    let rect = Rect::new(
        area.x,
        top,
        area.width,
        area.height.saturating_sub(top - area.y),
    );
    Paragraph::new(lines)
        .centered()
        .wrap(Wrap { trim: true })
        .render(rect, buf);
}
