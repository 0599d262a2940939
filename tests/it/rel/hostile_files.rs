//! Files that never end or never yield an entry: replay stops on the first SIGINT or SIGTERM and
//! on `--duration` within about a second whatever the reader is doing (inside an endless line,
//! waiting on a silent pipe), and a file with no entry in a bounded amount of data is an error
//! that says so. The other whole-file reads (config, CA file, book file, a token on stdin) are
//! bounded too. See RELIABILITY.md, section 9.1.

use crate::support::common::{self, path_str, run_env, wait_output};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// How soon a stop must end the run. The rule is a second; the margin is for the shared test
/// machine (the reader hands control back every 4 MiB, about 0.1 s unoptimised).
const PROMPT: Duration = Duration::from_secs(2);

/// A FIFO in `dir` and a thread that writes zeros to it (never a line break) at about 64 MB/s,
/// until the reader goes away: the reader is always inside one endless line, never at its end.
fn endless_line_fifo(dir: &Path) -> PathBuf {
    let fifo = dir.join("endless.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let path = fifo.clone();
    std::thread::spawn(move || {
        let Ok(mut out) = std::fs::OpenOptions::new().write(true).open(&path) else {
            return;
        };
        let zeros = vec![0u8; 64 << 10];
        // A reader that has gone ends the writes (EPIPE: Rust programs ignore SIGPIPE).
        while out.write_all(&zeros).is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    fifo
}

/// A FIFO in `dir` that a thread opens for writing and keeps open without writing: the reader
/// waits on it for ever.
fn silent_fifo(dir: &Path) -> PathBuf {
    let fifo = dir.join("silent.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let path = fifo.clone();
    std::thread::spawn(move || {
        let writer = std::fs::OpenOptions::new().write(true).open(&path);
        std::thread::sleep(Duration::from_secs(120));
        drop(writer);
    });
    fifo
}

/// `cbbook replay FILE --headless --stats EXTRA`; [`wait_output`] kills it past its limit.
fn spawn_headless_replay(file: &Path, extra: &[&str]) -> Child {
    Command::new(common::cbbook_bin())
        .args(["replay", path_str(file), "--headless", "--stats"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `signal` to a headless replay that has been reading for a second and checks that it
/// ends promptly, with status 0 and the stats line.
fn a_signal_stops_the_replay_of(file: &Path, signal: &str) {
    let child = spawn_headless_replay(file, &[]);
    std::thread::sleep(Duration::from_secs(1));
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = wait_output(child, LIMIT, "cbbook replay after a signal");
    let took = sent.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{signal}: stopped {took:?} after the signal");
    assert!(took < PROMPT, "{signal}: {took:?} to stop\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "{signal}: {stderr}");
    assert!(stderr.contains(": stopping; the stats follow"), "{stderr}");
    assert!(
        stderr.lines().last().unwrap_or("").starts_with("frames=0 "),
        "{stderr}"
    );
}

#[test]
fn the_first_signal_stops_a_replay_inside_an_endless_line() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        a_signal_stops_the_replay_of(&endless_line_fifo(dir.path()), signal);
    }
}

#[test]
fn the_first_signal_stops_a_replay_waiting_on_a_silent_pipe() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        a_signal_stops_the_replay_of(&silent_fifo(dir.path()), signal);
    }
}

#[test]
fn duration_stops_a_replay_of_an_endless_line_or_a_silent_pipe() {
    let dir = tempfile::tempdir().unwrap();
    for file in [endless_line_fifo(dir.path()), silent_fifo(dir.path())] {
        let started = Instant::now();
        let child = spawn_headless_replay(&file, &["--duration", "1"]);
        let out = wait_output(child, LIMIT, "cbbook replay --duration 1");
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(took < Duration::from_secs(1) + PROMPT, "{took:?}\n{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("elapsed_ms="), "{stderr}");
    }
}

#[test]
fn dev_zero_is_an_error_that_says_it_has_no_readable_entry() {
    let started = Instant::now();
    let out = run_env(
        &["replay", "/dev/zero", "--headless", "--stats"],
        &[],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "/dev/zero has no readable entry in the 768 MiB read from line 1 on (blank lines, \
             broken lines, or a line with no end; a recording's line is at most 384 MiB)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("frames="),
        "no stats for a failed replay: {stderr}"
    );
    eprintln!("/dev/zero refused after {:?}", started.elapsed());
}

/// The other whole-file reads: each refuses an endless file with a message naming the limit.
#[test]
fn endless_config_ca_book_and_token_inputs_are_refused_with_a_clear_error() {
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--config",
                "/dev/zero",
                "--headless",
                "--duration",
                "1",
                "BTC-USD",
            ],
            "config file /dev/zero is larger than 1 MiB",
        ),
        (
            &[
                "--headless",
                "--duration",
                "1",
                "--ca-cert",
                "/dev/zero",
                "--url",
                "wss://127.0.0.1:9",
                "BTC-USD",
            ],
            "/dev/zero: it is larger than 16 MiB",
        ),
        (
            &["sim", "--book", "/dev/zero"],
            "book file /dev/zero is larger than 64 MiB",
        ),
    ];
    for (args, expect) in cases {
        let out = run_env(args, &[], LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
    }
    let child = Command::new(common::cbbook_bin())
        .args(["auth", "inspect", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(child, LIMIT, "cbbook auth inspect - < /dev/zero");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the token on stdin is longer than 16 MiB"),
        "{stderr}"
    );
}
