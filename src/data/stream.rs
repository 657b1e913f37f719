//! Out-of-core data: `.npy` features read in memory-mapped chunks (never loaded whole), and the
//! CSV → `.npy` conversion that writes them one row at a time.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::data::dataset::Standardizer;
use crate::data::missing::Missing;
use crate::data::npy::{self, bad};
use crate::data::recipe::{apply_rows, learn_recipe, read_training, Learned, Recipe, Spec, TrainingInput};
use crate::data::recipe_file::RecipeFile;
use crate::data::source::{ChunkFn, Source, CHUNK_BYTES};
use crate::data::table::{read_rows_background, Columns, Format, LabelColumn};
use crate::error::{Error, Result};
use crate::output::try_replace_with;

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |error| Error::Io { path: path.into(), error }
}

/// A 2-D little-endian f32 `.npy` file of features and its labels (held in memory: 4 bytes a
/// row), served chunk by chunk from a fresh memory map that is dropped after use.
pub struct NpyRows {
    file: File,
    name: String,
    rows: usize,
    features: usize,
    data_offset: u64,
    chunk_rows: usize,
    labels: Vec<f32>,
    /// Where the labels came from, for messages (empty without).
    labels_name: String,
    /// Chunks already checked for NaN and infinity.
    checked: Vec<AtomicBool>,
    /// The file's modification time when opened: another one later is the file rewritten under
    /// us (in place, at any size), whose rows would silently differ between epochs.
    modified: Option<std::time::SystemTime>,
}

impl NpyRows {
    /// Opens `x` (shape `(n, d)`, dtype `<f4`, C order) with labels from `y`, if given;
    /// `chunk_rows` defaults to `CHUNK_BYTES` (32 MiB) of rows.
    pub fn open(x: &Path, y: Option<&Path>, chunk_rows: Option<usize>) -> Result<Self> {
        let name = x.display().to_string();
        let mut file = File::open(x).map_err(io(x))?;
        let mut head = Vec::with_capacity(4096);
        (&mut file).take(1 << 20).read_to_end(&mut head).map_err(io(x))?;
        let header = npy::parse_header(&name, &head)?;
        if header.descr != "<f4" {
            return Err(bad(
                &name,
                format!(
                    "streaming reads little-endian f32 (`<f4`) arrays, found `{}`: run `logreg convert`",
                    header.descr
                ),
            ));
        }
        let [rows, features] = header.shape[..] else {
            return Err(bad(
                &name,
                format!("features must be a 2-D array (rows, columns), found shape {:?}", header.shape),
            ));
        };
        if rows == 0 || features == 0 {
            return Err(bad(&name, format!("no data: shape {:?}", header.shape)));
        }
        if header.data_offset % 4 != 0 {
            return Err(bad(&name, format!("data start at byte {}, not a multiple of 4", header.data_offset)));
        }
        let meta = file.metadata().map_err(io(x))?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        let expected = header.data_offset as u64 + header.data_bytes as u64;
        if len != expected {
            return Err(bad(
                &name,
                format!("file is {len} bytes, shape ({rows}, {features}) of `<f4` needs {expected}"),
            ));
        }
        let labels = match y {
            Some(y) => npy::read_labels(y, rows, &name)?,
            None => vec![],
        };
        let chunk_rows = chunk_rows.unwrap_or(CHUNK_BYTES / (4 * features)).clamp(1, rows);
        let chunks = rows.div_ceil(chunk_rows);
        Ok(Self {
            file,
            name,
            rows,
            features,
            data_offset: header.data_offset as u64,
            chunk_rows,
            labels,
            labels_name: y.map(|y| y.display().to_string()).unwrap_or_default(),
            checked: (0..chunks).map(|_| AtomicBool::new(false)).collect(),
            modified,
        })
    }

    /// The rows with class indices `labels` (one per row, from `name`) as their labels, for a
    /// multiclass run ([`crate::data::npy::read_class_labels`] reads them).
    pub fn with_class_labels(self, labels: Vec<f32>, name: &Path) -> Result<Self> {
        if labels.len() != self.rows {
            let message = format!("{} labels for the {} rows of {}", labels.len(), self.rows, self.name);
            return Err(bad(&name.display().to_string(), message));
        }
        Ok(Self { labels, labels_name: name.display().to_string(), ..self })
    }

