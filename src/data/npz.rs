//! Sparse matrices as `scipy.sparse.save_npz` writes them: a zip (stored or deflated, zip64 read)
//! of `.npy` arrays `format`, `shape`, `data` and `indices`/`indptr` (CSR, CSC) or `row`/`col`
//! (COO). CSR is read as it is; CSC and COO are converted to CSR. Indices unsorted within a row are
//! sorted and repeated ones summed, as scipy means them. A non-monotonic `indptr`, an index
//! negative or beyond the shape (int64 indices beyond 2³²−1 included), a value that is not a
//! finite f32 and a damaged zip are each one error naming the file and the array.

use std::io::Read;
use std::path::Path;

use crate::data::npy::{bad, parse_each};
use crate::data::sparse::CsrMatrix;
use crate::error::{Error, Result};

fn u16_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u64)
}

fn u32_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?).into()
}

/// The members of a zip archive held in `bytes`, by name, decompressed (CRC checked).
fn members(file: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let broken = |what: &str| bad(file, format!("not a readable .npz (zip) file: {what}"));
    // The end-of-central-directory record: in the last 22 + 65535 bytes.
    let from = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (from..bytes.len().saturating_sub(21))
        .rev()
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| broken("no end of central directory"))?;
    let field = |v: Option<u64>| v.ok_or_else(|| broken("truncated"));
    let mut count = field(u16_at(bytes, eocd + 10))?;
    let mut offset = field(u32_at(bytes, eocd + 16))?;
    if count == 0xffff || offset == 0xffff_ffff {
        // zip64: the locator sits just before the record and points at the zip64 record.
        let locator = eocd.checked_sub(20).ok_or_else(|| broken("no zip64 locator"))?;
        if bytes[locator..locator + 4] != [0x50, 0x4b, 0x06, 0x07] {
            return Err(broken("no zip64 locator"));
        }
        let record = field(u64_at(bytes, locator + 8))? as usize;
        if bytes.get(record..record + 4) != Some(&[0x50, 0x4b, 0x06, 0x06]) {
            return Err(broken("bad zip64 record"));
        }
        count = field(u64_at(bytes, record + 32))?;
        offset = field(u64_at(bytes, record + 48))?;
    }
    let mut out = vec![];
    let mut at = usize::try_from(offset).map_err(|_| broken("central directory out of range"))?;
    for _ in 0..count.min(64) {
        if bytes.get(at..at + 4) != Some(&[0x50, 0x4b, 0x01, 0x02]) {
            return Err(broken("bad central directory entry"));
        }
        let method = field(u16_at(bytes, at + 10))?;
        let crc = field(u32_at(bytes, at + 16))?;
        let mut packed = field(u32_at(bytes, at + 20))?;
        let mut size = field(u32_at(bytes, at + 24))?;
        let name_len = field(u16_at(bytes, at + 28))? as usize;
        let extra_len = field(u16_at(bytes, at + 30))? as usize;
        let comment_len = field(u16_at(bytes, at + 32))? as usize;
        let mut local = field(u32_at(bytes, at + 42))?;
        let name = bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| broken("truncated"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        let extra = bytes.get(at + 46 + name_len..at + 46 + name_len + extra_len).ok_or_else(|| broken("truncated"))?;
        // The zip64 extra field holds, in order, those of the three sizes that are 0xffffffff.
        let mut e = 0;
        while e + 4 <= extra.len() {
            let (id, len) = (field(u16_at(extra, e))?, field(u16_at(extra, e + 2))? as usize);
            if id == 1 {
                let mut f = e + 4;
                for v in [&mut size, &mut packed, &mut local] {
                    if *v == 0xffff_ffff {
                        *v = field(u64_at(extra, f))?;
                        f += 8;
                    }
                }
            }
            e += 4 + len;
        }
        at += 46 + name_len + extra_len + comment_len;
        let local = usize::try_from(local).map_err(|_| broken("member out of range"))?;
        if bytes.get(local..local + 4) != Some(&[0x50, 0x4b, 0x03, 0x04]) {
            return Err(broken("bad local header"));
        }
        let start =
            local + 30 + field(u16_at(bytes, local + 26))? as usize + field(u16_at(bytes, local + 28))? as usize;
        let data = usize::try_from(packed)
            .ok()
            .and_then(|p| start.checked_add(p))
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| broken("member data truncated"))?;
        // The size is declared by the file: never allocate more than the input could inflate to.
        let limit = size.min(data.len() as u64 * 1100 + 1024);
        let mut content = Vec::with_capacity(limit as usize);
        match method {
            0 => content.extend_from_slice(data),
            8 => {
                let decoder = flate2::read::DeflateDecoder::new(data);
                decoder
                    .take(size.saturating_add(1))
                    .read_to_end(&mut content)
                    .map_err(|_| broken("deflate data corrupt"))?;
            }
            m => return Err(broken(&format!("compression method {m} (stored and deflate are read)"))),
        }
        if content.len() as u64 != size {
            return Err(broken(&format!("member {name} has {} bytes, {size} declared", content.len())));
        }
        let mut check = flate2::Crc::new();
        check.update(&content);
        if check.sum() as u64 != crc {
            return Err(broken(&format!("member {name} fails its CRC check")));
        }
        out.push((name, content));
    }
    Ok(out)
}

