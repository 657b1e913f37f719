//! Deterministic full-batch solvers that reach the regularized optimum, in f64 on tch tensors (so
//! they run on CUDA unchanged).
//!
//! They minimise F(w, b) = (1/N)·Σᵢ logloss(yᵢ, xᵢ·w + b) + λ₁‖w‖₁ + λ₂‖w‖₂² (the bias joins w in
//! the penalty only with `penalize_bias`):
//!
//! | solver   | method |
//! |----------|--------|
//! | `newton` | proximal Newton: the Hessian Xᵀ·diag(p(1−p))·X/N on the device (f32 rows when X is f32, sub-sampled past `HESSIAN_ROWS`·2 = 65 536 rows), the L1 subproblem by coordinate descent on the d×d model (a linear solve without L1), Armijo backtracking on F |
//! | `fista`  | monotone accelerated proximal gradient with backtracking; only matrix-vector products, for large d |
//! | `tron`   | trust-region Newton-CG ([`tron`]), L2 only: Hessian-vector products, never a d×d Hessian; on the CPU |
//! | `newton-cd` | newGLMNET-style proximal Newton ([`newton_cd`]): coordinate descent on X's columns over an active set; on the CPU |
//!
//! Soft-thresholding makes zeros exact in both. Both stop when the optimality measure, the norm of
//! the proximal-gradient mapping G(θ) = θ − prox_{λ₁‖·‖₁}(θ − ∇f(θ)) (the gradient itself when
//! λ₁ = 0), falls below `tol` times its value at θ = 0 (so a warm start is held to the same
//! standard as a cold one), or after `max_iter` iterations (then `converged` is false). Both check
//! [`crate::interrupt`] once per iteration.

pub mod auto;
pub(crate) mod columns;
pub mod cv;
#[cfg(feature = "dist")]
pub mod distributed;
mod folds;
pub mod multinomial;
pub mod multinomial_cv;
pub mod multinomial_path;
mod multinomial_rows;
mod multinomial_tron;
pub mod newton_cd;
pub mod path;
mod rows;
mod screen;
pub mod tron;
pub mod weights;

pub use columns::sigmoid;

use tch::{Device, Kind, Tensor};

use crate::error::{ensure, Error, Result};

/// Called after each iteration with its number (from 1) and F there; `Break` stops the solve
/// with [`Error::Interrupted`].
pub type Observer<'a> = &'a mut dyn FnMut(usize, f64) -> std::ops::ControlFlow<()>;

/// Which solver, for full-batch training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    /// Proximal Newton: few iterations, each with a d×d Hessian; up to a few thousand features.
    Newton,
    /// Accelerated proximal gradient: matrix-vector products only; for many features.
    Fista,
    /// Trust-region Newton-CG (liblinear's TRON), L2 only: cost per iteration O(nnz), no d×d matrix.
    Tron,
    /// Proximal Newton with coordinate descent on X's columns (newGLMNET): L1, Elastic Net, L2.
    #[serde(rename = "newton-cd")]
    NewtonCd,
}

/// The regularized problem: λ₁ (L1) and λ₂ (squared L2) on the weights, the bias too if asked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Problem {
    /// λ₁ ≥ 0, on ‖w‖₁.
    pub l1: f64,
    /// λ₂ ≥ 0, on ‖w‖₂².
    pub l2: f64,
    pub(crate) penalize_bias: bool,
}

impl Problem {
    /// scikit-learn's `C` and `l1_ratio` ρ on `n` rows: its objective
    /// r(w) + C·Σᵢ logloss, r(w) = ρ‖w‖₁ + (1−ρ)/2‖w‖₂², divided by C·n, is F with
    /// λ₁ = ρ/(C·n) and λ₂ = (1−ρ)/(2·C·n). The bias is not penalized.
    pub fn from_sklearn(c: f64, l1_ratio: f64, n: usize) -> Self {
        Self::from_sklearn_weighted(c, l1_ratio, n as f64)
    }

    /// scikit-learn's `C` and `l1_ratio` ρ with row weights sᵢ (sample × class weight) summing to
    /// `total_weight`: its objective r(w) + C·Σᵢ sᵢ·logloss, divided by C·Σᵢ sᵢ, is the weighted
    /// mean loss plus λ₁‖w‖₁ + λ₂‖w‖₂² with λ₁ = ρ/(C·Σsᵢ) and λ₂ = (1−ρ)/(2·C·Σsᵢ). Without
    /// weights Σsᵢ = n ([`Problem::from_sklearn`]).
    pub fn from_sklearn_weighted(c: f64, l1_ratio: f64, total_weight: f64) -> Self {
        let scale = c * total_weight;
        Self { l1: l1_ratio / scale, l2: (1.0 - l1_ratio) / (2.0 * scale), penalize_bias: false }
    }

    /// The same problem with the bias (the intercepts) penalized too, or not.
    pub fn with_penalized_bias(mut self, on: bool) -> Self {
        self.penalize_bias = on;
        self
    }

    /// glmnet's `lambda` and `alpha`: (1/N)·Σᵢ logloss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²) is F with
    /// λ₁ = λα and λ₂ = λ(1−α)/2. The bias is not penalized. With weights glmnet normalises them
    /// to sum N, which makes its mean the weighted mean the solvers use: the same mapping.
    pub fn from_glmnet(lambda: f64, alpha: f64) -> Self {
        Self { l1: lambda * alpha, l2: lambda * (1.0 - alpha) / 2.0, penalize_bias: false }
    }
}

/// Stopping rule. Defaults: `tol` 1e-8, `max_iter` 100 for Newton, 20 000 for FISTA, 1 000 for
/// TRON and newton-cd.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolverConfig {
    /// Converged once the optimality measure, relative to its value at θ = 0, is at most this (> 0).
    pub tol: f64,
    /// The most iterations; `None`: 100 for Newton, 20 000 for FISTA, 1 000 for TRON and newton-cd.
    pub max_iter: Option<usize>,
}

impl Default for SolverConfig {
    fn default() -> Self {
        Self { tol: 1e-8, max_iter: None }
    }
}

/// The exact solver `auto` picks for dense data of `rows` × `features`, with or without L1:
/// [`auto::choose`]'s.
pub fn auto_kind(rows: usize, features: usize, l1: bool) -> SolverKind {
    auto::choose(rows, features, rows.saturating_mul(features), l1).kind
}

