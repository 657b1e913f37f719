//! One process's rows of a data-parallel run: its own `.npy` file (`part-{rank}.npy`, the
//! placeholder replaced by its rank) or its row range of one `.npy` file, read by seeking to the
//! range (never the whole file).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::data::npy::{self, bad, Header};
use crate::data::table::Table;
use crate::error::{Error, Result};

/// The placeholder a per-rank file name holds.
pub const RANK_PLACEHOLDER: &str = "{rank}";

/// `template` with `{rank}` replaced by `rank`, or `None` when it holds no placeholder (one file
/// shared by every rank).
pub fn rank_path(template: &Path, rank: usize) -> Option<PathBuf> {
    let text = template.to_str()?;
    text.contains(RANK_PLACEHOLDER).then(|| PathBuf::from(text.replace(RANK_PLACEHOLDER, &rank.to_string())))
}

/// Rank `rank`'s rows of `n` split over `size` ranks: [rank·n/size, (rank+1)·n/size).
pub fn row_range(n: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let at = |r: usize| (r as u128 * n as u128 / size.max(1) as u128) as usize;
    at(rank)..at(rank + 1)
}

/// A shard: the rows this rank read, and where they start in the whole when one file is shared
/// (`None` for a file of its own: the ranks' row counts place it).
pub struct Shard {
    /// The rows, features named `x0 … x{d−1}` and labels 0/1.
    pub table: Table,
    /// The first row's index in the shared file.
    pub first_row: Option<usize>,
}

/// Reads rank `rank`'s rows of `x` with labels from `y`: each its own file when the names hold
/// `{rank}` (both must, or neither), else the rank's row range of the shared files.
pub fn read(x: &Path, y: &Path, rank: usize, size: usize) -> Result<Shard> {
    match (rank_path(x, rank), rank_path(y, rank)) {
        (Some(x), Some(y)) => Ok(Shard { table: npy::read_table(&x, Some(&y))?, first_row: None }),
        (None, None) => read_range(x, y, rank, size),
        _ => Err(Error::InvalidSetting {
            name: "labels",
            value: y.display().to_string(),
            expected: "{rank} in both --data and --labels, or in neither",
        }),
    }
}

/// An open `.npy` file and its header, its length checked against the header.
fn open(path: &Path) -> Result<(File, String, Header)> {
    let name = path.display().to_string();
    let io = |error| Error::Io { path: path.to_path_buf(), error };
    let mut file = File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(4096);
    (&mut file).take(1 << 20).read_to_end(&mut head).map_err(io)?;
    let header = npy::parse_header(&name, &head)?;
    let len = file.metadata().map_err(io)?.len();
    let expected = (header.data_offset as u64).saturating_add(header.data_bytes as u64);
    if len != expected {
        let (shape, descr) = (&header.shape, &header.descr);
        return Err(bad(&name, format!("file is {len} bytes, shape {shape:?} of `{descr}` needs {expected}")));
    }
    Ok((file, name, header))
}

/// Rows `rows` of an open file whose rows hold `width` values each, decoded one by one.
fn read_rows(
    (file, name, header): &mut (File, String, Header),
    rows: std::ops::Range<usize>,
    width: usize,
    mut each: impl FnMut(usize, f64) -> Result<()>,
) -> Result<()> {
    let (size, decode) = npy::decoder(name, &header.descr)?;
    // Sizes within data_bytes, which parse_header computed with checked arithmetic.
    let row_bytes = size * width;
    let start = header.data_offset as u64 + (rows.start * row_bytes) as u64;
    let io = |error| Error::Io { path: PathBuf::from(name.as_str()), error };
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut bytes = vec![0u8; rows.len() * row_bytes];
    file.read_exact(&mut bytes).map_err(io)?;
    for (i, v) in bytes.chunks_exact(size).enumerate() {
        each(rows.start * width + i, decode(v))?;
    }
    Ok(())
}

