//! Why a number or an update was refused. Nothing is ever rounded or clamped instead.

use rust_decimal::Decimal;

use super::Side;

/// Texts longer than this are cut in error messages (a bad field can be megabytes long).
const SHOWN_TEXT_MAX: usize = 64;

/// A price or size the book cannot hold exactly, or an update it refused. The book is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Not digits with at most one point (an exponent, a sign other than `-`, spaces, `NaN`...).
    #[error(
        "{what} {text:?} is not a plain decimal number: expected digits with at most one point, \
         like \"64930.57\" (no sign, exponent or spaces); the update was not applied"
    )]
    Malformed { what: &'static str, text: String },
    /// Starts with `-`: prices and sizes are never negative.
    #[error(
        "{what} {text:?} is negative; order book prices and sizes are never negative, so the \
         update was not applied"
    )]
    Negative { what: &'static str, text: String },
    /// A non-zero digit after the 12th decimal.
    #[error(
        "{what} {text:?} has more than 12 decimals, finer than the book holds exactly; it was \
         not rounded and the update was not applied"
    )]
    TooManyDecimals { what: &'static str, text: String },
    /// `10^15` or more.
    #[error(
        "{what} {text:?} is too large: the book holds values below 10^15 (15 digits before the \
         point); the update was not applied"
    )]
    TooLarge { what: &'static str, text: String },
    /// A price of zero (`"0"`, `"0.00"`): no order rests at a price of nothing, so the level
    /// is bad data, like a negative price.
    #[error(
        "price {text:?} is not positive; order book prices are above zero, so the update was \
         not applied"
    )]
    NotPositive { text: String },
    /// The sizes on one side would add up to more than cumulative sums can hold exactly.
    #[error(
        "the sizes on the {side} side would add up to more than 79228162514264337.593543950335, \
         beyond exact cumulative sums; the update was not applied"
    )]
    SideTotalTooLarge { side: Side },
}

/// What is wrong with a number, before we know whether it is a price or a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberProblem {
    Malformed,
    Negative,
    TooManyDecimals,
    TooLarge,
}

impl BookError {
    pub(crate) fn number(what: &'static str, text: &[u8], problem: NumberProblem) -> BookError {
        let text = shown(text);
        match problem {
            NumberProblem::Malformed => BookError::Malformed { what, text },
            NumberProblem::Negative => BookError::Negative { what, text },
            NumberProblem::TooManyDecimals => BookError::TooManyDecimals { what, text },
            NumberProblem::TooLarge => BookError::TooLarge { what, text },
        }
    }

    pub(crate) fn decimal(what: &'static str, value: Decimal, problem: NumberProblem) -> BookError {
        BookError::number(what, value.to_string().as_bytes(), problem)
    }
}

/// The offending text, lossily decoded and cut to a readable length.
fn shown(text: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(text);
    if decoded.chars().count() <= SHOWN_TEXT_MAX {
        decoded.into_owned()
    } else {
        let mut cut: String = decoded.chars().take(SHOWN_TEXT_MAX).collect();
        cut.push_str("...");
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_text() {
        let err = BookError::number("price", b"1e5", NumberProblem::Malformed);
        let message = err.to_string();
        assert!(
            message.starts_with("price \"1e5\" is not a plain decimal number"),
            "{message}"
        );
        let long = vec![b'9'; 1000];
        let err = BookError::number("size", &long, NumberProblem::TooLarge);
        assert!(err.to_string().len() < 300, "{err}");
        assert!(err.to_string().contains("9999..."), "{err}");
    }
}
