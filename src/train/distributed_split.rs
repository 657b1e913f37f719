//! `--validation-split` across ranks (`dist`): each rank holds out part of its own shard by one
//! process's rule ([`held_out_rows`]: per class, round(f·n_c) rows drawn by a seeded `randperm`),
//! so the training part is every rank's kept rows in rank order and the validation part every
//! rank's held-out rows; the validation metrics are summed over the ranks.

use tch::{Device, Kind, Tensor};

use crate::data::dataset::Dataset;
use crate::data::table::Table;
use crate::dist::World;
use crate::error::Result;
use crate::model::linear::FittedLogisticRegression;
use crate::model::metrics::Report;
use crate::seed::with_seed;
use crate::solvers::weights::Weights;

/// A shard cut in two by [`split_shard`].
pub struct HeldOut {
    /// The rows this rank trains on, in the shard's order.
    pub train: Table,
    /// The rows this rank holds out, in the shard's order.
    pub valid: Table,
    /// The weights of the training rows (sample weights cut as the rows; class weights kept).
    pub weights: Weights,
}

/// The rows of `labels` (0/1) one process keeps and holds out for `--validation-split fraction`
/// under `seed` (the draws of its `stratified_split`, made before anything else under that seed):
/// each sorted. A class with too few rows for both parts is an error naming the setting.
pub fn held_out_rows(labels: &[f32], fraction: f64, seed: u64) -> Result<(Vec<i64>, Vec<i64>)> {
    with_seed(seed, || {
        let rows = Tensor::f_arange(labels.len() as i64, (Kind::Int64, Device::Cpu))?;
        let y = Tensor::f_from_slice(labels)?.f_view([-1, 1])?;
        let (t, v) = Dataset { x: rows.f_view([-1, 1])?, y }.stratified_split(fraction)?;
        Ok((Vec::<i64>::try_from(t.x.f_view([-1])?)?, Vec::<i64>::try_from(v.x.f_view([-1])?)?))
    })
}

/// Rows `rows` of `table`, in that order.
fn pick(table: &Table, rows: &[i64]) -> Table {
    let width = table.feature_names.len();
    let features = rows.iter().flat_map(|&r| table.features[r as usize * width..][..width].iter().copied()).collect();
    let labels = rows.iter().map(|&r| table.labels[r as usize]).collect();
    Table {
        source: table.source.clone(),
        feature_names: table.feature_names.clone(),
        label_name: table.label_name.clone(),
        features,
        labels,
    }
}

/// This rank's `table` cut by [`held_out_rows`] on its own labels with the run's `seed`, its
/// sample weights with it. A shard that cannot be cut (a class with too few rows on it) ends
/// every rank with one line naming this rank.
pub fn split_shard(world: &mut World, table: &Table, weights: &Weights, fraction: f64, seed: u64) -> Result<HeldOut> {
    let cut = held_out_rows(&table.labels, fraction, seed).map_err(|e| {
        format!("{e}: each rank holds out from its own shard, so every shard needs rows of both classes to split")
    });
    let (train, valid) = world.agree("holding out --validation-split", cut)?;
    let sample = weights.sample.as_ref().map(|s| train.iter().map(|&r| s[r as usize]).collect());
    Ok(HeldOut {
        train: pick(table, &train),
        valid: pick(table, &valid),
        weights: Weights { sample, class: weights.class.clone() },
    })
}

/// `model`'s metrics on every rank's held-out rows (`x` this rank's, prepared as the training
/// rows were, `labels` theirs): confusion counts and log-loss summed over the ranks, as one
/// process's report on their union (no ROC AUC: it needs every row's rank among all rows).
pub fn validation_report(
    world: &mut World,
    model: &FittedLogisticRegression,
    x: &Tensor,
    labels: &[f32],
) -> Result<Report> {
    let probs = Vec::<f32>::try_from(model.predict_proba(x)?.f_to_device(Device::Cpu)?)?;
    crate::train::distributed_rows::summed_report(world, &probs, labels)
}
