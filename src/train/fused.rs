//! The fused engine: each epoch reads X once, row by row computing the score, the logistic loss
//! and the gradient together (forward and backward fused), on CPU threads, with SGD or Adam on
//! the parameters in plain Rust. No autograd, no intermediate tensors.
//!
//! It minimises the same objective as [`crate::train`] and, full batch or with PyTorch's
//! `randperm` batch order, follows the autograd engine to float rounding (the loss is computed in
//! the stable logits form, `max(z, 0) − y·z + log1p(e^−|z|)`, so `--loss bce` and `logits` are one
//! here). Data come from a [`Source`]: rows in memory, or chunks of a file ([`crate::data::stream`]).

use std::ops::{ControlFlow, Range};

use tch::{Device, Kind, Tensor};

use crate::data::source::{InMemory, Source};
use crate::data::stream::{NpyRows, Standardized};
use crate::error::{ensure, Result};
use crate::model::linear::FittedLogisticRegression;
use crate::model::penalty::Penalty;
#[cfg(target_arch = "x86_64")]
use crate::simd::dot_avx2;
use crate::simd::{dot, threads};
use crate::train::config::TrainConfig;
use crate::train::optim::{OptimizerKind, OptimizerState};
use crate::train::progress::{Checkpoints, Epoch, Progress, Training};

/// Sums over rows: the data loss, the gradient of the data loss (weight, bias), and the count.
#[derive(Clone, Debug, PartialEq)]
pub struct Sums {
    /// Σ of the rows' logistic losses.
    pub loss: f64,
    /// Σ of the rows' loss gradients, one per weight.
    pub weight: Vec<f64>,
    /// Σ of the rows' loss gradients for the bias.
    pub bias: f64,
    /// Rows summed.
    pub rows: usize,
}

impl Sums {
    pub(crate) fn new(d: usize) -> Self {
        Self { loss: 0.0, weight: vec![0.0; d], bias: 0.0, rows: 0 }
    }

    fn add(&mut self, other: &Sums) {
        self.loss += other.loss;
        self.bias += other.bias;
        self.rows += other.rows;
        for (a, b) in self.weight.iter_mut().zip(&other.weight) {
            *a += b;
        }
    }
}

/// A [`Source`] that can make a full pass: on CPU threads ([`full_pass`]) unless its rows live
/// elsewhere (on a GPU, [`crate::train::gpu::DeviceRows`]).
pub trait FullPass: Source {
    /// The data sums of one pass over every row at `w`, `b`.
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        full_pass(self, w, b)
    }
}

impl FullPass for InMemory<'_> {}
impl FullPass for NpyRows {}
impl FullPass for Standardized<'_> {}

/// The data sums of a mini-batch: rows of one chunk, by their index within it.
pub trait BatchSums {
    /// Writes to `out` the sums of rows `part` at `w`, `b`.
    fn sums(&self, part: &[i64], w: &[f32], b: f32, out: &mut Sums);
}

/// What [`train`] reads: full passes, and chunks whose mini-batches it sums. Dense rows (every
/// [`FullPass`]) and sparse ones ([`crate::train::sparse_rows`]) both are.
pub trait Batches: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Number of features per row.
    fn features(&self) -> usize;
    /// Number of chunks.
    fn chunks(&self) -> usize;
    /// Rows in chunk `i` (without reading it).
    fn chunk_len(&self, i: usize) -> usize;
    /// The data sums of one pass over every row at `w`, `b`.
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums>;
    /// Calls `f` with what sums the mini-batches of chunk `i`.
    fn with_batches(&self, i: usize, f: &mut dyn FnMut(&dyn BatchSums) -> Result<()>) -> Result<()>;
}

/// One dense chunk: its rows, labels and width.
struct DenseChunk<'a> {
    x: &'a [f32],
    y: &'a [f32],
    d: usize,
}

impl BatchSums for DenseChunk<'_> {
    fn sums(&self, part: &[i64], w: &[f32], b: f32, out: &mut Sums) {
        *out = accumulate(self.x, self.y, self.d, Rows::Index(part), w, b, 1);
    }
}

