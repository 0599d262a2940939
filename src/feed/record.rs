//! Recordings: every received frame with its receive time, as JSON Lines (`docs/recording.md`).
//!
//! A line is one of:
//! ```text
//! {"t":1700000000123,"frame":{...the frame exactly as received...}}
//! {"t":1700000000123,"text":"a frame that is not one line of valid JSON, as a string"}
//! {"t":1700000000100,"connect":{"url":"wss://...","authenticated":false,"products":["BTC-USD"]}}
//! {"t":1700000004100,"disconnect":"server closed the connection"}
//! {"t":1700000002000,"resync":"user"}
//! ```
//! `t` is the local receive time in Unix milliseconds. The frame is embedded as raw JSON, not as an
//! escaped string, so that replay finds it with a prefix check and hands the very bytes received to
//! the core without a second parse. Only received frames are written, never what cbbook sends, so
//! no JWT can reach a recording.
//!
//! The reader also takes files of bare frames, one per line (third-party captures): any line that
//! does not start with `{"t":` is a frame.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The start of every recorded line, and of no bare Coinbase frame.
const RECORD_PREFIX: &[u8] = br#"{"t":"#;
/// What follows the time on a frame line.
const FRAME_KEY: &[u8] = br#","frame":"#;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "cannot open the recording file {path} for appending: {source}. Check the directory exists and is writable"
    )]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot write to the recording file {path}: {source}. Check the disk has space")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot open {path} for replay: {source}")]
    OpenReplay { path: PathBuf, source: io::Error },
    #[error("cannot read {path} at line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: io::Error,
    },
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
}

