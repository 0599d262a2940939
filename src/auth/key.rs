//! Loading CDP API keys from a JSON file or the environment, with a diagnosis of every problem.

use std::fmt;
use std::path::Path;

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::Algorithm;
use super::file;
use super::jwt;
use super::problems::{KEY_NAME_FORMAT, Problem, key as wording};
use super::public_key::PublicKey;
use super::report;
use super::secret::{self, Signer};

/// Environment variable holding the key name.
pub const ENV_KEY: &str = "COINBASE_API_KEY";
/// Environment variable holding the private key.
pub const ENV_SECRET: &str = "COINBASE_API_SECRET";
/// Set by users of legacy Exchange keys; only used to recognise them.
const ENV_PASSPHRASE: &str = "COINBASE_API_PASSPHRASE";

/// A loaded private key. `Debug` is redacted; the secret is zeroized on drop.
pub struct Key {
    name: String,
    format: &'static str,
    warnings: Vec<Problem>,
    signer: Signer,
}

impl Key {
    /// The key name: `organizations/{org}/apiKeys/{id}`, or the bare id of a newer key.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> Algorithm {
        self.signer.algorithm()
    }

    /// `"sec1-pem"`, `"pkcs8-pem"`, `"ed25519-base64-64"` or `"ed25519-base64-32"`.
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// Warnings found while loading (`literal_newlines`, `key_name_format`, `file_permissions`).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    pub fn public_key(&self) -> PublicKey {
        self.signer.public_key()
    }

    /// A fresh WebSocket JWT, valid from `now_unix` for 120 s, with no `uri` claim.
    pub fn ws_jwt(&self, now_unix: i64) -> String {
        jwt::build(&self.signer, &self.name, None, now_unix)
    }

    /// A fresh REST JWT whose `uri` is `"METHOD api.coinbase.com/PATH"`.
    pub fn rest_jwt(&self, method: &str, path: &str, now_unix: i64) -> String {
        let uri = jwt::rest_uri(method, path);
        jwt::build(&self.signer, &self.name, Some(&uri), now_unix)
    }

    /// Signs arbitrary header and claims with this key (for tests and fault injection: the
    /// result is only a valid Coinbase JWT if the header and claims are).
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> String {
        jwt::sign_compact(&self.signer, header, claims)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm())
            .field("format", &self.format)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Why a key could not be loaded: at least one problem of severity error. `Display` is the
/// readable report (the same as `cbbook auth check`).
#[derive(Debug, Clone)]
pub struct KeyFailure {
    /// Every problem found, errors and warnings.
    pub problems: Vec<Problem>,
    /// The key name, when one was found.
    pub name: Option<String>,
    /// The detected format of the secret, when it got that far.
    pub format: Option<String>,
    /// Where the key came from: `key file PATH` or the environment variables.
    pub source: String,
}

impl fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&report::key_report(&report::KeySummary {
            source: &self.source,
            name: self.name.as_deref(),
            algorithm: None,
            format: self.format.as_deref(),
            problems: &self.problems,
            self_test: None,
        }))
    }
}

impl std::error::Error for KeyFailure {}

impl KeyFailure {
    fn new(source: &str, mut problems: Vec<Problem>) -> KeyFailure {
        // Errors first: they are what stops the key; warnings follow.
        problems.sort_by_key(|p| !p.is_error());
        KeyFailure {
            problems,
            name: None,
            format: None,
            source: source.to_string(),
        }
    }
}

/// Loads a CDP key JSON file: `{"name"|"id", "privateKey"|"secret"}`, other fields ignored.
pub fn load_key_file(path: &Path) -> Result<Key, KeyFailure> {
    let source = format!("key file {}", path.display());
    let fail = |problems: Vec<Problem>| KeyFailure::new(&source, problems);
    let mut problems = Vec::new();
    let bytes = match file::read_key_file(path) {
        Ok(bytes) => bytes,
        Err(problem) => return Err(fail(vec![problem])),
    };
    if let Some(warning) = permission_warning(path) {
        problems.push(warning);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(wording::not_utf8(path));
        return Err(fail(problems));
    };
    load_key_text(text, source, problems)
}

/// Loads a key from the text of a CDP key JSON file, as [`load_key_file`] does once the file is
/// read (no permission check). For callers that hold the text, and for fuzzing the parser.
pub fn load_key_json(text: &str) -> Result<Key, KeyFailure> {
    load_key_text(text, "the given key JSON".to_string(), Vec::new())
}