/// Newton's Hessian uses every k-th row, k = ⌊N / HESSIAN_ROWS⌋, once N is at least twice this:
/// its cost stops growing with N while the gradient still uses every row.
pub(crate) const HESSIAN_ROWS: i64 = 32_768;

/// What a solver reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// The weights, one per feature.
    pub coef: Vec<f64>,
    /// The bias.
    pub intercept: f64,
    /// Iterations run (0: the start was already optimal).
    pub iterations: usize,
    /// Whether the optimality measure reached `tol`.
    pub converged: bool,
    /// F at the solution.
    pub objective: f64,
    /// F after each iteration (index 0: the start).
    pub(crate) objectives: Vec<f64>,
    /// The optimality measure at the end, relative to its value at θ = 0.
    pub optimality: f64,
    /// Wall-clock seconds of the solve, from the data in its input form to the solution.
    pub seconds: f64,
    /// Full passes over X (products X·v and Xᵀ·r), the start's included; Newton's Hessian reads
    /// only its row subsample and is not counted.
    pub passes: usize,
    /// Seconds spent in those passes (on a GPU, each timed from a synchronized start to its end):
    /// with `passes` and X's bytes, the rate at which the passes read X.
    pub pass_seconds: f64,
}

impl Solution {
    /// F after each iteration (index 0: the start).
    pub fn objectives(&self) -> &[f64] {
        &self.objectives
    }
}

/// The data and penalty; θ = [w; b], the scores z = X·w + b (the bias kept apart from X, so X
/// is never copied to add a column).
struct Smooth {
    x: Tensor,
    /// X for the Hessian: every `hessian_stride`-th row, in the input's precision. Neither the
    /// f32 nor the subsample changes the optimum, which is judged on the f64 gradient of all
    /// rows; they only make the Newton direction slightly inexact (sub-sampled Newton).
    x_hessian: Tensor,
    hessian_stride: i64,
    y: Tensor,
    /// Row weights scaled to mean 1 (so the mean of sᵢℓᵢ is the weighted mean), or none.
    weights: Option<Tensor>,
    /// 1 for penalized coordinates, 0 for an unpenalized bias.
    mask: Tensor,
    problem: Problem,
    n: f64,
    d: i64,
    /// Full passes over X so far, and the seconds they took.
    passes: std::cell::Cell<usize>,
    pass_seconds: std::cell::Cell<f64>,
}

impl Smooth {
    /// Runs one pass over X, counted and timed (on CUDA between two synchronizations, so the
    /// time is the pass's, not its launch's).
    fn pass(&self, f: impl FnOnce() -> Result<Tensor>) -> Result<Tensor> {
        let sync = || {
            if let Device::Cuda(i) = self.x.device() {
                tch::Cuda::synchronize(i as i64);
            }
        };
        sync();
        let started = std::time::Instant::now();
        let out = f()?;
        sync();
        self.passes.set(self.passes.get() + 1);
        self.pass_seconds.set(self.pass_seconds.get() + started.elapsed().as_secs_f64());
        Ok(out)
    }
}

/// What Newton and FISTA need of a problem F(θ) = f(θ) + λ₁‖m⊙θ‖₁ on a flat θ: f smooth, its
/// gradient and Hessian through the scores z, linear in θ.
pub(crate) trait Objective {
    /// The scores z(θ), linear in θ (so z(θ + tΔ) = z(θ) + t·z(Δ)).
    fn scores(&self, theta: &Tensor) -> Result<Tensor>;
    /// f(θ) from its scores; also m⊙θ.
    fn value_at(&self, z: &Tensor, theta: &Tensor) -> Result<(f64, Tensor)>;
    /// ∇f from the scores and m⊙θ.
    fn grad_at(&self, z: &Tensor, masked: &Tensor) -> Result<Tensor>;
    /// ∇²f at the scores, in f64.
    fn hessian_at(&self, z: &Tensor) -> Result<Tensor>;
    /// The Newton system for a smooth problem: the Hessian, made solvable along directions that
    /// change neither f nor the penalty (the default has none).
    fn newton_system(&self, hessian: Tensor) -> Result<Tensor> {
        Ok(hessian)
    }
    /// Whether Newton may keep a Hessian over iterations (see [`newton`]): for problems whose
    /// Hessian costs far more than a gradient.
    fn reuse_hessian(&self) -> bool {
        false
    }
    /// The proximal Newton step for the L1 model (`h` row-major, `g` the gradient at `theta`);
    /// `optimality` is the optimality measure at `theta`, for a problem that solves the step only
    /// as exactly as the outer iteration needs. The default is [`lasso_step`], to 1e-12.
    fn proximal_step(&self, h: &[f64], g: &[f64], theta: &[f64], mask: &[f64], optimality: f64) -> Vec<f64> {
        let _ = optimality;
        lasso_step(h, g, theta, mask, self.l1())
    }
    /// 1 for penalized coordinates, 0 for the others.
    fn mask(&self) -> &Tensor;
    /// λ₁.
    fn l1(&self) -> f64;

    /// f(θ) and its gradient.
    fn value_and_grad(&self, theta: &Tensor) -> Result<(f64, Tensor)> {
        let z = self.scores(theta)?;
        let (value, masked) = self.value_at(&z, theta)?;
        Ok((value, self.grad_at(&z, &masked)?))
    }

    /// f(θ).
    fn value(&self, theta: &Tensor) -> Result<f64> {
        Ok(self.value_at(&self.scores(theta)?, theta)?.0)
    }

    /// λ₁‖m⊙θ‖₁.
    fn nonsmooth(&self, theta: &Tensor) -> Result<f64> {
        Ok(self.l1() * theta.f_mul(self.mask())?.f_abs()?.f_sum(Kind::Double)?.f_double_value(&[])?)
    }

    /// prox of step·λ₁‖m⊙·‖₁: soft-thresholding of the penalized coordinates.
    fn prox(&self, v: &Tensor, step: f64) -> Result<Tensor> {
        let threshold = self.mask().f_mul_scalar(step * self.l1())?;
        Ok(v.f_sign()?.f_mul(&v.f_abs()?.f_sub(&threshold)?.f_clamp_min(0.0)?)?)
    }

    /// ‖θ − prox(θ − g)‖₂, the optimality measure.
    fn optimality(&self, theta: &Tensor, grad: &Tensor) -> Result<f64> {
        if self.l1() == 0.0 {
            return Ok(grad.f_norm()?.f_double_value(&[])?);
        }
        let moved = self.prox(&theta.f_sub(grad)?, 1.0)?;
        Ok(theta.f_sub(&moved)?.f_norm()?.f_double_value(&[])?)
    }
}

