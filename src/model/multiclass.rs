//! A multiclass model and its file (format version 3): the classes by name in the model's order,
//! the weights `weight` `[K, d]` and intercepts `bias` `[K]` (f32, safetensors), `mean`/`std`
//! `[d]` with standardization, and metadata as a two-class file's plus `classes` (JSON list) and
//! `multi_class` (`multinomial`: softmax of the scores; `ovr`: each class's sigmoid, normalised to
//! sum 1 as scikit-learn's one-vs-rest does).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{Device, Kind, Tensor};

use crate::data::dataset::Standardizer;
use crate::data::recipe::Recipe;
use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::model::file::{encode_error, le_bytes, read_bounded, TrainingInfo, FORMAT, FORMAT_VERSION_MULTICLASS};
use crate::output::write_atomically;
use crate::train::fit::{finite_probabilities, model_features};

/// How a multiclass model's scores become probabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultiClass {
    /// One softmax over the K scores (multinomial logistic regression).
    Multinomial,
    /// K binary models, one per class against the rest: each class's sigmoid, normalised.
    Ovr,
}

impl MultiClass {
    /// `multinomial` or `ovr`.
    pub fn name(self) -> &'static str {
        match self {
            MultiClass::Multinomial => "multinomial",
            MultiClass::Ovr => "ovr",
        }
    }
}

/// A trained multiclass model with everything needed to apply it to new rows.
#[derive(Clone, Debug, PartialEq)]
pub struct MulticlassModel {
    /// The classes by name, in the order of the weights' rows.
    pub classes: Vec<String>,
    /// The weights `[K, d]` row-major, on the standardized scale when there is a standardizer.
    pub coef: Vec<f32>,
    /// One intercept per class.
    pub intercept: Vec<f32>,
    /// Softmax or normalised one-vs-rest sigmoids.
    pub multi_class: MultiClass,
    /// The feature columns, in the order of each class's weights.
    pub feature_names: Vec<String>,
    /// The label column it was trained on.
    pub label_name: String,
    /// Each feature's training mean and std, applied before the weights.
    pub standardizer: Option<Standardizer>,
    /// How it was trained.
    pub training: TrainingInfo,
    /// What was done to the input file (`None` for a .npy file).
    pub recipe: Option<Recipe>,
}

/// A two-class or a multiclass model, as a model file holds either.
#[derive(Clone, Debug)]
pub enum AnyModel {
    /// Two classes (format versions 1 and 2).
    Binary(crate::model::file::SavedModel),
    /// Three or more (format version 3).
    Multiclass(MulticlassModel),
}

impl AnyModel {
    /// Reads a model file of either kind; a bad file is a one-line error naming it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_bounded(path)?;
        // Metadata edited to hold a line break is quoted in serde's messages: escaped here.
        let input = |message: String| Error::Input {
            location: path.display().to_string(),
            message: crate::error::one_line(&message),
        };
        if version_of(&bytes).as_deref() == Some(FORMAT_VERSION_MULTICLASS) {
            return MulticlassModel::from_bytes(&bytes).map(AnyModel::Multiclass).map_err(input);
        }
        crate::model::file::SavedModel::from_bytes(&bytes).map(AnyModel::Binary).map_err(input)
    }
}

/// The `format_version` a safetensors file's metadata gives, if any.
fn version_of(bytes: &[u8]) -> Option<String> {
    let (_, header) = SafeTensors::read_metadata(bytes).ok()?;
    header.metadata().as_ref()?.get("format_version").cloned()
}

/// The first value that could not predict: a non-finite weight, intercept or mean, or a std that
/// is not a finite number > 0.
fn unusable(m: &MulticlassModel) -> Option<String> {
    let first = |name: &str, values: &[f32], ok: fn(f32) -> bool| {
        values.iter().position(|&v| !ok(v)).map(|i| format!("{name} {i} is {}", values[i]))
    };
    let finite = |v: f32| v.is_finite();
    let s = m.standardizer.as_ref();
    first("weight", &m.coef, finite)
        .or_else(|| first("bias", &m.intercept, finite))
        .or_else(|| s.and_then(|s| first("mean", &s.mean, finite)))
        .or_else(|| s.and_then(|s| first("std", &s.std, |v| v.is_finite() && v > 0.0)))
}

