//! What training is told: the loss form, the engine, and the settings of SGD/Adam training.

use crate::error::{ensure, Result};
use crate::model::penalty::Penalty;
use crate::train::optim::{validate_lr, OptimizerKind};

/// How the data term of the loss is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// The tutorial's `Sigmoid` + `BCELoss` (probabilities clamped in log, as PyTorch does).
    #[default]
    Bce,
    /// `binary_cross_entropy_with_logits`: the same loss, numerically stable for large scores.
    Logits,
}

/// How gradients are computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// libtorch's autograd, operation for operation as PyTorch (bit-identical on the CPU).
    #[default]
    Autograd,
    /// one pass over X per epoch, on CPU threads or in a CUDA kernel; equal to rounding, faster.
    Fused,
}

/// How to train. Defaults are the tutorial's Example 1.
///
/// | field           | default       | range / meaning |
/// |-----------------|---------------|-----------------|
/// | `lr`            | 0.01          | > 0 |
/// | `epochs`        | 100           | ≥ 1 |
/// | `penalty`       | L2, λ = 0.1   | λ ≥ 0 |
/// | `optimizer`     | SGD           | SGD, Adam |
/// | `loss`          | BCE           | BCE (tutorial), logits |
/// | `penalize_bias` | true          | the tutorial penalizes every parameter; scikit-learn and glmnet do not penalize the bias |
/// | `batch_size`    | None (full)   | ≥ 1; mini-batches reshuffled every epoch |
/// | `engine`        | autograd      | autograd (any device), fused (CPU) |
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The learning rate, > 0.
    pub lr: f64,
    /// Passes over the data, ≥ 1.
    pub epochs: usize,
    /// The penalty and its strength.
    pub penalty: Penalty,
    /// SGD or Adam.
    pub optimizer: OptimizerKind,
    /// How the data term is computed.
    pub loss: LossKind,
    /// Whether the penalty covers the bias as well as the weights.
    pub penalize_bias: bool,
    /// Rows per mini-batch, ≥ 1; `None`: the full batch.
    pub batch_size: Option<usize>,
    /// How gradients are computed.
    pub engine: Engine,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            epochs: 100,
            penalty: Penalty::L2 { lambda: 0.1 },
            optimizer: OptimizerKind::Sgd,
            loss: LossKind::Bce,
            penalize_bias: true,
            batch_size: None,
            engine: Engine::Autograd,
        }
    }
}

impl TrainConfig {
    /// Checks every setting before any tensor work.
    pub(crate) fn validate(&self) -> Result<()> {
        validate_lr(self.lr, self.optimizer)?;
        ensure(self.epochs >= 1, "epochs", self.epochs, "must be at least 1")?;
        if let Some(b) = self.batch_size {
            ensure(b >= 1, "batch_size", b, "must be at least 1")?;
        }
        self.penalty.validate()
    }
}
