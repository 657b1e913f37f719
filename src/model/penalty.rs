//! Regularization penalties over all parameters (bias included), computed as the tutorial does.
//!
//! | penalty       | term added to the loss            | ranges        |
//! |---------------|-----------------------------------|---------------|
//! | `None`        | 0                                 |               |
//! | `L1`          | λ·Σₚ ‖p‖₁                         | λ ≥ 0         |
//! | `L2`          | λ·Σₚ ‖p‖₂²                        | λ ≥ 0         |
//! | `ElasticNet`  | λ₁·Σₚ ‖p‖₁ + λ₂·Σₚ ‖p‖₂²          | λ₁, λ₂ ≥ 0    |

use tch::Tensor;

use crate::aten;
use crate::error::{ensure, Result};

/// Which penalty, without its strength (a command-line choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum PenaltyKind {
    /// No penalty.
    None,
    /// λ·‖·‖₁ (the lasso).
    L1,
    /// λ·‖·‖₂² (ridge).
    L2,
    /// λ₁·‖·‖₁ + λ₂·‖·‖₂².
    ElasticNet,
}

/// A penalty and its strength.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    /// No penalty.
    None,
    /// λ·Σₚ ‖p‖₁.
    L1 {
        /// λ ≥ 0.
        lambda: f64,
    },
    /// λ·Σₚ ‖p‖₂².
    L2 {
        /// λ ≥ 0.
        lambda: f64,
    },
    /// λ₁·Σₚ ‖p‖₁ + λ₂·Σₚ ‖p‖₂².
    ElasticNet {
        /// λ₁ ≥ 0, the L1 strength.
        lambda_l1: f64,
        /// λ₂ ≥ 0, the squared-L2 strength.
        lambda_l2: f64,
    },
}

fn check_lambda(name: &'static str, lambda: f64) -> Result<()> {
    ensure(lambda.is_finite() && lambda >= 0.0, name, lambda, "must be a finite number >= 0")?;
    // It scales 32-bit tensors: past f32's range it is infinite there.
    ensure(lambda <= f64::from(f32::MAX), name, lambda, "must fit a 32-bit float: at most 3.4e38")
}

/// Σₚ `torch.norm(p, p=1)`, summed in parameter order as the tutorial's loop does.
fn l1_sum(params: &[&Tensor]) -> Result<Tensor> {
    sum(params, |p| Ok(aten::vector_norm(p, 1)?))
}

/// Σₚ `torch.norm(p) ** 2`.
fn l2_sum(params: &[&Tensor]) -> Result<Tensor> {
    sum(params, |p| Ok(aten::vector_norm(p, 2)?.f_pow_tensor_scalar(2i64)?))
}

fn sum(params: &[&Tensor], term: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let (first, rest) = params.split_first().expect("a model has parameters");
    rest.iter().try_fold(term(first)?, |acc, p| Ok(acc.f_add(&term(p)?)?))
}

/// [`sum`] over owned or borrowed tensors.
fn sum_of<T: std::borrow::Borrow<Tensor>>(items: &[T], term: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let refs: Vec<&Tensor> = items.iter().map(|t| t.borrow()).collect();
    sum(&refs, term)
}

impl Penalty {
    /// Rejects negative or non-finite strengths.
    pub(crate) fn validate(&self) -> Result<()> {
        match *self {
            Penalty::None => Ok(()),
            Penalty::L1 { lambda } | Penalty::L2 { lambda } => check_lambda("lambda", lambda),
            Penalty::ElasticNet { lambda_l1, lambda_l2 } => {
                check_lambda("lambda_l1", lambda_l1)?;
                check_lambda("lambda_l2", lambda_l2)
            }
        }
    }

    /// The penalty term, built from the same operations as the tutorial so autograd sees the
    /// same graph; `None` for no penalty.
    pub(crate) fn term(&self, params: &[&Tensor]) -> Result<Option<Tensor>> {
        Ok(match *self {
            Penalty::None => None,
            Penalty::L1 { lambda } => Some(l1_sum(params)?.f_mul_scalar(lambda)?),
            Penalty::L2 { lambda } => Some(l2_sum(params)?.f_mul_scalar(lambda)?),
            Penalty::ElasticNet { lambda_l1, lambda_l2 } => {
                let l1 = l1_sum(params)?.f_mul_scalar(lambda_l1)?;
                Some(l1.f_add(&l2_sum(params)?.f_mul_scalar(lambda_l2)?)?)
            }
        })
    }

