//! `-USDC` aliases and refusals that name no product (docs/feed.md, "Aliases" and "Error
//! frames"), across the core's modules.

use crate::feed::core::test_frames::*;
use crate::feed::core::{FeedCore, Outcome};
use crate::feed::events::{BookState, FeedEvent, ViewRequest};

fn core_for(asked: &[&str]) -> FeedCore {
    let asked: Vec<String> = asked.iter().map(|p| (*p).to_owned()).collect();
    let mut c = FeedCore::new("ws://test", &asked, false, 0);
    c.connection_started(0, false);
    c.drain_events();
    c
}

fn ack(seq: u64, level2: &[&str]) -> String {
    let ids: Vec<String> = level2.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"{{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":{seq},"events":[{{"subscriptions":{{"heartbeats":["heartbeats"],"level2":[{}]}}}}]}}"#,
        ids.join(",")
    )
}

fn subscribe(c: &mut FeedCore, products: &[&str]) {
    let ids: Vec<String> = products.iter().map(|p| format!("\"{p}\"")).collect();
    let message = format!(
        r#"{{"type":"subscribe","product_ids":[{}],"channel":"level2"}}"#,
        ids.join(",")
    );
    c.subscribe_sent(1, "level2", message, None);
    c.subscribe_sent(
        1,
        "heartbeats",
        r#"{"type":"subscribe","product_ids":[],"channel":"heartbeats"}"#.into(),
        None,
    );
}

const STREAM_LIMIT: &str =
    r#"{"type":"error","message":"too many L2 streams requested in a single session"}"#;

#[test]
fn a_usdc_product_alone_is_fed_by_the_usd_events() {
    let mut c = core_for(&["BTC-USDC"]);
    let out = c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
    assert!(out.subscribed);
    assert_eq!(state(&c, "BTC-USDC"), BookState::Live);
    c.on_frame(&l2(1, "update", "BTC-USD", &[("offer", "101", "2")]), 2);
    assert_eq!(
        dump(&c, "BTC-USDC"),
        (vec![pair("100", "1")], vec![pair("101", "2")])
    );
    // Everything the user sees speaks the id asked for.
    assert_eq!(c.products(), ["BTC-USDC"]);
    assert_eq!(
        c.dump_books(),
        r#"{"BTC-USDC":{"state":"live","sequence_num":1,"bids":[["100","1"]],"asks":[["101","2"]]}}"#
    );
    assert_eq!(
        events(&mut c),
        [FeedEvent::Snapshot {
            at_ms: 1,
            product: "BTC-USDC".into(),
            bids: 1,
            asks: 0
        }]
    );
    let view = c.view(&ViewRequest::default(), 3);
    assert_eq!(view.products[0].product, "BTC-USDC");
    assert_eq!(view.products[0].served_as.as_deref(), Some("BTC-USD"));
    assert_eq!(c.stats().updates, 2);
    assert_eq!(c.stats().ignored_updates, 0);
}

#[test]
fn usd_and_usdc_asked_together_are_two_books_fed_by_the_same_events() {
    let mut c = core_for(&["BTC-USD", "BTC-USDC"]);
    c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
    assert_eq!(state(&c, "BTC-USD"), BookState::Live);
    assert_eq!(state(&c, "BTC-USDC"), BookState::Live);
    c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "99", "3")]), 2);
    let both = (vec![pair("100", "1"), pair("99", "3")], vec![]);
    assert_eq!(dump(&c, "BTC-USD"), both);
    assert_eq!(dump(&c, "BTC-USDC"), both);
    // One snapshot event per book, each under its own name.
    let snapshots: Vec<String> = events(&mut c)
        .into_iter()
        .filter_map(|e| match e {
            FeedEvent::Snapshot { product, .. } => Some(product),
            _ => None,
        })
        .collect();
    assert_eq!(snapshots, ["BTC-USD", "BTC-USDC"]);
    // The frames' levels are counted once; each book counts what it applied.
    assert_eq!(c.stats().updates, 2);
    assert_eq!(c.product("BTC-USD").unwrap().updates, 2);
    assert_eq!(c.product("BTC-USDC").unwrap().updates, 2);
    // Separate state: refusing one leaves the other live and fed.
    let refusal = r#"{"type":"error","message":"failure to subscribe","reason":"BTC-USDC is not a valid product"}"#;
    assert!(c.on_frame(refusal, 3).resubscribe);
    assert_eq!(state(&c, "BTC-USDC"), BookState::Refused);
    assert_eq!(state(&c, "BTC-USD"), BookState::Live);
    c.on_frame(&l2(2, "update", "BTC-USD", &[("bid", "99", "0")]), 4);
    assert_eq!(dump(&c, "BTC-USD"), (vec![pair("100", "1")], vec![]));
    assert_eq!(dump(&c, "BTC-USDC"), (vec![], vec![]));
    assert_eq!(c.active_products(), ["BTC-USD"]);
    let view = c.view(&ViewRequest::default(), 5);
    assert_eq!(view.products[0].served_as, None);
    assert_eq!(view.products[1].served_as.as_deref(), Some("BTC-USD"));
}

