//! The client's core against a reference model: after any script the hostile server could play
//! (`support::hostile`: snapshots, updates, crossed books, zero sizes and zero prices, gaps,
//! frames with an unknown event type or side, book data on another channel, acks, binary
//! frames, garbage), the core's `--dump-book` equals what a model of the rules in a few lines
//! says. The core is driven without a socket, with the frames the server would send
//! (`hostile::frames_of`).
//!
//! The model's rules (docs/feed.md, "Integrity rules"): a snapshot replaces its product's book
//! and makes it live; an update sets each level's size; a zero size removes the level; updates
//! before a product's snapshot are ignored; a live book whose best bid reaches its best ask is
//! crossed until its next snapshot; a level at price zero is refused and its product desynced;
//! a gap, and a frame refused with a readable number that may carry book data, desync every
//! live or crossed book; a frame whose number cannot be read changes nothing.

use crate::support::hostile::{self, Level, Step};
use crate::support::rel::cases;

use std::collections::BTreeMap;
use std::str::FromStr;

use cbbook::feed::core::FeedCore;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The products asked for; `SOL-USD` is sent but never asked for.
const ASKED: [&str; 2] = ["BTC-USD", "ETH-USD"];
const SENT: [&str; 3] = ["BTC-USD", "ETH-USD", "SOL-USD"];

/// What the scripted server sends next.
#[derive(Debug, Clone)]
enum Op {
    Snapshot(usize, Vec<(String, String, String)>),
    Update(usize, Vec<(String, String, String)>),
    /// An `l2_data` frame with an unknown event type, or an update with an unknown side.
    Refused(usize, bool),
    /// Book data on the `ticker` channel.
    WrongChannel(usize),
    Ack,
    Heartbeat,
    /// A number skipped: the next numbered frame shows a gap.
    Gap,
    /// Text that is not a frame, or a binary frame that is not UTF-8.
    Garbage(bool),
}

fn level() -> impl Strategy<Value = (String, String, String)> {
    let side = prop_oneof![Just("bid"), Just("offer")];
    // Few prices, printed at several scales, so that levels collide, cross and repeat; a zero
    // price now and then.
    let price = prop_oneof![
        30 => (1u32..12, 0usize..3).prop_map(|(p, zeros)| {
            if zeros == 0 { p.to_string() } else { format!("{p}.{}", "0".repeat(zeros)) }
        }),
        1 => Just("0".to_string()),
    ];
    let size = prop_oneof![
        Just("0"),
        Just("0.000"),
        Just("1"),
        Just("2.5"),
        Just("10"),
        Just("0.125"),
    ];
    (side, price, size).prop_map(|(s, p, q)| (s.to_string(), p, q.to_string()))
}

fn op() -> impl Strategy<Value = Op> {
    let product = 0..SENT.len();
    let levels = || prop::collection::vec(level(), 0..6);
    prop_oneof![
        6 => (product.clone(), levels()).prop_map(|(p, l)| Op::Snapshot(p, l)),
        12 => (product.clone(), levels()).prop_map(|(p, l)| Op::Update(p, l)),
        1 => (product.clone(), any::<bool>()).prop_map(|(p, side)| Op::Refused(p, side)),
        1 => product.prop_map(Op::WrongChannel),
        1 => Just(Op::Ack),
        1 => Just(Op::Heartbeat),
        1 => Just(Op::Gap),
        1 => any::<bool>().prop_map(Op::Garbage),
    ]
}

fn as_levels(levels: &[(String, String, String)]) -> Vec<Level<'_>> {
    levels
        .iter()
        .map(|(s, p, q)| (s.as_str(), p.as_str(), q.as_str()))
        .collect()
}

/// The script of steps the hostile server plays for `ops`.
fn script(ops: &[Op]) -> Vec<Step> {
    ops.iter()
        .map(|op| match op {
            Op::Snapshot(p, l) => hostile::snapshot(SENT[*p], &as_levels(l)),
            Op::Update(p, l) => hostile::update(SENT[*p], &as_levels(l)),
            Op::Refused(p, false) => hostile::l2("delta", SENT[*p], &[("bid", "1", "1")]),
            Op::Refused(p, true) => hostile::update(SENT[*p], &[("ask", "1", "1")]),
            Op::WrongChannel(p) => hostile::on_channel("ticker", SENT[*p], &[("bid", "1", "1")]),
            Op::Ack => hostile::ack(&ASKED),
            Op::Heartbeat => hostile::heartbeat(),
            Op::Gap => Step::Skip(1),
            Op::Garbage(false) => Step::Text("garbage that mentions l2_data".into()),
            Op::Garbage(true) => Step::Binary(vec![0xff, 0xfe, b'{']),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Live,
    Desynced,
    Crossed,
}

/// One product's book in the model: exact decimals, nothing clever.
#[derive(Debug, Clone)]
struct Book {
    state: State,
    seq: u64,
    bids: BTreeMap<Decimal, Decimal>,
    asks: BTreeMap<Decimal, Decimal>,
}

impl Book {
    fn crossed(&self) -> bool {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(bid), Some(ask)) => bid >= ask,
            _ => false,
        }
    }
}

