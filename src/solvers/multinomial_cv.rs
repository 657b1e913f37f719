//! K-fold cross-validation of the multinomial path for K ≥ 3 classes: folds stratified by class,
//! held-out (weighted) log-loss and accuracy per λ, the best λ and the one-standard-error λ, and
//! the fit on all rows at the chosen λ as a multiclass model.
//!
//! As the two-class [`crate::solvers::cv`]: the λ grid comes from all rows; each fold fits the
//! path on the other folds (standardized with their own statistics when asked) and scores the
//! held-out fold at every λ. Row weights (sample × class weight, computed once on all rows, as
//! scikit-learn's `LogisticRegressionCV` does) go with their rows into both parts: the training
//! part's objective is its weighted mean loss, the held-out scores are weighted means.

use tch::{Kind, Tensor};

use crate::data::dataset::Standardizer;
use crate::data::table::shown;
use crate::error::{ensure, Error, Result};
use crate::model::file::TrainingInfo;
use crate::model::multiclass::{MultiClass, MulticlassModel};
use crate::model::penalty::Penalty;
use crate::seed::with_seed;
use crate::solvers::cv::{best_and_one_se, fold_summary, CvConfig, FoldSummary};
use crate::solvers::multinomial_path::{lambda_max, log_probabilities, path_at, MultinomialPathPoint};
use crate::solvers::{Problem, SolverKind};

/// Held-out scores at one λ, over the folds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MulticlassCvPoint {
    /// glmnet's λ.
    pub lambda: f64,
    /// Non-zero weights of the fit on all rows.
    pub nonzero: usize,
    /// Held-out log-loss (weighted mean over the fold's rows): the mean over the folds.
    pub log_loss_mean: f64,
    /// Held-out log-loss: the standard deviation across the folds.
    pub log_loss_std: f64,
    /// std / √K: the standard error of the mean.
    pub log_loss_se: f64,
    /// Held-out accuracy (weighted): the mean over the folds.
    pub accuracy_mean: f64,
    /// Held-out accuracy: the standard deviation across the folds.
    pub accuracy_std: f64,
}

/// The cross-validated multinomial path and the fit on all rows.
#[derive(Clone, Debug)]
pub struct MulticlassCvResult {
    /// One per λ of the grid, largest λ first.
    pub points: Vec<MulticlassCvPoint>,
    /// Each fold's held-out (log-loss, accuracy) at each λ: `fold_scores[f][i]`.
    pub fold_scores: Vec<Vec<(f64, f64)>>,
    /// Index of the λ with the lowest mean held-out log-loss (the first, largest λ, on a tie).
    pub best: usize,
    /// Index of the largest λ whose mean log-loss is within one standard error of the best.
    pub one_se: usize,
    /// Rows in each held-out fold.
    pub fold_sizes: Vec<usize>,
    /// The path on all rows (standardized with all rows' statistics when asked): the refit.
    pub full: Vec<MultinomialPathPoint>,
    /// All rows' mean and std, when asked for (stored in the refit model).
    pub standardizer: Option<Standardizer>,
}

/// The fold (0 … k−1) of each row: each class's rows in a seeded random order (one `randperm` per
/// class, class 0 first), dealt round-robin, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ rows of class
/// c (the two-class rule, over K classes). A class with fewer than k rows is an error naming it.
pub fn stratified_folds(labels: &[i64], classes: &[String], k: usize, seed: u64) -> Result<Vec<usize>> {
    ensure(k >= 2, "folds", k, "must be at least 2")?;
    let rows_of: Vec<Vec<usize>> =
        (0..classes.len()).map(|c| (0..labels.len()).filter(|&i| labels[i] == c as i64).collect()).collect();
    if let Some((c, rows)) = rows_of.iter().enumerate().find(|(_, rows)| rows.len() < k) {
        let message = format!(
            "{k} exceeds the rows of class `{}` ({}): every fold needs a row of each class",
            shown(&classes[c]),
            rows.len()
        );
        return Err(Error::InvalidData { name: "folds", message });
    }
    let mut fold = vec![0; labels.len()];
    with_seed(seed, || -> Result<()> {
        let mut next = 0;
        for rows in &rows_of {
            let perm = Vec::<i64>::try_from(Tensor::f_randperm(rows.len() as i64, (Kind::Int64, tch::Device::Cpu))?)?;
            for p in perm {
                fold[rows[p as usize]] = next % k;
                next += 1;
            }
        }
        Ok(())
    })?;
    Ok(fold)
}

