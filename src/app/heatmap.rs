//! The heatmap pane's state (`m`): open or not, the time per column (`[`/`]`), and the marks of
//! the user's own orders, which the orders code hands over when it has them.

use rust_decimal::Decimal;

use crate::book::Side;
use crate::feed::core::heatmap::{DEFAULT_INTERVAL_MS, HeatmapRequest};

/// The times per column `[` and `]` step through, in milliseconds.
pub const COLUMN_STEPS_MS: [i64; 9] = [
    250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
];
/// The step the pane opens at: 1 s, the default sampling interval.
const DEFAULT_STEP: usize = 2;
/// Terminal rows around the pane: the tabs above; the status block and the footer below.
pub const CHROME_LINES: usize = 6;
/// Price rows per terminal row: the pane draws with half blocks.
pub const ROWS_PER_LINE: usize = 2;

/// A price the pane marks as one of the user's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderMark {
    pub price: Decimal,
    pub side: Side,
}

/// The pane's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapPane {
    open: bool,
    step: usize,
    marks: Vec<OrderMark>,
}

impl Default for HeatmapPane {
    fn default() -> Self {
        HeatmapPane {
            open: false,
            step: DEFAULT_STEP,
            marks: Vec::new(),
        }
    }
}

impl HeatmapPane {
    pub fn is_open(&self) -> bool {
        self.open
    }

    pub fn toggle(&mut self) {
        self.open = !self.open;
    }

    pub fn close(&mut self) {
        self.open = false;
    }

    /// Milliseconds of history per column.
    pub fn column_ms(&self) -> i64 {
        COLUMN_STEPS_MS[self.step.min(COLUMN_STEPS_MS.len() - 1)]
    }

    /// `[`: less time per column (down to 250 ms).
    pub fn finer(&mut self) {
        self.step = self.step.saturating_sub(1);
    }

    /// `]`: more time per column (up to a minute).
    pub fn coarser(&mut self) {
        self.step = (self.step + 1).min(COLUMN_STEPS_MS.len() - 1);
    }

    /// The user's orders to mark (the hook for the orders code: it replaces the list whenever
    /// its orders change).
    pub fn set_marks(&mut self, marks: Vec<OrderMark>) {
        self.marks = marks;
    }

    pub fn marks(&self) -> &[OrderMark] {
        &self.marks
    }

    /// What to ask the feed for while open: the samples that `columns` columns cover at the
    /// feed's `interval_ms` (the default until a view has said), and the price rows drawn in
    /// `lines` terminal rows.
    pub fn request(
        &self,
        columns: usize,
        lines: usize,
        interval_ms: Option<i64>,
    ) -> Option<HeatmapRequest> {
        if !self.open {
            return None;
        }
        let interval = interval_ms.unwrap_or(DEFAULT_INTERVAL_MS).max(1);
        let per_column = usize::try_from((self.column_ms() + interval - 1) / interval).unwrap_or(1);
        Some(HeatmapRequest {
            samples: columns.max(1).saturating_mul(per_column.max(1)),
            rows: lines.saturating_mul(ROWS_PER_LINE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_step_between_a_quarter_second_and_a_minute() {
        let mut pane = HeatmapPane::default();
        assert_eq!(pane.column_ms(), 1_000);
        for _ in 0..20 {
            pane.finer();
        }
        assert_eq!(pane.column_ms(), 250);
        for _ in 0..20 {
            pane.coarser();
        }
        assert_eq!(pane.column_ms(), 60_000);
    }

    #[test]
    fn the_request_covers_the_columns_at_the_feeds_interval() {
        let mut pane = HeatmapPane::default();
        assert_eq!(pane.request(100, 30, None), None, "closed: nothing asked");
        pane.toggle();
        assert_eq!(
            pane.request(100, 30, Some(1_000)),
            Some(HeatmapRequest {
                samples: 100,
                rows: 60
            })
        );
        pane.coarser();
        pane.coarser();
        assert_eq!(pane.request(100, 30, Some(1_000)).unwrap().samples, 500);
        // Finer than the interval: one sample per column.
        let mut fine = HeatmapPane::default();
        fine.toggle();
        fine.finer();
        assert_eq!(fine.request(100, 30, Some(1_000)).unwrap().samples, 100);
    }
}