/// Where Newton or FISTA stopped.
pub(crate) struct Outcome {
    pub(crate) theta: Tensor,
    pub(crate) iterations: usize,
    pub(crate) converged: bool,
    pub(crate) objectives: Vec<f64>,
    pub(crate) optimality: f64,
}

impl Objective for Smooth {
    /// z = X·w + b.
    fn scores(&self, theta: &Tensor) -> Result<Tensor> {
        let w = theta.f_narrow(0, 0, self.d)?;
        Ok(self.pass(|| Ok(self.x.f_mv(&w)?))?.f_add(&theta.f_narrow(0, self.d, 1)?)?)
    }

    /// f(θ) = mean logloss + λ₂‖m⊙θ‖², from the scores z; also m⊙θ.
    fn value_at(&self, z: &Tensor, theta: &Tensor) -> Result<(f64, Tensor)> {
        let loss = z.f_binary_cross_entropy_with_logits(
            &self.y,
            self.weights.as_ref(),
            None::<&Tensor>,
            tch::Reduction::Mean,
        )?;
        let masked = theta.f_mul(&self.mask)?;
        let value = loss.f_double_value(&[])? + self.problem.l2 * masked.f_dot(&masked)?.f_double_value(&[])?;
        Ok((value, masked))
    }

    /// ∇f at θ from its scores z: [Xᵀr; Σr]/N + 2λ₂·m⊙θ with r = σ(z) − y.
    fn grad_at(&self, z: &Tensor, masked: &Tensor) -> Result<Tensor> {
        let mut residual = z.f_sigmoid()?.f_sub(&self.y)?;
        if let Some(w) = &self.weights {
            residual = residual.f_mul(w)?;
        }
        let xr = self.pass(|| Ok(self.x.f_tr()?.f_mv(&residual)?))?;
        let grad = Tensor::f_cat(&[xr, residual.f_sum(Kind::Double)?.f_reshape([1])?], 0)?;
        Ok(grad.f_div_scalar(self.n)?.f_add(&masked.f_mul_scalar(2.0 * self.problem.l2)?)?)
    }

    /// The Hessian of f at scores z: [[XᵀWX, XᵀW1], [1ᵀWX, ΣW]]/N + 2λ₂ diag(m), W = diag(s·p(1−p))
    /// with s the row weights, in f64.
    fn hessian_at(&self, z: &Tensor) -> Result<Tensor> {
        let n = self.x.size()[0];
        let p = z.f_slice(0, 0, n, self.hessian_stride)?.f_sigmoid()?;
        let mut w = p.f_mul(&p.f_neg()?.f_add_scalar(1.0)?)?;
        if let Some(s) = &self.weights {
            w = w.f_mul(&s.f_slice(0, 0, n, self.hessian_stride)?)?;
        }
        let w = w.f_to_kind(self.x_hessian.kind())?;
        let weighted = self.x_hessian.f_mul(&w.f_unsqueeze(1)?)?;
        let xwx = self.x_hessian.f_tr()?.f_mm(&weighted)?;
        let xw = self.x_hessian.f_tr()?.f_mv(&w)?;
        let top = Tensor::f_cat(&[xwx, xw.f_unsqueeze(1)?], 1)?;
        let bottom = Tensor::f_cat(&[xw, w.f_sum(w.kind())?.f_reshape([1])?], 0)?.f_unsqueeze(0)?;
        let h = Tensor::f_cat(&[top, bottom], 0)?.f_to_kind(Kind::Double)?.f_div_scalar(p.size()[0] as f64)?;
        Ok(h.f_add(&self.mask.f_mul_scalar(2.0 * self.problem.l2)?.f_diag(0)?)?)
    }

    fn mask(&self) -> &Tensor {
        &self.mask
    }

    fn l1(&self) -> f64 {
        self.problem.l1
    }
}

fn solution(s: &Smooth, outcome: Outcome) -> Result<Solution> {
    let Outcome { theta, iterations, converged, objectives, optimality } = outcome;
    let theta = &theta;
    let all = Vec::<f64>::try_from(theta.f_to_device(Device::Cpu)?)?;
    let (coef, intercept) = all.split_at(all.len() - 1);
    let objective = s.value(theta)? + s.nonsmooth(theta)?;
    Ok(Solution {
        coef: coef.to_vec(),
        intercept: intercept[0],
        iterations,
        converged,
        objective,
        objectives,
        optimality,
        seconds: 0.0,
        passes: s.passes.get(),
        pass_seconds: s.pass_seconds.get(),
    })
}

/// Minimises F for `x` (`[n, d]`) and `y` (`[n]` or `[n, 1]`, 0/1) on their device, from zero.
pub fn solve(x: &Tensor, y: &Tensor, problem: Problem, kind: SolverKind, config: SolverConfig) -> Result<Solution> {
    solve_observed(x, y, problem, kind, config, &mut |_, _| std::ops::ControlFlow::Continue(()))
}

/// As [`solve`], calling `observer` after each iteration.
pub fn solve_observed(
    x: &Tensor,
    y: &Tensor,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    observer: Observer,
) -> Result<Solution> {
    solve_weighted(x, y, None, problem, kind, config, observer)
}

/// As [`solve_observed`] with one weight per row (`None`: 1 each; see [`weights::Weights`] for
/// sample and class weights): F's loss is then the weighted mean Σᵢ sᵢ·loglossᵢ / Σᵢ sᵢ. Weights
/// that are negative, non-finite, all zero or not one per row are refused
/// ([`Error::InvalidWeights`]).
pub fn solve_weighted(
    x: &Tensor,
    y: &Tensor,
    weights: Option<&[f64]>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    observer: Observer,
) -> Result<Solution> {
    let started = std::time::Instant::now();
    let (n, _) = x.size2()?;
    let weights = match weights {
        Some(w) => {
            weights::check_rows(w, n as usize)?;
            Some(mean_one(w, x.device())?)
        }
        None => None,
    };
    let design = Design::new(x, kind)?;
    let mut solution = solve_design_weighted(&design, y, weights.as_ref(), problem, kind, config, None, observer)?;
    solution.seconds = started.elapsed().as_secs_f64();
    Ok(solution)
}

/// Checked row weights as an f64 tensor on `device`, scaled to mean 1.
pub(crate) fn mean_one(weights: &[f64], device: Device) -> Result<Tensor> {
    let total: f64 = weights.iter().sum();
    let scale = weights.len() as f64 / total;
    let scaled: Vec<f64> = weights.iter().map(|w| w * scale).collect();
    Ok(Tensor::f_from_slice(&scaled)?.f_to_device(device)?)
}

