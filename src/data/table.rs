//! Numeric CSV tables with a header row: feature columns and an optional binary label column.
//! Every bad cell is reported as `file:line:column` (column = 1-based field number) with its text.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Where a table comes from: a file, or standard input for the path `-`.
pub fn read_source(path: &Path) -> Result<(String, Vec<u8>)> {
    if path == Path::new("-") {
        let mut bytes = vec![];
        std::io::stdin().read_to_end(&mut bytes).map_err(|error| Error::Io { path: "<stdin>".into(), error })?;
        return Ok(("<stdin>".into(), bytes));
    }
    let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.into(), error })?;
    Ok((path.display().to_string(), bytes))
}

/// A parsed table: features row-major, and labels (0/1) when a label column was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The file name (or `<stdin>`), for messages.
    pub(crate) source: String,
    /// The feature columns' names, in file order.
    pub feature_names: Vec<String>,
    /// The label column's name; `None` without a label column.
    pub label_name: Option<String>,
    /// `rows × feature_names.len()` values, row-major.
    pub features: Vec<f32>,
    /// One 0/1 label per row, empty without a label column.
    pub labels: Vec<f32>,
}

impl Table {
    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.features.len() / self.feature_names.len().max(1)
    }
}

/// Which column holds the label.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelColumn {
    /// The last column (the default for training).
    Last,
    /// The column with this header name.
    Named(String),
    /// No label column: every column is a feature (prediction input). A column with this name,
    /// if present, is skipped.
    Skip(String),
}

fn at(file: &str, line: u64, column: usize, message: String) -> Error {
    Error::Input { location: format!("{file}:{line}:{column}"), message }
}

fn whole(file: &str, message: String) -> Error {
    Error::Input { location: file.to_string(), message }
}

/// A feature cell: a finite number that fits in f32.
fn parse_number(text: &str) -> std::result::Result<f32, String> {
    if text.is_empty() {
        return Err("empty cell".into());
    }
    let value: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    if value.abs() > f64::from(f32::MAX) {
        return Err(format!("`{text}` overflows a 32-bit float"));
    }
    Ok(value as f32)
}

/// A label cell: 0/1, 0.0/1.0 or true/false.
fn parse_label(text: &str) -> std::result::Result<f32, String> {
    if text.eq_ignore_ascii_case("true") {
        return Ok(1.0);
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(0.0);
    }
    match parse_number(text) {
        Ok(v) if v == 0.0 || v == 1.0 => Ok(v),
        Ok(_) => Err(format!("label `{text}` is not one of the two classes (0/1, 0.0/1.0, true/false)")),
        Err(e) => Err(format!("label {e}")),
    }
}

/// Parses `bytes` (named `file` in errors) as a CSV table with a header row.
pub fn parse(file: &str, bytes: &[u8], label: &LabelColumn) -> Result<Table> {
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..i].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(whole(file, format!("not a text file (NUL byte on line {line})")));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(whole(file, "empty file: expected a header row and data rows".into()));
    }
    let (mut features, mut labels) = (vec![], vec![]);
    let columns = read_rows(file, bytes, label, |row, label| {
        features.extend_from_slice(row);
        labels.extend(label);
        Ok(())
    })?;
    Ok(Table {
        source: file.to_string(),
        feature_names: columns.feature_names,
        label_name: columns.label_name,
        features,
        labels,
    })
}

/// A CSV header's feature columns and label column.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    /// The feature columns' names, in file order.
    pub feature_names: Vec<String>,
    /// The label column's name; `None` without a label column.
    pub label_name: Option<String>,
}

