//! `tron`: trust-region Newton with conjugate gradients (Lin, Weng & Keerthi 2008, the method of
//! liblinear's L2 logistic regression), for problems without L1. Matrix-free: each CG step is one
//! Hessian-vector product Xᵀ·D·X·v (two passes over X), never a d×d Hessian. The CG tolerance
//! shrinks with the gradient (min(0.1, √(‖g‖/‖g₀‖))·‖g‖), so the steps become exact Newton steps
//! near the optimum and convergence is superlinear; CG is preconditioned by the Hessian's
//! diagonal, as in liblinear ≥ 2.2. On dense rows ([`super::rows`]) a trial point's scores,
//! gradient and diagonal are one pass, and the Hessian's products run in f32 (the gradient and F
//! stay f64, so the optimum is the same; only the CG steps are a little inexact).

use crate::error::{Error, Result};
use crate::solvers::columns::Objective;
use crate::solvers::{observe, Observer, Solution};

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// H·v with H = [Xᵀ D X, Xᵀ D 1; 1ᵀ D X, Σ D]/N + 2λ₂ diag(m), on θ = [w; b].
fn hessian_times(o: &mut Objective, curvature: &[f64], v: &[f64]) -> Vec<f64> {
    let d = o.x.cols();
    let n = o.n();
    o.passes += 2;
    let (mut out, bias) = o.x.curvature_times(curvature, &v[..d], v[d]);
    out.push(bias);
    o.reduced(&mut out);
    for (j, h) in out.iter_mut().enumerate() {
        *h = *h / n + 2.0 * o.problem.l2 * o.mask[j] * v[j];
    }
    out
}

/// H's diagonal before scaling, [Σᵢ xᵢⱼ²·cᵢ, Σ c], summed over the ranks.
fn diagonal_sums(o: &mut Objective, curvature: &[f64]) -> Vec<f64> {
    o.passes += 1;
    let mut diag = o.x.square_dots(curvature);
    diag.push(curvature.iter().sum());
    o.reduced(&mut diag);
    diag
}

/// The diagonal of H from its sums (the preconditioner), floored away from 0.
fn hessian_diagonal(o: &Objective, mut diag: Vec<f64>) -> Vec<f64> {
    let n = o.n();
    diag.iter_mut().enumerate().for_each(|(j, h)| *h = *h / n + 2.0 * o.problem.l2 * o.mask[j]);
    // liblinear's mix: (1 − α)·I·scale + α·diag, keeps the preconditioner positive and bounded.
    let scale = diag.iter().sum::<f64>() / diag.len() as f64;
    diag.iter().map(|&h| 0.99 * h + 0.01 * scale.max(f64::MIN_POSITIVE)).collect()
}

/// Preconditioned CG on H·s = −g inside ‖s‖_M ≤ δ (M = diag(precond), H·v by `hessian_times`);
/// returns s and the residual r = −g − H·s. The multinomial TRON shares it.
pub(crate) fn trust_region_cg(
    mut hessian_times: impl FnMut(&[f64]) -> Vec<f64>,
    precond: &[f64],
    grad: &[f64],
    delta: f64,
    cg_tol: f64,
) -> (Vec<f64>, Vec<f64>) {
    let size = grad.len();
    let mut s = vec![0.0; size];
    let mut r: Vec<f64> = grad.iter().map(|g| -g).collect();
    let mut z: Vec<f64> = r.iter().zip(precond).map(|(r, m)| r / m).collect();
    let mut p = z.clone();
    let mut r_z = dot(&r, &z);
    // ‖s‖_M² = sᵀMs.
    let m_norm = |a: &[f64], b: &[f64]| a.iter().zip(b).zip(precond).map(|((x, y), m)| x * y * m).sum::<f64>();
    for _ in 0..size.max(1) * 2 {
        if dot(&r, &r).sqrt() <= cg_tol {
            break;
        }
        let hp = hessian_times(&p);
        let php = dot(&p, &hp);
        let alpha = r_z / php;
        let next: Vec<f64> = s.iter().zip(&p).map(|(s, p)| s + alpha * p).collect();
        if php.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || m_norm(&next, &next).sqrt() > delta {
            // To the boundary along p: ‖s + τp‖_M = δ.
            let (sp, ss, pp) = (m_norm(&s, &p), m_norm(&s, &s), m_norm(&p, &p));
            let dsq = delta * delta;
            let rad = (sp * sp + pp * (dsq - ss)).max(0.0).sqrt();
            let tau = if sp >= 0.0 { (dsq - ss) / (sp + rad) } else { (rad - sp) / pp };
            s.iter_mut().zip(&p).for_each(|(s, p)| *s += tau * p);
            r.iter_mut().zip(&hp).for_each(|(r, h)| *r -= tau * h);
            return (s, r);
        }
        s = next;
        r.iter_mut().zip(&hp).for_each(|(r, h)| *r -= alpha * h);
        z = r.iter().zip(precond).map(|(r, m)| r / m).collect();
        let r_z_next = dot(&r, &z);
        let beta = r_z_next / r_z;
        p.iter_mut().zip(&z).for_each(|(p, z)| *p = z + beta * *p);
        r_z = r_z_next;
    }
    (s, r)
}

