//! Your fills on the tape (docs/viewer.md, "Your fills on the tape"): which trades of the tape
//! are fills of your orders, as the signed `user` channel reported them.
//!
//! The `user` channel says how much of an order filled (its `cumulative_quantity` grew), not
//! which trade it was; `market_trades` says which trades happened, not whose. A fill is matched
//! to a trade of the same product at the same price, of the same size, with your order on the
//! maker side (a resting BUY is hit by a seller), at most [`MATCH_WINDOW_MS`] from the fill's
//! time (the `user` frame's server timestamp; else its receive time less the measured clock
//! offset). Each trade is claimed by one fill at most, newest first. A fill that matches no
//! trade (the exchange reported several matches as one update, or the trade is older than the
//! tape) is not guessed onto one: the tape's legend counts it, and the orders pane lists it.

use crate::feed::events::TradeRow;
use crate::feed::user_events::FillRow;

/// How far apart a fill's time and its trade's may be. The simulator stamps both with the same
/// instant; on the exchange both come from its matching engine within milliseconds.
pub const MATCH_WINDOW_MS: i64 = 3_000;

/// The marker drawn at the start of a tape line that holds one of your fills.
pub const FILL_MARK: &str = "◆";

/// Which of `trades` (one product's, newest first) are `fills` of that product, and how many of
/// the fills that are as recent as the tape matched none. `clock_offset_ms` is this machine's
/// clock minus the server's, when measured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FillMatch {
    /// One flag per trade.
    pub mine: Vec<bool>,
    /// Fills no newer than the tape's newest trade nor older than its oldest that matched no
    /// trade.
    pub unmatched: usize,
}

pub fn match_fills(
    trades: &[TradeRow],
    fills: &[FillRow],
    product: &str,
    clock_offset_ms: Option<i64>,
) -> FillMatch {
    let mut mine = vec![false; trades.len()];
    let mut unmatched = 0;
    let (Some(newest), Some(oldest)) = (trades.first(), trades.last()) else {
        return FillMatch { mine, unmatched };
    };
    for fill in fills.iter().filter(|f| f.product_id == product) {
        let Some(price) = fill.price else {
            continue;
        };
        let at = fill
            .server_ms
            .unwrap_or_else(|| fill.at_ms - clock_offset_ms.unwrap_or(0));
        // A resting BUY is the maker on the bid: the trade's `side` (the maker's) is BUY.
        let maker = fill.side.as_str();
        let found = trades.iter().enumerate().position(|(i, t)| {
            !mine[i]
                && t.price == price
                && t.size == fill.size
                && t.side.eq_ignore_ascii_case(maker)
                && (t.time_ms - at).abs() <= MATCH_WINDOW_MS
        });
        match found {
            Some(i) => mine[i] = true,
            None => {
                let within = at <= newest.time_ms + MATCH_WINDOW_MS
                    && at >= oldest.time_ms - MATCH_WINDOW_MS;
                if within {
                    unmatched += 1;
                }
            }
        }
    }
    FillMatch { mine, unmatched }
}

/// Per tape line (as [`crate::ui::tape::tape_lines`] groups `trades`: one taker's consecutive
/// trades), whether it holds one of your fills.
pub fn lines_with_fills(trades: &[TradeRow], mine: &[bool]) -> Vec<bool> {
    let mut lines: Vec<bool> = Vec::new();
    let mut last: Option<&TradeRow> = None;
    for (trade, &is_mine) in trades.iter().zip(mine) {
        match (last, lines.last_mut()) {
            (Some(prev), Some(line))
                if prev.time_ms == trade.time_ms && prev.aggressor == trade.aggressor =>
            {
                *line |= is_mine;
            }
            _ => lines.push(is_mine),
        }
        last = Some(trade);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::events::Aggressor;
    use crate::feed::user_events::OrderSide;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn trade(time_ms: i64, price: &str, size: &str, maker: &'static str) -> TradeRow {
        TradeRow {
            trade_id: time_ms.to_string().into(),
            time_ms,
            price: d(price),
            size: d(size),
            side: maker.into(),
            aggressor: Aggressor::from_maker_side(maker).unwrap(),
        }
    }

    fn fill(side: OrderSide, price: &str, size: &str, server_ms: Option<i64>) -> FillRow {
        FillRow {
            order_id: "o".into(),
            product_id: "BTC-USD".into(),
            side,
            price: Some(d(price)),
            size: d(size),
            status: "OPEN".into(),
            at_ms: 50_000,
            server_ms,
        }
    }

    #[test]
    fn a_fill_marks_the_trade_at_its_price_size_side_and_time() {
        let trades = [
            trade(10_000, "100", "0.5", "BUY"),
            trade(10_000, "100", "0.2", "BUY"),
            trade(9_000, "101", "0.2", "SELL"),
            trade(2_000, "100", "0.2", "BUY"),
        ];
        let fills = [fill(OrderSide::Buy, "100", "0.2", Some(10_001))];
        let m = match_fills(&trades, &fills, "BUY-ELSE", None);
        assert_eq!(m.mine, [false; 4], "another product's fills mark nothing");
        let m = match_fills(&trades, &fills, "BTC-USD", None);
        assert_eq!(m.mine, [false, true, false, false]);
        assert_eq!(m.unmatched, 0);
        // A SELL of the same price and size is not a BUY's fill; too far in time, not either.
        let m = match_fills(
            &trades,
            &[
                fill(OrderSide::Sell, "100", "0.2", Some(10_001)),
                fill(OrderSide::Buy, "101", "0.2", Some(20_000)),
            ],
            "BTC-USD",
            None,
        );
        assert_eq!(m.mine, [false; 4]);
        assert_eq!(m.unmatched, 1, "the fill at 20 s is newer than the tape");
        // Two equal fills claim two trades, never one twice.
        let two = [
            fill(OrderSide::Buy, "100", "0.2", Some(10_000)),
            fill(OrderSide::Buy, "100", "0.2", Some(2_500)),
        ];
        let m = match_fills(&trades, &two, "BTC-USD", None);
        assert_eq!(m.mine, [false, true, false, true]);
    }

    #[test]
    fn without_a_server_time_the_receive_time_is_corrected_by_the_clock() {
        let trades = [trade(10_000, "100", "0.2", "BUY")];
        // Received at 50 s by a clock 40 s ahead of the server's.
        let f = [fill(OrderSide::Buy, "100", "0.2", None)];
        assert_eq!(
            match_fills(&trades, &f, "BTC-USD", Some(40_000)).mine,
            [true]
        );
        assert_eq!(match_fills(&trades, &f, "BTC-USD", None).mine, [false]);
    }

    #[test]
    fn a_line_with_one_of_your_trades_is_yours() {
        let trades = [
            trade(10_000, "100", "0.5", "BUY"),
            trade(10_000, "99", "0.2", "BUY"),
            trade(9_000, "101", "0.2", "SELL"),
        ];
        assert_eq!(
            lines_with_fills(&trades, &[false, true, false]),
            [true, false]
        );
    }
}
