//! What the auth-debug pane says: the last JWT decoded and checked locally, and, when the server
//! refused it, the diagnosis and the fix to try.
//!
//! The token is judged by [`crate::auth::inspect_token`] with the key's public key, as of its own
//! `nbf` (the moment it was signed and sent), so a token that expired since is not reported as
//! expired. The server's `reason` (the simulator sends `"<code>: <message>"`; Coinbase sends none)
//! is matched against the local findings: a code the local check also found is confirmed; a code
//! it cannot see (an unknown key, a clock ahead of the server's) is explained from the server's
//! side.

use crate::auth::clock::{SERVER_TOLERANCE_MS, SignedWith, describe_offset, offset_refuses_tokens};
use crate::auth::{
    InspectOptions, Key, Problem, Severity, TokenReport, inspect_token, key_unknown, token_kid,
};
use crate::feed::events::{AuthView, ServerError};

/// Seconds of `nbf` leeway used when judging a sent token (the simulator's default).
const LEEWAY_SECS: i64 = 1;

/// The last JWT sent and its local report.
#[derive(Debug, Clone)]
pub struct SentToken {
    pub jwt: String,
    pub report: TokenReport,
    /// The Unix second it was judged as of (its `nbf`, when readable).
    pub judged_at: i64,
}

impl SentToken {
    /// Inspects `jwt` with `key` (if any), as of the token's `nbf` (else `now_unix`).
    pub fn inspect(jwt: &str, key: Option<&Key>, now_unix: i64) -> SentToken {
        let public = key.map(Key::public_key);
        let opts = |now| InspectOptions {
            key: public.as_ref(),
            expected_name: key.map(Key::name),
            now_unix: now,
            leeway_secs: LEEWAY_SECS,
            websocket: true,
        };
        let first = inspect_token(jwt, &opts(now_unix));
        let nbf = first
            .claims
            .as_ref()
            .and_then(|c| c.get("nbf"))
            .and_then(serde_json::Value::as_i64);
        let (report, judged_at) = match nbf {
            Some(nbf) if nbf != now_unix => (inspect_token(jwt, &opts(nbf)), nbf),
            _ => (first, now_unix),
        };
        SentToken {
            jwt: jwt.to_string(),
            report,
            judged_at,
        }
    }
}

/// The code at the start of a `reason` such as `"key_unknown: no key named ..."`.
pub fn reason_code(reason: &str) -> Option<&str> {
    let (code, _) = reason.split_once(':')?;
    let code = code.trim();
    let is_code = !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    is_code.then_some(code)
}

/// Whether the server says it does not know the key.
fn says_key_unknown(error: &ServerError) -> bool {
    let reason = error.reason.as_deref().unwrap_or("").to_ascii_lowercase();
    reason_code(&reason) == Some("key_unknown")
        || reason.contains("unknown key")
        || reason.contains("key not found")
        || reason.contains("no key named")
}

/// One finding of the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub fix: String,
}

impl From<&Problem> for Finding {
    fn from(p: &Problem) -> Finding {
        Finding {
            severity: p.severity,
            code: p.code.to_string(),
            message: p.message.clone(),
            fix: p.fix.clone(),
        }
    }
}

/// The diagnosis of the last refusal (or of the last token when nothing was refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// One line: what went wrong, or that nothing did.
    pub summary: String,
    /// Errors first, then warnings.
    pub findings: Vec<Finding>,
}