/// The key file's text to a key: JSON object, bare PEM (refused with its diagnosis), or else.
fn load_key_text(
    text: &str,
    source: String,
    mut problems: Vec<Problem>,
) -> Result<Key, KeyFailure> {
    let fail = |problems: Vec<Problem>| KeyFailure::new(&source, problems);
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with("-----BEGIN") {
        problems.push(wording::bare_pem_file());
        let decoded = secret::decode_secret(text);
        problems.extend(decoded.problems);
        return Err(KeyFailure {
            format: decoded.format.map(str::to_string),
            ..fail(problems)
        });
    }
    let fields = match serde_json::from_str::<BTreeMap<String, &RawValue>>(text) {
        Ok(fields) => fields,
        Err(err) => {
            // Valid JSON but not an object: say what it is.
            let problem = match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => wording::not_an_object(match raw.get().as_bytes().first() {
                    Some(b'[') => "array",
                    Some(b'"') => "string",
                    Some(b't' | b'f') => "boolean",
                    Some(b'n') => "null",
                    _ => "number",
                }),
                Err(_) => wording::json_invalid(&err),
            };
            problems.push(problem);
            return Err(fail(problems));
        }
    };
    from_json_object(KeyFields::split(fields), source, problems)
}

/// The fields of a key file. Those that hold (or may hold) a secret are unescaped straight into
/// zeroizing buffers, never through serde_json, whose unescaping scratch buffer is freed without
/// being wiped; the others are ordinary JSON values.
struct KeyFields {
    values: Map<String, Value>,
    /// `Err(())`: the field is not a JSON string.
    secrets: BTreeMap<String, Result<Zeroizing<String>, ()>>,
}

impl KeyFields {
    fn split(fields: BTreeMap<String, &RawValue>) -> KeyFields {
        let mut values = Map::new();
        let mut secrets = BTreeMap::new();
        for (name, raw) in fields {
            let secret = ["privateKey", "secret", "passphrase"].contains(&name.as_str())
                || SECRET_LOOKALIKES.contains(&name.as_str());
            if secret {
                secrets.insert(name, json_string(raw.get()).ok_or(()));
            } else {
                // Already checked to be JSON by the first parse.
                values.insert(name, serde_json::from_str(raw.get()).unwrap_or(Value::Null));
            }
        }
        KeyFields { values, secrets }
    }

    fn contains(&self, field: &str) -> bool {
        self.values.contains_key(field) || self.secrets.contains_key(field)
    }
}

/// The text of a JSON string literal (`raw`, quotes included, already validated as JSON),
/// unescaped into a zeroizing buffer; `None` when `raw` is not a string.
fn json_string(raw: &str) -> Option<Zeroizing<String>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    // Unescaping only shortens: no reallocation leaves a copy behind.
    let mut out = Zeroizing::new(String::with_capacity(inner.len()));
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let unescaped = match chars.next()? {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'u' => {
                let high = hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&high) {
                    // A surrogate pair: \uD83D\uDE00.
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let low = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
                } else {
                    char::from_u32(high)?
                }
            }
            other => other,
        };
        out.push(unescaped);
    }
    Some(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    (0..4).try_fold(0u32, |acc, _| Some(acc * 16 + chars.next()?.to_digit(16)?))
}

/// Takes a secret-bearing field out of the key file's fields.
fn take_secret(fields: &mut KeyFields, field: &str) -> Option<Result<Zeroizing<String>, ()>> {
    fields.secrets.remove(field)
}

/// Field names people use by mistake, reported to help them rename.
const NAME_LOOKALIKES: &[&str] = &["keyName", "key_name", "apiKey", "api_key", "key", "kid"];
const SECRET_LOOKALIKES: &[&str] = &[
    "private_key",
    "privatekey",
    "PrivateKey",
    "private",
    "apiSecret",
    "api_secret",
    "key_secret",
];

fn lookalike<'a>(fields: &KeyFields, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|c| fields.contains(c))
}