impl MulticlassModel {
    /// K.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The file's bytes; a model with a non-finite value is refused (nothing non-finite is
    /// ever written).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if let Some(what) = unusable(self) {
            let message = format!(
                "{what}, so it cannot predict; nothing was written: \
                 try standardizing, a larger penalty or a lower learning rate"
            );
            return Err(Error::Input { location: "the fitted model".into(), message });
        }
        let (k, d) = (self.classes.len(), self.feature_names.len());
        let mut tensors: Vec<(&str, Vec<usize>, Vec<u8>)> =
            vec![("weight", vec![k, d], le_bytes(&self.coef)), ("bias", vec![k], le_bytes(&self.intercept))];
        if let Some(s) = &self.standardizer {
            tensors.push(("mean", vec![d], le_bytes(&s.mean)));
            tensors.push(("std", vec![d], le_bytes(&s.std)));
        }
        let views = tensors
            .iter()
            .map(|(n, shape, b)| Ok((*n, TensorView::new(Dtype::F32, shape.clone(), b).map_err(encode_error)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut metadata = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), FORMAT_VERSION_MULTICLASS.to_string()),
            ("crate_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("feature_names".to_string(), json(&self.feature_names)),
            ("label".to_string(), self.label_name.clone()),
            ("classes".to_string(), json(&self.classes)),
            ("multi_class".to_string(), self.multi_class.name().to_string()),
            ("training".to_string(), json(&self.training)),
        ]);
        if let Some(recipe) = &self.recipe {
            if let Some(v) = recipe.inputs.iter().filter_map(|i| i.impute).find(|v| !v.is_finite()) {
                return Err(Error::Input {
                    location: "the fitted model".into(),
                    message: format!("an imputation value is {v}; nothing was written"),
                });
            }
            metadata.insert("recipe".into(), json(recipe));
        }
        safetensors::serialize(views, Some(metadata)).map_err(encode_error)
    }

    /// Writes the model to `path` through a temporary file and a rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes()?)
    }

    /// Parses a version 3 file's bytes; the error says what is wrong with them.
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
        if get("format_version")? != FORMAT_VERSION_MULTICLASS {
            return Err(format!("model format version {} is not a multiclass model", get("format_version")?));
        }
        let parse = |key: &str| -> std::result::Result<serde_json::Value, String> {
            serde_json::from_str(get(key)?).map_err(|e| format!("bad `{key}` metadata: {e}"))
        };
        let feature_names: Vec<String> = serde_json::from_value(parse("feature_names")?)
            .map_err(|e| format!("bad `feature_names` metadata: {e}"))?;
        let classes: Vec<String> =
            serde_json::from_value(parse("classes")?).map_err(|e| format!("bad `classes` metadata: {e}"))?;
        let training: TrainingInfo =
            serde_json::from_value(parse("training")?).map_err(|e| format!("bad `training` metadata: {e}"))?;
        if classes.len() < 3 || classes.len() > usize::from(u16::MAX) {
            return Err(format!(
                "bad `classes` metadata: {} classes (a multiclass model has 3 to 65535)",
                classes.len()
            ));
        }
        let mut keys = std::collections::HashSet::new();
        if !classes.iter().all(|c| keys.insert(crate::data::labels::LabelKey::of(c).name())) {
            return Err("bad `classes` metadata: a class is named twice".into());
        }
        let multi_class = match get("multi_class")?.as_str() {
            "multinomial" => MultiClass::Multinomial,
            "ovr" => MultiClass::Ovr,
            other => return Err(format!("bad `multi_class` metadata: `{}`", crate::data::table::shown(other))),
        };
        let (k, d) = (classes.len(), feature_names.len());
        let read = |name: &str, shape: &[usize]| -> std::result::Result<Vec<f32>, String> {
            let t = tensors.tensor(name).map_err(|_| format!("no `{name}` tensor"))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape {
                return Err(format!("tensor `{name}` is {:?} {:?}, expected F32 {shape:?}", t.dtype(), t.shape()));
            }
            Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        };
        let standardizer = match tensors.names().contains(&"mean") {
            true => Some(Standardizer { mean: read("mean", &[d])?, std: read("std", &[d])? }),
            false => None,
        };
        let recipe = match meta.get("recipe") {
            Some(text) => {
                let recipe: Recipe = serde_json::from_str(text).map_err(|e| format!("bad `recipe` metadata: {e}"))?;
                if recipe.feature_names() != feature_names {
                    return Err("bad `recipe` metadata: its features are not the model's".into());
                }
                if recipe.class_names.as_ref() != Some(&classes) {
                    return Err("bad `recipe` metadata: its classes are not the model's".into());
                }
                if recipe.inputs.iter().filter_map(|i| i.impute).any(|v| !v.is_finite()) {
                    return Err("a model that cannot predict: an imputation value is not finite".into());
                }
                Some(recipe)
            }
            None => None,
        };
        let model = Self {
            coef: read("weight", &[k, d])?,
            intercept: read("bias", &[k])?,
            classes,
            multi_class,
            feature_names,
            label_name: get("label")?.clone(),
            training: TrainingInfo { standardize: standardizer.is_some(), ..training },
            standardizer,
            recipe,
        };
        if let Some(what) = unusable(&model) {
            return Err(format!("a model that cannot predict: {what}"));
        }
        Ok(model)
    }

    /// The recipe that reads a raw file for this model: its own, or numeric columns named as its
    /// features with its classes.
    pub fn recipe(&self) -> Recipe {
        self.recipe.clone().unwrap_or_else(|| Recipe {
            class_names: Some(self.classes.clone()),
            ..Recipe::legacy(&self.feature_names, &self.label_name)
        })
    }

    /// Class probabilities `[n, K]` (f64) of the model's features `x` (standardized).
    pub fn probabilities(&self, x: &Tensor) -> Result<Tensor> {
        let (k, d) = (self.classes.len() as i64, self.feature_names.len() as i64);
        let device = x.device();
        let w = Tensor::f_from_slice(&self.coef)?.f_view([k, d])?.f_to_kind(Kind::Double)?.f_to_device(device)?;
        let b = Tensor::f_from_slice(&self.intercept)?.f_to_kind(Kind::Double)?.f_to_device(device)?;
        let z = x.f_to_kind(Kind::Double)?.f_mm(&w.f_tr()?)?.f_add(&b)?;
        Ok(match self.multi_class {
            MultiClass::Multinomial => z.f_softmax(1, Kind::Double)?,
            MultiClass::Ovr => {
                let s = z.f_sigmoid()?;
                let total = s.f_sum_dim_intlist(&[1i64][..], true, Kind::Double)?;
                s.f_div(&total)?
            }
        })
    }

    /// Each row's K class probabilities (`rows × K`, row-major) for `table`, on `device`; the
    /// table's columns matched to the model's features by name.
    pub fn predict_proba(&self, table: &Table, device: Device) -> Result<Vec<f32>> {
        let x = model_features(&self.feature_names, self.standardizer.as_ref(), table, device)?;
        let p = self.probabilities(&x)?.f_to_kind(Kind::Float)?.f_to_device(Device::Cpu)?;
        let probs = Vec::<f32>::try_from(p.f_reshape([-1])?)?;
        finite_probabilities(&probs, &table.source)?;
        Ok(probs)
    }
}

