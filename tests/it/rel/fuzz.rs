//! The quick, in-CI versions of the fuzz targets in `fuzz/` (the long runs use cargo-fuzz; see
//! RELIABILITY.md): random bytes and byte-level mutations of real inputs for the frame parser
//! and core, the JWT decoder, the key loader and the recording reader. None may panic; each
//! keeps its promises (the two frame parsers agree, a failed key names an error, a loaded key
//! signs valid tokens, the reader ends with bounded results and reads a line alike alone and
//! inside a file).
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
use cbbook::feed::record::{Entry, Polled, RecordError, RecordReader};
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

// ---- Recordings ----

/// Lines of a recording (every kind of entry, a bare frame, broken and blank lines), as the
/// material mutated below.
const RECORDING_LINES: [&str; 10] = [
    r#"{"t":1675974770000,"connect":{"url":"wss://advanced-trade-ws.coinbase.com","authenticated":false,"products":["BTC-USD"]}}"#,
    r#"{"t":1675974771000,"frame":{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":1,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2023-02-09T20:32:51Z","price_level":"21921.5","new_quantity":"1"}]}]}}"#,
    r#"{"t":1675974771100,"c":2,"text":"garbage\n{"}"#,
    r#"{"t":1675974771200,"binary":"//4ACoA="}"#,
    r#"{"t":1675974771400,"resync":"user"}"#,
    r#"{"t":1675974771500,"unread":"a frame over the 64 MiB limit"}"#,
    r#"{"t":1675974771600,"disconnect":"the server closed the connection"}"#,
    r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:52Z","sequence_num":2,"events":[]}"#,
    r#"{"t":"x"}"#,
    "",
];

/// The line limit the reader is run with: small, so that over-long lines and the limit on
/// skipped data (twice this) are reached by small inputs.
const FUZZ_MAX_LINE: usize = 512;

fn recording_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000),
        (
            prop::collection::vec(prop::sample::select(RECORDING_LINES.to_vec()), 1..12),
            prop::collection::vec(mutation(), 0..6),
            prop::sample::select(vec!["\n", "\r\n"]),
        )
            .prop_map(|(lines, ms, eol)| mutate(lines.join(eol).into_bytes(), &ms)),
    ]
}

/// The entries of `bytes` read as a whole file, through a core as replay does, and the error
/// that stopped the reader, if any (the fuzz target's checks).
fn read_recording(
    bytes: &[u8],
    core: &mut FeedCore,
) -> Result<(Vec<String>, Option<RecordError>), TestCaseError> {
    let mut reader =
        RecordReader::new(bytes, std::path::Path::new("fuzz.jsonl")).with_max_line(FUZZ_MAX_LINE);
    let mut entries = Vec::new();
    let mut steps = 0usize;
    let error = loop {
        steps += 1;
        prop_assert!(steps <= bytes.len() + 2, "the reader does not end");
        match reader.poll_entry_on() {
            Ok(Polled::Entry(entry, conn)) => {
                let t = 10 + entries.len() as i64;
                match &entry {
                    Entry::Frame { text, .. } => {
                        prop_assert!(text.len() <= FUZZ_MAX_LINE, "an entry over the limit");
                        core.on_frame_bytes(text, t);
                    }
                    Entry::Binary { bytes, .. } => {
                        core.on_binary_frame(bytes, t);
                    }
                    Entry::Unread { reason, .. } => core.count_bad_frame(t, reason.clone()),
                    Entry::Connect { .. } => core.connection_started(t, false),
                    Entry::Continued { .. } => core.connection_continued(t, false),
                    Entry::Disconnect { reason, .. } => core.connection_lost(t, reason),
                    Entry::Resync { .. } => core.resync(t),
                }
                entries.push(format!("{conn} {entry:?}"));
            }
            Ok(Polled::Busy) => {}
            Ok(Polled::End) => break None,
            Err(error) => break Some(error),
        }
    };
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    prop_assert!(
        reader.lines() <= newlines + 1,
        "more lines than the input has"
    );
    prop_assert!(entries.len() as u64 <= reader.lines());
    prop_assert!(reader.broken_lines() <= reader.non_blank_lines());
    prop_assert!(reader.too_long_lines() <= reader.broken_lines());
    Ok((entries, error))
}

fn check_recording(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut core = FeedCore::new("fuzz", &[], false, 0);
    core.set_auto_products(true);
    let (entries, error) = read_recording(bytes, &mut core)?;
    if let Some(error) = &error {
        prop_assert!(
            matches!(
                error,
                RecordError::NotARecording { .. }
                    | RecordError::NoEntry { .. }
                    | RecordError::Compressed { .. }
            ),
            "{}",
            error
        );
        prop_assert!(error.to_string().contains("fuzz.jsonl"), "{}", error);
    }
    prop_assert!(core.stats().frames <= entries.len() as u64);
    let _ = core.view(&ViewRequest::default(), 1_000);
    prop_assert!(serde_json::from_str::<serde_json::Value>(&core.dump_books()).is_ok());
    // Each line alone (after a blank line, so that the start-of-file checks see nothing of it,
    // except for the first, which is the start of the file) reads to the same entry.
    let mut alone = Vec::new();
    let pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    for (i, line) in pieces.iter().enumerate() {
        let mut file = if i == 0 { Vec::new() } else { b"\n".to_vec() };
        file.extend_from_slice(line);
        // With its line break, as in the file (the limit counts it).
        if i + 1 < pieces.len() {
            file.push(b'\n');
        }
        let mut scratch = FeedCore::new("fuzz", &[], false, 0);
        match read_recording(&file, &mut scratch)? {
            (found, None) => alone.extend(found),
            // A compressed file's magic, or a line over twice the limit: nothing to compare.
            (_, Some(_)) => return Ok(()),
        }
    }
    if error.is_none() {
        prop_assert_eq!(entries, alone, "a line reads differently inside the file");
    } else {
        prop_assert!(
            alone.starts_with(&entries),
            "a line reads differently inside the file"
        );
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
    fn recordings_never_panic_the_reader_and_its_results_stay_bounded(
        bytes in recording_input()
    ) {
        check_recording(&bytes)?;
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
    let recordings = read("recording_reader");
    assert!(recordings.len() >= 4);
    for recording in &recordings {
        check_recording(recording).unwrap();
    }
}
