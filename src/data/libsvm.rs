//! libsvm / svmlight text: one row a line, `label index:value index:value …`, indices from 1 and
//! strictly increasing within a line, labels 0/1 or −1/+1 (one convention per file), `#` starting a
//! comment. Gzip and zstd files are decoded as they are read. Every fault is one error at
//! `file:line:column`: index 0, unsorted or repeated indices, `qid:` (ranking data), a value that
//! is not a finite f32, a bad token.

use std::path::Path;

use crate::data::sparse::CsrMatrix;
use crate::data::table::shown;
use crate::error::{Error, Result};

/// Rows read from a libsvm file: the features (CSR) and one 0/1 label per row.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseData {
    /// The file name (or `<stdin>`), for messages.
    pub source: String,
    /// The features, `rows × n_features`.
    pub x: CsrMatrix,
    /// One 0/1 label per row.
    pub labels: Vec<f32>,
}

fn at(file: &str, line: u64, column: usize, message: String) -> Error {
    Error::Input { location: format!("{file}:{line}:{column}"), message }
}

/// Reads `path` (standard input for `-`; gzip and zstd decoded) as [`parse`] does.
pub fn read_file(path: &Path, n_features: Option<usize>) -> Result<SparseData> {
    let (file, bytes) = crate::data::table::read_decoded(path)?;
    parse(&file, &bytes, n_features)
}

/// Which negative label the file uses: they may not be mixed.
#[derive(Clone, Copy, PartialEq)]
enum Negative {
    Zero,
    MinusOne,
}