    /// The labels, one per row (empty when opened without).
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// Where the file was opened from, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the labels were read from, for messages (empty when opened without).
    pub fn labels_name(&self) -> &str {
        &self.labels_name
    }

    /// The file as it was opened: its data all there (else it shrank) and its mtime the same (else
    /// it was rewritten in place).
    fn check_unchanged(&self) -> Result<()> {
        let meta = self.file.metadata().map_err(|error| Error::Io { path: self.name.clone().into(), error })?;
        let (now, full) = (meta.len(), self.data_offset + (self.rows * self.features * 4) as u64);
        if now < full {
            let message =
                format!("the file shrank to {now} bytes while it was read (its {} rows need {full})", self.rows);
            return Err(bad(&self.name, message));
        }
        if meta.modified().ok() != self.modified {
            return Err(bad(&self.name, "the file was rewritten while it was read: train again once it is still"));
        }
        Ok(())
    }

    /// Calls `f` with chunk `i`'s features and first row, labels or not.
    fn map_chunk<T>(&self, i: usize, f: impl FnOnce(&[f32], usize) -> Result<T>) -> Result<T> {
        let (first, len) = (i * self.chunk_rows, self.chunk_len(i));
        let start = self.data_offset + (first * self.features * 4) as u64;
        // Map from a 64 KiB boundary: a multiple of every page size.
        let aligned = start / 65536 * 65536;
        let skip = (start - aligned) as usize;
        // A file cut short since it was opened is an error here, before its missing pages are
        // touched (which would be a bus error); a cut anywhere counts, not only in this chunk, so
        // a cut file reads as cut and not as rewritten (its mtime changed too).
        self.check_unchanged()?;
        // SAFETY: the map is read-only and private to this call; if another process truncates
        // the file while the chunk is in use, reading faults (SIGBUS, which the command line
        // turns into one line), as with any memory-mapped input.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(aligned)
                .len(skip + len * self.features * 4)
                .populate()
                .map(&self.file)
                .map_err(|error| Error::Io { path: self.name.clone().into(), error })?
        };
        let x: &[f32] = bytemuck::try_cast_slice(&map[skip..])
            .map_err(|e| bad(&self.name, format!("cannot read the data as f32: {e}")))?;
        if !self.checked[i].load(Ordering::Relaxed) {
            // Σ v·0 is NaN exactly when some v is NaN or infinite; it vectorizes, unlike a search.
            let (whole, tail) = x.as_chunks::<16>();
            let probe = whole.iter().fold([0f32; 16], |mut acc, c| {
                for k in 0..16 {
                    acc[k] += c[k] * 0.0;
                }
                acc
            });
            let suspect = probe.iter().chain(tail).any(|v| !v.is_finite());
            if let Some(k) = suspect.then(|| x.iter().position(|v| !v.is_finite())).flatten() {
                let (row, column) = (first + k / self.features + 1, k % self.features + 1);
                return Err(bad(&self.name, format!("row {row}, column {column}: {} is not a finite number", x[k])));
            }
            self.checked[i].store(true, Ordering::Relaxed);
        }
        f(x, first)
    }

    /// The features of the rows `index` (0-based, any order, repeats allowed), in that order,
    /// into `out` (resized to `index.len() × d`): one positioned read per row, so a batch drawn
    /// anywhere in the file costs its own rows, not the chunks around them, and nothing is mapped
    /// (a file cut short is an error here, never a fault). Values are checked finite as read.
    pub fn gather(&self, index: &[i64], out: &mut Vec<f32>) -> Result<()> {
        use std::os::unix::fs::FileExt;
        let d = self.features;
        self.check_unchanged()?;
        out.resize(index.len() * d, 0.0);
        let mut bytes = vec![0u8; d * 4];
        for (&row, values) in index.iter().zip(out.chunks_exact_mut(d)) {
            let row = usize::try_from(row)
                .ok()
                .filter(|&r| r < self.rows)
                .ok_or_else(|| bad(&self.name, format!("row index {row} is outside the file's {} rows", self.rows)))?;
            let start = self.data_offset + (row * d * 4) as u64;
            self.file.read_exact_at(&mut bytes, start).map_err(|error| match error.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    bad(&self.name, format!("the file shrank while it was read (row {} is past its end)", row + 1))
                }
                _ => Error::Io { path: self.name.clone().into(), error },
            })?;
            for (v, b) in values.iter_mut().zip(bytes.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            if let Some(k) = values.iter().position(|v| !v.is_finite()) {
                return Err(bad(
                    &self.name,
                    format!("row {}, column {}: {} is not a finite number", row + 1, k + 1, values[k]),
                ));
            }
        }
        Ok(())
    }

    /// P(y = 1) of every row under weights `w` and bias `b` applied to `(x − mean) / std` when
    /// `standardizer` is given, in row order.
    pub fn probabilities(&self, w: &[f32], b: f32, standardizer: Option<(&[f32], &[f32])>) -> Result<Vec<f32>> {
        // (x − μ)/σ · w + b = x · (w/σ) + (b − Σ wμ/σ): the chunks are read as they are.
        let (w, b) = match standardizer {
            Some((mean, std)) => {
                let scaled: Vec<f32> = w.iter().zip(std).map(|(w, s)| w / s).collect();
                let shift: f64 = scaled.iter().zip(mean).map(|(w, m)| f64::from(*w) * f64::from(*m)).sum();
                (scaled, (f64::from(b) - shift) as f32)
            }
            None => (w.to_vec(), b),
        };
        let mut out = Vec::with_capacity(self.rows);
        for i in 0..self.chunks() {
            self.map_chunk(i, |x, _| {
                crate::simd::probabilities(x, self.features, &w, b, &mut out);
                Ok(())
            })?;
        }
        crate::train::fit::finite_probabilities(&out, &self.name)?;
        Ok(out)
    }
}

