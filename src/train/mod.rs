//! Training by SGD or Adam: the settings, the epoch loop with its progress and checkpoints, and the
//! autograd engine (forward, mean BCE + penalty, backward, step) here; the fused engine
//! ([`fused`]), the optimizers ([`optim`]), checkpoint files ([`checkpoint`]) and fitting a table
//! end to end, with the exact solvers too ([`fit`]), beside it; softmax regression for K classes
//! by autograd ([`softmax`]), and fitting K classes end to end ([`multiclass`]).

pub mod checkpoint;
mod config;
#[cfg(feature = "dist")]
pub mod distributed;
#[cfg(feature = "dist")]
pub mod distributed_csv;
#[cfg(feature = "dist")]
mod distributed_rows;
#[cfg(feature = "dist")]
pub mod distributed_sparse;
#[cfg(feature = "dist")]
pub mod distributed_split;
#[cfg(feature = "dist")]
pub mod distributed_stream;
#[cfg(feature = "dist")]
pub mod distributed_weights;
mod epochs;
pub mod fit;
pub mod fused;
pub mod gpu;
pub mod multiclass;
pub mod multiclass_stream;
pub mod optim;
mod progress;
pub mod softmax;
pub mod sparse;
pub mod sparse_rows;

pub use config::{Engine, LossKind, TrainConfig};
#[cfg(feature = "dist")]
pub(crate) use progress::Progress;
pub use progress::{Checkpoints, Epoch, SaveFn, Snapshot, TrainState, Training};

use std::ops::ControlFlow;

use tch::{Device, Kind, Reduction, Tensor};

use crate::data::dataset::Dataset;
use crate::data::source::{tensor_values, InMemory};
use crate::error::{Error, Result};
use crate::model::linear::LogisticRegression;
use crate::train::gpu::DeviceRows;
use crate::train::optim::Optimizer;

/// The mean data loss of `model` on `x`, `y`.
pub(crate) fn data_loss(model: &LogisticRegression, x: &Tensor, y: &Tensor, loss: LossKind) -> Result<Tensor> {
    Ok(match loss {
        LossKind::Bce => model.forward(x)?.f_binary_cross_entropy(y, None::<Tensor>, Reduction::Mean)?,
        LossKind::Logits => {
            model.logits(x)?.f_binary_cross_entropy_with_logits(y, None::<Tensor>, None::<Tensor>, Reduction::Mean)?
        }
    })
}

/// The objective minimised: the mean data loss plus the penalty over the penalized parameters.
pub fn objective(model: &LogisticRegression, x: &Tensor, y: &Tensor, config: &TrainConfig) -> Result<Tensor> {
    let loss = data_loss(model, x, y, config.loss)?;
    let params = model.parameters();
    let penalized = if config.penalize_bias { &params[..] } else { &params[..1] };
    config.penalty.add_to(loss, penalized)
}

/// The objective (as [`objective`] computes it) and its gradient for each parameter, by the
/// backward formulas autograd applies, called directly in the order its engine runs them:
/// bit-identical to `backward()`, without building or walking a graph (the per-operation cost of
/// autograd is most of an epoch on small data).
pub(crate) fn objective_and_grads(
    model: &LogisticRegression,
    x: &Tensor,
    y: &Tensor,
    config: &TrainConfig,
) -> Result<(Tensor, Vec<Tensor>)> {
    tch::no_grad(|| {
        let (w, b) = (&model.weight, &model.bias);
        // Each [n, 1] intermediate is dropped as soon as autograd would free it: keeping them all
        // alive changes how the allocator reuses memory, and at a million rows that costs more
        // than the arithmetic.
        let (data, g_z) = match config.loss {
            LossKind::Bce => {
                // nn.Linear: addmm(b, x, wᵀ); the scores are not kept, only the sigmoid.
                let out = x.f_linear(w, Some(b))?.f_sigmoid()?;
                let loss = out.f_binary_cross_entropy(y, None::<Tensor>, Reduction::Mean)?;
                let seed = loss.f_ones_like()?;
                let g_out = out.f_binary_cross_entropy_backward(&seed, y, None::<Tensor>, Reduction::Mean)?;
                (loss, Tensor::f_sigmoid_backward(&g_out, &out)?)
            }
            LossKind::Logits => {
                let z = x.f_linear(w, Some(b))?;
                let loss = z.f_binary_cross_entropy_with_logits(y, None::<Tensor>, None::<Tensor>, Reduction::Mean)?;
                let seed = loss.f_ones_like()?;
                // FunctionsManual's binary_cross_entropy_with_logits_backward, without weights.
                let g = z.f_sigmoid()?.f_sub(y)?.f_mul(&seed)?.f_div_scalar(z.numel() as i64)?;
                (loss, g)
            }
        };
        // AddmmBackward0: the bias's gradient summed to its shape; wᵀ's by mm_mat2_backward's
        // column-major branch (wᵀ has strides (1, d)), then TBackward0.
        let g_b = g_z.f_sum_dim_intlist([0i64].as_slice(), true, None::<Kind>)?.f_view([1])?;
        let g_w = g_z.f_tr()?.f_mm(x)?.f_tr()?.f_tr()?;
        let params = model.parameters();
        let penalized = if config.penalize_bias { &params[..] } else { &params[..1] };
        let seed = data.f_ones_like()?;
        match config.penalty.term_and_grads(penalized, &seed)? {
            None => Ok((data, vec![g_w, g_b])),
            Some((term, pen)) => {
                let g_w = pen[0].f_add(&g_w)?;
                let g_b = match pen.get(1) {
                    Some(p) => p.f_add(&g_b)?,
                    None => g_b,
                };
                Ok((data.f_add(&term)?, vec![g_w, g_b]))
            }
        }
    })
}

