//! `--record-rotate PERIOD`: a new recording file per period (docs/recording.md, "Rotation").
//!
//! Periods are aligned to Unix time (an hour's files start on the hour, a day's at midnight UTC);
//! the first file starts when the recording does. Each file is named after the time it starts,
//! `BASE-YYYYMMDDTHHMMSSZ.EXT` for `--record BASE.EXT` (`session.jsonl.zst` ->
//! `session-20261204T230000Z.jsonl.zst`), so that a listing sorts in time order.
//!
//! At the switch the recorder finishes the old file and writes, for every connection open at that
//! moment, a `continued` line (the connection goes on from the previous file: replay takes its
//! next sequence number as it comes instead of expecting 0); each connection then asks for fresh
//! snapshots (a `resync` line of reason `rotate`), so every file replays on its own to whole books.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The shortest period: a second (short periods are for tests and trials; a file per second
/// would be mostly snapshots).
pub const MIN_PERIOD: Duration = Duration::from_secs(1);

/// The longest period: a year of days.
pub const MAX_PERIOD: Duration = Duration::from_secs(366 * 86_400);

/// Reads a period such as `1h`, `15m`, `1d`, `90s` or `1h30m`: one or more whole numbers each
/// followed by a unit (`s`, `m`, `h`, `d`), from a second to a year.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let usage = "use whole numbers with a unit s, m, h or d, such as 1h, 15m, 1d or 1h30m";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the rotation period is empty: {usage}"));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a period: {usage}"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is too long a period: at most 366d"))?;
        let unit = rest[digits..].chars().next();
        let seconds = match unit {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            None => return Err(format!("{text:?} has no unit after {number}: {usage}")),
            Some(other) => {
                return Err(format!("{text:?} has an unknown unit {other:?}: {usage}"));
            }
        };
        total = number
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is too long a period: at most 366d"))?;
        rest = &rest[digits + 1..];
    }
    let period = Duration::from_secs(total);
    if period < MIN_PERIOD {
        return Err(format!(
            "{text:?} is too short a period: at least 1s (1h or 1d for real sessions)"
        ));
    }
    if period > MAX_PERIOD {
        return Err(format!("{text:?} is too long a period: at most 366d"));
    }
    Ok(period)
}

/// The file a period starting at `start_ms` is written to: the base name with the start time
/// (UTC, to the second) before its extensions (`.jsonl`, and `.zst` or `.gz` after it).
pub fn rotated_path(base: &Path, start_ms: i64) -> PathBuf {
    let name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = split_extensions(&name);
    let stamp = DateTime::<Utc>::from_timestamp_millis(start_ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ");
    let file = if stem.is_empty() {
        format!("{stamp}{ext}")
    } else {
        format!("{stem}-{stamp}{ext}")
    };
    base.with_file_name(file)
}

/// `session.jsonl.zst` -> (`session`, `.jsonl.zst`); `rec` -> (`rec`, ``); `a.b.jsonl` ->
/// (`a.b`, `.jsonl`): the compression extension and one more.
fn split_extensions(name: &str) -> (&str, &str) {
    let mut cut = name.len();
    let lower = name.to_ascii_lowercase();
    for compressed in [".zst", ".zstd", ".gz"] {
        if lower.ends_with(compressed) && name.len() > compressed.len() {
            cut = name.len() - compressed.len();
            break;
        }
    }
    if let Some(dot) = name[..cut].rfind('.')
        && dot > 0
    {
        cut = dot;
    }
    name.split_at(cut)
}

/// When the files switch.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub base: PathBuf,
    period_ms: i64,
    /// The start of the next period: a line received at or after it goes to a new file.
    pub next_at_ms: i64,
}

impl Rotation {
    /// Rotation of `base` every `period`, the first file starting at `now_ms`.
    pub fn new(base: &Path, period: Duration, now_ms: i64) -> Rotation {
        let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
        Rotation {
            base: base.to_owned(),
            period_ms,
            next_at_ms: period_start(now_ms, period_ms).saturating_add(period_ms),
        }
    }

    /// The start of the period `t_ms` falls in, if that is a new period (the file to switch to).
    pub fn switch_at(&mut self, t_ms: i64) -> Option<i64> {
        if t_ms < self.next_at_ms {
            return None;
        }
        let start = period_start(t_ms, self.period_ms);
        self.next_at_ms = start.saturating_add(self.period_ms);
        Some(start)
    }
}

