//! Fitting a table of K ≥ 3 classes: the stratified validation split, imputation and
//! standardization as for two classes, row weights, then multinomial logistic regression (exact
//! solvers through [`crate::solvers::multinomial`], SGD/Adam through [`crate::train::softmax`]) or
//! one-vs-rest (K binary exact fits), packaged as a [`MulticlassModel`].

use std::ops::ControlFlow;

use tch::{Device, Kind, Tensor};

use crate::data::dataset::Standardizer;
use crate::data::recipe::Recipe;
use crate::data::table::{shown, Table};
use crate::error::{Error, Result};
use crate::model::file::TrainingInfo;
use crate::model::multiclass::{MultiClass, MulticlassModel};
use crate::model::multiclass_metrics::{self, MulticlassReport};
use crate::model::penalty::Penalty;
use crate::seed::with_seed;
use crate::solvers::weights::Weights;
use crate::solvers::{multinomial, solve_weighted, Problem, SolverKind};
use crate::train::fit::{strengths, FitConfig};
use crate::train::softmax::{self, SoftmaxSettings};
use crate::train::{Checkpoints, Epoch};

/// The exact solver `auto` picks for K classes of d features: Newton while its (d+1)·K block
/// Hessian stays small enough to factor every iteration, else FISTA (no Hessian).
pub fn auto_kind(features: usize, classes: usize) -> SolverKind {
    if (features + 1).saturating_mul(classes) <= 4096 {
        SolverKind::Newton
    } else {
        SolverKind::Fista
    }
}

/// What a multiclass fit produced.
pub struct MulticlassFit {
    /// The model as its file records it.
    pub model: MulticlassModel,
    /// The objective after each iteration (exact solvers, multinomial) or epoch (SGD/Adam).
    pub losses: Vec<f64>,
    /// The exact solver's objective at the solution: the weighted mean loss plus the penalty
    /// (for one-vs-rest, the sum of the K binary objectives).
    pub objective: Option<f64>,
    /// Iterations of the exact solver (summed over the K fits for one-vs-rest).
    pub iterations: Option<usize>,
    /// Whether every exact fit converged.
    pub converged: Option<bool>,
    /// The optimality measure reached (the largest of the K fits for one-vs-rest).
    pub optimality: Option<f64>,
    /// How the multinomial exact solver went ([`multinomial::MultinomialFit::method`]).
    pub method: Option<&'static str>,
    /// Metrics on the training part (weighted when there are weights).
    pub train_report: MulticlassReport,
    /// Metrics on the validation part, when there is one.
    pub validation_report: Option<MulticlassReport>,
}

/// Rows of each class, seeded: `fraction` of each class for validation, the rest for training;
/// a class left with no rows on either side is an error naming it.
fn split(labels: &[i64], classes: &[String], fraction: f64) -> Result<(Vec<i64>, Vec<i64>)> {
    let (mut train, mut valid) = (vec![], vec![]);
    for (k, name) in classes.iter().enumerate() {
        let rows: Vec<i64> = (0..labels.len() as i64).filter(|&i| labels[i as usize] == k as i64).collect();
        let n_valid = (fraction * rows.len() as f64).round() as usize;
        if n_valid < 1 || n_valid >= rows.len() {
            return Err(Error::InvalidSetting {
                name: "validation_split",
                value: format!("{fraction}"),
                expected: if n_valid < 1 {
                    "leaves a class with no rows in the validation part"
                } else {
                    "leaves a class with no rows in the training part"
                },
            })
            .map_err(|e| Error::Input {
                location: "--validation-split".into(),
                message: format!("{e}: class `{}` has {} rows", shown(name), rows.len()),
            });
        }
        let perm = Vec::<i64>::try_from(Tensor::f_randperm(rows.len() as i64, (Kind::Int64, Device::Cpu))?)?;
        valid.extend(perm[..n_valid].iter().map(|&p| rows[p as usize]));
        train.extend(perm[n_valid..].iter().map(|&p| rows[p as usize]));
    }
    train.sort_unstable();
    valid.sort_unstable();
    Ok((train, valid))
}

/// One part of the table: features `[n, d]` f32, class indices, sample weights.
struct Part {
    x: Tensor,
    labels: Vec<i64>,
    sample: Option<Vec<f64>>,
}

impl Part {
    fn of(x: &Tensor, labels: &[i64], sample: Option<&[f64]>, rows: &[i64]) -> Result<Self> {
        Ok(Self {
            x: x.f_index_select(0, &Tensor::f_from_slice(rows)?)?,
            labels: rows.iter().map(|&i| labels[i as usize]).collect(),
            sample: sample.map(|s| rows.iter().map(|&i| s[i as usize]).collect()),
        })
    }

