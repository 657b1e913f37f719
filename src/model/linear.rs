//! The tutorial's model, `nn.Linear(d, 1)` followed by a sigmoid, initialised exactly as PyTorch does.

use tch::{Device, Kind, Tensor};

use crate::error::Result;

/// Trainable parameters of `nn.Linear(d, 1)`: `weight` is `[1, d]`, `bias` is `[1]`, both f32.
#[derive(Debug)]
pub struct LogisticRegression {
    /// The weights, `[1, d]`.
    pub weight: Tensor,
    /// The bias, `[1]`.
    pub bias: Tensor,
}

impl LogisticRegression {
    /// Creates the parameters and draws them from the CPU generator in PyTorch's order and with
    /// PyTorch's bounds, so `torch.manual_seed(s)` followed by `nn.Linear(d, 1)` gives the same
    /// numbers: the weight from `kaiming_uniform_(a=√5)`, then the bias from U(−1/√d, 1/√d).
    pub fn torch_init(input_dim: i64, device: Device) -> Result<Self> {
        let fan_in = input_dim as f64;
        // nn.init.calculate_gain("leaky_relu", √5), then kaiming_uniform_'s bound, in the same f64 steps.
        let a = 5f64.sqrt();
        let gain = (2.0 / (1.0 + a.powf(2.0))).sqrt();
        let weight_bound = 3f64.sqrt() * (gain / fan_in.sqrt());
        let bias_bound = 1.0 / fan_in.sqrt();
        let opts = (Kind::Float, Device::Cpu);
        let mut weight = Tensor::f_empty([1, input_dim], opts)?;
        let _ = weight.f_uniform_(-weight_bound, weight_bound)?;
        let mut bias = Tensor::f_empty([1], opts)?;
        let _ = bias.f_uniform_(-bias_bound, bias_bound)?;
        Self::from_parameters(weight, bias, device)
    }

    /// Wraps given parameters, moved to `device` and marked as requiring gradients.
    pub fn from_parameters(weight: Tensor, bias: Tensor, device: Device) -> Result<Self> {
        let weight = weight.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
        let bias = bias.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
        Ok(Self { weight, bias })
    }

    /// The linear scores `X Wᵀ + b`, shape `[n, 1]`.
    pub(crate) fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear(&self.weight, Some(&self.bias))?)
    }

    /// `model(X)`: `sigmoid(X Wᵀ + b)`, shape `[n, 1]`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.logits(x)?.f_sigmoid()?)
    }

    /// The parameters in `model.parameters()` order: weight, then bias.
    pub(crate) fn parameters(&self) -> [&Tensor; 2] {
        [&self.weight, &self.bias]
    }

    /// Mutable parameters in the same order, for the optimizer.
    pub(crate) fn parameters_mut(&mut self) -> [&mut Tensor; 2] {
        [&mut self.weight, &mut self.bias]
    }

    /// Freezes the current parameters into a fitted model (detached, on the CPU).
    pub fn fitted(&self) -> Result<FittedLogisticRegression> {
        Ok(FittedLogisticRegression {
            coef: Vec::<f32>::try_from(self.weight.f_detach()?.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?,
            intercept: self.bias.f_detach()?.f_to_device(Device::Cpu)?.f_double_value(&[0])? as f32,
        })
    }
}

/// A trained model: its coefficients and intercept, usable for prediction on any device.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedLogisticRegression {
    coef: Vec<f32>,
    intercept: f32,
}

impl FittedLogisticRegression {
    /// A model from its coefficients (one per feature) and intercept.
    pub(crate) fn new(coef: Vec<f32>, intercept: f32) -> Self {
        Self { coef, intercept }
    }

    /// The weights, one per feature.
    pub fn coef(&self) -> &[f32] {
        &self.coef
    }

    /// The bias.
    pub fn intercept(&self) -> f32 {
        self.intercept
    }

    /// P(y = 1 | x) for each row of `x` (`[n, d]`), shape `[n]`, on `x`'s device.
    pub(crate) fn predict_proba(&self, x: &Tensor) -> Result<Tensor> {
        let device = x.device();
        let w = Tensor::f_from_slice(&self.coef)?.f_view([1, -1])?.f_to_device(device)?;
        let b = Tensor::f_from_slice(&[self.intercept])?.f_to_device(device)?;
        Ok(x.f_linear(&w, Some(&b))?.f_sigmoid()?.f_flatten(0, -1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;

    #[test]
    fn init_stays_within_pytorch_bounds_and_depends_on_the_seed() {
        let m = with_seed(3, || LogisticRegression::torch_init(16, Device::Cpu)).unwrap();
        let w = m.fitted().unwrap();
        assert_eq!(w.coef().len(), 16);
        assert!(w.coef().iter().all(|c| c.abs() <= 0.25) && w.intercept().abs() <= 0.25);
        assert!(m.weight.requires_grad() && m.bias.requires_grad());
        let other = with_seed(4, || LogisticRegression::torch_init(16, Device::Cpu)).unwrap();
        assert_ne!(other.fitted().unwrap(), w);
    }

    #[test]
    fn predict_proba_is_the_sigmoid_of_the_linear_score() {
        let m = FittedLogisticRegression { coef: vec![1.0, -2.0], intercept: 0.5 };
        let x = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 1.0]).view([2, 2]);
        let p = Vec::<f32>::try_from(m.predict_proba(&x).unwrap()).unwrap();
        let sigmoid = |z: f32| 1.0 / (1.0 + (-z).exp());
        assert!((p[0] - sigmoid(0.5)).abs() < 1e-7 && (p[1] - sigmoid(-0.5)).abs() < 1e-7, "{p:?}");
    }
}
