//! Exact fixed-point prices and sizes: the book's internal number representation.
//!
//! # Representation
//!
//! A value is an unsigned count of `10^-12` units held in a `u128` ([`SCALE`] = 12 decimals),
//! and every accepted value is below `10^15` ([`MAX_INTEGER_DIGITS`] = 15 digits before the point).
//! Why these numbers:
//!
//! - **Exact for every Coinbase product.** Coinbase's finest increments are `10^-8` (base sizes
//!   and micro-cap quote increments); 12 decimals leave room for finer ones. Prices reach
//!   138,991,023.41 in the real BTC-USD book and sizes about `10^12` for meme coins; `10^15`
//!   leaves room above both.
//! - **Fast.** Parsing is a single pass over the bytes into two `u64`s (integer and fraction) and
//!   one widening multiply; book keys compare as plain integers. On the real BTC-USD book an
//!   update from strings costs about 850 instructions, against about 3,100 for `Decimal::from_str`
//!   and a `BTreeMap<Decimal, Decimal>` (`benches/book.rs`, counted with cachegrind).
//! - **Exact at the edges.** Every accepted value is below `10^27` units, and the book keeps each
//!   side's total size below `2^96` units, so every price, size, bucket, cumulative sum, spread and
//!   mid fits `rust_decimal`'s 96-bit mantissa and converts to a [`Decimal`] without rounding.
//!   (A scale of 18 would not: 15 integer digits plus 18 decimals is more than a `Decimal` holds.)
//! - **Not `u64`.** 138,991,023.41 at 12 decimals is `1.4 * 10^20` units, beyond `u64`; and at 8
//!   decimals, sizes of `10^12` would not fit either.
//!
//! # Text
//!
//! Accepted text is what Coinbase prints: ASCII digits with at most one point, at least one digit on
//! each side of the point if there is one (`"64930.57"`, `"64930"`, `"0.00000000"`). No sign, no
//! exponent, no spaces. Trailing zeros after the point are allowed in any number, since they change
//! nothing (`"1.50000000000000000"` is 1.5); a non-zero digit beyond the 12th decimal is an error,
//! never rounded. Output ([`fmt::Display`]) is canonical: no trailing zeros, no point when integral,
//! never an exponent, exactly `Decimal::normalize().to_string()`.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::error::{BookError, NumberProblem};

/// Decimals held exactly: values are counts of `10^-SCALE` units.
pub const SCALE: u32 = 12;

/// Digits allowed before the point (leading zeros not counted): values are below `10^15`.
pub const MAX_INTEGER_DIGITS: u32 = 15;

/// `10^SCALE`: the number of units in 1.
const ONE: u64 = 1_000_000_000_000;

/// Exclusive upper bound on any parsed value, in units (`10^15 * 10^12`).
pub(crate) const VALUE_LIMIT: u128 = 1_000_000_000_000_000_000_000_000_000;

/// Inclusive upper bound on a side's total size, in units: the largest `Decimal` mantissa.
pub(crate) const SIDE_TOTAL_LIMIT: u128 = (1u128 << 96) - 1;

/// `10^i` for `i` in `0..=SCALE`.
pub(crate) const POW10: [u64; 13] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
];

/// An exact price: a count of `10^-12` units, plus the scale it needs (decimals after trimming
/// trailing zeros), which the book uses to find the product's tick.
///
/// The scale is a function of the value (`64930.50` and `64930.5` both have scale 1), so equality
/// and order are those of the value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Price {
    units: u128,
    scale: u8,
}

/// An exact size (quantity): a count of `10^-12` units. Zero means "remove the level".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Size(u128);

impl Price {
    /// Parses a price as Coinbase prints it (see the module docs for the accepted text).
    pub fn parse(text: &str) -> Result<Price, BookError> {
        Price::parse_bytes(text.as_bytes())
    }

    /// [`Price::parse`] on raw bytes, for frame parsers that hold borrowed byte slices.
    pub fn parse_bytes(text: &[u8]) -> Result<Price, BookError> {
        match parse_units(text) {
            Ok((units, scale)) => Ok(Price { units, scale }),
            Err(problem) => Err(BookError::number("price", text, problem)),
        }
    }

    /// The price at the start of `text` when it has the shape Coinbase prints (1 to 15 digits,
    /// optionally a point and 1 to 12 decimals), with the number of bytes it takes; `None`
    /// otherwise. For frame scanners: whatever follows the number (a closing quote) is theirs to
    /// check, and text this refuses goes to [`Price::parse_bytes`], which accepts or explains it.
    #[inline]
    pub fn parse_prefix(text: &[u8]) -> Option<(Price, usize)> {
        let (units, scale, used) = units_prefix(text)?;
        Some((Price { units, scale }, used))
    }

