//! The multinomial solver's two products over a dense row-major X on the CPU, f32 or f64 as
//! given: the scores X·Wᵀ + b of K classes and the gradient's Rᵀ·[X | 1], each one pass over the
//! rows (a row is read once and reused from L1 for every class), values widened to f64 in 8
//! running sums. Rows go in fixed blocks whose partial sums are added in block order, so a result
//! has the same bits on any number of threads, with or without AVX2 (as [`super::rows`]).

use super::columns::workers;

const LANES: usize = 8;

/// An element of X: f32 or f64, widened to f64 for the arithmetic.
pub(crate) trait Element: Copy + Send + Sync {
    fn wide(self) -> f64;
}

impl Element for f32 {
    #[inline(always)]
    fn wide(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }
}

/// X `[n, d]` row-major, in the precision it came in.
pub(crate) enum Rows {
    F32 { data: Vec<f32>, d: usize },
    F64 { data: Vec<f64>, d: usize },
}

/// Σ xⱼ·vⱼ in 8 running sums added in a fixed order.
#[inline(always)]
fn dot<T: Element>(x: &[T], v: &[f64]) -> f64 {
    let mut s = [0f64; LANES];
    let (xw, xt) = x.as_chunks::<LANES>();
    let (vw, vt) = v[..x.len()].as_chunks::<LANES>();
    for (a, b) in xw.iter().zip(vw) {
        for k in 0..LANES {
            s[k] += a[k].wide() * b[k];
        }
    }
    let tail: f64 = xt.iter().zip(vt).map(|(&a, &b)| a.wide() * b).sum();
    for half in [4, 2, 1] {
        for k in 0..half {
            s[k] += s[k + half];
        }
    }
    s[0] + tail
}

/// What a pass computes on a block of rows (its first row `start`) into its part.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// part = the block's scores `[rows, K]`, θ `[K, d+1]` (weights, then the intercept).
    Scores { theta: &'a [f64], k: usize },
    /// part `[K, d+1]` += rᵢₖ·[xᵢ | 1] over the block's rows, r `[n, K]`.
    Transpose { r: &'a [f64], k: usize },
    /// part `[K, d+1]` += cᵢₖ·[xᵢ² | 1] over the block's rows, c `[n, K]`.
    Squares { c: &'a [f64], k: usize },
}

#[inline(always)]
fn apply<T: Element>(op: Op, d: usize, start: usize, x: &[T], part: &mut [f64]) {
    let rows = x.chunks_exact(d);
    match op {
        Op::Scores { theta, k } => {
            for (z, row) in part.chunks_exact_mut(k).zip(rows) {
                for (zc, w) in z.iter_mut().zip(theta.chunks_exact(d + 1)) {
                    *zc = w[d] + dot(row, &w[..d]);
                }
            }
        }
        Op::Transpose { r, k } => {
            for (row, ri) in rows.zip(r[start * k..].chunks_exact(k)) {
                for (out, &rc) in part.chunks_exact_mut(d + 1).zip(ri) {
                    let (w, b) = out.split_at_mut(d);
                    w.iter_mut().zip(row).for_each(|(o, &a)| *o += rc * a.wide());
                    b[0] += rc;
                }
            }
        }
        Op::Squares { c, k } => {
            for (row, ci) in rows.zip(c[start * k..].chunks_exact(k)) {
                for (out, &cc) in part.chunks_exact_mut(d + 1).zip(ci) {
                    let (w, b) = out.split_at_mut(d);
                    w.iter_mut().zip(row).for_each(|(o, &a)| *o += cc * a.wide() * a.wide());
                    b[0] += cc;
                }
            }
        }
    }
}

/// [`apply`] compiled for AVX2 (the same arithmetic in wider registers, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn apply_avx2<T: Element>(op: Op, d: usize, start: usize, x: &[T], part: &mut [f64]) {
    apply(op, d, start, x, part)
}

/// [`apply`], with AVX2 when the CPU has it.
fn run<T: Element>(op: Op, d: usize, start: usize, x: &[T], part: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { apply_avx2(op, d, start, x, part) };
    }
    apply(op, d, start, x, part)
}

/// Rows a block holds: at most 64 blocks, at least 1,024 rows each.
fn block_rows(n: usize) -> usize {
    n.div_ceil(64).max(1024)
}

/// `op` for each block b of rows into `parts[b]`, on [`workers`] threads.
fn each_block<T: Element>(op: Op, data: &[T], d: usize, parts: &mut [&mut [f64]]) {
    let n = data.len().checked_div(d).unwrap_or(0);
    let rows = block_rows(n);
    let threads = workers(data.len()).min(parts.len()).max(1);
    let per = parts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, group) in parts.chunks_mut(per).enumerate() {
            scope.spawn(move || {
                for (b, part) in group.iter_mut().enumerate() {
                    let start = (t * per + b) * rows;
                    let end = (start + rows).min(n);
                    run(op, d, start, &data[start * d..end * d], part);
                }
            });
        }
    });
}

