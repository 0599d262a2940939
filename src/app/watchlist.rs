//! The watchlist (`w`): one row per product of the session, sorted by a column, filtered by a
//! text, with a highlighted row that Enter opens. Pure: the App feeds it views and keys.
//!
//! What is kept here, in the App, is what keys change and what must not move by itself: the
//! sort column and direction, the filter and whether it is being typed, the highlighted product,
//! and the row order. What only a draw knows (the rows that fit, the first row shown, column
//! widths) is the ui's (`ui::watchlist`); the rows that fit come back as `Measured`.
//!
//! Row order, the rules:
//! - the sort is stable and ties go by the session's order (the tabs'), so equal rows never
//!   swap;
//! - products without a value in the sort column (no book yet) go last, whichever direction;
//! - the order is computed again at once when the sort column, its direction, the filter or the
//!   set of products changes, and otherwise at most once per [`RESORT_MS`] as views arrive: values
//!   that flicker (a spread that widens for one view) move their row at most once a second, and
//!   between two re-sorts rows stay where they are while their values change;
//! - the highlight follows its product, not its row number: Enter opens what is highlighted.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::feed::events::{FeedView, ProductView};

use super::Health;

/// Between two re-sorts on new values (a key re-sorts at once).
pub const RESORT_MS: i64 = 1_000;
/// PgUp/PgDn move this many rows until a draw says how many fit.
const DEFAULT_PAGE: usize = 10;

/// The columns, left to right; those a narrow terminal drops go from the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The session's order (the tabs').
    Session,
    Product,
    Health,
    /// Your open orders of the product (with a key only: the column is not drawn without one).
    Orders,
    Bid,
    Ask,
    Spread,
    SpreadBps,
    Mid,
    UpdatesPerSec,
    Levels,
    /// The last trade's price (`-` before the first trade).
    Last,
    /// The 24 h change in percent, from the ticker (`-` before the first ticker).
    Change24h,
}

impl Column {
    /// What `s` cycles through, in order.
    pub const SORTABLE: [Column; 11] = [
        Column::Session,
        Column::Product,
        Column::Health,
        Column::SpreadBps,
        Column::Spread,
        Column::Mid,
        Column::UpdatesPerSec,
        Column::Levels,
        Column::Bid,
        Column::Last,
        Column::Change24h,
    ];

    /// The header's name of the column (the sort indicator uses it too).
    pub fn label(self) -> &'static str {
        match self {
            Column::Session => "#",
            Column::Product => "product",
            Column::Health => "health",
            Column::Orders => "orders",
            Column::Bid => "bid",
            Column::Ask => "ask",
            Column::Spread => "spread",
            Column::SpreadBps => "spread bps",
            Column::Mid => "mid",
            Column::UpdatesPerSec => "upd/s",
            Column::Levels => "levels",
            Column::Last => "last",
            Column::Change24h => "24h",
        }
    }

    /// The direction a column sorts in first: names and the session's order ascending; for
    /// health the worst first; numbers the largest first (the widest spread, the busiest book).
    fn descending_first(self) -> bool {
        !matches!(self, Column::Session | Column::Product | Column::Health)
    }
}

/// A row's value in the sort column; None sorts last.
#[derive(Debug, Clone, PartialEq)]
enum SortValue<'a> {
    Num(Decimal),
    Rate(f64),
    Text(&'a str),
    Rank(u8),
}

