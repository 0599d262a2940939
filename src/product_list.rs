//! The session's products: from the command line and `--products-file`, else the config file.
//!
//! Ids keep the order they were given in (tabs and the watchlist follow it); an id given twice is
//! kept once, with a warning. Every id passes the rule of [`crate::product_id`], and a session
//! holds at most [`MAX_PRODUCTS`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::product_id::{self, ProductIdError};

/// Most products one session watches. Each level2 product is a book in memory and a share of a
/// connection; 500 covers every USD and USDC market Coinbase lists with room to spare.
pub const MAX_PRODUCTS: usize = 500;

/// Largest `--products-file` read: 500 ids of up to 40 bytes, with comments, fit many times over.
/// A device or a mistaken multi-gigabyte file is refused after this many bytes, not read whole.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why the product list cannot be built. Each message names the file and line where it can.
#[derive(Debug, thiserror::Error)]
pub enum ProductListError {
    #[error("cannot read the products file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the products file {path} is larger than {max} bytes: give one product id a line, e.g. \
         BTC-USD",
        max = MAX_FILE_BYTES
    )]
    TooLarge { path: PathBuf },
    #[error("the products file {path} is not UTF-8 text: give one product id a line, e.g. BTC-USD")]
    NotText { path: PathBuf },
    #[error("{path}:{line}: {problem}")]
    BadId {
        path: PathBuf,
        line: usize,
        problem: ProductIdError,
    },
    #[error(
        "{count} products asked for; cbbook watches at most {MAX_PRODUCTS} at once: shorten the \
         list"
    )]
    TooMany { count: usize },
}

/// The products of a session, in order, each once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductList {
    pub products: Vec<String>,
    /// Ids given more than once (kept once), for a warning.
    pub repeated: Vec<String>,
}

/// Builds the list from the command line's ids, then the file's; when both are empty, the config
/// file's. Checks the count limit.
pub fn build(
    command_line: &[String],
    file: Option<&Path>,
    config: &[String],
) -> Result<ProductList, ProductListError> {
    let mut given: Vec<String> = command_line.to_vec();
    if let Some(path) = file {
        given.extend(read_file(path)?);
    }
    if given.is_empty() {
        given = config.to_vec();
    }
    let mut list = ProductList::default();
    for id in given {
        if list.products.contains(&id) {
            if !list.repeated.contains(&id) {
                list.repeated.push(id);
            }
        } else {
            list.products.push(id);
        }
    }
    if list.products.len() > MAX_PRODUCTS {
        return Err(ProductListError::TooMany {
            count: list.products.len(),
        });
    }
    Ok(list)
}

/// Reads a products file: one id a line; blank lines and everything after `#` are ignored.
pub fn read_file(path: &Path) -> Result<Vec<String>, ProductListError> {
    let read_error = |source| ProductListError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ProductListError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| ProductListError::NotText {
        path: path.to_path_buf(),
    })?;
    parse(&text, path)
}

/// Parses the text of a products file; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<String>, ProductListError> {
    let mut ids = Vec::new();
    // A byte-order mark, as some editors write, is not part of the first id.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or_default().trim();
        if id.is_empty() {
            continue;
        }
        product_id::check(id).map_err(|problem| ProductListError::BadId {
            path: path.to_path_buf(),
            line: index + 1,
            problem,
        })?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_file_has_one_id_a_line_with_comments_and_blank_lines() {
        let text = "\u{feff}# majors\nBTC-USD\n  ETH-USD   # second\n\n\t\nBTC-USDC\r\n";
        assert_eq!(
            parse(text, Path::new("p.txt")).unwrap(),
            ["BTC-USD", "ETH-USD", "BTC-USDC"]
        );
    }

    #[test]
    fn a_bad_id_names_its_file_and_line() {
        let err = parse("BTC-USD\n\neth-usd\n", Path::new("p.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.txt:3: `eth-usd` is not a product id: ids are upper case; did you mean `ETH-USD`?"
        );
        let err = parse("BTC-USD ETH-USD\n", Path::new("p.txt")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.txt:1: `BTC-USD ETH-USD` is not a product id")
        );
    }

    #[test]
    fn command_line_then_file_in_order_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.txt");
        std::fs::write(&path, "ETH-USD\nSOL-USD\nBTC-USD\n").unwrap();
        let list = build(&ids(&["BTC-USD", "ETH-USD"]), Some(&path), &ids(&["X-Y"])).unwrap();
        assert_eq!(list.products, ["BTC-USD", "ETH-USD", "SOL-USD"]);
        assert_eq!(list.repeated, ["ETH-USD", "BTC-USD"]);
    }

    #[test]
    fn the_config_is_used_only_when_nothing_is_given() {
        let list = build(&[], None, &ids(&["BTC-USD"])).unwrap();
        assert_eq!(list.products, ["BTC-USD"]);
        let list = build(&ids(&["ETH-USD"]), None, &ids(&["BTC-USD"])).unwrap();
        assert_eq!(list.products, ["ETH-USD"]);
    }

    #[test]
    fn at_most_500_products() {
        let many: Vec<String> = (0..=MAX_PRODUCTS).map(|i| format!("P{i}-USD")).collect();
        assert_eq!(
            build(&many[..MAX_PRODUCTS], None, &[])
                .unwrap()
                .products
                .len(),
            500
        );
        let err = build(&many, None, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "501 products asked for; cbbook watches at most 500 at once: shorten the list"
        );
    }

    #[test]
    fn unreadable_huge_and_binary_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        assert!(matches!(
            read_file(&missing),
            Err(ProductListError::Read { .. })
        ));
        let huge = dir.path().join("huge.txt");
        std::fs::write(&huge, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            read_file(&huge),
            Err(ProductListError::TooLarge { .. })
        ));
        let binary = dir.path().join("bin");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x42]).unwrap();
        assert!(matches!(
            read_file(&binary),
            Err(ProductListError::NotText { .. })
        ));
        // A device that never ends is cut at the cap, not read forever.
        assert!(matches!(
            read_file(Path::new("/dev/zero")),
            Err(ProductListError::TooLarge { .. })
        ));
    }
}
