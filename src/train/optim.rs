//! SGD and Adam, reproducing `torch.optim.SGD` and `torch.optim.Adam` (their single-tensor code
//! path, which PyTorch uses on the CPU) operation for operation.

use tch::Tensor;

use crate::aten;
use crate::error::{ensure, Result};

/// Which optimizer updates the parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain SGD: `p ← p − lr·∇p`.
    #[default]
    Sgd,
    /// Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
    Adam,
}

/// Adam's constants, PyTorch's defaults.
const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// First and second moment estimates of one parameter.
struct Moments {
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

/// An optimizer bound to a list of parameters (in `model.parameters()` order).
pub(crate) struct Optimizer {
    kind: OptimizerKind,
    lr: f64,
    step: u64,
    moments: Vec<Moments>,
}

/// Rejects a learning rate that is not a finite number > 0, or whose step size overflows f32.
pub(crate) fn validate_lr(lr: f64, kind: OptimizerKind) -> Result<()> {
    ensure(lr.is_finite() && lr > 0.0, "lr", lr, "must be a finite number > 0")?;
    // Steps are taken on 32-bit tensors: past f32's range the rate is infinite there. Adam's
    // first step size is lr / (1 − β1), ten times the rate.
    match kind {
        OptimizerKind::Sgd => ensure(lr <= f64::from(f32::MAX), "lr", lr, "must fit a 32-bit float: at most 3.4e38"),
        OptimizerKind::Adam => ensure(
            lr <= f64::from(f32::MAX) * (1.0 - BETA1),
            "lr",
            lr,
            "must keep Adam's first step, lr / (1 - 0.9), within a 32-bit float: at most 3.4e37",
        ),
    }
}

/// An optimizer's state, to continue exactly where it stopped: the step count and Adam's moments
/// per parameter (flattened, in parameter order).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OptimizerState {
    pub(crate) step: u64,
    pub(crate) moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Optimizer {
    /// The current state.
    pub(crate) fn state(&self) -> Result<OptimizerState> {
        let flat = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(Vec::<f32>::try_from(t.f_flatten(0, -1)?.f_to_device(tch::Device::Cpu)?)?)
        };
        let moments =
            self.moments.iter().map(|m| Ok((flat(&m.exp_avg)?, flat(&m.exp_avg_sq)?))).collect::<Result<_>>()?;
        Ok(OptimizerState { step: self.step, moments })
    }

    /// Continues from `state`, which must come from the same kind of optimizer on parameters of
    /// these shapes.
    pub(crate) fn restore(&mut self, state: &OptimizerState) -> Result<()> {
        ensure(
            state.moments.len() == self.moments.len(),
            "resume",
            "a checkpoint",
            "must come from the same optimizer",
        )?;
        for (m, (avg, avg_sq)) in self.moments.iter_mut().zip(&state.moments) {
            ensure(
                avg.len() as i64 == m.exp_avg.numel() as i64 && avg_sq.len() == avg.len(),
                "resume",
                "a checkpoint",
                "must have moments of the model's shape",
            )?;
            let load = |v: &[f32], like: &Tensor| -> Result<Tensor> {
                Ok(Tensor::f_from_slice(v)?.f_view(like.size().as_slice())?.f_to_device(like.device())?)
            };
            m.exp_avg = load(avg, &m.exp_avg)?;
            m.exp_avg_sq = load(avg_sq, &m.exp_avg_sq)?;
        }
        self.step = state.step;
        Ok(())
    }

    /// `torch.optim.SGD(params, lr)` or `torch.optim.Adam(params, lr)`.
    pub(crate) fn new(kind: OptimizerKind, lr: f64, params: &[&Tensor]) -> Result<Self> {
        validate_lr(lr, kind)?;
        let moments = match kind {
            OptimizerKind::Sgd => vec![],
            OptimizerKind::Adam => params
                .iter()
                .map(|p| Ok(Moments { exp_avg: p.f_zeros_like()?, exp_avg_sq: p.f_zeros_like()? }))
                .collect::<Result<_>>()?,
        };
        Ok(Self { kind, lr, step: 0, moments })
    }

