//! CDP API keys and Coinbase JWTs: load every key form, build tokens, and diagnose keys and tokens.
//!
//! Coinbase answers every authentication problem with the same two words, `authentication
//! failure`; this module gets keys and tokens right itself, and names exactly what is wrong with
//! anyone else's, offline. Every problem is a [`Problem`] with a stable code, a severity, a message
//! and a concrete fix (see [`problems`]).

pub mod cli;
pub mod clock;
mod file;
mod inspect;
mod jwt;
mod key;
mod pem;
pub mod problems;
mod public_key;
pub mod report;
mod secret;

use serde::{Serialize, Serializer};

pub use file::MAX_KEY_FILE_BYTES;
pub use inspect::{InspectOptions, SignatureVerdict, TokenReport, inspect_token, token_kid};
pub use jwt::{HTTP_METHODS, LIFETIME_SECS, REST_HOST, rest_uri};
pub use key::{
    ENV_KEY, ENV_SECRET, Key, KeyFailure, load_configured_key, load_key_env, load_key_file,
    load_key_json, load_key_parts,
};
pub use problems::{Problem, Severity, key_unknown};
pub use public_key::{PublicKey, load_public_key_file, parse_public_key_pem};

/// The JWS algorithm of a key: ES256 for EC P-256 keys, EdDSA for Ed25519 keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Es256,
    EdDsa,
}

impl Algorithm {
    /// The JOSE name: `"ES256"` or `"EdDSA"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Errors of the auth commands that are not problems with a key or a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the token from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    #[error(
        "the token on stdin is longer than 16 MiB: not a JWT (give the token alone, e.g. `echo \"$JWT\" | cbbook auth inspect -`)"
    )]
    StdinTooLarge,
    #[error("--rest takes \"METHOD PATH\", e.g. \"GET /api/v3/brokerage/accounts\"; got {0:?}")]
    RestSpec(String),
    #[error(
        "--rest: {0:?} is not an HTTP method; give one of {methods} (e.g. \"GET /api/v3/brokerage/accounts\")",
        methods = jwt::HTTP_METHODS.join(" ")
    )]
    RestMethod(String),
    #[error(
        "--rest: the path {0:?} must start with / and hold no control characters, e.g. \
         /api/v3/brokerage/accounts (no scheme or host: the uri claim adds api.coinbase.com)"
    )]
    RestPath(String),
}

/// The current Unix time in seconds (the clock every token is built and judged against).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        assert_eq!(Algorithm::Es256.to_string(), "ES256");
        assert_eq!(
            serde_json::to_string(&Algorithm::EdDsa).unwrap(),
            "\"EdDSA\""
        );
        assert_eq!(
            serde_json::to_string(&Severity::Warning).unwrap(),
            "\"warning\""
        );
        assert_eq!(
            serde_json::to_string(&SignatureVerdict::Unchecked).unwrap(),
            "\"unchecked\""
        );
    }

    #[test]
    fn key_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Key>();
        assert_send_sync::<PublicKey>();
    }
}