fn scores_of<T: Element>(data: &[T], d: usize, theta: &[f64], k: usize) -> Vec<f64> {
    let n = data.len().checked_div(d).unwrap_or(0);
    let mut z = vec![0.0; n * k];
    let mut parts: Vec<&mut [f64]> = z.chunks_mut(block_rows(n) * k).collect();
    each_block(Op::Scores { theta, k }, data, d, &mut parts);
    z
}

/// A `[K, d+1]` sum over the rows: `op`'s partial sums per block, added in block order.
fn summed<T: Element>(op: Op, data: &[T], d: usize, k: usize) -> Vec<f64> {
    let n = data.len().checked_div(d).unwrap_or(0);
    let width = k * (d + 1);
    let mut partials = vec![vec![0.0; width]; n.div_ceil(block_rows(n))];
    let mut parts: Vec<&mut [f64]> = partials.iter_mut().map(|p| p.as_mut_slice()).collect();
    each_block(op, data, d, &mut parts);
    let mut out = vec![0.0; width];
    for p in &partials {
        out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
    }
    out
}

impl Rows {
    /// Z = X·Wᵀ + b, `[n, K]` row-major, for θ = [W | b] `[K, d+1]` row-major.
    pub(crate) fn scores(&self, theta: &[f64], k: usize) -> Vec<f64> {
        match self {
            Rows::F32 { data, d } => scores_of(data, *d, theta, k),
            Rows::F64 { data, d } => scores_of(data, *d, theta, k),
        }
    }

    /// [Rᵀ·X | Rᵀ·1], `[K, d+1]` row-major, for R `[n, K]` row-major.
    pub(crate) fn transpose_times(&self, r: &[f64], k: usize) -> Vec<f64> {
        match self {
            Rows::F32 { data, d } => summed(Op::Transpose { r, k }, data, *d, k),
            Rows::F64 { data, d } => summed(Op::Transpose { r, k }, data, *d, k),
        }
    }

    /// [Cᵀ·(X⊙X) | Cᵀ·1], `[K, d+1]` row-major, for C `[n, K]` row-major: the Hessian's diagonal.
    pub(crate) fn square_times(&self, c: &[f64], k: usize) -> Vec<f64> {
        match self {
            Rows::F32 { data, d } => summed(Op::Squares { c, k }, data, *d, k),
            Rows::F64 { data, d } => summed(Op::Squares { c, k }, data, *d, k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Products against the sums written out, for f32 and f64 rows (2,500 × 11 in three blocks,
    /// the last one short), K = 3.
    #[test]
    fn products_equal_the_sums_written_out() {
        let (n, d, k) = (2_500, 11, 3);
        let values: Vec<f64> = (0..n * d).map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0).collect();
        let theta: Vec<f64> = (0..k * (d + 1)).map(|j| (j % 7) as f64 * 0.3 - 1.0).collect();
        let r: Vec<f64> = (0..n * k).map(|i| (i % 13) as f64 / 13.0 - 0.4).collect();
        let at = |i: usize, j: usize| values[i * d + j];
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * b.abs().max(1.0);
        for rows in
            [Rows::F32 { data: values.iter().map(|&v| v as f32).collect(), d }, Rows::F64 { data: values.clone(), d }]
        {
            // The f32 values are these multiples of 1/7 rounded: compare with the same numbers.
            let x = |i: usize, j: usize| match &rows {
                Rows::F32 { data, .. } => data[i * d + j] as f64,
                Rows::F64 { .. } => at(i, j),
            };
            let z = rows.scores(&theta, k);
            for i in 0..n {
                for c in 0..k {
                    let want = theta[c * (d + 1) + d] + (0..d).map(|j| x(i, j) * theta[c * (d + 1) + j]).sum::<f64>();
                    assert!(close(z[i * k + c], want), "row {i} class {c}: {} vs {want}", z[i * k + c]);
                }
            }
            let g = rows.transpose_times(&r, k);
            for c in 0..k {
                for j in 0..d {
                    let want: f64 = (0..n).map(|i| r[i * k + c] * x(i, j)).sum();
                    assert!(close(g[c * (d + 1) + j], want), "class {c} column {j}");
                }
                let want: f64 = (0..n).map(|i| r[i * k + c]).sum();
                assert!(close(g[c * (d + 1) + d], want), "class {c} sum");
            }
            let h = rows.square_times(&r, k);
            for c in 0..k {
                for j in 0..d {
                    let want: f64 = (0..n).map(|i| r[i * k + c] * x(i, j) * x(i, j)).sum();
                    assert!(close(h[c * (d + 1) + j], want), "class {c} column {j} squared");
                }
                assert!(close(h[c * (d + 1) + d], g[c * (d + 1) + d]), "class {c} sum");
            }
        }
    }

    #[test]
    fn empty_and_single_rows() {
        let rows = Rows::F64 { data: vec![], d: 2 };
        assert!(rows.scores(&[1.0; 6], 2).is_empty());
        assert_eq!(rows.transpose_times(&[], 2), vec![0.0; 6]);
        let one = Rows::F32 { data: vec![2.0], d: 1 };
        assert_eq!(one.scores(&[3.0, 1.0, -1.0, 0.5], 2), vec![7.0, -1.5]);
        assert_eq!(one.transpose_times(&[3.0, -1.0], 2), vec![6.0, 3.0, -2.0, -1.0]);
    }
}
