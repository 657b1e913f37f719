//! A rank's CSV shard (`--data 'part-{rank}.csv'`, one file per rank, one header each): every
//! rank's survey gathered and merged into the recipe one process would learn from the files
//! concatenated in rank order ([`crate::data::recipe::merge_surveys`]), the rank's rows read
//! through it, and the mean imputations summed over the ranks in rank order, as one process sums
//! its rows.

use std::path::Path;

use crate::data::missing::Missing;
use crate::data::recipe::{apply_rows, merge_surveys, survey, Recipe, Spec, Survey};
use crate::data::shard::Shard;
use crate::data::table::{shown, Format, Table};
use crate::dist::World;
use crate::error::{Error, Result};

/// What [`read_csv_shard`] read.
pub struct CsvShard {
    /// This rank's rows, through the merged recipe (missing cells filled).
    pub shard: Shard,
    /// The recipe of every rank's rows, its mean imputations learned on all of them.
    pub recipe: Recipe,
    /// Rows `--missing drop-rows` left out over all ranks.
    pub dropped: usize,
}

/// Reads rank `world.rank()`'s CSV shard `path`; every rank must call it with the same `spec`
/// (compare settings hashes first). A failure on any rank (a bad cell, a header unlike rank 0's)
/// ends every rank with one line naming the rank.
pub fn read_csv_shard(world: &mut World, path: &Path, format: &Format, spec: &Spec) -> Result<CsvShard> {
    let local = survey(path, format, spec).map(|s| serde_json::to_vec(&s).expect("a survey serializes"));
    let mine = world.agree("reading the shards", local.map_err(|e| e.to_string()))?;
    let surveys = world
        .gather_bytes(&mine)?
        .iter()
        .map(|bytes| serde_json::from_slice::<Survey>(bytes))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| distributed(world, "gathering the shards' recipes", e.to_string()))?;
    // The same surveys on every rank: the same recipe, or the same error, everywhere.
    let mut recipe =
        merge_surveys(&surveys, spec).map_err(|e| distributed(world, "checking the shards", e.to_string()))?;
    // Missing numeric cells read as NaN until the means over every rank are known.
    let mut reading = recipe.clone();
    if reading.missing == Missing::Mean {
        reading.inputs.iter_mut().filter(|i| i.levels.is_none()).for_each(|i| i.impute = Some(f32::NAN));
    }
    let (mut features, mut labels) = (vec![], vec![]);
    let read = apply_rows(path, format, &reading, |row, label| {
        features.extend_from_slice(row);
        labels.push(label);
        Ok(())
    });
    world.agree("reading the shards", read.map(|_| ()).map_err(|e| e.to_string()))?;
    let width = recipe.feature_names().len();
    chained_means(world, &mut recipe, &mut features, width)?;
    let table = Table {
        source: path.display().to_string(),
        feature_names: recipe.feature_names(),
        label_name: Some(recipe.label.clone()),
        features,
        labels,
    };
    let dropped = surveys.iter().map(|s| s.dropped).sum();
    Ok(CsvShard { shard: Shard { table, first_row: None }, recipe, dropped })
}

fn distributed(world: &World, step: &'static str, message: String) -> Error {
    Error::Distributed { step, rank: world.rank(), message }
}

/// `--missing mean` over every rank's rows: each numeric column's f64 sum carried from rank to
/// rank, each adding its values in row order to the sum of the ranks before it (one process's
/// order of additions on the concatenated rows, so the same bits), then the sum over the count
/// fills this rank's NaN cells and the recipe.
fn chained_means(world: &mut World, recipe: &mut Recipe, features: &mut [f32], width: usize) -> Result<()> {
    if recipe.missing != Missing::Mean {
        return Ok(());
    }
    let mut columns = vec![];
    let mut at = 0;
    for (k, input) in recipe.inputs.iter().enumerate() {
        match &input.levels {
            Some(levels) => at += levels.len(),
            None => {
                columns.push((k, at));
                at += 1;
            }
        }
    }
    let n = columns.len();
    if n == 0 || width == 0 {
        return Ok(());
    }
    // [sums; counts]; the first rank starts where `Iterator::sum` of f64 does.
    let mut carried: Vec<f64> = [vec![-0.0; n], vec![0.0; n]].concat();
    for r in 0..world.size() {
        let mut next = vec![0.0; 2 * n];
        if r == world.rank() {
            for (c, &(_, j)) in columns.iter().enumerate() {
                let (mut sum, mut count) = (carried[c], carried[n + c]);
                for v in features.chunks_exact(width).map(|row| row[j]).filter(|v| !v.is_nan()) {
                    sum += f64::from(v);
                    count += 1.0;
                }
                next[c] = sum;
                next[n + c] = count;
            }
        }
        world.sum(&mut next)?;
        carried = next;
    }
    for (c, &(k, j)) in columns.iter().enumerate() {
        if carried[n + c] == 0.0 {
            let message = format!(
                "column `{}` has no value in the training rows to take the mean of (--missing mean)",
                shown(&recipe.inputs[k].name)
            );
            return Err(distributed(world, "imputing the means", message));
        }
        let value = (carried[c] / carried[n + c]) as f32;
        recipe.inputs[k].impute = Some(value);
        for row in features.chunks_exact_mut(width) {
            if row[j].is_nan() {
                row[j] = value;
            }
        }
    }
    Ok(())
}

/// The sample weights of the rows [`read_csv_shard`] kept from `path` through `recipe`: column
/// `name`'s numbers, passing over the rows `--missing drop-rows` drops (a missing label or
/// feature cell), as one process's `read_training` reads them. A missing, negative or
/// non-finite weight is an error at file:line:column.
pub fn read_weight_rows(path: &Path, format: &Format, recipe: &Recipe, name: &str) -> Result<Vec<f64>> {
    use crate::data::missing::is_missing;
    use crate::data::table::{at, read_raw};
    let (file, input) = crate::data::table::open_input(path)?;
    let na = &recipe.na_values;
    let plan = |names: &[String], line: u64, _: &str| {
        let find = |n: &str| names.iter().position(|c| c == n);
        let weight = find(name)
            .ok_or_else(|| at(&file, line, 1, format!("no --sample-weight column `{}` in the header", shown(name))))?;
        // The cells whose absence drops a row: the label's and every feature column's.
        let checked: Vec<usize> = std::iter::once(&recipe.label)
            .chain(recipe.inputs.iter().map(|i| &i.name))
            .filter_map(|n| find(n.as_str()))
            .collect();
        Ok((weight, checked, vec![]))
    };
    let (_, _, weights) =
        read_raw(&file, input, format, plan, |(w, checked, weights): &mut (usize, Vec<usize>, Vec<f64>), row| {
            if recipe.missing == Missing::DropRows && checked.iter().any(|&i| is_missing(row.cell(i), na)) {
                return Ok(());
            }
            let bad =
                |m: String| at(&file, row.line(), *w + 1, format!("{m} (column `{}`){}", shown(name), row.spans()));
            let cell = row.cell(*w);
            if is_missing(cell, na) {
                return Err(bad("sample weight: missing".into()));
            }
            let value = row.number(cell).map_err(|m| bad(format!("sample weight: {m}")))?;
            if !value.is_finite() || value < 0.0 {
                return Err(bad(format!("sample weight {value} is not a finite number ≥ 0")));
            }
            weights.push(f64::from(value));
            Ok(())
        })?;
    Ok(weights)
}
