//! `--orders FILE`: open orders to seed for trusted keys (docs/sim.md, "Seeded orders").
//!
//! ```json
//! {"organizations/cbbook-demo/apiKeys/demo-es256-test-only": [
//!   {"product_id": "BTC-USD", "side": "BUY", "price": "64900.00", "size": "0.01"},
//!   {"product_id": "ETH-USD", "side": "SELL", "price": "2700", "size": "0.5",
//!    "filled": "0.1", "client_order_id": "my-ladder-3", "age_secs": 3600, "expires_in_secs": 90}
//! ]}
//! ```
//! The file is read and checked in two steps: its form here, when the configuration is read (a
//! field that is missing, unknown or of the wrong kind, a side that is not BUY or SELL, a price
//! or size that is not a positive decimal, a fill not below the size, a key the simulator does
//! not trust); then, once the markets exist, each order against its product (simulated, at the
//! product's increments, resting: a BUY below the best ask, a SELL above the best bid). Every
//! error names the file, the key and the order's position, and says what to give instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SimError;
use super::fixed::{parse_decimal, rescale};
use super::market::{ProductSpec, Side};

/// One order of the file, checked for form.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOrder {
    pub product_id: String,
    pub side: Side,
    /// The decimal texts as given (scaled once the product's increments are known).
    pub price: String,
    pub size: String,
    pub filled: Option<String>,
    pub client_order_id: Option<String>,
    /// How long ago it was placed (its `creation_time`); 0 when not given.
    pub age_secs: u64,
    /// Good until this many seconds after start-up (`GOOD_UNTIL_DATE_TIME`), then `EXPIRED`;
    /// good until cancelled when not given.
    pub expires_in_secs: Option<u64>,
}

/// An order scaled to its product's increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaledOrder {
    pub limit: u64,
    pub quantity: u64,
    pub filled: u64,
}

/// A checked file: each key's orders, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct OrdersFile {
    pub path: PathBuf,
    pub keys: Vec<(String, Vec<FileOrder>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrder {
    product_id: String,
    side: String,
    price: serde_json::Value,
    size: serde_json::Value,
    #[serde(default)]
    filled: Option<serde_json::Value>,
    #[serde(default)]
    client_order_id: Option<String>,
    #[serde(default)]
    age_secs: Option<u64>,
    #[serde(default)]
    expires_in_secs: Option<u64>,
}

const FORM: &str = "give a JSON object of key name to a list of orders, each \
    {\"product_id\",\"side\":\"BUY\"|\"SELL\",\"price\",\"size\"} with optional \"filled\", \
    \"client_order_id\", \"age_secs\", \"expires_in_secs\" (docs/sim.md, \"Seeded orders\")";

/// A decimal given as a string (`"64900.5"`) or a JSON number.
fn decimal_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads `path` and checks its form; `trusted` are the key names the simulator trusts.
pub fn load(path: &Path, trusted: &[&str]) -> Result<OrdersFile, SimError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::Config(format!("--orders {shown}: cannot read it: {e}")))?;
    parse(&text, path, trusted)
}

/// [`load`] on the file's text.
pub fn parse(text: &str, path: &Path, trusted: &[&str]) -> Result<OrdersFile, SimError> {
    let shown = path.display();
    let raw: BTreeMap<String, Vec<RawOrder>> = serde_json::from_str(text)
        .map_err(|e| SimError::Config(format!("--orders {shown}: {e}; {FORM}")))?;
    let mut keys = Vec::new();
    for (key, list) in raw {
        if !trusted.contains(&key.as_str()) {
            let names = if trusted.is_empty() {
                "none: give --authorized-key".to_string()
            } else {
                trusted.join(", ")
            };
            return Err(SimError::Config(format!(
                "--orders {shown}: key \"{key}\" is not trusted by the simulator; its orders \
                 would reach no one. Trust it with --authorized-key (trusted now: {names})"
            )));
        }
        let mut orders = Vec::new();
        for (i, raw) in list.into_iter().enumerate() {
            let at = format!("--orders {shown}: key \"{key}\", order {}", i + 1);
            orders.push(check_form(raw, &at)?);
        }
        keys.push((key, orders));
    }
    Ok(OrdersFile {
        path: path.to_path_buf(),
        keys,
    })
}