fn from_json_object(
    mut fields: KeyFields,
    source: String,
    mut problems: Vec<Problem>,
) -> Result<Key, KeyFailure> {
    let private_key = take_secret(&mut fields, "privateKey");
    let secret_alias = take_secret(&mut fields, "secret");
    let passphrase = take_secret(&mut fields, "passphrase");
    let map = &fields.values;

    let mut name = None;
    let mut name_detail = None;
    for field in ["name", "id"] {
        match map.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                name = Some(s.clone());
                break;
            }
            Some(Value::String(_)) => {
                name_detail.get_or_insert(format!("\"{field}\" is empty"));
            }
            Some(_) => {
                name_detail.get_or_insert(format!("\"{field}\" is not a string"));
            }
            None => {}
        }
    }
    if name.is_none() {
        let detail = name_detail.unwrap_or_else(|| match lookalike(&fields, NAME_LOOKALIKES) {
            Some(found) => format!("no \"name\" or \"id\" field (found \"{found}\")"),
            None => "no \"name\" or \"id\" field".to_string(),
        });
        problems.push(wording::name_missing(&detail));
    }

    let field_used = if private_key.is_some() {
        "privateKey"
    } else {
        "secret"
    };
    let secret = match private_key.or(secret_alias) {
        Some(Ok(s)) if !s.trim().is_empty() => Some(s),
        Some(Ok(_)) => {
            problems.push(wording::private_key_missing(&format!(
                "\"{field_used}\" is empty"
            )));
            None
        }
        Some(Err(())) => {
            problems.push(wording::private_key_missing(&format!(
                "\"{field_used}\" is not a string"
            )));
            None
        }
        None => {
            let detail = match lookalike(&fields, SECRET_LOOKALIKES) {
                Some(found) => {
                    format!("no \"privateKey\" (or \"secret\") field (found \"{found}\")")
                }
                None => "no \"privateKey\" (or \"secret\") field".to_string(),
            };
            problems.push(wording::private_key_missing(&detail));
            None
        }
    };

    let legacy = if passphrase.is_some() {
        Some("the file has a passphrase, as Coinbase Exchange/Pro keys do".to_string())
    } else {
        match map.get("key").or_else(|| map.get("apiKey")) {
            Some(Value::String(k)) => legacy_name_shape(k),
            _ => None,
        }
    };
    finish(
        name,
        secret.as_deref().map(|s| s.as_str()),
        source,
        problems,
        legacy,
    )
}

/// Loads a key from a name and a secret text (PEM or base64), as held by the environment pair.
pub fn load_key_parts(name: &str, secret: &str) -> Result<Key, KeyFailure> {
    finish(
        Some(name.to_string()),
        Some(secret),
        "the given key name and secret".to_string(),
        Vec::new(),
        legacy_name_shape(name),
    )
}

/// Loads the key from `COINBASE_API_KEY` (name) and `COINBASE_API_SECRET` (private key); `None`
/// when both are unset or empty.
pub fn load_key_env() -> Option<Result<Key, KeyFailure>> {
    let read = |var: &str| -> Option<Result<Zeroizing<String>, ()>> {
        let value = std::env::var_os(var)?;
        if value.is_empty() {
            return None;
        }
        Some(value.into_string().map(Zeroizing::new).map_err(|_| ()))
    };
    let name = read(ENV_KEY);
    let secret = read(ENV_SECRET);
    if name.is_none() && secret.is_none() {
        return None;
    }
    let source = format!("environment variables {ENV_KEY} and {ENV_SECRET}");
    let mut problems = Vec::new();
    let name = match name {
        Some(Ok(name)) => Some(name.to_string()),
        Some(Err(())) => {
            problems.push(wording::name_missing(&format!(
                "{ENV_KEY} is not valid text"
            )));
            None
        }
        None => {
            problems.push(wording::env_name_missing());
            None
        }
    };
    let secret = match secret {
        Some(Ok(secret)) => Some(secret),
        Some(Err(())) => {
            problems.push(wording::key_not_base64(&format!(
                "{ENV_SECRET} is not valid text"
            )));
            None
        }
        None => {
            problems.push(wording::env_private_key_missing());
            None
        }
    };
    let legacy = if std::env::var_os(ENV_PASSPHRASE).is_some_and(|p| !p.is_empty()) {
        Some(format!(
            "{ENV_PASSPHRASE} is set, as Coinbase Exchange/Pro keys need"
        ))
    } else {
        name.as_deref().and_then(legacy_name_shape)
    };
    Some(finish(
        name,
        secret.as_deref().map(|s| s.as_str()),
        source,
        problems,
        legacy,
    ))
}

/// `--key FILE` when given, else the environment pair, else `None` (a public feed).
pub fn load_configured_key(path: Option<&Path>) -> Result<Option<Key>, KeyFailure> {
    match path {
        Some(path) => load_key_file(path).map(Some),
        None => load_key_env().transpose(),
    }
}

/// Describes a key name shaped like a legacy HMAC key id, if it is one.
fn legacy_name_shape(name: &str) -> Option<String> {
    let name = name.trim();
    let alnum = name.chars().all(|c| c.is_ascii_alphanumeric());
    if name.len() == 32 && name.chars().all(|c| c.is_ascii_hexdigit()) {
        Some("a 32-character hex key id, as Coinbase Exchange/Pro issued".to_string())
    } else if name.len() == 16 && alnum {
        Some("a 16-character key id, as the old Coinbase API issued".to_string())
    } else {
        None
    }
}

