//! Recording files from anyone: `feed::record::RecordReader` over the input as a whole file, with
//! a small line limit so that over-long lines and the limit on skipped data are reached, and
//! over each of its lines alone; every entry through a `FeedCore` as replay does.
//!
//! Checks, besides "no panic": the reader ends (each step reads at least one byte, so there are
//! at most as many steps as bytes, plus the end); it reads no more lines than the input has and
//! counts them consistently; no entry is longer than the line limit; a line reads to the same
//! entry alone as inside the file (entries do not depend on the lines around them); an error is
//! one of the documented ones and names the file; the core's counters stay within the entries.
#![no_main]

use cbbook::feed::core::FeedCore;
use cbbook::feed::events::ViewRequest;
use cbbook::feed::record::{Entry, Polled, RecordError, RecordReader};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// Small enough that a fuzzer's inputs reach it, large enough for real frames.
const MAX_LINE: usize = 512;

/// The entries of `bytes` read as a whole file (with their connection, as text for comparing),
/// and the error that stopped the reader, if any.
fn read_all(bytes: &[u8], core: &mut FeedCore) -> (Vec<String>, Option<RecordError>) {
    let mut reader = RecordReader::new(bytes, Path::new("fuzz.jsonl")).with_max_line(MAX_LINE);
    let mut entries = Vec::new();
    let mut steps = 0usize;
    let error = loop {
        steps += 1;
        assert!(steps <= bytes.len() + 2, "the reader does not end");
        match reader.poll_entry_on() {
            Ok(Polled::Entry(entry, conn)) => {
                if let Entry::Frame { text, .. } = &entry {
                    assert!(text.len() <= MAX_LINE, "an entry over the line limit");
                }
                let t = 10 + entries.len() as i64;
                match &entry {
                    Entry::Frame { text, .. } => {
                        core.on_frame_bytes(text, t);
                    }
                    Entry::Binary { bytes, .. } => {
                        core.on_binary_frame(bytes, t);
                    }
                    Entry::Unread { reason, .. } => core.count_bad_frame(t, reason.clone()),
                    Entry::Connect { .. } => core.connection_started(t, false),
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
    assert!(
        reader.lines() <= newlines + 1,
        "more lines than the input has"
    );
    assert!(entries.len() as u64 <= reader.lines());
    assert!(reader.broken_lines() <= reader.non_blank_lines());
    assert!(reader.too_long_lines() <= reader.broken_lines());
    (entries, error)
}

fuzz_target!(|data: &[u8]| {
    let mut core = FeedCore::new("fuzz", &[], false, 0);
    core.set_auto_products(true);
    let (entries, error) = read_all(data, &mut core);
    if let Some(error) = &error {
        assert!(
            matches!(
                error,
                RecordError::NotARecording { .. }
                    | RecordError::NoEntry { .. }
                    | RecordError::Compressed { .. }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("fuzz.jsonl"), "{error}");
    }
    assert!(core.stats().frames <= entries.len() as u64);
    let _ = core.view(&ViewRequest::default(), 1_000);
    serde_json::from_str::<serde_json::Value>(&core.dump_books()).expect("the dump is JSON");
    core.drain_events().for_each(drop);

    // Each line alone (after a blank line, so that the start-of-file checks see nothing of it,
    // except for the first line, which is the start of the file).
    let mut alone = Vec::new();
    let pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (i, line) in pieces.iter().enumerate() {
        let mut file = if i == 0 { Vec::new() } else { b"\n".to_vec() };
        file.extend_from_slice(line);
        // With its line break, as in the file (the limit counts it).
        if i + 1 < pieces.len() {
            file.push(b'\n');
        }
        let mut scratch = FeedCore::new("fuzz", &[], false, 0);
        match read_all(&file, &mut scratch) {
            (found, None) => alone.extend(found),
            // The first line alone may be a compressed file's magic: no comparison then.
            (_, Some(_)) => return,
        }
    }
    // Inside the file the reader may stop early (an error): its entries are then a prefix.
    if error.is_none() {
        assert_eq!(entries, alone, "a line reads differently inside the file");
    } else {
        assert!(
            alone.starts_with(&entries),
            "a line reads differently inside the file"
        );
    }
});
