//! Writing output files whole or not at all, and leaving nothing behind even when killed: the bytes
//! go to a file with no name (Linux's `O_TMPFILE`), which is given a hidden name beside the target
//! and renamed over it only once complete.
//!
//! A process killed while writing (SIGKILL, a file-size limit) leaves nothing, since an unnamed
//! file vanishes with its last descriptor. The one moment a kill can leave a file is between
//! naming it and the rename; such names (`.logreg-<pid>-<random>.tmp`) are recognised, and the
//! next write into that folder removes those whose process is gone. Where the filesystem has no
//! `O_TMPFILE`, the file is written under such a name from the start.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// A file being written that no one sees yet; [`Staged::commit`] puts it in place.
pub(crate) struct Staged {
    file: File,
    /// The file's temporary name, when the filesystem could not create it unnamed.
    named: Option<PathBuf>,
    dir: PathBuf,
}

/// The start of this process's temporary names: `.logreg-<pid>-`.
fn own_prefix() -> String {
    format!(".logreg-{}-", std::process::id())
}

/// A fresh hidden name in `dir` for this process.
fn temporary_name(dir: &Path, suffix: &str) -> PathBuf {
    dir.join(format!("{}{:016x}{suffix}", own_prefix(), random_u64()))
}

/// 64 random bits (distinct names for files written at once), from the OS's random source.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom_bytes(&mut bytes).is_err() {
        // The clock and a counter still make names distinct within this process.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        return t ^ n.rotate_left(32);
    }
    u64::from_le_bytes(bytes)
}

fn getrandom_bytes(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    File::open("/dev/urandom")?.read_exact(bytes)
}

impl Staged {
    /// An unnamed file in `dir` with permissions `mode` (a named hidden one where `O_TMPFILE` is
    /// not supported).
    fn create(dir: &Path, mode: u32, suffix: &str) -> std::io::Result<Self> {
        use rustix::fs::{Mode, OFlags, CWD};
        sweep_stale(dir);
        let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
        let (file, named) = match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => (File::from(fd), None),
            // Filesystems without O_TMPFILE (and kernels before 3.11) answer one of these.
            Err(e)
                if [rustix::io::Errno::OPNOTSUPP, rustix::io::Errno::ISDIR, rustix::io::Errno::INVAL].contains(&e) =>
            {
                let name = temporary_name(dir, suffix);
                let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&name)?;
                (file, Some(name))
            }
            Err(e) => return Err(e.into()),
        };
        // The mode exactly (creation applies the umask once more).
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        Ok(Self { file, named, dir: dir.to_path_buf() })
    }

    /// The file, to write through.
    pub(crate) fn as_file(&self) -> &File {
        &self.file
    }

    /// Puts the finished file at `target`: a hidden name beside it, then a rename over it.
    fn commit(mut self, target: &Path) -> std::io::Result<()> {
        let name = match self.named.take() {
            Some(name) => name,
            None => {
                let name = temporary_name(&self.dir, ".tmp");
                let fd = format!("/proc/self/fd/{}", rustix::fd::AsRawFd::as_raw_fd(&self.file.as_fd()));
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    fd.as_str(),
                    rustix::fs::CWD,
                    &name,
                    rustix::fs::AtFlags::SYMLINK_FOLLOW,
                )?;
                name
            }
        };
        std::fs::rename(&name, target).inspect_err(|_| {
            let _ = std::fs::remove_file(&name);
        })
    }
}

