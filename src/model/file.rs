//! The model file: weights in safetensors (no code, no pickle) with the metadata needed to use
//! them, written to a temporary name and renamed so a crash never leaves half a model.
//!
//! Tensors (f32, little-endian): `weight` `[d]`, `bias` `[1]`, and with standardization `mean`
//! and `std` `[d]`. Metadata (strings): `format` = `logreg-model`, `format_version` = `1`,
//! `crate_version`, `feature_names` (JSON list, in column order), `label`, `training` (JSON: the
//! penalty, λ, loss and the other settings).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::data::dataset::Standardizer;
use crate::error::{Error, Result};
use crate::model::linear::FittedLogisticRegression;
use crate::output::write_atomically;

const FORMAT: &str = "logreg-model";
const FORMAT_VERSION: &str = "1";

/// The training settings recorded in a model file, for the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// `none`, `l1`, `l2` or `elastic-net`.
    pub penalty: String,
    pub lambda: f64,
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub penalize_bias: bool,
    /// `bce` or `logits`.
    pub loss: String,
    pub optimizer: String,
    pub lr: f64,
    pub epochs: usize,
    pub batch_size: Option<usize>,
    pub seed: u64,
}

/// A trained model with everything needed to apply it to new rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    pub model: FittedLogisticRegression,
    pub feature_names: Vec<String>,
    pub label_name: String,
    pub standardizer: Option<Standardizer>,
    pub training: TrainingInfo,
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The first value of a model that could not predict: a non-finite weight, bias or mean, or a
/// standard deviation that is not a finite number > 0.
fn unusable(model: &FittedLogisticRegression, standardizer: Option<&Standardizer>) -> Option<String> {
    let first = |name: &str, values: &[f32], ok: fn(f32) -> bool| {
        values.iter().position(|&v| !ok(v)).map(|i| format!("{name} {i} is {}", values[i]))
    };
    let finite = |v: f32| v.is_finite();
    first("weight", model.coef(), finite)
        .or_else(|| first("bias", &[model.intercept()], finite))
        .or_else(|| standardizer.and_then(|s| first("mean", &s.mean, finite)))
        .or_else(|| standardizer.and_then(|s| first("std", &s.std, |v| v.is_finite() && v > 0.0)))
}

impl SavedModel {
    /// The file's bytes; a model with a non-finite value is refused (nothing non-finite is
    /// ever written).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if let Some(what) = unusable(&self.model, self.standardizer.as_ref()) {
            let message = format!(
                "{what}, so it cannot predict; nothing was written: \
                 try standardizing, a larger penalty or a lower learning rate"
            );
            return Err(Error::Input { location: "the fitted model".into(), message });
        }
        let mut tensors: Vec<(&str, Vec<f32>)> =
            vec![("weight", self.model.coef().to_vec()), ("bias", vec![self.model.intercept()])];
        if let Some(s) = &self.standardizer {
            tensors.push(("mean", s.mean.clone()));
            tensors.push(("std", s.std.clone()));
        }
        let bytes: Vec<(&str, Vec<u8>)> = tensors.iter().map(|(n, v)| (*n, le_bytes(v))).collect();
        let views = bytes
            .iter()
            .map(|(n, b)| Ok((*n, TensorView::new(Dtype::F32, vec![b.len() / 4], b).map_err(encode_error)?)))
            .collect::<Result<Vec<_>>>()?;
        let metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION.to_string()),
            ("crate_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("feature_names".to_string(), serde_json::to_string(&self.feature_names).expect("strings serialize")),
            ("label".to_string(), self.label_name.clone()),
            ("training".to_string(), serde_json::to_string(&self.training).expect("plain struct serializes")),
        ]);
        safetensors::serialize(views, Some(metadata)).map_err(encode_error)
    }

    /// Writes the model to `path` through a temporary file in the same directory and a rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes()?)
    }

    /// Reads a model file; a truncated, foreign or incompatible file is an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.into(), error })?;
        Self::from_bytes(&bytes).map_err(|message| Error::Input { location: path.display().to_string(), message })
    }

    /// Parses a model file's bytes; the error says what is wrong with them.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let not_a_model = |e: safetensors::SafeTensorError| format!("not a logreg model file (not safetensors: {e})");
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_a_model)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(not_a_model)?;
        let empty = HashMap::new();
        let meta = header.metadata().as_ref().unwrap_or(&empty);
        let get =
            |key: &str| meta.get(key).ok_or_else(|| format!("not a logreg model file (no `{key}` in its metadata)"));
        if get("format")? != FORMAT {
            return Err(format!("not a logreg model file (format `{}`)", get("format")?));
        }
        if get("format_version")? != FORMAT_VERSION {
            return Err(format!(
                "model format version {} is not supported by logreg {} (it reads version {FORMAT_VERSION})",
                get("format_version")?,
                env!("CARGO_PKG_VERSION")
            ));
        }
        let feature_names: Vec<String> =
            serde_json::from_str(get("feature_names")?).map_err(|e| format!("bad `feature_names` metadata: {e}"))?;
        let training: TrainingInfo =
            serde_json::from_str(get("training")?).map_err(|e| format!("bad `training` metadata: {e}"))?;
        let d = feature_names.len();
        let read = |name: &str, len: usize| -> std::result::Result<Vec<f32>, String> {
            let t = tensors.tensor(name).map_err(|_| format!("no `{name}` tensor"))?;
            if t.dtype() != Dtype::F32 || t.shape() != [len] {
                return Err(format!("tensor `{name}` is {:?} {:?}, expected F32 [{len}]", t.dtype(), t.shape()));
            }
            Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        };
        let standardizer = match tensors.names().contains(&"mean") {
            true => Some(Standardizer { mean: read("mean", d)?, std: read("std", d)? }),
            false => None,
        };
        let model = FittedLogisticRegression::new(read("weight", d)?, read("bias", 1)?[0]);
        if let Some(what) = unusable(&model, standardizer.as_ref()) {
            return Err(format!("a model that cannot predict: {what}"));
        }
        Ok(Self { model, feature_names, label_name: get("label")?.clone(), standardizer, training })
    }
}