#[test]
fn a_frame_of_the_general_parser_feeds_both_books_too() {
    let mut c = core_for(&["BTC-USDC", "BTC-USD"]);
    // Whitespace: not the compact form, so the general parser reads it.
    let frame = r#"{ "channel": "l2_data", "sequence_num": 0, "events": [ {"type": "snapshot", "product_id": "BTC-USD", "updates": [{"side": "bid", "event_time": "1970-01-01T00:00:00Z", "price_level": "100.50", "new_quantity": "1"}]} ] }"#;
    c.on_frame(frame, 1);
    for p in ["BTC-USD", "BTC-USDC"] {
        assert_eq!(state(&c, p), BookState::Live, "{p}");
        assert_eq!(dump(&c, p), (vec![pair("100.5", "1")], vec![]), "{p}");
    }
    assert_eq!(c.stats().updates, 1);
}

#[test]
fn usdt_usdc_and_eurc_usdc_are_markets_of_their_own() {
    let mut c = core_for(&["USDT-USDC", "EURC-USDC"]);
    c.on_frame(&l2(0, "snapshot", "USDT-USD", &[("bid", "1", "1")]), 1);
    c.on_frame(&l2(1, "snapshot", "EURC-USD", &[("bid", "1", "1")]), 1);
    assert_eq!(state(&c, "USDT-USDC"), BookState::Waiting);
    assert_eq!(state(&c, "EURC-USDC"), BookState::Waiting);
    assert_eq!(c.stats().ignored_updates, 2);
    c.on_frame(
        &l2(2, "snapshot", "USDT-USDC", &[("bid", "0.9998", "5")]),
        2,
    );
    assert_eq!(state(&c, "USDT-USDC"), BookState::Live);
    let view = c.view(&ViewRequest::default(), 3);
    assert!(view.products.iter().all(|p| p.served_as.is_none()));
}

#[test]
fn a_server_that_does_not_alias_feeds_the_usdc_book_under_its_own_id() {
    let mut c = core_for(&["BTC-USDC"]);
    c.on_frame(&l2(0, "snapshot", "BTC-USDC", &[("bid", "100", "1")]), 1);
    c.on_frame(&l2(1, "update", "BTC-USDC", &[("bid", "99", "1")]), 2);
    assert_eq!(state(&c, "BTC-USDC"), BookState::Live);
    assert_eq!(
        dump(&c, "BTC-USDC"),
        (vec![pair("100", "1"), pair("99", "1")], vec![])
    );
    // Served as itself: the view says so.
    let view = c.view(&ViewRequest::default(), 3);
    assert_eq!(view.products[0].served_as, None);
}

#[test]
fn with_a_server_that_does_not_alias_both_books_keep_their_own_markets() {
    let mut c = core_for(&["BTC-USD", "BTC-USDC"]);
    c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
    // BTC-USDC's own snapshot replaces what BTC-USD's gave it, and from now on BTC-USD's
    // events are another market's.
    c.on_frame(&l2(1, "snapshot", "BTC-USDC", &[("bid", "200", "1")]), 2);
    c.on_frame(&l2(2, "update", "BTC-USD", &[("bid", "99", "1")]), 3);
    c.on_frame(&l2(3, "update", "BTC-USDC", &[("bid", "199", "1")]), 4);
    assert_eq!(
        dump(&c, "BTC-USD"),
        (vec![pair("100", "1"), pair("99", "1")], vec![])
    );
    assert_eq!(
        dump(&c, "BTC-USDC"),
        (vec![pair("200", "1"), pair("199", "1")], vec![])
    );
    // Even after a reconnect.
    c.connection_started(5, false);
    c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "101", "1")]), 6);
    assert_eq!(state(&c, "BTC-USDC"), BookState::Desynced);
    assert_eq!(
        dump(&c, "BTC-USDC"),
        (vec![pair("200", "1"), pair("199", "1")], vec![])
    );
}

