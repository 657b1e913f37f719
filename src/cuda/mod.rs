//! CUDA beyond what tch gives: `libtorch_cuda` loaded on demand ([`load`]), and the driver and
//! NVRTC loaded at run time (`driver`) for kernels of our own (the fused engine's,
//! [`crate::train::gpu`]).

pub(crate) mod driver;
pub mod load;
