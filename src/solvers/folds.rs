//! Cross-validation's K folds solved together by proximal Newton: θ is a (d+1)×K matrix, one
//! column per fold, and each pass over X serves every fold (X·W and Xᵀ·R are products with K
//! columns), so on a GPU, where a pass costs about the same for 1 or K columns, K folds cost
//! little more than one.
//!
//! Fold k fits its training rows (a 0/1 column of the n×K mask M) in its own standardized
//! coordinates x̃ = (x − μₖ)/sₖ (μ = 0, s = 1 without standardization) without forming them: the
//! scores are X·(w/sₖ) + (b − μₖ·(w/sₖ)), and ∂f/∂w = (Xᵀr − μₖ·Σr)/sₖ/Nₖ. Each fold has its own
//! Newton direction (a batched linear solve, or coordinate descent with L1), its own Armijo step
//! and its own stopping test, as the folds one after another would (`cv.rs`'s sequential path).

use tch::{Device, Kind, Tensor};

use crate::data::dataset::Standardizer;
use crate::error::{Error, Result};
use crate::model::metrics::roc_auc;
use crate::solvers::path::PathConfig;
use crate::solvers::{hessian_sample, lasso_step, newton_solve, Problem, HESSIAN_ROWS};

/// The data of all folds on X's device.
struct Folds {
    /// X in f64, n×d.
    x: Tensor,
    /// Every `stride`-th row of X, in X's precision (the Hessian's sample, as in `Design`).
    x_hessian: Tensor,
    stride: i64,
    /// y in f64, n, and as an n×K matrix for the losses.
    y: Tensor,
    y_wide: Tensor,
    /// M: 1 where row i trains fold k, n×K f64.
    train: Tensor,
    /// Nₖ, training rows per fold, K.
    counts: Tensor,
    /// μ and s per fold, d×K f64 (the f32 statistics of `Standardizer`, as the sequential folds use).
    mu: Tensor,
    sd: Tensor,
    d: i64,
    k: i64,
    problem: Problem,
}

impl Folds {
    /// The weights and biases in X's raw units: W/s and b − μ·(W/s), d×K and K.
    fn raw(&self, theta: &Tensor) -> Result<(Tensor, Tensor)> {
        let w = theta.f_narrow(0, 0, self.d)?.f_div(&self.sd)?;
        let b = theta.f_select(0, self.d)?.f_sub(&self.mu.f_mul(&w)?.f_sum_dim_intlist(0, false, Kind::Double)?)?;
        Ok((w, b))
    }

    /// Z = X̃ₖ·wₖ + bₖ for every fold: n×K, one pass over X. Linear in θ, so also the scores'
    /// change along a direction.
    fn scores(&self, theta: &Tensor) -> Result<Tensor> {
        let (w, b) = self.raw(theta)?;
        Ok(self.x.f_mm(&w)?.f_add(&b)?)
    }

    /// fₖ = (1/Nₖ)·Σᵢ Mᵢₖ·logloss(yᵢ, Zᵢₖ) + λ₂‖wₖ‖², K values.
    fn values(&self, z: &Tensor, theta: &Tensor) -> Result<Tensor> {
        let loss =
            z.f_binary_cross_entropy_with_logits(&self.y_wide, None::<Tensor>, None::<Tensor>, tch::Reduction::None)?;
        let mean = loss.f_mul(&self.train)?.f_sum_dim_intlist(0, false, Kind::Double)?.f_div(&self.counts)?;
        let w = theta.f_narrow(0, 0, self.d)?;
        Ok(mean.f_add(&w.f_square()?.f_sum_dim_intlist(0, false, Kind::Double)?.f_mul_scalar(self.problem.l2)?)?)
    }

    /// λ₁‖wₖ‖₁, K values (the bias is not penalized).
    fn nonsmooth(&self, theta: &Tensor) -> Result<Tensor> {
        let w = theta.f_narrow(0, 0, self.d)?;
        Ok(w.f_abs()?.f_sum_dim_intlist(0, false, Kind::Double)?.f_mul_scalar(self.problem.l1)?)
    }

