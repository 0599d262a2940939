//! Exact fixed-point numbers for the simulated market: an integer count of `10^-scale` units.
//!
//! The market keeps prices and sizes as integers at the product's increment, so it never rounds,
//! and prints them minimally the way the exchange does (`"64930.5"`, `"64930"`, `"0.0001"`).

use thiserror::Error;

/// The largest scale the simulator accepts (10^18 still fits a u64 unit).
pub const MAX_SCALE: u32 = 18;

/// Why a decimal text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FixedError {
    #[error("`{0}` is not a plain decimal number (digits with an optional `.`)")]
    NotDecimal(String),
    #[error("`{0}` has more than {MAX_SCALE} decimals")]
    TooManyDecimals(String),
    #[error("`{0}` is too large")]
    Overflow(String),
}

/// 10^scale.
pub fn pow10(scale: u32) -> u64 {
    10u64.pow(scale.min(MAX_SCALE))
}

/// Reads a non-negative decimal text (`"64930.57"`, `"0.5"`, `"64930"`), returning its digits as an
/// integer and the number of decimals it was written with (trailing zeros after the point are
/// not counted: `"0.50"` is `(5, 1)`).
pub fn parse_decimal(text: &str) -> Result<(u64, u32), FixedError> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
    {
        return Err(FixedError::NotDecimal(text.to_string()));
    }
    let frac = frac_part.trim_end_matches('0');
    let scale = u32::try_from(frac.len()).unwrap_or(u32::MAX);
    if scale > MAX_SCALE {
        return Err(FixedError::TooManyDecimals(text.to_string()));
    }
    let mut value: u64 = 0;
    for b in int_part.bytes().chain(frac.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| FixedError::Overflow(text.to_string()))?;
    }
    Ok((value, scale))
}

/// Rescales `value` written with `from` decimals to `to >= from` decimals.
pub fn rescale(value: u64, from: u32, to: u32) -> Option<u64> {
    if to < from || to > MAX_SCALE {
        return None;
    }
    value.checked_mul(pow10(to - from))
}

/// Appends `units * 10^-scale` printed minimally: no trailing zeros after the point, no point when
/// integral, never an exponent.
pub fn write_units(out: &mut String, units: u64, scale: u32) {
    let divisor = pow10(scale);
    let int = units / divisor;
    let mut frac = units % divisor;
    push_u64(out, int);
    if frac == 0 {
        return;
    }
    let mut digits = scale;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    out.push('.');
    let mut buf = [b'0'; 20];
    let mut i = digits as usize;
    while frac > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    for &b in &buf[..digits as usize] {
        out.push(char::from(b));
    }
}

/// [`write_units`] into a new string.
pub fn units_to_string(units: u64, scale: u32) -> String {
    let mut s = String::with_capacity(24);
    write_units(&mut s, units, scale);
    s
}

/// Appends an unsigned integer in decimal.
pub fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_text_exactly() {
        assert_eq!(parse_decimal("64930.57"), Ok((6_493_057, 2)));
        assert_eq!(parse_decimal("64930.50"), Ok((649_305, 1)));
        assert_eq!(parse_decimal("64930"), Ok((64_930, 0)));
        assert_eq!(parse_decimal("0.00000001"), Ok((1, 8)));
        assert_eq!(parse_decimal("0.00000000"), Ok((0, 0)));
        assert_eq!(parse_decimal(".5"), Ok((5, 1)));
        assert_eq!(parse_decimal("5."), Ok((5, 0)));
        for bad in ["", ".", "-1", "1e5", "1.2.3", " 1", "abc", "1,5"] {
            assert!(
                matches!(parse_decimal(bad), Err(FixedError::NotDecimal(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_decimal("0.0000000000000000001"),
            Err(FixedError::TooManyDecimals(_))
        ));
        assert!(matches!(
            parse_decimal("99999999999999999999"),
            Err(FixedError::Overflow(_))
        ));
    }

    #[test]
    fn prints_minimally() {
        assert_eq!(units_to_string(6_493_057, 2), "64930.57");
        assert_eq!(units_to_string(6_493_050, 2), "64930.5");
        assert_eq!(units_to_string(6_493_000, 2), "64930");
        assert_eq!(units_to_string(1, 8), "0.00000001");
        assert_eq!(units_to_string(10_000, 8), "0.0001");
        assert_eq!(units_to_string(0, 8), "0");
        assert_eq!(units_to_string(123, 0), "123");
        assert_eq!(units_to_string(u64::MAX, 0), u64::MAX.to_string());
    }

    #[test]
    fn print_then_parse_round_trips() {
        for (units, scale) in [
            (1u64, 2u32),
            (6_493_057, 2),
            (120_000_000, 8),
            (7, 5),
            (0, 3),
        ] {
            let text = units_to_string(units, scale);
            let (v, s) = parse_decimal(&text).unwrap();
            assert_eq!(rescale(v, s, scale), Some(units), "{text}");
        }
    }
}