fn read_range(x: &Path, y: &Path, rank: usize, size: usize) -> Result<Shard> {
    let mut xf = open(x)?;
    let [n, d] = xf.2.shape[..] else {
        return Err(bad(&xf.1, format!("features must be a 2-D array (rows, columns), found shape {:?}", xf.2.shape)));
    };
    let rows = row_range(n, rank, size);
    if rows.is_empty() || d == 0 {
        return Err(bad(&xf.1, format!("shape {:?} leaves no rows for rank {rank} of {size}", xf.2.shape)));
    }
    let mut yf = open(y)?;
    if !(yf.2.shape == [n] || yf.2.shape == [n, 1]) {
        let (name, shape) = (&yf.1, &yf.2.shape);
        return Err(bad(name, format!("labels must have shape ({n},) or ({n}, 1) to match {}, found {shape:?}", xf.1)));
    }
    let mut features = Vec::with_capacity(rows.len() * d);
    let x_name = xf.1.clone();
    read_rows(&mut xf, rows.clone(), d, |i, v| {
        features.push(npy::feature(&x_name, i, d, v)?);
        Ok(())
    })?;
    let mut labels = Vec::with_capacity(rows.len());
    let y_name = yf.1.clone();
    read_rows(&mut yf, rows.clone(), 1, |i, v| {
        labels.push(npy::label(&y_name, i, v)?);
        Ok(())
    })?;
    let table =
        Table { source: x_name, feature_names: npy::feature_names(d), label_name: Some("y".into()), features, labels };
    Ok(Shard { table, first_row: Some(rows.start) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::npy_bytes;
    use proptest::prelude::*;

    proptest! {
        /// The ranges tile 0..n in order, sizes differing by at most one.
        #[test]
        fn row_ranges_tile_the_rows(n in 0usize..10_000, size in 1usize..64) {
            let ranges: Vec<_> = (0..size).map(|r| row_range(n, r, size)).collect();
            prop_assert_eq!(ranges[0].start, 0);
            prop_assert_eq!(ranges[size - 1].end, n);
            for w in ranges.windows(2) {
                prop_assert_eq!(w[0].end, w[1].start);
            }
            let (lo, hi) = (n / size, n.div_ceil(size));
            prop_assert!(ranges.iter().all(|r| (lo..=hi).contains(&r.len())));
        }
    }

    #[test]
    fn placeholders_become_ranks() {
        assert_eq!(rank_path(Path::new("d/part-{rank}.npy"), 3), Some(PathBuf::from("d/part-3.npy")));
        assert_eq!(rank_path(Path::new("d/all.npy"), 3), None);
    }

    #[test]
    fn each_rank_reads_its_rows_of_a_shared_file() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
        // 5 rows × 2 columns of f8, labels as i1: row i holds (i, 10 + i), label i % 2.
        let xs: Vec<u8> = (0..5).flat_map(|i| [f64::from(i), 10.0 + f64::from(i)]).flat_map(f64::to_le_bytes).collect();
        std::fs::write(&x, npy_bytes("<f8", "(5, 2)", &xs)).unwrap();
        std::fs::write(&y, npy_bytes("|i1", "(5,)", &[0, 1, 0, 1, 0])).unwrap();
        let shards: Vec<Shard> = (0..2).map(|r| read(&x, &y, r, 2).unwrap()).collect();
        assert_eq!(shards[0].first_row, Some(0));
        assert_eq!(shards[0].table.features, vec![0.0, 10.0, 1.0, 11.0]);
        assert_eq!(shards[0].table.labels, vec![0.0, 1.0]);
        assert_eq!(shards[1].first_row, Some(2));
        assert_eq!(shards[1].table.features, vec![2.0, 12.0, 3.0, 13.0, 4.0, 14.0]);
        assert_eq!(shards[1].table.labels, vec![0.0, 1.0, 0.0]);
        // Values are checked, located in the whole file.
        std::fs::write(&y, npy_bytes("|i1", "(5,)", &[0, 1, 0, 1, 2])).unwrap();
        let e = read(&x, &y, 1, 2).err().unwrap().to_string();
        assert!(e.ends_with("row 5: label 2 is not one of the two classes (0/1)"), "{e}");
        let e = read(&x, &y, 0, 6).err().unwrap().to_string();
        assert!(e.ends_with("shape [5, 2] leaves no rows for rank 0 of 6"), "{e}");
        std::fs::write(&y, npy_bytes("|i1", "(4,)", &[0, 1, 0, 1])).unwrap();
        assert!(read(&x, &y, 0, 2).is_err());
        let e = read(&dir.path().join("p-{rank}.npy"), &y, 0, 2).err().unwrap().to_string();
        assert!(e.contains("{rank} in both --data and --labels"), "{e}");
    }
}
