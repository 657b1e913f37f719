//! The fused engine's rows on a CUDA device: each full pass reads X once in a kernel of our own
//! (`pass.cu`, compiled by NVRTC for the number of features), or, where that kernel cannot run,
//! in libtorch's operations (two reads of X).

use std::ffi::c_void;
use std::sync::{Arc, Mutex};

use tch::{Device, Kind, Tensor};

use crate::cuda::driver::{Driver, Function, Nvrtc};
use crate::data::source::{ChunkFn, Source};
use crate::error::{ensure, Error, Result};
use crate::train::fused::{FullPass, Sums};

const SOURCE: &str = include_str!("pass.cu");
/// Threads per block in both kernels (`__launch_bounds__(256)` in `pass.cu`).
const BLOCK: u32 = 256;
/// Blocks per multiprocessor in the grid: as many as 2048 threads (Hopper's limit) would be; fewer
/// are resident where registers limit it (4 at 100 features, 64 registers; 2 at 1,024), and the rest
/// queue behind them (each warp loops over rows, so any grid covers them).
const BLOCKS_PER_SM: u32 = 8;
/// The most features the kernel keeps in registers (32 columns per lane).
pub(crate) const KERNEL_MAX_FEATURES: usize = 1024;

/// The two kernels compiled for one number of features on one device.
pub(crate) struct Kernels {
    driver: Driver,
    pass: Function,
    reduce: Function,
    /// The tiled pass and its blocks per multiprocessor, where the width allows it.
    tiled: Option<(Function, u32)>,
    features: usize,
}

/// The widest X the tiled pass takes (`TILED_MAX` in `pass.cu`): 32 rows of it in shared memory.
const TILED_MAX_FEATURES: usize = 256;

/// Whether `pass.cu` defines the tiled pass for `features`: whole float4s per row, 32 rows of
/// which fit in a block's static shared memory.
fn tiled_width(features: usize) -> bool {
    features.is_multiple_of(4) && features <= TILED_MAX_FEATURES
}

// SAFETY: CUDA function handles belong to the context, not to a thread, and the driver is
// thread-safe; a thread that launches needs the primary context current (`Driver::load` makes it
// so on the thread that compiles, which is the one that trains).
unsafe impl Send for Kernels {}
unsafe impl Sync for Kernels {}

