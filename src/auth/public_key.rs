//! Public keys: parse them from PEM, print them as PEM, and verify JWS signatures with them.

use base64::Engine;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use zeroize::Zeroizing;

use super::Algorithm;
use super::file;
use super::pem;
use super::problems::{CURVE_UNSUPPORTED, PEM_INVALID, PEM_LABEL_UNKNOWN, Problem};
use super::secret::{BASE64_LENIENT, unescape_newlines};

/// A key that verifies Coinbase JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ES256: an ECDSA P-256 verifying key.
    P256(p256::ecdsa::VerifyingKey),
    /// EdDSA: an Ed25519 verifying key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::P256(_) => Algorithm::Es256,
            PublicKey::Ed25519(_) => Algorithm::EdDsa,
        }
    }

    /// True when `signature` (raw JWS form: r || s for ES256) signs `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .map(|sig| p256::ecdsa::signature::Verifier::verify(key, message, &sig).is_ok())
                .unwrap_or(false),
            PublicKey::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .map(|sig| ed25519_dalek::Verifier::verify(key, message, &sig).is_ok())
                .unwrap_or(false),
        }
    }

    /// True when `signature` is an ASN.1 DER ECDSA signature of `message` under this P-256 key.
    pub(crate) fn verify_der(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::P256(key) => p256::ecdsa::Signature::from_der(signature)
                .map(|sig| p256::ecdsa::signature::Verifier::verify(key, message, &sig).is_ok())
                .unwrap_or(false),
            PublicKey::Ed25519(_) => false,
        }
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as `parse_public_key_pem` reads it.
    pub fn to_pem(&self) -> String {
        let pem = match self {
            PublicKey::P256(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(key) => key.to_public_key_pem(LineEnding::LF),
        };
        // Encoding a valid in-memory key cannot fail; an empty string would fail loudly on parse.
        pem.unwrap_or_default()
    }
}

/// Reads an SPKI public key from a PEM file (as [`parse_public_key_pem`]), refusing files over
/// [`super::MAX_KEY_FILE_BYTES`].
pub fn load_public_key_file(path: &std::path::Path) -> Result<PublicKey, Problem> {
    let bytes = file::read_key_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Problem::new(
            PEM_INVALID,
            format!("{} is not text: not a PEM public key", path.display()),
            "give the -----BEGIN PUBLIC KEY----- block of the key, as a text file",
        )
    })?;
    parse_public_key_pem(text)
}

/// Reads an SPKI public key (`BEGIN PUBLIC KEY`, P-256 or Ed25519). Bare base64 of the SPKI DER is
/// accepted too, and literal `\n` are tolerated.
pub fn parse_public_key_pem(pem_text: &str) -> Result<PublicKey, Problem> {
    let (text, _) = unescape_newlines(pem_text);
    let der: Zeroizing<Vec<u8>> = if text.contains("-----BEGIN") {
        let block = pem::read_first_block(&text).map_err(|err| {
            Problem::new(
                PEM_INVALID,
                format!("the public key PEM is damaged: {err}"),
                "copy the public key again, whole, with its BEGIN PUBLIC KEY and END PUBLIC KEY \
                 lines",
            )
        })?;
        if block.label != "PUBLIC KEY" {
            return Err(Problem::new(
                PEM_LABEL_UNKNOWN,
                format!(
                    "the PEM label is \"{}\"; a public key is labelled PUBLIC KEY",
                    block.label
                ),
                "for a private key use --key with the key's JSON file; otherwise give the \
                 -----BEGIN PUBLIC KEY----- block",
            ));
        }
        block.der
    } else {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        Zeroizing::new(BASE64_LENIENT.decode(compact.as_bytes()).map_err(|_| {
            Problem::new(
                PEM_INVALID,
                "the public key is neither a PEM block nor base64",
                "give the -----BEGIN PUBLIC KEY----- block of the key",
            )
        })?)
    };
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&der) {
        return Ok(PublicKey::P256(key));
    }
    if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_der(&der) {
        return Ok(PublicKey::Ed25519(key));
    }
    let what = p256::pkcs8::SubjectPublicKeyInfoRef::try_from(der.as_slice())
        .map(|spki| {
            let curve = spki
                .algorithm
                .parameters_oid()
                .map(|oid| format!(" (parameters {oid})"))
                .unwrap_or_default();
            format!("a public key of type {}{curve}", spki.algorithm.oid)
        })
        .ok();
    Err(match what {
        Some(what) => Problem::new(
            CURVE_UNSUPPORTED,
            format!("this is {what}; Coinbase keys are EC P-256 or Ed25519"),
            "give the public key of the CDP key (EC P-256 or Ed25519)",
        ),
        None => Problem::new(
            PEM_INVALID,
            "the data is not a public key (SubjectPublicKeyInfo)",
            "give the -----BEGIN PUBLIC KEY----- block of the key",
        ),
    })
}