/// One optimizer step on `x`, `y`; returns the objective before the step.
fn step(
    model: &mut LogisticRegression,
    optimizer: &mut Optimizer,
    x: &Tensor,
    y: &Tensor,
    config: &TrainConfig,
) -> Result<f64> {
    let (loss, grads) = objective_and_grads(model, x, y, config)?;
    optimizer.step(&mut model.parameters_mut(), &grads)?;
    Ok(loss.f_double_value(&[])?)
}

/// Trains `model` on `train` (on the model's device), calling `on_epoch` after each epoch; when it
/// returns `Break`, training stops with [`Error::Interrupted`]. With mini-batches smaller than the
/// data, each epoch draws a `randperm` from libtorch's generator: call inside
/// [`crate::seed::with_seed`] for reproducible runs.
pub fn train(
    model: LogisticRegression,
    train: &Dataset,
    validation: Option<&Dataset>,
    config: &TrainConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    config.validate()?;
    if config.engine == Engine::Fused && train.x.device().is_cuda() {
        return train_fused_cuda(&model, train, validation, config, checkpoints, on_epoch);
    }
    if config.engine == Engine::Fused {
        let d = model.weight.size()[1] as usize;
        // One chunk for mini-batches (PyTorch's batch order); chunks dealt to threads for full passes.
        let whole = config.batch_size.is_some_and(|b| (b as i64) < train.len());
        fn source(data: &Dataset, d: usize, whole: bool) -> Result<InMemory<'_>> {
            let (x, y) = (tensor_values(&data.x)?, tensor_values(&data.y)?);
            Ok(if whole { InMemory::new(x, y, d) } else { InMemory::chunked(x, y, d) })
        }
        let valid = validation.map(|v| source(v, d, false)).transpose()?;
        let valid = valid.as_ref().map(|v| v as &dyn crate::train::fused::Batches);
        return crate::train::fused::train(
            &model.fitted()?,
            &source(train, d, whole)?,
            valid,
            config,
            checkpoints,
            on_epoch,
        );
    }
    let optimizer = Optimizer::new(config.optimizer, config.lr, &model.parameters())?;
    let n = train.len();
    let shape = epochs::Shape {
        epochs: config.epochs,
        rows: n,
        batch: config.batch_size.map_or(n, |b| (b as i64).min(n)),
        parameters: model.weight.numel(),
        classes: None,
    };
    let mut steps = Autograd { model, optimizer, train, validation, config };
    let (losses, validation_losses) = epochs::run(&mut steps, shape, checkpoints, on_epoch)?;
    Ok(Training { losses, validation_losses, model: steps.model.fitted()? })
}

/// The autograd engine's steps on two classes, for [`epochs::run`].
struct Autograd<'a> {
    model: LogisticRegression,
    optimizer: Optimizer,
    train: &'a Dataset,
    validation: Option<&'a Dataset>,
    config: &'a TrainConfig,
}