    /// The price of a count of `10^-12` units; `None` at or above `10^15`.
    pub fn from_units(units: u128) -> Option<Price> {
        (units < VALUE_LIMIT).then(|| Price {
            units,
            scale: scale_of(units),
        })
    }

    /// A price the book stored: below `10^15` because it was one when it went in.
    pub(crate) fn from_stored(units: u128) -> Price {
        debug_assert!(units < VALUE_LIMIT);
        Price {
            units,
            scale: scale_of(units),
        }
    }

    /// The exact price of a `Decimal`; errors when it is negative, has more than 12 significant
    /// decimals, or is `10^15` or more.
    pub fn from_decimal(value: Decimal) -> Result<Price, BookError> {
        let units = units_from_decimal(value).map_err(|p| BookError::decimal("price", value, p))?;
        Ok(Price {
            units,
            scale: scale_of(units),
        })
    }

    /// The count of `10^-12` units.
    pub fn units(self) -> u128 {
        self.units
    }

    /// Decimals needed to print the price (trailing zeros trimmed): 1 for `64930.50`.
    pub fn scale(self) -> u32 {
        u32::from(self.scale)
    }

    /// The exact value, normalised (no trailing zeros).
    pub fn to_decimal(self) -> Decimal {
        decimal_from_units(self.units, false)
    }
}

impl Size {
    /// The zero size, which removes a level.
    pub const ZERO: Size = Size(0);

    /// Parses a size as Coinbase prints it (see the module docs for the accepted text).
    pub fn parse(text: &str) -> Result<Size, BookError> {
        Size::parse_bytes(text.as_bytes())
    }

    /// [`Size::parse`] on raw bytes, for frame parsers that hold borrowed byte slices.
    pub fn parse_bytes(text: &[u8]) -> Result<Size, BookError> {
        match parse_units(text) {
            Ok((units, _)) => Ok(Size(units)),
            Err(problem) => Err(BookError::number("size", text, problem)),
        }
    }

    /// [`Price::parse_prefix`] for a size.
    #[inline]
    pub fn parse_prefix(text: &[u8]) -> Option<(Size, usize)> {
        let (units, _, used) = units_prefix(text)?;
        Some((Size(units), used))
    }

    /// The size of a count of `10^-12` units; `None` at or above `10^15`.
    pub fn from_units(units: u128) -> Option<Size> {
        (units < VALUE_LIMIT).then_some(Size(units))
    }

    /// A size the book stored: below `10^15` because it was one when it went in.
    pub(crate) fn from_stored(units: u128) -> Size {
        debug_assert!(units < VALUE_LIMIT);
        Size(units)
    }

    /// The exact size of a `Decimal`; errors when it is negative, has more than 12 significant
    /// decimals, or is `10^15` or more.
    pub fn from_decimal(value: Decimal) -> Result<Size, BookError> {
        units_from_decimal(value)
            .map(Size)
            .map_err(|p| BookError::decimal("size", value, p))
    }

    /// The count of `10^-12` units.
    pub fn units(self) -> u128 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The exact value, normalised (no trailing zeros).
    pub fn to_decimal(self) -> Decimal {
        decimal_from_units(self.0, false)
    }
}

impl FromStr for Price {
    type Err = BookError;
    fn from_str(text: &str) -> Result<Price, BookError> {
        Price::parse(text)
    }
}

impl FromStr for Size {
    type Err = BookError;
    fn from_str(text: &str) -> Result<Size, BookError> {
        Size::parse(text)
    }
}

/// Canonical text: `"64930.5"`, `"64930"`, `"0.0001"`; never an exponent.
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_units(f, self.units)
    }
}

/// Canonical text: `"0.5"`, `"2"`, `"0.00000001"`; never an exponent.
impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_units(f, self.0)
    }
}