impl<T: FullPass> Batches for T {
    fn rows(&self) -> usize {
        Source::rows(self)
    }
    fn features(&self) -> usize {
        Source::features(self)
    }
    fn chunks(&self) -> usize {
        Source::chunks(self)
    }
    fn chunk_len(&self, i: usize) -> usize {
        Source::chunk_len(self, i)
    }
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        FullPass::pass(self, w, b)
    }
    fn with_batches(&self, i: usize, f: &mut dyn FnMut(&dyn BatchSums) -> Result<()>) -> Result<()> {
        let d = Source::features(self);
        self.with_chunk(i, &mut |x, y| f(&DenseChunk { x, y, d }))
    }
}

/// Which rows of a chunk to visit.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    Range(usize, usize),
    Index(&'a [i64]),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match *self {
            Rows::Range(a, b) => b - a,
            Rows::Index(i) => i.len(),
        }
    }
    fn part(&self, r: Range<usize>) -> Self {
        match *self {
            Rows::Range(a, _) => Rows::Range(a + r.start, a + r.end),
            Rows::Index(i) => Rows::Index(&i[r]),
        }
    }
    fn at(&self, k: usize) -> usize {
        match *self {
            Rows::Range(a, _) => a + k,
            Rows::Index(i) => i[k] as usize,
        }
    }
}

/// Rows whose gradient is summed in f32 before it joins the f64 total; they stay in L1 for the
/// second (gradient) read.
const BLOCK: usize = 64;
/// How many rows ahead to ask the cache for.
const PREFETCH: usize = 2 * BLOCK;

/// `acc[j] = Σₖ g[k]·rows[k][j]`, summed over k in order for each j, 32 columns at a time.
#[inline(always)]
fn gradient(rows: &[&[f32]], g: &[f32], acc: &mut [f32]) {
    let d = acc.len();
    let whole = d / 32 * 32;
    for c in (0..whole).step_by(32) {
        let mut r = [0f32; 32];
        for (row, &gk) in rows.iter().zip(g) {
            for (r, &v) in r.iter_mut().zip(&row[c..c + 32]) {
                *r += gk * v;
            }
        }
        acc[c..c + 32].copy_from_slice(&r);
    }
    for j in whole..d {
        acc[j] = rows.iter().zip(g).fold(0.0, |a, (row, &gk)| a + gk * row[j]);
    }
}

/// [`gradient`] with the 32 running column sums in four AVX registers: the same sums in the same
/// order, so the same bits, with no load and store of the sums per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn gradient_avx2(rows: &[&[f32]], g: &[f32], acc: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = acc.len();
    let whole = d / 32 * 32;
    for c in (0..whole).step_by(32) {
        // SAFETY: c + 32 ≤ d = every row's length and acc's.
        unsafe {
            let mut r = [_mm256_setzero_ps(); 4];
            for (row, &gk) in rows.iter().zip(g) {
                let (p, gv) = (row.as_ptr().add(c), _mm256_set1_ps(gk));
                for (q, r) in r.iter_mut().enumerate() {
                    *r = _mm256_add_ps(*r, _mm256_mul_ps(gv, _mm256_loadu_ps(p.add(8 * q))));
                }
            }
            for (q, r) in r.iter().enumerate() {
                _mm256_storeu_ps(acc.as_mut_ptr().add(c + 8 * q), *r);
            }
        }
    }
    for j in whole..d {
        acc[j] = rows.iter().zip(g).fold(0.0, |a, (row, &gk)| a + gk * row[j]);
    }
}

/// e^x for x ≤ 0 (Cephes `expf`: range reduction and a degree-6 polynomial, about 1 ulp), 0
/// below −87 (where e^x leaves the normal floats).
#[inline(always)]
fn exp_neg(x_in: f32) -> f32 {
    let x = x_in.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5e-1] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    let value = y * f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x_in < -87.0 {
        0.0
    } else {
        value
    }
}

/// ln(1 + e) for e in [0, 1] (Cephes `logf` of u = 1 + e, corrected by e / (u − 1) so that tiny
/// e keep their value).
#[inline(always)]
fn log1p_unit(e: f32) -> f32 {
    let u = 1.0 + e;
    let big = u > std::f32::consts::SQRT_2;
    let k = if big { 1.0f32 } else { 0.0 };
    let x = if big { u * 0.5 } else { u } - 1.0;
    let z = x * x;
    let mut p = 7.037_683_6e-2f32;
    for c in [-1.151_461e-1, 1.167_699_9e-1, -1.242_014_1e-1, 1.424_932_3e-1, -1.666_805_8e-1, 2.000_071_4e-1] {
        p = p * x + c;
    }
    p = p * x - 2.499_999_4e-1;
    p = p * x + 3.333_333e-1;
    let y = p * x * z + k * -2.121_944_4e-4 - 0.5 * z;
    let ln_u = x + y + k * 0.693_359_4;
    let d = u - 1.0;
    if d == 0.0 {
        e
    } else {
        ln_u * (e / d)
    }
}

