//! Paths on X's columns (sparse or dense) with glmnet's sequential strong rule: at each λ only the
//! features the rule keeps enter the solve (newton-cd or tron, warm-started), then a KKT check over
//! every left-out feature adds back any whose gradient breaks the optimality condition and solves
//! again, so the screened path is the unscreened one.
//!
//! The rule (Tibshirani et al. 2012, glmnet): at λₖ keep feature j when its weight at λₖ₋₁ is
//! non-zero or |∇ⱼL(θₖ₋₁)| ≥ α(2λₖ − λₖ₋₁), L the mean log-loss. A left-out feature's weight is
//! 0, so the KKT condition it must meet at the solution is |∇ⱼL(θₖ)| ≤ λₖα.

use std::ops::ControlFlow;

use crate::error::{Error, Result};
use crate::solvers::columns::{sigmoid, Columns};
use crate::solvers::path::{PathConfig, PathPoint};
use crate::solvers::{solve_columns, Problem};

/// ∇L at θ = [w; b] for the weights, one pass over X: Xᵀ(σ(Xw + b) − y)/n.
fn loss_gradient(x: &Columns, y: &[f64], theta: &[f64]) -> Vec<f64> {
    let d = x.cols();
    let z = x.scores(&theta[..d], theta[d]);
    let residual: Vec<f64> = z.iter().zip(y).map(|(&z, &y)| sigmoid(z) - y).collect();
    let n = y.len() as f64;
    x.transpose_times(&residual).into_iter().map(|g| g / n).collect()
}

/// The smallest λ at which every weight is 0: max_j |(1/n)·Σᵢ xᵢⱼ(yᵢ − ȳ)| / α.
pub(crate) fn lambda_max(x: &Columns, y: &[f64], alpha: f64) -> Result<f64> {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let centred: Vec<f64> = y.iter().map(|&v| v - mean).collect();
    let n = y.len() as f64;
    let top = x.transpose_times(&centred).iter().fold(0.0f64, |m, g| m.max((g / n).abs())) / alpha;
    if !top.is_finite() {
        let message = format!("λ_max, the gradient at zero, is {top}: the features' values are too large; scale them");
        return Err(Error::InvalidData { name: "x", message });
    }
    Ok(top)
}

