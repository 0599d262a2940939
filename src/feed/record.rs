//! Recordings: every received frame with its receive time, as JSON Lines (`docs/recording.md`).
//!
//! A line is one of:
//! ```text
//! {"t":1700000000123,"frame":{...the frame exactly as received...}}
//! {"t":1700000000123,"text":"a frame that is not one line of valid JSON, as a string"}
//! {"t":1700000000123,"binary":"/wA="}
//! {"t":1700000000123,"unread":"a frame over the 64 MiB limit (Message too long: 70000000 > 67108864)"}
//! {"t":1700000000100,"connect":{"url":"wss://...","authenticated":false,"products":["BTC-USD"]}}
//! {"t":1700000004100,"disconnect":"server closed the connection"}
//! {"t":1700000002000,"resync":"user"}
//! {"t":1700000003600,"continued":{"url":"wss://...","authenticated":false,"products":["BTC-USD"],"previous":"s-...jsonl.zst"}}
//! {"t":1700000002001,"c":2,"frame":{...a frame received on connection 2...}}
//! ```
//! `c` is the index of the connection (a sharded session has several, docs/feed.md
//! "Sharding"); it is left out for connection 0, so a one-connection recording is what it always
//! was, and lines without it (every older recording) are connection 0.
//! `t` is the local receive time in Unix milliseconds. The frame is embedded as raw JSON, not as an
//! escaped string, so that replay finds it with a prefix check and hands the very bytes received to
//! the core without a second parse. Every frame received is written, so that replay counts what
//! live counted: a binary frame that is not UTF-8 text as `binary` (its bytes in base64), and a
//! frame the WebSocket layer refused before cbbook saw its bytes (over the size limit, text that is
//! not UTF-8) as `unread`, with the reason. Only received frames are written, never what cbbook
//! sends, so no JWT can reach a recording.
//!
//! The reader also takes files of bare frames, one per line (third-party captures): any line that
//! does not start with `{"t":` is a frame.

use std::borrow::Cow;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[cfg(test)]
pub(crate) use crate::feed::recorder::write_frame_line;
pub use crate::feed::recorder::{COMPRESSED_FLUSH, Recorder};
pub use crate::feed::source::Source;

/// The start of every recorded line, and of no bare Coinbase frame.
pub(crate) const RECORD_PREFIX: &[u8] = br#"{"t":"#;
/// What follows the time on a frame line.
pub(crate) const FRAME_KEY: &[u8] = br#","frame":"#;
/// What follows the time when the line names its connection (`,"c":2`).
pub(crate) const CONNECTION_KEY: &[u8] = br#","c":"#;

/// What can go wrong writing or replaying a recording. Each message names the file and says what
/// to do; the I/O cause is part of the message (not a separate `source`), so that printing the
/// error with its chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "cannot open the recording file {path} for appending: {error}. Check the directory exists and is writable"
    )]
    Open { path: PathBuf, error: io::Error },
    #[error("{path} is a directory: give the path of a file")]
    Directory { path: PathBuf },
    #[error(
        "{path} has no readable entry in the {mib} MiB read from line {from_line} on (blank lines, broken lines, or a line with no end; a recording's line is at most {limit_mib} MiB): it is not a recording, or the rest of it is damaged. Give a file made with --record, or one of frames, one per line"
    )]
    NoEntry {
        path: PathBuf,
        from_line: u64,
        mib: usize,
        limit_mib: usize,
    },
    #[error(
        "{path} already exists: a {format}-compressed recording is written whole by one run, never appended to. Give a new file name (or --record-rotate, whose file names carry their start time)"
    )]
    CompressedExists { path: PathBuf, format: &'static str },
    #[error("cannot write to the recording file {path}: {error}. Check the disk has space")]
    Write { path: PathBuf, error: io::Error },
    #[error("cannot open {path} for replay: {error}. Check the path and that you may read it")]
    OpenReplay { path: PathBuf, error: io::Error },
    #[error("cannot read {path} at line {line}: {error}")]
    Read {
        path: PathBuf,
        line: u64,
        error: io::Error,
    },
    #[error(
        "{path} is {format}-compressed: decompress it first (`{command} {path}`) and replay the result"
    )]
    Compressed {
        path: PathBuf,
        format: &'static str,
        command: &'static str,
    },
    #[error(
        "{path} is empty: nothing to replay. Give a file made with --record, or one of frames, one per line"
    )]
    Empty { path: PathBuf },
    #[error(
        "{path} is not a cbbook recording or a file of frames: none of its first {lines} line(s) is usable. Give a file made with --record, or one of frames, one per line"
    )]
    NotARecording { path: PathBuf, lines: u64 },
    #[error(
        "--speed {} is too slow: use a factor of at least {min} (that many times the recorded speed), or `max`",
        show_speed(*speed),
        min = crate::feed::replay::MIN_SPEED
    )]
    TooSlow { speed: f64 },
}

