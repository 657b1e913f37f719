//! Numeric CSV tables with a header row: feature columns and an optional binary label column.
//!
//! Every bad cell is reported as `file:line:column`: the physical line of the file (from 1; `\n`,
//! `\r\n` and a lone `\r` each end one, blank lines count) where the cell's record starts, and the
//! field number (from 1). A record whose quoted field spans lines is reported at its first line,
//! and the message names the lines it spans. Cell text in messages is escaped and cut
//! ([`shown`]), so every message is one line of about 300 characters at most.
//!
//! The reader is a small state machine of our own (quotes with `""` escapes, any line ending, blank
//! lines skipped, cells trimmed), reading the input once, a buffer at a time. Its first 64 KiB are
//! checked before anything is parsed: NUL bytes there are refused at once, so `/dev/zero` or a
//! binary file is never read on. Past them, a NUL byte or invalid UTF-8 is an error where it is
//! reached. Nothing else bounds the input (a large pipe is legitimate).
//!
//! Gzip and zstd input, recognised by its first bytes, is decoded as it is read ([`compressed`]);
//! everything above applies to the decoded text, and a stream that breaks off is an error naming
//! the last whole line it gave. The delimiter (`,` `;` tab `|`) is the one that splits the header
//! into the most fields, unless [`Format`] names one; a header that splits on two is refused as
//! ambiguous. Numbers may be written with a decimal comma ([`Format::decimal_comma`]).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

mod compressed;

use compressed::Decoded;

/// How much of the input is checked for binary content before any of it is parsed.
const SNIFF: usize = 64 * 1024;
/// The reader's buffer: the sniffed prefix, then each read.
const BUFFER: usize = 256 * 1024;
/// Cell text and names echoed in messages are cut to this many characters.
const SHOWN: usize = 40;
/// The most input held to find where the header ends under each candidate delimiter (a header
/// longer than this is judged on its first 64 MiB).
const MAX_HEADER: usize = 64 << 20;
/// The longest record read (bytes) and the most fields in one: far past any real table (100,000
/// columns of 20 characters are 2 MB), far below what would exhaust memory (a header of 10⁹
/// names would take tens of GB before any check).
const MAX_RECORD: usize = 256 << 20;
const MAX_FIELDS: usize = 1 << 24;

/// What separates the cells of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Delimiter {
    /// The one of the four below that splits the header line into the most fields (`,` when none
    /// splits it); a header that splits on two of them is an error.
    #[default]
    Detect,
    /// `,`
    Comma,
    /// `;`, common where the decimal mark is a comma.
    Semicolon,
    /// A tab (TSV files).
    Tab,
    /// `|`
    Pipe,
}

impl Delimiter {
    /// The candidates [`Delimiter::Detect`] tries, in the order ties are listed.
    pub const CANDIDATES: [Delimiter; 4] = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab, Delimiter::Pipe];

    /// The byte, or `None` for [`Delimiter::Detect`].
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Detect => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
            Delimiter::Pipe => Some(b'|'),
        }
    }

    /// As messages name it: `` `;` ``, `tab`.
    pub fn name(self) -> &'static str {
        match self {
            Delimiter::Detect => "detected",
            Delimiter::Comma => "`,`",
            Delimiter::Semicolon => "`;`",
            Delimiter::Tab => "tab",
            Delimiter::Pipe => "`|`",
        }
    }
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    /// `,` `;` `|`, `tab` (or `\t`, or a tab), their names (`comma`, `semicolon`, `pipe`), or
    /// `auto` for [`Delimiter::Detect`].
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        Ok(match text {
            "," | "comma" => Delimiter::Comma,
            ";" | "semicolon" => Delimiter::Semicolon,
            "\t" | "\\t" | "tab" | "TAB" => Delimiter::Tab,
            "|" | "pipe" => Delimiter::Pipe,
            "auto" => Delimiter::Detect,
            _ => return Err(format!("`{}` is not a delimiter (one of `,` `;` tab `|`, or auto)", shown(text))),
        })
    }
}

/// How a CSV file is written: its delimiter and decimal mark. The default detects the delimiter
/// and reads `.` as the decimal point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// What separates cells.
    pub delimiter: Delimiter,
    /// Numbers are written with a decimal comma (`3,14`): needs a delimiter other than `,`. A
    /// `.` in a number is then refused (it may be a thousands separator: `1.234,5`).
    pub decimal_comma: bool,
}

impl Format {
    /// Refuses `--decimal-comma` with a comma delimiter.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.decimal_comma && self.delimiter == Delimiter::Comma {
            return Err("--decimal-comma needs a delimiter other than `,` (`;`, tab or `|`): with a decimal comma, \
                        `,` cannot also separate cells"
                .into());
        }
        Ok(())
    }
}

/// Where a table comes from: a file, or standard input for the path `-`. (Reads it whole, for the
/// `.npy` reader; a CSV file is read with [`read_file`], which checks for binary content first.)
pub fn read_source(path: &Path) -> Result<(String, Vec<u8>)> {
    if path == Path::new("-") {
        let mut bytes = vec![];
        std::io::stdin().read_to_end(&mut bytes).map_err(|error| Error::Io { path: "<stdin>".into(), error })?;
        return Ok(("<stdin>".into(), bytes));
    }
    let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.into(), error })?;
    Ok((path.display().to_string(), bytes))
}

/// The input of `path` (standard input for `-`), named for messages, as it is on disk.
pub(crate) fn open_input(path: &Path) -> Result<(String, Box<dyn Read + Send>)> {
    if path == Path::new("-") {
        return Ok(("<stdin>".into(), Box::new(std::io::stdin())));
    }
    let file = std::fs::File::open(path).map_err(|error| Error::Io { path: path.into(), error })?;
    Ok((path.display().to_string(), Box::new(file)))
}

/// [`open_input`] decoded as it is read (gzip and zstd): the libsvm reader reads it a line at a time.
pub(crate) fn open_decoded(path: &Path) -> Result<(String, Box<dyn Read + Send>)> {
    let (file, input) = open_input(path)?;
    let decoded = compressed::open(input).map_err(|e| not_read(&file, e, None))?;
    Ok((file, Box::new(decoded)))
}

/// Reads the CSV file `path` (standard input for `-`) as [`parse`] does, a buffer at a time: the
/// file is never held whole, and binary content is refused within its first 64 KiB. The
/// delimiter is detected; gzip and zstd files are decoded as they are read.
pub fn read_file(path: &Path, label: &LabelColumn) -> Result<Table> {
    read_file_with(path, label, &Format::default())
}

