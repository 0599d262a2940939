//! Every problem cbbook can find in a key or a token: its code, its severity, and the wording of its
//! message and fix.
//!
//! Severity rule: whatever makes Coinbase answer `authentication failure` is an error; whatever it
//! tolerates today is a warning. Messages never quote secret key material.

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Coinbase rejects the key or token (`authentication failure`), or cbbook cannot use it.
    Error,
    /// Coinbase accepts it today, but it is wrong or fragile.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a key or a token, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable machine-readable name, e.g. `nbf_not_numeric`.
    pub code: &'static str,
    pub severity: Severity,
    /// What is wrong, specific to this key or token.
    pub message: String,
    /// A concrete action that fixes it.
    pub fix: String,
}

impl Problem {
    /// A problem of the given kind.
    pub fn new(code: Code, message: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            code: code.name,
            severity: code.severity,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// True for error-severity problems.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A kind of problem: its code and fixed severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub name: &'static str,
    pub severity: Severity,
}

const fn error(name: &'static str) -> Code {
    Code {
        name,
        severity: Severity::Error,
    }
}

const fn warning(name: &'static str) -> Code {
    Code {
        name,
        severity: Severity::Warning,
    }
}

// Token problems.
pub const MALFORMED_TOKEN: Code = error("malformed_token");
pub const BASE64URL_NOT_CANONICAL: Code = error("base64url_not_canonical");
pub const ALG_MISSING: Code = error("alg_missing");
pub const ALG_UNSUPPORTED: Code = error("alg_unsupported");
pub const ALG_KEY_MISMATCH: Code = error("alg_key_mismatch");
pub const KID_MISSING: Code = error("kid_missing");
pub const NONCE_MISSING: Code = error("nonce_missing");
pub const SUB_MISSING: Code = error("sub_missing");
pub const KID_SUB_MISMATCH: Code = error("kid_sub_mismatch");
pub const KEY_NAME_MISMATCH: Code = error("key_name_mismatch");
pub const NBF_MISSING: Code = error("nbf_missing");
pub const EXP_MISSING: Code = error("exp_missing");
pub const NBF_NOT_NUMERIC: Code = error("nbf_not_numeric");
pub const EXP_NOT_NUMERIC: Code = error("exp_not_numeric");
pub const NOT_YET_VALID: Code = error("not_yet_valid");
pub const EXPIRED: Code = error("expired");
pub const LIFETIME_TOO_LONG: Code = error("lifetime_too_long");
pub const SIGNATURE_INVALID: Code = error("signature_invalid");
pub const SIGNATURE_DER_ENCODED: Code = error("signature_der_encoded");
pub const ISS_UNEXPECTED: Code = warning("iss_unexpected");
pub const AUD_PRESENT: Code = warning("aud_present");
pub const URI_PRESENT: Code = warning("uri_present");
pub const KEY_UNKNOWN: Code = error("key_unknown");

// Key problems.
pub const KEY_NOT_CONFIGURED: Code = error("key_not_configured");
pub const FILE_UNREADABLE: Code = error("file_unreadable");
pub const FILE_TOO_LARGE: Code = error("file_too_large");
pub const JSON_INVALID: Code = error("json_invalid");
pub const NAME_MISSING: Code = error("name_missing");
pub const PRIVATE_KEY_MISSING: Code = error("private_key_missing");
pub const PEM_LABEL_UNKNOWN: Code = error("pem_label_unknown");
pub const PEM_INVALID: Code = error("pem_invalid");
pub const CURVE_UNSUPPORTED: Code = error("curve_unsupported");
pub const KEY_NOT_BASE64: Code = error("key_not_base64");
pub const ED25519_LENGTH: Code = error("ed25519_length");
pub const ED25519_PUBKEY_MISMATCH: Code = error("ed25519_pubkey_mismatch");
pub const LEGACY_EXCHANGE_KEY: Code = error("legacy_exchange_key");
pub const LITERAL_NEWLINES: Code = warning("literal_newlines");
pub const KEY_NAME_FORMAT: Code = warning("key_name_format");
pub const FILE_PERMISSIONS: Code = warning("file_permissions");

/// Every code cbbook can report, tokens first, then keys.
pub const ALL_CODES: &[Code] = &[
    MALFORMED_TOKEN,
    BASE64URL_NOT_CANONICAL,
    ALG_MISSING,
    ALG_UNSUPPORTED,
    ALG_KEY_MISMATCH,
    KID_MISSING,
    NONCE_MISSING,
    SUB_MISSING,
    KID_SUB_MISMATCH,
    KEY_NAME_MISMATCH,
    NBF_MISSING,
    EXP_MISSING,
    NBF_NOT_NUMERIC,
    EXP_NOT_NUMERIC,
    NOT_YET_VALID,
    EXPIRED,
    LIFETIME_TOO_LONG,
    SIGNATURE_INVALID,
    SIGNATURE_DER_ENCODED,
    ISS_UNEXPECTED,
    AUD_PRESENT,
    URI_PRESENT,
    KEY_UNKNOWN,
    KEY_NOT_CONFIGURED,
    FILE_UNREADABLE,
    FILE_TOO_LARGE,
    JSON_INVALID,
    NAME_MISSING,
    PRIVATE_KEY_MISSING,
    PEM_LABEL_UNKNOWN,
    PEM_INVALID,
    CURVE_UNSUPPORTED,
    KEY_NOT_BASE64,
    ED25519_LENGTH,
    ED25519_PUBKEY_MISMATCH,
    LEGACY_EXCHANGE_KEY,
    LITERAL_NEWLINES,
    KEY_NAME_FORMAT,
    FILE_PERMISSIONS,
];

/// The server trusts no key of that name.
pub fn key_unknown(kid: &str) -> Problem {
    Problem::new(
        KEY_UNKNOWN,
        format!("no key named \"{kid}\" is known to this server"),
        "sign with a key the server knows: check that the token's kid is the full key name \
         (organizations/{org}/apiKeys/{id} or the key id of a newer key), and that the key was not \
         deleted or disabled",
    )
}

/// Wording of the token problems, kept in one place.
pub(crate) mod token {
    use super::*;