/// A speed factor as the user would write it: `1e-300`, not three hundred zeros.
fn show_speed(speed: f64) -> String {
    if speed != 0.0 && speed.abs() < 1e-4 {
        format!("{speed:e}")
    } else {
        format!("{speed}")
    }
}

/// How the connection that follows was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectInfo {
    pub url: String,
    /// Its subscribes carried a JWT (the JWT itself is never recorded).
    #[serde(default)]
    pub authenticated: bool,
    #[serde(default)]
    pub products: Vec<String>,
    /// The user-data connection (docs/recording.md, "Your orders"): its frames are the `user`
    /// channel's, replayed into the orders, not the books. Left out for a market connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
}

/// The connection index of the user-data connection's lines: above any market connection's (a
/// session has at most one connection per product, and at most 500 products), below
/// [`crate::feed::replay::MAX_CONNECTIONS`], so that a cbbook from before the user channel gives
/// it a core of its own, where its frames are a channel it does not use, instead of mixing them
/// into a market connection's.
pub const USER_CONNECTION: usize = crate::feed::replay::MAX_CONNECTIONS - 1;

/// One line of a recording or of a bare-frame file.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry<'a> {
    /// A received frame, as bytes (replay does not spend a UTF-8 pass on frames the fast parser
    /// reads; the core checks the rest); `t_ms` is `None` for bare frames.
    Frame {
        t_ms: Option<i64>,
        text: Cow<'a, [u8]>,
        bare: bool,
    },
    /// A received binary frame that is not UTF-8 text, decoded from the line's base64.
    Binary {
        t_ms: i64,
        bytes: Vec<u8>,
    },
    /// A received frame whose bytes the WebSocket layer refused, and why.
    Unread {
        t_ms: i64,
        reason: String,
    },
    Connect {
        t_ms: i64,
        info: ConnectInfo,
    },
    /// A connection open when the previous file of a rotated recording ended, going on in this
    /// one (docs/recording.md, "Rotation"): its next sequence number is taken as it comes.
    Continued {
        t_ms: i64,
        info: ConnectInfo,
    },
    Disconnect {
        t_ms: i64,
        reason: String,
    },
    Resync {
        t_ms: i64,
    },
}

/// The general form of a recorded line (when the fast path does not apply).
#[derive(Deserialize)]
struct RecordLine<'a> {
    t: i64,
    /// The connection, in a sharded session's recording; absent: 0.
    #[serde(default)]
    c: usize,
    #[serde(borrow, default)]
    frame: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    binary: Option<Cow<'a, str>>,
    #[serde(default)]
    unread: Option<String>,
    #[serde(default)]
    connect: Option<ConnectInfo>,
    #[serde(default)]
    continued: Option<ConnectInfo>,
    #[serde(default)]
    disconnect: Option<String>,
    #[serde(default)]
    resync: Option<String>,
}

/// What a line is, decided before it is handed out.
enum Verdict {
    Entry,
    Blank,
    Broken,
}

/// Where the line just read lies.
#[derive(Clone, Copy)]
enum Place {
    /// Whole in `input`'s buffer, up to this offset (the line break excluded).
    InBuffer(usize),
    /// In `long_line`.
    Long,
}

/// What one bounded step of reading found (see [`RecordReader::poll_entry_on`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Polled<'a> {
    /// An entry, with the connection it was received on.
    Entry(Entry<'a>, usize),
    /// [`READ_SLICE`] bytes or [`READ_SLICE_LINES`] lines read without finishing an entry, or
    /// the input has nothing yet (a pipe whose writer is slow): ask again, after looking at
    /// whatever may stop the replay.
    Busy,
    /// The end of the file.
    End,
}

/// What [`RecordReader::advance`] found, without borrowing the reader.
enum Advanced {
    Line(Place),
    Busy,
    End,
}

