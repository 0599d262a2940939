//! Decoding, verifying and diagnosing any JWT offline, the way Coinbase would judge it.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Map, Value};

use super::Algorithm;
use super::jwt::LIFETIME_SECS;
use super::problems::{Problem, Severity, token as wording};
use super::public_key::PublicKey;

/// base64url that also reads `=` padding and non-zero trailing bits, so that a token with either
/// is still decoded and shown; each is reported as `base64url_not_canonical`.
const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Whether the signature was checked, and how it came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVerdict {
    /// Verified with the given key (under the key's algorithm, even when the header's `alg` is
    /// missing or unsupported: that is then an error of its own).
    Valid,
    /// Does not verify with the given key, or cannot verify with any key (wrong shape).
    Invalid,
    /// No key given, and nothing visibly wrong with it.
    Unchecked,
}

impl SignatureVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVerdict::Valid => "valid",
            SignatureVerdict::Invalid => "invalid",
            SignatureVerdict::Unchecked => "unchecked",
        }
    }
}

/// Everything found in one token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenReport {
    /// The decoded JOSE header (None if undecodable).
    pub header: Option<Value>,
    /// The decoded claims (None if undecodable).
    pub claims: Option<Value>,
    pub signature: SignatureVerdict,
    /// Errors first, in the order a reader should fix them, then warnings.
    pub problems: Vec<Problem>,
}

impl TokenReport {
    /// True when no problem is an error (Coinbase would accept the token).
    pub fn ok(&self) -> bool {
        self.first_error().is_none()
    }

    /// The most fundamental error, e.g. for a one-line refusal reason.
    pub fn first_error(&self) -> Option<&Problem> {
        self.problems.iter().find(|p| p.severity == Severity::Error)
    }
}

/// How to judge a token.
#[derive(Debug, Clone, Copy)]
pub struct InspectOptions<'a> {
    /// Verify with this key (the token's alg must match it).
    pub key: Option<&'a PublicKey>,
    /// The kid must equal this name (`key_name_mismatch`).
    pub expected_name: Option<&'a str>,
    /// The verifier's clock.
    pub now_unix: i64,
    /// Seconds an `nbf` may lie in the future.
    pub leeway_secs: i64,
    /// Judge it as a WebSocket token: a `uri` claim is then a warning.
    pub websocket: bool,
}

/// The token text without what people paste around it: whitespace, quotes, `Bearer `, or a whole
/// subscribe message.
fn unwrap_token(token: &str) -> String {
    let mut text = token.trim();
    if text.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            if let Some(Value::String(jwt)) = map.get("jwt") {
                return jwt.trim().to_string();
            }
        }
    }
    if let Some(rest) = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
    {
        text = rest.trim();
    }
    text.trim_matches('"').to_string()
}

/// A decoded part of a token, and the problem with its encoding when it is readable but not the
/// canonical unpadded base64url of RFC 7515.
type Decoded<T> = (T, Option<Problem>);

fn decode_part(part: &str, what: &str) -> Result<Decoded<Vec<u8>>, Problem> {
    if part.contains(['+', '/']) {
        return Err(wording::malformed(format!(
            "the {what} uses + or / (standard base64); a JWT uses base64url (- and _) without padding"
        )));
    }
    if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part.as_bytes()) {
        return Ok((bytes, None));
    }
    let unpadded = part.trim_end_matches('=');
    let padded = unpadded.len() != part.len();
    if padded && (part.len() % 4 != 0 || part.len() - unpadded.len() > 2) {
        return Err(wording::malformed(format!(
            "the {what} ends with = padding that does not fit its length"
        )));
    }
    let bytes = BASE64URL_LENIENT
        .decode(part.as_bytes())
        .map_err(|_| wording::malformed(format!("the {what} is not base64url")))?;
    let trailing_bits = URL_SAFE_NO_PAD.decode(unpadded.as_bytes()).is_err();
    Ok((
        bytes,
        Some(wording::base64url_not_canonical(
            what,
            padded,
            trailing_bits,
        )),
    ))
}

fn decode_object(part: &str, what: &str) -> Result<Decoded<Map<String, Value>>, Problem> {
    let (bytes, encoding) = decode_part(part, what)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok((map, encoding)),
        Ok(_) => Err(wording::malformed(format!(
            "the {what} is JSON but not an object"
        ))),
        Err(err) => Err(wording::malformed(format!(
            "the {what} is not JSON ({err})"
        ))),
    }
}

/// The header's `kid`, unverified: servers use it to find the key to verify with.
pub fn token_kid(token: &str) -> Option<String> {
    let token = unwrap_token(token);
    let header = token.split('.').next()?;
    match decode_object(header, "header").ok()?.0.get("kid")? {
        Value::String(kid) => Some(kid.clone()),
        _ => None,
    }
}

/// The latest NumericDate taken as a time: 9999-12-31 23:59:59 UTC.
pub(crate) const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Why a claim is not a NumericDate cbbook accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateFault {
    /// Not a JSON number (a string, a boolean...).
    NonNumber,
    /// A number written with a fraction or an exponent: Coinbase JWTs carry integer seconds.
    Fractional,
    /// A number no clock reaches: before 1970 or after 9999 (`1e30`, `-1`).
    OutOfRange,
}

