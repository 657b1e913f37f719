//! Golden fixtures written by `scripts/reference.py`: a configuration, PyTorch's results for it,
//! and the tolerance the Rust port must meet on each device. Tutorial runs live in `fixtures/`,
//! runs on the breast-cancer CSV in `fixtures/data/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::Device;

use crate::error::{Error, Result};
use crate::model::penalty::Penalty;
use crate::reference::tutorial::{TutorialConfig, TutorialRun};
use crate::train::fit::FitConfig;
use crate::train::optim::OptimizerKind;
use crate::train::{LossKind, TrainConfig};

/// How far a result may be from PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Largest allowed |loss − expected| / |expected|, per epoch.
    pub(crate) loss_rel: f64,
    /// Largest allowed |w − expected| over the final weights and bias.
    pub(crate) weight_abs: f64,
}

/// Tolerances per device: the CPU port is exact; GPU arithmetic differs slightly.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerances {
    /// On the CPU.
    pub cpu: Tolerance,
    /// On a CUDA device.
    pub cuda: Tolerance,
}

impl Tolerances {
    /// The tolerance that applies on `device`.
    pub(crate) fn on(&self, device: Device) -> Tolerance {
        if device.is_cuda() {
            self.cuda
        } else {
            self.cpu
        }
    }
}

/// One golden fixture file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The configuration's name (`l2-sgd-seed0`); the reference script's results carry it too.
    pub name: String,
    /// The script that wrote it.
    pub(crate) generator: String,
    /// `torch.__version__` of the run that wrote it.
    pub(crate) torch_version: String,
    /// How close the port must come, per device.
    pub tolerance: Tolerances,
    /// The configuration PyTorch ran.
    pub config: TutorialConfig,
    /// PyTorch's loss at each epoch.
    pub losses: Vec<f64>,
    pub(crate) weight: Vec<f64>,
    pub(crate) bias: f64,
}

/// Reads one fixture.
pub(crate) fn load(path: &Path) -> Result<Fixture> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Io { path: path.into(), error })?;
    serde_json::from_str(&text).map_err(|error| Error::Json { path: path.into(), error })
}

/// The `*.json` files directly in `dir`, sorted.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |error| Error::Io { path: dir.into(), error };
    let mut paths = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    Ok(paths)
}

/// Every `*.json` fixture in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(PathBuf, Fixture)>> {
    json_files(dir)?.into_iter().map(|p| load(&p).map(|f| (p, f))).collect()
}

/// The largest differences between a result and the expected one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Deviation {
    /// Largest |loss − expected| / |expected| over the epochs.
    pub max_loss_rel: f64,
    /// Largest |w − expected| over the final weights and bias.
    pub max_weight_abs: f64,
}

impl Deviation {
    /// Compares per-epoch losses (relative) and final weights and bias (absolute). A different
    /// number of epochs or weights counts as an infinite deviation.
    pub fn between(expected: &TutorialRun, actual: &TutorialRun) -> Self {
        let same_shape = expected.losses.len() == actual.losses.len() && expected.weight.len() == actual.weight.len();
        if !same_shape {
            return Self { max_loss_rel: f64::INFINITY, max_weight_abs: f64::INFINITY };
        }
        // f64::max ignores NaN, so a NaN difference becomes infinite first: it fails every tolerance.
        let max = |diffs: &mut dyn Iterator<Item = f64>| {
            diffs.map(|d| if d.is_nan() { f64::INFINITY } else { d }).fold(0.0, f64::max)
        };
        let rel = |(&e, &a): (&f64, &f64)| if e == a { 0.0 } else { (a - e).abs() / e.abs() };
        let max_loss_rel = max(&mut expected.losses.iter().zip(&actual.losses).map(rel));
        let weights = expected.weight.iter().chain([&expected.bias]).zip(actual.weight.iter().chain([&actual.bias]));
        let max_weight_abs = max(&mut weights.map(|(e, a)| (a - e).abs()));
        Self { max_loss_rel, max_weight_abs }
    }

    /// Whether both differences are within `tolerance`.
    pub fn within(&self, tolerance: Tolerance) -> bool {
        self.max_loss_rel <= tolerance.loss_rel && self.max_weight_abs <= tolerance.weight_abs
    }
}

/// Checks a regenerated fixture against the committed one: `header` (everything but the results)
/// exactly, the results within `tolerance`. Says what differs.
fn check_regenerated<H: PartialEq + std::fmt::Debug>(
    name: &str,
    header: (H, H),
    results: (TutorialRun, TutorialRun),
    tolerance: Tolerance,
) -> std::result::Result<(), String> {
    if header.0 != header.1 {
        return Err(format!("{name}: header differs: committed {:?}, regenerated {:?}", header.0, header.1));
    }
    let deviation = Deviation::between(&results.0, &results.1);
    if !deviation.within(tolerance) {
        return Err(format!("{name}: numbers differ beyond the tolerance: {deviation:?}"));
    }
    Ok(())
}

impl Fixture {
    /// PyTorch's result stored in the fixture.
    pub fn expected(&self) -> TutorialRun {
        TutorialRun { losses: self.losses.clone(), weight: self.weight.clone(), bias: self.bias, device: "cpu".into() }
    }

