//! Regularization paths: glmnet's λ on a log grid from λ_max (the smallest λ at which every weight
//! is zero) down to λ_max·ratio, each fit warm-started from the previous one.

use std::ops::ControlFlow;

use tch::{Kind, Tensor};

use crate::data::sparse::CsrMatrix;
use crate::error::{ensure, Result};
use crate::solvers::columns::Columns;
use crate::solvers::screen::{self, screened_path};
use crate::solvers::{solve_design, Design, Problem, SolverConfig, SolverKind};

/// The most λ values a path takes.
pub(crate) const MAX_LAMBDAS: usize = 100_000;

/// The grid, the mixing and the solver. Defaults: 50 values of λ down to λ_max·1e-3, α = 1 (the
/// lasso), proximal Newton.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathConfig {
    /// How many values of λ, 2 to 100 000.
    pub n_lambdas: usize,
    /// λ_min / λ_max.
    pub ratio: f64,
    /// glmnet's α in (0, 1]: the L1 share of the penalty.
    pub alpha: f64,
    /// Which exact solver fits each λ.
    pub kind: SolverKind,
    /// The stopping rule of each fit.
    pub solver: SolverConfig,
}

impl Default for PathConfig {
    fn default() -> Self {
        Self { n_lambdas: 50, ratio: 1e-3, alpha: 1.0, kind: SolverKind::Newton, solver: SolverConfig::default() }
    }
}

/// One fit on the path.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PathPoint {
    /// glmnet's λ.
    pub lambda: f64,
    /// The weights, one per feature.
    pub coef: Vec<f64>,
    /// The bias (never penalized).
    pub intercept: f64,
    /// Weights that are not exactly zero.
    pub nonzero: usize,
    /// F in the solver's form (mean logloss + λα‖w‖₁ + λ(1−α)/2‖w‖₂²).
    pub objective: f64,
    /// Solver iterations (0 where λ ≥ λ_max: the optimum is known there).
    pub iterations: usize,
    /// Whether the solver reached its tolerance.
    pub converged: bool,
    /// Features the strong rule kept out of the solve at this λ (screened paths: tron, newton-cd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screened_out: Option<usize>,
    /// Left-out features the KKT check found violating the optimality condition, added back
    /// before solving again (screened paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kkt_violations: Option<usize>,
}

impl PathPoint {
    /// The known optimum where λ ≥ λ_max: no weights among `d`, the intercept at the log-odds
    /// of the labels' mean `mean`, the objective their entropy.
    pub(crate) fn null(lambda: f64, d: usize, mean: f64) -> Self {
        Self {
            lambda,
            coef: vec![0.0; d],
            intercept: (mean / (1.0 - mean)).ln(),
            nonzero: 0,
            objective: -(mean * mean.ln() + (1.0 - mean) * (1.0 - mean).ln()),
            iterations: 0,
            converged: true,
            screened_out: None,
            kkt_violations: None,
        }
    }

    /// The point a solver's solution `s` makes at `lambda` (no screening).
    pub(crate) fn solved(lambda: f64, s: crate::solvers::Solution) -> Self {
        Self {
            lambda,
            nonzero: s.coef.iter().filter(|&&w| w != 0.0).count(),
            coef: s.coef,
            intercept: s.intercept,
            objective: s.objective,
            iterations: s.iterations,
            converged: s.converged,
            screened_out: None,
            kkt_violations: None,
        }
    }
}

/// The smallest glmnet λ at which every weight is zero: max_j |(1/N)·Σᵢ xᵢⱼ(yᵢ − ȳ)| / α, the
/// gradient at w = 0 with the intercept at its own optimum, the log-odds of ȳ.
pub(crate) fn lambda_max(x: &Tensor, y: &Tensor, alpha: f64) -> Result<f64> {
    let x = x.f_to_kind(Kind::Double)?;
    let y = y.f_to_kind(Kind::Double)?.f_reshape([-1])?;
    let centered = y.f_sub(&y.f_mean(Kind::Double)?)?;
    let grad = x.f_tr()?.f_mv(&centered)?.f_div_scalar(x.size()[0] as f64)?;
    let top = grad.f_abs()?.f_max()?.f_double_value(&[])? / alpha;
    if !top.is_finite() {
        let message = format!("λ_max, the gradient at zero, is {top}: the features' values are too large; scale them");
        return Err(crate::error::Error::InvalidData { name: "x", message });
    }
    Ok(top)
}

