//! Proximal Newton, FISTA and TRON over rows spread across processes (`dist`): each rank holds its
//! shard, and every sum over rows (the loss, the gradient Xᵀr, Newton's Hessian XᵀWX, TRON's
//! Hessian-vector products XᵀDXv and diagonal, the line search's and FISTA's backtracking values)
//! is its shard's share summed over the ranks with [`World::sum`]. Every rank then holds the same
//! bits, so each takes the same steps. newton-cd sums the same way ([`super::newton_cd`]): its
//! gradient and Hessian diagonal once an outer iteration, and one value per coordinate step.

use std::cell::{Cell, RefCell};

use tch::{Device, Kind, Tensor};

use super::columns::logloss;
use super::columns::{Columns, Objective as ColumnObjective, Reduce};
use super::cv::{stratified_folds, summarize, CvConfig, CvResult};
use super::path::{PathConfig, PathPoint};
use super::{
    check_settings, fista, newton, Objective, Observer, Outcome, Problem, Solution, SolverConfig, SolverKind,
    HESSIAN_ROWS,
};
use crate::data::dataset::Standardizer;
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
    /// This rank's row weights scaled so that every rank's together have mean 1 (Σᵢ sᵢℓᵢ / N is
    /// the weighted mean loss, as one process's `mean_one`), or none.
    weights: Option<Tensor>,
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
            .f_binary_cross_entropy_with_logits(&self.y, self.weights.as_ref(), None::<&Tensor>, tch::Reduction::Sum)?
            .f_double_value(&[])?;
        let loss = self.sum(vec![local])?[0] / self.n;
        let masked = theta.f_mul(&self.mask)?;
        Ok((loss + self.problem.l2 * masked.f_dot(&masked)?.f_double_value(&[])?, masked))
    }

    fn grad_at(&self, z: &Tensor, masked: &Tensor) -> Result<Tensor> {
        let mut residual = z.f_sigmoid()?.f_sub(&self.y)?;
        if let Some(w) = &self.weights {
            residual = residual.f_mul(w)?;
        }
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
        let mut w = p.f_mul(&p.f_neg()?.f_add_scalar(1.0)?)?;
        if let Some(s) = &self.weights {
            w = w.f_mul(&s.f_slice(0, self.hessian_start, n, self.hessian_stride)?)?;
        }
        let w = w.f_to_kind(self.x_hessian.kind())?;
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
    solve_distributed_weighted(world, kind, x, y, None, first_row, rows, problem, config, warm, observer)
}

