//! Turns the secret text of a key (PEM or base64) into a signing key, naming every problem.
//!
//! Forms accepted: SEC1 PEM (`BEGIN EC PRIVATE KEY`, what Coinbase issues), PKCS#8 PEM
//! (`BEGIN PRIVATE KEY`, P-256 or Ed25519), base64 of 64 bytes (Ed25519 seed then public key) and
//! base64 of a 32-byte Ed25519 seed. Intermediate copies of the secret are zeroized.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use p256::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

use super::Algorithm;
use super::pem::{self, PemError};
use super::problems::{Problem, key as wording};
use super::public_key::PublicKey;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

/// The two PEM labels cbbook reads private keys from.
const LABEL_SEC1: &str = "EC PRIVATE KEY";
const LABEL_PKCS8: &str = "PRIVATE KEY";

/// Base64 that accepts input with or without `=` padding.
pub(crate) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const BASE64_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A private key able to sign JWTs. Both variants zeroize their secret on drop.
pub(crate) enum Signer {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl Signer {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Signer::Es256(_) => Algorithm::Es256,
            Signer::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// The JWS signature of `message`: raw r || s (64 bytes) for ES256, 64 bytes for EdDSA.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Signer::Es256(key) => {
                let signature: p256::ecdsa::Signature =
                    p256::ecdsa::signature::Signer::sign(key, message);
                signature.to_bytes().to_vec()
            }
            Signer::EdDsa(key) => ed25519_dalek::Signer::sign(key, message)
                .to_bytes()
                .to_vec(),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            Signer::Es256(key) => PublicKey::P256(*key.verifying_key()),
            Signer::EdDsa(key) => PublicKey::Ed25519(key.verifying_key()),
        }
    }
}

/// The outcome of decoding a secret: a signer when nothing is fatally wrong, the detected format,
/// and every problem found (warnings included).
pub(crate) struct DecodedSecret {
    pub signer: Option<Signer>,
    pub format: Option<&'static str>,
    pub problems: Vec<Problem>,
}

/// Replaces literal `\n` (backslash, n) with line breaks and drops literal `\r`; true when there
/// were any. One pass into a zeroizing buffer, so no stray copy of the secret is left behind.
pub(crate) fn unescape_newlines(text: &str) -> (Zeroizing<String>, bool) {
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut found = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
                found = true;
            }
            ('\\', Some('r')) => {
                chars.next();
                found = true;
            }
            _ => out.push(c),
        }
    }
    (out, found)
}

/// True when `text` looks like private key material rather than a key name (so it must not be
/// echoed in a report).
pub(crate) fn looks_like_secret(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    text.contains("PRIVATE KEY")
        || text.contains("-----BEGIN")
        || (compact.len() >= 40
            && !compact.contains('/')
            && BASE64_LENIENT
                .decode(compact.as_bytes())
                .map(Zeroizing::new)
                .is_ok_and(|bytes| bytes.len() >= 32))
        || has_key_like_run(&compact)
        || (compact.len() >= 40 && !compact.contains('-') && !compact.contains("apiKeys"))
}

/// A run of base64 or hex characters longer than any part of a key name: key names are
/// `organizations/{uuid}/apiKeys/{uuid}` or a UUID (runs of at most 13 characters), and legacy
/// key ids are 16 or 32 characters; a damaged base64 or hex secret has longer runs (or, split by
/// `/`, is long and has none of the dashes every key name has).
fn has_key_like_run(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '=' | '_')))
        .any(|run| {
            let hex = run.chars().all(|c| c.is_ascii_hexdigit());
            (run.len() >= 24 && !hex) || run.len() >= 40
        })
}

/// Whether a name that is not shaped like a key name could be a piece of private key material
/// (a damaged paste, or name and key swapped and cut): 20 characters of base64 of random bytes
/// mix upper and lower case and have none of the dashes every UUID-based key name has. Legacy key
/// ids (16 letters and digits, or 32 hex characters) are shorter or hex, and are left alone.
/// Such a name is never echoed.
pub(crate) fn looks_like_key_fragment(name: &str) -> bool {
    let mixed_case = |text: &str| {
        text.chars().any(|c| c.is_ascii_uppercase()) && text.chars().any(|c| c.is_ascii_lowercase())
    };
    let long_run = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '=' | '_')))
        .any(|run| run.len() >= 20 && mixed_case(run));
    let base64_alphabet = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_'));
    long_run || (name.len() >= 20 && base64_alphabet && mixed_case(name))
}

