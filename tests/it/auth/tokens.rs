//! JWT building (fixed clock), sign -> verify round trips for both algorithms, and one test per
//! token problem code, each from a realistic bad token.
// Test code: a failed unwrap is a failed test, with its location.

use crate::support::auth as auth_support;

use auth_support::*;
use cbbook::auth::{
    Algorithm, InspectOptions, Key, PublicKey, Severity, SignatureVerdict, TokenReport,
    inspect_token, key_unknown, load_key_parts, problems::ALL_CODES, token_kid,
};
use serde_json::{Value, json};

fn ec_key() -> Key {
    load_key_parts(SDK_NAME, SDK_EC_SECRET).unwrap()
}

fn ed_key() -> Key {
    load_key_parts(SDK_NAME, SDK_ED25519_64).unwrap()
}

/// Judges `token` at `now` as a Coinbase WebSocket server would, knowing `key`.
fn judge(token: &str, key: &Key, now: i64) -> TokenReport {
    let public = key.public_key();
    inspect_token(
        token,
        &InspectOptions {
            key: Some(&public),
            expected_name: Some(key.name()),
            now_unix: now,
            leeway_secs: 0,
            websocket: true,
        },
    )
}

fn judge_unkeyed(token: &str, now: i64) -> TokenReport {
    inspect_token(
        token,
        &InspectOptions {
            key: None,
            expected_name: None,
            now_unix: now,
            leeway_secs: 0,
            websocket: true,
        },
    )
}

/// The header and claims cbbook itself would send at `T0`.
fn good_parts(key: &Key) -> (Value, Value) {
    (
        json!({"alg": key.algorithm().as_str(), "kid": SDK_NAME, "nonce": "00112233445566778899aabbccddeeff", "typ": "JWT"}),
        json!({"sub": SDK_NAME, "iss": "cdp", "nbf": T0, "exp": T0 + 120}),
    )
}

/// A token signed by `key` from its good header and claims after `edit` changed them.
fn crafted(key: &Key, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let (mut header, mut claims) = good_parts(key);
    edit(&mut header, &mut claims);
    key.sign_jwt(&header, &claims)
}

fn remove(value: &mut Value, field: &str) {
    value.as_object_mut().unwrap().remove(field);
}

/// Asserts that the report's problems are exactly `expected` (in any order) and returns the one
/// with code `code`.
fn only(report: &TokenReport, expected: &[&str], code: &str) -> cbbook::auth::Problem {
    let mut got = codes(&report.problems);
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{:#?}", report.problems);
    let problem = report.problems.iter().find(|p| p.code == code).unwrap();
    assert!(!problem.message.is_empty() && !problem.fix.is_empty());
    problem.clone()
}

// ---- Building, with a fixed clock ----

#[test]
fn ws_jwt_has_exactly_the_coinbase_header_and_claims() {
    for key in [ec_key(), ed_key()] {
        let token = key.ws_jwt(T0);
        let header = segment(&token, 0);
        let claims = segment(&token, 1);
        let mut fields: Vec<&String> = header.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["alg", "kid", "nonce", "typ"]);
        assert_eq!(header["alg"], key.algorithm().as_str());
        assert_eq!(header["kid"], SDK_NAME);
        assert_eq!(header["typ"], "JWT");
        let nonce = header["nonce"].as_str().unwrap();
        assert_eq!(nonce.len(), 64, "32 random bytes as hex");
        assert!(nonce.chars().all(|c| c.is_ascii_hexdigit()));

        assert_eq!(
            claims,
            json!({"sub": SDK_NAME, "iss": "cdp", "nbf": T0, "exp": T0 + 120})
        );
        // Integers in the JSON text itself, not strings or floats.
        let raw = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(raw.contains("\"nbf\":1732000000"), "{raw}");
        assert!(raw.contains("\"exp\":1732000120"), "{raw}");
    }
}

#[test]
fn each_token_gets_a_fresh_nonce() {
    let key = ec_key();
    let a = segment(&key.ws_jwt(T0), 0);
    let b = segment(&key.ws_jwt(T0), 0);
    assert_ne!(a["nonce"], b["nonce"]);
}