/// The hot path: text to `(units, normalised scale)` in one pass, exact or an error.
///
/// Shaped for what Coinbase prints (a few integer digits, at most 8 decimals, no padding): one
/// tight loop per part with a single test per byte; long or padded numbers take a slower path.
#[inline]
fn parse_units(text: &[u8]) -> Result<(u128, u8), NumberProblem> {
    let len = text.len();

    // Integer part. Wrapping arithmetic: more than 15 digits goes to the slow path anyway.
    let mut i = 0;
    let mut int: u64 = 0;
    while i < len {
        let digit = text[i].wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        int = int.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    if i == 0 {
        return Err(no_leading_digit(text));
    }
    if i > MAX_INTEGER_DIGITS as usize {
        int = long_integer(&text[..i])?;
    }
    let int_units = u128::from(int) * u128::from(ONE);
    if i == len {
        return Ok((int_units, 0));
    }
    if text[i] != b'.' {
        return Err(NumberProblem::Malformed);
    }

    // Fraction: at least one digit, non-zero digits only in the first SCALE places.
    let digits = &text[i + 1..];
    if digits.is_empty() || digits.len() > SCALE as usize {
        return long_fraction(int_units, digits);
    }
    let mut frac: u64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return Err(NumberProblem::Malformed);
        }
        frac = frac * 10 + u64::from(digit);
    }
    let frac_units = frac * POW10[SCALE as usize - digits.len()];
    Ok((int_units + u128::from(frac_units), trailing_scale(digits)))
}

/// The common shape of [`parse_units`] at the start of `text`: `(units, normalised scale, bytes
/// used)` for 1 to [`MAX_INTEGER_DIGITS`] digits, optionally followed by a point and 1 to
/// [`SCALE`] decimals. Stops at the first byte that cannot continue the number; `None` when what
/// precedes it is not of that shape (including `"5."`). On the numbers it accepts it agrees with
/// [`parse_units`] (a property test checks it), in one pass and without its error paths.
#[inline]
fn units_prefix(text: &[u8]) -> Option<(u128, u8, usize)> {
    let mut i = 0;
    let mut int: u64 = 0;
    while let Some(&byte) = text.get(i) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // Wrapping: more than 15 digits is refused below before the value is used.
        int = int.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    if i == 0 || i > MAX_INTEGER_DIGITS as usize {
        return None;
    }
    let int_units = u128::from(int) * u128::from(ONE);
    if text.get(i) != Some(&b'.') {
        return Some((int_units, 0, i));
    }
    let start = i + 1;
    let mut j = start;
    let mut frac: u64 = 0;
    // Decimals up to the last non-zero one: the normalised scale.
    let mut scale = 0;
    while let Some(&byte) = text.get(j) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        frac = frac.wrapping_mul(10).wrapping_add(u64::from(digit));
        j += 1;
        if digit != 0 {
            scale = j - start;
        }
    }
    let decimals = j - start;
    if decimals == 0 || decimals > SCALE as usize {
        return None;
    }
    let frac_units = frac * POW10[SCALE as usize - decimals];
    // At most SCALE = 12.
    Some((int_units + u128::from(frac_units), scale as u8, j))
}

/// Why text that does not start with a digit is refused: empty, ".5", "-1", "+1", " 1", "NaN"...
#[cold]
fn no_leading_digit(text: &[u8]) -> NumberProblem {
    match text.split_first() {
        Some((b'-', rest)) if parse_units(rest).is_ok() => NumberProblem::Negative,
        _ => NumberProblem::Malformed,
    }
}

/// An integer part of more than 15 digits (all ASCII digits): fine only with leading zeros.
#[cold]
fn long_integer(digits: &[u8]) -> Result<u64, NumberProblem> {
    let start = digits
        .iter()
        .position(|&b| b != b'0')
        .unwrap_or(digits.len());
    let significant = &digits[start..];
    if significant.len() > MAX_INTEGER_DIGITS as usize {
        return Err(NumberProblem::TooLarge);
    }
    Ok(significant
        .iter()
        .fold(0, |acc, &b| acc * 10 + u64::from(b - b'0')))
}

/// No decimals after the point, or more than 12: fine only when those beyond the 12th are zeros.
#[cold]
fn long_fraction(int_units: u128, digits: &[u8]) -> Result<(u128, u8), NumberProblem> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(NumberProblem::Malformed);
    }
    let (kept, beyond) = digits.split_at(SCALE as usize);
    if beyond.iter().any(|&b| b != b'0') {
        return Err(NumberProblem::TooManyDecimals);
    }
    let frac = kept
        .iter()
        .fold(0, |acc, &b| acc * 10 + u64::from(b - b'0'));
    Ok((int_units + u128::from(frac), trailing_scale(kept)))
}

/// Decimals left once trailing zeros are dropped (at most 12, so the cast is lossless).
#[inline]
fn trailing_scale(digits: &[u8]) -> u8 {
    let mut scale = digits.len();
    while scale > 0 && digits[scale - 1] == b'0' {
        scale -= 1;
    }
    scale as u8
}