/// Reads a recording line by line: memory does not grow with the file. A line that lies whole in
/// the read buffer is handed out in place; only a line that straddles the buffer's end (or is
/// longer than it, such as a 5 MB snapshot) is copied into a reused line buffer, up to
/// [`MAX_LINE_BYTES`]: the rest of a longer line is read past and the line counted as broken.
///
/// Each step does a bounded amount of work ([`RecordReader::poll_entry_on`]), so that a caller
/// can stop between steps whatever the file holds (an endless line, gigabytes of junk), and a
/// file that yields no entry in [`max_skip_bytes`] of skipped data is an error
/// ([`RecordError::NoEntry`]) rather than a read that never ends.
pub struct RecordReader<R> {
    input: BufReader<R>,
    path: PathBuf,
    /// Bytes of `input`'s buffer handed out by the last call, consumed at the next.
    handed_out: usize,
    /// The current line, when it did not lie whole in `input`'s buffer.
    long_line: Vec<u8>,
    /// A line that did not lie whole in the buffer is being read (into `long_line`, unless it
    /// is over `max_line`); it may take several steps.
    in_long_line: bool,
    /// The line being read is over `max_line`: the rest of it is read past.
    line_too_long: bool,
    max_line: usize,
    /// Bytes skipped (blank lines, broken lines, lines over the limit) since the last entry, and
    /// the line where that run started: over `max_line`, the file is given up on.
    skipped: usize,
    skipped_from: u64,
    /// The start of the file (byte-order mark, compression) has been looked at.
    started: bool,
    line: u64,
    blank: u64,
    broken: u64,
    too_long: u64,
    entries: u64,
}

/// Read buffer: large enough that most frames (a few hundred bytes to a few kB) lie whole in it,
/// small enough to stay in the core's cache between the kernel's copy and the parser's read
/// (256 KiB replays the benchmark corpus about 2% faster than 1 MiB).
const READ_BUFFER: usize = 256 << 10;

/// The room made for the first line that does not fit the read buffer: the largest snapshot
/// frames (BTC-USD's whole book) are about 5 MB.
const LONG_LINE_RESERVE: usize = 8 << 20;

/// Past this length a long line's buffer grows to the longest line kept in one step (see
/// `continue_long_line`).
const LONG_LINE_JUMP: usize = 64 << 20;

/// The most bytes one step reads without finishing an entry before handing control back: a few
/// milliseconds of work in a release build (a tenth of a second unoptimised), so that a stop is
/// seen promptly even inside a 384 MiB line.
pub const READ_SLICE: usize = 4 << 20;

/// The most lines one step skips (blank or broken) before handing control back: a file of
/// nothing but line breaks is read a slice at a time too.
pub const READ_SLICE_LINES: u64 = 4096;

/// The longest line replay reads: the longest line the recorder writes for a frame of the live
/// client's largest size. A longer line cannot have been written by cbbook; it is skipped as a
/// broken line without being held whole.
pub const MAX_LINE_BYTES: usize = max_line_bytes(crate::feed::client::MAX_MESSAGE_BYTES);

/// The longest recorded line for a frame of `frame_bytes`: a frame stored as a JSON string under
/// `text` grows at most sixfold (serde_json writes a control character as `\u00XX`), plus the
/// envelope (`{"t":` and the longest time, `,"text":"`, `"}`, the line break) with room to spare.
pub const fn max_line_bytes(frame_bytes: usize) -> usize {
    6 * frame_bytes + 4096
}

/// The most data replay skips in a row (blank lines, broken lines, lines over `max_line`)
/// before it gives a file up: twice the longest line, so that one line over the limit (a
/// damaged recording) is still skipped, while an endless one (`/dev/zero`) or gigabytes of junk
/// end in an error. A recording has an entry on every line.
pub const fn max_skip_bytes(max_line: usize) -> usize {
    max_line.saturating_mul(2)
}

/// A file whose first this many lines are all broken is not a recording: replay stops there.
pub const PROBE_LINES: u64 = 100;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Magic numbers of compressed files, with the command that undoes them.
const COMPRESSED: [(&[u8], &str, &str); 4] = [
    (b"\x1F\x8B", "gzip", "gunzip -k"),
    (b"\x28\xB5\x2F\xFD", "zstd", "unzstd"),
    (b"\xFD7zXZ\x00", "xz", "unxz -k"),
    (b"BZh", "bzip2", "bunzip2 -k"),
];

