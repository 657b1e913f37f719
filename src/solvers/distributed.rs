//! Proximal Newton, FISTA and TRON over rows spread across processes (`dist`): each rank holds its
//! shard, and every sum over rows (the loss, the gradient Xᵀr, Newton's Hessian XᵀWX, TRON's
//! Hessian-vector products XᵀDXv and diagonal, the line search's and FISTA's backtracking values)
//! is its shard's share summed over the ranks with [`World::sum`]. Every rank then holds the same
//! bits, so each takes the same steps. newton-cd is not here: its coordinate descent updates one
//! weight at a time from a sum over all rows, one allreduce per coordinate per sweep.

use std::cell::{Cell, RefCell};

use tch::{Device, Kind, Tensor};

use super::columns::{Columns, Objective as ColumnObjective, Reduce};
use super::path::{PathConfig, PathPoint};
use super::{
    check_settings, fista, newton, Objective, Observer, Outcome, Problem, Solution, SolverConfig, SolverKind,
    HESSIAN_ROWS,
};
use crate::dist::World;
use crate::error::{ensure, Error, Result};

/// This rank's rows and the world that sums over all of them.
struct Shared<'w> {
    /// This rank's rows, f64.
    x: Tensor,
    /// This rank's rows of the global Hessian sample, in X's precision.
    x_hessian: Tensor,
    /// The sample's rows of this shard: from `hessian_start`, every `hessian_stride`-th.
    hessian_start: i64,
    hessian_stride: i64,
    /// Rows of the Hessian sample over all ranks.
    hessian_rows: f64,
    y: Tensor,
    mask: Tensor,
    problem: Problem,
    /// Rows over all ranks.
    n: f64,
    d: i64,
    world: RefCell<&'w mut World>,
}

impl Shared<'_> {
    /// `values` summed over the ranks.
    fn sum(&self, mut values: Vec<f64>) -> Result<Vec<f64>> {
        self.world.borrow_mut().sum(&mut values)?;
        Ok(values)
    }

    fn sum_tensor(&self, t: &Tensor) -> Result<Tensor> {
        let shape = t.size();
        let values = Vec::<f64>::try_from(t.f_to_device(Device::Cpu)?.f_to_kind(Kind::Double)?.f_reshape([-1])?)?;
        Ok(Tensor::f_from_slice(&self.sum(values)?)?.f_reshape(shape)?.f_to_device(t.device())?)
    }
}

impl Objective for Shared<'_> {
    fn scores(&self, theta: &Tensor) -> Result<Tensor> {
        let w = theta.f_narrow(0, 0, self.d)?;
        Ok(self.x.f_mv(&w)?.f_add(&theta.f_narrow(0, self.d, 1)?)?)
    }

    /// The summed loss over every rank's rows, divided by their number, plus λ₂‖m⊙θ‖².
    fn value_at(&self, z: &Tensor, theta: &Tensor) -> Result<(f64, Tensor)> {
        let local = z
            .f_binary_cross_entropy_with_logits(&self.y, None::<&Tensor>, None::<&Tensor>, tch::Reduction::Sum)?
            .f_double_value(&[])?;
        let loss = self.sum(vec![local])?[0] / self.n;
        let masked = theta.f_mul(&self.mask)?;
        Ok((loss + self.problem.l2 * masked.f_dot(&masked)?.f_double_value(&[])?, masked))
    }

    fn grad_at(&self, z: &Tensor, masked: &Tensor) -> Result<Tensor> {
        let residual = z.f_sigmoid()?.f_sub(&self.y)?;
        let xr = self.x.f_tr()?.f_mv(&residual)?;
        let local = Tensor::f_cat(&[xr, residual.f_sum(Kind::Double)?.f_reshape([1])?], 0)?;
        let grad = self.sum_tensor(&local)?;
        Ok(grad.f_div_scalar(self.n)?.f_add(&masked.f_mul_scalar(2.0 * self.problem.l2)?)?)
    }

    /// As the single-process Hessian, on the same rows of the whole (every k-th row overall):
    /// each rank's share of [[XᵀWX, XᵀW1], [1ᵀWX, ΣW]] summed, then divided by the sample's size.
    fn hessian_at(&self, z: &Tensor) -> Result<Tensor> {
        let n = self.x.size()[0];
        let p = z.f_slice(0, self.hessian_start, n, self.hessian_stride)?.f_sigmoid()?;
        let w = p.f_mul(&p.f_neg()?.f_add_scalar(1.0)?)?.f_to_kind(self.x_hessian.kind())?;
        let weighted = self.x_hessian.f_mul(&w.f_unsqueeze(1)?)?;
        let xwx = self.x_hessian.f_tr()?.f_mm(&weighted)?;
        let xw = self.x_hessian.f_tr()?.f_mv(&w)?;
        let top = Tensor::f_cat(&[xwx, xw.f_unsqueeze(1)?], 1)?;
        let bottom = Tensor::f_cat(&[xw, w.f_sum(w.kind())?.f_reshape([1])?], 0)?.f_unsqueeze(0)?;
        let local = Tensor::f_cat(&[top, bottom], 0)?.f_to_kind(Kind::Double)?;
        let h = self.sum_tensor(&local)?.f_div_scalar(self.hessian_rows)?;
        Ok(h.f_add(&self.mask.f_mul_scalar(2.0 * self.problem.l2)?.f_diag(0)?)?)
    }

    fn mask(&self) -> &Tensor {
        &self.mask
    }

    fn l1(&self) -> f64 {
        self.problem.l1
    }
}

