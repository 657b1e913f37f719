//! The recipe file `convert` writes beside its `.npy` pair (`data.npy` → `data.recipe.json`): how
//! the CSV file became those columns, so that a model trained on the `.npy` file, in memory or
//! `--stream`, records the recipe and scores the raw CSV file as a model trained on it would.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::recipe::Recipe;
use crate::error::{Error, Result};
use crate::output::write_atomically;

/// What the file's `format` field holds.
const FORMAT: &str = "logreg-recipe";
/// The layout written here.
const VERSION: u32 = 1;

/// A `.npy` pair's recipe and the shape it was written with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// Always `logreg-recipe`.
    pub format: String,
    /// The layout's version (1).
    pub version: u32,
    /// Rows in the `.npy` pair.
    pub rows: usize,
    /// Columns of the features file: the recipe's feature names, in order.
    pub features: usize,
    /// The labels file's values, hashed ([`labels_checksum`]): labels from another conversion
    /// (the other positive class, other rows) are refused, not learned upside down.
    pub labels_checksum: String,
    /// How the CSV file was read, its imputations learned on every row converted.
    pub recipe: Recipe,
}

/// A recipe file larger than this is refused before it is read (a million levels fit in far less).
const MAX_BYTES: u64 = 256 << 20;

/// Where the recipe of the features file `npy` lives: `data.npy` → `data.recipe.json`.
pub fn path_for(npy: &Path) -> PathBuf {
    let stem = npy.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    npy.with_file_name(format!("{stem}.recipe.json"))
}

/// 64-bit FNV-1a of the labels' little-endian f32 bytes, as hex: not a defence against forgery,
/// a check that a labels file is the one converted with the features.
pub fn labels_checksum(labels: &[f32]) -> String {
    format!("fnv1a64:{:016x}", crate::hash::values_hash(labels))
}

impl RecipeFile {
    /// The recipe of the converted `labels` (one per row).
    pub fn new(recipe: Recipe, labels: &[f32]) -> Self {
        let features = recipe.feature_names().len();
        let labels_checksum = labels_checksum(labels);
        Self { format: FORMAT.into(), version: VERSION, rows: labels.len(), features, labels_checksum, recipe }
    }