/// Reads CSV rows one at a time from `input`, checking each cell as [`parse`] does, and hands
/// each row's features and label to `on_row`; memory stays one row whatever the file's size.
pub(crate) fn read_rows(
    file: &str,
    input: impl Read,
    label: &LabelColumn,
    mut on_row: impl FnMut(&[f32], Option<f32>) -> Result<()>,
) -> Result<Columns> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(input);
    let mut records = reader.records();
    let record_error = |e: csv::Error| {
        let line = e.position().map_or(0, |p| p.line());
        match e.kind() {
            csv::ErrorKind::Utf8 { .. } => whole(file, format!("not UTF-8 text (line {line})")),
            _ => whole(file, format!("line {line}: {e}")),
        }
    };
    let header = records
        .next()
        .ok_or_else(|| whole(file, "empty file: expected a header row and data rows".into()))?
        .map_err(record_error)?;
    let names: Vec<String> = header.iter().map(str::to_string).collect();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(at(file, 1, i + 1, "empty column name in the header".into()));
        }
        if let Some(j) = names[..i].iter().position(|n| n == name) {
            return Err(at(file, 1, i + 1, format!("duplicate column name `{name}` (also column {})", j + 1)));
        }
    }
    let position = |name: &str| names.iter().position(|n| n == name);
    // The label column to parse, and a column to ignore (a label in prediction input).
    let (label_at, skip_at) = match label {
        LabelColumn::Last if names.len() < 2 => {
            return Err(at(file, 1, 1, "need at least one feature column and a label column".into()))
        }
        LabelColumn::Last => (Some(names.len() - 1), None),
        LabelColumn::Named(name) => {
            let i = position(name).ok_or_else(|| Error::Input {
                location: format!("{file}:1"),
                message: format!("no label column `{name}` in the header (columns: {})", names.join(", ")),
            })?;
            (Some(i), None)
        }
        LabelColumn::Skip(name) => (None, position(name)),
    };
    let is_feature = |i: usize| Some(i) != label_at && Some(i) != skip_at;
    let feature_names: Vec<String> = (0..names.len()).filter(|&i| is_feature(i)).map(|i| names[i].clone()).collect();
    if feature_names.is_empty() {
        return Err(at(file, 1, 1, "no feature columns".into()));
    }
    let columns = Columns { feature_names, label_name: label_at.map(|i| names[i].clone()) };
    let (mut features, mut rows) = (Vec::with_capacity(columns.feature_names.len()), 0usize);
    for record in records {
        let record = record.map_err(record_error)?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != names.len() {
            let column = record.len().min(names.len()) + 1;
            return Err(at(
                file,
                line,
                column,
                format!("row has {} fields, the header has {}", record.len(), names.len()),
            ));
        }
        features.clear();
        let mut label_value = None;
        for (i, cell) in record.iter().enumerate() {
            let bad = |m: String| at(file, line, i + 1, format!("{m} (column `{}`)", names[i]));
            if Some(i) == label_at {
                label_value = Some(parse_label(cell).map_err(bad)?);
            } else if is_feature(i) {
                features.push(parse_number(cell).map_err(bad)?);
            }
        }
        on_row(&features, label_value)?;
        rows += 1;
    }
    if rows == 0 {
        return Err(whole(file, "no data rows after the header".into()));
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Table {
        parse("t.csv", text.as_bytes(), &LabelColumn::Last).unwrap()
    }

    fn err(text: &[u8], label: LabelColumn) -> String {
        parse("t.csv", text, &label).unwrap_err().to_string()
    }

    #[test]
    fn accepts_bom_crlf_quotes_spaces_and_no_final_newline() {
        let t = ok("\u{feff}a,\"b\" ,y\r\n1, 2.5 ,true\r\n\"3\",\"-4e1\", false");
        assert_eq!(t.feature_names, ["a", "b"]);
        assert_eq!(t.label_name.as_deref(), Some("y"));
        assert_eq!(t.features, [1.0, 2.5, 3.0, -40.0]);
        assert_eq!(t.labels, [1.0, 0.0]);
        assert_eq!(t.rows(), 2);
    }

    #[test]
    fn labels_may_be_written_several_ways_and_named_anywhere() {
        let t = parse("t.csv", b"y,a\n1.0,5\n0,6\nTRUE,7\n", &LabelColumn::Named("y".into())).unwrap();
        assert_eq!((t.labels, t.features), (vec![1.0, 0.0, 1.0], vec![5.0, 6.0, 7.0]));
    }

    #[test]
    fn prediction_input_skips_the_label_column_if_present() {
        let t = parse("t.csv", b"a,y,b\n1,0,2\n", &LabelColumn::Skip("y".into())).unwrap();
        assert_eq!((t.feature_names, t.features, t.label_name), (vec!["a".into(), "b".into()], vec![1.0, 2.0], None));
        let t = parse("t.csv", b"a,b\n1,2\n", &LabelColumn::Skip("y".into())).unwrap();
        assert_eq!(t.features, [1.0, 2.0]);
    }

    #[test]
    fn every_bad_cell_names_file_line_and_column() {
        let last = || LabelColumn::Last;
        let cases: &[(&[u8], LabelColumn, &str)] = &[
            (b"a,y\n1,0\nx,1\n", last(), "t.csv:3:1: `x` is not a number (column `a`)"),
            (b"a,y\n1,0\n,1\n", last(), "t.csv:3:1: empty cell (column `a`)"),
            (b"a,y\nNaN,0\n1,1\n", last(), "t.csv:2:1: `NaN` is not a finite number"),
            (b"a,y\n-inf,0\n1,1\n", last(), "t.csv:2:1: `-inf` is not a finite number"),
            (b"a,y\n1e39,0\n1,1\n", last(), "t.csv:2:1: `1e39` overflows a 32-bit float"),
            (b"a,b,y\n1,2,0\n1,1\n", last(), "t.csv:3:3: row has 2 fields, the header has 3"),
            (b"a,y\n1,0\n1,1,5\n", last(), "t.csv:3:3: row has 3 fields, the header has 2"),
            (b"a,y\n1,0\n2,2\n", last(), "t.csv:3:2: label `2` is not one of the two classes"),
            (b"a,y\n1,0\n2,yes\n", last(), "t.csv:3:2: label `yes` is not a number"),
            (
                b"a,y\n1,0\n",
                LabelColumn::Named("z".into()),
                "t.csv:1: no label column `z` in the header (columns: a, y)",
            ),
            (b"a,y,y\n1,0,1\n", last(), "t.csv:1:3: duplicate column name `y` (also column 2)"),
            (b"a,,y\n1,0,1\n", last(), "t.csv:1:2: empty column name"),
            (b"", last(), "t.csv: empty file"),
            (b"  \n\n", last(), "t.csv: empty file"),
            (b"a,y\n", last(), "t.csv: no data rows after the header"),
            (b"y\n1\n", last(), "t.csv:1:1: need at least one feature column"),
            (b"a,y\n\x00\x01\x02", last(), "t.csv: not a text file (NUL byte on line 2)"),
            (b"a,y\n1,0\n\xff\xfe,1\n", last(), "t.csv: not UTF-8 text (line 3)"),
        ];
        for (text, label, expected) in cases {
            let e = err(text, label.clone());
            assert!(e.starts_with(expected), "{:?}: got {e:?}, want {expected:?}", String::from_utf8_lossy(text));
        }
    }
}
