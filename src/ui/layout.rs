//! Where each pane goes, for a given terminal size.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────┐
//! │ tabs: 1 BTC-USD LIVE  2 ETH-USD LIVE             (1 row)     │
//! ├───────────────────────────────┬──────────────────────────────┤
//! │ ladder: title, column header, │ side pane (auth or chart),   │
//! │ asks, spread row, bids        │ when the terminal is wide;   │
//! │                               │ otherwise it replaces the    │
//! │                               │ ladder                       │
//! ├───────────────────────────────┴──────────────────────────────┤
//! │ status: a rule, then 3 rows                                  │
//! │ footer: key hints (1 row)                                    │
//! └──────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::SidePane;

/// Below this the screen shows a short message instead of the layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, the side pane sits next to the ladder instead of replacing it.
pub const SIDE_BY_SIDE_WIDTH: u16 = 110;
/// The status block: a rule and three rows.
pub const STATUS_HEIGHT: u16 = 4;
/// Ladder rows that are not levels: title, column header, spread row.
pub const LADDER_CHROME: u16 = 3;

/// The areas of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub tabs: Rect,
    /// None when the side pane takes the whole body (narrow terminal).
    pub ladder: Option<Rect>,
    pub pane: Option<Rect>,
    pub status: Rect,
    pub footer: Rect,
}

/// True when `width` x `height` is too small for the layout.
pub fn too_small(width: u16, height: u16) -> bool {
    width < MIN_WIDTH || height < MIN_HEIGHT
}

/// Splits the terminal; None when it is too small.
pub fn screen(area: Rect, side: SidePane) -> Option<Screen> {
    if too_small(area.width, area.height) {
        return None;
    }
    let [tabs, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(STATUS_HEIGHT),
        Constraint::Length(1),
    ])
    .areas(area);
    let (ladder, pane) = match side {
        SidePane::None => (Some(body), None),
        _ if area.width >= SIDE_BY_SIDE_WIDTH => {
            let ladder_width = ladder_width(area.width);
            let [ladder, pane] =
                Layout::horizontal([Constraint::Length(ladder_width), Constraint::Min(1)])
                    .areas(body);
            (Some(ladder), Some(pane))
        }
        _ => (None, Some(body)),
    };
    Some(Screen {
        tabs,
        ladder,
        pane,
        status,
        footer,
    })
}

/// The ladder's width next to a side pane: enough for the numbers and a useful bar.
fn ladder_width(total: u16) -> u16 {
    (total * 45 / 100).clamp(56, 90)
}

/// (ask rows, bid rows) of a ladder `height` rows tall: bids get the odd row, so that no row
/// is left empty.
pub fn ladder_rows(height: u16) -> (usize, usize) {
    let levels = usize::from(height.saturating_sub(LADDER_CHROME));
    (levels / 2, levels - levels / 2)
}

/// Levels per side to ask the feed for: the larger side of the ladder that fits the terminal.
/// A side pane sits beside the ladder or replaces it, so it never changes the ladder's height.
pub fn ladder_depth(width: u16, height: u16) -> usize {
    let area = Rect::new(0, 0, width, height);
    let Some(screen) = screen(area, SidePane::None) else {
        return 0;
    };
    ladder_rows(screen.ladder.map_or(0, |r| r.height)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_height() {
        // 24 rows: tabs 1, status 4, footer 1 leave 18; title, header and spread leave 15:
        // 7 asks and 8 bids.
        assert_eq!(ladder_rows(18), (7, 8));
        assert_eq!(ladder_rows(19), (8, 8));
        assert_eq!(ladder_rows(2), (0, 0));
        assert_eq!(ladder_depth(80, 24), 8);
        assert_eq!(ladder_depth(120, 40), 16);
        assert_eq!(ladder_depth(120, 41), 16);
        assert_eq!(ladder_depth(120, 42), 17);
        assert_eq!(ladder_depth(80, MIN_HEIGHT), 4);
        assert_eq!(ladder_depth(80, MIN_HEIGHT - 1), 0);
        assert_eq!(ladder_depth(MIN_WIDTH - 1, 40), 0);
    }

    #[test]
    fn a_side_pane_leaves_the_ladder_its_height() {
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let body = |side| {
                let s = screen(Rect::new(0, 0, w, h), side).unwrap();
                s.ladder.or(s.pane).unwrap().height
            };
            assert_eq!(body(SidePane::Auth), body(SidePane::None), "{w}x{h}");
            assert_eq!(body(SidePane::Chart), body(SidePane::None), "{w}x{h}");
        }
    }

    #[test]
    fn side_pane_sits_beside_the_ladder_only_when_wide() {
        let wide = screen(Rect::new(0, 0, 120, 40), SidePane::Auth).unwrap();
        let ladder = wide.ladder.unwrap();
        let pane = wide.pane.unwrap();
        assert_eq!(ladder.width + pane.width, 120);
        assert!(ladder.width >= 56);
        assert_eq!(pane.x, ladder.x + ladder.width);

        let narrow = screen(Rect::new(0, 0, 80, 24), SidePane::Chart).unwrap();
        assert_eq!(narrow.ladder, None);
        assert_eq!(narrow.pane.unwrap().width, 80);

        let none = screen(Rect::new(0, 0, 80, 24), SidePane::None).unwrap();
        assert_eq!(none.pane, None);
        assert_eq!(none.footer.y, 23);
        assert_eq!(none.status.height, STATUS_HEIGHT);
    }

    #[test]
    fn too_small_has_no_layout() {
        assert!(screen(Rect::new(0, 0, 40, 10), SidePane::None).is_none());
        assert!(too_small(59, 30));
        assert!(!too_small(60, 16));
    }
}