/// As [`solve_distributed`] with this rank's row `weights` (sample × class weight, one per row of
/// `x`; `None`: 1 each): the loss is the weighted mean Σᵢ sᵢℓᵢ / Σᵢ sᵢ over every rank's rows, as
/// one process's `solve_weighted` on them. Every rank must pass weights or every rank none; they
/// are checked ([`crate::train::distributed_weights`] builds them). Newton and FISTA only, as one
/// process (tron takes no weights).
#[allow(clippy::too_many_arguments)]
pub fn solve_distributed_weighted(
    world: &mut World,
    kind: SolverKind,
    x: &Tensor,
    y: &Tensor,
    weights: Option<&[f64]>,
    first_row: usize,
    rows: usize,
    problem: Problem,
    config: SolverConfig,
    warm: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    check_settings(problem, config)?;
    ensure(
        matches!(kind, SolverKind::Newton | SolverKind::Fista | SolverKind::Tron | SolverKind::NewtonCd),
        "solver",
        format!("{kind:?}").to_lowercase(),
        "newton, fista, tron or newton-cd",
    )?;
    let started = std::time::Instant::now();
    let (n, d) = x.size2()?;
    ensure(rows > 0 && first_row + n as usize <= rows, "rows", rows, "must count every rank's rows")?;
    if let Some(w) = weights {
        ensure(w.len() == n as usize, "sample_weight", w.len(), "must give one weight per row of the shard")?;
        let columns = matches!(kind, SolverKind::Tron | SolverKind::NewtonCd);
        let name = format!("{kind:?}").to_lowercase();
        ensure(!columns, "solver", name, "newton or fista: tron and newton-cd take no weights yet")?;
    }
    // Scaled to mean 1 over every rank's rows: N / S, S summed over the ranks.
    let weights = match weights {
        Some(w) => {
            let mut total = [w.iter().sum::<f64>()];
            world.sum(&mut total)?;
            let scale = rows as f64 / total[0];
            Some(Tensor::f_from_slice(&w.iter().map(|v| v * scale).collect::<Vec<f64>>())?)
        }
        None => None,
    };
    if matches!(kind, SolverKind::Tron | SolverKind::NewtonCd) {
        let columns = Columns::dense(x)?;
        let labels = Vec::<f64>::try_from(y.f_to_kind(Kind::Double)?.f_reshape([-1])?)?;
        let mut s = columns_distributed(world, &columns, &labels, rows, problem, kind, config, warm, observer)?;
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
        weights,
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

/// TRON (L2) or newton-cd from zero or `warm` on this rank's rows `columns` (dense or sparse)
/// with 0/1 `labels`, `rows` over all ranks, each sum over rows reduced over the ranks
/// ([`Reduce`]): TRON one allreduce of d+1 doubles per CG step, newton-cd one of |A|+1 (the
/// Hessian's diagonal) an outer iteration and one double per coordinate step, besides the loss
/// and gradient. Every rank returns the same solution.
#[allow(clippy::too_many_arguments)]
pub(crate) fn columns_distributed(
    world: &mut World,
    columns: &Columns,
    labels: &[f64],
    rows: usize,
    problem: Problem,
    kind: SolverKind,
    config: SolverConfig,
    warm: Option<(&[f64], f64)>,
    observer: Observer,
) -> Result<Solution> {
    check_settings(problem, config)?;
    ensure(labels.len() == columns.rows(), "y", labels.len(), "must have one label per row")?;
    let d = columns.cols();
    let reducer = WorldSum { world: RefCell::new(world), broken: Cell::new(false), error: RefCell::new(None) };
    let mut o = ColumnObjective::new(columns, labels, problem);
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
    let max_iter = config.max_iter.unwrap_or(1000);
    let outcome = match kind {
        SolverKind::NewtonCd => super::newton_cd::newton_cd(&mut o, theta, reference, config.tol, max_iter, observer),
        _ => super::tron::tron(&mut o, theta, reference, config.tol, max_iter, observer),
    };
    // A failed sum outranks whatever the solver made of its NaNs.
    reducer.failure()?;
    outcome
}

/// Each column's mean and population standard deviation over every rank's rows (1 for a
/// constant column), in f64: the sums, then the squared deviations from the mean, each reduced.
pub fn standardizer(world: &mut World, x: &Tensor, rows: usize) -> Result<Standardizer> {
    let x64 = x.f_to_kind(Kind::Double)?;
    let mut sums = Vec::<f64>::try_from(x64.f_sum_dim_intlist(&[0i64][..], false, Kind::Double)?)?;
    world.sum(&mut sums)?;
    let mean: Vec<f64> = sums.iter().map(|s| s / rows as f64).collect();
    let centred = x64.f_sub(&Tensor::f_from_slice(&mean)?)?;
    let mut squares =
        Vec::<f64>::try_from(centred.f_mul(&centred)?.f_sum_dim_intlist(&[0i64][..], false, Kind::Double)?)?;
    world.sum(&mut squares)?;
    let std = squares.iter().map(|s| (s / rows as f64).sqrt()).map(|s| if s > 0.0 { s as f32 } else { 1.0 });
    Ok(Standardizer { mean: mean.iter().map(|&m| m as f32).collect(), std: std.collect() })
}

/// ȳ and glmnet's λ_max over every rank's rows (`rows` in all): ȳ from the summed labels, then
/// max_j |Σᵢ xᵢⱼ(yᵢ − ȳ)| / (N·α) from Xᵀ(y − ȳ) summed; every rank gets the same pair.
fn lambda_max(world: &mut World, x: &Tensor, y: &Tensor, rows: usize, alpha: f64) -> Result<(f64, f64)> {
    let x64 = x.f_to_kind(Kind::Double)?;
    let y64 = y.f_to_kind(Kind::Double)?.f_reshape([-1])?;
    let mut sums = [y64.f_sum(Kind::Double)?.f_double_value(&[])?, x64.size()[0] as f64];
    world.sum(&mut sums)?;
    ensure(sums[1] as usize == rows, "rows", rows, "must count every rank's rows")?;
    let mean = sums[0] / rows as f64;
    ensure(mean > 0.0 && mean < 1.0, "labels", "one class", "must hold both 0 and 1 among all ranks' rows")?;
    let centered = y64.f_sub_scalar(mean)?;
    let mut grad = Vec::<f64>::try_from(x64.f_tr()?.f_mv(&centered)?)?;
    world.sum(&mut grad)?;
    let top = grad.iter().map(|g| (g / rows as f64).abs()).fold(0.0, f64::max) / alpha;
    if !top.is_finite() {
        let message = format!("λ_max, the gradient at zero, is {top}: the features' values are too large; scale them");
        return Err(Error::InvalidData { name: "x", message });
    }
    Ok((mean, top))
}

/// glmnet's path ([`crate::solvers::path`]) over every rank's rows (`x`, `y` this rank's, rows
/// `first_row …` of `rows`): ȳ and λ_max from sums over the ranks, the same grid, then each λ
/// solved by [`solve_distributed`] warm-started from the last, as one process does; every rank
/// returns the same points.
pub fn path_distributed(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    first_row: usize,
    rows: usize,
    config: &PathConfig,
) -> Result<Vec<PathPoint>> {
    config.validate()?;
    let (_, top) = lambda_max(world, x, y, rows, config.alpha)?;
    path_at(world, x, y, first_row, rows, &config.grid_below(top), config)
}

/// The path at `lambdas` (decreasing) over every rank's rows, as one process's `path_on`: where
/// λ ≥ this data's λ_max the null model (no weights, the bias at the log-odds of ȳ).
fn path_at(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    first_row: usize,
    rows: usize,
    lambdas: &[f64],
    config: &PathConfig,
) -> Result<Vec<PathPoint>> {
    ensure(
        matches!(config.kind, SolverKind::Newton | SolverKind::Fista),
        "solver",
        format!("{:?}", config.kind).to_lowercase(),
        "newton or fista: a distributed path needs an L1 part (not tron) and rows (not newton-cd's columns)",
    )?;
    let (mean, top) = lambda_max(world, x, y, rows, config.alpha)?;
    let null = |lambda| PathPoint::null(lambda, x.size()[1] as usize, mean);
    let mut points: Vec<PathPoint> = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
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
        points.push(PathPoint::solved(lambda, s));
    }
    Ok(points)
}

/// Where this rank's `count` rows start among all ranks' (their counts in rank order) and how
/// many there are in all.
fn placed(world: &mut World, count: usize) -> Result<(usize, usize)> {
    let all = world.gather(&[count as f64])?;
    let first = all[..world.rank()].iter().map(|v| v[0] as usize).sum();
    Ok((first, all.iter().map(|v| v[0] as usize).sum()))
}

/// Cross-validation ([`crate::solvers::cv`]) over every rank's rows. The folds are drawn within
/// each shard, by one process's rule on the shard's labels alone ([`stratified_folds`] with the
/// same seed on every rank): fold k is the union of every rank's fold k. The grid and the refit
/// come from all rows, each fold's path from the other folds' rows of every rank (standardized
/// with their statistics reduced over the ranks when asked), and each held-out log-loss is the
/// ranks' summed losses over the fold's rows. ROC AUC needs every held-out row's rank among all,
/// so it is not computed (NaN). Every rank returns the same result.
pub fn cross_validate_distributed(world: &mut World, x: &Tensor, y: &Tensor, config: &CvConfig) -> Result<CvResult> {
    config.validate()?;
    let y = y.f_reshape([-1])?;
    let labels = Vec::<f32>::try_from(y.f_to_kind(Kind::Float)?)?;
    let fold = stratified_folds(&labels, config.folds, config.seed).map_err(|e| e.to_string());
    let fold = world.agree("assigning the folds", fold)?;
    let (first_row, rows) = placed(world, labels.len())?;
    let all_rows = match config.standardize {
        true => Some(standardizer(world, x, rows)?),
        false => None,
    };
    let x_all = match &all_rows {
        Some(s) => s.apply(x)?,
        None => x.shallow_clone(),
    };
    let (_, top) = lambda_max(world, &x_all, &y, rows, config.path.alpha)?;
    let lambdas = config.path.grid_below(top);
    let full = path_at(world, &x_all, &y, first_row, rows, &lambdas, &config.path)?;
    let mut fold_sizes = Vec::with_capacity(config.folds);
    let mut scores = Vec::with_capacity(config.folds);
    for f in 0..config.folds {
        let index = |held: bool| -> Result<Tensor> {
            let rows: Vec<i64> = (0..fold.len()).filter(|&i| (fold[i] == f) == held).map(|i| i as i64).collect();
            Ok(Tensor::f_from_slice(&rows)?)
        };
        let (train, held) = (index(false)?, index(true)?);
        let (mut xt, mut xh) = (x.f_index_select(0, &train)?, x.f_index_select(0, &held)?);
        let (first_t, rows_t) = placed(world, train.size()[0] as usize)?;
        let (_, rows_h) = placed(world, held.size()[0] as usize)?;
        fold_sizes.push(rows_h);
        if config.standardize {
            let s = standardizer(world, &xt, rows_t)?;
            (xt, xh) = (s.apply(&xt)?, s.apply(&xh)?);
        }
        let points = path_at(world, &xt, &y.f_index_select(0, &train)?, first_t, rows_t, &lambdas, &config.path)?;
        let yh = Vec::<f64>::try_from(y.f_index_select(0, &held)?.f_to_kind(Kind::Double)?)?;
        let xh = xh.f_to_kind(Kind::Double)?;
        let mut losses = points
            .iter()
            .map(|p| {
                let z = Vec::<f64>::try_from(xh.f_mv(&Tensor::f_from_slice(&p.coef)?)?.f_add_scalar(p.intercept)?)?;
                Ok(z.iter().zip(&yh).map(|(&z, &y)| logloss(z, y)).sum::<f64>())
            })
            .collect::<Result<Vec<f64>>>()?;
        world.sum(&mut losses)?;
        scores.push(losses.iter().map(|l| (l / rows_h as f64, f64::NAN)).collect());
    }
    summarize(scores, &lambdas, fold_sizes, full, all_rows, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Launch;

    /// Two shards' cross-validation on 2 ranks (threads of this process) is one process's on
    /// their rows with the same folds (each shard's drawn alone, then placed end to end): each λ's
    /// held-out log-loss to 1e-10 relative, the same choices and refit zeros.
    #[test]
    fn two_ranks_cross_validate_as_one_process_with_their_folds() {
        let (n, d) = (301i64, 5i64);
        let (x, y) = crate::seed::with_seed(3, || crate::reference::sample::tutorial_sample(2 * n, d)).unwrap();
        let y = y.reshape([-1]);
        let config =
            CvConfig { folds: 3, path: PathConfig { n_lambdas: 8, ..Default::default() }, ..Default::default() };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let results: Vec<CvResult> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2usize)
                .map(|rank| {
                    let (x, y) = (x.narrow(0, rank as i64 * n, n), y.narrow(0, rank as i64 * n, n));
                    s.spawn(move || {
                        let launch =
                            Launch { rank, size: 2, addr: "127.0.0.1".into(), port, agent_store: false, attempt: 0 };
                        let mut world = World::join(launch, std::time::Duration::from_secs(30)).unwrap();
                        cross_validate_distributed(&mut world, &x, &y, &config).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let labels = |r: i64| Vec::<f32>::try_from(y.narrow(0, r * n, n).to_kind(Kind::Float)).unwrap();
        let fold = [stratified_folds(&labels(0), 3, 0).unwrap(), stratified_folds(&labels(1), 3, 0).unwrap()].concat();
        let one = super::super::cv::cross_validate_folds(&x, &y, &fold, &config).unwrap();
        for r in &results {
            assert_eq!((r.best, r.one_se, &r.fold_sizes), (one.best, one.one_se, &one.fold_sizes));
            for (p, q) in r.points.iter().zip(&one.points) {
                assert!((p.lambda - q.lambda).abs() <= 1e-12 * q.lambda, "{p:?} vs {q:?}");
                assert!((p.log_loss_mean - q.log_loss_mean).abs() <= 1e-10 * q.log_loss_mean, "{p:?} vs {q:?}");
                assert!((p.log_loss_std - q.log_loss_std).abs() <= 1e-8 * q.log_loss_mean, "{p:?} vs {q:?}");
                assert_eq!(p.nonzero, q.nonzero);
                assert!(p.auc_mean.is_nan(), "no AUC across ranks");
            }
            let zeros = |c: &[f64]| c.iter().map(|&w| w == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&r.full[r.best].coef), zeros(&one.full[one.best].coef));
        }
        assert!(one.points[0].nonzero == 0 && one.points[7].nonzero > 0, "{:?}", one.points);
    }

    /// newton-cd on 2 ranks' CSR halves (threads of this process) reaches one process's optimum
    /// on all rows within 1e-10 with the same zeros: with a strong L1 (a few active features, so
    /// the active set's summed Hessian drives the descent) and a light Elastic Net (most features
    /// active: each coordinate's sum reduced); TRON too.
    #[test]
    fn two_ranks_of_sparse_rows_reach_one_process_optimum() {
        use crate::data::sparse::CsrMatrix;
        let (n, d) = (300i64, 60i64);
        let (x, y) = crate::seed::with_seed(9, || {
            let keep = Tensor::rand([2 * n, d], (Kind::Double, Device::Cpu)).lt(0.2).to_kind(Kind::Double);
            let x = Tensor::randn([2 * n, d], (Kind::Double, Device::Cpu)) * keep;
            let w = Tensor::randn([d], (Kind::Double, Device::Cpu))
                * Tensor::rand([d], (Kind::Double, Device::Cpu)).lt(0.2);
            let y = (x.mv(&w) + 0.2).sigmoid().bernoulli();
            (x.to_kind(Kind::Float), y.to_kind(Kind::Float))
        });
        let labels = Vec::<f32>::try_from(&y).unwrap();
        let cases = [
            (Problem { l1: 0.03, l2: 0.0, penalize_bias: false }, SolverKind::NewtonCd),
            (Problem { l1: 0.002, l2: 0.001, penalize_bias: false }, SolverKind::NewtonCd),
            (Problem { l1: 0.0, l2: 0.001, penalize_bias: false }, SolverKind::Tron),
        ];
        for (problem, kind) in cases {
            let whole = CsrMatrix::from_dense(&x).unwrap();
            let none = &mut |_, _| std::ops::ControlFlow::Continue(());
            let one =
                super::super::solve_sparse(&whole, &labels, problem, kind, SolverConfig::default(), none).unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let results: Vec<(Solution, usize)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..2usize)
                    .map(|rank| {
                        let (x, y) = (x.narrow(0, rank as i64 * n, n), y.narrow(0, rank as i64 * n, n));
                        s.spawn(move || {
                            let launch = Launch {
                                rank,
                                size: 2,
                                addr: "127.0.0.1".into(),
                                port,
                                agent_store: false,
                                attempt: 0,
                            };
                            let mut world = World::join(launch, std::time::Duration::from_secs(30)).unwrap();
                            let mut csr = CsrMatrix::from_dense(&x).unwrap();
                            csr.ensure_columns();
                            let labels = Vec::<f64>::try_from(y.to_kind(Kind::Double)).unwrap();
                            let columns = Columns::sparse(&csr);
                            let none = &mut |_, _| std::ops::ControlFlow::Continue(());
                            let config = SolverConfig::default();
                            let rows = 2 * n as usize;
                            let s = columns_distributed(
                                &mut world, &columns, &labels, rows, problem, kind, config, None, none,
                            )
                            .unwrap();
                            (s, super::super::newton_cd::GRAM_ITERATIONS.with(|c| c.get()))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let zeros = |c: &[f64]| c.iter().map(|&w| w == 0.0).collect::<Vec<_>>();
            let nonzero = one.coef.iter().filter(|&&w| w != 0.0).count();
            let gram = results[0].1;
            for (r, _) in &results {
                assert!(r.converged, "{problem:?}: {r:?}");
                let gap = (r.objective - one.objective).abs() / one.objective;
                assert!(gap <= 1e-10, "{kind:?} {problem:?}: {} vs {} ({gap:e})", r.objective, one.objective);
                assert_eq!(zeros(&r.coef), zeros(&one.coef), "{problem:?}");
                assert_eq!(r.coef, results[0].0.coef, "every rank holds the same bits");
            }
            // Strong L1: once the active set is small its Hessian is summed ([`Gram`]); light
            // Elastic Net: most features stay active, so each coordinate's sum is reduced.
            if problem.l1 > 0.02 {
                assert!((1..=6).contains(&nonzero) && gram > 0, "{nonzero} non-zero, {gram} Gram iterations");
            } else if problem.l1 > 0.0 {
                assert!(nonzero >= 20 && gram == 0, "{nonzero} non-zero, {gram} Gram iterations");
            }
        }
    }

    #[test]
    fn each_shard_starts_at_its_first_multiple_of_the_stride() {
        // Stride 3 over rows 0..10 split at 4 and 7: rows 0, 3, 6, 9 overall.
        assert_eq!(first_multiple(0, 3), 0);
        assert_eq!(first_multiple(4, 3), 2); // row 6
        assert_eq!(first_multiple(7, 3), 2); // row 9
        assert_eq!(first_multiple(5, 1), 0);
    }
}
