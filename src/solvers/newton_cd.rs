//! `newton-cd`: proximal Newton in the manner of newGLMNET (Yuan, Ho & Lin 2012, liblinear's L1
//! logistic regression), for L1, Elastic Net and L2. Each outer iteration takes the full gradient
//! (one pass), picks the active set (weights non-zero or whose gradient breaks the L1 optimality
//! condition by more than the last iteration's largest violation allowed: shrinking), and
//! minimises the quadratic model plus λ₁‖·‖₁ over it by cyclic coordinate descent on X's columns,
//! keeping X·Δ up to date: a sweep costs the active columns' non-zeros, never a d×d Hessian. An
//! Armijo search on F along Δ uses the scores z + t·X·Δ, so it reads X no more.
//! Distributed (`o.reduce`, each rank holding some rows), every sum over rows is summed over the
//! ranks, so every rank takes the same steps: the gradient and the line search's loss; then
//! either the active set's Hessian [X_A 1]ᵀD[X_A 1] once ([`Gram`], when (|A|+1)² ≤ d+1), on
//! which every rank runs the CD without communicating, or else the Hessian's diagonal (|A|+1
//! values) and each coordinate's (H·Δ)ⱼ (one value per coordinate step: the CD is sequential).
//! Either way an outer iteration sends O(d) values per sweep.

use crate::error::Result;
use crate::solvers::columns::{logloss, Objective};
use crate::solvers::tron::done;
use crate::solvers::{observe, Observer, Solution};

/// Soft-thresholding.
#[inline]
fn soft(v: f64, threshold: f64) -> f64 {
    v.signum() * (v.abs() - threshold).max(0.0)
}

/// The active set's Hessian pieces over every rank's rows, G = [X_A 1]ᵀ D [X_A 1] ((|A|+1)²
/// values, the bias last), summed over the ranks once; the CD then keeps G·Δ from it, reading
/// neither X nor the network.
struct Gram {
    size: usize,
    /// Row-major and symmetric.
    g: Vec<f64>,
    /// G·Δ over the active set and the bias.
    hd: Vec<f64>,
}

impl Gram {
    fn new(o: &Objective, active: &[usize], curvature: &[f64]) -> Self {
        let (m, size) = (active.len(), active.len() + 1);
        let mut g = vec![0.0; size * size];
        let mut weighted = vec![0.0; curvature.len()];
        for (l, &jl) in active.iter().enumerate() {
            // D·x_l, then each earlier column's product with it.
            weighted.fill(0.0);
            o.x.column(jl).axpy(1.0, &mut weighted);
            weighted.iter_mut().zip(curvature).for_each(|(w, c)| *w *= c);
            for (k, &jk) in active[..=l].iter().enumerate() {
                let v = o.x.column(jk).dot(&weighted);
                (g[k * size + l], g[l * size + k]) = (v, v);
            }
            let b = weighted.iter().sum::<f64>();
            (g[m * size + l], g[l * size + m]) = (b, b);
        }
        g[m * size + m] = curvature.iter().sum();
        o.reduced(&mut g);
        Self { size, g, hd: vec![0.0; size] }
    }

    /// Entry (k, k).
    fn diagonal(&self, k: usize) -> f64 {
        self.g[k * self.size + k]
    }

    /// Δ's entry k (the bias: |A|) moved by `change`: G·Δ follows.
    fn add(&mut self, k: usize, change: f64) {
        let column = &self.g[k * self.size..(k + 1) * self.size];
        self.hd.iter_mut().zip(column).for_each(|(h, g)| *h += change * g);
    }
}

