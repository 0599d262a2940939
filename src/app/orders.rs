//! Your orders in the viewer (docs/viewer.md, "Your orders"): the orders pane's toggle and what
//! the panes read of the user connection. cbbook only shows orders; it never places, amends or
//! cancels one.

use super::{App, SidePane};
use crate::feed::events::{FeedView, ProductView};
use crate::feed::user_events::UserView;

/// The product of `view` named `name`.
pub(super) fn product_named<'v>(view: &'v FeedView, name: &str) -> Option<&'v ProductView> {
    view.products.iter().find(|p| p.product == name)
}

impl App {
    /// The user connection as last seen (`None` without a key: no user connection).
    pub fn user_view(&self) -> Option<&UserView> {
        self.latest().and_then(|v| v.user.as_ref())
    }

    /// Open orders of `product`, when a user connection exists.
    pub fn open_orders_of(&self, product: &str) -> Option<usize> {
        self.user_view().map(|u| u.orders_of(product).count())
    }

    /// `o` cycles: the shown product's orders, every product's, closed.
    pub(super) fn toggle_orders(&mut self) {
        match self.side_pane() {
            SidePane::Orders(false) => {
                self.side_pane = SidePane::Orders(true);
            }
            SidePane::Orders(true) => self.side_pane = SidePane::None,
            _ => self.toggle_pane(SidePane::Orders(false)),
        }
    }
}
