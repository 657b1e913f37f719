//! The tutorial end to end: seeded data, PyTorch's initialisation, training. `logreg tutorial` runs it.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::data::dataset::Dataset;
use crate::device::device_name;
use crate::error::{ensure, Result};
use crate::model::linear::LogisticRegression;
use crate::model::penalty::Penalty;
use crate::reference::sample::tutorial_sample;
use crate::seed::with_seed;
use crate::train::optim::OptimizerKind;
use crate::train::{train, TrainConfig};

/// The tutorial's three examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Example {
    /// Example 1: L2, λ·Σ‖p‖².
    L2,
    /// Example 2: L1, λ·Σ‖p‖₁.
    L1,
    /// Example 3: Elastic Net, λ₁·Σ‖p‖₁ + λ₂·Σ‖p‖².
    ElasticNet,
}

/// One run of the tutorial script. `seed` means what `torch.manual_seed(seed)` as the script's
/// first line means. Defaults are the tutorial's; the tutorial leaves Elastic Net's λ₁ and λ₂
/// unset, and we use 0.05 each.
///
/// | field        | default | range |
/// |--------------|---------|-------|
/// | `seed`       | 0       | any   |
/// | `samples`    | 100     | ≥ 1   |
/// | `input_dim`  | 10      | ≥ 1   |
/// | `lr`         | 0.01    | > 0   |
/// | `epochs`     | 100     | ≥ 1   |
/// | `lambda`     | 0.1     | ≥ 0 (L1, L2) |
/// | `lambda_l1`  | 0.05    | ≥ 0 (Elastic Net) |
/// | `lambda_l2`  | 0.05    | ≥ 0 (Elastic Net) |
/// | `optimizer`  | SGD     | SGD, Adam |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TutorialConfig {
    /// Which example, hence which penalty.
    pub example: Example,
    /// SGD (the tutorial's) or Adam.
    pub optimizer: OptimizerKind,
    /// `torch.manual_seed`'s argument, before the data and then the initial parameters are drawn.
    pub seed: u64,
    /// Rows of synthetic data, ≥ 1.
    pub samples: i64,
    /// Features per row, ≥ 1.
    pub input_dim: i64,
    /// The learning rate, > 0.
    pub lr: f64,
    /// Full-batch steps, ≥ 1.
    pub epochs: i64,
    /// λ of L1 and L2, ≥ 0.
    pub lambda: f64,
    /// Elastic Net's λ₁, ≥ 0.
    pub lambda_l1: f64,
    /// Elastic Net's λ₂, ≥ 0.
    pub lambda_l2: f64,
}

impl TutorialConfig {
    /// The tutorial's defaults for `example`.
    pub fn new(example: Example) -> Self {
        Self {
            example,
            optimizer: OptimizerKind::Sgd,
            seed: 0,
            samples: 100,
            input_dim: 10,
            lr: 0.01,
            epochs: 100,
            lambda: 0.1,
            lambda_l1: 0.05,
            lambda_l2: 0.05,
        }
    }

    /// The example's penalty with its strengths.
    pub(crate) fn penalty(&self) -> Penalty {
        match self.example {
            Example::L2 => Penalty::L2 { lambda: self.lambda },
            Example::L1 => Penalty::L1 { lambda: self.lambda },
            Example::ElasticNet => Penalty::ElasticNet { lambda_l1: self.lambda_l1, lambda_l2: self.lambda_l2 },
        }
    }

    fn train_config(&self) -> TrainConfig {
        TrainConfig {
            lr: self.lr,
            epochs: self.epochs.max(0) as usize,
            penalty: self.penalty(),
            optimizer: self.optimizer,
            ..TrainConfig::default()
        }
    }

    /// Checks every setting before any tensor work.
    pub fn validate(&self) -> Result<()> {
        ensure(self.samples >= 1, "samples", self.samples, "must be at least 1")?;
        ensure(self.input_dim >= 1, "input_dim", self.input_dim, "must be at least 1")?;
        // X is samples × input_dim f32 values: its byte count must be a number at all.
        let bytes = self.samples.checked_mul(self.input_dim).and_then(|v| v.checked_mul(4));
        ensure(
            bytes.is_some(),
            "samples",
            self.samples,
            "with the input dimension, more f32 values than any memory holds",
        )?;
        ensure(self.epochs >= 1, "epochs", self.epochs, "must be at least 1")?;
        self.train_config().validate()
    }
}

