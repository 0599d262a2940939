//! The quick, in-CI versions of the fuzz targets in `fuzz/` (the long runs use cargo-fuzz; see
//! RELIABILITY.md): random bytes and byte-level mutations of real inputs for the frame parser
//! and core, the JWT decoder and the key loader. None may panic; each keeps its promises
//! (the two frame parsers agree, a failed key names an error, a loaded key signs valid tokens).
//! `PROPTEST_CASES=N` runs longer.

use crate::support::common;
use crate::support::rel as rel_support;

use std::sync::OnceLock;

use cbbook::auth::{
    InspectOptions, Key, KeyFailure, PublicKey, SignatureVerdict, inspect_token, load_key_json,
    load_key_parts, token_kid,
};
use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{BookState, ViewRequest};
use cbbook::feed::protocol::{parse_bytes, parse_general};
use proptest::prelude::*;
use rel_support::cases;

/// A byte-level mutation, as fuzzers make them.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Copy a range over another place (duplicates structure: keys, objects, digits).
    Splice(usize, usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    prop::sample::select(b"{}[]\",:-.0123456789eE\\ntu".to_vec())
                ],
                1..8
            )
        )
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 1usize..32, any::<usize>())
            .prop_map(|(from, n, to)| Mutation::Splice(from, n, to)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(at, b) if len > 0 => bytes[at % len] = *b,
            Mutation::Insert(at, new) => {
                let at = at % (len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Delete(at, n) if len > 0 => {
                let at = at % len;
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Splice(from, n, to) if len > 0 => {
                let from = from % len;
                let piece: Vec<u8> = bytes[from..(from + n).min(len)].to_vec();
                let to = to % (len + 1);
                bytes.splice(to..to, piece);
            }
            Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
            _ => {}
        }
    }
    bytes
}

// ---- Frames ----

const FRAMES: [&str; 9] = [
    include_str!("../../../src/feed/fixtures/l2_snapshot.json"),
    include_str!("../../../src/feed/fixtures/l2_update_several_products.json"),
    include_str!("../../../src/feed/fixtures/l2_no_client_id.json"),
    include_str!("../../../src/feed/fixtures/l2_escaped_text.json"),
    include_str!("../../../src/feed/fixtures/heartbeat_integer.json"),
    include_str!("../../../src/feed/fixtures/heartbeat_string.json"),
    include_str!("../../../src/feed/fixtures/subscriptions.json"),
    include_str!("../../../src/feed/fixtures/error_auth_with_reason.json"),
    include_str!("../../../src/feed/fixtures/ticker.json"),
];

fn frame_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (
            prop::sample::select(FRAMES.to_vec()),
            prop::collection::vec(mutation(), 1..6)
        )
            .prop_map(|(frame, ms)| mutate(frame.trim_end().as_bytes().to_vec(), &ms)),
    ]
}

/// One input through both parsers and a core (the fuzz target's checks).
fn check_frames(frames: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let products = ["BTC-USD".to_owned(), "ETH-USD".to_owned()];
    let mut core = FeedCore::new("ws://fuzz", &products, false, 0);
    core.connection_started(0, false);
    core.on_frame(FRAMES[0].trim_end(), 1);
    for (i, frame) in frames.iter().enumerate() {
        if let Ok(fast) = parse_bytes(frame) {
            let text = std::str::from_utf8(frame);
            prop_assert!(text.is_ok(), "accepted bytes that are not UTF-8");
            prop_assert_eq!(Some(fast), parse_general(text.unwrap()).ok());
        }
        core.on_frame_bytes(frame, 2 + i as i64);
    }
    let request = ViewRequest {
        depth: 10,
        group_ticks: 7,
        chart_depth: 5,
        rows_for: None,
        ..ViewRequest::default()
    };
    for product in core.view(&request, 1_000).products {
        if let (Some((bid, _)), Some((ask, _))) = (product.best_bid, product.best_ask) {
            prop_assert_eq!(product.crossed, bid >= ask);
        }
        // Nor as a good book: a crossed book is never live.
        prop_assert!(!(product.crossed && product.state == BookState::Live));
    }
    prop_assert!(serde_json::from_str::<serde_json::Value>(&core.dump_books()).is_ok());
    Ok(())
}

// ---- Tokens ----

