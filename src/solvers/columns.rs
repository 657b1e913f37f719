//! X by columns, dense (column-major f32, or row-major for TRON) or sparse (a CSR matrix with its
//! CSC copy), with the logistic loss, gradient and optimality measure that TRON and newton-cd
//! share: matrix-free, so a pass over X costs O(nnz) and nothing is O(d²). Arithmetic is f64 (X's
//! f32 values are exact in it).

use tch::{Device, Kind, Tensor};

use crate::data::sparse::CsrMatrix;
use crate::error::Result;
use crate::solvers::Problem;

/// X's columns.
pub(crate) enum Columns<'a> {
    /// `n × d`, column j at `data[j·n .. (j+1)·n]`.
    Dense { n: usize, d: usize, data: Vec<f32> },
    /// `n × d`, row i at `data[i·d .. (i+1)·d]`: TRON's layout, whose products X·v, Xᵀ·r and
    /// Xᵀ·D·X·v each read every row once, from memory, in one pass ([`super::rows`]).
    DenseRows { n: usize, d: usize, data: TensorValues },
    /// A CSR matrix whose CSC copy exists.
    Sparse(&'a CsrMatrix),
    /// Some of another's columns, in the order of `keep` (a path's screened set).
    Subset { x: &'a Columns<'a>, keep: &'a [usize] },
}

/// A contiguous CPU f32 tensor's values, read in place for as long as the tensor is held.
pub(crate) struct TensorValues {
    _owner: Tensor,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the values are only ever read, and the tensor that owns them is held (and written by
// no one: the solvers' X) for as long as this is.
unsafe impl Send for TensorValues {}
unsafe impl Sync for TensorValues {}

impl TensorValues {
    /// `t`'s values; `t` must be a contiguous f32 tensor on the CPU.
    fn new(t: Tensor) -> Result<Self> {
        let len = t.numel();
        if t.kind() != Kind::Float || t.device() != Device::Cpu || !t.is_contiguous() {
            return Err(crate::error::Error::InvalidSetting {
                name: "x",
                value: format!("{:?} on {:?}", t.kind(), t.device()),
                expected: "a contiguous f32 tensor on the CPU",
            });
        }
        let ptr = if len == 0 { std::ptr::NonNull::<f32>::dangling().as_ptr() } else { t.data_ptr() as *const f32 };
        Ok(Self { _owner: t, ptr, len })
    }
}

impl std::ops::Deref for TensorValues {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        // SAFETY: `ptr` points at `len` f32 values that `_owner` holds, contiguous and aligned.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// One column: every row, or the rows of its non-zeros.
pub(crate) enum Column<'a> {
    Dense(&'a [f32]),
    Sparse(&'a [u32], &'a [f32]),
    /// Every `stride`-th value from the first (a column of [`Columns::DenseRows`]).
    Strided(&'a [f32], usize),
}

impl Column<'_> {
    /// Σᵢ xᵢ·vᵢ.
    #[inline]
    pub(crate) fn dot(&self, v: &[f64]) -> f64 {
        match self {
            Column::Dense(x) => x.iter().zip(v).map(|(&a, &b)| a as f64 * b).sum(),
            Column::Sparse(rows, x) => rows.iter().zip(*x).map(|(&i, &a)| a as f64 * v[i as usize]).sum(),
            Column::Strided(x, k) => x.iter().step_by(*k).zip(v).map(|(&a, &b)| a as f64 * b).sum(),
        }
    }

    /// Σᵢ xᵢ·uᵢ·vᵢ.
    #[inline]
    pub(crate) fn dot2(&self, u: &[f64], v: &[f64]) -> f64 {
        match self {
            Column::Dense(x) => x.iter().zip(u).zip(v).map(|((&a, &b), &c)| a as f64 * b * c).sum(),
            Column::Sparse(rows, x) => {
                rows.iter().zip(*x).map(|(&i, &a)| a as f64 * u[i as usize] * v[i as usize]).sum()
            }
            Column::Strided(x, k) => x.iter().step_by(*k).zip(u).zip(v).map(|((&a, &b), &c)| a as f64 * b * c).sum(),
        }
    }

    /// Σᵢ xᵢ²·uᵢ.
    #[inline]
    pub(crate) fn square_dot(&self, u: &[f64]) -> f64 {
        match self {
            Column::Dense(x) => x.iter().zip(u).map(|(&a, &b)| (a as f64) * (a as f64) * b).sum(),
            Column::Sparse(rows, x) => {
                rows.iter().zip(*x).map(|(&i, &a)| (a as f64) * (a as f64) * u[i as usize]).sum()
            }
            Column::Strided(x, k) => x.iter().step_by(*k).zip(u).map(|(&a, &b)| (a as f64) * (a as f64) * b).sum(),
        }
    }

    /// out += alpha·x.
    #[inline]
    pub(crate) fn axpy(&self, alpha: f64, out: &mut [f64]) {
        match self {
            Column::Dense(x) => out.iter_mut().zip(*x).for_each(|(o, &a)| *o += alpha * a as f64),
            Column::Sparse(rows, x) => rows.iter().zip(*x).for_each(|(&i, &a)| out[i as usize] += alpha * a as f64),
            Column::Strided(x, k) => {
                out.iter_mut().zip(x.iter().step_by(*k)).for_each(|(o, &a)| *o += alpha * a as f64)
            }
        }
    }
}

impl<'a> Columns<'a> {
    /// The dense `[n, d]` tensor `x` (any float kind, any device) copied column-major to the CPU.
    pub(crate) fn dense(x: &Tensor) -> Result<Columns<'static>> {
        let (n, d) = x.size2()?;
        let t = x.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_tr()?.f_contiguous()?.f_reshape([-1])?;
        Ok(Columns::Dense { n: n as usize, d: d as usize, data: Vec::<f32>::try_from(t)? })
    }

    /// The dense `[n, d]` tensor `x` row-major, in f32, on the CPU (TRON's layout): `x` itself when
    /// it is that already (a copy of X cost more than a pass over it), else a copy.
    pub(crate) fn dense_rows(x: &Tensor) -> Result<Columns<'static>> {
        let (n, d) = x.size2()?;
        let t = x.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
        Ok(Columns::DenseRows { n: n as usize, d: d as usize, data: TensorValues::new(t)? })
    }

    /// `x`, whose CSC copy must exist ([`CsrMatrix::ensure_columns`]).
    pub(crate) fn sparse(x: &'a CsrMatrix) -> Self {
        debug_assert!(x.columns().is_some());
        Columns::Sparse(x)
    }

    pub(crate) fn rows(&self) -> usize {
        match self {
            Columns::Dense { n, .. } | Columns::DenseRows { n, .. } => *n,
            Columns::Sparse(x) => x.rows(),
            Columns::Subset { x, .. } => x.rows(),
        }
    }

    pub(crate) fn cols(&self) -> usize {
        match self {
            Columns::Dense { d, .. } | Columns::DenseRows { d, .. } => *d,
            Columns::Sparse(x) => x.cols(),
            Columns::Subset { keep, .. } => keep.len(),
        }
    }

    /// Column j.
    #[inline]
    pub(crate) fn column(&self, j: usize) -> Column<'_> {
        match self {
            Columns::Dense { n, data, .. } => Column::Dense(&data[j * n..(j + 1) * n]),
            Columns::DenseRows { d, data, .. } => Column::Strided(&data[j..], *d),
            Columns::Sparse(x) => {
                let c = x.columns().expect("the CSC copy");
                let (a, b) = (c.ptr[j], c.ptr[j + 1]);
                Column::Sparse(&c.rows[a..b], &c.values[a..b])
            }
            Columns::Subset { x, keep } => x.column(keep[j]),
        }
    }

    /// X·w + b (columns whose weight is 0 skipped), on [`workers`] threads by blocks of rows.
    pub(crate) fn scores(&self, w: &[f64], b: f64) -> Vec<f64> {
        if let Columns::Subset { x, keep } = self {
            // The other columns' weights are 0, which the full product skips.
            let mut full = vec![0.0; x.cols()];
            keep.iter().zip(w).for_each(|(&j, &v)| full[j] = v);
            return x.scores(&full, b);
        }
        if let Columns::DenseRows { d, data, .. } = self {
            return super::rows::scores(data, *d, w, b);
        }
        let mut z = vec![b; self.rows()];
        let nonzero: Vec<usize> = (0..w.len()).filter(|&j| w[j] != 0.0).collect();
        let block = self.rows().div_ceil(workers(self.work()));
        std::thread::scope(|scope| {
            for (k, part) in z.chunks_mut(block.max(1)).enumerate() {
                let (start, nonzero) = (k * block, &nonzero);
                scope.spawn(move || match self {
                    Columns::Dense { n, data, .. } => {
                        for &j in nonzero {
                            let column = &data[j * n + start..j * n + start + part.len()];
                            part.iter_mut().zip(column).for_each(|(o, &a)| *o += w[j] * a as f64);
                        }
                    }
                    Columns::Subset { .. } | Columns::DenseRows { .. } => unreachable!("handled above"),
                    Columns::Sparse(x) => {
                        let (indptr, indices, values) = (x.indptr(), x.indices(), x.values());
                        for (r, o) in part.iter_mut().enumerate() {
                            let (a, b) = (indptr[start + r], indptr[start + r + 1]);
                            *o += indices[a..b]
                                .iter()
                                .zip(&values[a..b])
                                .map(|(&j, &v)| v as f64 * w[j as usize])
                                .sum::<f64>();
                        }
                    }
                });
            }
        });
        z
    }

    /// Xᵀ·r, on [`workers`] threads by blocks of columns.
    pub(crate) fn transpose_times(&self, r: &[f64]) -> Vec<f64> {
        if let Columns::DenseRows { d, data, .. } = self {
            return super::rows::transpose_times(data, *d, r);
        }
        let mut out = vec![0.0; self.cols()];
        let block = self.cols().div_ceil(workers(self.work()));
        std::thread::scope(|scope| {
            for (k, part) in out.chunks_mut(block.max(1)).enumerate() {
                scope.spawn(move || {
                    part.iter_mut().enumerate().for_each(|(j, o)| *o = self.column(k * block + j).dot(r))
                });
            }
        });
        out
    }

    /// The values a pass reads.
    fn work(&self) -> usize {
        match self {
            Columns::Dense { n, d, .. } | Columns::DenseRows { n, d, .. } => n * d,
            Columns::Sparse(x) => x.nnz(),
            Columns::Subset { x, keep } => x.work() / x.cols().max(1) * keep.len(),
        }
    }
}

impl Columns<'_> {
    /// Xᵀ·(c ⊙ (X·w + b)) and Σ c ⊙ (X·w + b): the Hessian's product, in one pass over the rows of
    /// [`Columns::DenseRows`], else as X·v then Xᵀ·u.
    pub(crate) fn curvature_times(&self, c: &[f64], w: &[f64], b: f64) -> (Vec<f64>, f64) {
        if let Columns::DenseRows { d, data, .. } = self {
            return super::rows::curvature_times(data, *d, c, w, b);
        }
        let mut u = self.scores(w, b);
        u.iter_mut().zip(c).for_each(|(u, c)| *u *= c);
        (self.transpose_times(&u), u.iter().sum())
    }

    /// Σᵢ xᵢⱼ²·cᵢ for every column j (the Hessian's diagonal).
    pub(crate) fn square_dots(&self, c: &[f64]) -> Vec<f64> {
        if let Columns::DenseRows { d, data, .. } = self {
            return super::rows::square_dots(data, *d, c);
        }
        (0..self.cols()).map(|j| self.column(j).square_dot(c)).collect()
    }
}

