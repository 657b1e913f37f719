//! K-fold cross-validation over the regularization path: stratified seeded folds, held-out
//! log-loss and ROC AUC per λ, the best λ and the largest λ within one standard error of it.
//!
//! As glmnet's `cv.glmnet` does: the λ grid comes from all rows; each fold fits the path on the
//! other K−1 folds (standardized with their own statistics when asked, so nothing leaks from the
//! held-out rows) and scores the held-out fold at every λ. Per λ, the mean over folds, the
//! standard deviation across folds and the standard error of the mean (std/√K) are reported;
//! `best` minimises the mean log-loss and `one_se` is the largest λ whose mean is within one
//! standard error of the best.

use tch::{Device, Kind, Tensor};

use crate::data::dataset::Standardizer;
use crate::data::sparse::CsrMatrix;
use crate::error::{ensure, Result};
use crate::model::file::{SavedModel, TrainingInfo};
use crate::model::linear::FittedLogisticRegression;
use crate::model::metrics::roc_auc;
use crate::model::penalty::Penalty;
use crate::seed::with_seed;
use crate::solvers::columns::logloss;
use crate::solvers::path::{path_on, sparse_lambda_max, sparse_path_at, with_columns, PathConfig, PathPoint};
use crate::solvers::{folds, Problem, SolverKind};

/// Settings. Defaults: 5 folds, seed 0, no standardization, the default path, one fold at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CvConfig {
    /// K: the number of folds, at least 2.
    pub folds: usize,
    /// Seeds the assignment of rows to folds.
    pub seed: u64,
    /// Standardize each fit's features with its training rows' mean and std.
    pub standardize: bool,
    /// The λ grid and the solver that fits each λ.
    pub path: PathConfig,
    /// Folds fitted at once, on separate threads (when they are not batched).
    pub jobs: usize,
    /// Solve the folds together, one pass over X serving all of them (proximal Newton only):
    /// `None` picks it where X is on a CUDA device and the solver is Newton.
    pub batch_folds: Option<bool>,
}

impl Default for CvConfig {
    fn default() -> Self {
        Self { folds: 5, seed: 0, standardize: false, path: PathConfig::default(), jobs: 1, batch_folds: None }
    }
}

/// Held-out scores at one λ, over the folds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CvPoint {
    /// glmnet's λ.
    pub lambda: f64,
    /// Non-zero weights of the fit on all rows.
    pub nonzero: usize,
    /// Held-out log-loss: the mean over the folds.
    pub log_loss_mean: f64,
    /// Held-out log-loss: the standard deviation across the folds.
    pub log_loss_std: f64,
    /// std / √K: the standard error of the mean.
    pub log_loss_se: f64,
    /// Held-out ROC AUC: the mean over the folds.
    pub auc_mean: f64,
    /// Held-out ROC AUC: the standard deviation across the folds.
    pub auc_std: f64,
}

/// The cross-validated path and the fit on all rows.
#[derive(Clone, Debug)]
pub struct CvResult {
    /// One per λ of the grid, largest λ first.
    pub points: Vec<CvPoint>,
    /// Index of the λ with the lowest mean held-out log-loss.
    pub best: usize,
    /// Index of the largest λ whose mean log-loss is within one standard error of the best.
    pub one_se: usize,
    /// Rows in each held-out fold.
    pub fold_sizes: Vec<usize>,
    /// The path on all rows (standardized with all rows' statistics when asked): the refit.
    pub full: Vec<PathPoint>,
    /// All rows' mean and std, when `standardize` asked for them (stored in the refit model).
    pub standardizer: Option<Standardizer>,
    /// Whether the folds were solved together.
    pub batched: bool,
}