/// Splits units below `2^96` into (integer part, fraction in units); the integer part is below
/// `2^96 / 10^12 < 2^64`.
#[inline]
fn split(units: u128) -> (u64, u64) {
    if let Ok(small) = u64::try_from(units) {
        (small / ONE, small % ONE)
    } else {
        // Lossless: units < 2^96 by the book's invariants, so units / 10^12 < 2^57.
        (
            (units / u128::from(ONE)) as u64,
            (units % u128::from(ONE)) as u64,
        )
    }
}

/// `(fraction without trailing zeros, its number of digits)`; `(0, 0)` for 0.
///
/// Strips 8, 4, 2 then 1 zeros (a fraction below 10^12 has at most 11): four constant
/// divisions instead of up to eleven.
#[inline]
fn trim_fraction(frac: u64) -> (u64, u32) {
    if frac == 0 {
        return (0, 0);
    }
    let mut frac = frac;
    let mut digits = SCALE;
    for (zeros, power) in [(8, 100_000_000), (4, 10_000), (2, 100), (1, 10)] {
        if frac % power == 0 {
            frac /= power;
            digits -= zeros;
        }
    }
    (frac, digits)
}

/// Decimals needed to print `units` exactly.
fn scale_of(units: u128) -> u8 {
    let (_, frac) = split(units);
    // At most SCALE = 12.
    trim_fraction(frac).1 as u8
}

/// The exact `Decimal` of a count of `10^-12` units, normalised.
///
/// `units` must be below `2^96`; the book's invariants guarantee it for every value it returns
/// (values below `10^27` units, side totals at most `2^96 - 1`).
#[inline]
pub(crate) fn decimal_from_units(units: u128, negative: bool) -> Decimal {
    debug_assert!(
        units <= SIDE_TOTAL_LIMIT,
        "{units} units exceed a Decimal mantissa"
    );
    let (int, frac) = split(units);
    let (frac, digits) = trim_fraction(frac);
    let mantissa = u128::from(int) * u128::from(POW10[digits as usize]) + u128::from(frac);
    decimal_from_mantissa(mantissa, negative, digits)
}

/// `mantissa * 10^-scale` (mantissa below `2^96`, scale at most 28).
#[inline]
pub(crate) fn decimal_from_mantissa(mantissa: u128, negative: bool, scale: u32) -> Decimal {
    Decimal::from_parts(
        mantissa as u32,
        (mantissa >> 32) as u32,
        (mantissa >> 64) as u32,
        negative,
        scale,
    )
}

fn units_from_decimal(value: Decimal) -> Result<u128, NumberProblem> {
    let value = value.normalize();
    if value.is_sign_negative() && !value.is_zero() {
        return Err(NumberProblem::Negative);
    }
    let scale = value.scale();
    if scale > SCALE {
        return Err(NumberProblem::TooManyDecimals);
    }
    let mantissa = value.mantissa().unsigned_abs();
    // mantissa < 2^96 and the factor is at most 10^12 < 2^40: no overflow in u128.
    let units = mantissa * u128::from(POW10[(SCALE - scale) as usize]);
    if units >= VALUE_LIMIT {
        return Err(NumberProblem::TooLarge);
    }
    Ok(units)
}

