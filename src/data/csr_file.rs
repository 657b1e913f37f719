//! logreg's binary CSR file (`.lrcsr`), which `convert` writes from libsvm text or a `.npz`: the
//! labels and the CSR arrays as they lie in memory, so reading is a copy and a row range is one
//! contiguous slice of each array. All integers little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `LRCSR\0\0\x01` (the last byte is the version) |
//! | 8 | rows (u64) |
//! | 8 | features (u64, below 2³²) |
//! | 8 | nnz, the stored non-zeros (u64) |
//! | 4·rows | labels, f32 0 or 1 |
//! | 8·(rows + 1) | indptr, u64, from 0 non-decreasing to nnz |
//! | 4·nnz | column indices, u32, strictly increasing within a row, below features |
//! | 4·nnz | values, finite f32 |
//!
//! A reader computes the file's size from the header with checked arithmetic and refuses any
//! other size before allocating; every array is then validated as [`CsrMatrix::new`] does.

use std::path::Path;

use crate::data::libsvm::SparseData;
use crate::data::sparse::CsrMatrix;
use crate::error::{Error, Result};

/// The first 8 bytes.
pub const MAGIC: [u8; 8] = *b"LRCSR\0\0\x01";

/// Header bytes: the magic and three u64.
pub(crate) const HEADER: usize = 32;

pub(crate) fn bad(file: &str, message: String) -> Error {
    Error::Input { location: file.to_string(), message }
}

/// Whether `path` names a binary CSR file (by its extension).
pub fn is_csr_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("lrcsr"))
}

/// The file's bytes for `data`.
pub fn to_bytes(data: &SparseData) -> Vec<u8> {
    let x = &data.x;
    let mut out = Vec::with_capacity(HEADER + 4 * x.rows() + 8 * (x.rows() + 1) + 8 * x.nnz());
    out.extend_from_slice(&MAGIC);
    for v in [x.rows(), x.cols(), x.nnz()] {
        out.extend_from_slice(&(v as u64).to_le_bytes());
    }
    data.labels.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    x.indptr().iter().for_each(|&v| out.extend_from_slice(&(v as u64).to_le_bytes()));
    x.indices().iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    x.values().iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out
}

/// The section sizes the header promises: (rows, features, nnz), or what is wrong.
fn layout(file: &str, bytes: &[u8]) -> Result<(usize, usize, usize)> {
    header(file, &bytes[..bytes.len().min(HEADER)], bytes.len() as u64)
}

/// [`layout`] from the file's first bytes (`head`, 32 of them unless the file is shorter) and its
/// length `len`.
pub(crate) fn header(file: &str, bytes: &[u8], len: u64) -> Result<(usize, usize, usize)> {
    if bytes.len() < HEADER {
        return Err(bad(file, format!("{} bytes, shorter than the 32-byte header", bytes.len())));
    }
    if bytes[..8] != MAGIC {
        return Err(bad(file, "not a logreg binary CSR file (bad magic; `logreg convert` writes them)".into()));
    }
    let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let (rows, cols, nnz) = (field(8), field(16), field(24));
    if cols > u64::from(u32::MAX) {
        return Err(bad(file, format!("header: {cols} features (at most {} are held)", u32::MAX)));
    }
    if cols == 0 {
        return Err(bad(file, "header: 0 features (a model needs at least one column)".into()));
    }
    // 32 + 4·rows + 8·(rows + 1) + 8·nnz, each step checked.
    let size = rows
        .checked_mul(12)
        .and_then(|s| s.checked_add(8 + HEADER as u64))
        .and_then(|s| nnz.checked_mul(8).and_then(|t| s.checked_add(t)));
    match size {
        Some(size) if size == len => Ok((rows as usize, cols as usize, nnz as usize)),
        Some(size) => Err(bad(
            file,
            format!(
                "header: {rows} rows and {nnz} non-zeros need {size} bytes, the file has {len} (truncated or damaged)"
            ),
        )),
        None => Err(bad(file, format!("header: {rows} rows and {nnz} non-zeros overflow a file size"))),
    }
}

/// Parses a file's `bytes` (`file` names it in errors); `n_features` widens it (an index at or
/// beyond it is an error).
pub fn parse(file: &str, bytes: &[u8], n_features: Option<usize>) -> Result<SparseData> {
    let (rows, cols, nnz) = layout(file, bytes)?;
    let mut at = HEADER;
    let mut take = |len: usize| {
        let slice = &bytes[at..at + len];
        at += len;
        slice
    };
    let labels: Vec<f32> = take(4 * rows).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    if let Some(r) = labels.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(bad(file, format!("labels: row {r} has {}, not 0 or 1", labels[r])));
    }
    let indptr = take(8 * (rows + 1))
        .chunks_exact(8)
        .map(|c| usize::try_from(u64::from_le_bytes(c.try_into().unwrap())))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| bad(file, "indptr: an offset beyond this machine's addresses".into()))?;
    let indices: Vec<u32> = take(4 * nnz).chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    let values: Vec<f32> = take(4 * nnz).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let x = CsrMatrix::new(rows, cols, indptr, indices, values).map_err(|e| match e {
        Error::InvalidData { message, .. } => bad(file, message),
        e => e,
    })?;
    let x = widened(file, x, n_features)?;
    Ok(SparseData { source: file.to_string(), x, labels })
}

