//! Trust-region Newton-CG for the multinomial without L1 (liblinear's TRON, as [`super::tron`]
//! for two classes), matrix-free over X by rows on the CPU: each CG step is one Hessian-vector
//! product, two passes over X (U = X̃·Vᵀ, then the classes' weighted residuals against X̃), about
//! 4·n·K·(d+1) flops, where the (d+1)·K block Hessian costs K(K+1)/2 products of (d+1)² per row
//! (see [`use_tron`] for when each is used). CG is preconditioned by the Hessian's diagonal.

use super::multinomial_rows::Rows;
use super::tron::{dot, trust_region_cg};
use super::{observe, Observer};
use crate::error::Result;

/// The smooth multinomial problem on X by rows: f(θ) = Σᵢ sᵢ·(logsumexp(zᵢ) − zᵢ,yᵢ)/N + λ₂‖m⊙θ‖²,
/// θ = [W | b] `[K, d+1]` row-major.
pub(crate) struct Model<'a> {
    pub(crate) rows: &'a Rows,
    pub(crate) labels: &'a [i64],
    /// Row weights scaled to mean 1, or none.
    pub(crate) weights: Option<&'a [f64]>,
    pub(crate) mask: &'a [f64],
    /// 1 for the columns (of d+1) whose move by one amount in every class changes nothing.
    pub(crate) free: &'a [f64],
    pub(crate) l2: f64,
    pub(crate) k: usize,
    pub(crate) d: usize,
}

/// Where TRON stopped: θ, iterations, whether converged, F after each iteration, the relative
/// optimality measure.
pub(crate) type Stop = (Vec<f64>, usize, bool, Vec<f64>, f64);

/// Whether the matrix-free TRON beats forming the block Hessian: the Hessian's flops (K(K+1)/2
/// blocks of (d+1)² over `hessian_rows` rows) against `CG_STEPS` Hessian-vector products over all
/// `n` rows, 4·n·K·(d+1) flops each, on problems of at least `MIN_SIZE` values n·K·(d+1) (below
/// it either takes milliseconds, and the exact Newton needs fewest iterations).
pub(crate) fn use_tron(n: usize, d: usize, k: usize, hessian_rows: usize) -> bool {
    let (n, d, k, m) = (n as f64, d as f64 + 1.0, k as f64, hessian_rows as f64);
    let hessian = k * (k + 1.0) * m * d * d;
    n * k * d >= MIN_SIZE && hessian > CG_STEPS * 4.0 * n * k * d
}

/// Hessian-vector products one block Hessian is worth before TRON is preferred. Measured at
/// 100k × 100, 10 classes, L2 (2-core machine, loaded): a Hessian of 8192 rows took about 25
/// products' time (its flops are 23 products'); to tol 1e-4 Newton formed two of them in 9
/// iterations (9.0 s), TRON took 38 products in 5 (5.4 s). Newton's other work per iteration
/// is about 4 products, so the two break even near 7 products a Hessian.
const CG_STEPS: f64 = 10.0;

/// n·K·(d+1) below which Newton keeps its block Hessian whatever the flops.
const MIN_SIZE: f64 = 1_048_576.0;

/// Scores `z` (`[n, K]` row-major) made probabilities, row by row; returns Σᵢ sᵢ·(logsumexp(zᵢ) −
/// zᵢ,yᵢ), the weighted loss summed.
pub(crate) fn probabilities(z: &mut [f64], labels: &[i64], weights: Option<&[f64]>, k: usize) -> f64 {
    // Neumaier's compensated sum: F's rounding stays below a plain running sum's, which hid
    // the last decreases of a tight solve (a path point stalled above tol 1e-9).
    let (mut loss, mut carry) = (0.0f64, 0.0f64);
    for (i, row) in z.chunks_exact_mut(k).enumerate() {
        let top = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let picked = row[labels[i] as usize];
        let mut sum = 0.0;
        row.iter_mut().for_each(|z| {
            *z = (*z - top).exp();
            sum += *z;
        });
        row.iter_mut().for_each(|z| *z /= sum);
        let term = weights.map_or(1.0, |w| w[i]) * (top + sum.ln() - picked);
        let next = loss + term;
        carry += if loss.abs() >= term.abs() { (loss - next) + term } else { (term - next) + loss };
        loss = next;
    }
    loss + carry
}

