//! Drawing the viewer: one file per pane, each a function of `&App` into a buffer area.
//!
//! Views never read the clock or the feed: everything comes from the [`App`], so the same App
//! always draws the same screen (which is what the snapshot tests rely on).
//!
//! The ui depends on the App, never the other way round. What only a draw can know is kept
//! here, in a [`DrawState`] that whoever draws owns across frames (the event loop, a test, a
//! bench): the ladder's column memory, and what the last frame measured. The App learns the
//! measures as actions: [`resize`] carries the ladder rows and tape lines that fit, and after
//! each frame [`DrawState::measured`] the auth pane's room to scroll.

pub mod auth_pane;
pub mod depth_chart;
pub mod format;
pub mod header;
pub mod heatmap;
pub mod heatmap_grid;
pub mod help;
pub mod ladder;
pub mod layout;
pub mod order_marks;
pub mod orders_pane;
pub mod status;
pub mod tabs;
pub mod tape;
pub mod tape_fills;
pub mod theme;
pub mod watchlist;
pub mod wrap;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, StatefulWidget, Widget, Wrap};

use crate::app::{Action, App, Measured, ScrollRoom, SidePane};
use crate::ui::theme::Theme;

/// What the drawing keeps from one frame to the next (see the module's doc).
#[derive(Debug, Default)]
pub struct DrawState {
    /// The size of the last frame: another size starts the ladder's columns afresh.
    size: Option<(u16, u16)>,
    ladder: ladder::LadderState,
    /// The tape's column memory.
    tape: tape::TapeState,
    /// The auth pane's room to scroll, if the last frame drew the pane.
    auth_pane: Option<ScrollRoom>,
    /// The watchlist's first row and column widths.
    watchlist: watchlist::WatchlistState,
    /// The watchlist's rows shown at once, if the last frame drew it.
    watchlist_rows: Option<u16>,
}

impl DrawState {
    /// What the last frame measured, for the App (`Action::Measured`).
    pub fn measured(&self) -> Measured {
        Measured {
            auth_pane: self.auth_pane,
            watchlist_rows: self.watchlist_rows,
        }
    }
}

/// The App's action for a terminal of `width` x `height`: the size, with the ladder rows per
/// side the layout fits in it (what the App asks the feed for).
pub fn resize(width: u16, height: u16) -> Action {
    Action::Resize {
        width,
        height,
        ladder_rows: layout::ladder_depth(width, height),
        tape_rows: layout::tape_rows(width, height),
    }
}

/// The whole screen as a ratatui [`StatefulWidget`]:
/// `frame.render_stateful_widget(Viewer(&app), frame.area(), &mut state)`.
pub struct Viewer<'a>(pub &'a App);

impl StatefulWidget for Viewer<'_> {
    type State = DrawState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut DrawState) {
        render(self.0, state, area, buf);
    }
}

/// Draws one whole frame.
pub fn draw(frame: &mut Frame, app: &App, state: &mut DrawState) {
    frame.render_stateful_widget(Viewer(app), frame.area(), state);
}

/// Draws the whole screen into `buf` (the same as [`draw`], without a terminal), keeping in
/// `state` what the next frame needs and what this one measured.
pub fn render(app: &App, state: &mut DrawState, area: Rect, buf: &mut Buffer) {
    if state.size != Some((area.width, area.height)) {
        state.size = Some((area.width, area.height));
        state.ladder = ladder::LadderState::default();
        state.tape = tape::TapeState::default();
        state.watchlist = watchlist::WatchlistState::default();
    }
    state.auth_pane = None;
    state.watchlist_rows = None;
    // The watchlist takes the whole body and the header row above it.
    let panes = if app.watchlist().is_open() {
        layout::Panes::default()
    } else {
        layout::Panes {
            side: app.side_pane(),
            tape: app.tape_open(),
            tape_in_front: app.tape_in_front(),
        }
    };
    let Some(screen) = layout::screen(area, panes) else {
        too_small(app, area, buf);
        return;
    };
    tabs::render(app, screen.tabs, buf);
    if app.watchlist().is_open() {
        if let Some(body) = screen.ladder {
            let body = body.union(screen.header);
            state.watchlist_rows = Some(watchlist::render(app, &mut state.watchlist, body, buf));
        }
    } else if app.heatmap().is_open() {
        // Full width from under the tabs down to the status.
        let top = screen.header.y;
        let pane = Rect::new(area.x, top, area.width, screen.status.y.saturating_sub(top));
        heatmap::render(app, pane, buf);
    } else {
        header::render(app, screen.header, buf);
        if let Some(ladder) = screen.ladder {
            ladder::render(app, &mut state.ladder, ladder, buf);
        }
        if let Some(tape) = screen.tape {
            tape::render(app, &mut state.tape, tape, buf);
        }
    }
    let covered = app.watchlist().is_open() || app.heatmap().is_open();
    if let Some(pane) = screen.pane.filter(|_| !covered) {
        match app.side_pane() {
            SidePane::Auth => state.auth_pane = Some(auth_pane::render(app, pane, buf)),
            SidePane::Chart => depth_chart::render(app, pane, buf),
            SidePane::Orders(_) => orders_pane::render(app, pane, buf),
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

#[cfg(test)]
mod tests;