/// Adds the loss and gradient sums of `rows` of `x` to `sums` (one thread).
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn accumulate_body(
    x: &[f32],
    y: &[f32],
    d: usize,
    rows: Rows,
    w: &[f32],
    b: f32,
    sums: &mut Sums,
    dot: impl Fn(&[f32], &[f32]) -> f32,
    gradient: impl Fn(&[&[f32]], &[f32], &mut [f32]),
    prefetch: impl Fn(&[f32]),
) {
    let mut acc = vec![0f32; d];
    let (mut z, mut g) = ([0f32; BLOCK], [0f32; BLOCK]);
    let n = rows.len();
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        for k in 0..len {
            let i = rows.at(start + k);
            // The rows two blocks on, so that they arrive while this block is computed.
            if start + k + PREFETCH < n {
                let ahead = rows.at(start + k + PREFETCH);
                prefetch(&x[ahead * d..(ahead + 1) * d]);
            }
            z[k] = dot(&x[i * d..(i + 1) * d], w) + b;
        }
        let mut label = [0f32; BLOCK];
        for k in 0..len {
            label[k] = y[rows.at(start + k)];
        }
        // Whole blocks, branch-free, so that this loop vectorizes; rows past `len` are ignored.
        let mut l = [0f32; BLOCK];
        for k in 0..BLOCK {
            let e = exp_neg(-z[k].abs());
            let q = 1.0 / (1.0 + e);
            let p = if z[k] >= 0.0 { q } else { e * q };
            g[k] = p - label[k];
            l[k] = z[k].max(0.0) - label[k] * z[k] + log1p_unit(e);
        }
        let (mut loss, mut gsum) = (0f32, 0f32);
        for k in 0..len {
            loss += l[k];
            gsum += g[k];
        }
        let block: [&[f32]; BLOCK] = std::array::from_fn(|k| {
            let i = rows.at(start + k.min(len - 1));
            &x[i * d..(i + 1) * d]
        });
        gradient(&block[..len], &g[..len], &mut acc);
        for (s, &a) in sums.weight.iter_mut().zip(&acc) {
            *s += f64::from(a);
        }
        sums.loss += f64::from(loss);
        sums.bias += f64::from(gsum);
        sums.rows += len;
        start += len;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_avx2(x: &[f32], y: &[f32], d: usize, rows: Rows, w: &[f32], b: f32, sums: &mut Sums) {
    let prefetch = |row: &[f32]| {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        for line in row.chunks(16) {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr() as *const i8);
        }
    };
    accumulate_body(x, y, d, rows, w, b, sums, |a, b| dot_avx2(a, b), |r, g, acc| gradient_avx2(r, g, acc), prefetch)
}

/// [`accumulate_body`] with the widest vectors the CPU has (the arithmetic, and so the result, is
/// the same on every instruction set: no fused multiply-add).
fn accumulate_one(x: &[f32], y: &[f32], d: usize, rows: Rows, w: &[f32], b: f32, sums: &mut Sums) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { accumulate_avx2(x, y, d, rows, w, b, sums) };
    }
    accumulate_body(x, y, d, rows, w, b, sums, dot, gradient, |_| {})
}

/// Rows per thread below which one thread does the whole job.
const MIN_ROWS_PER_THREAD: usize = 8192;

/// The loss and gradient sums of `rows` of one chunk at parameters `w`, `b`, split over
/// `threads` threads in fixed row ranges (so the result does not depend on timing).
pub(crate) fn accumulate(x: &[f32], y: &[f32], d: usize, rows: Rows, w: &[f32], b: f32, threads: usize) -> Sums {
    let n = rows.len();
    let threads = threads.clamp(1, (n / MIN_ROWS_PER_THREAD).max(1));
    let mut parts: Vec<Sums> = (0..threads).map(|_| Sums::new(d)).collect();
    std::thread::scope(|scope| {
        for (t, part) in parts.iter_mut().enumerate() {
            let r = rows.part(n * t / threads..n * (t + 1) / threads);
            if t + 1 == threads {
                accumulate_one(x, y, d, r, w, b, part);
            } else {
                scope.spawn(move || accumulate_one(x, y, d, r, w, b, part));
            }
        }
    });
    let mut total = Sums::new(d);
    parts.iter().for_each(|p| total.add(p));
    total
}