/// The path of `x`, `y` (0/1) at each of `lambdas` (decreasing), screened; points at λ ≥ λ_max
/// are the null model, as in [`crate::solvers::path`].
pub(crate) fn screened_path(x: &Columns, y: &[f64], lambdas: &[f64], config: &PathConfig) -> Result<Vec<PathPoint>> {
    let d = x.cols();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let alpha = config.alpha;
    let top = lambda_max(x, y, alpha)?;
    let null =
        |lambda| PathPoint { screened_out: Some(d), kkt_violations: Some(0), ..PathPoint::null(lambda, d, mean) };
    let mut points: Vec<PathPoint> = Vec::with_capacity(lambdas.len());
    // The previous point's θ, λ and loss gradient (at the null model: the gradient λ_max comes from).
    let mut theta = [vec![0.0; d], vec![(mean / (1.0 - mean)).ln()]].concat();
    let mut previous_lambda = top;
    let mut gradient = loss_gradient(x, y, &theta);
    // ∇L at θ = 0, for the whole problem's optimality measure there (see `solve_columns`).
    let at_zero = loss_gradient(x, y, &vec![0.0; d + 1]);
    let bias_at_zero = 0.5 - mean;
    for &lambda in lambdas {
        if lambda >= top {
            points.push(null(lambda));
            continue;
        }
        let threshold = alpha * (2.0 * lambda - previous_lambda);
        let mut keep: Vec<usize> = (0..d).filter(|&j| theta[j] != 0.0 || gradient[j].abs() >= threshold).collect();
        let problem = Problem::from_glmnet(lambda, alpha);
        let (mut violations, mut iterations) = (0, 0);
        let soft = |g: f64| (g.abs() - problem.l1).max(0.0);
        let reference = (at_zero.iter().map(|&g| soft(g).powi(2)).sum::<f64>() + bias_at_zero.powi(2)).sqrt();
        let solution = loop {
            let subset = Columns::Subset { x, keep: &keep };
            let coef: Vec<f64> = keep.iter().map(|&j| theta[j]).collect();
            let start = Some((coef.as_slice(), theta[d]));
            let none = &mut |_, _| ControlFlow::Continue(());
            let s = solve_columns(&subset, y, problem, config.kind, config.solver, start, Some(reference), none)?;
            iterations += s.iterations;
            theta.iter_mut().take(d).for_each(|t| *t = 0.0);
            keep.iter().zip(&s.coef).for_each(|(&j, &w)| theta[j] = w);
            theta[d] = s.intercept;
            gradient = loss_gradient(x, y, &theta);
            // KKT over the left-out features (their weights are 0): |∇ⱼL| ≤ λα.
            let mut kept = vec![false; d];
            keep.iter().for_each(|&j| kept[j] = true);
            let violators: Vec<usize> = (0..d).filter(|&j| !kept[j] && gradient[j].abs() > lambda * alpha).collect();
            if violators.is_empty() {
                break s;
            }
            violations += violators.len();
            keep.extend(violators);
            keep.sort_unstable();
        };
        previous_lambda = lambda;
        points.push(PathPoint {
            lambda,
            nonzero: theta[..d].iter().filter(|&&w| w != 0.0).count(),
            coef: theta[..d].to_vec(),
            intercept: theta[d],
            objective: solution.objective,
            iterations,
            converged: solution.converged,
            screened_out: Some(d - keep.len()),
            kkt_violations: Some(violations),
        });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use crate::data::sparse::CsrMatrix;
    use crate::seed::with_seed;
    use crate::solvers::path::{path, sparse_path, PathConfig, PathPoint};
    use crate::solvers::SolverKind;

    /// The screened path is the unscreened one: each λ's objective to the solvers' tolerance, and
    /// the same zeros.
    fn assert_same_path(screened: &[PathPoint], reference: &[PathPoint]) {
        assert_eq!(screened.len(), reference.len());
        for (s, r) in screened.iter().zip(reference) {
            assert_eq!(s.lambda, r.lambda);
            assert!(
                s.converged && r.converged,
                "λ {}: screened {} ({} iterations), reference {}",
                s.lambda,
                s.converged,
                s.iterations,
                r.converged
            );
            let gap = (s.objective - r.objective).abs() / r.objective;
            assert!(gap <= 1e-9, "λ {}: {} vs {} ({gap:e})", s.lambda, s.objective, r.objective);
            let zeros = |p: &PathPoint| p.coef.iter().map(|&w| w == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(s), zeros(r), "λ {}", s.lambda);
        }
    }

    fn labels(y: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(y.to_kind(Kind::Float)).unwrap()
    }

    #[test]
    fn the_sparse_path_is_the_dense_newton_path_and_the_rule_discards_noise() {
        let (x, y) = with_seed(8, || {
            let keep = Tensor::rand([300, 60], (Kind::Float, Device::Cpu)).lt(0.3).to_kind(Kind::Float);
            let x = Tensor::randn([300, 60], (Kind::Float, Device::Cpu)) * keep;
            let w = Tensor::cat(
                &[Tensor::from_slice(&[2.0f32, -2.0, 1.5]), Tensor::zeros([57], (Kind::Float, Device::Cpu))],
                0,
            );
            (x.shallow_clone(), (x.mv(&w) + 0.2).sigmoid().bernoulli())
        });
        for alpha in [1.0, 0.6] {
            let config = PathConfig { n_lambdas: 25, ratio: 0.02, alpha, ..Default::default() };
            let reference = path(&x, &y, &config).unwrap();
            let sparse_config = PathConfig { kind: SolverKind::NewtonCd, ..config };
            let csr = CsrMatrix::from_dense(&x).unwrap();
            let screened = sparse_path(&csr, &labels(&y), &sparse_config).unwrap();
            assert_same_path(&screened, &reference);
            // Dense data through newton-cd takes the same screened route.
            assert_same_path(&path(&x, &y, &sparse_config).unwrap(), &reference);
            // Below λ_max, where the noise features are still out, the rule keeps them out of the solve.
            let early = &screened[1..8];
            assert!(
                early.iter().all(|p| p.screened_out.unwrap() >= 40),
                "{:?}",
                early.iter().map(|p| p.screened_out).collect::<Vec<_>>()
            );
            assert!(screened.iter().all(|p| p.screened_out.unwrap() + p.nonzero <= 60));
            assert!(reference.iter().all(|p| p.screened_out.is_none()));
        }
    }

    /// A suppressor: x₁ is pure noise e, uncorrelated with y, and x₀ = s + e/10 with y from s.
    /// As x₀'s weight grows the gradient of x₁ grows faster than λ falls (by cov(x₀, x₁)/var(x₀) ≈ 5),
    /// which breaks the strong rule's assumption: the KKT check must catch x₁.
    #[test]
    fn kkt_violations_of_the_strong_rule_are_caught() {
        let (x, y) = with_seed(2, || {
            let s = Tensor::randn([2000], (Kind::Double, Device::Cpu));
            let e = Tensor::randn([2000], (Kind::Double, Device::Cpu)) * 10.0;
            let noise = Tensor::randn([2000, 3], (Kind::Double, Device::Cpu));
            let x = Tensor::cat(&[Tensor::stack(&[&s + &e * 0.1, e.shallow_clone()], 1), noise], 1);
            (x.to_kind(Kind::Float), (s * 3.0).sigmoid().bernoulli())
        });
        let config = PathConfig { n_lambdas: 40, ratio: 1e-3, kind: SolverKind::NewtonCd, ..Default::default() };
        let csr = CsrMatrix::from_dense(&x).unwrap();
        let screened = sparse_path(&csr, &labels(&y), &config).unwrap();
        let violations: usize = screened.iter().map(|p| p.kkt_violations.unwrap()).sum();
        assert!(
            violations >= 1,
            "{:?}",
            screened.iter().map(|p| (p.nonzero, p.screened_out, p.kkt_violations)).collect::<Vec<_>>()
        );
        let reference = path(&x, &y, &PathConfig { kind: SolverKind::Newton, ..config }).unwrap();
        assert_same_path(&screened, &reference);
        assert!(screened.last().unwrap().coef[1] != 0.0, "x₁ enters the path");
    }
}