/// A NumericDate as integer Unix seconds between 1970 and 9999: the only form Coinbase JWTs use
/// (docs/auth.md, `cbbook auth jwt`). Nothing is rounded or saturated.
pub(crate) fn numeric_date(value: &Value) -> Result<i64, DateFault> {
    let number = value.as_number().ok_or(DateFault::NonNumber)?;
    if let Some(seconds) = number.as_i64() {
        return if (0..=MAX_NUMERIC_DATE).contains(&seconds) {
            Ok(seconds)
        } else {
            Err(DateFault::OutOfRange)
        };
    }
    if number.is_u64() {
        return Err(DateFault::OutOfRange);
    }
    // A float: 1732000000.5, 1.732e9, 1e30.
    match number.as_f64() {
        Some(f) if (0.0..=MAX_NUMERIC_DATE as f64).contains(&f) => Err(DateFault::Fractional),
        _ => Err(DateFault::OutOfRange),
    }
}

/// What the header's alg says.
enum AlgClaim {
    Known(Algorithm),
    Missing,
    Unsupported,
}

/// Decodes, verifies and diagnoses a token.
pub fn inspect_token(token: &str, opts: &InspectOptions) -> TokenReport {
    let token = unwrap_token(token);
    let mut problems = Vec::new();
    let parts: Vec<&str> = token.split('.').collect();
    if token.is_empty() || parts.len() != 3 {
        let detail = if token.is_empty() {
            "it is empty".to_string()
        } else if parts.len() == 5 {
            "it has 5 parts: an encrypted JWE, not a signed JWT".to_string()
        } else {
            format!(
                "it has {} part(s) separated by dots, a JWT has 3",
                parts.len()
            )
        };
        problems.push(wording::malformed(detail));
        return TokenReport {
            header: None,
            claims: None,
            signature: verdict_without_check(opts),
            problems,
        };
    }

    // Each part decoded, or its problem recorded; a readable but non-canonical encoding is
    // recorded and the part still used.
    let mut take = |decoded: Result<Decoded<_>, Problem>| match decoded {
        Ok((value, encoding)) => {
            problems.extend(encoding);
            Some(value)
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let header = take(decode_object(parts[0], "header"));
    let claims = take(decode_object(parts[1], "claims"));
    let signature = match decode_part(parts[2], "signature") {
        Ok((bytes, encoding)) => {
            problems.extend(encoding);
            Some(bytes)
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    };
    let signing_input = format!("{}.{}", parts[0], parts[1]);

    let alg = match header.as_ref().map(|h| h.get("alg")) {
        None => None,
        Some(None) => Some(AlgClaim::Missing),
        Some(Some(Value::String(a))) if a == "ES256" => Some(AlgClaim::Known(Algorithm::Es256)),
        Some(Some(Value::String(a))) if a == "EdDSA" => Some(AlgClaim::Known(Algorithm::EdDsa)),
        Some(Some(_)) => Some(AlgClaim::Unsupported),
    };

    // Without a usable alg, whether the signature verifies under the key's own algorithm: the
    // verdict then says so, and the alg problem is the error.
    let verifies_without_alg = match (&alg, opts.key, &signature) {
        (Some(AlgClaim::Missing | AlgClaim::Unsupported), Some(key), Some(sig)) => {
            Some(key.verify(signing_input.as_bytes(), sig))
        }
        _ => None,
    };

    // The header.
    if let Some(header) = &header {
        match header.get("alg") {
            None => {
                let note = match (opts.key, verifies_without_alg) {
                    (Some(key), Some(true)) => Some(format!(
                        "the signature itself verifies as {} with the key: only the header is wrong",
                        key.algorithm()
                    )),
                    (Some(key), Some(false)) => Some(format!(
                        "the signature does not verify as {} either",
                        key.algorithm()
                    )),
                    _ => None,
                };
                problems.push(wording::alg_missing(
                    header.contains_key("algorithm"),
                    note.as_deref(),
                ));
            }
            Some(Value::String(a)) if a == "ES256" || a == "EdDSA" => {}
            Some(Value::String(a)) => problems.push(wording::alg_unsupported(a)),
            Some(_) => problems.push(wording::alg_not_a_string()),
        }
        if let (Some(AlgClaim::Known(token_alg)), Some(key)) = (&alg, opts.key) {
            if *token_alg != key.algorithm() {
                problems.push(wording::alg_key_mismatch(
                    token_alg.as_str(),
                    key.algorithm().as_str(),
                ));
            }
        }
        if !has_text(header, "kid") {
            problems.push(wording::kid_missing());
        }
        if !has_text(header, "nonce") {
            problems.push(wording::nonce_missing());
        }
    }

    // The claims.
    if let Some(claims) = &claims {
        if !has_text(claims, "sub") {
            problems.push(wording::sub_missing());
        }
    }
    let kid = header.as_ref().and_then(|h| text_of(h, "kid"));
    let sub = claims.as_ref().and_then(|c| text_of(c, "sub"));
    if let (Some(kid), Some(sub)) = (kid, sub) {
        if kid != sub {
            problems.push(wording::kid_sub_mismatch(kid, sub));
        }
    }
    if let (Some(kid), Some(expected)) = (kid, opts.expected_name) {
        if kid != expected {
            problems.push(wording::key_name_mismatch(kid, expected));
        }
    }
    if let Some(claims) = &claims {
        check_times(claims, opts, &mut problems);
    }

    // The signature.
    let verdict = match (&signature, verifies_without_alg) {
        (None, _) => verdict_without_check(opts),
        (Some(_), Some(true)) => SignatureVerdict::Valid,
        (Some(_), Some(false)) => SignatureVerdict::Invalid,
        (Some(sig), None) => {
            judge_signature(&signing_input, sig, alg.as_ref(), opts, &mut problems)
        }
    };

    // Warnings: what Coinbase tolerates today.
    if let Some(claims) = &claims {
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == "cdp" => {}
            other => problems.push(wording::iss_unexpected(other)),
        }
        if claims.contains_key("aud") {
            problems.push(wording::aud_present());
        }
        if let (true, Some(uri)) = (opts.websocket, claims.get("uri")) {
            problems.push(wording::uri_present(uri));
        }
    }

    problems.sort_by_key(|p| p.severity != Severity::Error);
    TokenReport {
        header: header.map(Value::Object),
        claims: claims.map(Value::Object),
        signature: verdict,
        problems,
    }
}

fn text_of<'a>(map: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    map.get(field).and_then(Value::as_str)
}

fn has_text(map: &Map<String, Value>, field: &str) -> bool {
    text_of(map, field).is_some_and(|s| !s.is_empty())
}

/// The verdict when the signature could not be checked: invalid if a key was given (Coinbase
/// would not accept it either), unchecked otherwise.
fn verdict_without_check(opts: &InspectOptions) -> SignatureVerdict {
    if opts.key.is_some() {
        SignatureVerdict::Invalid
    } else {
        SignatureVerdict::Unchecked
    }
}

fn check_times(claims: &Map<String, Value>, opts: &InspectOptions, problems: &mut Vec<Problem>) {
    let mut read = |claim: &str| -> Option<i64> {
        match claims.get(claim) {
            None => {
                problems.push(wording::claim_missing(claim));
                None
            }
            Some(value) => match numeric_date(value) {
                Ok(seconds) => Some(seconds),
                Err(fault) => {
                    problems.push(wording::claim_not_numeric(claim, value, fault));
                    None
                }
            },
        }
    };
    let nbf = read("nbf");
    let exp = read("exp");
    if let Some(nbf) = nbf {
        if nbf > opts.now_unix.saturating_add(opts.leeway_secs) {
            problems.push(wording::not_yet_valid(nbf, opts.now_unix, opts.leeway_secs));
        }
    }
    if let Some(exp) = exp {
        if exp <= opts.now_unix {
            problems.push(wording::expired(exp, opts.now_unix));
        }
    }
    if let (Some(nbf), Some(exp)) = (nbf, exp) {
        if exp - nbf > LIFETIME_SECS {
            problems.push(wording::lifetime_too_long(nbf, exp));
        }
    }
}

/// True when `sig` is shaped like an ASN.1 DER ECDSA signature.
fn looks_der(sig: &[u8]) -> bool {
    sig.len() != 64 && sig.first() == Some(&0x30) && p256::ecdsa::Signature::from_der(sig).is_ok()
}

fn judge_signature(
    signing_input: &str,
    sig: &[u8],
    alg: Option<&AlgClaim>,
    opts: &InspectOptions,
    problems: &mut Vec<Problem>,
) -> SignatureVerdict {
    let Some(AlgClaim::Known(alg)) = alg else {
        // No usable alg: nothing can verify it; the alg problem is already reported.
        return verdict_without_check(opts);
    };
    if *alg == Algorithm::Es256 && looks_der(sig) {
        let der_verifies = opts
            .key
            .filter(|k| k.algorithm() == Algorithm::Es256)
            .map(|k| k.verify_der(signing_input.as_bytes(), sig));
        problems.push(wording::signature_der_encoded(sig.len(), der_verifies));
        return SignatureVerdict::Invalid;
    }
    if sig.len() != 64 {
        problems.push(wording::signature_invalid(format_args!(
            "an {alg} signature is 64 bytes, this one is {}",
            sig.len()
        )));
        return SignatureVerdict::Invalid;
    }
    let Some(key) = opts.key else {
        return SignatureVerdict::Unchecked;
    };
    if key.algorithm() != *alg {
        // alg_key_mismatch is already reported.
        return SignatureVerdict::Invalid;
    }
    if key.verify(signing_input.as_bytes(), sig) {
        SignatureVerdict::Valid
    } else {
        problems.push(wording::signature_invalid(
            "it does not verify with the key: the token was signed by another key, or changed after signing",
        ));
        SignatureVerdict::Invalid
    }
}