/// Kernels by (device, features), compiled once per process for training and validation alike; a
/// failure is kept too (its step and message), so it is neither retried nor reported twice.
type Compiled = std::result::Result<Arc<Kernels>, (&'static str, String)>;
static COMPILED: Mutex<Vec<((i32, usize), Compiled)>> = Mutex::new(Vec::new());

impl Kernels {
    /// Compiles (once per process) the kernels for `features` columns on CUDA device `ordinal`.
    pub(crate) fn get(ordinal: i32, features: usize) -> Result<Arc<Kernels>> {
        ensure(
            (1..=KERNEL_MAX_FEATURES).contains(&features),
            "features",
            features,
            "at most 1024 for the CUDA kernel",
        )?;
        let mut compiled = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
        let found = match compiled.iter().find(|(key, _)| *key == (ordinal, features)) {
            Some((_, done)) => done.clone(),
            None => {
                let done = Self::compile(ordinal, features).map_err(|e| match e {
                    Error::Cuda { step, message } => (step, message),
                    other => ("preparing the CUDA kernel", other.to_string()),
                });
                compiled.push(((ordinal, features), done.clone()));
                done
            }
        };
        found.map_err(|(step, message)| Error::Cuda { step, message })
    }

    fn compile(ordinal: i32, features: usize) -> Result<Arc<Kernels>> {
        let driver = Driver::load(ordinal)?;
        let nvrtc = Nvrtc::load()?;
        // PTX for the newest architecture this NVRTC knows that is not newer than the device's
        // (the driver compiles PTX forward to the device).
        let archs = nvrtc.supported_archs()?;
        let arch = archs.iter().copied().filter(|&a| a <= driver.arch).max().unwrap_or(driver.arch);
        let ptx = nvrtc.ptx(SOURCE, "pass.cu", arch, &[("D", features.to_string())])?;
        let [pass, reduce] = driver.functions(&ptx, ["logreg_pass", "logreg_reduce"])?;
        // LOGREG_CUDA_PASS=per-warp keeps the older kernel at every width: the benchmark's
        // before-and-after on one machine.
        let per_warp = std::env::var_os("LOGREG_CUDA_PASS").is_some_and(|v| v == "per-warp");
        let tiled = match tiled_width(features) && !per_warp {
            true => {
                let [f] = driver.functions(&ptx, ["logreg_pass_tiled"])?;
                Some((f, driver.blocks_per_multiprocessor(f, BLOCK)?))
            }
            false => None,
        };
        Ok(Arc::new(Kernels { driver, pass, reduce, tiled, features }))
    }

    /// The tiled pass and its resident blocks, where it serves `x`: compiled for this width, and
    /// `x` 16-byte aligned (it reads float4s; a view of rows past the first may not be).
    fn tiled_for(&self, x: &Tensor) -> Option<(Function, u32)> {
        self.tiled.filter(|_| ptr(x).is_multiple_of(16))
    }

    /// Rows each warp takes at a time: as `R` in `pass.cu`.
    fn rows_in_flight(&self) -> u64 {
        match self.features.div_ceil(32) {
            0..=4 => 4,
            5..=8 => 2,
            _ => 1,
        }
    }

    /// The data sums over `n` rows of `x` (f32, `n × d`, contiguous) and `y` at `theta` (`d`
    /// weights then the bias), all on the device.
    fn sums(&self, x: &Tensor, y: &Tensor, n: usize, theta: &Tensor) -> Result<Tensor> {
        let device = x.device();
        let d = self.features;
        let sms = self.driver.multiprocessors.max(1) as u64;
        // The tiled pass's partials are per block, the other's per warp.
        let (pass, blocks, warps) = match self.tiled_for(x) {
            Some((tiled, resident)) => {
                // Exactly the blocks that are resident at once: each takes every blocks-th tile,
                // so a second wave would only idle the first's multiprocessors at the end.
                let blocks = (n as u64).div_ceil(32).clamp(1, sms * u64::from(resident));
                (tiled, blocks, blocks)
            }
            _ => {
                let warps_per_block = u64::from(BLOCK / 32);
                let rows_per_block = warps_per_block * self.rows_in_flight();
                let blocks = (n as u64).div_ceil(rows_per_block).clamp(1, sms * u64::from(BLOCKS_PER_SM));
                (self.pass, blocks, blocks * warps_per_block)
            }
        };
        let partial = Tensor::f_empty([(d as i64 + 2) * warps as i64], (Kind::Double, device))?;
        let sums = Tensor::f_empty([d as i64 + 2], (Kind::Double, device))?;
        // The kernels' arguments, each in a place of its own that outlives the launches.
        let (mut x_ptr, mut y_ptr, mut theta_ptr) = (ptr(x), ptr(y), ptr(theta));
        let (mut partial_out, mut partial_in, mut sums_ptr) = (ptr(&partial), ptr(&partial), ptr(&sums));
        let (mut rows, mut warps_arg) = (n as i64, warps as i64);
        let arg = |v: &mut u64| v as *mut u64 as *mut c_void;
        let mut pass_args = [
            arg(&mut x_ptr),
            arg(&mut y_ptr),
            &mut rows as *mut i64 as *mut c_void,
            arg(&mut theta_ptr),
            arg(&mut partial_out),
        ];
        let mut reduce_args = [arg(&mut partial_in), &mut warps_arg as *mut i64 as *mut c_void, arg(&mut sums_ptr)];
        // SAFETY: the arguments are (float*, float*, long long, float*, double*) (float4* for the
        // tiled pass: x is 16-byte aligned and n·d a multiple of 4) and
        // (double*, long long, double*) as `pass.cu` declares them; every buffer is a live tensor
        // of the sizes the kernels index (x: n·d, y: n, theta: d + 1, partial: (d + 2)·warps,
        // sums: d + 2), and all work runs on the default stream, in order with libtorch's.
        unsafe {
            self.driver.launch(pass, blocks as u32, BLOCK, &mut pass_args)?;
            self.driver.launch(self.reduce, d as u32 + 2, BLOCK, &mut reduce_args)?;
        }
        Ok(sums)
    }
}

/// A tensor's device address.
fn ptr(t: &Tensor) -> u64 {
    t.data_ptr() as u64
}

/// Rows with 0/1 labels on a CUDA device, for the fused engine ([`crate::train::fused`]): full
/// passes only.
pub struct DeviceRows {
    x: Tensor,
    y: Tensor,
    rows: usize,
    features: usize,
    kernels: Option<Arc<Kernels>>,
}

// SAFETY: the tensors are only read after construction (libtorch allows concurrent reads), and
// the fused engine calls `pass` from one thread.
unsafe impl Sync for DeviceRows {}

impl DeviceRows {
    /// `x` (`n × d`) and `y` (`n` or `n × 1`) on one CUDA device, with the kernel compiled for
    /// `d`, or libtorch's operations when it cannot be (then the second value says why).
    pub fn new(x: &Tensor, y: &Tensor) -> Result<(Self, Option<Error>)> {
        let device = x.device();
        let Device::Cuda(ordinal) = device else {
            return Err(Error::InvalidSetting { name: "device", value: "cpu".into(), expected: "a CUDA device" });
        };
        let (n, d) = x.size2()?;
        let x = x.f_to_kind(Kind::Float)?.f_contiguous()?;
        let y = y.f_to_kind(Kind::Float)?.f_to_device(device)?.f_reshape([n])?.f_contiguous()?;
        let (kernels, why) = match Kernels::get(ordinal as i32, d as usize) {
            Ok(k) => (Some(k), None),
            Err(e) => (None, Some(e)),
        };
        Ok((Self { x, y, rows: n as usize, features: d as usize, kernels }, why))
    }

    /// Whether passes run in our kernel (one read of X) rather than libtorch's operations.
    pub fn uses_kernel(&self) -> bool {
        self.kernels.is_some()
    }

    /// Which of our kernels makes the passes: `tiled` (whole float4 rows up to 256 features, one
    /// lane per row), `per-warp` (a warp per row), or none (libtorch's operations).
    pub fn kernel(&self) -> Option<&'static str> {
        self.kernels.as_ref().map(|k| match k.tiled_for(&self.x).is_some() {
            true => "tiled",
            false => "per-warp",
        })
    }

    /// The sums by libtorch's operations: scores, then the gradient, two reads of X.
    fn aten_sums(&self, theta: &Tensor) -> Result<Tensor> {
        let d = self.features as i64;
        let (w, b) = (theta.f_narrow(0, 0, d)?, theta.f_narrow(0, d, 1)?);
        let z = self.x.f_mv(&w)?.f_add(&b)?;
        let e = z.f_abs()?.f_neg()?.f_exp()?;
        let loss = z.f_clamp_min(0.0)?.f_sub(&self.y.f_mul(&z)?)?.f_add(&e.f_log1p()?)?;
        let g = z.f_sigmoid()?.f_sub(&self.y)?;
        let gw = self.x.f_tr()?.f_mv(&g)?.f_to_kind(Kind::Double)?;
        let gb = g.f_sum(Kind::Double)?.f_view([1])?;
        Ok(Tensor::f_cat(&[gw, gb, loss.f_sum(Kind::Double)?.f_view([1])?], 0)?)
    }
}

