//! The model file: weights in safetensors (no code, no pickle) with the metadata needed to use
//! them, written to a temporary name and renamed so a crash never leaves half a model.
//!
//! Tensors (f32, little-endian): `weight` `[d]`, `bias` `[1]`, and with standardization `mean`
//! and `std` `[d]`. Metadata (strings): `format` = `logreg-model`, `format_version` = `1`,
//! `crate_version`, `feature_names` (JSON list, in column order), `label`, `training` (JSON: the
//! penalty, λ, loss and the other settings). A model trained on a CSV file also records its input
//! recipe (`recipe`, JSON: columns, IDs, classes, encodings, imputations; see
//! [`crate::data::recipe`]) and is format version 2; version 1 files (no recipe: numeric columns,
//! labels 0/1) still load. Version 3 is a multiclass model ([`crate::model::multiclass`]).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::data::dataset::Standardizer;
use crate::data::recipe::Recipe;
use crate::error::{Error, Result};
use crate::model::linear::FittedLogisticRegression;
use crate::model::penalty::Penalty;
use crate::output::write_atomically;

pub(crate) const FORMAT: &str = "logreg-model";
const FORMAT_VERSION: &str = "1";
/// The version of a file with a recipe.
const FORMAT_VERSION_RECIPE: &str = "2";
/// The version of a multiclass model's file.
pub(crate) const FORMAT_VERSION_MULTICLASS: &str = "3";

/// How the model was trained, for the record: only the settings that applied (no learning rate
/// for Newton, no λ that the penalty does not use). Files written before a field existed read it
/// as `None` (or as the value they wrote: older files stored every field).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// `none`, `l1`, `l2` or `elastic-net`.
    pub penalty: String,
    /// λ of `l1` or `l2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f64>,
    /// λ₁ of `elastic-net` (and of a glmnet or scikit-learn mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_l1: Option<f64>,
    /// λ₂ of `elastic-net` (and of a glmnet or scikit-learn mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_l2: Option<f64>,
    /// Whether the penalty covered the bias (the tutorial's way) or only the weights.
    pub penalize_bias: bool,
    /// The method: `sgd` or `adam` (epochs), `newton` or `fista` (to the optimum).
    pub optimizer: String,
    /// Seeds the initial weights, the mini-batch order, the validation split or the cv folds.
    pub seed: u64,
    /// Whether the features were standardized (the model then stores their mean and std).
    #[serde(default)]
    pub standardize: bool,
    /// sgd/adam: `bce` (sigmoid then BCELoss) or `logits` (the fused, stable form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    /// sgd/adam: the learning rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// sgd/adam: the epochs run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// sgd/adam: rows per mini-batch (`None`: full batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// newton/fista: iterations run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// newton/fista: the optimality tolerance asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tol: Option<f64>,
    /// newton/fista: the optimality measure reached (the largest subgradient violation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimality: Option<f64>,
    /// newton/fista: whether `optimality` reached `tol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged: Option<bool>,
    /// Three or more classes: `multinomial` (one softmax) or `ovr` (one binary fit per class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_class: Option<String>,
}

impl TrainingInfo {
    /// The record of `penalty`, with only its own λs, for `optimizer` (`sgd`, `adam`, `newton`,
    /// `fista`); the other fields empty, to be filled by [`Self::epochs`] or [`Self::solved`].
    pub fn new(penalty: Penalty, penalize_bias: bool, optimizer: &str, seed: u64, standardize: bool) -> Self {
        let (name, lambda, lambda_l1, lambda_l2) = match penalty {
            Penalty::None => ("none", None, None, None),
            Penalty::L1 { lambda } => ("l1", Some(lambda), None, None),
            Penalty::L2 { lambda } => ("l2", Some(lambda), None, None),
            Penalty::ElasticNet { lambda_l1, lambda_l2 } => ("elastic-net", None, Some(lambda_l1), Some(lambda_l2)),
        };
        Self {
            penalty: name.into(),
            lambda,
            lambda_l1,
            lambda_l2,
            penalize_bias,
            optimizer: optimizer.into(),
            seed,
            standardize,
            ..Self::default()
        }
    }

