//! Helpers for the reliability tests (`tests/rel_*.rs`): run the real binaries with a limit,
//! start `cbbook sim` and read its URL, and find pieces of a secret in any text.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `cbbook` binary built for this test run.
pub fn cbbook_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cbbook"))
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Kills the child on drop, so that a failing test leaves no process running.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cbbook sim ARGS` (stderr to `stderr_to`, or nowhere) and returns it with its URL.
pub fn start_sim(args: &[&str], stderr_to: Option<&Path>) -> (Reap, String) {
    let stderr = match stderr_to {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(cbbook_bin())
        .arg("sim")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from cbbook sim: {line:?}"))
        .to_owned();
    (Reap(child), url)
}

/// Runs `cbbook ARGS` with extra environment variables to completion, within `limit`.
pub fn run_env(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut command = Command::new(cbbook_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("COINBASE_API_KEY")
        .env_remove("COINBASE_API_SECRET")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    wait_output(child, limit, &format!("cbbook {args:?}"))
}

/// Waits for a child with a limit (killing it and failing the test past the limit).
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    // Drain the pipes on threads so that a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let read_out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = std::io::Read::read_to_end(o, &mut buf);
        }
        buf
    });
    let read_err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = std::io::Read::read_to_end(e, &mut buf);
        }
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} ran for more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: read_out.join().unwrap(),
        stderr: read_err.join().unwrap(),
    }
}

/// Every `width`-character piece of `secret` (whitespace removed), every `step` characters.
pub fn pieces(secret: &str, width: usize, step: usize) -> Vec<String> {
    let compact: Vec<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() <= width {
        return vec![compact.iter().collect()];
    }
    (0..=compact.len() - width)
        .step_by(step)
        .map(|i| compact[i..i + width].iter().collect())
        .collect()
}

/// The first piece found in `text` (whitespace removed, so that wrapped reports are searched
/// too), if any.
pub fn leaked<'a>(text: &str, pieces: &'a [String]) -> Option<&'a str> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    pieces
        .iter()
        .find(|p| compact.contains(p.as_str()))
        .map(String::as_str)
}

/// The base64 body of a PEM block (the lines between BEGIN and END, joined).
pub fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Property-test cases: `PROPTEST_CASES` when set (for long runs), else `default` (quick CI).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
