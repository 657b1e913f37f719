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

    /// Training produced a non-finite loss.
    #[error("loss became {value} at epoch {epoch}; try a lower learning rate (--lr)")]
    Diverged { epoch: usize, value: f64 },

    /// Training was asked to stop (Ctrl-C) before it finished, at this epoch or iteration.
    #[error("interrupted at {step} {at}; nothing was written")]
    Interrupted { step: &'static str, at: usize },

    /// A file could not be read or written. (The cause is shown, not chained, so it prints once.)
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    /// A JSON file that does not parse into what was expected.
    #[error("{}: {error}", path.display())]
    Json { path: PathBuf, error: serde_json::Error },

    /// Bad input data, at `file`, `file:line` or `file:line:column`.
    #[error("{location}: {message}")]
    Input { location: String, message: String },

    /// The PyTorch reference script failed or printed something unexpected.
    #[error("reference script `{command}` failed: {message}")]
    Reference { command: String, message: String },

    /// An error raised inside libtorch, shown by its first line (libtorch appends a C++ backtrace).
    #[error("{}", first_line(.0))]
    Torch(#[from] tch::TchError),
}

fn first_line(e: &tch::TchError) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().trim_start_matches("Internal torch error: ").to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_errors_print_on_one_line() {
        let err = tch::Tensor::from_slice(&[1.0f32]).f_view([2, 3]).unwrap_err();
        let shown = Error::from(err).to_string();
        assert!(!shown.contains('\n') && shown.contains("shape '[2, 3]' is invalid"), "{shown}");
    }
}
