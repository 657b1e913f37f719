//! A sparse matrix in compressed sparse row form (CSR: `indptr`, `indices`, f32 `values`), with an
//! optional compressed sparse column copy (CSC) for solvers that walk X's columns.
//!
//! Within a row the column indices are strictly increasing (no repeats) and below `cols`; values
//! are finite. These invariants are checked once, by [`CsrMatrix::new`].

use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// A column-major copy of a [`CsrMatrix`]: for column j, `rows[ptr[j]..ptr[j+1]]` and `values`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Csc {
    pub(crate) ptr: Vec<usize>,
    pub(crate) rows: Vec<u32>,
    pub(crate) values: Vec<f32>,
}

/// An `rows × cols` sparse matrix in CSR form.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrMatrix {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    csc: Option<Csc>,
}

fn invalid(message: String) -> Error {
    Error::InvalidData { name: "x", message }
}

impl CsrMatrix {
    /// The matrix with `indptr` (`rows + 1` offsets from 0, non-decreasing, ending at the number of
    /// non-zeros), `indices` (strictly increasing within a row, below `cols`) and finite `values`.
    pub fn new(rows: usize, cols: usize, indptr: Vec<usize>, indices: Vec<u32>, values: Vec<f32>) -> Result<Self> {
        if indptr.len() != rows.checked_add(1).ok_or_else(|| invalid("too many rows".into()))? {
            return Err(invalid(format!("indptr has {} entries, {rows} rows need {}", indptr.len(), rows + 1)));
        }
        if indices.len() != values.len() {
            return Err(invalid(format!("{} indices but {} values", indices.len(), values.len())));
        }
        if indptr[0] != 0 || indptr[rows] != indices.len() {
            return Err(invalid(format!(
                "indptr runs from {} to {}, not from 0 to the {} non-zeros",
                indptr[0],
                indptr[rows],
                indices.len()
            )));
        }
        if u32::try_from(cols).is_err() {
            return Err(invalid(format!("{cols} columns (at most {} are held)", u32::MAX)));
        }
        // Monotone first: then every offset lies within the arrays and the rows can be sliced.
        if let Some(r) = indptr.windows(2).position(|w| w[0] > w[1]) {
            return Err(invalid(format!("indptr decreases at row {r} ({} then {})", indptr[r], indptr[r + 1])));
        }
        for r in 0..rows {
            let (a, b) = (indptr[r], indptr[r + 1]);
            let row = &indices[a..b];
            if let Some(&j) = row.iter().find(|&&j| j as usize >= cols) {
                return Err(invalid(format!("row {r}: column index {j} is not below the {cols} columns")));
            }
            if let Some(k) = row.windows(2).position(|w| w[1] <= w[0]) {
                let what = if row[k + 1] == row[k] { "repeated" } else { "not increasing" };
                return Err(invalid(format!("row {r}: column indices {what} ({} then {})", row[k], row[k + 1])));
            }
            if let Some(v) = values[a..b].iter().find(|v| !v.is_finite()) {
                return Err(invalid(format!("row {r}: value {v} is not finite")));
            }
        }
        Ok(Self { rows, cols, indptr, indices, values, csc: None })
    }

