//! Which device computes: `auto` picks CUDA when libtorch has it, `cuda` insists on it.
//! Resolving a choice other than `cpu` loads libtorch's CUDA backend first ([`crate::cuda::load`]).

use tch::Device;

use crate::error::{Error, Result};

/// The user's device choice, resolved once with [`DeviceChoice::resolve`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA device 0 when available, else the CPU.
    #[default]
    Auto,
    /// The CPU, even when CUDA is available.
    Cpu,
    /// CUDA device 0; an error when CUDA is not available.
    Cuda,
}

impl DeviceChoice {
    /// The concrete device, or [`Error::CudaUnavailable`] for `cuda` without CUDA. Call it before
    /// other libtorch calls (seeding among them): `auto` and `cuda` load CUDA here, on demand.
    pub fn resolve(self) -> Result<Device> {
        Ok(self.resolve_noting()?.0)
    }

    /// As [`Self::resolve`], with a one-line note when `auto` falls back to the CPU although an
    /// NVIDIA driver is present (libtorch cannot use it, and why).
    pub fn resolve_noting(self) -> Result<(Device, Option<String>)> {
        use crate::cuda::load::{ensure, Availability};
        if self == DeviceChoice::Cpu {
            return Ok((Device::Cpu, None));
        }
        match (ensure(), self) {
            (Availability::Available, _) => Ok((Device::Cuda(0), None)),
            (Availability::NoDriver, DeviceChoice::Cuda) => {
                Err(Error::CudaUnavailable { reason: "no NVIDIA driver (libcuda.so.1) on this machine".into() })
            }
            (Availability::Unusable(why), DeviceChoice::Cuda) => Err(Error::CudaUnavailable { reason: why.clone() }),
            (Availability::NoDriver, _) => Ok((Device::Cpu, None)),
            (Availability::Unusable(why), _) => Ok((Device::Cpu, Some(format!("{why}; using the CPU")))),
        }
    }
}

/// The device as PyTorch writes it: `cpu` or `cuda:0`.
pub(crate) fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Refuses `bytes` of host memory beyond what Linux says is available (`MemAvailable`), before
/// they are allocated: past it the out-of-memory killer would end the process with no message
/// (a stray libsvm index of 2³² asks for tens of GiB of weights). Unreadable: anything is allowed.
pub fn check_host_memory(bytes: u64) -> Result<()> {
    match available_host_memory() {
        Some(available) if bytes > available => Err(Error::OutOfMemory { size: crate::error::human_bytes(bytes) }),
        _ => Ok(()),
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn available_host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_memory_beyond_what_is_available_is_refused_by_size() {
        let available = available_host_memory().expect("Linux reports MemAvailable");
        assert!(available > 0);
        assert!(check_host_memory(available / 2).is_ok());
        let e = check_host_memory(u64::MAX / 2).unwrap_err().to_string();
        assert_eq!(e, "out of memory: 8.00 EiB did not fit in this machine's memory");
    }

    #[test]
    fn cpu_always_resolves_and_cuda_only_with_cuda() {
        assert_eq!(DeviceChoice::Cpu.resolve().unwrap(), Device::Cpu);
        let available = crate::cuda::load::available();
        match DeviceChoice::Cuda.resolve() {
            Ok(d) => assert_eq!(d, Device::Cuda(0)),
            Err(e) => {
                assert!(!available);
                assert!(matches!(e, Error::CudaUnavailable { .. }));
                assert!(e.to_string().starts_with("CUDA was requested but is not available: "), "{e}");
            }
        }
        assert_eq!(DeviceChoice::Auto.resolve().unwrap().is_cuda(), available);
        assert_eq!(available, tch::Cuda::is_available());
    }

    #[test]
    fn names_follow_pytorch() {
        assert_eq!(device_name(Device::Cpu), "cpu");
        assert_eq!(device_name(Device::Cuda(0)), "cuda:0");
    }
}
