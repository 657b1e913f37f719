//! Softmax regression by SGD or Adam through autograd, as PyTorch computes it: `nn.Linear(d, K)`,
//! `nn.CrossEntropyLoss()`, the tutorial's penalty over the weight (and the bias with
//! `penalize_bias`), full batch. On the CPU its losses and weights are bit-for-bit PyTorch's
//! (`scripts/reference.py softmax-fixtures`); the same code runs on CUDA.

use tch::{Device, Kind, Reduction, Tensor};

use crate::error::{ensure, Error, Result};
use crate::model::penalty::Penalty;
use crate::train::optim::{Optimizer, OptimizerKind};

/// The settings of a softmax training run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftmaxSettings {
    /// SGD or Adam.
    pub optimizer: OptimizerKind,
    /// The learning rate (> 0).
    pub lr: f64,
    /// Full-batch epochs (≥ 1).
    pub epochs: usize,
    /// The penalty, as the tutorial writes it, added to the mean cross-entropy.
    pub penalty: Penalty,
    /// Whether the bias is penalized too (the tutorial's way) or only the weight.
    pub penalize_bias: bool,
}

/// What a softmax run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxTrained {
    /// The objective of each epoch, before its step (as `loss.item()`).
    pub losses: Vec<f64>,
    /// The weight, `[classes, d]` row-major.
    pub weight: Vec<f32>,
    /// The bias, one per class.
    pub bias: Vec<f32>,
}

/// `nn.Linear(input_dim, classes)`'s parameters, drawn from the CPU generator in PyTorch's order
/// and bounds: the weight from `kaiming_uniform_(a=√5)`, then the bias from U(−1/√d, 1/√d).
/// Seed first ([`crate::seed::with_seed`]) for PyTorch's numbers.
pub fn linear_init(input_dim: i64, classes: i64) -> Result<(Tensor, Tensor)> {
    ensure(input_dim >= 1, "input_dim", input_dim, "must be at least 1")?;
    ensure(classes >= 2, "classes", classes, "must be at least 2")?;
    let fan_in = input_dim as f64;
    let a = 5f64.sqrt();
    let gain = (2.0 / (1.0 + a.powf(2.0))).sqrt();
    let weight_bound = 3f64.sqrt() * (gain / fan_in.sqrt());
    let bias_bound = 1.0 / fan_in.sqrt();
    let opts = (Kind::Float, Device::Cpu);
    let mut weight = Tensor::f_empty([classes, input_dim], opts)?;
    let _ = weight.f_uniform_(-weight_bound, weight_bound)?;
    let mut bias = Tensor::f_empty([classes], opts)?;
    let _ = bias.f_uniform_(-bias_bound, bias_bound)?;
    Ok((weight, bias))
}

/// Trains `weight` `[K, d]` and `bias` `[K]` (moved to `x`'s device) on `x` (`[n, d]`, f32) and
/// `y` (`[n]`, class indices) for `settings.epochs` full-batch steps.
pub fn train(
    x: &Tensor,
    y: &Tensor,
    weight: Tensor,
    bias: Tensor,
    settings: &SoftmaxSettings,
) -> Result<SoftmaxTrained> {
    train_weighted(x, y, None, weight, bias, settings)
}

