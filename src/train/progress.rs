//! The bookkeeping every engine shares around its steps: epochs reported to the caller, the
//! training state a checkpoint holds, and what training produced.

use std::ops::ControlFlow;

use crate::error::{ensure, Error, Result};
use crate::model::linear::FittedLogisticRegression;
use crate::train::config::TrainConfig;
use crate::train::optim::OptimizerState;

/// One finished epoch, as reported to the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epoch {
    /// Counts from 1.
    pub epoch: usize,
    /// The training objective: full batch, the loss before the epoch's step (the tutorial's
    /// number); mini-batches, the mean of the batches' losses weighted by their size.
    pub loss: f64,
    /// The data loss (no penalty) on the validation set after the epoch, when there is one.
    pub validation_loss: Option<f64>,
}

/// Training state after an epoch: enough to continue exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// `None`: two classes, `weight` the coefficients and `bias` the intercept. `Some(K)`: softmax
    /// over K classes, `weight` the `[K, d]` weight row-major then the K biases, `bias` 0.
    pub(crate) classes: Option<usize>,
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: f32,
    pub(crate) optimizer: OptimizerState,
    pub(crate) losses: Vec<f64>,
    pub(crate) validation_losses: Vec<f64>,
}

/// The state handed to a save: [`TrainState`] with the losses borrowed, so that a save need not
/// copy the whole history (a checkpoint appends only the epochs since the last one).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot<'a> {
    /// Epochs completed.
    pub epoch: usize,
    /// As [`TrainState::classes`].
    pub(crate) classes: Option<usize>,
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: f32,
    pub(crate) optimizer: OptimizerState,
    pub(crate) losses: &'a [f64],
    pub(crate) validation_losses: &'a [f64],
}

#[cfg(test)]
impl Snapshot<'_> {
    /// The state this snapshot holds, its losses copied (what a save and a read give back).
    pub(crate) fn to_state(&self) -> TrainState {
        TrainState {
            epoch: self.epoch,
            classes: self.classes,
            weight: self.weight.clone(),
            bias: self.bias,
            optimizer: self.optimizer.clone(),
            losses: self.losses.to_vec(),
            validation_losses: self.validation_losses.to_vec(),
        }
    }
}

/// What [`Checkpoints`] calls with the state to save.
pub type SaveFn<'a> = dyn FnMut(&Snapshot<'_>) -> Result<()> + 'a;

/// Checkpoints: continue from `resume`, and hand the state to `save` every `every` epochs.
#[derive(Default)]
pub struct Checkpoints<'a> {
    /// The state to continue from (its epoch must be below the epochs asked for); `None`: start afresh.
    pub resume: Option<TrainState>,
    /// Epochs between saves (none after the last epoch); `None`: never save.
    pub every: Option<usize>,
    /// Called with the state when a save is due; `None`: never save.
    pub save: Option<&'a mut SaveFn<'a>>,
}

/// The bookkeeping both engines share around their steps: where to start (a checkpoint's epoch),
/// the losses so far, checkpoints every `every` epochs, and the caller's per-epoch callback.
pub(crate) struct Progress<'a, F> {
    pub(crate) first: usize,
    /// What the saved states hold ([`TrainState::classes`]).
    classes: Option<usize>,
    epochs: usize,
    losses: Vec<f64>,
    validation_losses: Vec<f64>,
    every: Option<usize>,
    save: Option<&'a mut SaveFn<'a>>,
    on_epoch: F,
}

impl<'a, F: FnMut(&Epoch) -> ControlFlow<()>> Progress<'a, F> {
    /// Starts afresh, or after `checkpoints.resume` once it is checked against `config` and the
    /// number of features; returns that state for the engine to restore its parameters from.
    pub(crate) fn start(
        config: &TrainConfig,
        features: usize,
        checkpoints: Checkpoints<'a>,
        on_epoch: F,
    ) -> Result<(Self, Option<TrainState>)> {
        Self::start_classes(config, features, None, checkpoints, on_epoch)
    }

