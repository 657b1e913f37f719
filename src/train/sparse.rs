//! Fitting sparse data (a CSR matrix, from libsvm, `.npz` or `.lrcsr`): with the exact solvers
//! (`tron` and `newton-cd` work on X as it is; `newton` and `fista` on X made dense), or by SGD
//! and Adam with the fused engine on CSR rows, in memory or streamed from a `.lrcsr` file. A
//! validation split draws as the dense path's does; standardization is refused by the caller
//! (centring would make X dense).

use std::ops::ControlFlow;

use tch::{Device, Kind, Tensor};

use crate::data::csr_stream::CsrStream;
use crate::data::dataset::Dataset;
use crate::data::libsvm::SparseData;
use crate::data::npy::feature_names;
use crate::data::sparse::CsrMatrix;
use crate::error::{Error, Result};
use crate::model::file::{SavedModel, TrainingInfo};
use crate::model::linear::{FittedLogisticRegression, LogisticRegression};
use crate::model::metrics::{report, Report};
use crate::seed::with_seed;
use crate::solvers::auto::{choose, has_l1, AutoChoice};
use crate::solvers::{solve_sparse, Observer, Problem, Solution, SolverKind};
use crate::train::fit::{describe, effective, strengths, two_classes, Fit, FitConfig};
use crate::train::fused::Batches;
use crate::train::sparse_rows::{probabilities, SparseRows};
use crate::train::{Checkpoints, Epoch, Training};

/// A sparse fit: the model as its file records it, the solver's outcome, the training metrics
/// and, when `auto` chose the solver, its choice.
pub struct SparseFit {
    /// The model (features named `x0 …`).
    pub saved: SavedModel,
    /// The solver's run.
    pub solution: Solution,
    /// Metrics on the training rows.
    pub report: Report,
    /// Metrics on the validation rows, with a validation split.
    pub validation: Option<Report>,
    /// Rows trained on (all of them less the validation part).
    pub rows: usize,
    /// `auto`'s choice and reason, when the solver was not named.
    pub auto: Option<AutoChoice>,
}

/// Fits `data` with `config`'s penalty and solver (`None`: `auto` picks one); `config.solver`'s
/// stopping rule applies.
pub fn fit_sparse(
    data: &mut SparseData,
    config: &FitConfig,
    kind: Option<SolverKind>,
    observer: Observer,
) -> Result<SparseFit> {
    config.validate()?;
    two_classes(&data.labels, &data.source, "the labels hold")?;
    let held = match config.validation_split {
        Some(f) => {
            let (train, valid) = with_seed(config.seed, || split(&data.labels, f))?;
            let held = select(data, &valid)?;
            let kept = select(data, &train)?;
            *data = kept;
            Some(held)
        }
        None => None,
    };
    let (rows, cols) = (data.x.rows(), data.x.cols());
    let train = effective(config, rows as f64)?;
    let (l1, l2) = strengths(train.penalty);
    let problem = Problem { l1, l2, penalize_bias: train.penalize_bias };
    let auto = kind.is_none().then(|| choose(rows, cols, data.x.nnz(), has_l1(train.penalty, None)));
    let kind = kind.or(auto.as_ref().map(|a| a.kind)).unwrap_or(SolverKind::NewtonCd);
    let solver = config.solver.map(|(_, c)| c).unwrap_or_default();
    if matches!(kind, SolverKind::Tron | SolverKind::NewtonCd) {
        data.x.ensure_columns();
    }
    let solution = solve_sparse(&data.x, &data.labels, problem, kind, solver, observer)?;
    let w: Vec<f64> = solution.coef.clone();
    let mut z = vec![0.0; rows];
    data.x.mv(&w, &mut z);
    let probs: Vec<f32> = z.iter().map(|&z| crate::solvers::sigmoid(z + solution.intercept) as f32).collect();
    let name = serde_json::json!(kind).as_str().unwrap_or_default().to_string();
    let training = TrainingInfo::new(train.penalty, train.penalize_bias, &name, config.seed, false).solved(
        solution.iterations,
        solver.tol,
        solution.optimality,
        solution.converged,
    );
    let model =
        FittedLogisticRegression::new(solution.coef.iter().map(|&w| w as f32).collect(), solution.intercept as f32);
    let saved = SavedModel {
        model,
        feature_names: feature_names(cols),
        label_name: "y".into(),
        standardizer: None,
        training,
        recipe: None,
    };
    let validation = held.map(|v| {
        let probs = probabilities(&v.x, saved.model.coef(), saved.model.intercept());
        report(&probs, &v.labels, 0.5)
    });
    Ok(SparseFit { saved, report: report(&probs, &data.labels, 0.5), validation, rows, solution, auto })
}

/// The rows kept for training and those held out for validation: `fraction` of each class, drawn
/// as [`Dataset`]'s stratified split draws (one `randperm` per class, from libtorch's generator:
/// call inside [`with_seed`]), each part in row order.
fn split(labels: &[f32], fraction: f64) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = labels.len() as i64;
    let index = Dataset {
        x: Tensor::f_arange(n, (Kind::Int64, Device::Cpu))?.f_view([-1, 1])?,
        y: Tensor::f_from_slice(labels)?.f_view([-1, 1])?,
    };
    let (train, valid) = index.stratified_split(fraction)?;
    let rows = |d: Dataset| -> Result<Vec<usize>> {
        Ok(Vec::<i64>::try_from(d.x.f_view([-1])?)?.into_iter().map(|i| i as usize).collect())
    };
    Ok((rows(train)?, rows(valid)?))
}

