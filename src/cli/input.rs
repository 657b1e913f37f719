//! The data flags `train`, `path` and `cv` share (`--data`, `--label`, `--labels`, and the CSV
//! format flags `--delimiter` and `--decimal-comma`), and reading a table from a CSV or `.npy`
//! file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::bail;
use clap::{ArgMatches, Args, FromArgMatches};

use logreg::data::missing::{parse_na_values, Missing};
use logreg::data::npy;
use logreg::data::recipe::{self, Categorical, Recipe, Spec, TrainingInput};
use logreg::data::recipe_file::RecipeFile;
use logreg::data::stream::NpyRows;
use logreg::data::table::{self, Delimiter, Format, LabelColumn, Table};

use super::at_least_one;

/// The CSV format flags as parsed, for every table the command reads (a command reads one kind of
/// file): recorded when [`FormatArgs`] is parsed, as `main` records `--json`.
static FORMAT: Mutex<Format> = Mutex::new(Format { delimiter: Delimiter::Detect, decimal_comma: false });

/// The CSV format the command's flags asked for, checked (`--decimal-comma` needs a delimiter other
/// than `,`).
pub(crate) fn format() -> anyhow::Result<Format> {
    let format = *FORMAT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    format.check().map_err(anyhow::Error::msg)?;
    Ok(format)
}

/// `--delimiter` and `--decimal-comma`.
#[derive(Args)]
struct FormatFlags {
    /// Cell delimiter of a CSV file: `,` `;` `tab` (or `\t`) `|` [default: the one that splits the
    /// header line into the most fields].
    #[arg(long, value_name = "DELIMITER")]
    delimiter: Option<Delimiter>,
    /// Numbers in the CSV file are written with a decimal comma (`3,14`); needs a delimiter other
    /// than `,`.
    #[arg(long)]
    decimal_comma: bool,
}

/// The CSV format flags (`--delimiter`, `--decimal-comma`) of every command that reads a table:
/// flattened into a command's flags; parsing them records them for [`load_table`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FormatArgs(pub(crate) Format);

impl FormatArgs {
    /// The format, checked.
    pub(crate) fn format(&self) -> anyhow::Result<Format> {
        self.0.check().map_err(anyhow::Error::msg)?;
        Ok(self.0)
    }
}

impl FromArgMatches for FormatArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let flags = FormatFlags::from_arg_matches(matches)?;
        let format = Format { delimiter: flags.delimiter.unwrap_or_default(), decimal_comma: flags.decimal_comma };
        *FORMAT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = format;
        Ok(Self(format))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for FormatArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        FormatFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        FormatFlags::augment_args_for_update(cmd)
    }
}

/// The flags of [`InputArgs`], as clap reads them.
#[derive(Args)]
struct InputFlags {
    /// CSV file with a header row (`-` reads standard input; gzip or zstd is decompressed as it is
    /// read), or a 2-D .npy array with --labels.
    #[arg(long)]
    data: PathBuf,
    /// Name of the label column [default: the last column that no --id or --sample-weight names].
    #[arg(long)]
    label: Option<String>,
    /// 0/1 labels for a .npy --data: a .npy array of shape (n,) or (n, 1).
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    format: FormatArgs,
}

/// Labelled training data, shared by `train`, `path` and `cv`. (Its CSV format flags are recorded
/// as they are parsed, for [`InputArgs::load`]; the struct keeps the three fields it always had.)
pub(crate) struct InputArgs {
    /// `--data`: a CSV file (`-`: standard input), or a .npy array.
    pub(crate) data: PathBuf,
    /// `--label`: the label column's name.
    pub(crate) label: Option<String>,
    /// `--labels`: the .npy labels of a .npy `--data`.
    pub(crate) labels: Option<PathBuf>,
}

impl FromArgMatches for InputArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let InputFlags { data, label, labels, format: _ } = InputFlags::from_arg_matches(matches)?;
        Ok(Self { data, label, labels })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for InputArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        InputFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        InputFlags::augment_args_for_update(cmd)
    }
}

/// A training table, its recipe, the rows `--missing drop-rows` left out, and the sample
/// weights read from its column.
pub(crate) type WeightedTable = (Table, Option<Recipe>, usize, Option<Vec<f64>>);

