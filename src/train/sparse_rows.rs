//! Sparse rows for the fused engine (SGD and Adam): the loss and gradient sums of CSR rows,
//! `Xᵦᵀ(p − y)` scattered over each row's non-zeros only, for a CSR matrix in memory
//! ([`SparseRows`]) and a `.lrcsr` file read chunk by chunk ([`CsrStream`]).

use crate::data::csr_stream::CsrStream;
use crate::data::sparse::CsrMatrix;
use crate::error::Result;
use crate::simd::threads;
use crate::train::fused::{BatchSums, Batches, Sums};

/// Rows per thread below which one thread does a whole pass.
const MIN_ROWS_PER_THREAD: usize = 8192;

/// Adds to `out` the sums of `rows` of `x` (labels `y`) at `w`, `b`: each row's score in f64,
/// its stable logistic loss `max(z, 0) − y·z + log1p(e^−|z|)` and `p − y` times its values.
fn add_rows(x: &CsrMatrix, y: &[f32], rows: impl Iterator<Item = usize>, w: &[f32], b: f32, out: &mut Sums) {
    let (indptr, indices, values) = (x.indptr(), x.indices(), x.values());
    for i in rows {
        let (start, end) = (indptr[i], indptr[i + 1]);
        let (cols, vals) = (&indices[start..end], &values[start..end]);
        let z =
            f64::from(b) + cols.iter().zip(vals).map(|(&j, &v)| f64::from(v) * f64::from(w[j as usize])).sum::<f64>();
        let label = f64::from(y[i]);
        let e = (-z.abs()).exp();
        let p = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
        out.loss += z.max(0.0) - label * z + e.ln_1p();
        let g = p - label;
        out.bias += g;
        for (&j, &v) in cols.iter().zip(vals) {
            out.weight[j as usize] += g * f64::from(v);
        }
        out.rows += 1;
    }
}

/// The sums of every row of `x`, split over threads in fixed row ranges and added in order (so
/// the result does not depend on timing).
fn pass(x: &CsrMatrix, y: &[f32], w: &[f32], b: f32) -> Sums {
    let (n, d) = (x.rows(), x.cols());
    let threads = threads().clamp(1, (n / MIN_ROWS_PER_THREAD).max(1));
    let mut parts: Vec<Sums> = (0..threads).map(|_| Sums::new(d)).collect();
    std::thread::scope(|scope| {
        for (t, part) in parts.iter_mut().enumerate() {
            let range = n * t / threads..n * (t + 1) / threads;
            scope.spawn(move || add_rows(x, y, range, w, b, part));
        }
    });
    let mut parts = parts.into_iter();
    let mut total = parts.next().expect("one thread at least");
    for p in parts {
        total.loss += p.loss;
        total.bias += p.bias;
        total.rows += p.rows;
        total.weight.iter_mut().zip(&p.weight).for_each(|(a, b)| *a += b);
    }
    total
}

/// One chunk's rows (a matrix of them) and labels, whose mini-batches are summed.
struct Chunk<'a> {
    x: &'a CsrMatrix,
    y: &'a [f32],
}

impl BatchSums for Chunk<'_> {
    fn sums(&self, part: &[i64], w: &[f32], b: f32, out: &mut Sums) {
        // The buffer is reused from batch to batch: cleared, not reallocated.
        out.weight.clear();
        out.weight.resize(self.x.cols(), 0.0);
        (out.loss, out.bias, out.rows) = (0.0, 0.0, 0);
        add_rows(self.x, self.y, part.iter().map(|&i| i as usize), w, b, out);
    }
}

/// A CSR matrix in memory with its 0/1 labels, as one chunk: mini-batches then follow one
/// `randperm(n)`, as the dense engine's do.
pub struct SparseRows<'a> {
    x: &'a CsrMatrix,
    y: &'a [f32],
}

impl<'a> SparseRows<'a> {
    /// The rows of `x`, one label each in `y`.
    pub fn new(x: &'a CsrMatrix, y: &'a [f32]) -> Self {
        Self { x, y }
    }
}

impl Batches for SparseRows<'_> {
    fn rows(&self) -> usize {
        self.x.rows()
    }
    fn features(&self) -> usize {
        self.x.cols()
    }
    fn chunks(&self) -> usize {
        1
    }
    fn chunk_len(&self, _: usize) -> usize {
        self.x.rows()
    }
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        Ok(pass(self.x, self.y, w, b))
    }
    fn with_batches(&self, _: usize, f: &mut dyn FnMut(&dyn BatchSums) -> Result<()>) -> Result<()> {
        f(&Chunk { x: self.x, y: self.y })
    }
}

