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
    let mut tmp = tempfile::Builder::new().prefix(".logreg-").suffix(suffix).tempfile_in(&dir).map_err(io)?;
    let made = fill(&mut tmp)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(made)
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
    }
}
