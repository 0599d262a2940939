//! `cbbook auth jwt|check|inspect`.
//!
//! Reports go to stdout (readable, or one JSON object with `--json`); the exit status is 0 when no
//! problem is an error, 1 otherwise, and for `auth inspect` 2 when the token has no error but the
//! key given to verify it cannot be used. `auth jwt` prints the token alone on stdout.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::problems::{Problem, Severity, key as key_wording};
use super::report::{self, KeySummary};
use super::{
    AuthError, HTTP_METHODS, InspectOptions, Key, PublicKey, inspect_token, load_configured_key,
    load_key_file, load_public_key_file, now_unix,
};
use crate::cli::AuthCommand;
use crate::output::{json_line_to_stdout, to_stderr, to_stdout};

/// Runs an `auth` subcommand and returns its exit status.
pub fn run(command: &AuthCommand) -> ExitCode {
    match command {
        AuthCommand::Jwt { key, rest } => jwt(key.as_deref(), rest.as_deref()),
        AuthCommand::Check { key, json } => check(key.as_deref(), *json),
        AuthCommand::Clock {
            url,
            ca_cert,
            heartbeats,
            json,
        } => {
            let config = crate::feed::clock_probe::ProbeConfig {
                url: url.clone(),
                ca_cert: ca_cert.clone(),
                heartbeats: *heartbeats,
                // A heartbeat a second, plus room to connect.
                limit: std::time::Duration::from_secs(u64::from(*heartbeats) + 10),
            };
            crate::feed::clock_probe::run(&config, *json)
        }
        AuthCommand::Inspect {
            token,
            key,
            public_key,
            json,
            at,
        } => inspect(
            token,
            key.as_deref(),
            public_key.as_deref(),
            *json,
            at.unwrap_or_else(now_unix),
        ),
    }
}

/// `status`, unless the result could not be written to stdout: then the command failed, and
/// stderr says why.
fn result_status(written: std::io::Result<()>, status: ExitCode) -> ExitCode {
    match written {
        Ok(()) => status,
        Err(err) => {
            to_stderr(format_args!(
                "cbbook: cannot write the result to stdout: {err}\n"
            ));
            ExitCode::FAILURE
        }
    }
}

fn exit_status(problems: &[Problem]) -> ExitCode {
    if problems.iter().any(Problem::is_error) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn source_of(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("key file {}", path.display()),
        None => format!(
            "environment variables {} and {}",
            super::ENV_KEY,
            super::ENV_SECRET
        ),
    }
}

/// `--key FILE` or the environment pair; on failure, the readable diagnosis on stderr.
fn configured_key_or_report(path: Option<&Path>) -> Result<Key, ExitCode> {
    match load_configured_key(path) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => {
            to_stderr(format_args!(
                "cbbook: cannot build a JWT without a key\n\n{}",
                report::problems_block(&[key_wording::not_configured()])
            ));
            Err(ExitCode::FAILURE)
        }
        Err(failure) => {
            to_stderr(format_args!(
                "cbbook: cannot build a JWT with this key\n\n{failure}"
            ));
            Err(ExitCode::FAILURE)
        }
    }
}

/// `"METHOD PATH"`: a real HTTP method (any case, sent in capitals) and a path from its leading
/// `/` (a query string is allowed and left out of the `uri` claim).
fn parse_rest_spec(spec: &str) -> Result<(String, String), AuthError> {
    let mut words = spec.split_whitespace();
    let (method, path) = match (words.next(), words.next(), words.next()) {
        (Some(method), Some(path), None) => (method, path),
        _ => return Err(AuthError::RestSpec(spec.to_string())),
    };
    let method = method.to_ascii_uppercase();
    if !HTTP_METHODS.contains(&method.as_str()) {
        return Err(AuthError::RestMethod(method));
    }
    if !path.starts_with('/') || path.chars().any(char::is_control) {
        return Err(AuthError::RestPath(path.to_string()));
    }
    Ok((method, path.to_string()))
}

