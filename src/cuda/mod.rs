//! CUDA beyond what tch gives: `libtorch_cuda` loaded on demand ([`load`]), and the fused
//! engine's pass as a kernel of our own ([`DeviceRows`]), through the driver and NVRTC ([`driver`]).

pub mod driver;
pub mod load;
mod rows;

pub use rows::{DeviceRows, KERNEL_MAX_FEATURES};
