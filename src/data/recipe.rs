//! The input recipe: how a raw CSV file becomes the model's features and labels — which columns
//! are the label, IDs, features and left out, how each feature column is encoded (a number, or
//! one-hot over the levels seen in training), what fills a missing cell, and the label's two
//! classes. `train` learns it ([`read_training`]) and stores it in the model; `predict` and
//! `evaluate` apply it to a raw file ([`read_scoring`]), so both see the same numbers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::encode::{feature_name, level_of, number_level};
use crate::data::labels::{Classes, LabelKey};
use crate::data::missing::{default_na_values, imputed, is_missing, Missing};
use crate::data::select::matching;
use crate::data::table::{self, at, listed, shown, Format, RawRow, Table};
use crate::error::{Error, Result};

/// A feature column of the input and its encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputColumn {
    /// The column's header name.
    pub name: String,
    /// A categorical column's levels, in the order of its one-hot features; `None` for a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<String>>,
    /// What fills a missing cell of a numeric column (learned on the training part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impute: Option<f32>,
}

/// Everything `train` did to its input file, as the model file records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// The training file's header, in order (empty for a model from before recipes).
    #[serde(default)]
    pub columns: Vec<String>,
    /// The label column.
    pub label: String,
    /// The label's two classes by name; `None` for `0`/`1` (also read as `false`/`true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Classes>,
    /// Three or more classes by name, in the model's order ([`crate::data::labels::ordered`]);
    /// `None` for two classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// ID columns (`--id`): copied to the front of `predict`'s output, never features.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Columns left out by `--features` or `--drop`: passed over by `predict` and `evaluate`.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// The feature columns, in the order of their features.
    pub inputs: Vec<InputColumn>,
    /// Cell texts read as missing, besides an empty cell.
    #[serde(default = "default_na_values")]
    pub na_values: Vec<String>,
    /// What training did with missing cells.
    #[serde(default)]
    pub missing: Missing,
}

/// Which columns `--categorical` names.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Categorical {
    /// None: every feature column is a number.
    #[default]
    None,
    /// These columns.
    Columns(Vec<String>),
    /// Every feature column with a cell that is neither a number nor missing.
    Auto,
}

/// What `train`'s flags ask of the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The label column (`None`: the last column that no ID or weight names).
    pub label: Option<String>,
    /// The label value that is the positive class (`None`: the rule of [`Classes::learn`]).
    pub positive_class: Option<String>,
    /// ID columns.
    pub ids: Vec<String>,
    /// Names or globs of the feature columns (empty: every column but the label and IDs).
    pub features: Vec<String>,
    /// Names or globs of columns to leave out.
    pub drop: Vec<String>,
    /// Which columns are one-hot encoded.
    pub categorical: Categorical,
    /// `auto` refuses a column with more distinct values than this.
    pub max_levels: usize,
    /// The label column may hold at most this many values (more: a continuous column, likely).
    pub max_classes: usize,
    /// A column of sample weights (`--sample-weight COL`): read as numbers, never a feature, and
    /// recorded as left out so `predict` passes over it.
    pub weight: Option<String>,
    /// Cell texts read as missing, besides an empty cell.
    pub na_values: Vec<String>,
    /// What to do with missing cells.
    pub missing: Missing,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            label: None,
            positive_class: None,
            ids: vec![],
            features: vec![],
            drop: vec![],
            categorical: Categorical::None,
            max_levels: 100,
            max_classes: crate::data::labels::MAX_CLASSES,
            weight: None,
            na_values: default_na_values(),
            missing: Missing::Error,
        }
    }
}

/// What `predict` and `evaluate` do with a level not seen in training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unknown {
    /// An error naming the row, column and value.
    #[default]
    Error,
    /// All zeros, counted.
    Ignore,
}

impl Recipe {
    /// The recipe of a model file from before recipes: every feature a numeric column, labels 0/1.
    pub fn legacy(feature_names: &[String], label: &str) -> Self {
        Self {
            columns: vec![],
            label: label.to_string(),
            classes: None,
            class_names: None,
            ids: vec![],
            ignored: vec![],
            inputs: feature_names.iter().map(|n| InputColumn { name: n.clone(), levels: None, impute: None }).collect(),
            na_values: default_na_values(),
            missing: Missing::Error,
        }
    }

