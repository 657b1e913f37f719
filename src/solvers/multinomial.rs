//! Multinomial (softmax) logistic regression to the regularized optimum, by proximal Newton or
//! FISTA, in f64 on tch tensors (so it runs on CUDA unchanged).
//!
//! K classes, weights W `[K, d]` and intercepts b `[K]`; class k's score is zₖ = xᵀwₖ + bₖ and
//! its probability softmax(z)ₖ. The objective is
//!
//!   F(W, b) = Σᵢ sᵢ·(logsumexp(zᵢ) − zᵢ,yᵢ) / Σᵢ sᵢ + λ₁‖W‖₁ + λ₂‖W‖₂²
//!
//! with row weights sᵢ (1 each without weights; [`super::weights`]) and the intercepts penalized
//! only with [`Problem::with_penalized_bias`]. [`Problem::from_sklearn_weighted`] and
//! [`Problem::from_glmnet`] map scikit-learn's and glmnet's parameters onto λ₁, λ₂ as for two
//! classes (scikit-learn's multinomial penalty is on the whole of W too).
//!
//! The softmax is over-parameterized: adding one vector to every class's (wₖ, bₖ) changes no
//! probability. The penalty pins the weights down (with L2 the optimum has Σₖ wₖ = 0); unpenalized
//! intercepts are centred over the classes (Σₖ bₖ = 0), and without any penalty the weights are
//! centred too, so the answer is unique. (One case stays open: under pure L1 the loss fixes only
//! the differences between classes, and a column's L1 norm is least with its weights centred on
//! their median; with an even number of classes any point between the two middle values is one,
//! so that column's weights, and which of them are zero, need not be unique.) Newton solves its system with that direction removed,
//! so the iterates stay centred.
//!
//! The Newton Hessian is the (d+1)·K block matrix Σᵢ sᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / N (x̃ = [x; 1]),
//! from every k-th row past 2·[`HESSIAN_ROWS`] rows and in f32 for f32 input, as in the
//! binary solver (at θ = 0 a Kronecker product); Newton keeps it over iterations while they
//! converge fast enough, as it costs tens of gradients. Its L1 subproblem goes by active-set
//! coordinate descent, only as exactly as the outer iteration needs. The stopping rule is the binary solvers': the
//! proximal-gradient mapping's norm relative to its value at zero.

use std::cell::Cell;

use tch::{Device, Kind, Tensor};

use super::multinomial_rows::Rows;
use super::multinomial_tron::{self, use_tron};
use super::{
    check_settings, fista, hessian_sample, mean_one, newton, Objective, Observer, Outcome, Problem, SolverConfig,
    SolverKind,
};
use crate::error::{ensure, Error, Result};

/// Newton's Hessian uses every k-th row, k = ⌊N / HESSIAN_ROWS⌋, once N is at least twice this.
/// A quarter of the binary solver's: a row costs K(K+1)/2 blocks of (d+1)² here. At 100k × 100
/// with 10 classes (2-core machine, loaded) 8192 rows reached 1e-8 of the optimum in 8 iterations
/// and 8.7 s against 5 and 20 s with 32 768; to tol 1e-8 they took 22 and 10 iterations, 31 s
/// and 27 s.
pub(crate) const HESSIAN_ROWS: i64 = 8192;

/// A multinomial fit: the weights, intercepts and how the solver got there.
#[derive(Clone, Debug, PartialEq)]
pub struct MultinomialFit {
    /// The weights, `[classes, features]` row-major: class k's are `coef[k·d .. (k+1)·d]`.
    pub coef: Vec<f64>,
    /// One intercept per class.
    pub intercept: Vec<f64>,
    /// K.
    pub classes: usize,
    /// d.
    pub features: usize,
    /// Iterations run (0: the start was already optimal).
    pub iterations: usize,
    /// Whether the optimality measure reached `tol`.
    pub converged: bool,
    /// F at the solution.
    pub objective: f64,
    /// F after each iteration (index 0: the start).
    pub objectives: Vec<f64>,
    /// The optimality measure at the end, relative to its value at zero.
    pub optimality: f64,
    /// Wall-clock seconds of the solve.
    pub seconds: f64,
    /// Full passes over X (products with X or Xᵀ).
    pub passes: usize,
    /// How the solver went: `newton` on the block Hessian, `newton-cg` matrix-free (TRON), or
    /// `fista`.
    pub method: &'static str,
}

impl MultinomialFit {
    /// Class `k`'s weights.
    pub fn coef_of(&self, k: usize) -> &[f64] {
        &self.coef[k * self.features..(k + 1) * self.features]
    }

    /// Class probabilities `[n, K]` (f64) for `x` (`[n, d]`, on any device).
    pub fn predict_proba(&self, x: &Tensor) -> Result<Tensor> {
        let (_, d) = x.size2()?;
        ensure(d as usize == self.features, "x", d, "must have the model's number of features")?;
        let w = Tensor::f_from_slice(&self.coef)?.f_view([self.classes as i64, d])?.f_to_device(x.device())?;
        let b = Tensor::f_from_slice(&self.intercept)?.f_to_device(x.device())?;
        Ok(x.f_to_kind(Kind::Double)?.f_mm(&w.f_tr()?)?.f_add(&b)?.f_softmax(1, Kind::Double)?)
    }
}

/// Minimises F for `x` (`[n, d]`) and `y` (`[n]`, class indices 0..`classes`) on their device,
/// from zero, with row weights (`None`: 1 each).
pub fn fit(
    x: &Tensor,
    y: &Tensor,
    classes: usize,
    weights: Option<&[f64]>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
) -> Result<MultinomialFit> {
    fit_observed(x, y, classes, weights, problem, kind, config, &mut |_, _| std::ops::ControlFlow::Continue(()))
}

/// As [`fit`], calling `observer` after each iteration.
#[allow(clippy::too_many_arguments)]
pub fn fit_observed(
    x: &Tensor,
    y: &Tensor,
    classes: usize,
    weights: Option<&[f64]>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    observer: Observer,
) -> Result<MultinomialFit> {
    solve(x, y, classes, weights, problem, kind, config, None, observer)
}