/// Held-out (weighted log-loss, weighted accuracy) of `point` on `x`, `labels`.
pub fn held_out_scores(
    x: &Tensor,
    labels: &[i64],
    weights: Option<&[f64]>,
    point: &MultinomialPathPoint,
) -> Result<(f64, f64)> {
    let k = point.intercept.len();
    let logp = log_probabilities(x, point)?;
    let (mut loss, mut right, mut total) = (0.0, 0.0, 0.0);
    for (i, (row, &label)) in logp.chunks(k).zip(labels).enumerate() {
        let w = weights.map_or(1.0, |w| w[i]);
        let predicted = (0..k).fold(0, |best, c| if row[c] > row[best] { c } else { best });
        loss -= w * row[label as usize];
        right += if predicted == label as usize { w } else { 0.0 };
        total += w;
    }
    Ok((loss / total, right / total))
}

/// Cross-validates the multinomial path on `x` (`[n, d]`, on its device), class indices `labels`
/// into `classes` and row weights `weights`, on folds stratified by class.
pub fn cross_validate(
    x: &Tensor,
    labels: &[i64],
    classes: &[String],
    weights: Option<&[f64]>,
    config: &CvConfig,
) -> Result<MulticlassCvResult> {
    config.validate()?;
    let fold = stratified_folds(labels, classes, config.folds, config.seed)?;
    if let Some(weights) = weights {
        check_fold_weights(labels, classes, weights, &fold, config.folds)?;
    }
    cross_validate_folds(x, labels, classes.len(), weights, &fold, config)
}

/// With weights, each fold's held-out rows must weigh something (its scores are weighted means),
/// and each class must weigh something among each fold's training rows (else its probability
/// runs to 0 and the held-out log-loss is infinite).
fn check_fold_weights(labels: &[i64], classes: &[String], weights: &[f64], fold: &[usize], k: usize) -> Result<()> {
    // by_fold[f][c]: the weight of class c's rows in fold f.
    let mut by_fold = vec![vec![0.0f64; classes.len()]; k];
    for ((&l, &w), &f) in labels.iter().zip(weights).zip(fold) {
        by_fold[f][l as usize] += w;
    }
    let refuse = |message| Err(Error::InvalidData { name: "folds", message });
    for (f, held) in by_fold.iter().enumerate() {
        if held.iter().sum::<f64>() <= 0.0 {
            return refuse(format!(
                "fold {} of {k} holds out rows whose weights are all 0: its scores are undefined (use fewer folds)",
                f + 1
            ));
        }
        for (c, class) in classes.iter().enumerate() {
            if by_fold.iter().enumerate().filter(|&(g, _)| g != f).map(|(_, w)| w[c]).sum::<f64>() <= 0.0 {
                return refuse(format!(
                    "fold {} of {k} trains on no row of class `{}` with weight > 0 (its probability would run to 0): use fewer folds",
                    f + 1,
                    shown(class)
                ));
            }
        }
    }
    Ok(())
}

