//! Readable reports: aligned fields, each problem with its fix, and times in words.
//!
//! Most of what a report shows comes from the token or key file being diagnosed (claim names
//! and values, the key's name, the `kid`), which may have been pasted from anywhere: every field
//! and every problem's message and fix goes through [`printable`], so that a control character
//! in them is shown escaped (`\x1b`) instead of acting on the reader's terminal, and a line break
//! in them cannot forge a line of the report.

use std::fmt::Write as _;

use crate::text::printable;

use serde_json::Value;

use super::Algorithm;
use super::inspect::{DateFault, SignatureVerdict, TokenReport, numeric_date};
use super::problems::{BASE64URL_NOT_CANONICAL, Problem, Severity};

/// Error codes for which it is not known whether Coinbase refuses the token (verifiers differ).
const OUTCOME_AT_COINBASE_UNKNOWN: &[&str] = &[BASE64URL_NOT_CANONICAL.name];

/// Width at which messages and fixes wrap.
const WRAP: usize = 100;

/// A duration in words: "97 s", "3 min", "5 h", "12 days".
pub fn duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    if s < 120 {
        format!("{s} s")
    } else if s < 120 * 60 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h", s / 3600)
    } else {
        format!("{} days", s / 86_400)
    }
}

/// "3 min ago".
pub fn ago(secs: i64) -> String {
    format!("{} ago", duration(secs))
}

/// "expires in 97 s" or "expired 3 min ago".
pub fn expiry_phrase(exp: i64, now: i64) -> String {
    if exp > now {
        format!("expires in {}", duration(exp.saturating_sub(now)))
    } else {
        format!("expired {}", ago(now.saturating_sub(exp)))
    }
}

/// "valid since 23 s" or "not valid for another 5 s".
pub fn not_before_phrase(nbf: i64, now: i64) -> String {
    if nbf > now {
        format!(
            "not valid for another {}",
            duration(nbf.saturating_sub(now))
        )
    } else {
        format!("valid since {}", duration(now.saturating_sub(nbf)))
    }
}

fn utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "out of range".to_string())
}

/// Wraps `text`, which starts at column `indent`, at spaces so that lines stay within `WRAP`
/// columns; continuation lines are indented to `indent`. Words longer than a line stay whole.
fn wrapped(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut column = indent;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if column + 1 + word.len() > WRAP {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
        }
        out.push_str(word);
        column += word.len();
    }
    out
}

/// The problems, one block each: severity, code, message, then the fix on its own line.
pub fn problems_block(problems: &[Problem]) -> String {
    let code_width = problems.iter().map(|p| p.code.len()).max().unwrap_or(0);
    let indent = 2 + 9 + code_width + 2;
    let mut out = String::new();
    for problem in problems {
        let head = format!(
            "  {:<9}{:<width$}  ",
            problem.severity.as_str(),
            problem.code,
            width = code_width
        );
        let message = printable(&problem.message);
        let _ = writeln!(out, "{head}{}", wrapped(&message, indent));
        let fix = format!("fix: {}", printable(&problem.fix));
        let _ = writeln!(out, "{}{}", " ".repeat(indent), wrapped(&fix, indent));
    }
    out
}

/// A warning about a key that is used anyway, as one line of stderr:
/// `cbbook: warning CODE: MESSAGE (fix: FIX)`.
pub fn warning_line(warning: &Problem) -> String {
    format!(
        "cbbook: warning {}: {} (fix: {})\n",
        warning.code,
        printable(&warning.message),
        printable(&warning.fix)
    )
}

/// Aligned `label  value` rows; labels (a token's claim names) and values are shown
/// [`printable`].
fn rows(out: &mut String, rows: &[(&str, String)], indent: usize) {
    let rows: Vec<_> = rows
        .iter()
        .map(|(label, value)| (printable(label), printable(value)))
        .collect();
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    for (label, value) in rows {
        let _ = writeln!(out, "{}{label:<width$}  {value}", " ".repeat(indent));
    }
}

