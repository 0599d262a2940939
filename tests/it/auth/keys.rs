//! Key loading: every accepted form, the SDK test vectors, secrecy, and one test per key problem
//! code, each produced from a realistic bad key file.
// Test code: a failed unwrap is a failed test, with its location.

use crate::support::auth as auth_support;

use auth_support::*;
use cbbook::auth::{
    Algorithm, InspectOptions, Key, KeyFailure, Severity, SignatureVerdict, inspect_token,
    load_configured_key, load_key_file, load_key_parts, parse_public_key_pem,
};
use serde_json::json;

fn load_ok(path: &std::path::Path) -> Key {
    match load_key_file(path) {
        Ok(key) => key,
        Err(failure) => panic!("{} should load:\n{failure}", path.display()),
    }
}

fn load_err(path: &std::path::Path) -> KeyFailure {
    match load_key_file(path) {
        Ok(key) => panic!("{} should not load, got {key:?}", path.display()),
        Err(failure) => failure,
    }
}

/// The failure's error codes (warnings such as file_permissions left out).
fn error_codes(failure: &KeyFailure) -> Vec<&'static str> {
    failure
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| p.code)
        .collect()
}

/// A fresh token from `key` verifies with its own public key and has no problems.
fn assert_signs_valid_tokens(key: &Key) {
    let public = key.public_key();
    let report = inspect_token(
        &key.ws_jwt(T0),
        &InspectOptions {
            key: Some(&public),
            expected_name: Some(key.name()),
            now_unix: T0 + 1,
            leeway_secs: 0,
            websocket: true,
        },
    );
    assert_eq!(report.signature, SignatureVerdict::Valid, "{report:?}");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

// ---- The SDK's public test vectors ----

#[test]
fn sdk_ec_vector_loads_as_sec1_es256_with_the_published_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let key = load_ok(&files[0].1);
    assert_eq!(key.name(), SDK_NAME);
    assert_eq!(key.algorithm(), Algorithm::Es256);
    assert_eq!(key.format(), "sec1-pem");
    assert!(key.warnings().is_empty(), "{:?}", key.warnings());
    let published = parse_public_key_pem(SDK_EC_PUBLIC).unwrap();
    assert_eq!(key.public_key(), published);
    assert_signs_valid_tokens(&key);
}

#[test]
fn sdk_ed25519_vectors_64_and_32_bytes_are_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let full = load_ok(&files[1].1);
    let seed = load_ok(&files[2].1);
    assert_eq!(full.algorithm(), Algorithm::EdDsa);
    assert_eq!(full.format(), "ed25519-base64-64");
    assert_eq!(seed.format(), "ed25519-base64-32");
    assert_eq!(full.public_key(), seed.public_key());
    assert_signs_valid_tokens(&full);
    assert_signs_valid_tokens(&seed);
}

#[test]
fn demo_keys_load_and_sign() {
    let dir = tempfile::tempdir().unwrap();
    let es = load_ok(&private_copy(dir.path(), &demo_key()));
    assert_eq!(es.algorithm(), Algorithm::Es256);
    assert_eq!(
        es.name(),
        "organizations/cbbook-demo/apiKeys/demo-es256-test-only"
    );
    let ed = load_ok(&private_copy(dir.path(), &demo_key_ed25519()));
    assert_eq!(ed.algorithm(), Algorithm::EdDsa);
    assert_eq!(ed.name(), "5f0c1b2e-9a7d-4c3e-8b1a-00000000de30");
    assert!(ed.warnings().is_empty(), "{:?}", ed.warnings());
    assert_signs_valid_tokens(&es);
    assert_signs_valid_tokens(&ed);
}

// ---- Other accepted forms ----

#[test]
fn pkcs8_pem_p256_loads_and_matches_the_public_key_cryptography_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let key = load_ok(&private_copy(dir.path(), &fixture("pkcs8-p256.json")));
    assert_eq!(key.format(), "pkcs8-pem");
    assert_eq!(key.algorithm(), Algorithm::Es256);
    let pem = std::fs::read_to_string(fixture("p256-public.pem")).unwrap();
    assert_eq!(key.public_key(), parse_public_key_pem(&pem).unwrap());
    assert_signs_valid_tokens(&key);
}