fn encode_error(e: safetensors::SafeTensorError) -> Error {
    Error::Input { location: "model".into(), message: format!("could not encode the model: {e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedModel {
        SavedModel {
            model: FittedLogisticRegression::new(vec![0.5, -1.25], 0.125),
            feature_names: vec!["a".into(), "b c".into()],
            label_name: "y".into(),
            standardizer: Some(Standardizer { mean: vec![1.0, 2.0], std: vec![3.0, 4.0] }),
            training: TrainingInfo {
                penalty: "l1".into(),
                lambda: 0.01,
                lambda_l1: 0.0,
                lambda_l2: 0.0,
                penalize_bias: false,
                loss: "logits".into(),
                optimizer: "adam".into(),
                lr: 0.01,
                epochs: 10,
                batch_size: Some(32),
                seed: 3,
            },
        }
    }

    #[test]
    fn nothing_non_finite_is_written_or_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let standardizer = |std: f32| Some(Standardizer { mean: vec![1.0, 2.0], std: vec![3.0, std] });
        let cases = [
            (
                SavedModel { model: FittedLogisticRegression::new(vec![0.5, f32::NAN], 0.0), ..sample() },
                "weight 1 is NaN",
            ),
            (
                SavedModel { model: FittedLogisticRegression::new(vec![0.5, 1.0], f32::INFINITY), ..sample() },
                "bias 0 is inf",
            ),
            (SavedModel { standardizer: standardizer(0.0), ..sample() }, "std 1 is 0"),
            (SavedModel { standardizer: standardizer(-2.0), ..sample() }, "std 1 is -2"),
        ];
        for (model, what) in cases {
            let e = model.save(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("the fitted model: {what}, so it cannot predict; nothing was written")),
                "{e}"
            );
            assert!(!path.exists(), "{what}: nothing is written");
        }
        // A file whose weight was edited to NaN is refused when read.
        let mut bytes = sample().to_bytes().unwrap();
        let at = bytes.windows(4).position(|w| w == (-1.25f32).to_le_bytes()).unwrap();
        bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(SavedModel::from_bytes(&bytes).unwrap_err(), "a model that cannot predict: weight 1 is NaN");
    }

    #[test]
    fn a_model_survives_the_round_trip() {
        let m = sample();
        assert_eq!(SavedModel::from_bytes(&m.to_bytes().unwrap()).unwrap(), m);
        let plain = SavedModel { standardizer: None, ..sample() };
        assert_eq!(SavedModel::from_bytes(&plain.to_bytes().unwrap()).unwrap(), plain);
    }

    #[test]
    fn truncated_foreign_and_future_files_are_rejected() {
        let bytes = sample().to_bytes().unwrap();
        let e = SavedModel::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(e.starts_with("not a logreg model file (not safetensors"), "{e}");
        assert!(SavedModel::from_bytes(b"PK\x03\x04 a zip file").unwrap_err().starts_with("not a logreg model file"));
        let foreign = safetensors::serialize(
            [("w", TensorView::new(Dtype::F32, vec![1], &[0, 0, 0, 0]).unwrap())],
            Some(HashMap::from([("format".into(), "pt".into())])),
        )
        .unwrap();
        assert_eq!(SavedModel::from_bytes(&foreign).unwrap_err(), "not a logreg model file (format `pt`)");
        let key = b"\"format_version\":\"1\"";
        let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len() - 2;
        let mut future = bytes.clone();
        future[at] = b'9';
        let e = SavedModel::from_bytes(&future).unwrap_err();
        assert!(e.starts_with("model format version 9 is not supported"), "{e}");
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        std::fs::write(&path, b"old").unwrap();
        sample().save(&path).unwrap();
        assert_eq!(SavedModel::load(&path).unwrap(), sample());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = sample().save(&dir.path().join("missing/m.safetensors")).unwrap_err().to_string();
        assert!(e.contains("missing/m.safetensors"), "{e}");
    }
}
