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