/// Reads `path` (standard input for `-`) as [`parse`] does.
pub fn read_file(path: &Path) -> Result<CsrMatrix> {
    let (file, bytes) = crate::data::table::read_source(path)?;
    parse(&file, &bytes)
}

/// Reads the CSR `.npz` `x` and its 0/1 labels from the `.npy` file `y`.
pub fn read_labelled(x: &Path, y: &Path, n_features: Option<usize>) -> Result<crate::data::libsvm::SparseData> {
    let (file, bytes) = crate::data::table::read_source(x)?;
    let mut matrix = parse(&file, &bytes)?;
    if let Some(n) = n_features {
        matrix = matrix.with_cols(n).map_err(|e| match e {
            Error::InvalidData { message, .. } => bad(&file, message),
            e => e,
        })?;
    }
    let labels = crate::data::npy::read_labels(y, matrix.rows(), &file)?;
    Ok(crate::data::libsvm::SparseData { source: file, x: matrix, labels })
}

/// An integer array member, each value checked to be whole and in `0..=max`.
fn integers(file: &str, name: &str, bytes: &[u8], max: u64) -> Result<Vec<u64>> {
    let label = format!("{file}: {name}");
    let mut out = vec![];
    parse_each(&label, bytes, |i, v| {
        if v.fract() != 0.0 || v < 0.0 || v > max as f64 {
            return Err(bad(&label, format!("entry {i} is {v}, not a whole number from 0 to {max}")));
        }
        out.push(v as u64);
        Ok(())
    })?;
    Ok(out)
}

/// Parses the bytes of an `.npz` file written by `scipy.sparse.save_npz` (CSR, CSC or COO).
pub fn parse(file: &str, bytes: &[u8]) -> Result<CsrMatrix> {
    let members = members(file, bytes)?;
    let get = |name: &str| {
        members
            .iter()
            .find(|(n, _)| n == &format!("{name}.npy"))
            .map(|(_, b)| b.as_slice())
            .ok_or_else(|| bad(file, format!("no `{name}` array: not written by scipy.sparse.save_npz")))
    };
    let format = get("format")?;
    let format = ["csr", "csc", "coo"]
        .into_iter()
        .find(|f| format.ends_with(f.as_bytes()))
        .ok_or_else(|| bad(file, "format is not csr, csc or coo (bsr, dia, lil and dok are not read)"))?;
    let shape = integers(file, "shape", get("shape")?, u32::MAX as u64)?;
    let [rows, cols] = shape[..] else { return Err(bad(file, format!("shape {shape:?} is not 2-D"))) };
    let (rows, cols) = (rows as usize, cols as usize);
    if cols == 0 {
        return Err(bad(file, format!("shape ({rows}, 0) has no feature columns")));
    }
    // CSC and COO do not spell out their rows: an empty row costs the CSR built here 8 bytes, so
    // a shape far beyond what the file holds is refused before that allocation.
    let held: usize = members.iter().map(|(_, b)| b.len()).sum();
    if format != "csr" && rows > (1 << 24) + 8 * held {
        return Err(bad(file, format!("shape has {rows} rows, far more than this {format} file holds")));
    }
    let mut values = vec![];
    let label = format!("{file}: data");
    parse_each(&label, get("data")?, |i, v| {
        if !v.is_finite() || v.abs() > f32::MAX as f64 {
            return Err(bad(&label, format!("entry {i} is {}, not a finite f32", crate::error::short(v))));
        }
        values.push(v as f32);
        Ok(())
    })?;
    let nnz = values.len();
    // (outer, inner) pairs: rows and columns for CSR and COO, columns and rows for CSC.
    let (outer, inner, outer_len, inner_len) = match format {
        "coo" => {
            let row = integers(file, "row", get("row")?, rows.saturating_sub(1) as u64)?;
            let col = integers(file, "col", get("col")?, cols.saturating_sub(1) as u64)?;
            (row, col, rows, cols)
        }
        f => {
            let (outer_len, inner_len) = if f == "csr" { (rows, cols) } else { (cols, rows) };
            let indptr = integers(file, "indptr", get("indptr")?, nnz as u64)?;
            if indptr.len() != outer_len + 1 || indptr.first() != Some(&0) || indptr.last() != Some(&(nnz as u64)) {
                return Err(bad(file, format!("indptr: {} entries from 0 to {nnz} expected", outer_len + 1)));
            }
            if let Some(k) = indptr.windows(2).position(|w| w[1] < w[0]) {
                return Err(bad(
                    file,
                    format!("indptr decreases at entry {} ({} then {})", k + 1, indptr[k], indptr[k + 1]),
                ));
            }
            let inner = integers(file, "indices", get("indices")?, inner_len.saturating_sub(1) as u64)?;
            let mut outer = Vec::with_capacity(nnz);
            for (o, w) in indptr.windows(2).enumerate() {
                outer.extend(std::iter::repeat_n(o as u64, (w[1] - w[0]) as usize));
            }
            (outer, inner, outer_len, inner_len)
        }
    };
    if outer.len() != nnz || inner.len() != nnz {
        return Err(bad(file, format!("{} indices for {nnz} values", inner.len())));
    }
    let _ = (outer_len, inner_len);
    let (row_of, col_of) = if format == "csc" { (&inner, &outer) } else { (&outer, &inner) };
    to_csr(rows, cols, row_of, col_of, &values).map_err(|e| match e {
        Error::InvalidData { message, .. } => bad(file, message),
        e => e,
    })
}

