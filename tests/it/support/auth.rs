//! Shared by the auth test crates: the official SDK's public test vectors, fixture paths, and
//! helpers to write key files and pull tokens apart.
// Test code: a failed unwrap is a failed test, with its location.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Public test vectors from `coinbase-advanced-py`'s own tests.
pub const SDK_NAME: &str = "organizations/test-organization/apiKeys/test-api-key";
pub const SDK_EC_SECRET: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKwf3Uox30cRWzRBOPoPOH5p0Gpb0Dt8zUKXUEM5fMkGoAoGCCqGSM49\nAwEHoUQDQgAEbAtpLlSZYVOwYICz+uEyxcS29vRIujiES/gQ1DC7FV4zK4JuYE9v\nqDyGZQYjdXHLM7I6f/QnnOITL+dXYWBHRA==\n-----END EC PRIVATE KEY-----\n";
pub const SDK_EC_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbAtpLlSZYVOwYICz+uEyxcS29vRIujiES/gQ1DC7FV4zK4JuYE9vqDyGZQYjdXHLM7I6f/QnnOITL+dXYWBHRA==";
pub const SDK_ED25519_64: &str =
    "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputDOKsRAwgyrpEQLeBtS1znTmzPX6Xr2eOWpzx6nW8knkA==";
pub const SDK_ED25519_32: &str = "k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputA=";

/// A fixed instant for clock-dependent tests (2024-11-19 07:06:40 UTC).
pub const T0: i64 = 1_732_000_000;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/fixtures/keys/`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/keys").join(name)
}

pub fn demo_key() -> PathBuf {
    repo_root().join("assets/demo-key.json")
}

pub fn demo_key_ed25519() -> PathBuf {
    repo_root().join("assets/demo-key-ed25519.json")
}

/// Writes `text` to `dir/file` readable by its owner only (as a key file should be).
pub fn write_private(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    set_mode(&path, 0o600);
    path
}

/// Writes a key JSON object to `dir/file`, owner-only.
pub fn write_key_json(dir: &Path, file: &str, object: &Value) -> PathBuf {
    write_private(dir, file, &serde_json::to_string_pretty(object).unwrap())
}

/// An owner-only copy of `src` in `dir` (git checks files out as 0644).
pub fn private_copy(dir: &Path, src: &Path) -> PathBuf {
    let text = std::fs::read_to_string(src).unwrap();
    write_private(dir, src.file_name().unwrap().to_str().unwrap(), &text)
}

pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// The SDK vectors as key files in `dir`: (file name, path).
pub fn sdk_vector_files(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    [
        (
            "sdk-ec.json",
            json!({"name": SDK_NAME, "privateKey": SDK_EC_SECRET}),
        ),
        (
            "sdk-ed25519-64.json",
            json!({"name": SDK_NAME, "privateKey": SDK_ED25519_64}),
        ),
        (
            "sdk-ed25519-32.json",
            json!({"name": SDK_NAME, "privateKey": SDK_ED25519_32}),
        ),
    ]
    .into_iter()
    .map(|(file, object)| (file, write_key_json(dir, file, &object)))
    .collect()
}

/// Decodes part `index` (0 header, 1 claims) of a compact JWT as JSON.
pub fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.claims` as a JWS signing input.
pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// The codes of a problem list, in order.
pub fn codes(problems: &[cbbook::auth::Problem]) -> Vec<&'static str> {
    problems.iter().map(|p| p.code).collect()
}