    /// `optimizer.step()`: updates each parameter in place from its gradient (`grads`, in
    /// parameter order), without recording the update in the autograd graph.
    pub(crate) fn step(&mut self, params: &mut [&mut Tensor], grads: &[Tensor]) -> Result<()> {
        self.step += 1;
        tch::no_grad(|| match self.kind {
            OptimizerKind::Sgd => {
                params.iter_mut().zip(grads).try_for_each(|(p, grad)| Ok(aten::add_scaled_(p, grad, -self.lr)?))
            }
            OptimizerKind::Adam => {
                let step = self.step as f64;
                let bias_correction1 = 1.0 - BETA1.powf(step);
                let bias_correction2 = 1.0 - BETA2.powf(step);
                let step_size = self.lr / bias_correction1;
                let bias_correction2_sqrt = bias_correction2.powf(0.5);
                params.iter_mut().zip(grads).zip(&mut self.moments).try_for_each(|((p, grad), m)| {
                    let _ = m.exp_avg.f_lerp_(grad, 1.0 - BETA1)?;
                    let _ = m.exp_avg_sq.f_mul_scalar_(BETA2)?;
                    aten::addcmul_(&mut m.exp_avg_sq, grad, grad, 1.0 - BETA2)?;
                    let mut denom = m.exp_avg_sq.f_sqrt()?.f_div_scalar(bias_correction2_sqrt)?;
                    let _ = denom.f_add_scalar_(EPS)?;
                    Ok(aten::addcdiv_(p, &m.exp_avg, &denom, -step_size)?)
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadratic_step(kind: OptimizerKind, lr: f64, steps: usize) -> f32 {
        // Minimises (p - 3)^2 from p = 0.
        let mut p = Tensor::from_slice(&[0.0f32]).set_requires_grad(true);
        let mut opt = Optimizer::new(kind, lr, &[&p]).unwrap();
        for _ in 0..steps {
            let loss = (&p - 3.0).square().sum(tch::Kind::Float);
            let grads = Tensor::run_backward(&[&loss], &[&p], false, false);
            opt.step(&mut [&mut p], &grads).unwrap();
        }
        p.double_value(&[0]) as f32
    }

    #[test]
    fn sgd_takes_exactly_one_gradient_step() {
        // gradient at 0 is -6, so p = 0 - 0.1 * -6.
        assert_eq!(quadratic_step(OptimizerKind::Sgd, 0.1, 1), 0.6);
    }

    #[test]
    fn adam_first_step_has_size_lr_and_then_converges() {
        // Adam's first update is lr * sign(grad) (up to eps).
        assert!((quadratic_step(OptimizerKind::Adam, 0.01, 1) - 0.01).abs() < 1e-6);
        assert!((quadratic_step(OptimizerKind::Adam, 0.1, 500) - 3.0).abs() < 0.05);
    }

    #[test]
    fn bad_learning_rates_are_rejected() {
        let p = Tensor::from_slice(&[0.0f32]);
        for lr in [0.0, -0.01, f64::INFINITY, 3.5e38] {
            let e = Optimizer::new(OptimizerKind::Sgd, lr, &[&p]).err().unwrap().to_string();
            assert!(e.starts_with("invalid lr: "), "{e}");
        }
        // Adam's first step is ten times the rate: 1e38 overflowed f32 inside libtorch.
        let e = Optimizer::new(OptimizerKind::Adam, 1e38, &[&p]).err().unwrap().to_string();
        assert!(e.starts_with("invalid lr: 1e38 (must keep Adam's first step"), "{e}");
        assert!(Optimizer::new(OptimizerKind::Adam, 3e37, &[&p]).is_ok());
    }
}