/// Writes units below `2^96` as canonical text.
fn write_units(f: &mut fmt::Formatter<'_>, units: u128) -> fmt::Result {
    let (int, frac) = split(units);
    let (frac, digits) = trim_fraction(frac);
    if digits == 0 {
        write!(f, "{int}")
    } else {
        write!(f, "{int}.{frac:0width$}", width = digits as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_coinbase_prints() {
        let cases: &[(&str, u128, u32)] = &[
            ("64930.57", 64_930_570_000_000_000, 2),
            ("64930.5", 64_930_500_000_000_000, 1),
            ("64930.50", 64_930_500_000_000_000, 1),
            ("64930", 64_930_000_000_000_000, 0),
            ("0", 0, 0),
            ("0.00000000", 0, 0),
            ("0.00000001", 10_000, 8),
            ("0.000000000001", 1, 12),
            ("0.0000000000010000", 1, 12),
            ("138991023.41", 138_991_023_410_000_000_000, 2),
            ("007.5", 7_500_000_000_000, 1),
            ("999999999999999.999999999999", VALUE_LIMIT - 1, 12),
        ];
        for &(text, units, scale) in cases {
            let price = Price::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((price.units(), price.scale()), (units, scale), "{text}");
            assert_eq!(Size::parse(text).map(Size::units), Ok(units), "{text}");
        }
    }

    #[test]
    fn the_prefix_parser_agrees_with_the_full_one() {
        let accepted = [
            "64930.57",
            "64930.5",
            "64930.50",
            "0",
            "0.00000000",
            "0.000000000001",
            "007.5",
            "999999999999999.999999999999",
            "1.000000000000",
            "138991023.41",
        ];
        for text in accepted {
            let quoted = format!("{text}\"");
            let (units, scale, used) = units_prefix(quoted.as_bytes()).unwrap();
            assert_eq!(used, text.len(), "{text}");
            assert_eq!(Ok((units, scale)), parse_units(text.as_bytes()), "{text}");
        }
        // Valid but unusual (padded) numbers and invalid ones are left to the full parser: the
        // prefix parser refuses them, or stops before their end (where no quote follows).
        let refused = [
            "",
            ".5",
            "5.",
            "-1",
            "1e5",
            "1.5.0",
            "0000000000000001",
            "1.0000000000000",
            "x",
        ];
        for text in refused {
            let quoted = format!("{text}\"");
            let whole =
                units_prefix(quoted.as_bytes()).is_some_and(|(_, _, used)| used == text.len());
            assert!(!whole, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_prefix_parser_never_disagrees(text in "[0-9]{0,17}(\\.[0-9]{0,14})?[\"x.]?") {
            if let Some((units, scale, used)) = units_prefix(text.as_bytes()) {
                proptest::prop_assert_eq!(parse_units(&text.as_bytes()[..used]), Ok((units, scale)));
                let next = text.as_bytes().get(used).copied();
                proptest::prop_assert!(!matches!(next, Some(b'0'..=b'9')), "{}", text);
            }
        }
    }

    #[test]
    fn rejects_garbage_with_the_right_problem() {
        use NumberProblem::*;
        let cases: &[(&str, NumberProblem)] = &[
            ("", Malformed),
            (".", Malformed),
            (".5", Malformed),
            ("5.", Malformed),
            ("1.2.3", Malformed),
            ("1e5", Malformed),
            ("1E5", Malformed),
            (" 1", Malformed),
            ("1 ", Malformed),
            ("+1", Malformed),
            ("NaN", Malformed),
            ("inf", Malformed),
            ("1,5", Malformed),
            ("١", Malformed),
            ("-1", Negative),
            ("-0", Negative),
            ("-", Malformed),
            ("--1", Malformed),
            ("-x", Malformed),
            ("0.0000000000001", TooManyDecimals),
            ("1.1234567890123", TooManyDecimals),
            ("1000000000000000", TooLarge),
            ("99999999999999999999999999999999999999999", TooLarge),
        ];
        for &(text, problem) in cases {
            assert_eq!(parse_units(text.as_bytes()), Err(problem), "{text:?}");
        }
    }

    #[test]
    fn prints_canonically_without_exponent() {
        let cases: &[(&str, &str)] = &[
            ("64930.50", "64930.5"),
            ("64930.00", "64930"),
            ("0.000000000001", "0.000000000001"),
            ("0.00010", "0.0001"),
            (
                "999999999999999.999999999999",
                "999999999999999.999999999999",
            ),
            ("0.0", "0"),
        ];
        for &(text, canonical) in cases {
            let price = Price::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(price.to_string(), canonical);
            assert_eq!(price.to_decimal().to_string(), canonical);
        }
        let big = decimal_from_units(SIDE_TOTAL_LIMIT, false);
        assert_eq!(big.to_string(), "79228162514264337.593543950335");
    }

    #[test]
    fn decimal_round_trip_and_limits() {
        let d = Decimal::new(-15, 1);
        assert!(matches!(
            Price::from_decimal(d),
            Err(BookError::Negative { .. })
        ));
        let fine = Decimal::new(1, 13);
        assert!(matches!(
            Size::from_decimal(fine),
            Err(BookError::TooManyDecimals { .. })
        ));
        let large = Decimal::new(1_000_000_000_000_000, 0);
        assert!(matches!(
            Size::from_decimal(large),
            Err(BookError::TooLarge { .. })
        ));
        // Trailing zeros beyond 12 decimals are not precision.
        let padded = Decimal::from_str_exact("1.50000000000000000000").unwrap();
        assert_eq!(Price::from_decimal(padded).unwrap().scale(), 1);
        assert_eq!(Price::from_units(VALUE_LIMIT), None);
        assert_eq!(Price::from_units(5).map(Price::scale), Some(12));
    }
}
