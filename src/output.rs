//! Writing to stdout and stderr without `print!`: those panic when the stream is closed, full
//! or its reader has left (`cbbook auth jwt | head -c0`, `2>/dev/full`), and a panic there
//! would hide what the exit status should say.
//!
//! Everything written here is made safe for a terminal first ([`crate::text`]): text through
//! [`crate::text::printable_lines`] (a control character in it, such as ESC from a hostile
//! token's `kid` that no caller escaped, is written as `\x1b`; line breaks stay), JSON through
//! [`crate::text::json_printable`] (the same JSON, DEL and C1 written as `\u00XX`).

use std::io::Write;

use crate::text::{json_printable, printable_lines};

/// Writes text to stderr, ignoring failure: a message nobody can read must not stop the
/// command; the exit status still says what happened.
pub fn to_stderr(args: std::fmt::Arguments<'_>) {
    let text = args.to_string();
    let _ = std::io::stderr()
        .lock()
        .write_all(printable_lines(&text).as_bytes());
}

/// Writes one line of serialized JSON (and a line break) to stderr, ignoring failure.
pub fn json_line_to_stderr(json: &str) {
    let mut line = json_printable(json).into_owned();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Writes a command's text result to stdout. A failed write is the command's failure (the
/// result was lost), so it is returned for the caller to turn into its exit status.
pub fn to_stdout(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let text = args.to_string();
    write_stdout(printable_lines(&text).as_bytes())
}

/// Writes one line of serialized JSON (and a line break) to stdout; a failed write is returned.
pub fn json_line_to_stdout(json: &str) -> std::io::Result<()> {
    let mut line = json_printable(json).into_owned();
    line.push('\n');
    write_stdout(line.as_bytes())
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
