//! Softmax regression by SGD or Adam through autograd, as PyTorch computes it: `nn.Linear(d, K)`,
//! `nn.CrossEntropyLoss()`, the tutorial's penalty over the weight (and the bias with
//! `penalize_bias`), full batch or in mini-batches drawn as the two-class engine draws them, with
//! checkpoints. On the CPU its losses and weights are bit-for-bit PyTorch's
//! (`scripts/reference.py softmax-fixtures`); the same code runs on CUDA.

use std::ops::ControlFlow;

use tch::{Device, Kind, Reduction, Tensor};

use crate::error::{ensure, Error, Result};
use crate::model::penalty::Penalty;
use crate::train::epochs::{self, Shape};
use crate::train::optim::{Optimizer, OptimizerKind, OptimizerState};
use crate::train::{Checkpoints, Epoch, TrainConfig, TrainState};

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
    /// Rows per mini-batch (≥ 1), reshuffled every epoch; `None` (or the rows or more): full batch.
    pub batch_size: Option<usize>,
}

impl SoftmaxSettings {
    /// `train`'s optimizer, learning rate, epochs and batch size, with `penalty` (over the bias
    /// too when `penalize_bias`): scikit-learn's `C` is mapped to it by the caller.
    pub(crate) fn of(train: &TrainConfig, penalty: Penalty, penalize_bias: bool) -> Self {
        let TrainConfig { optimizer, lr, epochs, batch_size, .. } = *train;
        Self { optimizer, lr, epochs, penalty, penalize_bias, batch_size }
    }
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
    train_checkpointed(x, y, rows, weight, bias, settings, Checkpoints::default(), |_| ControlFlow::Continue(()))
}

