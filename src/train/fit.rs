//! Training on a table and predicting with the saved model: validation split, standardization,
//! PyTorch's initialisation, training, and the packaged model with its metadata.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use tch::{Device, Tensor};

use crate::data::dataset::{Dataset, Standardizer};
use crate::data::missing::Missing;
use crate::data::recipe::Recipe;
use crate::data::source::Source;
use crate::data::stream::{NpyRows, Standardized};
use crate::data::table::{shown, Table};
use crate::error::{ensure, Error, Result};
use crate::model::file::{SavedModel, TrainingInfo};
use crate::model::linear::{FittedLogisticRegression, LogisticRegression};
use crate::model::metrics::{self, Report};
use crate::model::penalty::Penalty;
use crate::seed::with_seed;
use crate::solvers::weights::Weights;
use crate::solvers::{solve_weighted, Problem, Solution, SolverConfig, SolverKind};
use crate::train::{train, Checkpoints, Engine, Epoch, TrainConfig, Training};

/// How to fit a table. Random draws, all from `seed`, in this order: the validation split (one
/// `randperm` per class), the initial weight and bias (as `nn.Linear`), then each epoch's
/// mini-batch order.
#[derive(Clone, Debug, PartialEq)]
pub struct FitConfig {
    /// The penalty and, for SGD/Adam, the optimizer, learning rate, epochs and batch size.
    pub train: TrainConfig,
    /// Seeds every random draw of the fit.
    pub seed: u64,
    /// Standardize features with the training part's mean and std (stored in the model).
    pub standardize: bool,
    /// Fraction of each class held out for validation.
    pub validation_split: Option<f64>,
    /// A deterministic full-batch solver that reaches the optimum, instead of `train.optimizer`
    /// epochs (then `train.lr`, `epochs`, `batch_size` and `loss` do not apply).
    pub solver: Option<(SolverKind, SolverConfig)>,
    /// scikit-learn's `C` and `l1_ratio` in place of `train.penalty`: mapped with the number of
    /// training rows (see [`Problem::from_sklearn`]), the bias not penalized.
    pub sklearn: Option<(f64, f64)>,
}

impl FitConfig {
    /// Checks every setting before any tensor work.
    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        if let Some((c, l1_ratio)) = self.sklearn {
            ensure(c.is_finite() && c > 0.0, "c", c, "must be a finite number > 0")?;
            ensure((0.0..=1.0).contains(&l1_ratio), "l1_ratio", l1_ratio, "must be between 0 and 1")?;
        }
        if let Some(f) = self.validation_split {
            ensure(f > 0.0 && f < 1.0, "validation_split", f, "must be between 0 and 1, exclusive")?;
        }
        if let Some((_, solver)) = self.solver {
            ensure(solver.tol.is_finite() && solver.tol > 0.0, "tol", solver.tol, "must be a finite number > 0")?;
            if let Some(m) = solver.max_iter {
                ensure(m >= 1, "max_iter", m, "must be at least 1")?;
            }
        }
        Ok(())
    }
}

/// λ₁ and λ₂ of a penalty, in the tutorial's form.
pub(crate) fn strengths(penalty: Penalty) -> (f64, f64) {
    match penalty {
        Penalty::None => (0.0, 0.0),
        Penalty::L1 { lambda } => (lambda, 0.0),
        Penalty::L2 { lambda } => (0.0, lambda),
        Penalty::ElasticNet { lambda_l1, lambda_l2 } => (lambda_l1, lambda_l2),
    }
}

/// The fitted model and how training went.
pub struct Fit {
    /// The model as its file records it.
    pub saved: SavedModel,
    /// The loss after each epoch (or iteration), and the validation losses.
    pub training: Training,
    /// Metrics of the final model on the training part, and on the validation part when there is one.
    pub train_report: Report,
    /// Metrics on the validation part, when there is one.
    pub validation_report: Option<Report>,
    /// What the exact solver reached (iterations, convergence, objective), when one was used;
    /// `training.losses` then holds the objective after each iteration.
    pub solution: Option<Solution>,
}

