//! Regularized logistic regression on libtorch: a number-for-number port of the PyTorch tutorial
//! (`nn.Linear(d, 1)` + sigmoid, `BCELoss`, SGD or Adam, L1/L2/Elastic Net over all parameters),
//! and an estimator that reaches the optimum with Newton or FISTA.
//!
//! The estimator ([`LogisticRegression`], [`Dataset`], [`FittedModel`]; the module
//! [`estimator`] has a full example):
//!
//! ```
//! use logreg::{Dataset, LogisticRegression, Penalty};
//!
//! let x = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
//! let y = [0.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
//! let model = LogisticRegression::new().penalty(Penalty::L2(0.01)).fit(&Dataset::from_slices(&x, 6, 1, &y)?)?;
//! assert!(model.coef()[0] > 0.0);
//! # Ok::<(), logreg::Error>(())
//! ```
//!
//! The tutorial, as PyTorch runs it ([`reference::tutorial`]):
//!
//! ```
//! use logreg::reference::tutorial::{run, Example, TutorialConfig};
//!
//! let config = TutorialConfig { seed: 42, ..TutorialConfig::new(Example::L2) };
//! let result = run(&config, tch::Device::Cpu, |epoch, loss| assert!(epoch >= 1 && loss > 0.0))?;
//! assert_eq!(result.losses.len(), 100);
//! # Ok::<(), logreg::Error>(())
//! ```
//!
//! Without the default feature `cli`, the library builds without the command line's crates.

#![warn(missing_docs)]

pub(crate) mod aten;
pub mod cuda;
pub mod data;
pub mod device;
pub mod dist;
pub mod error;
pub mod estimator;
mod hash;
pub mod interrupt;
pub mod model;
pub mod output;
#[cfg(feature = "plot")]
pub mod plot;
pub mod reference;
pub mod seed;
mod simd;
pub mod solvers;
#[cfg(test)]
mod testing;
pub mod train;

pub use error::{Error, Result};
pub use estimator::{
    AdamSettings, CancelToken, Dataset, FittedModel, LogisticRegression, Penalty, SgdSettings, Solver,
};
