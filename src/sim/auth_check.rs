//! JWT checks on subscribe and unsubscribe messages, with the rules of the auth module.
//!
//! A failure becomes `{"type":"error","message":"authentication failure","reason":"<code>: <message>"}`:
//! the exchange's text, plus the problem the auth module found (a simulator extension).

use std::path::Path;

use super::SimError;
use super::protocol::{AUTHENTICATION_FAILURE, ErrorFrame};

/// The public halves of the test-only demo keys in `assets/` (name, SPKI PEM). A test checks that
/// they match the private keys there.
pub const DEMO_PUBLIC_KEYS: [(&str, &str); 2] = [
    (
        "organizations/cbbook-demo/apiKeys/demo-es256-test-only",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfJzo9gy74CkWYWmnihmhWNI4+5OP\noQ8qh3xdoTowvejTqwC3+B3RpM1GXaPE/zXj5EZCNEmYAmIVxmJyJ1brcg==\n-----END PUBLIC KEY-----\n",
    ),
    (
        "5f0c1b2e-9a7d-4c3e-8b1a-00000000de30",
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAyEQJguvCuYff+zQ8mrmhCS9jJVVVkLZXikCFFDfMtic=\n-----END PUBLIC KEY-----\n",
    ),
];

/// A public key the simulator trusts, under the key name a JWT's `kid` must carry.
#[derive(Debug, Clone)]
pub struct AuthorizedKey {
    pub name: String,
}

impl AuthorizedKey {
    /// Reads one `--authorized-key` value: a CDP key JSON file (its public key is derived), or
    /// `NAME=FILE.pem` with a public-key PEM.
    pub fn from_flag(spec: &str) -> Result<AuthorizedKey, SimError> {
        if Path::new(spec).is_file() {
            return Err(SimError::Key(format!(
                "{spec}: key loading is not available in this build"
            )));
        }
        Err(SimError::Key(format!(
            "{spec}: key loading is not available in this build"
        )))
    }

    /// The demo keys.
    pub fn demo_keys() -> Result<Vec<AuthorizedKey>, SimError> {
        Ok(DEMO_PUBLIC_KEYS
            .iter()
            .map(|(name, _)| AuthorizedKey {
                name: (*name).to_string(),
            })
            .collect())
    }
}

/// Checks a JWT against the trusted keys as of the server's clock.
pub fn check_jwt(
    _keys: &[AuthorizedKey],
    _jwt: &str,
    _now_unix: i64,
    _leeway_secs: i64,
) -> Result<(), ErrorFrame> {
    Err(ErrorFrame::new(
        AUTHENTICATION_FAILURE,
        "key_unknown: JWT verification is not available in this build",
    ))
}
