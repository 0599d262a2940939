//! Key material from users: the key JSON parser (`load_key_json`) and the name + secret pair
//! (`load_key_parts`, as from the environment) never panic, a failure always names an error,
//! and a key that loads signs a token that verifies.
#![no_main]

use cbbook::auth::{
    InspectOptions, SignatureVerdict, inspect_token, load_key_json, load_key_parts,
};
use libfuzzer_sys::fuzz_target;

fn check(result: Result<cbbook::auth::Key, cbbook::auth::KeyFailure>) {
    match result {
        Ok(key) => {
            let public = key.public_key();
            let token = key.ws_jwt(1_732_000_000);
            let report = inspect_token(
                &token,
                &InspectOptions {
                    key: Some(&public),
                    expected_name: Some(key.name()),
                    now_unix: 1_732_000_001,
                    leeway_secs: 0,
                    websocket: true,
                },
            );
            assert_eq!(report.signature, SignatureVerdict::Valid);
            let _ = format!("{key:?}");
        }
        Err(failure) => {
            assert!(failure.problems.iter().any(|p| p.is_error()), "{failure:?}");
            let _ = failure.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(load_key_json(text));
    // The environment pair: name, then secret, split at the first NUL.
    let (name, secret) = text
        .split_once('\0')
        .unwrap_or(("organizations/o/apiKeys/k", text));
    check(load_key_parts(name, secret));
});
