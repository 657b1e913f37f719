//! The estimator API, re-exported at the crate root: data in ([`Dataset`]), settings checked once
//! ([`LogisticRegression`], with [`Penalty`] and [`Solver`]), and the fitted model
//! ([`FittedModel`]), which predicts, saves and loads.
//!
//! ```
//! use logreg::{Dataset, FittedModel, LogisticRegression, Penalty, Solver};
//!
//! // Two features; the label is 1 when their sum is positive.
//! let (n_rows, n_features) = (200, 2);
//! let x: Vec<f32> = (0..n_rows * n_features).map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0).collect();
//! let y: Vec<f32> = x.chunks(2).map(|r| f32::from(u8::from(r[0] + r[1] > 0.0))).collect();
//! let data = Dataset::from_slices(&x, n_rows, n_features, &y)?;
//! let model: FittedModel = LogisticRegression::new()
//!     .penalty(Penalty::L2(1e-3))
//!     .solver(Solver::Newton)
//!     .device(logreg::device::DeviceChoice::Cpu)
//!     .fit(&data)?;
//! let p = model.predict_proba(&[1.0, 1.0, -1.0, -1.0], 2)?;
//! assert!(p[0] > 0.9 && p[1] < 0.1, "{p:?}");
//! assert_eq!((model.coef().len(), model.intercept().len()), (2, 1));
//! # Ok::<(), logreg::Error>(())
//! ```

mod dataset;
mod fitted;
mod settings;

pub use dataset::Dataset;
pub use fitted::FittedModel;
pub use settings::{AdamSettings, CancelToken, LogisticRegression, Penalty, SgdSettings, Solver};
