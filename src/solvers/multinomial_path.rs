//! Regularization paths for K ≥ 3 classes: glmnet's multinomial λ_max from the gradient at the
//! null (intercept-only, weighted) model, the log grid of the two-class path, and multinomial fits
//! warm-started along it. The L1 part is ungrouped (each weight on its own), as scikit-learn's.

use tch::{Device, Kind, Tensor};

use crate::error::{ensure, Error, Result};
use crate::solvers::multinomial::{self, MultinomialFit};
use crate::solvers::path::PathConfig;
use crate::solvers::Problem;

/// One multinomial fit on the path.
#[derive(Clone, Debug, PartialEq)]
pub struct MultinomialPathPoint {
    /// glmnet's λ.
    pub lambda: f64,
    /// The weights `[classes, features]` row-major.
    pub coef: Vec<f64>,
    /// One intercept per class (never penalized; centred over the classes).
    pub intercept: Vec<f64>,
    /// Weights that are not exactly zero.
    pub nonzero: usize,
    /// F: weighted mean cross-entropy + λα‖W‖₁ + λ(1−α)/2‖W‖₂².
    pub objective: f64,
    /// Solver iterations (0 where λ ≥ λ_max: the optimum is known there).
    pub iterations: usize,
    /// Whether the solver reached its tolerance.
    pub converged: bool,
}

impl MultinomialPathPoint {
    /// The known optimum where λ ≥ λ_max: no weights among `d`, the intercepts at the log of
    /// the classes' (weighted) shares `shares`, centred; the objective their entropy.
    fn null(lambda: f64, d: usize, shares: &[f64]) -> Self {
        let logs: Vec<f64> = shares.iter().map(|p| p.ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        Self {
            lambda,
            coef: vec![0.0; d * shares.len()],
            intercept: logs.iter().map(|l| l - mean).collect(),
            nonzero: 0,
            objective: -shares.iter().zip(&logs).map(|(p, l)| p * l).sum::<f64>(),
            iterations: 0,
            converged: true,
        }
    }

    fn solved(lambda: f64, f: MultinomialFit) -> Self {
        Self {
            lambda,
            nonzero: f.coef.iter().filter(|&&w| w != 0.0).count(),
            coef: f.coef,
            intercept: f.intercept,
            objective: f.objective,
            iterations: f.iterations,
            converged: f.converged,
        }
    }
}

/// Each class's share of the total row weight (of the rows, without weights); a class with none
/// is an error naming its index (it has no optimum: its score runs to −∞).
pub(crate) fn class_shares(labels: &[i64], classes: usize, weights: Option<&[f64]>) -> Result<Vec<f64>> {
    if let Some(w) = weights {
        crate::solvers::weights::check_rows(w, labels.len())?;
    }
    let mut totals = vec![0.0f64; classes];
    for (i, &label) in labels.iter().enumerate() {
        let k = usize::try_from(label).ok().filter(|&k| k < classes).ok_or_else(|| Error::InvalidData {
            name: "y",
            message: format!("label {label} at row {} is not a class index below {classes}", i + 1),
        })?;
        totals[k] += weights.map_or(1.0, |w| w[i]);
    }
    if let Some(absent) = totals.iter().position(|&t| t <= 0.0) {
        return Err(Error::InvalidData { name: "y", message: format!("class {absent} has no rows of weight > 0") });
    }
    let total: f64 = totals.iter().sum();
    Ok(totals.iter().map(|t| t / total).collect())
}

/// The smallest glmnet λ at which every weight is zero: max over classes k and features j of
/// |Σᵢ sᵢ(πₖ − [yᵢ = k])xᵢⱼ| / (Σᵢ sᵢ · α), the gradient at W = 0 with the intercepts at their own
/// optimum, where every row's probabilities are the classes' shares π.
pub fn lambda_max(x: &Tensor, labels: &[i64], classes: usize, weights: Option<&[f64]>, alpha: f64) -> Result<f64> {
    let shares = class_shares(labels, classes, weights)?;
    let (n, _) = x.size2()?;
    ensure(labels.len() as i64 == n, "y", labels.len(), "must have one label per row")?;
    let device = x.device();
    let onehot =
        Tensor::f_from_slice(labels)?.f_to_device(device)?.f_one_hot(classes as i64)?.f_to_kind(Kind::Double)?;
    let pi = Tensor::f_from_slice(&shares)?.f_to_device(device)?;
    let mut residual = pi.f_unsqueeze(0)?.f_sub(&onehot)?;
    let total = match weights {
        Some(w) => {
            let s = Tensor::f_from_slice(w)?.f_to_device(device)?;
            residual = residual.f_mul(&s.f_unsqueeze(1)?)?;
            w.iter().sum::<f64>()
        }
        None => n as f64,
    };
    let grad = residual.f_tr()?.f_mm(&x.f_to_kind(Kind::Double)?)?.f_div_scalar(total)?;
    let top = grad.f_abs()?.f_max()?.f_double_value(&[])? / alpha;
    if !top.is_finite() {
        let message = format!("λ_max, the gradient at zero, is {top}: the features' values are too large; scale them");
        return Err(Error::InvalidData { name: "x", message });
    }
    Ok(top)
}

/// The multinomial path of `x` (`[n, d]`, on its device) and class indices `labels` (below
/// `classes`) with row weights (`None`: 1 each), on `config`'s grid from [`lambda_max`].
pub fn path(
    x: &Tensor,
    labels: &[i64],
    classes: usize,
    weights: Option<&[f64]>,
    config: &PathConfig,
) -> Result<Vec<MultinomialPathPoint>> {
    config.validate()?;
    let top = lambda_max(x, labels, classes, weights, config.alpha)?;
    path_at(x, labels, classes, weights, &config.grid_below(top), config)
}

/// As [`path`], at each of `lambdas` (decreasing), each fit warm-started from the one before.
/// Where λ ≥ λ_max of this data the optimum is known and taken as is.
pub fn path_at(
    x: &Tensor,
    labels: &[i64],
    classes: usize,
    weights: Option<&[f64]>,
    lambdas: &[f64],
    config: &PathConfig,
) -> Result<Vec<MultinomialPathPoint>> {
    config.validate()?;
    let shares = class_shares(labels, classes, weights)?;
    let top = lambda_max(x, labels, classes, weights, config.alpha)?;
    let d = x.size2()?.1 as usize;
    let y = Tensor::f_from_slice(labels)?.f_to_device(x.device())?;
    let mut points: Vec<MultinomialPathPoint> = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        let null = MultinomialPathPoint::null(lambda, d, &shares);
        if lambda >= top {
            points.push(null);
            continue;
        }
        let previous = points.last().unwrap_or(&null);
        let start = (previous.coef.as_slice(), previous.intercept.as_slice());
        let problem = Problem::from_glmnet(lambda, config.alpha);
        let f = multinomial::fit_from(x, &y, classes, weights, problem, config.kind, config.solver, start)?;
        points.push(MultinomialPathPoint::solved(lambda, f));
    }
    Ok(points)
}