/// `cbbook auth jwt [--key FILE] [--rest "METHOD PATH"]`.
fn jwt(path: Option<&Path>, rest: Option<&str>) -> ExitCode {
    let rest = match rest.map(parse_rest_spec).transpose() {
        Ok(rest) => rest,
        Err(err) => {
            to_stderr(format_args!("cbbook: {err}\n"));
            return ExitCode::from(2);
        }
    };
    let key = match configured_key_or_report(path) {
        Ok(key) => key,
        Err(code) => return code,
    };
    for warning in key.warnings() {
        to_stderr(format_args!(
            "{}",
            crate::auth::report::warning_line(warning)
        ));
    }
    let now = now_unix();
    let token = match rest {
        Some((method, path)) => key.rest_jwt(&method, &path, now),
        None => key.ws_jwt(now),
    };
    result_status(to_stdout(format_args!("{token}\n")), ExitCode::SUCCESS)
}

/// Signs a fresh token with the key and verifies it with the key's public key.
fn self_test(key: &Key) -> Vec<Problem> {
    let now = now_unix();
    let public = key.public_key();
    let report = inspect_token(
        &key.ws_jwt(now),
        &InspectOptions {
            key: Some(&public),
            expected_name: Some(key.name()),
            now_unix: now,
            leeway_secs: 0,
            websocket: true,
        },
    );
    report.problems
}

/// `cbbook auth check [--key FILE] [--json]`.
fn check(path: Option<&Path>, as_json: bool) -> ExitCode {
    let source = source_of(path);
    let (name, algorithm, format, problems, self_test_ok) = match load_configured_key(path) {
        Ok(Some(key)) => {
            let mut problems = key.warnings().to_vec();
            let self_test_problems = self_test(&key);
            let ok = self_test_problems.is_empty();
            problems.extend(self_test_problems);
            (
                Some(key.name().to_string()),
                Some(key.algorithm()),
                Some(key.format().to_string()),
                problems,
                Some(ok),
            )
        }
        Ok(None) => (None, None, None, vec![key_wording::not_configured()], None),
        Err(failure) => (failure.name, None, failure.format, failure.problems, None),
    };
    let ok = !problems.iter().any(Problem::is_error);
    let written = if as_json {
        let object = json!({
            "ok": ok,
            "key_name": name,
            "algorithm": algorithm,
            "format": format,
            "problems": problems,
        });
        json_line_to_stdout(&object.to_string())
    } else {
        to_stdout(format_args!(
            "{}",
            report::key_report(&KeySummary {
                source: &source,
                name: name.as_deref(),
                algorithm,
                format: format.as_deref(),
                problems: &problems,
                self_test: self_test_ok,
            })
        ))
    };
    result_status(written, exit_status(&problems))
}

/// The key to verify with: its public key, its name (when from a key file) and a description.
struct Verifier {
    public: PublicKey,
    name: Option<String>,
    description: String,
}

/// The key given to verify a token with, or the problems that make it unusable (worded as
/// problems of that key, not of the token).
fn verifier(
    key_path: Option<&Path>,
    public_key_path: Option<&Path>,
) -> Result<Option<Verifier>, Vec<Problem>> {
    if let Some(path) = key_path {
        return match load_key_file(path) {
            Ok(key) => Ok(Some(Verifier {
                public: key.public_key(),
                name: Some(key.name().to_string()),
                description: format!("key {} ({})", key.name(), key.algorithm()),
            })),
            Err(failure) => Err(failure
                .problems
                .into_iter()
                .filter(|p| p.severity == Severity::Error)
                .map(|p| key_wording::verification_key_unusable("--key", path, p))
                .collect()),
        };
    }
    if let Some(path) = public_key_path {
        let public = load_public_key_file(path).map_err(|p| {
            vec![key_wording::verification_key_unusable(
                "--public-key",
                path,
                p,
            )]
        })?;
        let description = format!("public key {} ({})", path.display(), public.algorithm());
        return Ok(Some(Verifier {
            public,
            name: None,
            description,
        }));
    }
    Ok(None)
}