/// [`train_weighted`] with checkpoints (states of `Some(K)` classes, see [`TrainState`]) and a
/// callback after each epoch (`Break` stops with [`Error::Interrupted`]). With mini-batches
/// (`settings.batch_size` below the rows), each epoch draws `randperm(n)` from libtorch's
/// generator as the two-class engine does (call inside [`crate::seed::with_seed`]); a resumed run
/// draws the completed epochs' orders again, so it continues bit for bit.
///
/// Weighted mini-batches: the weights are scaled to mean 1 over the rows (s̃ᵢ = sᵢ·n / Σ s) and
/// a batch's loss is the plain mean of s̃ᵢℓᵢ over its rows, so its gradient is an unbiased
/// estimate of the full weighted mean's and a batch whose rows all weigh 0 steps on the penalty
/// alone (PyTorch's `CrossEntropyLoss(weight=…)` divides by the batch's own total instead: NaN for
/// such a batch, and biased). Full batch it is Σ sᵢℓᵢ / Σ sᵢ exactly as [`train_weighted`].
#[allow(clippy::too_many_arguments)]
pub fn train_checkpointed(
    x: &Tensor,
    y: &Tensor,
    rows: Option<&[f64]>,
    weight: Tensor,
    bias: Tensor,
    settings: &SoftmaxSettings,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<SoftmaxTrained> {
    ensure(settings.epochs >= 1, "epochs", settings.epochs, "must be at least 1")?;
    if let Some(b) = settings.batch_size {
        ensure(b >= 1, "batch_size", b, "must be at least 1")?;
    }
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
    let batch = settings.batch_size.map_or(n, |b| i64::try_from(b).unwrap_or(i64::MAX).min(n));
    let row_weights = match rows {
        Some(r) => {
            crate::solvers::weights::check_rows(r, n as usize)?;
            let total: f64 = r.iter().sum();
            let s = Tensor::f_from_slice(r)?;
            // Full batch: weights over their total (a weighted mean by a sum); batches: mean 1.
            let s = if batch == n { s.f_div_scalar(total)? } else { s.f_mul_scalar(n as f64 / total)? };
            Some(s.f_to_kind(x.kind())?.f_to_device(device)?)
        }
        None => None,
    };
    let params = SoftmaxParams::new(weight, bias, device, settings)?;
    let shape = Shape {
        epochs: settings.epochs,
        rows: n,
        batch,
        parameters: classes as usize * (d as usize + 1),
        classes: Some(classes as usize),
    };
    let mut steps = InMemory { params, x, y: &y, row_weights: row_weights.as_ref() };
    let (losses, _) = epochs::run(&mut steps, shape, checkpoints, on_epoch)?;
    let SoftmaxParams { w, b, .. } = steps.params;
    Ok(SoftmaxTrained { losses, weight: cpu(&w)?, bias: cpu(&b)? })
}

/// The weight `[K, d]` and bias `[K]` in training, their optimizer and penalty: what both softmax
/// engines (rows in memory, [`InMemory`]; streamed, [`crate::train::multiclass_stream`]) step.
pub(crate) struct SoftmaxParams {
    pub(crate) w: Tensor,
    pub(crate) b: Tensor,
    pub(crate) optimizer: Optimizer,
    penalty: Penalty,
    penalize_bias: bool,
}

impl SoftmaxParams {
    /// `weight` and `bias` on `device`, to train with `settings`' optimizer and penalty.
    pub(crate) fn new(weight: Tensor, bias: Tensor, device: Device, settings: &SoftmaxSettings) -> Result<Self> {
        let w = weight.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
        let b = bias.f_to_device(device)?.f_detach()?.f_set_requires_grad(true)?;
        let optimizer = Optimizer::new(settings.optimizer, settings.lr, &[&w, &b])?;
        Ok(Self { w, b, optimizer, penalty: settings.penalty, penalize_bias: settings.penalize_bias })
    }

    /// The parameters the penalty applies to.
    pub(crate) fn penalized(&self) -> Vec<&Tensor> {
        if self.penalize_bias {
            vec![&self.w, &self.b]
        } else {
            vec![&self.w]
        }
    }

    /// The penalty term at the current parameters (a graph to differentiate), if any.
    pub(crate) fn penalty_term(&self) -> Result<Option<Tensor>> {
        self.penalty.term(&self.penalized())
    }

    /// One optimizer step on the rows `x`, `y` (row weights `s`, summed as `sum` says); returns
    /// the objective before it.
    pub(crate) fn step(&mut self, sum: Sum, x: &Tensor, y: &Tensor, s: Option<&Tensor>) -> Result<f64> {
        let scores = x.f_linear(&self.w, Some(&self.b))?;
        let mut loss = match s {
            None => scores.f_cross_entropy_loss(y, None::<Tensor>, Reduction::Mean, -100, 0.0)?,
            Some(s) => {
                let each = scores.f_cross_entropy_loss(y, None::<Tensor>, Reduction::None, -100, 0.0)?.f_mul(s)?;
                match sum {
                    Sum::Weighted => each.f_sum(x.kind())?,
                    Sum::Mean => each.f_mean(x.kind())?,
                }
            }
        };
        if let Some(term) = self.penalty_term()? {
            loss = loss.f_add(&term)?;
        }
        let grads = Tensor::f_run_backward(&[&loss], &[&self.w, &self.b], false, false)?;
        self.apply(&grads)?;
        Ok(loss.f_double_value(&[])?)
    }

    /// One optimizer step with the gradients `grads` of the weight and the bias.
    pub(crate) fn apply(&mut self, grads: &[Tensor]) -> Result<()> {
        self.optimizer.step(&mut [&mut self.w, &mut self.b], grads)
    }

    /// Puts a checkpoint's state (the weight row-major, then the biases) in place.
    pub(crate) fn restore(&mut self, state: &TrainState) -> Result<()> {
        let size = self.w.size();
        let device = self.w.device();
        let (w, b) = (&mut self.w, &mut self.b);
        tch::no_grad(|| -> Result<()> {
            let (wv, bv) = state.weight.split_at(size.iter().product::<i64>() as usize);
            w.f_copy_(&Tensor::f_from_slice(wv)?.f_view(size.as_slice())?.f_to_device(device)?)?;
            b.f_copy_(&Tensor::f_from_slice(bv)?.f_to_device(device)?)?;
            Ok(())
        })?;
        self.optimizer.restore(&state.optimizer)
    }

    /// The state a checkpoint saves: the weight row-major then the biases, 0, the optimizer's.
    pub(crate) fn state(&self) -> Result<(Vec<f32>, f32, OptimizerState)> {
        let mut params = cpu(&self.w)?;
        params.extend(cpu(&self.b)?);
        Ok((params, 0.0, self.optimizer.state()?))
    }
}

/// Softmax steps on rows in memory, for [`epochs::run`].
struct InMemory<'a> {
    params: SoftmaxParams,
    x: &'a Tensor,
    y: &'a Tensor,
    /// Scaled as [`train_checkpointed`] says: over their total full batch, to mean 1 for batches.
    row_weights: Option<&'a Tensor>,
}