impl RecordReader<Source> {
    /// Opens a file for reading: a regular file directly, anything else (a pipe, a terminal, a
    /// device) on a thread of its own ([`Source`]), so that a read that blocks cannot hold up
    /// the replay loop.
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        if path.is_dir() {
            return Err(RecordError::Directory {
                path: path.to_owned(),
            });
        }
        let source = Source::open(path).map_err(|error| RecordError::OpenReplay {
            path: path.to_owned(),
            error,
        })?;
        Ok(RecordReader::new(source, path))
    }

    /// Why compressed data ended before the end of the file, once read up to there
    /// ([`Source::damage`]): what came before it was read as usual.
    pub fn damage(&self) -> Option<String> {
        self.input.get_ref().damage()
    }
}

impl<R: Read> RecordReader<R> {
    pub fn new(input: R, path: &Path) -> Self {
        RecordReader {
            input: BufReader::with_capacity(READ_BUFFER, input),
            path: path.to_owned(),
            handed_out: 0,
            long_line: Vec::new(),
            in_long_line: false,
            line_too_long: false,
            max_line: MAX_LINE_BYTES,
            skipped: 0,
            skipped_from: 1,
            started: false,
            line: 0,
            blank: 0,
            broken: 0,
            too_long: 0,
            entries: 0,
        }
    }

