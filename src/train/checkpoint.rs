//! Checkpoints of SGD/Adam training: the file (JSON, written atomically) and the fingerprint of
//! the settings and data that a resumed run must match.

use std::path::Path;

use crate::data::source::Source;
use crate::data::stream::NpyRows;
use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::output::write_atomically;
use crate::train::fit::FitConfig;
use crate::train::TrainState;

/// What a checkpoint must match to be resumed: every setting but the number of epochs, and the
/// data (its shape, column names and the sums of its values).
pub fn fingerprint(config: &FitConfig, data: &Table) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
    format!(
        "{settings:?}; {} rows; {:?}; {:?}; {}; {}",
        data.labels.len(),
        data.feature_names,
        data.label_name,
        sum(&data.features),
        sum(&data.labels)
    )
}

/// [`fingerprint`] for an out-of-core file: its shape, size and the labels' sum (the features are
/// not summed: that would cost a pass over the file).
pub fn stream_fingerprint(config: &FitConfig, rows: &NpyRows) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let size = std::fs::metadata(rows.name()).map_or(0, |m| m.len());
    let ones = rows.labels().iter().filter(|&&v| v == 1.0).count();
    format!("{settings:?}; {} rows × {}; {size} bytes; {ones} ones", rows.rows(), rows.features())
}

/// Writes `state` for a run with this `fingerprint` to `path`, replacing it whole or not at all.
pub fn write(path: &Path, fingerprint: &str, state: &TrainState) -> Result<()> {
    let json = serde_json::json!({
        "format": "logreg-checkpoint", "format_version": 1, "fingerprint": fingerprint, "state": state,
    });
    write_atomically(path, json.to_string().as_bytes())
}

/// The training state in the checkpoint at `path`, which must have been written for `fingerprint`.
pub fn read(path: &Path, fingerprint: &str) -> Result<TrainState> {
    let bad = |message: String| Error::Input { location: path.display().to_string(), message };
    let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.to_path_buf(), error })?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a logreg checkpoint ({e})")))?;
    if json["format"] != "logreg-checkpoint" || json["format_version"] != 1 {
        return Err(bad("not a logreg checkpoint (format 1)".into()));
    }
    if json["fingerprint"] != fingerprint {
        return Err(bad("the checkpoint was written for other data or settings (only the epochs may change)".into()));
    }
    serde_json::from_value(json["state"].clone()).map_err(|e| bad(format!("bad checkpoint state ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::optim::OptimizerState;

    fn state() -> TrainState {
        TrainState {
            epoch: 3,
            weight: vec![0.5, -1.25],
            bias: 0.125,
            optimizer: OptimizerState { step: 3, moments: vec![] },
            losses: vec![0.7, 0.6, 0.5],
            validation_losses: vec![],
        }
    }

    #[test]
    fn a_checkpoint_reads_back_only_for_its_own_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        write(&path, "settings A", &state()).unwrap();
        assert_eq!(read(&path, "settings A").unwrap(), state());
        let e = read(&path, "settings B").unwrap_err().to_string();
        assert!(
            e.ends_with("run.ckpt: the checkpoint was written for other data or settings (only the epochs may change)"),
            "{e}"
        );
        std::fs::write(&path, b"{\"format\": \"something else\"}").unwrap();
        assert!(read(&path, "settings A").unwrap_err().to_string().ends_with("not a logreg checkpoint (format 1)"));
        std::fs::write(&path, b"\xff not json").unwrap();
        assert!(read(&path, "settings A").unwrap_err().to_string().contains("not a logreg checkpoint ("));
    }
}
