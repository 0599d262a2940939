//! JWT checks on subscribe and unsubscribe messages, with the auth module's rules.
//!
//! The key is found by the token's `kid`; the token is then judged as a WebSocket token with that
//! key, its name, the server's clock (skew included) and the `nbf` leeway. The first error-severity
//! problem refuses the message with
//! `{"type":"error","message":"authentication failure","reason":"<code>: <message>"}`: the
//! exchange's text plus the problem found (a simulator extension). Warnings (`uri_present`,
//! `iss_unexpected`, `aud_present`) are tolerated, as by the exchange.

use std::fmt;
use std::path::Path;

use super::SimError;
use super::protocol::{AUTHENTICATION_FAILURE, ErrorFrame};
use crate::auth::{self, InspectOptions, Problem, PublicKey};

/// The public halves of the test-only demo keys in `assets/` (name, SPKI PEM), built in so that
/// `cbbook --demo` needs no file. A test checks them against the private keys in `assets/`.
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
#[derive(Clone)]
pub struct AuthorizedKey {
    pub name: String,
    pub key: PublicKey,
}

impl fmt::Debug for AuthorizedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedKey")
            .field("name", &self.name)
            .field("algorithm", &self.key.algorithm())
            .finish()
    }
}

impl AuthorizedKey {
    pub fn new(name: impl Into<String>, key: PublicKey) -> AuthorizedKey {
        AuthorizedKey {
            name: name.into(),
            key,
        }
    }

    /// The public key and name of a CDP key JSON file (the private key is read, used to derive
    /// the public key, and dropped).
    pub fn from_key_file(path: &Path) -> Result<AuthorizedKey, SimError> {
        let key = auth::load_key_file(path).map_err(|failure| {
            SimError::Key(format!(
                "--authorized-key {}: the key cannot be loaded:\n{failure}",
                path.display()
            ))
        })?;
        Ok(AuthorizedKey::new(key.name(), key.public_key()))
    }

    /// A key name and a public key in SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_public_pem(name: &str, pem: &str) -> Result<AuthorizedKey, SimError> {
        if name.trim().is_empty() {
            return Err(SimError::Key(
                "--authorized-key NAME=PEM: the key name is empty".to_string(),
            ));
        }
        let key = auth::parse_public_key_pem(pem).map_err(|p| {
            SimError::Key(format!(
                "--authorized-key {name}=...: not a public key ({}: {}); {}",
                p.code, p.message, p.fix
            ))
        })?;
        Ok(AuthorizedKey::new(name, key))
    }

    /// Reads one `--authorized-key` value: an existing file is a CDP key JSON (its public key is
    /// derived); otherwise `NAME=FILE.pem`, split at the first `=`, names a public-key PEM file.
    pub fn from_flag(spec: &str) -> Result<AuthorizedKey, SimError> {
        let path = Path::new(spec);
        if path.is_file() {
            return AuthorizedKey::from_key_file(path);
        }
        let Some((name, pem_path)) = spec.split_once('=') else {
            return Err(SimError::Key(format!(
                "--authorized-key {spec}: no such file. Give a CDP key JSON file, or NAME=PUBLIC_KEY.pem \
                 (e.g. organizations/ORG/apiKeys/ID=key.pub.pem)"
            )));
        };
        if name.trim().is_empty() {
            return Err(SimError::Key(
                "--authorized-key NAME=PEM: the key name is empty".to_string(),
            ));
        }
        // Read through the auth module's capped reader: a device or huge file is refused.
        let key = auth::load_public_key_file(Path::new(pem_path)).map_err(|p| {
            // The reader's advice about files speaks of `--key`; here the file is a public key.
            if p.code.starts_with("file_") {
                SimError::Key(format!(
                    "--authorized-key {name}={pem_path}: {}: {}; give NAME=FILE.pem with FILE.pem \
                     a -----BEGIN PUBLIC KEY----- file, or the path of a CDP key JSON file",
                    p.code, p.message
                ))
            } else {
                SimError::Key(format!(
                    "--authorized-key {name}=...: not a public key ({}: {}); {}",
                    p.code, p.message, p.fix
                ))
            }
        })?;
        Ok(AuthorizedKey::new(name, key))
    }

    /// The test-only demo keys of `assets/`.
    pub fn demo_keys() -> Result<Vec<AuthorizedKey>, SimError> {
        DEMO_PUBLIC_KEYS
            .iter()
            .map(|(name, pem)| AuthorizedKey::from_public_pem(name, pem))
            .collect()
    }
}

fn refusal(problem: &Problem) -> ErrorFrame {
    ErrorFrame::new(
        AUTHENTICATION_FAILURE,
        format!("{}: {}", problem.code, problem.message),
    )
}

