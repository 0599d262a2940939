//! Reading key files with a size cap: a wrong path (`/dev/zero`, a log, a disk image) must end in a
//! clear problem, not in reading gigabytes into memory.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use super::problems::{Problem, key as wording};

/// The largest key file cbbook reads. Real CDP key files, and public-key PEMs, are under 1 KiB.
pub const MAX_KEY_FILE_BYTES: usize = 1024 * 1024;

/// The bytes of a key file (private or public), read whole if it is at most
/// [`MAX_KEY_FILE_BYTES`]: at most one byte more is ever read. The buffer is allocated once at its
/// final size and wiped on drop, so no copy of a secret is left behind by reallocation.
pub(crate) fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Problem> {
    let file = std::fs::File::open(path).map_err(|err| wording::file_unreadable(path, err))?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES + 1));
    file.take(MAX_KEY_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| wording::file_unreadable(path, err))?;
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(wording::file_too_large(path, MAX_KEY_FILE_BYTES));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_files_and_stops_one_byte_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"{}").unwrap();
        assert_eq!(read_key_file(&small).unwrap().as_slice(), b"{}");

        let exact = dir.path().join("exact");
        std::fs::write(&exact, vec![b' '; MAX_KEY_FILE_BYTES]).unwrap();
        assert_eq!(read_key_file(&exact).unwrap().len(), MAX_KEY_FILE_BYTES);

        let over = dir.path().join("over");
        std::fs::write(&over, vec![b' '; MAX_KEY_FILE_BYTES + 1]).unwrap();
        assert_eq!(read_key_file(&over).unwrap_err().code, "file_too_large");
    }

    #[test]
    fn an_endless_device_is_refused_after_the_cap() {
        let problem = read_key_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(problem.code, "file_too_large");
        assert!(problem.message.contains("not a key file"), "{problem:?}");
    }
}
