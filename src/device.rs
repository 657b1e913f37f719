//! Which device computes: `auto` picks CUDA when libtorch has it, `cuda` insists on it.

use tch::Device;

use crate::error::{Error, Result};

/// The user's device choice, resolved once with [`DeviceChoice::resolve`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// CUDA device 0; an error when CUDA is not available.
    Cuda,
}

impl DeviceChoice {
    /// The concrete device, or [`Error::CudaUnavailable`] for `cuda` without CUDA.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Cuda => Err(Error::CudaUnavailable),
        }
    }
}

/// The device as PyTorch writes it: `cpu` or `cuda:0`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_always_resolves_and_cuda_only_with_cuda() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), Device::Cpu);
        match DeviceChoice::Cuda.resolve() {
            Ok(d) => assert_eq!(d, Device::Cuda(0)),
            Err(e) => {
                assert!(!tch::Cuda::is_available());
                assert!(matches!(e, Error::CudaUnavailable));
            }
        }
        assert_eq!(DeviceChoice::Auto.resolve().unwrap().is_cuda(), tch::Cuda::is_available());
    }

    #[test]
    fn names_follow_pytorch() {
        assert_eq!(device_name(Device::Cpu), "cpu");
        assert_eq!(device_name(Device::Cuda(0)), "cuda:0");
    }
}
