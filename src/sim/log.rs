//! Where the simulator's log lines go: stderr for `cbbook sim`, `tracing` when it runs inside the
//! viewer (`cbbook --demo`, whose terminal belongs to the UI) or inside tests.

use std::fmt;

use super::protocol::clip;

/// A backstop for one log line: client text in it is already cut to
/// [`super::protocol::MAX_ECHO_CHARS`], so only a bug could make a line longer than this.
const MAX_LINE_CHARS: usize = 2000;

/// The destination of the simulator's one-line-per-event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimLog {
    /// One line per event on stderr (the `cbbook sim` command).
    Stderr,
    /// `tracing` events at INFO level (in-process use).
    #[default]
    Tracing,
    /// Nothing.
    Silent,
}

impl SimLog {
    /// Writes one line. A stderr that cannot be written (its reader gone, as in
    /// `cbbook sim 2>&1 | head -1`) loses the line and nothing else: serving goes on.
    ///
    /// Lines carry what clients sent (product ids, channel names, a user agent): every control
    /// character in the line, a line break included, is escaped ([`crate::text::printable`]),
    /// so that a client cannot write to the terminal of whoever watches the log, nor forge
    /// log lines.
    pub fn line(self, args: fmt::Arguments<'_>) {
        if self == SimLog::Silent {
            return;
        }
        let text = args.to_string();
        let text = crate::text::printable(&text);
        let text = clip(&text, MAX_LINE_CHARS);
        match self {
            SimLog::Stderr => {
                crate::output::to_stderr(format_args!("cbbook sim: {text}\n"));
            }
            SimLog::Tracing => tracing::info!(target: "cbbook::sim", "{text}"),
            SimLog::Silent => {}
        }
    }
}