/// Checks the name and decodes the secret; a `Key` when no error was found.
fn finish(
    name: Option<String>,
    secret: Option<&str>,
    source: String,
    mut problems: Vec<Problem>,
    legacy: Option<String>,
) -> Result<Key, KeyFailure> {
    let name = name.and_then(|raw| checked_name(&raw, &mut problems));
    let decoded = secret.map(secret::decode_secret);
    let (signer, format) = match decoded {
        Some(decoded) => {
            problems.extend(decoded.problems);
            (decoded.signer, decoded.format)
        }
        None => (None, None),
    };
    let has_error = problems.iter().any(Problem::is_error);
    match (name, signer) {
        (Some(name), Some(signer)) if !has_error => Ok(Key {
            name,
            format: format.unwrap_or("unknown"),
            warnings: problems,
            signer,
        }),
        (name, _) => {
            if let Some(detail) = legacy {
                // The other errors, and the odd name, are symptoms of using the wrong kind of
                // key altogether.
                problems.retain(|p| !p.is_error() && p.code != KEY_NAME_FORMAT.name);
                problems.insert(0, wording::legacy_exchange_key(&detail));
            }
            Err(KeyFailure {
                name,
                format: format.map(str::to_string),
                ..KeyFailure::new(&source, problems)
            })
        }
    }
}

/// The trimmed key name, warning about whitespace and unusual shapes; `None` when it is private
/// key material (name and key swapped), which must not be echoed.
fn checked_name(raw: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let name = raw.trim();
    if secret::looks_like_secret(name) {
        problems.push(wording::name_missing(
            "the key name holds what looks like a private key: are the name and the private key \
             swapped?",
        ));
        return None;
    }
    if !is_key_name(name) && secret::looks_like_key_fragment(name) {
        problems.push(wording::name_missing(
            "the key name is not organizations/{org}/apiKeys/{id} or a key id, and looks like a \
             piece of a private key (a long run of base64), so cbbook does not show it: are the \
             name and the private key swapped, or was the key cut when it was copied?",
        ));
        return None;
    }
    if name != raw {
        problems.push(wording::key_name_whitespace(name));
    } else if !is_key_name(name) {
        problems.push(wording::key_name_format(name));
    }
    Some(name.to_string())
}

/// `organizations/{org}/apiKeys/{id}` or a UUID.
pub(crate) fn is_key_name(name: &str) -> bool {
    let segment_ok = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '/');
    let parts: Vec<&str> = name.split('/').collect();
    let classic = parts.len() == 4
        && parts[0] == "organizations"
        && parts[2] == "apiKeys"
        && segment_ok(parts[1])
        && segment_ok(parts[3]);
    classic || is_uuid(name)
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A warning when the key file is readable by group or others (Unix only).
fn permission_warning(path: &Path) -> Option<Problem> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o044 != 0).then(|| wording::file_permissions(path, mode))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(is_key_name(
            "organizations/test-organization/apiKeys/test-api-key"
        ));
        assert!(is_key_name("5f0c1b2e-9a7d-4c3e-8b1a-00000000de30"));
        assert!(!is_key_name("test-api-key"));
        assert!(!is_key_name("organizations//apiKeys/x"));
        assert!(!is_key_name("organizations/o/apiKeys/x/extra"));
    }

    #[test]
    fn json_strings_unescape_as_serde_json_does() {
        for raw in [
            r#""plain""#,
            r#""-----BEGIN EC PRIVATE KEY-----\nMHc\r\n-----END EC PRIVATE KEY-----\n""#,
            r#""q\"b\\s\/t\tb\bf\f""#,
            r#""\u0041\u00e9\u20AC\ud83d\ude00""#,
            r#""é €""#,
            r#""""#,
        ] {
            let ours = json_string(raw).unwrap();
            let theirs: String = serde_json::from_str(raw).unwrap();
            assert_eq!(ours.as_str(), theirs, "{raw}");
        }
        for not_a_string in [
            "1",
            "null",
            "[\"a\"]",
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
        ] {
            assert!(json_string(not_a_string).is_none(), "{not_a_string}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips_through_json_string(text in "\\PC*|[\\x00-\\x7f]*") {
            let raw = serde_json::to_string(&text).unwrap();
            let ours = json_string(&raw).unwrap();
            proptest::prop_assert_eq!(ours.as_str(), text.as_str());
        }
    }

    #[test]
    fn legacy_shapes() {
        assert!(legacy_name_shape("0123456789abcdef0123456789abcdef").is_some());
        assert!(legacy_name_shape("aBcD1234EfGh5678").is_some());
        assert!(legacy_name_shape("organizations/o/apiKeys/k").is_none());
    }
}