impl Source for NpyRows {
    fn rows(&self) -> usize {
        self.rows
    }
    fn features(&self) -> usize {
        self.features
    }
    fn chunks(&self) -> usize {
        self.checked.len()
    }
    fn chunk_len(&self, i: usize) -> usize {
        self.chunk_rows.min(self.rows - i * self.chunk_rows)
    }
    fn with_chunk(&self, i: usize, f: &mut ChunkFn) -> Result<()> {
        if self.labels.is_empty() {
            return Err(bad(&self.name, "training needs labels (--labels)"));
        }
        self.map_chunk(i, |x, first| f(x, &self.labels[first..first + x.len() / self.features]))
    }
}

impl NpyRows {
    /// Every column's mean and standard deviation (population, as [`Standardizer::fit`]; 1 for
    /// a constant column), in one pass over the file. Sums run in f64 around the first row's
    /// values, so large offsets do not cancel the spread.
    pub(crate) fn standardizer(&self) -> Result<Standardizer> {
        let d = self.features;
        let shift: Vec<f64> = self.map_chunk(0, |x, _| Ok(x[..d].iter().map(|&v| f64::from(v)).collect()))?;
        let threads = crate::simd::threads();
        // Per thread: its chunks' sums of (x − shift) and (x − shift)², column by column.
        let parts: Vec<Result<(Vec<f64>, Vec<f64>)>> = std::thread::scope(|scope| {
            let shift = &shift;
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        let (mut sum, mut squares) = (vec![0f64; d], vec![0f64; d]);
                        for i in (t..self.chunks()).step_by(threads) {
                            self.map_chunk(i, |x, _| {
                                for row in x.chunks_exact(d) {
                                    for (((s, q), &v), k) in sum.iter_mut().zip(&mut squares).zip(row).zip(shift) {
                                        let v = f64::from(v) - k;
                                        *s += v;
                                        *q += v * v;
                                    }
                                }
                                Ok(())
                            })?;
                        }
                        Ok((sum, squares))
                    })
                })
                .collect();
            workers.into_iter().map(|h| h.join().expect("a worker thread panicked")).collect()
        });
        let (mut sum, mut squares) = (vec![0f64; d], vec![0f64; d]);
        for part in parts {
            let (s, q) = part?;
            sum.iter_mut().zip(&s).for_each(|(a, b)| *a += b);
            squares.iter_mut().zip(&q).for_each(|(a, b)| *a += b);
        }
        let (n, k) = (self.rows as f64, shift);
        let mean = (0..d).map(|j| (k[j] + sum[j] / n) as f32).collect();
        let std = (0..d)
            .map(|j| {
                let s = ((squares[j] - sum[j] * sum[j] / n).max(0.0) / n).sqrt() as f32;
                if s > 0.0 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Standardizer { mean, std })
    }
}

/// A source seen through a standardizer: each chunk is copied, as `(x − mean) / std` (the f32
/// operations [`Standardizer::apply`] does), into a per-thread buffer that is reused.
pub(crate) struct Standardized<'a> {
    pub(crate) inner: &'a dyn Source,
    pub(crate) standardizer: &'a Standardizer,
}