#[test]
fn rest_jwt_adds_the_uri_claim() {
    let key = ed_key();
    let token = key.rest_jwt("GET", "/api/v3/brokerage/accounts", T0);
    let claims = segment(&token, 1);
    assert_eq!(
        claims["uri"],
        "GET api.coinbase.com/api/v3/brokerage/accounts"
    );
    assert_eq!(claims["exp"], T0 + 120);
    let report = inspect_token(
        &token,
        &InspectOptions {
            key: Some(&key.public_key()),
            expected_name: Some(SDK_NAME),
            now_unix: T0,
            leeway_secs: 0,
            websocket: false,
        },
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.signature, SignatureVerdict::Valid);
}

// ---- Round trips ----

#[test]
fn es256_round_trip_and_raw_signature_checked_by_p256_directly() {
    let key = ec_key();
    let token = key.ws_jwt(T0);
    let report = judge(&token, &key, T0);
    assert_eq!(report.signature, SignatureVerdict::Valid);
    assert!(report.ok() && report.problems.is_empty(), "{report:?}");
    assert!(report.first_error().is_none());

    // Independently of cbbook's verifier: the signature is 64 raw bytes r || s.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    assert_eq!(sig.len(), 64);
    let secret = p256::SecretKey::from_sec1_pem(SDK_EC_SECRET).unwrap();
    let verifying = p256::ecdsa::VerifyingKey::from(secret.public_key());
    let signature = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    p256::ecdsa::signature::Verifier::verify(&verifying, input.as_bytes(), &signature).unwrap();
}

#[test]
fn eddsa_round_trip_and_signature_checked_by_ed25519_dalek_directly() {
    let key = ed_key();
    let token = key.ws_jwt(T0);
    let report = judge(&token, &key, T0 + 60);
    assert_eq!(report.signature, SignatureVerdict::Valid);
    assert!(report.problems.is_empty(), "{report:?}");

    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let seed: [u8; 32] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, SDK_ED25519_32)
            .unwrap()
            .try_into()
            .unwrap();
    let verifying = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let signature = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    ed25519_dalek::Verifier::verify(&verifying, input.as_bytes(), &signature).unwrap();
}

#[test]
fn round_trip_through_public_key_pem() {
    for key in [ec_key(), ed_key()] {
        let pem = key.public_key().to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        let public = cbbook::auth::parse_public_key_pem(&pem).unwrap();
        assert_eq!(public, key.public_key());
        assert_eq!(public.algorithm(), key.algorithm());
    }
}

#[test]
fn validity_window_is_nbf_to_exp_with_a_fixed_clock() {
    let key = ec_key();
    let token = key.ws_jwt(T0);
    assert!(judge(&token, &key, T0).ok());
    assert!(judge(&token, &key, T0 + 119).ok());
    assert_eq!(codes(&judge(&token, &key, T0 + 120).problems), ["expired"]);
    assert_eq!(
        codes(&judge(&token, &key, T0 - 1).problems),
        ["not_yet_valid"]
    );
    // A verifier with one second of leeway accepts a clock one second ahead, not two.
    let public = key.public_key();
    let lenient = |now| {
        inspect_token(
            &token,
            &InspectOptions {
                key: Some(&public),
                expected_name: None,
                now_unix: now,
                leeway_secs: 1,
                websocket: true,
            },
        )
    };
    assert!(lenient(T0 - 1).ok());
    assert!(!lenient(T0 - 2).ok());
}

#[test]
fn token_kid_reads_the_header_without_verifying() {
    assert_eq!(token_kid(&ec_key().ws_jwt(T0)).as_deref(), Some(SDK_NAME));
    assert_eq!(token_kid("garbage"), None);
    let no_kid = crafted(&ec_key(), |h, _| remove(h, "kid"));
    assert_eq!(token_kid(&no_kid), None);
}

