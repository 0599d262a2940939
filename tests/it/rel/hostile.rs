//! The client against a hostile server (RELIABILITY.md, section 10): product ids the server
//! cannot echo whole and ids that break the rule (class 5), crossed books and bad levels
//! (class 6), frames the client refuses and what they do to the sequence (class 7). Most run
//! the live client against the scripted server of `support::hostile`; the rest run the real
//! binaries (`cbbook`, `cbbook sim`, `cbbook replay`).

use crate::support::common::{path_str, run_env, start_sim};
use crate::support::feed::{self as feed_support, state, stop, wait_view};
use crate::support::hostile::{self, Hostile, Step, ack, expect, hello, snapshot, update};

use std::time::{Duration, Instant};

use cbbook::feed::events::{BookState, FeedEvent, FeedView};
use cbbook::feed::{LiveConfig, client};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

fn config(url: &str, products: &[&str]) -> LiveConfig {
    LiveConfig {
        watchdog: Duration::from_secs(20),
        ..LiveConfig::new(url, products.iter().map(|p| (*p).to_owned()).collect())
    }
}

fn script(parts: Vec<Vec<Step>>) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

/// A book that is neither crossed nor empty.
const GOOD: &[hostile::Level<'_>] = &[("bid", "100", "1"), ("offer", "101", "2")];
/// Best bid above best ask.
const CROSSED: &[hostile::Level<'_>] = &[("bid", "101", "1"), ("offer", "100", "2")];

fn events_of(handle: &mut cbbook::feed::events::FeedHandle) -> Vec<FeedEvent> {
    feed_support::events(handle)
}

// ---------------------------------------------------------------------------------------------
// Class 5: product ids.

/// The server refuses a subscribe naming an id it echoes cut short (as the simulator cuts client
/// text at 200 characters): the client cannot match the id by name, so it resolves the refusal
/// by what it asked in that subscribe. Of the two products, the one that is not a product id at
/// all (asked for through the library, which does not check) is refused; `BTC-USD` beside it is
/// asked for again and goes live (it used to stay waiting for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_echoed_cut_short_is_refused_and_the_product_beside_it_goes_live() {
    let long = format!("X-{}", "A".repeat(300));
    let cut = format!("{}... (cut: {} bytes in all)", &long[..200], long.len());
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![hostile::error(
            "failure to subscribe",
            &format!("{cut} is not a valid product"),
        )],
        vec![expect("subscribe", "level2"), ack(&["BTC-USD"])],
        vec![snapshot("BTC-USD", GOOD)],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD", &long]));
    let view = wait_view(&mut handle, "BTC-USD live", |v| {
        state(v, "BTC-USD") == BookState::Live
    })
    .await;
    assert_eq!(state(&view, &long), BookState::Refused);
    let level2 = server.sent_for("level2");
    assert_eq!(level2[1].0, "subscribe");
    assert_eq!(
        level2[1].2,
        ["BTC-USD"],
        "asked again without the refused id"
    );
    let refused: Vec<String> = events_of(&mut handle)
        .into_iter()
        .filter_map(|e| match e {
            FeedEvent::ProductRefused { product, .. } => Some(product),
            _ => None,
        })
        .collect();
    assert_eq!(refused, std::slice::from_ref(&long));
    stop(task, &handle).await;
}

/// The simulator and the client on an id the rule refuses for its length: the simulator's
/// refusal says what is wrong (its length) although it echoes the id cut, and the client,
/// matching by what it asked, refuses that id alone and serves `BTC-USD`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_names_the_length_of_an_id_too_long_and_the_client_serves_the_rest() {
    let (_sim, url) = start_sim(&["--products", "BTC-USD"], None);
    let long = format!("X-{}", "B".repeat(250));
    let (task, mut handle) = client::start(config(&url, &["BTC-USD", &long]));
    let view = wait_view(&mut handle, "BTC-USD live, the long id refused", |v| {
        state(v, "BTC-USD") == BookState::Live && state(v, &long) == BookState::Refused
    })
    .await;
    let error = view.auth.last_error.clone().unwrap();
    let reason = error.reason.unwrap();
    assert!(
        reason.ends_with("(cut: 252 bytes in all) is not a valid product (it is 252 characters long, and product ids are at most 40)"),
        "{reason}"
    );
    stop(task, &handle).await;
}