/// [`read_file`] of a file written in `format`.
pub fn read_file_with(path: &Path, label: &LabelColumn, format: &Format) -> Result<Table> {
    if path == Path::new("-") {
        let stdin = std::io::stdin();
        return collect("<stdin>", |on_row| read_rows_background("<stdin>", stdin, label, format, on_row));
    }
    let input = std::fs::File::open(path).map_err(|error| Error::Io { path: path.into(), error })?;
    let file = path.display().to_string();
    collect(&file, |on_row| read_rows_background(&file, input, label, format, on_row))
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

pub(crate) fn at(file: &str, line: u64, column: usize, message: String) -> Error {
    Error::Input { location: format!("{file}:{line}:{column}"), message }
}

fn whole(file: &str, message: String) -> Error {
    Error::Input { location: file.to_string(), message }
}

/// `text` for a message: control characters and escape sequences escaped as Rust writes them
/// (`\n`, `\u{1b}`), cut to about 40 characters with `…`, so a cell cannot flood or steer a
/// terminal, or break a message in two.
pub fn shown(text: &str) -> String {
    let (mut out, mut width) = (String::new(), 0);
    for c in text.chars() {
        // Quotes stay as they are: they are printable, and `\"` would only be noise.
        let escaped = c.escape_debug();
        let n = if matches!(c, '"' | '\'') { 1 } else { escaped.len() };
        if width + n > SHOWN {
            out.push('…');
            break;
        }
        match c {
            '"' | '\'' => out.push(c),
            _ => out.extend(escaped),
        }
        width += n;
    }
    out
}

/// The header's names for a message: as many as fit in about 80 characters, then how many more.
pub(crate) fn listed(names: &[String]) -> String {
    let mut list = String::new();
    for (i, name) in names.iter().enumerate() {
        if list.len() > 80 {
            return format!("{list}, … ({} columns)", names.len());
        }
        if i > 0 {
            list.push_str(", ");
        }
        list.push_str(&shown(name));
    }
    list
}

/// How cells are read: the decimal mark, and the delimiter (for a hint).
#[derive(Clone, Copy)]
struct Cells {
    decimal_comma: bool,
    delimiter: u8,
}

/// `text` with its decimal comma as a point, parsed; a `.` is refused (a thousands separator,
/// most likely). Short cells are rewritten on the stack.
fn parse_decimal_comma(text: &str) -> Option<f64> {
    if text.contains('.') {
        return None;
    }
    let mut stack = [0u8; 64];
    let Some(copy) = stack.get_mut(..text.len()) else {
        return text.replace(',', ".").parse().ok();
    };
    copy.copy_from_slice(text.as_bytes());
    copy.iter_mut().filter(|b| **b == b',').for_each(|b| *b = b'.');
    // An ASCII byte replaced by another: still UTF-8.
    std::str::from_utf8(copy).ok()?.parse().ok()
}

/// A feature cell: a finite number that fits in f32.
fn parse_number(text: &str, cells: Cells) -> std::result::Result<f32, String> {
    if text.is_empty() {
        return Err("empty cell".into());
    }
    let parsed = if cells.decimal_comma { parse_decimal_comma(text) } else { text.parse().ok() };
    let value: f64 = parsed.ok_or_else(|| {
        let hint = if cells.decimal_comma {
            " (with --decimal-comma, `,` is the decimal mark and `.` is refused)"
        } else if text.contains(',') && cells.delimiter != b',' {
            " (for a decimal comma, use --decimal-comma)"
        } else {
            ""
        };
        format!("`{}` is not a number{hint}", shown(text))
    })?;
    if !value.is_finite() {
        return Err(format!("`{}` is not a finite number", shown(text)));
    }
    if value.abs() > f64::from(f32::MAX) {
        return Err(format!("`{}` overflows a 32-bit float", shown(text)));
    }
    Ok(value as f32)
}

/// A label cell: 0/1, 0.0/1.0 or true/false.
fn parse_label(text: &str, cells: Cells) -> std::result::Result<f32, String> {
    if text.eq_ignore_ascii_case("true") {
        return Ok(1.0);
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(0.0);
    }
    match parse_number(text, cells) {
        Ok(v) if v == 0.0 || v == 1.0 => Ok(v),
        Ok(_) => Err(format!("label `{}` is not one of the two classes (0/1, 0.0/1.0, true/false)", shown(text))),
        Err(e) => Err(format!("label {e}")),
    }
}

/// Parses `bytes` (named `file` in errors) as a CSV table with a header row, its delimiter
/// detected (gzip and zstd bytes are decoded first).
pub fn parse(file: &str, bytes: &[u8], label: &LabelColumn) -> Result<Table> {
    parse_with(file, bytes, label, &Format::default())
}

/// [`parse`] of bytes written in `format`.
pub fn parse_with(file: &str, bytes: &[u8], label: &LabelColumn, format: &Format) -> Result<Table> {
    collect(file, |on_row| read_rows(file, bytes, label, format, on_row))
}

/// What reads rows into a row callback: [`read_rows`] or [`read_rows_background`] on some input.
type RowReader<'a> = dyn FnMut(&[f32], Option<f32>) -> Result<()> + 'a;

/// A whole table from `read`, handed the callback that keeps each row.
fn collect(file: &str, read: impl FnOnce(&mut RowReader) -> Result<Columns>) -> Result<Table> {
    let (mut features, mut labels) = (vec![], vec![]);
    let columns = read(&mut |row, label| {
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

/// Reads CSV rows one at a time from `input` (gzip or zstd decoded as it is read), checking each
/// cell as [`parse`] does, and hands each row's features and label to `on_row`; memory stays one
/// row whatever the file's size.
pub(crate) fn read_rows(
    file: &str,
    input: impl Read,
    label: &LabelColumn,
    format: &Format,
    on_row: impl FnMut(&[f32], Option<f32>) -> Result<()>,
) -> Result<Columns> {
    read_rows_buffered(file, input, label, format, on_row, BUFFER)
}

/// [`read_rows`] with gzip or zstd decoded on a thread of its own, so that decoding and parsing
/// overlap (an input owned, a file or standard input).
pub(crate) fn read_rows_background(
    file: &str,
    input: impl Read + Send + 'static,
    label: &LabelColumn,
    format: &Format,
    on_row: impl FnMut(&[f32], Option<f32>) -> Result<()>,
) -> Result<Columns> {
    let file = named(file);
    format.check().map_err(|m| whole(file, m))?;
    let input = compressed::open(input).and_then(Decoded::in_background).map_err(|e| not_read(file, e, None))?;
    parse_rows(file, input, label, format, on_row, BUFFER)
}

/// `-` is standard input (`convert -` passes its path as it is): named as `read_file` names it.
fn named(file: &str) -> &str {
    if file == "-" {
        "<stdin>"
    } else {
        file
    }
}

/// [`read_rows`] with a `buffer`-byte read buffer (the tests use tiny ones to split every token).
fn read_rows_buffered(
    file: &str,
    input: impl Read,
    label: &LabelColumn,
    format: &Format,
    on_row: impl FnMut(&[f32], Option<f32>) -> Result<()>,
    buffer: usize,
) -> Result<Columns> {
    let file = named(file);
    format.check().map_err(|m| whole(file, m))?;
    let input = compressed::open(input).map_err(|e| not_read(file, e, None))?;
    parse_rows(file, input, label, format, on_row, buffer)
}

/// A table opened for reading: its lexer past the header, the header's names and line, how cells
/// are read, and the message for a header of one column.
struct Opened<'a, R> {
    lexer: Lexer<'a, R>,
    names: Vec<String>,
    header_line: u64,
    cells: Cells,
    one_column: String,
}

/// Opens the decoded `input`: the delimiter detected or set, the header read and checked (no empty
/// or duplicate name).
fn open_table<'a, R: Read>(
    file: &'a str,
    input: Decoded<R>,
    format: &Format,
    buffer: usize,
) -> Result<Opened<'a, Decoded<R>>> {
    let mut lexer = Lexer::new(file, input, buffer)?;
    if format.delimiter == Delimiter::Detect {
        let (found, line) = lexer.detect()?;
        if format.decimal_comma && found == Some(Delimiter::Comma) {
            let message = "--decimal-comma needs a delimiter other than `,`, and the header splits only on `,`; \
                           set --delimiter (`;`, tab or `|`)";
            return Err(Error::Input { location: format!("{file}:{line}"), message: message.into() });
        }
        lexer.delimiter = found.and_then(Delimiter::byte).unwrap_or(b',');
    } else {
        lexer.delimiter = format.delimiter.byte().unwrap_or(b',');
    }
    let cells = Cells { decimal_comma: format.decimal_comma, delimiter: lexer.delimiter };
    // Which delimiters gave a header of one column, for the message that says so.
    let one_column = match format.delimiter {
        Delimiter::Detect => {
            "the header is one column whether split on `,`, `;`, tab or `|` (all tried); set the delimiter \
             with --delimiter"
                .to_string()
        }
        given => format!("the header is one column split on {}, the --delimiter given", given.name()),
    };
    let mut record = Record::default();
    // The header: the first record that is not a blank line.
    loop {
        if !lexer.record(&mut record)? {
            return Err(whole(file, "empty file: expected a header row and data rows".into()));
        }
        if !record.is_blank(lexer.delimiter) {
            break;
        }
    }
    let header_line = record.first_line;
    let text = record.text(file)?;
    let names: Vec<String> = (0..record.len()).map(|i| record.field(text, i).to_string()).collect();
    // One pass with a map: a header of 100k names is checked in linear time.
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(at(file, header_line, i + 1, "empty column name in the header".into()));
        }
        if let Some(j) = seen.insert(name.as_str(), i) {
            let message = format!("duplicate column name `{}` (also column {})", shown(name), j + 1);
            return Err(at(file, header_line, i + 1, message));
        }
    }
    Ok(Opened { lexer, names, header_line, cells, one_column })
}

/// The next data record into `record` (blank lines skipped), checked to have the header's `width`
/// fields; false at the end of the input.
fn next_row<R: Read>(lexer: &mut Lexer<'_, R>, record: &mut Record, width: usize) -> Result<bool> {
    loop {
        if !lexer.record(record)? {
            return Ok(false);
        }
        if !record.is_blank(lexer.delimiter) {
            break;
        }
    }
    if record.len() != width {
        let column = record.len().min(width) + 1;
        let message = format!("row has {} fields, the header has {width}{}", record.len(), record.spans());
        return Err(at(lexer.file, record.first_line, column, message));
    }
    Ok(true)
}

/// One data row's cells as text, for readers that interpret cells themselves
/// ([`crate::data::recipe`]).
pub(crate) struct RawRow<'a> {
    record: &'a Record,
    text: &'a str,
    cells: Cells,
}

impl RawRow<'_> {
    /// Cell `i` (from 0), trimmed.
    pub(crate) fn cell(&self, i: usize) -> &str {
        self.record.field(self.text, i)
    }

    /// The physical line the row starts on.
    pub(crate) fn line(&self) -> u64 {
        self.record.first_line
    }

    /// ` (the record spans lines a-b)` for a row over several lines, else empty.
    pub(crate) fn spans(&self) -> String {
        self.record.spans()
    }

    /// `text` as a feature value, as [`parse`] reads it (the message without a location).
    pub(crate) fn number(&self, text: &str) -> std::result::Result<f32, String> {
        parse_number(text, self.cells)
    }
}