    /// The non-zeros of a dense `[n, d]` tensor (any float kind, any device), as f32.
    pub fn from_dense(x: &Tensor) -> Result<Self> {
        let (n, d) = x.size2()?;
        let values = Vec::<f32>::try_from(x.f_to_kind(Kind::Float)?.f_to_device(tch::Device::Cpu)?.f_reshape([-1])?)?;
        let (n, d) = (n as usize, d as usize);
        let (mut indptr, mut indices, mut nz) = (Vec::with_capacity(n + 1), vec![], vec![]);
        indptr.push(0);
        for r in 0..n {
            for (j, &v) in values[r * d..(r + 1) * d].iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    nz.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Self::new(n, d, indptr, indices, nz)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row offsets into [`Self::indices`] and [`Self::values`], `rows + 1` of them.
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column index of each stored value.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The stored values.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The same matrix seen as `cols` columns (more than it has: a model's width); fewer than the
    /// largest index needs is an error naming it.
    pub fn with_cols(mut self, cols: usize) -> Result<Self> {
        let needed = self.indices.iter().max().map_or(0, |&j| j as usize + 1);
        if cols < needed {
            return Err(invalid(format!(
                "feature index {} is not below the {cols} features expected (--n-features, or the model's width)",
                needed - 1
            )));
        }
        self.cols = cols;
        self.csc = None;
        Ok(self)
    }

    /// The rows `keep` (each below `rows`, any order, repeats allowed), as a new matrix.
    pub fn select_rows(&self, keep: &[usize]) -> Result<Self> {
        let (mut indptr, mut indices, mut values) = (Vec::with_capacity(keep.len() + 1), vec![], vec![]);
        indptr.push(0);
        for &r in keep {
            if r >= self.rows {
                return Err(invalid(format!("row {r} is not below the {} rows", self.rows)));
            }
            let (a, b) = (self.indptr[r], self.indptr[r + 1]);
            indices.extend_from_slice(&self.indices[a..b]);
            values.extend_from_slice(&self.values[a..b]);
            indptr.push(indices.len());
        }
        Ok(Self { rows: keep.len(), cols: self.cols, indptr, indices, values, csc: None })
    }

    /// Builds the CSC copy (once): for solvers that walk columns.
    pub fn ensure_columns(&mut self) {
        if self.csc.is_some() {
            return;
        }
        let mut ptr = vec![0usize; self.cols + 1];
        for &j in &self.indices {
            ptr[j as usize + 1] += 1;
        }
        for j in 0..self.cols {
            ptr[j + 1] += ptr[j];
        }
        let mut next = ptr.clone();
        let mut rows = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                let j = self.indices[k] as usize;
                rows[next[j]] = r as u32;
                values[next[j]] = self.values[k];
                next[j] += 1;
            }
        }
        self.csc = Some(Csc { ptr, rows, values });
    }

    /// The CSC copy, when [`Self::ensure_columns`] built it.
    pub(crate) fn columns(&self) -> Option<&Csc> {
        self.csc.as_ref()
    }

    /// `out = X·w` (`w` of length `cols`, `out` of length `rows`).
    pub fn mv(&self, w: &[f64], out: &mut [f64]) {
        for (r, o) in out.iter_mut().enumerate() {
            let (a, b) = (self.indptr[r], self.indptr[r + 1]);
            *o = self.indices[a..b].iter().zip(&self.values[a..b]).map(|(&j, &v)| v as f64 * w[j as usize]).sum();
        }
    }

    /// `out = Xᵀ·r` (`r` of length `rows`, `out` of length `cols`): by columns when the CSC copy
    /// exists (each output written once), else scattered row by row.
    pub fn tmv(&self, r: &[f64], out: &mut [f64]) {
        if let Some(c) = &self.csc {
            for (j, o) in out.iter_mut().enumerate() {
                let (a, b) = (c.ptr[j], c.ptr[j + 1]);
                *o = c.rows[a..b].iter().zip(&c.values[a..b]).map(|(&i, &v)| v as f64 * r[i as usize]).sum();
            }
            return;
        }
        out.fill(0.0);
        for (i, &ri) in r.iter().enumerate() {
            if ri == 0.0 {
                continue;
            }
            for k in self.indptr[i]..self.indptr[i + 1] {
                out[self.indices[k] as usize] += self.values[k] as f64 * ri;
            }
        }
    }

    /// The dense `[rows, cols]` f32 tensor, refused when its size overflows.
    pub fn to_dense(&self) -> Result<Tensor> {
        let size = self.rows.checked_mul(self.cols).filter(|&s| s <= isize::MAX as usize / 4);
        let size = size.ok_or_else(|| invalid(format!("{} × {} is too large to hold dense", self.rows, self.cols)))?;
        let mut dense = vec![0f32; size];
        for r in 0..self.rows {
            for k in self.indptr[r]..self.indptr[r + 1] {
                dense[r * self.cols + self.indices[k] as usize] = self.values[k];
            }
        }
        Ok(Tensor::f_from_slice(&dense)?.f_reshape([self.rows as i64, self.cols as i64])?)
    }

    /// Bytes held by the CSR arrays (not the CSC copy).
    pub fn csr_bytes(&self) -> usize {
        self.indptr.len() * 8 + self.indices.len() * 4 + self.values.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CsrMatrix {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 0]]
        CsrMatrix::new(3, 3, vec![0, 2, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap()
    }

    #[test]
    fn products_match_the_dense_matrix_with_and_without_columns() {
        let mut m = small();
        let mut out = vec![0.0; 3];
        m.mv(&[1.0, 10.0, 100.0], &mut out);
        assert_eq!(out, [201.0, 0.0, 30.0]);
        m.tmv(&[1.0, 5.0, 2.0], &mut out);
        assert_eq!(out, [1.0, 6.0, 2.0]);
        m.ensure_columns();
        let c = m.columns().unwrap();
        assert_eq!(
            (c.ptr.clone(), c.rows.clone(), c.values.clone()),
            (vec![0, 1, 2, 3], vec![0, 2, 0], vec![1.0, 3.0, 2.0])
        );
        m.tmv(&[1.0, 5.0, 2.0], &mut out);
        assert_eq!(out, [1.0, 6.0, 2.0]);
        let dense = Vec::<f32>::try_from(m.to_dense().unwrap().reshape([-1])).unwrap();
        assert_eq!(dense, [1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0]);
        assert_eq!(CsrMatrix::from_dense(&m.to_dense().unwrap()).unwrap(), small());
    }

    #[test]
    fn broken_structure_is_named() {
        let cases = [
            (CsrMatrix::new(2, 3, vec![0, 2, 1], vec![0, 1], vec![1.0, 1.0]), "indptr runs from 0 to 1"),
            (CsrMatrix::new(2, 3, vec![0, 2, 1, 2], vec![0, 1], vec![1.0, 1.0]), "indptr has 4 entries"),
            (CsrMatrix::new(2, 3, vec![0, 2, 1], vec![0, 1, 2], vec![1.0; 3]), "not from 0 to the 3"),
            (CsrMatrix::new(3, 3, vec![0, 3, 2, 3], vec![0, 1, 2], vec![1.0; 3]), "indptr decreases at row 1"),
            // An offset past the arrays before a decrease: refused, not sliced.
            (
                CsrMatrix::new(3, 3, vec![0, 5, 2, 3], vec![0, 1, 2], vec![1.0; 3]),
                "indptr decreases at row 1 (5 then 2)",
            ),
            (CsrMatrix::new(1, 3, vec![0, 2], vec![1, 1], vec![1.0; 2]), "repeated (1 then 1)"),
            (CsrMatrix::new(1, 3, vec![0, 2], vec![2, 1], vec![1.0; 2]), "not increasing (2 then 1)"),
            (CsrMatrix::new(1, 3, vec![0, 1], vec![3], vec![1.0]), "column index 3 is not below the 3"),
            (CsrMatrix::new(1, 3, vec![0, 1], vec![0], vec![f32::NAN]), "value NaN is not finite"),
        ];
        for (result, expected) in cases {
            let e = result.unwrap_err().to_string();
            assert!(e.contains(expected), "{e} lacks {expected}");
        }
        let picked = small().select_rows(&[2, 0, 2]).unwrap();
        let dense = Vec::<f32>::try_from(picked.to_dense().unwrap().reshape([-1])).unwrap();
        assert_eq!(dense, [0.0, 3.0, 0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0]);
        assert!(small().select_rows(&[3]).unwrap_err().to_string().contains("row 3 is not below the 3 rows"));
        let e = small().with_cols(2).unwrap_err().to_string();
        assert!(
            e.contains("feature index 2 is not below the 2 features expected (--n-features, or the model's width)"),
            "{e}"
        );
        assert_eq!(small().with_cols(5).unwrap().cols(), 5);
    }
}
