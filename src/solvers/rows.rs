//! TRON's products over a dense row-major f32 X: X·w + b, Xᵀ·r, the fused Hessian product
//! Xᵀ·(c ⊙ (X·v + b)), the Hessian's diagonal, and the evaluation at a point (scores, gradient and
//! diagonal together), each one pass over the rows (a row is reused from L1 for the parts of a
//! fused pass). Scores and the gradient widen f32 values to f64 in 8 running sums; the Hessian's
//! product, which only shapes the CG step, runs in f32 (twice the values per instruction), its
//! blocks' partials added in f64. Rows go in fixed blocks whose partial sums are added in block
//! order, so the result has the same bits on any number of threads, with or without AVX2.

use super::columns::{sigmoid, workers};

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

/// Σ xₖ·vₖ in f32, in 32 running sums added in a fixed order.
#[inline(always)]
fn dot32(x: &[f32], v: &[f32]) -> f32 {
    const W: usize = 32;
    let mut s = [0f32; W];
    let (xw, xt) = x.as_chunks::<W>();
    let (vw, vt) = v[..x.len()].as_chunks::<W>();
    for (a, b) in xw.iter().zip(vw) {
        for k in 0..W {
            s[k] += a[k] * b[k];
        }
    }
    let tail: f32 = xt.iter().zip(vt).map(|(&a, &b)| a * b).sum();
    for half in [16, 8, 4, 2, 1] {
        for k in 0..half {
            s[k] += s[k + half];
        }
    }
    s[0] + tail
}

/// out += α·x, in f32.
#[inline(always)]
fn axpy32(alpha: f32, x: &[f32], out: &mut [f32]) {
    out.iter_mut().zip(x).for_each(|(o, &a)| *o += alpha * a);
}

/// g += r·x and h += c·x², in one read of x.
#[inline(always)]
fn axpy_both(r: f64, c: f64, x: &[f32], g: &mut [f64], h: &mut [f64]) {
    g.iter_mut().zip(h.iter_mut()).zip(x).for_each(|((g, h), &a)| {
        let a = a as f64;
        *g += r * a;
        *h += c * a * a;
    });
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
    /// part[..d] += Xᵀ·u, part[d] += Σ u, with u = c ⊙ (X·w + b), X·w and Xᵀ·u in f32 (`w`
    /// rounded to f32).
    Curvature { c: &'a [f64], w: &'a [f32], b: f64 },
    /// part = [Xᵀ·r, Σ r, (X²)ᵀ·c, Σ c, z] on the block's rows, with z = X·w + b, p = σ(z),
    /// r = p − y and c = p(1 − p).
    Evaluate { w: &'a [f64], b: f64, y: &'a [f64] },
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
            let mut acc = vec![0f32; d];
            for (row, &ci) in rows.zip(&c[start..]) {
                let u = ci * (dot32(row, w) as f64 + b);
                axpy32(u as f32, row, &mut acc);
                sum[0] += u;
            }
            out.iter_mut().zip(&acc).for_each(|(o, &a)| *o += a as f64);
        }
        Op::Evaluate { w, b, y } => {
            let (g, rest) = part.split_at_mut(d + 1);
            let (h, z) = rest.split_at_mut(d + 1);
            for ((row, &yi), zi) in rows.zip(&y[start..]).zip(z.iter_mut()) {
                *zi = b + dot(row, w);
                let p = sigmoid(*zi);
                let (r, c) = (p - yi, p * (1.0 - p));
                axpy_both(r, c, row, &mut g[..d], &mut h[..d]);
                g[d] += r;
                h[d] += c;
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

/// (Xᵀ·u, Σ u) with u = c ⊙ (X·w + b), the products in f32 (relative error about 1e-6).
pub(crate) fn curvature_times(data: &[f32], d: usize, c: &[f64], w: &[f64], b: f64) -> (Vec<f64>, f64) {
    let w: Vec<f32> = w.iter().map(|&v| v as f32).collect();
    let mut out = blocks(Op::Curvature { c, w: &w, b }, data, d, d + 1);
    let sum = out.pop().unwrap_or(0.0);
    (out, sum)
}

/// At z = X·w + b and labels `y`: (z, [Xᵀ·r, Σ r], [(X²)ᵀ·c, Σ c]) with r = σ(z) − y and
/// c = σ(z)(1 − σ(z)), in one pass.
pub(crate) fn evaluate(data: &[f32], d: usize, w: &[f64], b: f64, y: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = data.len().checked_div(d).unwrap_or(0);
    let rows = block_rows(n);
    let width = 2 * (d + 1);
    let mut partials: Vec<Vec<f64>> =
        (0..n.div_ceil(rows)).map(|k| vec![0.0; width + rows.min(n - k * rows)]).collect();
    let mut parts: Vec<&mut [f64]> = partials.iter_mut().map(|p| p.as_mut_slice()).collect();
    each_block(Op::Evaluate { w, b, y }, data, d, &mut parts);
    let mut sums = vec![0.0; width];
    let mut z = Vec::with_capacity(n);
    for p in &partials {
        sums.iter_mut().zip(p).for_each(|(o, v)| *o += v);
        z.extend_from_slice(&p[width..]);
    }
    let diag = sums.split_off(d + 1);
    (z, sums, diag)
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
        // The Hessian's product is f32: within 1e-5 of the sum of the terms' magnitudes.
        let near = |a: f64, b: f64, scale: f64| (a - b).abs() <= 1e-5 * scale;
        for j in 0..d {
            assert!(close(g[j], (0..n).map(|i| at(i, j) * r[i]).sum()));
            let scale = (0..n).map(|i| (at(i, j) * c[i] * z[i]).abs()).sum();
            assert!(near(h[j], (0..n).map(|i| at(i, j) * c[i] * z[i]).sum(), scale), "{j}: {}", h[j]);
            assert!(close(diag[j], (0..n).map(|i| at(i, j) * at(i, j) * c[i]).sum()));
        }
        assert!(near(hb, (0..n).map(|i| c[i] * z[i]).sum(), (0..n).map(|i| (c[i] * z[i]).abs()).sum()));
        // The evaluation at (w, 0.5) against the sums written out, with labels.
        let y: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
        let (ez, eg, eh) = evaluate(&x, d, &w, 0.5, &y);
        let p: Vec<f64> = z.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect();
        ez.iter().zip(&z).for_each(|(a, b)| assert!(close(*a, *b), "{a} {b}"));
        for j in 0..d {
            assert!(close(eg[j], (0..n).map(|i| at(i, j) * (p[i] - y[i])).sum()));
            assert!(close(eh[j], (0..n).map(|i| at(i, j) * at(i, j) * p[i] * (1.0 - p[i])).sum()));
        }
        assert!(close(eg[d], (0..n).map(|i| p[i] - y[i]).sum()));
        assert!(close(eh[d], (0..n).map(|i| p[i] * (1.0 - p[i])).sum()));
    }

    #[test]
    fn empty_and_narrow_matrices() {
        assert!(scores(&[], 3, &[1.0; 3], 0.0).is_empty());
        assert_eq!(transpose_times(&[], 2, &[]), vec![0.0, 0.0]);
        assert_eq!(transpose_times(&[2.0], 1, &[3.0]), vec![6.0]);
    }
}
