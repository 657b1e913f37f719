//! [`FittedModel`]: what [`super::LogisticRegression::fit`] returns — coefficients, predictions,
//! the model file.

use std::path::Path;

use tch::Device;

use crate::data::table::Table;
use crate::error::{Error, Result};
use crate::model::file::SavedModel;
use crate::train::fit::Fit;

/// A fitted binary model: one row of coefficients and one intercept (a model of K ≥ 3 classes will
/// have K of each, [`FittedModel::classes`] naming them), the features' names, and the
/// standardization it applies to new rows.
#[derive(Clone, Debug)]
pub struct FittedModel {
    saved: SavedModel,
    intercept: [f32; 1],
    losses: Vec<f64>,
}

impl FittedModel {
    pub(crate) fn from_fit(fit: Fit) -> Self {
        Self::from_saved(fit.saved, fit.training.losses)
    }

    fn from_saved(saved: SavedModel, losses: Vec<f64>) -> Self {
        let intercept = [saved.model.intercept()];
        Self { saved, intercept, losses }
    }

    /// Row-major `[classes_or_1 × n_features]`: one row for a binary model.
    pub fn coef(&self) -> &[f32] {
        self.saved.model.coef()
    }

    /// One intercept per row of [`Self::coef`].
    pub fn intercept(&self) -> &[f32] {
        &self.intercept
    }

    /// The features the model was fitted on, in the order [`Self::predict_proba`] takes them.
    pub fn feature_names(&self) -> &[String] {
        &self.saved.feature_names
    }

    /// The class each probability column is of: `["1"]` for a binary model (P(y = 1)).
    pub fn classes(&self) -> Vec<String> {
        vec!["1".into()]
    }

    /// The objective after each epoch (SGD, Adam) or iteration (Newton, FISTA; index 0: the start).
    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// P(y = 1) for each of the `n_rows` rows of `x` (row-major, the model's features in its
    /// order), computed as `logreg predict` computes it, on the CPU.
    pub fn predict_proba(&self, x: &[f32], n_rows: usize) -> Result<Vec<f32>> {
        let d = self.saved.feature_names.len();
        if n_rows.checked_mul(d) != Some(x.len()) {
            let message =
                format!("{} values, not n_rows × n_features = {n_rows} × {d} (the model's features)", x.len());
            return Err(Error::InvalidData { name: "x", message });
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            let message = format!("row {}, column {}: {} is not a finite number", i / d, i % d, x[i]);
            return Err(Error::InvalidData { name: "x", message });
        }
        if n_rows == 0 {
            return Ok(vec![]);
        }
        let rows = Table {
            source: "<slices>".into(),
            feature_names: self.saved.feature_names.clone(),
            label_name: None,
            features: x.to_vec(),
            labels: vec![],
        };
        self.saved.predict_proba(&rows, Device::Cpu)
    }

    /// Writes the model file (safetensors, as `logreg train --out` writes), replacing `path`
    /// whole or not at all.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.saved.save(path.as_ref())
    }

    /// Reads a model file written by [`Self::save`] or `logreg train`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_saved(SavedModel::load(path.as_ref())?, vec![]))
    }
}