#[test]
fn pasted_wrappers_around_a_token_are_tolerated() {
    let key = ed_key();
    let token = key.ws_jwt(T0);
    for wrapped in [
        format!("  {token}\n"),
        format!("Bearer {token}"),
        format!("\"{token}\""),
        json!({"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD"], "jwt": token})
            .to_string(),
    ] {
        let report = judge(&wrapped, &key, T0);
        assert_eq!(report.signature, SignatureVerdict::Valid, "{wrapped}");
    }
}

// ---- One test per token problem code ----

#[test]
fn malformed_token_for_truncated_garbled_and_wrong_alphabet_tokens() {
    let key = ec_key();
    let token = key.ws_jwt(T0);
    // Cut during copy: only header and claims.
    let cut = token.rsplit_once('.').unwrap().0;
    let report = judge(cut, &key, T0);
    only(&report, &["malformed_token"], "malformed_token");
    assert_eq!(report.signature, SignatureVerdict::Invalid);
    assert!(report.header.is_none());
    // A header that is not JSON.
    let garbled = format!("bm90IGpzb24.{}", token.split_once('.').unwrap().1);
    let report = judge_unkeyed(&garbled, T0);
    assert!(codes(&report.problems).contains(&"malformed_token"));
    assert!(report.claims.is_some(), "claims still decoded");
    // Standard base64 instead of base64url.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        br#"{"alg":"ES256","kid":"k??>","typ":"JWT"}"#,
    );
    assert!(header.contains('/') || header.contains('+'));
    let report = judge_unkeyed(&format!("{header}.e30.AAAA"), T0);
    let problem = report
        .problems
        .iter()
        .find(|p| p.code == "malformed_token")
        .unwrap();
    assert!(problem.message.contains("base64url"), "{problem:?}");
    // Empty input.
    assert_eq!(codes(&judge_unkeyed("", T0).problems), ["malformed_token"]);
}

/// The token with the last character of its signature replaced by `last`.
fn with_last_signature_char(token: &str, last: char) -> String {
    let mut changed = token.to_string();
    changed.pop();
    changed.push(last);
    changed
}

#[test]
fn base64url_not_canonical_for_padding_and_for_stray_trailing_bits() {
    let key = ec_key();
    let token = key.ws_jwt(T0);
    // 64 signature bytes are 86 characters; "==" makes it the padded form.
    assert_eq!(token.rsplit_once('.').unwrap().1.len(), 86);
    let report = judge(&format!("{token}=="), &key, T0);
    let problem = only(
        &report,
        &["base64url_not_canonical"],
        "base64url_not_canonical",
    );
    assert!(
        problem.message.contains("signature ends with = padding"),
        "{problem:?}"
    );
    assert!(problem.message.contains("PyJWT accepts"), "{problem:?}");
    assert!(problem.message.contains("not known"), "{problem:?}");
    assert!(problem.fix.contains("URL_SAFE_NO_PAD"), "{problem:?}");
    // The bytes are the same: the signature verifies; the encoding alone is the error.
    assert_eq!(report.signature, SignatureVerdict::Valid);
    assert!(!report.ok());

    // 86 characters carry 516 bits for 512: the last character's 4 low bits must be zero.
    let last = token.chars().last().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = ALPHABET.find(last).unwrap();
    assert_eq!(index & 0b1111, 0);
    let stray = ALPHABET.as_bytes()[index | 1] as char;
    let report = judge(&with_last_signature_char(&token, stray), &key, T0);
    let problem = only(
        &report,
        &["base64url_not_canonical"],
        "base64url_not_canonical",
    );
    assert!(problem.message.contains("sets bits"), "{problem:?}");
    assert!(problem.message.contains("PyJWT refuses"), "{problem:?}");
    assert_eq!(report.signature, SignatureVerdict::Valid);

    // Padding that does not fit the length is not base64url at all.
    let report = judge(&format!("{token}="), &key, T0);
    assert_eq!(codes(&report.problems)[0], "malformed_token");
}