/// As [`fit`], from `start` (weights `[classes, d]` row-major, then intercepts) instead of zero:
/// a regularization path's warm start. The stopping rule stays relative to the optimality
/// measure at zero, so a warm fit stops where a cold one would.
#[allow(clippy::too_many_arguments)]
pub fn fit_from(
    x: &Tensor,
    y: &Tensor,
    classes: usize,
    weights: Option<&[f64]>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    start: (&[f64], &[f64]),
) -> Result<MultinomialFit> {
    let observer: Observer = &mut |_, _| std::ops::ControlFlow::Continue(());
    solve(x, y, classes, weights, problem, kind, config, Some(start), observer)
}

/// [`fit_observed`] from `start` when given, else from zero.
#[allow(clippy::too_many_arguments)]
fn solve(
    x: &Tensor,
    y: &Tensor,
    classes: usize,
    weights: Option<&[f64]>,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    start: Option<(&[f64], &[f64])>,
    observer: Observer,
) -> Result<MultinomialFit> {
    let started = std::time::Instant::now();
    check_settings(problem, config)?;
    let s = Softmax::new(x, y, classes, weights, problem, kind)?;
    let zero = Tensor::f_zeros([s.k * (s.d + 1)], (Kind::Double, s.x.device()))?;
    let reference = s.optimality(&zero, &s.value_and_grad(&zero)?.1)?.max(f64::MIN_POSITIVE);
    let theta = match start {
        Some((w, b)) => s.theta_of(w, b)?,
        None => zero,
    };
    let matrix_free = matches!(kind, SolverKind::Newton) && s.tron_applies();
    let outcome = match kind {
        SolverKind::Newton if matrix_free => {
            s.tron(theta, reference, config.tol, config.max_iter.unwrap_or(1000), observer)
        }
        SolverKind::Newton => newton(&s, theta, reference, config.tol, config.max_iter.unwrap_or(100), observer),
        SolverKind::Fista => fista(&s, theta, reference, config.tol, config.max_iter.unwrap_or(20_000), observer),
        SolverKind::Tron | SolverKind::NewtonCd => Err(Error::InvalidSetting {
            name: "solver",
            value: format!("{kind:?}").to_lowercase(),
            expected: "newton or fista for more than two classes",
        }),
    }?;
    let mut fit = s.finish(outcome)?;
    fit.seconds = started.elapsed().as_secs_f64();
    fit.method = match kind {
        SolverKind::Newton if matrix_free => "newton-cg",
        SolverKind::Newton => "newton",
        _ => "fista",
    };
    Ok(fit)
}

/// F at the given weights (`[classes, d]` row-major) and intercepts: for comparing a solution
/// with another's.
pub fn objective(
    x: &Tensor,
    y: &Tensor,
    classes: usize,
    weights: Option<&[f64]>,
    problem: Problem,
    coef: &[f64],
    intercept: &[f64],
) -> Result<f64> {
    let s = Softmax::new(x, y, classes, weights, problem, SolverKind::Fista)?;
    let theta = s.theta_of(coef, intercept)?;
    Ok(s.value(&theta)? + s.nonsmooth(&theta)?)
}

/// How the passes over X read it.
enum Passes {
    /// On the CPU: X row-major in its own precision (f32 or f64), one pass a product
    /// ([`super::multinomial_rows`]); it reads f32 X as is, where the tensor products need an
    /// f64 copy and an f64 Xᵀ (measured at 100k × 100, 10 classes: about 5× faster a pass).
    Rows(Rows),
    /// Elsewhere (CUDA): X in f64 and Xᵀ made contiguous (Xᵀ·R reads it about twice as fast
    /// as Rᵀ·X reads X).
    Tensors { x: Tensor, x_t: Tensor },
}

impl Passes {
    fn new(x: &Tensor, d: usize) -> Result<Self> {
        if x.device() != Device::Cpu {
            let x64 = x.f_to_kind(Kind::Double)?;
            return Ok(Passes::Tensors { x_t: x64.f_tr()?.f_contiguous()?, x: x64 });
        }
        let flat = x.f_contiguous()?.f_reshape([-1])?;
        Ok(Passes::Rows(match x.kind() {
            Kind::Float => Rows::F32 { data: Vec::<f32>::try_from(flat)?, d },
            _ => Rows::F64 { data: Vec::<f64>::try_from(flat.f_to_kind(Kind::Double)?)?, d },
        }))
    }
}

/// The data and penalty; θ = [W | b] flattened row-major, `[K·(d+1)]`.
struct Softmax {
    /// X as given.
    x: Tensor,
    /// How the passes read X: row by row on the CPU, else by tensor products.
    passes_over: Passes,
    /// ∇f at θ = 0, once computed: the reference measure and Newton's start both need it.
    zero_grad: std::cell::RefCell<Option<Tensor>>,
    /// X̃ = [X | 1] for the Hessian, every `hessian_stride`-th row in the Hessian's precision,
    /// and its transpose made contiguous: both built once, for Newton only.
    x_hessian: Option<(Tensor, Tensor)>,
    hessian_stride: i64,
    /// The labels one-hot, `[n, K]`.
    onehot: Tensor,
    /// The labels, class indices.
    labels: Vec<i64>,
    /// [`Self::weights`] as numbers, for the passes by rows.
    row_weights: Option<Vec<f64>>,
    /// Row weights scaled to mean 1, or none.
    weights: Option<Tensor>,
    mask: Tensor,
    problem: Problem,
    n: f64,
    d: i64,
    k: i64,
    passes: Cell<usize>,
}

