//! Finds libtorch, links `libtorch_cuda` into the test binaries only (the program loads it on
//! demand), embeds an rpath so `target/*/logreg` runs without LD_LIBRARY_PATH, and compiles
//! `src/aten_shim.cpp`, the ATen calls tch does not expose (and, with the `dist` feature,
//! `src/dist/c10d_shim.cpp`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

const HOW_TO_INSTALL: &str = "run `scripts/test` or `scripts/parity` (they install PyTorch 2.11.0 \
     and build), or `source scripts/env.sh` before calling cargo yourself";

const PYTHON_QUERY: &str = "\
import torch
from torch.utils import cpp_extension
print('VERSION', torch.__version__.split('+')[0])
print('CXX11', int(torch._C._GLIBCXX_USE_CXX11_ABI))
for p in cpp_extension.include_paths(): print('INCLUDE', p)
for p in cpp_extension.library_paths(): print('LIB', p)
";

struct Libtorch {
    lib_dir: PathBuf,
    include_dirs: Vec<PathBuf>,
    cxx11_abi: String,
}

fn var(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name).ok()
}

/// Locates libtorch the way torch-sys does (LIBTORCH_USE_PYTORCH, else LIBTORCH), so both agree.
fn find_libtorch() -> Result<Libtorch, String> {
    if var("LIBTORCH_USE_PYTORCH").is_some() {
        let python = if var("VIRTUAL_ENV").is_some() { "python" } else { "python3" };
        let out = Command::new(python)
            .args(["-c", PYTHON_QUERY])
            .output()
            .map_err(|e| format!("could not run {python}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`{python} -c 'import torch'` failed: {}",
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            ));
        }
        let (mut lib_dir, mut include_dirs, mut cxx11_abi) = (None, vec![], String::from("1"));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            match line.split_once(' ') {
                Some(("VERSION", v)) if v != "2.11.0" => {
                    return Err(format!("tch 0.24 needs PyTorch 2.11.0, {python} has {v}"))
                }
                Some(("CXX11", v)) => cxx11_abi = v.to_string(),
                Some(("INCLUDE", p)) => include_dirs.push(PathBuf::from(p)),
                Some(("LIB", p)) => lib_dir = Some(PathBuf::from(p)),
                _ => {}
            }
        }
        let lib_dir = lib_dir.ok_or("torch reported no library path")?;
        Ok(Libtorch { lib_dir, include_dirs, cxx11_abi })
    } else if let Some(root) = var("LIBTORCH") {
        let root = PathBuf::from(root);
        Ok(Libtorch {
            lib_dir: var("LIBTORCH_LIB").map_or_else(|| root.join("lib"), |l| PathBuf::from(l).join("lib")),
            include_dirs: vec![root.join("include"), root.join("include/torch/csrc/api/include")],
            cxx11_abi: var("LIBTORCH_CXX11_ABI").unwrap_or_else(|| "1".into()),
        })
    } else {
        Err("neither LIBTORCH_USE_PYTORCH nor LIBTORCH is set".into())
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src/aten_shim.cpp");
    let torch = find_libtorch().unwrap_or_else(|e| {
        eprintln!("error: libtorch 2.11.0 not found ({e}); {HOW_TO_INSTALL}");
        std::process::exit(1);
    });
    let lib = torch.lib_dir.display();
    println!("cargo:rustc-link-search=native={lib}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    if torch.lib_dir.join("libtorch_cuda.so").exists() {
        // The binary does not link libtorch_cuda: it loads it when a GPU is wanted and a driver is
        // present (src/cuda/load.rs), so commands start in half the time on any machine. The test
        // binaries link it, as a program that wants CUDA from its first libtorch call would:
        // nothing calls into it by symbol (its static initialisers register the CUDA backend), so
        // under --as-needed the linker would drop it.
        // LOGREG_LINK_TORCH_CUDA=1 links it into the binary too, as before (scripts/bench_startup
        // compares the two).
        let eager = var("LOGREG_LINK_TORCH_CUDA").is_some_and(|v| v == "1");
        for kind in if eager { ["tests", "bins"].as_slice() } else { ["tests"].as_slice() } {
            println!("cargo:rustc-link-arg-{kind}=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg-{kind}=-ltorch_cuda");
            println!("cargo:rustc-link-arg-{kind}=-Wl,--as-needed");
        }
    }
    if env::var_os("CARGO_FEATURE_DIST").is_some() {
        build_c10d_shim(&torch);
    }
    cpp_against(&torch).file("src/aten_shim.cpp").compile("logreg_aten_shim");
}

/// A C++17 build against libtorch's headers, with its ABI.
fn cpp_against(torch: &Libtorch) -> cc::Build {
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .pic(true)
        .warnings(false)
        .includes(&torch.include_dirs)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={}", torch.cxx11_abi))
        .flag("-DGLOG_USE_GLOG_EXPORT");
    build
}

/// The `dist` feature: `src/dist/c10d_shim.cpp` against libtorch's c10d headers and Gloo's, which
/// the wheel lacks and Debian's `libgloo-dev` provides (libtorch_cpu holds Gloo's code itself).
fn build_c10d_shim(torch: &Libtorch) {
    println!("cargo:rerun-if-changed=src/dist/c10d_shim.cpp");
    let gloo = var("LOGREG_GLOO_INCLUDE").map_or_else(|| PathBuf::from("/usr/include"), PathBuf::from);
    if !gloo.join("gloo/config.h").exists() {
        eprintln!(
            "error: the `dist` feature needs Gloo's headers ({}/gloo not found): install Debian's \
             libgloo-dev (`apt-get install libgloo-dev`), or set LOGREG_GLOO_INCLUDE to their folder",
            gloo.display()
        );
        std::process::exit(1);
    }
    let mut build = cpp_against(torch);
    // /usr/include is searched already; naming it with -I would reorder it before libstdc++'s
    // own headers (and break their #include_next).
    if gloo != std::path::Path::new("/usr/include") {
        build.include(&gloo);
    }
    build.flag("-DUSE_C10D_GLOO").file("src/dist/c10d_shim.cpp").compile("logreg_c10d_shim");
}