/// Decodes the secret text of a key.
pub(crate) fn decode_secret(secret: &str) -> DecodedSecret {
    let (text, had_literal_newlines) = unescape_newlines(secret);
    let mut problems = Vec::new();
    if had_literal_newlines {
        problems.push(wording::literal_newlines());
    }
    let (result, format) = if text.contains("-----BEGIN") || text.contains("-----END") {
        decode_pem(&text)
    } else {
        decode_base64(&text)
    };
    let format = (format != "unknown").then_some(format);
    match result {
        Ok(signer) => DecodedSecret {
            signer: Some(signer),
            format,
            problems,
        },
        Err(problem) => {
            problems.push(problem);
            DecodedSecret {
                signer: None,
                format,
                problems,
            }
        }
    }
}

fn decode_pem(text: &str) -> (Result<Signer, Problem>, &'static str) {
    let block = match pem::read_first_block(text) {
        Ok(block) => block,
        Err(PemError::LabelMismatch { begin, end }) => {
            let known = |l: &str| l == LABEL_SEC1 || l == LABEL_PKCS8;
            let problem = if !known(&begin) {
                wording::pem_label_unknown(pem::shown_label(&begin))
            } else if !known(&end) {
                wording::pem_label_unknown(pem::shown_label(&end))
            } else {
                wording::pem_invalid(PemError::LabelMismatch { begin, end })
            };
            return (Err(problem), "pem");
        }
        Err(err) => return (Err(wording::pem_invalid(err)), "pem"),
    };
    match block.label.as_str() {
        LABEL_SEC1 => (parse_sec1(&block.der), "sec1-pem"),
        LABEL_PKCS8 => (parse_pkcs8(&block.der), "pkcs8-pem"),
        other => {
            let problem = if parse_sec1(&block.der).is_ok() {
                wording::pem_label_unknown_but_valid_body(
                    pem::shown_label(other),
                    "SEC1 EC private key",
                )
            } else if parse_pkcs8(&block.der).is_ok() {
                wording::pem_label_unknown_but_valid_body(
                    pem::shown_label(other),
                    "PKCS#8 private key",
                )
            } else {
                wording::pem_label_unknown(pem::shown_label(other))
            };
            (Err(problem), "pem")
        }
    }
}

/// A human name for a curve or key-type OID.
fn describe_oid(oid: &str) -> String {
    match oid {
        "1.3.132.0.34" => "an EC key on P-384 (secp384r1)".to_string(),
        "1.3.132.0.35" => "an EC key on P-521 (secp521r1)".to_string(),
        "1.3.132.0.10" => "an EC key on secp256k1 (the Bitcoin curve, not P-256)".to_string(),
        "1.2.840.10045.3.1.1" => "an EC key on P-192".to_string(),
        "1.3.36.3.3.2.8.1.1.7" => "an EC key on brainpoolP256r1".to_string(),
        "1.2.840.113549.1.1.1" => "an RSA key".to_string(),
        "1.3.101.113" => "an Ed448 key".to_string(),
        "1.3.101.110" => "an X25519 key (for key exchange, not signing)".to_string(),
        other => format!("a key of type or curve {other}"),
    }
}

/// SEC1 `EC PRIVATE KEY` DER: must be P-256.
fn parse_sec1(der: &[u8]) -> Result<Signer, Problem> {
    let parsed = match sec1::EcPrivateKey::try_from(der) {
        Ok(parsed) => parsed,
        Err(_) => {
            let detail = if p256::pkcs8::PrivateKeyInfo::try_from(der).is_ok() {
                "the label says EC PRIVATE KEY (SEC1) but the key inside is PKCS#8: label it \
                 BEGIN PRIVATE KEY / END PRIVATE KEY"
            } else {
                "the data inside is not an EC private key (SEC1 structure)"
            };
            return Err(wording::pem_invalid(detail));
        }
    };
    match parsed.parameters.and_then(|p| p.named_curve()) {
        Some(oid) if oid.to_string() != OID_P256 => {
            return Err(wording::curve_unsupported(&describe_oid(&oid.to_string())));
        }
        None if parsed.private_key.len() != 32 => {
            return Err(wording::curve_unsupported(&format!(
                "an EC key of {} bytes with no curve named (P-256 keys are 32 bytes)",
                parsed.private_key.len()
            )));
        }
        _ => {}
    }
    let secret = p256::SecretKey::from_sec1_der(der).map_err(|_| {
        wording::pem_invalid(
            "the P-256 key value is out of range, or its embedded public key does not match it",
        )
    })?;
    Ok(Signer::Es256(p256::ecdsa::SigningKey::from(&secret)))
}