#[test]
fn the_ack_may_name_the_id_asked_for_or_the_id_served() {
    for acked in ["BTC-USDC", "BTC-USD"] {
        let mut c = core_for(&["BTC-USDC", "ETH-USD"]);
        let out = c.on_frame(&ack(0, &[acked, "ETH-USD"]), 1);
        assert!(out.subscribed, "{acked}");
        assert_eq!(
            c.auth().acknowledged["level2"],
            ["BTC-USDC", "ETH-USD"],
            "{acked}"
        );
        let ev = events(&mut c);
        let FeedEvent::Subscribed { subscriptions, .. } = &ev[0] else {
            panic!("{ev:?}");
        };
        assert_eq!(subscriptions["level2"], ["BTC-USDC", "ETH-USD"], "{acked}");
    }
    // Both asked, the served id acked once: both acknowledged.
    let mut c = core_for(&["BTC-USD", "BTC-USDC"]);
    assert!(c.on_frame(&ack(0, &["BTC-USD"]), 1).subscribed);
    assert_eq!(c.auth().acknowledged["level2"], ["BTC-USD", "BTC-USDC"]);
    // An ack of nothing we asked for is kept as it came, and is no subscribe of ours.
    let mut c = core_for(&["BTC-USDC"]);
    assert!(!c.on_frame(&ack(0, &["SOL-USD"]), 1).subscribed);
    assert_eq!(c.auth().acknowledged["level2"], ["SOL-USD"]);
}

#[test]
fn a_refusal_may_name_the_id_asked_for_or_the_id_served() {
    for named in ["BTC-USDC", "BTC-USD"] {
        let mut c = core_for(&["BTC-USDC", "ETH-USD"]);
        let frame = format!(
            r#"{{"type":"error","message":"failure to subscribe","reason":"{named} is not a valid product"}}"#
        );
        let out = c.on_frame(&frame, 1);
        assert!(out.resubscribe && !out.stream_limit, "{named}");
        assert_eq!(state(&c, "BTC-USDC"), BookState::Refused, "{named}");
        assert_eq!(c.active_products(), ["ETH-USD"], "{named}");
        let reason = format!("{named} is not a valid product");
        assert_eq!(
            c.refused_products(),
            [("BTC-USDC".to_owned(), reason.clone())]
        );
        assert!(events(&mut c).contains(&FeedEvent::ProductRefused {
            at_ms: 1,
            product: "BTC-USDC".into(),
            reason
        }));
    }
}

