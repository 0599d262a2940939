//! Helpers shared by the integration tests. Each test crate uses a subset.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `cbbook` binary built for this test run.
pub fn cbbook_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cbbook"))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter of the interop venv (official Coinbase SDK, PyJWT, cryptography).
///
/// Taken from `CBBOOK_PYTHON`, else `.venv/bin/python` (made by `scripts/interop-venv`). Returns
/// `None` only when `CBBOOK_SKIP_INTEROP=1` says to skip knowingly, and says so loudly; in every
/// other case a missing interpreter fails the test, so interop can never pass silently.
pub fn interop_python() -> Option<PathBuf> {
    if std::env::var("CBBOOK_SKIP_INTEROP").as_deref() == Ok("1") {
        eprintln!(
            "\n*** INTEROP TEST SKIPPED: CBBOOK_SKIP_INTEROP=1. Nothing was checked against the \
             official Python SDK or PyJWT. ***\n"
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