/// Reads the CSV `input` (named `file`; gzip or zstd decoded on a thread of its own) in `format`:
/// `on_header` makes a state from the header's names, its line, and what to say of a header of one
/// column (which delimiters were tried); then `on_row` takes each data row's cells. The same
/// checks as [`parse`] up to the cells' meaning.
pub(crate) fn read_raw<S>(
    file: &str,
    input: impl Read + Send + 'static,
    format: &Format,
    on_header: impl FnOnce(&[String], u64, &str) -> Result<S>,
    mut on_row: impl FnMut(&mut S, &RawRow) -> Result<()>,
) -> Result<S> {
    let file = named(file);
    format.check().map_err(|m| whole(file, m))?;
    let input = compressed::open(input).and_then(Decoded::in_background).map_err(|e| not_read(file, e, None))?;
    let Opened { mut lexer, names, header_line, cells, one_column } = open_table(file, input, format, BUFFER)?;
    let mut state = on_header(&names, header_line, &one_column)?;
    let mut record = Record::default();
    let mut rows = 0usize;
    while next_row(&mut lexer, &mut record, names.len())? {
        let text = record.text(file)?;
        on_row(&mut state, &RawRow { record: &record, text, cells })?;
        rows += 1;
    }
    if rows == 0 {
        return Err(whole(file, "no data rows after the header".into()));
    }
    Ok(state)
}

/// The rows of the decoded `input`, through a `buffer`-byte read buffer.
fn parse_rows<R: Read>(
    file: &str,
    input: Decoded<R>,
    label: &LabelColumn,
    format: &Format,
    mut on_row: impl FnMut(&[f32], Option<f32>) -> Result<()>,
    buffer: usize,
) -> Result<Columns> {
    let Opened { mut lexer, names, header_line, cells, one_column } = open_table(file, input, format, buffer)?;
    let seen: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let position = |name: &str| seen.get(name).copied();
    // The label column to parse, and a column to ignore (a label in prediction input).
    let (label_at, skip_at) = match label {
        LabelColumn::Last if names.len() < 2 => {
            let message = format!("need at least one feature column and a label column: {one_column}");
            return Err(at(file, header_line, 1, message));
        }
        LabelColumn::Last => (Some(names.len() - 1), None),
        LabelColumn::Named(name) => {
            let i = position(name).ok_or_else(|| Error::Input {
                location: format!("{file}:{header_line}"),
                message: format!("no label column `{}` in the header (columns: {})", shown(name), listed(&names)),
            })?;
            (Some(i), None)
        }
        LabelColumn::Skip(name) => (None, position(name)),
    };
    let is_feature = |i: usize| Some(i) != label_at && Some(i) != skip_at;
    let feature_names: Vec<String> = (0..names.len()).filter(|&i| is_feature(i)).map(|i| names[i].clone()).collect();
    if feature_names.is_empty() {
        let hint = if names.len() == 1 { format!(": {one_column}") } else { String::new() };
        return Err(at(file, header_line, 1, format!("no feature columns{hint}")));
    }
    let columns = Columns { feature_names, label_name: label_at.map(|i| names[i].clone()) };
    let (mut features, mut rows) = (Vec::with_capacity(columns.feature_names.len()), 0usize);
    let mut record = Record::default();
    while next_row(&mut lexer, &mut record, names.len())? {
        let line = record.first_line;
        let text = record.text(file)?;
        features.clear();
        let mut label_value = None;
        for (i, name) in names.iter().enumerate() {
            let cell = record.field(text, i);
            let bad = |m: String| at(file, line, i + 1, format!("{m} (column `{}`){}", shown(name), record.spans()));
            if Some(i) == label_at {
                let not_binary = |m: String| match bad(m) {
                    Error::Input { location, message } => Error::LabelNotBinary { location, message },
                    other => other,
                };
                label_value = Some(parse_label(cell, cells).map_err(not_binary)?);
            } else if is_feature(i) {
                features.push(parse_number(cell, cells).map_err(bad)?);
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

/// One CSV record: its fields' text back to back, quotes removed, untrimmed.
#[derive(Default)]
struct Record {
    data: Vec<u8>,
    /// Where each field ends in `data`.
    ends: Vec<usize>,
    /// The physical lines the record starts and ends on.
    first_line: u64,
    last_line: u64,
    /// Whether a field was quoted (`""` alone on a line is a record, not a blank line).
    quoted: bool,
}

impl Record {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The fields' text; the reader let only UTF-8 through, so the error is for form's sake.
    fn text(&self, file: &str) -> Result<&str> {
        std::str::from_utf8(&self.data).map_err(|_| whole(file, format!("not UTF-8 text (line {})", self.first_line)))
    }

    /// Field `i` of `text` (from [`Record::text`]), trimmed. Fields end at ASCII bytes, so each is
    /// a whole slice of characters.
    fn field<'t>(&self, text: &'t str, i: usize) -> &'t str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        text.get(start..self.ends[i]).unwrap_or_default().trim()
    }

    /// A line of only spaces or tabs: skipped like an empty line (whatever the delimiter, so a
    /// line of tabs in a TSV file is blank too).
    fn is_blank(&self, delimiter: u8) -> bool {
        let fields = self.ends.len() == 1 || delimiter == b'\t';
        !self.quoted && fields && std::str::from_utf8(&self.data).is_ok_and(|t| t.trim().is_empty())
    }

    /// For a message about a record over several lines (a quoted line break): which lines.
    fn spans(&self) -> String {
        if self.last_line > self.first_line {
            format!(" (the record spans lines {}-{})", self.first_line, self.last_line)
        } else {
            String::new()
        }
    }
}

/// Why the input stops being text at some byte.
#[derive(Clone, Copy, Debug)]
enum NotText {
    Nul,
    Utf8,
}

/// Splits the input into records, a buffer at a time, counting physical lines and letting through
/// only UTF-8 text without NUL bytes.
struct Lexer<'a, R> {
    file: &'a str,
    input: R,
    /// The byte that ends a field (`,` until the header says otherwise).
    delimiter: u8,
    buf: Vec<u8>,
    /// The next byte to consume.
    pos: usize,
    /// The end of the bytes checked as text: `buf[pos..limit]` may be consumed.
    limit: usize,
    /// The end of the bytes read.
    end: usize,
    /// The file offset of `buf[0]`.
    offset: u64,
    /// The physical line of `buf[pos]`.
    line: u64,
    /// The first byte that is not text (its file offset), once read.
    bad: Option<(u64, NotText)>,
    eof: bool,
}

impl<'a, R: Read> Lexer<'a, R> {
    /// Reads the first 64 KiB (or the whole input, if shorter) and refuses it if it is binary,
    /// before anything else is read. `buffer` must hold at least 4 bytes (a UTF-8 character cut
    /// by a read).
    fn new(file: &'a str, input: R, buffer: usize) -> Result<Self> {
        let mut lexer = Lexer {
            file,
            input,
            delimiter: b',',
            buf: vec![0; buffer.max(4)],
            pos: 0,
            limit: 0,
            end: 0,
            offset: 0,
            line: 1,
            bad: None,
            eof: false,
        };
        let sniff = SNIFF.min(lexer.buf.len());
        while lexer.end < sniff && !lexer.eof {
            lexer.read_more()?;
        }
        lexer.check();
        let head = &lexer.buf[..lexer.end.min(sniff)];
        if let Some((at, _)) = lexer.bad.filter(|_| head.contains(&0)) {
            let line = 1 + lines_in(&lexer.buf[..at as usize]);
            return Err(whole(file, format!("not a text file (binary content at byte {at}, line {line})")));
        }
        if lexer.buf[..lexer.limit].starts_with("\u{feff}".as_bytes()) {
            lexer.pos = 3;
        }
        Ok(lexer)
    }

    /// Reads more input after `buf[..end]`, retrying interrupted reads. A compressed stream that
    /// breaks off is reported with the whole lines it gave: those consumed and those buffered.
    fn read_more(&mut self) -> Result<()> {
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    let lines = self.line - 1 + lines_in(&self.buf[self.pos..self.end]);
                    return Err(not_read(self.file, error, Some(lines)));
                }
            }
            return Ok(());
        }
    }

    /// Moves the bytes not yet consumed to the front of the buffer.
    fn compact(&mut self) {
        self.buf.copy_within(self.pos..self.end, 0);
        self.offset += self.pos as u64;
        (self.end, self.limit, self.pos) = (self.end - self.pos, self.limit - self.pos, 0);
    }

    /// Makes the `n` bytes after `pos` checked text, when the input has them before its end or a
    /// byte that is not text, growing the buffer up to [`MAX_HEADER`]; returns how many are.
    fn ahead(&mut self, n: usize) -> Result<usize> {
        while self.limit - self.pos < n && !self.eof && self.bad.is_none() {
            if self.pos > 0 {
                self.compact();
            }
            if self.end == self.buf.len() {
                if self.buf.len() >= MAX_HEADER {
                    break;
                }
                let grown = self.buf.len().saturating_mul(2).min(MAX_HEADER);
                self.buf.resize(grown, 0);
            }
            self.read_more()?;
            self.check();
        }
        Ok(self.limit - self.pos)
    }

    /// The delimiter that splits the header (the first line that is not blank) into the most
    /// fields, each candidate reading it as [`Lexer::record`] would (quotes included), or `None`
    /// when none splits it; and the header's line. A header that splits on two candidates is an
    /// error. Consumes nothing.
    fn detect(&mut self) -> Result<(Option<Delimiter>, u64)> {
        let mut want = (self.limit - self.pos).max(1);
        let (skipped, counts) = loop {
            let have = self.ahead(want)?;
            // Fewer than asked for: the input (or what may be held of it) ends here.
            let done = have < want;
            let bytes = &self.buf[self.pos..self.pos + have];
            if let Some((start, skipped)) = header_start(bytes, done) {
                let counts =
                    Delimiter::CANDIDATES.map(|d| count_fields(&bytes[start..], d.byte().unwrap_or(b','), done));
                if counts.iter().all(Option::is_some) {
                    break (skipped, counts.map(Option::unwrap_or_default));
                }
            }
            want = have.saturating_mul(2).max(have + 1);
        };
        let mut split: Vec<(usize, Delimiter)> =
            Delimiter::CANDIDATES.into_iter().zip(counts).filter(|&(_, n)| n > 1).map(|(d, n)| (n, d)).collect();
        // Most fields first; a tie keeps the candidates' order.
        split.sort_by_key(|&(n, _)| std::cmp::Reverse(n));
        let line = self.line + skipped;
        match split[..] {
            [] => Ok((None, line)),
            [(_, only)] => Ok((Some(only), line)),
            [(n, first), (m, second), ..] => Err(Error::Input {
                location: format!("{}:{line}", self.file),
                message: format!(
                    "ambiguous delimiter: the header splits into {n} fields on {} and {m} on {}; set --delimiter",
                    first.name(),
                    second.name()
                ),
            }),
        }
    }

    /// Checks the bytes read since the last check: `limit` moves up to the first NUL byte or
    /// invalid UTF-8 (recorded in `bad`), or to a character a read cut in two.
    fn check(&mut self) {
        if self.bad.is_some() {
            return;
        }
        let new = &self.buf[self.limit..self.end];
        let nul = if new.contains(&0) { new.iter().position(|&b| b == 0) } else { None };
        let text = &new[..nul.unwrap_or(new.len())];
        let (valid, invalid) = match std::str::from_utf8(text) {
            Ok(_) => (text.len(), false),
            // A character cut at the end is completed by the next read, unless there is none.
            Err(e) => (e.valid_up_to(), e.error_len().is_some() || self.eof || nul.is_some()),
        };
        self.limit += valid;
        let at = self.offset + self.limit as u64;
        if invalid {
            self.bad = Some((at, NotText::Utf8));
        } else if nul.is_some() {
            self.bad = Some((at, NotText::Nul));
        }
    }

    /// Makes `buf[pos]` available, reading more when needed; false at the end of the input. A
    /// byte that is not text is an error once it is reached (so errors come in file order).
    fn fill(&mut self) -> Result<bool> {
        loop {
            if self.pos < self.limit {
                return Ok(true);
            }
            if let Some((at, why)) = self.bad {
                let line = self.line;
                return Err(whole(
                    self.file,
                    match why {
                        NotText::Nul => format!("not a text file (binary content at byte {at}, line {line})"),
                        NotText::Utf8 => {
                            let byte = self.buf[self.pos];
                            format!("not UTF-8 text (invalid byte 0x{byte:02X} at byte {at}, line {line})")
                        }
                    },
                ));
            }
            if self.eof {
                return Ok(false);
            }
            // Keep only what is left (at most a cut character), then read on.
            self.compact();
            self.read_more()?;
            self.check();
        }
    }

    #[inline]
    fn peek(&mut self) -> Result<Option<u8>> {
        if self.pos == self.limit && !self.fill()? {
            return Ok(None);
        }
        Ok(Some(self.buf[self.pos]))
    }

    /// Consumes the line break at `pos` (`\n`, `\r\n` or a lone `\r`: one line), keeping its bytes
    /// in `keep` (a quoted field's text).
    fn line_break(&mut self, keep: Option<&mut Vec<u8>>) -> Result<()> {
        let first = self.buf[self.pos];
        self.pos += 1;
        self.line += 1;
        let crlf = first == b'\r' && self.peek()? == Some(b'\n');
        if crlf {
            self.pos += 1;
        }
        if let Some(keep) = keep {
            keep.push(first);
            if crlf {
                keep.push(b'\n');
            }
        }
        Ok(())
    }

    /// The bytes up to the next byte in `stops` (or the checked end of the buffer), appended to
    /// `out`, as one copy.
    #[inline]
    fn run(&mut self, out: &mut Vec<u8>, stops: impl Fn(u8) -> bool) -> &[u8] {
        let available = &self.buf[self.pos..self.limit];
        let n = available.iter().position(|&b| stops(b)).unwrap_or(available.len());
        out.extend_from_slice(&available[..n]);
        self.pos += n;
        &self.buf[self.pos - n..self.pos]
    }

    /// Reads the next record into `record`; false at the end of the input. Blank lines before it
    /// are skipped (and counted).
    fn record(&mut self, record: &mut Record) -> Result<bool> {
        record.data.clear();
        record.ends.clear();
        record.quoted = false;
        loop {
            match self.peek()? {
                None => return Ok(false),
                Some(b'\n' | b'\r') => self.line_break(None)?,
                Some(_) => break,
            }
        }
        record.first_line = self.line;
        // Only spaces or tabs so far in this field: a quote here opens a quoted field.
        let mut opens = true;
        let delimiter = self.delimiter;
        loop {
            self.bounded(record)?;
            let run = self.run(&mut record.data, |b| b == delimiter || matches!(b, b'"' | b'\n' | b'\r'));
            opens = opens && run.iter().all(|&b| b == b' ' || b == b'\t');
            match self.peek()? {
                None => break,
                Some(b) if b == delimiter => {
                    self.pos += 1;
                    record.ends.push(record.data.len());
                    opens = true;
                }
                Some(b'"') => {
                    self.pos += 1;
                    if opens {
                        record.data.truncate(record.ends.last().copied().unwrap_or(0));
                        record.quoted = true;
                        self.quoted(record)?;
                    } else {
                        // A quote inside a field is text, as the csv crate and Python read it.
                        record.data.push(b'"');
                    }
                    opens = false;
                }
                Some(b'\n' | b'\r') => {
                    record.last_line = self.line;
                    record.ends.push(record.data.len());
                    self.line_break(None)?;
                    return Ok(true);
                }
                Some(_) => {}
            }
        }
        record.last_line = self.line;
        record.ends.push(record.data.len());
        Ok(true)
    }

    /// Refuses a record past [`MAX_RECORD`] bytes or [`MAX_FIELDS`] fields, before it grows on.
    fn bounded(&self, record: &Record) -> Result<()> {
        if record.data.len() > MAX_RECORD || record.ends.len() > MAX_FIELDS {
            let message = format!(
                "a record longer than {} MiB or of more than {MAX_FIELDS} fields, from line {}: not a table",
                MAX_RECORD >> 20,
                record.first_line
            );
            return Err(Error::Input { location: format!("{}:{}", self.file, record.first_line), message });
        }
        Ok(())
    }

    /// Reads a quoted field's text after its opening quote, through the closing quote (`""` is a
    /// quote); text after the closing quote is read on as part of the field.
    fn quoted(&mut self, record: &mut Record) -> Result<()> {
        let (line, column) = (self.line, record.ends.len() + 1);
        loop {
            self.bounded(record)?;
            self.run(&mut record.data, |b| matches!(b, b'"' | b'\n' | b'\r'));
            match self.peek()? {
                None => {
                    let message = format!(
                        "unterminated quote starting at line {line}: the quoted field runs to the end of the file"
                    );
                    return Err(at(self.file, line, column, message));
                }
                Some(b'"') => {
                    self.pos += 1;
                    if self.peek()? != Some(b'"') {
                        return Ok(());
                    }
                    self.pos += 1;
                    record.data.push(b'"');
                }
                Some(b'\n' | b'\r') => self.line_break(Some(&mut record.data))?,
                Some(_) => {}
            }
        }
    }
}

