//! Reading a real order book to seed a product (`cbbook sim --book FILE`).
//!
//! The format is the one of `tests/fixtures/btc-usd-l2-2026-08-07.json.gz` (a capture of
//! Coinbase's REST book), plain or gzipped:
//! `{"product":"BTC-USD","bids":[["64930.57","0.5",3],...],"asks":[...]}`; prices and sizes are
//! decimal strings (JSON numbers are accepted too), extra fields and extra columns are ignored.
//! The product's tick and size increment are the finest scales found in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde::Deserialize;
use thiserror::Error;

use super::fixed::{self, FixedError};
use super::market::Levels;

/// A book read from a file, exact, at the finest scales the file uses.
#[derive(Debug, Clone)]
pub struct LoadedBook {
    pub product: String,
    pub price_scale: u32,
    pub size_scale: u32,
    pub levels: Levels,
}

/// Why a book file could not be used.
#[derive(Debug, Error)]
pub enum BookFileError {
    #[error("cannot read book file {path}: {error}")]
    Read {
        path: PathBuf,
        /// Shown in the message (not chained, so it is printed once).
        error: std::io::Error,
    },
    #[error(
        "book file {path} is larger than 64 MiB (once decompressed): not a book file; expected {{\"product\":\"BTC-USD\",\"bids\":[[\"price\",\"size\"],...],\"asks\":[...]}}"
    )]
    TooLarge { path: PathBuf },
    #[error(
        "book file {path} is not valid JSON ({error}); expected {{\"product\":\"BTC-USD\",\"bids\":[[\"price\",\"size\"],...],\"asks\":[...]}}"
    )]
    Json {
        path: PathBuf,
        /// Shown in the message (not chained, so it is printed once).
        error: serde_json::Error,
    },
    #[error(
        "book file {path} has no \"product\" field: add one naming the product, e.g. \"product\":\"BTC-USD\""
    )]
    NoProduct { path: PathBuf },
    #[error("book file {path}: product {problem}")]
    BadProduct {
        path: PathBuf,
        problem: crate::product_id::ProductIdError,
    },
    #[error("book file {path}: {side}[{index}] {problem}")]
    BadLevel {
        path: PathBuf,
        side: &'static str,
        index: usize,
        problem: String,
    },
    #[error("book file {path}: {side} lists the price {price} twice")]
    Duplicate {
        path: PathBuf,
        side: &'static str,
        price: String,
    },
    #[error("book file {path} is crossed: best bid {bid} is not below best ask {ask}")]
    Crossed {
        path: PathBuf,
        bid: String,
        ask: String,
    },
    #[error("book file {path} has no levels at all")]
    Empty { path: PathBuf },
}

#[derive(Deserialize)]
struct RawBook {
    product: Option<String>,
    #[serde(default)]
    bids: Vec<Vec<serde_json::Value>>,
    #[serde(default)]
    asks: Vec<Vec<serde_json::Value>>,
}

/// The largest book file read, and the most a gzipped one may expand to: the 45,393-level
/// BTC-USD capture is 1.2 MB of JSON.
pub const MAX_BOOK_FILE_BYTES: u64 = 64 << 20;

/// Reads a book file, gzipped or not (detected from its first bytes).
pub fn load_book_file(path: &Path) -> Result<LoadedBook, BookFileError> {
    let read_err = |error| BookFileError::Read {
        path: path.to_path_buf(),
        error,
    };
    let too_large = || BookFileError::TooLarge {
        path: path.to_path_buf(),
    };
    let raw = crate::bounded::read_file_at_most(path, MAX_BOOK_FILE_BYTES)
        .map_err(read_err)?
        .ok_or_else(too_large)?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        crate::bounded::read_at_most(GzDecoder::new(raw.as_slice()), MAX_BOOK_FILE_BYTES)
            .map_err(read_err)?
            .ok_or_else(too_large)?
    } else {
        raw
    };
    let book: RawBook = serde_json::from_slice(&text).map_err(|error| BookFileError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    parse_book(path, book)
}

/// Parses one `[price, size, ...]` entry into (price, price scale, size, size scale).
fn parse_level(entry: &[serde_json::Value]) -> Result<(u64, u32, u64, u32), String> {
    let text = |v: Option<&serde_json::Value>, what: &str| -> Result<String, String> {
        match v {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!(
                "has no {what}: expected [\"price\", \"size\", ...]"
            )),
        }
    };
    let price = text(entry.first(), "price")?;
    let size = text(entry.get(1), "size")?;
    let why = |e: FixedError| e.to_string();
    let (p, ps) = fixed::parse_decimal(&price).map_err(why)?;
    let (s, ss) = fixed::parse_decimal(&size).map_err(why)?;
    if p == 0 {
        return Err(format!("has the price {price}, which is not positive"));
    }
    if s == 0 {
        return Err(format!(
            "has the size {size}: a book level needs a positive size"
        ));
    }
    Ok((p, ps, s, ss))
}

