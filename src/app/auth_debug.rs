//! What the auth-debug pane says: the last JWT decoded and checked locally, and, when the server
//! refused it, the diagnosis and the fix to try.
//!
//! The token is judged by [`crate::auth::inspect_token`] with the key's public key, as of its own
//! `nbf` (the moment it was signed and sent), so a token that expired since is not reported as
//! expired. The server's `reason` (the simulator sends `"<code>: <message>"`; Coinbase sends none)
//! is matched against the local findings: a code the local check also found is confirmed; a code
//! it cannot see (an unknown key, a clock ahead of the server's) is explained from the server's
//! side.

use crate::auth::{
    InspectOptions, Key, Problem, Severity, TokenReport, inspect_token, key_unknown, token_kid,
};
use crate::feed::events::ServerError;

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

    #[test]
    fn reason_codes_are_snake_case_before_a_colon() {
        assert_eq!(reason_code("key_unknown: no key"), Some("key_unknown"));
        assert_eq!(reason_code(" expired : at 12"), Some("expired"));
        assert_eq!(reason_code("FOO-BAR is not a valid product"), None);
        assert_eq!(reason_code("Bad thing: here"), None);
        assert_eq!(reason_code(": nothing"), None);
    }
}