impl epochs::Steps for InMemory<'_> {
    fn device(&self) -> Device {
        self.x.device()
    }

    fn restore(&mut self, state: &TrainState) -> Result<()> {
        self.params.restore(state)
    }

    fn full(&mut self) -> Result<f64> {
        self.params.step(Sum::Weighted, self.x, self.y, self.row_weights)
    }

    fn batch(&mut self, index: &Tensor) -> Result<f64> {
        let s = self.row_weights.map(|s| s.f_index_select(0, index)).transpose()?;
        let (x, y) = (self.x.f_index_select(0, index)?, self.y.f_index_select(0, index)?);
        self.params.step(Sum::Mean, &x, &y, s.as_ref())
    }

    fn state(&self) -> Result<(Vec<f32>, f32, OptimizerState)> {
        self.params.state()
    }
}

/// How row weights (already scaled) enter a step's loss: summed (full batch, weights over their
/// total) or averaged (a mini-batch, weights of mean 1).
#[derive(Clone, Copy)]
pub(crate) enum Sum {
    Weighted,
    Mean,
}

/// A parameter's values on the CPU, flattened.
fn cpu(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(t.f_detach()?.f_to_device(Device::Cpu)?.f_flatten(0, -1)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;
    use crate::train::TrainState;

    fn settings(optimizer: OptimizerKind, penalty: Penalty, penalize_bias: bool) -> SoftmaxSettings {
        SoftmaxSettings { optimizer, lr: 0.1, epochs: 200, penalty, penalize_bias, batch_size: None }
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
    fn a_run_resumed_from_its_checkpoint_ends_as_the_uninterrupted_one() {
        let (x, y, w, b) = sample();
        let rows: Vec<f64> = (0..200).map(|i| (i % 3) as f64).collect();
        let s = SoftmaxSettings {
            epochs: 12,
            batch_size: Some(48),
            ..settings(OptimizerKind::Adam, Penalty::L2 { lambda: 1e-3 }, false)
        };
        let run = |checkpoints: Checkpoints| {
            with_seed(9, || {
                train_checkpointed(&x, &y, Some(&rows), w.copy(), b.copy(), &s, checkpoints, |_| {
                    ControlFlow::Continue(())
                })
            })
            .unwrap()
        };
        let full = run(Checkpoints::default());
        let mut saved = vec![];
        let mut save = |snap: &crate::train::Snapshot| {
            saved.push(snap.to_state());
            Ok(())
        };
        let every = Checkpoints { resume: None, every: Some(5), save: Some(&mut save) };
        assert_eq!(run(every), full);
        // Saved after epochs 5 and 10: 3 classes × (4 features + 1), 5 steps an epoch.
        assert_eq!(
            saved.iter().map(|t| (t.epoch, t.classes, t.weight.len())).collect::<Vec<_>>(),
            [(5, Some(3), 15), (10, Some(3), 15)]
        );
        let resumed = run(Checkpoints { resume: Some(saved[0].clone()), ..Default::default() });
        assert_eq!(resumed, full);
        // A two-class state, or a step count off by one, is refused.
        let two = TrainState { classes: None, ..saved[0].clone() };
        let e = with_seed(9, || {
            let c = Checkpoints { resume: Some(two), ..Default::default() };
            train_checkpointed(&x, &y, None, w.copy(), b.copy(), &s, c, |_| ControlFlow::Continue(()))
        });
        assert!(e.unwrap_err().to_string().contains("as many classes as the labels hold"));
        let mut off = saved[0].clone();
        off.optimizer.step += 1;
        let c = Checkpoints { resume: Some(off), ..Default::default() };
        let e = train_checkpointed(&x, &y, None, w.copy(), b.copy(), &s, c, |_| ControlFlow::Continue(()));
        assert!(e.unwrap_err().to_string().contains("step count"));
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
