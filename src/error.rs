//! The library's error type: each variant carries the value or operation that failed.

use std::path::PathBuf;

/// Everything the library can fail with.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting outside its range, caught before any tensor work.
    #[error("invalid {name}: {value} ({expected})")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// The value given, as written.
        value: String,
        /// The rule it breaks.
        expected: &'static str,
    },

    /// Data handed to the library that it cannot use (lengths, non-finite values, labels), with the
    /// first fault.
    #[error("invalid {name}: {message}")]
    InvalidData {
        /// Which argument (`x`, `y`, `feature_names`).
        name: &'static str,
        /// What is wrong, with the first bad row and column where there is one.
        message: String,
    },

    /// Sample or class weights that cannot be used (see [`crate::solvers::weights`]).
    #[error("invalid {name}: {problem}")]
    InvalidWeights {
        /// Which argument (`sample_weight`, `class_weight`).
        name: &'static str,
        /// What is wrong, with the first bad row or class.
        problem: WeightProblem,
    },

    /// CUDA asked for (`--device cuda`, `DeviceChoice::Cuda`) on a machine or libtorch without it.
    #[error("CUDA was requested but is not available: {reason}")]
    CudaUnavailable {
        /// Why, in a line (no driver, no libtorch_cuda, no usable device).
        reason: String,
    },

    /// A CUDA call of our own (loading the driver or NVRTC, compiling or launching a kernel) failed.
    #[error("CUDA: {step} failed: {message}")]
    Cuda {
        /// What was being done (loading NVRTC, compiling or launching the kernel, …).
        step: &'static str,
        /// The driver's or NVRTC's message.
        message: String,
    },

    /// The GPU's memory could not hold an allocation of `size` (as libtorch words it); `free` is
    /// what libtorch said was left, as " (… free)", or empty.
    #[error("out of GPU memory: {size} did not fit on {device}{free}")]
    GpuOutOfMemory {
        /// The allocation that failed, as libtorch words it (`37.25 GiB`).
        size: String,
        /// The device, as PyTorch names it (`cuda:0`).
        device: String,
        /// ` (… free)`, or empty when libtorch did not say.
        free: String,
    },

    /// A collective across processes failed (`dist`): the rank it failed on, and c10d's reason
    /// (a peer that died or never came, a timeout, a port in use).
    #[error("rank {rank}: {step}: {message}")]
    Distributed {
        /// What was being done (joining the process group, summing over the processes).
        step: &'static str,
        /// This process's rank.
        rank: usize,
        /// c10d's message, its first line.
        message: String,
    },

    /// The machine's memory could not hold an allocation of `size` (libtorch's CPU allocator).
    #[error("out of memory: {size} did not fit in this machine's memory")]
    OutOfMemory {
        /// The allocation that failed (`3.64 TiB`).
        size: String,
    },

    /// Training produced a non-finite loss.
    #[error("loss became {value} at epoch {epoch}")]
    Diverged {
        /// The epoch whose loss it was (from 1).
        epoch: usize,
        /// The loss: NaN or infinite.
        value: f64,
    },

    /// Training was asked to stop (Ctrl-C, a cancel token, an observer's `Break`) before it
    /// finished, at this epoch or iteration.
    #[error("interrupted at {step} {at}; no model was written")]
    Interrupted {
        /// `epoch` or `iteration`.
        step: &'static str,
        /// Which one (from 1).
        at: usize,
    },

    /// A file could not be read or written. (The cause is shown, not chained, so it prints once.)
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },

    /// A JSON file that does not parse into what was expected.
    #[error("{}: {error}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        error: serde_json::Error,
    },

    /// Bad input data, at `file`, `file:line` or `file:line:column`.
    #[error("{location}: {message}")]
    Input {
        /// `file`, `file:line` or `file:line:column`.
        location: String,
        /// What is wrong there.
        message: String,
    },

    /// A label cell that a reader of 0/1 labels cannot take (text, or a value of a third class),
    /// at `file:line:column`; reading the file through a recipe learns its classes.
    #[error("{location}: {message}")]
    LabelNotBinary {
        /// `file:line:column`.
        location: String,
        /// What is wrong there.
        message: String,
    },

    /// The PyTorch reference script failed or printed something unexpected.
    #[error("reference script `{command}` failed: {message}")]
    Reference {
        /// The command run.
        command: String,
        /// What went wrong.
        message: String,
    },

    /// An error raised inside libtorch, shown by its first line (libtorch appends a C++ backtrace).
    #[error("{}", first_line(.0))]
    Torch(
        /// libtorch's error.
        tch::TchError,
    ),
}