/// PKCS#8 `PRIVATE KEY` DER: P-256 or Ed25519.
fn parse_pkcs8(der: &[u8]) -> Result<Signer, Problem> {
    let info = match p256::pkcs8::PrivateKeyInfo::try_from(der) {
        Ok(info) => info,
        Err(_) => {
            let detail = if sec1::EcPrivateKey::try_from(der).is_ok() {
                "the label says PRIVATE KEY (PKCS#8) but the key inside is SEC1: label it \
                 BEGIN EC PRIVATE KEY / END EC PRIVATE KEY"
            } else {
                "the data inside is not a private key (PKCS#8 structure)"
            };
            return Err(wording::pem_invalid(detail));
        }
    };
    let algorithm = info.algorithm.oid.to_string();
    match algorithm.as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map(|oid| oid.to_string())
                .unwrap_or_default();
            if curve != OID_P256 {
                return Err(wording::curve_unsupported(&describe_oid(&curve)));
            }
            let secret = p256::SecretKey::from_pkcs8_der(der).map_err(|_| {
                wording::pem_invalid("the P-256 key inside the PKCS#8 structure is damaged")
            })?;
            Ok(Signer::Es256(p256::ecdsa::SigningKey::from(&secret)))
        }
        OID_ED25519 => ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map(Signer::EdDsa)
            .map_err(|_| {
                wording::pem_invalid("the Ed25519 key inside the PKCS#8 structure is damaged")
            }),
        other => Err(wording::curve_unsupported(&describe_oid(other))),
    }
}

fn decode_base64(text: &str) -> (Result<Signer, Problem>, &'static str) {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    let decoded = BASE64_LENIENT
        .decode(compact.as_bytes())
        .or_else(|_| BASE64_URL_LENIENT.decode(compact.as_bytes()))
        .map(Zeroizing::new);
    let bytes = match decoded {
        Ok(bytes) => bytes,
        Err(_) => return (Err(not_base64(&compact)), "unknown"),
    };
    let result = match bytes.len() {
        64 => ed25519_from_keypair(&bytes).map(|signer| (signer, "ed25519-base64-64")),
        32 => Ok((
            Signer::EdDsa(ed25519_from_seed(&bytes)),
            "ed25519-base64-32",
        )),
        len => {
            if bytes.first() == Some(&0x30)
                && (parse_sec1(&bytes).is_ok() || parse_pkcs8(&bytes).is_ok())
            {
                Err(wording::pem_invalid(
                    "the privateKey is a DER key in base64 without its PEM lines: put \
                     -----BEGIN EC PRIVATE KEY----- before it and -----END EC PRIVATE KEY----- \
                     after it (BEGIN/END PRIVATE KEY for PKCS#8)",
                ))
            } else {
                let looks_hex = compact.chars().all(|c| c.is_ascii_hexdigit())
                    && matches!(compact.len(), 64 | 128);
                let hint = if looks_hex {
                    "; it looks like hex: Coinbase Ed25519 keys are base64"
                } else {
                    ""
                };
                Err(wording::ed25519_length(len, hint))
            }
        }
    };
    match result {
        Ok((signer, format)) => (Ok(signer), format),
        Err(problem) => (Err(problem), "base64"),
    }
}

fn not_base64(compact: &str) -> Problem {
    let upper = compact.to_ascii_uppercase();
    let detail = if compact.starts_with("organizations/") || is_uuid_like(compact) {
        "it is a key name, not a private key: are the name and the private key swapped?"
    } else if upper.contains("PRIVATEKEY") || upper.contains("BEGIN") {
        "it mentions a private key but has no -----BEGIN ...----- line"
    } else if compact
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_')))
    {
        "it contains characters that base64 never uses"
    } else {
        base64_shape_fault(compact)
    };
    wording::key_not_base64(detail)
}

/// Why text of base64 characters alone does not decode: misplaced or miscounted `=`, mixed
/// alphabets, a length no encoding has, or a last character with bits an encoding never sets.
fn base64_shape_fault(compact: &str) -> &'static str {
    let body = compact.trim_end_matches('=');
    let padding = compact.len() - body.len();
    if body.contains('=') {
        "it has = inside it, where base64 only has = at the end (two keys joined, or a copy \
         that was edited?)"
    } else if body.contains(['+', '/']) && body.contains(['-', '_']) {
        "it mixes the characters of base64 (+ /) and base64url (- _): a character was changed"
    } else if body.len() % 4 == 1 {
        "its length does not fit base64 (a truncated copy?)"
    } else if padding > 0 && (padding > 2 || compact.len() % 4 != 0) {
        "it ends with the wrong number of = for its length (a character lost or added?)"
    } else {
        "its last base64 character before any = sets bits that a real encoding leaves at zero, \
         so a character there was changed or mistyped (the length is right)"
    }
}