    const BUILD_FRESH: &str = "build a fresh JWT for every subscribe message: header \
        {\"alg\",\"kid\",\"nonce\",\"typ\":\"JWT\"}, claims {\"sub\",\"iss\":\"cdp\",\"nbf\",\"exp\"} \
        with exp = nbf + 120";

    pub fn malformed(detail: impl std::fmt::Display) -> Problem {
        Problem::new(
            MALFORMED_TOKEN,
            format!("this is not a JWT: {detail}"),
            "pass the whole token, three base64url parts joined by dots \
             (header.claims.signature), with nothing around it",
        )
    }

    /// A part readable as base64url but not in the canonical unpadded form of RFC 7515. What
    /// Coinbase does with it is not known: verifiers differ, so the message says so.
    pub fn base64url_not_canonical(what: &str, padded: bool, trailing_bits: bool) -> Problem {
        let mut faults = Vec::new();
        if padded {
            faults.push(
                "ends with = padding (PyJWT accepts that; golang-jwt, by default, and other \
                 strict verifiers refuse the token)",
            );
        }
        if trailing_bits {
            faults.push(
                "has a last character that sets bits a base64url encoding leaves at zero, so it \
                 is not the encoding of any bytes as written (a changed character?; PyJWT refuses \
                 the token, lenient decoders ignore the bits)",
            );
        }
        Problem::new(
            BASE64URL_NOT_CANONICAL,
            format!(
                "the {what} {}: a JWT uses base64url without padding, exactly as its bytes encode \
                 (RFC 7515). Whether Coinbase accepts it is not known; cbbook, like its \
                 simulator, counts it as an error",
                faults.join(", and ")
            ),
            "encode each part as unpadded base64url of its bytes (Rust: URL_SAFE_NO_PAD; Python: \
             base64.urlsafe_b64encode(b).rstrip(b\"=\")), and do not edit the token after signing",
        )
    }

    pub fn alg_missing(has_algorithm_field: bool, signature_note: Option<&str>) -> Problem {
        let mut message = if has_algorithm_field {
            "the header has a field named \"algorithm\" but no \"alg\": JOSE names it \"alg\", \
             so Coinbase cannot tell how the token was signed"
                .to_string()
        } else {
            "the header has no \"alg\" field, so Coinbase cannot tell how the token was signed"
                .to_string()
        };
        if let Some(note) = signature_note {
            message.push_str(&format!(" ({note})"));
        }
        Problem::new(
            ALG_MISSING,
            message,
            "put \"alg\": \"ES256\" (P-256 EC key) or \"alg\": \"EdDSA\" (Ed25519 key) in the \
             header; if your JWT library serialises a struct, rename its field to alg",
        )
    }