/// The same ids are refused, with the rule's own words, by every way into cbbook: the viewer's
/// arguments, a products file, the config file, the library's `LiveConfig::validate`, and the
/// simulator's `--products` and `--book`.
#[test]
fn one_product_id_rule_and_message_on_every_front_door() {
    let dir = tempfile::tempdir().unwrap();
    let too_long = format!("{}-USD", "A".repeat(60));
    let cases = [
        (
            too_long.as_str(),
            "it is 64 characters long, and product ids are at most 40",
        ),
        ("BTC--USD", "use the exchange's form"),
        ("btc-usd", "did you mean `BTC-USD`?"),
    ];
    for (i, (id, words)) in cases.iter().enumerate() {
        let list = dir.path().join(format!("products-{i}.txt"));
        std::fs::write(&list, format!("ETH-USD\n{id}\n")).unwrap();
        let toml = dir.path().join(format!("config-{i}.toml"));
        std::fs::write(&toml, format!("products = [\"{id}\"]\n")).unwrap();
        let book = dir.path().join(format!("book-{i}.json"));
        std::fs::write(
            &book,
            format!(r#"{{"product":"{id}","bids":[["100","1"]],"asks":[["101","1"]]}}"#),
        )
        .unwrap();
        let runs: [(&str, Vec<&str>); 5] = [
            ("arguments", vec!["--headless", "--duration", "1", id]),
            (
                "products file",
                vec!["--headless", "--products-file", path_str(&list)],
            ),
            (
                "config file",
                vec!["--headless", "--config", path_str(&toml)],
            ),
            ("sim --products", vec!["sim", "--products", id]),
            ("sim --book", vec!["sim", "--book", path_str(&book)]),
        ];
        for (door, args) in runs {
            let out = run_env(&args, &[], LIMIT);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{door} accepted {id}: {stderr}");
            assert!(stderr.contains(words), "{door}, {id}: {stderr}");
            assert!(stderr.len() < 1000, "{door}: {stderr}");
        }
        let err = config("ws://127.0.0.1:1", &[id]).validate().unwrap_err();
        assert!(err.to_string().contains(words), "validate, {id}: {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Class 6: crossed books and bad levels.

/// A server that answers every resync with the same crossed book: the book is crossed (never
/// live), reported each time, and asked for again at once, then 1, 2 and 4 s after the
/// previous time, for itself only; ETH-USD beside it stays live and is not asked for again.
/// The fifth snapshot is good: the book is live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_keeps_sending_crossed_books_is_resynced_with_growing_waits() {
    let crossed_again = || {
        vec![
            expect("unsubscribe", "level2"),
            expect("subscribe", "level2"),
            snapshot("BTC-USD", CROSSED),
        ]
    };
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![
            ack(&["BTC-USD", "ETH-USD"]),
            snapshot("ETH-USD", GOOD),
            snapshot("BTC-USD", CROSSED),
        ],
        crossed_again(),
        crossed_again(),
        crossed_again(),
        vec![
            expect("unsubscribe", "level2"),
            expect("subscribe", "level2"),
            snapshot("BTC-USD", GOOD),
        ],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD", "ETH-USD"]));
    let crossed = wait_view(&mut handle, "crossed", |v| {
        state(v, "BTC-USD") == BookState::Crossed
    })
    .await;
    assert!(crossed.products[0].crossed);
    let view = wait_view(&mut handle, "live after a good snapshot", |v| {
        state(v, "BTC-USD") == BookState::Live && v.stats.crossed == 4
    })
    .await;
    assert_eq!(state(&view, "ETH-USD"), BookState::Live);
    assert_eq!(
        (view.stats.gaps, view.stats.resyncs),
        (0, 4),
        "{:?}",
        view.stats
    );
    // The resyncs: for BTC-USD alone, each wait twice the one before.
    let level2 = server.sent_for("level2");
    let resyncs: Vec<(Instant, Vec<String>)> = level2
        .iter()
        .filter(|(kind, _, _)| kind == "unsubscribe")
        .map(|(_, at, products)| (*at, products.clone()))
        .collect();
    assert_eq!(resyncs.len(), 4, "{level2:?}");
    for (_, products) in &resyncs {
        assert_eq!(products, &["BTC-USD"]);
    }
    let waits: Vec<f64> = resyncs
        .windows(2)
        .map(|w| w[1].0.duration_since(w[0].0).as_secs_f64())
        .collect();
    for (wait, least) in waits.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *wait >= least - 0.05 && *wait < least + 2.0,
            "waits {waits:?}"
        );
    }
    let ev = events_of(&mut handle);
    let crossings = ev
        .iter()
        .filter(|e| matches!(e, FeedEvent::Crossed { product, .. } if product == "BTC-USD"))
        .count();
    assert_eq!(crossings, 4, "{ev:#?}");
    stop(task, &handle).await;
}

/// A view never shows a crossed book as live: checked on every view a crossing server leads to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_crosses_the_book_is_never_shown_live() {
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![
            snapshot("BTC-USD", GOOD),
            update("BTC-USD", &[("bid", "101", "1")]),
            // Uncrossed again by the next update: still suspect until its snapshot.
            update("BTC-USD", &[("bid", "101", "0")]),
            hostile::heartbeat(),
        ],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD"]));
    let is_ok = |v: &FeedView| {
        let p = &v.products[0];
        !(p.crossed && p.state == BookState::Live)
    };
    let view = wait_view(&mut handle, "every frame applied", |v| {
        assert!(is_ok(v), "a crossed book shown live: {v:?}");
        v.stats.last_sequence_num == Some(3)
    })
    .await;
    assert_eq!(state(&view, "BTC-USD"), BookState::Crossed);
    assert!(!view.products[0].crossed, "the update uncrossed it");
    assert_eq!(view.stats.crossed, 1);
    stop(task, &handle).await;
}

