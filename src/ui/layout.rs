//! Where each pane goes, for a given terminal size.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────────┐
//! │ tabs: 1 BTC-USD LIVE  2 ETH-USD LIVE                         (1 row)     │
//! │ header: BTC-USD  last 64930.50 ▲  24h +1.23% ...  tick 0.01  (1 row)     │
//! ├─────────────────────────┬───────────────┬────────────────────────────────┤
//! │ ladder: column header,  │ tape (`t`),   │ side pane (auth or chart)      │
//! │ asks, spread row, bids  │ when open     │ when open                      │
//! ├─────────────────────────┴───────────────┴────────────────────────────────┤
//! │ status: a rule, then 3 rows                                              │
//! │ footer: key hints (1 row)                                                │
//! └──────────────────────────────────────────────────────────────────────────┘
//! ```
//! The tape and the side pane sit beside the ladder from [`SIDE_BY_SIDE_WIDTH`] on. When both
//! are open and there is no room for three columns, the one opened last takes the place beside
//! the ladder (the tape is drawn over the chart's area, or the other way round). On a narrower
//! terminal the one in front replaces the ladder. The body's height never depends on the panes,
//! so the ladder's and the tape's rows do not change when one opens.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::SidePane;

/// Below this the screen shows a short message instead of the layout.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// From this width on, the side pane sits next to the ladder instead of replacing it.
pub const SIDE_BY_SIDE_WIDTH: u16 = 110;
/// The status block: a rule and three rows.
pub const STATUS_HEIGHT: u16 = 4;
/// Ladder rows that are not levels: column header, spread row (the title is the header row
/// above the body).
pub const LADDER_CHROME: u16 = 2;
/// The tape's width beside the ladder, borders included: time, arrow, price, size, notional and
/// a count, with room for six-figure prices.
pub const TAPE_WIDTH: u16 = 58;
/// The narrowest side pane drawn next to the tape (below that, only the one in front shows).
pub const MIN_PANE_WIDTH: u16 = 40;
/// Tape rows that are not trades: the border's two rows and the column header.
pub const TAPE_CHROME: u16 = 3;

/// Which panes are open: what the layout needs to know of the App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Panes {
    pub side: SidePane,
    pub tape: bool,
    /// Both open and only one fits: the tape (else the side pane).
    pub tape_in_front: bool,
}

impl Panes {
    /// Only a side pane (or none).
    pub fn side(side: SidePane) -> Panes {
        Panes {
            side,
            ..Panes::default()
        }
    }
}

/// The areas of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub tabs: Rect,
    /// The product header: name, last price and 24 h figures, the ladder's grouping.
    pub header: Rect,
    /// None when a pane takes the whole body (narrow terminal).
    pub ladder: Option<Rect>,
    pub tape: Option<Rect>,
    pub pane: Option<Rect>,
    pub status: Rect,
    pub footer: Rect,
}

/// True when `width` x `height` is too small for the layout.
pub fn too_small(width: u16, height: u16) -> bool {
    width < MIN_WIDTH || height < MIN_HEIGHT
}

