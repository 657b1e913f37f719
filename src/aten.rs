//! Safe wrappers over `aten_shim.cpp`: the ATen calls PyTorch makes that tch 0.24 does not expose.
//!
//! Calling the very same ATen operations as Python is what makes the port bit-for-bit identical:
//! `p - lr*g` computed any other way rounds differently from `p.add_(g, alpha=-lr)`.

use std::ffi::{c_char, c_int, c_void, CStr};

use tch::{TchError, Tensor};

extern "C" {
    fn logreg_last_error() -> *const c_char;
    fn logreg_add_scaled_(s: *mut c_void, other: *const c_void, alpha: f64) -> c_int;
    fn logreg_addcmul_(s: *mut c_void, t1: *const c_void, t2: *const c_void, value: f64) -> c_int;
    fn logreg_addcdiv_(s: *mut c_void, t1: *const c_void, t2: *const c_void, value: f64) -> c_int;
    fn logreg_vector_norm(s: *const c_void, ord: i64, out: *mut *mut c_void) -> c_int;
}

fn check(status: c_int) -> Result<(), TchError> {
    if status == 0 {
        return Ok(());
    }
    // SAFETY: the shim returns a pointer to its thread-local, NUL-terminated message.
    let message = unsafe { CStr::from_ptr(logreg_last_error()) };
    Err(TchError::Torch(message.to_string_lossy().into_owned()))
}

fn ptr(t: &Tensor) -> *const c_void {
    t.as_ptr() as *const c_void
}

fn ptr_mut(t: &mut Tensor) -> *mut c_void {
    t.as_mut_ptr() as *mut c_void
}

/// `t.add_(other, alpha=alpha)`.
pub fn add_scaled_(t: &mut Tensor, other: &Tensor, alpha: f64) -> Result<(), TchError> {
    // SAFETY: both handles are live tch tensors for the duration of the call.
    check(unsafe { logreg_add_scaled_(ptr_mut(t), ptr(other), alpha) })
}

/// `t.addcmul_(t1, t2, value=value)`.
pub fn addcmul_(t: &mut Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<(), TchError> {
    // SAFETY: as above.
    check(unsafe { logreg_addcmul_(ptr_mut(t), ptr(t1), ptr(t2), value) })
}

/// `t.addcdiv_(t1, t2, value=value)`.
pub fn addcdiv_(t: &mut Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<(), TchError> {
    // SAFETY: as above.
    check(unsafe { logreg_addcdiv_(ptr_mut(t), ptr(t1), ptr(t2), value) })
}

/// `torch.linalg.vector_norm(t, ord)` over all elements: what `torch.norm(t)` (ord 2) and
/// `torch.norm(t, p=1)` call.
pub fn vector_norm(t: &Tensor, ord: i64) -> Result<Tensor, TchError> {
    let mut out: *mut c_void = std::ptr::null_mut();
    // SAFETY: on success the shim stores a heap-allocated at::Tensor, which tch then owns and frees.
    check(unsafe { logreg_vector_norm(ptr(t), ord, &mut out) })?;
    Ok(unsafe { Tensor::from_ptr(out as *mut _) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_match_their_definitions() {
        let t = Tensor::from_slice(&[3.0f32, -4.0]);
        assert_eq!(vector_norm(&t, 2).unwrap().double_value(&[]), 5.0);
        assert_eq!(vector_norm(&t, 1).unwrap().double_value(&[]), 7.0);
    }

    #[test]
    fn scaled_updates_compute_in_place() {
        let mut p = Tensor::from_slice(&[1.0f32, 2.0]);
        add_scaled_(&mut p, &Tensor::from_slice(&[10.0f32, 20.0]), -0.5).unwrap();
        assert_eq!(Vec::<f32>::try_from(&p).unwrap(), [-4.0, -8.0]);
        addcmul_(&mut p, &Tensor::from_slice(&[2.0f32, 3.0]), &Tensor::from_slice(&[4.0f32, 5.0]), 0.5).unwrap();
        assert_eq!(Vec::<f32>::try_from(&p).unwrap(), [0.0, -0.5]);
        addcdiv_(&mut p, &Tensor::from_slice(&[2.0f32, 3.0]), &Tensor::from_slice(&[4.0f32, 6.0]), -2.0).unwrap();
        assert_eq!(Vec::<f32>::try_from(&p).unwrap(), [-1.0, -1.5]);
    }

    #[test]
    fn libtorch_errors_come_back_as_errors() {
        let mut p = Tensor::from_slice(&[1.0f32, 2.0]);
        let err = add_scaled_(&mut p, &Tensor::from_slice(&[1.0f32, 2.0, 3.0]), 1.0).unwrap_err();
        assert!(err.to_string().contains("size"), "{err}");
    }
}
