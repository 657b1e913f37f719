//! Writing output files whole or not at all: a temporary file in the same directory, renamed.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Creates a temporary file ending in `suffix` beside `path`, lets `fill` write it, then renames it
/// over `path`. On any failure the temporary file is removed and `path` is untouched.
pub fn replace_with(
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&mut NamedTempFile) -> std::io::Result<()>,
) -> Result<()> {
    try_replace_with(path, suffix, |tmp| fill(tmp).map_err(|error| Error::Io { path: path.into(), error }))
}

/// [`replace_with`] for a `fill` that can also fail on its input (a bad cell found while
/// converting): its error is returned as it is, and nothing is written; else what `fill` returned.
pub fn try_replace_with<T>(path: &Path, suffix: &str, fill: impl FnOnce(&mut NamedTempFile) -> Result<T>) -> Result<T> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io = |error| Error::Io { path: path.into(), error };
    // Created 0666 less the umask, as any new file is (tempfile's default 0600 would survive the
    // rename and leave outputs unreadable to the group).
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o666 & !umask());
    let mut tmp =
        tempfile::Builder::new().prefix(".logreg-").suffix(suffix).permissions(mode).tempfile_in(&dir).map_err(io)?;
    let made = fill(&mut tmp)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(made)
}

/// This process's file-creation mask (`Umask:` in /proc/self/status; 022 where that is not read).
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// Writes `bytes` to `path` whole or not at all (see [`replace_with`]), flushed to disk.
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
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o666 & !umask(), "a new file's mode is 0666 less the umask");
    }
}
