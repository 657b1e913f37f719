//! Regularized logistic regression on libtorch: a number-for-number port of the PyTorch tutorial
//! (`nn.Linear(d, 1)` + sigmoid, `BCELoss`, SGD or Adam, L1/L2/Elastic Net over all parameters).
//!
//! ```no_run
//! use logreg::tutorial::{run, Example, TutorialConfig};
//!
//! let config = TutorialConfig { seed: 42, ..TutorialConfig::new(Example::L2) };
//! let result = run(&config, tch::Device::Cpu, |epoch, loss| println!("{epoch}: {loss}"))?;
//! assert_eq!(result.losses.len(), 100);
//! # Ok::<(), logreg::Error>(())
//! ```

pub mod aten;
pub mod checkpoint;
pub mod cuda;
pub mod cv;
pub mod data;
pub mod dataset;
pub mod device;
pub mod error;
pub mod fit;
pub mod fixture;
pub mod fused;
pub mod interrupt;
pub mod metrics;
pub mod model;
pub mod model_file;
pub mod npy;
pub mod optim;
pub mod output;
pub mod parity;
pub mod path;
pub mod penalty;
#[cfg(feature = "plot")]
pub mod plot;
pub mod seed;
pub mod solver;
pub mod stream;
pub mod table;
pub mod train;
pub mod tutorial;

pub use error::{Error, Result};