impl InputArgs {
    /// The files read, by flag: `--data`, and `--labels` when given.
    /// Refuses an output that is one of these inputs ([`super::check_outputs`]).
    pub(crate) fn check_outputs(&self, outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
        let inputs = self.paths();
        super::check_outputs(outputs, &inputs.iter().map(|(f, p)| (*f, p.as_path())).collect::<Vec<_>>())
    }

    pub(crate) fn paths(&self) -> Vec<(&'static str, PathBuf)> {
        let mut paths = vec![("--data", self.data.clone())];
        paths.extend(self.labels.clone().map(|p| ("--labels", p)));
        if is_npy(&self.data) {
            paths.push(("the recipe file beside --data", logreg::data::recipe_file::path_for(&self.data)));
        }
        paths
    }

    /// The .npy `--data` and `--labels`, opened for chunked reading.
    pub(crate) fn open_stream(&self, chunk_rows: Option<i64>) -> anyhow::Result<NpyRows> {
        if !is_npy(&self.data) {
            bail!("--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)");
        }
        if format()? != Format::default() {
            bail!("--delimiter and --decimal-comma apply to CSV files; {} is a .npy array", self.data.display());
        }
        let Some(labels) = &self.labels else {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        };
        let chunk_rows = at_least_one("chunk-rows", chunk_rows)?;
        Ok(NpyRows::open(&self.data, Some(labels), chunk_rows)?)
    }

    /// [`Self::open_stream`], and when the labels hold three or more values (at most the default
    /// --max-classes, or the classes the recipe file beside names), the rows with their class
    /// indices and the classes' names.
    pub(crate) fn open_stream_classes(
        &self,
        chunk_rows: Option<i64>,
    ) -> anyhow::Result<(NpyRows, Option<Vec<String>>)> {
        let labelled = self.open_stream(chunk_rows);
        let Some(y) = self.labels.as_deref().filter(|_| is_npy(&self.data)) else { return Ok((labelled?, None)) };
        if labelled.is_ok() {
            return Ok((labelled?, None));
        }
        // Labels that two classes cannot take, read as classes (as many as the recipe file beside
        // names, when `convert --max-classes` allowed more than the default).
        let named = RecipeFile::beside(&self.data)?.and_then(|(_, f)| f.recipe.class_names.map(|c| c.len()));
        let max = named.unwrap_or(0).max(logreg::data::labels::MAX_CLASSES);
        match npy::read_class_labels(y, max)? {
            (labels, classes) if classes.len() >= 3 => {
                let chunk_rows = at_least_one("chunk-rows", chunk_rows)?;
                let rows = NpyRows::open(&self.data, None, chunk_rows)?.with_class_labels(labels, y)?;
                Ok((rows, Some(classes)))
            }
            _ => Ok((labelled?, None)),
        }
    }

    /// The recipe `convert` wrote beside a .npy --data (`data.recipe.json`), checked against the
    /// array's `rows` × `features`; `None` when there is none.
    pub(crate) fn npy_recipe(
        &self,
        rows: usize,
        features: usize,
        labels: Option<&[f32]>,
    ) -> anyhow::Result<Option<Recipe>> {
        npy_recipe(&self.data, rows, features, labels)
    }

    /// The table with its labels; `--label` is for CSV files only.
    pub(crate) fn load(&self) -> anyhow::Result<Table> {
        if self.label.is_some() && is_npy(&self.data) {
            bail!("--label names a CSV column; a .npy --data takes its labels from --labels");
        }
        let label = self.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
        load_table(&self.data, self.labels.as_deref(), label, true)
    }
}

/// The recipe `convert` wrote beside the .npy file `data` (`data.recipe.json`), checked against
/// the array's `rows` × `features` and, when given, its `labels`; `None` when there is none.
pub(crate) fn npy_recipe(
    data: &Path,
    rows: usize,
    features: usize,
    labels: Option<&[f32]>,
) -> anyhow::Result<Option<Recipe>> {
    let Some((path, file)) = RecipeFile::beside(data)? else { return Ok(None) };
    file.check(&path, data, rows, features, labels)?;
    Ok(Some(file.recipe))
}