#[test]
fn the_stream_limit_refuses_the_products_of_the_subscribe_it_answers() {
    let mut c = core_for(&["BTC-USD", "ETH-USD"]);
    subscribe(&mut c, &["BTC-USD", "ETH-USD"]);
    c.drain_events();
    let out = c.on_frame(STREAM_LIMIT, 5);
    assert_eq!(
        out,
        Outcome {
            parsed: true,
            resubscribe: true,
            stream_limit: true,
            ..Outcome::default()
        }
    );
    let message = "too many L2 streams requested in a single session";
    assert_eq!(state(&c, "BTC-USD"), BookState::Refused);
    assert_eq!(state(&c, "ETH-USD"), BookState::Refused);
    assert_eq!(
        c.refused_products(),
        [
            ("BTC-USD".to_owned(), message.to_owned()),
            ("ETH-USD".to_owned(), message.to_owned())
        ]
    );
    assert_eq!(c.stream_limited_products(), ["BTC-USD", "ETH-USD"]);
    // Nothing left on this connection: a feed that cannot shard stops, and says why.
    assert!(c.all_refused());
    assert!(c.active_products().is_empty());
    assert_eq!(
        events(&mut c),
        [
            FeedEvent::ErrorFrame {
                at_ms: 5,
                message: message.into(),
                reason: None
            },
            FeedEvent::ProductRefused {
                at_ms: 5,
                product: "BTC-USD".into(),
                reason: message.into()
            },
            FeedEvent::ProductRefused {
                at_ms: 5,
                product: "ETH-USD".into(),
                reason: message.into()
            },
        ]
    );
    assert!(
        c.dump_books()
            .contains(r#""state":"refused","reason":"too many L2 streams"#)
    );
    // Asked for again here...
    assert_eq!(c.unrefuse(&["ETH-USD".to_owned()]), ["ETH-USD"]);
    assert_eq!(state(&c, "ETH-USD"), BookState::Waiting);
    assert_eq!(c.active_products(), ["ETH-USD"]);
    assert_eq!(c.auth().requested["level2"], ["ETH-USD"]);
    assert_eq!(c.stream_limited_products(), ["BTC-USD"]);
    // ... or moved to another connection: no longer this feed's.
    assert_eq!(
        c.release_products(&["BTC-USD".to_owned(), "SOL-USD".to_owned()]),
        ["BTC-USD"]
    );
    assert_eq!(c.products(), ["ETH-USD"]);
    assert!(c.product("BTC-USD").is_none());
    assert!(!c.all_refused());
    c.on_frame(&l2(0, "snapshot", "ETH-USD", &[("bid", "1", "1")]), 6);
    assert_eq!(state(&c, "ETH-USD"), BookState::Live);
    assert_eq!(
        c.dump_books(),
        r#"{"ETH-USD":{"state":"live","sequence_num":0,"bids":[["1","1"]],"asks":[]}}"#
    );
}

#[test]
fn the_stream_limit_refuses_only_the_subscribe_not_yet_answered() {
    let mut c = core_for(&["BTC-USD", "ETH-USD", "SOL-USDC"]);
    subscribe(&mut c, &["BTC-USD"]);
    c.on_frame(&ack(0, &["BTC-USD"]), 1);
    c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 1);
    subscribe(&mut c, &["ETH-USD", "SOL-USDC"]);
    // The server's own reason, as the simulator sends one, is kept with its message.
    let frame = r#"{"type":"error","message":"too many L2 streams requested in a single session","reason":"at most 1 per connection"}"#;
    let out = c.on_frame(frame, 2);
    assert!(out.stream_limit && out.resubscribe);
    assert_eq!(state(&c, "BTC-USD"), BookState::Live);
    assert_eq!(c.stream_limited_products(), ["ETH-USD", "SOL-USDC"]);
    assert_eq!(
        c.product("SOL-USDC").unwrap().refused.as_deref(),
        Some("too many L2 streams requested in a single session: at most 1 per connection")
    );
    assert_eq!(c.active_products(), ["BTC-USD"]);
    assert!(!c.all_refused());
    // A second one (no subscribe pending any more) refuses nothing else.
    let out = c.on_frame(STREAM_LIMIT, 3);
    assert!(!out.stream_limit && !out.resubscribe);
    assert_eq!(state(&c, "BTC-USD"), BookState::Live);
}

#[test]
fn without_a_known_subscribe_the_stream_limit_refuses_the_books_not_live() {
    // A replay: the recording keeps no subscribes.
    let mut c = core_for(&["BTC-USD", "ETH-USD"]);
    c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "1", "1")]), 1);
    let out = c.on_frame(STREAM_LIMIT, 2);
    assert!(out.stream_limit);
    assert_eq!(c.stream_limited_products(), ["ETH-USD"]);
    assert_eq!(state(&c, "BTC-USD"), BookState::Live);
}

#[test]
fn a_subscribe_failure_naming_no_product_refuses_the_pending_subscribe() {
    let failure = r#"{"type":"error","message":"failure to subscribe","reason":"the level2 channel needs product ids"}"#;
    let mut c = core_for(&["BTC-USD", "ETH-USD"]);
    subscribe(&mut c, &["BTC-USD", "ETH-USD"]);
    let out = c.on_frame(failure, 2);
    assert!(out.resubscribe && !out.stream_limit);
    assert!(c.all_refused());
    assert!(c.stream_limited_products().is_empty());
    assert_eq!(
        c.refused_products()[0],
        (
            "BTC-USD".to_owned(),
            "failure to subscribe: the level2 channel needs product ids".to_owned()
        )
    );
    // A failure about another channel refuses none.
    let mut c = core_for(&["BTC-USD"]);
    subscribe(&mut c, &["BTC-USD"]);
    let frame = r#"{"type":"error","message":"failure to subscribe","reason":"the heartbeats channel is closed"}"#;
    assert!(!c.on_frame(frame, 2).resubscribe);
    assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
    // Once the subscribe was answered, a failure naming no product is not about it.
    let mut c = core_for(&["BTC-USD"]);
    subscribe(&mut c, &["BTC-USD"]);
    c.on_frame(&ack(0, &["BTC-USD"]), 1);
    assert!(!c.on_frame(failure, 2).resubscribe);
    assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
}