fn is_uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn ed25519_from_seed(seed: &[u8]) -> ed25519_dalek::SigningKey {
    let mut array = Zeroizing::new([0u8; 32]);
    array.copy_from_slice(&seed[..32]);
    ed25519_dalek::SigningKey::from_bytes(&array)
}

/// 64 bytes: seed, then the public key, which must be the one derived from the seed.
fn ed25519_from_keypair(bytes: &[u8]) -> Result<Signer, Problem> {
    let key = ed25519_from_seed(&bytes[..32]);
    if key.verifying_key().to_bytes()[..] == bytes[32..] {
        Ok(Signer::EdDsa(key))
    } else {
        Err(wording::ed25519_pubkey_mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_escapes_become_line_breaks() {
        let (text, found) = unescape_newlines("a\\nb\\r\\nc\nd");
        assert_eq!(text.as_str(), "a\nb\nc\nd");
        assert!(found);
        let (text, found) = unescape_newlines("plain\ntext");
        assert_eq!(text.as_str(), "plain\ntext");
        assert!(!found);
    }

    #[test]
    fn base64_that_does_not_decode_gets_its_real_cause() {
        let intact = "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA==";
        assert!(BASE64_LENIENT.decode(intact).is_ok());
        let cause = |text: &str| not_base64(text).message;
        // 88 characters, last one changed from A to B: the length is fine, the bits are not.
        let stray_bits = intact.replace("knkA==", "knkB==");
        let message = cause(&stray_bits);
        assert!(message.contains("sets bits"), "{message}");
        assert!(!message.contains("length does not fit"), "{message}");
        assert!(!message.contains("knkB"), "no key material: {message}");
        // The same without its padding.
        assert!(cause(stray_bits.trim_end_matches('=')).contains("sets bits"));
        // Truly truncated: 85 characters.
        assert!(cause(&intact[..85]).contains("length does not fit"));
        assert!(cause(&format!("{}=", &intact[..86])).contains("wrong number of ="));
        assert!(cause(&format!("{}=={}", &intact[..40], &intact[40..86])).contains("= inside"));
        assert!(cause(&intact.replace("knkA", "kn_A")).contains("mixes"));
    }

    #[test]
    fn secrets_are_told_apart_from_names() {
        assert!(looks_like_secret("-----BEGIN EC PRIVATE KEY-----\nMHc"));
        assert!(looks_like_secret(
            "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA=="
        ));
        assert!(!looks_like_secret(
            "organizations/test-organization/apiKeys/test-api-key"
        ));
        assert!(!looks_like_secret("5f0c1b2e-9a7d-4c3e-8b1a-00000000de30"));
        // Damaged secrets: a stray character stops base64 decoding, not the resemblance.
        assert!(looks_like_secret(
            "!k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA==\","
        ));
        assert!(looks_like_secret(
            "k0BUni0p0vZG1BdpVjS6og/BJ7kxm630AJ2dN+tuputA"
        ));
        assert!(looks_like_secret(&"ac1fdd4a31df47115b".repeat(4)));
        // Key names and legacy key ids are not secrets.
        assert!(!looks_like_secret(
            "organizations/5f0c1b2e-9a7d-4c3e-8b1a-00000000de30/apiKeys/9a7d4c3e-8b1a-4c3e-8b1a-00000000de30"
        ));
        assert!(!looks_like_secret("0123456789abcdef0123456789abcdef"));
        assert!(!looks_like_secret("aBcD1234EfGh5678"));
        assert!(!looks_like_secret("test-api-key"));
    }

    #[test]
    fn pieces_of_a_key_are_told_apart_from_names() {
        // The end of an Ed25519 key, and pieces cut across a `/` or with a stray character.
        assert!(looks_like_key_fragment("zPX6Xr2eOWpzx6nW8knkA=="));
        assert!(looks_like_key_fragment("S6og/BJ7kxm630AJ2dN+tu"));
        assert!(looks_like_key_fragment("!nTmzPX6Xr2eOWpzx6nW8knk"));
        // Names, legacy key ids and hex are not.
        assert!(!looks_like_key_fragment("aBcD1234EfGh5678"));
        assert!(!looks_like_key_fragment("0123456789abcdef0123456789abcdef"));
        assert!(!looks_like_key_fragment(
            "5f0c1b2e-9a7d-4c3e-8b1a-00000000de30"
        ));
        assert!(!looks_like_key_fragment(
            "organisations/my-org/apikeys/my-key"
        ));
        assert!(!looks_like_key_fragment("test-api-key"));
    }
}