/// As [`train`], the cross-entropy a weighted mean Σᵢ sᵢℓᵢ / Σᵢ sᵢ with row weights `rows`
/// (checked: one per row, finite, ≥ 0, not all zero); `None` is [`train`] exactly.
pub fn train_weighted(
    x: &Tensor,
    y: &Tensor,
    rows: Option<&[f64]>,
    weight: Tensor,
    bias: Tensor,
    settings: &SoftmaxSettings,
) -> Result<SoftmaxTrained> {
    ensure(settings.epochs >= 1, "epochs", settings.epochs, "must be at least 1")?;
    settings.penalty.validate()?;
    let (n, d) = x.size2()?;
    let classes = weight.size()[0];
    ensure(weight.size() == [classes, d], "weight", format!("{:?}", weight.size()), "must be [classes, d]")?;
    let y = y.f_to_kind(Kind::Int64)?.f_reshape([-1])?.f_to_device(x.device())?;
    if y.size()[0] != n {
        return Err(Error::InvalidData { name: "y", message: format!("{} labels for {n} rows", y.size()[0]) });
    }
    let (low, high) = (y.f_min()?.f_int64_value(&[])?, y.f_max()?.f_int64_value(&[])?);
    if low < 0 || high >= classes {
        let bad = if low < 0 { low } else { high };
        return Err(Error::InvalidData {
            name: "y",
            message: format!("label {bad} is not a class index below {classes}"),
        });
    }
    let device = x.device();
    let row_weights = match rows {
        Some(r) => {
            crate::solvers::weights::check_rows(r, n as usize)?;
            let total: f64 = r.iter().sum();
            Some(Tensor::f_from_slice(r)?.f_div_scalar(total)?.f_to_kind(x.kind())?.f_to_device(device)?)
        }
        None => None,
    };
    let mut w = weight.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
    let mut b = bias.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
    let mut optimizer = Optimizer::new(settings.optimizer, settings.lr, &[&w, &b])?;
    let mut losses = Vec::with_capacity(settings.epochs);
    for epoch in 1..=settings.epochs {
        crate::interrupt::check(epoch)?;
        let scores = x.f_linear(&w, Some(&b))?;
        let mut loss = match &row_weights {
            None => scores.f_cross_entropy_loss(&y, None::<Tensor>, Reduction::Mean, -100, 0.0)?,
            Some(s) => scores
                .f_cross_entropy_loss(&y, None::<Tensor>, Reduction::None, -100, 0.0)?
                .f_mul(s)?
                .f_sum(x.kind())?,
        };
        let penalized: Vec<&Tensor> = if settings.penalize_bias { vec![&w, &b] } else { vec![&w] };
        if let Some(term) = settings.penalty.term(&penalized)? {
            loss = loss.f_add(&term)?;
        }
        let grads = Tensor::f_run_backward(&[&loss], &[&w, &b], false, false)?;
        optimizer.step(&mut [&mut w, &mut b], &grads)?;
        let value = loss.f_double_value(&[])?;
        if !value.is_finite() {
            return Err(Error::Diverged { epoch, value });
        }
        losses.push(value);
    }
    let cpu = |t: &Tensor| -> Result<Vec<f32>> {
        Ok(Vec::<f32>::try_from(t.f_detach()?.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?)
    };
    Ok(SoftmaxTrained { losses, weight: cpu(&w)?, bias: cpu(&b)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;

    fn settings(optimizer: OptimizerKind, penalty: Penalty, penalize_bias: bool) -> SoftmaxSettings {
        SoftmaxSettings { optimizer, lr: 0.1, epochs: 200, penalty, penalize_bias }
    }

    fn sample() -> (Tensor, Tensor, Tensor, Tensor) {
        with_seed(3, || {
            let x = Tensor::randn([200, 4], (Kind::Float, Device::Cpu));
            let y = x.narrow(1, 0, 3).argmax(1, false);
            let (w, b) = linear_init(4, 3).unwrap();
            (x, y, w, b)
        })
    }

    #[test]
    fn training_lowers_the_loss_and_learns_the_classes() {
        let (x, y, w, b) = sample();
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let t = train(&x, &y, w.copy(), b.copy(), &settings(kind, Penalty::L2 { lambda: 1e-3 }, false)).unwrap();
            assert_eq!(t.losses.len(), 200);
            assert!(t.losses[199] < 0.6 * t.losses[0], "{kind:?}: {} → {}", t.losses[0], t.losses[199]);
            assert_eq!((t.weight.len(), t.bias.len()), (12, 3));
        }
    }

    #[test]
    fn the_bias_is_penalized_only_when_asked() {
        // A large L1 on the bias alone pulls it to zero; unpenalized it moves freely.
        let (x, y, w, b) = sample();
        let l1 = Penalty::L1 { lambda: 0.5 };
        let on = train(&x, &y, w.copy(), b.copy(), &settings(OptimizerKind::Adam, l1, true)).unwrap();
        let off = train(&x, &y, w.copy(), b.copy(), &settings(OptimizerKind::Adam, l1, false)).unwrap();
        let size = |v: &[f32]| v.iter().map(|b| b.abs()).sum::<f32>();
        assert!(size(&on.bias) < size(&off.bias), "{:?} vs {:?}", on.bias, off.bias);
        assert_ne!(on.losses, off.losses);
    }

    #[test]
    fn integer_row_weights_train_as_repeated_rows() {
        let (x, y, w, b) = sample();
        let counts: Vec<i64> = (0..200).map(|i| 1 + i % 2).collect();
        let rows: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let repeated: Vec<i64> = (0..200).flat_map(|i| std::iter::repeat_n(i, counts[i as usize] as usize)).collect();
        let index = Tensor::from_slice(&repeated);
        let s = settings(OptimizerKind::Sgd, Penalty::L2 { lambda: 1e-3 }, false);
        let a = train_weighted(&x, &y, Some(&rows), w.copy(), b.copy(), &s).unwrap();
        let r = train(&x.index_select(0, &index), &y.index_select(0, &index), w.copy(), b.copy(), &s).unwrap();
        for (u, v) in a.losses.iter().zip(&r.losses) {
            assert!((u - v).abs() < 1e-5 * v.abs(), "{u} vs {v}");
        }
        let e = train_weighted(&x, &y, Some(&[1.0; 3]), w.copy(), b.copy(), &s).unwrap_err().to_string();
        assert!(e.starts_with("invalid sample_weight"), "{e}");
    }

    #[test]
    fn bad_input_is_named() {
        let (x, y, w, b) = sample();
        let s = settings(OptimizerKind::Sgd, Penalty::None, false);
        let e = train(&x, &(&y + 3), w.copy(), b.copy(), &s).unwrap_err().to_string();
        assert!(e.starts_with("invalid y: label 5 is not a class index below 3"), "{e}");
        let e = train(&x, &y.narrow(0, 0, 5), w.copy(), b.copy(), &s).unwrap_err().to_string();
        assert_eq!(e, "invalid y: 5 labels for 200 rows");
        let e = train(&x, &y, w.copy(), b.copy(), &SoftmaxSettings { epochs: 0, ..s }).unwrap_err().to_string();
        assert!(e.starts_with("invalid epochs: 0"), "{e}");
        assert!(linear_init(3, 1).unwrap_err().to_string().starts_with("invalid classes: 1"));
    }
}