    pub fn alg_unsupported(alg: &str) -> Problem {
        let hint = match alg {
            "Ed25519" => " (Coinbase expects the name \"EdDSA\" for Ed25519 keys)",
            "none" => " (an unsigned token is never accepted)",
            a if a.starts_with("HS") => {
                " (an HMAC token: that is how legacy API keys signed; CDP keys sign with ES256 or EdDSA)"
            }
            _ => "",
        };
        Problem::new(
            ALG_UNSUPPORTED,
            format!("alg is \"{alg}\"; Coinbase accepts only ES256 and EdDSA{hint}"),
            "sign with the CDP key's own algorithm: ES256 for an EC P-256 key \
             (BEGIN EC PRIVATE KEY), EdDSA for an Ed25519 key (base64 privateKey)",
        )
    }

    pub fn alg_not_a_string() -> Problem {
        Problem::new(
            ALG_UNSUPPORTED,
            "alg is not a string; Coinbase accepts only \"ES256\" and \"EdDSA\"",
            "set \"alg\": \"ES256\" (P-256 EC key) or \"alg\": \"EdDSA\" (Ed25519 key)",
        )
    }

    pub fn alg_key_mismatch(token_alg: &str, key_alg: &str) -> Problem {
        Problem::new(
            ALG_KEY_MISMATCH,
            format!(
                "the token says alg {token_alg} but the key is an {key_alg} key, so the signature \
                 cannot verify"
            ),
            format!(
                "sign with alg {key_alg}: an EC P-256 key signs ES256, an Ed25519 key signs EdDSA \
                 (Ed25519 secrets do not work in ES256-only code)"
            ),
        )
    }

    pub fn kid_missing() -> Problem {
        Problem::new(
            KID_MISSING,
            "the header has no \"kid\": Coinbase uses it to find your public key",
            "put the key name in the header: \"kid\": \"organizations/{org}/apiKeys/{id}\" \
             (or the key id of a newer {\"id\": ...} key), the same value as sub",
        )
    }

    pub fn nonce_missing() -> Problem {
        Problem::new(
            NONCE_MISSING,
            "the header has no \"nonce\"; official clients always send one and tokens without it \
             have been reported to fail",
            "add \"nonce\": a fresh random hex string per token (the official SDK uses 32 random \
             bytes as 64 hex characters)",
        )
    }

    pub fn sub_missing() -> Problem {
        Problem::new(
            SUB_MISSING,
            "the claims have no \"sub\"",
            "set \"sub\" to the key name, the same value as the header's kid",
        )
    }

    pub fn kid_sub_mismatch(kid: &str, sub: &str) -> Problem {
        Problem::new(
            KID_SUB_MISMATCH,
            format!("the header's kid \"{kid}\" differs from the claims' sub \"{sub}\""),
            "use the full key name for both kid and sub",
        )
    }

    pub fn key_name_mismatch(kid: &str, expected: &str) -> Problem {
        let hint = if expected.ends_with(&format!("/apiKeys/{kid}")) {
            ": the kid is only the key id, where the full key name is needed"
        } else {
            ""
        };
        Problem::new(
            KEY_NAME_MISMATCH,
            format!("kid is \"{kid}\" but the key is named \"{expected}\"{hint}"),
            format!(
                "set kid and sub to \"{expected}\", or verify with the key file this token was \
                 made for"
            ),
        )
    }

    pub fn claim_missing(claim: &str) -> Problem {
        let code = if claim == "nbf" {
            NBF_MISSING
        } else {
            EXP_MISSING
        };
        Problem::new(
            code,
            format!("the claims have no \"{claim}\""),
            format!("{BUILD_FRESH}; nbf and exp are integer Unix seconds"),
        )
    }