    /// Checks that `fresh`, regenerated by the reference script, is this fixture: everything but
    /// the numbers exactly, the numbers within this fixture's CPU tolerance. Says what differs.
    pub fn check_regenerated(&self, fresh: &Fixture) -> std::result::Result<(), String> {
        let strip = |f: &Fixture| Fixture { losses: vec![], weight: vec![], bias: 0.0, ..f.clone() };
        check_regenerated(
            &self.name,
            (strip(self), strip(fresh)),
            (self.expected(), fresh.expected()),
            self.tolerance.cpu,
        )
    }
}

/// The configuration of a golden run on a CSV file (`reference.py train`'s flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Relative to the repository root.
    pub data: String,
    /// The label column's name; `None`: the last column.
    pub label: Option<String>,
    /// `none`, `l1`, `l2` or `elastic-net`.
    pub penalty: String,
    pub(crate) lambda: f64,
    pub(crate) lambda_l1: f64,
    pub(crate) lambda_l2: f64,
    pub(crate) optimizer: OptimizerKind,
    pub(crate) lr: f64,
    pub(crate) epochs: usize,
    pub(crate) batch_size: Option<usize>,
    pub(crate) seed: u64,
    pub(crate) standardize: bool,
    pub(crate) validation_split: Option<f64>,
    pub(crate) penalize_bias: bool,
    pub(crate) loss: LossKind,
}

impl DataConfig {
    /// The same run as a [`FitConfig`].
    pub fn fit_config(&self) -> Result<FitConfig> {
        let penalty = match self.penalty.as_str() {
            "none" => Penalty::None,
            "l1" => Penalty::L1 { lambda: self.lambda },
            "l2" => Penalty::L2 { lambda: self.lambda },
            "elastic-net" => Penalty::ElasticNet { lambda_l1: self.lambda_l1, lambda_l2: self.lambda_l2 },
            other => {
                let expected = "none, l1, l2 or elastic-net";
                return Err(Error::InvalidSetting { name: "penalty", value: other.into(), expected });
            }
        };
        Ok(FitConfig {
            train: TrainConfig {
                lr: self.lr,
                epochs: self.epochs,
                penalty,
                optimizer: self.optimizer,
                loss: self.loss,
                penalize_bias: self.penalize_bias,
                batch_size: self.batch_size,
                engine: Default::default(),
            },
            seed: self.seed,
            standardize: self.standardize,
            validation_split: self.validation_split,
            solver: None,
            sklearn: None,
        })
    }
}

/// A golden run on a CSV file: PyTorch's per-epoch training and validation losses and weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFixture {
    /// The run's name (`breast_cancer-l2-adam`).
    pub name: String,
    pub(crate) generator: String,
    pub(crate) torch_version: String,
    /// How close the port must come, per device.
    pub tolerance: Tolerances,
    /// The configuration PyTorch ran.
    pub config: DataConfig,
    pub(crate) losses: Vec<f64>,
    pub(crate) validation_losses: Vec<f64>,
    pub(crate) weight: Vec<f64>,
    pub(crate) bias: f64,
}

impl DataFixture {
    /// The results as one run: training losses, then validation losses, and the weights.
    pub fn expected(&self) -> TutorialRun {
        TutorialRun::from_parts(&self.losses, &self.validation_losses, &self.weight, self.bias)
    }

    /// As [`Fixture::check_regenerated`].
    pub fn check_regenerated(&self, fresh: &DataFixture) -> std::result::Result<(), String> {
        let strip = |f: &DataFixture| DataFixture {
            losses: vec![],
            validation_losses: vec![],
            weight: vec![],
            bias: 0.0,
            ..f.clone()
        };
        check_regenerated(
            &self.name,
            (strip(self), strip(fresh)),
            (self.expected(), fresh.expected()),
            self.tolerance.cpu,
        )
    }
}

/// Every `*.json` data fixture in `dir`, sorted by file name.
pub fn load_data_dir(dir: &Path) -> Result<Vec<DataFixture>> {
    json_files(dir)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|error| Error::Io { path: path.clone(), error })?;
            serde_json::from_str(&text).map_err(|error| Error::Json { path, error })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(losses: &[f64], weight: &[f64], bias: f64) -> TutorialRun {
        TutorialRun { losses: losses.to_vec(), weight: weight.to_vec(), bias, device: "cpu".into() }
    }

    #[test]
    fn deviation_is_relative_for_losses_and_absolute_for_weights() {
        let d = Deviation::between(&run(&[2.0, 1.0], &[0.5], 0.1), &run(&[2.0, 1.001], &[0.5], 0.1003));
        assert!((d.max_loss_rel - 1e-3).abs() < 1e-12 && (d.max_weight_abs - 3e-4).abs() < 1e-12, "{d:?}");
        assert!(d.within(Tolerance { loss_rel: 1e-3 + 1e-12, weight_abs: 1e-3 }));
        assert!(!d.within(Tolerance { loss_rel: 1e-4, weight_abs: 1e-3 }));
    }

    #[test]
    fn different_lengths_and_nans_never_pass() {
        let tol = Tolerance { loss_rel: 1.0, weight_abs: 1.0 };
        assert!(!Deviation::between(&run(&[1.0], &[0.0], 0.0), &run(&[1.0, 1.0], &[0.0], 0.0)).within(tol));
        assert!(!Deviation::between(&run(&[1.0], &[0.0], 0.0), &run(&[f64::NAN], &[0.0], 0.0)).within(tol));
    }
}