pub(crate) fn is_npy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads `data`: a .npy array (labels from `labels` when `labelled`), else a CSV file whose label
/// column is `label`, in the format the command's flags asked for.
pub(crate) fn load_table(
    data: &Path,
    labels: Option<&Path>,
    label: LabelColumn,
    labelled: bool,
) -> anyhow::Result<Table> {
    load_table_with(data, labels, label, labelled, format()?)
}

/// [`load_table`] of a CSV file in `format`.
pub(crate) fn load_table_with(
    data: &Path,
    labels: Option<&Path>,
    label: LabelColumn,
    labelled: bool,
    format: Format,
) -> anyhow::Result<Table> {
    format.check().map_err(anyhow::Error::msg)?;
    if is_npy(data) {
        if format != Format::default() {
            bail!("--delimiter and --decimal-comma apply to CSV files; {} is a .npy array", data.display());
        }
        if labelled && labels.is_none() {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        }
        let mut table = npy::read_table(data, labels)?;
        // Columns named as in the CSV file it was converted from.
        let given = labels.is_some().then_some(&table.labels[..]);
        if let Some(recipe) = npy_recipe(data, table.rows(), table.feature_names.len(), given)? {
            table.feature_names = recipe.feature_names();
        }
        return Ok(table);
    }
    if labels.is_some() {
        bail!("--labels applies to .npy data; a CSV file holds its label column (see --label)");
    }
    // Read as it is parsed, never whole: binary content (`/dev/zero`) is refused in its first 64 KiB.
    Ok(table::read_file_with(data, &label, &format)?)
}

/// `--missing` as clap reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MissingChoice {
    Error,
    Mean,
    Median,
    DropRows,
}

/// How `train` reads a raw CSV file: the label's classes, ID columns, the feature columns,
/// categorical columns and missing values. All are recorded in the model and applied by `predict`
/// and `evaluate`.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct RecipeArgs {
    /// The label value that is the positive class (class 1, whose probability `predict` writes)
    /// [default: the value that is 1, true or yes (any case); else the larger number, or the text
    /// later in byte order].
    #[arg(long, value_name = "VALUE")]
    pub(crate) positive_class: Option<String>,
    /// An ID column (repeatable): never a feature; `predict` copies it to the front of its output.
    #[arg(long = "id", value_name = "COLUMN")]
    pub(crate) ids: Vec<String>,
    /// The feature columns, by name or glob (`x*`, `?`), comma-separated [default: every column
    /// but the label and the IDs]; the others are recorded and passed over by `predict`.
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    pub(crate) features: Vec<String>,
    /// Columns to leave out, by name or glob, comma-separated.
    #[arg(long, value_name = "C,…", value_delimiter = ',')]
    pub(crate) drop: Vec<String>,
    /// One-hot encode these columns (comma-separated), or `auto`: every feature column with a
    /// cell that is neither a number nor missing. Features are named `column=level`.
    #[arg(long, value_name = "COLUMNS|auto")]
    pub(crate) categorical: Option<String>,
    /// `--categorical auto` refuses a column with more distinct values than this.
    #[arg(long, value_name = "N")]
    pub(crate) max_levels: Option<i64>,
    /// The label column may hold at most this many values [default: 100]; more are most likely a
    /// continuous column, refused.
    #[arg(long, value_name = "N")]
    pub(crate) max_classes: Option<i64>,
    /// Cell texts read as missing besides an empty cell, comma-separated (`''`: only empty cells)
    /// [default: NA,NaN,null].
    #[arg(long, value_name = "LIST")]
    pub(crate) na_values: Option<String>,
    /// Missing cells: error; mean or median (of the training part, stored in the model; a missing
    /// categorical cell is all zeros); drop-rows (training leaves those rows out, `predict` never
    /// does).
    #[arg(long, value_enum, value_name = "HOW")]
    pub(crate) missing: Option<MissingChoice>,
}