thread_local! {
    static BUFFER: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Source for Standardized<'_> {
    fn rows(&self) -> usize {
        self.inner.rows()
    }
    fn features(&self) -> usize {
        self.inner.features()
    }
    fn chunks(&self) -> usize {
        self.inner.chunks()
    }
    fn chunk_len(&self, i: usize) -> usize {
        self.inner.chunk_len(i)
    }
    fn with_chunk(&self, i: usize, f: &mut ChunkFn) -> Result<()> {
        let (mean, std) = (&self.standardizer.mean, &self.standardizer.std);
        self.inner.with_chunk(i, &mut |x, y| {
            BUFFER.with_borrow_mut(|buf| {
                buf.resize(x.len(), 0.0);
                for (out, row) in buf.chunks_exact_mut(mean.len()).zip(x.chunks_exact(mean.len())) {
                    for (((o, v), m), s) in out.iter_mut().zip(row).zip(mean).zip(std) {
                        *o = (v - m) / s;
                    }
                }
                f(&buf[..x.len()], y)
            })
        })
    }
}

/// What [`convert`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted {
    /// Data rows written to both files.
    pub rows: usize,
    /// The CSV header's feature columns and label column.
    pub columns: Columns,
}

/// Converts the CSV file `csv` (label column `label`) into `x_out` (features, `(n, d)` `<f4`) and
/// `y_out` (labels, `(n,)` `<f4`), reading and writing one row at a time. Both files are written
/// under temporary names and renamed at the end, so a failure leaves neither. The delimiter is
/// detected, and gzip or zstd input is decoded as it is read.
pub fn convert(csv: &Path, label: &LabelColumn, x_out: &Path, y_out: &Path) -> Result<Converted> {
    convert_with(csv, label, &Format::default(), x_out, y_out, None)
}

/// The rows of a conversion on their way to the features file, the labels kept for theirs.
struct RowWriter<'a> {
    out: BufWriter<&'a File>,
    path: &'a Path,
    labels: Vec<f32>,
    width: usize,
}

impl RowWriter<'_> {
    fn push(&mut self, row: &[f32], label: Option<f32>) -> Result<()> {
        self.width = row.len();
        self.labels.extend(label);
        for v in row {
            self.out.write_all(&v.to_le_bytes()).map_err(io(self.path))?;
        }
        Ok(())
    }
}

/// Makes a conversion's recipe from what its rows' reader returned.
type MakeRecipe<'a, T> = dyn Fn(&T) -> Recipe + 'a;

/// Writes `x_out` and `y_out` from the rows `fill` pushes, and with `recipe` the recipe file
/// (made from what `fill` returned and the labels). All three are staged whole, and `check`ed,
/// before any is renamed into place (the labels, the recipe, then the features), so a failure
/// leaves the previous three; a kill between the renames leaves a set whose recipe file refuses
/// the other two (rows, labels checksum).
fn write_pair<T>(
    name: &str,
    x_out: &Path,
    y_out: &Path,
    recipe: Option<(&Path, &MakeRecipe<'_, T>)>,
    fill: impl FnOnce(&mut RowWriter) -> Result<T>,
    check: impl FnOnce(&T) -> Result<()>,
) -> Result<(T, usize)> {
    // Room for the final shape: the header is rewritten in place once the rows are counted.
    const HEADER: usize = 128;
    try_replace_with(x_out, ".npy", |temp| {
        let mut out = BufWriter::with_capacity(1 << 20, temp.as_file());
        out.write_all(&npy::header_bytes(&[0, 0], HEADER)).map_err(io(x_out))?;
        let mut writer = RowWriter { out, path: x_out, labels: vec![], width: 0 };
        let read = fill(&mut writer)?;
        let RowWriter { out, labels, width, .. } = writer;
        let rows = labels.len();
        let mut file = out.into_inner().map_err(|e| Error::Io { path: x_out.into(), error: e.into_error() })?;
        let header = npy::header_bytes(&[rows, width], HEADER);
        if header.len() != HEADER {
            return Err(bad(name, format!("{rows} rows × {width} columns do not fit a {HEADER}-byte .npy header")));
        }
        file.seek(SeekFrom::Start(0)).map_err(io(x_out))?;
        file.write_all(&header).map_err(io(x_out))?;
        file.sync_all().map_err(io(x_out))?;
        check(&read)?;
        let label_bytes = npy::f32_vector_bytes(&labels);
        let stage_labels = || {
            try_replace_with(y_out, ".npy", |staged| {
                staged.write_all(&label_bytes).map_err(io(y_out))?;
                staged.as_file().sync_all().map_err(io(y_out))
            })
        };
        match recipe {
            Some((path, make)) => {
                let bytes = RecipeFile::new(make(&read), &labels).to_bytes(path)?;
                // Staged inside the recipe's staging: renamed first, the recipe second.
                try_replace_with(path, ".tmp", |staged| {
                    staged.write_all(&bytes).map_err(io(path))?;
                    staged.as_file().sync_all().map_err(io(path))?;
                    stage_labels()
                })?;
            }
            None => stage_labels()?,
        }
        Ok((read, rows))
    })
}

/// The identity of a file (device, inode, size, modification time), to notice one changed or
/// replaced between two passes.
fn identity(path: &Path) -> Result<(u64, u64, u64, Option<std::time::SystemTime>)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(io(path))?;
    Ok((meta.dev(), meta.ino(), meta.len(), meta.modified().ok()))
}

