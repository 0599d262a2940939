//! The dump-book JSON (docs/feed.md, "Headless mode"), written by the client's own writer
//! ([`crate::feed::core::dump_json`]) so that the two files have the same form byte for byte:
//! products in sorted order, fields `state, sequence_num, bids, asks`, compact JSON, one newline.
//!
//! Only `sequence_num` differs in meaning (docs/sim.md): the client writes the per-connection
//! number of the last frame that touched the book, the simulator the count of changes its shared
//! market has made (a market has no connection of its own).

use std::io::Write;
use std::path::Path;

use super::SimError;
use super::fixed::units_to_string;
use super::frames;
use super::market::Market;
use super::server::Shared;
use crate::feed::core::{
    DUMPED_TRADES, DumpedBook, DumpedTicker, DumpedTrade, dump_json, dumped_orders,
    open_order_rows, ticker_of_events, trades_of_events,
};
use crate::feed::events::BookState;

/// One product: always `live` (the simulator's book is the truth), every level best first,
/// canonical number text; `sequence_num` counts the market's changes.
pub fn market_dump(market: &Market) -> DumpedBook {
    let (ps, ss) = (market.spec.price_scale, market.spec.size_scale);
    let row = |(p, s): (&u64, &u64)| [units_to_string(*p, ps), units_to_string(*s, ss)];
    DumpedBook {
        state: BookState::Live,
        reason: None,
        sequence_num: market.version,
        bids: market.levels.bids.iter().rev().map(row).collect(),
        asks: market.levels.asks.iter().map(row).collect(),
        // What a client subscribed from the start holds: the trades and ticker as it reads them.
        trades: {
            let newest: Vec<_> = market.recent_trades().take(DUMPED_TRADES).collect();
            let text = frames::trades_events("update", &market.spec, newest.into_iter().rev());
            trades_of_events(&text)
                .iter()
                .map(DumpedTrade::from)
                .collect()
        },
        // A ticker subscribe is answered with the current ticker, trades or not.
        ticker: ticker_of_events(&frames::ticker_events("update", market))
            .as_ref()
            .map(DumpedTicker::from),
        orders: None,
    }
}

/// Every product, as the text of the dump file (without its final newline).
pub fn dump_text(shared: &Shared) -> String {
    // With orders seeded, each product's open orders of the first trusted key (the key a client
    // compares with; docs/sim.md, "Your orders").
    let key = shared
        .config
        .authorized_keys
        .first()
        .map(|k| k.name.as_str())
        .filter(|_| shared.accounts.active());
    let books: Vec<(&str, DumpedBook)> = shared
        .products
        .iter()
        .map(|p| {
            let mut book = market_dump(&p.lock());
            if let Some(key) = key {
                let json = shared.accounts.open_orders_json(Some(key), &p.id);
                let rows = open_order_rows(&json);
                book.orders = Some(dumped_orders(&rows, &p.id));
            }
            (p.id.as_str(), book)
        })
        .collect();
    dump_json(&books.into_iter().collect())
}

/// Every product as a JSON value (for tests that compare books).
pub fn dump_books(shared: &Shared) -> serde_json::Value {
    serde_json::from_str(&dump_text(shared)).unwrap_or_default()
}

/// Checks at start-up that [`write_dump`] will be able to write `path` at shutdown (it is not a
/// directory, its directory exists, a file can be created there), so a bad `--dump-book` fails
/// before the server starts instead of losing the book at the end. Nothing is left behind.
pub fn check_dump_path(path: &Path) -> Result<(), SimError> {
    let shown = path.display();
    let bad = |why: String| SimError::Config(format!("--dump-book {shown}: {why}"));
    if path.is_dir() {
        return Err(bad(format!(
            "that is a directory; give a file path, e.g. {}",
            path.join("sim-books.json").display()
        )));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(bad(format!(
            "the directory {} does not exist; create it or give a path in an existing directory",
            dir.display()
        )));
    }
    let tmp = temporary_path(path);
    let existed = tmp.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&tmp)
        .map_err(|error| {
            bad(format!(
                "cannot create a file in {} ({error}); give a path in a writable directory",
                dir.display()
            ))
        })?;
    if !existed {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(())
}

/// Where the dump is written before it is renamed into place.
fn temporary_path(path: &Path) -> std::path::PathBuf {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    std::path::PathBuf::from(tmp_name)
}

/// Writes the dump to `path` through a temporary file, so no reader ever sees half a dump.
pub fn write_dump(text: &str, path: &Path) -> Result<(), SimError> {
    let write_err = |error| SimError::Write {
        path: path.to_path_buf(),
        error,
    };
    let tmp = temporary_path(path);
    let mut file = std::fs::File::create(&tmp).map_err(write_err)?;
    file.write_all(text.as_bytes()).map_err(write_err)?;
    file.write_all(b"\n").map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(write_err)
}