impl Softmax {
    fn new(
        x: &Tensor,
        y: &Tensor,
        classes: usize,
        weights: Option<&[f64]>,
        problem: Problem,
        kind: SolverKind,
    ) -> Result<Self> {
        let (n, d) = x.size2()?;
        ensure(classes >= 2, "classes", classes, "must be at least 2")?;
        let k = i64::try_from(classes).map_err(|_| Error::InvalidSetting {
            name: "classes",
            value: classes.to_string(),
            expected: "must fit in 64 bits",
        })?;
        if y.is_floating_point() {
            // A fractional or non-finite label would be truncated to a class silently.
            let values = Vec::<f64>::try_from(y.f_to_kind(Kind::Double)?.f_reshape([-1])?.f_to_device(Device::Cpu)?)?;
            if let Some(i) = values.iter().position(|v| !v.is_finite() || v.fract() != 0.0) {
                let message = format!("label {} at row {} is not a class index", values[i], i + 1);
                return Err(Error::InvalidData { name: "y", message });
            }
        }
        let labels = Vec::<i64>::try_from(y.f_to_kind(Kind::Int64)?.f_reshape([-1])?.f_to_device(Device::Cpu)?)?;
        if labels.len() as i64 != n {
            return Err(Error::InvalidData { name: "y", message: format!("{} labels for {n} rows", labels.len()) });
        }
        if let Some(w) = weights {
            super::weights::check_rows(w, labels.len())?;
        }
        let mut totals = vec![0.0f64; classes];
        for (i, &label) in labels.iter().enumerate() {
            if label < 0 || label >= k {
                return Err(Error::InvalidData {
                    name: "y",
                    message: format!("label {label} at row {} is not a class index below {classes}", i + 1),
                });
            }
            totals[label as usize] += weights.map_or(1.0, |w| w[i]);
        }
        // A class no row (of weight > 0) has drives its score to −∞: there is no optimum.
        if let Some(absent) = totals.iter().position(|&t| t <= 0.0) {
            return Err(Error::InvalidData { name: "y", message: format!("class {absent} has no rows of weight > 0") });
        }
        let device = x.device();
        // hessian_sample reads an f64 X only for input neither f32 nor sampled.
        let x64 = match x.kind() {
            Kind::Double | Kind::Float => x.shallow_clone(),
            _ => x.f_to_kind(Kind::Double)?,
        };
        // As the binary solver: the Hessian's rows in the input's precision, sampled.
        let (x_hessian, hessian_stride) = match kind {
            SolverKind::Newton => {
                let (sample, stride) = hessian_sample(x, &x64, HESSIAN_ROWS)?;
                let ones = Tensor::f_ones([sample.size()[0], 1], (sample.kind(), device))?;
                let xt = Tensor::f_cat(&[sample, ones], 1)?;
                let xt_t = xt.f_tr()?.f_contiguous()?;
                (Some((xt, xt_t)), stride)
            }
            _ => (None, (n / HESSIAN_ROWS).max(1)),
        };
        let y_dev = Tensor::f_from_slice(&labels)?.f_to_device(device)?;
        let onehot = y_dev.f_one_hot(k)?.f_to_kind(Kind::Double)?;
        let mut mask = vec![1.0f64; ((d + 1) * k) as usize];
        if !problem.penalize_bias {
            for class in 0..k {
                mask[(class * (d + 1) + d) as usize] = 0.0;
            }
        }
        Ok(Self {
            passes_over: Passes::new(x, d as usize)?,
            x: x.shallow_clone(),
            zero_grad: std::cell::RefCell::new(None),
            x_hessian,
            hessian_stride,
            onehot,
            labels,
            row_weights: weights
                .map(|w| mean_one(w, Device::Cpu))
                .transpose()?
                .map(|w| Vec::<f64>::try_from(&w))
                .transpose()?,
            weights: weights.map(|w| mean_one(w, device)).transpose()?,
            mask: Tensor::f_from_slice(&mask)?.f_to_device(device)?,
            problem,
            n: n as f64,
            d,
            k,
            passes: Cell::new(0),
        })
    }

    /// θ from weights `[K, d]` row-major and intercepts.
    fn theta_of(&self, coef: &[f64], intercept: &[f64]) -> Result<Tensor> {
        let (d, k) = (self.d as usize, self.k as usize);
        ensure(coef.len() == k * d, "coef", coef.len(), "must hold classes × features weights")?;
        ensure(intercept.len() == k, "intercept", intercept.len(), "must hold one intercept per class")?;
        let mut theta = Vec::with_capacity(k * (d + 1));
        for class in 0..k {
            theta.extend_from_slice(&coef[class * d..(class + 1) * d]);
            theta.push(intercept[class]);
        }
        Ok(Tensor::f_from_slice(&theta)?.f_to_device(self.x.device())?)
    }

    /// Whether Newton goes matrix-free ([`super::multinomial_tron`]): without L1, on the CPU,
    /// where the block Hessian would cost more than TRON's products.
    fn tron_applies(&self) -> bool {
        let rows = match (&self.passes_over, &self.x_hessian) {
            (Passes::Rows(_), Some((xt, _))) => xt.size()[0] as usize,
            _ => return false,
        };
        self.problem.l1 == 0.0 && use_tron(self.labels.len(), self.d as usize, self.k as usize, rows)
    }

    /// [`multinomial_tron::tron`] from `theta`.
    fn tron(&self, theta: Tensor, start: f64, tol: f64, max_iter: usize, observer: Observer) -> Result<Outcome> {
        let Passes::Rows(rows) = &self.passes_over else {
            unreachable!("tron_applies checks for rows");
        };
        let mask = Vec::<f64>::try_from(&self.mask)?;
        let free = self.free_columns();
        let model = multinomial_tron::Model {
            rows,
            labels: &self.labels,
            weights: self.row_weights.as_deref(),
            mask: &mask,
            free: &free,
            l2: self.problem.l2,
            k: self.k as usize,
            d: self.d as usize,
        };
        let start_theta = Vec::<f64>::try_from(theta.f_to_device(Device::Cpu)?)?;
        let (theta, iterations, converged, objectives, optimality) =
            multinomial_tron::tron(&model, start_theta, start, tol, max_iter, observer)?;
        Ok(Outcome { theta: Tensor::f_from_slice(&theta)?, iterations, converged, objectives, optimality })
    }

    /// θ as `[K, d+1]`.
    fn matrix(&self, theta: &Tensor) -> Result<Tensor> {
        Ok(theta.f_view([self.k, self.d + 1])?)
    }

    /// Which of the d+1 columns change nothing when moved together over the classes: the
    /// intercepts when unpenalized, every column without any penalty.
    fn free_columns(&self) -> Vec<f64> {
        let none = self.problem.l1 == 0.0 && self.problem.l2 == 0.0;
        let mut free = vec![if none { 1.0 } else { 0.0 }; self.d as usize + 1];
        free[self.d as usize] = if none || !self.problem.penalize_bias { 1.0 } else { 0.0 };
        free
    }