    /// ∇fₖ at scores Z, (d+1)×K: one pass over X.
    fn gradient(&self, z: &Tensor, theta: &Tensor) -> Result<Tensor> {
        let r = z.f_sigmoid()?.f_sub(&self.y.f_unsqueeze(1)?)?.f_mul(&self.train)?;
        Ok(self.data_gradient(&r)?.f_add(&self.ridge(theta)?)?)
    }

    /// The loss part of the gradient from residuals r (n×K, zero off each fold's rows).
    fn data_gradient(&self, r: &Tensor) -> Result<Tensor> {
        let g = self.x.f_tr()?.f_mm(r)?;
        let gb = r.f_sum_dim_intlist(0, false, Kind::Double)?;
        let gw = g.f_sub(&self.mu.f_mul(&gb)?)?.f_div(&self.sd)?;
        Ok(Tensor::f_cat(&[gw, gb.f_unsqueeze(0)?], 0)?.f_div(&self.counts)?)
    }

    /// 2λ₂·w, with a zero row for the bias.
    fn ridge(&self, theta: &Tensor) -> Result<Tensor> {
        let w = theta.f_narrow(0, 0, self.d)?.f_mul_scalar(2.0 * self.problem.l2)?;
        Ok(Tensor::f_cat(&[w, Tensor::f_zeros([1, self.k], (Kind::Double, theta.device()))?], 0)?)
    }

    /// Soft-thresholding of the weights (not the bias) by `step`·λ₁.
    fn prox(&self, v: &Tensor, step: f64) -> Result<Tensor> {
        let w = v.f_narrow(0, 0, self.d)?;
        let shrunk = w.f_sign()?.f_mul(&w.f_abs()?.f_sub_scalar(step * self.problem.l1)?.f_clamp_min(0.0)?)?;
        Ok(Tensor::f_cat(&[shrunk, v.f_narrow(0, self.d, 1)?], 0)?)
    }

    /// ‖θₖ − prox(θₖ − gₖ)‖ per fold, on the host.
    fn optimality(&self, theta: &Tensor, grad: &Tensor) -> Result<Vec<f64>> {
        let moved = self.prox(&theta.f_sub(grad)?, 1.0)?;
        host(&theta.f_sub(&moved)?.f_square()?.f_sum_dim_intlist(0, false, Kind::Double)?.f_sqrt()?)
    }

    /// Fold k's Hessian of f from the sampled rows, in their precision, then f64: as `Smooth`'s.
    fn hessian(&self, z: &Tensor, fold: i64) -> Result<Tensor> {
        let n = z.size()[0];
        let kind = self.x_hessian.kind();
        let rows = |t: &Tensor| -> Result<Tensor> { Ok(t.f_slice(0, 0, n, self.stride)?.f_select(1, fold)?) };
        let p = rows(z)?.f_sigmoid()?;
        let train = rows(&self.train)?;
        let w = p.f_mul(&p.f_neg()?.f_add_scalar(1.0)?)?.f_mul(&train)?.f_to_kind(kind)?;
        let (mu, sd) = (self.mu.f_select(1, fold)?.f_to_kind(kind)?, self.sd.f_select(1, fold)?.f_to_kind(kind)?);
        let xs = self.x_hessian.f_sub(&mu)?.f_div(&sd)?;
        let weighted = xs.f_mul(&w.f_unsqueeze(1)?)?;
        let xwx = xs.f_tr()?.f_mm(&weighted)?;
        let xw = xs.f_tr()?.f_mv(&w)?;
        let top = Tensor::f_cat(&[xwx, xw.f_unsqueeze(1)?], 1)?;
        let bottom = Tensor::f_cat(&[xw, w.f_sum(kind)?.f_reshape([1])?], 0)?.f_unsqueeze(0)?;
        let count = train.f_sum(Kind::Double)?.f_double_value(&[])?.max(1.0);
        let h = Tensor::f_cat(&[top, bottom], 0)?.f_to_kind(Kind::Double)?.f_div_scalar(count)?;
        let mut ridge = vec![2.0 * self.problem.l2; self.d as usize];
        ridge.push(0.0);
        Ok(h.f_add(&Tensor::f_from_slice(&ridge)?.f_to_device(z.device())?.f_diag(0)?)?)
    }
}