/// The model file's record of what applied: the penalty as used (after a scikit-learn mapping),
/// then the epochs' settings or the solver's outcome.
pub(crate) fn describe(
    config: &FitConfig,
    t: &TrainConfig,
    training: &Training,
    solution: Option<&Solution>,
) -> TrainingInfo {
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    match (config.solver, solution) {
        (Some((kind, solver)), Some(s)) => TrainingInfo::new(
            t.penalty,
            t.penalize_bias,
            &name(serde_json::json!(kind)),
            config.seed,
            config.standardize,
        )
        .solved(s.iterations, solver.tol, s.optimality, s.converged),
        _ => TrainingInfo::new(
            t.penalty,
            t.penalize_bias,
            &name(serde_json::json!(t.optimizer)),
            config.seed,
            config.standardize,
        )
        .epochs(&name(serde_json::json!(t.loss)), t.lr, training.losses.len(), t.batch_size),
    }
}

/// Refuses labels of one class (nothing to separate), naming `what` holds them.
pub(crate) fn two_classes(labels: &[f32], location: &str, what: &str) -> Result<()> {
    match labels.first() {
        Some(&first) if labels.iter().all(|&v| v == first) => Err(Error::Input {
            location: location.to_string(),
            message: format!("{what} only class {first}: training needs both 0 and 1"),
        }),
        _ => Ok(()),
    }
}

/// The training settings as they apply to training rows of total weight `rows` (their count
/// without weights): scikit-learn's `C` and `l1_ratio`, when given, become the penalty (the bias not penalized).
pub(crate) fn effective(config: &FitConfig, rows: f64) -> Result<TrainConfig> {
    let mut effective = config.train.clone();
    if let Some((c, l1_ratio)) = config.sklearn {
        let p = Problem::from_sklearn_weighted(c, l1_ratio, rows);
        let finite = p.l1.is_finite() && p.l2.is_finite();
        ensure(finite, "c", c, "so small that the penalty 1/(C·rows) is not a finite number")?;
        effective.penalty = Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 };
        effective.penalize_bias = false;
    }
    Ok(effective)
}

fn labels_of(data: &Dataset) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(data.y.f_flatten(0, -1)?.f_to_device(Device::Cpu)?)?)
}

/// Fits `table` (which must have labels) on `device`, calling `on_epoch` after every epoch (or
/// every iteration of an exact solver, its objective as the loss);
/// `checkpoints` apply to SGD and Adam (the split, standardization and initial draws are redone
/// on resume, so the generator continues exactly).
pub fn fit(
    table: &Table,
    config: &FitConfig,
    device: Device,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    fit_inner(table, None, config, &Weights::none(), device, checkpoints, on_epoch)
}

/// [`fit`] of a table read by [`crate::data::recipe::read_training`]: missing cells (NaN) are
/// filled with values learned on the training part (after the validation split, before
/// standardization), and the model records `recipe` with them.
pub fn fit_recipe(
    table: &Table,
    recipe: Recipe,
    config: &FitConfig,
    device: Device,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    fit_inner(table, Some(recipe), config, &Weights::none(), device, checkpoints, on_epoch)
}

/// [`fit`] (or [`fit_recipe`] with a recipe) with sample weights, one per row of `table`, and
/// class weights (class 0, then 1): the weighted mean loss plus the penalty, scikit-learn's `C`
/// mapped through the training part's total weight. Exact solvers only.
pub fn fit_weighted(
    table: &Table,
    recipe: Option<Recipe>,
    config: &FitConfig,
    weights: &Weights,
    device: Device,
) -> Result<Fit> {
    if config.solver.is_none() {
        return Err(Error::InvalidSetting {
            name: "solver",
            value: "sgd or adam".into(),
            expected: "two-class weights fit with the exact solvers (auto, newton, fista, tron, newton-cd)",
        });
    }
    let none = Checkpoints { resume: None, every: None, save: None };
    fit_inner(table, recipe, config, weights, device, none, |_| ControlFlow::Continue(()))
}

/// `x`'s values, its missing cells filled by `recipe` (learned from `parts[0]`).
pub(crate) fn impute(recipe: &mut Recipe, source: &str, parts: &mut [&mut Dataset]) -> Result<()> {
    // Values already learned (the recipe file of a converted .npy): its cells are filled.
    if !matches!(recipe.missing, Missing::Mean | Missing::Median) || recipe.inputs.iter().any(|i| i.impute.is_some()) {
        return Ok(());
    }
    let width = recipe.feature_names().len() as i64;
    let mut values =
        parts.iter().map(|d| Ok(Vec::<f32>::try_from(d.x.f_flatten(0, -1)?)?)).collect::<Result<Vec<Vec<f32>>>>()?;
    let mut refs: Vec<&mut Vec<f32>> = values.iter_mut().collect();
    recipe.impute(source, &mut refs)?;
    for (part, v) in parts.iter_mut().zip(values) {
        part.x = Tensor::f_from_slice(&v)?.f_view([-1, width])?;
    }
    Ok(())
}