    /// The fit from where the solver stopped: free columns centred over the classes (F is
    /// unchanged, so it is the solver's last F rather than one more pass over X).
    fn finish(&self, outcome: Outcome) -> Result<MultinomialFit> {
        let Outcome { theta, iterations, converged, objectives, optimality } = outcome;
        let free = Tensor::f_from_slice(&self.free_columns())?.f_to_device(theta.device())?;
        let m = self.matrix(&theta)?;
        let centred = m.f_sub(&m.f_mean_dim(&[0i64][..], true, Kind::Double)?.f_mul(&free)?)?.f_reshape([-1])?;
        let objective = match objectives.last() {
            Some(&f) => f,
            None => self.value(&centred)? + self.nonsmooth(&centred)?,
        };
        let all = Vec::<f64>::try_from(centred.f_to_device(Device::Cpu)?)?;
        let (d, k) = (self.d as usize, self.k as usize);
        let mut coef = Vec::with_capacity(k * d);
        let mut intercept = Vec::with_capacity(k);
        for row in all.chunks(d + 1) {
            coef.extend_from_slice(&row[..d]);
            intercept.push(row[d]);
        }
        Ok(MultinomialFit {
            coef,
            intercept,
            classes: k,
            features: d,
            iterations,
            converged,
            objective,
            objectives,
            optimality,
            seconds: 0.0,
            passes: self.passes.get(),
            method: "fista",
        })
    }
}

impl Objective for Softmax {
    /// Z = X·Wᵀ + b, `[n, K]`.
    fn scores(&self, theta: &Tensor) -> Result<Tensor> {
        if theta.f_abs()?.f_max()?.f_double_value(&[])? == 0.0 {
            // θ = 0 (every solve's start): no pass over X.
            return Ok(Tensor::f_zeros([self.x.size()[0], self.k], (Kind::Double, self.x.device()))?);
        }
        self.passes.set(self.passes.get() + 1);
        match &self.passes_over {
            Passes::Rows(rows) => {
                let t = Vec::<f64>::try_from(theta.f_to_device(Device::Cpu)?)?;
                let z = rows.scores(&t, self.k as usize);
                Ok(Tensor::f_from_slice(&z)?.f_view([-1, self.k])?)
            }
            Passes::Tensors { x, .. } => {
                let m = self.matrix(theta)?;
                let w = m.f_narrow(1, 0, self.d)?;
                let b = m.f_select(1, self.d)?;
                Ok(x.f_mm(&w.f_tr()?)?.f_add(&b)?)
            }
        }
    }

    /// Weighted mean of logsumexp(zᵢ) − zᵢ,yᵢ, plus λ₂‖m⊙θ‖².
    fn value_at(&self, z: &Tensor, theta: &Tensor) -> Result<(f64, Tensor)> {
        if let Passes::Rows(_) = &self.passes_over {
            // One loop over the scores (a dozen tensor temporaries took 10–30× longer).
            let mut p = Vec::<f64>::try_from(z.f_contiguous()?.f_reshape([-1])?)?;
            let loss =
                multinomial_tron::probabilities(&mut p, &self.labels, self.row_weights.as_deref(), self.k as usize);
            let masked = theta.f_mul(&self.mask)?;
            return Ok((loss / self.n + self.problem.l2 * masked.f_dot(&masked)?.f_double_value(&[])?, masked));
        }
        let lse = z.f_logsumexp(&[1i64][..], false)?;
        let picked = z.f_mul(&self.onehot)?.f_sum_dim_intlist(&[1i64][..], false, Kind::Double)?;
        let mut loss = lse.f_sub(&picked)?;
        if let Some(w) = &self.weights {
            loss = loss.f_mul(w)?;
        }
        let masked = theta.f_mul(&self.mask)?;
        let value = loss.f_mean(Kind::Double)?.f_double_value(&[])?
            + self.problem.l2 * masked.f_dot(&masked)?.f_double_value(&[])?;
        Ok((value, masked))
    }

    /// [Rᵀ·X | Rᵀ·1]/N + 2λ₂·m⊙θ with R = s⊙(softmax(Z) − Y).
    fn grad_at(&self, z: &Tensor, masked: &Tensor) -> Result<Tensor> {
        let at_zero =
            masked.f_abs()?.f_max()?.f_double_value(&[])? == 0.0 && z.f_abs()?.f_max()?.f_double_value(&[])? == 0.0;
        if at_zero {
            if let Some(g) = self.zero_grad.borrow().as_ref() {
                return Ok(g.shallow_clone());
            }
        }
        self.passes.set(self.passes.get() + 1);
        let grad = match &self.passes_over {
            Passes::Rows(rows) => {
                let (k, weights) = (self.k as usize, self.row_weights.as_deref());
                let mut p = Vec::<f64>::try_from(z.f_contiguous()?.f_reshape([-1])?)?;
                multinomial_tron::probabilities(&mut p, &self.labels, weights, k);
                let r = multinomial_tron::residuals(&p, &self.labels, weights, k);
                Tensor::f_from_slice(&rows.transpose_times(&r, k))?
            }
            Passes::Tensors { x_t, .. } => {
                let mut residual = z.f_softmax(1, Kind::Double)?.f_sub(&self.onehot)?;
                if let Some(w) = &self.weights {
                    residual = residual.f_mul(&w.f_unsqueeze(1)?)?;
                }
                let gw = x_t.f_mm(&residual)?.f_tr()?;
                let gb = residual.f_sum_dim_intlist(&[0i64][..], false, Kind::Double)?.f_unsqueeze(1)?;
                Tensor::f_cat(&[gw, gb], 1)?.f_reshape([-1])?
            }
        };
        let grad = grad.f_div_scalar(self.n)?.f_add(&masked.f_mul_scalar(2.0 * self.problem.l2)?)?;
        if at_zero {
            *self.zero_grad.borrow_mut() = Some(grad.shallow_clone());
        }
        Ok(grad)
    }

