//! TRON's products over a dense row-major f32 X: X·w + b, Xᵀ·r, the fused Hessian product
//! Xᵀ·(c ⊙ (X·v + b)) and the Hessian's diagonal, each one pass over the rows (a row is reused from
//! L1 for its two halves of the fused product), f32 values widened to f64 in 8 running sums.
//! Rows go in fixed blocks whose partial sums are added in block order, so the result has the same
//! bits on any number of threads, with or without AVX2.

use super::columns::workers;

const LANES: usize = 8;

/// Σ xₖ·vₖ in 8 running sums added in a fixed order.
#[inline(always)]
fn dot(x: &[f32], v: &[f64]) -> f64 {
    let mut s = [0f64; LANES];
    let (xw, xt) = x.as_chunks::<LANES>();
    let (vw, vt) = v[..x.len()].as_chunks::<LANES>();
    for (a, b) in xw.iter().zip(vw) {
        for k in 0..LANES {
            s[k] += a[k] as f64 * b[k];
        }
    }
    let tail: f64 = xt.iter().zip(vt).map(|(&a, &b)| a as f64 * b).sum();
    for half in [4, 2, 1] {
        for k in 0..half {
            s[k] += s[k + half];
        }
    }
    s[0] + tail
}

/// out += α·x.
#[inline(always)]
fn axpy(alpha: f64, x: &[f32], out: &mut [f64]) {
    out.iter_mut().zip(x).for_each(|(o, &a)| *o += alpha * a as f64);
}

/// out += α·x².
#[inline(always)]
fn axpy_square(alpha: f64, x: &[f32], out: &mut [f64]) {
    out.iter_mut().zip(x).for_each(|(o, &a)| *o += alpha * (a as f64) * (a as f64));
}

/// Rows a block holds: at most 64 blocks, at least 1,024 rows each.
fn block_rows(n: usize) -> usize {
    n.div_ceil(64).max(1024)
}

/// What a pass computes on a block of rows (its first row `start`) into its part.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// part = X·w + b on the block's rows.
    Scores { w: &'a [f64], b: f64 },
    /// part += Xᵀ·r.
    Transpose { r: &'a [f64] },
    /// part[..d] += Xᵀ·u, part[d] += Σ u, with u = c ⊙ (X·w + b).
    Curvature { c: &'a [f64], w: &'a [f64], b: f64 },
    /// part += (X²)ᵀ·c.
    Square { c: &'a [f64] },
}

/// `op` on the rows `x` (`d` wide, the first `start`) into `part`.
#[inline(always)]
fn apply(op: Op, d: usize, start: usize, x: &[f32], part: &mut [f64]) {
    let rows = x.chunks_exact(d);
    match op {
        Op::Scores { w, b } => part.iter_mut().zip(rows).for_each(|(z, row)| *z = b + dot(row, w)),
        Op::Transpose { r } => rows.zip(&r[start..]).for_each(|(row, &ri)| axpy(ri, row, part)),
        Op::Curvature { c, w, b } => {
            let (out, sum) = part.split_at_mut(d);
            for (row, &ci) in rows.zip(&c[start..]) {
                let u = ci * (dot(row, w) + b);
                axpy(u, row, out);
                sum[0] += u;
            }
        }
        Op::Square { c } => rows.zip(&c[start..]).for_each(|(row, &ci)| axpy_square(ci, row, part)),
    }
}

/// [`apply`] compiled for AVX2 (the same arithmetic in wider registers, so the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn apply_avx2(op: Op, d: usize, start: usize, x: &[f32], part: &mut [f64]) {
    apply(op, d, start, x, part)
}

/// [`apply`], with AVX2 when the CPU has it.
fn run(op: Op, d: usize, start: usize, x: &[f32], part: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { apply_avx2(op, d, start, x, part) };
    }
    apply(op, d, start, x, part)
}

/// `op` for each block k of rows into `parts[k]`, on [`workers`] threads.
fn each_block(op: Op, data: &[f32], d: usize, parts: &mut [&mut [f64]]) {
    let n = data.len().checked_div(d).unwrap_or(0);
    let rows = block_rows(n);
    let threads = workers(data.len()).min(parts.len()).max(1);
    let per = parts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, group) in parts.chunks_mut(per).enumerate() {
            scope.spawn(move || {
                for (k, part) in group.iter_mut().enumerate() {
                    let start = (t * per + k) * rows;
                    let end = (start + rows).min(n);
                    run(op, d, start, &data[start * d..end * d], part);
                }
            });
        }
    });
}