fn fit_inner(
    table: &Table,
    mut recipe: Option<Recipe>,
    config: &FitConfig,
    weights: &Weights,
    device: Device,
    checkpoints: Checkpoints,
    mut on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    let label_name = table.label_name.clone().ok_or_else(|| Error::InvalidSetting {
        name: "data",
        value: "a table without labels".into(),
        expected: "a label column to train on",
    })?;
    two_classes(&table.labels, &table.source, &format!("label column `{label_name}` holds"))?;
    let all = Dataset::from_table(table)?;
    let weighted = weights.sample.is_some() || weights.class.is_some();
    if let Some(s) = weights.sample.as_ref().filter(|s| s.len() != table.rows()) {
        let problem = crate::error::WeightProblem::WrongLength { got: s.len(), rows: table.rows() };
        return Err(Error::InvalidWeights { name: "sample_weight", problem });
    }
    let mut train_weights = None;
    let (training, solution, effective, train_part, valid_part, standardizer) =
        with_seed(config.seed, || -> Result<_> {
            let (mut train_part, mut valid_part) = match config.validation_split {
                // With weights the split is of row numbers (the same draws), to split them too.
                Some(f) if weighted => {
                    let rows = Tensor::f_arange(table.rows() as i64, (tch::Kind::Int64, Device::Cpu))?;
                    let index = Dataset { x: rows.f_view([-1, 1])?, y: all.y.shallow_clone() };
                    let (t, v) = index.stratified_split(f)?;
                    let (t, v) = (t.x.f_view([-1])?, v.x.f_view([-1])?);
                    let kept = Vec::<i64>::try_from(&t)?;
                    train_weights = weights.sample.as_ref().map(|s| kept.iter().map(|&i| s[i as usize]).collect());
                    (all.select(&t)?, Some(all.select(&v)?))
                }
                Some(f) => {
                    let (t, v) = all.stratified_split(f)?;
                    (t, Some(v))
                }
                None => {
                    train_weights = weights.sample.clone();
                    (all, None)
                }
            };
            if let Some(recipe) = recipe.as_mut() {
                let mut parts: Vec<&mut Dataset> = vec![&mut train_part];
                parts.extend(valid_part.as_mut());
                impute(recipe, &table.source, &mut parts)?;
            }
            let standardizer = if config.standardize { Some(Standardizer::fit(&train_part.x)?) } else { None };
            let prepare = |d: Dataset| -> Result<Dataset> {
                let x = match &standardizer {
                    Some(s) => s.apply(&d.x)?,
                    None => d.x,
                };
                Dataset { x, y: d.y }.to_device(device)
            };
            let (train_part, valid_part) = (prepare(train_part)?, valid_part.map(prepare).transpose()?);
            let labels: Vec<i64> = labels_of(&train_part)?.iter().map(|&l| l as i64).collect();
            let rows = Weights { sample: train_weights.take(), class: weights.class.clone() }.per_row(&labels, 2)?;
            let total = rows.as_ref().map_or(labels.len() as f64, |w| w.iter().sum());
            let effective = effective(config, total)?;
            let (training, solution) = match config.solver {
                None => {
                    let model = LogisticRegression::torch_init(table.feature_names.len() as i64, device)?;
                    (train(model, &train_part, valid_part.as_ref(), &effective, checkpoints, &mut on_epoch)?, None)
                }
                Some((kind, solver_config)) => {
                    let (l1, l2) = strengths(effective.penalty);
                    let problem = Problem { l1, l2, penalize_bias: effective.penalize_bias };
                    let mut observer = |iteration, objective| {
                        on_epoch(&Epoch { epoch: iteration, loss: objective, validation_loss: None })
                    };
                    let s = solve_weighted(
                        &train_part.x,
                        &train_part.y,
                        rows.as_deref(),
                        problem,
                        kind,
                        solver_config,
                        &mut observer,
                    )?;
                    let model =
                        FittedLogisticRegression::new(s.coef.iter().map(|&w| w as f32).collect(), s.intercept as f32);
                    (Training { losses: s.objectives.clone(), validation_losses: vec![], model }, Some(s))
                }
            };
            Ok((training, solution, effective, train_part, valid_part, standardizer))
        })?;
    let report = |d: &Dataset| -> Result<Report> {
        let probs = Vec::<f32>::try_from(training.model.predict_proba(&d.x)?.f_to_device(Device::Cpu)?)?;
        Ok(metrics::report(&probs, &labels_of(d)?, 0.5))
    };
    let train_report = report(&train_part)?;
    let validation_report = valid_part.as_ref().map(report).transpose()?;
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: table.feature_names.clone(),
        label_name,
        standardizer,
        training: describe(config, &effective, &training, solution.as_ref()),
        // A plain recipe (numeric columns, labels 0/1) is what a file without one means: such a
        // model stays a version 1 file.
        recipe: recipe.filter(|r| !r.is_plain()),
    };
    Ok(Fit { saved, training, train_report, validation_report, solution })
}

