//! NumPy `.npy` files (format versions 1–3, C order, little-endian numbers or booleans) as
//! tables: `X` of shape `(n, d)` with features named `x0 … x{d−1}`, and labels `y` of shape `(n,)`
//! or `(n, 1)` holding 0/1.

use std::io::Read;
use std::path::Path;

use crate::data::table::Table;
use crate::error::{Error, Result};

/// A decoded array: its shape and its values in C order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Array {
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Vec<f64>,
}

/// An input error located at `file`.
pub(crate) fn bad(file: &str, message: impl Into<String>) -> Error {
    Error::Input { location: file.to_string(), message: message.into() }
}

/// The value of `'key': …` in the header's Python dict literal, up to the next top-level comma.
fn header_field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let start = header.find(&format!("'{key}':"))? + key.len() + 3;
    let rest = header[start..].trim_start();
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}'])? };
    Some(rest[..end].trim())
}

/// An `.npy` header: the shape, the dtype (`<f4` …), where the data start and how many bytes
/// they take (checked: a shape whose size overflows is refused, not wrapped).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Header {
    pub(crate) shape: Vec<usize>,
    pub(crate) descr: String,
    pub(crate) data_offset: usize,
    pub(crate) data_bytes: usize,
}

/// A dtype of the form `<f4`: byte order, kind (float, signed, unsigned, boolean) and item size.
fn item_size(descr: &str) -> Option<usize> {
    let b = descr.as_bytes();
    let ok = b.len() >= 3
        && descr.is_ascii()
        && matches!(b[0], b'<' | b'>' | b'|' | b'=')
        && matches!(b[1], b'f' | b'i' | b'u' | b'b');
    ok.then(|| descr[2..].parse::<usize>().ok()).flatten().filter(|&s| s > 0)
}

/// Reads the header from the start of an `.npy` file (`bytes` holds at least the header).
pub(crate) fn parse_header(file: &str, bytes: &[u8]) -> Result<Header> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(bad(file, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(file, format!(".npy format version {v} is not supported (1 to 3 are)"))),
    };
    let header = bytes
        .get(header_start..header_start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad(file, "truncated or unreadable .npy header"))?;
    let field = |key| header_field(header, key).ok_or_else(|| bad(file, format!(".npy header has no `{key}`")));
    if field("fortran_order")? != "False" {
        return Err(bad(file, "Fortran-ordered arrays are not supported: save with numpy.ascontiguousarray"));
    }
    let shape: Vec<usize> = field("shape")?
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad(file, format!("bad shape entry `{s}` in the .npy header"))))
        .collect::<Result<_>>()?;
    let descr = field("descr")?.trim_matches(['\'', '"']).to_string();
    let unsupported = || bad(file, format!("dtype `{descr}` is not supported (floats, integers or booleans)"));
    let size = item_size(&descr).ok_or_else(unsupported)?;
    let data_bytes = shape
        .iter()
        .try_fold(size, |bytes, &d| bytes.checked_mul(d))
        .ok_or_else(|| bad(file, format!("shape {shape:?} of `{descr}` is larger than any file")))?;
    Ok(Header { shape, descr, data_offset: header_start + header_len, data_bytes })
}

/// Decodes an `.npy` file's bytes (`file` names it in errors).
pub(crate) fn parse(file: &str, bytes: &[u8]) -> Result<Array> {
    let mut values = vec![];
    let shape = parse_each(file, bytes, |_, v| {
        values.push(v);
        Ok(())
    })?;
    Ok(Array { shape, values })
}

/// One value's bytes to f64.
pub(crate) type Decode = fn(&[u8]) -> f64;

