//! Pause: the screen is frozen on one view, but what was opened or selected while paused is
//! filled in from the first view that has it.

use std::sync::Arc;

use crate::app::{App, flash};
use crate::feed::events::{FeedView, ProductView};

impl App {
    /// The feed builds rows only for the selected product, so a product selected while paused
    /// has none in the frozen view: it is frozen from the first view that has them instead.
    /// The same for the tape and the volume at price opened while paused (the feed fills them
    /// only once asked): the product is frozen from the first view that has them.
    pub(super) fn fill_paused_rows(&mut self) {
        let (Some(shown), Some(latest)) = (&self.shown, &self.latest) else {
            return;
        };
        let Some(name) = self.selected_name() else {
            return;
        };
        let Some(at) = shown.products.iter().position(|p| p.product == name) else {
            return;
        };
        // What the screen shows of the product and the frozen view lacks: rows, or (once the
        // product has trades) the tape or the volume at price asked for.
        let (tape, volume) = (self.tape, self.volume_column);
        let heatmap = self.heatmap.is_open();
        let lacks = |p: &ProductView| {
            flash::rows_withheld(p)
                || (heatmap && p.market.heatmap.is_none())
                || (p.market.trades > 0
                    && ((tape && p.market.tape.is_empty())
                        || (volume && p.market.volume_at_price.is_empty())))
        };
        if !lacks(&shown.products[at]) {
            return;
        }
        let Some(fresh) = latest
            .products
            .iter()
            .find(|p| p.product == name && !lacks(p))
        else {
            return;
        };
        let mut filled = FeedView::clone(shown);
        filled.products[at] = fresh.clone();
        self.shown = Some(Arc::new(filled));
        self.dirty = true;
    }
}