fn verdict_line(errors: usize, warnings: usize, ok_text: &str, bad_text: &str) -> String {
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if errors == 0 {
        if warnings == 0 {
            format!("OK: {ok_text}.")
        } else {
            format!("OK with {}: {ok_text}.", count(warnings, "warning"))
        }
    } else {
        let mut line = format!("FAILED: {}", count(errors, "error"));
        if warnings > 0 {
            line.push_str(&format!(", {}", count(warnings, "warning")));
        }
        format!("{line}. {bad_text}")
    }
}

fn counts(problems: &[Problem]) -> (usize, usize) {
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    (errors, problems.len() - errors)
}

/// What a key report shows.
pub struct KeySummary<'a> {
    pub source: &'a str,
    pub name: Option<&'a str>,
    pub algorithm: Option<Algorithm>,
    pub format: Option<&'a str>,
    pub problems: &'a [Problem],
    /// The outcome of signing a fresh token and verifying it, when the key loaded.
    pub self_test: Option<bool>,
}

/// The readable report of `cbbook auth check` (and of a key that cannot be loaded).
pub fn key_report(summary: &KeySummary) -> String {
    let mut out = String::new();
    let unknown = || "(unknown)".to_string();
    let mut fields = vec![
        ("source", summary.source.to_string()),
        (
            "key name",
            summary.name.map(str::to_string).unwrap_or_else(unknown),
        ),
        (
            "algorithm",
            summary
                .algorithm
                .map(|a| a.to_string())
                .unwrap_or_else(unknown),
        ),
        (
            "format",
            summary.format.map(str::to_string).unwrap_or_else(unknown),
        ),
    ];
    if let Some(ok) = summary.self_test {
        fields.push((
            "self-test",
            if ok {
                "a fresh WebSocket JWT signed with this key verifies".to_string()
            } else {
                "a fresh WebSocket JWT signed with this key does NOT verify".to_string()
            },
        ));
    }
    rows(&mut out, &fields, 0);
    out.push('\n');
    if summary.problems.is_empty() {
        out.push_str("no problems found\n");
    } else {
        out.push_str("problems\n");
        out.push_str(&problems_block(summary.problems));
    }
    out.push('\n');
    let (errors, warnings) = counts(summary.problems);
    out.push_str(&verdict_line(
        errors,
        warnings,
        "this key can sign Coinbase JWTs",
        "Coinbase would answer \"authentication failure\" with this key; apply the fixes above.",
    ));
    out.push('\n');
    out
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The readable report of `cbbook auth inspect`. `key_problems` are those of a key given to verify
/// the token that cannot be used: shown apart, as they say nothing about the token.
pub fn token_report(
    report: &TokenReport,
    now: i64,
    verified_with: Option<&str>,
    key_problems: &[Problem],
) -> String {
    let mut out = String::new();
    for (title, object) in [("header", &report.header), ("claims", &report.claims)] {
        let Some(Value::Object(map)) = object else {
            let _ = writeln!(out, "{title}  (undecodable)");
            continue;
        };
        let _ = writeln!(out, "{title}");
        let fields: Vec<(&str, String)> = map
            .iter()
            .map(|(name, value)| {
                let mut shown = show(value);
                if matches!(name.as_str(), "nbf" | "exp" | "iat") {
                    shown = match numeric_date(value) {
                        Ok(secs) => {
                            let phrase = match name.as_str() {
                                "exp" => expiry_phrase(secs, now),
                                "nbf" => not_before_phrase(secs, now),
                                _ => ago(now.saturating_sub(secs)),
                            };
                            format!("{secs}  {}  ({phrase})", utc(secs))
                        }
                        Err(_) if value.is_string() => {
                            format!("{value}  (a string, not a number)")
                        }
                        Err(DateFault::Fractional) => format!("{value}  (not an integer)"),
                        Err(DateFault::OutOfRange) => format!("{value}  (not a valid time)"),
                        Err(DateFault::NonNumber) => shown,
                    };
                }
                (name.as_str(), shown)
            })
            .collect();
        rows(&mut out, &fields, 2);
    }
    let signature = match (report.signature, verified_with) {
        (SignatureVerdict::Valid, Some(with)) => format!("valid (checked with {with})"),
        (SignatureVerdict::Invalid, Some(with)) => format!("INVALID (checked with {with})"),
        (SignatureVerdict::Invalid, None) => "INVALID (whatever the key)".to_string(),
        (SignatureVerdict::Unchecked, _) if !key_problems.is_empty() => {
            "unchecked (the key given to verify it cannot be used: see \"verification key\")"
                .to_string()
        }
        (SignatureVerdict::Unchecked, _) => {
            "unchecked (pass --key FILE or --public-key PEM to verify it)".to_string()
        }
        (verdict, None) => verdict.as_str().to_string(),
    };
    rows(
        &mut out,
        &[
            ("signature", signature),
            ("judged at", format!("{now}  {}", utc(now))),
        ],
        0,
    );
    out.push('\n');
    if !key_problems.is_empty() {
        out.push_str("verification key\n");
        out.push_str(&problems_block(key_problems));
        out.push('\n');
    }
    if report.problems.is_empty() {
        out.push_str("no problems found in the token\n");
    } else {
        out.push_str("problems\n");
        out.push_str(&problems_block(&report.problems));
    }
    out.push('\n');
    let (errors, warnings) = counts(&report.problems);
    if errors == 0 && !key_problems.is_empty() {
        let also = if warnings == 0 {
            String::new()
        } else {
            format!(
                " ({warnings} warning{})",
                if warnings == 1 { "" } else { "s" }
            )
        };
        let line = format!(
            "NOT VERIFIED: the key given to verify the signature cannot be used (see \
             \"verification key\"); the token shows no error of its own{also}, but its \
             signature is unchecked."
        );
        let _ = writeln!(out, "{}", wrapped(&line, 0));
        return out;
    }
    let ok_text = if report.signature == SignatureVerdict::Valid {
        "Coinbase would accept this token"
    } else {
        "nothing wrong found (signature not checked)"
    };
    // Errors whose outcome at Coinbase is not known do not claim a refusal.
    let refusal_known = report
        .problems
        .iter()
        .any(|p| p.is_error() && !OUTCOME_AT_COINBASE_UNKNOWN.contains(&p.code));
    let bad_text = if refusal_known {
        "Coinbase would answer \"authentication failure\"; apply the fixes above."
    } else {
        "Strict verifiers refuse this token; whether Coinbase does is not known. Apply the fixes \
         above."
    };
    out.push_str(&verdict_line(errors, warnings, ok_text, bad_text));
    out.push('\n');
    if !key_problems.is_empty() {
        out.push_str(
            "The signature was not checked: the key given to verify it cannot be used (see\n\
             \"verification key\").\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(expiry_phrase(1097, 1000), "expires in 97 s");
        assert_eq!(expiry_phrase(1000, 1180), "expired 3 min ago");
        assert_eq!(expiry_phrase(1000, 1000), "expired 0 s ago");
        assert_eq!(duration(3 * 3600), "3 h");
        assert_eq!(duration(3 * 86_400), "3 days");
        assert_eq!(not_before_phrase(1005, 1000), "not valid for another 5 s");
    }

    #[test]
    fn long_text_wraps_under_the_limit_with_indent() {
        let text = "word ".repeat(60);
        let out = format!("{}{}", " ".repeat(10), wrapped(text.trim(), 10));
        for line in out.lines() {
            assert!(line.len() <= WRAP, "{line:?}");
        }
        assert!(out.lines().skip(1).all(|l| l.starts_with("          w")));
    }
}
