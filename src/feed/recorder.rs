//! Writing recordings (docs/recording.md): [`Recorder`] appends received frames and markers as
//! JSON Lines, plain or compressed ([`crate::feed::compressed`]), and with `--record-rotate`
//! starts a new file per period ([`crate::feed::rotate`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Serialize;

use crate::feed::compressed::{Compression, Sink};
use crate::feed::record::{CONNECTION_KEY, ConnectInfo, FRAME_KEY, RecordError};
use crate::feed::rotate::{Rotation, rotated_path};
/// Appends to a recording. Writes go through a buffer; [`Recorder::flush`] runs on every view
/// tick and at the end, so an abrupt stop loses at most a fraction of a second (a compressed
/// recording is flushed through its encoder every [`COMPRESSED_FLUSH`], so at most that).
pub struct Recorder {
    path: PathBuf,
    out: Sink,
    compression: Compression,
    last_flush: Instant,
    /// With `--record-rotate`: when to switch files.
    rotation: Option<Rotation>,
    /// Files switched to so far (connections watch it to ask for fresh snapshots).
    generation: u64,
    /// By connection index: how the connection was made, while it is open (for the
    /// `continued` lines at a switch).
    open: Vec<Option<ConnectInfo>>,
}

/// The `continued` line's content: the connection as its `connect` line named it, and the file
/// it goes on from.
#[derive(Serialize)]
struct Continued<'a> {
    #[serde(flatten)]
    info: &'a ConnectInfo,
    previous: String,
}

/// How often a compressed recording is flushed through its encoder: each flush ends a block
/// (zstd) or does a sync flush (gzip), which costs a little size, so not on every view tick; a
/// process killed at any moment loses at most this much of the recording.
pub const COMPRESSED_FLUSH: Duration = Duration::from_millis(500);

