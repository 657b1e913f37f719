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

/// The longest line read: a row of millions of non-zeros fits; an endless line does not.
const MAX_LINE: usize = 256 << 20;

/// Reads `path` (standard input for `-`; gzip and zstd decoded) as [`parse`] does, a line at a
/// time: the first bad line is an error as soon as it is read, a NUL byte (binary content,
/// `/dev/zero`) is refused where it is met, and a line longer than 256 MiB is refused.
pub fn read_file(path: &Path, n_features: Option<usize>) -> Result<SparseData> {
    use std::io::BufRead;
    let (file, input) = crate::data::table::open_decoded(path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let mut rows = Rows::new(&file, n_features)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut any = false;
        let complete = loop {
            let buf = match reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(crate::data::table::not_read(&file, e, Some(rows.line_no))),
            };
            if buf.is_empty() {
                break any;
            }
            any = true;
            let (take, done) = buf.iter().position(|&b| b == b'\n').map_or((buf.len(), false), |i| (i + 1, true));
            if let Some(i) = buf[..take].iter().position(|&b| b == 0) {
                let column = line.len() + i + 1;
                return Err(at(&file, rows.line_no + 1, column, "a NUL byte: not a libsvm text file".into()));
            }
            line.extend_from_slice(&buf[..take]);
            reader.consume(take);
            if done {
                line.pop();
                break true;
            }
            if line.len() > MAX_LINE {
                return Err(at(
                    &file,
                    rows.line_no + 1,
                    1,
                    "a line longer than 256 MiB: not a libsvm text file".into(),
                ));
            }
        };
        if !complete {
            return rows.finish();
        }
        rows.line(&line)?;
    }
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
    let mut rows = Rows::new(file, n_features)?;
    for line in bytes.split(|&b| b == b'\n') {
        rows.line(line)?;
    }
    rows.finish()
}

/// The rows parsed so far, a line at a time.
struct Rows<'f> {
    file: &'f str,
    n_features: Option<usize>,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    labels: Vec<f32>,
    /// The negative label seen first, and on which line.
    negative: Option<(Negative, u64)>,
    largest: usize,
    /// Lines read (the current one's number while it is parsed).
    line_no: u64,
}

impl<'f> Rows<'f> {
    fn new(file: &'f str, n_features: Option<usize>) -> Result<Self> {
        if let Some(n) = n_features {
            if n == 0 || u32::try_from(n).is_err() {
                return Err(Error::InvalidSetting {
                    name: "n_features",
                    value: n.to_string(),
                    expected: "must be from 1 to 4294967295",
                });
            }
        }
        Ok(Self {
            file,
            n_features,
            indptr: vec![0],
            indices: vec![],
            values: vec![],
            labels: vec![],
            negative: None,
            largest: 0,
            line_no: 0,
        })
    }

    /// Parses one line (without its `\n`).
    fn line(&mut self, raw: &[u8]) -> Result<()> {
        self.line_no += 1;
        let (file, line_no, n_features) = (self.file, self.line_no, self.n_features);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        // A UTF-8 byte-order mark (some Windows editors write one) opens the first line only.
        let line = if line_no == 1 { line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line) } else { line };
        let line = &line[..line.iter().position(|&b| b == b'#').unwrap_or(line.len())];
        let mut tokens = tokens(line);
        let Some((label_at, label)) = tokens.next() else { return Ok(()) };
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
            match self.negative {
                None => self.negative = Some((kind, line_no)),
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
        self.labels.push(if kind.is_none() { 1.0 } else { 0.0 });
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
            self.indices.push((index - 1) as u32);
            self.values.push(v as f32);
            self.largest = self.largest.max(index as usize);
        }
        self.indptr.push(self.indices.len());
        Ok(())
    }

    /// The matrix of the rows read.
    fn finish(self) -> Result<SparseData> {
        let file = self.file;
        if self.labels.is_empty() {
            return Err(Error::Input { location: file.to_string(), message: "no rows".into() });
        }
        if self.n_features.is_none() && self.largest == 0 {
            let message = "no feature on any line (no index:value pair): give --n-features if every row is all zeros";
            return Err(Error::Input { location: file.to_string(), message: message.into() });
        }
        let cols = self.n_features.unwrap_or(self.largest);
        let x = CsrMatrix::new(self.labels.len(), cols, self.indptr, self.indices, self.values)?;
        Ok(SparseData { source: file.to_string(), x, labels: self.labels })
    }
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
        // A byte-order mark opens the file; labels alone need a width.
        let d = parse("t.svm", b"\xEF\xBB\xBF1 2:1\n0\n", None).unwrap();
        assert_eq!((d.x.cols(), d.labels.clone()), (2, vec![1.0, 0.0]));
        assert_eq!(parse("t.svm", b"1\n0\n", Some(3)).unwrap().x.nnz(), 0);
        assert_eq!(
            err("1\n0\n"),
            "t.svm: no feature on any line (no index:value pair): give --n-features if every row is all zeros"
        );
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

    /// A file read a line at a time: binary content stops it where it starts, and a cut gzip
    /// stream is named after the last whole line it gave.
    #[test]
    fn files_stop_at_binary_content_and_name_a_cut_after_its_last_line() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let e = read_file(&file("b.svm", b"1 1:1\n0 2:1\x00\n"), None).unwrap_err().to_string();
        assert!(e.ends_with("b.svm:2:6: a NUL byte: not a libsvm text file"), "{e}");
        let text: String = (0..2000).map(|i| format!("{} {}:0.{i}\n", i % 2, i % 50 + 1)).collect();
        let d = read_file(&file("t.svm", text.as_bytes()), None).unwrap();
        assert_eq!(d, parse(&dir.path().join("t.svm").display().to_string(), text.as_bytes(), None).unwrap());
        let mut gz = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let e = read_file(&file("t.svm.gz", &gz[..gz.len() / 2]), None).unwrap_err().to_string();
        let lines: u64 = e.split("truncated after line ").nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!((1..2000).contains(&lines), "{e}");
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