    pub fn claim_not_numeric(
        claim: &str,
        value: &serde_json::Value,
        fault: crate::auth::inspect::DateFault,
    ) -> Problem {
        use crate::auth::inspect::DateFault;
        let code = if claim == "nbf" {
            NBF_NOT_NUMERIC
        } else {
            EXP_NOT_NUMERIC
        };
        let example = format!("e.g. \"{claim}\": 1732000000");
        let (message, fix) = match (fault, value) {
            (DateFault::NonNumber, serde_json::Value::String(s)) => (
                format!("{claim} is the string \"{s}\", not a number (NumericDate, RFC 7519)"),
                match s.trim().parse::<i64>() {
                    Ok(n) => format!(
                        "write {claim} as a JSON number: \"{claim}\": {n}, not \"{claim}\": \"{s}\" \
                         (in Rust, an i64/u64 field, not a String)"
                    ),
                    Err(_) => format!("write {claim} as a JSON integer of Unix seconds, {example}"),
                },
            ),
            (DateFault::NonNumber, other) => (
                format!("{claim} is {other}, not a number (NumericDate, RFC 7519)"),
                format!("write {claim} as a JSON integer of Unix seconds, {example}"),
            ),
            (DateFault::Fractional, other) => (
                format!(
                    "{claim} is {other}, not an integer: Coinbase JWTs carry whole Unix seconds, \
                     written without a fraction or an exponent"
                ),
                format!(
                    "write {claim} as an integer of seconds, {example} (round the clock down: in \
                     Python int(time.time()), not time.time())"
                ),
            ),
            (DateFault::OutOfRange, other) => (
                format!(
                    "{claim} {other} is not a valid time: a NumericDate counts seconds from 1970, \
                     and this one lies {}",
                    if other.as_f64().is_some_and(|f| f < 0.0) {
                        "before 1970"
                    } else {
                        "after the year 9999"
                    }
                ),
                format!("set {claim} from the current time in Unix seconds, {example}"),
            ),
        };
        Problem::new(code, message, fix)
    }

    pub fn not_yet_valid(nbf: i64, now: i64, leeway: i64) -> Problem {
        let ahead = nbf.saturating_sub(now);
        Problem::new(
            NOT_YET_VALID,
            format!(
                "nbf {nbf} is {} in the future (now {now}, leeway {leeway} s): clock skew? The \
                 clock of the machine that built the token runs ahead of the verifier's",
                super::super::report::duration(ahead)
            ),
            "sync the clock with NTP (e.g. `timedatectl set-ntp true`, chrony) and set nbf to the \
             current time, never later; Coinbase allows little or no leeway",
        )
    }

    pub fn expired(exp: i64, now: i64) -> Problem {
        Problem::new(
            EXPIRED,
            format!(
                "the token expired {} (exp {exp}, now {now})",
                super::super::report::ago(now.saturating_sub(exp))
            ),
            "build a fresh JWT for every subscribe or unsubscribe message: each lives 120 s. If it \
             was just built, check the clock of the machine that built it",
        )
    }

    pub fn lifetime_too_long(nbf: i64, exp: i64) -> Problem {
        Problem::new(
            LIFETIME_TOO_LONG,
            format!(
                "exp - nbf is {} s; Coinbase accepts tokens that live at most 120 s",
                exp - nbf
            ),
            "set exp = nbf + 120",
        )
    }

    pub fn signature_invalid(detail: impl std::fmt::Display) -> Problem {
        Problem::new(
            SIGNATURE_INVALID,
            format!("the signature is invalid: {detail}"),
            "sign header.claims exactly as sent (base64url, no padding) with the private key that \
             belongs to the kid, and do not change the token after signing",
        )
    }

    pub fn signature_der_encoded(len: usize, der_verifies: Option<bool>) -> Problem {
        let note = match der_verifies {
            Some(true) => " The DER signature itself matches the key: only its encoding is wrong.",
            Some(false) => " It does not match the key either.",
            None => "",
        };
        Problem::new(
            SIGNATURE_DER_ENCODED,
            format!(
                "the ES256 signature is {len} bytes of ASN.1 DER; a JWS needs the raw 64-byte \
                 r || s pair (RFC 7518 section 3.4).{note}"
            ),
            "convert the DER signature to raw r || s (each left-padded to 32 bytes) before \
             base64url-encoding it, or use a JWT library that signs ES256 itself (p256's \
             Signature::to_bytes, not to_der)",
        )
    }

