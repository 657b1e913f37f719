//! Load a model file and predict: fits a small model first and saves it, so the example stands
//! alone; a model from `logreg train --out` loads the same way.
//!
//! `cargo run --release --example load_predict`

use logreg::{Dataset, FittedModel, LogisticRegression};

fn main() -> logreg::Result<()> {
    let dir = tempfile::tempdir().map_err(|error| logreg::Error::Io { path: std::env::temp_dir(), error })?;
    let path = dir.path().join("model.safetensors");

    let x = [-2.0f32, -1.0, -0.5, 0.5, 1.0, 2.0, -1.5, 1.5];
    let y = [0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let data = Dataset::from_slices(&x, 8, 1, &y)?.with_feature_names(&["dose"])?;
    LogisticRegression::new().fit(&data)?.save(&path)?;

    let model = FittedModel::load(&path)?;
    let p = model.predict_proba(&[-3.0, 0.0, 3.0], 3)?;
    println!("features {:?}; P(y = 1) at dose -3, 0, 3: {p:?}", model.feature_names());
    assert!(p[0] < p[1] && p[1] < p[2]);
    Ok(())
}