/// Puts the server's answer and the local report together.
pub fn diagnose(
    token: Option<&SentToken>,
    error: Option<&ServerError>,
    key: Option<&Key>,
    demo: bool,
) -> Diagnosis {
    let mut findings: Vec<Finding> = token
        .map(|t| t.report.problems.iter().map(Finding::from).collect())
        .unwrap_or_default();
    let refused = error.is_some_and(ServerError::is_auth_failure);
    let local_errors = findings.iter().any(|f| f.severity == Severity::Error);

    let summary = match error {
        Some(error) if refused && says_key_unknown(error) => {
            let kid = token
                .and_then(|t| token_kid(&t.jwt))
                .or_else(|| key.map(|k| k.name().to_string()))
                .unwrap_or_default();
            let mut finding = Finding::from(&key_unknown(&kid));
            if demo {
                finding.fix.push_str(
                    "; in --demo the built-in simulator trusts only its demo key: leave out \
                     --key to sign with it",
                );
            } else {
                finding.fix.push_str(
                    "; against `cbbook sim`, pass the key with --authorized-key FILE (or NAME=PUBLIC_KEY.pem)",
                );
            }
            findings.retain(|f| f.code != "key_unknown");
            findings.insert(0, finding);
            "the server does not trust this key name".to_string()
        }
        Some(error) if refused => {
            let code = error.reason.as_deref().and_then(reason_code);
            match code {
                Some(code) if findings.iter().any(|f| f.code == code) => {
                    // Confirmed locally: put that finding first.
                    if let Some(i) = findings.iter().position(|f| f.code == code) {
                        let f = findings.remove(i);
                        findings.insert(0, f);
                    }
                    format!("the server reports {code}, and the local check agrees")
                }
                Some(code) => {
                    findings.insert(0, server_only(code, error));
                    format!("the server reports {code}, which this machine cannot see in the token")
                }
                None if local_errors => "the token has errors (below)".to_string(),
                None => {
                    findings.insert(0, no_reason_given());
                    "refused, with no reason given; the token checks out locally".to_string()
                }
            }
        }
        Some(error) => format!("the server answered an error: {}", error.message),
        None => match token {
            None => "no token sent yet".to_string(),
            Some(_) if local_errors => "the token has errors (below)".to_string(),
            Some(t) => format!(
                "well-formed, signature {}, times valid when sent",
                t.report.signature.as_str()
            ),
        },
    };
    if let Some(key) = key {
        findings.extend(key.warnings().iter().map(Finding::from));
    }
    findings.sort_by_key(|f| f.severity != Severity::Error);
    Diagnosis { summary, findings }
}

/// The diagnosis with the measured clock named as the likely cause of a refusal (docs/auth.md,
/// "Clock skew"): when the server refused a token and this machine's clock, as measured from the
/// frames, was off by more than the server tolerates once the signing clock's correction is
/// taken off, the clock goes first with its number, instead of the list of guesses.
pub fn name_the_clock(mut diagnosis: Diagnosis, auth: &AuthView) -> Diagnosis {
    let refused = auth
        .last_error
        .as_ref()
        .is_some_and(ServerError::is_auth_failure);
    let (Some(clock), true) = (auth.clock, refused) else {
        return diagnosis;
    };
    let used = auth.signed_with.map_or(0, SignedWith::correction_ms);
    let off = clock.offset_ms - used;
    if !offset_refuses_tokens(off) {
        return diagnosis;
    }
    let measured = format!(
        "this machine's clock is {} Coinbase's (measured from {} frames{})",
        describe_offset(clock.offset_ms),
        clock.samples,
        clock
            .error_ms
            .map_or_else(String::new, |e| format!(", ±{e} ms"))
    );
    let (message, fix) = if off > 0 {
        (
            format!(
                "{measured}: the token's nbf was about {:.1} s in the server's future, which it                  refuses beyond about {} s",
                off as f64 / 1000.0,
                SERVER_TOLERANCE_MS / 1000
            ),
            "sync this machine's clock (NTP); meanwhile cbbook signs with the server's time              with --jwt-clock auto (the default) or server",
        )
    } else {
        (
            format!("{measured}: the token had expired by the server's clock when it arrived"),
            "sync this machine's clock (NTP): a token lives 120 s and cannot be signed later              than this machine's time",
        )
    };
    diagnosis.findings.retain(|f| f.code != "refused");
    diagnosis.findings.insert(
        0,
        Finding {
            severity: Severity::Error,
            code: "clock_skew".to_string(),
            message,
            fix: fix.to_string(),
        },
    );
    diagnosis.summary = format!(
        "refused: this machine's clock is {} Coinbase's, the likely cause",
        describe_offset(clock.offset_ms)
    );
    diagnosis
}

