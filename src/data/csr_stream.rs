//! A binary CSR file (`.lrcsr`, [`crate::data::csr_file`]) read chunk by chunk of rows, for
//! `train --stream`: only the labels (4 bytes a row) stay in memory; each chunk's row offsets,
//! column indices and values are read (positioned reads, no map: a file cut short while it is
//! read is an error, not a bus fault) and validated when used, then dropped.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::csr_file::{bad, header, HEADER};
use crate::data::source::CHUNK_BYTES;
use crate::data::sparse::CsrMatrix;
use crate::error::{Error, Result};

/// An open `.lrcsr` file served in chunks of rows.
pub struct CsrStream {
    file: File,
    name: String,
    rows: usize,
    cols: usize,
    nnz: usize,
    /// The file's length when opened: any other length later is a file changed under us.
    len: u64,
    chunk_rows: usize,
    labels: Vec<f32>,
    /// The most CSR bytes one chunk has held, for tests of the memory bound.
    largest_chunk: AtomicUsize,
}

impl CsrStream {
    /// Opens `path`, checks its header and size and reads its labels (0 or 1). `chunk_rows`
    /// defaults to about 32 MiB of rows at the file's mean row length; `n_features` widens the
    /// matrix (a file wider than it is refused).
    pub fn open(path: &Path, chunk_rows: Option<usize>, n_features: Option<usize>) -> Result<Self> {
        let name = path.display().to_string();
        let io = |error| Error::Io { path: path.into(), error };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(bad(&name, "not a regular file: a .lrcsr file is read at offsets (a pipe cannot be)".into()));
        }
        let len = meta.len();
        let mut head = vec![0u8; HEADER.min(len as usize)];
        file.read_exact_at(&mut head, 0).map_err(io)?;
        let (rows, cols, nnz) = header(&name, &head, len)?;

