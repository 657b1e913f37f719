//! The library's error type: each variant carries the value or operation that failed.

use std::path::PathBuf;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting outside its range, caught before any tensor work.
    #[error("invalid {name}: {value} ({expected})")]
    InvalidSetting { name: &'static str, value: String, expected: &'static str },

    /// `--device cuda` on a machine or libtorch without CUDA.
    #[error("CUDA was requested but is not available (no CUDA device, or libtorch built without CUDA)")]
    CudaUnavailable,

    /// A file could not be read or written. (The cause is shown, not chained, so it prints once.)
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    /// A JSON file that does not parse into what was expected.
    #[error("{}: {error}", path.display())]
    Json { path: PathBuf, error: serde_json::Error },

    /// The PyTorch reference script failed or printed something unexpected.
    #[error("reference script `{command}` failed: {message}")]
    Reference { command: String, message: String },

    /// An error raised inside libtorch.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks `ok`, else returns [`Error::InvalidSetting`] naming the setting, its value and the rule.
pub(crate) fn ensure(ok: bool, name: &'static str, value: impl ToString, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSetting { name, value: value.to_string(), expected })
    }
}