/// The features prepared for the solvers, once for any number of solves (a path): X in f64 and
/// the rows Newton's Hessian uses.
pub(crate) struct Design {
    x: Tensor,
    x_hessian: Tensor,
    hessian_stride: i64,
    /// X column-major for `newton-cd`, row-major for `tron`.
    columns: Option<columns::Columns<'static>>,
}

impl Design {
    /// Prepares `x` (`[n, d]`, on its device) for `kind`.
    pub(crate) fn new(x: &Tensor, kind: SolverKind) -> Result<Self> {
        let (n, _) = x.size2()?;
        if matches!(kind, SolverKind::Tron | SolverKind::NewtonCd) {
            let empty = Tensor::f_zeros([0], (Kind::Double, Device::Cpu))?;
            // TRON only multiplies by X and Xᵀ: row-major, one pass a product.
            let columns = Some(match kind {
                SolverKind::Tron => columns::Columns::dense_rows(x)?,
                _ => columns::Columns::dense(x)?,
            });
            return Ok(Self { x: x.shallow_clone(), x_hessian: empty, hessian_stride: 1, columns });
        }
        let x64 = x.f_to_kind(Kind::Double)?;
        let (x_hessian, hessian_stride) = match kind {
            SolverKind::Newton => hessian_sample(x, &x64, HESSIAN_ROWS)?,
            _ => (x64.shallow_clone(), (n / HESSIAN_ROWS).max(1)),
        };
        Ok(Self { x: x64, x_hessian, hessian_stride, columns: None })
    }
}

/// Newton's Hessian rows of `x` (`x64` its f64 copy): every k-th row, k = ⌊N / `rows`⌋, in
/// `x`'s precision when that is f32 or k > 1 (neither changes the optimum, judged on the f64
/// gradient of all rows; they only make the direction slightly inexact), else `x64` itself.
pub(crate) fn hessian_sample(x: &Tensor, x64: &Tensor, rows: i64) -> Result<(Tensor, i64)> {
    let n = x.size()[0];
    let stride = (n / rows).max(1);
    let sample = match stride > 1 || x.kind() == Kind::Float {
        true => x.f_slice(0, 0, n, stride)?.f_contiguous()?,
        false => x64.shallow_clone(),
    };
    Ok((sample, stride))
}

/// H's Cholesky factor, when H is (numerically) positive definite. H is symmetric and, but for
/// the singular case, positive definite: Cholesky costs half of LU.
pub(crate) fn cholesky(hessian: &Tensor) -> Result<Option<Tensor>> {
    let (factor, info) = Tensor::f_linalg_cholesky_ex(hessian, false, false)?;
    Ok((info.f_int64_value(&[])? == 0).then_some(factor))
}

/// The Newton direction H⁻¹·(−g). A singular H (a column repeating another, and no L2 penalty)
/// has no unique optimum, and a little damping relative to the curvature still descends.
pub(crate) fn newton_solve(hessian: &Tensor, minus_grad: &Tensor) -> Result<Tensor> {
    newton_solve_factored(hessian, cholesky(hessian)?.as_ref(), minus_grad)
}

/// As [`newton_solve`], with H's Cholesky factor when there is one (kept over iterations).
pub(crate) fn newton_solve_factored(hessian: &Tensor, factor: Option<&Tensor>, minus_grad: &Tensor) -> Result<Tensor> {
    if let Some(factor) = factor {
        let direction = Tensor::f_cholesky_solve(&minus_grad.f_unsqueeze(1)?, factor, false)?.f_squeeze_dim(1)?;
        if bool::try_from(direction.f_isfinite()?.f_all()?)? {
            return Ok(direction);
        }
    }
    match Tensor::f_linalg_solve(hessian, minus_grad, true) {
        Ok(direction) => Ok(direction),
        Err(_) => {
            let size = hessian.size()[0];
            let scale = hessian.f_diagonal(0, 0, 1)?.f_max()?.f_double_value(&[])?.max(f64::MIN_POSITIVE);
            let eye = Tensor::f_eye(size, (Kind::Double, hessian.device()))?;
            Ok(Tensor::f_linalg_solve(&hessian.f_add(&eye.f_mul_scalar(1e-10 * scale)?)?, minus_grad, true)?)
        }
    }
}

/// As [`solve_observed`], on features already prepared (its `seconds` exclude the preparation),
/// from `start` (coefficients and intercept) when given: a warm start.
pub(crate) fn solve_design(
    design: &Design,
    y: &Tensor,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    start: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    solve_design_weighted(design, y, None, problem, kind, config, start, observer)
}

/// The penalty and stopping rule within range.
pub(crate) fn check_settings(problem: Problem, config: SolverConfig) -> Result<()> {
    ensure(problem.l1.is_finite() && problem.l1 >= 0.0, "lambda_l1", problem.l1, "must be a finite number >= 0")?;
    ensure(problem.l2.is_finite() && problem.l2 >= 0.0, "lambda_l2", problem.l2, "must be a finite number >= 0")?;
    ensure(config.tol.is_finite() && config.tol > 0.0, "tol", config.tol, "must be a finite number > 0")
}