/// The start of the period (aligned to Unix time) that `t_ms` falls in.
fn period_start(t_ms: i64, period_ms: i64) -> i64 {
    t_ms - t_ms.rem_euclid(period_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(parse_period("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_period("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_period("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_period("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_period("2s"), Ok(Duration::from_secs(2)));
        for bad in [
            "",
            "h",
            "1",
            "1x",
            "1.5h",
            "-1h",
            "0s",
            "400d",
            "99999999999999999999d",
            "1h 2m",
        ] {
            let err = parse_period(bad).unwrap_err();
            assert!(
                err.contains("use whole numbers")
                    || err.contains("at least 1s")
                    || err.contains("at most 366d"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn file_names_carry_the_start_time_before_the_extensions() {
        // 2026-12-04T23:00:00Z
        let t = 1_796_425_200_000;
        let name = |base: &str| {
            rotated_path(Path::new(base), t)
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!(
            name("/d/session.jsonl.zst"),
            "/d/session-20261204T230000Z.jsonl.zst"
        );
        assert_eq!(
            name("session.jsonl.gz"),
            "session-20261204T230000Z.jsonl.gz"
        );
        assert_eq!(name("session.jsonl"), "session-20261204T230000Z.jsonl");
        assert_eq!(name("rec"), "rec-20261204T230000Z");
        assert_eq!(name("a.b.jsonl"), "a.b-20261204T230000Z.jsonl");
        assert_eq!(name(".jsonl"), ".jsonl-20261204T230000Z");
    }

    #[test]
    fn switches_come_on_the_period_boundaries() {
        let hour = Duration::from_secs(3600);
        let start = 1_796_425_200_000 + 1_234_567;
        let mut r = Rotation::new(Path::new("s.jsonl"), hour, start);
        assert_eq!(r.switch_at(start + 1000), None);
        assert_eq!(r.switch_at(1_796_428_800_000 - 1), None);
        assert_eq!(r.switch_at(1_796_428_800_000 + 5), Some(1_796_428_800_000));
        assert_eq!(r.switch_at(1_796_428_800_000 + 10), None);
        // A long silence skips periods: the file is named after the period the line is in.
        assert_eq!(
            r.switch_at(1_796_428_800_000 + 3 * 3_600_000 + 7),
            Some(1_796_428_800_000 + 3 * 3_600_000)
        );
    }

    #[test]
    fn a_recorder_switches_files_on_the_boundaries_and_each_file_starts_with_its_connections() {
        use crate::feed::record::{ConnectInfo, RecordReader, Recorder};
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("s.jsonl.zst");
        // 2020-01-01T00:00:00.500Z: far from now, so that only the times given switch files.
        let t0 = 1_577_836_800_500;
        let mut r = Recorder::open_rotating(&base, Duration::from_secs(1), t0).unwrap();
        let info = |p: &str| ConnectInfo {
            url: "ws://x".into(),
            authenticated: false,
            products: vec![p.into()],
            user: false,
        };
        r.connect_on(0, t0, &info("BTC-USD")).unwrap();
        r.connect_on(1, t0, &info("ETH-USD")).unwrap();
        r.frame_on(0, t0 + 100, r#"{"a":1}"#, true).unwrap();
        assert_eq!(r.generation(), 0);
        // Connection 1 is lost before the switch: only connection 0 goes on.
        r.disconnect_on(1, t0 + 200, "gone").unwrap();
        r.frame_on(0, t0 + 600, r#"{"a":2}"#, true).unwrap();
        assert_eq!(r.generation(), 1);
        r.rotated_resync_on(0, t0 + 610).unwrap();
        // Two periods later (a silence): one switch, named after the period of the line.
        r.frame_on(0, t0 + 2_700, r#"{"a":3}"#, true).unwrap();
        assert_eq!(r.generation(), 2);
        r.finish().unwrap();
        let names: Vec<String> = {
            let mut n: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(
            names,
            [
                "s-20200101T000000Z.jsonl.zst",
                "s-20200101T000001Z.jsonl.zst",
                "s-20200101T000003Z.jsonl.zst"
            ]
        );
        let entries = |name: &str| {
            let mut reader = RecordReader::open(&dir.path().join(name)).unwrap();
            let mut out = Vec::new();
            while let Some((entry, conn)) = reader.next_entry_on().unwrap() {
                out.push(format!("{conn} {entry:?}"));
            }
            assert_eq!(reader.damage(), None, "{name} was finished");
            out
        };
        let first = entries(&names[0]);
        assert_eq!(first.len(), 4, "{first:?}");
        let second = entries(&names[1]);
        assert!(second[0].starts_with("0 Continued"), "{second:?}");
        assert!(second[0].contains("BTC-USD"), "{second:?}");
        assert!(second[1].starts_with("0 Frame"), "{second:?}");
        assert!(second[2].starts_with("0 Resync"), "{second:?}");
        assert_eq!(second.len(), 3, "connection 1 was not open: {second:?}");
        let third = entries(&names[2]);
        assert!(third[0].starts_with("0 Continued"), "{third:?}");
        assert_eq!(third.len(), 2, "{third:?}");
    }
}