/// R = s⊙(P − Y), `[n, K]`, from the probabilities.
pub(crate) fn residuals(p: &[f64], labels: &[i64], weights: Option<&[f64]>, k: usize) -> Vec<f64> {
    let mut r = p.to_vec();
    for (i, row) in r.chunks_exact_mut(k).enumerate() {
        row[labels[i] as usize] -= 1.0;
        if let Some(w) = weights {
            row.iter_mut().for_each(|v| *v *= w[i]);
        }
    }
    r
}

impl Model<'_> {
    fn n(&self) -> usize {
        self.labels.len()
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// f(θ) and the probabilities `[n, K]`.
    fn value(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        let mut p = self.rows.scores(theta, self.k);
        let loss = probabilities(&mut p, self.labels, self.weights, self.k);
        let penalty: f64 = theta.iter().zip(self.mask).map(|(t, m)| m * t * t).sum();
        (loss / self.n() as f64 + self.l2 * penalty, p)
    }

    /// [Rᵀ·X̃]/N + 2λ₂·m⊙v for R `[n, K]`.
    fn back(&self, r: &[f64], v: &[f64]) -> Vec<f64> {
        let n = self.n() as f64;
        let mut g = self.rows.transpose_times(r, self.k);
        g.iter_mut().zip(v).zip(self.mask).for_each(|((g, v), m)| *g = *g / n + 2.0 * self.l2 * m * v);
        g
    }

    /// ∇f at θ with probabilities `p`.
    fn gradient(&self, theta: &[f64], p: &[f64]) -> Vec<f64> {
        self.back(&residuals(p, self.labels, self.weights, self.k), theta)
    }

    /// H·v: per row, sᵢ(diag(pᵢ) − pᵢpᵢᵀ)·uᵢ with uᵢ = Vx̃ᵢ, then back through X̃.
    fn hessian_times(&self, p: &[f64], v: &[f64]) -> Vec<f64> {
        let k = self.k;
        let mut u = self.rows.scores(v, k);
        for (i, (ui, pi)) in u.chunks_exact_mut(k).zip(p.chunks_exact(k)).enumerate() {
            let mean = dot(ui, pi);
            let s = self.weight(i);
            ui.iter_mut().zip(pi).for_each(|(u, p)| *u = s * p * (*u - mean));
        }
        self.back(&u, v)
    }

    /// The Hessian's diagonal, mixed with its mean as liblinear does (0.99·h + 0.01·mean) and,
    /// on the free columns, averaged over the classes: CG's directions then keep Σₖ = 0 on
    /// them, the directions along which f does not change.
    fn preconditioner(&self, p: &[f64]) -> Vec<f64> {
        let (k, width, n) = (self.k, self.d + 1, self.n() as f64);
        let c: Vec<f64> = p
            .chunks_exact(k)
            .enumerate()
            .flat_map(|(i, pi)| {
                let s = self.weight(i);
                pi.iter().map(move |p| s * p * (1.0 - p))
            })
            .collect();
        let mut h = self.rows.square_times(&c, k);
        h.iter_mut().zip(self.mask).for_each(|(h, m)| *h = *h / n + 2.0 * self.l2 * m);
        let mean = h.iter().sum::<f64>() / h.len() as f64;
        h.iter_mut().for_each(|h| *h = 0.99 * *h + 0.01 * mean.max(f64::MIN_POSITIVE));
        for j in (0..width).filter(|&j| self.free[j] != 0.0) {
            let avg = (0..k).map(|c| h[c * width + j]).sum::<f64>() / k as f64;
            (0..k).for_each(|c| h[c * width + j] = avg);
        }
        h
    }
}

