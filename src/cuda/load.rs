//! libtorch's CUDA backend, loaded only when a GPU is wanted and an NVIDIA driver is present.
//!
//! `libtorch_cuda.so` registers CUDA with libtorch from its static initialisers; linking it makes
//! every command, `--help` included, pay for loading it (about half the start-up time and three
//! quarters of the resident memory). Here it is loaded on demand instead, before libtorch is first
//! asked about CUDA: libtorch caches that answer (its CUDA hooks) for the process's life.

use std::sync::OnceLock;

use super::driver;

/// Whether libtorch can use CUDA in this process, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    /// `libtorch_cuda` is loaded and libtorch sees at least one device.
    Available,
    /// No NVIDIA driver (`libcuda.so.1`): a machine without a GPU. Nothing was loaded.
    NoDriver,
    /// A driver is present, but libtorch cannot use it; the reason in a line.
    Unusable(String),
}

static STATE: OnceLock<Availability> = OnceLock::new();

/// Loads `libtorch_cuda` once if an NVIDIA driver is present, and says whether CUDA is usable.
/// Call it before any other libtorch call that may touch CUDA (seeding does): afterwards libtorch
/// keeps the answer it first gave. A process that links `libtorch_cuda` (the test binaries do)
/// is unaffected.
pub(crate) fn ensure() -> &'static Availability {
    STATE.get_or_init(|| {
        let Some(cuda_driver) = driver::open_driver() else { return Availability::NoDriver };
        drop(cuda_driver);
        let path = driver::libtorch_dir().map(|d| d.join("libtorch_cuda.so"));
        let loaded = path
            .iter()
            .map(|p| p.as_os_str().to_owned())
            .chain([std::ffi::OsString::from("libtorch_cuda.so")])
            .find_map(|p| driver::open_library(&p).ok());
        match loaded {
            None => Availability::Unusable(format!(
                "an NVIDIA driver is present but libtorch_cuda.so was not found beside libtorch ({}); \
                 a CPU-only libtorch?",
                path.map_or("unknown folder".into(), |p| p.display().to_string())
            )),
            Some(lib) => {
                // Loaded for the process's life: its kernels and hooks are now libtorch's.
                std::mem::forget(lib);
                if tch::Cuda::is_available() {
                    Availability::Available
                } else {
                    Availability::Unusable(
                        "an NVIDIA driver is present but libtorch sees no usable device \
                         (a driver older than libtorch's CUDA, or no device visible)"
                            .into(),
                    )
                }
            }
        }
    })
}

/// True when libtorch can compute on CUDA device 0 (loading `libtorch_cuda` if needed).
pub fn available() -> bool {
    *ensure() == Availability::Available
}