/// Fits the rows of an out-of-core `.npy` file with the fused engine (SGD or Adam), reading it
/// chunk by chunk each epoch. Features are named `x0 … x{d−1}`, or by `recipe` (the file's recipe
/// from `convert`, which the model then records). `standardize` takes one more pass
/// for the statistics, then standardizes each chunk as it is read; a validation split and the exact
/// solvers need the data in memory and are refused.
pub fn fit_stream(
    rows: &NpyRows,
    recipe: Option<Recipe>,
    config: &FitConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    if let Some(r) = &recipe {
        let names = r.feature_names().len();
        if names != rows.features() {
            return Err(Error::Input {
                location: rows.name().to_string(),
                message: format!("{} features, and its recipe names {names}", rows.features()),
            });
        }
    }
    let refuse = |name: &'static str, what: &'static str| Error::InvalidSetting {
        name,
        value: "when streaming".into(),
        expected: what,
    };
    if config.solver.is_some() {
        return Err(refuse("solver", "streaming trains with sgd or adam"));
    }
    if config.validation_split.is_some() {
        return Err(refuse("validation_split", "hold out a file and score it separately"));
    }
    let labels = rows.labels();
    two_classes(labels, rows.labels_name(), "the labels hold")?;
    let effective = TrainConfig { engine: Engine::Fused, ..effective(config, rows.rows() as f64)? };
    let d = rows.features();
    let standardizer = if config.standardize { Some(rows.standardizer()?) } else { None };
    let standardized = standardizer.as_ref().map(|s| Standardized { inner: rows, standardizer: s });
    let source: &dyn crate::train::fused::Batches = match &standardized {
        Some(s) => s,
        None => rows,
    };
    let training = with_seed(config.seed, || -> Result<_> {
        let initial = LogisticRegression::torch_init(d as i64, Device::Cpu)?.fitted()?;
        crate::train::fused::train(&initial, source, None, &effective, checkpoints, on_epoch)
    })?;
    let scaling = standardizer.as_ref().map(|s| (&s.mean[..], &s.std[..]));
    let probs = rows.probabilities(training.model.coef(), training.model.intercept(), scaling)?;
    let train_report = metrics::report(&probs, labels, 0.5);
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: recipe.as_ref().map_or_else(|| crate::data::npy::feature_names(d), Recipe::feature_names),
        label_name: recipe.as_ref().map_or_else(|| "y".into(), |r| r.label.clone()),
        standardizer,
        training: describe(config, &effective, &training, None),
        recipe: recipe.filter(|r| !r.is_plain()),
    };
    Ok(Fit { saved, training, train_report, validation_report: None, solution: None })
}

impl SavedModel {
    /// Checks that `names` are the model's features in the model's order; says what differs.
    pub fn check_features(&self, names: &[String]) -> std::result::Result<(), String> {
        check_feature_names(&self.feature_names, names)
    }

    /// P(y = 1) for every row of `table`, in order, computed on `device`. The table's columns are
    /// matched to the model's features by name, in any order; a missing or unexpected one is an
    /// error naming it.
    pub fn predict_proba(&self, table: &Table, device: Device) -> Result<Vec<f32>> {
        let x = model_features(&self.feature_names, self.standardizer.as_ref(), table, device)?;
        let probs = Vec::<f32>::try_from(self.model.predict_proba(&x)?.f_to_device(Device::Cpu)?)?;
        finite_probabilities(&probs, &table.source)?;
        Ok(probs)
    }
}