    /// The term (as [`Penalty::term`] computes it) and its gradient per parameter, given the
    /// term's incoming gradient `seed`, by the backward formulas autograd applies
    /// (`MulBackward1`, `PowBackward0`, `LinalgVectorNormBackward0`) in the order its engine runs
    /// them, so the results are bit-identical to `backward()`'s.
    pub(crate) fn term_and_grads(&self, params: &[&Tensor], seed: &Tensor) -> Result<Option<(Tensor, Vec<Tensor>)>> {
        // λ·Σ‖p‖₂²: (Σ pow(norm₂(p), 2))·λ; d/dp = seed·λ · (2·norm) · (p / norm, 0 where norm = 0).
        let l2 = |lambda: f64| -> Result<(Tensor, Vec<Tensor>)> {
            let norms = params.iter().map(|p| Ok(aten::vector_norm(p, 2)?)).collect::<Result<Vec<_>>>()?;
            let term = sum_of(&norms, |n| Ok(n.f_pow_tensor_scalar(2i64)?))?.f_mul_scalar(lambda)?;
            let g = seed.f_mul_scalar(lambda)?;
            let grads = params
                .iter()
                .zip(&norms)
                .map(|(p, n)| {
                    let g_norm = g.f_mul(&n.f_pow_tensor_scalar(1.0)?.f_mul_scalar(2.0)?)?;
                    let mut unit = p.f_div(n)?;
                    let _ = unit.f_masked_fill_(&n.f_eq(0.0)?, 0.0)?;
                    Ok(g_norm.f_mul(&unit)?)
                })
                .collect::<Result<_>>()?;
            Ok((term, grads))
        };
        // λ·Σ‖p‖₁: (Σ norm₁(p))·λ; d/dp = sgn(p) · seed·λ.
        let l1 = |lambda: f64| -> Result<(Tensor, Vec<Tensor>)> {
            let term = sum_of(params, |p| Ok(aten::vector_norm(p, 1)?))?.f_mul_scalar(lambda)?;
            let g = seed.f_mul_scalar(lambda)?;
            let grads = params.iter().map(|p| Ok(p.f_sgn()?.f_mul(&g)?)).collect::<Result<_>>()?;
            Ok((term, grads))
        };
        Ok(match *self {
            Penalty::None => None,
            Penalty::L1 { lambda } => Some(l1(lambda)?),
            Penalty::L2 { lambda } => Some(l2(lambda)?),
            Penalty::ElasticNet { lambda_l1, lambda_l2 } => {
                let (t1, g1) = l1(lambda_l1)?;
                let (t2, g2) = l2(lambda_l2)?;
                // The engine runs the later-built L2 branch first, so each parameter's buffer holds
                // the L2 gradient when the L1 one is added to it.
                let grads = g2.iter().zip(&g1).map(|(a, b)| Ok(a.f_add(b)?)).collect::<Result<_>>()?;
                Some((t1.f_add(&t2)?, grads))
            }
        })
    }

    /// `loss + term`, as the tutorial's `loss += …`.
    pub(crate) fn add_to(&self, loss: Tensor, params: &[&Tensor]) -> Result<Tensor> {
        match self.term(params)? {
            Some(term) => Ok(loss.f_add(&term)?),
            None => Ok(loss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(penalty: Penalty, params: &[&Tensor]) -> f64 {
        penalty.term(params).unwrap().map_or(0.0, |t| t.double_value(&[]))
    }

    #[test]
    fn terms_follow_the_table() {
        let w = Tensor::from_slice(&[1.0f32, -2.0]);
        let b = Tensor::from_slice(&[-0.5f32]);
        let p = [&w, &b];
        assert_eq!(value(Penalty::None, &p), 0.0);
        assert_eq!(value(Penalty::L1 { lambda: 0.5 }, &p), 0.5 * 3.5);
        assert_eq!(value(Penalty::L2 { lambda: 0.5 }, &p), 0.5 * 5.25);
        let en = value(Penalty::ElasticNet { lambda_l1: 0.5, lambda_l2: 2.0 }, &p);
        assert!((en - (0.5 * 3.5 + 2.0 * 5.25)).abs() < 1e-6, "{en}");
    }

    #[test]
    fn negative_or_nan_strengths_are_rejected_by_name() {
        assert!(Penalty::L2 { lambda: 0.0 }.validate().is_ok());
        let e = Penalty::L1 { lambda: -0.1 }.validate().unwrap_err().to_string();
        assert_eq!(e, "invalid lambda: -0.1 (must be a finite number >= 0)");
        let e = Penalty::ElasticNet { lambda_l1: 0.1, lambda_l2: f64::NAN }.validate().unwrap_err();
        assert!(e.to_string().starts_with("invalid lambda_l2: NaN"), "{e}");
    }
}
