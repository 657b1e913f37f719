//! The few CUDA driver and NVRTC calls the kernels need, loaded at run time (`libcuda.so.1` from
//! the NVIDIA driver, `libnvrtc` from the CUDA libraries that ship with libtorch): nothing CUDA is
//! linked, so the binary builds and runs where there is none.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::path::{Path, PathBuf};

use libloading::os::unix::{Library, Symbol, RTLD_GLOBAL, RTLD_NOW};

use crate::error::{Error, Result};

type CuResult = c_int;
type NvrtcResult = c_int;
type Handle = *mut c_void;

const ATTRIBUTE_MULTIPROCESSORS: c_int = 16;
const ATTRIBUTE_CC_MAJOR: c_int = 75;
const ATTRIBUTE_CC_MINOR: c_int = 76;

fn cuda_error(step: &'static str, message: impl Into<String>) -> Error {
    Error::Cuda { step, message: message.into() }
}

/// Opens a shared library with its symbols global (NVRTC finds its builtins that way).
pub fn open_library(path: impl AsRef<std::ffi::OsStr>) -> std::result::Result<Library, libloading::Error> {
    // SAFETY: these are NVIDIA's and PyTorch's own libraries; loading runs their initialisers,
    // which is what linking them would do.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
}

/// `libcuda.so.1`, the driver's library: present exactly when an NVIDIA driver is installed.
pub fn open_driver() -> Option<Library> {
    open_library("libcuda.so.1").ok()
}

/// The folder libtorch was loaded from (read from this process's memory map).
pub fn libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
}

/// Where NVRTC may be: beside the CUDA libraries PyTorch's wheel installs (`nvidia/cu13/lib`,
/// `nvidia/cuda_nvrtc/lib`), in libtorch's own folder, or on the loader's search path.
fn nvrtc_candidates() -> Vec<PathBuf> {
    let mut found = vec![];
    if let Some(dir) = libtorch_dir() {
        let site = dir.join("../..");
        let mut dirs = vec![dir.clone()];
        if let Ok(entries) = std::fs::read_dir(site.join("nvidia")) {
            dirs.extend(entries.flatten().map(|e| e.path().join("lib")));
        }
        for d in dirs {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            let mut libs: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("libnvrtc.so")
                })
                .collect();
            libs.sort();
            found.extend(libs.into_iter().rev());
        }
    }
    found.extend(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"].map(PathBuf::from));
    found
}

/// Loads NVRTC and, first, the builtins library beside it, which NVRTC opens by name only.
fn open_nvrtc() -> Result<Library> {
    let mut tried = vec![];
    for path in nvrtc_candidates() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with("libnvrtc-builtins.so") && !name.contains(".alt.") {
                        // Kept loaded for the process's life: NVRTC opens it on each compile.
                        if let Ok(lib) = open_library(e.path()) {
                            std::mem::forget(lib);
                        }
                    }
                }
            }
        }
        match open_library(&path) {
            Ok(lib) => return Ok(lib),
            Err(e) => tried.push(format!("{} ({e})", path.display())),
        }
    }
    Err(cuda_error("loading NVRTC", format!("no libnvrtc found; tried {}", tried.join(", "))))
}

/// Looks up `name` in `lib` as a function of type `T`.
fn symbol<T: Copy>(lib: &Library, name: &str) -> Result<T> {
    let c = CString::new(name).expect("symbol names have no NUL");
    // SAFETY: each call site names the C signature the CUDA headers declare for that symbol.
    let s: Symbol<T> = unsafe { lib.get(c.as_bytes_with_nul()) }
        .map_err(|e| cuda_error("loading the CUDA driver", format!("{name}: {e}")))?;
    Ok(*s)
}