/// Class probabilities `[n, K]` as log-probabilities on the CPU, for held-out scoring.
pub(crate) fn log_probabilities(x: &Tensor, point: &MultinomialPathPoint) -> Result<Vec<f64>> {
    let k = point.intercept.len() as i64;
    let d = x.size2()?.1;
    let w = Tensor::f_from_slice(&point.coef)?.f_view([k, d])?.f_to_device(x.device())?;
    let b = Tensor::f_from_slice(&point.intercept)?.f_to_device(x.device())?;
    let z = x.f_to_kind(Kind::Double)?.f_mm(&w.f_tr()?)?.f_add(&b)?;
    Ok(Vec::<f64>::try_from(z.f_log_softmax(1, Kind::Double)?.f_reshape([-1])?.f_to_device(Device::Cpu)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;
    use crate::solvers::{SolverConfig, SolverKind};

    /// Three classes of 300 rows with 6 features, two of them noise.
    pub(crate) fn data() -> (Tensor, Vec<i64>) {
        with_seed(5, || {
            let x = Tensor::randn([300, 6], (Kind::Double, Device::Cpu));
            let w = Tensor::from_slice(&[
                1.5, -1.0, 0.0, 0.5, 0.0, 0.0, -1.0, 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.8, 0.7, 0.0, 0.0,
            ])
            .view([3, 6]);
            let p = x.mm(&w.tr()).softmax(1, Kind::Double);
            let y = p.multinomial(1, false).view([-1]);
            (x, Vec::<i64>::try_from(&y).unwrap())
        })
    }

    fn weights(n: usize) -> Vec<f64> {
        (0..n).map(|i| [0.5, 1.0, 2.0, 0.0][i % 4]).collect()
    }

    #[test]
    fn each_point_is_the_cold_fit_at_its_lambda() {
        let (x, labels) = data();
        let y = Tensor::from_slice(&labels);
        let w = weights(labels.len());
        for (alpha, kind, weighted) in
            [(1.0, SolverKind::Newton, false), (0.5, SolverKind::Newton, true), (0.3, SolverKind::Fista, false)]
        {
            let config = PathConfig {
                n_lambdas: 8,
                ratio: 1e-2,
                alpha,
                kind,
                // 1e-9: with the step solved to a tenth of the outer measure, one weighted elastic-net
                // point stalls at 6e-10, where F's rounding hides any further decrease.
                solver: SolverConfig { tol: 1e-9, max_iter: None },
            };
            let w = weighted.then_some(w.as_slice());
            let points = path(&x, &labels, 3, w, &config).unwrap();
            assert_eq!(points.len(), 8);
            let steps: Vec<_> = points.iter().map(|p| (p.converged, p.iterations)).collect();
            assert!(points.iter().all(|p| p.converged), "{alpha} {kind:?}: {steps:?}");
            assert_eq!(points[0].nonzero, 0);
            assert!(
                points[7].nonzero > points[1].nonzero,
                "{:?}",
                points.iter().map(|p| p.nonzero).collect::<Vec<_>>()
            );
            for p in &points[1..] {
                let problem = Problem::from_glmnet(p.lambda, alpha);
                let cold = multinomial::fit(&x, &y, 3, w, problem, kind, config.solver).unwrap();
                let zeros = |c: &[f64]| c.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
                assert_eq!(zeros(&cold.coef), zeros(&p.coef), "α {alpha}, λ {}", p.lambda);
                let rel = (cold.objective - p.objective).abs() / p.objective;
                assert!(rel <= 1e-10, "α {alpha}, λ {}: {} vs {}", p.lambda, cold.objective, p.objective);
            }
            // The null point's objective is the solver's F there.
            let null = &points[0];
            let f = multinomial::objective(
                &x,
                &y,
                3,
                w,
                Problem::from_glmnet(null.lambda, alpha),
                &null.coef,
                &null.intercept,
            )
            .unwrap();
            assert!((f - null.objective).abs() <= 1e-12 * f, "{f} vs {}", null.objective);
        }
    }

    #[test]
    fn lambda_max_is_exactly_where_weights_leave_zero() {
        let (x, labels) = data();
        let y = Tensor::from_slice(&labels);
        let w = weights(labels.len());
        for (alpha, w) in [(1.0, None), (0.5, Some(w.as_slice()))] {
            let top = lambda_max(&x, &labels, 3, w, alpha).unwrap();
            let config = SolverConfig { tol: 1e-10, max_iter: None };
            for kind in [SolverKind::Newton, SolverKind::Fista] {
                // A hair above λ_max: at λ_max itself the largest gradient entry equals the threshold,
                // so rounding in where the intercepts stop decides a ±1e-17 weight either way.
                let above = Problem::from_glmnet(top * (1.0 + 1e-6), alpha);
                let at = multinomial::fit(&x, &y, 3, w, above, kind, config).unwrap();
                assert!(at.coef.iter().all(|&c| c == 0.0), "{kind:?} α {alpha}: {:?}", at.coef);
                let below =
                    multinomial::fit(&x, &y, 3, w, Problem::from_glmnet(0.99 * top, alpha), kind, config).unwrap();
                assert!(below.coef.iter().any(|&c| c != 0.0), "{kind:?} α {alpha}");
            }
        }
    }

    #[test]
    fn a_class_without_weight_is_named() {
        let (x, labels) = data();
        let w: Vec<f64> = labels.iter().map(|&l| if l == 2 { 0.0 } else { 1.0 }).collect();
        let e = path(&x, &labels, 3, Some(&w), &PathConfig::default()).unwrap_err().to_string();
        assert_eq!(e, "invalid y: class 2 has no rows of weight > 0");
    }
}