    /// The model's feature names: a numeric column's name, `column=level` for each level of a
    /// categorical one.
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = vec![];
        for input in &self.inputs {
            match &input.levels {
                None => names.push(input.name.clone()),
                Some(levels) => names.extend(levels.iter().map(|l| feature_name(&input.name, l))),
            }
        }
        names
    }

    /// Checks what `train` always makes: distinct feature columns, each with distinct levels; the
    /// label, IDs, left-out and feature columns apart and (when the header is recorded) in it;
    /// two distinct classes, neither read as missing. Says the first thing wrong.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.inputs.is_empty() {
            return Err("the recipe has no feature columns".into());
        }
        let mut seen = HashSet::new();
        for name in self.inputs.iter().map(|i| &i.name).chain(&self.ids).chain(&self.ignored) {
            if !seen.insert(name.as_str()) {
                return Err(format!(
                    "column `{}` is named twice among the features, IDs and left-out columns",
                    shown(name)
                ));
            }
        }
        if seen.contains(self.label.as_str()) {
            return Err(format!("the label `{}` is also a feature, ID or left-out column", shown(&self.label)));
        }
        if !self.columns.is_empty() {
            let header: HashSet<&str> = self.columns.iter().map(String::as_str).collect();
            if header.len() != self.columns.len() {
                return Err("the recorded header names a column twice".into());
            }
            if let Some(n) = seen.iter().chain([&self.label.as_str()]).find(|n| !header.contains(**n)) {
                return Err(format!("column `{}` is not in the recorded header", shown(n)));
            }
        }
        for input in &self.inputs {
            if let Some(levels) = &input.levels {
                let distinct: HashSet<&String> = levels.iter().collect();
                if distinct.len() != levels.len() {
                    return Err(format!("column `{}` lists a level twice", shown(&input.name)));
                }
            }
        }
        if let Some(c) = &self.classes {
            if LabelKey::of(&c.positive) == LabelKey::of(&c.negative) {
                return Err(format!("the two classes are one value, `{}`", shown(&c.positive)));
            }
            if let Some(v) = [&c.positive, &c.negative].into_iter().find(|v| is_missing(v, &self.na_values)) {
                return Err(format!("the class `{}` is read as a missing value (na_values)", shown(v)));
            }
        }
        if let Some(names) = &self.class_names {
            // Learned classes are three or more, distinct and in the model's order: any other list
            // would name the label indices wrongly.
            let keys: Vec<LabelKey> = names.iter().map(|n| LabelKey::of(n)).collect();
            if names.len() < 3 {
                return Err(format!(
                    "class_names lists {} classes; a multiclass recipe has three or more",
                    names.len()
                ));
            }
            if crate::data::labels::ordered(&keys) != keys || keys.windows(2).any(|w| w[0] == w[1]) {
                return Err("class_names are not distinct classes in their order (numbers ascending, then text)".into());
            }
        }
        Ok(())
    }

    /// The classes (`0`/`1` when none are recorded).
    pub fn classes(&self) -> Classes {
        self.classes.clone().unwrap_or_else(Classes::numeric)
    }

    /// Whether a model file needs this recipe: anything beyond numeric columns, 0/1 labels and no
    /// missing values.
    pub fn is_plain(&self) -> bool {
        self.classes.is_none()
            && self.class_names.is_none()
            && self.ids.is_empty()
            && self.ignored.is_empty()
            && self.missing == Missing::Error
            && self.inputs.iter().all(|i| i.levels.is_none() && i.impute.is_none())
    }

    /// Learns the imputation values of the numeric columns from `x` (the training part, `rows ×
    /// features` row-major, NaN where a cell was missing) and fills the missing cells of `parts`
    /// (the training part, then the validation part) with them. Nothing to do unless training used
    /// `--missing mean` or `median`.
    pub fn impute(&mut self, source: &str, parts: &mut [&mut Vec<f32>]) -> Result<()> {
        if !matches!(self.missing, Missing::Mean | Missing::Median) || parts.is_empty() {
            return Ok(());
        }
        let width = self.feature_names().len();
        let mut fills: Vec<(usize, f32)> = vec![];
        let mut at = 0;
        for input in &mut self.inputs {
            match &input.levels {
                Some(levels) => at += levels.len(),
                None => {
                    let column = parts[0].iter().skip(at).step_by(width.max(1)).copied();
                    let Some(value) = imputed(column, self.missing) else {
                        let how = if self.missing == Missing::Mean { "mean" } else { "median" };
                        return Err(Error::Input {
                            location: source.to_string(),
                            message: format!(
                                "column `{}` has no value in the training rows to take the {how} of (--missing {how})",
                                shown(&input.name)
                            ),
                        });
                    };
                    input.impute = Some(value);
                    fills.push((at, value));
                    at += 1;
                }
            }
        }
        for part in parts.iter_mut() {
            for row in part.chunks_exact_mut(width) {
                for &(j, value) in &fills {
                    if row[j].is_nan() {
                        row[j] = value;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A missing cell's message: `empty cell` or ``missing value `NA` ``.
fn missing_text(cell: &str) -> String {
    if cell.is_empty() {
        "empty cell".into()
    } else {
        format!("missing value `{}`", shown(cell))
    }
}

/// A categorical level's code for a missing cell (all zeros).
const MISSING: u32 = u32::MAX;

/// A feature column's cells as they are read in training.
enum Store {
    /// Numbers (NaN for a missing cell).
    Numbers(Vec<f32>),
    /// Level codes into `levels` (in the order first seen), [`MISSING`] for a missing cell; the
    /// codes are kept only when the rows are (`keep`).
    Levels { codes: Vec<u32>, levels: Vec<String>, index: HashMap<String, u32>, keep: bool },
    /// A numeric column in a pass that keeps no rows: the sum (f64, in row order, as
    /// [`imputed`] sums) and count of its values, and under `auto` its distinct values as levels
    /// (at most one more than `--max-levels`: enough to refuse the column if it turns out to hold text).
    Tally { sum: f64, count: usize, distinct: HashSet<String> },
}

impl Store {
    fn levels(keep: bool) -> Self {
        Store::Levels { codes: vec![], levels: vec![], index: HashMap::new(), keep }
    }

    fn numbers(keep: bool) -> Self {
        if keep {
            Store::Numbers(vec![])
        } else {
            Store::Tally { sum: 0.0, count: 0, distinct: HashSet::new() }
        }
    }

    /// A numeric column turned categorical (under `auto`): its numbers become levels.
    fn to_levels(values: &[f32]) -> Self {
        let mut store = Store::levels(true);
        for &v in values {
            if v.is_nan() {
                store.push_code(MISSING);
            } else {
                store.push_level(number_level(v));
            }
        }
        store
    }

    /// [`Store::to_levels`] of a tallied column: its distinct numbers become levels.
    fn tally_to_levels(distinct: &HashSet<String>) -> Self {
        let mut store = Store::levels(false);
        let mut sorted: Vec<&String> = distinct.iter().collect();
        sorted.sort();
        for level in sorted {
            store.push_level(level.clone());
        }
        store
    }

    fn push_code(&mut self, code: u32) {
        if let Store::Levels { codes, keep: true, .. } = self {
            codes.push(code);
        }
    }

    /// Adds a cell of `level`; returns how many levels the column has.
    fn push_level(&mut self, level: String) -> usize {
        let Store::Levels { codes, levels, index, keep } = self else { return 0 };
        let code = match index.get(&level) {
            Some(&c) => c,
            None => {
                let c = levels.len() as u32;
                index.insert(level.clone(), c);
                levels.push(level);
                c
            }
        };
        if *keep {
            codes.push(code);
        }
        levels.len()
    }
}

/// What [`read_training`] read.
#[derive(Debug)]
pub struct TrainingInput {
    /// The features (NaN where a numeric cell is missing, to be filled by [`Recipe::impute`]) and
    /// 0/1 labels.
    pub table: Table,
    /// How they were made (imputation values not yet learned).
    pub recipe: Recipe,
    /// Rows left out by `--missing drop-rows`.
    pub dropped: usize,
    /// The sample weight column's values, one per row kept, when [`Spec::weight`] names one.
    pub sample_weight: Option<Vec<f64>>,
}

/// The state of a training read once the header is known.
struct TrainRead {
    file: String,
    names: Vec<String>,
    label_at: usize,
    inputs: Vec<(usize, Store)>,
    auto: bool,
    label_seen: Vec<LabelKey>,
    label_codes: Vec<u16>,
    /// Rows read (and not dropped).
    rows: usize,
    dropped: usize,
    /// Whether the rows are kept (training), or only what the recipe needs (a first pass).
    keep: bool,
    /// The sample weight column and its values.
    weight_at: Option<usize>,
    weights: Vec<f64>,
}

/// Reads the labelled CSV file `path` for training, in `format`, as `spec` asks: the columns
/// chosen, each cell checked (a bad one is an error at `file:line:column`), categorical levels
/// collected, the two classes found.
pub fn read_training(path: &Path, format: &Format, spec: &Spec) -> Result<TrainingInput> {
    let (file, input) = crate::data::table::open_input(path)?;
    let state = table::read_raw(
        &file,
        input,
        format,
        |names, line, one_column| plan_training(&file, names, line, one_column, spec, true),
        |state, row| training_row(state, row, spec),
    )?;
    finish_training(state, spec)
}

/// What [`learn_recipe`] learned.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    /// The recipe, its mean imputations filled in (learned on every row).
    pub recipe: Recipe,
    /// Rows read and kept.
    pub rows: usize,
    /// Rows left out by `--missing drop-rows`.
    pub dropped: usize,
}

/// The recipe [`read_training`] would learn from `path`, in one pass that keeps no rows (memory
/// for the levels and one sum per column): the first pass of a streamed `convert`. The means
/// are those [`Recipe::impute`] takes over every row; `--missing median` needs every value and
/// is refused.
pub fn learn_recipe(path: &Path, format: &Format, spec: &Spec) -> Result<Learned> {
    if spec.missing == Missing::Median {
        return Err(Error::InvalidSetting {
            name: "missing",
            value: "median".into(),
            expected: "error, mean or drop-rows when the rows are not kept (a median needs every value)",
        });
    }
    let (file, input) = crate::data::table::open_input(path)?;
    let state = table::read_raw(
        &file,
        input,
        format,
        |names, line, one_column| plan_training(&file, names, line, one_column, spec, false),
        |state, row| training_row(state, row, spec),
    )?;
    let (rows, dropped) = (state.rows, state.dropped);
    let (recipe, _, _) = finish_recipe(state, spec)?;
    Ok(Learned { recipe, rows, dropped })
}

/// What one shard of a distributed run tells about the recipe ([`survey`]), sent to every rank
/// and merged in rank order by [`merge_surveys`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    /// The file, named for messages.
    pub file: String,
    /// The header's line.
    pub line: u64,
    /// The header, in order.
    pub columns: Vec<String>,
    /// The label's distinct values in the order first seen (by [`LabelKey::name`]).
    pub labels: Vec<String>,
    /// Each feature column's levels in the order first seen (`None` for a number).
    pub levels: Vec<Option<Vec<String>>>,
    /// Rows read and kept.
    pub rows: usize,
    /// Rows left out by `--missing drop-rows`.
    pub dropped: usize,
}

/// One pass over the shard `path` that keeps no rows: its header, label values and levels, every
/// cell checked as [`read_training`] checks it. A shard of one class (or of no rows) is fine here:
/// the classes are those of every shard. `--categorical auto` and `--missing median` are refused
/// (which columns are text, and a median, need every shard's values).
pub fn survey(path: &Path, format: &Format, spec: &Spec) -> Result<Survey> {
    let refuse = |name, value: &str, expected| Err(Error::InvalidSetting { name, value: value.into(), expected });
    if spec.categorical == Categorical::Auto {
        return refuse("categorical", "auto", "the columns by name when distributed (each shard sees its own cells)");
    }
    if spec.missing == Missing::Median {
        return refuse("missing", "median", "error, mean or drop-rows when distributed (a median needs every value)");
    }
    let (file, input) = crate::data::table::open_input(path)?;
    let mut line = 0;
    let state = table::read_raw(
        &file,
        input,
        format,
        |names, at, one_column| {
            line = at;
            plan_training(&file, names, at, one_column, spec, false)
        },
        |state, row| training_row(state, row, spec),
    )?;
    let levels = state
        .inputs
        .iter()
        .map(|(_, store)| match store {
            Store::Levels { levels, .. } => Some(levels.clone()),
            _ => None,
        })
        .collect();
    Ok(Survey {
        file: state.file,
        line,
        columns: state.names,
        labels: state.label_seen.iter().map(LabelKey::name).collect(),
        levels,
        rows: state.rows,
        dropped: state.dropped,
    })
}

/// The recipe [`read_training`] learns from the shards' files concatenated in rank order (one
/// header): every shard must have rank 0's header; the label values in the order first seen over
/// the ranks (so `Classes::learn` decides as on one file), each categorical column's levels the
/// union (sorted, as one file's are). Mean imputations are left to be learned on the rows.
pub fn merge_surveys(surveys: &[Survey], spec: &Spec) -> Result<Recipe> {
    let first = surveys.first().ok_or_else(|| Error::InvalidSetting {
        name: "shards",
        value: "none".into(),
        expected: "at least one",
    })?;
    for (rank, s) in surveys.iter().enumerate() {
        if s.columns != first.columns {
            let at = (0..s.columns.len().max(first.columns.len()))
                .find(|&i| s.columns.get(i) != first.columns.get(i))
                .unwrap_or_default();
            let name = |c: &[String]| c.get(at).map_or("none".to_string(), |n| format!("`{}`", shown(n)));
            return Err(Error::Input {
                location: format!("{}:{}", s.file, s.line),
                message: format!(
                    "rank {rank}'s header differs from rank 0's ({}): column {} is {}, rank 0's {}",
                    first.file,
                    at + 1,
                    name(&s.columns),
                    name(&first.columns)
                ),
            });
        }
    }
    let mut state = plan_training(&first.file, &first.columns, first.line, "", spec, true)?;
    // The shard where the labels first pass two values, and that value: named in the refusal.
    let mut third: Option<(usize, &Survey, &String)> = None;
    for (rank, s) in surveys.iter().enumerate() {
        for name in &s.labels {
            let key = LabelKey::of(name);
            if !state.label_seen.contains(&key) {
                state.label_seen.push(key);
                if state.label_seen.len() == 3 {
                    third = Some((rank, s, name));
                }
            }
        }
        for ((_, store), levels) in state.inputs.iter_mut().zip(&s.levels) {
            for level in levels.iter().flatten() {
                store.push_level(level.clone());
            }
        }
        state.rows += s.rows;
        state.dropped += s.dropped;
    }
    if let Some((rank, s, name)) = third {
        return Err(Error::Input {
            location: s.file.clone(),
            message: format!(
                "label column `{}` holds {} values over the shards (rank {rank}'s shard brings a third, `{}`): a \
                 distributed run fits two classes",
                shown(&first.columns[state.label_at]),
                state.label_seen.len(),
                shown(name)
            ),
        });
    }
    Ok(finish_recipe(state, spec)?.0)
}

fn plan_training(
    file: &str,
    names: &[String],
    line: u64,
    one_column: &str,
    spec: &Spec,
    keep: bool,
) -> Result<TrainRead> {
    let file = if file == "-" { "<stdin>" } else { file };
    let header_error = |message: String| Error::Input { location: format!("{file}:{line}"), message };
    let position = |name: &str| names.iter().position(|n| n == name);
    let label_at = match &spec.label {
        None if names.len() < 2 => {
            let message = format!("need at least one feature column and a label column: {one_column}");
            return Err(table::at(file, line, 1, message));
        }
        // The last column that no --id or --sample-weight names: a weight column kept last
        // (as exports often put it) does not become the label.
        None => {
            let named = |i: &usize| spec.ids.iter().chain(&spec.weight).any(|n| names[*i] == *n);
            (0..names.len()).rev().find(|i| !named(i)).unwrap_or(names.len() - 1)
        }
        Some(name) => position(name).ok_or_else(|| {
            header_error(format!("no label column `{}` in the header (columns: {})", shown(name), listed(names)))
        })?,
    };
    let mut ids = vec![];
    for id in &spec.ids {
        let i = position(id).ok_or_else(|| {
            header_error(format!("no --id column `{}` in the header (columns: {})", shown(id), listed(names)))
        })?;
        if i == label_at {
            return Err(header_error(format!("--id `{}` is the label column", shown(id))));
        }
        ids.push(i);
    }
    let weight_at = match &spec.weight {
        Some(name) => {
            let i = position(name).ok_or_else(|| {
                header_error(format!(
                    "no --sample-weight column `{}` in the header (columns: {})",
                    shown(name),
                    listed(names)
                ))
            })?;
            if i == label_at || ids.contains(&i) {
                return Err(header_error(format!("--sample-weight `{}` is the label or an --id column", shown(name))));
            }
            Some(i)
        }
        None => None,
    };
    // The candidates: every column but the label, the IDs and the weights.
    let candidates: Vec<usize> =
        (0..names.len()).filter(|i| *i != label_at && !ids.contains(i) && Some(*i) != weight_at).collect();
    let candidate_names: Vec<String> = candidates.iter().map(|&i| names[i].clone()).collect();
    let mut chosen = if spec.features.is_empty() {
        vec![true; candidates.len()]
    } else {
        matching(&candidate_names, &spec.features, "--features").map_err(header_error)?
    };
    if !spec.drop.is_empty() {
        let dropped = matching(&candidate_names, &spec.drop, "--drop").map_err(header_error)?;
        chosen.iter_mut().zip(dropped).for_each(|(c, d)| *c = *c && !d);
    }
    let features: Vec<usize> = candidates.iter().zip(&chosen).filter(|(_, &c)| c).map(|(&i, _)| i).collect();
    if features.is_empty() {
        let why =
            if names.len() == 1 { format!(": {one_column}") } else { " (--features and --drop leave none)".into() };
        return Err(table::at(file, line, 1, format!("no feature columns{why}")));
    }
    let explicit: Vec<usize> = match &spec.categorical {
        Categorical::Columns(list) => {
            let mut out = vec![];
            for name in list {
                match position(name) {
                    Some(i) if features.contains(&i) => out.push(i),
                    Some(_) => {
                        return Err(header_error(format!(
                            "--categorical `{}` is not a feature column (it is the label, an --id or left out)",
                            shown(name)
                        )))
                    }
                    None => {
                        return Err(header_error(format!(
                            "no --categorical column `{}` in the header (columns: {})",
                            shown(name),
                            listed(names)
                        )))
                    }
                }
            }
            out
        }
        _ => vec![],
    };
    let inputs = features
        .iter()
        .map(|&i| (i, if explicit.contains(&i) { Store::levels(keep) } else { Store::numbers(keep) }))
        .collect();
    Ok(TrainRead {
        file: file.to_string(),
        names: names.to_vec(),
        label_at,
        inputs,
        auto: spec.categorical == Categorical::Auto,
        label_seen: vec![],
        label_codes: vec![],
        rows: 0,
        dropped: 0,
        keep,
        weight_at,
        weights: vec![],
    })
}

fn training_row(state: &mut TrainRead, row: &RawRow, spec: &Spec) -> Result<()> {
    let na = &spec.na_values;
    if spec.missing == Missing::DropRows
        && (is_missing(row.cell(state.label_at), na) || state.inputs.iter().any(|(i, _)| is_missing(row.cell(*i), na)))
    {
        state.dropped += 1;
        return Ok(());
    }
    let file = &state.file;
    let hinted = |i: usize, message: String, hint: &str| {
        at(file, row.line(), i + 1, format!("{message} (column `{}`){}{hint}", shown(&state.names[i]), row.spans()))
    };
    let bad = |i: usize, message: String| hinted(i, message, "");
    let cell = row.cell(state.label_at);
    if is_missing(cell, na) {
        return Err(bad(state.label_at, format!("label: {}", missing_text(cell))));
    }
    let key = LabelKey::of(cell);
    let code = match state.label_seen.iter().position(|k| *k == key) {
        Some(c) => c,
        None if state.label_seen.len() >= spec.max_classes.min(u16::MAX as usize) => {
            return Err(bad(
                state.label_at,
                format!(
                    "label `{}` is value {} of the label column, more than --max-classes {}: a continuous column? \
                     name the label with --label, or raise --max-classes",
                    shown(cell),
                    state.label_seen.len() + 1,
                    spec.max_classes
                ),
            ));
        }
        None => {
            state.label_seen.push(key);
            state.label_seen.len() - 1
        }
    };
    if state.keep {
        state.label_codes.push(code as u16);
    }
    state.rows += 1;
    if let Some(i) = state.weight_at {
        let cell = row.cell(i);
        if is_missing(cell, na) {
            return Err(bad(i, format!("sample weight: {}", missing_text(cell))));
        }
        let w = row.number(cell).map_err(|m| bad(i, format!("sample weight: {m}")))?;
        if !w.is_finite() || w < 0.0 {
            return Err(bad(i, format!("sample weight {w} is not a finite number ≥ 0")));
        }
        if state.keep {
            state.weights.push(f64::from(w));
        }
    }
    for (i, store) in state.inputs.iter_mut() {
        let i = *i;
        let cell = row.cell(i);
        if is_missing(cell, na) {
            if spec.missing == Missing::Error {
                return Err(hinted(
                    i,
                    missing_text(cell),
                    "; set --missing mean, median or drop-rows (or --na-values)",
                ));
            }
            match store {
                Store::Numbers(v) => v.push(f32::NAN),
                Store::Tally { .. } => {}
                levels => levels.push_code(MISSING),
            }
            continue;
        }
        let count = match store {
            Store::Numbers(values) => match row.number(cell) {
                Ok(v) => {
                    values.push(v);
                    continue;
                }
                Err(_) if state.auto => {
                    *store = Store::to_levels(values);
                    store.push_level(level_of(cell))
                }
                // The message `convert` gives too (a text column: see --categorical).
                Err(m) => return Err(bad(i, m)),
            },
            Store::Tally { sum, count, distinct } => match row.number(cell) {
                Ok(v) => {
                    *sum += f64::from(v);
                    *count += 1;
                    if state.auto && distinct.len() <= spec.max_levels {
                        distinct.insert(number_level(v));
                    }
                    continue;
                }
                Err(_) if state.auto => {
                    *store = Store::tally_to_levels(distinct);
                    store.push_level(level_of(cell))
                }
                Err(m) => return Err(bad(i, m)),
            },
            levels => levels.push_level(level_of(cell)),
        };
        if state.auto && count > spec.max_levels {
            return Err(bad(
                i,
                format!(
                    "--categorical auto: more than {} distinct values (--max-levels); an ID column? name it with --id \
                     or --drop, or raise --max-levels",
                    spec.max_levels
                ),
            ));
        }
    }
    Ok(())
}

fn finish_training(mut state: TrainRead, spec: &Spec) -> Result<TrainingInput> {
    let label_codes = std::mem::take(&mut state.label_codes);
    let weights = std::mem::take(&mut state.weights);
    let weight_at = state.weight_at;
    let (file, dropped, rows) = (state.file.clone(), state.dropped, state.rows);
    let (recipe, columns, code_class) = finish_recipe(state, spec)?;
    let labels: Vec<f32> = label_codes.iter().map(|&c| code_class[c as usize]).collect();
    let feature_names = recipe.feature_names();
    let width = feature_names.len();
    let total = rows.checked_mul(width).ok_or_else(|| Error::Input {
        location: file.clone(),
        message: format!("{rows} rows × {width} features do not fit in memory"),
    })?;
    let mut features = Vec::new();
    features.try_reserve_exact(total).map_err(|_| Error::Input {
        location: file.clone(),
        message: format!("{rows} rows × {width} features do not fit in memory"),
    })?;
    for r in 0..rows {
        for (input, store) in recipe.inputs.iter().zip(&columns) {
            match store {
                Store::Numbers(v) => features.push(v[r]),
                Store::Levels { codes, .. } => {
                    let n = input.levels.as_ref().map_or(0, Vec::len);
                    let code = codes[r];
                    features.extend((0..n as u32).map(|l| if l == code { 1.0 } else { 0.0 }));
                }
                Store::Tally { .. } => unreachable!("a pass that keeps its rows tallies nothing"),
            }
        }
    }
    let label = recipe.label.clone();
    let table = Table { source: file, feature_names, label_name: Some(label), features, labels };
    let sample_weight = weight_at.map(|_| weights);
    Ok(TrainingInput { table, recipe, dropped, sample_weight })
}

/// The recipe a training read learned: the classes, each categorical column's levels sorted (its
/// codes renumbered to match), and, for a pass that kept no rows, the mean imputations. Returns
/// the columns' stores in the order of `recipe.inputs` and each label code's class (0/1, or the
/// class's index for three or more).
fn finish_recipe(state: TrainRead, spec: &Spec) -> Result<(Recipe, Vec<Store>, Vec<f32>)> {
    let TrainRead { file, names, label_at, inputs, label_seen, rows, dropped, .. } = state;
    if rows == 0 {
        return Err(Error::Input {
            location: file,
            message: format!("every row has a missing cell: --missing drop-rows left none of {dropped}"),
        });
    }
    let label = names[label_at].clone();
    let (classes, class_names, code_class) = if label_seen.len() >= 3 {
        if spec.positive_class.is_some() {
            return Err(Error::Input {
                location: file,
                message: format!(
                    "--positive-class applies to two classes; label column `{}` holds {}",
                    shown(&label),
                    label_seen.len()
                ),
            });
        }
        // Each class's index in the model's order, as the label's value.
        let order = crate::data::labels::ordered(&label_seen);
        let code_class: Vec<f32> =
            label_seen.iter().map(|k| order.iter().position(|o| o == k).unwrap_or_default() as f32).collect();
        (None, Some(order.iter().map(LabelKey::name).collect::<Vec<_>>()), code_class)
    } else {
        let classes = Classes::learn(&label_seen, spec.positive_class.as_deref()).map_err(|m| Error::Input {
            location: file.clone(),
            message: format!("label column `{}`: {m}", shown(&label)),
        })?;
        let code_class: Vec<f32> = label_seen.iter().map(|k| classes.class_of(&k.name()).unwrap_or_default()).collect();
        (Some(classes).filter(|c| !c.is_numeric()), None, code_class)
    };
    // Levels sorted, codes renumbered to match.
    let mut columns: Vec<(InputColumn, Store)> = vec![];
    for (i, store) in inputs {
        let name = names[i].clone();
        match store {
            Store::Numbers(v) => columns.push((InputColumn { name, levels: None, impute: None }, Store::Numbers(v))),
            Store::Tally { sum, count, .. } => {
                // The mean as `imputed` takes it: the f64 sum in row order over the count.
                let impute = match spec.missing {
                    Missing::Mean if count == 0 => {
                        return Err(Error::Input {
                            location: file,
                            message: format!(
                                "column `{}` has no value in the training rows to take the mean of (--missing mean)",
                                shown(&name)
                            ),
                        })
                    }
                    Missing::Mean => Some((sum / count as f64) as f32),
                    _ => None,
                };
                columns.push((InputColumn { name, levels: None, impute }, Store::numbers(false)));
            }
            Store::Levels { codes, levels, keep, .. } => {
                let mut order: Vec<usize> = (0..levels.len()).collect();
                order.sort_by(|&a, &b| levels[a].cmp(&levels[b]));
                let mut renumber = vec![0u32; levels.len()];
                for (new, &old) in order.iter().enumerate() {
                    renumber[old] = new as u32;
                }
                let codes = codes.iter().map(|&c| if c == MISSING { MISSING } else { renumber[c as usize] }).collect();
                let sorted: Vec<String> = order.iter().map(|&o| levels[o].clone()).collect();
                let store = Store::Levels { codes, levels: vec![], index: HashMap::new(), keep };
                columns.push((InputColumn { name, levels: Some(sorted), impute: None }, store));
            }
        }
    }
    let feature_columns: HashSet<&str> = columns.iter().map(|(c, _)| c.name.as_str()).collect();
    let recipe = Recipe {
        columns: names.clone(),
        label: label.clone(),
        classes,
        class_names,
        ids: spec.ids.clone(),
        ignored: (0..names.len())
            .filter(|&i| i != label_at && !feature_columns.contains(names[i].as_str()) && !spec.ids.contains(&names[i]))
            .map(|i| names[i].clone())
            .collect(),
        inputs: columns.iter().map(|(c, _)| c.clone()).collect(),
        na_values: spec.na_values.clone(),
        missing: spec.missing,
    };
    // A one-hot name may not be a column's name, or another one-hot name.
    let mut taken: HashSet<String> = names.iter().cloned().collect();
    for (input, _) in columns.iter().filter(|(c, _)| c.levels.is_some()) {
        for level in input.levels.iter().flatten() {
            let name = feature_name(&input.name, level);
            if !taken.insert(name.clone()) {
                return Err(Error::Input {
                    location: file,
                    message: format!(
                        "the one-hot feature `{}` (column `{}`, level `{}`) is also the name of a column or of another \
                         one-hot feature; rename the column",
                        shown(&name),
                        shown(&input.name),
                        shown(level)
                    ),
                });
            }
        }
    }
    if recipe.feature_names().is_empty() {
        return Err(Error::Input { location: file, message: "no features: every categorical column is empty".into() });
    }
    Ok((recipe, columns.into_iter().map(|(_, s)| s).collect(), code_class))
}

/// The numbers of the column `name` of the CSV file `path` (sample weights for `evaluate`): each
/// a finite number ≥ 0, else an error at `file:line:column`.
pub fn read_weight_column(path: &Path, format: &Format, name: &str) -> Result<Vec<f64>> {
    let (file, input) = crate::data::table::open_input(path)?;
    let (_, weights) = table::read_raw(
        &file,
        input,
        format,
        |names, line, _| match names.iter().position(|n| n == name) {
            Some(i) => Ok((i, vec![])),
            None => Err(table::at(
                &file,
                line,
                1,
                format!("no --sample-weight column `{}` in the header (columns: {})", shown(name), listed(names)),
            )),
        },
        |(i, weights): &mut (usize, Vec<f64>), row| {
            let cell = row.cell(*i);
            let bad = |m: String| at(&file, row.line(), *i + 1, format!("{m}{}", row.spans()));
            let w = row.number(cell).map_err(|m| bad(format!("sample weight: {m}")))?;
            if !w.is_finite() || w < 0.0 {
                return Err(bad(format!("sample weight {w} is not a finite number ≥ 0")));
            }
            weights.push(f64::from(w));
            Ok(())
        },
    )?;
    Ok(weights)
}

/// What [`read_scoring`] read.
#[derive(Debug)]
pub struct Scoring {
    /// The model's features for every row, in order (missing cells filled as in training), and the
    /// 0/1 labels when a label column was read.
    pub table: Table,
    /// The ID cells of each row (`rows × recipe.ids.len()`, row-major), when asked for.
    pub ids: Vec<String>,
    /// Cells whose level was not seen in training, encoded as all zeros (`Unknown::Ignore`).
    pub unknown: usize,
}

/// The columns of a scoring read, once the header is known.
struct ScoreRead {
    file: String,
    names: Vec<String>,
    /// Each input's column, and for a categorical one its levels' positions.
    inputs: Vec<(usize, Option<HashMap<String, usize>>)>,
    label_at: Option<usize>,
    ids: Vec<usize>,
    classes: Option<(LabelKey, LabelKey)>,
    /// A multiclass model's classes, in its order.
    class_keys: Option<Vec<LabelKey>>,
    features: Vec<f32>,
    labels: Vec<f32>,
    id_cells: Vec<String>,
    unknown: usize,
}

/// Reads the CSV file `path` for `predict` or `evaluate`: the recipe's feature columns found by
/// name in any order and encoded as in training, the label column `label` read through the
/// model's classes when given, the ID cells kept when `with_ids`. A column the recipe does not
/// know (not a feature, the label, an ID or left out in training) is an error naming it, and so
/// is a missing one.
pub fn read_scoring(
    path: &Path,
    format: &Format,
    recipe: &Recipe,
    label: Option<&str>,
    with_ids: bool,
    unknown: Unknown,
) -> Result<Scoring> {
    let (file, input) = crate::data::table::open_input(path)?;
    let state = table::read_raw(
        &file,
        input,
        format,
        |names, line, one_column| plan_scoring(&file, names, line, one_column, recipe, label, with_ids),
        |state, row| scoring_row(state, row, recipe, unknown),
    )?;
    let feature_names = recipe.feature_names();
    let table = Table {
        source: state.file,
        feature_names,
        label_name: label.map(String::from),
        features: state.features,
        labels: state.labels,
    };
    Ok(Scoring { table, ids: state.id_cells, unknown: state.unknown })
}

/// Reads the labelled CSV file `path` row by row through `recipe`, as [`read_scoring`] reads it
/// (columns by name, levels, imputations, the label through the recipe's classes), and hands each
/// row's features and 0/1 label to `sink`, keeping none. Under `--missing drop-rows` a row with a
/// missing cell is passed over, as training passed it over. Returns the rows handed on and the
/// rows passed over: the second pass of a streamed `convert`.
pub fn apply_rows(
    path: &Path,
    format: &Format,
    recipe: &Recipe,
    mut sink: impl FnMut(&[f32], f32) -> Result<()>,
) -> Result<(usize, usize)> {
    let (file, input) = crate::data::table::open_input(path)?;
    let (mut rows, mut dropped) = (0, 0);
    let na = &recipe.na_values;
    table::read_raw(
        &file,
        input,
        format,
        |names, line, one_column| plan_scoring(&file, names, line, one_column, recipe, Some(&recipe.label), false),
        |state, row| {
            let label_missing = state.label_at.is_some_and(|l| is_missing(row.cell(l), na));
            if recipe.missing == Missing::DropRows
                && (label_missing || state.inputs.iter().any(|(i, _)| is_missing(row.cell(*i), na)))
            {
                dropped += 1;
                return Ok(());
            }
            scoring_row(state, row, recipe, Unknown::Error)?;
            sink(&state.features, state.labels[0])?;
            state.features.clear();
            state.labels.clear();
            rows += 1;
            Ok(())
        },
    )?;
    Ok((rows, dropped))
}

#[allow(clippy::too_many_arguments)]
fn plan_scoring(
    file: &str,
    names: &[String],
    line: u64,
    one_column: &str,
    recipe: &Recipe,
    label: Option<&str>,
    with_ids: bool,
) -> Result<ScoreRead> {
    let file = if file == "-" { "<stdin>" } else { file };
    let header_error = |message: String| Error::Input { location: format!("{file}:{line}"), message };
    let at: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let label_at = match label {
        Some(name) => Some(at.get(name).copied().ok_or_else(|| {
            header_error(format!("no label column `{}` in the header (columns: {})", shown(name), listed(names)))
        })?),
        None => None,
    };
    let mut ids = vec![];
    if with_ids {
        for id in &recipe.ids {
            ids.push(at.get(id.as_str()).copied().ok_or_else(|| {
                header_error(format!(
                    "no ID column `{}` (the model's --id) in the header (columns: {})",
                    shown(id),
                    listed(names)
                ))
            })?);
        }
    }
    // Known columns that are not features: passed over.
    let mut passed: HashSet<&str> = recipe.ids.iter().chain(&recipe.ignored).map(String::as_str).collect();
    passed.insert(recipe.label.as_str());
    if let Some(l) = label {
        passed.insert(l);
    }
    let inputs: HashSet<&str> = recipe.inputs.iter().map(|i| i.name.as_str()).collect();
    let missing: Vec<&String> =
        recipe.inputs.iter().map(|i| &i.name).filter(|n| !at.contains_key(n.as_str())).collect();
    let unexpected: Vec<&String> =
        names.iter().filter(|n| !inputs.contains(n.as_str()) && !passed.contains(n.as_str())).collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        let quote = |v: &[&String]| {
            let mut list = String::new();
            for (i, n) in v.iter().enumerate() {
                if list.len() > 120 {
                    list += &format!(", … ({} in all)", v.len());
                    break;
                }
                list += &format!("{}`{}`", if i > 0 { ", " } else { "" }, shown(n));
            }
            list
        };
        let mut parts = vec![];
        if !missing.is_empty() {
            parts.push(format!("missing {}", quote(&missing)));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected {}", quote(&unexpected)));
        }
        let what = if recipe.inputs.iter().all(|i| i.levels.is_none()) { "features" } else { "input columns" };
        let hint = if names.len() == 1 { format!(" ({one_column})") } else { String::new() };
        return Err(header_error(format!(
            "columns do not match the model's {} {what}: {}{hint}",
            recipe.inputs.len(),
            parts.join("; ")
        )));
    }
    let inputs = recipe
        .inputs
        .iter()
        .map(|i| {
            let levels = i.levels.as_ref().map(|l| l.iter().enumerate().map(|(k, v)| (v.clone(), k)).collect());
            (at[i.name.as_str()], levels)
        })
        .collect();
    Ok(ScoreRead {
        file: file.to_string(),
        names: names.to_vec(),
        inputs,
        label_at,
        ids,
        classes: recipe.classes.as_ref().map(Classes::keys),
        class_keys: recipe.class_names.as_ref().map(|n| n.iter().map(|c| LabelKey::of(c)).collect()),
        features: vec![],
        labels: vec![],
        id_cells: vec![],
        unknown: 0,
    })
}

fn scoring_row(state: &mut ScoreRead, row: &RawRow, recipe: &Recipe, unknown: Unknown) -> Result<()> {
    let file = &state.file;
    let names = &state.names;
    let bad = |i: usize, message: String| {
        at(file, row.line(), i + 1, format!("{message} (column `{}`){}", shown(&names[i]), row.spans()))
    };
    let na = &recipe.na_values;
    for (k, (i, levels)) in state.inputs.iter().enumerate() {
        let i = *i;
        let cell = row.cell(i);
        let input = &recipe.inputs[k];
        if is_missing(cell, na) {
            match (levels, input.impute, recipe.missing) {
                (None, Some(v), _) => state.features.push(v),
                (Some(levels), _, Missing::Mean | Missing::Median) => {
                    state.features.extend(std::iter::repeat_n(0.0, levels.len()))
                }
                (_, _, Missing::DropRows) => {
                    return Err(bad(
                        i,
                        format!(
                            "{}: the model was trained with --missing drop-rows, and predictions never drop rows",
                            missing_text(cell)
                        ),
                    ))
                }
                _ => return Err(bad(i, missing_text(cell))),
            }
            continue;
        }
        match levels {
            None => state.features.push(row.number(cell).map_err(|m| bad(i, m))?),
            Some(levels) => {
                let start = state.features.len();
                state.features.extend(std::iter::repeat_n(0.0, levels.len()));
                match levels.get(&level_of(cell)) {
                    Some(&l) => state.features[start + l] = 1.0,
                    None if unknown == Unknown::Ignore => state.unknown += 1,
                    None => {
                        return Err(bad(
                            i,
                            format!(
                                "level `{}` was not seen in training (use --unknown ignore to encode it as all zeros)",
                                shown(cell)
                            ),
                        ))
                    }
                }
            }
        }
    }
    if let Some(l) = state.label_at {
        let cell = row.cell(l);
        let class = match &state.classes {
            _ if is_missing(cell, na) => return Err(bad(l, format!("label: {}", missing_text(cell)))),
            _ if state.class_keys.is_some() => {
                let keys = state.class_keys.as_deref().unwrap_or_default();
                let key = LabelKey::of(cell);
                match keys.iter().position(|k| *k == key) {
                    Some(k) => k as f32,
                    None => {
                        let listed: Vec<String> = keys.iter().map(|k| format!("`{}`", shown(&k.name()))).collect();
                        return Err(bad(
                            l,
                            format!(
                                "label `{}` is not one of the model's classes ({})",
                                shown(cell),
                                listed.join(", ")
                            ),
                        ));
                    }
                }
            }
            Some((negative, positive)) => {
                let key = LabelKey::of(cell);
                if key == *positive {
                    1.0
                } else if key == *negative {
                    0.0
                } else {
                    return Err(bad(
                        l,
                        format!(
                            "label `{}` is not one of the model's classes (`{}`, `{}`)",
                            shown(cell),
                            shown(&negative.name()),
                            shown(&positive.name())
                        ),
                    ));
                }
            }
            None => legacy_label(cell).map_err(|m| bad(l, m))?,
        };
        state.labels.push(class);
    }
    for &i in &state.ids {
        state.id_cells.push(row.cell(i).to_string());
    }
    Ok(())
}

/// A label of a model with the classes 0 and 1: `0`/`1` as numbers, or `true`/`false` in any case.
fn legacy_label(cell: &str) -> std::result::Result<f32, String> {
    if cell.eq_ignore_ascii_case("true") {
        return Ok(1.0);
    }
    if cell.eq_ignore_ascii_case("false") {
        return Ok(0.0);
    }
    match LabelKey::of(cell) {
        LabelKey::Number(v) if v == 0.0 || v == 1.0 => Ok(v as f32),
        _ => Err(format!("label `{}` is not one of the two classes (0/1, 0.0/1.0, true/false)", shown(cell))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    /// Shards surveyed apart and merged in rank order give the recipe of their concatenation:
    /// the label values in the order first seen over the ranks (rank 0 holds one class), the
    /// union of the levels; a shard with another header is refused naming its rank.
    #[test]
    fn merged_surveys_are_the_recipe_of_the_concatenated_shards() {
        let head = "id,k,x,label\n";
        let (a, b, c) = ("1,red,0.5,no\n2,,1,no\n", "3,blue,2,yes\n4,green,NA,no\n", "5,red,1,maybe\n");
        let spec = Spec {
            categorical: Categorical::Columns(vec!["k".into()]),
            ids: vec!["id".into()],
            missing: Missing::Mean,
            ..Spec::default()
        };
        let format = Format::default();
        let parts = [file(&format!("{head}{a}")), file(&format!("{head}{b}{c}"))];
        let surveys: Vec<Survey> = parts.iter().map(|f| survey(f.path(), &format, &spec).unwrap()).collect();
        assert_eq!(surveys[0].labels, ["no"]);
        assert_eq!(surveys[1].levels, [Some(vec!["blue".to_string(), "green".into(), "red".into()]), None]);
        // Three label values over the shards: refused, as a distributed run fits two classes,
        // naming the file of rank 1 that brings the third (`maybe`), not rank 0's.
        let e = merge_surveys(&surveys, &spec).unwrap_err().to_string();
        let one = parts[1].path().display().to_string();
        assert!(e.starts_with(&format!("{one}: label column `label` holds 3 values over the shards")), "{e}");
        assert!(e.contains("(rank 1's shard brings a third, `maybe`)"), "{e}");
        let (whole, parts) =
            (file(&format!("{head}{a}{b}")), [file(&format!("{head}{a}")), file(&format!("{head}{b}"))]);
        let surveys: Vec<Survey> = parts.iter().map(|f| survey(f.path(), &format, &spec).unwrap()).collect();
        let merged = merge_surveys(&surveys, &spec).unwrap();
        let one = read_training(whole.path(), &format, &spec).unwrap().recipe;
        assert_eq!(merged, one);
        assert_eq!(merged.inputs[0].levels, Some(vec!["blue".to_string(), "green".into(), "red".into()]));
        assert_eq!(merged.classes, Some(Classes { negative: "no".into(), positive: "yes".into() }));
        let other = file("id,k,z,label\n9,red,1,yes\n");
        let mut three = surveys.clone();
        three.push(survey(other.path(), &format, &spec).unwrap());
        let e = merge_surveys(&three, &spec).unwrap_err().to_string();
        assert!(
            e.contains("rank 2's header differs from rank 0's") && e.contains("column 3 is `z`, rank 0's `x`"),
            "{e}"
        );
        let median = Spec { missing: Missing::Median, ..spec };
        assert!(survey(whole.path(), &format, &median).is_err());
    }

    #[test]
    fn auto_turns_a_column_with_text_into_levels_and_scoring_repeats_the_numbers() {
        let f = file("c,x,y\n1,0.5,a\n2.0,1,b\nz,NA,a\n1,2,b\n");
        let spec = Spec { categorical: Categorical::Auto, missing: Missing::Mean, ..Spec::default() };
        let read = read_training(f.path(), &Format::default(), &spec).unwrap();
        // `1` and `2.0` were read as numbers before `z` made the column categorical.
        assert_eq!(read.recipe.feature_names(), ["c=1", "c=2", "c=z", "x"]);
        assert_eq!(read.recipe.classes, Some(Classes { negative: "a".into(), positive: "b".into() }));
        let x = &read.table.features;
        assert_eq!(x[..8], [1.0, 0.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0]);
        assert!(x[11].is_nan());
        assert_eq!(read.table.labels, [0.0, 1.0, 0.0, 1.0]);
        // Imputed as training does it, the rows read for scoring are the same numbers.
        let mut recipe = read.recipe.clone();
        let mut train = read.table.features.clone();
        recipe.impute("t", &mut [&mut train]).unwrap();
        assert_eq!(recipe.inputs[1].impute, Some(3.5 / 3.0));
        let scored = read_scoring(f.path(), &Format::default(), &recipe, Some("y"), false, Unknown::Error).unwrap();
        assert_eq!(scored.table.features, train);
        assert_eq!(scored.table.labels, read.table.labels);
    }

    /// The first pass of a streamed `convert` learns the recipe the in-memory read learns (levels
    /// of a column that turns categorical late, classes, means to the bit), and the second pass
    /// hands on the rows the in-memory read holds, dropped rows included.
    #[test]
    fn two_passes_learn_and_write_what_the_in_memory_read_does() {
        let mut text = String::from("c,x,y\n");
        for i in 0..60 {
            let c = if i == 50 { "z".to_string() } else { format!("{}", i % 4) };
            let x = if i % 7 == 3 { "NA".to_string() } else { format!("{}", 0.1 * i as f32 + 1.0 / 3.0) };
            text += &format!("{c},{x},{}\n", if i % 3 == 0 { "yes" } else { "no" });
        }
        let f = file(&text);
        for missing in [Missing::Mean, Missing::DropRows] {
            let spec = Spec { categorical: Categorical::Auto, missing, ..Spec::default() };
            let mut read = read_training(f.path(), &Format::default(), &spec).unwrap();
            read.recipe.impute("t", &mut [&mut read.table.features]).unwrap();
            let learned = learn_recipe(f.path(), &Format::default(), &spec).unwrap();
            assert_eq!(learned.recipe, read.recipe, "{missing:?}");
            assert_eq!((learned.rows, learned.dropped), (read.table.rows(), read.dropped), "{missing:?}");
            let (mut x, mut y) = (vec![], vec![]);
            let counts = apply_rows(f.path(), &Format::default(), &learned.recipe, |row, label| {
                x.extend_from_slice(row);
                y.push(label);
                Ok(())
            })
            .unwrap();
            assert_eq!(counts, (read.table.rows(), read.dropped), "{missing:?}");
            assert_eq!((x, y), (read.table.features.clone(), read.table.labels.clone()), "{missing:?}");
        }
        assert_eq!(
            learn_recipe(f.path(), &Format::default(), &Spec { missing: Missing::Median, ..Spec::default() })
                .unwrap_err()
                .to_string()
                .lines()
                .count(),
            1
        );
        // `auto` refuses a column of too many values at the same row either way.
        let spec = Spec { categorical: Categorical::Auto, missing: Missing::Mean, max_levels: 3, ..Spec::default() };
        let in_memory = read_training(f.path(), &Format::default(), &spec).unwrap_err().to_string();
        assert_eq!(learn_recipe(f.path(), &Format::default(), &spec).unwrap_err().to_string(), in_memory);
        assert!(in_memory.contains(":52:1: --categorical auto: more than 3 distinct values"), "{in_memory}");
    }
}