/// The rows `keep` of `data`.
fn select(data: &SparseData, keep: &[usize]) -> Result<SparseData> {
    Ok(SparseData {
        source: data.source.clone(),
        x: data.x.select_rows(keep)?,
        labels: keep.iter().map(|&i| data.labels[i]).collect(),
    })
}

/// The model file and report of an SGD or Adam run on `d` features.
fn epochs_fit(
    config: &FitConfig,
    effective: &crate::train::TrainConfig,
    training: Training,
    train: (&CsrMatrix, &[f32]),
    validation: Option<(&CsrMatrix, &[f32])>,
) -> Fit {
    let scored = |(x, y): (&CsrMatrix, &[f32])| {
        report(&probabilities(x, training.model.coef(), training.model.intercept()), y, 0.5)
    };
    let (train_report, validation_report) = (scored(train), validation.map(scored));
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: feature_names(train.0.cols()),
        label_name: "y".into(),
        standardizer: None,
        training: describe(config, effective, &training, None),
        recipe: None,
    };
    Fit { saved, training, train_report, validation_report, solution: None }
}

/// Fits `data` by `config`'s SGD or Adam with the fused engine on its CSR rows (the same draws
/// as the dense path: the validation split, PyTorch's initial weights, then each epoch's batch
/// order), calling `on_epoch` after every epoch; `checkpoints` resumes and saves as on dense rows
/// (fingerprinted by [`crate::train::checkpoint::sparse_fingerprint`]).
pub fn fit_sparse_epochs(
    data: &SparseData,
    config: &FitConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    refuse_solver(config)?;
    two_classes(&data.labels, &data.source, "the labels hold")?;
    // Without a split the rows train as they are: no copy of the matrix.
    let (parts, effective, training) = with_seed(config.seed, || -> Result<_> {
        let parts = match config.validation_split {
            Some(f) => {
                let (t, v) = split(&data.labels, f)?;
                Some((select(data, &t)?, select(data, &v)?))
            }
            None => None,
        };
        let train = parts.as_ref().map_or(data, |(t, _)| t);
        let effective = effective(config, train.x.rows() as f64)?;
        let initial = LogisticRegression::torch_init(train.x.cols() as i64, Device::Cpu)?.fitted()?;
        let source = SparseRows::new(&train.x, &train.labels);
        let held = parts.as_ref().map(|(_, v)| SparseRows::new(&v.x, &v.labels));
        let held = held.as_ref().map(|v| v as &dyn Batches);
        let training = crate::train::fused::train(&initial, &source, held, &effective, checkpoints, on_epoch)?;
        Ok((parts, effective, training))
    })?;
    let train = parts.as_ref().map_or(data, |(t, _)| t);
    let valid = parts.as_ref().map(|(_, v)| (&v.x, &v.labels[..]));
    Ok(epochs_fit(config, &effective, training, (&train.x, &train.labels), valid))
}

/// SGD and Adam only: the exact solvers need the rows in memory.
fn refuse_solver(config: &FitConfig) -> Result<()> {
    match config.solver {
        Some(_) => Err(Error::InvalidSetting {
            name: "solver",
            value: "an exact solver".into(),
            expected: "sgd or adam for fused training on sparse rows",
        }),
        None => Ok(()),
    }
}

/// Fits the rows of a `.lrcsr` file read chunk by chunk each epoch (only one chunk held at a
/// time), by `config`'s SGD or Adam; no validation split (hold out a file instead). `checkpoints`
/// as in [`fit_sparse_epochs`] ([`crate::train::checkpoint::sparse_stream_fingerprint`]).
pub fn fit_sparse_stream(
    stream: &CsrStream,
    config: &FitConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    refuse_solver(config)?;
    if config.validation_split.is_some() {
        return Err(Error::InvalidSetting {
            name: "validation_split",
            value: "when streaming".into(),
            expected: "none: hold out a file and score it separately",
        });
    }
    two_classes(stream.labels(), stream.name(), "the labels hold")?;
    let effective = effective(config, stream.rows() as f64)?;
    let training = with_seed(config.seed, || -> Result<_> {
        let initial = LogisticRegression::torch_init(stream.cols() as i64, Device::Cpu)?.fitted()?;
        crate::train::fused::train(&initial, stream, None, &effective, checkpoints, on_epoch)
    })?;
    // Scored chunk by chunk too.
    let mut probs = Vec::with_capacity(stream.rows());
    for i in 0..stream.chunks() {
        probs.extend(probabilities(&stream.chunk(i)?, training.model.coef(), training.model.intercept()));
    }
    let train_report = report(&probs, stream.labels(), 0.5);
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: feature_names(stream.cols()),
        label_name: "y".into(),
        standardizer: None,
        training: describe(config, &effective, &training, None),
        recipe: None,
    };
    Ok(Fit { saved, training, train_report, validation_report: None, solution: None })
}