/// The error for input that could not be read: a compressed stream that broke off after `lines`
/// whole lines (when known), a compression format not read, or the system's error.
pub(crate) fn not_read(file: &str, error: std::io::Error, lines: Option<u64>) -> Error {
    use compressed::Broken;
    let message = match error.get_ref().and_then(|e| e.downcast_ref::<Broken>()) {
        Some(Broken::Corrupt(format)) => match lines {
            Some(0) | None => format!("{format} stream corrupt or truncated before the end of line 1"),
            Some(n) => format!("{format} stream corrupt or truncated after line {n}"),
        },
        Some(Broken::Unsupported(format)) => {
            format!("{format}-compressed: decompress it first (gzip and zstd files are read as they are)")
        }
        Some(Broken::Window(bytes)) => format!(
            "a zstd frame needs a {} MiB window, more than the 128 MiB read (recompress without --long)",
            bytes >> 20
        ),
        None => return Error::Io { path: file.into(), error },
    };
    whole(file, message)
}

/// Where the header starts in `bytes` (the input from the reader's position), past blank lines
/// (nothing but whitespace), and how many lines those were; `None` when more input is needed.
fn header_start(bytes: &[u8], done: bool) -> Option<(usize, u64)> {
    let (mut at, mut lines) = (0, 0);
    loop {
        let rest = &bytes[at..];
        let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
            return done.then_some((at, lines));
        };
        if !std::str::from_utf8(&rest[..end]).is_ok_and(|t| t.trim().is_empty()) {
            return Some((at, lines));
        }
        let crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
        if rest[end] == b'\r' && end + 1 == rest.len() && !done {
            // A `\r` at the end of what is read: a `\n` may follow.
            return None;
        }
        at += end + 1 + usize::from(crlf);
        lines += 1;
    }
}

