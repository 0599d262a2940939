//! JWTs from anyone: `inspect_token` (decode, judge, verify with each kind of key) and
//! `token_kid` never panic, and a report without a decodable header has a problem that says so.
#![no_main]

use std::sync::OnceLock;

use cbbook::auth::{InspectOptions, Key, PublicKey, inspect_token, load_key_json, token_kid};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static (Key, PublicKey, PublicKey) {
    static KEYS: OnceLock<(Key, PublicKey, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = load_key_json(include_str!("../../assets/demo-key.json")).expect("demo key");
        let ed =
            load_key_json(include_str!("../../assets/demo-key-ed25519.json")).expect("demo key");
        let (ec_public, ed_public) = (ec.public_key(), ed.public_key());
        (ec, ec_public, ed_public)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (ec, ec_public, ed_public) = keys();
    let _ = token_kid(token);
    for key in [None, Some(ec_public), Some(ed_public)] {
        for websocket in [true, false] {
            let report = inspect_token(
                token,
                &InspectOptions {
                    key,
                    expected_name: Some(ec.name()),
                    now_unix: 1_732_000_000,
                    leeway_secs: 1,
                    websocket,
                },
            );
            if report.ok() {
                assert!(report.header.is_some() && report.claims.is_some());
            } else {
                assert!(report.first_error().is_some());
            }
            let _ = serde_json::to_string(&report);
        }
    }
});