type CuInit = unsafe extern "C" fn(c_uint) -> CuResult;
type CuDeviceGet = unsafe extern "C" fn(*mut c_int, c_int) -> CuResult;
type CuDeviceGetAttribute = unsafe extern "C" fn(*mut c_int, c_int, c_int) -> CuResult;
type CuPrimaryCtxRetain = unsafe extern "C" fn(*mut Handle, c_int) -> CuResult;
type CuCtxSetCurrent = unsafe extern "C" fn(Handle) -> CuResult;
type CuModuleLoadData = unsafe extern "C" fn(*mut Handle, *const c_void) -> CuResult;
type CuModuleGetFunction = unsafe extern "C" fn(*mut Handle, Handle, *const c_char) -> CuResult;
type CuLaunchKernel = unsafe extern "C" fn(
    Handle,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    c_uint,
    Handle,
    *mut *mut c_void,
    *mut *mut c_void,
) -> CuResult;
type CuGetErrorString = unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult;
type CuOccupancy = unsafe extern "C" fn(*mut c_int, Handle, c_int, usize) -> CuResult;

type NvrtcCreateProgram = unsafe extern "C" fn(
    *mut Handle,
    *const c_char,
    *const c_char,
    c_int,
    *const *const c_char,
    *const *const c_char,
) -> NvrtcResult;
type NvrtcCompileProgram = unsafe extern "C" fn(Handle, c_int, *const *const c_char) -> NvrtcResult;
type NvrtcGetSize = unsafe extern "C" fn(Handle, *mut usize) -> NvrtcResult;
type NvrtcGetText = unsafe extern "C" fn(Handle, *mut c_char) -> NvrtcResult;
type NvrtcDestroyProgram = unsafe extern "C" fn(*mut Handle) -> NvrtcResult;
type NvrtcGetErrorString = unsafe extern "C" fn(NvrtcResult) -> *const c_char;
type NvrtcGetNumArchs = unsafe extern "C" fn(*mut c_int) -> NvrtcResult;
type NvrtcGetArchs = unsafe extern "C" fn(*mut c_int) -> NvrtcResult;

/// NVRTC: CUDA C++ source to PTX. Needs no GPU.
pub struct Nvrtc {
    _lib: Library,
    create: NvrtcCreateProgram,
    compile: NvrtcCompileProgram,
    ptx_size: NvrtcGetSize,
    ptx: NvrtcGetText,
    log_size: NvrtcGetSize,
    log: NvrtcGetText,
    destroy: NvrtcDestroyProgram,
    error_string: NvrtcGetErrorString,
    num_archs: NvrtcGetNumArchs,
    archs: NvrtcGetArchs,
}

impl Nvrtc {
    pub fn load() -> Result<Self> {
        let lib = open_nvrtc()?;
        Ok(Self {
            create: symbol(&lib, "nvrtcCreateProgram")?,
            compile: symbol(&lib, "nvrtcCompileProgram")?,
            ptx_size: symbol(&lib, "nvrtcGetPTXSize")?,
            ptx: symbol(&lib, "nvrtcGetPTX")?,
            log_size: symbol(&lib, "nvrtcGetProgramLogSize")?,
            log: symbol(&lib, "nvrtcGetProgramLog")?,
            destroy: symbol(&lib, "nvrtcDestroyProgram")?,
            error_string: symbol(&lib, "nvrtcGetErrorString")?,
            num_archs: symbol(&lib, "nvrtcGetNumSupportedArchs")?,
            archs: symbol(&lib, "nvrtcGetSupportedArchs")?,
            _lib: lib,
        })
    }

    fn text(&self, rc: NvrtcResult) -> String {
        // SAFETY: nvrtcGetErrorString returns a static string for any code.
        unsafe { CStr::from_ptr((self.error_string)(rc)) }.to_string_lossy().into_owned()
    }