    pub fn iss_unexpected(iss: Option<&serde_json::Value>) -> Problem {
        let message = match iss {
            None => "the claims have no \"iss\"; Coinbase issues \"cdp\"".to_string(),
            Some(serde_json::Value::String(s)) if s == "coinbase-cloud" => {
                "iss is \"coinbase-cloud\", the issuer used before May 2024; today it is \"cdp\""
                    .to_string()
            }
            Some(other) => format!(
                "iss is {other}, expected \"cdp\" (\"coinbase-cloud\" was the pre-2024 issuer)"
            ),
        };
        Problem::new(
            ISS_UNEXPECTED,
            message,
            "set \"iss\": \"cdp\" (Coinbase tolerates other values today)",
        )
    }

    pub fn aud_present() -> Problem {
        Problem::new(
            AUD_PRESENT,
            "the claims carry \"aud\", which Coinbase stopped sending in April 2024",
            "remove the aud claim (Coinbase tolerates it today)",
        )
    }

    pub fn uri_present(uri: &serde_json::Value) -> Problem {
        Problem::new(
            URI_PRESENT,
            format!("the claims carry \"uri\": {uri}: a REST token used on the WebSocket"),
            "for the WebSocket build the token without a uri claim (`cbbook auth jwt` without \
             --rest); keep uri only for REST calls",
        )
    }
}

/// Wording of the key problems, kept in one place.
pub(crate) mod key {
    use super::*;

    const DOWNLOAD_AGAIN: &str = "create a new key at https://portal.cdp.coinbase.com (API keys) \
        and use its JSON file as downloaded";

    pub fn not_configured() -> Problem {
        Problem::new(
            KEY_NOT_CONFIGURED,
            "no key given: no --key FILE, and COINBASE_API_KEY / COINBASE_API_SECRET are not set",
            "pass --key cdp_api_key.json, or export COINBASE_API_KEY (the key name) and \
             COINBASE_API_SECRET (the private key)",
        )
    }

    pub fn file_unreadable(path: &std::path::Path, err: impl std::fmt::Display) -> Problem {
        Problem::new(
            FILE_UNREADABLE,
            format!("cannot read {}: {err}", path.display()),
            "check the path and that this user may read the file (the key JSON as downloaded \
             from the CDP portal)",
        )
    }

    pub fn file_too_large(path: &std::path::Path, limit: usize) -> Problem {
        Problem::new(
            FILE_TOO_LARGE,
            format!(
                "{} is larger than {} KiB (cbbook stopped reading there): not a key file; a CDP \
                 key file is under 1 KiB",
                path.display(),
                limit / 1024
            ),
            "check the path: give the key JSON as downloaded from the CDP portal \
             (e.g. --key cdp_api_key.json)",
        )
    }

    /// A key given to `auth inspect` to verify a token with (`--key FILE` or `--public-key PEM`)
    /// that cannot be used: `problem` keeps its code, and says it is about that key, not the
    /// token.
    pub fn verification_key_unusable(
        flag: &str,
        path: &std::path::Path,
        problem: Problem,
    ) -> Problem {
        let fix = if flag == "--public-key" {
            "give --public-key the -----BEGIN PUBLIC KEY----- PEM file of the key that signed the \
             token (a CDP key JSON file goes with --key FILE instead), or leave both out to judge \
             the token without checking its signature"
                .to_string()
        } else {
            format!(
                "{}; --key takes the CDP key JSON file the token was signed with (or give its \
                 public key with --public-key PEM, or neither to judge the token without checking \
                 its signature)",
                problem.fix
            )
        };
        Problem {
            severity: Severity::Error,
            message: format!(
                "the key given to verify the signature ({flag} {}) cannot be used, so the \
                 signature was not checked: {}",
                path.display(),
                problem.message
            ),
            fix,
            ..problem
        }
    }

    pub fn not_utf8(path: &std::path::Path) -> Problem {
        Problem::new(
            JSON_INVALID,
            format!(
                "{} is not text (not UTF-8): perhaps a binary DER key",
                path.display()
            ),
            "use the JSON key file as downloaded: {\"name\": ..., \"privateKey\": \"-----BEGIN EC \
             PRIVATE KEY-----\\n...\"}",
        )
    }