#[test]
fn pkcs8_pem_ed25519_loads() {
    let dir = tempfile::tempdir().unwrap();
    let key = load_ok(&private_copy(dir.path(), &fixture("pkcs8-ed25519.json")));
    assert_eq!(key.format(), "pkcs8-pem");
    assert_eq!(key.algorithm(), Algorithm::EdDsa);
    assert_eq!(key.name(), "3b9d6a52-1f0e-4c47-9e61-2c1f5e0d7a11");
    assert_signs_valid_tokens(&key);
}

#[test]
fn id_field_secret_alias_and_extra_fields_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_key_json(
        dir.path(),
        "k.json",
        &json!({
            "id": "5f0c1b2e-9a7d-4c3e-8b1a-00000000abcd",
            "secret": SDK_ED25519_64,
            "nickname": "laptop",
            "scopes": ["view"],
            "allowedIps": [],
            "keyType": "ed25519",
            "enabled": true
        }),
    );
    let key = load_ok(&path);
    assert_eq!(key.name(), "5f0c1b2e-9a7d-4c3e-8b1a-00000000abcd");
    assert_eq!(key.algorithm(), Algorithm::EdDsa);
    assert!(key.warnings().is_empty(), "{:?}", key.warnings());
}

#[test]
fn pem_after_an_ec_parameters_block_with_crlf_loads() {
    // What `openssl ecparam -name prime256v1 -genkey` writes, saved on Windows.
    let secret = format!(
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{SDK_EC_SECRET}"
    )
    .replace('\n', "\r\n");
    let key = load_key_parts(SDK_NAME, &secret).unwrap();
    assert_eq!(
        key.public_key(),
        parse_public_key_pem(SDK_EC_PUBLIC).unwrap()
    );
}

#[test]
fn configured_key_prefers_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(dir.path(), &demo_key());
    let key = load_configured_key(Some(&path)).unwrap().unwrap();
    assert_eq!(
        key.name(),
        "organizations/cbbook-demo/apiKeys/demo-es256-test-only"
    );
    let failure = load_configured_key(Some(&dir.path().join("absent.json"))).unwrap_err();
    assert_eq!(error_codes(&failure), ["file_unreadable"]);
}

// ---- Secrets stay secret ----

#[test]
fn debug_and_reports_never_show_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let files = sdk_vector_files(dir.path());
    let ec = load_ok(&files[0].1);
    let ed = load_ok(&files[1].1);
    // Pieces of the secrets as they could leak: base64 of the PEM body, base64 of the Ed25519
    // key, and the raw scalar or seed in hex or as a byte list.
    let ec_body_piece = "MHcCAQEEIKwf3Uox30cRWzRBOPoPOH5p0Gpb0Dt8zUKXUEM5fMkG";
    let ed_piece = "k0BUni0p0vZG1BdpVjS6og";
    let ec_scalar_hex = "ac1fdd4a31df47115b344138fa0f387e69d06a5bd03b7ccd42975043397cc906";
    let ed_seed_hex = "9340549e2d29d2f646d4176956";
    for text in [
        format!("{ec:?}"),
        format!("{ed:?}"),
        format!("{ec:#?}"),
        format!("{ed:#?}"),
    ] {
        assert!(
            text.contains(SDK_NAME),
            "Debug should still name the key: {text}"
        );
        assert!(text.contains("redacted"), "{text}");
        for secret in [ec_body_piece, ed_piece, ec_scalar_hex, ed_seed_hex] {
            assert!(
                !text.contains(secret),
                "key material in Debug output: {text}"
            );
        }
        assert!(
            !text.contains("172, 31, 221"),
            "scalar bytes in Debug: {text}"
        );
    }
    // A key that fails to load does not echo its secret either.
    let bad = write_key_json(
        dir.path(),
        "bad.json",
        &json!({"name": SDK_NAME, "privateKey": format!("{SDK_ED25519_64}AAAA")}),
    );
    let failure = load_err(&bad);
    for text in [format!("{failure}"), format!("{failure:?}")] {
        assert!(!text.contains(ed_piece), "{text}");
    }
}