impl PathConfig {
    /// Checks every setting before any tensor work.
    pub(crate) fn validate(&self) -> Result<()> {
        ensure(self.n_lambdas >= 2, "n_lambdas", self.n_lambdas, "must be at least 2")?;
        // Each λ is a fit and a row of the output: past this a path is a typo, not a plan.
        ensure(self.n_lambdas <= MAX_LAMBDAS, "n_lambdas", self.n_lambdas, "must be at most 100000")?;
        ensure(self.ratio > 0.0 && self.ratio < 1.0, "ratio", self.ratio, "must be between 0 and 1, exclusive")?;
        ensure(self.alpha > 0.0 && self.alpha <= 1.0, "alpha", self.alpha, "must be in (0, 1]: a path needs an L1 part")
    }

    /// The log grid of λ for `x`, `y`: λ_max·ratio^(k/(n−1)), k = 0 … n−1.
    pub(crate) fn grid(&self, x: &Tensor, y: &Tensor) -> Result<Vec<f64>> {
        self.validate()?;
        Ok(self.grid_below(lambda_max(x, y, self.alpha)?))
    }

    /// The log grid from `top`: top·ratio^(k/(n−1)), k = 0 … n−1.
    pub(crate) fn grid_below(&self, top: f64) -> Vec<f64> {
        (0..self.n_lambdas).map(|k| top * self.ratio.powf(k as f64 / (self.n_lambdas - 1) as f64)).collect()
    }
}

/// Fits the whole path on `x`, `y` (on their device), the bias unpenalized.
pub fn path(x: &Tensor, y: &Tensor, config: &PathConfig) -> Result<Vec<PathPoint>> {
    config.validate()?;
    let labels = Vec::<f64>::try_from(y.f_to_kind(Kind::Double)?.f_reshape([-1])?.f_to_device(tch::Device::Cpu)?)?;
    ensure(labels.contains(&0.0) && labels.contains(&1.0), "labels", "one class", "must hold both 0 and 1")?;
    path_on(x, y, &config.grid(x, y)?, config)
}

/// Fits `x`, `y` at each of `lambdas` (decreasing), warm-started, with `config`'s α and solver.
/// Where λ ≥ λ_max of this data the optimum is known and taken as is: no weights, the intercept at
/// the log-odds of ȳ (solving there would only add rounding noise at the threshold).
pub(crate) fn path_on(x: &Tensor, y: &Tensor, lambdas: &[f64], config: &PathConfig) -> Result<Vec<PathPoint>> {
    config.validate()?;
    let labels = Vec::<f64>::try_from(y.f_to_kind(Kind::Double)?.f_reshape([-1])?.f_to_device(tch::Device::Cpu)?)?;
    let mean = labels.iter().sum::<f64>() / labels.len() as f64;
    ensure(mean > 0.0 && mean < 1.0, "labels", "one class", "must hold both 0 and 1")?;
    let top = lambda_max(x, y, config.alpha)?;
    let null = |lambda| PathPoint::null(lambda, x.size()[1] as usize, mean);
    if matches!(config.kind, SolverKind::Tron | SolverKind::NewtonCd) {
        let columns = Columns::dense(x)?;
        return screened_path(&columns, &labels, lambdas, config);
    }
    let design = Design::new(x, config.kind)?;
    let mut points: Vec<PathPoint> = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        if lambda >= top {
            points.push(null(lambda));
            continue;
        }
        let previous = points.last().cloned().unwrap_or_else(|| null(lambda));
        let start = Some((previous.coef.as_slice(), previous.intercept));
        let problem = Problem::from_glmnet(lambda, config.alpha);
        let s =
            solve_design(
                &design,
                y,
                problem,
                config.kind,
                config.solver,
                start,
                &mut |_, _| ControlFlow::Continue(()),
            )?;
        points.push(PathPoint::solved(lambda, s));
    }
    Ok(points)
}

/// The path of the sparse `x` and 0/1 labels `y` on `config`'s grid, solved on X's columns with the
/// strong rule ([`screen`]); `config.kind` must be `newton-cd` (or `tron`, which refuses the L1
/// part every path has).
pub fn sparse_path(x: &CsrMatrix, y: &[f32], config: &PathConfig) -> Result<Vec<PathPoint>> {
    config.validate()?;
    let top = sparse_lambda_max(x, y, config.alpha)?;
    sparse_path_at(x, y, &config.grid_below(top), config)
}