/// Minimises f from `theta`; `start` is the optimality measure (‖∇f‖) at θ = 0 that `tol` is
/// relative to. The step rules are liblinear's, as in [`super::tron`].
pub(crate) fn tron(
    model: &Model,
    mut theta: Vec<f64>,
    start: f64,
    tol: f64,
    max_iter: usize,
    mut observer: Observer,
) -> Result<Stop> {
    let (eta0, eta1, eta2) = (1e-4, 0.25, 0.75);
    let (sigma1, sigma2, sigma3) = (0.25f64, 0.5, 4.0);
    let (mut f, mut p) = model.value(&theta);
    let mut grad = model.gradient(&theta, &p);
    let mut objectives = vec![f];
    let mut optimality = dot(&grad, &grad).sqrt() / start;
    if optimality <= tol {
        return Ok((theta, 0, true, objectives, optimality));
    }
    let mut precond = model.preconditioner(&p);
    let mut delta = grad.iter().zip(&precond).map(|(g, m)| g * g / m).sum::<f64>().sqrt();
    let mut iteration = 0;
    let mut tries = 0;
    while iteration < max_iter {
        tries += 1;
        crate::interrupt::check(tries)?;
        let gnorm = dot(&grad, &grad).sqrt();
        let cg_tol = 0.1f64.min(optimality.sqrt()) * gnorm;
        let (step, residual) = trust_region_cg(|v| model.hessian_times(&p, v), &precond, &grad, delta, cg_tol);
        let next: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t + s).collect();
        let gs = dot(&grad, &step);
        let predicted = -0.5 * (gs - dot(&step, &residual));
        let (f_next, p_next) = model.value(&next);
        let actual = f - f_next;
        let snorm = step.iter().zip(&precond).map(|(s, m)| s * s * m).sum::<f64>().sqrt();
        if iteration == 0 && tries == 1 {
            delta = delta.min(snorm);
        }
        // Near the optimum F's decrease falls below its rounding: the step is then judged by
        // the optimality measure it reaches instead (as the binary TRON).
        let visible = predicted > 1e-12 * f.abs();
        let (accepted, next_gradient) = if visible {
            (actual > eta0 * predicted, None)
        } else {
            let g = model.gradient(&next, &p_next);
            let better = dot(&g, &g).sqrt() / start < optimality && f_next <= f + 1e-14 * f.abs();
            (better, Some(g))
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
            (theta, f, p) = (next, f_next, p_next);
            grad = match next_gradient {
                Some(g) => g,
                None => model.gradient(&theta, &p),
            };
            objectives.push(f);
            observe(&mut observer, iteration, f)?;
            optimality = dot(&grad, &grad).sqrt() / start;
            if optimality <= tol {
                return Ok((theta, iteration, true, objectives, optimality));
            }
            precond = model.preconditioner(&p);
        } else if !visible || delta <= 1e-300 || tries > 20 * max_iter.max(1) {
            // No progress left at this precision.
            break;
        }
    }
    let converged = optimality <= tol;
    Ok((theta, iteration, converged, objectives, optimality))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;
    use crate::solvers::{multinomial, Problem, SolverConfig, SolverKind};
    use tch::{Device, Kind, Tensor};

    /// n rows of d features (f64), K classes drawn from a softmax model.
    fn data(n: i64, d: i64, k: i64) -> (Vec<f64>, Vec<i64>) {
        with_seed(11, || {
            let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu));
            let w = Tensor::randn([d, k], (Kind::Double, Device::Cpu));
            let y = x.mm(&w).softmax(1, Kind::Double).multinomial(1, true).view([-1]);
            (Vec::<f64>::try_from(x.reshape([-1])).unwrap(), Vec::<i64>::try_from(y).unwrap())
        })
    }

    #[test]
    fn hessian_products_are_the_hessian_written_out_times_v() {
        // H = Σᵢ sᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / n + 2λ₂ diag(m), entry by entry, times v.
        let (n, d, k) = (40usize, 3usize, 4usize);
        let (x, labels) = data(n as i64, d as i64, k as i64);
        let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 5) as f64 / 2.0).collect();
        let rows = Rows::F64 { data: x.clone(), d };
        let width = d + 1;
        let mask: Vec<f64> = (0..k * width).map(|j| if j % width == d { 0.0 } else { 1.0 }).collect();
        let free: Vec<f64> = (0..width).map(|j| if j == d { 1.0 } else { 0.0 }).collect();
        let model =
            Model { rows: &rows, labels: &labels, weights: Some(&weights), mask: &mask, free: &free, l2: 0.03, k, d };
        let theta: Vec<f64> = (0..k * width).map(|j| ((j * 7) % 5) as f64 * 0.2 - 0.4).collect();
        let v: Vec<f64> = (0..k * width).map(|j| ((j * 3) % 7) as f64 * 0.1 - 0.3).collect();
        let (_, p) = model.value(&theta);
        let got = model.hessian_times(&p, &v);
        let size = k * width;
        let mut h = vec![0.0; size * size];
        for i in 0..n {
            let xt: Vec<f64> = x[i * d..(i + 1) * d].iter().cloned().chain([1.0]).collect();
            let z: Vec<f64> = (0..k).map(|c| (0..width).map(|j| theta[c * width + j] * xt[j]).sum::<f64>()).collect();
            let total: f64 = z.iter().map(|z| z.exp()).sum();
            let pi: Vec<f64> = z.iter().map(|z| z.exp() / total).collect();
            for a in 0..k {
                for b in 0..k {
                    let c = weights[i] * pi[a] * ((a == b) as u8 as f64 - pi[b]) / n as f64;
                    for u in 0..width {
                        for w in 0..width {
                            h[(a * width + u) * size + b * width + w] += c * xt[u] * xt[w];
                        }
                    }
                }
            }
        }
        for j in 0..size {
            h[j * size + j] += 2.0 * 0.03 * mask[j];
            let want: f64 = (0..size).map(|l| h[j * size + l] * v[l]).sum();
            assert!((got[j] - want).abs() < 1e-12, "{j}: {} vs {want}", got[j]);
        }
    }

    #[test]
    fn tron_reaches_fistas_optimum_in_f32_with_weights() {
        // Through multinomial::fit: newton on CPU rows without L1, forced matrix-free or not by
        // the cost model (use_tron), against FISTA (never a Hessian) at a tight tolerance.
        let (n, d, k) = (400usize, 6usize, 5usize);
        let (x, labels) = data(n as i64, d as i64, k as i64);
        let xt = Tensor::from_slice(&x.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([n as i64, d as i64]);
        let y = Tensor::from_slice(&labels);
        let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
        let rows = Rows::F32 { data: x.iter().map(|&v| v as f32).collect(), d };
        let problem = Problem { l1: 0.0, l2: 0.002, penalize_bias: false };
        let mean = weights.iter().sum::<f64>() / n as f64;
        let scaled: Vec<f64> = weights.iter().map(|w| w / mean).collect();
        let width = d + 1;
        let mask: Vec<f64> = (0..k * width).map(|j| if j % width == d { 0.0 } else { 1.0 }).collect();
        let free: Vec<f64> = (0..width).map(|j| if j == d { 1.0 } else { 0.0 }).collect();
        let model =
            Model { rows: &rows, labels: &labels, weights: Some(&scaled), mask: &mask, free: &free, l2: 0.002, k, d };
        let zero = vec![0.0; k * width];
        let (_, p0) = model.value(&zero);
        let g0 = model.gradient(&zero, &p0);
        let start = dot(&g0, &g0).sqrt();
        let observer: Observer = &mut |_, _| std::ops::ControlFlow::Continue(());
        let (theta, iterations, converged, objectives, _) = tron(&model, zero, start, 1e-10, 200, observer).unwrap();
        assert!(converged && iterations <= 30, "{iterations} iterations");
        assert!(objectives.windows(2).all(|w| w[1] <= w[0]), "objective rose");
        let coef: Vec<f64> = theta.chunks(width).flat_map(|c| c[..d].to_vec()).collect();
        let intercept: Vec<f64> = theta.chunks(width).map(|c| c[d]).collect();
        let ours = multinomial::objective(&xt, &y, k, Some(&weights), problem, &coef, &intercept).unwrap();
        let tight = SolverConfig { tol: 1e-10, max_iter: Some(100_000) };
        let fista = multinomial::fit(&xt, &y, k, Some(&weights), problem, SolverKind::Fista, tight).unwrap();
        assert!((ours - fista.objective).abs() <= 1e-10 * fista.objective, "{ours} vs {}", fista.objective);
        // The free intercepts' moves over the classes stayed centred by the preconditioner.
        assert!(intercept.iter().sum::<f64>().abs() < 1e-8, "{intercept:?}");
    }

    #[test]
    fn the_cost_model_goes_matrix_free_for_many_rows_and_classes() {
        // 100k × 100, 10 classes, 8192 Hessian rows: 110·8192·101² = 9.2e9 flops against 10
        // products of 4·n·K·101 = 4.0e8. Wine (178 × 13, 3 classes) is below the size; 100k × 10
        // with 3 classes has a Hessian of 12·8192·11² = 1.2e7 flops, a product 1.3e7.
        assert!(use_tron(100_000, 100, 10, 8192));
        assert!(!use_tron(100_000, 100, 10, 256));
        assert!(!use_tron(178, 13, 3, 178));
        assert!(!use_tron(100_000, 10, 3, 8192));
    }
}
