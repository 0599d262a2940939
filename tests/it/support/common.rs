//! Helpers shared by the integration tests: find the binary and the repository, run `cbbook`
//! and `cbbook sim` as processes with a limit, and find the interop venv. Each test crate uses a
//! subset.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `cbbook` binary built for this test run.
pub fn cbbook_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cbbook"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path as text, for an argument list (test paths are UTF-8).
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

/// The Python interpreter of the interop venv (official Coinbase SDK, PyJWT, cryptography).
///
/// Taken from `CBBOOK_PYTHON`, else `.venv/bin/python` (made by `scripts/interop-venv`). Returns
/// `None` only when `CBBOOK_SKIP_INTEROP=1` says to skip knowingly, and says so loudly; in every
/// other case a missing interpreter fails the test, so interop can never pass silently.
/// The name the test harness knows a test of this binary by: its module path without the
/// crate's name (`ui::e2e::name`), for running one test of this binary in a child process with
/// `--exact`. Pass `module_path!()`.
pub fn test_name(module_path: &str, test: &str) -> String {
    let path = module_path.split_once("::").map_or("", |(_, rest)| rest);
    format!("{path}::{test}")
}

pub fn interop_python() -> Option<PathBuf> {
    if std::env::var("CBBOOK_SKIP_INTEROP").as_deref() == Ok("1") {
        // Straight to the process's stderr: `eprintln!` would be captured by the test harness
        // and dropped, as the skipped test then reports `ok`.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "\n*** INTEROP TEST SKIPPED ({}): CBBOOK_SKIP_INTEROP=1. Nothing was checked \
                 against the official Python SDK or PyJWT; its `ok` is not a pass. ***\n",
                std::thread::current().name().unwrap_or("unnamed test")
            )
            .as_bytes(),
        );
        return None;
    }
    let python = match std::env::var_os("CBBOOK_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv/bin/python"),
    };
    assert!(
        python.exists(),
        "interop tests need the Python venv: run `scripts/interop-venv` (or `scripts/test`), \
         or set CBBOOK_PYTHON; set CBBOOK_SKIP_INTEROP=1 to skip them knowingly. Looked for {}",
        python.display()
    );
    Some(python)
}