impl CvResult {
    /// The fit on all rows at `chosen` (an index of `points`) as a model file: glmnet's λ and α
    /// mapped to λ₁ = λα and λ₂ = λ(1−α)/2 (an `l1` penalty when α = 1), the bias not penalized,
    /// the standardizer of all rows when `config` asked for one.
    pub fn model(
        &self,
        chosen: usize,
        config: &CvConfig,
        feature_names: Vec<String>,
        label_name: String,
    ) -> SavedModel {
        let fit = &self.full[chosen];
        let alpha = config.path.alpha;
        let p = Problem::from_glmnet(fit.lambda, alpha);
        let penalty = match alpha == 1.0 {
            true => Penalty::L1 { lambda: p.l1 },
            false => Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 },
        };
        let solver = serde_json::json!(config.path.kind);
        let training =
            TrainingInfo::new(penalty, false, solver.as_str().unwrap_or_default(), config.seed, config.standardize)
                .solved(fit.iterations, config.path.solver.tol, f64::NAN, fit.converged);
        SavedModel {
            model: FittedLogisticRegression::new(fit.coef.iter().map(|&w| w as f32).collect(), fit.intercept as f32),
            feature_names,
            label_name,
            standardizer: self.standardizer.clone(),
            training,
            recipe: None,
        }
    }
}

impl CvConfig {
    /// Checks every setting before any tensor work.
    pub fn validate(&self) -> Result<()> {
        ensure(self.folds >= 2, "folds", self.folds, "must be at least 2")?;
        ensure(self.jobs >= 1, "jobs", self.jobs, "must be at least 1")?;
        if self.batch_folds == Some(true) {
            ensure(self.path.kind == SolverKind::Newton, "batch_folds", true, "needs the newton solver")?;
        }
        self.path.validate()
    }
}

/// The fold (0 … k−1) of each row: each class's rows in a seeded random order (one `randperm` per
/// class, class 0 first), dealt round-robin, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉ of class c.
pub fn stratified_folds(labels: &[f32], k: usize, seed: u64) -> Result<Vec<usize>> {
    let mut fold = vec![0; labels.len()];
    with_seed(seed, || -> Result<()> {
        let mut next = 0;
        for class in [0.0f32, 1.0] {
            let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
            ensure(rows.len() >= k, "folds", k, "exceeds the rows of a class: every fold needs both classes")?;
            let perm = Vec::<i64>::try_from(Tensor::f_randperm(rows.len() as i64, (Kind::Int64, Device::Cpu))?)?;
            for p in perm {
                fold[rows[p as usize]] = next % k;
                next += 1;
            }
        }
        Ok(())
    })?;
    Ok(fold)
}

/// One fold's held-out log-loss and AUC at each λ.
fn score_fold(
    x: &Tensor,
    y: &Tensor,
    train: &Tensor,
    held: &Tensor,
    lambdas: &[f64],
    config: &CvConfig,
) -> Result<Vec<(f64, f64)>> {
    let (mut xt, mut xh) = (x.f_index_select(0, train)?, x.f_index_select(0, held)?);
    if config.standardize {
        let s = Standardizer::fit(&xt)?;
        (xt, xh) = (s.apply(&xt)?, s.apply(&xh)?);
    }
    let points = path_on(&xt, &y.f_index_select(0, train)?, lambdas, &config.path)?;
    let labels = Vec::<f64>::try_from(y.f_index_select(0, held)?.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?)?;
    let labels32: Vec<f32> = labels.iter().map(|&v| v as f32).collect();
    let xh = xh.f_to_kind(Kind::Double)?;
    points
        .iter()
        .map(|p| {
            let w = Tensor::f_from_slice(&p.coef)?.f_to_device(x.device())?;
            let z = Vec::<f64>::try_from(xh.f_mv(&w)?.f_add_scalar(p.intercept)?.f_to_device(Device::Cpu)?)?;
            // logloss(y, z) = log(1 + eᶻ) − y·z, computed stably.
            let loss = z.iter().zip(&labels).map(|(&z, &y)| z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z).sum::<f64>()
                / labels.len() as f64;
            let scores: Vec<f32> = z.iter().map(|&v| v as f32).collect();
            Ok((loss, roc_auc(&scores, &labels32).unwrap_or(f64::NAN)))
        })
        .collect()
}

/// A fold's work for a job's thread: its number, X, y, and its training and held-out row indices.
type FoldJob = (usize, Tensor, Tensor, Tensor, Tensor);

/// A fold's number and its (log-loss, AUC) at each λ.
type FoldScores = (usize, Vec<(f64, f64)>);

/// One grid point's scores across the folds: the held-out log-loss's mean, sample standard
/// deviation (k − 1, as glmnet) and standard error, and the second score's (AUC or accuracy)
/// mean and sample standard deviation.
pub(crate) struct FoldSummary {
    pub log_loss: (f64, f64, f64),
    pub second: (f64, f64),
}