#[test]
fn alg_missing_when_the_header_field_is_named_algorithm() {
    let key = ec_key();
    let token = crafted(&key, |h, _| {
        remove(h, "alg");
        h["algorithm"] = json!("ES256");
    });
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["alg_missing"], "alg_missing");
    assert!(problem.message.contains("\"algorithm\""), "{problem:?}");
    assert!(problem.message.contains("verifies as ES256"), "{problem:?}");
    // The verdict agrees with the message: the signature is valid, the header is the error.
    assert_eq!(report.signature, SignatureVerdict::Valid);
    assert!(!report.ok());

    // Signed by another key: the verdict and the message both say it does not verify.
    let other = ed_key();
    let report = judge(&token, &other, T0);
    let codes: Vec<&str> = report.problems.iter().map(|p| p.code).collect();
    assert_eq!(codes[0], "alg_missing", "{codes:?}");
    assert!(
        report.problems[0]
            .message
            .contains("does not verify as EdDSA either"),
        "{:?}",
        report.problems[0]
    );
    assert_eq!(report.signature, SignatureVerdict::Invalid);

    // Without a key nothing is claimed.
    let report = judge_unkeyed(&token, T0);
    assert_eq!(report.signature, SignatureVerdict::Unchecked);
    assert!(!report.problems[0].message.contains("verif"));
}

#[test]
fn alg_unsupported_for_hs256_and_none() {
    let key = ec_key();
    let (mut header, claims) = good_parts(&key);
    header["alg"] = json!("HS256");
    let hs = format!("{}.{}", signing_input(&header, &claims), b64url(&[7u8; 32]));
    let report = judge(&hs, &key, T0);
    let problem = only(&report, &["alg_unsupported"], "alg_unsupported");
    assert!(problem.message.contains("HS256") && problem.message.contains("HMAC"));
    assert_eq!(report.signature, SignatureVerdict::Invalid);

    header["alg"] = json!("none");
    let none = format!("{}.", signing_input(&header, &claims));
    let report = judge_unkeyed(&none, T0);
    only(&report, &["alg_unsupported"], "alg_unsupported");
}

#[test]
fn alg_key_mismatch_for_an_ed25519_key_signing_under_es256() {
    // ES256-only code given an Ed25519 secret: the header says ES256, the signature is Ed25519.
    let key = ed_key();
    let token = crafted(&key, |h, _| h["alg"] = json!("ES256"));
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["alg_key_mismatch"], "alg_key_mismatch");
    assert!(problem.message.contains("ES256") && problem.message.contains("EdDSA"));
    assert_eq!(report.signature, SignatureVerdict::Invalid);
}

#[test]
fn kid_missing() {
    let key = ec_key();
    let token = crafted(&key, |h, _| remove(h, "kid"));
    only(&judge(&token, &key, T0), &["kid_missing"], "kid_missing");
}

#[test]
fn nonce_missing_as_with_a_default_library_header() {
    let key = ec_key();
    let token = crafted(&key, |h, _| remove(h, "nonce"));
    let report = judge(&token, &key, T0);
    only(&report, &["nonce_missing"], "nonce_missing");
    assert_eq!(report.signature, SignatureVerdict::Valid);
}

#[test]
fn sub_missing() {
    let key = ed_key();
    let token = crafted(&key, |_, c| remove(c, "sub"));
    only(&judge(&token, &key, T0), &["sub_missing"], "sub_missing");
}

#[test]
fn kid_sub_mismatch_when_sub_holds_only_the_key_id() {
    let key = ec_key();
    let token = crafted(&key, |_, c| c["sub"] = json!("test-api-key"));
    let problem = only(
        &judge(&token, &key, T0),
        &["kid_sub_mismatch"],
        "kid_sub_mismatch",
    );
    assert!(problem.message.contains("test-api-key"));
}

#[test]
fn key_name_mismatch_when_the_key_id_is_used_for_the_full_name() {
    let key = ec_key();
    let token = crafted(&key, |h, c| {
        h["kid"] = json!("test-api-key");
        c["sub"] = json!("test-api-key");
    });
    let problem = only(
        &judge(&token, &key, T0),
        &["key_name_mismatch"],
        "key_name_mismatch",
    );
    assert!(problem.message.contains("only the key id"), "{problem:?}");
    assert!(problem.fix.contains(SDK_NAME));
}

