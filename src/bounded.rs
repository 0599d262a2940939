//! Reading a whole file or stream with a size cap. A wrong path (`/dev/zero`, a log, a disk
//! image, a pipe that never ends, a gzip bomb) must end in a clear error, not in reading without
//! end into memory: every whole-file read of cbbook goes through [`read_at_most`] (key files have
//! their own, which also wipes the buffer: `auth::file`).

use std::io::{self, Read};
use std::path::Path;

/// All of `input` when it holds at most `max` bytes, else `None`: at most one byte more than
/// `max` is ever read.
pub fn read_at_most(input: impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    input.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// [`read_at_most`] of the file at `path`.
pub fn read_file_at_most(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    read_at_most(std::fs::File::open(path)?, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_one_byte_more() {
        assert_eq!(read_at_most(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_at_most(&b"abcd"[..], 3).unwrap(), None);
        assert_eq!(read_at_most(&b""[..], 0).unwrap(), Some(Vec::new()));
    }

    #[test]
    fn an_endless_input_is_refused_after_the_cap() {
        assert_eq!(read_at_most(io::repeat(0), 1 << 20).unwrap(), None);
        assert_eq!(
            read_file_at_most(Path::new("/dev/zero"), 1 << 20).unwrap(),
            None
        );
    }
}