/// The fields of the record at the start of `bytes` split on `delimiter`, read as
/// [`Lexer::record`] reads them (a quote opens a quoted field where only spaces or tabs precede it
/// in the field); `None` when the record may go on past `bytes` and the input is not `done`.
fn count_fields(bytes: &[u8], delimiter: u8, done: bool) -> Option<usize> {
    let (mut fields, mut opens, mut i) = (1, true, 0);
    while i < bytes.len() {
        match bytes[i] {
            b if b == delimiter => (fields, opens) = (fields + 1, true),
            b'\n' | b'\r' => return Some(fields),
            b'"' if opens => {
                // To the closing quote (`""` is a quote within).
                loop {
                    let Some(k) = bytes[i + 1..].iter().position(|&b| b == b'"') else {
                        return done.then_some(fields);
                    };
                    i += k + 1;
                    match bytes.get(i + 1) {
                        Some(b'"') => i += 1,
                        None if !done => return None,
                        _ => break,
                    }
                }
                opens = false;
            }
            b' ' | b'\t' => {}
            _ => opens = false,
        }
        i += 1;
    }
    done.then_some(fields)
}

/// Physical lines ended in `bytes`: each `\n`, and each `\r` not followed by `\n`.
fn lines_in(bytes: &[u8]) -> u64 {
    let mut lines = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            lines += 1;
        }
    }
    lines
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
    fn quotes_escapes_blank_lines_and_lone_cr_read_as_the_csv_crate_reads_them() {
        let t = ok("\n \n\"a \"\"x\"\"\", \"b\"\r\r\n  \n\" 1 \",\"0\"\r\n\n2,1\r3,0");
        assert_eq!((t.feature_names, t.label_name), (vec!["a \"x\"".to_string()], Some("b".into())));
        assert_eq!((t.features, t.labels), (vec![1.0, 2.0, 3.0], vec![0.0, 1.0, 0.0]));
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
            (b"a,y\n\x00\x01\x02", last(), "t.csv: not a text file (binary content at byte 4, line 2)"),
            (b"a,y\n1,0\n\xff\xfe,1\n", last(), "t.csv: not UTF-8 text (invalid byte 0xFF at byte 8, line 3)"),
        ];
        for (text, label, expected) in cases {
            let e = err(text, label.clone());
            assert!(e.starts_with(expected), "{:?}: got {e:?}, want {expected:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn line_numbers_are_physical_lines_whatever_the_line_endings_and_blank_lines() {
        let last = LabelColumn::Last;
        let cases: &[(&[u8], &str)] = &[
            // CRLF, and a blank line before the bad row: line 5 as an editor shows it.
            (b"a,b,y\r\n1,2,0\r\n\r\n3,4,1\r\n5,x,0\r\n", "t.csv:5:2: `x` is not a number (column `b`)"),
            (b"a,y\r1,0\r\r\rx,1\r", "t.csv:5:1: `x` is not a number"),
            (b"a,y\n1,0\n  \n\t\nx,1\n", "t.csv:5:1: `x` is not a number"),
            // A header after blank lines is reported at its own line.
            (b"\n\r\n  \na,b,a\n1,2,0\n", "t.csv:4:3: duplicate column name `a` (also column 1)"),
            (b"\n\nq\n1\n", "t.csv:3:1: need at least one feature column"),
            // A quoted line break: the record's first line, and the lines it spans.
            (
                b"a,b,y\n1,\"2\n\n3\",0\n",
                "t.csv:2:2: `2\\n\\n3` is not a number (column `b`) (the record spans lines 2-4)",
            ),
            (
                b"a,y\n\"1\r\n\",0,1\nx,0\n",
                "t.csv:2:3: row has 3 fields, the header has 2 (the record spans lines 2-3)",
            ),
            (b"a,\"y\ny\"\n1,0\nx,1\n", "t.csv:4:1: `x` is not a number"),
            (b"a,y\n1,0\n\"2,1\n3,0\n", "t.csv:3:1: unterminated quote starting at line 3: the quoted field runs"),
            (b"a,y\n1,\"0\"\"\n", "t.csv:2:2: unterminated quote starting at line 2"),
            (b"a,y\n1,0\n\n\xc3\x28,1\n", "t.csv: not UTF-8 text (invalid byte 0xC3 at byte 9, line 4)"),
        ];
        for (text, expected) in cases {
            let e = err(text, last.clone());
            assert!(e.starts_with(expected), "{:?}: got {e:?}, want {expected:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn cell_text_in_messages_is_escaped_and_cut() {
        let e = err(b"a,y\n\x1b[2J\x1b[31mred,0\n", LabelColumn::Last);
        assert_eq!(e, "t.csv:2:1: `\\u{1b}[2J\\u{1b}[31mred` is not a number (column `a`)");
        let mut huge = b"a,y\n".to_vec();
        huge.extend(std::iter::repeat_n(b'7', 1 << 20));
        huge.extend(b"x,1\n");
        let e = err(&huge, LabelColumn::Last);
        assert_eq!(e, format!("t.csv:2:1: `{}…` is not a number (column `a`)", "7".repeat(40)));
        let name = "\u{202e}\u{7}b".repeat(30);
        let e = err(format!("{name},y,{name}\n1,0,1\n").as_bytes(), LabelColumn::Last);
        assert_eq!(
            e,
            format!("t.csv:1:3: duplicate column name `{}\\u{{202e}}…` (also column 1)", r"\u{202e}\u{7}b".repeat(2))
        );
        let wide: Vec<String> = (0..1000).map(|i| format!("column{i}")).collect();
        let e = err(format!("{}\n", wide.join(",")).as_bytes(), LabelColumn::Named("\n".into()));
        assert_eq!(
            e,
            "t.csv:1: no label column `\\n` in the header (columns: column0, column1, column2, column3, column4, \
             column5, column6, column7, column8, column9, … (1000 columns))"
        );
        assert_eq!(shown("ab\"c'\td\r\n"), "ab\"c'\\td\\r\\n");
    }

    #[test]
    fn binary_input_is_refused_from_its_first_64_kib() {
        let mut rows = b"a,y\n".to_vec();
        while rows.len() < 1024 {
            rows.extend(b"1.5,0\n2.5,1\n");
        }
        let n = rows.len();
        rows.extend([0; 100]);
        rows.extend(b"x,1\n");
        let lines = 1 + rows[..n].iter().filter(|&&b| b == b'\n').count();
        assert_eq!(
            err(&rows, LabelColumn::Last),
            format!("t.csv: not a text file (binary content at byte {n}, line {lines})")
        );
        // A bad cell before the NUL byte does not matter: binary content wins within 64 KiB.
        assert!(
            err(b"a,y\nx,0\n\x00", LabelColumn::Last).starts_with("t.csv: not a text file (binary content at byte 8")
        );
        assert_eq!(
            err(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", LabelColumn::Last),
            "t.csv: not a text file (binary content at byte 0, line 1)"
        );
        // A gzip header and nothing after it: decoded, and cut short.
        assert_eq!(
            err(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", LabelColumn::Last),
            "t.csv: gzip stream corrupt or truncated before the end of line 1"
        );
        // An endless input is read no further than its first 64 KiB (and the first read).
        struct Counted(u64);
        impl Read for Counted {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                out.fill(0);
                self.0 += out.len() as u64;
                Ok(out.len())
            }
        }
        let mut zero = Counted(0);
        let e = read_rows("zero", &mut zero, &LabelColumn::Last, &Format::default(), |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "zero: not a text file (binary content at byte 0, line 1)");
        assert_eq!(zero.0, BUFFER as u64);
        // Past the first 64 KiB, a NUL byte is an error where it is reached, in file order.
        let mut long = b"a,y\n".to_vec();
        while long.len() < SNIFF {
            long.extend(b"1,0\n");
        }
        let line = 1 + long.iter().filter(|&&b| b == b'\n').count();
        long.extend(b"1\x00,0\n");
        let e = err(&long, LabelColumn::Last);
        assert_eq!(e, format!("t.csv: not a text file (binary content at byte {}, line {line})", long.len() - 4));
    }

    fn with(text: &[u8], delimiter: Delimiter, decimal_comma: bool) -> Result<Table> {
        parse_with("t.csv", text, &LabelColumn::Last, &Format { delimiter, decimal_comma })
    }

    #[test]
    fn every_delimiter_is_detected_from_the_header_and_reads_as_commas_do() {
        let comma = ok("a,\"b c\",y\n1,2.5,0\n-3e2,4,1\n");
        assert_eq!(
            (comma.features.as_slice(), comma.labels.as_slice()),
            (&[1.0, 2.5, -300.0, 4.0][..], &[0.0, 1.0][..])
        );
        for (d, given) in [(";", Delimiter::Semicolon), ("\t", Delimiter::Tab), ("|", Delimiter::Pipe)] {
            let text = format!("a{d}\"b c\"{d}y\n1{d}2.5{d}0\n-3e2{d}4{d}1\n");
            assert_eq!(ok(&text), comma, "{d:?}");
            assert_eq!(with(text.as_bytes(), given, false).unwrap(), comma, "{d:?}");
        }
        for (text, delimiter) in [(",", Delimiter::Comma), (";", Delimiter::Semicolon), ("tab", Delimiter::Tab)] {
            assert_eq!(text.parse::<Delimiter>(), Ok(delimiter));
        }
        assert_eq!(r"\t".parse::<Delimiter>(), Ok(Delimiter::Tab));
        assert_eq!("\t".parse::<Delimiter>(), Ok(Delimiter::Tab));
        assert_eq!("|".parse::<Delimiter>(), Ok(Delimiter::Pipe));
        assert_eq!(":".parse::<Delimiter>(), Err("`:` is not a delimiter (one of `,` `;` tab `|`, or auto)".into()));
    }

    #[test]
    fn the_header_alone_decides_and_quotes_hide_other_delimiters() {
        // Cells hold commas (decimal commas), the header splits only on `;`.
        let t = with(b"a;b;y\n1,5;-2;0\n", Delimiter::Detect, true).unwrap();
        assert_eq!((t.feature_names, t.features, t.labels), (vec!["a".into(), "b".into()], vec![1.5, -2.0], vec![0.0]));
        // A quoted first name may hold any delimiter; a quoted name holding the file's own too.
        let t = ok("\"x;1|2\",\"y,\",z\n1,2,1\n");
        assert_eq!(t.feature_names, ["x;1|2", "y,"]);
        let t = ok("\"a,b\";c;y\n1;2;0\n");
        assert_eq!(t.feature_names, ["a,b", "c"]);
        // Blank lines (tabs and spaces too) before the header, a BOM, CRLF and lone CR.
        let t = ok("\u{feff}\t\r\n \t\n\ra\tb\ty\r\n1\t2\t1\r\n\t \t\n3\t4\t0");
        assert_eq!((t.feature_names.len(), t.features, t.labels), (2, vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 0.0]));
        // A given delimiter is not detected: this header splits two ways.
        let t = with(b"a;b,c;y\n1;2;0\n", Delimiter::Semicolon, false).unwrap();
        assert_eq!(t.feature_names, ["a", "b,c"]);
        // A header with a quoted line break, cut across tiny reads.
        let text = b"\"a\nb\"|\"c|d\"|y\n1|2|1\n";
        let (mut features, mut labels) = (vec![], vec![]);
        let read = Trickle { bytes: text, step: 1 };
        let columns = read_rows_buffered(
            "t.csv",
            read,
            &LabelColumn::Last,
            &Format::default(),
            |row, label| {
                features.extend_from_slice(row);
                labels.extend(label);
                Ok(())
            },
            4,
        )
        .unwrap();
        assert_eq!(
            (columns.feature_names, features, labels),
            (vec!["a\nb".into(), "c|d".into()], vec![1.0, 2.0], vec![1.0])
        );
    }

    #[test]
    fn decimal_commas_read_as_points_and_a_point_is_refused_with_them() {
        let t = with(b"a;b;y\n2,71;-0,5e2;1\n\"1,\";,25;0,0\n", Delimiter::Detect, true).unwrap();
        assert_eq!((t.features, t.labels), (vec![2.71, -50.0, 1.0, 0.25], vec![1.0, 0.0]));
        // A cell longer than the copy kept on the stack.
        let long = format!("0,{}", "1".repeat(100));
        let t = with(format!("a\ty\n{long}\t1\n").as_bytes(), Delimiter::Detect, true).unwrap();
        assert_eq!(t.features, [0.111_111_11]);
    }

    #[test]
    fn a_header_that_splits_two_ways_or_not_at_all_is_one_line_saying_so() {
        let detect = Format::default();
        let decimal = Format { delimiter: Delimiter::Detect, decimal_comma: true };
        let semicolon = Format { delimiter: Delimiter::Semicolon, decimal_comma: false };
        let comma_decimal = Format { delimiter: Delimiter::Comma, decimal_comma: true };
        let cases: &[(&[u8], Format, &str)] = &[
            (
                b"a;b;c,d\n1;2;3,4\n",
                detect,
                "t.csv:1: ambiguous delimiter: the header splits into 3 fields on `;` and 2 on `,`; set --delimiter",
            ),
            (
                b"a,b;c\n1,2\n",
                detect,
                "t.csv:1: ambiguous delimiter: the header splits into 2 fields on `,` and 2 on `;`",
            ),
            (
                b"\n  \na|b\tc\td\n",
                detect,
                "t.csv:3: ambiguous delimiter: the header splits into 3 fields on tab and 2 on `|`",
            ),
            (
                b"a b c\n1 2 3\n",
                detect,
                "t.csv:1:1: need at least one feature column and a label column: the header is one column whether \
                 split on `,`, `;`, tab or `|` (all tried); set the delimiter with --delimiter",
            ),
            (
                b"a,b,y\n1,2,0\n",
                semicolon,
                "t.csv:1:1: need at least one feature column and a label column: the header is one column split on \
                 `;`, the --delimiter given",
            ),
            (
                b"a,b,y\n1,2,0\n",
                decimal,
                "t.csv:1: --decimal-comma needs a delimiter other than `,`, and the header splits only on `,`; set \
                 --delimiter (`;`, tab or `|`)",
            ),
            (
                b"a;y\n1;0\n",
                comma_decimal,
                "t.csv: --decimal-comma needs a delimiter other than `,` (`;`, tab or `|`): with a decimal comma, `,` \
                 cannot also separate cells",
            ),
            (
                b"a;b;y\n1,5;2;0\n",
                detect,
                "t.csv:2:1: `1,5` is not a number (for a decimal comma, use --decimal-comma) (column `a`)",
            ),
            (
                b"a;b;y\n1.5;2;0\n",
                decimal,
                "t.csv:2:1: `1.5` is not a number (with --decimal-comma, `,` is the decimal mark and `.` is refused)",
            ),
            (b"a;b;y\n1.234,5;2;0\n", decimal, "t.csv:2:1: `1.234,5` is not a number (with --decimal-comma"),
            (b"a;b;y\n1,2,3;2;0\n", decimal, "t.csv:2:1: `1,2,3` is not a number (with --decimal-comma"),
            (b"a;b;y\n1;2;0,5\n", decimal, "t.csv:2:3: label `0,5` is not one of the two classes"),
        ];
        for (text, format, expected) in cases {
            let e = parse_with("t.csv", text, &LabelColumn::Last, format).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{:?}: got {e:?}, want {expected:?}", String::from_utf8_lossy(text));
        }
        // Prediction input of one column is one feature, whatever the delimiter.
        let t = parse("t.csv", b"x\n1\n2\n", &LabelColumn::Skip("y".into())).unwrap();
        assert_eq!((t.feature_names, t.features), (vec!["x".into()], vec![1.0, 2.0]));
        let e = parse("t.csv", b"y;x\n1;2\n", &LabelColumn::Named("y".into()));
        assert_eq!(e.unwrap().features, [2.0]);
        let e = parse("t.csv", b"y\n1\n", &LabelColumn::Named("y".into())).unwrap_err().to_string();
        assert!(e.starts_with("t.csv:1:1: no feature columns: the header is one column whether split on"), "{e}");
    }

    /// `text` gzip-compressed.
    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut out = flate2::write::GzEncoder::new(vec![], flate2::Compression::fast());
        out.write_all(text).unwrap();
        out.finish().unwrap()
    }

    /// `text` zstd-compressed (a frame with a checksum).
    fn zstd(text: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(text, ruzstd::encoding::CompressionLevel::Fastest)
    }

    /// A skippable zstd frame of `n` bytes.
    fn skippable(n: u32) -> Vec<u8> {
        let mut frame = vec![0x5a, 0x2a, 0x4d, 0x18];
        frame.extend(n.to_le_bytes());
        frame.extend(std::iter::repeat_n(7u8, n as usize));
        frame
    }

    /// A `;` table of `rows` rows with decimal commas.
    fn semicolons(rows: usize) -> Vec<u8> {
        let mut text = String::from("a;b;y\n");
        for i in 0..rows {
            text += &format!("{},{};{};{}\n", i, i % 7, -(i as i64) * 3, i % 2);
        }
        text.into_bytes()
    }

    /// `bytes` read through [`read_rows_background`] (decoded on a thread of its own): the
    /// features and labels, or the message.
    fn in_background(bytes: &[u8], format: &Format) -> std::result::Result<(Vec<f32>, Vec<f32>), String> {
        let (mut features, mut labels) = (vec![], vec![]);
        let input = std::io::Cursor::new(bytes.to_vec());
        read_rows_background("t.csv", input, &LabelColumn::Last, format, |row, label| {
            features.extend_from_slice(row);
            labels.extend(label);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        Ok((features, labels))
    }

    #[test]
    fn gzip_and_zstd_read_as_the_text_they_hold() {
        let text = semicolons(3000);
        let decimal = Format { delimiter: Delimiter::Detect, decimal_comma: true };
        let plain = parse_with("t.csv", &text, &LabelColumn::Last, &decimal).unwrap();
        assert_eq!((plain.rows(), &plain.features[2..4], plain.labels[1]), (3000, &[1.1f32, -3.0][..], 1.0));
        let half = text.len() / 2;
        let cases = [
            ("gzip", gzip(&text)),
            ("two gzip members", [gzip(&text[..half]), gzip(&text[half..])].concat()),
            ("zstd", zstd(&text)),
            (
                "zstd frames and skippable ones",
                [skippable(5), zstd(&text[..half]), skippable(0), zstd(&text[half..])].concat(),
            ),
        ];
        for (name, bytes) in cases {
            let t = parse_with("t.csv", &bytes, &LabelColumn::Last, &decimal).map_err(|e| e.to_string());
            assert_eq!(t.as_ref(), Ok(&plain), "{name}");
            let (mut features, mut labels) = (vec![], vec![]);
            let read = Trickle { bytes: &bytes, step: 3 };
            read_rows_buffered(
                "t.csv",
                read,
                &LabelColumn::Last,
                &decimal,
                |row, label| {
                    features.extend_from_slice(row);
                    labels.extend(label);
                    Ok(())
                },
                16,
            )
            .unwrap();
            assert_eq!((&features, &labels), (&plain.features, &plain.labels), "{name}, trickled");
            let decoded = in_background(&bytes, &decimal);
            assert_eq!(decoded, Ok((plain.features.clone(), plain.labels.clone())), "{name}, on a thread");
        }
        // Empty content, compressed: an empty file.
        assert_eq!(err(&gzip(b""), LabelColumn::Last), "t.csv: empty file: expected a header row and data rows");
        assert_eq!(err(&zstd(b""), LabelColumn::Last), "t.csv: empty file: expected a header row and data rows");
    }

    #[test]
    fn a_stream_cut_or_damaged_names_the_last_whole_line_it_gave() {
        use std::io::Read as _;
        let text = semicolons(20_000);
        let decimal = Format { delimiter: Delimiter::Detect, decimal_comma: true };
        // Decoded where it is read, and on a thread of its own: the same message.
        let fail = |bytes: &[u8]| {
            let inline = match parse_with("t.csv", bytes, &LabelColumn::Last, &decimal) {
                Ok(t) => format!("read {} rows", t.rows()),
                Err(e) => e.to_string(),
            };
            let threaded = in_background(bytes, &decimal).map_or_else(|e| e, |(_, y)| format!("read {} rows", y.len()));
            assert_eq!(inline, threaded);
            inline
        };
        let gz = gzip(&text);
        for cut in [3, 10, 11, 100, gz.len() / 3, gz.len() / 2, gz.len() - 8, gz.len() - 1] {
            // The lines the decoder gives before it fails are the lines the message names.
            let mut given = vec![];
            assert!(flate2::read::MultiGzDecoder::new(&gz[..cut]).read_to_end(&mut given).is_err());
            let lines = given.iter().filter(|&&b| b == b'\n').count();
            let expected = match lines {
                0 => "t.csv: gzip stream corrupt or truncated before the end of line 1".to_string(),
                n => format!("t.csv: gzip stream corrupt or truncated after line {n}"),
            };
            assert_eq!(fail(&gz[..cut]), expected, "cut at {cut} of {}", gz.len());
        }
        // A damaged CRC: all lines given, then refused.
        let mut crc = gz.clone();
        let at = crc.len() - 6;
        crc[at] ^= 1;
        assert_eq!(fail(&crc), "t.csv: gzip stream corrupt or truncated after line 20001");
        // zstd: a first frame whole, the second cut or damaged (its text is held until it checks).
        // (The second frame is smaller than the window: none of its text comes out before its end.)
        let cut_at = 1 + text[..text.len() - 2000].iter().rposition(|&b| b == b'\n').unwrap();
        let split = text[..cut_at].iter().filter(|&&b| b == b'\n').count();
        let (first, second) = (zstd(&text[..cut_at]), zstd(&text[cut_at..]));
        let expected = format!("t.csv: zstd stream corrupt or truncated after line {split}");
        for end in [1, 4, 10, second.len() / 2, second.len() - 1] {
            assert_eq!(fail(&[&first[..], &second[..end]].concat()), expected, "cut at {end}");
        }
        // In the compressed block, and in the checksum.
        for at in [second.len() / 3, second.len() / 2, second.len() - 2] {
            let mut damaged = second.clone();
            damaged[at] ^= 0x40;
            assert_eq!(fail(&[&first[..], &damaged[..]].concat()), expected, "damaged at {at}");
        }
        assert_eq!(fail(&zstd(&text)[..100]), "t.csv: zstd stream corrupt or truncated before the end of line 1");
        // Bytes after the last frame that are not a frame.
        assert_eq!(
            fail(&[&zstd(&text)[..], b"junk"].concat()),
            "t.csv: zstd stream corrupt or truncated after line 20001"
        );
        // Formats recognised but not read.
        assert_eq!(
            err(b"\xfd7zXZ\x00\x00\x04", LabelColumn::Last),
            "t.csv: xz-compressed: decompress it first (gzip and zstd files are read as they are)"
        );
        assert_eq!(
            err(b"BZh91AY&SY\x01", LabelColumn::Last),
            "t.csv: bzip2-compressed: decompress it first (gzip and zstd files are read as they are)"
        );
    }

    #[test]
    fn the_input_own_read_error_is_reported_as_it_is() {
        /// Its bytes, then an error.
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("the disk is gone"));
                }
                let n = self.0.len().min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = semicolons(5000);
        for bytes in [gzip(&text), zstd(&text), text.clone()] {
            let half = &bytes[..bytes.len() / 2];
            let e =
                read_rows("t.csv", Failing(half), &LabelColumn::Last, &Format::default(), |_, _| Ok(())).unwrap_err();
            assert_eq!(e.to_string(), "t.csv: the disk is gone");
        }
    }

    #[test]
    fn compressed_binary_is_refused_from_its_first_64_kib_of_text() {
        /// Counts the compressed bytes read.
        struct Counted<'a>(&'a [u8], usize);
        impl Read for Counted<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(4096);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                self.1 += n;
                Ok(n)
            }
        }
        // 64 MiB of zeros, gzip-compressed to about 64 KiB: decoded no further than a few buffers.
        let zeros = gzip(&vec![0u8; 64 << 20]);
        let mut read = Counted(&zeros, 0);
        let e = read_rows("z.gz", &mut read, &LabelColumn::Last, &Format::default(), |_, _| Ok(())).unwrap_err();
        assert_eq!(e.to_string(), "z.gz: not a text file (binary content at byte 0, line 1)");
        assert!(read.1 < zeros.len() / 4, "read {} of {} bytes", read.1, zeros.len());
        let e = err(&zstd(b"a,y\n1,0\n\x00\x00"), LabelColumn::Last);
        assert_eq!(e, "t.csv: not a text file (binary content at byte 8, line 3)");
    }

    #[test]
    fn a_wide_header_is_checked_in_linear_time() {
        let d = 200_000;
        let mut text: String = (0..d).map(|i| format!("c{i},")).collect();
        text.push_str("c7\n");
        let started = std::time::Instant::now();
        let e = err(text.as_bytes(), LabelColumn::Last);
        assert_eq!(e, format!("t.csv:1:{}: duplicate column name `c7` (also column 8)", d + 1));
        assert!(started.elapsed().as_secs_f64() < 2.0, "{:?}", started.elapsed());
    }

    /// Hands out its bytes `step` at a time, to cut every token, CRLF and character across reads.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// `bytes` ends in a table or in a one-line error of at most 300 characters, with no control
    /// character (cell text escaped), whichever column is the label.
    fn parses_or_fails_in_one_line(bytes: &[u8]) -> std::result::Result<(), proptest::test_runner::TestCaseError> {
        let labels = [LabelColumn::Last, LabelColumn::Named("y".into()), LabelColumn::Skip("y".into())];
        let formats = [
            Format::default(),
            Format { delimiter: Delimiter::Detect, decimal_comma: true },
            Format { delimiter: Delimiter::Tab, decimal_comma: true },
        ];
        for (label, format) in labels.into_iter().flat_map(|l| formats.map(|f| (l.clone(), f))) {
            match parse_with("t.csv", bytes, &label, &format) {
                Ok(t) => {
                    proptest::prop_assert!(t.rows() > 0 && t.features.len() == t.rows() * t.feature_names.len());
                    proptest::prop_assert!(t.labels.is_empty() || t.labels.len() == t.rows());
                }
                Err(e) => {
                    let m = e.to_string();
                    proptest::prop_assert!(m.chars().count() <= 300, "{} characters: {m:?}", m.chars().count());
                    proptest::prop_assert!(!m.chars().any(char::is_control), "{m:?}");
                }
            }
        }
        Ok(())
    }

    /// One edit to a valid file.
    #[derive(Clone, Debug)]
    enum Edit {
        Insert(usize, u8),
        Delete(usize),
        Replace(usize, u8),
        /// A field of this many bytes of this byte.
        Huge(usize, u8, usize),
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        let byte = prop_oneof![
            Just(b'"'),
            Just(b'\r'),
            Just(b'\n'),
            Just(0u8),
            Just(b','),
            Just(b';'),
            Just(b'|'),
            Just(b' '),
            Just(0x1b),
            Just(0xc3),
            any::<u8>()
        ];
        prop_oneof![
            4 => (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Insert(i, b)),
            2 => any::<usize>().prop_map(Edit::Delete),
            3 => (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
            1 => (any::<usize>(), prop_oneof![Just(b'7'), Just(b'x'), Just(b' '), Just(b'"')], 1usize..100_000)
                .prop_map(|(i, b, n)| Edit::Huge(i, b, n)),
        ]
    }

    fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
        for e in edits {
            let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
            match *e {
                Edit::Insert(i, b) => bytes.insert(at(i, bytes.len() + 1), b),
                Edit::Delete(i) if !bytes.is_empty() => {
                    bytes.remove(at(i, bytes.len()));
                }
                Edit::Delete(_) => {}
                Edit::Replace(i, b) if !bytes.is_empty() => {
                    let i = at(i, bytes.len());
                    bytes[i] = b;
                }
                Edit::Replace(i, b) => bytes.push(b.wrapping_add(i as u8)),
                Edit::Huge(i, b, n) => {
                    let i = at(i, bytes.len() + 1);
                    bytes.splice(i..i, std::iter::repeat_n(b, n));
                }
            }
        }
        bytes
    }

    const VALID: &[u8] = b"\xef\xbb\xbfa, \"b c\",y\r\n1,2.5,0\r\n\r\n-3e2,\"4\",true\n5,6,1\n\"7\"\"\",8,0";
    /// [`VALID`] with semicolons and decimal commas.
    const VALID_SEMICOLON: &[u8] =
        b"\xef\xbb\xbfa; \"b;c\";y\r\n1;2,5;0\r\n\r\n-3e2;\"4\";true\n5;6;1\n\"7\"\"\";8,0;0";

    /// A table of `names` (the last is the label) and `cells` written with `delimiter` (a name that
    /// holds it quoted; numbers with a decimal comma unless it is `,`) after `blank` lines, each
    /// line ended by `end`; and the table it holds.
    fn written(
        delimiter: Delimiter,
        names: &[(String, bool)],
        cells: &[i32],
        rows: usize,
        blank: &[String],
        end: &str,
    ) -> (Vec<u8>, Table) {
        let d = char::from(delimiter.byte().unwrap());
        let mut text: String = blank.iter().map(|b| format!("{b}{end}")).collect();
        let names: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, (base, holds))| if *holds { format!("{base}{d}{i}") } else { format!("{base}{i}") })
            .collect();
        let header: Vec<String> =
            names.iter().map(|n| if n.contains(d) { format!("\"{n}\"") } else { n.clone() }).collect();
        text += &(header.join(&d.to_string()) + end);
        let d_features = names.len() - 1;
        let (mut features, mut labels) = (vec![], vec![]);
        for r in 0..rows {
            let mut row = vec![];
            for j in 0..d_features {
                let value = f64::from(cells[(r * d_features + j) % cells.len()]) / 100.0;
                let cell = value.to_string();
                features.push(cell.parse::<f64>().unwrap() as f32);
                row.push(if d == ',' { cell } else { cell.replace('.', ",") });
            }
            let label = cells[r % cells.len()].rem_euclid(2);
            labels.push(label as f32);
            row.push(label.to_string());
            text += &(row.join(&d.to_string()) + end);
        }
        let trimmed: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
        let table = Table {
            source: "t.csv".into(),
            feature_names: trimmed[..d_features].to_vec(),
            label_name: Some(trimmed[d_features].clone()),
            features,
            labels,
        };
        (text.into_bytes(), table)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]

        /// Any bytes at all.
        #[test]
        fn any_bytes_parse_or_fail_in_one_line(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            parses_or_fails_in_one_line(&bytes)?;
        }

        /// CSV-like text from the characters that matter.
        #[test]
        fn csv_like_text_parses_or_fails_in_one_line(text in "[ab y01.e,;|\"\r\n\t\u{0}\u{1b}é\u{feff}-]{0,300}") {
            parses_or_fails_in_one_line(text.as_bytes())?;
        }

        /// A valid file after a few edits: bytes inserted, deleted, replaced, huge fields.
        #[test]
        fn edited_files_parse_or_fail_in_one_line(edits in proptest::collection::vec(edit(), 1..6)) {
            parses_or_fails_in_one_line(&apply(VALID.to_vec(), &edits))?;
        }

        /// A valid file with semicolons and decimal commas, after a few edits.
        #[test]
        fn edited_semicolon_files_parse_or_fail_in_one_line(edits in proptest::collection::vec(edit(), 1..6)) {
            parses_or_fails_in_one_line(&apply(VALID_SEMICOLON.to_vec(), &edits))?;
        }

        /// Read a few bytes at a time through a tiny buffer, a file parses exactly as it does whole
        /// (inputs without NUL bytes: those are refused at once only within the first 64 KiB).
        #[test]
        fn reads_cut_anywhere_give_the_same_result(
            edits in proptest::collection::vec(edit(), 0..4),
            step in 1usize..8,
            buffer in 4usize..24,
            semicolons in proptest::prelude::any::<bool>(),
        ) {
            let (valid, format) = match semicolons {
                false => (VALID, Format::default()),
                true => (VALID_SEMICOLON, Format { delimiter: Delimiter::Detect, decimal_comma: true }),
            };
            let bytes: Vec<u8> = apply(valid.to_vec(), &edits).into_iter().filter(|&b| b != 0).collect();
            let whole = parse_with("t.csv", &bytes, &LabelColumn::Last, &format).map_err(|e| e.to_string());
            let (mut features, mut labels) = (vec![], vec![]);
            let cut = read_rows_buffered("t.csv", Trickle { bytes: &bytes, step }, &LabelColumn::Last, &format, |row, label| {
                features.extend_from_slice(row);
                labels.extend(label);
                Ok(())
            }, buffer)
            .map(|c| (c.feature_names, features, labels))
            .map_err(|e| e.to_string());
            proptest::prop_assert_eq!(whole.map(|t| (t.feature_names, t.features, t.labels)), cut);
        }

        /// Any table written with any of the four delimiters (names holding it quoted, blank lines
        /// before the header, any line ending) is read back exactly, its delimiter detected or given,
        /// through a tiny buffer too.
        #[test]
        fn any_delimiter_is_detected_and_the_table_read_back(
            which in 0usize..4,
            names in proptest::collection::vec(("[a-z][a-z0-9 _]{0,5}", proptest::prelude::any::<bool>()), 2..6),
            cells in proptest::collection::vec(-1_000_000i32..1_000_000, 1..30),
            rows in 1usize..12,
            blank in proptest::collection::vec("[ \t]{0,2}", 0..3),
            end in proptest::sample::select(vec!["\n", "\r\n", "\r"]),
            buffer in 4usize..64,
        ) {
            let delimiter = Delimiter::CANDIDATES[which];
            let (bytes, expected) = written(delimiter, &names, &cells, rows, &blank, end);
            let decimal_comma = delimiter != Delimiter::Comma;
            for given in [Delimiter::Detect, delimiter] {
                let format = Format { delimiter: given, decimal_comma };
                let t = parse_with("t.csv", &bytes, &LabelColumn::Last, &format).map_err(|e| e.to_string());
                proptest::prop_assert_eq!(t.as_ref(), Ok(&expected), "{:?}", String::from_utf8_lossy(&bytes));
                let (mut features, mut labels) = (vec![], vec![]);
                let read = Trickle { bytes: &bytes, step: 5 };
                read_rows_buffered("t.csv", read, &LabelColumn::Last, &format, |row, label| {
                    features.extend_from_slice(row);
                    labels.extend(label);
                    Ok(())
                }, buffer).unwrap();
                proptest::prop_assert_eq!((&features, &labels), (&expected.features, &expected.labels));
            }
        }

        /// A gzip or zstd file cut short or with a byte changed gives the table it held whole, or
        /// one line; never a panic.
        #[test]
        fn damaged_compressed_files_read_whole_or_fail_in_one_line(
            zst in proptest::prelude::any::<bool>(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            flip in proptest::option::of((proptest::prelude::any::<proptest::sample::Index>(), 1u8..=255)),
        ) {
            let text = semicolons(300);
            let format = Format { delimiter: Delimiter::Detect, decimal_comma: true };
            let plain = parse_with("t.csv", &text, &LabelColumn::Last, &format).unwrap();
            let whole = if zst { zstd(&text) } else { gzip(&text) };
            let mut bytes = whole[..=cut.index(whole.len())].to_vec();
            if let Some((at, x)) = flip {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            let threaded = in_background(&bytes, &format);
            match parse_with("t.csv", &bytes, &LabelColumn::Last, &format) {
                Ok(t) => {
                    proptest::prop_assert_eq!(threaded, Ok((t.features.clone(), t.labels.clone())));
                    proptest::prop_assert_eq!(t, plain);
                }
                Err(e) => {
                    let m = e.to_string();
                    proptest::prop_assert!(m.chars().count() <= 300 && !m.chars().any(char::is_control), "{m:?}");
                    proptest::prop_assert_eq!(threaded, Err(m));
                }
            }
        }
    }
}