/// [`cross_validate`] on the folds given (`fold[i]` the fold of row i, each below `config.folds`).
pub fn cross_validate_folds(
    x: &Tensor,
    labels: &[i64],
    classes: usize,
    weights: Option<&[f64]>,
    fold: &[usize],
    config: &CvConfig,
) -> Result<MulticlassCvResult> {
    config.validate()?;
    ensure(config.batch_folds != Some(true), "batch_folds", true, "applies to two classes")?;
    ensure(fold.len() == labels.len(), "folds", fold.len(), "must give one fold per row")?;
    ensure(fold.iter().all(|&f| f < config.folds), "folds", config.folds, "exceeds a row's fold")?;
    let standardizer = if config.standardize { Some(Standardizer::fit(x)?) } else { None };
    let x_all = match &standardizer {
        Some(s) => s.apply(x)?,
        None => x.shallow_clone(),
    };
    let lambdas = config.path.grid_below(lambda_max(&x_all, labels, classes, weights, config.path.alpha)?);
    let full = path_at(&x_all, labels, classes, weights, &lambdas, &config.path)?;
    let fold_sizes: Vec<usize> = (0..config.folds).map(|f| fold.iter().filter(|&&g| g == f).count()).collect();

    // Job j takes folds j, j + jobs, …; tensors cross threads by value (tch's Tensor is Send).
    let jobs = config.jobs.min(config.folds);
    let mut work: Vec<Vec<(usize, Tensor)>> = (0..jobs).map(|_| vec![]).collect();
    for f in 0..config.folds {
        work[f % jobs].push((f, x.shallow_clone()));
    }
    let lambdas_ref = &lambdas;
    let results: Vec<Result<Vec<FoldScores>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|items| {
                scope.spawn(move || {
                    items
                        .into_iter()
                        .map(|(f, x)| Ok((f, score_fold(&x, labels, classes, weights, fold, f, lambdas_ref, config)?)))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a fold thread panicked")).collect()
    });
    let mut scores: Vec<Option<Vec<(f64, f64)>>> = vec![None; config.folds];
    for r in results {
        for (f, s) in r? {
            scores[f] = Some(s);
        }
    }
    let fold_scores: Vec<Vec<(f64, f64)>> = scores.into_iter().map(|s| s.expect("every fold scored")).collect();
    let points: Vec<MulticlassCvPoint> = lambdas
        .iter()
        .enumerate()
        .map(|(i, &lambda)| {
            let FoldSummary {
                log_loss: (log_loss_mean, log_loss_std, log_loss_se),
                second: (accuracy_mean, accuracy_std),
            } = fold_summary(&fold_scores, i);
            MulticlassCvPoint {
                lambda,
                nonzero: full[i].nonzero,
                log_loss_mean,
                log_loss_std,
                log_loss_se,
                accuracy_mean,
                accuracy_std,
            }
        })
        .collect();
    let scores: Vec<(f64, f64)> = points.iter().map(|p| (p.log_loss_mean, p.log_loss_se)).collect();
    let (best, one_se) = best_and_one_se(&scores);
    Ok(MulticlassCvResult { points, fold_scores, best, one_se, fold_sizes, full, standardizer })
}

/// A fold's number and its held-out (log-loss, accuracy) at each λ.
type FoldScores = (usize, Vec<(f64, f64)>);

/// Fold `f`'s held-out scores at each λ: the path on the other folds' rows, warm-started.
#[allow(clippy::too_many_arguments)]
fn score_fold(
    x: &Tensor,
    labels: &[i64],
    classes: usize,
    weights: Option<&[f64]>,
    fold: &[usize],
    f: usize,
    lambdas: &[f64],
    config: &CvConfig,
) -> Result<Vec<(f64, f64)>> {
    let rows =
        |held: bool| -> Vec<i64> { (0..fold.len()).filter(|&i| (fold[i] == f) == held).map(|i| i as i64).collect() };
    let (train, held) = (rows(false), rows(true));
    let part = |rows: &[i64]| -> Result<(Tensor, Vec<i64>, Option<Vec<f64>>)> {
        let index = Tensor::f_from_slice(rows)?.f_to_device(x.device())?;
        Ok((
            x.f_index_select(0, &index)?,
            rows.iter().map(|&i| labels[i as usize]).collect(),
            weights.map(|w| rows.iter().map(|&i| w[i as usize]).collect()),
        ))
    };
    let ((mut xt, yt, wt), (mut xh, yh, wh)) = (part(&train)?, part(&held)?);
    if config.standardize {
        let s = Standardizer::fit(&xt)?;
        (xt, xh) = (s.apply(&xt)?, s.apply(&xh)?);
    }
    let points = path_at(&xt, &yt, classes, wt.as_deref(), lambdas, &config.path)?;
    points.iter().map(|p| held_out_scores(&xh, &yh, wh.as_deref(), p)).collect()
}

impl MulticlassCvResult {
    /// The fit on all rows at `chosen` (an index of `points`) as a multinomial model: glmnet's λ
    /// and α mapped to λ₁ = λα and λ₂ = λ(1−α)/2 (an `l1` penalty when α = 1), the intercepts not
    /// penalized, the standardizer of all rows when `config` asked for one.
    pub fn model(
        &self,
        chosen: usize,
        config: &CvConfig,
        classes: Vec<String>,
        feature_names: Vec<String>,
        label_name: String,
    ) -> MulticlassModel {
        let fit = &self.full[chosen];
        let alpha = config.path.alpha;
        let p = Problem::from_glmnet(fit.lambda, alpha);
        let penalty = match alpha == 1.0 {
            true => Penalty::L1 { lambda: p.l1 },
            false => Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 },
        };
        let solver = match config.path.kind {
            SolverKind::Fista => "fista",
            _ => "newton",
        };
        let mut training = TrainingInfo::new(penalty, false, solver, config.seed, config.standardize).solved(
            fit.iterations,
            config.path.solver.tol,
            f64::NAN,
            fit.converged,
        );
        training.multi_class = Some(MultiClass::Multinomial.name().into());
        MulticlassModel {
            classes,
            coef: fit.coef.iter().map(|&w| w as f32).collect(),
            intercept: fit.intercept.iter().map(|&b| b as f32).collect(),
            multi_class: MultiClass::Multinomial,
            feature_names,
            label_name,
            standardizer: self.standardizer.clone(),
            training,
            recipe: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::multinomial;
    use crate::solvers::path::PathConfig;
    use crate::solvers::SolverConfig;
    use tch::Device;

    fn data() -> (Tensor, Vec<i64>) {
        with_seed(9, || {
            let x = Tensor::randn([240, 5], (Kind::Float, Device::Cpu));
            let w =
                Tensor::from_slice(&[1.2f32, -0.8, 0.0, 0.0, 0.0, -1.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0])
                    .view([3, 5]);
            let y = x.mm(&w.tr()).softmax(1, Kind::Float).multinomial(1, false).view([-1]);
            (x, Vec::<i64>::try_from(&y).unwrap())
        })
    }

    fn names() -> Vec<String> {
        ["a", "b", "c"].map(String::from).to_vec()
    }

    #[test]
    fn folds_are_stratified_by_class_and_a_short_class_is_named() {
        let labels: Vec<i64> = (0..47).map(|i| [0, 1, 1, 2, 2, 2][i % 6]).collect();
        let fold = stratified_folds(&labels, &names(), 4, 3).unwrap();
        for c in 0..3 {
            let n = labels.iter().filter(|&&l| l == c).count();
            for f in 0..4 {
                let got = (0..47).filter(|&i| fold[i] == f && labels[i] == c).count();
                assert!(got == n / 4 || got == n.div_ceil(4), "class {c} fold {f}: {got} of {n}");
            }
        }
        assert_eq!(fold, stratified_folds(&labels, &names(), 4, 3).unwrap());
        let e = stratified_folds(&labels[..14], &names(), 5, 0).unwrap_err().to_string();
        assert_eq!(e, "invalid folds: 5 exceeds the rows of class `a` (3): every fold needs a row of each class");
    }

    #[test]
    fn a_fold_without_weight_to_score_or_to_train_a_class_on_is_named() {
        // Rows 0..6: labels a b c a b c; folds 0 1 0 1 0 1.
        let labels = [0, 1, 2, 0, 1, 2];
        let fold = [0, 1, 0, 1, 0, 1];
        assert!(check_fold_weights(&labels, &names(), &[1.0; 6], &fold, 2).is_ok());
        let e = check_fold_weights(&labels, &names(), &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0], &fold, 2).unwrap_err();
        assert!(e.to_string().starts_with("invalid folds: fold 1 of 2 holds out rows whose weights are all 0"), "{e}");
        // Class b weighs something only in fold 0 (row 4): fold 0's training rows have none.
        let e = check_fold_weights(&labels, &names(), &[1.0, 0.0, 1.0, 1.0, 1.0, 1.0], &fold, 2).unwrap_err();
        assert!(e.to_string().starts_with("invalid folds: fold 1 of 2 trains on no row of class `b`"), "{e}");
    }

    /// The fold scores and the chosen λ are those of a brute-force loop: each fold's rows fitted
    /// cold (from zero) at each λ of the grid, scored on the held-out rows by hand.
    #[test]
    fn fold_scores_and_the_choice_match_a_brute_force_loop() {
        let (x, labels) = data();
        let weights: Vec<f64> = (0..labels.len()).map(|i| [1.0, 2.0, 0.5][i % 3]).collect();
        for (alpha, standardize, w) in [(1.0, false, None), (0.5, true, Some(weights.as_slice()))] {
            let path = PathConfig {
                n_lambdas: 6,
                ratio: 1e-2,
                alpha,
                kind: SolverKind::Newton,
                solver: SolverConfig { tol: 1e-10, max_iter: None },
            };
            let config = CvConfig { folds: 3, seed: 1, standardize, path, jobs: 2, batch_folds: None };
            let r = cross_validate(&x, &labels, &names(), w, &config).unwrap();
            let fold = stratified_folds(&labels, &names(), 3, 1).unwrap();
            let mut means = vec![0.0; 6];
            for f in 0..3 {
                let pick =
                    |held: bool| -> Vec<usize> { (0..labels.len()).filter(|&i| (fold[i] == f) == held).collect() };
                let (train, held) = (pick(false), pick(true));
                let rows = |r: &[usize]| Tensor::from_slice(&r.iter().map(|&i| i as i64).collect::<Vec<_>>());
                let (mut xt, mut xh) = (x.index_select(0, &rows(&train)), x.index_select(0, &rows(&held)));
                if standardize {
                    let s = Standardizer::fit(&xt).unwrap();
                    (xt, xh) = (s.apply(&xt).unwrap(), s.apply(&xh).unwrap());
                }
                let yt = Tensor::from_slice(&train.iter().map(|&i| labels[i]).collect::<Vec<_>>());
                let wt: Option<Vec<f64>> = w.map(|w| train.iter().map(|&i| w[i]).collect());
                let xh = Vec::<f64>::try_from(xh.to_kind(Kind::Double).reshape([-1])).unwrap();
                for (i, point) in r.points.iter().enumerate() {
                    let problem = Problem::from_glmnet(point.lambda, alpha);
                    let fit =
                        multinomial::fit(&xt, &yt, 3, wt.as_deref(), problem, SolverKind::Newton, path.solver).unwrap();
                    let (mut loss, mut right, mut total) = (0.0, 0.0, 0.0);
                    for (h, &row) in held.iter().enumerate() {
                        let z: Vec<f64> = (0..3)
                            .map(|c| {
                                fit.coef_of(c).iter().zip(&xh[h * 5..h * 5 + 5]).map(|(a, b)| a * b).sum::<f64>()
                                    + fit.intercept[c]
                            })
                            .collect();
                        let top = z.iter().cloned().fold(f64::MIN, f64::max);
                        let lse = top + z.iter().map(|v| (v - top).exp()).sum::<f64>().ln();
                        let s = w.map_or(1.0, |w| w[row]);
                        loss += s * (lse - z[labels[row] as usize]);
                        let argmax = (0..3).fold(0, |b, c| if z[c] > z[b] { c } else { b });
                        right += if argmax == labels[row] as usize { s } else { 0.0 };
                        total += s;
                    }
                    let (got_loss, got_acc) = r.fold_scores[f][i];
                    assert!((got_loss - loss / total).abs() <= 1e-6, "fold {f} λ {i}: {got_loss} vs {}", loss / total);
                    assert!((got_acc - right / total).abs() <= 1e-12, "fold {f} λ {i}: {got_acc} vs {}", right / total);
                    means[i] += loss / total / 3.0;
                }
            }
            let brute_best = (0..6).min_by(|&a, &b| means[a].total_cmp(&means[b])).unwrap();
            assert_eq!(r.best, brute_best, "{means:?}");
            assert!(r.best > 0, "the null model is not the best: {means:?}");
            for (p, m) in r.points.iter().zip(&means) {
                assert!((p.log_loss_mean - m).abs() <= 1e-6, "{p:?} vs {m}");
            }
            assert!(r.one_se <= r.best);
            assert_eq!(r.fold_sizes.iter().sum::<usize>(), labels.len());
        }
    }

    #[test]
    fn batched_folds_are_refused() {
        let (x, labels) = data();
        let config = CvConfig { batch_folds: Some(true), ..Default::default() };
        let e = cross_validate(&x, &labels, &names(), None, &config).unwrap_err().to_string();
        assert_eq!(e, "invalid batch_folds: true (applies to two classes)");
    }
}