/// The data loss and gradient sums over all of `source` at `w`, `b` (one pass over X). One
/// chunk is split over the threads by rows; several are dealt to the threads whole, so that
/// reading one chunk (mapping a file's pages) overlaps computing on another. Sums are added in
/// chunk order either way, so the result does not depend on timing.
pub fn full_pass<S: Source + ?Sized>(source: &S, w: &[f32], b: f32) -> Result<Sums> {
    let (d, chunks, threads) = (source.features(), source.chunks(), threads());
    let mut total = Sums::new(d);
    if chunks == 1 || threads == 1 {
        for c in 0..chunks {
            source.with_chunk(c, &mut |x, y| {
                total.add(&accumulate(x, y, d, Rows::Range(0, y.len()), w, b, threads));
                Ok(())
            })?;
        }
        return Ok(total);
    }
    let parts: Vec<Result<Vec<(usize, Sums)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..chunks)
                        .step_by(threads)
                        .map(|c| {
                            let mut sums = Sums::new(d);
                            source.with_chunk(c, &mut |x, y| {
                                accumulate_one(x, y, d, Rows::Range(0, y.len()), w, b, &mut sums);
                                Ok(())
                            })?;
                            Ok((c, sums))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
    });
    let mut by_chunk = parts.into_iter().collect::<Result<Vec<_>>>()?.concat();
    by_chunk.sort_by_key(|(c, _)| *c);
    by_chunk.iter().for_each(|(_, s)| total.add(s));
    Ok(total)
}

/// The penalty's value and gradient at one parameter `p`.
fn penalty_at(penalty: Penalty, p: f32) -> (f64, f64) {
    let (p64, sign) = (f64::from(p), f64::from(if p == 0.0 { 0.0 } else { p.signum() }));
    match penalty {
        Penalty::None => (0.0, 0.0),
        Penalty::L1 { lambda } => (lambda * p64.abs(), lambda * sign),
        Penalty::L2 { lambda } => (lambda * p64 * p64, 2.0 * lambda * p64),
        Penalty::ElasticNet { lambda_l1, lambda_l2 } => {
            (lambda_l1 * p64.abs() + lambda_l2 * p64 * p64, lambda_l1 * sign + 2.0 * lambda_l2 * p64)
        }
    }
}

/// Parameters and optimizer state: weight then bias, as in `model.parameters()`.
struct Params {
    theta: Vec<f32>,
    step: u64,
    moments: Option<(Vec<f32>, Vec<f32>)>,
}

impl Params {
    /// The objective at the current parameters, and one optimizer step, from data sums.
    fn step(&mut self, sums: &Sums, config: &TrainConfig) -> f64 {
        let (d, n) = (self.theta.len() - 1, sums.rows as f64);
        let mut objective = sums.loss / n;
        let grads: Vec<f32> = (0..=d)
            .map(|j| {
                let data = if j < d { sums.weight[j] } else { sums.bias } / n;
                let (value, grad) =
                    if j < d || config.penalize_bias { penalty_at(config.penalty, self.theta[j]) } else { (0.0, 0.0) };
                objective += value;
                (data + grad) as f32
            })
            .collect();
        self.step += 1;
        let lr = config.lr as f32;
        match &mut self.moments {
            None => self.theta.iter_mut().zip(&grads).for_each(|(p, g)| *p -= lr * g),
            Some((m, v)) => {
                let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f32);
                let step = self.step as f64;
                let step_size = (config.lr / (1.0 - beta1.powf(step))) as f32;
                let bias_correction2_sqrt = (1.0 - beta2.powf(step)).sqrt() as f32;
                for j in 0..=d {
                    let g = grads[j];
                    m[j] += (g - m[j]) * (1.0 - beta1 as f32);
                    v[j] = v[j] * beta2 as f32 + (1.0 - beta2 as f32) * g * g;
                    let denom = v[j].sqrt() / bias_correction2_sqrt + eps;
                    self.theta[j] -= step_size * m[j] / denom;
                }
            }
        }
        objective
    }

    fn state(&self) -> OptimizerState {
        let d = self.theta.len() - 1;
        let moments = match &self.moments {
            None => vec![],
            Some((m, v)) => vec![(m[..d].to_vec(), v[..d].to_vec()), (vec![m[d]], vec![v[d]])],
        };
        OptimizerState { step: self.step, moments }
    }
}

