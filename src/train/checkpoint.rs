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

/// FNV-1a (64 bits) over `bytes`, continuing from `hash`: a fixed algorithm, so a checkpoint's
/// fingerprint means the same to every build.
fn fnv1a(hash: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(hash, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The values' bits in order: any change of value or order (two labels swapped, two cells
/// exchanged between columns) changes it.
fn values_hash(values: &[f32]) -> u64 {
    fnv1a(FNV_START, values.iter().flat_map(|v| v.to_bits().to_le_bytes()))
}

/// What a checkpoint must match to be resumed: every setting but the number of epochs, and the
/// data (its shape, column names and a hash of every value in order).
pub fn fingerprint(config: &FitConfig, data: &Table) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    format!(
        "{settings:?}; {} rows; {:?}; {:?}; features {:016x}; labels {:016x}",
        data.labels.len(),
        data.feature_names,
        data.label_name,
        values_hash(&data.features),
        values_hash(&data.labels)
    )
}

/// [`fingerprint`] for an out-of-core file: its shape, size and modification time, a hash of its
/// first and last MiB, and a hash of every label (hashing all the features would cost a pass over
/// the file).
pub fn stream_fingerprint(config: &FitConfig, rows: &NpyRows) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let path = Path::new(rows.name());
    let meta = std::fs::metadata(path).ok();
    let size = meta.as_ref().map_or(0, |m| m.len());
    let modified = meta.and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    let ends = file_ends_hash(path, size).unwrap_or(0);
    format!(
        "{settings:?}; {} rows × {}; {size} bytes; modified {modified:?}; ends {ends:016x}; labels {:016x}",
        rows.rows(),
        rows.features(),
        values_hash(rows.labels())
    )
}

/// A hash of the first and last MiB of the file at `path` (`size` bytes long).
fn file_ends_hash(path: &Path, size: u64) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const SPAN: u64 = 1 << 20;
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::new();
    (&mut file).take(SPAN).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(size.saturating_sub(SPAN)))?;
    let mut tail = Vec::new();
    file.take(SPAN).read_to_end(&mut tail)?;
    Ok(fnv1a(fnv1a(FNV_START, head), tail))
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
    fn the_fingerprint_sees_values_move_even_when_their_sums_do_not() {
        let config = FitConfig {
            train: crate::train::TrainConfig::default(),
            seed: 0,
            standardize: false,
            validation_split: None,
            solver: None,
            sklearn: None,
        };
        let table = |features: Vec<f32>, labels: Vec<f32>| Table {
            source: "t.csv".into(),
            feature_names: vec!["a".into(), "b".into()],
            label_name: Some("y".into()),
            features,
            labels,
        };
        let base = fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 1.0]));
        assert_eq!(base, fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 1.0])));
        assert_ne!(base, fingerprint(&config, &table(vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 0.0])), "labels swapped");
        assert_ne!(base, fingerprint(&config, &table(vec![2.0, 1.0, 3.0, 4.0], vec![0.0, 1.0])), "cells swapped");
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