/// The first row of a shard starting at global row `first` that is a multiple of `stride`.
fn first_multiple(first: usize, stride: usize) -> usize {
    (stride - first % stride) % stride
}

/// `kind` (newton or fista) from zero on this rank's rows `x` (`[n_r, d]`, f32 or f64, on the CPU) and
/// 0/1 labels `y`, rows `first_row …` of `rows` over all ranks: the objective and the iterates
/// of the single-process solve on all rows (to rounding: sums are taken in another order), the
/// Hessian on the same every-k-th rows of the whole. Every rank must call it with the same
/// settings; every rank returns the same solution. From `start` (coefficients and intercept) when
/// given (`warm`): a warm start, as a path takes.
#[allow(clippy::too_many_arguments)]
pub fn solve_distributed(
    world: &mut World,
    kind: SolverKind,
    x: &Tensor,
    y: &Tensor,
    first_row: usize,
    rows: usize,
    problem: Problem,
    config: SolverConfig,
    warm: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    check_settings(problem, config)?;
    ensure(
        matches!(kind, SolverKind::Newton | SolverKind::Fista | SolverKind::Tron),
        "solver",
        format!("{kind:?}").to_lowercase(),
        "newton, fista or tron: newton-cd's coordinate descent would need one allreduce per weight per sweep",
    )?;
    let started = std::time::Instant::now();
    let (n, d) = x.size2()?;
    ensure(rows > 0 && first_row + n as usize <= rows, "rows", rows, "must count every rank's rows")?;
    if kind == SolverKind::Tron {
        let mut s = tron_distributed(world, x, y, rows, problem, config, warm, observer)?;
        s.seconds = started.elapsed().as_secs_f64();
        return Ok(s);
    }
    let stride = (rows as i64 / HESSIAN_ROWS).max(1);
    let start = first_multiple(first_row, stride as usize) as i64;
    let x64 = x.f_to_kind(Kind::Double)?;
    // As `hessian_sample`: X's precision when that is f32 or the rows are sub-sampled (FISTA
    // needs none).
    let x_hessian = match (kind, stride > 1 || x.kind() == Kind::Float) {
        (SolverKind::Fista, _) => Tensor::f_zeros([0, d], (Kind::Double, Device::Cpu))?,
        (_, true) => x.f_slice(0, start, n, stride)?.f_contiguous()?,
        (_, false) => x64.shallow_clone(),
    };
    let mut mask = vec![1.0f64; d as usize];
    mask.push(if problem.penalize_bias { 1.0 } else { 0.0 });
    let s = Shared {
        x: x64,
        x_hessian,
        hessian_start: start,
        hessian_stride: stride,
        hessian_rows: rows.div_ceil(stride as usize) as f64,
        y: y.f_to_kind(Kind::Double)?.f_reshape([n])?,
        mask: Tensor::f_from_slice(&mask)?,
        problem,
        n: rows as f64,
        d,
        world: RefCell::new(world),
    };
    let zero = Tensor::f_zeros([d + 1], (Kind::Double, Device::Cpu))?;
    let reference = s.optimality(&zero, &s.value_and_grad(&zero)?.1)?.max(f64::MIN_POSITIVE);
    let theta = match warm {
        Some((coef, intercept)) => {
            ensure(coef.len() == d as usize, "start", coef.len(), "must have one coefficient per feature")?;
            Tensor::f_from_slice(&[coef, &[intercept]].concat())?
        }
        None => zero,
    };
    let Outcome { theta, iterations, converged, objectives, optimality } = match kind {
        SolverKind::Fista => fista(&s, theta, reference, config.tol, config.max_iter.unwrap_or(20_000), observer)?,
        _ => newton(&s, theta, reference, config.tol, config.max_iter.unwrap_or(100), observer)?,
    };
    let objective = s.value(&theta)? + s.nonsmooth(&theta)?;
    let all = Vec::<f64>::try_from(&theta)?;
    let (coef, intercept) = all.split_at(all.len() - 1);
    Ok(Solution {
        coef: coef.to_vec(),
        intercept: intercept[0],
        iterations,
        converged,
        objective,
        objectives,
        optimality,
        seconds: started.elapsed().as_secs_f64(),
        passes: 0,
        pass_seconds: 0.0,
    })
}