/// A headless run against a server that sends a crossed book: the dump says `crossed`, stderr
/// has the `crossed` event, and the stats line counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossed_book_is_dumped_as_crossed_and_counted_by_a_headless_run() {
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![ack(&["BTC-USD"]), snapshot("BTC-USD", CROSSED)],
    ])])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.json");
    let log = dir.path().join("cbbook.log");
    let args = vec![
        "--url".to_owned(),
        server.url.clone(),
        "--headless".into(),
        "--duration".into(),
        "2".into(),
        "--stats".into(),
        "--dump-book".into(),
        path_str(&dump).into(),
        "--log-file".into(),
        path_str(&log).into(),
        "BTC-USD".into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_env(&args, &[], LIMIT)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dumped: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert_eq!(dumped["BTC-USD"]["state"], "crossed", "{dumped}");
    assert!(
        stderr.contains(r#""event":"crossed","at_ms":"#)
            && stderr.contains(r#""product":"BTC-USD","best_bid":"101","best_ask":"100""#),
        "{stderr}"
    );
    let stats = stderr.lines().last().unwrap();
    assert!(stats.contains(" crossed=1 "), "{stats}");
}

/// A level at price zero is a bad level: a bad frame, the book resynced (as for any bad book
/// data), and the next snapshot makes it live without that level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_price_is_a_bad_level_and_the_book_is_resynced() {
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![
            snapshot("BTC-USD", GOOD),
            update("BTC-USD", &[("bid", "0", "5")]),
        ],
        hostile::resync(),
        vec![snapshot("BTC-USD", GOOD)],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD"]));
    let view = wait_view(&mut handle, "live after the resync", |v| {
        v.stats.resyncs == 1 && state(v, "BTC-USD") == BookState::Live
    })
    .await;
    assert_eq!(view.stats.bad_frames, 1);
    assert_eq!(view.products[0].bid_levels, 1);
    let bad = events_of(&mut handle).into_iter().find_map(|e| match e {
        FeedEvent::BadFrame { error, .. } => Some(error),
        _ => None,
    });
    assert!(bad.unwrap().contains("price \"0\" is not positive"));
    stop(task, &handle).await;
}

// ---------------------------------------------------------------------------------------------
// Class 7: refused frames and the sequence.

/// Frames the client refuses but whose `sequence_num` it can read (an unknown event type, an
/// unknown side) use up their numbers: no gap, however many of them; each that may have carried
/// book data resyncs. Frames it ignores (book data on another channel, an ack that comes after
/// the snapshot it announced, an ack repeated) count too; a binary frame of UTF-8 text is read as
/// text; one that is not UTF-8 is a bad frame without a number. In all: not one gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_ignored_frames_use_up_their_numbers_and_are_never_a_gap() {
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![
            snapshot("BTC-USD", GOOD),
            // The ack after the snapshot it answers, then again.
            ack(&["BTC-USD"]),
            ack(&["BTC-USD"]),
            hostile::l2("delta", "BTC-USD", &[("bid", "99", "1")]),
            update("BTC-USD", &[("ask", "102", "1")]),
            hostile::on_channel("ticker", "BTC-USD", &[("bid", "98", "1")]),
            hostile::on_channel("no_such_channel", "BTC-USD", &[("bid", "97", "1")]),
            hostile::binary_update("BTC-USD", &[("bid", "99.5", "3")]),
            Step::Binary(vec![0xff, 0xfe, 0x00]),
            Step::Text("garbage that mentions l2_data".into()),
            hostile::heartbeat(),
        ],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD"]));
    let view = wait_view(&mut handle, "the last heartbeat", |v| {
        v.stats.last_sequence_num == Some(8)
    })
    .await;
    let s = &view.stats;
    assert_eq!(s.gaps, 0, "{s:?}");
    assert_eq!(s.bad_frames, 4, "{s:?}");
    assert_eq!(s.resyncs, 2, "one per refused l2_data frame: {s:?}");
    // The binary update was applied (the book is desynced, waiting for the resync's snapshot).
    let bids = &view.products[0].bids;
    assert!(
        bids.iter()
            .any(|r| r.price.to_string() == "99.5" && r.size.to_string() == "3"),
        "{bids:?}"
    );
    let ev = events_of(&mut handle);
    assert!(
        !ev.iter().any(|e| matches!(e, FeedEvent::Gap { .. })),
        "{ev:#?}"
    );
    stop(task, &handle).await;
}