/// A refusal whose reason names a problem the local check did not find.
fn server_only(code: &str, error: &ServerError) -> Finding {
    let fix = match code {
        "not_yet_valid" => {
            "this machine's clock is ahead of the server's: sync it (NTP); compare with \
             GET https://api.coinbase.com/api/v3/brokerage/time"
        }
        "expired" => {
            "this machine's clock is behind the server's, or the token was reused: sync the clock \
             (NTP); cbbook signs a fresh token for every subscribe"
        }
        "signature_invalid" => {
            "the server holds a different public key under this name: check that the key file is \
             the one registered for this name"
        }
        _ => "read the server's reason above; `cbbook auth inspect` shows the same token offline",
    };
    Finding {
        severity: Severity::Error,
        code: code.to_string(),
        message: error.reason.clone().unwrap_or_default(),
        fix: fix.to_string(),
    }
}

/// Coinbase's bare `authentication failure`, with a token that checks out locally.
fn no_reason_given() -> Finding {
    Finding {
        severity: Severity::Error,
        code: "refused".to_string(),
        message: "the server gave no reason, and the token is well-formed and signed by this key"
            .to_string(),
        fix: "check, in order: the clock (a clock ahead of Coinbase's puts nbf in its future; \
              compare with GET https://api.coinbase.com/api/v3/brokerage/time), that the key \
              exists and is enabled in the CDP portal, and that it is a CDP key (not a legacy \
              Exchange key)"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::feed::core::clock::ClockEstimate;

    fn refused_view(offset_ms: i64, signed_with: SignedWith) -> AuthView {
        AuthView {
            last_error: Some(ServerError {
                raw: String::new(),
                message: "authentication failure".into(),
                reason: None,
                at_ms: 0,
            }),
            clock: Some(ClockEstimate {
                offset_ms,
                samples: 42,
                error_ms: Some(3),
            }),
            signed_with: Some(signed_with),
            ..AuthView::default()
        }
    }

    #[test]
    fn a_refusal_with_the_clock_ahead_names_the_clock() {
        let bare = diagnose(
            None,
            refused_view(0, SignedWith::Local).last_error.as_ref(),
            None,
            false,
        );
        assert_eq!(bare.findings[0].code, "refused");
        let named = name_the_clock(bare.clone(), &refused_view(2_980, SignedWith::Local));
        assert_eq!(named.findings[0].code, "clock_skew");
        assert!(named.findings.iter().all(|f| f.code != "refused"));
        assert!(
            named.findings[0]
                .message
                .starts_with("this machine's clock is +2.98 s ahead of Coinbase's (measured from 42 frames, ±3 ms)"),
            "{}",
            named.findings[0].message
        );
        assert!(
            named.summary.contains("+2.98 s ahead of"),
            "{}",
            named.summary
        );
        // Within the tolerance, or already corrected by signing with the server's time: the
        // clock is not the cause.
        for view in [
            refused_view(600, SignedWith::Local),
            refused_view(2_980, SignedWith::Server { offset_ms: 2_975 }),
        ] {
            assert_eq!(name_the_clock(bare.clone(), &view), bare);
        }
        // Far behind: expired tokens.
        let behind = name_the_clock(bare, &refused_view(-150_000, SignedWith::Local));
        assert!(behind.findings[0].message.contains("expired"));
    }

    #[test]
    fn reason_codes_are_snake_case_before_a_colon() {
        assert_eq!(reason_code("key_unknown: no key"), Some("key_unknown"));
        assert_eq!(reason_code(" expired : at 12"), Some("expired"));
        assert_eq!(reason_code("FOO-BAR is not a valid product"), None);
        assert_eq!(reason_code("Bad thing: here"), None);
        assert_eq!(reason_code(": nothing"), None);
    }
}