/// JSON text of a metadata value.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::penalty::Penalty;

    pub(crate) fn sample() -> MulticlassModel {
        MulticlassModel {
            classes: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
            coef: vec![0.5, -1.0, 0.25, 0.0, -0.75, 1.0],
            intercept: vec![0.1, 0.2, -0.3],
            multi_class: MultiClass::Multinomial,
            feature_names: vec!["a".into(), "b".into()],
            label_name: "species".into(),
            standardizer: Some(Standardizer { mean: vec![1.0, 2.0], std: vec![3.0, 4.0] }),
            training: TrainingInfo::new(Penalty::L2 { lambda: 0.01 }, false, "newton", 0, true),
            recipe: None,
        }
    }

    #[test]
    fn a_multiclass_model_round_trips_and_two_class_readers_refuse_it() {
        let m = sample();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(MulticlassModel::from_bytes(&bytes).unwrap(), m);
        let e = crate::model::file::SavedModel::from_bytes(&bytes).unwrap_err();
        assert!(e.starts_with("a multiclass model"), "{e}");
        let ovr = MulticlassModel { multi_class: MultiClass::Ovr, ..sample() };
        assert_eq!(MulticlassModel::from_bytes(&ovr.to_bytes().unwrap()).unwrap(), ovr);
    }

    #[test]
    fn probabilities_are_softmax_or_normalised_sigmoids() {
        // One row x = (1, 1), no standardization: scores −0.4, 0.45, −0.05.
        let x = Tensor::from_slice(&[1.0f64, 1.0]).view([1, 2]);
        let m = MulticlassModel { standardizer: None, ..sample() };
        let z = [0.5 - 1.0 + 0.1, 0.25 + 0.0 + 0.2, -0.75 + 1.0 - 0.3];
        let p = Vec::<f64>::try_from(m.probabilities(&x).unwrap().view([-1])).unwrap();
        let e: Vec<f64> = z.iter().map(|v: &f64| v.exp()).collect();
        let total: f64 = e.iter().sum();
        for k in 0..3 {
            assert!((p[k] - e[k] / total).abs() < 1e-6, "{p:?}");
        }
        let o = MulticlassModel { multi_class: MultiClass::Ovr, ..m };
        let p = Vec::<f64>::try_from(o.probabilities(&x).unwrap().view([-1])).unwrap();
        let s: Vec<f64> = z.iter().map(|v: &f64| 1.0 / (1.0 + (-v).exp())).collect();
        let total: f64 = s.iter().sum();
        for k in 0..3 {
            assert!((p[k] - s[k] / total).abs() < 1e-6, "{p:?}");
        }
    }

    #[test]
    fn bad_multiclass_files_are_named() {
        let non_finite = MulticlassModel { intercept: vec![0.0, f32::NAN, 0.0], ..sample() };
        assert!(non_finite.to_bytes().unwrap_err().to_string().contains("bias 1 is NaN"));
        let two = MulticlassModel {
            classes: vec!["a".into(), "b".into()],
            coef: vec![0.0; 4],
            intercept: vec![0.0; 2],
            ..sample()
        };
        let e = MulticlassModel::from_bytes(&two.to_bytes().unwrap()).unwrap_err();
        assert!(e.contains("2 classes"), "{e}");
        let twice = MulticlassModel { classes: vec!["1".into(), "1.0".into(), "2".into()], ..sample() };
        let e = MulticlassModel::from_bytes(&twice.to_bytes().unwrap()).unwrap_err();
        assert!(e.contains("named twice"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]
        /// A multiclass model file with bytes replaced, inserted, removed or cut: a model that can
        /// predict, or a one-line error, never a panic.
        #[test]
        fn edited_multiclass_files_load_or_fail_in_one_line(edits in crate::testing::byte_edits()) {
            let bytes = crate::testing::edited(sample().to_bytes().unwrap(), &edits);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m.safetensors");
            std::fs::write(&path, &bytes).unwrap();
            match AnyModel::load(&path) {
                Ok(AnyModel::Multiclass(m)) => {
                    proptest::prop_assert!(unusable(&m).is_none());
                    proptest::prop_assert_eq!(m.coef.len(), m.classes.len() * m.feature_names.len());
                }
                Ok(AnyModel::Binary(_)) => {}
                Err(e) => {
                    let text = e.to_string();
                    proptest::prop_assert!(!text.contains('\n') && text.len() < 400, "{}", text);
                }
            }
        }
    }
}