/// Checks that `names` are the model's `features` in the model's order; says what differs.
pub(crate) fn check_feature_names(features: &[String], names: &[String]) -> std::result::Result<(), String> {
    if names == features {
        return Ok(());
    }
    // Sets, so that 100,000 columns compare in linear time; names escaped, lists cut.
    let (ours, theirs): (HashSet<&String>, HashSet<&String>) = (features.iter().collect(), names.iter().collect());
    let quote = |v: Vec<&String>| {
        let mut list = String::new();
        for (i, n) in v.iter().enumerate() {
            if list.len() > 120 {
                list += &format!(", … ({} in all)", v.len());
                break;
            }
            list += &format!("{}`{}`", if i > 0 { ", " } else { "" }, shown(n));
        }
        list
    };
    let missing = quote(features.iter().filter(|n| !theirs.contains(n)).collect());
    let unexpected = quote(names.iter().filter(|n| !ours.contains(n)).collect());
    let mut parts = vec![];
    if !missing.is_empty() {
        parts.push(format!("missing {missing}"));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected {unexpected}"));
    }
    if parts.is_empty() {
        let order: Vec<&String> = features.iter().collect();
        parts.push(format!("same columns in another order (the model's: {})", quote(order)));
    }
    Err(format!("columns do not match the model's {} features: {}", features.len(), parts.join("; ")))
}

/// `table`'s rows as the model's features `[n, d]` on `device`: columns matched by name in any
/// order (a missing or unexpected one is an error naming it), standardized as in training.
pub(crate) fn model_features(
    names: &[String],
    standardizer: Option<&Standardizer>,
    table: &Table,
    device: Device,
) -> Result<Tensor> {
    let d = names.len();
    let reordered;
    let features = if table.feature_names == names {
        &table.features
    } else {
        let at: HashMap<&String, usize> = table.feature_names.iter().enumerate().map(|(i, n)| (n, i)).collect();
        let order: Option<Vec<usize>> = names.iter().map(|n| at.get(n).copied()).collect();
        match order.filter(|_| table.feature_names.len() == d) {
            // The same names in another order: the columns are taken in the model's.
            Some(order) => {
                reordered =
                    table.features.chunks_exact(d).flat_map(|row| order.iter().map(|&j| row[j])).collect::<Vec<f32>>();
                &reordered
            }
            None => {
                let message = check_feature_names(names, &table.feature_names).err().unwrap_or_default();
                return Err(Error::Input { location: format!("{}:1", table.source), message });
            }
        }
    };
    let x = Tensor::f_from_slice(features)?.f_view([-1, d as i64])?;
    let x = x.f_to_device(device)?;
    Ok(match standardizer {
        Some(s) => s.apply(&x)?,
        None => x,
    })
}

