//! Opening files the agent does not control — catalog files, the coordinator's catalog folder, its
//! own ledger — so that none can block or trick it. A path may turn into a FIFO, a device or a
//! directory between a `stat` and an `open` (a rename over it), and opening a FIFO waits for a
//! writer forever; so the file is opened without blocking and the opened handle is what is checked.
//! Writing is the other half: a file the agent writes is replaced whole, never seen half-written.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a path could not be read as a file.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// It exists but is no regular file: the text says what it is ("a FIFO").
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl OpenError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpenError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// What a non-regular file is, in words.
pub fn describe(file_type: fs::FileType) -> Option<&'static str> {
    Some(if file_type.is_file() {
        return None;
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device (like /dev/null)"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        "neither a file nor a folder"
    })
}

/// Opens `path` (links followed) for reading without ever blocking, and only if what was opened
/// is a regular file.
pub fn open_regular(path: &Path) -> Result<fs::File, OpenError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            // A socket cannot be opened at all (ENXIO): say what it is rather than the errno.
            match fs::metadata(path)
                .ok()
                .and_then(|m| describe(m.file_type()))
            {
                Some(what) if e.raw_os_error() == Some(libc::ENXIO) => OpenError::NotRegular(what),
                _ => OpenError::Io(e),
            }
        })?;
    let file_type = file.metadata()?.file_type();
    match describe(file_type) {
        None => Ok(file),
        Some(what) => Err(OpenError::NotRegular(what)),
    }
}

/// Reads a regular file, at most `limit` bytes plus one (so an oversized file is detected without
/// loading it).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, OpenError> {
    let file = open_regular(path)?;
    let size = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::with_capacity(size.min(limit) as usize + 1);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a part:
/// a temp file in the same folder, fsync, rename over the target, fsync of the folder.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", file_name.to_string_lossy()));
    let result = (|| {
        // Whatever stands at the temp name is ours to replace: never open it (a FIFO there would
        // block the open), remove it and create the file anew.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn nothing_but_a_regular_file_is_read_and_nothing_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        fs::write(p("file"), "connector.name=tpch\n").unwrap();
        assert_eq!(
            read_regular(&p("file"), 100).unwrap(),
            b"connector.name=tpch\n"
        );
        assert_eq!(read_regular(&p("file"), 3).unwrap().len(), 4);
        mkfifo(&p("fifo"));
        let _socket = UnixListener::bind(p("socket")).unwrap();
        fs::create_dir(p("dir")).unwrap();
        std::os::unix::fs::symlink("/dev/null", p("null")).unwrap();
        std::os::unix::fs::symlink("fifo", p("to-fifo")).unwrap();
        for (name, what) in [
            ("fifo", "a FIFO"),
            ("to-fifo", "a FIFO"),
            ("socket", "a socket"),
            ("dir", "a directory"),
            ("null", "a character device (like /dev/null)"),
        ] {
            match read_regular(&p(name), 100) {
                Err(OpenError::NotRegular(got)) => assert_eq!(got, what, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(read_regular(&p("missing"), 100).unwrap_err().is_not_found());
    }
}
