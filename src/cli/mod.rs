//! The command line, ripgrep's way: each command's raw flags and what it does with them in a file of
//! its own ([`train`], [`grid`] for `path` and `cv`, [`score`] for `predict` and `evaluate`,
//! [`convert`], [`tutorial`] for `tutorial` and `parity`), the shared input flags in [`input`], and
//! here the command list, its dispatch and the checks every command shares. The work itself is the
//! library's; these files turn flags into its settings and its results into output.

pub(crate) mod convert;
pub(crate) mod grid;
pub(crate) mod input;
pub(crate) mod score;
pub(crate) mod train;
pub(crate) mod tutorial;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use logreg::device::DeviceChoice;
use logreg::model::penalty::PenaltyKind;

use self::train::TrainArgs;
use self::tutorial::{ParityArgs, TutorialArgs};
use convert::ConvertArgs;
use grid::{CvArgs, PathArgs};
use score::{EvaluateArgs, PredictArgs};

#[derive(Parser)]
#[command(name = "logreg", version, about = "Regularized logistic regression on libtorch")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Reproduce the tutorial's Example 1 (l2), 2 (l1) or 3 (elastic-net), number for number.
    // Negative numbers parse as values, so `--lr -0.5` reaches validation and its clear message.
    #[command(allow_negative_numbers = true)]
    Tutorial(TutorialArgs),
    /// Run the PyTorch reference and the Rust port on the fixture configurations side by side.
    Parity(ParityArgs),
    /// Train on a CSV file (header row, numeric features, a 0/1 label column) and write a model.
    #[command(allow_negative_numbers = true)]
    Train(TrainArgs),
    /// Fit glmnet's λ path, from λ_max (every weight zero) down, warm-started.
    #[command(allow_negative_numbers = true)]
    Path(PathArgs),
    /// Cross-validate glmnet's λ path (stratified K folds), pick λ, refit on all rows, write the model.
    #[command(allow_negative_numbers = true)]
    Cv(CvArgs),
    /// Write P(label = 1) and the predicted class for every row of a CSV file.
    #[command(allow_negative_numbers = true)]
    Predict(PredictArgs),
    /// Convert a labelled CSV file into .npy features and labels, one row at a time, for
    /// `train --stream` and `evaluate --stream` on data larger than memory.
    Convert(ConvertArgs),
    /// Score a model on a labelled CSV file: log-loss, accuracy, ROC AUC, precision, recall, F1.
    #[command(allow_negative_numbers = true)]
    Evaluate(EvaluateArgs),
}

/// An optional count flag, which must be at least 1 when given.
pub(crate) fn at_least_one(name: &str, value: Option<i64>) -> anyhow::Result<Option<usize>> {
    match value {
        Some(v) if v < 1 => bail!("invalid {name}: {v} (must be at least 1)"),
        v => Ok(v.map(|v| v as usize)),
    }
}

/// Rejects λ flags that the penalty does not use.
pub(crate) fn check_lambda_flags(
    kind: PenaltyKind,
    lambda: Option<f64>,
    l1: Option<f64>,
    l2: Option<f64>,
) -> anyhow::Result<()> {
    let name = |k: PenaltyKind| match k {
        PenaltyKind::None => "none",
        PenaltyKind::L1 => "l1",
        PenaltyKind::L2 => "l2",
        PenaltyKind::ElasticNet => "elastic-net",
    };
    let uses_lambda = matches!(kind, PenaltyKind::L1 | PenaltyKind::L2);
    if lambda.is_some() && !uses_lambda {
        bail!(
            "--lambda applies to l1 and l2; {} takes {}",
            name(kind),
            if kind == PenaltyKind::None { "no λ" } else { "--lambda-l1 and --lambda-l2" }
        );
    }
    if (l1.is_some() || l2.is_some()) && kind != PenaltyKind::ElasticNet {
        bail!(
            "--lambda-l1 and --lambda-l2 apply to elastic-net; {} takes {}",
            name(kind),
            if uses_lambda { "--lambda" } else { "no λ" }
        );
    }
    Ok(())
}

pub(crate) fn check_threshold(threshold: f64) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&threshold) {
        bail!("invalid threshold: {threshold} (must be between 0 and 1)");
    }
    Ok(())
}

/// Ctrl-C stops training after the current epoch or iteration, before anything is written.
pub(crate) fn stop_on_ctrl_c() -> anyhow::Result<()> {
    ctrlc::set_handler(logreg::interrupt::request).context("installing the Ctrl-C handler")
}

/// The device for `--device`, first of all (loading CUDA on demand must precede other libtorch
/// calls); a note on standard error when `auto` finds a driver that libtorch cannot use.
pub(crate) fn resolve_device(choice: DeviceChoice) -> anyhow::Result<tch::Device> {
    let (device, note) = choice.resolve_noting().context("--device")?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    Ok(device)
}