fn host(t: &Tensor) -> Result<Vec<f64>> {
    Ok(Vec::<f64>::try_from(t.f_to_kind(Kind::Double)?.f_to_device(Device::Cpu)?.f_reshape([-1])?)?)
}

/// A K-vector of 0/1 (as f64) on `device`.
fn flags(values: &[bool], device: Device) -> Result<Tensor> {
    let v: Vec<f64> = values.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    Ok(Tensor::f_from_slice(&v)?.f_to_device(device)?)
}

/// Every fold's held-out (log-loss, ROC AUC) at each of `lambdas`: for fold k the path fitted on
/// the rows whose `fold` is not k (standardized with their statistics when `standardize`), scored
/// on the rows whose `fold` is k. The same numbers as the folds one after another, to the solver's
/// tolerance.
pub(crate) fn held_out_scores(
    x: &Tensor,
    y: &Tensor,
    fold: &[usize],
    folds: usize,
    lambdas: &[f64],
    standardize: bool,
    config: &PathConfig,
) -> Result<Vec<Vec<(f64, f64)>>> {
    let device = x.device();
    let (n, d) = x.size2()?;
    let k = folds as i64;
    let member: Vec<f64> = fold.iter().flat_map(|&f| (0..folds).map(move |g| if g == f { 0.0 } else { 1.0 })).collect();
    let train = Tensor::f_from_slice(&member)?.f_view([n, k])?.f_to_device(device)?;
    let counts = train.f_sum_dim_intlist(0, false, Kind::Double)?;
    let (mut mu, mut sd) = (vec![0f64; (d * k) as usize], vec![1f64; (d * k) as usize]);
    if standardize {
        for f in 0..folds {
            let rows: Vec<i64> = (0..fold.len()).filter(|&i| fold[i] != f).map(|i| i as i64).collect();
            let s = Standardizer::fit(&x.f_index_select(0, &Tensor::f_from_slice(&rows)?.f_to_device(device)?)?)?;
            for j in 0..d as usize {
                (mu[j * folds + f], sd[j * folds + f]) = (f64::from(s.mean[j]), f64::from(s.std[j]));
            }
        }
    }
    let mu = Tensor::f_from_slice(&mu)?.f_view([d, k])?.f_to_device(device)?;
    let sd = Tensor::f_from_slice(&sd)?.f_view([d, k])?.f_to_device(device)?;
    let x64 = x.f_to_kind(Kind::Double)?;
    let (x_hessian, stride) = hessian_sample(x, &x64, HESSIAN_ROWS)?;
    let y = y.f_to_kind(Kind::Double)?.f_reshape([n])?;
    let mut s = Folds {
        y_wide: y.f_unsqueeze(1)?.f_expand([n, k], false)?,
        y,
        x: x64,
        x_hessian,
        stride,
        train,
        counts,
        mu,
        sd,
        d,
        k,
        problem: Problem::from_glmnet(lambdas[0], config.alpha),
    };

    // Each fold's λ_max and null model (no weights, the bias at the log-odds of its ȳ).
    let positives = host(&s.y.f_unsqueeze(1)?.f_mul(&s.train)?.f_sum_dim_intlist(0, false, Kind::Double)?)?;
    let counts = host(&s.counts)?;
    let means: Vec<f64> = positives.iter().zip(&counts).map(|(p, c)| p / c).collect();
    if means.iter().any(|&m| !(m > 0.0 && m < 1.0)) {
        return Err(Error::InvalidSetting {
            name: "labels",
            value: "one class".into(),
            expected: "both 0 and 1 in every fold",
        });
    }
    let mean_t = Tensor::f_from_slice(&means)?.f_to_device(device)?;
    let centered = s.y.f_unsqueeze(1)?.f_sub(&mean_t)?.f_mul(&s.train)?;
    // With r = −(y − ȳₖ) on fold k's rows, Σr = 0: the weight rows of the data gradient are
    // −X̃ₖᵀ(y − ȳₖ)/Nₖ, glmnet's λ_max·α.
    let at_zero = s.data_gradient(&centered.f_neg()?)?;
    let tops = host(&at_zero.f_narrow(0, 0, d)?.f_abs()?.f_amax(&[0i64][..], false)?)?;
    let tops: Vec<f64> = tops.iter().map(|t| t / config.alpha).collect();
    if let Some(t) = tops.iter().find(|t| !t.is_finite()) {
        let message = format!("λ_max, the gradient at zero, is {t}: the features' values are too large; scale them");
        return Err(Error::InvalidData { name: "x", message });
    }
    let null_bias: Vec<f64> = means.iter().map(|m| (m / (1.0 - m)).ln()).collect();
    // The gradient at θ = 0 (any λ: the ridge term vanishes there), for each fold's reference
    // optimality, as each sequential solve measures it.
    let zero_residual = s.y.f_unsqueeze(1)?.f_neg()?.f_add_scalar(0.5)?.f_mul(&s.train)?;
    let grad_zero = s.data_gradient(&zero_residual)?;

    let held = s.train.f_neg()?.f_add_scalar(1.0)?;
    let held_counts = host(&held.f_sum_dim_intlist(0, false, Kind::Double)?)?;
    let held_rows: Vec<Tensor> = (0..folds)
        .map(|f| {
            let rows: Vec<i64> = (0..fold.len()).filter(|&i| fold[i] == f).map(|i| i as i64).collect();
            Ok(Tensor::f_from_slice(&rows)?.f_to_device(device)?)
        })
        .collect::<Result<_>>()?;
    let labels: Vec<Vec<f32>> = held_rows
        .iter()
        .map(|rows| Ok(host(&s.y.f_index_select(0, rows)?)?.iter().map(|&v| v as f32).collect()))
        .collect::<Result<_>>()?;

    let tol = config.solver.tol;
    let max_iter = config.solver.max_iter.unwrap_or(100);
    let mut theta = Tensor::f_zeros([d + 1, k], (Kind::Double, device))?;
    let mut scores: Vec<Vec<(f64, f64)>> = vec![Vec::with_capacity(lambdas.len()); folds];
    for &lambda in lambdas {
        s.problem = Problem::from_glmnet(lambda, config.alpha);
        // Folds at or past their λ_max take the null model; the others start from their last fit.
        let solving: Vec<bool> = tops.iter().map(|&top| lambda < top).collect();
        let nulls: Vec<f64> = (0..folds)
            .flat_map(|f| (0..=d).map(move |j| (f, j)))
            .map(|(f, j)| if j == d { null_bias[f] } else { 0.0 })
            .collect();
        let null = Tensor::f_from_slice(&nulls)?.f_view([k, d + 1])?.f_tr()?.f_to_device(device)?;
        theta = theta.f_where_self(&flags(&solving, device)?.f_gt(0.5)?, &null)?;
        let z;
        (theta, z) = solve(&s, theta, &grad_zero, &solving, tol, max_iter)?;
        let loss =
            z.f_binary_cross_entropy_with_logits(&s.y_wide, None::<Tensor>, None::<Tensor>, tch::Reduction::None)?;
        let held_loss = host(&loss.f_mul(&held)?.f_sum_dim_intlist(0, false, Kind::Double)?)?;
        for f in 0..folds {
            let z_held: Vec<f32> =
                host(&z.f_select(1, f as i64)?.f_index_select(0, &held_rows[f])?)?.iter().map(|&v| v as f32).collect();
            scores[f].push((held_loss[f] / held_counts[f], roc_auc(&z_held, &labels[f]).unwrap_or(f64::NAN)));
        }
    }
    Ok(scores)
}

