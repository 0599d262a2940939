//! CDP API keys and Coinbase JWTs: load every key form, build tokens, and diagnose keys and tokens.
//!
//! TEMPORARY STAND-IN on branch `feed`: only the part of INTERFACES.md section 1 the feed uses,
//! so the feed compiles; replaced by branch `auth` on merge.

pub mod cli;

/// A loaded private key (stand-in: signs nothing; the token is a fixed unsigned shape).
pub struct Key {
    name: String,
}

impl Key {
    pub fn stand_in(name: &str) -> Key {
        Key {
            name: name.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ws_jwt(&self, now_unix: i64) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(format!(
            r#"{{"alg":"ES256","kid":"{}","typ":"JWT"}}"#,
            self.name
        ));
        let claims = b64.encode(format!(
            r#"{{"sub":"{}","iss":"cdp","nbf":{now_unix},"exp":{}}}"#,
            self.name,
            now_unix + 120
        ));
        format!("{header}.{claims}.c2lnbmF0dXJl")
    }
}

/// Stand-in: why a key could not be loaded.
#[derive(Debug)]
pub struct KeyFailure {
    pub message: String,
}

impl std::fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KeyFailure {}

/// Stand-in: `--key FILE`, else the env pair, else None. Key loading lands with branch `auth`.
pub fn load_configured_key(path: Option<&std::path::Path>) -> Result<Option<Key>, KeyFailure> {
    if path.is_some() || std::env::var_os("COINBASE_API_KEY").is_some() {
        return Err(KeyFailure {
            message: "key loading is not built yet".to_owned(),
        });
    }
    Ok(None)
}

/// Stand-in: reads only the key's name.
pub fn load_key_file(path: &std::path::Path) -> Result<Key, KeyFailure> {
    let fail = |message: String| KeyFailure { message };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let name = value["name"]
        .as_str()
        .ok_or_else(|| fail("no name".to_owned()))?;
    Ok(Key::stand_in(name))
}