    /// Σᵢ sᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / m over the Hessian's m rows, + 2λ₂ diag(mask). Block
    /// (k, l) is X̃ᵀ·diag(sᵢpᵢₖ(δₖₗ − pᵢₗ))·X̃: block row k's blocks l ≥ k come from one product in
    /// the Hessian rows' precision, the blocks below the diagonal are their transposes.
    fn hessian_at(&self, z: &Tensor) -> Result<Tensor> {
        let n = self.x.size()[0];
        let built;
        let (xt, xt_t) = match &self.x_hessian {
            Some((xt, xt_t)) => (xt, xt_t),
            None => {
                // Not Newton: never called by the solvers, kept correct for completeness.
                let ones = Tensor::f_ones([n, 1], (Kind::Double, self.x.device()))?;
                let xt = Tensor::f_cat(&[self.x.f_to_kind(Kind::Double)?, ones], 1)?.f_slice(
                    0,
                    0,
                    n,
                    self.hessian_stride,
                )?;
                built = (xt.f_contiguous()?, xt.f_tr()?.f_contiguous()?);
                (&built.0, &built.1)
            }
        };
        let precision = xt.kind();
        if z.f_abs()?.f_max()?.f_double_value(&[])? == 0.0 {
            // At θ = 0 every row's pᵢ is uniform: H = (diag(1/K) − 11ᵀ/K²) ⊗ X̃ᵀ·diag(s)·X̃, one
            // block's product instead of K(K+1)/2 (the usual start).
            let xs = match &self.weights {
                Some(w) => xt.f_mul(&w.f_slice(0, 0, n, self.hessian_stride)?.f_unsqueeze(1)?.f_to_kind(precision)?)?,
                None => xt.shallow_clone(),
            };
            let block = xt_t.f_mm(&xs)?.f_to_kind(Kind::Double)?.f_div_scalar(xt.size()[0] as f64)?;
            let kf = self.k as f64;
            let eye = Tensor::f_eye(self.k, (Kind::Double, xt.device()))?;
            let probs = eye.f_div_scalar(kf)?.f_sub_scalar(1.0 / (kf * kf))?;
            let h = probs.f_kron(&block)?;
            return Ok(h.f_add(&self.mask.f_mul_scalar(2.0 * self.problem.l2)?.f_diag(0)?)?);
        }
        let p64 = z.f_slice(0, 0, n, self.hessian_stride)?.f_softmax(1, Kind::Double)?;
        let sp64 = match &self.weights {
            Some(w) => p64.f_mul(&w.f_slice(0, 0, n, self.hessian_stride)?.f_unsqueeze(1)?)?,
            None => p64.shallow_clone(),
        };
        // The coefficients in the Hessian rows' precision from the start: each block row is
        // then one product in that precision (a third of the time went to f64 temporaries).
        let (p, sp) = (p64.f_to_kind(precision)?, sp64.f_to_kind(precision)?);
        let rows = p.size()[0];
        let device = p.device();
        let (k, width) = (self.k, self.d + 1);
        let h = Tensor::f_zeros([k * width, k * width], (Kind::Double, device))?;
        let eye = Tensor::f_eye(k, (precision, device))?;
        for row in 0..k {
            let rest = k - row;
            // sᵢpᵢₖ(δₖₗ − pᵢₗ) for l = row..K, [m, K − row].
            let coeff = sp
                .f_narrow(1, row, 1)?
                .f_mul(&eye.f_narrow(0, row, 1)?.f_narrow(1, row, rest)?.f_sub(&p.f_narrow(1, row, rest)?)?)?;
            let right = xt.f_unsqueeze(1)?.f_mul(&coeff.f_unsqueeze(2)?)?.f_reshape([rows, rest * width])?;
            let blocks = xt_t.f_mm(&right)?.f_to_kind(Kind::Double)?;
            h.f_narrow(0, row * width, width)?.f_narrow(1, row * width, rest * width)?.f_copy_(&blocks)?;
            for col in 1..rest {
                let block = blocks.f_narrow(1, col * width, width)?;
                h.f_narrow(0, (row + col) * width, width)?.f_narrow(1, row * width, width)?.f_copy_(&block.f_tr()?)?;
            }
        }
        Ok(h.f_div_scalar(rows as f64)?.f_add(&self.mask.f_mul_scalar(2.0 * self.problem.l2)?.f_diag(0)?)?)
    }

    /// The Hessian plus c·VVᵀ, V the directions that move a free column equally in every class:
    /// f and the penalty do not change along them and the gradient is orthogonal to them, so the
    /// step is the same but for its component along V, which is now 0 (the iterates stay centred).
    fn newton_system(&self, hessian: Tensor) -> Result<Tensor> {
        let free = self.free_columns();
        if free.iter().all(|&f| f == 0.0) {
            return Ok(hessian);
        }
        let device = hessian.device();
        let scale = hessian.f_diagonal(0, 0, 1)?.f_max()?.f_double_value(&[])?.max(f64::MIN_POSITIVE);
        let columns = Tensor::f_from_slice(&free)?.f_to_device(device)?.f_diag(0)?;
        let all = Tensor::f_ones([self.k, self.k], (Kind::Double, device))?;
        Ok(hessian.f_add(&all.f_kron(&columns)?.f_mul_scalar(scale)?)?)
    }

    /// Forming the Hessian costs K(K+1)/2 products of its rows against themselves, tens of
    /// gradients' worth.
    fn reuse_hessian(&self) -> bool {
        true
    }

    /// By [`active_lasso_step`], to a tenth of the outer optimality measure: the step need only
    /// be as exact as the iterate it improves (newGLMNET's inner stopping rule).
    fn proximal_step(&self, h: &[f64], g: &[f64], theta: &[f64], mask: &[f64], optimality: f64) -> Vec<f64> {
        active_lasso_step(h, g, theta, mask, self.problem.l1, INNER_TOLERANCE * optimality)
    }

    fn mask(&self) -> &Tensor {
        &self.mask
    }

    fn l1(&self) -> f64 {
        self.problem.l1
    }
}

/// The proximal Newton step's model is solved to this fraction of the outer optimality measure.
const INNER_TOLERANCE: f64 = 0.1;

