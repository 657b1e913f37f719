//! Fitting across processes (`dist`): each rank's shard checked against the others', the class
//! set, row count and standardization statistics reduced exactly over the ranks, proximal Newton
//! or FISTA on all rows ([`crate::solvers::distributed`]) or full-batch SGD/Adam with the gradient
//! averaged as DistributedDataParallel does, and the training metrics summed over the ranks.

use std::ops::ControlFlow;

use tch::{Device, Kind, Tensor};

use crate::data::dataset::{Dataset, Standardizer};
use crate::data::shard::Shard;
use crate::dist::World;
use crate::error::{Error, Result};
use crate::model::file::SavedModel;
use crate::model::linear::{FittedLogisticRegression, LogisticRegression};
use crate::model::metrics::{self, Confusion};
use crate::seed::with_seed;
use crate::solvers::distributed::solve_distributed;
use crate::solvers::{Problem, SolverKind};
use crate::train::fit::{describe, effective, strengths, Fit, FitConfig};
use crate::train::optim::Optimizer;
use crate::train::{objective_and_grads, Engine, Epoch, TrainConfig, Training};

/// What a distributed run refuses (an error naming the setting) before any collective.
pub fn check_config(config: &FitConfig) -> Result<()> {
    config.validate()?;
    let refuse = |name: &'static str, value: String, expected: &'static str| {
        Err(Error::InvalidSetting { name, value, expected })
    };
    match config.solver {
        Some((SolverKind::Newton | SolverKind::Fista, _)) => {}
        Some((kind, _)) => {
            let name = serde_json::json!(kind).as_str().unwrap_or_default().to_string();
            return refuse("solver", name, "newton, fista, or full-batch sgd/adam: the solvers distributed so far");
        }
        None => {
            if let Some(b) = config.train.batch_size {
                return refuse("batch_size", b.to_string(), "none when distributed: sgd and adam run full batch");
            }
            if config.train.engine != Engine::Autograd {
                return refuse("engine", "fused".into(), "autograd when distributed");
            }
        }
    }
    if let Some(f) = config.validation_split {
        return refuse("validation_split", f.to_string(), "none when distributed: score a held-out file instead");
    }
    Ok(())
}

/// A failure every rank sees alike (it was computed from gathered values): named by this rank.
fn everyone(world: &World, step: &'static str, message: String) -> Error {
    Error::Distributed { step, rank: world.rank(), message }
}

/// Fits every rank's `shard` together; every rank must call it with the same `config` (compare
/// [`settings_hash`]es first). Every rank returns the same model; `on_iteration` sees each
/// iteration's objective over all rows.
pub fn fit_distributed(
    world: &mut World,
    shard: &Shard,
    config: &FitConfig,
    mut on_iteration: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    check_config(config)?;
    let table = &shard.table;
    let d = table.feature_names.len();
    let n = table.rows();
    let positives = table.labels.iter().filter(|&&v| v == 1.0).count();
    // Every rank's width, rows and positives.
    let all = world.gather(&[d as f64, n as f64, positives as f64])?;
    if let Some(r) = all.iter().position(|v| v[0] != all[0][0]) {
        let message = format!("rank {r}'s shard has {} columns, rank 0's has {}", all[r][0], all[0][0]);
        return Err(everyone(world, "checking the shards", message));
    }
    let first_row: usize = all[..world.rank()].iter().map(|v| v[1] as usize).sum();
    let rows: usize = all.iter().map(|v| v[1] as usize).sum();
    let total_positives: usize = all.iter().map(|v| v[2] as usize).sum();
    // A shard of one class is fine: the union must hold both.
    if total_positives == 0 || total_positives == rows {
        let class = if total_positives == 0 { 0 } else { 1 };
        let message = format!("every rank's labels are {class}: training needs both 0 and 1 among all rows");
        return Err(everyone(world, "checking the shards", message));
    }
    let data = Dataset::from_table(table)?;
    let standardizer = match config.standardize {
        true => Some(standardizer(world, &data.x, rows)?),
        false => None,
    };
    let x = match &standardizer {
        Some(s) => s.apply(&data.x)?,
        None => data.x.shallow_clone(),
    };
    let effective = effective(config, rows as f64)?;
    let (l1, l2) = strengths(effective.penalty);
    let problem = Problem { l1, l2, penalize_bias: effective.penalize_bias };
    let (training, solution) = match config.solver {
        Some((kind, solver_config)) => {
            let mut observer = |iteration, objective| {
                on_iteration(&Epoch { epoch: iteration, loss: objective, validation_loss: None })
            };
            let s =
                solve_distributed(world, kind, &x, &data.y, first_row, rows, problem, solver_config, &mut observer)?;
            let model = FittedLogisticRegression::new(s.coef.iter().map(|&w| w as f32).collect(), s.intercept as f32);
            (Training { losses: s.objectives.clone(), validation_losses: vec![], model }, Some(s))
        }
        None => (full_batch(world, &x, &data.y, config, &effective, on_iteration)?, None),
    };
    // The training metrics: confusion counts and summed log-loss over all ranks (no ROC AUC: it
    // needs every row's rank among all rows).
    let probs = Vec::<f32>::try_from(training.model.predict_proba(&x)?.f_to_device(Device::Cpu)?)?;
    let local = metrics::report(&probs, &table.labels, 0.5);
    let c = local.confusion;
    let mut sums = [
        c.true_positives as f64,
        c.false_positives as f64,
        c.true_negatives as f64,
        c.false_negatives as f64,
        local.log_loss * n as f64,
    ];
    world.sum(&mut sums)?;
    let confusion = Confusion {
        true_positives: sums[0] as usize,
        false_positives: sums[1] as usize,
        true_negatives: sums[2] as usize,
        false_negatives: sums[3] as usize,
    };
    let train_report = metrics::from_counts(confusion, sums[4], 0.5, None);
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: table.feature_names.clone(),
        label_name: table.label_name.clone().unwrap_or_else(|| "y".into()),
        standardizer,
        training: describe(config, &effective, &training, solution.as_ref()),
        recipe: None,
    };
    Ok(Fit { saved, training, train_report, validation_report: None, solution })
}