#[test]
fn nbf_missing_and_exp_missing() {
    let key = ec_key();
    let token = crafted(&key, |_, c| remove(c, "nbf"));
    only(&judge(&token, &key, T0), &["nbf_missing"], "nbf_missing");
    let token = crafted(&key, |_, c| remove(c, "exp"));
    only(&judge(&token, &key, T0), &["exp_missing"], "exp_missing");
}

#[test]
fn nbf_not_numeric_and_exp_not_numeric_for_string_timestamps() {
    let key = ec_key();
    let token = crafted(&key, |_, c| {
        c["nbf"] = json!(T0.to_string());
        c["exp"] = json!((T0 + 120).to_string());
    });
    let report = judge(&token, &key, T0);
    let problem = only(
        &report,
        &["nbf_not_numeric", "exp_not_numeric"],
        "nbf_not_numeric",
    );
    assert!(problem.message.contains("\"1732000000\""), "{problem:?}");
    assert!(problem.fix.contains("\"nbf\": 1732000000"), "{problem:?}");
    assert_eq!(report.signature, SignatureVerdict::Valid);
}

#[test]
fn nbf_and_exp_must_be_integers_fractions_and_exponents_are_not_rounded() {
    let key = ec_key();
    // Half a second ahead: flooring it would hide a token Coinbase refuses.
    let token = crafted(&key, |_, c| c["nbf"] = json!(T0 as f64 + 0.5));
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["nbf_not_numeric"], "nbf_not_numeric");
    assert!(problem.message.contains("1732000000.5"), "{problem:?}");
    assert!(problem.message.contains("not an integer"), "{problem:?}");
    assert!(problem.fix.contains("int(time.time())"), "{problem:?}");
    assert!(!report.ok());

    // A whole number written as a float is not an integer either.
    let token = crafted(&key, |_, c| c["exp"] = json!((T0 + 120) as f64));
    let problem = only(
        &judge(&token, &key, T0),
        &["exp_not_numeric"],
        "exp_not_numeric",
    );
    assert!(problem.message.contains("1732000120.0"), "{problem:?}");
}

#[test]
fn huge_and_negative_times_are_reported_as_they_are_not_saturated() {
    let key = ec_key();
    let token = crafted(&key, |_, c| c["exp"] = json!(1e30));
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["exp_not_numeric"], "exp_not_numeric");
    assert!(
        problem.message.contains("exp 1e+30 is not a valid time"),
        "{problem:?}"
    );
    assert!(
        problem.message.contains("after the year 9999"),
        "{problem:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .all(|p| !p.message.contains("9223372")),
        "{:?}",
        report.problems
    );

    // The largest and smallest integers: no overflow, no saturated arithmetic in the reasons.
    let token = crafted(&key, |_, c| {
        c["nbf"] = json!(i64::MIN);
        c["exp"] = json!(u64::MAX);
    });
    let report = judge(&token, &key, T0);
    let codes: Vec<&str> = report.problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, ["nbf_not_numeric", "exp_not_numeric"]);
    assert!(
        report.problems[0].message.contains("before 1970"),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[1]
            .message
            .contains("exp 18446744073709551615 is not a valid time"),
        "{:?}",
        report.problems
    );
}

#[test]
fn not_yet_valid_names_clock_skew() {
    let key = ec_key();
    // Built on a machine whose clock runs 2 s ahead of the server's.
    let token = key.ws_jwt(T0 + 2);
    let problem = only(
        &judge(&token, &key, T0),
        &["not_yet_valid"],
        "not_yet_valid",
    );
    assert!(problem.message.contains("clock skew"), "{problem:?}");
    assert!(problem.message.contains("2 s"), "{problem:?}");
}

#[test]
fn expired_says_how_long_ago() {
    let key = ed_key();
    let token = key.ws_jwt(T0);
    let problem = only(
        &judge(&token, &key, T0 + 120 + 180),
        &["expired"],
        "expired",
    );
    assert!(problem.message.contains("3 min ago"), "{problem:?}");
}

