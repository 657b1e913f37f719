//! Regularized logistic regression on libtorch: a number-for-number port of the PyTorch tutorial
//! (`nn.Linear(d, 1)` + sigmoid, `BCELoss`, SGD or Adam, L1/L2/Elastic Net over all parameters).
//!
//! ```no_run
//! use logreg::reference::tutorial::{run, Example, TutorialConfig};
//!
//! let config = TutorialConfig { seed: 42, ..TutorialConfig::new(Example::L2) };
//! let result = run(&config, tch::Device::Cpu, |epoch, loss| println!("{epoch}: {loss}"))?;
//! assert_eq!(result.losses.len(), 100);
//! # Ok::<(), logreg::Error>(())
//! ```

pub mod aten;
pub mod cuda;
pub mod data;
pub mod device;
pub mod error;
pub mod interrupt;
pub mod model;
pub mod output;
#[cfg(feature = "plot")]
pub mod plot;
pub mod reference;
pub mod seed;
mod simd;
pub mod solvers;
pub mod train;

pub use error::{Error, Result};