#[test]
fn replay_of_an_aliased_session_rebuilds_the_usdc_book() {
    // Products unknown in advance; the connect marker names the products asked for.
    let mut c = FeedCore::new("file", &[], false, 0);
    c.set_auto_products(true);
    c.add_product("BTC-USDC");
    c.connection_started(0, false);
    c.on_frame(&l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 1);
    c.on_frame(&l2(1, "update", "BTC-USD", &[("bid", "99", "1")]), 2);
    c.on_frame(&l2(2, "snapshot", "ETH-USD", &[("bid", "5", "1")]), 3);
    assert_eq!(c.products(), ["BTC-USDC", "ETH-USD"]);
    assert_eq!(
        dump(&c, "BTC-USDC"),
        (vec![pair("100", "1"), pair("99", "1")], vec![])
    );
    // A bare file of a server that does not alias, with both markets: each its own.
    let mut c = FeedCore::new("file", &[], false, 0);
    c.set_auto_products(true);
    c.connection_started(0, false);
    c.on_frame(&l2(0, "snapshot", "BTC-USDC", &[("bid", "200", "1")]), 1);
    c.on_frame(&l2(1, "snapshot", "BTC-USD", &[("bid", "100", "1")]), 2);
    assert_eq!(c.products(), ["BTC-USDC", "BTC-USD"]);
    assert_eq!(dump(&c, "BTC-USDC"), (vec![pair("200", "1")], vec![]));
    assert_eq!(dump(&c, "BTC-USD"), (vec![pair("100", "1")], vec![]));
}

/// A refusal that names an id the client cannot match with any it asked for (cut short by the
/// server's echo, written another way) still answers the pending subscribe: its products are
/// refused with the server's words, never left waiting for data that will not come.
#[test]
fn a_subscribe_failure_naming_no_product_asked_for_refuses_the_pending_subscribe() {
    for reason in [
        // Cut short: the id asked for was BTC-PERP-INTX.
        "BTC-PERP-I... (cut) is not a valid product",
        // Another letter case, another product altogether.
        "btc-perp-intx is not a valid product",
        "SOL-USD is not a valid product",
    ] {
        let mut c = core_for(&["BTC-USD", "BTC-PERP-INTX"]);
        subscribe(&mut c, &["BTC-USD", "BTC-PERP-INTX"]);
        let frame =
            format!(r#"{{"type":"error","message":"failure to subscribe","reason":"{reason}"}}"#);
        let out = c.on_frame(&frame, 2);
        assert!(out.resubscribe && !out.stream_limit, "{reason}");
        assert!(c.all_refused(), "{reason}");
        assert_eq!(
            c.refused_products()[1],
            (
                "BTC-PERP-INTX".to_owned(),
                format!("failure to subscribe: {reason}")
            )
        );
    }
    // Among the products of that subscribe, those that are not product ids at all (asked for
    // through the library, which does not check) are the ones it can mean: the others go on.
    let long = format!("X-{}", "A".repeat(300));
    let mut c = core_for(&["BTC-USD", &long]);
    subscribe(&mut c, &["BTC-USD", &long]);
    let frame = format!(
        r#"{{"type":"error","message":"failure to subscribe","reason":"X-{}... (cut: 302 bytes in all) is not a valid product"}}"#,
        "A".repeat(198)
    );
    assert!(c.on_frame(&frame, 2).resubscribe);
    assert_eq!(state(&c, &long), BookState::Refused);
    assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
    assert_eq!(c.active_products(), ["BTC-USD"]);
    // A repeat of a refusal that names a product already refused is about that product: the
    // products of the new subscribe are not refused for it.
    let mut c = core_for(&["BTC-USD", "FOO-BAR"]);
    subscribe(&mut c, &["BTC-USD", "FOO-BAR"]);
    let named = r#"{"type":"error","message":"failure to subscribe","reason":"FOO-BAR is not a valid product"}"#;
    assert!(c.on_frame(named, 2).resubscribe);
    subscribe(&mut c, &["BTC-USD"]);
    assert!(!c.on_frame(named, 3).resubscribe);
    assert_eq!(state(&c, "BTC-USD"), BookState::Waiting);
}