/// One value's byte size and its decoding to f64, for a dtype [`parse_header`] accepted.
pub(crate) fn decoder(file: &str, descr: &str) -> Result<(usize, Decode)> {
    // parse_header checked the form: an ASCII order, kind and size.
    let (order, kind, size) = (&descr[..1], &descr[1..2], item_size(descr).unwrap_or(0));
    if order == ">" && size > 1 {
        return Err(bad(file, format!("big-endian dtype `{descr}` is not supported")));
    }
    let decode: Decode = match (kind, size) {
        ("f", 4) => |b| f64::from(f32::from_le_bytes(b.try_into().unwrap())),
        ("f", 8) => |b| f64::from_le_bytes(b.try_into().unwrap()),
        ("i", 1) => |b| f64::from(b[0] as i8),
        ("i", 2) => |b| f64::from(i16::from_le_bytes(b.try_into().unwrap())),
        ("i", 4) => |b| f64::from(i32::from_le_bytes(b.try_into().unwrap())),
        ("i", 8) => |b| i64::from_le_bytes(b.try_into().unwrap()) as f64,
        ("u", 1) | ("b", 1) => |b| f64::from(b[0]),
        ("u", 2) => |b| f64::from(u16::from_le_bytes(b.try_into().unwrap())),
        ("u", 4) => |b| f64::from(u32::from_le_bytes(b.try_into().unwrap())),
        ("u", 8) => |b| u64::from_le_bytes(b.try_into().unwrap()) as f64,
        _ => return Err(bad(file, format!("dtype `{descr}` is not supported (floats, integers or booleans)"))),
    };
    Ok((size, decode))
}

/// Decodes an `.npy` file's bytes, handing each value (as f64, with its index in C order) to
/// `each` rather than collecting them; returns the shape.
pub(crate) fn parse_each(
    file: &str,
    bytes: &[u8],
    mut each: impl FnMut(usize, f64) -> Result<()>,
) -> Result<Vec<usize>> {
    let Header { shape, descr, data_offset, data_bytes } = parse_header(file, bytes)?;
    let (size, decode) = decoder(file, &descr)?;
    let data = bytes.get(data_offset..).unwrap_or_default();
    if data.len() != data_bytes {
        return Err(bad(
            file,
            format!("data is {} bytes, shape {shape:?} of `{descr}` needs {data_bytes}", data.len()),
        ));
    }
    for (i, v) in data.chunks_exact(size).enumerate() {
        each(i, decode(v))?;
    }
    Ok(shape)
}

/// The longest `.npy` header read (numpy writes a few hundred bytes; its own limit is 10,000).
const MAX_HEADER: usize = 1 << 20;

/// A `.npy` file's bytes (`-`: standard input), read no further than its header says: the header
/// first, then the data it declares, so that a device or pipe that never ends (`/dev/zero`) is
/// not read without bound, and a regular file shorter or longer than declared is refused before
/// its data is read.
pub(crate) fn read_file(path: &Path) -> Result<(String, Vec<u8>)> {
    let stdin = path == Path::new("-");
    let name = if stdin { "<stdin>".to_string() } else { path.display().to_string() };
    let io = |error| Error::Io { path: name.clone().into(), error };
    let (mut reader, length): (Box<dyn Read>, Option<u64>) = if stdin {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let length = meta.is_file().then_some(meta.len());
        (Box::new(file), length)
    };
    // Magic (6 bytes), version (2), header length (2 bytes in version 1, 4 in versions 2 and 3).
    let mut bytes = vec![0u8; 10];
    let short = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => bad(&name, "not a .npy file (shorter than its header)"),
        _ => io(e),
    };
    reader.read_exact(&mut bytes).map_err(short)?;
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err(bad(&name, "not a .npy file (no \\x93NUMPY magic)"));
    }
    let header_len = match bytes[6] {
        1 => usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        2 | 3 => {
            bytes.resize(12, 0);
            reader.read_exact(&mut bytes[10..]).map_err(short)?;
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        }
        v => return Err(bad(&name, format!(".npy format version {v} is not supported (1 to 3 are)"))),
    };
    if header_len > MAX_HEADER {
        return Err(bad(&name, format!("a .npy header of {header_len} bytes (at most {MAX_HEADER} are read)")));
    }
    let start = bytes.len();
    bytes.resize(start + header_len, 0);
    reader.read_exact(&mut bytes[start..]).map_err(short)?;
    let header = parse_header(&name, &bytes)?;
    let declared = header.data_bytes as u64;
    if let Some(length) = length {
        let data = length.saturating_sub(bytes.len() as u64);
        if data != declared {
            let (shape, descr) = (&header.shape, &header.descr);
            return Err(bad(&name, format!("data is {data} bytes, shape {shape:?} of `{descr}` needs {declared}")));
        }
    }
    // One byte more than declared, to notice a longer stream.
    reader.take(declared.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    Ok((name, bytes))
}