fn check_form(raw: RawOrder, at: &str) -> Result<FileOrder, SimError> {
    let err = |what: String| SimError::Config(format!("{at}: {what}"));
    let side = match raw.side.to_ascii_uppercase().as_str() {
        "BUY" => Side::Bid,
        "SELL" => Side::Ask,
        other => return Err(err(format!("side \"{other}\": give BUY or SELL"))),
    };
    let positive = |name: &str, value: &serde_json::Value| -> Result<String, SimError> {
        let text = decimal_text(value).ok_or_else(|| {
            err(format!(
                "{name} {value}: give a decimal, as a string (\"0.01\") or a number"
            ))
        })?;
        match parse_decimal(&text) {
            Ok((units, _)) if units > 0 => Ok(text),
            Ok(_) => Err(err(format!("{name} {text}: give a positive amount"))),
            Err(e) => Err(err(format!("{name} {text}: {e}; give a positive decimal"))),
        }
    };
    let price = positive("price", &raw.price)?;
    let size = positive("size", &raw.size)?;
    let filled = match &raw.filled {
        None => None,
        Some(value) => {
            let text = decimal_text(value).ok_or_else(|| {
                err(format!(
                    "filled {value}: give a decimal below the size, or leave it out"
                ))
            })?;
            let fill = parse_decimal(&text)
                .map_err(|e| err(format!("filled {text}: {e}; give a decimal below the size")))?;
            let whole = parse_decimal(&size).map_err(|e| err(e.to_string()))?;
            let scale = fill.1.max(whole.1);
            let (f, s) = (
                rescale(fill.0, fill.1, scale),
                rescale(whole.0, whole.1, scale),
            );
            if f >= s {
                return Err(err(format!(
                    "filled {text} is not below the size {size}: a filled order is not open; \
                     give less, or leave the order out"
                )));
            }
            Some(text)
        }
    };
    if raw.expires_in_secs == Some(0) {
        return Err(err(
            "expires_in_secs 0: give at least 1 (seconds after start-up), or leave it out for \
             good until cancelled"
                .to_string(),
        ));
    }
    if raw.product_id.trim().is_empty() {
        return Err(err(
            "product_id is empty: give a product such as BTC-USD".to_string()
        ));
    }
    Ok(FileOrder {
        product_id: raw.product_id,
        side,
        price,
        size,
        filled,
        client_order_id: raw.client_order_id,
        age_secs: raw.age_secs.unwrap_or(0),
        expires_in_secs: raw.expires_in_secs,
    })
}

/// `text` in units of 10^-`scale`, when it has no more decimals than that.
fn units_at(text: &str, scale: u32) -> Option<u64> {
    let (units, written) = parse_decimal(text).ok()?;
    rescale(units, written, scale)
}