/// The result of a tutorial run, as `logreg tutorial --json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TutorialRun {
    /// Every epoch's loss (BCE + penalty, before that epoch's step).
    pub losses: Vec<f64>,
    /// The final weights, one per feature.
    pub weight: Vec<f64>,
    /// The final bias.
    pub bias: f64,
    /// `cpu` or `cuda:N`.
    pub device: String,
}

impl TutorialRun {
    /// A CPU run from training losses, then validation losses, and the final parameters.
    pub fn from_parts(losses: &[f64], validation_losses: &[f64], weight: &[f64], bias: f64) -> Self {
        Self { losses: [losses, validation_losses].concat(), weight: weight.to_vec(), bias, device: "cpu".into() }
    }
}

/// Runs the tutorial: seeds, draws data then parameters on the CPU exactly as PyTorch does, moves
/// them to `device`, and trains, calling `on_epoch(epoch, loss)` after each epoch.
pub fn run(config: &TutorialConfig, device: Device, on_epoch: impl FnMut(usize, f64)) -> Result<TutorialRun> {
    config.validate()?;
    let (x, y, model) = with_seed(config.seed, || -> Result<_> {
        let (x, y) = tutorial_sample(config.samples, config.input_dim)?;
        Ok((x, y, LogisticRegression::torch_init(config.input_dim, device)?))
    })?;
    let data = Dataset { x, y }.to_device(device)?;
    let mut on_epoch = on_epoch;
    let trained = train(model, &data, None, &config.train_config(), crate::train::Checkpoints::default(), |e| {
        on_epoch(e.epoch, e.loss);
        ControlFlow::Continue(())
    })?;
    Ok(TutorialRun {
        losses: trained.losses,
        weight: trained.model.coef().iter().map(|&w| f64::from(w)).collect(),
        bias: f64::from(trained.model.intercept()),
        device: device_name(device),
    })
}

/// The tutorial's progress line: `Epoch [10/100], Loss: 0.7012`.
pub fn epoch_line(epoch: usize, epochs: usize, loss: f64) -> String {
    format!("Epoch [{epoch}/{epochs}], Loss: {loss:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
        let config = TutorialConfig { epochs: 5, ..TutorialConfig::new(Example::L1) };
        let a = run(&config, Device::Cpu, |_, _| {}).unwrap();
        assert_eq!(a, run(&config, Device::Cpu, |_, _| {}).unwrap());
        let b = run(&TutorialConfig { seed: 1, ..config }, Device::Cpu, |_, _| {}).unwrap();
        assert_ne!(a.losses, b.losses);
    }

    #[test]
    fn every_bad_setting_is_named() {
        let base = TutorialConfig::new(Example::ElasticNet);
        let cases = [
            (TutorialConfig { samples: 0, ..base.clone() }, "invalid samples: 0"),
            (TutorialConfig { input_dim: -3, ..base.clone() }, "invalid input_dim: -3"),
            (TutorialConfig { epochs: 0, ..base.clone() }, "invalid epochs: 0"),
            (TutorialConfig { lr: -0.01, ..base.clone() }, "invalid lr: -0.01"),
            (TutorialConfig { lambda_l1: -1.0, ..base.clone() }, "invalid lambda_l1: -1"),
        ];
        for (config, expected) in cases {
            let e = config.validate().unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e} does not start with {expected}");
        }
    }

    #[test]
    fn epoch_lines_round_to_four_places_like_python() {
        assert_eq!(epoch_line(10, 100, 0.712349), "Epoch [10/100], Loss: 0.7123");
        assert_eq!(epoch_line(10, 100, 0.71236), "Epoch [10/100], Loss: 0.7124");
        assert_eq!(epoch_line(100, 100, 0.5), "Epoch [100/100], Loss: 0.5000");
    }
}