/// Checks a JWT against the trusted keys as of the server's clock; returns the key's name.
pub fn check_jwt<'k>(
    keys: &'k [AuthorizedKey],
    jwt: &str,
    now_unix: i64,
    leeway_secs: i64,
) -> Result<&'k str, ErrorFrame> {
    let options = |key: Option<&'k AuthorizedKey>| InspectOptions {
        key: key.map(|k| &k.key),
        expected_name: key.map(|k| k.name.as_str()),
        now_unix,
        leeway_secs,
        websocket: true,
    };
    let Some(kid) = auth::token_kid(jwt) else {
        // No readable kid: say what is wrong with the token itself (malformed, kid_missing...).
        let report = auth::inspect_token(jwt, &options(None));
        let problem = report
            .first_error()
            .cloned()
            .unwrap_or_else(|| auth::key_unknown(""));
        return Err(refusal(&problem));
    };
    let Some(key) = keys.iter().find(|k| k.name == kid) else {
        return Err(refusal(&auth::key_unknown(&kid)));
    };
    let report = auth::inspect_token(jwt, &options(Some(key)));
    match report.first_error() {
        Some(problem) => Err(refusal(problem)),
        None => Ok(&key.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn asset(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(name)
    }

    #[test]
    fn the_built_in_demo_keys_match_the_assets() {
        let demo = AuthorizedKey::demo_keys().unwrap();
        for (file, expected) in [
            ("demo-key.json", &demo[0]),
            ("demo-key-ed25519.json", &demo[1]),
        ] {
            let from_file = AuthorizedKey::from_key_file(&asset(file)).unwrap();
            assert_eq!(from_file.name, expected.name, "{file}");
            assert_eq!(from_file.key, expected.key, "{file}");
            // And a token made with the private key passes.
            let key = auth::load_key_file(&asset(file)).unwrap();
            let now = 1_800_000_000;
            assert_eq!(
                check_jwt(&demo, &key.ws_jwt(now), now, 1),
                Ok(expected.name.as_str())
            );
        }
    }

    #[test]
    fn refusals_carry_the_problem_code() {
        let demo = AuthorizedKey::demo_keys().unwrap();
        let key = auth::load_key_file(&asset("demo-key.json")).unwrap();
        let now = 1_800_000_000;
        let jwt = key.ws_jwt(now);
        let reason = |r: Result<&str, ErrorFrame>| {
            let e = r.unwrap_err();
            assert_eq!(e.message, "authentication failure");
            e.reason
        };
        assert!(reason(check_jwt(&demo, &jwt, now + 121, 1)).starts_with("expired: "));
        assert!(reason(check_jwt(&demo, &jwt, now - 5, 1)).starts_with("not_yet_valid: "));
        assert!(check_jwt(&demo, &jwt, now - 1, 1).is_ok(), "1 s of leeway");
        assert!(reason(check_jwt(&demo, &jwt, now - 1, 0)).starts_with("not_yet_valid: "));
        assert!(reason(check_jwt(&demo[1..], &jwt, now, 1)).starts_with("key_unknown: "));
        assert!(reason(check_jwt(&demo, "not a jwt", now, 1)).starts_with("malformed_token: "));
        // A token signed by another key under a trusted name.
        let impostor = AuthorizedKey::new(demo[0].name.clone(), demo[1].key.clone());
        assert!(reason(check_jwt(&[impostor], &jwt, now, 1)).starts_with("alg_key_mismatch: "));
    }

    #[test]
    fn flag_forms() {
        let k = AuthorizedKey::from_flag(asset("demo-key.json").to_str().unwrap()).unwrap();
        assert_eq!(k.name, DEMO_PUBLIC_KEYS[0].0);
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("k.pem");
        std::fs::write(&pem, DEMO_PUBLIC_KEYS[1].1).unwrap();
        let spec = format!("my-key-id={}", pem.display());
        let k = AuthorizedKey::from_flag(&spec).unwrap();
        assert_eq!(k.name, "my-key-id");
        assert_eq!(k.key.algorithm(), auth::Algorithm::EdDsa);
        let err = AuthorizedKey::from_flag("/no/such/file.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("NAME=PUBLIC_KEY.pem"), "{err}");
        let err = AuthorizedKey::from_flag("name=/no/such.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
        std::fs::write(&pem, "not a pem").unwrap();
        let err = AuthorizedKey::from_flag(&spec).unwrap_err().to_string();
        assert!(err.contains("not a public key"), "{err}");
        // The demo key's private half is never part of an error or debug text.
        let debug = format!("{:?}", AuthorizedKey::demo_keys().unwrap());
        assert!(!debug.contains("PRIVATE"));
    }
}