/// The summary of grid point `i` over `scores` (each fold's (log-loss, second score) per point).
pub(crate) fn fold_summary(scores: &[Vec<(f64, f64)>], i: usize) -> FoldSummary {
    let mean_std = |pick: fn(&(f64, f64)) -> f64| {
        let k = scores.len() as f64;
        let mean = scores.iter().map(|s| pick(&s[i])).sum::<f64>() / k;
        let var = scores.iter().map(|s| (pick(&s[i]) - mean).powi(2)).sum::<f64>() / (k - 1.0);
        (mean, var.sqrt())
    };
    let ((loss_mean, loss_std), second) = (mean_std(|s| s.0), mean_std(|s| s.1));
    FoldSummary { log_loss: (loss_mean, loss_std, loss_std / (scores.len() as f64).sqrt()), second }
}

/// The grid point of least mean held-out log-loss, and the largest λ whose mean is within one
/// standard error of it (`scores`: each point's mean and standard error, λ decreasing).
pub(crate) fn best_and_one_se(scores: &[(f64, f64)]) -> (usize, usize) {
    let best = (0..scores.len()).min_by(|&a, &b| scores[a].0.total_cmp(&scores[b].0)).expect("a non-empty grid");
    let limit = scores[best].0 + scores[best].1;
    // λ decreases along the grid: the first point within the limit is the largest such λ.
    let one_se = (0..=best).find(|&i| scores[i].0 <= limit).unwrap_or(best);
    (best, one_se)
}

/// Cross-validates the path on `x` (`[n, d]`) and `y` (`[n]` or `[n, 1]`, 0/1), on their device.
pub fn cross_validate(x: &Tensor, y: &Tensor, config: &CvConfig) -> Result<CvResult> {
    config.validate()?;
    let y = y.f_reshape([-1])?;
    let labels = Vec::<f32>::try_from(y.f_to_kind(Kind::Float)?.f_to_device(Device::Cpu)?)?;
    let fold = stratified_folds(&labels, config.folds, config.seed)?;
    cross_validate_folds(x, &y, &fold, config)
}

/// [`cross_validate`] with the folds given (`fold[i]` the fold of row i, each below
/// `config.folds`): a distributed run's folds, drawn within each shard, in one process (its
/// tests' reference).
pub fn cross_validate_folds(x: &Tensor, y: &Tensor, fold: &[usize], config: &CvConfig) -> Result<CvResult> {
    config.validate()?;
    let y = y.f_reshape([-1])?;
    ensure(fold.len() as i64 == y.size()[0], "folds", fold.len(), "must give one fold per row")?;
    let standardizer = if config.standardize { Some(Standardizer::fit(x)?) } else { None };
    let x_all = match &standardizer {
        Some(s) => s.apply(x)?,
        None => x.shallow_clone(),
    };
    let lambdas = config.path.grid(&x_all, &y)?;
    let full = path_on(&x_all, &y, &lambdas, &config.path)?;

    let fold_sizes: Vec<usize> = (0..config.folds).map(|f| fold.iter().filter(|&&g| g == f).count()).collect();
    let batched = config.batch_folds.unwrap_or(x.device().is_cuda() && config.path.kind == SolverKind::Newton);
    let scores = match batched {
        true => folds::held_out_scores(x, &y, fold, config.folds, &lambdas, config.standardize, &config.path)?,
        false => folds_apart(x, &y, fold, &lambdas, config)?,
    };
    summarize(scores, &lambdas, fold_sizes, full, standardizer, batched)
}