/// Threads for a pass over `work` values: libtorch's thread count (`--threads`), one per million
/// values at most, so that small problems stay on one thread.
pub(crate) fn workers(work: usize) -> usize {
    (tch::get_num_threads().max(1) as usize).min(work / 1_000_000).max(1)
}

/// The objective's pieces on X by columns; θ = [w; b].
pub(crate) struct Objective<'a> {
    pub(crate) x: &'a Columns<'a>,
    pub(crate) y: &'a [f64],
    pub(crate) problem: Problem,
    /// 1 for penalized coordinates (the weights; the bias with `penalize_bias`).
    pub(crate) mask: Vec<f64>,
    pub(crate) passes: usize,
    /// A distributed run's sums over the ranks (`x` and `y` are this rank's rows): every sum
    /// over rows (the loss, the gradient, the Hessian's products and diagonal) goes through it.
    pub(crate) reduce: Option<&'a dyn Reduce>,
    /// Rows over all ranks (`y.len()` in one process).
    pub(crate) rows: f64,
}

/// ∇f, the curvatures and, when the same pass computed it, the Hessian's unscaled diagonal.
pub(crate) type Evaluated = (Vec<f64>, Vec<f64>, Option<Vec<f64>>);

/// Sums over the processes of a distributed run, for the matrix-free solvers (`dist`).
pub(crate) trait Reduce {
    /// `values` summed element-wise over every process, in place. After a failure, NaNs without
    /// communicating (so a dead peer costs one timeout); [`Reduce::failure`] then says why.
    fn sum(&self, values: &mut [f64]);
    /// The first failure, if any.
    fn failure(&self) -> crate::error::Result<()>;
}