    /// Sets the longest line read, and so the most data skipped in a row (tests use a small one).
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }

    /// Lines that were not an entry (skipped): invalid `{"t":` lines, including those that are
    /// not UTF-8, and lines over [`MAX_LINE_BYTES`].
    pub fn broken_lines(&self) -> u64 {
        self.broken
    }

    /// Of the broken lines, those skipped for being over [`MAX_LINE_BYTES`].
    pub fn too_long_lines(&self) -> u64 {
        self.too_long
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Lines read so far that were not blank.
    pub fn non_blank_lines(&self) -> u64 {
        self.line - self.blank
    }

    fn read_error(&self, error: io::Error) -> RecordError {
        RecordError::Read {
            path: self.path.clone(),
            line: self.line + 1,
            error,
        }
    }

    /// At the start: skips a UTF-8 byte-order mark, and refuses a compressed file. `false` when
    /// the input has nothing yet (to be looked at again).
    fn look_at_start(&mut self) -> Result<bool, RecordError> {
        let head = match self.input.fill_buf() {
            Ok(head) => head,
            Err(e) if is_not_yet(&e) => return Ok(false),
            Err(e) => return Err(self.read_error(e)),
        };
        self.started = true;
        if head.starts_with(UTF8_BOM) {
            self.input.consume(UTF8_BOM.len());
            return Ok(true);
        }
        match COMPRESSED
            .iter()
            .find(|(magic, ..)| head.starts_with(magic))
        {
            Some(&(_, format, command)) => Err(RecordError::Compressed {
                path: self.path.clone(),
                format,
                command,
            }),
            None => Ok(true),
        }
    }

    /// The next entry; `Ok(None)` at the end. Broken lines are counted and skipped; an I/O error,
    /// a compressed file, a file whose first [`PROBE_LINES`] lines are all broken, or one with no
    /// entry in [`max_skip_bytes`] of skipped data stops the reader. Reads until there is an
    /// entry: a caller that must be able to stop in between uses
    /// [`RecordReader::poll_entry_on`].
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, RecordError> {
        Ok(self.next_entry_on()?.map(|(entry, _)| entry))
    }

    /// [`RecordReader::next_entry`], with the connection the entry was received on (its `c`; 0
    /// when absent, and for bare frames).
    pub fn next_entry_on(&mut self) -> Result<Option<(Entry<'_>, usize)>, RecordError> {
        loop {
            match self.advance()? {
                Advanced::Line(place) => return Ok(self.entry_at(place)),
                Advanced::Busy => {}
                Advanced::End => return Ok(None),
            }
        }
    }

    /// One bounded step of [`RecordReader::next_entry_on`]: an entry, the end, or
    /// [`Polled::Busy`] after [`READ_SLICE`] bytes or [`READ_SLICE_LINES`] lines without one
    /// (or when the input has nothing yet).
    pub fn poll_entry_on(&mut self) -> Result<Polled<'_>, RecordError> {
        Ok(match self.advance()? {
            Advanced::Line(place) => match self.entry_at(place) {
                Some((entry, conn)) => Polled::Entry(entry, conn),
                // Cannot happen: the line was checked to be an entry. Asking again is harmless.
                None => Polled::Busy,
            },
            Advanced::Busy => Polled::Busy,
            Advanced::End => Polled::End,
        })
    }

    /// The entry on the line [`RecordReader::advance`] found.
    fn entry_at(&self, place: Place) -> Option<(Entry<'_>, usize)> {
        let line = match place {
            Place::InBuffer(end) => &self.input.buffer()[..end],
            Place::Long => &self.long_line[..],
        };
        classify_on(line.trim_ascii())
    }

    /// Reads on to the next entry's line, within one slice of work.
    fn advance(&mut self) -> Result<Advanced, RecordError> {
        if !self.started && !self.look_at_start()? {
            return Ok(Advanced::Busy);
        }
        let (mut work, mut lines) = (0usize, 0u64);
        loop {
            self.input.consume(std::mem::take(&mut self.handed_out));
            if work >= READ_SLICE || lines >= READ_SLICE_LINES {
                return Ok(Advanced::Busy);
            }
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_not_yet(&e) => return Ok(Advanced::Busy),
                Err(e) => return Err(self.read_error(e)),
            };
            let (verdict, place, length) = if self.in_long_line {
                // The end of the file ends the line too.
                let ends_at = if available.is_empty() {
                    Some(0)
                } else {
                    memchr::memchr(b'\n', available).map(|end| end + 1)
                };
                let take = ends_at.unwrap_or(available.len());
                self.continue_long_line(take)?;
                work += take;
                if ends_at.is_none() {
                    continue;
                }
                self.in_long_line = false;
                let length = self.long_line.len();
                if std::mem::take(&mut self.line_too_long) {
                    self.note_too_long();
                    // Its bytes were counted as skipped as they were read.
                    (Verdict::Broken, Place::Long, 0)
                } else {
                    (check(&self.long_line), Place::Long, length)
                }
            } else if available.is_empty() {
                return Ok(Advanced::End);
            } else if let Some(end) = memchr::memchr(b'\n', available) {
                self.handed_out = end + 1;
                work += end + 1;
                // The same limit as for a line read in pieces (only a smaller limit than the
                // buffer, as tests set, makes a difference here).
                if end + 1 > self.max_line {
                    self.note_too_long();
                    (Verdict::Broken, Place::InBuffer(end), end + 1)
                } else {
                    let line = &self.input.buffer()[..end];
                    (check(line), Place::InBuffer(end), end + 1)
                }
            } else {
                // The line goes on past the buffer: copied from here, over as many steps as it
                // takes.
                self.in_long_line = true;
                self.long_line.clear();
                // Room for a large snapshot at once (kept for the next long line): growing by
                // doubling would touch, and have the kernel clear, about twice the memory.
                self.long_line.reserve(LONG_LINE_RESERVE.min(self.max_line));
                continue;
            };
            self.line += 1;
            lines += 1;
            match verdict {
                Verdict::Entry => {
                    self.entries += 1;
                    self.skipped = 0;
                    self.skipped_from = self.line + 1;
                    return Ok(Advanced::Line(place));
                }
                Verdict::Blank => self.blank += 1,
                Verdict::Broken => {
                    self.broken += 1;
                    if self.entries == 0 && self.broken >= PROBE_LINES {
                        return Err(RecordError::NotARecording {
                            path: self.path.clone(),
                            lines: self.line,
                        });
                    }
                }
            }
            self.skip(length)?;
        }
    }

    /// Counts the line being finished as over the limit (and so broken).
    fn note_too_long(&mut self) {
        self.too_long += 1;
        tracing::warn!(
            "{}: line {} is longer than {} bytes: skipped",
            self.path.display(),
            self.line + 1,
            self.max_line
        );
    }

    /// Takes the next `take` bytes of the buffer as part of the current long line: kept up to
    /// `max_line` bytes in all, past that counted as skipped and dropped.
    fn continue_long_line(&mut self, take: usize) -> Result<(), RecordError> {
        if !self.line_too_long && self.long_line.len() + take > self.max_line {
            self.line_too_long = true;
            // Give the memory back: such a line is not a recording's.
            let kept = std::mem::take(&mut self.long_line).len();
            self.skip(kept)?;
        }
        if self.line_too_long {
            self.input.consume(take);
            return self.skip(take);
        }
        let needed = self.long_line.len() + take;
        if needed > self.long_line.capacity() {
            // Grow by doubling up to `LONG_LINE_JUMP`, then straight to the longest line kept:
            // a reallocation holds the old buffer and the new one at once, so a chain of
            // doublings towards the limit would need several times a line's memory (a process
            // under an address-space limit ran out of it). Room reserved is only touched as the
            // line fills it.
            let target = if needed > LONG_LINE_JUMP {
                self.max_line
            } else {
                needed.max(self.long_line.capacity() * 2)
            }
            .min(self.max_line);
            self.long_line.reserve_exact(target - self.long_line.len());
        }
        self.long_line
            .extend_from_slice(&self.input.buffer()[..take]);
        self.input.consume(take);
        Ok(())
    }

    /// Counts `bytes` more read without an entry; past [`max_skip_bytes`] of them the file is
    /// given up.
    fn skip(&mut self, bytes: usize) -> Result<(), RecordError> {
        self.skipped = self.skipped.saturating_add(bytes);
        if self.skipped > max_skip_bytes(self.max_line) {
            return Err(RecordError::NoEntry {
                path: self.path.clone(),
                from_line: self.skipped_from,
                mib: self.skipped >> 20,
                limit_mib: self.max_line >> 20,
            });
        }
        Ok(())
    }
}