        let cols = match n_features {
            Some(width) if width < cols => {
                return Err(bad(&name, format!("{cols} features, more than the {width} of --n-features")));
            }
            Some(width) => width,
            None => cols,
        };
        let mut raw = vec![0u8; 4 * rows];
        file.read_exact_at(&mut raw, HEADER as u64).map_err(io)?;
        let labels: Vec<f32> =
            raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        if let Some(r) = labels.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(bad(&name, format!("labels: row {r} has {}, not 0 or 1", labels[r])));
        }
        // Bytes a row: its label, offset and mean share of the non-zeros.
        let row_bytes = 12 + (8 * nnz).div_ceil(rows.max(1));
        let chunk_rows = chunk_rows.unwrap_or(CHUNK_BYTES / row_bytes).clamp(1, rows.max(1));
        Ok(Self { file, name, rows, cols, nnz, len, chunk_rows, labels, largest_chunk: AtomicUsize::new(0) })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Features (columns).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.nnz
    }

    /// The file, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One 0/1 label per row.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// Number of chunks (one for a file of no rows).
    pub fn chunks(&self) -> usize {
        self.rows.div_ceil(self.chunk_rows).max(1)
    }

    /// Rows in chunk `i`.
    pub fn chunk_len(&self, i: usize) -> usize {
        self.chunk_rows.min(self.rows - i * self.chunk_rows)
    }

    /// The first row of chunk `i`.
    pub fn chunk_start(&self, i: usize) -> usize {
        i * self.chunk_rows
    }

    /// The most bytes of CSR arrays one chunk has held so far.
    pub fn largest_chunk_bytes(&self) -> usize {
        self.largest_chunk.load(Ordering::Relaxed)
    }

    /// Reads `buf.len()` bytes at `at`, or says the file changed since it was opened.
    fn read_at(&self, buf: &mut [u8], at: u64) -> Result<()> {
        let now = self.file.metadata().map_err(|error| Error::Io { path: self.name.clone().into(), error })?.len();
        let shrank = |now: u64| {
            bad(&self.name, format!("the file changed to {now} bytes while it was read (it had {})", self.len))
        };
        if now != self.len {
            return Err(shrank(now));
        }
        self.file.read_exact_at(buf, at).map_err(|error| match error.kind() {
            std::io::ErrorKind::UnexpectedEof => shrank(self.file.metadata().map_or(0, |m| m.len())),
            _ => Error::Io { path: self.name.clone().into(), error },
        })
    }

    /// Chunk `i`'s rows as a matrix `chunk_len(i) × cols`, validated as [`CsrMatrix::new`] does
    /// (its messages name rows within the chunk, which this one places in the file).
    pub fn chunk(&self, i: usize) -> Result<CsrMatrix> {
        let (first, len) = (self.chunk_start(i), self.chunk_len(i));
        let indptr_at = (HEADER + 4 * self.rows + 8 * first) as u64;
        // Read straight into the typed arrays (no second copy of the chunk), then from
        // little-endian in place (nothing to do on a little-endian machine).
        let mut offsets = vec![0u64; len + 1];
        self.read_at(bytemuck::cast_slice_mut(&mut offsets), indptr_at)?;
        offsets.iter_mut().for_each(|o| *o = u64::from_le(*o));
        let (start, end) = (offsets[0], offsets[len]);
        let last = first + len == self.rows;
        if (first == 0 && start != 0) || (last && end != self.nnz as u64) {
            return Err(bad(
                &self.name,
                format!("indptr runs from {start} to {end} in rows {first} to {}", first + len),
            ));
        }
        // Non-decreasing and within the non-zeros: then the chunk's slice of each array is known
        // before anything is allocated for it.
        if let Some(r) = offsets.windows(2).position(|w| w[0] > w[1]) {
            let r = first + r;
            return Err(bad(
                &self.name,
                format!("indptr decreases at row {r} ({} then {})", offsets[r - first], offsets[r - first + 1]),
            ));
        }
        if end > self.nnz as u64 {
            return Err(bad(
                &self.name,
                format!("indptr reaches {end} at row {}, past the {} non-zeros", first + len, self.nnz),
            ));
        }
        let (start, count) = (start as usize, (end - start) as usize);
        let indices_at = (HEADER + 12 * self.rows + 8) as u64 + 4 * start as u64;
        let values_at = (HEADER + 12 * self.rows + 8 + 4 * self.nnz) as u64 + 4 * start as u64;
        let mut indices = vec![0u32; count];
        self.read_at(bytemuck::cast_slice_mut(&mut indices), indices_at)?;
        indices.iter_mut().for_each(|j| *j = u32::from_le(*j));
        let mut values = vec![0u32; count];
        self.read_at(bytemuck::cast_slice_mut(&mut values), values_at)?;
        let values: Vec<f32> = values.into_iter().map(|v| f32::from_bits(u32::from_le(v))).collect();
        let indptr = offsets.iter().map(|&o| (o - start as u64) as usize).collect();
        let x = CsrMatrix::new(len, self.cols, indptr, indices, values).map_err(|e| match e {
            // Row numbers within the whole file need no placing.
            Error::InvalidData { message, .. } if len == self.rows => bad(&self.name, message),
            Error::InvalidData { message, .. } => {
                bad(&self.name, format!("in the chunk of rows {first} to {}: {message}", first + len - 1))
            }
            e => e,
        })?;
        self.largest_chunk.fetch_max(x.csr_bytes(), Ordering::Relaxed);
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::csr_file::to_bytes;
    use crate::data::libsvm::SparseData;

    /// `rows` rows, row r holding columns r % 7 and 7 + r % 5 (values r and −1), label r % 2.
    fn data(rows: usize) -> SparseData {
        let (mut indptr, mut indices, mut values) = (vec![0], vec![], vec![]);
        for r in 0..rows {
            indices.extend([(r % 7) as u32, (7 + r % 5) as u32]);
            values.extend([r as f32, -1.0]);
            indptr.push(indices.len());
        }
        let x = CsrMatrix::new(rows, 12, indptr, indices, values).unwrap();
        SparseData { source: "s".into(), x, labels: (0..rows).map(|r| (r % 2) as f32).collect() }
    }

    #[test]
    fn chunks_join_to_the_whole_file_and_hold_only_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.lrcsr");
        let whole = data(103);
        std::fs::write(&path, to_bytes(&whole)).unwrap();
        let stream = CsrStream::open(&path, Some(10), None).unwrap();
        assert_eq!((stream.rows(), stream.cols(), stream.nnz(), stream.chunks()), (103, 12, 206, 11));
        assert_eq!(stream.labels(), &whole.labels[..]);
        for i in 0..stream.chunks() {
            let rows: Vec<usize> = (stream.chunk_start(i)..stream.chunk_start(i) + stream.chunk_len(i)).collect();
            assert_eq!(stream.chunk(i).unwrap(), whole.x.select_rows(&rows).unwrap());
        }
        // 10 rows: 11 offsets, 20 indices, 20 values.
        assert_eq!(stream.largest_chunk_bytes(), 11 * 8 + 20 * 4 + 20 * 4);
        assert_eq!(CsrStream::open(&path, Some(10), Some(20)).unwrap().chunk(0).unwrap().cols(), 20);
        let e = CsrStream::open(&path, None, Some(5)).err().unwrap().to_string();
        assert!(e.contains("12 features, more than the 5 of --n-features"), "{e}");
    }

    #[test]
    fn damage_found_in_a_chunk_or_a_file_cut_while_read_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.lrcsr");
        let good = to_bytes(&data(30));
        let rows = 30;
        let indptr_at = HEADER + 4 * rows;
        let indices_at = HEADER + 12 * rows + 8;
        let with = |at: usize, patch: &[u8]| {
            let mut b = good.clone();
            b[at..at + patch.len()].copy_from_slice(patch);
            b
        };
        let cases: Vec<(Vec<u8>, usize, &str)> = vec![
            // indptr[12] raised past indptr[13]: found in the chunk of rows 10 to 19.
            (with(indptr_at + 8 * 12, &100u64.to_le_bytes()), 1, "indptr decreases at row 12 (100 then 26)"),
            (with(indptr_at + 8 * 30, &61u64.to_le_bytes()), 2, "indptr runs from 40 to 61 in rows 20 to 30"),
            (
                with(indices_at + 4 * 22, &40u32.to_le_bytes()),
                1,
                "in the chunk of rows 10 to 19: row 1: column index 40",
            ),
            (with(indices_at + 4 * 60 + 4 * 3, &f32::NAN.to_le_bytes()), 0, "row 1: value NaN is not finite"),
        ];
        for (bytes, chunk, expected) in cases {
            std::fs::write(&path, &bytes).unwrap();
            let stream = CsrStream::open(&path, Some(10), None).unwrap();
            let e = stream.chunk(chunk).unwrap_err().to_string();
            assert!(e.contains("d.lrcsr: ") && e.contains(expected) && !e.contains('\n'), "{e} lacks {expected}");
        }
        std::fs::write(&path, &good).unwrap();
        let stream = CsrStream::open(&path, Some(10), None).unwrap();
        stream.chunk(2).unwrap();
        std::fs::write(&path, &good[..good.len() - 50]).unwrap();
        let e = stream.chunk(2).unwrap_err().to_string();
        assert!(
            e.contains(&format!("changed to {} bytes while it was read (it had {})", good.len() - 50, good.len())),
            "{e}"
        );
        std::fs::write(&path, with(HEADER + 4, &0.5f32.to_le_bytes())).unwrap();
        let e = CsrStream::open(&path, None, None).err().unwrap().to_string();
        assert!(e.contains("labels: row 1 has 0.5"), "{e}");
    }
}