impl epochs::Steps for Autograd<'_> {
    fn device(&self) -> Device {
        self.train.x.device()
    }

    fn restore(&mut self, state: &TrainState) -> Result<()> {
        let model = &mut self.model;
        tch::no_grad(|| -> Result<()> {
            let device = model.weight.device();
            let w = Tensor::f_from_slice(&state.weight)?.f_view(model.weight.size().as_slice())?.f_to_device(device)?;
            model.weight.f_copy_(&w)?;
            model.bias.f_copy_(&Tensor::f_from_slice(&[state.bias])?.f_to_device(device)?)?;
            Ok(())
        })?;
        self.optimizer.restore(&state.optimizer)
    }

    fn full(&mut self) -> Result<f64> {
        step(&mut self.model, &mut self.optimizer, &self.train.x, &self.train.y, self.config)
    }

    fn batch(&mut self, index: &Tensor) -> Result<f64> {
        let part = self.train.select(index)?;
        step(&mut self.model, &mut self.optimizer, &part.x, &part.y, self.config)
    }

    fn validation_loss(&self) -> Result<Option<f64>> {
        match self.validation {
            Some(v) => {
                Ok(Some(tch::no_grad(|| data_loss(&self.model, &v.x, &v.y, self.config.loss))?.f_double_value(&[])?))
            }
            None => Ok(None),
        }
    }

    fn state(&self) -> Result<(Vec<f32>, f32, crate::train::optim::OptimizerState)> {
        let fitted = self.model.fitted()?;
        Ok((fitted.coef().to_vec(), fitted.intercept(), self.optimizer.state()?))
    }
}

