//! Frames and helpers shared by the core's unit tests: one way to write an `l2_data` frame or a
//! heartbeat, so each module's tests read the same.

use crate::book::Side;
use crate::feed::core::FeedCore;
use crate::feed::events::{BookState, FeedEvent};

pub(super) fn products() -> Vec<String> {
    vec!["BTC-USD".to_owned(), "ETH-USD".to_owned()]
}

pub(super) fn core() -> FeedCore {
    let mut core = FeedCore::new("ws://test", &products(), false, 1_000);
    core.connection_started(1_000, false);
    core.drain_events();
    core
}

pub(super) fn l2(seq: u64, kind: &str, product: &str, levels: &[(&str, &str, &str)]) -> String {
    let updates: Vec<String> = levels
        .iter()
        .map(|(side, price, qty)| {
            format!(r#"{{"side":"{side}","event_time":"1970-01-01T00:00:00Z","price_level":"{price}","new_quantity":"{qty}"}}"#)
        })
        .collect();
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"{product}","updates":[{}]}}]}}"#,
        updates.join(",")
    )
}

pub(super) fn heartbeat(seq: u64) -> String {
    format!(
        r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":{seq},"events":[{{"heartbeat_counter":{seq}}}]}}"#
    )
}

pub(super) fn state(core: &FeedCore, product: &str) -> BookState {
    core.product(product).unwrap().state
}

pub(super) fn dump(core: &FeedCore, product: &str) -> (Vec<[String; 2]>, Vec<[String; 2]>) {
    let b = &core.product(product).unwrap().book;
    (b.dump_side(Side::Bid), b.dump_side(Side::Ask))
}

pub(super) fn pair(p: &str, q: &str) -> [String; 2] {
    [p.to_owned(), q.to_owned()]
}

pub(super) fn events(core: &mut FeedCore) -> Vec<FeedEvent> {
    core.drain_events().collect()
}