/// As [`solve_design`], with row weights scaled to mean 1 ([`mean_one`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_design_weighted(
    design: &Design,
    y: &Tensor,
    weights: Option<&Tensor>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    start: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    check_settings(problem, config)?;
    let started = std::time::Instant::now();
    if let Some(columns) = &design.columns {
        if weights.is_some() {
            return Err(Error::InvalidSetting {
                name: "sample_weight",
                value: format!("{kind:?}").to_lowercase(),
                expected: "newton or fista: tron and newton-cd take no weights yet",
            });
        }
        let y = Vec::<f64>::try_from(y.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?.f_reshape([-1])?)?;
        let mut solution = solve_columns(columns, &y, problem, kind, config, start, None, observer)?;
        solution.seconds = started.elapsed().as_secs_f64();
        return Ok(solution);
    }
    let device = design.x.device();
    let (n, d) = design.x.size2()?;
    let mut mask = vec![1.0f64; d as usize];
    mask.push(if problem.penalize_bias { 1.0 } else { 0.0 });
    let s = Smooth {
        x: design.x.shallow_clone(),
        x_hessian: design.x_hessian.shallow_clone(),
        hessian_stride: design.hessian_stride,
        d,
        y: y.f_to_kind(Kind::Double)?.f_reshape([n])?,
        weights: weights.map(Tensor::shallow_clone),
        mask: Tensor::f_from_slice(&mask)?.f_to_device(device)?,
        problem,
        n: n as f64,
        passes: std::cell::Cell::new(0),
        pass_seconds: std::cell::Cell::new(0.0),
    };
    let zero = Tensor::f_zeros([d + 1], (Kind::Double, device))?;
    let reference = s.optimality(&zero, &s.value_and_grad(&zero)?.1)?.max(f64::MIN_POSITIVE);
    let theta = match start {
        Some((coef, intercept)) => {
            ensure(coef.len() == d as usize, "start", coef.len(), "must have one coefficient per feature")?;
            Tensor::f_from_slice(&[coef, &[intercept]].concat())?.f_to_device(device)?
        }
        None => zero,
    };
    let outcome = match kind {
        SolverKind::Newton => newton(&s, theta, reference, config.tol, config.max_iter.unwrap_or(100), observer),
        SolverKind::Fista => fista(&s, theta, reference, config.tol, config.max_iter.unwrap_or(20_000), observer),
        SolverKind::Tron | SolverKind::NewtonCd => unreachable!("Design::new prepares columns for {kind:?}"),
    }?;
    let mut solution = solution(&s, outcome)?;
    solution.seconds = started.elapsed().as_secs_f64();
    Ok(solution)
}

/// `tron` or `newton-cd` on X by columns, from zero or `start`; `reference` replaces the optimality
/// measure at θ = 0 that `config.tol` is relative to (a screened path's subproblem is held to the
/// whole problem's standard).
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_columns(
    x: &columns::Columns,
    y: &[f64],
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    start: Option<(&[f64], f64)>,
    reference: Option<f64>,
    observer: Observer,
) -> Result<Solution> {
    let d = x.cols();
    ensure(y.len() == x.rows(), "y", y.len(), "must have one label per row")?;
    let mut o = columns::Objective::new(x, y, problem);
    let zero = vec![0.0; d + 1];
    let z = vec![0.0; y.len()];
    let grad_zero = o.gradient(&z, &zero, None).0;
    let reference = reference.unwrap_or_else(|| o.optimality(&zero, &grad_zero)).max(f64::MIN_POSITIVE);
    o.passes = 0;
    let theta = match start {
        Some((coef, intercept)) => {
            ensure(coef.len() == d, "start", coef.len(), "must have one coefficient per feature")?;
            [coef, &[intercept]].concat()
        }
        None => zero,
    };
    let max_iter = config.max_iter.unwrap_or(1000);
    match kind {
        SolverKind::Tron => tron::tron(&mut o, theta, reference, config.tol, max_iter, observer),
        SolverKind::NewtonCd => newton_cd::newton_cd(&mut o, theta, reference, config.tol, max_iter, observer),
        _ => unreachable!("solve_columns runs tron and newton-cd"),
    }
}

/// Minimises F for the sparse `x` and 0/1 labels `y` with `kind`: `tron` and `newton-cd` work on
/// X as it is (its CSC copy is built here, on a copy of `x`, unless [`CsrMatrix::ensure_columns`]
/// was called); `newton` and `fista` on X made dense.
pub fn solve_sparse(
    x: &crate::data::sparse::CsrMatrix,
    y: &[f32],
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    observer: Observer,
) -> Result<Solution> {
    check_settings(problem, config)?;
    let started = std::time::Instant::now();
    let mut solution = match kind {
        SolverKind::Tron | SolverKind::NewtonCd => {
            let copy;
            let x = if x.columns().is_some() {
                x
            } else {
                let mut c = x.clone();
                c.ensure_columns();
                copy = c;
                &copy
            };
            let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            solve_columns(&columns::Columns::sparse(x), &y, problem, kind, config, None, None, observer)?
        }
        _ => {
            let y = Tensor::f_from_slice(y)?;
            solve_observed(&x.to_dense()?, &y, problem, kind, config, observer)?
        }
    };
    solution.seconds = started.elapsed().as_secs_f64();
    Ok(solution)
}

/// `observer`'s verdict on `iteration`: `Break` becomes [`Error::Interrupted`].
fn observe(observer: &mut Observer, iteration: usize, objective: f64) -> Result<()> {
    match observer(iteration, objective) {
        std::ops::ControlFlow::Continue(()) => Ok(()),
        std::ops::ControlFlow::Break(()) => Err(Error::Interrupted { step: "iteration", at: iteration }),
    }
}

