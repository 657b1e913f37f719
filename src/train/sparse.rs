//! Fitting sparse data (a CSR matrix, from libsvm or `.npz`) with the exact solvers: `tron` and
//! `newton-cd` work on X as it is; `newton` and `fista` on X made dense. No validation split or
//! standardization (centring would make X dense; they are refused by the caller).

use crate::data::libsvm::SparseData;
use crate::data::npy::feature_names;
use crate::error::{Error, Result};
use crate::model::file::{SavedModel, TrainingInfo};
use crate::model::linear::FittedLogisticRegression;
use crate::model::metrics::{report, Report};
use crate::solvers::auto::{choose, has_l1, AutoChoice};
use crate::solvers::{solve_sparse, Observer, Problem, Solution, SolverKind};
use crate::train::fit::{effective, strengths, FitConfig};

/// A sparse fit: the model as its file records it, the solver's outcome, the training metrics
/// and, when `auto` chose the solver, its choice.
pub struct SparseFit {
    /// The model (features named `x0 …`).
    pub saved: SavedModel,
    /// The solver's run.
    pub solution: Solution,
    /// Metrics on the training rows.
    pub report: Report,
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
    let (rows, cols) = (data.x.rows(), data.x.cols());
    if let Some(&first) = data.labels.first().filter(|&&f| data.labels.iter().all(|&v| v == f)) {
        return Err(Error::Input {
            location: data.source.clone(),
            message: format!("only class {first}: training needs both 0 and 1"),
        });
    }
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
    Ok(SparseFit { saved, report: report(&probs, &data.labels, 0.5), solution, auto })
}