    pub fn json_invalid(err: &serde_json::Error) -> Problem {
        let fix = if err.to_string().contains("control character") {
            "a JSON string cannot hold raw line breaks: write the PEM on one line with \\n \
             escapes, as in the downloaded file"
        } else {
            "fix the JSON syntax at that position, or download the key file again"
        };
        Problem::new(
            JSON_INVALID,
            format!("the key file is not valid JSON: {err}"),
            fix,
        )
    }

    pub fn not_an_object(kind: &str) -> Problem {
        Problem::new(
            JSON_INVALID,
            format!("the key file holds a JSON {kind}, not an object"),
            "the key file is one object: {\"name\": \"organizations/{org}/apiKeys/{id}\", \
             \"privateKey\": \"...\"} (or {\"id\": ..., \"privateKey\": ...})",
        )
    }

    pub fn bare_pem_file() -> Problem {
        Problem::new(
            NAME_MISSING,
            "this is a bare PEM key, not a CDP key JSON file, so the key name is missing",
            "use the JSON file downloaded with the key ({\"name\", \"privateKey\"}), or export \
             COINBASE_API_KEY=<key name> and COINBASE_API_SECRET=<the PEM>",
        )
    }

    pub fn name_missing(detail: &str) -> Problem {
        Problem::new(
            NAME_MISSING,
            format!("no key name: {detail}"),
            "add \"name\": \"organizations/{org}/apiKeys/{id}\" (or \"id\": the key id of a newer \
             key), as shown in the CDP portal",
        )
    }

    pub fn env_name_missing() -> Problem {
        Problem::new(
            NAME_MISSING,
            "COINBASE_API_SECRET is set but COINBASE_API_KEY is not",
            "export COINBASE_API_KEY=organizations/{org}/apiKeys/{id} (the key name), or pass \
             --key FILE",
        )
    }

    pub fn private_key_missing(detail: &str) -> Problem {
        Problem::new(
            PRIVATE_KEY_MISSING,
            format!("no private key: {detail}"),
            "add \"privateKey\" with the key's secret exactly as downloaded (a PEM string or a \
             base64 Ed25519 key)",
        )
    }

    pub fn env_private_key_missing() -> Problem {
        Problem::new(
            PRIVATE_KEY_MISSING,
            "COINBASE_API_KEY is set but COINBASE_API_SECRET is not",
            "export COINBASE_API_SECRET with the private key (the PEM, or the base64 Ed25519 key), \
             or pass --key FILE",
        )
    }

    pub fn pem_label_unknown(label: &str) -> Problem {
        let upper = label.to_ascii_uppercase();
        let (what, fix) = match upper.as_str() {
            "PUBLIC KEY" => (
                "this is a public key; signing needs the private key".to_string(),
                "use the privateKey from the downloaded key file".to_string(),
            ),
            "ENCRYPTED PRIVATE KEY" => (
                "the private key is encrypted with a passphrase".to_string(),
                "decrypt it (`openssl pkcs8 -in enc.pem -out key.pem`) and store the key file \
                 safely instead"
                    .to_string(),
            ),
            "RSA PRIVATE KEY" | "OPENSSH PRIVATE KEY" | "DSA PRIVATE KEY" | "CERTIFICATE" => (
                format!("a {label} is not a CDP key"),
                format!(
                    "Coinbase CDP keys are EC P-256 (BEGIN EC PRIVATE KEY) or Ed25519: {DOWNLOAD_AGAIN}"
                ),
            ),
            _ => (
                "cbbook knows BEGIN EC PRIVATE KEY (SEC1, what Coinbase issues) and BEGIN PRIVATE \
                 KEY (PKCS#8); labels are exact and case-sensitive"
                    .to_string(),
                "restore the label exactly as downloaded: -----BEGIN EC PRIVATE KEY----- ... \
                 -----END EC PRIVATE KEY-----"
                    .to_string(),
            ),
        };
        Problem::new(
            PEM_LABEL_UNKNOWN,
            format!("the PEM label is \"{label}\": {what}"),
            fix,
        )
    }