/// Minimises f (no L1) from `theta`; `start` is the optimality measure at θ = 0.
pub(crate) fn tron(
    o: &mut Objective,
    mut theta: Vec<f64>,
    start: f64,
    tol: f64,
    max_iter: usize,
    mut observer: Observer,
) -> Result<Solution> {
    if o.problem.l1 != 0.0 {
        return Err(Error::InvalidSetting {
            name: "solver",
            value: "tron".into(),
            expected: "tron solves L2 (or unpenalized) problems: use newton-cd with L1",
        });
    }
    let (eta0, eta1, eta2) = (1e-4, 0.25, 0.75);
    let (sigma1, sigma2, sigma3) = (0.25f64, 0.5, 4.0);
    // Dense rows give the gradient and H's diagonal with the scores, in the same pass.
    let (mut z, evaluated) = o.evaluate(&theta);
    let mut f = o.smooth(&z, &theta);
    let (mut grad, mut curvature, sums) = evaluated.unwrap_or_else(|| {
        let (g, c) = o.gradient(&z, &theta, None);
        (g, c, None)
    });
    let mut objectives = vec![f];
    let mut optimality = o.optimality(&theta, &grad) / start;
    if optimality <= tol {
        return Ok(done(o, theta, f, 0, true, objectives, optimality));
    }
    let sums = sums.unwrap_or_else(|| diagonal_sums(o, &curvature));
    let mut precond = hessian_diagonal(o, sums);
    let mut delta = grad.iter().zip(&precond).map(|(g, m)| g * g / m).sum::<f64>().sqrt();
    let mut iteration = 0;
    let mut tries = 0;
    while iteration < max_iter {
        tries += 1;
        crate::interrupt::check(tries)?;
        if let Some(r) = o.reduce {
            r.failure()?;
        }
        let gnorm = dot(&grad, &grad).sqrt();
        let cg_tol = 0.1f64.min(optimality.sqrt()) * gnorm;
        let (step, residual) = trust_region_cg(|v| hessian_times(o, &curvature, v), &precond, &grad, delta, cg_tol);
        let next: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t + s).collect();
        let gs = dot(&grad, &step);
        let predicted = -0.5 * (gs - dot(&step, &residual));
        let (next_z, mut evaluated) = o.evaluate(&next);
        let f_next = o.smooth(&next_z, &next);
        let actual = f - f_next;
        let snorm = step.iter().zip(&precond).map(|(s, m)| s * s * m).sum::<f64>().sqrt();
        if iteration == 0 && tries == 1 {
            delta = delta.min(snorm);
        }
        // Near the optimum F's decrease falls below its rounding (~1e-16·|F|): the step is then
        // judged by the optimality measure it reaches instead.
        let visible = predicted > 1e-12 * f.abs();
        let accepted = if visible {
            actual > eta0 * predicted
        } else {
            let (g, c, sums) = evaluated.take().unwrap_or_else(|| {
                let (g, c) = o.gradient(&next_z, &next, None);
                (g, c, None)
            });
            let better = o.optimality(&next, &g) / start < optimality && f_next <= f + 1e-14 * f.abs();
            evaluated = Some((g, c, sums));
            better
        };
        if visible {
            let alpha = if f_next - f - gs <= 0.0 { sigma3 } else { sigma1.max(-0.5 * (gs / (f_next - f - gs))) };
            delta = if actual < eta0 * predicted {
                (alpha.max(sigma1) * snorm).min(sigma2 * delta)
            } else if actual < eta1 * predicted {
                (sigma1 * delta).max((alpha * snorm).min(sigma2 * delta))
            } else if actual < eta2 * predicted {
                (sigma1 * delta).max((alpha * snorm).min(sigma3 * delta))
            } else {
                delta.max((alpha * snorm).min(sigma3 * delta))
            };
        }
        if accepted {
            iteration += 1;
            (theta, z, f) = (next, next_z, f_next);
            let sums;
            (grad, curvature, sums) = evaluated.unwrap_or_else(|| {
                let (g, c) = o.gradient(&z, &theta, None);
                (g, c, None)
            });
            let sums = sums.unwrap_or_else(|| diagonal_sums(o, &curvature));
            precond = hessian_diagonal(o, sums);
            objectives.push(f);
            observe(&mut observer, iteration, f)?;
            optimality = o.optimality(&theta, &grad) / start;
            if optimality <= tol {
                return Ok(done(o, theta, f, iteration, true, objectives, optimality));
            }
        } else if !visible || delta <= 1e-300 || tries > 20 * max_iter.max(1) {
            // No progress left at this precision.
            break;
        }
    }
    Ok(done(o, theta, f, iteration, optimality <= tol, objectives, optimality))
}

/// The [`Solution`] at θ with smooth value `f` (TRON has no L1 term).
pub(crate) fn done(
    o: &Objective,
    theta: Vec<f64>,
    f: f64,
    iterations: usize,
    converged: bool,
    objectives: Vec<f64>,
    optimality: f64,
) -> Solution {
    let objective = f + o.nonsmooth(&theta);
    let d = theta.len() - 1;
    Solution {
        coef: theta[..d].to_vec(),
        intercept: theta[d],
        iterations,
        converged,
        objective,
        objectives,
        optimality,
        seconds: 0.0,
        passes: o.passes,
        // Passes run on CPU threads inside each product; they are counted, not timed apart.
        pass_seconds: f64::NAN,
    }
}