/// Splits the terminal; None when it is too small.
pub fn screen(area: Rect, panes: Panes) -> Option<Screen> {
    if too_small(area.width, area.height) {
        return None;
    }
    let [tabs, header, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(STATUS_HEIGHT),
        Constraint::Length(1),
    ])
    .areas(area);
    let side = panes.side != SidePane::None;
    let wide = area.width >= SIDE_BY_SIDE_WIDTH;
    let split = |widths: &[u16]| -> Vec<Rect> {
        let mut x = body.x;
        widths
            .iter()
            .map(|w| {
                let rect = Rect::new(x, body.y, *w, body.height);
                x += w;
                rect
            })
            .collect()
    };
    let (ladder, tape, pane) = match (side, panes.tape) {
        (false, false) => (Some(body), None, None),
        (true, false) if wide => {
            let l = ladder_width(area.width);
            let r = split(&[l, body.width - l]);
            (Some(r[0]), None, Some(r[1]))
        }
        (false, true) if wide => {
            // The ladder gets what the tape leaves: its bars are the part that can use it.
            let t = TAPE_WIDTH.min(body.width - ladder_width(area.width));
            let r = split(&[body.width - t, t]);
            (Some(r[0]), Some(r[1]), None)
        }
        (true, true) if wide => {
            let l = ladder_width(area.width);
            let rest = body.width - l;
            if rest >= TAPE_WIDTH + MIN_PANE_WIDTH {
                // The tape next to the ladder: its prices read against the book's.
                let r = split(&[l, TAPE_WIDTH, rest - TAPE_WIDTH]);
                (Some(r[0]), Some(r[1]), Some(r[2]))
            } else {
                let r = split(&[l, rest]);
                if panes.tape_in_front {
                    (Some(r[0]), Some(r[1]), None)
                } else {
                    (Some(r[0]), None, Some(r[1]))
                }
            }
        }
        (true, false) => (None, None, Some(body)),
        (false, true) => (None, Some(body), None),
        (true, true) if panes.tape_in_front => (None, Some(body), None),
        (true, true) => (None, None, Some(body)),
    };
    Some(Screen {
        tabs,
        header,
        ladder,
        tape,
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
    let Some(screen) = screen(area, Panes::default()) else {
        return 0;
    };
    ladder_rows(screen.ladder.map_or(0, |r| r.height)).1
}

/// Trade lines the open tape shows on a terminal of `width` x `height` (the body's height, less
/// the border and the column header: the same wherever the tape is placed).
pub fn tape_rows(width: u16, height: u16) -> usize {
    let area = Rect::new(0, 0, width, height);
    let Some(screen) = screen(area, Panes::default()) else {
        return 0;
    };
    usize::from(
        screen
            .ladder
            .map_or(0, |r| r.height.saturating_sub(TAPE_CHROME)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_height() {
        // 24 rows: tabs 1, header 1, status 4, footer 1 leave 17; column header and spread
        // leave 15: 7 asks and 8 bids.
        assert_eq!(ladder_rows(17), (7, 8));
        assert_eq!(ladder_rows(18), (8, 8));
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
            let body = |side, tape| {
                let panes = Panes {
                    side,
                    tape,
                    tape_in_front: tape,
                };
                let s = screen(Rect::new(0, 0, w, h), panes).unwrap();
                s.ladder.or(s.tape).or(s.pane).unwrap().height
            };
            let none = body(SidePane::None, false);
            assert_eq!(body(SidePane::Auth, false), none, "{w}x{h}");
            assert_eq!(body(SidePane::Chart, false), none, "{w}x{h}");
            assert_eq!(body(SidePane::None, true), none, "{w}x{h}");
            assert_eq!(body(SidePane::Chart, true), none, "{w}x{h}");
            assert_eq!(tape_rows(w, h), usize::from(none - TAPE_CHROME));
        }
    }

    #[test]
    fn side_pane_sits_beside_the_ladder_only_when_wide() {
        let wide = screen(Rect::new(0, 0, 120, 40), Panes::side(SidePane::Auth)).unwrap();
        let ladder = wide.ladder.unwrap();
        let pane = wide.pane.unwrap();
        assert_eq!(ladder.width + pane.width, 120);
        assert!(ladder.width >= 56);
        assert_eq!(pane.x, ladder.x + ladder.width);

        let narrow = screen(Rect::new(0, 0, 80, 24), Panes::side(SidePane::Chart)).unwrap();
        assert_eq!(narrow.ladder, None);
        assert_eq!(narrow.pane.unwrap().width, 80);

        let none = screen(Rect::new(0, 0, 80, 24), Panes::default()).unwrap();
        assert_eq!(none.pane, None);
        assert_eq!(none.footer.y, 23);
        assert_eq!(none.status.height, STATUS_HEIGHT);
        assert_eq!((none.header.y, none.header.width), (1, 80));
    }

    #[test]
    fn the_tape_sits_beside_the_ladder_and_next_to_a_side_pane_when_there_is_room() {
        let panes = |side, tape_in_front| Panes {
            side,
            tape: true,
            tape_in_front,
        };
        // Tape only, wide: the ladder keeps what the tape leaves.
        let s = screen(Rect::new(0, 0, 120, 40), panes(SidePane::None, true)).unwrap();
        let (ladder, tape) = (s.ladder.unwrap(), s.tape.unwrap());
        assert_eq!((tape.width, ladder.width), (TAPE_WIDTH, 120 - TAPE_WIDTH));
        assert_eq!(tape.x, ladder.x + ladder.width);
        // Three columns at 200: ladder, tape, chart.
        let s = screen(Rect::new(0, 0, 200, 60), panes(SidePane::Chart, false)).unwrap();
        let (ladder, tape, pane) = (s.ladder.unwrap(), s.tape.unwrap(), s.pane.unwrap());
        assert_eq!(ladder.width + tape.width + pane.width, 200);
        assert_eq!((tape.x, pane.x), (ladder.width, ladder.width + TAPE_WIDTH));
        assert!(pane.width >= MIN_PANE_WIDTH);
        // No room for three: the one opened last, beside the ladder.
        for tape_in_front in [true, false] {
            let s = screen(
                Rect::new(0, 0, 120, 40),
                panes(SidePane::Chart, tape_in_front),
            )
            .unwrap();
            assert!(s.ladder.is_some());
            assert_eq!(s.tape.is_some(), tape_in_front);
            assert_eq!(s.pane.is_some(), !tape_in_front);
        }
        // Narrow: the one in front takes the body.
        let s = screen(Rect::new(0, 0, 80, 24), panes(SidePane::None, true)).unwrap();
        assert_eq!((s.ladder, s.pane), (None, None));
        assert_eq!(s.tape.unwrap().width, 80);
        let s = screen(Rect::new(0, 0, 80, 24), panes(SidePane::Chart, false)).unwrap();
        assert_eq!((s.ladder, s.tape), (None, None));
        // At the narrowest wide terminal the ladder keeps its least width.
        let s = screen(
            Rect::new(0, 0, SIDE_BY_SIDE_WIDTH, 40),
            panes(SidePane::None, true),
        )
        .unwrap();
        assert!(s.ladder.unwrap().width >= 56, "{s:?}");
    }

    #[test]
    fn too_small_has_no_layout() {
        assert!(screen(Rect::new(0, 0, 40, 10), Panes::default()).is_none());
        assert!(too_small(59, 30));
        assert!(!too_small(60, 16));
    }
}
