//! Compressed recordings (docs/recording.md, "Compressed recordings"): zstd or gzip, chosen by
//! the file name when writing and by the content (magic bytes) when reading.
//!
//! Writing streams through the encoder; [`Sink::flush`] ends the encoder's current block (zstd) or
//! does a sync flush (gzip), so that everything written up to it decodes even if the process is
//! killed before the stream is finished. Reading decodes whatever the file holds, gzip members and
//! zstd frames one after another included; compressed data that ends early or is damaged ends the
//! input there, and the reason is kept ([`Damage`]) so that replay can say so after replaying what
//! was readable.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// How a recording is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    Zstd,
    Gzip,
}

/// zstd's default level: about 300 MB/s of input on one core, a tenth or less of the size for
/// recorded frames (BENCHMARKS.md, "Recording size").
const ZSTD_LEVEL: i32 = 3;

/// The buffer of a plain recording (flushed about 30 times a second).
const PLAIN_BUFFER: usize = 1 << 20;

/// The buffer in front of an encoder: lines are handed over in large pieces, not one by one.
const ENCODER_BUFFER: usize = 256 << 10;

impl Compression {
    /// By the file name: `.zst` (or `.zstd`) is zstd, `.gz` gzip, anything else plain JSON Lines.
    pub fn from_path(path: &Path) -> Compression {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("zst" | "zstd") => Compression::Zstd,
            Some("gz") => Compression::Gzip,
            _ => Compression::Plain,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
        }
    }
}

/// Where a recording's lines go: a buffer, then the encoder if any, then the file.
pub struct Sink(Out);

enum Out {
    Plain(BufWriter<File>),
    Zstd(BufWriter<zstd::stream::write::Encoder<'static, File>>),
    Gzip(BufWriter<flate2::write::GzEncoder<File>>),
    /// Finished: nothing more is written.
    Done,
}

impl Sink {
    pub fn new(file: File, compression: Compression) -> io::Result<Sink> {
        Ok(Sink(match compression {
            Compression::Plain => Out::Plain(BufWriter::with_capacity(PLAIN_BUFFER, file)),
            Compression::Zstd => {
                let encoder = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?;
                Out::Zstd(BufWriter::with_capacity(ENCODER_BUFFER, encoder))
            }
            Compression::Gzip => {
                let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
                Out::Gzip(BufWriter::with_capacity(ENCODER_BUFFER, encoder))
            }
        }))
    }

    /// Ends the stream (zstd's end of frame, gzip's trailer) and flushes the file.
    pub fn finish(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.0, Out::Done) {
            Out::Plain(mut w) => w.flush(),
            Out::Zstd(w) => {
                let encoder = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                encoder.finish()?.flush()
            }
            Out::Gzip(w) => {
                let encoder = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                encoder.finish()?.flush()
            }
            Out::Done => Ok(()),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Out::Plain(w) => w.write(buf),
            Out::Zstd(w) => w.write(buf),
            Out::Gzip(w) => w.write(buf),
            Out::Done => Err(io::Error::other("the compressed recording is finished")),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            Out::Plain(w) => w.write_all(buf),
            Out::Zstd(w) => w.write_all(buf),
            Out::Gzip(w) => w.write_all(buf),
            Out::Done => Err(io::Error::other("the compressed recording is finished")),
        }
    }

    /// Everything written so far, through the encoder (a block boundary, a sync flush) to the
    /// file: a reader can decode it whatever happens to the process next.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Out::Plain(w) => w.flush(),
            Out::Zstd(w) => w.flush(),
            Out::Gzip(w) => w.flush(),
            Out::Done => Ok(()),
        }
    }
}

/// A stream not finished by the end of the program (a panic unwinding, a caller that forgot) is
/// finished here, so that the file ends cleanly; errors can only be ignored at this point.
impl Drop for Sink {
    fn drop(&mut self) {
        if let Err(err) = self.finish() {
            tracing::warn!("cannot finish the compressed recording: {err}");
        }
    }
}

/// Why a compressed input ended before its end (truncated, damaged); shared between the reader
/// and whoever reports on it (the read may happen on another thread).
#[derive(Debug, Clone, Default)]
pub struct Damage(Arc<Mutex<Option<String>>>);

impl Damage {
    /// What went wrong, if anything did.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|d| d.clone())
    }

    fn set(&self, why: String) {
        if let Ok(mut d) = self.0.lock() {
            d.get_or_insert(why);
        }
    }
}

/// Magic numbers of the formats read.
const GZIP_MAGIC: &[u8] = b"\x1F\x8B";
const ZSTD_MAGIC: &[u8] = b"\x28\xB5\x2F\xFD";

/// An input whose first bytes were read to find its format, handed out again in front of the
/// rest, in the same read as the rest when they fit (so that the first read is not cut short at
/// the magic number).
pub struct Peeked<R> {
    head: Vec<u8>,
    at: usize,
    rest: R,
}

impl<R: Read> Read for Peeked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.head.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
        self.at += n;
        if n == buf.len() {
            return Ok(n);
        }
        match self.rest.read(&mut buf[n..]) {
            Ok(m) => Ok(n + m),
            Err(_) if n > 0 => Ok(n),
            Err(e) => Err(e),
        }
    }
}

/// Any recording's bytes: plain, or decoded from zstd or gzip as its first bytes say.
pub enum Decoded<R: Read> {
    Plain(Peeked<R>),
    Compressed {
        decoder: Box<dyn Read + Send>,
        format: Compression,
        /// Decoded bytes handed out so far (for the message when the data ends early).
        out: u64,
        damage: Damage,
        ended: bool,
    },
}

