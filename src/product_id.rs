//! The one rule for Coinbase product ids, shared by the command line, the config file, the feed
//! client and the simulator.
//!
//! A product id is two or more dash-separated parts of upper-case ASCII letters and digits:
//! `BTC-USD`, `BTC-PERP-INTX`, `1INCH-USD`. The exchange compares ids byte for byte, so
//! `btc-usd` would be refused only once connected: it is caught here, with the id to use instead.
//! An id is at most [`MAX_LEN`] characters: longer, the message says so (the length, not the
//! form, is the problem), and no one has to echo megabytes of it.
//!
//! It also holds the exchange's `-USDC` alias rule ([`served_as`]), which the simulator applies
//! and a client needs to know which events feed which book (docs/sim.md, "-USDC aliasing").

/// Longest id accepted. Coinbase's longest are about 20 characters (`BTC-PERP-INTX`-style
/// derivatives); 40 leaves room without letting a pasted paragraph through.
pub const MAX_LEN: usize = 40;

/// Why a string is not a product id. The message names the actual problem and says what to
/// type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductIdError {
    /// Longer than [`MAX_LEN`] characters, whatever else it is: the length is what to fix first
    /// (a 64-character upper-case id is not "lower case" or "malformed").
    #[error("`{id}` is not a product id: {}", self.hint())]
    TooLong { id: String, chars: usize },
    #[error("`{id}` is not a product id: {}", self.hint())]
    LowerCase { id: String, suggestion: String },
    #[error("`{id}` is not a product id: {}", self.hint())]
    Malformed { id: String },
}

impl ProductIdError {
    /// The id as given (shortened when very long).
    pub fn id(&self) -> &str {
        match self {
            ProductIdError::TooLong { id, .. }
            | ProductIdError::LowerCase { id, .. }
            | ProductIdError::Malformed { id } => id,
        }
    }

    /// What is wrong and what to do instead, without the id: for messages that name the id
    /// their own way (the config file's).
    pub fn hint(&self) -> String {
        match self {
            ProductIdError::TooLong { .. } => {
                format!("{} (e.g. BTC-USD or BTC-PERP-INTX)", self.problem())
            }
            ProductIdError::LowerCase { suggestion, .. } => {
                format!("ids are upper case; did you mean `{suggestion}`?")
            }
            ProductIdError::Malformed { .. } => format!(
                "use the exchange's form: {}, e.g. BTC-USD or BTC-PERP-INTX",
                self.problem()
            ),
        }
    }

    /// What is wrong, naming no product id at all: for the simulator's refusal of a
    /// subscribe, whose text a client searches for the ids it asked for (an example id such
    /// as `BTC-USD` there would read as a refusal of `BTC-USD`).
    pub fn problem(&self) -> String {
        match self {
            ProductIdError::TooLong { chars, .. } => {
                format!("it is {chars} characters long, and product ids are at most {MAX_LEN}")
            }
            ProductIdError::LowerCase { .. } => "product ids are upper case".to_owned(),
            ProductIdError::Malformed { .. } => {
                "upper-case letters and digits in dash-separated parts".to_owned()
            }
        }
    }
}

/// Checks `id` against the rule. The length comes first (an id too long is that, whatever
/// else); a well-formed id with lower-case letters gets its upper-case form as a suggestion.
pub fn check(id: &str) -> Result<(), ProductIdError> {
    if is_product_id(id) {
        return Ok(());
    }
    let chars = id.chars().count();
    if chars > MAX_LEN {
        return Err(ProductIdError::TooLong {
            id: shown(id),
            chars,
        });
    }
    let upper = id.to_ascii_uppercase();
    if is_product_id(&upper) {
        return Err(ProductIdError::LowerCase {
            id: id.to_owned(),
            suggestion: upper,
        });
    }
    Err(ProductIdError::Malformed { id: shown(id) })
}

/// `id` as a message may quote it: a pasted paragraph is not worth repeating whole, so past
/// [`MAX_LEN`] characters it is cut, saying so.
fn shown(id: &str) -> String {
    match id.char_indices().nth(MAX_LEN) {
        Some((at, _)) => format!("{}...", &id[..at]),
        None => id.to_owned(),
    }
}

