//! Where replay reads a file from: a regular file directly; anything else (a pipe such as
//! `<(ssh host cat rec.jsonl)`, a FIFO, a terminal, a device) on a thread of its own.
//!
//! A read from a regular file returns promptly; a read from a pipe whose writer is slow, a FIFO
//! nobody writes to, or a terminal may block for ever, and so may opening a FIFO. A replay
//! blocked there could not see a signal or `--duration`. Such an input is opened and read on a
//! thread that hands its chunks over a small channel; the replay loop waits for a chunk at most
//! [`WAIT`] at a time, and between waits gets [`std::io::ErrorKind::WouldBlock`], on which the
//! reader hands control back ([`crate::feed::record::Polled::Busy`]). A replay that stops leaves
//! the thread behind, blocked in its read until the process ends.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use crate::feed::compressed::{Damage, Decoded};

/// The longest the replay loop waits for a chunk before looking at what may stop it.
pub const WAIT: Duration = Duration::from_millis(100);

/// The size of each chunk the reading thread hands over, and how many may wait in the channel
/// (memory held by a fast writer: `CHUNK * QUEUED`).
const CHUNK: usize = 256 << 10;
const QUEUED: usize = 4;

/// A file replay reads: plain, zstd or gzip, as its first bytes say
/// ([`crate::feed::compressed::Decoded`]); the one way every reader of recordings opens them.
pub struct Source {
    input: Input,
    damage: Damage,
}

enum Input {
    File(Decoded<File>),
    Thread(ThreadReader),
}

impl Source {
    /// A regular file opened here; anything else opened and read (and decoded) on a thread (an
    /// error opening it then arrives with the first read).
    pub fn open(path: &Path) -> io::Result<Source> {
        let damage = Damage::default();
        let input = if std::fs::metadata(path)?.is_file() {
            Input::File(Decoded::new(File::open(path)?, damage.clone())?)
        } else {
            Input::Thread(ThreadReader::spawn(path, damage.clone())?)
        };
        Ok(Source { input, damage })
    }

    /// Why compressed data ended before the end of the file (truncated, damaged), once the read
    /// has come to that point: what came before it was read as usual.
    pub fn damage(&self) -> Option<String> {
        self.damage.get()
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.input {
            Input::File(file) => file.read(buf),
            Input::Thread(thread) => thread.read(buf),
        }
    }
}

/// The replay loop's end of the reading thread.
pub struct ThreadReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    /// The chunk being handed out, and how much of it has been.
    current: Vec<u8>,
    at: usize,
    /// The thread has said the file ended (or failed): nothing more comes.
    done: bool,
}

impl ThreadReader {
    fn spawn(path: &Path, damage: Damage) -> io::Result<ThreadReader> {
        let (sender, chunks) = sync_channel(QUEUED);
        let path = path.to_owned();
        std::thread::Builder::new()
            .name("cbbook-replay-read".into())
            .spawn(move || read_into(&path, damage, &sender))?;
        Ok(ThreadReader::new(chunks))
    }

    /// Reads the chunks of `chunks` (an empty chunk or an error ends them).
    pub fn new(chunks: Receiver<io::Result<Vec<u8>>>) -> ThreadReader {
        ThreadReader {
            chunks,
            current: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl Read for ThreadReader {
    /// Hands out what has arrived; waits at most [`WAIT`] for more, then says
    /// [`io::ErrorKind::WouldBlock`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv_timeout(WAIT) {
                Ok(Ok(chunk)) => {
                    self.done = chunk.is_empty();
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(error)) => {
                    self.done = true;
                    return Err(error);
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "nothing to read yet",
                    ));
                }
                // The thread is gone without saying why (it cannot panic; be safe anyway).
                Err(RecvTimeoutError::Disconnected) => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The reading thread: opens `path` and sends its chunks (decoded) until the end (an empty
/// chunk), an error, or the replay has gone.
fn read_into(path: &Path, damage: Damage, chunks: &SyncSender<io::Result<Vec<u8>>>) {
    let mut file = match File::open(path).and_then(|file| Decoded::new(file, damage)) {
        Ok(file) => file,
        Err(error) => {
            let _ = chunks.send(Err(error));
            return;
        }
    };
    loop {
        let mut chunk = vec![0u8; CHUNK];
        match file.read(&mut chunk) {
            Ok(n) => {
                chunk.truncate(n);
                if chunks.send(Ok(chunk)).is_err() || n == 0 {
                    return;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                let _ = chunks.send(Err(error));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_silent_writer_gives_would_block_within_the_wait_and_data_once_it_comes() {
        let (sender, chunks) = sync_channel(1);
        let mut reader = ThreadReader::new(chunks);
        let mut buf = [0u8; 8];
        let started = Instant::now();
        let err = reader.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(started.elapsed() < WAIT * 10, "{:?}", started.elapsed());
        sender.send(Ok(b"abcdefghij".to_vec())).unwrap();
        assert_eq!(reader.read(&mut buf).unwrap(), 8);
        assert_eq!(&buf, b"abcdefgh");
        assert_eq!(reader.read(&mut buf).unwrap(), 2);
        sender.send(Ok(Vec::new())).unwrap();
        assert_eq!(reader.read(&mut buf).unwrap(), 0, "the end");
        assert_eq!(reader.read(&mut buf).unwrap(), 0, "and it stays ended");
    }

    #[test]
    fn a_fifo_nobody_writes_to_does_not_block_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rec.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening it would block until a writer comes: it is opened on the thread.
        let mut source = Source::open(&fifo).unwrap();
        let mut buf = [0u8; 8];
        let err = source.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        // A writer comes, writes and leaves: the data, then the end.
        std::fs::write(&fifo, b"{}\n").unwrap();
        let mut all = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline);
        }
        assert_eq!(all, b"{}\n");
    }

    #[test]
    fn a_compressed_fifo_is_decoded_on_its_thread() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rec.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"t\":1,\"resync\":\"user\"}\n").unwrap();
        let mut bytes = gz.finish().unwrap();
        // Cut short: the end of the stream is missing.
        bytes.truncate(bytes.len() - 4);
        let mut source = Source::open(&fifo).unwrap();
        let writer = std::thread::spawn(move || std::fs::write(&fifo, bytes).unwrap());
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline);
        }
        writer.join().unwrap();
        assert_eq!(all, b"{\"t\":1,\"resync\":\"user\"}\n");
        let damage = source.damage().unwrap_or_default();
        assert!(damage.contains("gzip data ends early"), "{damage}");
    }
}
