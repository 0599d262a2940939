//! The dump-book JSON (INTERFACES.md section 3), as the client's `--dump-book` writes it.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::SimError;
use super::fixed::units_to_string;
use super::market::Market;
use super::server::Shared;

/// One product: `{"state":"live","sequence_num":N,"bids":[["price","size"],...],"asks":[...]}`,
/// best first, every level, canonical number text. `sequence_num` counts the market's changes.
pub fn market_json(market: &Market) -> Value {
    let (ps, ss) = (market.spec.price_scale, market.spec.size_scale);
    let row = |(p, s): (&u64, &u64)| json!([units_to_string(*p, ps), units_to_string(*s, ss)]);
    let bids: Vec<Value> = market.levels.bids.iter().rev().map(row).collect();
    let asks: Vec<Value> = market.levels.asks.iter().map(row).collect();
    json!({
        "state": "live",
        "sequence_num": market.version,
        "bids": bids,
        "asks": asks,
    })
}

/// Every product, in sorted key order.
pub fn dump_books(shared: &Shared) -> Value {
    let mut products: Vec<(String, Value)> = shared
        .products
        .iter()
        .map(|p| (p.id.clone(), market_json(&p.lock())))
        .collect();
    products.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(products.into_iter().collect::<Map<String, Value>>())
}

/// Writes the dump to `path` through a temporary file, so no reader ever sees half a dump.
pub fn write_dump(dump: &Value, path: &Path) -> Result<(), SimError> {
    let write_err = |error| SimError::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(write_err)?;
    serde_json::to_writer(&mut file, dump).map_err(|e| write_err(e.into()))?;
    file.write_all(b"\n").map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(write_err)
}