    /// Records an SGD/Adam run: its loss form, learning rate, epochs run and batch size.
    pub fn epochs(self, loss: &str, lr: f64, epochs: usize, batch_size: Option<usize>) -> Self {
        Self { loss: Some(loss.into()), lr: Some(lr), epochs: Some(epochs), batch_size, ..self }
    }

    /// Records an exact solver's run: iterations, the tolerance, the optimality reached.
    pub fn solved(self, iterations: usize, tol: f64, optimality: f64, converged: bool) -> Self {
        let optimality = Some(optimality).filter(|o| o.is_finite());
        Self { iterations: Some(iterations), tol: Some(tol), optimality, converged: Some(converged), ..self }
    }
}

/// A trained model with everything needed to apply it to new rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedModel {
    /// The weights and the bias, on the standardized scale when there is a standardizer.
    pub model: FittedLogisticRegression,
    /// The feature columns, in the order of the weights.
    pub feature_names: Vec<String>,
    /// The label column it was trained on (`y` for a `.npy` file).
    pub label_name: String,
    /// Each feature's training mean and std, applied before the weights.
    pub standardizer: Option<Standardizer>,
    /// How it was trained.
    pub training: TrainingInfo,
    /// What was done to the input file (`None`: numeric columns, labels 0/1, as before recipes).
    pub recipe: Option<Recipe>,
}

pub(crate) fn le_bytes(values: &[f32]) -> Vec<u8> {
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
        let version = if self.recipe.is_some() { FORMAT_VERSION_RECIPE } else { FORMAT_VERSION };
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), version.to_string()),
            ("crate_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("feature_names".to_string(), serde_json::to_string(&self.feature_names).expect("strings serialize")),
            ("label".to_string(), self.label_name.clone()),
            ("training".to_string(), serde_json::to_string(&self.training).expect("plain struct serializes")),
        ]);
        if let Some(recipe) = &self.recipe {
            if let Some(v) = recipe.inputs.iter().filter_map(|i| i.impute).find(|v| !v.is_finite()) {
                return Err(Error::Input {
                    location: "the fitted model".into(),
                    message: format!("an imputation value is {v}; nothing was written"),
                });
            }
            metadata.insert("recipe".into(), serde_json::to_string(recipe).expect("plain struct serializes"));
        }
        safetensors::serialize(views, Some(metadata)).map_err(encode_error)
    }

    /// Writes the model to `path` through a temporary file in the same directory and a rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes()?)
    }

    /// Reads a model file; a truncated, foreign or incompatible file is an error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_bounded(path)?;
        // Metadata edited to hold a line break is quoted in serde's messages: escaped here.
        Self::from_bytes(&bytes).map_err(|message| Error::Input {
            location: path.display().to_string(),
            message: crate::error::one_line(&message),
        })
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
        let version = get("format_version")?;
        if version == FORMAT_VERSION_MULTICLASS {
            return Err("a multiclass model: this reads two-class models (`predict` and `evaluate` read both)".into());
        }
        if version != FORMAT_VERSION && version != FORMAT_VERSION_RECIPE {
            return Err(format!(
                "model format version {} is not supported by logreg {} (it reads versions 1 and 2)",
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
        // Files from before `standardize` was recorded say it by their mean and std tensors.
        let training = TrainingInfo { standardize: standardizer.is_some(), ..training };
        let recipe = match meta.get("recipe") {
            Some(text) if version == FORMAT_VERSION_RECIPE => {
                let recipe: Recipe = serde_json::from_str(text).map_err(|e| format!("bad `recipe` metadata: {e}"))?;
                if recipe.feature_names() != feature_names {
                    return Err("bad `recipe` metadata: its features are not the model's".into());
                }
                if recipe.inputs.iter().filter_map(|i| i.impute).any(|v| !v.is_finite()) {
                    return Err("a model that cannot predict: an imputation value is not finite".into());
                }
                Some(recipe)
            }
            Some(_) => return Err("a `recipe` in a version 1 model file".into()),
            None if version == FORMAT_VERSION_RECIPE => return Err("no `recipe` in a version 2 model file".into()),
            None => None,
        };
        Ok(Self { model, feature_names, label_name: get("label")?.clone(), standardizer, training, recipe })
    }

    /// The recipe that reads a raw file for this model: its own, or, for a file from before
    /// recipes, numeric columns named as its features and labels 0/1.
    pub fn recipe(&self) -> Recipe {
        self.recipe.clone().unwrap_or_else(|| Recipe::legacy(&self.feature_names, &self.label_name))
    }
}

/// The longest safetensors header read: a model's header is its feature names and a few settings.
const MAX_HEADER: u64 = 256 << 20;

/// A model file's bytes, read no further than its own header allows, so that a device or pipe
/// that never ends (`/dev/zero`, `/dev/urandom`) is not read without bound: the 8-byte header
/// length (at most [`MAX_HEADER`]), the header, then at most 4 bytes of tensor data per header
/// byte plus a little (each feature name costs the header at least 3 bytes, `"",`, and the
/// tensors 12: weight, mean and std), or up to the end of the last tensor the header declares.
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |error| Error::Io { path: path.into(), error };
    let not_a_model = |why: String| Error::Input {
        location: path.display().to_string(),
        message: format!("not a logreg model file ({why})"),
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => not_a_model("shorter than 8 bytes".into()),
        _ => io(e),
    })?;
    let header = u64::from_le_bytes(len);
    if header > MAX_HEADER {
        return Err(not_a_model(format!("a header of {header} bytes")));
    }
    // A multiclass model holds classes × features weights, more than 4 bytes per header byte:
    // its header's own tensor offsets bound it (an unreadable header reads no data).
    let mut head = Vec::new();
    (&mut file).take(header).read_to_end(&mut head).map_err(io)?;
    let declared = data_end(&head).min(1 << 36);
    let limit = 8 + header + (4 * header + 64).max(declared);
    let mut bytes = len.to_vec();
    bytes.extend_from_slice(&head);
    file.take(limit - bytes.len() as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(not_a_model(format!("more tensor data than a header of {header} bytes can describe")));
    }
    Ok(bytes)
}