    /// [`Progress::start`] for states of `classes` ([`TrainState::classes`]; `features` counts
    /// every saved parameter): a resumed state of another kind is refused.
    pub(crate) fn start_classes(
        config: &TrainConfig,
        features: usize,
        classes: Option<usize>,
        checkpoints: Checkpoints<'a>,
        on_epoch: F,
    ) -> Result<(Self, Option<TrainState>)> {
        let Checkpoints { resume, every, save } = checkpoints;
        let mut progress = Self {
            first: 1,
            classes,
            epochs: config.epochs,
            // Grown as epochs finish: a huge --epochs must not reserve its whole length up front.
            losses: Vec::with_capacity(config.epochs.min(1 << 16)),
            validation_losses: vec![],
            every,
            save,
            on_epoch,
        };
        if let Some(state) = &resume {
            ensure(
                state.epoch < config.epochs,
                "epochs",
                config.epochs,
                "must exceed the checkpoint's completed epochs",
            )?;
            ensure(
                state.classes == classes,
                "resume",
                "a checkpoint",
                "must be of a model with as many classes as the labels hold",
            )?;
            ensure(
                state.weight.len() == features,
                "resume",
                "a checkpoint",
                "must have the model's number of features",
            )?;
            // A checkpoint is a file a person can edit: its numbers must hang together.
            let finite = state.weight.iter().chain([&state.bias]).all(|v| v.is_finite())
                && state.optimizer.moments.iter().all(|(m, v)| m.iter().chain(v).all(|x| x.is_finite()));
            ensure(finite, "resume", "a checkpoint", "must hold finite weights and moments")?;
            let counted = state.losses.len() == state.epoch
                && (state.validation_losses.is_empty() || state.validation_losses.len() == state.epoch)
                && state.losses.iter().chain(&state.validation_losses).all(|l| l.is_finite());
            ensure(counted, "resume", "a checkpoint", "must hold one finite loss per completed epoch")?;
            (progress.losses, progress.validation_losses) = (state.losses.clone(), state.validation_losses.clone());
            progress.first = state.epoch + 1;
        }
        Ok((progress, resume))
    }

    /// After an epoch's steps: stops on a non-finite loss, records the losses (the validation
    /// loss from `validation`), saves a checkpoint when one is due (weights, bias and optimizer
    /// state from `state`), and reports the epoch, stopping with [`Error::Interrupted`] when the
    /// callback breaks.
    pub(crate) fn end_epoch(
        &mut self,
        epoch: usize,
        loss: f64,
        validation: impl FnOnce() -> Result<Option<f64>>,
        state: impl FnOnce() -> Result<(Vec<f32>, f32, OptimizerState)>,
    ) -> Result<()> {
        if !loss.is_finite() {
            return Err(Error::Diverged { epoch, value: loss });
        }
        let validation_loss = validation()?;
        self.losses.push(loss);
        self.validation_losses.extend(validation_loss);
        if let (Some(every), Some(save)) = (self.every, self.save.as_mut()) {
            if epoch.is_multiple_of(every) && epoch < self.epochs {
                let (weight, bias, optimizer) = state()?;
                save(&Snapshot {
                    epoch,
                    classes: self.classes,
                    weight,
                    bias,
                    optimizer,
                    losses: &self.losses,
                    validation_losses: &self.validation_losses,
                })?;
            }
        }
        if (self.on_epoch)(&Epoch { epoch, loss, validation_loss }).is_break() {
            return Err(Error::Interrupted { step: "epoch", at: epoch });
        }
        Ok(())
    }

    /// The training and validation losses of every epoch.
    pub(crate) fn finish(self) -> (Vec<f64>, Vec<f64>) {
        (self.losses, self.validation_losses)
    }
}

/// Refuses a resumed state whose optimizer step count is not `steps_per_epoch` steps for each of
/// its completed epochs (an edited count would change Adam's bias correction silently).
pub(crate) fn check_steps(state: &TrainState, steps_per_epoch: u64) -> Result<()> {
    let expected = u64::try_from(state.epoch).ok().and_then(|e| e.checked_mul(steps_per_epoch));
    ensure(
        expected == Some(state.optimizer.step),
        "resume",
        "a checkpoint",
        "must hold the optimizer's step count for its completed epochs",
    )
}

/// What training produced.
#[derive(Clone, Debug)]
pub struct Training {
    /// Each epoch's training objective (as [`Epoch::loss`]), a resumed run's earlier epochs included.
    pub losses: Vec<f64>,
    /// Empty without a validation set.
    pub validation_losses: Vec<f64>,
    /// The parameters after the last epoch.
    pub model: FittedLogisticRegression,
}
