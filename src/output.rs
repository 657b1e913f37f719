//! Writing output files whole or not at all: a temporary file in the same directory, renamed.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Creates a temporary file ending in `suffix` beside `path`, lets `fill` write it, then renames it
/// over `path`. On any failure the temporary file is removed and `path` is untouched.
pub(crate) fn replace_with(
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&mut NamedTempFile) -> std::io::Result<()>,
) -> Result<()> {
    try_replace_with(path, suffix, |tmp| fill(tmp).map_err(|error| Error::Io { path: path.into(), error }))
}

/// [`replace_with`] for a `fill` that can also fail on its input (a bad cell found while
/// converting): its error is returned as it is, and nothing is written; else what `fill` returned.
pub(crate) fn try_replace_with<T>(
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&mut NamedTempFile) -> Result<T>,
) -> Result<T> {
    let io = |error| Error::Io { path: path.into(), error };
    // Where the bytes should land, and with which mode: an existing file keeps its own mode and
    // stays behind its symbolic links (the link is followed, not replaced); a new file gets 0666
    // less the umask, as any new file does (tempfile's 0600 would survive the rename).
    let (target, mode) = match std::fs::metadata(path) {
        Ok(meta) if is_special(&meta) => return write_in_place(path, suffix, fill),
        Ok(meta) if meta.is_file() => (std::fs::canonicalize(path).map_err(io)?, meta.permissions().mode() & 0o7777),
        _ => (path.to_path_buf(), 0o666 & !umask()),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".logreg-")
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(&dir)
        .map_err(io)?;
    let made = fill(&mut tmp)?;
    tmp.persist(&target).map_err(|e| io(e.error))?;
    Ok(made)
}

/// A device, FIFO or socket: written in place, since a rename would put a plain file where it was
/// (`--out /dev/null`, `--out /dev/stdout`).
fn is_special(meta: &std::fs::Metadata) -> bool {
    !meta.is_file() && !meta.is_dir()
}

/// Fills a temporary file (some writers need a path, such as the PNG encoder), then copies it into
/// `path` as it is, opened for writing; nothing is written there if `fill` fails.
fn write_in_place<T>(path: &Path, suffix: &str, fill: impl FnOnce(&mut NamedTempFile) -> Result<T>) -> Result<T> {
    let io = |error| Error::Io { path: path.into(), error };
    let mut tmp = tempfile::Builder::new().prefix(".logreg-").suffix(suffix).tempfile().map_err(io)?;
    let made = fill(&mut tmp)?;
    let mut bytes = tmp.reopen().map_err(io)?;
    let mut out = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
    std::io::copy(&mut bytes, &mut out).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(made)
}

/// Whether `a` and `b` name one file: the same device and inode when both exist, else the same
/// absolute path once the existing folders and links in it are resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => resolved(a).is_some_and(|p| Some(p) == resolved(b)),
    }
}

/// `path` made absolute, with its folder's links resolved (the file itself need not exist).
fn resolved(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// This process's file-creation mask (`Umask:` in /proc/self/status; 022 where that is not read).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, renamed over it),
/// flushed to disk.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with(path, ".tmp", |tmp| {
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_target_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666 & !umask(), "a new file's mode is 0666 less the umask");
    }

    #[test]
    fn an_existing_file_keeps_its_mode_and_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let (real, link) = (dir.path().join("real.csv"), dir.path().join("link.csv"));
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(same_file(&link, &real) && same_file(&real, &dir.path().join(".").join("real.csv")));
        assert!(!same_file(&real, &dir.path().join("other.csv")));
        assert!(same_file(&dir.path().join("new.csv"), &dir.path().join("./new.csv")), "files not yet written");
    }

    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        // A FIFO stands for devices here (`--out /dev/stdout` into a pipe): a test must not touch
        // the machine's own /dev/null, as root in CI, if this ever broke.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let meta = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()), "the FIFO is still a FIFO");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left beside it");
    }
}