/// The end of the last tensor a safetensors header declares (0 for a header that is not one).
fn data_end(header: &[u8]) -> u64 {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(header) else { return 0 };
    map.iter()
        .filter(|(k, _)| *k != "__metadata__")
        .filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .unwrap_or(0)
}

pub(crate) fn encode_error(e: safetensors::SafeTensorError) -> Error {
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
            training: TrainingInfo::new(Penalty::L1 { lambda: 0.01 }, false, "adam", 3, true).epochs(
                "logits",
                0.01,
                10,
                Some(32),
            ),
            recipe: None,
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
        let mut plain = SavedModel { standardizer: None, ..sample() };
        plain.training.standardize = false;
        assert_eq!(SavedModel::from_bytes(&plain.to_bytes().unwrap()).unwrap(), plain);
    }

    #[test]
    fn files_written_before_only_the_applied_settings_were_recorded_still_load() {
        // The `training` record as logreg 0.1 wrote it until 2026-11-27: every field, λs of 0.
        let old = r#"{"penalty":"l2","lambda":0.5,"lambda_l1":0.0,"lambda_l2":0.0,"penalize_bias":true,"loss":"bce","optimizer":"newton","lr":0.0,"epochs":0,"batch_size":null,"seed":7}"#;
        let plain = SavedModel { standardizer: None, ..sample() };
        let mut bytes = plain.to_bytes().unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        meta.insert("training".into(), old.into());
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let views: Vec<_> = tensors.tensors();
        bytes = safetensors::serialize(views, Some(meta)).unwrap();
        let m = SavedModel::from_bytes(&bytes).unwrap();
        assert_eq!(m.model, plain.model);
        let t = &m.training;
        assert_eq!(
            (t.penalty.as_str(), t.lambda, t.lambda_l1, t.optimizer.as_str()),
            ("l2", Some(0.5), Some(0.0), "newton")
        );
        assert_eq!(
            (t.lr, t.epochs, t.batch_size, t.iterations, t.standardize),
            (Some(0.0), Some(0), None, None, false)
        );
    }

    #[test]
    fn only_the_settings_that_applied_are_written() {
        let solved =
            TrainingInfo::new(Penalty::ElasticNet { lambda_l1: 0.1, lambda_l2: 0.2 }, false, "newton", 0, false)
                .solved(7, 1e-8, 3e-10, true);
        let json = serde_json::to_string(&solved).unwrap();
        assert_eq!(
            json,
            r#"{"penalty":"elastic-net","lambda_l1":0.1,"lambda_l2":0.2,"penalize_bias":false,"optimizer":"newton","seed":0,"standardize":false,"iterations":7,"tol":1e-8,"optimality":3e-10,"converged":true}"#
        );
        let sgd = TrainingInfo::new(Penalty::None, true, "sgd", 1, true).epochs("bce", 0.01, 100, None);
        assert_eq!(
            serde_json::to_string(&sgd).unwrap(),
            r#"{"penalty":"none","penalize_bias":true,"optimizer":"sgd","seed":1,"standardize":true,"loss":"bce","lr":0.01,"epochs":100}"#
        );
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

    /// A version 2 model: read from a raw table through a recipe (a category, an imputed
    /// column, text labels, an ID), the learned fill value in it.
    fn with_recipe() -> SavedModel {
        use crate::data::recipe::{read_training, Categorical, Spec};
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, b"id,c,x,y\nr1,left,0.5,M\nr2,right,NA,B\nr3,left,2,M\n").unwrap();
        let spec = Spec {
            categorical: Categorical::Auto,
            missing: crate::data::missing::Missing::Mean,
            ids: vec!["id".into()],
            ..Spec::default()
        };
        let read = read_training(f.path(), &crate::data::table::Format::default(), &spec).unwrap();
        let mut recipe = read.recipe;
        let mut features = read.table.features.clone();
        recipe.impute("t", &mut [&mut features]).unwrap();
        let names = recipe.feature_names();
        SavedModel {
            model: FittedLogisticRegression::new(vec![0.5; names.len()], 0.125),
            feature_names: names,
            label_name: "y".into(),
            standardizer: None,
            recipe: Some(recipe),
            ..sample()
        }
    }

    #[test]
    fn a_model_with_a_recipe_round_trips_as_version_2() {
        let m = with_recipe();
        let back = SavedModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back.recipe, m.recipe);
        assert_eq!(back.feature_names, ["c=left", "c=right", "x"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
        /// As below, for a file with a recipe in its metadata.
        #[test]
        fn edited_model_files_with_a_recipe_load_or_fail_in_one_line(edits in crate::testing::byte_edits()) {
            let bytes = crate::testing::edited(with_recipe().to_bytes().unwrap(), &edits);
            match SavedModel::from_bytes(&bytes) {
                Ok(m) => {
                    proptest::prop_assert!(unusable(&m.model, m.standardizer.as_ref()).is_none());
                    if let Some(r) = &m.recipe {
                        proptest::prop_assert_eq!(r.feature_names(), m.feature_names.clone());
                    }
                }
                Err(text) => proptest::prop_assert!(!text.contains('\n') && text.len() < 400, "{}", text),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]
        /// A valid model file with bytes replaced, inserted, removed or cut: a model (then one that
        /// can predict) or a one-line error, never a panic.
        #[test]
        fn edited_model_files_load_or_fail_in_one_line(edits in crate::testing::byte_edits()) {
            let bytes = crate::testing::edited(sample().to_bytes().unwrap(), &edits);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.safetensors");
            std::fs::write(&path, &bytes).unwrap();
            match SavedModel::load(&path) {
                Ok(m) => proptest::prop_assert!(unusable(&m.model, m.standardizer.as_ref()).is_none()),
                Err(e) => {
                    let text = e.to_string();
                    proptest::prop_assert!(!text.contains('\n') && text.len() < 400, "{text}");
                }
            }
        }
    }
}
