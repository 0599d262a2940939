//! Writing to stdout and stderr without `print!`: those panic when the stream is closed, full
//! or its reader has left (`cbbook auth jwt | head -c0`, `2>/dev/full`), and a panic there
//! would hide what the exit status should say.

use std::io::Write;

/// Writes to stderr, ignoring failure: a message nobody can read must not stop the command;
/// the exit status still says what happened.
pub fn to_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Writes a command's result to stdout. A failed write is the command's failure (the result
/// was lost), so it is returned for the caller to turn into its exit status.
pub fn to_stdout(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.flush()
}
