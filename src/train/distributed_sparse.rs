//! Fitting sparse shards across processes (`dist`): each rank holds its own CSR rows (a libsvm,
//! `.npz` or `.lrcsr` file), the ranks agree on the width, then fit together: tron and newton-cd
//! on X as it is with every sum over rows reduced over the ranks
//! ([`crate::solvers::distributed::columns_distributed`]), newton and fista on the rows made dense
//! ([`solve_distributed`]), or SGD/Adam by the fused engine on every rank's rows at once
//! ([`crate::train::distributed_rows`]). The training metrics are summed over the ranks.

use std::ops::ControlFlow;

use tch::Tensor;

use crate::data::libsvm::SparseData;
use crate::data::npy::feature_names;
use crate::dist::World;
use crate::error::{Error, Result};
use crate::model::file::SavedModel;
use crate::model::linear::FittedLogisticRegression;
use crate::solvers::auto::has_l1;
use crate::solvers::columns::Columns;
use crate::solvers::distributed::{columns_distributed, solve_distributed};
use crate::solvers::{Problem, SolverKind};
use crate::train::distributed_rows::{check_shards, descend_summed, summed_report};
use crate::train::fit::{describe, effective, strengths, Fit, FitConfig};
use crate::train::sparse_rows::{probabilities, SparseRows};
use crate::train::{Epoch, Training};

/// The width every shard takes: the largest of the ranks' widths (a libsvm file's largest index,
/// a `.npz`'s or `.lrcsr`'s declared columns; with `--n-features` every reader already took that
/// width, refusing an index beyond it), this rank's matrix widened to it with empty columns.
/// Every rank must call it.
pub fn agree_width(world: &mut World, data: SparseData) -> Result<SparseData> {
    let widths = world.gather(&[data.x.cols() as f64])?;
    let width = widths.iter().map(|w| w[0] as usize).max().unwrap_or(0);
    let SparseData { source, x, labels } = data;
    Ok(SparseData { x: x.with_cols(width)?, source, labels })
}

/// `auto`'s choice for sparse shards: newton-cd with an L1 part, else tron (both work on X's
/// columns and scale with the non-zeros).
pub fn auto_kind(config: &FitConfig) -> SolverKind {
    match has_l1(config.train.penalty, config.sklearn) {
        true => SolverKind::NewtonCd,
        false => SolverKind::Tron,
    }
}

/// Fits every rank's sparse `data` (of the agreed width: [`agree_width`]) together; every rank
/// must call it with the same `config` (compare settings hashes first) and returns the same model.
/// `on_iteration` sees each iteration's objective (exact solvers) or epoch's loss (SGD/Adam). A
/// stop asked on any rank is voted on inside the sums, so every rank stops at the same step.
pub fn fit_sparse_distributed(
    world: &mut World,
    data: &mut SparseData,
    config: &FitConfig,
    mut on_iteration: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    if let Some(f) = config.validation_split {
        let expected = "none when distributed: score a held-out file instead";
        return Err(Error::InvalidSetting { name: "validation_split", value: f.to_string(), expected });
    }
    let n = data.x.rows();
    let steps = match (config.solver, config.train.batch_size) {
        (None, Some(b)) => n.div_ceil(b.max(1)),
        _ => 1,
    };
    let positives = data.labels.iter().filter(|&&v| v == 1.0).count();
    let (first_row, rows) = check_shards(world, data.x.cols(), n, positives, steps)?;
    let effective = effective(config, rows as f64)?;
    let (l1, l2) = strengths(effective.penalty);
    let problem = Problem { l1, l2, penalize_bias: effective.penalize_bias };
    let (training, solution) = match config.solver {
        Some((kind, solver)) => {
            let mut observer = |iteration, objective| {
                on_iteration(&Epoch { epoch: iteration, loss: objective, validation_loss: None })
            };
            let s = match kind {
                SolverKind::Tron | SolverKind::NewtonCd => {
                    data.x.ensure_columns();
                    let labels: Vec<f64> = data.labels.iter().map(|&v| f64::from(v)).collect();
                    let columns = Columns::sparse(&data.x);
                    let started = std::time::Instant::now();
                    let mut s = columns_distributed(
                        world,
                        &columns,
                        &labels,
                        rows,
                        problem,
                        kind,
                        solver,
                        None,
                        &mut observer,
                    )?;
                    s.seconds = started.elapsed().as_secs_f64();
                    s
                }
                SolverKind::Newton | SolverKind::Fista => {
                    let (x, y) = (data.x.to_dense()?, Tensor::f_from_slice(&data.labels)?);
                    solve_distributed(world, kind, &x, &y, first_row, rows, problem, solver, None, &mut observer)?
                }
            };
            let model = FittedLogisticRegression::new(s.coef.iter().map(|&w| w as f32).collect(), s.intercept as f32);
            (Training { losses: s.objectives.clone(), validation_losses: vec![], model }, Some(s))
        }
        None => {
            let source = SparseRows::new(&data.x, &data.labels);
            (descend_summed(world, &source, config, &effective, on_iteration)?, None)
        }
    };
    let probs = probabilities(&data.x, training.model.coef(), training.model.intercept());
    let train_report = summed_report(world, &probs, &data.labels)?;
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: feature_names(data.x.cols()),
        label_name: "y".into(),
        standardizer: None,
        training: describe(config, &effective, &training, solution.as_ref()),
        recipe: None,
    };
    Ok(Fit { saved, training, train_report, validation_report: None, solution })
}