/// [`convert`] of a CSV file written in `format`; with `recipe_out`, the recipe file beside (its
/// columns by name: every feature a number, the labels 0/1).
pub fn convert_with(
    csv: &Path,
    label: &LabelColumn,
    format: &Format,
    x_out: &Path,
    y_out: &Path,
    recipe_out: Option<&Path>,
) -> Result<Converted> {
    let name = csv.display().to_string();
    let input: Box<dyn Read + Send> =
        if csv == Path::new("-") { Box::new(std::io::stdin()) } else { Box::new(File::open(csv).map_err(io(csv))?) };
    let make = |read: &Columns| Recipe::legacy(&read.feature_names, read.label_name.as_deref().unwrap_or_default());
    let (columns, rows) = write_pair(
        &name,
        x_out,
        y_out,
        recipe_out.map(|p| (p, &make as &MakeRecipe<'_, Columns>)),
        |writer| {
            let input = BufReader::with_capacity(1 << 20, input);
            let read = read_rows_background(&name, input, label, format, |row, label| writer.push(row, label))?;
            if read.label_name.is_none() {
                return Err(bad(&name, "no label column to convert"));
            }
            Ok(read)
        },
        |_| Ok(()),
    )?;
    Ok(Converted { rows, columns })
}

/// What [`convert_recipe`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvertedRecipe {
    /// Data rows written to both files.
    pub rows: usize,
    /// Rows left out by `--missing drop-rows`.
    pub dropped: usize,
    /// The recipe that read the CSV file: the features' names (`x0 …` in this order), the label's
    /// classes, the imputed values (learned on the whole file).
    pub recipe: Recipe,
    /// Whether the rows were streamed in two passes (else the table was read into memory).
    pub streamed: bool,
}

/// [`convert_with`] through an input recipe (`spec`: text labels, IDs, chosen columns, categorical
/// levels, missing values), the recipe file written to `recipe_out`. A regular file is read twice,
/// never held: a first pass learns the recipe (levels, classes, means), a second writes each row
/// through it; a file changed between the passes is an error. Standard input, pipes and devices,
/// which cannot be read twice, and `--missing median`, which needs every value, are read into
/// memory first. Both ways give the same bytes.
pub fn convert_recipe(
    csv: &Path,
    format: &Format,
    spec: &Spec,
    x_out: &Path,
    y_out: &Path,
    recipe_out: &Path,
) -> Result<ConvertedRecipe> {
    let regular = csv != Path::new("-") && std::fs::metadata(csv).is_ok_and(|m| m.is_file());
    if !regular || spec.missing == Missing::Median {
        return convert_in_memory(csv, format, spec, x_out, y_out, recipe_out);
    }
    let before = identity(csv)?;
    let learned = learn_recipe(csv, format, spec)?;
    write_learned(csv, format, learned, before, [x_out, y_out, recipe_out])
}

/// The second pass of [`convert_recipe`]: each row of `csv` written through the recipe `learned`
/// from it when the file had the identity `before`, to the features, labels and recipe files.
fn write_learned(
    csv: &Path,
    format: &Format,
    Learned { recipe, rows: learned, dropped }: Learned,
    before: (u64, u64, u64, Option<std::time::SystemTime>),
    [x_out, y_out, recipe_out]: [&Path; 3],
) -> Result<ConvertedRecipe> {
    let name = csv.display().to_string();
    let changed = || bad(&name, "the file changed while it was converted: convert it again once it is still");
    let make = |_: &(usize, usize)| recipe.clone();
    let ((_, _), rows) = write_pair(
        &name,
        x_out,
        y_out,
        Some((recipe_out, &make)),
        // A row the recipe refuses (a class or level it never saw) in a file that changed since
        // the recipe was learned is the change, not the row.
        |writer| {
            apply_rows(csv, format, &recipe, |row, label| writer.push(row, Some(label))).map_err(|e| {
                if identity(csv).ok() == Some(before) {
                    e
                } else {
                    changed()
                }
            })
        },
        // Checked before anything is renamed: the rows must be those the recipe learned from.
        |&(written, dropped_again)| {
            if (written, dropped_again) != (learned, dropped) || identity(csv)? != before {
                return Err(changed());
            }
            Ok(())
        },
    )?;
    Ok(ConvertedRecipe { rows, dropped, recipe, streamed: true })
}

/// [`convert_recipe`] of a table read into memory.
fn convert_in_memory(
    csv: &Path,
    format: &Format,
    spec: &Spec,
    x_out: &Path,
    y_out: &Path,
    recipe_out: &Path,
) -> Result<ConvertedRecipe> {
    let TrainingInput { mut table, mut recipe, dropped, .. } = read_training(csv, format, spec)?;
    recipe.impute(&table.source, &mut [&mut table.features])?;
    let width = table.feature_names.len();
    let name = table.source.clone();
    let make = |_: &()| recipe.clone();
    let (_, rows) = write_pair(
        &name,
        x_out,
        y_out,
        Some((recipe_out, &make)),
        |writer| {
            for (row, &label) in table.features.chunks_exact(width).zip(&table.labels) {
                writer.push(row, Some(label))?;
            }
            Ok(())
        },
        |_| Ok(()),
    )?;
    Ok(ConvertedRecipe { rows, dropped, recipe, streamed: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::fused::full_pass;

    #[test]
    fn converted_csv_reads_back_in_any_chunking_with_the_same_sums() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        let mut text = String::from("a,b,c,y\n");
        for i in 0..1000 {
            let v = i as f32 * 0.01;
            text += &format!("{v},{},{},{}\n", (v * 3.0).sin(), -v, i % 3 % 2);
        }
        std::fs::write(&csv, text).unwrap();
        let (x, y) = (dir.path().join("d.npy"), dir.path().join("d.labels.npy"));
        let c = convert(&csv, &LabelColumn::Last, &x, &y).unwrap();
        assert_eq!((c.rows, c.columns.feature_names.len()), (1000, 3));
        let table = npy::read_table(&x, Some(&y)).unwrap();
        let parsed = crate::data::table::parse("d.csv", &std::fs::read(&csv).unwrap(), &LabelColumn::Last).unwrap();
        assert_eq!((table.features, table.labels), (parsed.features, parsed.labels));
        let (w, b) = ([0.3f32, -0.2, 0.1], 0.05f32);
        let whole = full_pass(&NpyRows::open(&x, Some(&y), None).unwrap(), &w, b).unwrap();
        let chunked = NpyRows::open(&x, Some(&y), Some(77)).unwrap();
        assert_eq!(chunked.chunks(), 13);
        let parts = full_pass(&chunked, &w, b).unwrap();
        assert_eq!(parts.rows, 1000);
        // Chunks move the boundaries of the f32 partial sums: rounding only.
        assert!((whole.loss - parts.loss).abs() < 1e-6 * whole.loss, "{} vs {}", whole.loss, parts.loss);
        let probs = chunked.probabilities(&w, b, None).unwrap();
        assert_eq!(probs.len(), 1000);
        let z = 0.3 * 0.01 - 0.2 * (0.03f32).sin() - 0.1 * 0.01 + 0.05;
        assert!((probs[1] - 1.0 / (1.0 + (-z).exp())).abs() < 1e-6);
    }

    #[test]
    fn streamed_statistics_and_standardized_chunks_match_the_tensor_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("s.npy"), dir.path().join("s.labels.npy"));
        let (n, d) = (500, 3);
        let values: Vec<f32> = (0..n * d).map(|i| 1000.0 + ((i * 7919 % 1009) as f32) * 0.5 + (i % d) as f32).collect();
        let mut bytes = npy::header_bytes(&[n, d], 0);
        values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
        std::fs::write(&x, bytes).unwrap();
        npy::write_f32_vector(&y, &(0..n).map(|i| (i % 2) as f32).collect::<Vec<_>>()).unwrap();
        let rows = NpyRows::open(&x, Some(&y), Some(64)).unwrap();
        let streamed = rows.standardizer().unwrap();
        let tensor = tch::Tensor::from_slice(&values).view([n as i64, d as i64]);
        let fitted = Standardizer::fit(&tensor).unwrap();
        for j in 0..d {
            assert!((streamed.mean[j] - fitted.mean[j]).abs() <= 1e-4, "{streamed:?} vs {fitted:?}");
            assert!((streamed.std[j] / fitted.std[j] - 1.0).abs() <= 1e-5, "{streamed:?} vs {fitted:?}");
        }
        let applied = Vec::<f32>::try_from(fitted.apply(&tensor).unwrap().flatten(0, -1)).unwrap();
        let view = Standardized { inner: &rows, standardizer: &fitted };
        let mut seen = vec![];
        for i in 0..view.chunks() {
            view.with_chunk(i, &mut |x, _| {
                seen.extend_from_slice(x);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen, applied, "the same f32 operations as Standardizer::apply");
    }

    /// A class appended between `convert`'s two passes is the file changing, not a bad row.
    #[test]
    fn a_class_appended_between_the_passes_is_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "a,y\n1,cat\n2,dog\n3,bird\n").unwrap();
        let outs = ["t.npy", "t.labels.npy", "t.recipe.json"].map(|f| dir.path().join(f));
        let [x, y, r] = [&outs[0], &outs[1], &outs[2]].map(|p| p.as_path());
        let (format, spec) = (Format::default(), Spec::default());
        let learned = || learn_recipe(&csv, &format, &spec).unwrap();
        let c = write_learned(&csv, &format, learned(), identity(&csv).unwrap(), [x, y, r]).unwrap();
        assert_eq!((c.rows, c.recipe.class_names.as_ref().map(Vec::len)), (3, Some(3)));
        let (before, learned) = (identity(&csv).unwrap(), learned());
        let written: Vec<Vec<u8>> = outs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        std::fs::write(&csv, "a,y\n1,cat\n2,dog\n3,bird\n4,fish\n").unwrap();
        let e = write_learned(&csv, &format, learned, before, [x, y, r]).unwrap_err().to_string();
        assert!(
            e.ends_with("t.csv: the file changed while it was converted: convert it again once it is still"),
            "{e}"
        );
        for (p, bytes) in outs.iter().zip(&written) {
            assert_eq!(&std::fs::read(p).unwrap(), bytes, "{p:?} was overwritten");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4, "a temporary file was left behind");
    }

    #[test]
    fn bad_inputs_are_refused_with_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let (x, y) = (dir.path().join("o.npy"), dir.path().join("o.labels.npy"));
        let e = convert(&write("bad.csv", "a,y\n1,0\nz,1\n"), &LabelColumn::Last, &x, &y).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}:3:1: `z` is not a number (column `a`)", dir.path().join("bad.csv").display())
        );
        assert!(!x.exists() && !y.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file was left behind");
        let f8 = dir.path().join("f8.npy");
        let mut bytes = npy::header_bytes(&[1, 1], 0);
        bytes.extend(1.0f32.to_le_bytes());
        let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
        bytes[at..at + 3].copy_from_slice(b"<i4");
        std::fs::write(&f8, bytes).unwrap();
        let e = NpyRows::open(&f8, None, None).err().unwrap().to_string();
        assert!(e.contains("streaming reads little-endian f32 (`<f4`) arrays, found `<i4`"), "{e}");
        let nan = dir.path().join("nan.npy");
        let mut bytes = npy::header_bytes(&[2, 2], 0);
        for v in [1.0f32, 2.0, f32::NAN, 4.0] {
            bytes.extend(v.to_le_bytes());
        }
        std::fs::write(&nan, bytes).unwrap();
        let e =
            NpyRows::open(&nan, None, Some(1)).unwrap().probabilities(&[0.0, 0.0], 0.0, None).unwrap_err().to_string();
        assert!(e.ends_with("nan.npy: row 2, column 1: NaN is not a finite number"), "{e}");
    }
}