/// Reads features from `x` and, when given, 0/1 labels from `y` into a table.
pub fn read_table(x: &Path, y: Option<&Path>) -> Result<Table> {
    let (x_file, x_bytes) = read_file(x)?;
    let header = parse_header(&x_file, &x_bytes)?;
    let [n, d] = header.shape[..] else {
        return Err(bad(
            &x_file,
            format!("features must be a 2-D array (rows, columns), found shape {:?}", header.shape),
        ));
    };
    // The file must hold what the header claims before anything that size is allocated.
    let data = x_bytes.len().saturating_sub(header.data_offset);
    if data != header.data_bytes {
        let needs = header.data_bytes;
        return Err(bad(
            &x_file,
            format!("data is {data} bytes, shape {:?} of `{}` needs {needs}", header.shape, header.descr),
        ));
    }
    // Straight to f32, value by value: no f64 copy of the whole array.
    let mut features = Vec::with_capacity(n * d);
    parse_each(&x_file, &x_bytes, |i, v| {
        features.push(feature(&x_file, i, d, v)?);
        Ok(())
    })?;
    drop(x_bytes);
    if n == 0 || d == 0 {
        return Err(bad(&x_file, format!("no data: shape {:?}", header.shape)));
    }
    let mut table =
        Table { source: x_file.clone(), feature_names: feature_names(d), label_name: None, features, labels: vec![] };
    if let Some(y) = y {
        table.labels = read_labels(y, n, &x_file)?;
        table.label_name = Some("y".into());
    }
    Ok(table)
}

/// The `i`-th value (C order) of `file`'s `d` columns as f32, refused when not finite or beyond
/// f32's range.
pub(crate) fn feature(file: &str, i: usize, d: usize, v: f64) -> Result<f32> {
    let place = || format!("row {}, column {}", i / d + 1, i % d + 1);
    if !v.is_finite() {
        return Err(bad(file, format!("{}: {v} is not a finite number", place())));
    }
    if v.abs() > f64::from(f32::MAX) {
        return Err(bad(file, format!("{}: {v} overflows a 32-bit float", place())));
    }
    Ok(v as f32)
}

/// Row `i`'s label in `file`: 0 or 1.
pub(crate) fn label(file: &str, i: usize, v: f64) -> Result<f32> {
    if v != 0.0 && v != 1.0 {
        return Err(bad(file, format!("row {}: label {v} is not one of the two classes (0/1)", i + 1)));
    }
    Ok(v as f32)
}

/// The names of a `.npy` array's `d` feature columns: `x0 … x{d−1}`.
pub fn feature_names(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("x{j}")).collect()
}

/// One value per row of `rows` rows from the `.npy` file `path`, of shape `(rows,)` or `(rows, 1)`:
/// its file name and values. `what` names the values and `of` the data, for the message.
fn read_column(path: &Path, rows: usize, what: &str, of: &str) -> Result<(String, Vec<f64>)> {
    let (file, bytes) = read_file(path)?;
    let array = parse(&file, &bytes)?;
    if !(array.shape == [rows] || array.shape == [rows, 1]) {
        let found = &array.shape;
        return Err(bad(&file, format!("{what} must have shape ({rows},) or ({rows}, 1) {of}, found {found:?}")));
    }
    Ok((file, array.values))
}

/// 0/1 labels for `n` rows of `x_file` from the `.npy` file `y`, of shape `(n,)` or `(n, 1)`.
pub(crate) fn read_labels(y: &Path, n: usize, x_file: &str) -> Result<Vec<f32>> {
    let (y_file, values) = read_column(y, n, "labels", &format!("to match {x_file}"))?;
    values.iter().enumerate().map(|(i, &v)| label(&y_file, i, v)).collect()
}