/// As [`sparse_path`], at each of `lambdas` (decreasing).
pub fn sparse_path_at(x: &CsrMatrix, y: &[f32], lambdas: &[f64], config: &PathConfig) -> Result<Vec<PathPoint>> {
    config.validate()?;
    ensure(
        matches!(config.kind, SolverKind::Tron | SolverKind::NewtonCd),
        "solver",
        format!("{:?}", config.kind).to_lowercase(),
        "a sparse path solves on X's columns: newton-cd",
    )?;
    ensure(y.len() == x.rows(), "y", y.len(), "must have one label per row")?;
    let labels: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    ensure(labels.contains(&0.0) && labels.contains(&1.0), "labels", "one class", "must hold both 0 and 1")?;
    let x = with_columns(x);
    screened_path(&Columns::sparse(&x), &labels, lambdas, config)
}

/// glmnet's λ_max for the sparse `x` and 0/1 labels `y`.
pub fn sparse_lambda_max(x: &CsrMatrix, y: &[f32], alpha: f64) -> Result<f64> {
    ensure(y.len() == x.rows(), "y", y.len(), "must have one label per row")?;
    let labels: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    screen::lambda_max(&Columns::sparse(&with_columns(x)), &labels, alpha)
}

/// `x` with its CSC copy: itself when it has one, else a copy that does.
pub(crate) fn with_columns(x: &CsrMatrix) -> std::borrow::Cow<'_, CsrMatrix> {
    if x.columns().is_some() {
        return std::borrow::Cow::Borrowed(x);
    }
    let mut copy = x.clone();
    copy.ensure_columns();
    std::borrow::Cow::Owned(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;
    use crate::solvers::solve;
    use tch::Device;

    fn data() -> (Tensor, Tensor) {
        with_seed(21, || {
            let x = Tensor::randn([400, 10], (Kind::Double, Device::Cpu));
            let w = Tensor::from_slice(&[2.0, -1.5, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]);
            (x.shallow_clone(), x.mv(&w).sigmoid().bernoulli())
        })
    }

    #[test]
    fn the_path_starts_empty_fills_in_and_matches_cold_fits() {
        let (x, y) = data();
        let config = PathConfig { n_lambdas: 20, ..Default::default() };
        let points = path(&x, &y, &config).unwrap();
        assert_eq!(points.len(), 20);
        assert!(points.iter().all(|p| p.converged));
        assert_eq!(points[0].nonzero, 0, "every weight is zero at λ_max");
        assert!(points[1].nonzero >= 1, "one enters just below λ_max");
        assert_eq!(points[19].nonzero, 10, "all enter near λ_max·1e-3");
        assert!(points.windows(2).all(|w| w[1].lambda < w[0].lambda));
        // The strongest true effect enters first.
        let first = points.iter().find(|p| p.nonzero > 0).unwrap();
        assert!(first.coef[0] != 0.0, "{:?}", first.coef);
        // A warm-started point is the cold-started optimum.
        let p = &points[10];
        let cold =
            solve(&x, &y, Problem::from_glmnet(p.lambda, 1.0), SolverKind::Fista, SolverConfig::default()).unwrap();
        assert!((cold.objective - p.objective).abs() <= 1e-9 * p.objective, "{} vs {}", cold.objective, p.objective);
    }

    #[test]
    fn lambda_max_is_exactly_where_weights_leave_zero() {
        let (x, y) = data();
        let top = lambda_max(&x, &y, 1.0).unwrap();
        let above =
            solve(&x, &y, Problem::from_glmnet(top * 1.001, 1.0), SolverKind::Fista, SolverConfig::default()).unwrap();
        assert!(above.coef.iter().all(|&w| w == 0.0));
        let below =
            solve(&x, &y, Problem::from_glmnet(top * 0.99, 1.0), SolverKind::Fista, SolverConfig::default()).unwrap();
        assert!(below.coef.iter().any(|&w| w != 0.0));
        assert!((lambda_max(&x, &y, 0.5).unwrap() - 2.0 * top).abs() < 1e-12);
    }

    #[test]
    fn bad_grids_are_rejected_by_name() {
        let (x, y) = data();
        for (config, expected) in [
            (PathConfig { n_lambdas: 1, ..Default::default() }, "invalid n_lambdas: 1"),
            (
                PathConfig { n_lambdas: usize::MAX, ..Default::default() },
                "invalid n_lambdas: 18446744073709551615 (must be at most 100000)",
            ),
            (PathConfig { ratio: 1.0, ..Default::default() }, "invalid ratio: 1"),
            (PathConfig { alpha: 0.0, ..Default::default() }, "invalid alpha: 0"),
        ] {
            let e = path(&x, &y, &config).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e}");
        }
    }
}