/// The world's sum for the column solvers' [`Reduce`]: after a failed sum no other is tried (a
/// dead peer costs one timeout), and the failure is kept for [`Reduce::failure`].
struct WorldSum<'w> {
    world: RefCell<&'w mut World>,
    broken: Cell<bool>,
    error: RefCell<Option<Error>>,
}

impl Reduce for WorldSum<'_> {
    fn sum(&self, values: &mut [f64]) {
        if self.broken.get() {
            values.fill(f64::NAN);
            return;
        }
        if let Err(e) = self.world.borrow_mut().sum(values) {
            values.fill(f64::NAN);
            self.broken.set(true);
            *self.error.borrow_mut() = Some(e);
        }
    }

    fn failure(&self) -> Result<()> {
        if !self.broken.get() {
            return Ok(());
        }
        let rank = self.world.borrow().rank();
        Err(self.error.borrow_mut().take().unwrap_or_else(|| Error::Distributed {
            step: "summing over the processes",
            rank,
            message: "an earlier sum failed".into(),
        }))
    }
}

/// TRON (L2) from zero or `warm` on this rank's rows, each product's sum over rows reduced over
/// the ranks ([`Reduce`]): one allreduce of d+1 doubles per CG step, besides the loss and gradient.
#[allow(clippy::too_many_arguments)]
fn tron_distributed(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    rows: usize,
    problem: Problem,
    config: SolverConfig,
    warm: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    let columns = Columns::dense(x)?;
    let labels = Vec::<f64>::try_from(y.f_to_kind(Kind::Double)?.f_reshape([-1])?)?;
    let d = columns.cols();
    let reducer = WorldSum { world: RefCell::new(world), broken: Cell::new(false), error: RefCell::new(None) };
    let mut o = ColumnObjective::new(&columns, &labels, problem);
    o.reduce = Some(&reducer);
    o.rows = rows as f64;
    // As one process's `solve_columns`: tol is relative to the optimality measure at zero.
    let zero = vec![0.0; d + 1];
    let grad_zero = o.gradient(&vec![0.0; labels.len()], &zero, None).0;
    let reference = o.optimality(&zero, &grad_zero).max(f64::MIN_POSITIVE);
    o.passes = 0;
    let theta = match warm {
        Some((coef, intercept)) => {
            ensure(coef.len() == d, "start", coef.len(), "must have one coefficient per feature")?;
            [coef, &[intercept]].concat()
        }
        None => zero,
    };
    let outcome = super::tron::tron(&mut o, theta, reference, config.tol, config.max_iter.unwrap_or(1000), observer);
    // A failed sum outranks whatever TRON made of its NaNs.
    reducer.failure()?;
    outcome
}