/// Whether `id` is a product id: two or more non-empty dash-separated parts of upper-case ASCII
/// letters and digits, at most [`MAX_LEN`] bytes.
pub fn is_product_id(id: &str) -> bool {
    id.len() <= MAX_LEN
        && id.split('-').count() >= 2
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// `-USDC` products that are markets of their own on every channel, never aliased. Coinbase's
/// channel docs: "USDT-USDC and EURC-USDC are available on all channels."
pub const USDC_PRODUCTS_OF_THEIR_OWN: [&str; 2] = ["USDT-USDC", "EURC-USDC"];

/// The product whose data the exchange serves for `id` on the market-data channels (every
/// channel but `user`), when that is another product: `BTC-USDC` is served as `BTC-USD`, with
/// `product_id` `BTC-USD` in the events. `None` when `id` is served as itself.
///
/// Coinbase's channel docs (docs/sim.md, "-USDC aliasing"): "Subscribing to -USDC based products
/// are only available on the user channel. Other channels will return the same data as the
/// corresponding -USD based products. USDT-USDC and EURC-USDC are available on all channels."
///
/// Only spot ids (`BASE-USDC`, two parts) are aliased, and not the ones in
/// [`USDC_PRODUCTS_OF_THEIR_OWN`]. The answer is a prefix of `id`, so nothing is allocated.
pub fn served_as(id: &str) -> Option<&str> {
    let base = id.strip_suffix("-USDC")?;
    let spot = !base.is_empty() && !base.contains('-');
    if !spot || !is_product_id(id) || USDC_PRODUCTS_OF_THEIR_OWN.contains(&id) {
        return None;
    }
    // `BTC-USDC` less its last letter: `BTC-USD`.
    id.get(..id.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdc_spot_products_are_served_as_usd() {
        assert_eq!(served_as("BTC-USDC"), Some("BTC-USD"));
        assert_eq!(served_as("ETH-USDC"), Some("ETH-USD"));
        assert_eq!(served_as("1INCH-USDC"), Some("1INCH-USD"));
    }

    #[test]
    fn other_ids_are_served_as_themselves() {
        for id in [
            // "USDT-USDC and EURC-USDC are available on all channels."
            "USDT-USDC",
            "EURC-USDC",
            "BTC-USD",
            "USDC-USD",
            "USDC-EUR",
            "BTC-USDT",
            "BTC-USDCX",
            // Not spot, or not a product id at all.
            "BTC-PERP-USDC",
            "-USDC",
            "USDC",
            "btc-usdc",
            "",
        ] {
            assert_eq!(served_as(id), None, "{id}");
        }
    }

    #[test]
    fn exchange_ids_pass() {
        for ok in [
            "BTC-USD",
            "BTC-PERP-INTX",
            "1INCH-USD",
            "USDT-USDC",
            "ETH-EUR",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn lower_case_gets_a_suggestion() {
        let err = check("btc-usd").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`btc-usd` is not a product id: ids are upper case; did you mean `BTC-USD`?"
        );
        assert!(
            matches!(check("Eth-Usd"), Err(ProductIdError::LowerCase { suggestion, .. }) if suggestion == "ETH-USD")
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "", "BTC", "-BTC", "BTC-", "BTC--USD", "BTC_USD", "BTC USD", "BTC-USD ", "ÉTH-USD",
            "btc",
        ] {
            assert!(
                matches!(check(bad), Err(ProductIdError::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_long_input_is_not_repeated_whole() {
        let paragraph = "x ".repeat(5000);
        assert!(check(&paragraph).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn an_id_too_long_is_refused_for_its_length_whatever_its_case() {
        let upper = format!("{}-USD", "A".repeat(60));
        let err = check(&upper).unwrap_err();
        assert!(
            matches!(err, ProductIdError::TooLong { chars: 64, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "`{}...` is not a product id: it is 64 characters long, and product ids are at \
                 most 40 (e.g. BTC-USD or BTC-PERP-INTX)",
                &upper[..40]
            )
        );
        assert!(!err.to_string().contains("upper-case"), "{err}");
        // The problem alone names no product id (the simulator's refusals use it).
        assert_eq!(
            err.problem(),
            "it is 64 characters long, and product ids are at most 40"
        );
        for other in ["btc-usd", "BTC--USD"] {
            let problem = check(other).unwrap_err().problem();
            assert!(!problem.contains("BTC"), "{problem}");
        }
        for long in [upper.to_ascii_lowercase(), "é".repeat(41), "X".repeat(250)] {
            assert!(
                matches!(check(&long), Err(ProductIdError::TooLong { .. })),
                "{long}"
            );
        }
        // At the limit it is the form that counts.
        let at_limit = format!("{}-USD", "A".repeat(MAX_LEN - 4));
        assert_eq!(check(&at_limit), Ok(()));
        assert!(matches!(
            check(&format!("{}--USD", "A".repeat(10))),
            Err(ProductIdError::Malformed { .. })
        ));
    }
}
