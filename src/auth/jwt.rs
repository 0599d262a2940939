//! Building and signing Coinbase JWTs, exactly as the official SDKs shape them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Value, json};

use super::secret::Signer;

/// Seconds a Coinbase JWT lives: `exp = nbf + LIFETIME_SECS`.
pub const LIFETIME_SECS: i64 = 120;

/// Coinbase's REST host, as it appears in the `uri` claim.
pub const REST_HOST: &str = "api.coinbase.com";

/// The HTTP methods a REST token's `uri` may name.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Random bytes in a nonce (hex-encoded, so twice as many characters), as the Python SDK does.
const NONCE_BYTES: usize = 32;

pub(crate) fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random nonce: 32 bytes from the operating system, as hex.
fn fresh_nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Signs `header.claims` and returns the compact JWS.
pub(crate) fn sign_compact(signer: &Signer, header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let signature = signer.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", base64url(&signature))
}

/// A Coinbase JWT: header `alg`, `kid`, `nonce`, `typ`; claims `sub`, `iss`, `nbf`, `exp` and, for
/// REST, `uri`.
pub(crate) fn build(signer: &Signer, name: &str, uri: Option<&str>, now_unix: i64) -> String {
    let header = json!({
        "alg": signer.algorithm().as_str(),
        "kid": name,
        "nonce": fresh_nonce(),
        "typ": "JWT",
    });
    let mut claims = json!({
        "sub": name,
        "iss": "cdp",
        "nbf": now_unix,
        "exp": now_unix + LIFETIME_SECS,
    });
    if let (Some(uri), Value::Object(map)) = (uri, &mut claims) {
        map.insert("uri".to_string(), Value::String(uri.to_string()));
    }
    sign_compact(signer, &header, &claims)
}

/// The `uri` claim of a REST token: `"GET api.coinbase.com/api/v3/brokerage/accounts"`: method in
/// capitals, host and path, no scheme and no query string.
pub fn rest_uri(method: &str, path: &str) -> String {
    let path = path.trim();
    let path = path
        .strip_prefix("https://")
        .or_else(|| path.strip_prefix("http://"))
        .unwrap_or(path);
    let path = path.strip_prefix(REST_HOST).unwrap_or(path);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!(
        "{} {REST_HOST}{slash}{path}",
        method.trim().to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_uri_has_method_host_and_path_only() {
        let want = "GET api.coinbase.com/api/v3/brokerage/accounts";
        assert_eq!(rest_uri("GET", "/api/v3/brokerage/accounts"), want);
        assert_eq!(rest_uri("get", "api/v3/brokerage/accounts"), want);
        assert_eq!(
            rest_uri(
                "GET",
                "https://api.coinbase.com/api/v3/brokerage/accounts?limit=5"
            ),
            want
        );
    }

    #[test]
    fn nonces_are_fresh_32_byte_hex() {
        let a = fresh_nonce();
        let b = fresh_nonce();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
