//! The tutorial's training loop: forward, mean BCE + penalty, zero_grad, backward, step.

use tch::{Reduction, Tensor};

use crate::error::{ensure, Result};
use crate::model::{FittedLogisticRegression, LogisticRegression};
use crate::optim::{validate_lr, Optimizer, OptimizerKind};
use crate::penalty::Penalty;

/// How to train. Defaults are the tutorial's Example 1.
///
/// | field       | default         | range  |
/// |-------------|-----------------|--------|
/// | `lr`        | 0.01            | > 0    |
/// | `epochs`    | 100             | ≥ 1    |
/// | `penalty`   | L2, λ = 0.1     | λ ≥ 0  |
/// | `optimizer` | SGD             |        |
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub lr: f64,
    pub epochs: usize,
    pub penalty: Penalty,
    pub optimizer: OptimizerKind,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { lr: 0.01, epochs: 100, penalty: Penalty::L2 { lambda: 0.1 }, optimizer: OptimizerKind::Sgd }
    }
}

impl TrainConfig {
    /// Checks every setting before any tensor work.
    pub fn validate(&self) -> Result<()> {
        validate_lr(self.lr)?;
        ensure(self.epochs >= 1, "epochs", self.epochs, "must be at least 1")?;
        self.penalty.validate()
    }
}

/// What training produced: the loss of every epoch (before that epoch's step, as the tutorial
/// prints it) and the final model.
#[derive(Clone, Debug)]
pub struct Training {
    pub losses: Vec<f64>,
    pub model: FittedLogisticRegression,
}

/// The objective the tutorial minimises: mean `BCELoss(model(X), y)` plus the penalty over all
/// parameters.
pub fn objective(model: &LogisticRegression, x: &Tensor, y: &Tensor, penalty: &Penalty) -> Result<Tensor> {
    let outputs = model.forward(x)?;
    let loss = outputs.f_binary_cross_entropy(y, None::<Tensor>, Reduction::Mean)?;
    penalty.add_to(loss, &model.parameters())
}

/// Trains `model` on `x` (`[n, d]`) and `y` (`[n, 1]`, 0/1), both on the model's device, calling
/// `on_epoch(epoch, loss)` after each epoch (epochs count from 1).
pub fn train(
    mut model: LogisticRegression,
    x: &Tensor,
    y: &Tensor,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<Training> {
    config.validate()?;
    let mut optimizer = Optimizer::new(config.optimizer, config.lr, &model.parameters())?;
    let mut losses = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let loss = objective(&model, x, y, &config.penalty)?;
        for p in model.parameters_mut() {
            p.zero_grad();
        }
        loss.f_backward()?;
        optimizer.step(&mut model.parameters_mut())?;
        let value = loss.f_double_value(&[])?;
        losses.push(value);
        on_epoch(epoch, value);
    }
    Ok(Training { losses, model: model.fitted()? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tutorial_sample;
    use crate::seed::with_seed;
    use tch::Device;

    fn sample_and_model(seed: u64, n: i64, d: i64) -> (Tensor, Tensor, LogisticRegression) {
        with_seed(seed, || {
            let (x, y) = tutorial_sample(n, d).unwrap();
            (x, y, LogisticRegression::torch_init(d, Device::Cpu).unwrap())
        })
    }

    fn run(config: &TrainConfig) -> Training {
        let (x, y, model) = sample_and_model(7, 200, 5);
        train(model, &x, &y, config, |_, _| {}).unwrap()
    }

    #[test]
    fn full_batch_sgd_decreases_the_objective_every_epoch() {
        let t = run(&TrainConfig { lr: 0.1, epochs: 50, ..Default::default() });
        assert_eq!(t.losses.len(), 50);
        assert!(t.losses.windows(2).all(|w| w[1] < w[0]), "{:?}", t.losses);
    }

    #[test]
    fn epochs_are_reported_in_order_with_their_loss() {
        let mut seen = vec![];
        let (x, y, model) = sample_and_model(1, 20, 3);
        let config = TrainConfig { epochs: 4, ..Default::default() };
        let t = train(model, &x, &y, &config, |e, l| seen.push((e, l))).unwrap();
        assert_eq!(seen, t.losses.iter().enumerate().map(|(i, &l)| (i + 1, l)).collect::<Vec<_>>());
    }

    #[test]
    fn zero_epochs_is_rejected() {
        let e = TrainConfig { epochs: 0, ..Default::default() }.validate().unwrap_err();
        assert_eq!(e.to_string(), "invalid epochs: 0 (must be at least 1)");
    }
}