/// The fused engine with the rows on a CUDA device: full batch, each pass one read of X in our
/// kernel (libtorch's operations where NVRTC or the driver cannot give one, with a note).
fn train_fused_cuda(
    model: &LogisticRegression,
    train: &Dataset,
    validation: Option<&Dataset>,
    config: &TrainConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    if let Some(b) = config.batch_size.filter(|&b| (b as i64) < train.len()) {
        return Err(Error::InvalidSetting {
            name: "batch_size",
            value: b.to_string(),
            expected: "none: the fused engine trains full batch on CUDA (mini-batches: the autograd engine)",
        });
    }
    let (rows, why) = DeviceRows::new(&train.x, &train.y)?;
    if let Some(why) = why {
        eprintln!("note: the fused CUDA pass runs in libtorch's operations (two reads of X per epoch): {why}");
    }
    let valid = validation.map(|v| DeviceRows::new(&v.x, &v.y).map(|(r, _)| r)).transpose()?;
    crate::train::fused::train(&model.fitted()?, &rows, valid.as_ref().map(|v| v as _), config, checkpoints, on_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::penalty::Penalty;
    use crate::reference::sample::tutorial_sample;
    use crate::seed::with_seed;
    use tch::Device;

    fn sample_and_model(seed: u64, n: i64, d: i64) -> (Dataset, LogisticRegression) {
        with_seed(seed, || {
            let (x, y) = tutorial_sample(n, d).unwrap();
            (Dataset { x, y }, LogisticRegression::torch_init(d, Device::Cpu).unwrap())
        })
    }

    fn run(config: &TrainConfig) -> Training {
        let (data, model) = sample_and_model(7, 200, 5);
        with_seed(7, || train(model, &data, None, config, Checkpoints::default(), |_| ControlFlow::Continue(())))
            .unwrap()
    }

    #[test]
    fn gradients_by_hand_are_autograds_bit_for_bit() {
        let penalties = [
            Penalty::None,
            Penalty::L1 { lambda: 0.05 },
            Penalty::L2 { lambda: 0.1 },
            Penalty::ElasticNet { lambda_l1: 0.03, lambda_l2: 0.07 },
        ];
        for (n, d) in [(100, 10), (37, 1), (256, 33)] {
            let (data, model) = sample_and_model(n as u64, n, d);
            for penalty in penalties {
                for loss in [LossKind::Bce, LossKind::Logits] {
                    for penalize_bias in [true, false] {
                        let config = TrainConfig { penalty, loss, penalize_bias, ..Default::default() };
                        let auto = objective(&model, &data.x, &data.y, &config).unwrap();
                        let auto_grads = Tensor::run_backward(&[&auto], &model.parameters(), false, false);
                        let (hand, hand_grads) = objective_and_grads(&model, &data.x, &data.y, &config).unwrap();
                        let bits = |t: &Tensor| Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
                        let case = format!("{n}x{d} {penalty:?} {loss:?} bias {penalize_bias}");
                        assert_eq!(bits(&auto), bits(&hand), "loss, {case}");
                        for (a, h) in auto_grads.iter().zip(&hand_grads) {
                            assert_eq!(bits(a), bits(h), "gradient, {case}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn full_batch_sgd_decreases_the_objective_every_epoch() {
        let t = run(&TrainConfig { lr: 0.1, epochs: 50, ..Default::default() });
        assert_eq!(t.losses.len(), 50);
        assert!(t.losses.windows(2).all(|w| w[1] < w[0]), "{:?}", t.losses);
    }

    #[test]
    fn epochs_are_reported_in_order_with_their_losses() {
        let mut seen = vec![];
        let (data, model) = sample_and_model(1, 20, 3);
        let valid = Dataset { x: data.x.narrow(0, 0, 5), y: data.y.narrow(0, 0, 5) };
        let config = TrainConfig { epochs: 4, ..Default::default() };
        let t = train(model, &data, Some(&valid), &config, Checkpoints::default(), |e| {
            seen.push(*e);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(seen.iter().map(|e| e.loss).collect::<Vec<_>>(), t.losses);
        assert_eq!(seen.iter().map(|e| e.validation_loss.unwrap()).collect::<Vec<_>>(), t.validation_losses);
    }

    #[test]
    fn bce_and_logits_are_the_same_loss() {
        let (data, model) = sample_and_model(2, 50, 4);
        let bce = data_loss(&model, &data.x, &data.y, LossKind::Bce).unwrap().double_value(&[]);
        let logits = data_loss(&model, &data.x, &data.y, LossKind::Logits).unwrap().double_value(&[]);
        assert!((bce - logits).abs() < 1e-6, "{bce} vs {logits}");
    }

    #[test]
    fn the_bias_is_penalized_only_when_asked() {
        let (data, model) = sample_and_model(3, 30, 2);
        let config = TrainConfig { penalty: Penalty::L1 { lambda: 1.0 }, ..Default::default() };
        let with = objective(&model, &data.x, &data.y, &config).unwrap().double_value(&[]);
        let without = objective(&model, &data.x, &data.y, &TrainConfig { penalize_bias: false, ..config })
            .unwrap()
            .double_value(&[]);
        let bias = model.bias.abs().double_value(&[0]);
        assert!((with - without - bias).abs() < 1e-6, "{with} - {without} != |b| = {bias}");
    }

    #[test]
    fn mini_batches_are_reproducible_under_a_seed_and_learn() {
        let config = TrainConfig { lr: 0.05, epochs: 30, batch_size: Some(16), ..Default::default() };
        let a = run(&config);
        assert_eq!(a.losses, run(&config).losses);
        assert!(a.losses[29] < a.losses[0] * 0.95, "{:?}", a.losses);
        assert_ne!(a.losses, run(&TrainConfig { batch_size: None, ..config }).losses);
    }

    #[test]
    fn a_nan_loss_stops_training_naming_the_epoch() {
        let (mut data, model) = sample_and_model(4, 10, 2);
        data.x = data.x.fill_diagonal_(f64::NAN, false);
        let config = TrainConfig { loss: LossKind::Logits, ..Default::default() };
        let e = train(model, &data, None, &config, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap_err();
        assert_eq!(e.to_string(), "loss became NaN at epoch 1");
    }

    #[test]
    fn breaking_from_the_callback_interrupts() {
        let (data, model) = sample_and_model(5, 10, 2);
        let e = train(model, &data, None, &TrainConfig::default(), Checkpoints::default(), |e| {
            if e.epoch == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
        assert!(matches!(e, Error::Interrupted { step: "epoch", at: 3 }), "{e}");
    }

    #[test]
    fn a_resumed_state_must_hold_one_step_per_batch_of_its_epochs() {
        let config = TrainConfig { epochs: 5, batch_size: Some(16), ..Default::default() };
        let resume = |step| {
            let (data, model) = sample_and_model(6, 200, 3);
            let state = TrainState {
                epoch: 2,
                classes: None,
                weight: vec![0.1, 0.2, 0.3],
                bias: 0.0,
                optimizer: crate::train::optim::OptimizerState { step, moments: vec![] },
                losses: vec![0.7, 0.6],
                validation_losses: vec![],
            };
            let checkpoints = Checkpoints { resume: Some(state), ..Default::default() };
            with_seed(6, || train(model, &data, None, &config, checkpoints, |_| ControlFlow::Continue(())))
        };
        // 200 rows in batches of 16: 13 steps an epoch.
        assert_eq!(resume(26).unwrap().losses.len(), 5);
        let e = resume(25).unwrap_err().to_string();
        assert_eq!(e, "invalid resume: a checkpoint (must hold the optimizer's step count for its completed epochs)");
    }

    #[test]
    fn zero_epochs_and_batches_are_rejected() {
        let e = TrainConfig { epochs: 0, ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "invalid epochs: 0 (must be at least 1)");
        let e = TrainConfig { batch_size: Some(0), ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "invalid batch_size: 0 (must be at least 1)");
    }
}