impl RecipeArgs {
    /// The first of these flags given, for a refusal where they do not apply.
    pub(crate) fn first_given(&self) -> Option<&'static str> {
        [
            (self.positive_class.is_some(), "--positive-class"),
            (!self.ids.is_empty(), "--id"),
            (!self.features.is_empty(), "--features"),
            (!self.drop.is_empty(), "--drop"),
            (self.categorical.is_some(), "--categorical"),
            (self.max_levels.is_some(), "--max-levels"),
            (self.max_classes.is_some(), "--max-classes"),
            (self.na_values.is_some(), "--na-values"),
            (self.missing.is_some(), "--missing"),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, flag)| flag)
    }

    /// The library's spec for a CSV file whose label column is `label`.
    pub(crate) fn spec(&self, label: Option<String>) -> anyhow::Result<Spec> {
        let mut spec = Spec { label, positive_class: self.positive_class.clone(), ..Spec::default() };
        spec.ids = self.ids.clone();
        let listed = |flag: &str, list: &[String]| -> anyhow::Result<Vec<String>> {
            let items: Vec<String> = list.iter().map(|s| s.trim().to_string()).collect();
            if items.iter().any(String::is_empty) {
                bail!("{flag}: an empty name in the list");
            }
            Ok(items)
        };
        spec.features = listed("--features", &self.features)?;
        spec.drop = listed("--drop", &self.drop)?;
        if let Some(c) = &self.categorical {
            spec.categorical = if c.trim() == "auto" {
                Categorical::Auto
            } else {
                let names: Vec<String> = c.split(',').map(|s| s.trim().to_string()).collect();
                Categorical::Columns(listed("--categorical", &names)?)
            };
        }
        if let Some(n) = self.max_levels {
            if n < 1 {
                bail!("invalid --max-levels: {n} (must be at least 1)");
            }
            if spec.categorical != Categorical::Auto {
                bail!("--max-levels applies to --categorical auto");
            }
            spec.max_levels = n as usize;
        }
        if let Some(n) = self.max_classes {
            if !(2..=i64::from(u16::MAX)).contains(&n) {
                bail!("invalid --max-classes: {n} (must be between 2 and {})", u16::MAX);
            }
            spec.max_classes = n as usize;
        }
        if let Some(na) = &self.na_values {
            spec.na_values = parse_na_values(na).map_err(|m| anyhow::anyhow!("--na-values: {m}"))?;
        }
        spec.missing = match self.missing.unwrap_or(MissingChoice::Error) {
            MissingChoice::Error => Missing::Error,
            MissingChoice::Mean => Missing::Mean,
            MissingChoice::Median => Missing::Median,
            MissingChoice::DropRows => Missing::DropRows,
        };
        Ok(spec)
    }
}

impl InputArgs {
    /// The CSV `--data` read as `recipe` asks (a .npy `--data` takes none of its flags and reads as
    /// [`InputArgs::load`]: then no recipe), the CSV column `weight` read as sample weights (one
    /// per row kept), never as a feature. Returns the table, its recipe, the rows `--missing
    /// drop-rows` left out and the weights.
    pub(crate) fn load_weighted(&self, recipe: &RecipeArgs, weight: Option<&str>) -> anyhow::Result<WeightedTable> {
        if is_npy(&self.data) {
            if let Some(flag) = recipe.first_given() {
                bail!(
                    "{flag} applies to a CSV --data; {} is a .npy array (give {flag} to `logreg convert`, whose recipe \
                     file train finds beside the .npy)",
                    self.data.display()
                );
            }
            if let Some(column) = weight {
                bail!("--sample-weight `{column}`: a .npy --data has no named columns; give a .npy file of weights");
            }
            let mut table = self.load()?;
            let recipe = self.npy_recipe(table.rows(), table.feature_names.len(), Some(&table.labels))?;
            if let Some(r) = &recipe {
                table.label_name = Some(r.label.clone());
            }
            return Ok((table, recipe, 0, None));
        }
        if self.labels.is_some() {
            bail!("--labels applies to .npy data; a CSV file holds its label column (see --label)");
        }
        let mut spec = recipe.spec(self.label.clone())?;
        spec.weight = weight.map(str::to_string);
        let TrainingInput { table, recipe, dropped, sample_weight } =
            recipe::read_training(&self.data, &format()?, &spec)?;
        Ok((table, Some(recipe), dropped, sample_weight))
    }
}