/// Why weights were refused, for [`Error::InvalidWeights`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightProblem {
    /// A weight below zero, at `at` (`row 3`, from 1, or `class 2`).
    #[error("{value} at {at} is negative")]
    Negative {
        /// Where: `row N` (from 1) or `class K` (from 0).
        at: String,
        /// The weight.
        value: f64,
    },
    /// A NaN or infinite weight, at `at`.
    #[error("{value} at {at} is not a finite number")]
    NotFinite {
        /// Where: `row N` (from 1) or `class K` (from 0).
        at: String,
        /// The weight.
        value: f64,
    },
    /// A weight above zero but below the smallest normal f64 (2.2e-308): sums of such weights
    /// keep no precision, and the fit would end in NaN.
    #[error("{value:e} at {at} is subnormal (above 0 but below 2.2e-308): scale the weights up")]
    Subnormal {
        /// Where: `row N` (from 1) or `class K` (from 0).
        at: String,
        /// The weight.
        value: f64,
    },
    /// Every row's weight is zero: there is nothing to fit.
    #[error("every weight is zero")]
    AllZero,
    /// Not one weight per row.
    #[error("{got} weights for {rows} rows")]
    WrongLength {
        /// Weights given.
        got: usize,
        /// Rows in the data.
        rows: usize,
    },
    /// A class weight for a class that no row has (or past the number of classes).
    #[error("class {class} does not occur in the labels")]
    AbsentClass {
        /// The class index (from 0).
        class: usize,
    },
    /// The same class given two weights.
    #[error("class {class} is given twice")]
    Repeated {
        /// The class index (from 0).
        class: usize,
    },
}

impl From<tch::TchError> for Error {
    /// libtorch's errors, with CUDA's out-of-memory picked out (it names the size that did not fit).
    fn from(e: tch::TchError) -> Self {
        let line = first_line(&e);
        match out_of_memory(&line) {
            Some(oom) => oom,
            None => Error::Torch(e),
        }
    }
}

fn first_line(e: &tch::TchError) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().trim_start_matches("Internal torch error: ").to_string()
}

/// Reads libtorch's "CUDA out of memory. Tried to allocate 37.25 GiB. GPU 0 has a total capacity
/// of 139.81 GiB of which 2.10 GiB is free. ..." into [`Error::GpuOutOfMemory`].
fn out_of_memory(line: &str) -> Option<Error> {
    if let Some((_, rest)) = line.split_once("DefaultCPUAllocator: can't allocate memory: you tried to allocate ") {
        let bytes: u64 = rest.split_whitespace().next()?.parse().ok()?;
        return Some(Error::OutOfMemory { size: human_bytes(bytes) });
    }
    let rest = line.split_once("CUDA out of memory. Tried to allocate ")?.1;
    let (size, rest) = rest.split_once(". ").unwrap_or((rest.trim_end_matches('.'), ""));
    let device = rest.split_once(" has a total capacity").map_or("the GPU", |(d, _)| d).trim();
    let free = rest
        .split_once(" of which ")
        .and_then(|(_, r)| r.split_once(" is free"))
        .map_or(String::new(), |(f, _)| format!(" ({f} free)"));
    Some(Error::GpuOutOfMemory { size: size.into(), device: device.replace("GPU ", "cuda:"), free })
}

/// `bytes` in binary units with two decimals, as PyTorch writes sizes (`37.25 GiB`).
pub(crate) fn human_bytes(bytes: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.2} {}", units[unit]),
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks `ok`, else returns [`Error::InvalidSetting`] naming the setting, its value and the rule.
pub(crate) fn ensure(ok: bool, name: &'static str, value: impl ToString, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSetting { name, value: shortest(value.to_string()), expected })
    }
}