/// Refuses probabilities of which one is NaN: a row whose score overflowed (values near the f32
/// maximum against the weights), which would otherwise be written as `NaN`.
pub(crate) fn finite_probabilities(probs: &[f32], source: &str) -> Result<()> {
    match probs.iter().position(|p| p.is_nan()) {
        Some(i) => Err(Error::Input {
            location: source.to_string(),
            message: format!("row {}: the model's score is not a number (values too large for its weights)", i + 1),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::{parse, LabelColumn};

    fn table() -> Table {
        // Separable on x1 > 0, with a noise column x2.
        let mut text = String::from("x1,x2,y\n");
        for i in 0..60 {
            let x1 = (i as f32 - 29.5) / 10.0;
            text += &format!("{x1},{},{}\n", (i * 7 % 11) as f32, u8::from(x1 > 0.0));
        }
        parse("t.csv", text.as_bytes(), &LabelColumn::Last).unwrap()
    }

    fn config() -> FitConfig {
        FitConfig {
            train: TrainConfig {
                lr: 0.1,
                epochs: 200,
                penalty: Penalty::L2 { lambda: 1e-3 },
                optimizer: crate::train::optim::OptimizerKind::Adam,
                ..Default::default()
            },
            seed: 1,
            standardize: true,
            validation_split: Some(0.25),
            solver: None,
            sklearn: None,
        }
    }

    #[test]
    fn fitting_learns_a_separable_table_and_packages_its_metadata() {
        let f = fit(&table(), &config(), Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        let v = f.validation_report.unwrap();
        // 30 rows per class; round(0.25 × 30) = 8 of each are held out.
        assert_eq!((f.train_report.rows, v.rows), (44, 16));
        assert!(v.accuracy >= 0.9 && v.roc_auc.unwrap() > 0.95, "{v:?}");
        assert_eq!(f.saved.feature_names, ["x1", "x2"]);
        assert_eq!(f.saved.label_name, "y");
        assert_eq!(f.saved.training.penalty, "l2");
        assert_eq!(f.saved.training.optimizer, "adam");
        assert_eq!((f.saved.training.epochs, f.saved.training.iterations), (Some(200), None));
        assert!(f.saved.standardizer.is_some() && f.saved.training.standardize);
        assert_eq!(f.training.validation_losses.len(), 200);
    }

    #[test]
    fn an_exact_solver_fits_and_reports_its_convergence() {
        let exact = FitConfig { solver: Some((SolverKind::Newton, SolverConfig::default())), ..config() };
        let f = fit(&table(), &exact, Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        let s = f.solution.unwrap();
        assert!(s.converged && s.iterations < 30, "{s:?}");
        assert_eq!(f.training.losses, s.objectives);
        let t = &f.saved.training;
        assert_eq!(t.optimizer, "newton");
        // Only what applied is recorded: no learning rate or epochs, the solver's outcome.
        assert_eq!((t.lr, t.epochs, t.loss.as_deref()), (None, None, None));
        assert_eq!((t.iterations, t.converged, t.optimality), (Some(s.iterations), Some(true), Some(s.optimality)));
        assert!(f.validation_report.unwrap().accuracy >= 0.9);
    }

    #[test]
    fn sklearn_parameters_become_the_mapped_penalty_on_the_training_rows() {
        let sk = FitConfig {
            sklearn: Some((0.5, 1.0)),
            solver: Some((SolverKind::Fista, SolverConfig::default())),
            ..config()
        };
        let f = fit(&table(), &sk, Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        // 44 training rows: λ₁ = 1 / (0.5 · 44), λ₂ = 0.
        assert_eq!(f.saved.training.lambda_l1, Some(1.0 / 22.0));
        assert_eq!((f.saved.training.lambda_l2, f.saved.training.penalize_bias), (Some(0.0), false));
        let bad = FitConfig { sklearn: Some((0.0, 0.5)), ..config() };
        let e = fit(&table(), &bad, Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(()))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "invalid c: 0 (must be a finite number > 0)");
    }

    #[test]
    fn a_single_class_cannot_be_trained_on() {
        let t = parse("one.csv", b"a,y\n1,1\n2,1\n", &LabelColumn::Last).unwrap();
        let e = fit(&t, &config(), Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(()))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "one.csv: label column `y` holds only class 1: training needs both 0 and 1");
    }

    #[test]
    fn the_seed_fixes_the_whole_fit() {
        let a = fit(&table(), &config(), Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        let b = fit(&table(), &config(), Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        assert_eq!(a.training.losses, b.training.losses);
        let c = fit(&table(), &FitConfig { seed: 2, ..config() }, Device::Cpu, Checkpoints::default(), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_ne!(a.training.losses, c.training.losses);
    }

    #[test]
    fn predictions_reuse_the_standardization_and_check_columns() {
        let f = fit(&table(), &config(), Device::Cpu, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap();
        let rows = parse("new.csv", b"x1,x2\n2.5,3\n-2.5,3\n", &LabelColumn::Skip("y".into())).unwrap();
        let p = f.saved.predict_proba(&rows, Device::Cpu).unwrap();
        assert!(p[0] > 0.9 && p[1] < 0.1, "{p:?}");
        // Columns in another order are matched by name: the same probabilities.
        let swapped = parse("new.csv", b"x2,x1\n3,2.5\n3,-2.5\n", &LabelColumn::Skip("y".into())).unwrap();
        assert_eq!(f.saved.predict_proba(&swapped, Device::Cpu).unwrap(), p);
        let other = parse("new.csv", b"x1,z\n3,2.5\n", &LabelColumn::Skip("y".into())).unwrap();
        let e = f.saved.predict_proba(&other, Device::Cpu).unwrap_err().to_string();
        assert!(e.ends_with("missing `x2`; unexpected `z`"), "{e}");
    }
}