impl Recorder {
    /// Opens `path` for appending, creating it if needed. When the file's last line was cut (a
    /// crash in the middle of a write), a line break is written first, so that the new run's
    /// `connect` line stays a line of its own (the cut line replays as one broken line). A file
    /// that may be written but not read is appended to without that check.
    pub fn open(path: &Path) -> Result<Recorder, RecordError> {
        if path.is_dir() {
            return Err(RecordError::Directory {
                path: path.to_owned(),
            });
        }
        let compression = Compression::from_path(path);
        if compression != Compression::Plain {
            return Recorder::create_compressed(path, compression);
        }
        let open_error = |error| RecordError::Open {
            path: path.to_owned(),
            error,
        };
        // Reading is only for the cut-line check: a file that may be written but not read is
        // recorded to without it.
        let read_append = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path);
        let (mut file, readable) = match read_append {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let append_only = OpenOptions::new().create(true).append(true).open(path);
                (append_only.map_err(open_error)?, false)
            }
            Err(e) => return Err(open_error(e)),
        };
        if readable && ends_in_a_cut_line(&mut file).map_err(open_error)? {
            file.write_all(b"\n").map_err(|error| RecordError::Write {
                path: path.to_owned(),
                error,
            })?;
        }
        let out = Sink::new(file, Compression::Plain).map_err(open_error)?;
        Ok(Recorder::writing(path, out, compression))
    }

    /// Checks that [`Recorder::open`] would succeed, writing nothing (the file is created if
    /// missing, as it would be).
    pub fn check(path: &Path) -> Result<(), RecordError> {
        if Compression::from_path(path) == Compression::Plain {
            return Recorder::open(path).map(drop);
        }
        if path.is_dir() {
            return Err(RecordError::Directory {
                path: path.to_owned(),
            });
        }
        open_empty(path, Compression::from_path(path)).map(drop)
    }

    /// For a rotating recording, whose files are named when they start: the directory exists.
    pub fn check_directory(base: &Path) -> Result<(), RecordError> {
        let dir = match base.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(RecordError::Open {
                path: base.to_owned(),
                error: io::Error::other(format!("{} is not a directory", dir.display())),
            }),
            Err(error) => Err(RecordError::Open {
                path: base.to_owned(),
                error,
            }),
        }
    }

    /// A compressed recording: a new file, or an empty one. An existing compressed file is not
    /// appended to, since a stream its writer did not finish (a crash) would make everything
    /// after it unreadable.
    fn create_compressed(path: &Path, compression: Compression) -> Result<Recorder, RecordError> {
        let file = open_empty(path, compression)?;
        let out = Sink::new(file, compression).map_err(|error| RecordError::Open {
            path: path.to_owned(),
            error,
        })?;
        Ok(Recorder::writing(path, out, compression))
    }

    fn writing(path: &Path, out: Sink, compression: Compression) -> Recorder {
        Recorder {
            path: path.to_owned(),
            out,
            compression,
            last_flush: Instant::now(),
            rotation: None,
            generation: 0,
            open: Vec::new(),
        }
    }

    /// A recording of `base` that starts a new file every `period` (docs/recording.md,
    /// "Rotation"), the first one named after `now_ms`.
    pub fn open_rotating(
        base: &Path,
        period: Duration,
        now_ms: i64,
    ) -> Result<Recorder, RecordError> {
        let mut recorder = Recorder::open(&rotated_path(base, now_ms))?;
        recorder.rotation = Some(Rotation::new(base, period, now_ms));
        Ok(recorder)
    }

    /// Opens `path`, or with `rotate` the first file of its rotation.
    pub fn open_with(path: &Path, rotate: Option<Duration>) -> Result<Recorder, RecordError> {
        match rotate {
            Some(period) => Recorder::open_rotating(path, period, crate::feed::time::now_ms()),
            None => Recorder::open(path),
        }
    }

    /// How many times the recording switched files: a connection that sees it change asks for
    /// fresh snapshots, so that the new file starts with whole books.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// With rotation, when `t_ms` is in a new period: finishes the file, opens the next, and
    /// writes a `continued` line for every open connection.
    fn rotate_if_due(&mut self, t_ms: i64) -> Result<(), RecordError> {
        let Some(start) = self.rotation.as_mut().and_then(|r| r.switch_at(t_ms)) else {
            return Ok(());
        };
        let base = self
            .rotation
            .as_ref()
            .map(|r| r.base.clone())
            .unwrap_or_default();
        self.finish()?;
        let next = Recorder::open(&rotated_path(&base, start))?;
        let previous = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tracing::info!(file = %next.path.display(), "recording goes on in a new file");
        self.path = next.path.clone();
        self.out = next.into_sink();
        self.last_flush = Instant::now();
        self.generation += 1;
        for (conn, info) in self.open.clone().iter().enumerate() {
            if let Some(info) = info {
                let line = Continued {
                    info,
                    previous: previous.clone(),
                };
                self.write_marker(conn, t_ms, "continued", &line)?;
            }
        }
        Ok(())
    }

    fn into_sink(self) -> Sink {
        self.out
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn wrap(&self, error: io::Error) -> RecordError {
        RecordError::Write {
            path: self.path.clone(),
            error,
        }
    }

    /// One received frame. `is_json`: the frame parsed as JSON (the core says so), so it can be
    /// embedded as is when it fits on one line.
    pub fn frame(&mut self, t_ms: i64, text: &str, is_json: bool) -> Result<(), RecordError> {
        self.frame_on(0, t_ms, text, is_json)
    }

    /// [`Recorder::frame`], received on connection `conn` of a sharded session.
    pub fn frame_on(
        &mut self,
        conn: usize,
        t_ms: i64,
        text: &str,
        is_json: bool,
    ) -> Result<(), RecordError> {
        self.rotate_if_due(t_ms)?;
        let result = write_frame_line_on(&mut self.out, conn, t_ms, text, is_json);
        result.map_err(|e| self.wrap(e))
    }

    /// A binary frame that is not UTF-8 text (live counts it as a bad frame), received on
    /// connection `conn`: kept whole, in base64, so that replay counts it too.
    pub fn binary_on(&mut self, conn: usize, t_ms: i64, bytes: &[u8]) -> Result<(), RecordError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.marker(conn, t_ms, "binary", &encoded)
    }

    /// A frame the WebSocket layer refused before its bytes could be read (over the size limit,
    /// a text frame that is not UTF-8), received on connection `conn`: live counted it as a bad
    /// frame with `reason`, and replay does the same.
    pub fn unread_on(&mut self, conn: usize, t_ms: i64, reason: &str) -> Result<(), RecordError> {
        self.marker(conn, t_ms, "unread", &reason)
    }

    /// A new connection starts.
    pub fn connect(&mut self, t_ms: i64, info: &ConnectInfo) -> Result<(), RecordError> {
        self.connect_on(0, t_ms, info)
    }

    /// [`Recorder::connect`] for connection `conn`.
    pub fn connect_on(
        &mut self,
        conn: usize,
        t_ms: i64,
        info: &ConnectInfo,
    ) -> Result<(), RecordError> {
        self.marker(conn, t_ms, "connect", info)?;
        self.note_open(conn, Some(info.clone()));
        Ok(())
    }

    fn note_open(&mut self, conn: usize, info: Option<ConnectInfo>) {
        if self.open.len() <= conn {
            self.open.resize(conn + 1, None);
        }
        self.open[conn] = info;
    }

    /// The connection was lost (or left), and why.
    pub fn disconnect(&mut self, t_ms: i64, reason: &str) -> Result<(), RecordError> {
        self.disconnect_on(0, t_ms, reason)
    }

    /// [`Recorder::disconnect`] for connection `conn`.
    pub fn disconnect_on(
        &mut self,
        conn: usize,
        t_ms: i64,
        reason: &str,
    ) -> Result<(), RecordError> {
        self.note_open(conn, None);
        self.marker(conn, t_ms, "disconnect", &reason)
    }

    /// The user asked for a resync (gaps need no marker: replay finds them in the frames).
    pub fn resync(&mut self, t_ms: i64) -> Result<(), RecordError> {
        self.marker(0, t_ms, "resync", &"user")
    }

    /// [`Recorder::resync`] for connection `conn`.
    pub fn resync_on(&mut self, conn: usize, t_ms: i64) -> Result<(), RecordError> {
        self.marker(conn, t_ms, "resync", &"user")
    }

    /// Connection `conn` asked for fresh snapshots because the recording went on in a new file.
    pub fn rotated_resync_on(&mut self, conn: usize, t_ms: i64) -> Result<(), RecordError> {
        self.marker(conn, t_ms, "resync", &"rotate")
    }

    fn marker<T: Serialize>(
        &mut self,
        conn: usize,
        t_ms: i64,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        self.rotate_if_due(t_ms)?;
        self.write_marker(conn, t_ms, key, value)
    }

    fn write_marker<T: Serialize>(
        &mut self,
        conn: usize,
        t_ms: i64,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let result = (|| {
            write!(self.out, "{{\"t\":{t_ms}")?;
            write_connection(&mut self.out, conn)?;
            write!(self.out, ",\"{key}\":")?;
            serde_json::to_writer(&mut self.out, value)?;
            self.out.write_all(b"}\n")
        })();
        result.map_err(|e| self.wrap(e))
    }

    /// Hands the buffered lines to the file: a plain recording at every call (every view tick),
    /// a compressed one through its encoder at most every [`COMPRESSED_FLUSH`].
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.rotate_if_due(crate::feed::time::now_ms())?;
        if self.compression != Compression::Plain && self.last_flush.elapsed() < COMPRESSED_FLUSH {
            return Ok(());
        }
        self.last_flush = Instant::now();
        let result = self.out.flush();
        result.map_err(|e| self.wrap(e))
    }

    /// Ends the recording: the buffer written out and a compressed stream finished (its end of
    /// frame or trailer), so that the file reads to its end without a warning.
    pub fn finish(&mut self) -> Result<(), RecordError> {
        let result = self.out.finish();
        result.map_err(|e| self.wrap(e))
    }
}

