//! The events of the `market_trades` and `ticker` (or `ticker_batch`) channels, as received:
//! numbers stay text here; the core makes them exact decimals (docs/feed.md, "Trades").

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A `market_trades` event: `snapshot` (recent trades, on every subscribe) or `update`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TradesEvent<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub trades: Vec<RawTrade<'a>>,
}

/// One trade as Coinbase prints it (text borrowed from the frame where it can be). `side` is
/// the maker's side.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawTrade<'a> {
    /// Text in the docs; a number is accepted too.
    #[serde(borrow, deserialize_with = "id_text")]
    pub trade_id: Cow<'a, str>,
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    #[serde(borrow)]
    pub price: Cow<'a, str>,
    #[serde(borrow)]
    pub size: Cow<'a, str>,
    #[serde(borrow)]
    pub side: Cow<'a, str>,
    #[serde(borrow)]
    pub time: Cow<'a, str>,
}

/// A `ticker` or `ticker_batch` event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TickerEvent<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub tickers: Vec<RawTicker<'a>>,
}

/// One product's ticker; every number may be missing (`ticker_batch` omits some).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawTicker<'a> {
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    #[serde(borrow)]
    pub price: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub volume_24_h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub price_percent_chg_24_h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub high_24_h: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub low_24_h: Option<Cow<'a, str>>,
}

/// One trade's values as bytes, whichever parser read them: what the core makes a trade of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeFields<'a> {
    pub trade_id: &'a [u8],
    pub product_id: &'a [u8],
    pub price: &'a [u8],
    pub size: &'a [u8],
    pub side: &'a [u8],
    pub time: &'a [u8],
}

impl RawTrade<'_> {
    pub fn fields(&self) -> TradeFields<'_> {
        TradeFields {
            trade_id: self.trade_id.as_bytes(),
            product_id: self.product_id.as_bytes(),
            price: self.price.as_bytes(),
            size: self.size.as_bytes(),
            side: self.side.as_bytes(),
            time: self.time.as_bytes(),
        }
    }
}

/// One ticker's values as bytes, whichever parser read them (a number the ticker lacks is
/// `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickerFields<'a> {
    pub product_id: &'a [u8],
    pub price: Option<&'a [u8]>,
    pub volume_24_h: Option<&'a [u8]>,
    pub price_percent_chg_24_h: Option<&'a [u8]>,
    pub high_24_h: Option<&'a [u8]>,
    pub low_24_h: Option<&'a [u8]>,
}

impl RawTicker<'_> {
    pub fn fields(&self) -> TickerFields<'_> {
        TickerFields {
            product_id: self.product_id.as_bytes(),
            price: self.price.as_deref().map(str::as_bytes),
            volume_24_h: self.volume_24_h.as_deref().map(str::as_bytes),
            price_percent_chg_24_h: self.price_percent_chg_24_h.as_deref().map(str::as_bytes),
            high_24_h: self.high_24_h.as_deref().map(str::as_bytes),
            low_24_h: self.low_24_h.as_deref().map(str::as_bytes),
        }
    }
}

fn id_text<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'a, str>, D::Error> {
    struct V<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
        type Value = Cow<'a, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a trade id: text or a non-negative integer")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'a, str>, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'a, str>, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cow<'a, str>, E> {
            Ok(Cow::Owned(v.to_string()))
        }
    }
    deserializer.deserialize_any(V(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trades_event_reads_as_the_exchange_prints_it() {
        let text = r#"[{"type":"update","trades":[{"trade_id":"846149798","product_id":"ETH-USD","price":"2668.35","size":"0.03710506","side":"SELL","time":"2026-09-30T01:41:25.375232Z"},{"trade_id":846149799,"product_id":"ETH-USD","price":"2668.36","size":"1","side":"BUY","time":"2026-09-30T01:41:25.4Z"}]}]"#;
        let events: Vec<TradesEvent> = serde_json::from_str(text).unwrap();
        assert_eq!(events[0].kind, "update");
        assert_eq!(events[0].trades[0].trade_id, "846149798");
        assert_eq!(
            events[0].trades[1].trade_id, "846149799",
            "a number id is text too"
        );
        assert_eq!(events[0].trades[0].side, "SELL");
    }

    #[test]
    fn a_ticker_batch_without_some_fields_reads() {
        let text = r#"[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28","price_percent_chg_24_h":"-4.15"}]}]"#;
        let events: Vec<TickerEvent> = serde_json::from_str(text).unwrap();
        let t = &events[0].tickers[0];
        assert_eq!(t.price.as_deref(), Some("21932.98"));
        assert_eq!(t.high_24_h, None);
    }
}