    pub fn pem_label_unknown_but_valid_body(label: &str, real: &str) -> Problem {
        Problem::new(
            PEM_LABEL_UNKNOWN,
            format!(
                "the PEM label is \"{label}\", which no PEM reader accepts; the key inside is a \
                 valid {real}, so the label was edited by hand"
            ),
            format!(
                "restore the label exactly: -----BEGIN {real_label}----- ... -----END {real_label}-----",
                real_label = if real.starts_with("SEC1") {
                    "EC PRIVATE KEY"
                } else {
                    "PRIVATE KEY"
                }
            ),
        )
    }

    pub fn pem_invalid(detail: impl std::fmt::Display) -> Problem {
        Problem::new(
            PEM_INVALID,
            format!("the PEM key is damaged: {detail}"),
            "copy the privateKey again from the downloaded file, whole, with its BEGIN and END \
             lines and every line in between",
        )
    }

    pub fn curve_unsupported(what: &str) -> Problem {
        Problem::new(
            CURVE_UNSUPPORTED,
            format!("this is {what}; Coinbase CDP keys are EC P-256 (ES256) or Ed25519 (EdDSA)"),
            format!("{DOWNLOAD_AGAIN} (ECDSA or Ed25519 signature algorithm)"),
        )
    }

    pub fn key_not_base64(detail: &str) -> Problem {
        Problem::new(
            KEY_NOT_BASE64,
            format!("the private key is neither a PEM block nor base64: {detail}"),
            "set privateKey to the secret exactly as downloaded: a PEM string \
             (-----BEGIN EC PRIVATE KEY-----...) or the base64 Ed25519 key",
        )
    }

    pub fn ed25519_length(len: usize, hint: &str) -> Problem {
        Problem::new(
            ED25519_LENGTH,
            format!(
                "the base64 private key decodes to {len} bytes; an Ed25519 key is 64 bytes (seed \
                 then public key) or a 32-byte seed{hint}"
            ),
            "copy the whole privateKey again from the downloaded file (a truncated copy is the \
             usual cause)",
        )
    }

    pub fn ed25519_pubkey_mismatch() -> Problem {
        Problem::new(
            ED25519_PUBKEY_MISMATCH,
            "the 64-byte Ed25519 key's second half is not the public key of its first half (the \
             seed): the halves come from different keys, or the key was altered",
            format!("copy the privateKey again exactly as downloaded, or {DOWNLOAD_AGAIN}"),
        )
    }

    pub fn legacy_exchange_key(detail: &str) -> Problem {
        Problem::new(
            LEGACY_EXCHANGE_KEY,
            format!(
                "this looks like a legacy HMAC API key ({detail}); Advanced Trade needs a CDP key \
                 that signs JWTs"
            ),
            format!(
                "{DOWNLOAD_AGAIN}; its file has \"name\" (or \"id\") and \"privateKey\", and no \
                 passphrase"
            ),
        )
    }

    pub fn literal_newlines() -> Problem {
        Problem::new(
            LITERAL_NEWLINES,
            "the private key contains literal \\n (backslash, n) where line breaks belong; cbbook \
             turned them into line breaks",
            "store real line breaks (in a shell: COINBASE_API_SECRET=\"$(cat key.pem)\"), or \
             keep the key in the JSON file, where \\n is a proper escape",
        )
    }

    pub fn key_name_format(name: &str) -> Problem {
        Problem::new(
            KEY_NAME_FORMAT,
            format!(
                "the key name \"{name}\" is neither organizations/{{org}}/apiKeys/{{id}} nor a key \
                 id (UUID)"
            ),
            "use the key name exactly as the CDP portal shows it (the JWT kid and sub must be \
             that name)",
        )
    }

    pub fn key_name_whitespace(name: &str) -> Problem {
        Problem::new(
            KEY_NAME_FORMAT,
            format!(
                "the key name \"{name}\" had spaces or line breaks around it; cbbook removed them"
            ),
            "remove the whitespace around the name in the key file or COINBASE_API_KEY",
        )
    }

    pub fn file_permissions(path: &std::path::Path, mode: u32) -> Problem {
        Problem::new(
            FILE_PERMISSIONS,
            format!(
                "{} is readable by group or others (mode {:03o}): other users of this machine can \
                 copy the private key",
                path.display(),
                mode & 0o777
            ),
            format!("chmod 600 {}", path.display()),
        )
    }
}