impl Drop for Staged {
    /// A file never committed: an unnamed one vanishes by itself; a named one is removed.
    fn drop(&mut self) {
        if let Some(name) = &self.named {
            let _ = std::fs::remove_file(name);
        }
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Removes, once per folder and process, the temporary files of logreg processes that are gone
/// (killed between naming a file and renaming it, or while writing one where there is no
/// `O_TMPFILE`). A name whose process still runs, or that is not ours, is left alone.
fn sweep_stale(dir: &Path) {
    static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    {
        let mut swept = SWEPT.lock().unwrap_or_else(|p| p.into_inner());
        if !swept.get_or_insert_with(HashSet::new).insert(key) {
            return;
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = stale_pid(&name.to_string_lossy()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The process id in one of our temporary names, `.logreg-<pid>-<16 hex digits><suffix>`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".logreg-")?;
    let (pid, rest) = rest.split_once('-')?;
    let random = rest.get(..16)?;
    if !random.bytes().all(|b| b.is_ascii_hexdigit()) || !matches!(&rest[16..], ".tmp" | ".npy" | ".png") {
        return None;
    }
    pid.parse().ok()
}

/// Lets `fill` write a staged file beside `path`, then puts it over `path`. On any failure the
/// staged file is gone and `path` is untouched.
pub(crate) fn replace_with(
    path: &Path,
    suffix: &str,
    fill: impl FnOnce(&mut Staged) -> std::io::Result<()>,
) -> Result<()> {
    try_replace_with(path, suffix, |tmp| fill(tmp).map_err(|error| Error::Io { path: path.into(), error }))
}

/// [`replace_with`] for a `fill` that can also fail on its input (a bad cell found while
/// converting): its error is returned as it is, and nothing is written; else what `fill` returned.
pub(crate) fn try_replace_with<T>(path: &Path, suffix: &str, fill: impl FnOnce(&mut Staged) -> Result<T>) -> Result<T> {
    let io = |error| Error::Io { path: path.into(), error };
    // Where the bytes should land, and with which mode: an existing file keeps its own mode and
    // stays behind its symbolic links (the link is followed, not replaced); a new file gets 0666
    // less the umask, as any new file does.
    let (target, mode) = match std::fs::metadata(path) {
        Ok(meta) if is_special(&meta) => return write_in_place(path, fill),
        Ok(meta) if meta.is_file() => (std::fs::canonicalize(path).map_err(io)?, meta.permissions().mode() & 0o7777),
        // A new file, or one that a dangling link names: the link stays and its target is created.
        _ => (dangling_target(path), 0o666 & !umask()),
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut staged = Staged::create(&dir, mode, suffix).map_err(io)?;
    let made = fill(&mut staged)?;
    staged.commit(&target).map_err(io)?;
    Ok(made)
}

/// Where `path` leads when it is a symbolic link to nothing (yet): the end of its chain of links
/// (at most 40, as the kernel follows); else `path` itself.
fn dangling_target(path: &Path) -> PathBuf {
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::read_link(&at) {
            Ok(next) => at = at.parent().map_or(next.clone(), |dir| dir.join(&next)),
            Err(_) => return at,
        }
    }
    path.to_path_buf()
}

/// A device, FIFO or socket: written in place, since a rename would put a plain file where it was
/// (`--out /dev/null`, `--out /dev/stdout`).
fn is_special(meta: &std::fs::Metadata) -> bool {
    !meta.is_file() && !meta.is_dir()
}

/// Fills an unnamed file in the temporary folder, then copies it into `path` as it is, opened for
/// writing; nothing is written there if `fill` fails.
fn write_in_place<T>(path: &Path, fill: impl FnOnce(&mut Staged) -> Result<T>) -> Result<T> {
    use std::io::{Seek, SeekFrom};
    let io = |error| Error::Io { path: path.into(), error };
    let mut staged = Staged::create(&std::env::temp_dir(), 0o600, ".tmp").map_err(io)?;
    let made = fill(&mut staged)?;
    let mut bytes = staged.as_file();
    bytes.seek(SeekFrom::Start(0)).map_err(io)?;
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
    fn an_abandoned_write_leaves_nothing_and_stale_names_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        std::fs::write(&path, b"before").unwrap();
        // A fill that fails: the target keeps its bytes, and no file is left beside it.
        let e = replace_with(&path, ".tmp", |tmp| {
            tmp.write_all(b"half")?;
            Err(std::io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(e.to_string().ends_with("disk on fire"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Names of a process that is gone are removed by the next write into the folder; a live
        // process's (this one's) and names that are not ours stay.
        let other = tempfile::tempdir().unwrap();
        let dead = other.path().join(".logreg-4194305-0123456789abcdef.tmp"); // above Linux's pid_max
        let live = other.path().join(format!("{}0123456789abcdef.npy", own_prefix()));
        let foreign = other.path().join(".logreg-12-not-ours.tmp");
        for f in [&dead, &live, &foreign] {
            std::fs::write(f, b"x").unwrap();
        }
        write_atomically(&other.path().join("out.csv"), b"new").unwrap();
        assert!(!dead.exists() && live.exists() && foreign.exists());
        assert_eq!(stale_pid(".logreg-77-0123456789abcdef.png"), Some(77));
        assert_eq!(stale_pid(".logreg-77-0123456789abcdef.csv"), None);
    }

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
    fn a_link_to_a_file_not_yet_there_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let (link, target) = (dir.path().join("model.st"), dir.path().join("runs/latest.st"));
        std::fs::create_dir(dir.path().join("runs")).unwrap();
        std::os::unix::fs::symlink("runs/latest.st", &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
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
