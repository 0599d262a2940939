//! Your open orders on the ladder (docs/viewer.md, "Your orders"): each drawn row gets a marker
//! with the total remaining size and the count of your orders that rest in it, in a style of
//! its own. An order at a price the book does not have (a level that emptied, a price between
//! two levels) is marked on the row it would sit next to, with its own price, so that no open
//! order within the drawn rows goes unseen. Orders of unknown price are in the orders pane only.

use rust_decimal::Decimal;

use crate::feed::events::LevelRow;
use crate::feed::user_events::{OrderRow, OrderSide};

/// One row's marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMark {
    pub size: Decimal,
    pub count: usize,
    /// The orders' price when it is not the row's (a price absent from the book); the lowest
    /// of them for bids, the highest for asks, when several are folded in.
    pub away: Option<Decimal>,
}

impl OrderMark {
    /// `◆ 0.012 ×2`, or `◆ 64930.4: 0.012 ×2` at a price absent from the book.
    pub fn text(&self) -> String {
        let away = self
            .away
            .map(|p| format!("{}: ", p.normalize()))
            .unwrap_or_default();
        format!("◆ {away}{} ×{}", self.size.normalize(), self.count)
    }
}

/// The markers of one side's drawn rows (best first, as the view lists them), from the orders
/// on that side (BUY for bids, SELL for asks). `group` is the size of a row's bucket in price
/// (tick × grouping): an order within a row's bucket is at that row.
pub fn marks(
    rows: &[LevelRow],
    orders: &[&OrderRow],
    side: OrderSide,
    group: Decimal,
) -> Vec<Option<OrderMark>> {
    let mut out: Vec<Option<OrderMark>> = vec![None; rows.len()];
    for order in orders.iter().filter(|o| o.side == side) {
        let Some(price) = order.price else { continue };
        // Bids descend: the first row at or below the price; asks ascend: at or above.
        let index = match side {
            OrderSide::Buy => rows.iter().position(|r| r.price <= price),
            OrderSide::Sell => rows.iter().position(|r| r.price >= price),
        };
        // Past the last drawn row: not on the ladder (the pane lists it).
        let Some(index) = index.or_else(|| {
            // Better than the best row (a stale book): on the best row.
            let better = match side {
                OrderSide::Buy => rows.first().is_some_and(|r| price > r.price),
                OrderSide::Sell => rows.first().is_some_and(|r| price < r.price),
            };
            better.then_some(0)
        }) else {
            continue;
        };
        let row = &rows[index];
        let in_bucket = match side {
            OrderSide::Buy => price >= row.price && price < row.price + group,
            OrderSide::Sell => price <= row.price && price > row.price - group,
        };
        let mark = out[index].get_or_insert(OrderMark {
            size: Decimal::ZERO,
            count: 0,
            away: None,
        });
        mark.size += order.leaves;
        mark.count += 1;
        if !in_bucket {
            mark.away = Some(match (mark.away, side) {
                (Some(a), OrderSide::Buy) => a.min(price),
                (Some(a), OrderSide::Sell) => a.max(price),
                (None, _) => price,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(price: i64) -> LevelRow {
        LevelRow {
            price: Decimal::new(price, 2),
            size: Decimal::ONE,
            cum_size: Decimal::ONE,
        }
    }

    fn order(side: OrderSide, price: Option<i64>, leaves: i64) -> OrderRow {
        OrderRow {
            order_id: format!("{price:?}{leaves}"),
            client_order_id: None,
            product_id: "BTC-USD".into(),
            side,
            order_type: "Limit".into(),
            price: price.map(|p| Decimal::new(p, 2)),
            leaves: Decimal::new(leaves, 3),
            filled: Decimal::ZERO,
            avg_price: None,
            status: "OPEN".into(),
            created: None,
            created_ms: None,
        }
    }

    #[test]
    fn orders_at_a_level_and_between_levels_are_marked() {
        let bids = [row(10000), row(9990), row(9950)];
        let orders = [
            order(OrderSide::Buy, Some(10000), 5),
            order(OrderSide::Buy, Some(10000), 7),
            // Absent from the book: between 99.90 and 99.50.
            order(OrderSide::Buy, Some(9970), 1),
            // Beyond the drawn rows: not on the ladder.
            order(OrderSide::Buy, Some(9000), 1),
            order(OrderSide::Buy, None, 9),
            order(OrderSide::Sell, Some(10010), 3),
        ];
        let refs: Vec<&OrderRow> = orders.iter().collect();
        let m = marks(&bids, &refs, OrderSide::Buy, Decimal::new(1, 2));
        assert_eq!(m[0].as_ref().unwrap().text(), "◆ 0.012 ×2");
        assert_eq!(m[1], None);
        assert_eq!(m[2].as_ref().unwrap().text(), "◆ 99.7: 0.001 ×1");
        let asks = [row(10010), row(10020)];
        let a = marks(&asks, &refs, OrderSide::Sell, Decimal::new(1, 2));
        assert_eq!(a[0].as_ref().unwrap().text(), "◆ 0.003 ×1");
    }

    #[test]
    fn a_grouped_row_holds_the_orders_of_its_bucket() {
        let bids = [row(10000), row(9900)];
        let orders = [order(OrderSide::Buy, Some(10050), 2)];
        let refs: Vec<&OrderRow> = orders.iter().collect();
        let m = marks(&bids, &refs, OrderSide::Buy, Decimal::ONE);
        assert_eq!(m[0].as_ref().unwrap().text(), "◆ 0.002 ×1");
    }
}