    fn y(&self) -> Result<Tensor> {
        Ok(Tensor::f_from_slice(&self.labels)?)
    }
}

/// Fits `table` (labels: class indices into `classes`, K ≥ 3) on `device`. `weights` holds the
/// sample weights of every row of the table (split with it) and the class weights; the objective
/// is the weighted mean loss plus the penalty, scikit-learn's `C` mapped through the training
/// part's total weight. `recipe` (from a CSV file) records the classes and learns imputation on
/// the training part.
pub fn fit_multiclass(
    table: &Table,
    recipe: Option<Recipe>,
    classes: Vec<String>,
    config: &FitConfig,
    multi_class: MultiClass,
    weights: &Weights,
    device: Device,
) -> Result<MulticlassFit> {
    let none = Checkpoints::default();
    fit_multiclass_with(table, recipe, classes, config, multi_class, weights, device, none, |_| {
        ControlFlow::Continue(())
    })
}

/// [`fit_multiclass`] with `checkpoints` for SGD and Adam (states of K classes; the split,
/// standardization and initial draws are redone on resume, so the generator continues exactly)
/// and `on_epoch` after every epoch (`Break` stops with [`Error::Interrupted`]); the exact
/// solvers take neither.
#[allow(clippy::too_many_arguments)]
pub fn fit_multiclass_with(
    table: &Table,
    mut recipe: Option<Recipe>,
    classes: Vec<String>,
    config: &FitConfig,
    multi_class: MultiClass,
    weights: &Weights,
    device: Device,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<MulticlassFit> {
    config.validate()?;
    if config.solver.is_some() && (checkpoints.resume.is_some() || checkpoints.every.is_some()) {
        return Err(Error::InvalidSetting {
            name: "checkpoints",
            value: "with an exact solver".into(),
            expected: "checkpoints of sgd or adam epochs",
        });
    }
    let k = classes.len();
    let label_name = table.label_name.clone().ok_or_else(|| Error::InvalidSetting {
        name: "data",
        value: "a table without labels".into(),
        expected: "a label column to train on",
    })?;
    let labels: Vec<i64> = table.labels.iter().map(|&l| l as i64).collect();
    if let Some(s) = &weights.sample {
        if s.len() != labels.len() {
            let problem = crate::error::WeightProblem::WrongLength { got: s.len(), rows: labels.len() };
            return Err(Error::InvalidWeights { name: "sample_weight", problem });
        }
    }
    let d = table.feature_names.len();
    let x_all = Tensor::f_from_slice(&table.features)?.f_view([-1, d as i64])?;
    let all_rows: Vec<i64> = (0..labels.len() as i64).collect();
    with_seed(config.seed, || -> Result<MulticlassFit> {
        let (train_rows, valid_rows) = match config.validation_split {
            Some(f) => {
                let (t, v) = split(&labels, &classes, f)?;
                (t, Some(v))
            }
            None => (all_rows, None),
        };
        let mut train = Part::of(&x_all, &labels, weights.sample.as_deref(), &train_rows)?;
        let mut valid = valid_rows.map(|v| Part::of(&x_all, &labels, weights.sample.as_deref(), &v)).transpose()?;
        if let Some(recipe) = recipe.as_mut() {
            let mut parts = vec![crate::data::dataset::Dataset { x: train.x.shallow_clone(), y: train.y()? }];
            parts.extend(
                valid
                    .as_ref()
                    .map(|v| -> Result<_> { Ok(crate::data::dataset::Dataset { x: v.x.shallow_clone(), y: v.y()? }) })
                    .transpose()?,
            );
            let mut refs: Vec<&mut crate::data::dataset::Dataset> = parts.iter_mut().collect();
            crate::train::fit::impute(recipe, &table.source, &mut refs)?;
            train.x = parts[0].x.shallow_clone();
            if let Some(v) = valid.as_mut() {
                v.x = parts[1].x.shallow_clone();
            }
        }
        let standardizer = if config.standardize { Some(Standardizer::fit(&train.x)?) } else { None };
        let prepare = |x: &Tensor| -> Result<Tensor> {
            let x = match &standardizer {
                Some(s) => s.apply(x)?,
                None => x.shallow_clone(),
            };
            Ok(x.f_to_device(device)?)
        };
        let x = prepare(&train.x)?;
        let class_weights = Weights { sample: train.sample.clone(), class: weights.class.clone() };
        let rows = class_weights.per_row(&train.labels, k)?;
        if let Some(w) = &rows {
            // A class whose training rows all weigh 0 has no optimum (its score runs to −∞):
            // named by its label here, before the solver would name its index.
            let mut totals = vec![0.0f64; k];
            for (&label, &weight) in train.labels.iter().zip(w) {
                totals[label as usize] += weight;
            }
            if let Some(absent) = totals.iter().position(|&t| t <= 0.0) {
                let message = format!(
                    "class `{}` has no training rows of weight > 0 (its probability would run to 0)",
                    shown(&classes[absent])
                );
                // The class weight zeroed it when its rows' sample weights (1 each if none) do not.
                let sampled: f64 = train
                    .labels
                    .iter()
                    .enumerate()
                    .filter(|&(_, &l)| l as usize == absent)
                    .map(|(i, _)| train.sample.as_ref().map_or(1.0, |s| s[i]))
                    .sum();
                let name = if weights.class.is_some() && sampled > 0.0 { "class_weight" } else { "sample_weight" };
                return Err(Error::InvalidData { name, message });
            }
        }
        // The same class weights on the validation rows, for its weighted metrics.
        let valid_rows = match &valid {
            Some(v) => Weights { sample: v.sample.clone(), class: weights.class.clone() }.per_row(&v.labels, k)?,
            None => None,
        };
        let total = rows.as_ref().map_or(train.labels.len() as f64, |w| w.iter().sum());
        let (penalty, penalize_bias) = match config.sklearn {
            Some((c, l1_ratio)) => {
                let p = Problem::from_sklearn_weighted(c, l1_ratio, total);
                crate::error::ensure(
                    p.l1.is_finite() && p.l2.is_finite(),
                    "c",
                    c,
                    "so small that the penalty 1/(C·Σ weights) is not a finite number",
                )?;
                (Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 }, false)
            }
            None => (config.train.penalty, config.train.penalize_bias),
        };
        let (l1, l2) = strengths(penalty);
        let problem = Problem { l1, l2, penalize_bias };
        let y = train.y()?.f_to_device(device)?;
        let mut info;
        let (coef, intercept, losses, objective, iterations, converged, optimality);
        let mut method = None;
        match (config.solver, multi_class) {
            (Some((kind, solver)), MultiClass::Multinomial) => {
                let f = multinomial::fit(&x, &y, k, rows.as_deref(), problem, kind, solver)?;
                info = TrainingInfo::new(penalty, penalize_bias, solver_name(kind), config.seed, config.standardize)
                    .solved(f.iterations, solver.tol, f.optimality, f.converged);
                coef = f.coef;
                intercept = f.intercept;
                method = Some(f.method);
                losses = f.objectives;
                (objective, iterations, converged, optimality) =
                    (Some(f.objective), Some(f.iterations), Some(f.converged), Some(f.optimality));
            }
            (Some((kind, solver)), MultiClass::Ovr) => {
                let (mut c, mut b, mut total_objective, mut its, mut all_converged, mut worst) =
                    (vec![], vec![], 0.0, 0, true, 0.0f64);
                for class in 0..k as i64 {
                    let yk = train.y()?.f_eq(class)?.f_to_kind(Kind::Float)?.f_view([-1, 1])?.f_to_device(device)?;
                    let s = solve_weighted(&x, &yk, rows.as_deref(), problem, kind, solver, &mut |_, _| {
                        std::ops::ControlFlow::Continue(())
                    })?;
                    c.extend(s.coef.iter().copied());
                    b.push(s.intercept);
                    total_objective += s.objective;
                    its += s.iterations;
                    all_converged &= s.converged;
                    worst = worst.max(s.optimality);
                }
                info = TrainingInfo::new(penalty, penalize_bias, solver_name(kind), config.seed, config.standardize)
                    .solved(its, solver.tol, worst, all_converged);
                coef = c;
                intercept = b;
                losses = vec![total_objective];
                (objective, iterations, converged, optimality) =
                    (Some(total_objective), Some(its), Some(all_converged), Some(worst));
            }
            (None, MultiClass::Ovr) => {
                return Err(Error::InvalidSetting {
                    name: "multi_class",
                    value: "ovr".into(),
                    expected: "one-vs-rest fits with the exact solvers (newton, fista, auto)",
                })
            }
            (None, MultiClass::Multinomial) => {
                let t = &config.train;
                let settings = SoftmaxSettings::of(t, penalty, penalize_bias);
                let (w0, b0) = softmax::linear_init(d as i64, k as i64)?;
                let x = x.f_to_kind(Kind::Float)?;
                let trained =
                    softmax::train_checkpointed(&x, &y, rows.as_deref(), w0, b0, &settings, checkpoints, on_epoch)?;
                let optimizer = serde_json::json!(t.optimizer);
                info = TrainingInfo::new(
                    penalty,
                    penalize_bias,
                    optimizer.as_str().unwrap_or_default(),
                    config.seed,
                    config.standardize,
                )
                .epochs("cross-entropy", t.lr, trained.losses.len(), t.batch_size);
                coef = trained.weight.iter().map(|&w| f64::from(w)).collect();
                intercept = trained.bias.iter().map(|&b| f64::from(b)).collect();
                losses = trained.losses;
                (objective, iterations, converged, optimality) = (None, None, None, None);
            }
        }
        info.multi_class = Some(multi_class.name().into());
        let model = MulticlassModel {
            classes: classes.clone(),
            coef: coef.iter().map(|&w| w as f32).collect(),
            intercept: intercept.iter().map(|&b| b as f32).collect(),
            multi_class,
            feature_names: table.feature_names.clone(),
            label_name: label_name.clone(),
            standardizer: standardizer.clone(),
            training: info,
            recipe: recipe.clone().map(|r| Recipe { class_names: Some(classes.clone()), ..r }),
        };
        let report = |x: &Tensor, labels: &[i64], w: Option<&[f64]>| -> Result<MulticlassReport> {
            let p = model.probabilities(x)?.f_to_kind(Kind::Float)?.f_to_device(Device::Cpu)?.f_reshape([-1])?;
            let probs = Vec::<f32>::try_from(p)?;
            let labels: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
            Ok(multiclass_metrics::report(&probs, &labels, &classes, w))
        };
        let train_report = report(&x, &train.labels, rows.as_deref())?;
        let validation_report =
            valid.as_ref().map(|v| report(&prepare(&v.x)?, &v.labels, valid_rows.as_deref())).transpose()?;
        Ok(MulticlassFit {
            model,
            losses,
            objective,
            iterations,
            converged,
            optimality,
            method,
            train_report,
            validation_report,
        })
    })
}