#[test]
fn scalar_hex_used_above_is_really_the_ec_vector_secret() {
    // Guards the previous test: the hex it looks for must be the actual secret scalar.
    let secret = p256::SecretKey::from_sec1_pem(SDK_EC_SECRET).unwrap();
    assert_eq!(
        hex::encode(secret.to_bytes()),
        "ac1fdd4a31df47115b344138fa0f387e69d06a5bd03b7ccd42975043397cc906"
    );
    assert_eq!(secret.to_bytes()[..3], [172, 31, 221]);
}

// ---- One test per key problem code ----

#[test]
fn file_unreadable_for_a_missing_file() {
    let failure = load_err(std::path::Path::new("/nonexistent/cdp_api_key.json"));
    assert_eq!(error_codes(&failure), ["file_unreadable"]);
    assert!(
        failure.problems[0]
            .message
            .contains("/nonexistent/cdp_api_key.json")
    );
}

#[test]
fn file_too_large_for_a_file_over_the_cap_even_if_it_holds_a_key() {
    let dir = tempfile::tempdir().unwrap();
    // A valid key file padded past the cap: refused by its size, not parsed.
    let padded = format!(
        "{}{}",
        json!({"name": SDK_NAME, "privateKey": SDK_EC_SECRET}),
        " ".repeat(cbbook::auth::MAX_KEY_FILE_BYTES)
    );
    let path = write_private(dir.path(), "huge.json", &padded);
    let failure = load_err(&path);
    assert_eq!(error_codes(&failure), ["file_too_large"]);
    let problem = &failure.problems[0];
    assert!(problem.message.contains("huge.json"), "{problem:?}");
    assert!(problem.message.contains("not a key file"), "{problem:?}");

    // An endless device: refused after the cap instead of reading forever.
    let failure = load_err(std::path::Path::new("/dev/zero"));
    assert_eq!(error_codes(&failure), ["file_too_large"]);
    let failure =
        cbbook::auth::load_public_key_file(std::path::Path::new("/dev/zero")).unwrap_err();
    assert_eq!(failure.code, "file_too_large");
}

#[test]
fn json_invalid_for_a_pem_pasted_with_raw_line_breaks() {
    let failure = load_err(&fixture("raw-newlines.json"));
    assert_eq!(error_codes(&failure), ["json_invalid"]);
    let problem = &failure.problems[0];
    assert!(problem.message.contains("line"), "{problem:?}");
    assert!(problem.fix.contains("\\n"), "{problem:?}");
}

#[test]
fn json_invalid_for_a_trailing_comma_and_for_a_json_array() {
    let dir = tempfile::tempdir().unwrap();
    let comma = write_private(
        dir.path(),
        "comma.json",
        &format!("{{\"name\": \"{SDK_NAME}\", \"privateKey\": \"x\",}}"),
    );
    assert_eq!(error_codes(&load_err(&comma)), ["json_invalid"]);
    let array = write_private(dir.path(), "array.json", "[{\"name\": \"x\"}]");
    let failure = load_err(&array);
    assert_eq!(error_codes(&failure), ["json_invalid"]);
    assert!(failure.problems[0].message.contains("array"));
}

#[test]
fn name_missing_when_only_the_private_key_was_saved() {
    let failure = load_err(&fixture("no-name.json"));
    assert_eq!(error_codes(&failure), ["name_missing"]);
    assert!(failure.name.is_none());
    assert_eq!(failure.format.as_deref(), Some("sec1-pem"));
}

#[test]
fn name_missing_for_a_bare_pem_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_private(dir.path(), "key.pem", SDK_EC_SECRET);
    let failure = load_err(&path);
    assert_eq!(error_codes(&failure), ["name_missing"]);
    assert!(failure.problems[0].message.contains("bare PEM"));
}