impl Source for DeviceRows {
    fn rows(&self) -> usize {
        self.rows
    }

    fn features(&self) -> usize {
        self.features
    }

    fn chunks(&self) -> usize {
        1
    }

    fn chunk_len(&self, _: usize) -> usize {
        self.rows
    }

    fn with_chunk(&self, _: usize, _: &mut ChunkFn) -> Result<()> {
        Err(Error::InvalidSetting {
            name: "batch_size",
            value: "a mini-batch".into(),
            expected: "full batch with the fused engine on CUDA",
        })
    }
}

impl FullPass for DeviceRows {
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        let d = self.features;
        let theta = Tensor::f_from_slice(&[w, &[b]].concat())?.f_to_device(self.x.device())?;
        let sums = match &self.kernels {
            Some(k) => k.sums(&self.x, &self.y, self.rows, &theta)?,
            None => self.aten_sums(&theta)?,
        };
        let host = Vec::<f64>::try_from(sums.f_to_device(Device::Cpu)?)?;
        Ok(Sums { loss: host[d + 1], weight: host[..d].to_vec(), bias: host[d], rows: self.rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::driver::libtorch_dir;

    /// NVRTC needs no GPU: where libtorch ships with CUDA (as PyTorch's wheel does), the kernel
    /// must compile for every size class of the register layout, and ptxas (through NVRTC, for the
    /// H100/H200's sm_90) must keep the kernel that serves each width in registers: no stack
    /// frame, no spills (every width of the tiled pass, a sample of the per-warp one's).
    #[test]
    fn the_kernel_compiles_for_every_width() {
        let cuda_libtorch = libtorch_dir().is_some_and(|d| d.join("libtorch_cuda.so").exists());
        let nvrtc = match Nvrtc::load() {
            Ok(n) => n,
            Err(e) if !cuda_libtorch => return eprintln!("skipped: a CPU-only libtorch, and {e}"),
            Err(e) => panic!("libtorch has CUDA but NVRTC did not load: {e}"),
        };
        let archs = nvrtc.supported_archs().unwrap();
        assert!(archs.contains(&90), "{archs:?}");
        // Tiled widths where ptxas's register choice changes (each multiple of 4 up to 256 was
        // checked once while writing the kernel; these are the edges of its classes).
        let tiled = [4, 8, 32, 36, 64, 68, 96, 100, 104, 128, 132, 164, 192, 196, 228, 252, TILED_MAX_FEATURES];
        for d in [1, 10, 31, 33, 129, 257, 260, 1000, KERNEL_MAX_FEATURES].into_iter().chain(tiled) {
            let ptx = nvrtc.ptx(SOURCE, "pass.cu", 90, &[("D", d.to_string())]).unwrap();
            let text = ptx.to_str().unwrap();
            assert!(text.contains(".entry logreg_pass(") && text.contains(".entry logreg_reduce"), "d = {d}");
            assert_eq!(text.contains(".entry logreg_pass_tiled"), tiled_width(d), "d = {d}");
            let report = nvrtc.ptxas_report(SOURCE, "pass.cu", 90, &[("D", d.to_string())]).unwrap();
            // (kernel, its stack-frame line), from "Function properties for <kernel>" lines.
            let mut kernel = "";
            let mut frames = vec![];
            for line in report.lines() {
                if let Some((_, name)) = line.split_once("Function properties for ") {
                    kernel = name.trim();
                } else if line.contains("stack frame") {
                    frames.push((kernel, line));
                }
            }
            assert_eq!(frames.len(), 2 + tiled_width(d) as usize, "d = {d}: {report}");
            for (kernel, line) in frames {
                // Where the tiled pass serves, the per-warp one runs only when asked for by
                // LOGREG_CUDA_PASS (the benchmark's comparison): a spill there costs no user.
                if kernel == "logreg_pass" && tiled_width(d) {
                    continue;
                }
                assert!(
                    line.contains(" 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"),
                    "d = {d} {kernel}: {line}"
                );
            }
        }
        let e = nvrtc.ptx(SOURCE, "pass.cu", 90, &[]).unwrap_err();
        assert!(e.to_string().contains("compile with -DD=<features>"), "{e}");
    }
}