/// Appends to a recording. Writes go through a buffer; [`Recorder::flush`] runs on every view
/// tick and at the end, so an abrupt stop loses at most a fraction of a second.
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Recorder {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> Result<Recorder, RecordError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| RecordError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Recorder {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn wrap(&self, source: io::Error) -> RecordError {
        RecordError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// One received frame. `is_json`: the frame parsed as JSON (the core says so), so it can be
    /// embedded as is when it fits on one line.
    pub fn frame(&mut self, t_ms: i64, text: &str, is_json: bool) -> Result<(), RecordError> {
        let result = write_frame_line(&mut self.out, t_ms, text, is_json);
        result.map_err(|e| self.wrap(e))
    }

    /// A new connection starts.
    pub fn connect(&mut self, t_ms: i64, info: &ConnectInfo) -> Result<(), RecordError> {
        self.marker(t_ms, "connect", info)
    }

    /// The connection was lost (or left), and why.
    pub fn disconnect(&mut self, t_ms: i64, reason: &str) -> Result<(), RecordError> {
        self.marker(t_ms, "disconnect", &reason)
    }

    /// The user asked for a resync (gaps need no marker: replay finds them in the frames).
    pub fn resync(&mut self, t_ms: i64) -> Result<(), RecordError> {
        self.marker(t_ms, "resync", &"user")
    }

    fn marker<T: Serialize>(&mut self, t_ms: i64, key: &str, value: &T) -> Result<(), RecordError> {
        let result = (|| {
            write!(self.out, "{{\"t\":{t_ms},\"{key}\":")?;
            serde_json::to_writer(&mut self.out, value)?;
            self.out.write_all(b"}\n")
        })();
        result.map_err(|e| self.wrap(e))
    }

    pub fn flush(&mut self) -> Result<(), RecordError> {
        let result = self.out.flush();
        result.map_err(|e| self.wrap(e))
    }
}

fn write_frame_line(out: &mut impl Write, t_ms: i64, text: &str, is_json: bool) -> io::Result<()> {
    if is_json && !text.contains(['\n', '\r']) {
        write!(out, "{{\"t\":{t_ms},\"frame\":")?;
        out.write_all(text.trim().as_bytes())?;
        out.write_all(b"}\n")
    } else {
        write!(out, "{{\"t\":{t_ms},\"text\":")?;
        serde_json::to_writer(&mut *out, text)?;
        out.write_all(b"}\n")
    }
}

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
    Connect {
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
    #[serde(borrow, default)]
    frame: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    connect: Option<ConnectInfo>,
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

/// Reads a recording line by line: memory does not grow with the file. A line that lies whole in
/// the read buffer is handed out in place; only a line that straddles the buffer's end (or is
/// longer than it, such as a 5 MB snapshot) is copied into a reused line buffer.
pub struct RecordReader<R> {
    input: BufReader<R>,
    path: PathBuf,
    /// Bytes of `input`'s buffer handed out by the last call, consumed at the next.
    handed_out: usize,
    /// The current line, when it did not lie whole in `input`'s buffer.
    long_line: Vec<u8>,
    line: u64,
    broken: u64,
}

/// Read buffer: large enough that most frames (a few hundred bytes to a few kB) lie whole in it,
/// small enough to stay in the core's cache between the kernel's copy and the parser's read
/// (256 KiB replays the benchmark corpus about 2% faster than 1 MiB).
const READ_BUFFER: usize = 256 << 10;

impl RecordReader<File> {
    /// Opens a file for reading.
    pub fn open(path: &Path) -> Result<Self, RecordError> {
        let file = File::open(path).map_err(|source| RecordError::OpenReplay {
            path: path.to_owned(),
            source,
        })?;
        Ok(RecordReader::new(file, path))
    }
}

impl<R: Read> RecordReader<R> {
    pub fn new(input: R, path: &Path) -> Self {
        RecordReader {
            input: BufReader::with_capacity(READ_BUFFER, input),
            path: path.to_owned(),
            handed_out: 0,
            long_line: Vec::new(),
            line: 0,
            broken: 0,
        }
    }

    /// Lines that were not an entry (skipped): invalid `{"t":` lines, including those that are
    /// not UTF-8.
    pub fn broken_lines(&self) -> u64 {
        self.broken
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    fn read_error(&self, source: io::Error) -> RecordError {
        RecordError::Read {
            path: self.path.clone(),
            line: self.line + 1,
            source,
        }
    }

    /// The next entry; `Ok(None)` at the end. Broken lines are counted and skipped; only an I/O
    /// error stops the reader.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, RecordError> {
        let in_place = loop {
            self.input.consume(std::mem::take(&mut self.handed_out));
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(e) => return Err(self.read_error(e)),
            };
            if available.is_empty() {
                return Ok(None);
            }
            let in_place = memchr::memchr(b'\n', available);
            let verdict = match in_place {
                Some(end) => {
                    self.handed_out = end + 1;
                    check(&self.input.buffer()[..end])
                }
                None => {
                    self.long_line.clear();
                    if let Err(e) = self.input.read_until(b'\n', &mut self.long_line) {
                        return Err(self.read_error(e));
                    }
                    check(&self.long_line)
                }
            };
            self.line += 1;
            match verdict {
                Verdict::Entry => break in_place,
                Verdict::Blank => {}
                Verdict::Broken => self.broken += 1,
            }
        };
        let line = match in_place {
            Some(end) => &self.input.buffer()[..end],
            None => &self.long_line[..],
        };
        Ok(classify(line.trim_ascii()))
    }
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
    if !bytes.starts_with(RECORD_PREFIX) {
        return Some(Entry::Frame {
            t_ms: None,
            text: Cow::Borrowed(bytes),
            bare: true,
        });
    }
    // Fast path: {"t":DIGITS,"frame":RAW}
    let digits = &bytes[RECORD_PREFIX.len()..];
    let digits = &digits[..digits.iter().take_while(|b| b.is_ascii_digit()).count()];
    let after = RECORD_PREFIX.len() + digits.len();
    if !digits.is_empty()
        && digits.len() <= 18
        && bytes[after..].starts_with(FRAME_KEY)
        && bytes.ends_with(b"}")
    {
        let t_ms = digits
            .iter()
            .fold(0i64, |t, d| t * 10 + i64::from(d - b'0'));
        return Some(Entry::Frame {
            t_ms: Some(t_ms),
            text: Cow::Borrowed(&bytes[after + FRAME_KEY.len()..bytes.len() - 1]),
            bare: false,
        });
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let line: RecordLine<'_> = serde_json::from_str(text).ok()?;
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
    if let Some(info) = line.connect {
        return Some(Entry::Connect { t_ms, info });
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
mod tests {
    use super::*;

    fn read_all(input: &str) -> (Vec<String>, u64) {
        let mut reader = RecordReader::new(input.as_bytes(), Path::new("test"));
        let mut out = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            out.push(format!("{entry:?}"));
        }
        (out, reader.broken_lines())
    }

    #[test]
    fn written_lines_read_back() {
        let mut out = Vec::new();
        let frame = r#"{"channel":"heartbeats","sequence_num":0,"events":[]}"#;
        write_frame_line(&mut out, 5, frame, true).unwrap();
        write_frame_line(&mut out, 6, "not json", false).unwrap();
        write_frame_line(&mut out, 7, "{\"a\":\n1}", true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            format!(r#"{{"t":5,"frame":{frame}}}"#)
        );
        let mut reader = RecordReader::new(text.as_bytes(), Path::new("test"));
        let expect = [(5, frame), (6, "not json"), (7, "{\"a\":\n1}")];
        for (t, f) in expect {
            match reader.next_entry().unwrap().unwrap() {
                Entry::Frame { t_ms, text, bare } => {
                    assert_eq!((t_ms, text.as_ref(), bare), (Some(t), f.as_bytes(), false));
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(reader.next_entry().unwrap().is_none());
    }

    #[test]
    fn markers_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.jsonl");
        let info = ConnectInfo {
            url: "ws://127.0.0.1:1".into(),
            authenticated: true,
            products: vec!["BTC-USD".into()],
        };
        {
            let mut r = Recorder::open(&path).unwrap();
            r.connect(1, &info).unwrap();
            r.frame(2, r#"{"channel":"x"}"#, true).unwrap();
            r.resync(3).unwrap();
            r.disconnect(4, "closed \"abruptly\"").unwrap();
            r.flush().unwrap();
        }
        // Appending keeps what was there.
        Recorder::open(&path).unwrap().connect(5, &info).unwrap();
        let mut reader = RecordReader::open(&path).unwrap();
        let mut entries = Vec::new();
        while let Some(e) = reader.next_entry().unwrap() {
            entries.push(format!("{e:?}"));
        }
        assert_eq!(entries.len(), 5, "{entries:?}");
        assert!(entries[0].starts_with("Connect { t_ms: 1"));
        assert!(entries[2].starts_with("Resync { t_ms: 3"));
        assert!(
            entries[3].contains(r#"closed \"abruptly\""#),
            "{}",
            entries[3]
        );
        assert!(entries[4].starts_with("Connect { t_ms: 5"));
    }

    #[test]
    fn bare_frames_and_broken_lines() {
        let input = "{\"channel\":\"heartbeats\",\"sequence_num\":0}\r\n\
                     \n\
                     {\"t\":12,\"frame\":{\"channel\":\"l2\n\
                     {\"t\":\"x\",\"frame\":{}}\n\
                     {\"t\":1,\"nothing\":1}\n\
                     {\"t\": 13, \"frame\": {\"channel\":\"heartbeats\"}}\n\
                     {\"t\":14,\"frame\":{\"channel\":\"heartbeats\"}}";
        let (entries, broken) = read_all(input);
        assert_eq!(broken, 3, "{entries:?}");
        assert_eq!(entries.len(), 3, "{entries:?}");
        assert!(entries[0].contains("t_ms: None") && entries[0].contains("bare: true"));
        assert!(entries[1].contains("t_ms: Some(13)") && entries[1].contains("bare: false"));
        assert!(entries[2].contains("t_ms: Some(14)"));
    }

    #[test]
    fn invalid_utf8_in_an_entry_is_a_broken_line_and_in_a_bare_frame_a_bad_frame() {
        let mut input = b"{\"channel\":\"a\"}\n".to_vec();
        input.extend_from_slice(b"{\"t\":1,\"text\":\"\xff\"}\n");
        input.extend_from_slice(&[0xff, 0xfe, b'\n']);
        input.extend_from_slice(b"{\"channel\":\"b\"}");
        let mut reader = RecordReader::new(&input[..], Path::new("test"));
        let mut core = crate::feed::core::FeedCore::new("test", &[], false, 0);
        let mut n = 0;
        while let Some(entry) = reader.next_entry().unwrap() {
            if let Entry::Frame { text, .. } = entry {
                core.on_frame_bytes(&text, 0);
            }
            n += 1;
        }
        assert_eq!((n, reader.broken_lines(), reader.lines()), (3, 1, 4));
        assert_eq!(core.stats().bad_frames, 1);
    }

    #[test]
    fn lines_longer_than_the_read_buffer_and_across_its_end() {
        // Frames of every size around the buffer's, so that lines start and end at every
        // position relative to it, and some are longer than it.
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for (i, len) in [
            10,
            READ_BUFFER - 40,
            3 * READ_BUFFER,
            7,
            READ_BUFFER,
            100,
            READ_BUFFER + 1,
        ]
        .into_iter()
        .enumerate()
        {
            let frame = format!(r#"{{"channel":"x","n":{i},"pad":"{}"}}"#, "p".repeat(len));
            write_frame_line(&mut input, i as i64, &frame, true).unwrap();
            expected.push(frame);
        }
        let mut reader = RecordReader::new(&input[..], Path::new("test"));
        for (i, frame) in expected.iter().enumerate() {
            match reader.next_entry().unwrap().unwrap() {
                Entry::Frame { t_ms, text, bare } => {
                    assert_eq!((t_ms, bare), (Some(i as i64), false));
                    assert!(text.as_ref() == frame.as_bytes(), "frame {i} differs");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(reader.next_entry().unwrap().is_none());
        assert_eq!(reader.broken_lines(), 0);
    }
}