/// A frame whose number cannot be read counts for nothing: when the server did use a number
/// for it, the next frame shows the loss as a gap (and the resync that follows it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_whose_number_cannot_be_read_leaves_the_next_number_to_decide() {
    let server = Hostile::start(vec![script(vec![
        hello(),
        vec![
            snapshot("BTC-USD", GOOD),
            Step::TextNumbered(
                r#"{"channel":"l2_data","sequence_num":"{seq}","events":[]}"#.into(),
            ),
            hostile::heartbeat(),
        ],
    ])])
    .await;
    let (task, mut handle) = client::start(config(&server.url, &["BTC-USD"]));
    let view = wait_view(&mut handle, "the heartbeat", |v| {
        v.stats.last_sequence_num == Some(2)
    })
    .await;
    assert_eq!(
        (view.stats.bad_frames, view.stats.gaps, view.stats.resyncs),
        (1, 1, 1)
    );
    stop(task, &handle).await;
}

/// Replay of a recording of bare frames with a garbage line in it: the numbers around it follow
/// each other, so nothing was lost and every book stays live (it used to mark every book
/// desynced for the rest of the replay).
#[test]
fn a_garbage_line_in_a_bare_frame_recording_leaves_the_books_live() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("frames.jsonl");
    let dump = dir.path().join("dump.json");
    let frame = |seq: u64, step: Step| match step {
        Step::Numbered { channel, events } => hostile::envelope(&channel, seq, &events),
        other => panic!("not a numbered frame: {other:?}"),
    };
    let lines = [
        frame(0, snapshot("BTC-USD", GOOD)),
        frame(1, snapshot("ETH-USD", GOOD)),
        r#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"upd"#.to_owned(),
        "garbage l2_data".to_owned(),
        frame(2, update("BTC-USD", &[("bid", "99", "4")])),
        frame(3, hostile::heartbeat()),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = run_env(
        &[
            "replay",
            path_str(&file),
            "--headless",
            "--stats",
            "--dump-book",
            path_str(&dump),
        ],
        &[],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dumped: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert_eq!(dumped["BTC-USD"]["state"], "live", "{dumped}");
    assert_eq!(dumped["ETH-USD"]["state"], "live", "{dumped}");
    assert_eq!(dumped["BTC-USD"]["bids"][1], serde_json::json!(["99", "4"]));
    let stats = stderr.lines().last().unwrap();
    assert!(stats.contains(" gaps=0 resyncs=0 "), "{stats}\n{stderr}");
}
