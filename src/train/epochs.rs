//! The epoch loop the autograd engines share (two classes in [`crate::train::train`], softmax
//! over K classes in memory and streamed): a checkpoint's state put back, each epoch's batch
//! order drawn as PyTorch draws it, the engine's steps, and [`Progress`]'s bookkeeping.

use std::ops::ControlFlow;

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::train::optim::OptimizerState;
use crate::train::progress::{self, Checkpoints, Epoch, Progress, TrainState};
use crate::train::TrainConfig;

/// What an engine does inside [`run`]'s loop.
pub(crate) trait Steps {
    /// Where the rows live: each epoch's batch order is moved there once.
    fn device(&self) -> Device;
    /// Puts a checkpoint's parameters and optimizer state in place.
    fn restore(&mut self, state: &TrainState) -> Result<()>;
    /// One step on every row; the objective before it.
    fn full(&mut self) -> Result<f64>;
    /// One step on the rows `index` (int64, on [`Steps::device`]); the objective before it.
    fn batch(&mut self, index: &Tensor) -> Result<f64>;
    /// The data loss on the validation rows after an epoch, when there are some.
    fn validation_loss(&self) -> Result<Option<f64>> {
        Ok(None)
    }
    /// What a checkpoint saves: the weights, the bias (0 for K classes) and the optimizer state.
    fn state(&self) -> Result<(Vec<f32>, f32, OptimizerState)>;
}

/// The shape of a run for [`run`].
pub(crate) struct Shape {
    /// Epochs asked for (≥ 1).
    pub(crate) epochs: usize,
    /// Training rows.
    pub(crate) rows: i64,
    /// Rows per step: the rows (full batch) or fewer (mini-batches).
    pub(crate) batch: i64,
    /// Parameters a checkpoint holds, and its classes ([`TrainState::classes`]).
    pub(crate) parameters: usize,
    pub(crate) classes: Option<usize>,
}

/// Trains by `steps` for `shape.epochs` epochs (from a checkpoint's when `checkpoints.resume`
/// holds one), calling `on_epoch` after each (`Break` stops with [`Error::Interrupted`], as does
/// a stop request before an epoch). With mini-batches, each epoch draws `randperm(rows)` from
/// libtorch's generator (call inside [`crate::seed::with_seed`]); a resumed run draws the
/// completed epochs' orders again, so the generator stands where it stood. Returns each epoch's
/// loss (a mini-batch epoch's: the batches' losses weighted by their rows) and validation loss.
pub(crate) fn run(
    steps: &mut dyn Steps,
    shape: Shape,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let Shape { epochs, rows: n, batch, parameters, classes } = shape;
    let config = TrainConfig { epochs, ..TrainConfig::default() };
    let (mut progress, resume) = Progress::start_classes(&config, parameters, classes, checkpoints, on_epoch)?;
    if let Some(state) = &resume {
        steps.restore(state)?;
        // One step per batch: ⌈n / batch⌉ an epoch.
        progress::check_steps(state, (n as u64).div_ceil((batch as u64).max(1)))?;
        if batch < n {
            for _ in 0..state.epoch {
                let _ = Tensor::f_randperm(n, (Kind::Int64, Device::Cpu))?;
            }
        }
    }
    for epoch in progress.first..=epochs {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted { step: "epoch", at: epoch });
        }
        let loss = if batch >= n {
            steps.full()?
        } else {
            let perm = Tensor::f_randperm(n, (Kind::Int64, Device::Cpu))?.f_to_device(steps.device())?;
            let mut total = 0.0;
            for start in (0..n).step_by(batch as usize) {
                let len = batch.min(n - start);
                total += steps.batch(&perm.f_narrow(0, start, len)?)? * len as f64;
            }
            total / n as f64
        };
        progress.end_epoch(epoch, loss, || steps.validation_loss(), || steps.state())?;
    }
    Ok(progress.finish())
}
