use super::*;

#[test]
fn bare_frames_take_their_envelope_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.jsonl");
    let frames = [
        r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":0,"events":[]}"#,
        r#"{"type":"error","message":"x"}"#,
        r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:51.250Z","sequence_num":1,"events":[]}"#,
    ];
    std::fs::write(&path, frames.join("\n")).unwrap();
    let mut host = HeadlessHost::new(|_e: FeedEvent| {});
    let report = run(&ReplayConfig::new(&path), &mut host).unwrap();
    assert_eq!(report.core.stats().last_frame_ms, Some(1_675_974_771_250));
    assert_eq!(
        report.core.stats().connected_since_ms,
        Some(1_675_974_770_000)
    );
    assert_eq!(report.core.stats().latency_ms, Some(0));
}

fn replay_text(lines: &[&str]) -> FeedCore {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let mut host = HeadlessHost::new(|_e: FeedEvent| {});
    run(&ReplayConfig::new(&path), &mut host).unwrap().core
}

const CONNECT: &str =
    r#"{"t":1000,"connect":{"url":"ws://x","authenticated":false,"products":["BTC-USD"]}}"#;

#[test]
fn reconnects_count_the_recorded_losses_as_live_counted_the_retries() {
    // Live: a lost connection, then a failed attempt, then a good one: two retries scheduled.
    let core = replay_text(&[
        CONNECT,
        r#"{"t":2000,"disconnect":"the connection ended"}"#,
        r#"{"t":2300,"disconnect":"cannot connect to ws://x: Connection refused"}"#,
        CONNECT,
    ]);
    assert_eq!(core.stats().reconnects, 2);
    // A server down at start: failed attempts before any connection count too.
    let core = replay_text(&[
        r#"{"t":500,"disconnect":"cannot connect to ws://x: Connection refused"}"#,
        CONNECT,
    ]);
    assert_eq!(core.stats().reconnects, 1);
    // Two runs appended to one file: neither retried anything.
    let core = replay_text(&[CONNECT, CONNECT]);
    assert_eq!(core.stats().reconnects, 0);
}