#[cfg(test)]
thread_local! {
    /// Outer iterations this thread ran on a [`Gram`] (tests check the distributed mode is taken).
    pub(crate) static GRAM_ITERATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Minimises F from `theta`; `start` is the optimality measure at θ = 0.
pub(crate) fn newton_cd(
    o: &mut Objective,
    mut theta: Vec<f64>,
    start: f64,
    tol: f64,
    max_iter: usize,
    mut observer: Observer,
) -> Result<Solution> {
    let d = o.x.cols();
    let n = o.n();
    let (l1, l2) = (o.problem.l1, o.problem.l2);
    let mut z = o.scores(&theta);
    let mut f = o.smooth(&z, &theta);
    let mut objective = f + o.nonsmooth(&theta);
    let mut objectives = vec![objective];
    let (mut grad, mut curvature) = o.gradient(&z, &theta, None);
    let mut optimality = o.optimality(&theta, &grad) / start;
    if optimality <= tol {
        return Ok(done(o, theta, f, 0, true, objectives, optimality));
    }
    // The largest violation of the optimality conditions at the last iteration (shrinking).
    let mut last_violation = f64::INFINITY;
    // The inner solve's tolerance, relative to the outer violation (newGLMNET's adaptive rule).
    let mut inner_tol = 0.1;
    let mut delta = vec![0.0; d + 1];
    let mut xdelta = vec![0.0; z.len()];
    let mut weighted = vec![0.0; z.len()];
    for iteration in 1..=max_iter {
        crate::interrupt::check(iteration)?;
        if let Some(r) = o.reduce {
            // A failed sum (a lost rank) ends the solve instead of iterating on NaNs.
            r.failure()?;
        }
        // Active set and the largest violation.
        let mut active = Vec::with_capacity(d);
        let mut violation = 0.0f64;
        for j in 0..d {
            let (t, g, m) = (theta[j], grad[j], o.mask[j]);
            let v = if m == 0.0 || l1 == 0.0 {
                g.abs()
            } else if t != 0.0 {
                (g + l1 * t.signum()).abs()
            } else {
                let v = (g.abs() - l1).max(0.0);
                if v == 0.0 && g.abs() < l1 - last_violation {
                    continue;
                }
                v
            };
            violation = violation.max(v);
            active.push(j);
        }
        // The bias's, by the same rule: with L1 on it (--penalize-bias) |∇| ≈ λ₁ at the optimum,
        // which as a violation would keep every column active and the inner tolerance loose.
        let (t, g) = (theta[d], grad[d]);
        violation = violation.max(if o.mask[d] == 0.0 || l1 == 0.0 {
            g.abs()
        } else if t != 0.0 {
            (g + l1 * t.signum()).abs()
        } else {
            (g.abs() - l1).max(0.0)
        });
        last_violation = violation;
        // Distributed with a small active set: its Hessian summed once ([`Gram`]).
        let mut gram =
            (o.reduce.is_some() && (active.len() + 1).pow(2) <= d + 1).then(|| Gram::new(o, &active, &curvature));
        #[cfg(test)]
        if gram.is_some() {
            GRAM_ITERATIONS.with(|c| c.set(c.get() + 1));
        }
        // Diagonal of the Hessian on the active set, and the bias's.
        let sums: Vec<f64> = match &gram {
            Some(g) => (0..=active.len()).map(|k| g.diagonal(k)).collect(),
            None => {
                let mut sums: Vec<f64> = active.iter().map(|&j| o.x.column(j).square_dot(&curvature)).collect();
                sums.push(curvature.iter().sum::<f64>());
                o.reduced(&mut sums);
                sums
            }
        };
        let hdiag: Vec<f64> = active.iter().zip(&sums).map(|(&j, s)| s / n + 2.0 * l2 * o.mask[j] + 1e-12).collect();
        let hbias = sums[active.len()] / n + 2.0 * l2 * o.mask[d] + 1e-12;
        delta.fill(0.0);
        xdelta.fill(0.0);
        let mut inner_sweeps = 0;
        for sweep in 0..100 {
            inner_sweeps = sweep + 1;
            let mut largest = 0.0f64;
            for (k, &j) in active.iter().enumerate() {
                let column = o.x.column(j);
                let hjj = hdiag[k];
                // The model's gradient at coordinate j: g + (H·Δ)ⱼ.
                let hd = match &gram {
                    Some(g) => g.hd[k],
                    None => {
                        let mut hd = [column.dot2(&curvature, &xdelta)];
                        o.reduced(&mut hd);
                        hd[0]
                    }
                };
                let gj = grad[j] + hd / n + 2.0 * l2 * o.mask[j] * delta[j];
                let current = theta[j] + delta[j];
                let next = soft(current - gj / hjj, l1 * o.mask[j] / hjj);
                let change = next - current;
                let v = if next != 0.0 || o.mask[j] == 0.0 {
                    (gj + l1 * o.mask[j] * current.signum()).abs()
                } else {
                    (gj.abs() - l1).max(0.0)
                };
                largest = largest.max(v);
                if change != 0.0 {
                    delta[j] += change;
                    match &mut gram {
                        Some(g) => g.add(k, change),
                        None => column.axpy(change, &mut xdelta),
                    }
                }
            }
            // The bias, by the same rule (its column is all ones).
            let hd = match &gram {
                Some(g) => g.hd[active.len()],
                None => {
                    weighted.iter_mut().zip(&curvature).zip(&xdelta).for_each(|((w, c), x)| *w = c * x);
                    let mut hd = [weighted.iter().sum::<f64>()];
                    o.reduced(&mut hd);
                    hd[0]
                }
            };
            let gb = grad[d] + hd / n + 2.0 * l2 * o.mask[d] * delta[d];
            let current = theta[d] + delta[d];
            let next = soft(current - gb / hbias, l1 * o.mask[d] / hbias);
            let change = next - current;
            largest = largest.max(if o.mask[d] == 0.0 || l1 == 0.0 {
                gb.abs()
            } else if next != 0.0 {
                (gb + l1 * current.signum()).abs()
            } else {
                (gb.abs() - l1).max(0.0)
            });
            if change != 0.0 {
                delta[d] += change;
                match &mut gram {
                    Some(g) => g.add(active.len(), change),
                    None => xdelta.iter_mut().for_each(|x| *x += change),
                }
            }
            if largest <= inner_tol * violation {
                break;
            }
        }
        if gram.is_some() {
            // X·Δ on this rank's rows, for the line search.
            xdelta.fill(delta[d]);
            active.iter().filter(|&&j| delta[j] != 0.0).for_each(|&j| o.x.column(j).axpy(delta[j], &mut xdelta));
        }
        if inner_sweeps == 1 {
            inner_tol = (inner_tol * 0.25).max(1e-10);
        }
        o.passes += 2 * inner_sweeps * active.len() / d.max(1);
        // Armijo on F along Δ: F(θ + tΔ) ≤ F(θ) + σ·t·D, D = ∇f·Δ + λ₁(‖θ+Δ‖₁ − ‖θ‖₁).
        let full: Vec<f64> = theta.iter().zip(&delta).map(|(t, s)| t + s).collect();
        let decrease =
            grad.iter().zip(&delta).map(|(g, s)| g * s).sum::<f64>() + o.nonsmooth(&full) - o.nonsmooth(&theta);
        // Near the optimum D falls below F's rounding (~1e-16·|F|), where Armijo cannot tell a
        // good step from a bad one and would shrink it to nothing: the full step is then judged by
        // the optimality measure it reaches, as TRON does.
        let visible = -decrease > 1e-13 * objective.abs();
        let mut step = 1.0;
        let (next, next_z, next_f, next_objective) = loop {
            let next: Vec<f64> =
                if step == 1.0 { full.clone() } else { theta.iter().zip(&delta).map(|(t, s)| t + step * s).collect() };
            let next_z: Vec<f64> = z.iter().zip(&xdelta).map(|(z, x)| z + step * x).collect();
            let mut loss = [next_z.iter().zip(o.y).map(|(&z, &y)| logloss(z, y)).sum::<f64>()];
            o.reduced(&mut loss);
            let loss = loss[0] / n;
            let next_f = loss + l2 * next.iter().zip(&o.mask).map(|(t, m)| m * t * t).sum::<f64>();
            let next_objective = next_f + o.nonsmooth(&next);
            if !visible || next_objective <= objective + 0.01 * step * decrease || step < 1e-10 {
                break (next, next_z, next_f, next_objective);
            }
            step *= 0.5;
        };
        if visible && next_objective > objective {
            // No decrease is left to find at this precision.
            return Ok(done(o, theta, f, iteration, optimality <= tol, objectives, optimality));
        }
        let (next_grad, next_curvature) = o.gradient(&next_z, &next, None);
        if !visible {
            let better = o.optimality(&next, &next_grad) / start < optimality;
            if !better || next_objective > objective + 1e-15 * objective.abs() {
                if inner_tol > 1e-10 {
                    // The inner solve may be what is inexact: solve the model closer and try again.
                    inner_tol = 1e-10;
                    continue;
                }
                return Ok(done(o, theta, f, iteration, optimality <= tol, objectives, optimality));
            }
        }
        (theta, z, f, objective) = (next, next_z, next_f, next_objective);
        (grad, curvature) = (next_grad, next_curvature);
        objectives.push(objective);
        observe(&mut observer, iteration, objective)?;
        optimality = o.optimality(&theta, &grad) / start;
        if optimality <= tol {
            return Ok(done(o, theta, f, iteration, true, objectives, optimality));
        }
    }
    Ok(done(o, theta, f, max_iter, false, objectives, optimality))
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use crate::data::sparse::CsrMatrix;
    use crate::seed::with_seed;
    use crate::solvers::{solve, solve_sparse, Problem, Solution, SolverConfig, SolverKind};

    /// Random data, about `density` of X non-zero.
    fn data(n: i64, d: i64, density: f64) -> (Tensor, Tensor) {
        with_seed(5, || {
            let keep = Tensor::rand([n, d], (Kind::Double, Device::Cpu)).lt(density).to_kind(Kind::Double);
            let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu)) * keep;
            let w = Tensor::randn([d], (Kind::Double, Device::Cpu));
            let y = (x.mv(&w) + 0.3).sigmoid().bernoulli();
            (x.to_kind(Kind::Float), y)
        })
    }

    fn problem(l1: f64, l2: f64) -> Problem {
        Problem { l1, l2, penalize_bias: false }
    }

    fn zeros(s: &Solution) -> Vec<bool> {
        s.coef.iter().map(|&w| w == 0.0).collect()
    }

    fn assert_same_optimum(reference: &Solution, s: &Solution, what: &str) {
        assert!(s.converged, "{what}: {} iterations, optimality {}", s.iterations, s.optimality);
        let gap = (s.objective - reference.objective).abs() / reference.objective;
        assert!(gap <= 1e-10, "{what}: {} vs {} ({gap:e})", s.objective, reference.objective);
        assert_eq!(zeros(s), zeros(reference), "{what}");
        assert!(s.objectives.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-15)), "{what}: objective rose");
    }

    #[test]
    fn tron_and_newton_cd_reach_newtons_optimum_dense_and_sparse() {
        let mut cases = vec![];
        for density in [1.0, 0.3] {
            let (x, y) = data(400, 25, density);
            let csr = CsrMatrix::from_dense(&x).unwrap();
            let yf = Vec::<f32>::try_from(y.to_kind(Kind::Float)).unwrap();
            let mut penalties =
                vec![(problem(0.0, 1e-3), SolverKind::Tron), (problem(0.0, 1e-3), SolverKind::NewtonCd)];
            penalties.push((problem(0.02, 0.0), SolverKind::NewtonCd));
            penalties.push((problem(0.01, 0.005), SolverKind::NewtonCd));
            penalties.push((Problem { l1: 0.01, l2: 0.001, penalize_bias: true }, SolverKind::NewtonCd));
            for (p, kind) in penalties {
                let reference = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
                assert!(reference.converged);
                let dense = solve(&x, &y, p, kind, SolverConfig::default()).unwrap();
                assert_same_optimum(&reference, &dense, &format!("{kind:?} dense {p:?} density {density}"));
                let none = &mut |_, _| std::ops::ControlFlow::Continue(());
                let sparse = solve_sparse(&csr, &yf, p, kind, SolverConfig::default(), none).unwrap();
                assert_same_optimum(&reference, &sparse, &format!("{kind:?} CSR {p:?} density {density}"));
                if p.l1 > 0.0 {
                    let nonzero = dense.coef.iter().filter(|&&w| w != 0.0).count();
                    assert!((1..25).contains(&nonzero), "{nonzero} non-zero weights");
                }
                cases.push(dense.iterations);
            }
        }
        assert!(cases.iter().all(|&i| i <= 30), "iterations {cases:?}");
    }

    #[test]
    fn tron_refuses_l1_and_the_limits_are_reported() {
        let (x, y) = data(100, 5, 1.0);
        let e = solve(&x, &y, problem(0.01, 0.0), SolverKind::Tron, SolverConfig::default()).unwrap_err();
        assert!(e.to_string().contains("use newton-cd with L1"), "{e}");
        for kind in [SolverKind::Tron, SolverKind::NewtonCd] {
            let s = solve(&x, &y, problem(0.0, 1e-4), kind, SolverConfig { tol: 1e-14, max_iter: Some(1) }).unwrap();
            assert!(!s.converged && s.iterations <= 1, "{kind:?}: {s:?}");
        }
        // A large λ₁: every weight 0 at once.
        let s = solve(&x, &y, problem(10.0, 0.0), SolverKind::NewtonCd, SolverConfig::default()).unwrap();
        assert!(s.converged && s.coef.iter().all(|&w| w == 0.0), "{s:?}");
    }
}