#[test]
fn private_key_missing_when_the_field_is_renamed() {
    let failure = load_err(&fixture("snake-case-private-key.json"));
    assert_eq!(error_codes(&failure), ["private_key_missing"]);
    assert!(failure.problems[0].message.contains("private_key"));
    assert_eq!(
        failure.name.as_deref(),
        Some("organizations/cbbook-fixtures/apiKeys/fixture-key")
    );
}

#[test]
fn pem_label_unknown_for_a_hand_edited_label() {
    let failure = load_err(&fixture("hand-edited-label.json"));
    assert_eq!(error_codes(&failure), ["pem_label_unknown"]);
    let problem = &failure.problems[0];
    assert!(problem.message.contains("ECDSA Private Key"), "{problem:?}");
    assert!(problem.fix.contains("BEGIN EC PRIVATE KEY"), "{problem:?}");
}

#[test]
fn pem_label_unknown_for_a_public_key_given_as_the_private_key() {
    let pem = std::fs::read_to_string(fixture("p256-public.pem")).unwrap();
    let failure = load_key_parts(SDK_NAME, &pem).unwrap_err();
    assert_eq!(error_codes(&failure), ["pem_label_unknown"]);
    assert!(failure.problems[0].message.contains("public key"));
}

#[test]
fn pem_invalid_for_a_truncated_copy() {
    let failure = load_err(&fixture("truncated-pem.json"));
    assert_eq!(error_codes(&failure), ["pem_invalid"]);
    // And when the END line itself is lost.
    let cut = &SDK_EC_SECRET[..SDK_EC_SECRET.find("-----END").unwrap()];
    let failure = load_key_parts(SDK_NAME, cut).unwrap_err();
    assert_eq!(error_codes(&failure), ["pem_invalid"]);
    assert!(failure.problems[0].message.contains("truncated"));
}

#[test]
fn curve_unsupported_for_a_p384_key() {
    let failure = load_err(&fixture("p384.json"));
    assert_eq!(error_codes(&failure), ["curve_unsupported"]);
    assert!(failure.problems[0].message.contains("P-384"));
}

#[test]
fn key_not_base64_for_a_key_copied_with_an_ellipsis() {
    let failure = load_err(&fixture("ellipsis.json"));
    assert_eq!(error_codes(&failure), ["key_not_base64"]);
}

#[test]
fn key_not_base64_names_a_changed_last_character_not_the_length() {
    // The SDK's 64-byte Ed25519 key with its last character changed (A -> B): 88 characters, a
    // length base64 has, but bits a real encoding never sets.
    assert!(SDK_ED25519_64.ends_with("W8knkA=="));
    let changed = SDK_ED25519_64.replace("W8knkA==", "W8knkB==");
    let failure = load_key_parts(SDK_NAME, &changed).unwrap_err();
    assert_eq!(error_codes(&failure), ["key_not_base64"]);
    let message = &failure.problems[0].message;
    assert!(
        message.contains("a character there was changed"),
        "{message}"
    );
    assert!(message.contains("the length is right"), "{message}");
    assert!(!message.contains("does not fit"), "{message}");
}

#[test]
fn ed25519_length_for_a_cut_short_copy() {
    let failure = load_err(&fixture("ed25519-truncated.json"));
    assert_eq!(error_codes(&failure), ["ed25519_length"]);
    assert!(failure.problems[0].message.contains("45 bytes"));
}

#[test]
fn ed25519_pubkey_mismatch_when_the_halves_come_from_two_keys() {
    let failure = load_err(&fixture("ed25519-mismatch.json"));
    assert_eq!(error_codes(&failure), ["ed25519_pubkey_mismatch"]);
    // The SDK vector with its last public-key byte changed.
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, SDK_ED25519_64).unwrap();
    bytes[63] ^= 1;
    let altered = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
    let failure = load_key_parts(SDK_NAME, &altered).unwrap_err();
    assert_eq!(error_codes(&failure), ["ed25519_pubkey_mismatch"]);
}

