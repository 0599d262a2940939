//! Server frames: the parser (fast path and serde path must agree) and the core that applies
//! them to books. The input is split at newlines into frames fed to one core, after a valid
//! snapshot, so that sequences of frames (gaps, stale numbers, updates) are explored too.
#![no_main]

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::{BookState, ViewRequest};
use cbbook::feed::protocol::{parse_bytes, parse_general};
use libfuzzer_sys::fuzz_target;

const SNAPSHOT: &str = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21922.1","new_quantity":"0.5"}]}]}"#;

fuzz_target!(|data: &[u8]| {
    // Differential: whatever the fast path accepts, the serde path reads identically.
    if let Ok(fast) = parse_bytes(data) {
        let text =
            std::str::from_utf8(data).expect("parse_bytes accepted bytes that are not UTF-8");
        let general = parse_general(text).expect("parse_bytes accepted what parse_general refuses");
        assert_eq!(fast, general, "the two parsers disagree");
    }
    let products = ["BTC-USD".to_owned(), "ETH-USD".to_owned()];
    let mut core = FeedCore::new("ws://fuzz", &products, false, 0);
    core.connection_started(0, false);
    core.on_frame(SNAPSHOT, 1);
    for (i, frame) in data.split(|&b| b == b'\n').enumerate() {
        core.on_frame_bytes(frame, 2 + i as i64);
    }
    let request = ViewRequest {
        depth: 10,
        group_ticks: 7,
        chart_depth: 5,
    };
    let view = core.view(&request, 1_000);
    for product in &view.products {
        // A book is never shown crossed without saying so.
        if let (Some((bid, _)), Some((ask, _))) = (product.best_bid, product.best_ask) {
            assert_eq!(product.crossed, bid >= ask);
        }
        // Nor as a good book: a crossed book is never live.
        assert!(!(product.crossed && product.state == BookState::Live));
    }
    let dump = core.dump_books();
    serde_json::from_str::<serde_json::Value>(&dump).expect("the dump is JSON");
    core.drain_events().for_each(drop);
});