impl<R: Read + Send + 'static> Decoded<R> {
    /// Looks at the first bytes of `input` (without losing them) and decodes accordingly.
    /// `damage` receives the reason if compressed data ends early or cannot be decoded.
    pub fn new(mut input: R, damage: Damage) -> io::Result<Decoded<R>> {
        let mut head = vec![0u8; ZSTD_MAGIC.len()];
        let mut got = 0;
        while got < head.len() {
            match input.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        head.truncate(got);
        let format = if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else {
            Compression::Plain
        };
        let peeked = Peeked {
            head,
            at: 0,
            rest: input,
        };
        let decoder: Box<dyn Read + Send> = match format {
            Compression::Plain => return Ok(Decoded::Plain(peeked)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(
                BufReader::with_capacity(128 << 10, peeked),
            )?),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(128 << 10, peeked),
            )),
        };
        Ok(Decoded::Compressed {
            decoder,
            format,
            out: 0,
            damage,
            ended: false,
        })
    }
}

impl<R: Read> Decoded<R> {
    /// The format the content was found in.
    pub fn format(&self) -> Compression {
        match self {
            Decoded::Plain(_) => Compression::Plain,
            Decoded::Compressed { format, .. } => *format,
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(input) => input.read(buf),
            Decoded::Compressed {
                decoder,
                format,
                out,
                damage,
                ended,
            } => {
                if *ended {
                    return Ok(0);
                }
                match decoder.read(buf) {
                    Ok(n) => {
                        *out += n as u64;
                        Ok(n)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
                    // The compressed data ends early (a writer killed before it finished the
                    // stream) or is damaged: what was decoded stands, the rest is given up.
                    Err(e) => {
                        *ended = true;
                        damage.set(format!(
                            "the {} data ends early or is damaged after {} decompressed byte(s) ({e}): replayed what was readable; a recording whose writer was killed loses at most its last second",
                            format.name(),
                            out
                        ));
                        Ok(0)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn decode_all(bytes: Vec<u8>) -> (Vec<u8>, Option<String>, Compression) {
        let damage = Damage::default();
        let mut decoded = Decoded::new(Cursor::new(bytes), damage.clone()).unwrap();
        let format = decoded.format();
        let mut out = Vec::new();
        decoded.read_to_end(&mut out).unwrap();
        (out, damage.get(), format)
    }

    fn write_with(compression: Compression, pieces: &[&[u8]], finish: bool) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let mut sink = Sink::new(File::create(&path).unwrap(), compression).unwrap();
        for piece in pieces {
            sink.write_all(piece).unwrap();
            sink.flush().unwrap();
        }
        if finish {
            sink.finish().unwrap();
        } else {
            // Killed: the stream is never finished.
            std::mem::forget(sink);
        }
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn the_format_is_chosen_by_the_extension() {
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl.zst")),
            Compression::Zstd
        );
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl.GZ")),
            Compression::Gzip
        );
        assert_eq!(
            Compression::from_path(Path::new("a.jsonl")),
            Compression::Plain
        );
        assert_eq!(Compression::from_path(Path::new("zst")), Compression::Plain);
    }

    #[test]
    fn both_formats_round_trip_and_are_found_by_their_content() {
        for compression in [Compression::Zstd, Compression::Gzip] {
            let bytes = write_with(compression, &[b"one\n", b"two\n"], true);
            assert_ne!(&bytes[..], b"one\ntwo\n");
            let (out, damage, format) = decode_all(bytes);
            assert_eq!(out, b"one\ntwo\n");
            assert_eq!(damage, None);
            assert_eq!(format, compression);
        }
        let (out, damage, format) = decode_all(b"{\"t\":1}\n".to_vec());
        assert_eq!(
            (out, damage, format),
            (b"{\"t\":1}\n".to_vec(), None, Compression::Plain)
        );
        let (out, _, format) = decode_all(b"{".to_vec());
        assert_eq!((out, format), (b"{".to_vec(), Compression::Plain));
    }

    #[test]
    fn an_unfinished_stream_decodes_up_to_its_last_flush_and_says_it_ended_early() {
        for compression in [Compression::Zstd, Compression::Gzip] {
            let bytes = write_with(compression, &[b"one\n", b"two\n"], false);
            let (out, damage, _) = decode_all(bytes);
            assert_eq!(out, b"one\ntwo\n", "{compression:?}");
            let damage = damage.unwrap_or_default();
            assert!(damage.contains("ends early"), "{compression:?}: {damage}");
        }
    }

    #[test]
    fn a_stream_cut_anywhere_never_fails_and_keeps_a_prefix() {
        let lines: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("{{\"t\":{i},\"resync\":\"user\"}}\n").into_bytes())
            .collect();
        let all: Vec<u8> = lines.concat();
        for compression in [Compression::Zstd, Compression::Gzip] {
            let pieces: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
            let bytes = write_with(compression, &pieces, true);
            for cut in (0..bytes.len()).step_by(7) {
                let (out, damage, _) = decode_all(bytes[..cut].to_vec());
                assert!(all.starts_with(&out), "{compression:?} cut at {cut}");
                if cut >= ZSTD_MAGIC.len() {
                    assert!(damage.is_some(), "{compression:?} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn appended_streams_decode_one_after_the_other() {
        for compression in [Compression::Zstd, Compression::Gzip] {
            let mut bytes = write_with(compression, &[b"one\n"], true);
            bytes.extend(write_with(compression, &[b"two\n"], true));
            let (out, damage, _) = decode_all(bytes);
            assert_eq!(out, b"one\ntwo\n");
            assert_eq!(damage, None);
        }
    }
}