/// glmnet's path ([`crate::solvers::path`]) over every rank's rows (`x`, `y` this rank's, rows
/// `first_row …` of `rows`): ȳ and λ_max = max_j |Σᵢ xᵢⱼ(yᵢ − ȳ)| / (N·α) from sums over the ranks,
/// the same grid, then each λ solved by [`solve_distributed`] warm-started from the last, as one
/// process does; every rank returns the same points.
pub fn path_distributed(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    first_row: usize,
    rows: usize,
    config: &PathConfig,
) -> Result<Vec<PathPoint>> {
    config.validate()?;
    ensure(
        matches!(config.kind, SolverKind::Newton | SolverKind::Fista),
        "solver",
        format!("{:?}", config.kind).to_lowercase(),
        "newton or fista: the solvers distributed so far",
    )?;
    let x64 = x.f_to_kind(Kind::Double)?;
    let y64 = y.f_to_kind(Kind::Double)?.f_reshape([-1])?;
    let mut positives = [y64.f_sum(Kind::Double)?.f_double_value(&[])?];
    world.sum(&mut positives)?;
    let mean = positives[0] / rows as f64;
    ensure(mean > 0.0 && mean < 1.0, "labels", "one class", "must hold both 0 and 1 among all ranks' rows")?;
    let centered = y64.f_sub_scalar(mean)?;
    let mut grad = Vec::<f64>::try_from(x64.f_tr()?.f_mv(&centered)?)?;
    world.sum(&mut grad)?;
    let top = grad.iter().map(|g| (g / rows as f64).abs()).fold(0.0, f64::max) / config.alpha;
    if !top.is_finite() {
        let message = format!("λ_max, the gradient at zero, is {top}: the features' values are too large; scale them");
        return Err(crate::error::Error::InvalidData { name: "x", message });
    }
    let null = |lambda| PathPoint {
        lambda,
        coef: vec![0.0; grad.len()],
        intercept: (mean / (1.0 - mean)).ln(),
        nonzero: 0,
        objective: -(mean * mean.ln() + (1.0 - mean) * (1.0 - mean).ln()),
        iterations: 0,
        converged: true,
        screened_out: None,
        kkt_violations: None,
    };
    let mut points: Vec<PathPoint> = Vec::with_capacity(config.n_lambdas);
    for lambda in config.grid_below(top) {
        if lambda >= top {
            points.push(null(lambda));
            continue;
        }
        let previous = points.last().cloned().unwrap_or_else(|| null(lambda));
        let start = Some((previous.coef.as_slice(), previous.intercept));
        let problem = Problem::from_glmnet(lambda, config.alpha);
        let mut observer = |_, _| std::ops::ControlFlow::Continue(());
        let s =
            solve_distributed(world, config.kind, x, y, first_row, rows, problem, config.solver, start, &mut observer)?;
        let nonzero = s.coef.iter().filter(|&&w| w != 0.0).count();
        points.push(PathPoint {
            lambda,
            coef: s.coef,
            intercept: s.intercept,
            nonzero,
            objective: s.objective,
            iterations: s.iterations,
            converged: s.converged,
            screened_out: None,
            kkt_violations: None,
        });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_starts_at_its_first_multiple_of_the_stride() {
        // Stride 3 over rows 0..10 split at 4 and 7: rows 0, 3, 6, 9 overall.
        assert_eq!(first_multiple(0, 3), 0);
        assert_eq!(first_multiple(4, 3), 2); // row 6
        assert_eq!(first_multiple(7, 3), 2); // row 9
        assert_eq!(first_multiple(5, 1), 0);
    }
}
