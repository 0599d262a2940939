//! Wall-clock helpers: the feed stamps everything in Unix milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses the envelope `timestamp` (`2023-02-09T20:32:50.714964855Z`, or with a `+hh:mm`
/// offset) into Unix milliseconds. Hand-written because it runs once per frame on the hot path;
/// `None` for anything it does not understand.
/// Unix milliseconds as RFC 3339 in UTC, to the millisecond: `2026-12-04T10:00:00.123Z`.
pub fn rfc3339_millis(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

pub fn rfc3339_ms(text: &str) -> Option<i64> {
    rfc3339_ms_bytes(text.as_bytes())
}

/// [`rfc3339_ms`] on bytes (frame text is not checked to be UTF-8 first; a timestamp is ASCII).
pub fn rfc3339_ms_bytes(b: &[u8]) -> Option<i64> {
    let minute_ms = minute_ms(b)?;
    let (second_ms, offset_ms) = seconds_and_zone(b.get(MINUTE_PREFIX..)?)?;
    Some(minute_ms + second_ms - offset_ms)
}

/// `YYYY-MM-DDTHH:MM:`: the part of a timestamp that changes once a minute.
const MINUTE_PREFIX: usize = 17;

/// The start of the minute of a timestamp (as if UTC), in Unix milliseconds; checks the whole
/// text is long enough to hold the seconds and a zone.
fn minute_ms(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 7)?, digits(b, 8, 10)?);
    let (hour, minute) = (digits(b, 11, 13)?, digits(b, 14, 16)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60) * 1000)
}

/// `SS[.fraction](Z|+hh:mm|-hh:mm)`: (seconds and milliseconds into the minute, zone offset),
/// both in milliseconds.
fn seconds_and_zone(b: &[u8]) -> Option<(i64, i64)> {
    let second = digits(b, 0, 2)?;
    if second > 60 {
        return None;
    }
    let mut i = 2;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let count = i - start;
        if count == 0 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let d = |c: u8| i64::from(c - b'0');
            let secs = (d(*h1) * 10 + d(*h2)) * 3600 + (d(*m1) * 10 + d(*m2)) * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    Some((second * 1000 + millis, offset_secs * 1000))
}

/// The decimal number in `b[from..to]`, all ASCII digits.
fn digits(b: &[u8], from: usize, to: usize) -> Option<i64> {
    let mut v = 0i64;
    for &c in b.get(from..to)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// [`rfc3339_ms`] for a stream of timestamps: remembers the minute of the last one, so that
/// each frame's timestamp costs a comparison and the seconds, not a calendar computation, and
/// the last text, so that asking again about the same timestamp costs only the comparison.
#[derive(Debug, Clone, Default)]
pub struct TimestampCache {
    /// The minute prefix of the last timestamp parsed, and its start in milliseconds.
    minute: Option<([u8; MINUTE_PREFIX], i64)>,
    /// The last timestamp that parsed, and its value.
    last: Vec<u8>,
    last_ms: Option<i64>,
}

impl TimestampCache {
    /// The same answer as [`rfc3339_ms_bytes`].
    #[inline]
    pub fn ms(&mut self, b: &[u8]) -> Option<i64> {
        if self.last_ms.is_some() && b == self.last.as_slice() {
            return self.last_ms;
        }
        let ms = self.parse(b)?;
        self.last.clear();
        self.last.extend_from_slice(b);
        self.last_ms = Some(ms);
        Some(ms)
    }

    /// [`TimestampCache::ms`] past the last-text check.
    fn parse(&mut self, b: &[u8]) -> Option<i64> {
        let prefix = b.get(..MINUTE_PREFIX)?;
        let minute_ms = match self.minute {
            // The cached minute passed every check, and a timestamp that long passes the length
            // check; the seconds and zone are checked below.
            Some((cached, ms)) if cached == prefix && b.len() >= 20 => ms,
            _ => {
                let ms = minute_ms(b)?;
                let mut cached = [0; MINUTE_PREFIX];
                cached.copy_from_slice(prefix);
                self.minute = Some((cached, ms));
                ms
            }
        };
        let (second_ms, offset_ms) = seconds_and_zone(&b[MINUTE_PREFIX..])?;
        Some(minute_ms + second_ms - offset_ms)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_coinbase_timestamps() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_ms("2023-02-09T20:32:50.714964855Z"),
            Some(1_675_974_770_714)
        );
        assert_eq!(
            rfc3339_ms("2023-02-09T20:32:50.7Z"),
            Some(1_675_974_770_700)
        );
        assert_eq!(rfc3339_ms("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(
            rfc3339_ms("2023-02-09T21:32:50+01:00"),
            Some(1_675_974_770_000)
        );
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for bad in [
            "",
            "yesterday",
            "2023-02-09",
            "2023-13-09T20:32:50Z",
            "2023-02-09T20:32:50.Z",
            "2023-02-09T20:32:50",
            "2023-02-09T20:32:50Zjunk",
            "2023-02-09T2a:32:50Z",
        ] {
            assert_eq!(rfc3339_ms(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_cache_answers_as_the_parser(
            texts in proptest::collection::vec(
                "20(2[3-6]|99)-0[1-2]-(0[1-9]|29|3[01])[T ]2[0-4]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,10})?(Z|[+-]0[0-9]:[0-9][0-9]|x)?",
                1..20,
            )
        ) {
            let mut cache = TimestampCache::default();
            for text in &texts {
                proptest::prop_assert_eq!(cache.ms(text.as_bytes()), rfc3339_ms(text), "{}", text);
                // Asked again: the same answer.
                proptest::prop_assert_eq!(cache.ms(text.as_bytes()), rfc3339_ms(text), "{}", text);
            }
        }
    }
}