#[test]
fn envelope_time_of_bare_frames() {
    let frame = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50.5Z","sequence_num":1}"#;
    let mut cache = TimestampCache::default();
    assert_eq!(
        envelope_time(frame.as_bytes(), &mut cache),
        Some(1_675_974_770_500)
    );
    let compact = r#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":2,"events":[]}"#;
    assert_eq!(
        envelope_time(compact.as_bytes(), &mut cache),
        Some(1_675_974_771_000)
    );
    assert_eq!(envelope_time(br#"{"type":"error"}"#, &mut cache), None);
}

/// Notes each wait asked for instead of sleeping.
#[derive(Default)]
struct WaitLog(Vec<Duration>);

impl ReplayHost for WaitLog {
    fn after_entry(&mut self, core: &mut FeedCore, _c: &Connections, _t_ms: i64) -> bool {
        core.drain_events().for_each(drop);
        true
    }
    fn wait(&mut self, d: Duration, _core: &mut FeedCore, _c: &Connections, _t: i64) -> bool {
        self.0.push(d);
        true
    }
}

fn write_lines(lines: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    (dir, path)
}

const HEARTBEAT: &str = r#"{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:50Z","sequence_num":0,"events":[]}"#;

#[test]
fn a_speed_too_slow_for_any_clock_is_refused_not_a_panic() {
    let a = format!(r#"{{"t":1001,"frame":{HEARTBEAT}}}"#);
    let b = format!(r#"{{"t":1002,"frame":{HEARTBEAT}}}"#);
    let (_dir, path) = write_lines(&[CONNECT, &a, &b]);
    for speed in [1e-300, 0.0009, f64::MIN_POSITIVE] {
        let config = ReplayConfig {
            speed: Speed::Factor(speed),
            ..ReplayConfig::new(&path)
        };
        let err = run(&config, &mut WaitLog::default()).err().unwrap();
        assert!(matches!(err, RecordError::TooSlow { .. }), "{err}");
        assert!(err.to_string().contains("at least 0.001"), "{err}");
        assert!(err.to_string().len() < 200, "{err}");
    }
    // The slowest allowed speed paces without trouble.
    let config = ReplayConfig {
        speed: Speed::Factor(MIN_SPEED),
        ..ReplayConfig::new(&path)
    };
    let mut waits = WaitLog::default();
    run(&config, &mut waits).unwrap();
    assert_eq!(waits.0.len(), 1);
    assert!(waits.0[0] > Duration::from_millis(900) && waits.0[0] <= Duration::from_secs(1));
}

#[test]
fn a_corrupt_time_is_not_waited_out() {
    // A frame from the far future, then back to normal: at speed 1 no wait may be long.
    let frames: Vec<String> = [1001i64, 999_999_999_999_999_999, 1500, 2000, i64::MAX, 2100]
        .iter()
        .map(|t| format!(r#"{{"t":{t},"frame":{HEARTBEAT}}}"#))
        .collect();
    let mut lines = vec![CONNECT];
    lines.extend(frames.iter().map(String::as_str));
    lines.push(r#"{"t":-9223372036854775808,"resync":"user"}"#);
    let (_dir, path) = write_lines(&lines);
    let config = ReplayConfig {
        speed: Speed::Factor(1.0),
        ..ReplayConfig::new(&path)
    };
    let mut waits = WaitLog::default();
    let report = run(&config, &mut waits).unwrap();
    assert!(
        waits
            .0
            .iter()
            .all(|d| *d <= Duration::from_millis(MAX_PAUSE_MS as u64)),
        "{:?}",
        waits.0
    );
    assert_eq!(report.skipped_pauses, 4, "there, back, there, back");
    assert_eq!(report.core.stats().frames, 6);
}

#[test]
fn a_pause_longer_than_the_bound_is_skipped_and_shorter_ones_kept() {
    let a = format!(r#"{{"t":1000,"frame":{HEARTBEAT}}}"#);
    let b = format!(r#"{{"t":41000,"frame":{HEARTBEAT}}}"#);
    let c = format!(r#"{{"t":3641000,"frame":{HEARTBEAT}}}"#);
    let (_dir, path) = write_lines(&[CONNECT, &a, &b, &c]);
    let config = ReplayConfig {
        speed: Speed::Factor(2.0),
        ..ReplayConfig::new(&path)
    };
    let mut waits = WaitLog::default();
    let report = run(&config, &mut waits).unwrap();
    assert_eq!(report.skipped_pauses, 1);
    assert_eq!(waits.0.len(), 1, "{:?}", waits.0);
    // 40 s recorded at double speed.
    let d = waits.0[0];
    assert!(
        d > Duration::from_secs(19) && d <= Duration::from_secs(20),
        "{d:?}"
    );
}

#[test]
fn files_with_nothing_to_replay_are_errors_that_say_so() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "is empty"),
        (b"\n\n  \n", "is empty"),
        (b"\x00\x01binary\n\x02\x03\n", "not a cbbook recording"),
        (b"{\"a\":1}\n{\"b\":2}\n", "not a cbbook recording"),
        (b"{\"t\":\"x\"}\n", "not a cbbook recording"),
    ];
    for (content, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let err = run(&ReplayConfig::new(&path), &mut WaitLog::default())
            .err()
            .unwrap_or_else(|| panic!("{content:?} replayed"));
        assert!(err.to_string().contains(expect), "{content:?}: {err}");
    }
    // A long binary file stops after the first lines, not at its end.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin");
    let junk: Vec<u8> = (0..2_000_000u32)
        .map(|i| if i % 97 == 0 { b'\n' } else { (i % 251) as u8 })
        .collect();
    std::fs::write(&path, &junk).unwrap();
    let mut events = 0;
    let mut host = HeadlessHost::new(|_e: FeedEvent| events += 1);
    let err = run(&ReplayConfig::new(&path), &mut host).err().unwrap();
    assert!(
        matches!(err, RecordError::NotARecording { lines, .. } if lines == PROBE_LINES),
        "{err}"
    );
    assert!(events <= PROBE_LINES as usize + 5, "{events} events");
    // One good frame among broken lines is enough.
    let (_dir, path) = write_lines(&["garbage", HEARTBEAT, "{\"t\":\"x\"}"]);
    run(&ReplayConfig::new(&path), &mut WaitLog::default()).unwrap();
}

#[test]
fn a_stop_during_a_long_paced_wait_ends_the_headless_replay_promptly() {
    // Two frames 50 s apart at recorded speed: the stop, set 200 ms in, must not wait it out.
    let a = format!(r#"{{"t":1000,"frame":{HEARTBEAT}}}"#);
    let b = format!(r#"{{"t":51000,"frame":{HEARTBEAT}}}"#);
    let (_dir, path) = write_lines(&[CONNECT, &a, &b]);
    let config = ReplayConfig {
        speed: Speed::Factor(1.0),
        ..ReplayConfig::new(&path)
    };
    let mut host = HeadlessHost::new(|_e: FeedEvent| {});
    let stop = Arc::clone(&host.stop);
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let report = run(&config, &mut host).unwrap();
    setter.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        report.core.stats().frames,
        1,
        "stopped before the second frame"
    );
}

fn snapshot(product: &str) -> String {
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":0,"events":[{{"type":"snapshot","product_id":"{product}","updates":[{{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"1","new_quantity":"1"}}]}}]}}"#
    )
}

#[test]
fn merged_view_takes_each_product_from_its_connection_and_lists_them_all() {
    let config = ReplayConfig::new("rec.jsonl");
    let ids = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut core = new_core(&config);
    let mut conns = Connections::default();
    conns.note_connect(0, &ids(&["A-USD"]));
    core.add_product("A-USD");
    core.on_frame(&snapshot("A-USD"), 10);
    // Connection 2 (1 never appeared), its snapshot not in yet: its product waits there.
    conns.note_connect(2, &ids(&["B-USD"]));
    conns.core_mut(2, &config).add_product("B-USD");
    assert!(!conns.is_single());
    let view = conns.merged_view(&core, &ViewRequest::default(), 20);
    let names: Vec<&str> = view.products.iter().map(|p| p.product.as_str()).collect();
    assert_eq!(names, ["A-USD", "B-USD"]);
    assert_eq!(view.products[0].state, BookState::Live);
    assert_eq!(view.products[1].state, BookState::Waiting);
    let listed: Vec<(usize, Vec<String>)> = view
        .connections
        .iter()
        .map(|c| (c.index, c.products.clone()))
        .collect();
    assert_eq!(listed, [(0, ids(&["A-USD"])), (2, ids(&["B-USD"]))]);
    assert_eq!(view.at_ms, 20);
    // A later connection carrying connection 0's product (a split live): 0 is left out.
    conns.note_connect(2, &ids(&["B-USD", "A-USD"]));
    let other = conns.core_mut(2, &config);
    other.add_product("A-USD");
    other.on_frame(&snapshot("B-USD"), 30);
    let view = conns.merged_view(&core, &ViewRequest::default(), 40);
    assert_eq!(view.connections.len(), 1);
    assert_eq!(view.connections[0].index, 2);
    assert_eq!(view.products[1].state, BookState::Live);
    assert_eq!(
        view.products[0].state,
        BookState::Waiting,
        "from connection 2"
    );
    assert_eq!(view.stats.frames, 2, "counters over every connection");
}