    fn check(&self, step: &'static str, rc: NvrtcResult) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(cuda_error(step, self.text(rc)))
        }
    }

    /// The compute capabilities (major·10 + minor) this NVRTC can target.
    pub fn supported_archs(&self) -> Result<Vec<i32>> {
        let mut n = 0;
        // SAFETY: n is written before the array of n entries is filled.
        self.check("NVRTC", unsafe { (self.num_archs)(&mut n) })?;
        let mut archs = vec![0; n.max(0) as usize];
        self.check("NVRTC", unsafe { (self.archs)(archs.as_mut_ptr()) })?;
        Ok(archs)
    }

    /// Compiles `source` to PTX for compute capability `arch` (e.g. 90) with `defines`.
    pub fn ptx(&self, source: &str, name: &str, arch: i32, defines: &[(&str, String)]) -> Result<CString> {
        Ok(self.compile(source, name, &format!("--gpu-architecture=compute_{arch}"), defines)?.0)
    }

    /// What ptxas reports when it compiles `source` to machine code for `sm_{arch}`: registers,
    /// stack frame, spills (no GPU needed).
    #[cfg(test)]
    pub fn ptxas_report(&self, source: &str, name: &str, arch: i32, defines: &[(&str, String)]) -> Result<String> {
        let target = format!("--gpu-architecture=sm_{arch}");
        Ok(self.compile_with(source, name, &[target.as_str(), "--ptxas-options=-v"], defines)?.1)
    }

    fn compile(&self, source: &str, name: &str, target: &str, defines: &[(&str, String)]) -> Result<(CString, String)> {
        self.compile_with(source, name, &[target], defines)
    }

    /// The PTX and the compile log of `source` under `flags` and `defines`.
    fn compile_with(
        &self,
        source: &str,
        name: &str,
        flags: &[&str],
        defines: &[(&str, String)],
    ) -> Result<(CString, String)> {
        let (src, name) = (CString::new(source).expect("kernel source"), CString::new(name).expect("name"));
        let mut options: Vec<CString> = flags.iter().map(|f| CString::new(*f).expect("flag")).collect();
        options.extend(defines.iter().map(|(k, v)| CString::new(format!("-D{k}={v}")).expect("define")));
        let option_ptrs: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();
        let mut prog: Handle = std::ptr::null_mut();
        // SAFETY: the strings outlive the program; the program is destroyed on every path below.
        unsafe {
            self.check(
                "NVRTC",
                (self.create)(&mut prog, src.as_ptr(), name.as_ptr(), 0, std::ptr::null(), std::ptr::null()),
            )?;
            let compiled = (self.compile)(prog, option_ptrs.len() as c_int, option_ptrs.as_ptr());
            let mut size = 0;
            (self.log_size)(prog, &mut size);
            let mut log = vec![0u8; size.max(1)];
            (self.log)(prog, log.as_mut_ptr().cast());
            let log = String::from_utf8_lossy(&log).trim_end_matches('\0').trim().to_string();
            let result = if compiled != 0 {
                let log = log.replace('\n', "; ");
                Err(cuda_error("compiling the CUDA kernel", format!("{}: {log}", self.text(compiled))))
            } else {
                let mut size = 0;
                self.check("NVRTC", (self.ptx_size)(prog, &mut size)).map(|()| {
                    let mut ptx = vec![0u8; size];
                    (self.ptx)(prog, ptx.as_mut_ptr().cast());
                    ptx.truncate(ptx.iter().position(|&b| b == 0).unwrap_or(ptx.len()));
                    (CString::new(ptx).expect("PTX without interior NUL"), log)
                })
            };
            (self.destroy)(&mut prog);
            result
        }
    }
}

/// The CUDA driver: modules from PTX, kernel launches on the default stream (libtorch's too).
pub struct Driver {
    _lib: Library,
    module_load: CuModuleLoadData,
    get_function: CuModuleGetFunction,
    launch: CuLaunchKernel,
    error_string: CuGetErrorString,
    occupancy: CuOccupancy,
    /// Compute capability of the device, major·10 + minor.
    pub arch: i32,
    pub multiprocessors: i32,
}

/// A kernel in a loaded module (modules live as long as the process's context).
#[derive(Clone, Copy)]
pub struct Function(Handle);