/// Parses libsvm text. The feature count is `n_features` when given (an index beyond it is an
/// error), else the largest index.
pub fn parse(file: &str, bytes: &[u8], n_features: Option<usize>) -> Result<SparseData> {
    if let Some(n) = n_features {
        if n == 0 || u32::try_from(n).is_err() {
            return Err(Error::InvalidSetting {
                name: "n_features",
                value: n.to_string(),
                expected: "must be from 1 to 4294967295",
            });
        }
    }
    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut labels) = (Vec::<u32>::new(), Vec::<f32>::new(), Vec::<f32>::new());
    let mut negative: Option<(Negative, u64)> = None;
    let mut largest = 0usize;
    let mut line_no = 0u64;
    for raw in bytes.split(|&b| b == b'\n') {
        line_no += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = &line[..line.iter().position(|&b| b == b'#').unwrap_or(line.len())];
        let mut tokens = tokens(line);
        let Some((label_at, label)) = tokens.next() else { continue };
        let text = |t: &[u8]| shown(&String::from_utf8_lossy(t));
        let bad_label = || at(file, line_no, label_at + 1, format!("label `{}` is not 0/1 or -1/+1", text(label)));
        let value = std::str::from_utf8(label).ok().and_then(|s| s.parse::<f64>().ok()).ok_or_else(bad_label)?;
        let kind = match value {
            1.0 => None,
            0.0 => Some(Negative::Zero),
            -1.0 => Some(Negative::MinusOne),
            _ => return Err(bad_label()),
        };
        if let Some(kind) = kind {
            match negative {
                None => negative = Some((kind, line_no)),
                Some((seen, first)) if seen != kind => {
                    let name = |k| if k == Negative::Zero { "0" } else { "-1" };
                    return Err(at(
                        file,
                        line_no,
                        label_at + 1,
                        format!(
                            "label {} after label {} on line {first}: one negative label per file",
                            name(kind),
                            name(seen)
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        labels.push(if kind.is_none() { 1.0 } else { 0.0 });
        let mut previous = 0u64;
        for (col, token) in tokens {
            let column = col + 1;
            let Some(colon) = token.iter().position(|&b| b == b':') else {
                return Err(at(file, line_no, column, format!("`{}` is not index:value", text(token))));
            };
            let (index, value) = (&token[..colon], &token[colon + 1..]);
            if index == b"qid" {
                return Err(at(file, line_no, column, "qid: ranking data is not read".into()));
            }
            if index.is_empty() || !index.iter().all(u8::is_ascii_digit) {
                return Err(at(file, line_no, column, format!("index `{}` is not a whole number", text(index))));
            }
            let index = std::str::from_utf8(index).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(u64::MAX);
            let limit = n_features.map_or(u32::MAX as u64, |n| n as u64);
            if index == 0 {
                return Err(at(file, line_no, column, "index 0: indices start at 1".into()));
            }
            if index > limit {
                let why = match n_features {
                    Some(n) => format!(
                        "index {index} is beyond the {n} features expected (--n-features, or the model's width)"
                    ),
                    None => format!("index {} is beyond the {limit} features held", shown(&index.to_string())),
                };
                return Err(at(file, line_no, column, why));
            }
            if index <= previous {
                let what = if index == previous { "repeated" } else { "not increasing" };
                return Err(at(file, line_no, column, format!("index {index} {what} (after {previous})")));
            }
            previous = index;
            let v = std::str::from_utf8(value).ok().and_then(|s| s.parse::<f64>().ok());
            let v = v.ok_or_else(|| {
                at(file, line_no, column + colon + 1, format!("value `{}` is not a number", text(value)))
            })?;
            if !v.is_finite() || v.abs() > f32::MAX as f64 {
                let message = format!("value `{}` is not a finite f32", text(value));
                return Err(at(file, line_no, column + colon + 1, message));
            }
            indices.push((index - 1) as u32);
            values.push(v as f32);
            largest = largest.max(index as usize);
        }
        indptr.push(indices.len());
    }
    if labels.is_empty() {
        return Err(Error::Input { location: file.to_string(), message: "no rows".into() });
    }
    let cols = n_features.unwrap_or(largest).max(1);
    let x = CsrMatrix::new(labels.len(), cols, indptr, indices, values)?;
    Ok(SparseData { source: file.to_string(), x, labels })
}

/// The space- or tab-separated tokens of `line`, with their byte offsets.
fn tokens(line: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < line.len() && matches!(line[at], b' ' | b'\t') {
            at += 1;
        }
        if at >= line.len() {
            return None;
        }
        let start = at;
        while at < line.len() && !matches!(line[at], b' ' | b'\t') {
            at += 1;
        }
        Some((start, &line[start..at]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(text: &str) -> String {
        parse("t.svm", text.as_bytes(), None).unwrap_err().to_string()
    }

    #[test]
    fn rows_labels_and_widths_are_read() {
        let d = parse("t.svm", b"+1 1:0.5 3:-2 # comment\n\n# only a comment\n-1 2:1e-3\r\n-1\n", None).unwrap();
        assert_eq!(d.labels, [1.0, 0.0, 0.0]);
        assert_eq!((d.x.rows(), d.x.cols(), d.x.nnz()), (3, 3, 3));
        assert_eq!(d.x.indptr(), [0, 2, 3, 3]);
        assert_eq!(d.x.indices(), [0, 2, 1]);
        assert_eq!(d.x.values(), [0.5, -2.0, 1e-3]);
        let d = parse("t.svm", b"1 1:1\n0 2:1\n", Some(10)).unwrap();
        assert_eq!((d.x.cols(), d.labels.clone()), (10, vec![1.0, 0.0]));
    }

    #[test]
    fn faults_are_located() {
        let cases = [
            ("1 0:1\n", "t.svm:1:3: index 0: indices start at 1"),
            ("1 1:1\n1 3:1 2:1\n", "t.svm:2:7: index 2 not increasing (after 3)"),
            ("1 3:1 3:2\n", "t.svm:1:7: index 3 repeated (after 3)"),
            ("1 qid:3 1:1\n", "t.svm:1:3: qid: ranking data is not read"),
            ("1 1:nan\n", "t.svm:1:5: value `nan` is not a finite f32"),
            ("1 1:1e39\n", "t.svm:1:5: value `1e39` is not a finite f32"),
            ("1 1:x\n", "t.svm:1:5: value `x` is not a number"),
            ("1 a:1\n", "t.svm:1:3: index `a` is not a whole number"),
            ("1 7\n", "t.svm:1:3: `7` is not index:value"),
            ("2 1:1\n", "t.svm:1:1: label `2` is not 0/1 or -1/+1"),
            ("0 1:1\n-1 1:1\n", "t.svm:2:1: label -1 after label 0 on line 1: one negative label per file"),
            ("1 99999999999999999999:1\n", "t.svm:1:3: index 18446744073709551615 is beyond the 4294967295"),
            ("\n# c\n", "t.svm: no rows"),
        ];
        for (text, expected) in cases {
            assert!(err(text).starts_with(expected), "{text:?}: {} vs {expected}", err(text));
        }
        let e = parse("t.svm", b"1 11:1\n", Some(10)).unwrap_err().to_string();
        assert_eq!(e, "t.svm:1:3: index 11 is beyond the 10 features expected (--n-features, or the model's width)");
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse("t.svm", &bytes, None);
        }

        #[test]
        fn near_valid_text_gives_a_value_or_an_error(
            rows in proptest::collection::vec(
                ("(-1|0|1|\\+1|2|x)", proptest::collection::vec(("[0-9]{1,3}|qid|", "-?[0-9.e]{0,4}|nan|inf"), 0..5)),
                0..6,
            )
        ) {
            let text: String = rows.iter().map(|(label, pairs)| {
                let pairs: Vec<String> = pairs.iter().map(|(i, v)| format!("{i}:{v}")).collect();
                format!("{label} {}\n", pairs.join(" "))
            }).collect();
            if let Ok(d) = parse("t.svm", text.as_bytes(), None) {
                prop_assert_eq!(d.labels.len(), d.x.rows());
                prop_assert!(d.x.values().iter().all(|v| v.is_finite()));
            }
        }
    }
}