/// `x` seen as `n_features` columns when given: more than it has, or fewer when its largest index
/// still fits (an index at or beyond it is an error).
fn widened(file: &str, x: CsrMatrix, n_features: Option<usize>) -> Result<CsrMatrix> {
    let (rows, cols) = (x.rows(), x.cols());
    Ok(match n_features {
        Some(width) if width >= cols => x.with_cols(width)?,
        Some(width) => {
            let needed = x.indices().iter().max().map_or(0, |&j| j as usize + 1);
            if needed > width {
                return Err(bad(file, format!("feature index {} is beyond the {width} features expected", needed)));
            }
            CsrMatrix::new(rows, width, x.indptr().to_vec(), x.indices().to_vec(), x.values().to_vec())
                .map_err(|e| bad(file, e.to_string()))?
        }
        None => x,
    })
}

/// Reads the file at `path`: its arrays straight from the file as one chunk of
/// [`crate::data::csr_stream::CsrStream`] (the file's bytes are never held beside them).
pub fn read_file(path: &Path, n_features: Option<usize>) -> Result<SparseData> {
    let stream = crate::data::csr_stream::CsrStream::open(path, Some(usize::MAX), None)?;
    let x = widened(stream.name(), stream.chunk(0)?, n_features)?;
    Ok(SparseData { source: stream.name().to_string(), x, labels: stream.labels().to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SparseData {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 0]], labels 1, 0, 1.
        let x = CsrMatrix::new(3, 3, vec![0, 2, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap();
        SparseData { source: "s".into(), x, labels: vec![1.0, 0.0, 1.0] }
    }

    #[test]
    fn the_layout_is_the_documented_one_and_reads_back() {
        let bytes = to_bytes(&sample());
        assert_eq!(bytes.len(), 32 + 4 * 3 + 8 * 4 + 8 * 3);
        assert_eq!(&bytes[..8], b"LRCSR\0\0\x01");
        assert_eq!(bytes[8..16], 3u64.to_le_bytes());
        assert_eq!(bytes[44..52], 0u64.to_le_bytes(), "indptr[0]");
        assert_eq!(bytes[68..76], 3u64.to_le_bytes(), "indptr[3]");
        assert_eq!(bytes[76..80], 0u32.to_le_bytes(), "the first column index");
        assert_eq!(bytes[88..92], 1.0f32.to_le_bytes(), "the first value");
        let back = parse("s", &bytes, None).unwrap();
        assert_eq!((back.x, back.labels), (sample().x, sample().labels));
        assert_eq!(parse("s", &bytes, Some(7)).unwrap().x.cols(), 7);
        let e = parse("s", &bytes, Some(2)).unwrap_err().to_string();
        assert!(e.contains("s: feature index 3 is beyond the 2 features expected"), "{e}");
    }

    #[test]
    fn hostile_files_are_one_line_errors() {
        let good = to_bytes(&sample());
        let with = |at: usize, patch: &[u8]| {
            let mut b = good.clone();
            b[at..at + patch.len()].copy_from_slice(patch);
            b
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..20].to_vec(), "20 bytes, shorter than the 32-byte header"),
            (good[..good.len() - 1].to_vec(), "need 100 bytes, the file has 99 (truncated"),
            ([&good[..], &[0]].concat(), "the file has 101"),
            (with(0, b"PK"), "bad magic"),
            (with(8, &u64::MAX.to_le_bytes()), "overflow a file size"),
            (with(8, &4u64.to_le_bytes()), "4 rows and 3 non-zeros need 112 bytes"),
            (with(16, &(1u64 << 40).to_le_bytes()), "1099511627776 features"),
            (with(36, &0.5f32.to_le_bytes()), "labels: row 1 has 0.5"),
            (with(52, &5u64.to_le_bytes()), "indptr decreases at row 1 (5 then 2)"),
            (with(76, &9u32.to_le_bytes()), "row 0: column index 9 is not below the 3 columns"),
            (with(76, &2u32.to_le_bytes()), "row 0: column indices repeated (2 then 2)"),
            (with(92, &f32::NAN.to_le_bytes()), "row 0: value NaN is not finite"),
        ];
        for (bytes, expected) in cases {
            let e = parse("f.lrcsr", &bytes, None).unwrap_err().to_string();
            assert!(e.contains("f.lrcsr: ") && e.contains(expected) && !e.contains('\n'), "{e} lacks {expected}");
        }
    }

    proptest! {
        /// Any CSR matrix reads back as written; any truncation or one flipped byte is an error or
        /// a valid matrix, never a panic.
        #[test]
        fn round_trips_and_damage_never_panics(
            rows in prop::collection::vec(prop::collection::btree_map(0u32..20, -5.0f32..5.0, 0..6), 0..8),
            labels_seed in any::<u64>(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut indptr = vec![0];
            let (mut indices, mut values) = (vec![], vec![]);
            for row in &rows {
                indices.extend(row.keys());
                values.extend(row.values());
                indptr.push(indices.len());
            }
            let x = CsrMatrix::new(rows.len(), 20, indptr, indices, values).unwrap();
            let labels = (0..rows.len()).map(|i| ((labels_seed >> (i % 64)) & 1) as f32).collect();
            let data = SparseData { source: "p".into(), x, labels };
            let bytes = to_bytes(&data);
            let back = parse("p", &bytes, None).unwrap();
            prop_assert_eq!(&back.x, &data.x);
            prop_assert_eq!(&back.labels, &data.labels);
            prop_assert!(parse("p", &bytes[..cut.index(bytes.len())], None).is_err());
            let mut damaged = bytes.clone();
            damaged[flip.index(bytes.len())] = byte;
            let _ = parse("p", &damaged, None);
        }
    }
}