pub(crate) fn newton(
    s: &impl Objective,
    mut theta: Tensor,
    start: f64,
    tol: f64,
    max_iter: usize,
    mut observer: Observer,
) -> Result<Outcome> {
    let device = theta.device();
    let mask = Vec::<f64>::try_from(s.mask().f_to_device(Device::Cpu)?)?;
    let done = |theta: &Tensor, iterations, converged, objectives, optimality| {
        Ok(Outcome { theta: theta.shallow_clone(), iterations, converged, objectives, optimality })
    };
    let mut z = s.scores(&theta)?;
    let (value, masked) = s.value_at(&z, &theta)?;
    let mut grad = s.grad_at(&z, &masked)?;
    let mut objective = value + s.nonsmooth(&theta)?;
    let mut objectives = vec![objective];
    let mut optimality = s.optimality(&theta, &grad)? / start;
    if optimality <= tol {
        return done(&theta, 0, true, objectives, optimality);
    }
    // The Hessian (as a tensor for L2, as numbers for the L1 model) kept from an earlier
    // iteration, and the optimality measure when it was last used.
    let mut kept: Option<(Tensor, Option<Tensor>, Option<Vec<f64>>)> = None;
    let mut previous = f64::INFINITY;
    let mut iteration = 0;
    while iteration < max_iter {
        iteration += 1;
        crate::interrupt::check(iteration)?;
        // A problem whose Hessian costs many gradients (the multinomial's) keeps it while each
        // step still halves the optimality measure: with a row-sampled Hessian a fresh one does
        // little better (about 0.3–0.5 a step measured at 100k × 100, 10 classes), at the cost of
        // a dozen gradients.
        let reuse = s.reuse_hessian() && kept.is_some() && optimality <= 0.5 * previous;
        if !reuse {
            let hessian = s.hessian_at(&z)?;
            // The L1 model takes the Hessian itself (its coordinate descent keeps the centring).
            kept = Some(match s.l1() == 0.0 {
                true => {
                    let system = s.newton_system(hessian)?;
                    let factor = cholesky(&system)?;
                    (system, factor, None)
                }
                false => (hessian, None, None),
            });
        }
        previous = optimality;
        let Some((system, factor, numbers)) = kept.as_mut() else {
            return done(&theta, iteration, false, objectives, optimality);
        };
        let direction = if s.l1() == 0.0 {
            newton_solve_factored(system, factor.as_ref(), &grad.f_neg()?)?
        } else {
            if numbers.is_none() {
                *numbers = Some(Vec::<f64>::try_from(system.f_to_device(Device::Cpu)?.f_reshape([-1])?)?);
            }
            let h = numbers.as_deref().unwrap_or_default();
            let g = Vec::<f64>::try_from(grad.f_to_device(Device::Cpu)?)?;
            let t = Vec::<f64>::try_from(theta.f_to_device(Device::Cpu)?)?;
            let step = s.proximal_step(h, &g, &t, &mask, optimality * start);
            Tensor::f_from_slice(&step)?.f_to_device(device)?
        };
        // Armijo on F along the direction: F(θ + tΔ) ≤ F(θ) + σ·t·D, D = ∇f·Δ + λ₁(‖θ+Δ‖₁ − ‖θ‖₁).
        // The scores move linearly, z + t·XΔ: one pass over X for the whole search.
        let dz = s.scores(&direction)?;
        let full = theta.f_add(&direction)?;
        let decrease = grad.f_dot(&direction)?.f_double_value(&[])? + s.nonsmooth(&full)? - s.nonsmooth(&theta)?;
        let at = |t: f64| -> Result<(Tensor, Tensor, f64, Tensor)> {
            let next = if t == 1.0 { full.shallow_clone() } else { theta.f_add(&direction.f_mul_scalar(t)?)? };
            let next_z = z.f_add(&dz.f_mul_scalar(t)?)?;
            let (value, masked) = s.value_at(&next_z, &next)?;
            let objective = value + s.nonsmooth(&next)?;
            Ok((next, next_z, objective, masked))
        };
        let mut step = 1.0;
        let (mut next, mut next_z, mut next_objective, mut masked) = at(step)?;
        while next_objective > objective + 0.01 * step * decrease && step > 1e-10 {
            step *= 0.5;
            (next, next_z, next_objective, masked) = at(step)?;
        }
        if next_objective > objective {
            if reuse {
                // A kept Hessian that no longer gives a descent: form it afresh and retry.
                (kept, previous) = (None, f64::INFINITY);
                iteration -= 1;
                continue;
            }
            // No decrease is left to find at this precision.
            return done(&theta, iteration, optimality <= tol, objectives, optimality);
        }
        (theta, z, objective) = (next, next_z, next_objective);
        grad = s.grad_at(&z, &masked)?;
        objectives.push(objective);
        observe(&mut observer, iteration, objective)?;
        optimality = s.optimality(&theta, &grad)? / start;
        if optimality <= tol {
            return done(&theta, iteration, true, objectives, optimality);
        }
    }
    done(&theta, max_iter, false, objectives, optimality)
}

/// The proximal Newton step Δ: argmin g·Δ + ½ΔᵀHΔ + λ₁‖m⊙(θ+Δ)‖₁ by cyclic coordinate descent on
/// the d×d model (`h` row-major), until no coordinate moves by more than 1e-12 (relative).
pub(crate) fn lasso_step(h: &[f64], g: &[f64], theta: &[f64], mask: &[f64], l1: f64) -> Vec<f64> {
    let d = g.len();
    let mut delta = vec![0.0; d];
    // hd = H·Δ, kept up to date.
    let mut hd = vec![0.0; d];
    let scale = 1.0 + theta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for _sweep in 0..10_000 {
        let mut largest = 0.0f64;
        for j in 0..d {
            let hjj = h[j * d + j].max(1e-12);
            let current = theta[j] + delta[j];
            let moved = current - (g[j] + hd[j]) / hjj;
            let threshold = l1 * mask[j] / hjj;
            let next = moved.signum() * (moved.abs() - threshold).max(0.0);
            let change = next - current;
            if change != 0.0 {
                delta[j] += change;
                for (k, v) in hd.iter_mut().enumerate() {
                    *v += change * h[k * d + j];
                }
                largest = largest.max(change.abs());
            }
        }
        if largest <= 1e-12 * scale {
            break;
        }
    }
    delta
}

