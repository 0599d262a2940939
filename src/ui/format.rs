//! Number and time text shared by the panes: fixed decimals so columns align, short durations.

use rust_decimal::Decimal;

// Durations are worded in `app` too (the notices say when a retry comes): one wording for both.
pub use crate::app::duration::{duration_ms, duration_secs};

/// `value` with exactly `scale` decimals (rounded half away from zero if it has more).
pub fn fixed(value: Decimal, scale: u32) -> String {
    let mut v = value.round_dp(scale);
    v.rescale(scale);
    v.to_string()
}

/// The number of decimals a value needs (no trailing zeros).
pub fn scale_of(value: Decimal) -> u32 {
    value.normalize().scale()
}

/// An integer with thousands separators: `45,123`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate per second: whole numbers with separators from 100 up, one decimal below.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0".to_string()
    } else if per_sec >= 100.0 {
        thousands(per_sec.round() as u64)
    } else {
        format!("{per_sec:.1}")
    }
}

/// Elapsed time as a clock: `00:01:23`, or `2d 03:04:05` past a day.
pub fn clock(ms: i64) -> String {
    let secs = ms.max(0) / 1_000;
    let (d, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3_600,
        (secs % 3_600) / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Spread in basis points of the mid, with enough decimals to be non-zero for a one-tick
/// spread on a large price (0.01 on 65,000 is 0.0015 bps); None when the mid is not positive.
pub fn bps(spread: Decimal, mid: Decimal) -> Option<String> {
    if mid <= Decimal::ZERO {
        return None;
    }
    let bps = spread
        .checked_mul(Decimal::from(10_000))?
        .checked_div(mid)?;
    let decimals = match bps.abs() {
        b if b >= Decimal::TEN => 1,
        b if b >= Decimal::new(1, 1) => 2,
        _ => 4,
    };
    Some(fixed(bps, decimals))
}

/// A UTC wall-clock time from Unix seconds: `14:03:07`.
pub fn utc_time(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .map(|t| t.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{unix_secs}"))
}

/// A Unix millisecond time as `2025-12-31 23:59:58 UTC`.
pub fn utc_datetime(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{unix_ms} ms"))
}

/// Shortens long text to `head…tail` so that both ends stay recognisable.
pub fn shorten(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= head + tail + 1 {
        return text.to_string();
    }
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn fixed_pads_and_rounds() {
        assert_eq!(fixed(d("64930.5"), 2), "64930.50");
        assert_eq!(fixed(d("64930"), 2), "64930.00");
        assert_eq!(fixed(d("0.000000015"), 8), "0.00000002");
        assert_eq!(fixed(d("12.30"), 0), "12");
        assert_eq!(scale_of(d("64930.50")), 1);
        assert_eq!(scale_of(d("100")), 0);
    }

    #[test]
    fn separators_and_rates() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(45_123_456), "45,123,456");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(f64::NAN), "0");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(1234.4), "1,234");
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(83_000), "00:01:23");
        assert_eq!(clock(2 * 86_400_000 + 3_723_000), "2d 01:02:03");
    }

    #[test]
    fn spread_in_bps() {
        assert_eq!(bps(d("0.01"), d("64930.505")).as_deref(), Some("0.0015"));
        assert_eq!(bps(d("0.05"), d("3456.775")).as_deref(), Some("0.14"));
        assert_eq!(bps(d("13"), d("1000")).as_deref(), Some("130.0"));
        assert_eq!(
            bps(d("-0.02"), d("100")).as_deref(),
            Some("-2.00"),
            "crossed"
        );
        assert_eq!(bps(d("6.5"), d("65000")).as_deref(), Some("1.00"));
        assert_eq!(bps(d("1"), Decimal::ZERO), None);
    }

    #[test]
    fn times_and_shortening() {
        assert_eq!(utc_time(1_732_000_000), "07:06:40 UTC");
        assert_eq!(shorten("abcdefghijklmnop", 4, 4), "abcd…mnop");
        assert_eq!(shorten("short", 4, 4), "short");
    }
}