/// log(1 + eᶻ) − y·z, stably.
#[inline]
pub(crate) fn logloss(z: f64, y: f64) -> f64 {
    z.max(0.0) - y * z + (-z.abs()).exp().ln_1p()
}

/// σ(z), computed without overflow.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl<'a> Objective<'a> {
    pub(crate) fn new(x: &'a Columns<'a>, y: &'a [f64], problem: Problem) -> Self {
        let mut mask = vec![1.0; x.cols()];
        mask.push(if problem.penalize_bias { 1.0 } else { 0.0 });
        Self { x, y, problem, mask, passes: 0, reduce: None, rows: y.len() as f64 }
    }

    pub(crate) fn n(&self) -> f64 {
        self.rows
    }

    /// `values` summed over the ranks of a distributed run (unchanged in one process).
    pub(crate) fn reduced(&self, values: &mut [f64]) {
        if let Some(r) = self.reduce {
            r.sum(values);
        }
    }

    /// X·w + b for θ.
    pub(crate) fn scores(&mut self, theta: &[f64]) -> Vec<f64> {
        self.passes += 1;
        let d = self.x.cols();
        self.x.scores(&theta[..d], theta[d])
    }

    /// f = mean logloss + λ₂‖m⊙θ‖² from the scores.
    pub(crate) fn smooth(&self, z: &[f64], theta: &[f64]) -> f64 {
        let mut loss = [z.iter().zip(self.y).map(|(&z, &y)| logloss(z, y)).sum::<f64>()];
        self.reduced(&mut loss);
        let loss = loss[0] / self.n();
        loss + self.problem.l2 * theta.iter().zip(&self.mask).map(|(t, m)| m * t * t).sum::<f64>()
    }

    /// λ₁‖m⊙θ‖₁.
    pub(crate) fn nonsmooth(&self, theta: &[f64]) -> f64 {
        self.problem.l1 * theta.iter().zip(&self.mask).map(|(t, m)| m * t.abs()).sum::<f64>()
    }

    /// The scores at θ and, for [`Columns::DenseRows`], in the same pass over X, ∇f, the curvatures
    /// and the Hessian's unscaled diagonal [Σᵢ xᵢⱼ²·cᵢ, Σ c] (see [`Objective::gradient`]), which
    /// otherwise cost a pass each.
    pub(crate) fn evaluate(&mut self, theta: &[f64]) -> (Vec<f64>, Option<Evaluated>) {
        let Columns::DenseRows { d, data, .. } = self.x else {
            return (self.scores(theta), None);
        };
        self.passes += 1;
        let (z, mut g, mut diag) = super::rows::evaluate(data, *d, &theta[..*d], theta[*d], self.y);
        let curvature = z
            .iter()
            .map(|&z| {
                let p = sigmoid(z);
                p * (1.0 - p)
            })
            .collect();
        self.reduced(&mut g);
        self.reduced(&mut diag);
        self.finish_gradient(&mut g, theta);
        (z, Some((g, curvature, Some(diag))))
    }

    /// g ← g/N + 2λ₂·m⊙θ, from the sums Xᵀ·r and Σ r.
    fn finish_gradient(&self, g: &mut [f64], theta: &[f64]) {
        let n = self.n();
        for (j, gj) in g.iter_mut().enumerate() {
            *gj = *gj / n + 2.0 * self.problem.l2 * self.mask[j] * theta[j];
        }
    }

    /// ∇f from the scores, and the curvatures D = p(1−p); with `only`, the weights' entries are
    /// computed for those columns alone (the others left 0).
    pub(crate) fn gradient(&mut self, z: &[f64], theta: &[f64], only: Option<&[usize]>) -> (Vec<f64>, Vec<f64>) {
        let d = self.x.cols();
        let mut residual = Vec::with_capacity(z.len());
        let mut curvature = Vec::with_capacity(z.len());
        for (&z, &y) in z.iter().zip(self.y) {
            let p = sigmoid(z);
            residual.push(p - y);
            curvature.push(p * (1.0 - p));
        }
        self.passes += 1;
        let mut g = vec![0.0; d + 1];
        match only {
            Some(set) => set.iter().for_each(|&j| g[j] = self.x.column(j).dot(&residual)),
            None => g[..d].copy_from_slice(&self.x.transpose_times(&residual)),
        }
        g[d] = residual.iter().sum();
        self.reduced(&mut g);
        self.finish_gradient(&mut g, theta);
        (g, curvature)
    }

    /// ‖θ − prox(θ − ∇f)‖₂ (‖∇f‖ without L1): the optimality measure of `super`.
    pub(crate) fn optimality(&self, theta: &[f64], grad: &[f64]) -> f64 {
        let l1 = self.problem.l1;
        theta
            .iter()
            .zip(grad)
            .zip(&self.mask)
            .map(|((&t, &g), &m)| {
                let v = t - g;
                let threshold = l1 * m;
                let prox = v.signum() * (v.abs() - threshold).max(0.0);
                let step = if l1 == 0.0 { g } else { t - prox };
                step * step
            })
            .sum::<f64>()
            .sqrt()
    }
}
