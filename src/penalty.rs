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
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PenaltyKind {
    None,
    L1,
    L2,
    ElasticNet,
}

/// A penalty and its strength.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    None,
    L1 { lambda: f64 },
    L2 { lambda: f64 },
    ElasticNet { lambda_l1: f64, lambda_l2: f64 },
}

fn check_lambda(name: &'static str, lambda: f64) -> Result<()> {
    ensure(lambda.is_finite() && lambda >= 0.0, name, lambda, "must be a finite number >= 0")
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

impl Penalty {
    /// Rejects negative or non-finite strengths.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Penalty::None => Ok(()),
            Penalty::L1 { lambda } | Penalty::L2 { lambda } => check_lambda("lambda", lambda),
            Penalty::ElasticNet { lambda_l1, lambda_l2 } => {
                check_lambda("lambda-l1", lambda_l1)?;
                check_lambda("lambda-l2", lambda_l2)
            }
        }
    }

    /// The penalty term, built from the same operations as the tutorial so autograd sees the
    /// same graph; `None` for no penalty.
    pub fn term(&self, params: &[&Tensor]) -> Result<Option<Tensor>> {
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

    /// `loss + term`, as the tutorial's `loss += …`.
    pub fn add_to(&self, loss: Tensor, params: &[&Tensor]) -> Result<Tensor> {
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
        assert!(e.to_string().starts_with("invalid lambda-l2: NaN"), "{e}");
    }
}