/// An input that has nothing to give yet (a [`Source`] read on a thread, waiting): the reader
/// hands control back and is asked again.
fn is_not_yet(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

fn check(line: &[u8]) -> Verdict {
    let line = line.trim_ascii();
    if line.is_empty() {
        Verdict::Blank
    } else if classify(line).is_some() {
        Verdict::Entry
    } else {
        Verdict::Broken
    }
}

/// Reads one non-empty line; `None` when it is broken.
fn classify(bytes: &[u8]) -> Option<Entry<'_>> {
    classify_on(bytes).map(|(entry, _)| entry)
}

/// The leading decimal digits of `bytes` (at most 18, so that they fit an `i64`), as a number
/// and their length.
fn leading_number(bytes: &[u8]) -> Option<(u64, usize)> {
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 18 {
        return None;
    }
    let value = bytes[..n]
        .iter()
        .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    Some((value, n))
}

/// [`classify`], with the connection the line names (0 when it names none).
fn classify_on(bytes: &[u8]) -> Option<(Entry<'_>, usize)> {
    if !bytes.starts_with(RECORD_PREFIX) {
        let entry = Entry::Frame {
            t_ms: None,
            text: Cow::Borrowed(bytes),
            bare: true,
        };
        return Some((entry, 0));
    }
    // Fast path: {"t":DIGITS,"frame":RAW} or {"t":DIGITS,"c":DIGITS,"frame":RAW}
    if let Some((t, n)) = leading_number(&bytes[RECORD_PREFIX.len()..]) {
        let mut after = RECORD_PREFIX.len() + n;
        let mut connection = 0;
        if bytes[after..].starts_with(CONNECTION_KEY) {
            let at = after + CONNECTION_KEY.len();
            if let Some((c, m)) = leading_number(&bytes[at..]) {
                connection = usize::try_from(c).unwrap_or(usize::MAX);
                after = at + m;
            }
        }
        if bytes[after..].starts_with(FRAME_KEY) && bytes.ends_with(b"}") {
            let entry = Entry::Frame {
                t_ms: Some(t as i64),
                text: Cow::Borrowed(&bytes[after + FRAME_KEY.len()..bytes.len() - 1]),
                bare: false,
            };
            return Some((entry, connection));
        }
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let line: RecordLine<'_> = serde_json::from_str(text).ok()?;
    let connection = line.c;
    classify_line(line).map(|entry| (entry, connection))
}

/// A line read the general way.
fn classify_line(line: RecordLine<'_>) -> Option<Entry<'_>> {
    let t_ms = line.t;
    if let Some(frame) = line.frame {
        return Some(Entry::Frame {
            t_ms: Some(t_ms),
            text: Cow::Borrowed(frame.get().as_bytes()),
            bare: false,
        });
    }
    if let Some(text) = line.text {
        let text = match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        return Some(Entry::Frame {
            t_ms: Some(t_ms),
            text,
            bare: false,
        });
    }
    if let Some(encoded) = line.binary {
        // Base64 that does not decode: the line is broken.
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .ok()?;
        return Some(Entry::Binary { t_ms, bytes });
    }
    if let Some(reason) = line.unread {
        return Some(Entry::Unread { t_ms, reason });
    }
    if let Some(info) = line.connect {
        return Some(Entry::Connect { t_ms, info });
    }
    if let Some(info) = line.continued {
        return Some(Entry::Continued { t_ms, info });
    }
    if let Some(reason) = line.disconnect {
        return Some(Entry::Disconnect { t_ms, reason });
    }
    if line.resync.is_some() {
        return Some(Entry::Resync { t_ms });
    }
    None
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