/// Cross-validates the path on the sparse `x` and 0/1 labels `y` with the screened path on X's
/// columns ([`crate::solvers::path::sparse_path`]), the folds on `config.jobs` threads. Sparse
/// data is not standardized (centring would make it dense) and its folds are not batched.
pub fn cross_validate_sparse(x: &CsrMatrix, y: &[f32], config: &CvConfig) -> Result<CvResult> {
    config.validate()?;
    ensure(!config.standardize, "standardize", true, "centring would make sparse data dense; scale it beforehand")?;
    ensure(config.batch_folds != Some(true), "batch_folds", true, "needs dense data and the newton solver")?;
    ensure(y.len() == x.rows(), "y", y.len(), "must have one label per row")?;
    let fold = stratified_folds(y, config.folds, config.seed)?;
    let all = with_columns(x);
    let lambdas = config.path.grid_below(sparse_lambda_max(&all, y, config.path.alpha)?);
    let full = sparse_path_at(&all, y, &lambdas, &config.path)?;
    let fold_sizes: Vec<usize> = (0..config.folds).map(|f| fold.iter().filter(|&&g| g == f).count()).collect();
    let score = |f: usize| -> Result<Vec<(f64, f64)>> {
        let rows = |keep: bool| -> Vec<usize> { (0..fold.len()).filter(|&i| (fold[i] == f) != keep).collect() };
        let (train, held) = (rows(true), rows(false));
        let mut xt = x.select_rows(&train)?;
        xt.ensure_columns();
        let yt: Vec<f32> = train.iter().map(|&i| y[i]).collect();
        let points = sparse_path_at(&xt, &yt, &lambdas, &config.path)?;
        let xh = x.select_rows(&held)?;
        let labels: Vec<f32> = held.iter().map(|&i| y[i]).collect();
        let mut z = vec![0.0; held.len()];
        Ok(points
            .iter()
            .map(|p| {
                xh.mv(&p.coef, &mut z);
                z.iter_mut().for_each(|v| *v += p.intercept);
                let loss = z.iter().zip(&labels).map(|(&z, &y)| logloss(z, y as f64)).sum::<f64>() / held.len() as f64;
                let scores: Vec<f32> = z.iter().map(|&v| v as f32).collect();
                (loss, roc_auc(&scores, &labels).unwrap_or(f64::NAN))
            })
            .collect())
    };
    // Job k takes folds k, k + jobs, …; each thread holds its own fold's copy of X.
    let jobs = config.jobs.min(config.folds);
    let results: Vec<Result<Vec<FoldScores>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|k| {
                let score = &score;
                scope.spawn(move || (k..config.folds).step_by(jobs).map(|f| Ok((f, score(f)?))).collect())
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
    let scores = scores.into_iter().map(|s| s.expect("every fold scored")).collect();
    summarize(scores, &lambdas, fold_sizes, full, None, false)
}

/// Each fold's held-out (log-loss, AUC) per λ, the folds one after another on `config.jobs`
/// threads.
fn folds_apart(
    x: &Tensor,
    y: &Tensor,
    fold: &[usize],
    lambdas: &[f64],
    config: &CvConfig,
) -> Result<Vec<Vec<(f64, f64)>>> {
    let index = |keep: &dyn Fn(usize) -> bool| -> Result<Tensor> {
        let rows: Vec<i64> = (0..fold.len()).filter(|&i| keep(fold[i])).map(|i| i as i64).collect();
        Ok(Tensor::f_from_slice(&rows)?.f_to_device(x.device())?)
    };
    // Each job takes every `jobs`-th fold; tensors cross threads by value (tch's Tensor is Send).
    // More jobs than folds would only be idle threads (and a huge --jobs, a huge allocation).
    let jobs = config.jobs.min(config.folds);
    let mut work: Vec<Vec<FoldJob>> = (0..jobs).map(|_| vec![]).collect();
    for f in 0..config.folds {
        let job = (x.shallow_clone(), y.shallow_clone(), index(&|g| g != f)?, index(&|g| g == f)?);
        work[f % jobs].push((f, job.0, job.1, job.2, job.3));
    }
    let lambdas_ref = lambdas;
    let mut scores: Vec<Option<Vec<(f64, f64)>>> = vec![None; config.folds];
    let results: Vec<Result<Vec<FoldScores>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .into_iter()
            .map(|jobs| {
                scope.spawn(move || {
                    jobs.into_iter()
                        .map(|(f, x, y, train, held)| Ok((f, score_fold(&x, &y, &train, &held, lambdas_ref, config)?)))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a fold thread panicked")).collect()
    });
    for r in results {
        for (f, s) in r? {
            scores[f] = Some(s);
        }
    }
    Ok(scores.into_iter().map(|s| s.expect("every fold scored")).collect())
}

/// The per-λ means and spreads over the folds, the best and one-SE choices.
pub(crate) fn summarize(
    scores: Vec<Vec<(f64, f64)>>,
    lambdas: &[f64],
    fold_sizes: Vec<usize>,
    full: Vec<PathPoint>,
    standardizer: Option<Standardizer>,
    batched: bool,
) -> Result<CvResult> {
    let points: Vec<CvPoint> = lambdas
        .iter()
        .enumerate()
        .map(|(i, &lambda)| {
            let FoldSummary { log_loss: (log_loss_mean, log_loss_std, log_loss_se), second: (auc_mean, auc_std) } =
                fold_summary(&scores, i);
            CvPoint { lambda, nonzero: full[i].nonzero, log_loss_mean, log_loss_std, log_loss_se, auc_mean, auc_std }
        })
        .collect();
    let (best, one_se) = best_and_one_se(&points.iter().map(|p| (p.log_loss_mean, p.log_loss_se)).collect::<Vec<_>>());
    Ok(CvResult { points, best, one_se, fold_sizes, full, standardizer, batched })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> (Tensor, Tensor) {
        with_seed(3, || {
            let x = Tensor::randn([300, 8], (Kind::Float, Device::Cpu));
            let w = Tensor::from_slice(&[1.5f32, -1.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0]);
            (x.shallow_clone(), x.mv(&w).sigmoid().bernoulli())
        })
    }

    #[test]
    fn folds_are_stratified_complete_and_seeded() {
        let labels: Vec<f32> = (0..53).map(|i| if i % 3 == 0 { 1.0 } else { 0.0 }).collect();
        let folds = stratified_folds(&labels, 5, 7).unwrap();
        for f in 0..5 {
            let ones = (0..53).filter(|&i| folds[i] == f && labels[i] == 1.0).count();
            let all = folds.iter().filter(|&&g| g == f).count();
            assert!((3..=4).contains(&ones), "fold {f}: {ones} positives");
            assert!((10..=11).contains(&all), "fold {f}: {all} rows");
        }
        assert_eq!(folds, stratified_folds(&labels, 5, 7).unwrap());
        assert_ne!(folds, stratified_folds(&labels, 5, 8).unwrap());
        let e = stratified_folds(&labels[..6], 5, 0).unwrap_err().to_string();
        assert!(e.starts_with("invalid folds: 5 (exceeds the rows of a class"), "{e}");
    }

    #[test]
    fn cross_validation_prefers_a_sparse_model_and_one_se_is_simpler() {
        let (x, y) = data();
        let config = CvConfig { path: PathConfig { n_lambdas: 20, ..Default::default() }, ..Default::default() };
        let r = cross_validate(&x, &y, &config).unwrap();
        assert_eq!(r.points.len(), 20);
        assert_eq!(r.fold_sizes.iter().sum::<usize>(), 300);
        let (best, one_se) = (&r.points[r.best], &r.points[r.one_se]);
        // The null model (at λ_max) predicts worse than the chosen one, whose AUC is high.
        assert!(best.log_loss_mean < r.points[0].log_loss_mean - 0.1, "{best:?}");
        assert!(best.auc_mean > 0.8, "{best:?}");
        assert!(one_se.lambda >= best.lambda && one_se.nonzero <= best.nonzero);
        assert!(one_se.log_loss_mean <= best.log_loss_mean + best.log_loss_se);
        // The true model has 3 effects: the one-SE model keeps them and few others.
        let refit = &r.full[r.one_se];
        assert!(refit.coef[..3].iter().all(|&w| w != 0.0), "{:?}", refit.coef);
        assert!(refit.nonzero <= 6, "{:?}", refit.coef);
    }

    #[test]
    fn parallel_folds_give_the_serial_numbers() {
        let (x, y) = data();
        let path = PathConfig { n_lambdas: 8, ..Default::default() };
        let serial = cross_validate(&x, &y, &CvConfig { path, ..Default::default() }).unwrap();
        let parallel = cross_validate(&x, &y, &CvConfig { path, jobs: 3, ..Default::default() }).unwrap();
        let huge = cross_validate(&x, &y, &CvConfig { path, jobs: usize::MAX, ..Default::default() }).unwrap();
        for (a, b) in huge.points.iter().zip(&parallel.points) {
            assert!((a.log_loss_mean - b.log_loss_mean).abs() <= 1e-12, "jobs past the folds: {a:?} vs {b:?}");
        }
        for (a, b) in serial.points.iter().zip(&parallel.points) {
            assert!((a.log_loss_mean - b.log_loss_mean).abs() <= 1e-12, "{a:?} vs {b:?}");
        }
        assert_eq!((serial.best, serial.one_se), (parallel.best, parallel.one_se));
    }

    /// The folds solved together give the numbers of the folds one after another (each to the
    /// solver's tolerance), for the lasso and Elastic Net, standardized or not, and with a row
    /// count past the Hessian's sampling threshold.
    #[test]
    fn batched_folds_give_the_sequential_numbers() {
        let (x, y) = data();
        let big = with_seed(4, || {
            let x = Tensor::randn([70_000, 5], (Kind::Float, Device::Cpu));
            let w = Tensor::from_slice(&[1.0f32, -0.5, 0.0, 0.3, 0.0]);
            (x.shallow_clone(), (x.mv(&w) + 0.2).sigmoid().bernoulli())
        });
        for (x, y, alpha, standardize, lambdas) in
            [(&x, &y, 1.0, false, 12), (&x, &y, 0.5, true, 12), (&big.0, &big.1, 0.8, true, 4)]
        {
            let path = PathConfig { n_lambdas: lambdas, alpha, ..Default::default() };
            let config =
                |batch| CvConfig { path, standardize, batch_folds: Some(batch), folds: 4, ..Default::default() };
            let (apart, together) =
                (cross_validate(x, y, &config(false)).unwrap(), cross_validate(x, y, &config(true)).unwrap());
            assert!(together.batched && !apart.batched);
            for (a, b) in apart.points.iter().zip(&together.points) {
                assert_eq!(a.lambda, b.lambda);
                assert!((a.log_loss_mean - b.log_loss_mean).abs() <= 1e-7, "α {alpha}: {a:?} vs {b:?}");
                assert!((a.log_loss_std - b.log_loss_std).abs() <= 1e-6, "α {alpha}: {a:?} vs {b:?}");
                assert!((a.auc_mean - b.auc_mean).abs() <= 1e-4, "α {alpha}: {a:?} vs {b:?}");
            }
            assert_eq!((apart.best, apart.one_se), (together.best, together.one_se));
        }
        let fista = CvConfig {
            path: PathConfig { kind: SolverKind::Fista, ..Default::default() },
            batch_folds: Some(true),
            ..Default::default()
        };
        let e = cross_validate(&x, &y, &fista).unwrap_err().to_string();
        assert!(e.starts_with("invalid batch_folds: true (needs the newton solver"), "{e}");
    }

    #[test]
    fn sparse_cross_validation_is_the_dense_one_and_refuses_standardizing() {
        let (x, y) = data();
        let csr = CsrMatrix::from_dense(&x).unwrap();
        let labels = Vec::<f32>::try_from(&y).unwrap();
        let path = PathConfig { n_lambdas: 10, kind: SolverKind::NewtonCd, ..Default::default() };
        let sparse = cross_validate_sparse(&csr, &labels, &CvConfig { path, jobs: 2, ..Default::default() }).unwrap();
        let newton = PathConfig { kind: SolverKind::Newton, ..path };
        let dense = cross_validate(&x, &y, &CvConfig { path: newton, ..Default::default() }).unwrap();
        assert_eq!(sparse.fold_sizes, dense.fold_sizes);
        for (a, b) in sparse.points.iter().zip(&dense.points) {
            assert_eq!((a.lambda, a.nonzero), (b.lambda, b.nonzero));
            assert!((a.log_loss_mean - b.log_loss_mean).abs() <= 1e-7, "{a:?} vs {b:?}");
            assert!((a.auc_mean - b.auc_mean).abs() <= 1e-6, "{a:?} vs {b:?}");
        }
        let standardize = CvConfig { path, standardize: true, ..Default::default() };
        let e = cross_validate_sparse(&csr, &labels, &standardize).unwrap_err().to_string();
        assert!(e.starts_with("invalid standardize: true (centring would make sparse data dense"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        let (x, y) = data();
        for (config, expected) in [
            (CvConfig { folds: 1, ..Default::default() }, "invalid folds: 1"),
            (CvConfig { jobs: 0, ..Default::default() }, "invalid jobs: 0"),
        ] {
            let e = cross_validate(&x, &y, &config).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e}");
        }
    }
}
