//! The simulator's clock: wall time shifted by `--clock-skew-ms`, plus the time formats the
//! exchange prints (Go's RFC 3339 with nanoseconds, and Go's `time.Time.String()` for heartbeats).

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A point in time as nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixNanos(pub i128);

impl UnixNanos {
    /// Whole seconds since the epoch (rounded down).
    pub fn secs(self) -> i64 {
        i64::try_from(self.0.div_euclid(1_000_000_000)).unwrap_or(i64::MAX)
    }

    fn subsec_nanos(self) -> u32 {
        u32::try_from(self.0.rem_euclid(1_000_000_000)).unwrap_or(0)
    }
}

/// The server's clock. Every time the simulator prints or judges (envelope timestamps, heartbeat
/// times, JWT `nbf`/`exp` checks) comes from here, so a skew moves all of them together.
#[derive(Debug, Clone)]
pub struct ServerClock {
    skew_ns: i128,
    started: Instant,
}

impl ServerClock {
    /// A clock running `skew_ms` milliseconds ahead of the system clock (behind if negative).
    pub fn new(skew_ms: i64) -> ServerClock {
        ServerClock {
            skew_ns: i128::from(skew_ms) * 1_000_000,
            started: Instant::now(),
        }
    }

    /// The server's current time.
    pub fn now(&self) -> UnixNanos {
        let system = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        UnixNanos(system + self.skew_ns)
    }

    /// The server's current time in whole Unix seconds (what a JWT's `nbf`/`exp` are judged by).
    pub fn now_unix(&self) -> i64 {
        self.now().secs()
    }

    /// Time since the server started (Go prints it as the monotonic `m=+...` reading).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// When the server started, on the monotonic clock.
    pub fn started(&self) -> Instant {
        self.started
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes `YYYY-MM-DD`, `sep`, `HH:MM:SS` for the given Unix seconds.
fn write_date_time(out: &mut String, secs: i64, sep: char) {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
}

/// Writes `.fraction` with trailing zeros removed, or nothing when the fraction is zero (Go's
/// `.999999999` layout element).
fn write_trimmed_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let mut digits = format!("{nanos:09}");
    while digits.ends_with('0') {
        digits.pop();
    }
    out.push('.');
    out.push_str(&digits);
}

/// Appends the time in Go's `time.RFC3339Nano` layout for UTC, as the exchange prints envelope
/// timestamps: `2023-02-09T20:32:50.714964855Z` (trailing zeros of the fraction dropped).
pub fn write_rfc3339_nanos(out: &mut String, t: UnixNanos) {
    write_date_time(out, t.secs(), 'T');
    write_trimmed_fraction(out, t.subsec_nanos());
    out.push('Z');
}

/// [`write_rfc3339_nanos`] into a new string.
pub fn rfc3339_nanos(t: UnixNanos) -> String {
    let mut s = String::with_capacity(32);
    write_rfc3339_nanos(&mut s, t);
    s
}

/// The heartbeat's `current_time`, as Go's `time.Time.String()` prints a UTC time that carries a
/// monotonic reading: `2026-07-16 20:28:53.16294062 +0000 UTC m=+75497.317767664`.
pub fn go_time_string(t: UnixNanos, uptime: Duration) -> String {
    let mut s = String::with_capacity(64);
    write_date_time(&mut s, t.secs(), ' ');
    write_trimmed_fraction(&mut s, t.subsec_nanos());
    let _ = write!(
        s,
        " +0000 UTC m=+{}.{:09}",
        uptime.as_secs(),
        uptime.subsec_nanos()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> UnixNanos {
        UnixNanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
    }

    #[test]
    fn rfc3339_matches_the_exchange_format() {
        // 2023-02-09T20:32:50Z = 1675974770
        assert_eq!(
            rfc3339_nanos(at(1_675_974_770, 714_964_855)),
            "2023-02-09T20:32:50.714964855Z"
        );
        assert_eq!(
            rfc3339_nanos(at(1_675_974_770, 714_000_000)),
            "2023-02-09T20:32:50.714Z"
        );
        assert_eq!(rfc3339_nanos(at(0, 0)), "1970-01-01T00:00:00Z");
        // A leap day and the end of a year.
        assert_eq!(
            rfc3339_nanos(at(951_782_400, 5)),
            "2000-02-29T00:00:00.000000005Z"
        );
        assert_eq!(rfc3339_nanos(at(1_735_689_599, 0)), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn rfc3339_agrees_with_chrono_over_many_dates() {
        let mut secs: i64 = 0;
        while secs < 4_102_444_800 {
            let ours = rfc3339_nanos(at(secs, 123_456_789));
            let theirs = chrono::DateTime::from_timestamp(secs, 123_456_789)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string());
            assert_eq!(Some(ours), theirs);
            secs += 86_399 * 37 + 1234;
        }
    }

    #[test]
    fn go_time_string_matches_the_heartbeat_format() {
        // 2026-07-16 20:28:53 UTC = 1784233733
        let s = go_time_string(
            at(1_784_233_733, 162_940_620),
            Duration::new(75_497, 317_767_664),
        );
        assert_eq!(
            s,
            "2026-07-16 20:28:53.16294062 +0000 UTC m=+75497.317767664"
        );
        let s = go_time_string(at(1_784_233_733, 0), Duration::new(3, 0));
        assert_eq!(s, "2026-07-16 20:28:53 +0000 UTC m=+3.000000000");
    }

    #[test]
    fn skew_moves_the_clock() {
        let ahead = ServerClock::new(60_000);
        let plain = ServerClock::new(0);
        let diff = ahead.now().0 - plain.now().0;
        assert!((59_000_000_000..61_000_000_000).contains(&diff), "{diff}");
        let behind = ServerClock::new(-5_000);
        assert!(behind.now_unix() <= plain.now_unix() - 4);
    }
}