impl FileOrder {
    /// The order at `spec`'s increments, resting against the touch `(best_bid, best_ask)`;
    /// `at` names it in errors.
    pub fn scale(
        &self,
        spec: &ProductSpec,
        touch: (Option<u64>, Option<u64>),
        at: &str,
    ) -> Result<ScaledOrder, SimError> {
        let err = |what: String| SimError::Config(format!("{at}: {what}"));
        let tick = super::fixed::units_to_string(1, spec.price_scale);
        let step = super::fixed::units_to_string(1, spec.size_scale);
        let limit = units_at(&self.price, spec.price_scale).ok_or_else(|| {
            err(format!(
                "price {}: {} trades in steps of {tick}; give a price at that tick",
                self.price, spec.id
            ))
        })?;
        let size = |text: &str, name: &str| {
            units_at(text, spec.size_scale).ok_or_else(|| {
                err(format!(
                    "{name} {text}: {} sizes go in steps of {step}; give a {name} at that step",
                    spec.id
                ))
            })
        };
        let quantity = size(&self.size, "size")?;
        let filled = match &self.filled {
            Some(text) => size(text, "filled")?,
            None => 0,
        };
        let price = |units: u64| super::fixed::units_to_string(units, spec.price_scale);
        match (self.side, touch) {
            (Side::Bid, (_, Some(ask))) if limit >= ask => {
                return Err(err(format!(
                    "a BUY at {} would trade at once against the best ask {}: a resting BUY is \
                     below the ask; give a lower price",
                    self.price,
                    price(ask)
                )));
            }
            (Side::Ask, (Some(bid), _)) if limit <= bid => {
                return Err(err(format!(
                    "a SELL at {} would trade at once against the best bid {}: a resting SELL \
                     is above the bid; give a higher price",
                    self.price,
                    price(bid)
                )));
            }
            _ => {}
        }
        Ok(ScaledOrder {
            limit,
            quantity,
            filled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "organizations/o/apiKeys/k";

    fn parse_one(text: &str) -> Result<OrdersFile, String> {
        parse(text, Path::new("o.json"), &[KEY]).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_file_is_read_in_order() {
        let f = parse_one(&format!(
            r#"{{"{KEY}":[{{"product_id":"BTC-USD","side":"buy","price":"64900.5","size":0.01}},
               {{"product_id":"ETH-USD","side":"SELL","price":2700,"size":"0.5","filled":"0.1",
                 "client_order_id":"c","age_secs":60,"expires_in_secs":30}}]}}"#
        ))
        .unwrap();
        let orders = &f.keys[0].1;
        assert_eq!(orders.len(), 2);
        assert_eq!(
            (orders[0].side, orders[0].size.as_str()),
            (Side::Bid, "0.01")
        );
        assert_eq!(orders[1].filled.as_deref(), Some("0.1"));
        assert_eq!(orders[1].expires_in_secs, Some(30));
    }

    #[test]
    fn bad_files_say_what_to_give() {
        let order = |fields: &str| format!(r#"{{"{KEY}":[{{"product_id":"BTC-USD",{fields}}}]}}"#);
        for (text, says) in [
            ("[1,2]".to_string(), "give a JSON object of key name"),
            (
                r#"{"organizations/x/apiKeys/y":[]}"#.to_string(),
                "is not trusted by the simulator",
            ),
            (
                order(r#""side":"BID","price":"1","size":"1""#),
                "give BUY or SELL",
            ),
            (
                order(r#""side":"BUY","price":"-1","size":"1""#),
                "give a positive decimal",
            ),
            (
                order(r#""side":"BUY","price":"0","size":"1""#),
                "give a positive amount",
            ),
            (
                order(r#""side":"BUY","price":true,"size":"1""#),
                "give a decimal",
            ),
            (
                order(r#""side":"BUY","prize":"1","size":"1""#),
                "unknown field `prize`",
            ),
            (order(r#""side":"BUY","size":"1""#), "missing field `price`"),
            (
                order(r#""side":"BUY","price":"1","size":"1","filled":"1.0""#),
                "is not below the size",
            ),
            (
                order(r#""side":"BUY","price":"1","size":"1","expires_in_secs":0"#),
                "give at least 1",
            ),
        ] {
            let e = parse_one(&text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
            assert!(e.starts_with("--orders o.json"), "{e}");
        }
    }

    #[test]
    fn orders_are_checked_against_their_product() {
        let spec = ProductSpec {
            id: "BTC-USD".into(),
            price_scale: 2,
            size_scale: 8,
        };
        let order = |side: Side, price: &str, size: &str| FileOrder {
            product_id: "BTC-USD".into(),
            side,
            price: price.into(),
            size: size.into(),
            filled: None,
            client_order_id: None,
            age_secs: 0,
            expires_in_secs: None,
        };
        let touch = (Some(6_493_000), Some(6_493_010));
        let ok = order(Side::Bid, "64929.5", "0.01")
            .scale(&spec, touch, "o")
            .unwrap();
        assert_eq!((ok.limit, ok.quantity), (6_492_950, 1_000_000));
        for (o, says) in [
            (order(Side::Bid, "64929.555", "0.01"), "steps of 0.01"),
            (
                order(Side::Bid, "64929", "0.000000001"),
                "steps of 0.00000001",
            ),
            (
                order(Side::Bid, "64930.1", "0.01"),
                "would trade at once against the best ask 64930.1",
            ),
            (
                order(Side::Ask, "64930", "0.01"),
                "would trade at once against the best bid 64930",
            ),
        ] {
            let e = o.scale(&spec, touch, "o").unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