/// Opens (creating) the file of a compressed recording, refusing one that already holds data:
/// a stream its writer did not finish would make whatever followed it unreadable.
fn open_empty(path: &Path, compression: Compression) -> Result<File, RecordError> {
    let open_error = |error| RecordError::Open {
        path: path.to_owned(),
        error,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(open_error)?;
    let meta = file.metadata().map_err(open_error)?;
    if meta.is_file() && meta.len() > 0 {
        return Err(RecordError::CompressedExists {
            path: path.to_owned(),
            format: compression.name(),
        });
    }
    Ok(file)
}

/// Whether a regular, non-empty file does not end with a line break. Anything else (a device such
/// as `/dev/null`, a pipe, an empty file) is written to as it is.
fn ends_in_a_cut_line(file: &mut File) -> io::Result<bool> {
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// `,"c":N` for a connection other than 0 (connection 0 is written as before there were several).
fn write_connection(out: &mut impl Write, conn: usize) -> io::Result<()> {
    if conn == 0 {
        return Ok(());
    }
    out.write_all(CONNECTION_KEY)?;
    write!(out, "{conn}")
}

#[cfg(test)]
pub(crate) fn write_frame_line(
    out: &mut impl Write,
    t_ms: i64,
    text: &str,
    is_json: bool,
) -> io::Result<()> {
    write_frame_line_on(out, 0, t_ms, text, is_json)
}

fn write_frame_line_on(
    out: &mut impl Write,
    conn: usize,
    t_ms: i64,
    text: &str,
    is_json: bool,
) -> io::Result<()> {
    if is_json && !text.contains(['\n', '\r']) {
        write!(out, "{{\"t\":{t_ms}")?;
        write_connection(out, conn)?;
        out.write_all(FRAME_KEY)?;
        out.write_all(text.trim().as_bytes())?;
        out.write_all(b"}\n")
    } else {
        write!(out, "{{\"t\":{t_ms}")?;
        write_connection(out, conn)?;
        out.write_all(b",\"text\":")?;
        serde_json::to_writer(&mut *out, text)?;
        out.write_all(b"}\n")
    }
}