impl Batches for CsrStream {
    fn rows(&self) -> usize {
        CsrStream::rows(self)
    }
    fn features(&self) -> usize {
        self.cols()
    }
    fn chunks(&self) -> usize {
        CsrStream::chunks(self)
    }
    fn chunk_len(&self, i: usize) -> usize {
        CsrStream::chunk_len(self, i)
    }
    /// Chunk by chunk, one read at a time: only one chunk is held.
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        let mut total = Sums::new(self.cols());
        for i in 0..CsrStream::chunks(self) {
            let x = self.chunk(i)?;
            let first = self.chunk_start(i);
            let part = pass(&x, &self.labels()[first..first + x.rows()], w, b);
            total.loss += part.loss;
            total.bias += part.bias;
            total.rows += part.rows;
            total.weight.iter_mut().zip(&part.weight).for_each(|(a, b)| *a += b);
        }
        Ok(total)
    }
    fn with_batches(&self, i: usize, f: &mut dyn FnMut(&dyn BatchSums) -> Result<()>) -> Result<()> {
        let x = self.chunk(i)?;
        let first = self.chunk_start(i);
        f(&Chunk { x: &x, y: &self.labels()[first..first + x.rows()] })
    }
}

/// The probability of class 1 for every row of `x` under `w`, `b`.
pub(crate) fn probabilities(x: &CsrMatrix, w: &[f32], b: f32) -> Vec<f32> {
    let w: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    let mut z = vec![0.0; x.rows()];
    x.mv(&w, &mut z);
    z.iter().map(|&z| crate::solvers::sigmoid(z + f64::from(b)) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_a_dense_brute_force_and_do_not_depend_on_threads() {
        // 20,000 rows (more than one thread's share) of a few non-zeros each.
        let (n, d) = (20_000, 9);
        let (mut indptr, mut indices, mut values, mut y) = (vec![0], vec![], vec![], vec![]);
        for r in 0..n {
            for j in 0..d {
                if (r * 7 + j * 3) % 4 == 0 {
                    indices.push(j as u32);
                    values.push(((r * 31 + j * 17) % 13) as f32 / 6.0 - 1.0);
                }
            }
            indptr.push(indices.len());
            y.push(((r * 5) % 3 == 0) as u8 as f32);
        }
        let x = CsrMatrix::new(n, d, indptr, indices, values).unwrap();
        let w: Vec<f32> = (0..d).map(|j| j as f32 * 0.2 - 0.7).collect();
        let dense = Vec::<f32>::try_from(x.to_dense().unwrap().reshape([-1])).unwrap();
        let mut expected = Sums::new(d);
        for r in 0..n {
            let z: f64 = f64::from(0.3f32) + (0..d).map(|j| f64::from(dense[r * d + j]) * f64::from(w[j])).sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            let t = f64::from(y[r]);
            // −log p for a 1, −log(1 − p) for a 0: ln(1 + e^∓z), without 1 − p's cancellation.
            expected.loss += (1.0 + (if t == 1.0 { -z } else { z }).exp()).ln();
            expected.bias += p - t;
            (0..d).for_each(|j| expected.weight[j] += (p - t) * f64::from(dense[r * d + j]));
        }
        let got = pass(&x, &y, &w, 0.3);
        assert_eq!(got.rows, n);
        assert!((got.loss - expected.loss).abs() < 1e-9 * expected.loss, "{} vs {}", got.loss, expected.loss);
        assert!((got.bias - expected.bias).abs() < 1e-8);
        assert!(got.weight.iter().zip(&expected.weight).all(|(a, b)| (a - b).abs() < 1e-8), "{:?}", got.weight);
        let mut batch = Sums::new(0);
        Chunk { x: &x, y: &y }.sums(&[5, 2, 19_999], &w, 0.3, &mut batch);
        let mut three = Sums::new(d);
        add_rows(&x, &y, [2usize, 5, 19_999].into_iter(), &w, 0.3, &mut three);
        assert_eq!((batch.rows, batch.weight.len()), (3, d));
        assert!((batch.loss - three.loss).abs() < 1e-12 && (batch.bias - three.bias).abs() < 1e-12);
    }
}
