//! Number and time text shared by the panes: fixed decimals so columns align, short durations.

use rust_decimal::{Decimal, RoundingStrategy};

// Durations are worded in `app` too (the notices say when a retry comes): one wording for both.
pub use crate::app::duration::{duration_ms, duration_secs};

/// `value` with exactly `scale` decimals (rounded half away from zero if it has more: `round_dp`
/// alone would round half to even, 0.125 to 0.12).
pub fn fixed(value: Decimal, scale: u32) -> String {
    let mut v = value.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    v.rescale(scale);
    v.to_string()
}

/// `value` with exactly `scale` decimals and thousands separators in its whole part:
/// `1,234,567.89`.
pub fn fixed_grouped(value: Decimal, scale: u32) -> String {
    let text = fixed(value, scale);
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let whole = whole
        .parse::<u64>()
        .map_or_else(|_| whole.to_string(), thousands);
    match fraction {
        Some(f) => format!("{sign}{whole}.{f}"),
        None => format!("{sign}{whole}"),
    }
}

/// An amount (a volume, in the base currency) in few characters, never hiding that it is not
/// zero: whole with separators from 1,000 up (`12,346`), two decimals from 1 (`12.35`), and four
/// significant digits below (`0.05123`, `0.00001234`).
pub fn amount(value: Decimal) -> String {
    let magnitude = value.abs();
    if magnitude >= Decimal::ONE_THOUSAND {
        fixed_grouped(value, 0)
    } else if magnitude >= Decimal::ONE {
        fixed(value, 2)
    } else if magnitude.is_zero() {
        "0".to_string()
    } else {
        value
            .round_sf(4)
            .map_or_else(|| value.normalize(), |v| v.normalize())
            .to_string()
    }
}

/// A change in percent, signed, two decimals: `+1.23%`, `-0.40%`, `0.00%` (no sign on what
/// rounds to zero).
pub fn percent_change(percent: Decimal) -> String {
    let text = fixed(percent, 2);
    match text.strip_prefix('-') {
        Some("0.00") => "0.00%".to_string(),
        Some(_) => format!("{text}%"),
        None if text == "0.00" => "0.00%".to_string(),
        None => format!("+{text}%"),
    }
}

/// A trade's time of day to the millisecond, `HH:MM:SS.mmm`, in UTC or the machine's time zone.
pub fn trade_time(unix_ms: i64, zone: crate::config::TimeDisplay) -> String {
    let Some(utc) = chrono::DateTime::from_timestamp_millis(unix_ms) else {
        return "--:--:--.---".to_string();
    };
    match zone {
        crate::config::TimeDisplay::Utc => utc.format("%H:%M:%S%.3f").to_string(),
        crate::config::TimeDisplay::Local => utc
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S%.3f")
            .to_string(),
    }
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
        assert_eq!(fixed(d("0.125"), 2), "0.13", "half away from zero");
        assert_eq!(fixed(d("-0.125"), 2), "-0.13");
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
    fn grouped_amounts_and_percentages() {
        assert_eq!(fixed_grouped(d("1234567.891"), 2), "1,234,567.89");
        assert_eq!(fixed_grouped(d("-1234.5"), 2), "-1,234.50");
        assert_eq!(fixed_grouped(d("274.08"), 2), "274.08");
        assert_eq!(fixed_grouped(d("999999.995"), 2), "1,000,000.00");
        assert_eq!(fixed_grouped(d("12"), 0), "12");
        assert_eq!(amount(d("12345.678")), "12,346");
        assert_eq!(amount(d("12.345678")), "12.35");
        assert_eq!(amount(d("0.051234567")), "0.05123");
        assert_eq!(amount(d("0.00001234")), "0.00001234");
        assert_eq!(amount(d("0.5")), "0.5");
        assert_eq!(amount(Decimal::ZERO), "0");
        assert_eq!(percent_change(d("1.2345")), "+1.23%");
        assert_eq!(percent_change(d("-0.4")), "-0.40%");
        assert_eq!(percent_change(d("0")), "0.00%");
        assert_eq!(
            percent_change(d("-0.001")),
            "0.00%",
            "no sign on what rounds to 0"
        );
        assert_eq!(percent_change(d("0.004")), "0.00%");
        assert_eq!(percent_change(d("0.005")), "+0.01%");
    }

    #[test]
    fn trade_times_to_the_millisecond() {
        use crate::config::TimeDisplay;
        // 2026-01-01T00:00:00.007Z and a time in the afternoon.
        assert_eq!(
            trade_time(1_767_225_600_007, TimeDisplay::Utc),
            "00:00:00.007"
        );
        assert_eq!(
            trade_time(
                1_767_225_600_000 + 14 * 3_600_000 + 3 * 60_000 + 7_123,
                TimeDisplay::Utc
            ),
            "14:03:07.123"
        );
        // Local: the same shape, whatever the machine's zone.
        let local = trade_time(1_767_225_600_007, TimeDisplay::Local);
        assert_eq!(local.len(), 12, "{local}");
        assert!(local.ends_with(".007"), "{local}");
    }

    #[test]
    fn times_and_shortening() {
        assert_eq!(utc_time(1_732_000_000), "07:06:40 UTC");
        assert_eq!(shorten("abcdefghijklmnop", 4, 4), "abcd…mnop");
        assert_eq!(shorten("short", 4, 4), "short");
    }
}