/// The labels from the `.npy` file `y` (shape `(n,)` or `(n, 1)`) as classes: each finite; the distinct
/// values (at most `max_classes`) are the classes in [`crate::data::labels::ordered`] order, and
/// each row's label is its class's index. For a file of three or more classes.
pub fn read_class_labels(y: &Path, max_classes: usize) -> Result<(Vec<f32>, Vec<String>)> {
    use crate::data::labels::{ordered, LabelKey};
    let (y_file, y_bytes) = read_file(y)?;
    let labels = parse(&y_file, &y_bytes)?;
    if !matches!(labels.shape[..], [_] | [_, 1]) {
        return Err(bad(&y_file, format!("labels must have shape (n,) or (n, 1), found {:?}", labels.shape)));
    }
    let mut seen: Vec<f64> = vec![];
    for (i, &v) in labels.values.iter().enumerate() {
        if !v.is_finite() {
            return Err(bad(&y_file, format!("row {}: label {v} is not a finite number", i + 1)));
        }
        let v = if v == 0.0 { 0.0 } else { v };
        if !seen.contains(&v) {
            if seen.len() >= max_classes {
                return Err(bad(
                    &y_file,
                    format!(
                        "row {}: label {v} is value {} of the labels, more than --max-classes {max_classes}",
                        i + 1,
                        seen.len() + 1
                    ),
                ));
            }
            seen.push(v);
        }
    }
    let keys: Vec<LabelKey> = ordered(&seen.iter().map(|&v| LabelKey::Number(v)).collect::<Vec<_>>());
    let classes: Vec<f64> = keys.iter().map(|k| if let LabelKey::Number(v) = k { *v } else { 0.0 }).collect();
    let index = labels
        .values
        .iter()
        .map(|&v| classes.iter().position(|&c| c == if v == 0.0 { 0.0 } else { v }).unwrap_or_default() as f32)
        .collect();
    Ok((index, keys.iter().map(LabelKey::name).collect()))
}

/// The labels from the `.npy` file `y` (shape `(rows,)` or `(rows, 1)`) as indices into `classes`
/// (`what`, for messages): each value must be one of them read as a number, else it is refused
/// with its row.
pub fn read_class_values(y: &Path, rows: usize, classes: &[String], what: &str) -> Result<Vec<f32>> {
    use crate::data::labels::LabelKey;
    let (file, values) = read_column(y, rows, "labels", &format!("for the data's {rows} rows"))?;
    let numbers: Vec<Option<f64>> = classes
        .iter()
        .map(|c| match LabelKey::of(c) {
            LabelKey::Number(v) => Some(v),
            LabelKey::Text(_) => None,
        })
        .collect();
    let listed = || classes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let index = |(i, &v): (usize, &f64)| {
        let found = numbers.iter().position(|&c| c == Some(v)).map(|j| j as f32);
        found.ok_or_else(|| bad(&file, format!("row {}: label {v} is not one of {what} ({})", i + 1, listed())))
    };
    values.iter().enumerate().map(index).collect()
}

/// One sample weight per row of the `rows` rows of the data from the `.npy` file `path`, of
/// shape `(rows,)` or `(rows, 1)` (the values are checked where they are used).
pub fn read_weights(path: &Path, rows: usize) -> Result<Vec<f64>> {
    Ok(read_column(path, rows, "sample weights", &format!("for the data's {rows} rows"))?.1)
}

/// Writes `values` as a 1-D little-endian f32 `.npy` array (version 1, header padded to 64 bytes).
#[cfg(test)]
pub(crate) fn write_f32_vector(path: &Path, values: &[f32]) -> Result<()> {
    crate::output::write_atomically(path, &f32_vector_bytes(values))
}