/// Full-batch SGD or Adam as PyTorch's DistributedDataParallel runs it: every rank starts from
/// the same seeded `nn.Linear` draw, computes its shard's objective (mean loss plus penalty) and
/// gradient, and steps with the gradient averaged over the ranks; the loss reported is the
/// ranks' average. With shards of equal size that average is the whole's mean, so the losses are
/// one process's (to float rounding); with unequal shards each rank's mean weighs alike, as DDP's.
fn full_batch(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    config: &FitConfig,
    effective: &TrainConfig,
    mut on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    let d = x.size()[1];
    let mut model = with_seed(config.seed, || LogisticRegression::torch_init(d, Device::Cpu))?;
    let mut optimizer = Optimizer::new(effective.optimizer, effective.lr, &model.parameters())?;
    let y = y.f_view([-1, 1])?;
    let ranks = world.size() as f64;
    let mut losses = Vec::with_capacity(effective.epochs);
    for epoch in 1..=effective.epochs {
        crate::interrupt::check(epoch)?;
        let (loss, grads) = objective_and_grads(&model, x, &y, effective)?;
        // [∇w; ∇b; loss] summed in one allreduce, then averaged.
        let mut flat = Vec::<f64>::try_from(grads[0].f_reshape([-1])?.f_to_kind(Kind::Double)?)?;
        flat.push(grads[1].f_double_value(&[0])?);
        flat.push(loss.f_double_value(&[])?);
        world.sum(&mut flat)?;
        let mean: Vec<f32> = flat.iter().map(|v| (v / ranks) as f32).collect();
        let g_w = Tensor::f_from_slice(&mean[..d as usize])?.f_view([1, d])?;
        let g_b = Tensor::f_from_slice(&mean[d as usize..=d as usize])?;
        optimizer.step(&mut model.parameters_mut(), &[g_w, g_b])?;
        let loss = flat[d as usize + 1] / ranks;
        losses.push(loss);
        if on_epoch(&Epoch { epoch, loss, validation_loss: None }).is_break() {
            return Err(Error::Interrupted { step: "epoch", at: epoch });
        }
    }
    Ok(Training { losses, validation_losses: vec![], model: model.fitted()? })
}

/// Each column's mean and population standard deviation over every rank's rows (1 for a
/// constant column), in f64: the sums, then the squared deviations from the mean, each reduced.
fn standardizer(world: &mut World, x: &Tensor, rows: usize) -> Result<Standardizer> {
    let x64 = x.f_to_kind(Kind::Double)?;
    let mut sums = Vec::<f64>::try_from(x64.f_sum_dim_intlist(&[0i64][..], false, Kind::Double)?)?;
    world.sum(&mut sums)?;
    let mean: Vec<f64> = sums.iter().map(|s| s / rows as f64).collect();
    let centred = x64.f_sub(&Tensor::f_from_slice(&mean)?)?;
    let mut squares =
        Vec::<f64>::try_from(centred.f_mul(&centred)?.f_sum_dim_intlist(&[0i64][..], false, Kind::Double)?)?;
    world.sum(&mut squares)?;
    let std = squares.iter().map(|s| (s / rows as f64).sqrt()).map(|s| if s > 0.0 { s as f32 } else { 1.0 });
    Ok(Standardizer { mean: mean.iter().map(|&m| m as f32).collect(), std: std.collect() })
}

/// A hash of the settings (FNV-1a over their debug form): ranks compare it before working, so
/// that ranks launched with different flags stop instead of solving different problems.
pub fn settings_hash(settings: &str) -> u64 {
    crate::hash::fnv1a(crate::hash::FNV_START, settings.bytes())
}

/// Checks that every rank's `hash` is rank 0's, naming the first rank whose differs.
pub fn same_settings(world: &mut World, hash: u64) -> Result<()> {
    // Two 32-bit halves: f64 holds each exactly.
    let all = world.gather(&[(hash >> 32) as f64, (hash & 0xffff_ffff) as f64])?;
    match all.iter().position(|h| *h != all[0]) {
        None => Ok(()),
        Some(r) => Err(everyone(world, "comparing settings", format!("rank {r}'s flags differ from rank 0's"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_hash_is_fnv1a() {
        // FNV-1a's published test vectors.
        assert_eq!(settings_hash(""), 0xcbf29ce484222325);
        assert_eq!(settings_hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(settings_hash("foobar"), 0x85944171f73967e8);
    }
}