/// Monotone FISTA (Beck & Teboulle's MFISTA): the iterate keeps the better of the prox point and
/// itself, so F never increases; the momentum restarts whenever the prox point was worse.
pub(crate) fn fista(
    s: &impl Objective,
    theta: Tensor,
    start: f64,
    tol: f64,
    max_iter: usize,
    mut observer: Observer,
) -> Result<Outcome> {
    let done = |theta: &Tensor, iterations, converged, objectives, optimality| {
        Ok(Outcome { theta: theta.shallow_clone(), iterations, converged, objectives, optimality })
    };
    let mut lipschitz = 1.0;
    let value = s.value(&theta)?;
    let mut objective = value + s.nonsmooth(&theta)?;
    let mut objectives = vec![objective];
    let mut z = theta.shallow_clone();
    let (mut theta, mut t) = (theta, 1.0f64);
    let mut optimality = 1.0;
    // θ's scores when the last prox point became θ (its gradient is then one pass away), or θ's
    // gradient when θ was kept: each pass over X is made once, with the same bits as afresh.
    let mut theta_scores: Option<Tensor> = None;
    let mut theta_grad: Option<Tensor> = None;
    for iteration in 1..=max_iter {
        crate::interrupt::check(iteration)?;
        let (fz, gz) = s.value_and_grad(&z)?;
        // Backtracking: the quadratic model at z must bound f at the prox point.
        let (u, u_scores, u_value) = loop {
            let step = 1.0 / lipschitz;
            let candidate = s.prox(&z.f_sub(&gz.f_mul_scalar(step)?)?, step)?;
            let diff = candidate.f_sub(&z)?;
            let bound =
                fz + gz.f_dot(&diff)?.f_double_value(&[])? + 0.5 * lipschitz * diff.f_dot(&diff)?.f_double_value(&[])?;
            let scores = s.scores(&candidate)?;
            let value = s.value_at(&scores, &candidate)?.0;
            if value <= bound + 1e-14 * fz.abs() || lipschitz > 1e15 {
                break (candidate, scores, value);
            }
            lipschitz *= 2.0;
        };
        let u_objective = u_value + s.nonsmooth(&u)?;
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        // Differences below rounding in F are noise: they must not stall the iteration.
        if u_objective <= objective + 4.0 * f64::EPSILON * objective.abs() {
            // z = u + ((t − 1)/t')(u − θ)
            z = u.f_add(&u.f_sub(&theta)?.f_mul_scalar((t - 1.0) / t_next)?)?;
            theta = u;
            (theta_scores, theta_grad) = (Some(u_scores), None);
            objective = u_objective;
            t = t_next;
        } else {
            // Keep θ and restart the momentum from it.
            z = theta.shallow_clone();
            t = 1.0;
        }
        objectives.push(objective);
        observe(&mut observer, iteration, objective)?;
        let grad = match (theta_grad.take(), theta_scores.take()) {
            (Some(g), _) => g,
            (None, Some(scores)) => s.grad_at(&scores, &s.value_at(&scores, &theta)?.1)?,
            (None, None) => s.value_and_grad(&theta)?.1,
        };
        optimality = s.optimality(&theta, &grad)? / start;
        if optimality <= tol {
            return done(&theta, iteration, true, objectives, optimality);
        }
        theta_grad = Some(grad);
        lipschitz *= 0.95; // let the step grow back where the curvature allows
    }
    done(&theta, max_iter, false, objectives, optimality)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;

    fn data(n: i64, d: i64) -> (Tensor, Tensor) {
        with_seed(11, || {
            let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu));
            let w = Tensor::randn([d], (Kind::Double, Device::Cpu));
            let p = x.mv(&w).sigmoid();
            let y = p.bernoulli();
            (x, y)
        })
    }

    fn problem(l1: f64, l2: f64) -> Problem {
        Problem { l1, l2, penalize_bias: false }
    }

    #[test]
    fn a_repeated_column_without_l2_still_reaches_the_optimum() {
        // The Hessian is singular (two equal columns, no L2): Newton damps it and reaches the
        // optimum of the problem without the copy, the weight shared between the two columns.
        let (x, y) = data(400, 3);
        let doubled = Tensor::cat(&[x.shallow_clone(), x.narrow(1, 0, 1)], 1);
        let a = solve(&x, &y, problem(0.0, 0.0), SolverKind::Newton, SolverConfig::default()).unwrap();
        let b = solve(&doubled, &y, problem(0.0, 0.0), SolverKind::Newton, SolverConfig::default()).unwrap();
        assert!(b.converged, "{b:?}");
        assert!((a.objective - b.objective).abs() < 1e-12, "{} vs {}", a.objective, b.objective);
        assert!((a.coef[0] - (b.coef[0] + b.coef[3])).abs() < 1e-6, "{:?} vs {:?}", a.coef, b.coef);
    }

    /// The subgradient optimality conditions of F at a solution, largest violation.
    fn kkt_violation(x: &Tensor, y: &Tensor, p: Problem, s: &Solution) -> f64 {
        let w = Tensor::from_slice(&s.coef);
        let z = x.mv(&w) + s.intercept;
        let r = z.sigmoid() - y;
        let n = x.size()[0] as f64;
        let g = Vec::<f64>::try_from(x.tr().mv(&r) / n + &w * (2.0 * p.l2)).unwrap();
        let bias_grad = r.mean(Kind::Double).double_value(&[]);
        let mut worst = bias_grad.abs();
        for (gj, wj) in g.iter().zip(&s.coef) {
            let v = if *wj == 0.0 { (gj.abs() - p.l1).max(0.0) } else { (gj + p.l1 * wj.signum()).abs() };
            worst = worst.max(v);
        }
        worst
    }

    #[test]
    fn newton_reaches_the_l2_optimum_in_few_iterations() {
        let (x, y) = data(300, 8);
        let p = problem(0.0, 0.01);
        let s = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
        assert!(s.converged && s.iterations <= 15, "{} iterations", s.iterations);
        assert!(kkt_violation(&x, &y, p, &s) < 1e-8, "{}", kkt_violation(&x, &y, p, &s));
        assert!(s.objectives.windows(2).all(|w| w[1] <= w[0]), "{:?}", s.objectives);
    }

    #[test]
    fn fista_gives_exact_zeros_and_meets_the_optimality_conditions() {
        let (x, y) = data(300, 12);
        for p in [problem(0.05, 0.0), problem(0.03, 0.01)] {
            let s = solve(&x, &y, p, SolverKind::Fista, SolverConfig::default()).unwrap();
            assert!(s.converged, "{p:?}: {} iterations, optimality {}", s.iterations, s.optimality);
            let zeros = s.coef.iter().filter(|&&w| w == 0.0).count();
            assert!((2..12).contains(&zeros), "{p:?}: {zeros} zeros in {:?}", s.coef);
            assert!(kkt_violation(&x, &y, p, &s) < 1e-6, "{p:?}: {}", kkt_violation(&x, &y, p, &s));
            assert!(s.objectives.windows(2).all(|w| w[1] <= w[0] + 1e-15), "objective rose");
        }
    }

    #[test]
    fn fista_and_newton_agree_on_a_smooth_problem() {
        let (x, y) = data(200, 5);
        let p = problem(0.0, 0.02);
        let a = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
        let b = solve(&x, &y, p, SolverKind::Fista, SolverConfig::default()).unwrap();
        assert!((a.objective - b.objective).abs() <= 1e-10 * a.objective, "{} vs {}", a.objective, b.objective);
        assert!(a.coef.iter().zip(&b.coef).all(|(u, v)| (u - v).abs() < 1e-5));
    }

    #[test]
    fn a_large_l1_zeroes_every_weight_and_too_few_iterations_is_reported() {
        let (x, y) = data(100, 4);
        let s = solve(&x, &y, problem(10.0, 0.0), SolverKind::Fista, SolverConfig::default()).unwrap();
        assert!(s.coef.iter().all(|&w| w == 0.0), "{:?}", s.coef);
        let s = solve(&x, &y, problem(0.01, 0.0), SolverKind::Fista, SolverConfig { tol: 1e-12, max_iter: Some(3) })
            .unwrap();
        assert!(!s.converged && s.iterations == 3);
    }

    #[test]
    fn sklearn_and_glmnet_parameters_map_onto_the_same_objective() {
        let sk = Problem::from_sklearn(0.5, 0.3, 200);
        assert!((sk.l1 - 0.3 / 100.0).abs() < 1e-15 && (sk.l2 - 0.7 / 200.0).abs() < 1e-15);
        // glmnet with λ = 1/(C·n) and α = ρ is the same problem.
        let gl = Problem::from_glmnet(1.0 / 100.0, 0.3);
        assert!((gl.l1 - sk.l1).abs() < 1e-15 && (gl.l2 - sk.l2).abs() < 1e-15);
        assert!(!sk.penalize_bias && !gl.penalize_bias);
    }

    #[test]
    fn proximal_newton_and_fista_reach_the_same_sparse_optimum() {
        let (x, y) = data(300, 12);
        for p in [problem(0.05, 0.0), problem(0.03, 0.01)] {
            let a = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
            let b = solve(&x, &y, p, SolverKind::Fista, SolverConfig::default()).unwrap();
            assert!(a.converged && a.iterations <= 20, "{p:?}: {} iterations", a.iterations);
            assert!((a.objective - b.objective).abs() <= 1e-10 * a.objective, "{} vs {}", a.objective, b.objective);
            let zeros = |s: &Solution| s.coef.iter().map(|&w| w == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&a), zeros(&b), "{p:?}");
            assert!(kkt_violation(&x, &y, p, &a) < 1e-7, "{p:?}: {}", kkt_violation(&x, &y, p, &a));
            assert!(a.objectives.windows(2).all(|w| w[1] <= w[0]), "objective rose");
        }
    }

    #[test]
    fn a_subsampled_hessian_still_reaches_the_optimum() {
        // 2·HESSIAN_ROWS + 1 rows: the Hessian uses every other row, the gradient all of them.
        let (x, y) = data(2 * HESSIAN_ROWS + 1, 6);
        let x = x.to_kind(Kind::Float);
        for p in [problem(0.0, 1e-3), problem(2e-3, 0.0)] {
            let a = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
            let b = solve(&x, &y, p, SolverKind::Fista, SolverConfig::default()).unwrap();
            assert!(a.converged && a.iterations <= 15, "{p:?}: {} iterations", a.iterations);
            assert!((a.objective - b.objective).abs() <= 1e-10 * a.objective, "{} vs {}", a.objective, b.objective);
        }
    }

    #[test]
    fn integer_weights_are_repeated_rows_for_both_solvers() {
        let (x, y) = data(80, 4);
        let counts: Vec<usize> = (0..80).map(|i| 1 + i % 4).collect();
        let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let repeated: Vec<i64> = (0..80).flat_map(|i| std::iter::repeat_n(i as i64, counts[i])).collect();
        let rows = Tensor::from_slice(&repeated);
        let (xr, yr) = (x.index_select(0, &rows), y.index_select(0, &rows));
        let go = |_: usize, _: f64| std::ops::ControlFlow::Continue(());
        for (p, kind) in [(problem(0.0, 0.01), SolverKind::Newton), (problem(0.02, 0.0), SolverKind::Fista)] {
            let a = solve_weighted(&x, &y, Some(&weights), p, kind, SolverConfig::default(), &mut go.clone()).unwrap();
            let b = solve(&xr, &yr, p, kind, SolverConfig::default()).unwrap();
            assert!((a.objective - b.objective).abs() < 1e-12, "{kind:?}: {} vs {}", a.objective, b.objective);
            assert!(a.coef.iter().zip(&b.coef).all(|(u, v)| (u - v).abs() < 1e-6), "{:?} vs {:?}", a.coef, b.coef);
            assert_eq!(
                a.coef.iter().map(|&w| w == 0.0).collect::<Vec<_>>(),
                b.coef.iter().map(|&w| w == 0.0).collect::<Vec<_>>()
            );
        }
        // Scaling every weight by one constant is the same problem; unit weights are no weights.
        let scaled: Vec<f64> = weights.iter().map(|w| w * 1e3).collect();
        let p = problem(0.0, 0.01);
        let a = solve_weighted(&x, &y, Some(&weights), p, SolverKind::Newton, SolverConfig::default(), &mut go.clone());
        let b = solve_weighted(&x, &y, Some(&scaled), p, SolverKind::Newton, SolverConfig::default(), &mut go.clone());
        assert!((a.unwrap().objective - b.unwrap().objective).abs() < 1e-13);
        let ones =
            solve_weighted(&x, &y, Some(&[1.0; 80]), p, SolverKind::Newton, SolverConfig::default(), &mut go.clone());
        let plain = solve(&x, &y, p, SolverKind::Newton, SolverConfig::default()).unwrap();
        assert!((ones.unwrap().objective - plain.objective).abs() < 1e-15);
    }

    #[test]
    fn bad_weights_are_refused_before_any_work() {
        let (x, y) = data(10, 2);
        let go = &mut |_: usize, _: f64| std::ops::ControlFlow::Continue(());
        let run = |w: &[f64], go: Observer| {
            solve_weighted(&x, &y, Some(w), problem(0.0, 0.1), SolverKind::Newton, SolverConfig::default(), go)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(run(&[1.0; 9], go), "invalid sample_weight: 9 weights for 10 rows");
        assert_eq!(run(&[0.0; 10], go), "invalid sample_weight: every weight is zero");
        let mut w = [1.0; 10];
        w[9] = f64::INFINITY;
        assert_eq!(run(&w, go), "invalid sample_weight: inf at row 10 is not a finite number");
    }

    #[test]
    fn sklearns_c_maps_through_the_total_weight() {
        // C·Σ sᵢℓᵢ + ½‖w‖² divided by C·Σsᵢ: λ₂ = 1/(2·C·Σsᵢ).
        let p = Problem::from_sklearn_weighted(0.5, 0.0, 40.0);
        assert!((p.l2 - 1.0 / 40.0).abs() < 1e-18 && p.l1 == 0.0);
        assert_eq!(Problem::from_sklearn(0.5, 0.3, 200), Problem::from_sklearn_weighted(0.5, 0.3, 200.0));
        assert!(Problem::from_sklearn(1.0, 0.0, 10).with_penalized_bias(true).penalize_bias);
    }

    #[test]
    fn bad_settings_are_named() {
        let (x, y) = data(20, 2);
        let e = solve(&x, &y, problem(0.0, 0.0), SolverKind::Newton, SolverConfig { tol: 0.0, max_iter: None })
            .unwrap_err();
        assert!(e.to_string().starts_with("invalid tol: 0"), "{e}");
        let e = solve(&x, &y, problem(-1.0, 0.0), SolverKind::Newton, SolverConfig::default()).unwrap_err();
        assert!(e.to_string().starts_with("invalid lambda_l1: -1"), "{e}");
    }
}