/// CSR from triplets in any order: sorted by row then column, repeated entries summed.
fn to_csr(rows: usize, cols: usize, row: &[u64], col: &[u64], values: &[f32]) -> Result<CsrMatrix> {
    let mut indptr = vec![0usize; rows + 1];
    for &r in row {
        indptr[r as usize + 1] += 1;
    }
    for r in 0..rows {
        indptr[r + 1] += indptr[r];
    }
    let mut next = indptr.clone();
    let mut entries = vec![(0u32, 0f32); values.len()];
    for ((&r, &c), &v) in row.iter().zip(col).zip(values) {
        entries[next[r as usize]] = (c as u32, v);
        next[r as usize] += 1;
    }
    let (mut out_ptr, mut indices, mut out_values) = (vec![0usize], vec![], vec![]);
    for r in 0..rows {
        let part = &mut entries[indptr[r]..indptr[r + 1]];
        if !part.windows(2).all(|w| w[0].0 < w[1].0) {
            part.sort_by_key(|e| e.0);
        }
        for &(c, v) in part.iter() {
            if indices.len() > out_ptr[r] && indices.last() == Some(&c) {
                let last: &mut f32 = out_values.last_mut().expect("a value per index");
                *last += v;
            } else {
                indices.push(c);
                out_values.push(v);
            }
        }
        out_ptr.push(indices.len());
    }
    CsrMatrix::new(rows, cols, out_ptr, indices, out_values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An `.npy` file of `data` with dtype `descr`.
    fn npy(descr: &str, shape: &str, data: Vec<u8>) -> Vec<u8> {
        crate::testing::npy_bytes(descr, shape, &data)
    }

    fn i64s(v: &[i64]) -> Vec<u8> {
        npy("<i8", &format!("({},)", v.len()), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn i32s(v: &[i32]) -> Vec<u8> {
        npy("<i4", &format!("({},)", v.len()), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        npy("<f8", &format!("({},)", v.len()), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    /// A zip of `members`, stored or deflated.
    fn zip(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        use std::io::Write;
        let (mut out, mut central) = (vec![], vec![]);
        for (name, content) in members {
            let name = format!("{name}.npy");
            let data = if deflate {
                let mut e = flate2::write::DeflateEncoder::new(vec![], flate2::Compression::default());
                e.write_all(content).unwrap();
                e.finish().unwrap()
            } else {
                content.clone()
            };
            let mut crc = flate2::Crc::new();
            crc.update(content);
            let method: u16 = if deflate { 8 } else { 0 };
            let offset = out.len() as u32;
            let common = |v: &mut Vec<u8>| {
                v.extend(20u16.to_le_bytes());
                v.extend(0u16.to_le_bytes());
                v.extend(method.to_le_bytes());
                v.extend([0u8; 4]);
                v.extend(crc.sum().to_le_bytes());
                v.extend((data.len() as u32).to_le_bytes());
                v.extend((content.len() as u32).to_le_bytes());
                v.extend((name.len() as u16).to_le_bytes());
                v.extend(0u16.to_le_bytes());
            };
            out.extend([0x50, 0x4b, 0x03, 0x04]);
            common(&mut out);
            out.extend(name.as_bytes());
            out.extend(&data);
            central.extend([0x50, 0x4b, 0x01, 0x02]);
            central.extend(20u16.to_le_bytes());
            common(&mut central);
            central.extend([0u8; 6]);
            central.extend(0u32.to_le_bytes());
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend([0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn format(f: &str) -> Vec<u8> {
        npy("|S3", "()", f.as_bytes().to_vec())
    }

    /// [[1, 0, 2], [0, 0, 0], [0, 3, 0]] as CSR.
    fn csr(indptr: &[i32], indices: &[i32], data: &[f64], deflate: bool) -> Vec<u8> {
        zip(
            &[
                ("indices", i32s(indices)),
                ("indptr", i32s(indptr)),
                ("format", format("csr")),
                ("shape", i64s(&[3, 3])),
                ("data", f64s(data)),
            ],
            deflate,
        )
    }

    fn expected() -> CsrMatrix {
        CsrMatrix::new(3, 3, vec![0, 2, 2, 3], vec![0, 2, 1], vec![1.0, 2.0, 3.0]).unwrap()
    }

    #[test]
    fn csr_csc_and_coo_read_as_the_same_matrix() {
        for deflate in [false, true] {
            assert_eq!(parse("m.npz", &csr(&[0, 2, 2, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], deflate)).unwrap(), expected());
            // Unsorted and repeated indices: sorted, summed.
            let m = parse("m.npz", &csr(&[0, 3, 3, 4], &[2, 0, 2, 1], &[1.5, 1.0, 0.5, 3.0], deflate)).unwrap();
            assert_eq!(m, expected());
        }
        let csc = zip(
            &[
                ("indices", i64s(&[0, 2, 0])),
                ("indptr", i64s(&[0, 1, 2, 3])),
                ("format", format("csc")),
                ("shape", i64s(&[3, 3])),
                ("data", f64s(&[1.0, 3.0, 2.0])),
            ],
            true,
        );
        assert_eq!(parse("m.npz", &csc).unwrap(), expected());
        let coo = zip(
            &[
                ("row", i32s(&[2, 0, 0])),
                ("col", i32s(&[1, 2, 0])),
                ("format", format("coo")),
                ("shape", i64s(&[3, 3])),
                ("data", f64s(&[3.0, 2.0, 1.0])),
            ],
            false,
        );
        assert_eq!(parse("m.npz", &coo).unwrap(), expected());
    }

    #[test]
    fn faults_are_named() {
        let e = parse("m.npz", &csr(&[0, 2, 1, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], false)).unwrap_err().to_string();
        assert_eq!(e, "m.npz: indptr decreases at entry 2 (2 then 1)");
        let e = parse("m.npz", &csr(&[0, 2, 2, 3], &[0, 3, 1], &[1.0, 2.0, 3.0], false)).unwrap_err().to_string();
        assert_eq!(e, "m.npz: indices: entry 1 is 3, not a whole number from 0 to 2");
        let e = parse("m.npz", &csr(&[0, 2, 2, 3], &[0, 2, 1], &[1.0, f64::NAN, 3.0], false)).unwrap_err().to_string();
        assert_eq!(e, "m.npz: data: entry 1 is NaN, not a finite f32");
        let big = zip(
            &[
                ("indices", i64s(&[0, 1 << 40])),
                ("indptr", i64s(&[0, 2])),
                ("format", format("csr")),
                ("shape", i64s(&[1, 3])),
                ("data", f64s(&[1.0, 2.0])),
            ],
            false,
        );
        let e = parse("m.npz", &big).unwrap_err().to_string();
        assert_eq!(e, "m.npz: indices: entry 1 is 1099511627776, not a whole number from 0 to 2");
        let mut bad_crc = csr(&[0, 2, 2, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], false);
        let two = 2.0f64.to_le_bytes();
        let at = bad_crc.windows(8).position(|w| w == two).unwrap();
        bad_crc[at + 7] ^= 0x01;
        let e = parse("m.npz", &bad_crc).unwrap_err().to_string();
        assert_eq!(e, "m.npz: not a readable .npz (zip) file: member data.npy fails its CRC check");
        let e = parse("m.npz", b"PK not a zip").unwrap_err().to_string();
        assert_eq!(e, "m.npz: not a readable .npz (zip) file: no end of central directory");
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse("m.npz", &bytes);
        }

        #[test]
        fn damaged_files_give_a_value_or_an_error(at in 0usize..2000, byte in any::<u8>(), deflate in any::<bool>(), cut in any::<bool>()) {
            let mut bytes = csr(&[0, 2, 2, 3], &[0, 2, 1], &[1.0, 2.0, 3.0], deflate);
            let at = at % bytes.len();
            if cut { bytes.truncate(at) } else { bytes[at] = byte }
            if let Ok(m) = parse("m.npz", &bytes) {
                prop_assert!(m.values().iter().all(|v| v.is_finite()));
            }
        }
    }
}