impl Driver {
    /// Binds to device `ordinal`'s primary context, the one libtorch uses, and makes it current on
    /// this thread (libtorch's own choice for device 0). Launches go to whichever context is current
    /// on the calling thread: the fused engine launches from the thread that called this.
    pub fn load(ordinal: i32) -> Result<Self> {
        let lib = open_driver().ok_or_else(|| cuda_error("loading the CUDA driver", "libcuda.so.1 not found"))?;
        let init: CuInit = symbol(&lib, "cuInit")?;
        let device_get: CuDeviceGet = symbol(&lib, "cuDeviceGet")?;
        let attribute: CuDeviceGetAttribute = symbol(&lib, "cuDeviceGetAttribute")?;
        let retain: CuPrimaryCtxRetain = symbol(&lib, "cuDevicePrimaryCtxRetain")?;
        let set_current: CuCtxSetCurrent = symbol(&lib, "cuCtxSetCurrent")?;
        let driver = Self {
            module_load: symbol(&lib, "cuModuleLoadData")?,
            get_function: symbol(&lib, "cuModuleGetFunction")?,
            launch: symbol(&lib, "cuLaunchKernel")?,
            error_string: symbol(&lib, "cuGetErrorString")?,
            occupancy: symbol(&lib, "cuOccupancyMaxActiveBlocksPerMultiprocessor")?,
            arch: 0,
            multiprocessors: 0,
            _lib: lib,
        };
        let (mut device, mut ctx, mut major, mut minor, mut sms) = (0, std::ptr::null_mut(), 0, 0, 0);
        // SAFETY: plain driver calls with out-pointers to locals.
        unsafe {
            driver.check("initialising CUDA", init(0))?;
            driver.check("initialising CUDA", device_get(&mut device, ordinal))?;
            driver.check("initialising CUDA", attribute(&mut major, ATTRIBUTE_CC_MAJOR, device))?;
            driver.check("initialising CUDA", attribute(&mut minor, ATTRIBUTE_CC_MINOR, device))?;
            driver.check("initialising CUDA", attribute(&mut sms, ATTRIBUTE_MULTIPROCESSORS, device))?;
            driver.check("initialising CUDA", retain(&mut ctx, device))?;
            driver.check("initialising CUDA", set_current(ctx))?;
        }
        Ok(Self { arch: major * 10 + minor, multiprocessors: sms, ..driver })
    }

    fn check(&self, step: &'static str, rc: CuResult) -> Result<()> {
        if rc == 0 {
            return Ok(());
        }
        let mut text: *const c_char = std::ptr::null();
        // SAFETY: cuGetErrorString points `text` at a static string, or leaves it null.
        unsafe { (self.error_string)(rc, &mut text) };
        let text = if text.is_null() {
            format!("CUDA error {rc}")
        } else {
            unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
        };
        Err(cuda_error(step, text))
    }

    /// Loads PTX and returns the named kernels.
    pub fn functions<const N: usize>(&self, ptx: &CStr, names: [&str; N]) -> Result<[Function; N]> {
        let mut module = std::ptr::null_mut();
        // SAFETY: the PTX is NUL-terminated; the module is never unloaded (it lives with the context).
        self.check("loading the CUDA kernel", unsafe { (self.module_load)(&mut module, ptx.as_ptr().cast()) })?;
        let mut out = [Function(std::ptr::null_mut()); N];
        for (slot, name) in out.iter_mut().zip(names) {
            let c = CString::new(name).expect("kernel name");
            self.check("loading the CUDA kernel", unsafe { (self.get_function)(&mut slot.0, module, c.as_ptr()) })?;
        }
        Ok(out)
    }

    /// How many blocks of `block` threads of `f` one multiprocessor holds at once (its registers
    /// and shared memory decide), at least 1.
    pub fn blocks_per_multiprocessor(&self, f: Function, block: u32) -> Result<u32> {
        let mut blocks: c_int = 0;
        // SAFETY: an out-pointer to a local and a function of a loaded module.
        self.check("sizing the CUDA grid", unsafe { (self.occupancy)(&mut blocks, f.0, block as c_int, 0) })?;
        Ok(blocks.max(1) as u32)
    }

    /// Launches `f` on `grid` blocks of `block` threads on the default stream.
    ///
    /// # Safety
    /// `args` must point to values of exactly the kernel's parameter types, in order, and every
    /// device pointer among them must stay valid until the kernel has run.
    pub unsafe fn launch(&self, f: Function, grid: u32, block: u32, args: &mut [*mut c_void]) -> Result<()> {
        let rc = (self.launch)(
            f.0,
            grid,
            1,
            1,
            block,
            1,
            1,
            0,
            std::ptr::null_mut(),
            args.as_mut_ptr(),
            std::ptr::null_mut(),
        );
        self.check("launching the CUDA kernel", rc)
    }
}