struct Model {
    books: Vec<Book>,
    /// The next number the server uses, and the next the client expects.
    next: u64,
    expected: u64,
}

impl Model {
    fn new() -> Model {
        let empty = Book {
            state: State::Waiting,
            seq: 0,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        };
        Model {
            books: vec![empty; ASKED.len()],
            next: 0,
            expected: 0,
        }
    }

    /// Every live or crossed book becomes desynced (a gap, bad book data: a resync asks for
    /// every snapshot).
    fn desync_all(&mut self) {
        for b in &mut self.books {
            if matches!(b.state, State::Live | State::Crossed) {
                b.state = State::Desynced;
            }
        }
    }

    /// A numbered frame arrives: its number, after desyncing for a gap before it.
    fn numbered(&mut self) -> (u64, bool) {
        let n = self.next;
        self.next += 1;
        let gap = n != self.expected;
        if gap {
            self.desync_all();
        }
        self.expected = n + 1;
        (n, gap)
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Gap => self.next += 1,
            Op::Garbage(_) => {}
            Op::Ack | Op::Heartbeat | Op::WrongChannel(_) => {
                self.numbered();
            }
            Op::Refused(..) => {
                let (_, gap) = self.numbered();
                // Bad book data resyncs when any book has something to resync.
                if !gap && self.books.iter().any(|b| b.state != State::Waiting) {
                    self.desync_all();
                }
            }
            Op::Snapshot(p, levels) | Op::Update(p, levels) => {
                let (n, _) = self.numbered();
                let snapshot = matches!(op, Op::Snapshot(..));
                self.event(*p, snapshot, levels, n);
            }
        }
    }

    fn event(&mut self, p: usize, snapshot: bool, levels: &[(String, String, String)], n: u64) {
        let Some(b) = self.books.get_mut(p) else {
            return; // never asked for
        };
        if !snapshot && b.state == State::Waiting {
            return;
        }
        if snapshot {
            b.bids.clear();
            b.asks.clear();
        }
        let mut failed = false;
        for (side, price, size) in levels {
            let (price, size) = (dec(price), dec(size));
            if price.is_zero() {
                failed = true;
                continue;
            }
            let map = if side == "bid" {
                &mut b.bids
            } else {
                &mut b.asks
            };
            if size.is_zero() {
                map.remove(&price);
            } else {
                map.insert(price, size);
            }
        }
        b.seq = n;
        if failed {
            b.state = State::Desynced;
            self.desync_all();
            return;
        }
        if snapshot {
            b.state = State::Live;
        }
        // Only a live book becomes crossed: a desynced one awaits its snapshot already.
        if b.state == State::Live && b.crossed() {
            b.state = State::Crossed;
        }
    }

    /// The dump the core should write.
    fn dump(&self) -> Value {
        let side = |levels: &mut dyn Iterator<Item = (&Decimal, &Decimal)>| -> Value {
            levels
                .map(|(p, s)| json!([p.normalize().to_string(), s.normalize().to_string()]))
                .collect()
        };
        let mut out = serde_json::Map::new();
        for (name, b) in ASKED.iter().zip(&self.books) {
            let state = match b.state {
                State::Waiting => "waiting",
                State::Live => "live",
                State::Desynced => "desynced",
                State::Crossed => "crossed",
            };
            out.insert(
                (*name).to_owned(),
                json!({
                    "state": state,
                    "sequence_num": b.seq,
                    "bids": side(&mut b.bids.iter().rev()),
                    "asks": side(&mut b.asks.iter()),
                }),
            );
        }
        Value::Object(out)
    }
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(300)))]

    #[test]
    fn the_core_s_dump_equals_the_reference_model_s(ops in prop::collection::vec(op(), 0..40)) {
        let asked: Vec<String> = ASKED.iter().map(|p| (*p).to_owned()).collect();
        let mut core = FeedCore::new("ws://hostile", &asked, false, 0);
        core.connection_started(0, false);
        let frames = hostile::frames_of(&script(&ops));
        for (i, frame) in frames.iter().enumerate() {
            core.on_frame_bytes(frame, i as i64);
        }
        let mut model = Model::new();
        for op in &ops {
            model.apply(op);
        }
        let dumped: Value = serde_json::from_str(&core.dump_books()).unwrap();
        prop_assert_eq!(dumped, model.dump(), "ops: {:?}", ops);
        // And a book is never shown live while crossed.
        let view = core.view(&Default::default(), 0);
        for p in &view.products {
            prop_assert!(!(p.crossed && p.state == cbbook::feed::events::BookState::Live));
        }
    }
}
