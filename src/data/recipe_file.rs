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
    /// How the CSV file was read, its imputations learned on every row converted.
    pub recipe: Recipe,
}

/// Where the recipe of the features file `npy` lives: `data.npy` → `data.recipe.json`.
pub fn path_for(npy: &Path) -> PathBuf {
    let stem = npy.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    npy.with_file_name(format!("{stem}.recipe.json"))
}

impl RecipeFile {
    /// The recipe of `rows` converted rows.
    pub fn new(recipe: Recipe, rows: usize) -> Self {
        let features = recipe.feature_names().len();
        Self { format: FORMAT.into(), version: VERSION, rows, features, recipe }
    }

    /// Writes it to `path`, replaced by a rename (never half-written).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(|error| Error::Json { path: path.into(), error })?;
        text.push('\n');
        write_atomically(path, text.as_bytes())
    }

    /// Reads the recipe file `path`: a JSON error at `path:line:column`, a file of another kind or
    /// version, or a feature count that is not the recipe's, in one line.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.into(), error })?;
        let bad = |message: String| Error::Input { location: path.display().to_string(), message };
        let file: Self = serde_json::from_slice(&bytes).map_err(|e| Error::Input {
            location: format!("{}:{}:{}", path.display(), e.line(), e.column()),
            message: format!("not a recipe file that `logreg convert` writes: {e}"),
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
        Ok(file)
    }

    /// The recipe file beside the features file `npy`, if there is one.
    pub fn beside(npy: &Path) -> Result<Option<(PathBuf, Self)>> {
        let path = path_for(npy);
        if !path.exists() {
            return Ok(None);
        }
        let file = Self::read(&path)?;
        Ok(Some((path, file)))
    }

    /// Checks that it describes `npy`'s `rows` × `features`.
    pub fn check(&self, path: &Path, npy: &Path, rows: usize, features: usize) -> Result<()> {
        if (self.rows, self.features) == (rows, features) {
            return Ok(());
        }
        Err(Error::Input {
            location: path.display().to_string(),
            message: format!(
                "describes {} rows × {} features, and {} holds {rows} × {features}: convert the CSV file again, or \
                 remove this file to train on the array alone",
                self.rows,
                self.features,
                npy.display()
            ),
        })
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
        let file = RecipeFile::new(Recipe::legacy(&["a".into(), "b".into()], "y"), 7);
        file.write(&path).unwrap();
        let (found, read) = RecipeFile::beside(&npy).unwrap().unwrap();
        assert_eq!((found, &read), (path.clone(), &file));
        read.check(&path, &npy, 7, 2).unwrap();
        let e = read.check(&path, &npy, 8, 2).unwrap_err().to_string();
        assert!(e.contains("describes 7 rows × 2 features") && e.contains("holds 8 × 2"), "{e}");
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
            RecipeFile::new(Recipe::legacy(&["a".into(), "b".into()], "y"), 3).write(&path).unwrap();
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