fn compare(a: &SortValue, b: &SortValue) -> Ordering {
    match (a, b) {
        (SortValue::Num(a), SortValue::Num(b)) => a.cmp(b),
        (SortValue::Rate(a), SortValue::Rate(b)) => a.total_cmp(b),
        (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
        (SortValue::Rank(a), SortValue::Rank(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

/// A row's value in the column `sort`.
fn sort_value<'p>(
    sort: Column,
    i: usize,
    p: &'p ProductView,
    health: &impl Fn(usize) -> Health,
    rate: &impl Fn(&ProductView) -> Option<f64>,
) -> Option<SortValue<'p>> {
    match sort {
        Column::Session => Some(SortValue::Rank(0)),
        Column::Product => Some(SortValue::Text(&p.product)),
        Column::Health => Some(SortValue::Rank(health_rank(health(i)))),
        // Not in `SORTABLE`: the watchlist sorts on what the feed's views carry.
        Column::Orders => None,
        Column::Bid => p.best_bid.map(|(price, _)| SortValue::Num(price)),
        Column::Ask => p.best_ask.map(|(price, _)| SortValue::Num(price)),
        Column::Spread => p.spread.map(SortValue::Num),
        Column::SpreadBps => spread_bps(p).map(SortValue::Num),
        Column::Mid => p.mid.map(SortValue::Num),
        Column::UpdatesPerSec => rate(p).map(SortValue::Rate),
        Column::Levels => Some(SortValue::Num(Decimal::from(levels(p)))),
        Column::Last => p
            .market
            .last_trade
            .as_ref()
            .map(|t| SortValue::Num(t.price)),
        Column::Change24h => p
            .market
            .ticker
            .as_ref()
            .and_then(|t| t.price_percent_chg_24_h)
            .map(SortValue::Num),
    }
}

/// Worst first: what needs a look comes to the top.
fn health_rank(health: Health) -> u8 {
    match health {
        Health::Down => 0,
        Health::AuthError => 1,
        Health::Crossed => 2,
        Health::Resync => 3,
        Health::Stale => 4,
        Health::Connecting => 5,
        Health::Ended => 6,
        Health::Live => 7,
    }
}

/// Spread in basis points of the mid (None without a positive mid).
pub fn spread_bps(product: &ProductView) -> Option<Decimal> {
    let (spread, mid) = (product.spread?, product.mid?);
    if mid <= Decimal::ZERO {
        return None;
    }
    spread.checked_mul(Decimal::from(10_000))?.checked_div(mid)
}

/// Bid and ask levels of the whole book.
pub fn levels(product: &ProductView) -> usize {
    product.bid_levels + product.ask_levels
}

/// Whether `product` passes `filter`: a case-insensitive substring of its id (or of the id it
/// is served as).
pub fn matches(filter: &str, product: &ProductView) -> bool {
    if filter.is_empty() {
        return true;
    }
    let needle = filter.to_ascii_lowercase();
    let has = |id: &str| id.to_ascii_lowercase().contains(&needle);
    has(&product.product) || product.served_as.as_deref().is_some_and(has)
}

/// The watchlist's state (see the module's doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Watchlist {
    open: bool,
    typing: bool,
    filter: String,
    sort: Column,
    descending: bool,
    /// Indices into the view's products of the rows shown, in order, as last sorted.
    order: Vec<usize>,
    /// When the order was last computed, and over how many products.
    ordered_at_ms: Option<i64>,
    ordered_over: usize,
    /// The highlighted product's id.
    cursor: Option<String>,
    /// Rows shown at once, as last drawn.
    page: Option<usize>,
}

impl Default for Watchlist {
    fn default() -> Self {
        Watchlist {
            open: false,
            typing: false,
            filter: String::new(),
            sort: Column::Session,
            descending: false,
            order: Vec::new(),
            ordered_at_ms: None,
            ordered_over: 0,
            cursor: None,
            page: None,
        }
    }
}

impl Watchlist {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Keys go to the filter's text.
    pub fn typing(&self) -> bool {
        self.open && self.typing
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The sort column and whether it is descending.
    pub fn sort(&self) -> (Column, bool) {
        (self.sort, self.descending)
    }

    /// The rows, as indices into the latest view's products, in the order shown.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The highlighted row's place in [`Watchlist::order`] (None when no row is shown).
    pub fn cursor_row(&self, view: Option<&FeedView>) -> Option<usize> {
        let view = view?;
        let name = self.cursor.as_deref();
        let found = self.order.iter().position(|&i| {
            view.products
                .get(i)
                .is_some_and(|p| Some(p.product.as_str()) == name)
        });
        found.or(if self.order.is_empty() { None } else { Some(0) })
    }

    /// The highlighted product's id (the first row's when the highlighted one is filtered out).
    pub fn cursor_product<'v>(&self, view: Option<&'v FeedView>) -> Option<&'v str> {
        let view = view?;
        let row = self.cursor_row(Some(view))?;
        let index = *self.order.get(row)?;
        view.products.get(index).map(|p| p.product.as_str())
    }

    pub(crate) fn open_at(&mut self, product: Option<&str>) {
        self.open = true;
        self.typing = false;
        self.cursor = product.map(str::to_string);
        self.ordered_at_ms = None;
    }

    pub(crate) fn close(&mut self) {
        self.open = false;
        self.typing = false;
    }

    pub(crate) fn start_typing(&mut self) {
        self.typing = true;
    }

    /// Enter: keep the filter, stop typing.
    pub(crate) fn done_typing(&mut self) {
        self.typing = false;
    }

    /// Esc while typing: drop the filter, stop typing.
    pub(crate) fn cancel_typing(&mut self) {
        self.typing = false;
        self.filter.clear();
        self.ordered_at_ms = None;
    }

    pub(crate) fn push_char(&mut self, c: char) {
        if !c.is_control() {
            self.filter.push(c);
            self.ordered_at_ms = None;
        }
    }

    pub(crate) fn pop_char(&mut self) {
        self.filter.pop();
        self.ordered_at_ms = None;
    }

    /// `s`: the next column, in its first direction.
    pub(crate) fn cycle_sort(&mut self) {
        let at = Column::SORTABLE.iter().position(|c| *c == self.sort);
        let next = at.map_or(0, |i| (i + 1) % Column::SORTABLE.len());
        self.sort = Column::SORTABLE[next];
        self.descending = self.sort.descending_first();
        self.ordered_at_ms = None;
    }

    /// `o`: the other direction.
    pub(crate) fn reverse(&mut self) {
        self.descending = !self.descending;
        self.ordered_at_ms = None;
    }

    /// Moves the highlight by `rows` plus `pages` of the rows drawn, within the rows.
    pub(crate) fn move_cursor(&mut self, view: Option<&FeedView>, rows: i64, pages: i64) {
        let Some(view) = view else {
            return;
        };
        let Some(at) = self.cursor_row(Some(view)) else {
            return;
        };
        let page = self.page.unwrap_or(DEFAULT_PAGE).max(1) as i64;
        let last = self.order.len().saturating_sub(1) as i64;
        let to = (at as i64 + rows + pages * page).clamp(0, last);
        let to = usize::try_from(to).unwrap_or(0);
        self.cursor = self
            .order
            .get(to)
            .and_then(|&i| view.products.get(i))
            .map(|p| p.product.clone());
    }

    pub(crate) fn set_page(&mut self, page: Option<usize>) {
        self.page = page;
    }

    /// Whether the order is to be computed again at `now_ms` for `view` (see the module's doc).
    pub(crate) fn due(&self, view: &FeedView, now_ms: i64) -> bool {
        self.open
            && (self.ordered_over != view.products.len()
                || self
                    .ordered_at_ms
                    .is_none_or(|at| now_ms - at >= RESORT_MS || now_ms < at))
    }

    /// Sorts and filters the rows of `view` as of `now_ms`: `health` and `rate` give a
    /// product's badge and updates/s by its index.
    pub(crate) fn reorder(
        &mut self,
        view: &FeedView,
        now_ms: i64,
        health: impl Fn(usize) -> Health,
        rate: impl Fn(&ProductView) -> Option<f64>,
    ) {
        let mut rows: Vec<(usize, Option<SortValue>)> = view
            .products
            .iter()
            .enumerate()
            .filter(|(_, p)| matches(&self.filter, p))
            .map(|(i, p)| (i, sort_value(self.sort, i, p, &health, &rate)))
            .collect();
        let descending = self.descending;
        rows.sort_by(|(ia, a), (ib, b)| {
            let by_value = match (a, b) {
                (Some(a), Some(b)) if descending => compare(b, a),
                (Some(a), Some(b)) => compare(a, b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            // Ties go by the session's order, in either direction of the session's own column.
            let session = if descending && self.sort == Column::Session {
                ib.cmp(ia)
            } else {
                ia.cmp(ib)
            };
            by_value.then(session)
        });
        self.order = rows.into_iter().map(|(i, _)| i).collect();
        self.ordered_at_ms = Some(now_ms);
        self.ordered_over = view.products.len();
    }
}