#[test]
fn lifetime_too_long_for_an_hour_long_token() {
    let key = ec_key();
    let token = crafted(&key, |_, c| c["exp"] = json!(T0 + 3600));
    let problem = only(
        &judge(&token, &key, T0),
        &["lifetime_too_long"],
        "lifetime_too_long",
    );
    assert!(problem.message.contains("3600 s"));
}

#[test]
fn signature_invalid_for_another_key_and_for_a_tampered_token() {
    let key = ec_key();
    let other = load_key_parts(
        SDK_NAME,
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIK8RhbAwI5bbqss0gnoV5iHFo1k2ItGujDoUQ3iFVrEmoAoGCCqGSM49\nAwEHoUQDQgAEfJzo9gy74CkWYWmnihmhWNI4+5OPoQ8qh3xdoTowvejTqwC3+B3R\npM1GXaPE/zXj5EZCNEmYAmIVxmJyJ1brcg==\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap();
    let report = judge(&other.ws_jwt(T0), &key, T0);
    only(&report, &["signature_invalid"], "signature_invalid");
    assert_eq!(report.signature, SignatureVerdict::Invalid);

    // Claims changed after signing (exp pushed out by a minute, still within 120 s of nbf).
    let token = key.ws_jwt(T0);
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims = segment(&token, 1);
    claims["nbf"] = json!(T0 + 60);
    claims["exp"] = json!(T0 + 180);
    parts[1] = b64url(claims.to_string().as_bytes());
    let report = judge(&parts.join("."), &key, T0 + 60);
    only(&report, &["signature_invalid"], "signature_invalid");

    // Ed25519 too.
    let ed = ed_key();
    let ed_other = load_key_parts(
        SDK_NAME,
        "R7TZOLBzN1MXEoiKzanw1Y/RZyCz1tCQInSriBY2PojIRAmC68K5h9/7NDyauaEJL2MlVVWQtleKQIUUN8y2Jw==",
    )
    .unwrap();
    let report = judge(&ed_other.ws_jwt(T0), &ed, T0);
    only(&report, &["signature_invalid"], "signature_invalid");
}

#[test]
fn signature_der_encoded_with_and_without_the_key() {
    // What openssl-backed code produces: an ECDSA signature in ASN.1 DER.
    let key = ec_key();
    let (header, claims) = good_parts(&key);
    let input = signing_input(&header, &claims);
    let secret = p256::SecretKey::from_sec1_pem(SDK_EC_SECRET).unwrap();
    let signing = p256::ecdsa::SigningKey::from(&secret);
    let signature: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&signing, input.as_bytes());
    let der = signature.to_der();
    assert!(der.as_bytes().len() > 64 && der.as_bytes()[0] == 0x30);
    let token = format!("{input}.{}", b64url(der.as_bytes()));

    let report = judge(&token, &key, T0);
    let problem = only(&report, &["signature_der_encoded"], "signature_der_encoded");
    assert!(
        problem.message.contains("only its encoding is wrong"),
        "{problem:?}"
    );
    assert!(problem.fix.contains("r || s"), "{problem:?}");
    assert_eq!(report.signature, SignatureVerdict::Invalid);

    // Seen without any key, it is still recognised (and still an error).
    let report = judge_unkeyed(&token, T0);
    only(&report, &["signature_der_encoded"], "signature_der_encoded");
    assert_eq!(report.signature, SignatureVerdict::Invalid);
    assert!(!report.ok());
}

#[test]
fn iss_unexpected_warns_and_names_the_pre_2024_issuer() {
    let key = ec_key();
    let token = crafted(&key, |_, c| c["iss"] = json!("coinbase-cloud"));
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["iss_unexpected"], "iss_unexpected");
    assert_eq!(problem.severity, Severity::Warning);
    assert!(problem.message.contains("coinbase-cloud"));
    assert!(report.ok(), "a warning does not fail the token");
    assert_eq!(report.signature, SignatureVerdict::Valid);
}

