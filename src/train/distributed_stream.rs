//! Streamed `.npy` shards across processes (`dist`, `--stream`): each rank reads its own `.npy`
//! file chunk by chunk every epoch (only one chunk held), and full-batch or per-rank mini-batch
//! SGD/Adam by the fused engine steps on the sums over every rank's rows
//! ([`crate::train::distributed_rows`]); the training metrics are summed over the ranks.

use std::ops::ControlFlow;

use crate::data::npy::feature_names;
use crate::data::source::Source;
use crate::data::stream::NpyRows;
use crate::dist::World;
use crate::error::{Error, Result};
use crate::model::file::SavedModel;
use crate::train::distributed_rows::{check_shards, descend_summed, summed_report};
use crate::train::fit::{describe, effective, Fit, FitConfig};
use crate::train::{Engine, Epoch, TrainConfig};

/// Fits every rank's streamed `rows` together by `config`'s SGD or Adam; every rank must call it
/// with the same `config` (compare settings hashes first) and returns the same model. No
/// standardization (its statistics would take a pass of their own over every rank), no
/// validation split, no exact solver: each is refused before any collective.
pub fn fit_stream_distributed(
    world: &mut World,
    rows: &NpyRows,
    config: &FitConfig,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    config.validate()?;
    let refuse = |name: &'static str, expected: &'static str| {
        Err(Error::InvalidSetting { name, value: "when streaming across processes".into(), expected })
    };
    if config.solver.is_some() {
        return refuse("solver", "sgd or adam: streaming trains by epochs");
    }
    if config.validation_split.is_some() {
        return refuse("validation_split", "none: hold out a file and score it separately");
    }
    if config.standardize {
        return refuse("standardize", "off: standardize the shards beforehand (`logreg convert`)");
    }
    let (n, d) = (Source::rows(rows), Source::features(rows));
    let steps = match config.train.batch_size {
        // Mini-batches stay within a chunk: each chunk's rows round up to batches.
        Some(b) => (0..Source::chunks(rows)).map(|c| Source::chunk_len(rows, c).div_ceil(b.max(1))).sum(),
        None => 1,
    };
    let positives = rows.labels().iter().filter(|&&v| v == 1.0).count();
    let (_, total) = check_shards(world, d, n, positives, steps)?;
    let effective = TrainConfig { engine: Engine::Fused, ..effective(config, total as f64)? };
    let training = descend_summed(world, rows, config, &effective, on_epoch)?;
    let probs = rows.probabilities(training.model.coef(), training.model.intercept(), None)?;
    let train_report = summed_report(world, &probs, rows.labels())?;
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: feature_names(d),
        label_name: "y".into(),
        standardizer: None,
        training: describe(config, &effective, &training, None),
        recipe: None,
    };
    Ok(Fit { saved, training, train_report, validation_report: None, solution: None })
}