fn keys() -> &'static (Key, PublicKey, PublicKey, Vec<String>) {
    static KEYS: OnceLock<(Key, PublicKey, PublicKey, Vec<String>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ec = load_key_json(include_str!("../../../assets/demo-key.json")).unwrap();
        let ed = load_key_json(include_str!("../../../assets/demo-key-ed25519.json")).unwrap();
        let tokens = vec![
            ec.ws_jwt(1_732_000_000),
            ed.ws_jwt(1_732_000_000),
            ec.rest_jwt("GET", "/api/v3/brokerage/accounts", 1_732_000_000),
        ];
        let (pe, pd) = (ec.public_key(), ed.public_key());
        (ec, pe, pd, tokens)
    })
}

fn token_input() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        "[A-Za-z0-9_.=-]{0,300}",
        (0usize..3, prop::collection::vec(mutation(), 1..5)).prop_map(|(i, ms)| {
            let token = keys().3[i].clone().into_bytes();
            String::from_utf8_lossy(&mutate(token, &ms)).into_owned()
        }),
    ]
}

fn check_token(token: &str) -> Result<(), TestCaseError> {
    let (ec, ec_public, ed_public, _) = keys();
    let _ = token_kid(token);
    for key in [None, Some(ec_public), Some(ed_public)] {
        let report = inspect_token(
            token,
            &InspectOptions {
                key,
                expected_name: Some(ec.name()),
                now_unix: 1_732_000_001,
                leeway_secs: 1,
                websocket: true,
            },
        );
        prop_assert_eq!(report.ok(), report.first_error().is_none());
        if report.ok() {
            prop_assert!(report.header.is_some() && report.claims.is_some());
        }
        prop_assert!(serde_json::to_string(&report).is_ok());
    }
    Ok(())
}

// ---- Keys ----

const KEY_FILES: [&str; 6] = [
    include_str!("../../../assets/demo-key.json"),
    include_str!("../../../assets/demo-key-ed25519.json"),
    include_str!("../../fixtures/keys/pkcs8-p256.json"),
    include_str!("../../fixtures/keys/pkcs8-ed25519.json"),
    include_str!("../../fixtures/keys/literal-newlines.json"),
    include_str!("../../fixtures/keys/legacy-exchange.json"),
];

fn key_input() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        (
            prop::sample::select(KEY_FILES.to_vec()),
            prop::collection::vec(mutation(), 1..5)
        )
            .prop_map(|(file, ms)| String::from_utf8_lossy(&mutate(
                file.as_bytes().to_vec(),
                &ms
            ))
            .into_owned()),
    ]
}

fn check_key(result: Result<Key, KeyFailure>) -> Result<(), TestCaseError> {
    match result {
        Ok(key) => {
            let public = key.public_key();
            let report = inspect_token(
                &key.ws_jwt(1_732_000_000),
                &InspectOptions {
                    key: Some(&public),
                    expected_name: Some(key.name()),
                    now_unix: 1_732_000_001,
                    leeway_secs: 0,
                    websocket: true,
                },
            );
            prop_assert_eq!(report.signature, SignatureVerdict::Valid);
        }
        Err(failure) => {
            prop_assert!(
                failure.problems.iter().any(|p| p.is_error()),
                "{:?}",
                failure
            );
            prop_assert!(!failure.to_string().is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(500)))]

    #[test]
    fn frames_never_panic_and_the_parsers_agree(
        frames in prop::collection::vec(frame_input(), 1..8)
    ) {
        check_frames(&frames)?;
    }

    #[test]
    fn tokens_never_panic_the_decoder(token in token_input()) {
        check_token(&token)?;
    }

    #[test]
    fn key_files_and_pairs_never_panic_the_loader(text in key_input()) {
        check_key(load_key_json(&text))?;
        let (name, secret) = text.split_once('\0').unwrap_or(("organizations/o/apiKeys/k", &text));
        check_key(load_key_parts(name, secret))?;
    }
}

/// The inputs the long cargo-fuzz runs found worth keeping (`fuzz/seeds/`) pass the same
/// checks; a crash found by a fuzzer is added there with its fix.
#[test]
fn fuzz_seeds_pass_the_checks() {
    let root = common::repo_root().join("fuzz/seeds");
    let read = |target: &str| -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(root.join(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    let frames = read("frame_parser");
    assert!(frames.len() >= 10);
    for frame in &frames {
        let lines: Vec<Vec<u8>> = frame.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        check_frames(&lines).unwrap();
    }
    for token in read("jwt_decoder") {
        check_token(&String::from_utf8_lossy(&token)).unwrap();
    }
    for key in read("key_loader") {
        check_key(load_key_json(&String::from_utf8_lossy(&key))).unwrap();
    }
}