#[test]
fn legacy_exchange_key_for_a_key_secret_passphrase_file() {
    let failure = load_err(&fixture("legacy-exchange.json"));
    assert_eq!(error_codes(&failure), ["legacy_exchange_key"]);
    assert!(failure.problems[0].message.contains("passphrase"));
}

#[test]
fn legacy_exchange_key_for_an_exchange_key_pair_in_the_environment_shape() {
    // COINBASE_API_KEY=<32 hex chars>, COINBASE_API_SECRET=<base64 of 64 random bytes>.
    let secret = "V2hhdCBhbiBleGNoYW5nZSBzZWNyZXQgbG9va3MgbGlrZTogNjQgcmFuZG9tIGJ5dGVzIGluIGJhc2U2NCEhISEhISEhISE=";
    let failure = load_key_parts("0123456789abcdef0123456789abcdef", secret).unwrap_err();
    assert_eq!(error_codes(&failure), ["legacy_exchange_key"]);
}

#[test]
fn literal_newlines_warning_for_a_double_escaped_pem() {
    let dir = tempfile::tempdir().unwrap();
    let key = load_ok(&private_copy(dir.path(), &fixture("literal-newlines.json")));
    assert_eq!(codes(key.warnings()), ["literal_newlines"]);
    assert_eq!(key.warnings()[0].severity, Severity::Warning);
    // The environment form: a PEM with \n escapes in COINBASE_API_SECRET.
    let escaped = SDK_EC_SECRET.replace('\n', "\\n");
    let key = load_key_parts(SDK_NAME, &escaped).unwrap();
    assert_eq!(codes(key.warnings()), ["literal_newlines"]);
    assert_eq!(
        key.public_key(),
        parse_public_key_pem(SDK_EC_PUBLIC).unwrap()
    );
}

#[test]
fn key_name_format_warning_for_a_key_id_used_as_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let key = load_ok(&private_copy(dir.path(), &fixture("key-id-as-name.json")));
    assert_eq!(codes(key.warnings()), ["key_name_format"]);
    assert_eq!(key.name(), "fixture-key");
    // Whitespace around the name is trimmed, with the same warning.
    let key = load_key_parts(&format!("{SDK_NAME}\n"), SDK_EC_SECRET).unwrap();
    assert_eq!(key.name(), SDK_NAME);
    assert_eq!(codes(key.warnings()), ["key_name_format"]);
}

#[cfg(unix)]
#[test]
fn file_permissions_warning_only_when_group_or_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(dir.path(), &demo_key());
    assert!(load_ok(&path).warnings().is_empty());
    set_mode(&path, 0o640);
    let key = load_ok(&path);
    assert_eq!(codes(key.warnings()), ["file_permissions"]);
    assert!(key.warnings()[0].fix.contains("chmod 600"));
    set_mode(&path, 0o604);
    assert_eq!(codes(load_ok(&path).warnings()), ["file_permissions"]);
}

#[test]
fn every_problem_has_a_message_and_a_fix() {
    let mut seen = Vec::new();
    for file in [
        "raw-newlines.json",
        "no-name.json",
        "snake-case-private-key.json",
        "hand-edited-label.json",
        "truncated-pem.json",
        "p384.json",
        "ellipsis.json",
        "ed25519-truncated.json",
        "ed25519-mismatch.json",
        "legacy-exchange.json",
    ] {
        for problem in load_err(&fixture(file)).problems {
            assert!(problem.message.len() > 20, "{problem:?}");
            assert!(problem.fix.len() > 10, "{problem:?}");
            seen.push(problem.code);
        }
    }
    assert!(seen.len() >= 10);
}

#[test]
fn no_openssl_in_the_dependency_tree() {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap();
    let names: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert!(names.contains(&"p256"), "Cargo.lock not parsed");
    let openssl: Vec<&&str> = names.iter().filter(|n| n.contains("openssl")).collect();
    assert!(
        openssl.is_empty(),
        "OpenSSL crates in Cargo.lock: {openssl:?}"
    );
}