/// `op` on each block of rows into a partial sum of `width` values; the partials added in block
/// order.
fn blocks(op: Op, data: &[f32], d: usize, width: usize) -> Vec<f64> {
    let n = data.len().checked_div(d).unwrap_or(0);
    let mut partials = vec![vec![0.0; width]; n.div_ceil(block_rows(n))];
    let mut parts: Vec<&mut [f64]> = partials.iter_mut().map(|p| p.as_mut_slice()).collect();
    each_block(op, data, d, &mut parts);
    let mut out = vec![0.0; width];
    for p in &partials {
        out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
    }
    out
}

/// X·w + b.
pub(crate) fn scores(data: &[f32], d: usize, w: &[f64], b: f64) -> Vec<f64> {
    let n = data.len().checked_div(d).unwrap_or(0);
    let mut z = vec![b; n];
    let mut parts: Vec<&mut [f64]> = z.chunks_mut(block_rows(n)).collect();
    each_block(Op::Scores { w, b }, data, d, &mut parts);
    z
}

/// Xᵀ·r.
pub(crate) fn transpose_times(data: &[f32], d: usize, r: &[f64]) -> Vec<f64> {
    blocks(Op::Transpose { r }, data, d, d)
}

/// (Xᵀ·u, Σ u) with u = c ⊙ (X·w + b).
pub(crate) fn curvature_times(data: &[f32], d: usize, c: &[f64], w: &[f64], b: f64) -> (Vec<f64>, f64) {
    let mut out = blocks(Op::Curvature { c, w, b }, data, d, d + 1);
    let sum = out.pop().unwrap_or(0.0);
    (out, sum)
}

/// Σᵢ xᵢⱼ²·cᵢ for every column j.
pub(crate) fn square_dots(data: &[f32], d: usize, c: &[f64]) -> Vec<f64> {
    blocks(Op::Square { c }, data, d, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3,000 × 7 matrix with values that are not small integers.
    fn matrix(n: usize, d: usize) -> Vec<f32> {
        (0..n * d).map(|k| ((k * 37 % 101) as f32 - 50.0) / 7.0).collect()
    }

    #[test]
    fn products_equal_the_sums_written_out() {
        let (n, d) = (3_000, 7);
        let x = matrix(n, d);
        let at = |i: usize, j: usize| x[i * d + j] as f64;
        let w: Vec<f64> = (0..d).map(|j| j as f64 * 0.3 - 1.0).collect();
        let r: Vec<f64> = (0..n).map(|i| (i % 13) as f64 / 13.0 - 0.4).collect();
        let c: Vec<f64> = (0..n).map(|i| 0.25 - (i % 5) as f64 / 40.0).collect();
        let z: Vec<f64> = (0..n).map(|i| 0.5 + (0..d).map(|j| at(i, j) * w[j]).sum::<f64>()).collect();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        scores(&x, d, &w, 0.5).iter().zip(&z).for_each(|(a, b)| assert!(close(*a, *b), "{a} {b}"));
        let g = transpose_times(&x, d, &r);
        let (h, hb) = curvature_times(&x, d, &c, &w, 0.5);
        let diag = square_dots(&x, d, &c);
        for j in 0..d {
            assert!(close(g[j], (0..n).map(|i| at(i, j) * r[i]).sum()));
            assert!(close(h[j], (0..n).map(|i| at(i, j) * c[i] * z[i]).sum()));
            assert!(close(diag[j], (0..n).map(|i| at(i, j) * at(i, j) * c[i]).sum()));
        }
        assert!(close(hb, (0..n).map(|i| c[i] * z[i]).sum()));
    }

    #[test]
    fn empty_and_narrow_matrices() {
        assert!(scores(&[], 3, &[1.0; 3], 0.0).is_empty());
        assert_eq!(transpose_times(&[], 2, &[]), vec![0.0, 0.0]);
        assert_eq!(transpose_times(&[2.0], 1, &[3.0]), vec![6.0]);
    }
}