#[test]
fn aud_present_warns_for_the_old_audience_claim() {
    let key = ed_key();
    let token = crafted(&key, |_, c| c["aud"] = json!(["public_websocket_api"]));
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["aud_present"], "aud_present");
    assert_eq!(problem.severity, Severity::Warning);
    assert!(report.ok());
}

#[test]
fn uri_present_warns_for_a_rest_token_on_the_websocket() {
    let key = ec_key();
    let token = key.rest_jwt("GET", "/api/v3/brokerage/accounts", T0);
    let report = judge(&token, &key, T0);
    let problem = only(&report, &["uri_present"], "uri_present");
    assert_eq!(problem.severity, Severity::Warning);
    assert!(problem.message.contains("api.coinbase.com"));
    assert!(report.ok());
}

#[test]
fn key_unknown_is_an_error_naming_the_kid() {
    let problem = key_unknown("organizations/x/apiKeys/nobody");
    assert_eq!(problem.code, "key_unknown");
    assert_eq!(problem.severity, Severity::Error);
    assert!(problem.message.contains("organizations/x/apiKeys/nobody"));
    assert!(!problem.fix.is_empty());
}

// ---- The whole story from the issue, and the catalogue ----

#[test]
fn the_typical_hand_rolled_token_gets_every_mistake_named_errors_first() {
    // jsonwebtoken-style struct header with `algorithm`, no nonce, string times, old issuer.
    let key = ec_key();
    let token = crafted(&key, |h, c| {
        remove(h, "alg");
        remove(h, "nonce");
        h["algorithm"] = json!("ES256");
        c["nbf"] = json!(T0.to_string());
        c["exp"] = json!((T0 + 120).to_string());
        c["iss"] = json!("coinbase-cloud");
    });
    let report = judge(&token, &key, T0);
    assert_eq!(
        codes(&report.problems),
        [
            "alg_missing",
            "nonce_missing",
            "nbf_not_numeric",
            "exp_not_numeric",
            "iss_unexpected"
        ]
    );
    assert_eq!(report.first_error().unwrap().code, "alg_missing");
    assert!(!report.ok());
}

#[test]
fn the_code_catalogue_matches_the_issue() {
    let names: Vec<&str> = ALL_CODES.iter().map(|c| c.name).collect();
    let warnings: Vec<&str> = ALL_CODES
        .iter()
        .filter(|c| c.severity == Severity::Warning)
        .map(|c| c.name)
        .collect();
    assert_eq!(
        warnings,
        [
            "iss_unexpected",
            "aud_present",
            "uri_present",
            "literal_newlines",
            "key_name_format",
            "file_permissions"
        ]
    );
    for required in [
        "malformed_token",
        "alg_missing",
        "alg_unsupported",
        "alg_key_mismatch",
        "kid_missing",
        "nonce_missing",
        "sub_missing",
        "kid_sub_mismatch",
        "key_name_mismatch",
        "nbf_missing",
        "exp_missing",
        "nbf_not_numeric",
        "exp_not_numeric",
        "not_yet_valid",
        "expired",
        "lifetime_too_long",
        "signature_invalid",
        "signature_der_encoded",
        "file_unreadable",
        "json_invalid",
        "name_missing",
        "private_key_missing",
        "pem_label_unknown",
        "pem_invalid",
        "curve_unsupported",
        "key_not_base64",
        "ed25519_length",
        "ed25519_pubkey_mismatch",
        "legacy_exchange_key",
        "key_unknown",
    ] {
        assert!(names.contains(&required), "{required} missing");
    }
}

#[test]
fn public_keys_of_the_two_algorithms_are_distinguished() {
    let ec = ec_key().public_key();
    let ed = ed_key().public_key();
    assert!(matches!(ec, PublicKey::P256(_)));
    assert!(matches!(ed, PublicKey::Ed25519(_)));
    assert_eq!(ec.algorithm(), Algorithm::Es256);
    assert_eq!(ed.algorithm(), Algorithm::EdDsa);
}