/// The bytes of a 1-D `<f4` `.npy` file of `values`.
pub(crate) fn f32_vector_bytes(values: &[f32]) -> Vec<u8> {
    let mut bytes = header_bytes(&[values.len()], 0);
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

/// A version-1 header for a C-order `<f4` array of `shape`, padded with spaces to at least
/// `min_len` bytes and to a multiple of 64, as numpy.save writes it.
pub(crate) fn header_bytes(shape: &[usize], min_len: usize) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 || 10 + header.len() + 1 < min_len {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::npy_bytes as npy;

    fn f4(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn decodes_floats_integers_and_booleans() {
        let a = parse("x.npy", &npy("<f4", "(2, 2)", &f4(&[1.0, 2.5, -3.0, 4.0]))).unwrap();
        assert_eq!((a.shape, a.values), (vec![2, 2], vec![1.0, 2.5, -3.0, 4.0]));
        let b = parse("y.npy", &npy("|b1", "(3,)", &[1, 0, 1])).unwrap();
        assert_eq!((b.shape, b.values), (vec![3], vec![1.0, 0.0, 1.0]));
        let i = parse("y.npy", &npy("<i8", "(2,)", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).unwrap();
        assert_eq!(i.values, [1.0, 0.0]);
    }

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"a,b\n1,2\n".to_vec(), "x.npy: not a .npy file"),
            (npy("<f4", "(2, 2)", &f4(&[1.0, 2.0, 3.0])), "x.npy: data is 12 bytes, shape [2, 2] of `<f4` needs 16"),
            (npy(">f8", "(1,)", &[0; 8]), "x.npy: big-endian dtype `>f8` is not supported"),
            (npy("<c16", "(1,)", &[0; 16]), "x.npy: dtype `<c16` is not supported"),
            (npy("<f4", "(2,)", &f4(&[1.0, 2.0])).replace_bytes(b"False", b"True "), "x.npy: Fortran-ordered arrays"),
        ];
        for (bytes, expected) in cases {
            let e = parse("x.npy", &bytes).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e:?} does not start with {expected:?}");
        }
    }

    /// Crafted headers: a dtype of 0, 1 or non-ASCII characters, and shapes whose size overflows
    /// or claims terabytes in a header-only file. Each is an error naming the file, never a panic,
    /// an abort or a wrapped size.
    #[test]
    fn crafted_headers_are_errors_not_crashes() {
        let huge = format!("({}, {})", 1u64 << 62, 1u64 << 62);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (npy("", "(1,)", &[0; 4]), "x.npy: dtype `` is not supported"),
            (npy("<", "(1,)", &[0; 4]), "x.npy: dtype `<` is not supported"),
            (npy("<fé", "(1,)", &[0; 4]), "x.npy: dtype `<fé` is not supported"),
            (npy("é", "(1,)", &[0; 4]), "x.npy: dtype `é` is not supported"),
            (npy("<f0", "(1,)", &[]), "x.npy: dtype `<f0` is not supported"),
            (npy("<f4", &huge, &[]), "x.npy: shape [4611686018427387904, 4611686018427387904] of `<f4` is larger"),
            (npy("<f4", "(1000000000000, 1000)", &[]), "x.npy: data is 0 bytes, shape [1000000000000, 1000] of `<f4`"),
        ];
        for (bytes, expected) in cases {
            let e = parse("x.npy", &bytes).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{e:?} does not start with {expected:?}");
        }
        // The same headers through the readers that allocate by shape: the table reader, the
        // label reader and the streamed file.
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x.npy");
        std::fs::write(&x, npy("<f4", "(1000000000000, 1000)", &[])).unwrap();
        let e = read_table(&x, None).unwrap_err().to_string();
        assert!(
            e.ends_with("x.npy: data is 0 bytes, shape [1000000000000, 1000] of `<f4` needs 4000000000000000"),
            "{e}"
        );
        let e = crate::data::stream::NpyRows::open(&x, None, None).err().unwrap().to_string();
        assert!(e.contains("x.npy: file is 128 bytes"), "{e}");
        std::fs::write(&x, npy("<f4", &huge, &[])).unwrap();
        assert!(crate::data::stream::NpyRows::open(&x, None, None)
            .err()
            .unwrap()
            .to_string()
            .contains("is larger than any file"));
        let y = dir.path().join("y.npy");
        std::fs::write(&y, npy("|b1", "(100000000000000,)", &[])).unwrap();
        let e = read_labels(&y, 3, "x.npy").unwrap_err().to_string();
        assert!(e.contains("y.npy: data is 0 bytes"), "{e}");
    }

    proptest::proptest! {
        /// Any header text and any data after a valid magic: a value or an error, never a panic.
        #[test]
        fn any_header_and_data_parse_or_fail_cleanly(
            header in "[ -~é]{0,120}",
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            version in 0u8..5,
        ) {
            let mut bytes = vec![0x93, b'N', b'U', b'M', b'P', b'Y', version, 0];
            bytes.extend((header.len() as u16).to_le_bytes());
            if version >= 2 {
                bytes.extend([0, 0]);
            }
            bytes.extend(header.as_bytes());
            bytes.extend(&data);
            let _ = parse("p.npy", &bytes);
        }

        /// Well-formed headers with any dtype text and any shape numbers.
        #[test]
        fn any_dtype_and_shape_parse_or_fail_cleanly(
            descr in "[<>|=]?[fiubc]?[0-9]{0,3}",
            dims in proptest::collection::vec(0u64..u64::MAX, 0..4),
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let shape = format!("({})", dims.iter().map(|d| format!("{d},")).collect::<String>());
            let _ = parse("p.npy", &npy(&descr, &shape, &data));
        }

        /// Labels read as class values: each row's index names a class of exactly its value, and a
        /// value of no class (or a wrong length) is refused naming its row, never a wrong index.
        #[test]
        fn class_values_index_their_own_class_or_name_the_row(
            values in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(vec![0.0f32, -0.0, 1.0, 2.5, 3.0, 4.0]), proptest::prelude::any::<f32>()], 0..20),
            rows_off in 0usize..2,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let y = dir.path().join("y.npy");
            std::fs::write(&y, npy("<f4", &format!("({},)", values.len()), &f4(&values))).unwrap();
            let classes: Vec<String> = ["0", "1", "2.5", "3", "cat"].iter().map(|c| c.to_string()).collect();
            let rows = values.len() + rows_off;
            match read_class_values(&y, rows, &classes, "the classes") {
                Ok(index) => {
                    proptest::prop_assert_eq!(rows_off, 0);
                    for (&i, &v) in index.iter().zip(&values) {
                        proptest::prop_assert_eq!(classes[i as usize].parse::<f32>().ok(), Some(v));
                    }
                }
                Err(e) => {
                    let e = e.to_string();
                    let bad_row = values.iter().position(|v| ![0.0, 1.0, 2.5, 3.0].contains(v));
                    let expected = match (rows_off, bad_row) {
                        (1, _) => format!("for the data's {rows} rows, found [{}]", values.len()),
                        (_, Some(r)) => format!("row {}: label {} is not one of the classes", r + 1, f64::from(values[r])),
                        _ => String::from("(no error expected)"),
                    };
                    proptest::prop_assert!(e.contains(&expected), "{} lacks {}", e, expected);
                }
            }
        }
    }

    trait ReplaceBytes {
        fn replace_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceBytes for Vec<u8> {
        fn replace_bytes(mut self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let at = self.windows(from.len()).position(|w| w == from).unwrap();
            self[at..at + from.len()].copy_from_slice(to);
            self
        }
    }

    #[test]
    fn tables_check_values_shapes_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: Vec<u8>| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let x = write("x.npy", npy("<f4", "(3, 2)", &f4(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])));
        let y = write(
            "y.npy",
            npy("<i8", "(3,)", &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        );
        let t = read_table(&x, Some(&y)).unwrap();
        assert_eq!(
            (t.feature_names, t.features, t.labels),
            (vec!["x0".into(), "x1".into()], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![1.0, 0.0, 1.0])
        );
        let nan = write("nan.npy", npy("<f4", "(1, 2)", &f4(&[1.0, f32::NAN])));
        let e = read_table(&nan, None).unwrap_err().to_string();
        assert!(e.ends_with("nan.npy: row 1, column 2: NaN is not a finite number"), "{e}");
        let short = write("short.npy", npy("<f4", "(2,)", &f4(&[1.0, 0.0])));
        let e = read_table(&x, Some(&short)).unwrap_err().to_string();
        assert!(e.contains("short.npy: labels must have shape (3,) or (3, 1)"), "{e}");
        let two = write("two.npy", npy("<f4", "(3,)", &f4(&[1.0, 2.0, 0.0])));
        let e = read_table(&x, Some(&two)).unwrap_err().to_string();
        assert!(e.contains("two.npy: row 2: label 2 is not one of the two classes"), "{e}");
        let flat = write("flat.npy", npy("<f4", "(2,)", &f4(&[1.0, 0.0])));
        assert!(read_table(&flat, None).unwrap_err().to_string().contains("features must be a 2-D array"));
    }
}