fn solver_name(kind: SolverKind) -> &'static str {
    match kind {
        SolverKind::Newton => "newton",
        SolverKind::Fista => "fista",
        SolverKind::Tron => "tron",
        SolverKind::NewtonCd => "newton-cd",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::weights::ClassWeight;
    use crate::solvers::SolverConfig;
    use crate::train::optim::OptimizerKind;

    /// 90 rows, 2 features, 3 well-separated classes.
    fn table() -> Table {
        let mut features = vec![];
        let mut labels = vec![];
        for i in 0..90 {
            let k = i % 3;
            let jitter = (i as f32 * 0.37).sin();
            features.extend([k as f32 * 2.0 + jitter, (k as f32 - 1.0).abs() * 3.0 - jitter]);
            labels.push(k as f32);
        }
        Table {
            source: "t".into(),
            feature_names: vec!["a".into(), "b".into()],
            label_name: Some("y".into()),
            features,
            labels,
        }
    }

    fn config(solver: Option<SolverKind>) -> FitConfig {
        FitConfig {
            train: crate::train::TrainConfig {
                lr: 0.1,
                epochs: 50,
                penalty: Penalty::L2 { lambda: 0.01 },
                optimizer: OptimizerKind::Adam,
                ..crate::train::TrainConfig::default()
            },
            seed: 0,
            standardize: true,
            validation_split: None,
            solver: solver.map(|k| (k, SolverConfig::default())),
            sklearn: None,
        }
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn every_path_learns_the_classes() {
        let t = table();
        for (solver, multi) in [
            (Some(SolverKind::Newton), MultiClass::Multinomial),
            (Some(SolverKind::Fista), MultiClass::Multinomial),
            (Some(SolverKind::Newton), MultiClass::Ovr),
            (None, MultiClass::Multinomial),
        ] {
            let f = fit_multiclass(&t, None, names(), &config(solver), multi, &Weights::none(), Device::Cpu).unwrap();
            assert!(f.train_report.accuracy > 0.9, "{solver:?} {multi:?}: {}", f.train_report.accuracy);
            assert_eq!((f.model.coef.len(), f.model.intercept.len()), (6, 3));
        }
    }

    #[test]
    fn sklearn_c_maps_through_the_total_weight() {
        // Weights all 2 with C are the unweighted problem with 2C.
        let t = table();
        let sk = |c| FitConfig { sklearn: Some((c, 0.0)), ..config(Some(SolverKind::Newton)) };
        let multi = MultiClass::Multinomial;
        let a =
            fit_multiclass(&t, None, names(), &sk(0.5), multi, &Weights::sample(vec![2.0; 90]), Device::Cpu).unwrap();
        let b = fit_multiclass(&t, None, names(), &sk(1.0), multi, &Weights::none(), Device::Cpu).unwrap();
        for (u, v) in a.model.coef.iter().zip(&b.model.coef) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
    }

    #[test]
    fn a_class_whose_training_rows_all_weigh_zero_is_named() {
        let t = table();
        // Class `b` (1) weighs 0 everywhere.
        let w: Vec<f64> = (0..90).map(|i| if i % 3 == 1 { 0.0 } else { 1.0 }).collect();
        let e = fit_multiclass(
            &t,
            None,
            names(),
            &config(Some(SolverKind::Newton)),
            MultiClass::Multinomial,
            &Weights::sample(w),
            Device::Cpu,
        )
        .err()
        .unwrap()
        .to_string();
        assert_eq!(
            e,
            "invalid sample_weight: class `b` has no training rows of weight > 0 (its probability would run to 0)"
        );
    }

    #[test]
    fn a_split_that_leaves_a_class_no_training_rows_is_named() {
        let mut t = table();
        // Class `c` (2) keeps two rows: a 0.9 split sends both to validation.
        let keep: Vec<usize> = (0..90).filter(|&i| i % 3 != 2 || i < 6).collect();
        t.features = keep.iter().flat_map(|&i| [t.features[2 * i], t.features[2 * i + 1]]).collect();
        t.labels = keep.iter().map(|&i| t.labels[i]).collect();
        let c = FitConfig { validation_split: Some(0.9), ..config(Some(SolverKind::Newton)) };
        let e = fit_multiclass(&t, None, names(), &c, MultiClass::Multinomial, &Weights::none(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no rows in the training part") && e.contains("class `c` has 2 rows"), "{e}");
    }

    #[test]
    fn the_validation_log_loss_is_weighted_by_the_validation_rows_weights() {
        // The validation rows (the same seeded split, redone here) and their weights: the
        // report's log-loss is Σ sᵢ·(−log pᵢ,yᵢ) / Σ sᵢ from the model's own probabilities.
        let t = table();
        let sample: Vec<f64> = (0..90).map(|i| 0.25 + (i % 4) as f64).collect();
        let weights = Weights::sample(sample.clone()).with_class(ClassWeight::Given(vec![(2, 3.0)]));
        let c = FitConfig { validation_split: Some(0.3), ..config(Some(SolverKind::Newton)) };
        let fit = fit_multiclass(&t, None, names(), &c, MultiClass::Multinomial, &weights, Device::Cpu).unwrap();
        let labels: Vec<i64> = t.labels.iter().map(|&l| l as i64).collect();
        let (_, valid) = with_seed(c.seed, || split(&labels, &names(), 0.3)).unwrap();
        let x = Tensor::from_slice(&t.features).view([-1, 2]).index_select(0, &Tensor::from_slice(&valid));
        let x = fit.model.standardizer.as_ref().unwrap().apply(&x).unwrap();
        let p = Vec::<f64>::try_from(fit.model.probabilities(&x).unwrap().to_kind(Kind::Double).reshape([-1])).unwrap();
        let (mut loss, mut total) = (0.0, 0.0);
        for (j, &i) in valid.iter().enumerate() {
            let label = labels[i as usize] as usize;
            let w = sample[i as usize] * if label == 2 { 3.0 } else { 1.0 };
            loss -= w * p[j * 3 + label].max(1e-15).ln();
            total += w;
        }
        let got = fit.validation_report.unwrap().log_loss;
        assert!((got - loss / total).abs() < 1e-5, "{got} vs {}", loss / total);
        // And it is not the unweighted mean.
        let plain = -valid.iter().enumerate().map(|(j, &i)| p[j * 3 + labels[i as usize] as usize].ln()).sum::<f64>()
            / valid.len() as f64;
        assert!((got - plain).abs() > 1e-4, "{got} vs unweighted {plain}");
    }

    #[test]
    fn a_split_that_empties_a_class_is_named() {
        let mut t = table();
        // Class `c` (2) keeps one row.
        let keep: Vec<usize> = (0..90).filter(|&i| i % 3 != 2 || i == 2).collect();
        t.features = keep.iter().flat_map(|&i| [t.features[2 * i], t.features[2 * i + 1]]).collect();
        t.labels = keep.iter().map(|&i| t.labels[i]).collect();
        let c = FitConfig { validation_split: Some(0.5), ..config(Some(SolverKind::Newton)) };
        let e = fit_multiclass(&t, None, names(), &c, MultiClass::Multinomial, &Weights::none(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("class `c` has 1 rows"), "{e}");
    }
}