    /// The file's bytes: pretty JSON and a newline.
    pub fn to_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let mut text = serde_json::to_string_pretty(self).map_err(|error| Error::Json { path: path.into(), error })?;
        text.push('\n');
        Ok(text.into_bytes())
    }

    /// Writes it to `path`, replaced by a rename (never half-written).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes(path)?)
    }

    /// Reads the recipe file `path`: a JSON error at `path:line:column`, a file of another kind or
    /// version, or a feature count that is not the recipe's, in one line.
    pub fn read(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Input { location: path.display().to_string(), message };
        let io = |error| Error::Io { path: path.into(), error };
        // A regular file of a sane size, checked before reading (a link to /dev/zero, a FIFO).
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if meta.len() > MAX_BYTES {
            return Err(bad(format!("{} bytes: larger than a recipe file can be ({MAX_BYTES})", meta.len())));
        }
        let mut bytes = vec![];
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::fs::File::open(path).map_err(io)?, MAX_BYTES),
            &mut bytes,
        )
        .map_err(io)?;
        let file: Self = serde_json::from_slice(&bytes).map_err(|e| {
            // serde's message ends with its own "at line L column C": the location says it.
            let message = e.to_string();
            let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
            // A key or value edited to hold a line break is quoted in serde's message: escape it.
            let message = crate::error::one_line(message);
            Error::Input {
                location: format!("{}:{}:{}", path.display(), e.line(), e.column()),
                message: format!("not a recipe file that `logreg convert` writes: {message}"),
            }
        })?;
        if file.format != FORMAT {
            return Err(bad(format!("format `{}`, expected `{FORMAT}`", file.format.escape_debug())));
        }
        if file.version != VERSION {
            return Err(bad(format!("version {}: this logreg reads version {VERSION}", file.version)));
        }
        let names = file.recipe.feature_names().len();
        if names != file.features {
            return Err(bad(format!("says {} features, and its recipe makes {names}", file.features)));
        }
        if file.recipe.inputs.iter().any(|i| i.impute.is_some_and(|v| !v.is_finite())) {
            return Err(bad("an imputed value is not a finite number".into()));
        }
        file.recipe.check().map_err(bad)?;
        Ok(file)
    }

    /// The recipe file beside the features file `npy` (or beside the file a link named `npy`
    /// leads to), if there is one; a link to nothing is an error, not "none".
    pub fn beside(npy: &Path) -> Result<Option<(PathBuf, Self)>> {
        let mut candidates = vec![path_for(npy)];
        if let Ok(real) = std::fs::canonicalize(npy) {
            candidates.push(path_for(&real));
        }
        for path in candidates {
            match std::fs::symlink_metadata(&path) {
                Ok(_) => return Ok(Some((path.clone(), Self::read(&path)?))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(Error::Io { path, error }),
            }
        }
        Ok(None)
    }

    /// Checks that it describes `npy`'s `rows` × `features`, and, when given, its labels.
    pub fn check(&self, path: &Path, npy: &Path, rows: usize, features: usize, labels: Option<&[f32]>) -> Result<()> {
        let bad = |message: String| Error::Input { location: path.display().to_string(), message };
        let hint = "convert the CSV file again, or remove this file to use the array alone";
        if (self.rows, self.features) != (rows, features) {
            return Err(bad(format!(
                "describes {} rows × {} features, and {} holds {rows} × {features}: {hint}",
                self.rows,
                self.features,
                npy.display()
            )));
        }
        if labels.is_some_and(|l| labels_checksum(l) != self.labels_checksum) {
            return Err(bad(format!(
                "the labels given are not the ones converted with {} (another conversion's, or another positive \
                 class): use the labels file convert wrote beside it, or {hint}",
                npy.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::recipe::Recipe;

    #[test]
    fn a_written_recipe_file_reads_back_and_a_damaged_one_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("big.npy");
        let path = path_for(&npy);
        assert_eq!(path, dir.path().join("big.recipe.json"));
        let labels = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let file = RecipeFile::new(Recipe::legacy(&["a".into(), "b".into()], "y"), &labels);
        file.write(&path).unwrap();
        let (found, read) = RecipeFile::beside(&npy).unwrap().unwrap();
        assert_eq!((found, &read), (path.clone(), &file));
        read.check(&path, &npy, 7, 2, Some(&labels)).unwrap();
        let e = read.check(&path, &npy, 8, 2, None).unwrap_err().to_string();
        assert!(e.contains("describes 7 rows × 2 features") && e.contains("holds 8 × 2"), "{e}");
        let flipped: Vec<f32> = labels.iter().map(|v| 1.0 - v).collect();
        let e = read.check(&path, &npy, 7, 2, Some(&flipped)).unwrap_err().to_string();
        assert!(e.contains("the labels given are not the ones converted with"), "{e}");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"features\": 2", "\"features\": 3")).unwrap();
        let e = RecipeFile::read(&path).unwrap_err().to_string();
        assert!(e.ends_with("says 3 features, and its recipe makes 2"), "{e}");
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let e = RecipeFile::read(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:", path.display())) && !e.contains('\n'), "{e}");
        assert!(RecipeFile::beside(&dir.path().join("other.npy")).unwrap().is_none());
    }

    proptest::proptest! {
        /// A written file with bytes changed: a recipe file or a one-line error, never a panic.
        #[test]
        fn edited_recipe_files_read_or_fail_in_one_line(
            edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 1..4)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.recipe.json");
            RecipeFile::new(Recipe::legacy(&["a".into(), "b".into()], "y"), &[0.0, 1.0, 1.0]).write(&path).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            std::fs::write(&path, &bytes).unwrap();
            if let Err(e) = RecipeFile::read(&path) {
                proptest::prop_assert!(!e.to_string().contains('\n'), "{}", e);
            }
        }
    }
}