/// Exit status of `auth inspect`: 1 when the token has an error, else 2 when the key given to
/// verify it cannot be used (the check asked for was not made), else 0.
fn inspect_status(token_problems: &[Problem], key_problems: &[Problem]) -> ExitCode {
    if token_problems.iter().any(Problem::is_error) {
        ExitCode::FAILURE
    } else if !key_problems.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// The longest token read from stdin: real ones are under 1 KiB, and cbbook was tried with 1 MB.
const MAX_STDIN_TOKEN_BYTES: u64 = 16 << 20;

/// `auth inspect -`: the token from stdin, at most [`MAX_STDIN_TOKEN_BYTES`] of it.
fn read_token_from_stdin() -> Result<String, AuthError> {
    let bytes = crate::bounded::read_at_most(std::io::stdin().lock(), MAX_STDIN_TOKEN_BYTES)
        .map_err(AuthError::Stdin)?
        .ok_or(AuthError::StdinTooLarge)?;
    String::from_utf8(bytes).map_err(|_| {
        AuthError::Stdin(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// `cbbook auth inspect TOKEN|- [--key FILE | --public-key PEM] [--json]`.
fn inspect(
    token: &str,
    key_path: Option<&Path>,
    public_key_path: Option<&Path>,
    as_json: bool,
    now: i64,
) -> ExitCode {
    let token = if token == "-" {
        match read_token_from_stdin() {
            Ok(text) => text,
            Err(err) => {
                to_stderr(format_args!("cbbook: {err}\n"));
                return ExitCode::FAILURE;
            }
        }
    } else {
        token.to_string()
    };
    let (verifier, key_problems) = match verifier(key_path, public_key_path) {
        Ok(verifier) => (verifier, Vec::new()),
        Err(problems) => (None, problems),
    };
    let opts = InspectOptions {
        key: verifier.as_ref().map(|v| &v.public),
        expected_name: verifier.as_ref().and_then(|v| v.name.as_deref()),
        now_unix: now,
        leeway_secs: 0,
        websocket: true,
    };
    let token_report = inspect_token(&token, &opts);
    let written = if as_json {
        // The unusable key first: it is the first thing to fix. Its codes are key codes, never
        // token codes, and the signature is "unchecked".
        let problems: Vec<&Problem> = key_problems.iter().chain(&token_report.problems).collect();
        let object = json!({
            "ok": key_problems.is_empty() && token_report.ok(),
            "header": token_report.header,
            "claims": token_report.claims,
            "signature": token_report.signature,
            "problems": problems,
        });
        json_line_to_stdout(&object.to_string())
    } else {
        to_stdout(format_args!(
            "{}",
            report::token_report(
                &token_report,
                now,
                verifier.as_ref().map(|v| v.description.as_str()),
                &key_problems,
            )
        ))
    };
    result_status(
        written,
        inspect_status(&token_report.problems, &key_problems),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_spec_needs_method_and_path() {
        assert_eq!(
            parse_rest_spec("GET /api/v3/brokerage/accounts").unwrap(),
            ("GET".to_string(), "/api/v3/brokerage/accounts".to_string())
        );
        assert_eq!(
            parse_rest_spec("delete /api/v3/brokerage/orders?x=1").unwrap(),
            (
                "DELETE".to_string(),
                "/api/v3/brokerage/orders?x=1".to_string()
            )
        );
        assert!(parse_rest_spec("/api/v3/brokerage/accounts").is_err());
        assert!(parse_rest_spec("GET /a /b").is_err());
        assert!(matches!(
            parse_rest_spec("FOO /x"),
            Err(AuthError::RestMethod(m)) if m == "FOO"
        ));
        for path in ["api/v3/x", "https://api.coinbase.com/x", "/a\u{7}b"] {
            assert!(
                matches!(
                    parse_rest_spec(&format!("GET {path}")),
                    Err(AuthError::RestPath(_))
                ),
                "{path}"
            );
        }
    }
}