/// A value as written back in a message: a number whose plain form is long (`1e-300` has 300
/// digits) in exponent form, anything else as it is.
fn shortest(value: String) -> String {
    match value.parse::<f64>() {
        // Whole numbers stay as written up to u64's 20 digits; an f64 like 1e38 prints 39.
        Ok(v) if value.parse::<i128>().is_err() || value.len() > 20 => short(v),
        _ => value,
    }
}

/// A number as a message writes it back: as Rust writes it, or in exponent form when that would
/// be long (`1e-300`, not 300 digits).
pub fn short(value: f64) -> String {
    let plain = value.to_string();
    if plain.len() > 16 {
        format!("{value:e}")
    } else {
        plain
    }
}

/// `value` with `decimals` decimals, or in exponent form from 10⁹ on (a diverged objective is
/// not 40 digits).
pub fn fixed(value: f64, decimals: usize) -> String {
    if value.abs() < 1e9 {
        format!("{value:.decimals$}")
    } else {
        format!("{value:e}")
    }
}

/// `text` for a one-line message: control characters escaped (`\n`), cut after 120 characters.
pub(crate) fn one_line(text: &str) -> String {
    let escaped: String =
        text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect();
    match escaped.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_out_of_memory_names_the_size() {
        let line = "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: \
                    you tried to allocate 4000000000000 bytes. Error code 12 (Cannot allocate memory)";
        let e = out_of_memory(line).unwrap();
        assert_eq!(e.to_string(), "out of memory: 3.64 TiB did not fit in this machine's memory");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }

    #[test]
    fn long_numbers_are_written_back_short() {
        let e = ensure(false, "c", 1e-320, "must be larger").unwrap_err();
        assert_eq!(e.to_string(), "invalid c: 1e-320 (must be larger)");
        let e = ensure(false, "validation_split", 1e-300, "must be larger").unwrap_err();
        assert_eq!(e.to_string(), "invalid validation_split: 1e-300 (must be larger)");
        assert_eq!(ensure(false, "alpha", 2.0, "x").unwrap_err().to_string(), "invalid alpha: 2 (x)");
        let e = ensure(false, "epochs", u64::MAX, "x").unwrap_err();
        assert_eq!(e.to_string(), "invalid epochs: 18446744073709551615 (x)", "integers stay whole");
        // A whole f64 past u64's digits is a number, not a count: 1e38 prints 39 digits.
        assert_eq!(ensure(false, "lr", 1e38, "x").unwrap_err().to_string(), "invalid lr: 1e38 (x)");
        assert_eq!(
            ensure(false, "name", "a long text value, not a number", "x").unwrap_err().to_string(),
            "invalid name: a long text value, not a number (x)"
        );
    }

    #[test]
    fn fixed_decimals_turn_to_exponents_from_a_billion() {
        assert_eq!(fixed(0.1234567, 6), "0.123457");
        assert_eq!(fixed(-123456789.0, 2), "-123456789.00");
        assert_eq!(fixed(99475733236218618198519269005914537984.0, 6), "9.947573323621862e37");
        assert_eq!(fixed(f64::NAN, 6), "NaN");
    }

    #[test]
    fn libtorch_errors_print_on_one_line() {
        let err = tch::Tensor::from_slice(&[1.0f32]).f_view([2, 3]).unwrap_err();
        let shown = Error::from(err).to_string();
        assert!(!shown.contains('\n') && shown.contains("shape '[2, 3]' is invalid"), "{shown}");
    }

    #[test]
    fn cuda_out_of_memory_names_the_size_and_a_way_forward() {
        let line = "CUDA out of memory. Tried to allocate 37.25 GiB. GPU 0 has a total capacity of 139.81 GiB \
                    of which 2.10 GiB is free. Including non-PyTorch memory, this process has 137.6 GiB in use.";
        let shown = out_of_memory(line).unwrap().to_string();
        assert_eq!(shown, "out of GPU memory: 37.25 GiB did not fit on cuda:0 (2.10 GiB free)");
        assert!(out_of_memory("shape '[2, 3]' is invalid for input of size 1").is_none());
    }
}