fn parse_book(path: &Path, book: RawBook) -> Result<LoadedBook, BookFileError> {
    let product = book.product.ok_or_else(|| BookFileError::NoProduct {
        path: path.to_path_buf(),
    })?;
    crate::product_id::check(&product).map_err(|problem| BookFileError::BadProduct {
        path: path.to_path_buf(),
        problem,
    })?;
    let mut parsed: [Vec<(u64, u32, u64, u32)>; 2] = [Vec::new(), Vec::new()];
    for (slot, (side, entries)) in [("bids", &book.bids), ("asks", &book.asks)]
        .into_iter()
        .enumerate()
    {
        for (index, entry) in entries.iter().enumerate() {
            let level = parse_level(entry).map_err(|problem| BookFileError::BadLevel {
                path: path.to_path_buf(),
                side,
                index,
                problem,
            })?;
            parsed[slot].push(level);
        }
    }
    let all = parsed.iter().flatten();
    let price_scale = all.clone().map(|l| l.1).max().unwrap_or(0);
    let size_scale = all.map(|l| l.3).max().unwrap_or(0);
    if parsed.iter().all(Vec::is_empty) {
        return Err(BookFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut levels = Levels::default();
    for (slot, side) in ["bids", "asks"].into_iter().enumerate() {
        let map: &mut BTreeMap<u64, u64> = if slot == 0 {
            &mut levels.bids
        } else {
            &mut levels.asks
        };
        for (index, &(p, ps, s, ss)) in parsed[slot].iter().enumerate() {
            let bad = |problem: &str| BookFileError::BadLevel {
                path: path.to_path_buf(),
                side,
                index,
                problem: problem.to_string(),
            };
            let price = fixed::rescale(p, ps, price_scale)
                .ok_or_else(|| bad("has a price too large for the book's tick"))?;
            let size = fixed::rescale(s, ss, size_scale)
                .ok_or_else(|| bad("has a size too large for the book's size increment"))?;
            if map.insert(price, size).is_some() {
                return Err(BookFileError::Duplicate {
                    path: path.to_path_buf(),
                    side,
                    price: fixed::units_to_string(price, price_scale),
                });
            }
        }
    }
    if levels.is_crossed() {
        let text = |v: Option<(u64, u64)>| {
            v.map(|(p, _)| fixed::units_to_string(p, price_scale))
                .unwrap_or_default()
        };
        return Err(BookFileError::Crossed {
            path: path.to_path_buf(),
            bid: text(levels.best_bid()),
            ask: text(levels.best_ask()),
        });
    }
    Ok(LoadedBook {
        product,
        price_scale,
        size_scale,
        levels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(name: &str, body: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_plain_json_at_the_finest_scale() {
        let (_d, path) = write(
            "b.json",
            br#"{"product":"BTC-USD","captured_at":"x","bids":[["64930.57","0.5",3],["64930","1.25",1]],"asks":[["64934.1","0.00000001",1]]}"#,
        );
        let book = load_book_file(&path).unwrap();
        assert_eq!(book.product, "BTC-USD");
        assert_eq!(book.price_scale, 2);
        assert_eq!(book.size_scale, 8);
        assert_eq!(book.levels.best_bid(), Some((6_493_057, 50_000_000)));
        assert_eq!(book.levels.best_ask(), Some((6_493_410, 1)));
        assert_eq!(book.levels.bids.get(&6_493_000), Some(&125_000_000));
    }

    #[test]
    fn reads_gzip() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"product":"ETH-USD","bids":[[2668.35, 1]],"asks":[[2668.4, 2]]}"#)
            .unwrap();
        let (_d, path) = write("b.json.gz", &gz.finish().unwrap());
        let book = load_book_file(&path).unwrap();
        assert_eq!(book.product, "ETH-USD");
        assert_eq!(book.levels.best_ask(), Some((266_840, 2)));
    }

    #[test]
    fn every_bad_file_says_what_is_wrong() {
        let cases: [(&[u8], &str); 7] = [
            (b"not json", "not valid JSON"),
            (br#"{"bids":[],"asks":[]}"#, "no \"product\" field"),
            (
                br#"{"product":"btc usd","bids":[["1","1"]]}"#,
                "not a product id",
            ),
            (
                br#"{"product":"A-B","bids":[["1"]]}"#,
                "bids[0] has no size",
            ),
            (
                br#"{"product":"A-B","asks":[["1","0"]]}"#,
                "needs a positive size",
            ),
            (
                br#"{"product":"A-B","bids":[["2","1"]],"asks":[["2","1"]]}"#,
                "crossed",
            ),
            (
                br#"{"product":"A-B","bids":[["2","1"],["2.0","1"]]}"#,
                "twice",
            ),
        ];
        for (body, expected) in cases {
            let (_d, path) = write("b.json", body);
            let err = load_book_file(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let err = load_book_file(Path::new("/nonexistent/b.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read book file"), "{err}");
    }
}
