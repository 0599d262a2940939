//! A product's latest ticker, kept as received and made exact when something reads it.
//!
//! A `ticker` frame comes with every trade, and nearly all of them are replaced by the next before
//! a view (the viewer's, at most 30 a second) or the dump reads them: their five numbers are
//! copied as text into a buffer reused from ticker to ticker (no allocation once it has grown)
//! and parsed at most once, on the first read (the text is checked to be UTF-8 only then: what
//! either parser read is).

use std::cell::OnceCell;
use std::ops::Range;

use rust_decimal::Decimal;

use crate::feed::events::TickerView;
use crate::feed::protocol::TickerFields;

/// The latest ticker of one product.
#[derive(Debug, Clone, Default)]
pub struct LatestTicker {
    /// The numbers' text, back to back.
    text: Vec<u8>,
    /// Where each of [`LatestTicker::fields`] lies in `text`; `None` when the ticker lacked it.
    at: [Option<Range<usize>>; 5],
    /// Local receive time.
    at_ms: i64,
    /// Whether a ticker has arrived at all.
    received: bool,
    /// The numbers made exact, on the first read after a ticker.
    parsed: OnceCell<TickerView>,
}

impl LatestTicker {
    /// Keeps `raw` (received at `now_ms`) in place of the last.
    pub fn set(&mut self, raw: &TickerFields<'_>, now_ms: i64) {
        self.text.clear();
        for (at, field) in self.at.iter_mut().zip(fields(raw)) {
            *at = field.map(|value| {
                let start = self.text.len();
                self.text.extend_from_slice(value);
                start..self.text.len()
            });
        }
        self.at_ms = now_ms;
        self.received = true;
        self.parsed = OnceCell::new();
    }

    /// The latest ticker, exact; `None` before the first.
    pub fn get(&self) -> Option<&TickerView> {
        if !self.received {
            return None;
        }
        Some(self.parsed.get_or_init(|| {
            let number = |i: usize| -> Option<Decimal> {
                let range = self.at[i].clone()?;
                std::str::from_utf8(self.text.get(range)?)
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            TickerView {
                price: number(0),
                volume_24_h: number(1),
                price_percent_chg_24_h: number(2),
                high_24_h: number(3),
                low_24_h: number(4),
                at_ms: self.at_ms,
            }
        }))
    }
}

/// The numbers cbbook shows, in [`LatestTicker`]'s order.
fn fields<'a>(raw: &TickerFields<'a>) -> [Option<&'a [u8]>; 5] {
    [
        raw.price,
        raw.volume_24_h,
        raw.price_percent_chg_24_h,
        raw.high_24_h,
        raw.low_24_h,
    ]
}

/// A ticker made exact at once (a missing or unreadable number is `None`, never a wrong one).
pub fn ticker_view(raw: &TickerFields<'_>, now_ms: i64) -> TickerView {
    let mut latest = LatestTicker::default();
    latest.set(raw, now_ms);
    latest.get().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::protocol::RawTicker;

    fn raw<'a>(price: Option<&'a str>, high: Option<&'a str>) -> RawTicker<'a> {
        RawTicker {
            product_id: "BTC-USD".into(),
            price: price.map(Into::into),
            volume_24_h: Some("16038.28".into()),
            price_percent_chg_24_h: Some("-4.15".into()),
            high_24_h: high.map(Into::into),
            low_24_h: Some(" 21000 ".into()),
        }
    }

    #[test]
    fn the_latest_ticker_reads_exact_and_a_new_one_replaces_it() {
        let mut latest = LatestTicker::default();
        assert_eq!(latest.get(), None, "nothing before the first ticker");
        latest.set(&raw(Some("21932.98"), Some("22500")).fields(), 7);
        let view = latest.get().unwrap().clone();
        assert_eq!(view.price, Some(Decimal::new(2193298, 2)));
        assert_eq!(view.price_percent_chg_24_h, Some(Decimal::new(-415, 2)));
        assert_eq!(
            view.low_24_h,
            Some(Decimal::new(21000, 0)),
            "spaces trimmed"
        );
        assert_eq!(view.at_ms, 7);
        // A ticker without a high, with a bad price: never the last one's numbers.
        latest.set(&raw(Some("abc"), None).fields(), 9);
        let view = latest.get().unwrap();
        assert_eq!((view.price, view.high_24_h), (None, None));
        assert_eq!(view.volume_24_h, Some(Decimal::new(1603828, 2)));
        assert_eq!(view.at_ms, 9);
        assert_eq!(
            ticker_view(&raw(Some("1.5"), None).fields(), 3).price,
            Some(Decimal::new(15, 1))
        );
    }
}