/// The order of one epoch's mini-batches: the chunk order, then each chunk's row order, drawn from
/// libtorch's generator (one chunk: a single `randperm(n)`, as the autograd engine draws).
fn epoch_order(source: &dyn Batches) -> Result<Vec<(usize, Vec<i64>)>> {
    let chunks = source.chunks();
    let order: Vec<i64> = if chunks == 1 {
        vec![0]
    } else {
        Vec::<i64>::try_from(Tensor::f_randperm(chunks as i64, (Kind::Int64, Device::Cpu))?)?
    };
    let mut plan = Vec::with_capacity(chunks);
    for c in order {
        let len = source.chunk_len(c as usize) as i64;
        plan.push((c as usize, Vec::<i64>::try_from(Tensor::f_randperm(len, (Kind::Int64, Device::Cpu))?)?));
    }
    Ok(plan)
}

/// Trains from initial parameters on `source`, as [`crate::train::train`] does (same reporting,
/// validation loss, checkpoints and interruption), with the fused engine. Mini-batches never span
/// two chunks.
pub(crate) fn train(
    initial: &FittedLogisticRegression,
    source: &dyn Batches,
    validation: Option<&dyn Batches>,
    config: &TrainConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    config.validate()?;
    let (n, d) = (source.rows(), source.features());
    ensure(n >= 1, "data", n, "must have at least one row")?;
    let mut params = Params {
        theta: [initial.coef(), &[initial.intercept()]].concat(),
        step: 0,
        moments: (config.optimizer == OptimizerKind::Adam).then(|| (vec![0.0; d + 1], vec![0.0; d + 1])),
    };
    ensure(params.theta.len() == d + 1, "model", params.theta.len() - 1, "must have one weight per feature")?;
    let batch = config.batch_size.map_or(n, |b| b.min(n));
    let (mut progress, resume) = Progress::start(config, d, checkpoints, on_epoch)?;
    if let Some(state) = &resume {
        params.theta = [&state.weight[..], &[state.bias]].concat();
        params.step = state.optimizer.step;
        // Full batch, one step an epoch; else one per batch, and batches never span two chunks.
        let steps_per_epoch =
            if batch == n { 1 } else { (0..source.chunks()).map(|c| source.chunk_len(c).div_ceil(batch) as u64).sum() };
        crate::train::progress::check_steps(state, steps_per_epoch)?;
        if params.moments.is_none() {
            ensure(state.optimizer.moments.is_empty(), "resume", "a checkpoint", "must come from the same optimizer")?;
        }
        if let Some((m, v)) = &mut params.moments {
            let lengths: Vec<(usize, usize)> =
                state.optimizer.moments.iter().map(|(m, v)| (m.len(), v.len())).collect();
            let ok = lengths == [(d, d), (1, 1)];
            ensure(ok, "resume", "a checkpoint", "must come from the same optimizer")?;
            let [(mw, vw), (mb, vb)] = &state.optimizer.moments[..] else { unreachable!() };
            (*m, *v) = ([&mw[..], &mb[..]].concat(), [&vw[..], &vb[..]].concat());
        }
        if batch < n {
            for _ in 0..state.epoch {
                epoch_order(source)?;
            }
        }
    }
    for epoch in progress.first..=config.epochs {
        let loss = if batch == n {
            let sums = source.pass(&params.theta[..d], params.theta[d])?;
            params.step(&sums, config)
        } else {
            let mut total = 0.0;
            let mut sums = Sums::new(0);
            for (c, perm) in epoch_order(source)? {
                source.with_batches(c, &mut |chunk| {
                    for part in perm.chunks(batch) {
                        chunk.sums(part, &params.theta[..d], params.theta[d], &mut sums);
                        total += params.step(&sums, config) * part.len() as f64;
                    }
                    Ok(())
                })?;
            }
            total / n as f64
        };
        let validation_loss = || match validation {
            Some(v) => {
                let sums = v.pass(&params.theta[..d], params.theta[d])?;
                Ok(Some(sums.loss / sums.rows as f64))
            }
            None => Ok(None),
        };
        let state = || Ok((params.theta[..d].to_vec(), params.theta[d], params.state()));
        progress.end_epoch(epoch, loss, validation_loss, state)?;
    }
    let (losses, validation_losses) = progress.finish();
    let model = FittedLogisticRegression::new(params.theta[..d].to_vec(), params.theta[d]);
    Ok(Training { losses, validation_losses, model })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Dataset;
    use crate::data::source::tensor_values;
    use crate::model::linear::LogisticRegression;
    use crate::reference::sample::tutorial_sample;
    use crate::seed::with_seed;
    use crate::train::{Engine, LossKind};

    #[test]
    fn exp_and_log1p_match_the_standard_library() {
        for i in 0..=2000 {
            let x = -(i as f32) * 0.05;
            let (ours, std) = (exp_neg(x), x.exp());
            assert!((ours - std).abs() <= 2.0 * f32::EPSILON * std + 2e-38, "exp({x}): {ours} vs {std}");
            let e = i as f32 / 2000.0;
            let (ours, std) = (log1p_unit(e), e.ln_1p());
            assert!(
                (ours - std).abs() <= 2.0 * f32::EPSILON * std.max(f32::MIN_POSITIVE),
                "log1p({e}): {ours} vs {std}"
            );
        }
        assert_eq!(log1p_unit(1e-30), 1e-30);
        assert_eq!(exp_neg(-200.0), 0.0);
    }

    #[test]
    fn both_gradient_kernels_give_the_same_bits() {
        let rows: Vec<Vec<f32>> =
            (0..50).map(|k| (0..71).map(|j| ((k * 71 + j) as f32 * 0.37).sin()).collect()).collect();
        let rows: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let g: Vec<f32> = (0..50).map(|k| (k as f32 * 0.3).cos()).collect();
        let mut plain = vec![0f32; 71];
        gradient(&rows, &g, &mut plain);
        let expected: Vec<f32> = (0..71).map(|j| rows.iter().zip(&g).fold(0.0, |a, (r, gk)| a + gk * r[j])).collect();
        assert_eq!(plain, expected);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            let mut wide = vec![0f32; 71];
            // SAFETY: the CPU has AVX2.
            unsafe { gradient_avx2(&rows, &g, &mut wide) };
            assert_eq!(wide, plain);
        }
    }

    #[test]
    fn the_dot_product_is_exact_on_integers_and_handles_a_tail() {
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..37).map(|i| (i % 5) as f32).collect();
        let expected: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), expected);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            let a: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..100).map(|i| (i as f32 * 0.11).cos()).collect();
            // SAFETY: the CPU has AVX2.
            assert_eq!(unsafe { dot_avx2(&a, &b) }.to_bits(), dot(&a, &b).to_bits());
        }
    }

    fn sample(seed: u64, n: i64, d: i64) -> (Dataset, LogisticRegression) {
        with_seed(seed, || {
            let (x, y) = tutorial_sample(n, d).unwrap();
            (Dataset { x, y }, LogisticRegression::torch_init(d, Device::Cpu).unwrap())
        })
    }

    /// Both engines from the same start, same seed (so the same batch order).
    fn both(config: &TrainConfig, n: i64, d: i64) -> (Training, Training) {
        let (data, model) = sample(11, n, d);
        let initial = model.fitted().unwrap();
        let autograd = with_seed(5, || {
            crate::train::train(model, &data, None, config, Checkpoints::default(), |_| ControlFlow::Continue(()))
        })
        .unwrap();
        let source = InMemory::new(tensor_values(&data.x).unwrap(), tensor_values(&data.y).unwrap(), d as usize);
        let fused = with_seed(5, || {
            train(&initial, &source, None, config, Checkpoints::default(), |_| ControlFlow::Continue(()))
        })
        .unwrap();
        (autograd, fused)
    }

    fn assert_close(a: &Training, b: &Training, tol: f64) {
        for (x, y) in a.losses.iter().zip(&b.losses) {
            assert!((x - y).abs() <= tol * x.abs(), "losses {x} vs {y}");
        }
        for (x, y) in a.model.coef().iter().zip(b.model.coef()) {
            assert!((x - y).abs() <= tol as f32 * 10.0, "weights {x} vs {y}");
        }
    }

    #[test]
    fn full_batch_follows_the_autograd_engine_for_every_penalty_and_optimizer() {
        let penalties = [
            Penalty::None,
            Penalty::L1 { lambda: 0.05 },
            Penalty::L2 { lambda: 0.1 },
            Penalty::ElasticNet { lambda_l1: 0.02, lambda_l2: 0.05 },
        ];
        for penalty in penalties {
            for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
                for penalize_bias in [true, false] {
                    let config = TrainConfig {
                        lr: 0.05,
                        epochs: 60,
                        penalty,
                        optimizer,
                        loss: LossKind::Logits,
                        penalize_bias,
                        batch_size: None,
                        engine: Engine::Autograd,
                    };
                    // 20,000 rows: more than one thread's share, so the split is exercised.
                    let (a, f) = both(&config, 20_000, 7);
                    assert_close(&a, &f, 2e-5);
                }
            }
        }
    }

    #[test]
    fn an_edited_checkpoint_is_refused_not_a_panic() {
        use crate::train::TrainState;
        let (data, model) = sample(1, 50, 3);
        let source = InMemory::new(tensor_values(&data.x).unwrap(), tensor_values(&data.y).unwrap(), 3);
        let config = TrainConfig { optimizer: OptimizerKind::Adam, epochs: 10, ..Default::default() };
        let good = TrainState {
            epoch: 2,
            classes: None,
            weight: vec![0.1, 0.2, 0.3],
            bias: 0.0,
            optimizer: OptimizerState { step: 2, moments: vec![(vec![0.0; 3], vec![0.0; 3]), (vec![0.0], vec![0.0])] },
            losses: vec![0.7, 0.6],
            validation_losses: vec![],
        };
        let resume = |state: TrainState| {
            let checkpoints = Checkpoints { resume: Some(state), ..Default::default() };
            train(&model.fitted().unwrap(), &source, None, &config, checkpoints, |_| ControlFlow::Continue(()))
        };
        assert!(resume(good.clone()).is_ok());
        let mut short_moment = good.clone();
        short_moment.optimizer.moments[0].1.pop();
        let mut nan_weight = good.clone();
        nan_weight.weight[1] = f32::NAN;
        let mut lost_loss = good.clone();
        lost_loss.losses.pop();
        let mut more_steps = good.clone();
        more_steps.optimizer.step = 3;
        for (state, expected) in [
            (short_moment, "must come from the same optimizer"),
            (more_steps, "must hold the optimizer's step count for its completed epochs"),
            (nan_weight, "must hold finite weights and moments"),
            (lost_loss, "must hold one finite loss per completed epoch"),
        ] {
            let e = resume(state).unwrap_err().to_string();
            assert!(e.starts_with("invalid resume: a checkpoint (") && e.contains(expected), "{e}");
        }
    }

    #[test]
    fn mini_batches_take_the_autograd_engines_batches() {
        let config = TrainConfig { lr: 0.05, epochs: 5, batch_size: Some(32), ..Default::default() };
        let (a, f) = both(&config, 500, 4);
        assert_close(&a, &f, 2e-5);
        let (_, full) = both(&TrainConfig { batch_size: None, ..config }, 500, 4);
        assert_ne!(full.losses, f.losses);
    }

    #[test]
    fn thread_count_does_not_change_the_sums_beyond_rounding() {
        let (data, _) = sample(2, 50_000, 9);
        let (x, y) = (tensor_values(&data.x).unwrap(), tensor_values(&data.y).unwrap());
        let w: Vec<f32> = (0..9).map(|j| j as f32 * 0.1 - 0.4).collect();
        let one = accumulate(x, y, 9, Rows::Range(0, 50_000), &w, 0.3, 1);
        let four = accumulate(x, y, 9, Rows::Range(0, 50_000), &w, 0.3, 4);
        assert_eq!(one.rows, four.rows);
        // Blocks of f32 sums start at other rows when the split moves: rounding only.
        assert!((one.loss - four.loss).abs() < 1e-6 * one.loss);
        assert!(one.weight.iter().zip(&four.weight).all(|(a, b)| (a - b).abs() < 1e-6 * a.abs().max(1.0)));
    }

    #[test]
    fn l1_with_sgd_decreases_the_objective() {
        let config = TrainConfig { lr: 0.1, epochs: 40, penalty: Penalty::L1 { lambda: 0.01 }, ..Default::default() };
        let (_, f) = both(&config, 300, 5);
        assert!(f.losses.windows(2).all(|w| w[1] < w[0]), "{:?}", f.losses);
    }
}