/// Proximal Newton on the folds marked in `solving` from `theta` ((d+1)×K), the others left as
/// they are; each fold stops at `tol` relative to its optimality at θ = 0 (from `grad_zero`).
/// Returns θ and its scores (which the held-out losses use: no pass to make them again).
fn solve(
    s: &Folds,
    mut theta: Tensor,
    grad_zero: &Tensor,
    solving: &[bool],
    tol: f64,
    max_iter: usize,
) -> Result<(Tensor, Tensor)> {
    let device = theta.device();
    let d = s.d as usize;
    let zero = Tensor::f_zeros([s.d + 1, s.k], (Kind::Double, device))?;
    let start: Vec<f64> = s.optimality(&zero, grad_zero)?.iter().map(|v| v.max(f64::MIN_POSITIVE)).collect();
    let mut z = s.scores(&theta)?;
    let mut objective = s.values(&z, &theta)?.f_add(&s.nonsmooth(&theta)?)?;
    let mut grad = s.gradient(&z, &theta)?;
    let optimality = s.optimality(&theta, &grad)?;
    let mut active: Vec<bool> = (0..solving.len()).map(|f| solving[f] && optimality[f] / start[f] > tol).collect();
    let mut mask = vec![1.0f64; d];
    mask.push(0.0);
    for iteration in 1..=max_iter {
        if !active.contains(&true) {
            break;
        }
        crate::interrupt::check(iteration)?;
        // Each active fold's Newton direction; zero for the others.
        let mut columns = Vec::with_capacity(solving.len());
        let l1 = s.problem.l1;
        let (g_host, t_host) = (host(&grad.f_tr()?)?, host(&theta.f_tr()?)?);
        for (f, &on) in active.iter().enumerate() {
            if !on {
                columns.push(Tensor::f_zeros([s.d + 1], (Kind::Double, device))?);
                continue;
            }
            let hessian = s.hessian(&z, f as i64)?;
            let g = &g_host[f * (d + 1)..(f + 1) * (d + 1)];
            let direction = if l1 == 0.0 {
                newton_solve(&hessian, &Tensor::f_from_slice(g)?.f_to_device(device)?.f_neg()?)?
            } else {
                let h = host(&hessian)?;
                let t = &t_host[f * (d + 1)..(f + 1) * (d + 1)];
                Tensor::f_from_slice(&lasso_step(&h, g, t, &mask, l1))?.f_to_device(device)?
            };
            columns.push(direction);
        }
        let direction = Tensor::f_stack(&columns, 1)?;
        // Armijo per fold along its direction, D = ∇f·Δ + λ₁(‖θ+Δ‖₁ − ‖θ‖₁); the scores move
        // linearly (z + t·XΔ): one pass over X for every fold's search.
        let dz = s.scores(&direction)?;
        let full = theta.f_add(&direction)?;
        let decrease = host(&grad.f_mul(&direction)?.f_sum_dim_intlist(0, false, Kind::Double)?)?;
        let jump = host(&s.nonsmooth(&full)?.f_sub(&s.nonsmooth(&theta)?)?)?;
        let current = host(&objective)?;
        let mut step = vec![1.0f64; solving.len()];
        let (next, next_z, next_objective) = loop {
            let t = Tensor::f_from_slice(&step)?.f_to_device(device)?;
            let next = theta.f_add(&direction.f_mul(&t)?)?;
            let next_z = z.f_add(&dz.f_mul(&t)?)?;
            let next_objective = s.values(&next_z, &next)?.f_add(&s.nonsmooth(&next)?)?;
            let values = host(&next_objective)?;
            let mut done = true;
            for f in 0..step.len() {
                let armijo = values[f] <= current[f] + 0.01 * step[f] * (decrease[f] + jump[f]);
                if active[f] && !armijo && step[f] > 1e-10 {
                    step[f] *= 0.5;
                    done = false;
                }
            }
            if done {
                break (next, next_z, values);
            }
        };
        // A fold whose best step does not decrease F has no decrease left at this precision.
        let improved: Vec<bool> = (0..step.len()).map(|f| active[f] && next_objective[f] <= current[f]).collect();
        let keep = flags(&improved, device)?.f_gt(0.5)?;
        theta = next.f_where_self(&keep, &theta)?;
        z = next_z.f_where_self(&keep, &z)?;
        let merged: Vec<f64> =
            (0..step.len()).map(|f| if improved[f] { next_objective[f] } else { current[f] }).collect();
        objective = Tensor::f_from_slice(&merged)?.f_to_device(device)?;
        grad = s.gradient(&z, &theta)?;
        let optimality = s.optimality(&theta, &grad)?;
        for f in 0..active.len() {
            active[f] = improved[f] && optimality[f] / start[f] > tol;
        }
    }
    Ok((theta, z))
}