/// Δ = argmin g·Δ + ½ΔᵀHΔ + λ₁‖m⊙(θ+Δ)‖₁ by coordinate descent with H·Δ kept up to date (`h`
/// symmetric, row-major: a coordinate's update reads its row), the active-set way of glmnet:
/// sweeps over the coordinates that are non-zero or unpenalized until they settle, then one
/// sweep over all of them, which may let others in. It stops once a full sweep finds the
/// model's optimality measure (‖(θ+Δ) − prox(θ+Δ − ∇q)‖, ∇q = g + HΔ, as the outer one) at
/// most `tolerance`, measured coordinate by coordinate as the sweep goes.
pub(crate) fn active_lasso_step(
    h: &[f64],
    g: &[f64],
    theta: &[f64],
    mask: &[f64],
    l1: f64,
    tolerance: f64,
) -> Vec<f64> {
    let p = g.len();
    let mut delta = vec![0.0; p];
    let mut hd = vec![0.0; p];
    // Coordinate j's update; returns its prox residual, squared, before the update.
    let update = |j: usize, delta: &mut [f64], hd: &mut [f64]| -> f64 {
        let row = &h[j * p..(j + 1) * p];
        let hjj = row[j].max(1e-12);
        let current = theta[j] + delta[j];
        let grad = g[j] + hd[j];
        let threshold = l1 * mask[j];
        let v = current - grad;
        let residual = current - v.signum() * (v.abs() - threshold).max(0.0);
        let moved = current - grad / hjj;
        let next = moved.signum() * (moved.abs() - threshold / hjj).max(0.0);
        let change = next - current;
        if change != 0.0 {
            delta[j] += change;
            for (v, hk) in hd.iter_mut().zip(row) {
                *v += change * hk;
            }
        }
        residual * residual
    };
    // At most max(1,000 sweeps, 1e8 flops) of updates (an update costs p flops): on an
    // ill-conditioned H (a tiny λ on nearly separable data) CD crawls for minutes, and the line
    // search takes an inexact step as well.
    let mut budget = (1_000 * p).max(100_000_000 / p.max(1));
    'rounds: while budget >= p {
        budget -= p;
        let full: f64 = (0..p).map(|j| update(j, &mut delta, &mut hd)).sum();
        if full.sqrt() <= tolerance {
            break;
        }
        let active: Vec<usize> = (0..p).filter(|&j| mask[j] == 0.0 || theta[j] + delta[j] != 0.0).collect();
        loop {
            if budget < active.len() {
                break 'rounds;
            }
            budget -= active.len();
            let before = delta.clone();
            let residual: f64 = active.iter().map(|&j| update(j, &mut delta, &mut hd)).sum();
            if residual.sqrt() <= 0.5 * tolerance || delta == before {
                break;
            }
        }
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;
    use crate::solvers::solve_weighted;

    /// n rows of d features, K classes drawn from a softmax model.
    fn data(n: i64, d: i64, k: i64) -> (Tensor, Tensor) {
        with_seed(5, || {
            let x = Tensor::randn([n, d], (Kind::Double, Device::Cpu));
            let w = Tensor::randn([d, k], (Kind::Double, Device::Cpu));
            let p = x.mm(&w).softmax(1, Kind::Double);
            (x, p.multinomial(1, true).view([-1]))
        })
    }

    fn problem(l1: f64, l2: f64) -> Problem {
        Problem { l1, l2, penalize_bias: false }
    }

    fn fit_default(x: &Tensor, y: &Tensor, k: usize, p: Problem, kind: SolverKind) -> MultinomialFit {
        fit(x, y, k, None, p, kind, SolverConfig::default()).unwrap()
    }

    /// The largest violation of F's optimality conditions at `f`: gradient 0 on unpenalized or
    /// non-zero coordinates (with λ₁·sign), |gradient| ≤ λ₁ at zeros.
    fn kkt(x: &Tensor, y: &Tensor, weights: Option<&[f64]>, p: Problem, f: &MultinomialFit) -> f64 {
        let s = Softmax::new(x, y, f.classes, weights, p, SolverKind::Fista).unwrap();
        let theta = s.theta_of(&f.coef, &f.intercept).unwrap();
        let g = Vec::<f64>::try_from(s.value_and_grad(&theta).unwrap().1).unwrap();
        let t = Vec::<f64>::try_from(&theta).unwrap();
        let m = Vec::<f64>::try_from(&s.mask).unwrap();
        g.iter()
            .zip(&t)
            .zip(&m)
            .map(|((g, t), m)| {
                let l1 = p.l1 * m;
                if *t == 0.0 {
                    (g.abs() - l1).max(0.0)
                } else {
                    (g + l1 * t.signum()).abs()
                }
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn newton_and_fista_reach_the_same_optimum_with_its_zeros() {
        // 5 classes: with an even number, pure L1 can leave a column's weights free to move
        // between two medians, and the zeros are then not unique.
        let (x, y) = data(300, 6, 5);
        for p in [problem(0.0, 0.01), problem(0.02, 0.0), problem(0.01, 0.005)] {
            let a = fit_default(&x, &y, 5, p, SolverKind::Newton);
            let b = fit_default(&x, &y, 5, p, SolverKind::Fista);
            assert!(a.converged && a.iterations <= 25, "{p:?}: newton {} iterations", a.iterations);
            assert!(b.converged, "{p:?}: fista {} iterations", b.iterations);
            assert!((a.objective - b.objective).abs() <= 1e-10 * a.objective, "{} vs {}", a.objective, b.objective);
            assert!(kkt(&x, &y, None, p, &a) < 1e-7, "{p:?}: {}", kkt(&x, &y, None, p, &a));
            let zeros = |f: &MultinomialFit| f.coef.iter().map(|&w| w == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&a), zeros(&b), "{p:?}");
            if p.l1 > 0.0 {
                assert!(zeros(&a).iter().any(|&z| z), "{p:?}: no zeros in {:?}", a.coef);
            }
            assert!(a.objectives.windows(2).all(|w| w[1] <= w[0]), "objective rose");
            // Unpenalized intercepts are centred.
            assert!(a.intercept.iter().sum::<f64>().abs() < 1e-12, "{:?}", a.intercept);
        }
    }

    #[test]
    fn a_subsampled_f32_hessian_still_reaches_the_optimum() {
        // 2·HESSIAN_ROWS + 1 rows in f32: the Hessian uses every other row in f32, the gradient
        // every row in f64; the optimum is FISTA's (which never uses a Hessian).
        let (x, y) = data(2 * HESSIAN_ROWS + 1, 4, 3);
        let x = x.to_kind(Kind::Float);
        for p in [problem(0.0, 1e-3), problem(1e-3, 0.0)] {
            let a = fit_default(&x, &y, 3, p, SolverKind::Newton);
            let b = fit_default(&x, &y, 3, p, SolverKind::Fista);
            assert!(a.converged && a.iterations <= 30, "{p:?}: {} iterations", a.iterations);
            assert!((a.objective - b.objective).abs() <= 1e-10 * a.objective, "{} vs {}", a.objective, b.objective);
        }
    }

    /// Σᵢ sᵢ(diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ / n + 2λ₂ diag(mask), entry by entry.
    fn brute_hessian(x: &[f64], d: usize, z: &[f64], k: usize, s: &[f64], l2: f64, mask: &[f64]) -> Vec<f64> {
        let n = s.len();
        let width = d + 1;
        let size = k * width;
        let mut h = vec![0.0; size * size];
        for i in 0..n {
            let zi = &z[i * k..(i + 1) * k];
            let top = zi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = zi.iter().map(|v| (v - top).exp()).collect();
            let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
            let xt: Vec<f64> = x[i * d..(i + 1) * d].iter().cloned().chain([1.0]).collect();
            for a in 0..k {
                for b in 0..k {
                    let c = s[i] * p[a] * ((a == b) as u8 as f64 - p[b]) / n as f64;
                    for u in 0..width {
                        for v in 0..width {
                            h[(a * width + u) * size + b * width + v] += c * xt[u] * xt[v];
                        }
                    }
                }
            }
        }
        for j in 0..size {
            h[j * size + j] += 2.0 * l2 * mask[j];
        }
        h
    }

    #[test]
    fn the_hessian_is_the_sum_over_rows_at_zero_and_elsewhere() {
        // At θ = 0 it is formed as a Kronecker product, elsewhere by block rows: both against
        // the sum written out, with row weights (scaled to mean 1, as the solver does).
        let (x, y) = data(40, 3, 4);
        let weights: Vec<f64> = (0..40).map(|i| 0.5 + (i % 5) as f64).collect();
        let mean = weights.iter().sum::<f64>() / 40.0;
        let scaled: Vec<f64> = weights.iter().map(|w| w / mean).collect();
        let s = Softmax::new(&x, &y, 4, Some(&weights), problem(0.0, 0.03), SolverKind::Newton).unwrap();
        let xs = Vec::<f64>::try_from(x.reshape([-1])).unwrap();
        let mask = Vec::<f64>::try_from(&s.mask).unwrap();
        let theta = with_seed(3, || Tensor::randn([16], (Kind::Double, Device::Cpu)));
        for theta in [Tensor::zeros([16], (Kind::Double, Device::Cpu)), theta] {
            let z = s.scores(&theta).unwrap();
            let got = Vec::<f64>::try_from(s.hessian_at(&z).unwrap().reshape([-1])).unwrap();
            let zs = Vec::<f64>::try_from(z.reshape([-1])).unwrap();
            let want = brute_hessian(&xs, 3, &zs, 4, &scaled, 0.03, &mask);
            let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-12, "{worst}");
        }
    }

    #[test]
    fn a_kept_hessian_still_reaches_the_optimum_of_a_harder_problem() {
        // 12 classes at a small L2: Newton keeps its Hessian over iterations; the optimum is
        // FISTA's, run to a tighter tolerance.
        let (x, y) = data(600, 8, 12);
        let p = problem(0.0, 1e-4);
        let a = fit_default(&x, &y, 12, p, SolverKind::Newton);
        let tight = SolverConfig { tol: 1e-10, max_iter: Some(200_000) };
        let b = fit(&x, &y, 12, None, p, SolverKind::Fista, tight).unwrap();
        assert!(a.converged && b.converged, "{} {}", a.iterations, b.iterations);
        assert!((a.objective - b.objective).abs() <= 1e-10 * b.objective, "{} vs {}", a.objective, b.objective);
        assert!(kkt(&x, &y, None, p, &a) < 1e-7);
    }

    #[test]
    fn the_active_set_step_meets_its_models_optimality_conditions() {
        // A random positive definite H (12 coordinates, the last unpenalized) from a non-zero θ:
        // at Δ, ∇q = g + HΔ is 0 on unpenalized or non-zero coordinates (with λ₁·sign) and at
        // most λ₁ at zeros; it is also the step the plain coordinate descent finds.
        let p = 12;
        let a = with_seed(7, || Tensor::randn([p, p], (Kind::Double, Device::Cpu)));
        let h = Vec::<f64>::try_from(a.mm(&a.tr()).reshape([-1])).unwrap();
        let g = Vec::<f64>::try_from(with_seed(8, || Tensor::randn([p], (Kind::Double, Device::Cpu)))).unwrap();
        let theta: Vec<f64> = (0..p).map(|j| if j % 3 == 0 { 0.0 } else { 0.1 * j as f64 - 0.5 }).collect();
        let mut mask = vec![1.0; p as usize];
        mask[11] = 0.0;
        let l1 = 0.8;
        let delta = active_lasso_step(&h, &g, &theta, &mask, l1, 1e-13);
        let p = p as usize;
        let mut zeros = 0;
        for j in 0..p {
            let grad = g[j] + (0..p).map(|k| h[j * p + k] * delta[k]).sum::<f64>();
            let t = theta[j] + delta[j];
            let violation = if t == 0.0 && mask[j] > 0.0 {
                zeros += 1;
                (grad.abs() - l1).max(0.0)
            } else {
                (grad + l1 * mask[j] * t.signum()).abs()
            };
            assert!(violation < 1e-10, "coordinate {j}: {violation}");
        }
        assert!(zeros > 0, "no zeros in {delta:?}");
        let plain = crate::solvers::lasso_step(&h, &g, &theta, &mask, l1);
        assert!(delta.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-9), "{delta:?} vs {plain:?}");
    }

    #[test]
    fn with_l2_the_weights_sum_to_zero_over_the_classes() {
        let (x, y) = data(200, 3, 3);
        let f = fit_default(&x, &y, 3, problem(0.0, 0.05), SolverKind::Newton);
        for j in 0..3 {
            let sum: f64 = (0..3).map(|k| f.coef_of(k)[j]).sum();
            assert!(sum.abs() < 1e-9, "feature {j}: {sum}");
        }
    }

    #[test]
    fn without_a_penalty_the_answer_is_centred_and_optimal() {
        let (x, y) = data(400, 3, 3);
        let a = fit_default(&x, &y, 3, problem(0.0, 0.0), SolverKind::Newton);
        assert!(a.converged, "{a:?}");
        for j in 0..3 {
            let sum: f64 = (0..3).map(|k| a.coef_of(k)[j]).sum();
            assert!(sum.abs() < 1e-10, "feature {j}: {sum}");
        }
        assert!(a.intercept.iter().sum::<f64>().abs() < 1e-10);
        assert!(kkt(&x, &y, None, problem(0.0, 0.0), &a) < 1e-7);
        // Shifting every class by one vector changes no probability, so F is the same.
        let shifted: Vec<f64> = a.coef.iter().enumerate().map(|(i, w)| w + [0.3, -1.0, 2.0][i % 3]).collect();
        let at = |coef: &[f64]| objective(&x, &y, 3, None, problem(0.0, 0.0), coef, &a.intercept).unwrap();
        assert!((at(&shifted) - a.objective).abs() < 1e-12, "{} vs {}", at(&shifted), a.objective);
    }

    #[test]
    fn two_classes_are_the_binary_problem_with_half_the_weights() {
        // softmax over (z₀, z₁) is the sigmoid of z₁ − z₀: with L2 the centred multinomial weights
        // are ±w/2 of the binary ones, and λ₂ acts on both halves, so binary λ₂' = λ₂/2.
        let (x, y) = data(300, 4, 2);
        let weights: Vec<f64> = (0..300).map(|i| 0.5 + (i % 7) as f64 / 4.0).collect();
        let m =
            fit(&x, &y, 2, Some(&weights), problem(0.0, 0.02), SolverKind::Newton, SolverConfig::default()).unwrap();
        let b = solve_weighted(
            &x,
            &y,
            Some(&weights),
            problem(0.0, 0.01),
            SolverKind::Newton,
            SolverConfig::default(),
            &mut |_, _| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
        for j in 0..4 {
            let diff = m.coef_of(1)[j] - m.coef_of(0)[j];
            assert!((diff - b.coef[j]).abs() < 1e-7, "feature {j}: {diff} vs {}", b.coef[j]);
        }
        assert!((m.intercept[1] - m.intercept[0] - b.intercept).abs() < 1e-7);
        assert!((m.objective - b.objective).abs() < 1e-10, "{} vs {}", m.objective, b.objective);
    }

    #[test]
    fn integer_weights_are_repeated_rows() {
        let (x, y) = data(60, 3, 3);
        let counts: Vec<i64> = (0..60).map(|i| 1 + i % 3).collect();
        let weights: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let repeated: Vec<i64> = (0..60).flat_map(|i| std::iter::repeat_n(i, counts[i as usize] as usize)).collect();
        let rows = Tensor::from_slice(&repeated);
        let p = problem(0.01, 0.01);
        let a = fit(&x, &y, 3, Some(&weights), p, SolverKind::Newton, SolverConfig::default()).unwrap();
        let b = fit_default(&x.index_select(0, &rows), &y.index_select(0, &rows), 3, p, SolverKind::Newton);
        assert!((a.objective - b.objective).abs() < 1e-12, "{} vs {}", a.objective, b.objective);
        assert!(a.coef.iter().zip(&b.coef).all(|(u, v)| (u - v).abs() < 1e-7));
    }

    #[test]
    fn probabilities_sum_to_one_and_favour_the_fitted_classes() {
        let (x, y) = data(300, 5, 3);
        let f = fit_default(&x, &y, 3, problem(0.0, 1e-3), SolverKind::Newton);
        let p = f.predict_proba(&x).unwrap();
        let sums = p.sum_dim_intlist(&[1i64][..], false, Kind::Double);
        assert!(sums.allclose(&Tensor::ones([300], (Kind::Double, Device::Cpu)), 1e-12, 1e-12, false));
        let accuracy = p.argmax(1, false).eq_tensor(&y).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        assert!(accuracy > 0.7, "{accuracy}");
    }

    #[test]
    fn bad_labels_and_weights_are_named() {
        let (x, y) = data(20, 2, 3);
        let run = |y: &Tensor, k, w: Option<&[f64]>| {
            fit(&x, y, k, w, problem(0.0, 0.1), SolverKind::Newton, SolverConfig::default())
        };
        let e = run(&y, 2, None).unwrap_err().to_string();
        assert!(e.starts_with("invalid y: label 2 at row"), "{e}");
        let e = run(&y.narrow(0, 0, 10), 3, None).unwrap_err().to_string();
        assert_eq!(e, "invalid y: 10 labels for 20 rows");
        let e = run(&y, 1, None).unwrap_err().to_string();
        assert!(e.starts_with("invalid classes: 1"), "{e}");
        let e = run(&y, 4, None).unwrap_err().to_string();
        assert_eq!(e, "invalid y: class 3 has no rows of weight > 0");
        let mut fractional = Vec::<f64>::try_from(y.to_kind(Kind::Double)).unwrap();
        fractional[6] = 1.5;
        let e = run(&Tensor::from_slice(&fractional), 3, None).unwrap_err().to_string();
        assert_eq!(e, "invalid y: label 1.5 at row 7 is not a class index");
        let e = run(&y, 3, Some(&[1.0; 19])).unwrap_err();
        assert!(matches!(e, Error::InvalidWeights { name: "sample_weight", .. }), "{e}");
        let mut w = vec![1.0; 20];
        w[4] = -1.0;
        assert_eq!(run(&y, 3, Some(&w)).unwrap_err().to_string(), "invalid sample_weight: -1 at row 5 is negative");
    }
}
