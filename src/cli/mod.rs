//! The command line, ripgrep's way: each command's raw flags and what it does with them in a file of
//! its own ([`train`], [`grid`] for `path` and `cv`, [`score`] for `predict` and `evaluate`,
//! [`convert`], [`tutorial`] for `tutorial` and `parity`), the shared input flags in [`input`], and
//! here the command list, its dispatch and the checks every command shares. The work itself is the
//! library's; these files turn flags into its settings and its results into output.

/// The global `--json` and `--quiet`, set once by `main` before the command runs.
static JSON: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// Sets what `--json` and `--quiet` asked for.
pub(crate) fn set_output(json: bool, quiet: bool) {
    JSON.store(json, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}

/// `--json`: the command prints one JSON value (JSON lines for `predict`) instead of text.
pub(crate) fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// `--quiet`: no text on standard output, no progress bar, notes or warnings; errors, `--json`
/// and the rows `predict` writes still appear.
pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// The text a command prints for a person (nothing under `--quiet`): `println!` that returns a
/// failed write (a full disk, an I/O error) as an error instead of panicking. (Output into a
/// closed pipe ends the process quietly before this: SIGPIPE.)
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match $crate::cli::quiet() {
            true => Ok(()),
            false => writeln!(std::io::stdout().lock(), $($arg)*)
                .map_err(|e| anyhow::anyhow!("writing to standard output: {e}")),
        }
    }};
}

/// [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match $crate::cli::quiet() {
            true => Ok(()),
            false => write!(std::io::stdout().lock(), $($arg)*)
                .map_err(|e| anyhow::anyhow!("writing to standard output: {e}")),
        }
    }};
}

/// One JSON value on its own line, printed even under `--quiet` (it was asked for).
macro_rules! jsonln {
    ($value:expr) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), "{}", $value).map_err(|e| anyhow::anyhow!("writing to standard output: {e}"))
    }};
}

/// A note or warning on standard error (nothing under `--quiet`).
macro_rules! warnln {
    ($($arg:tt)*) => {{
        if !$crate::cli::quiet() {
            eprintln!($($arg)*);
        }
    }};
}

pub(crate) mod convert;
pub(crate) mod distributed;
#[cfg(feature = "dist")]
mod distributed_sparse;
#[cfg(feature = "dist")]
mod distributed_stream;
pub(crate) mod grid;
pub(crate) mod grid_multiclass;
pub(crate) mod input;
pub(crate) mod multiclass;
pub(crate) mod score;
pub(crate) mod sparse;
pub(crate) mod train;
pub(crate) mod tutorial;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use logreg::device::DeviceChoice;
use logreg::model::penalty::PenaltyKind;
use logreg::output::same_file;

use self::train::TrainArgs;
use self::tutorial::{ParityArgs, TutorialArgs};
use convert::ConvertArgs;
use grid::{CvArgs, PathArgs};
use score::{EvaluateArgs, PredictArgs};

#[derive(Parser)]
// Negative numbers parse as values everywhere, so `--threads -1` reaches its range check.
#[command(
    name = "logreg",
    version,
    about = "Regularized logistic regression on libtorch",
    allow_negative_numbers = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Worker threads for libtorch and the fused engine [default: libtorch's choice, which follows
    /// OMP_NUM_THREADS].
    #[arg(long, global = true, display_order = 900)]
    pub(crate) threads: Option<i64>,
    /// Print the result as JSON instead of text: one object (predict: one object per row).
    #[arg(long, global = true, display_order = 901)]
    pub(crate) json: bool,
    /// Print nothing but errors (and what --json or predict's rows put out): no text, progress
    /// bar, notes or warnings.
    #[arg(long, global = true, display_order = 902)]
    pub(crate) quiet: bool,
}

/// (Parsed once per run: `train`'s many flags make its variant large, which costs nothing here.)
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Reproduce the tutorial's Example 1 (l2), 2 (l1) or 3 (elastic-net), number for number.
    // Negative numbers parse as values, so `--lr -0.5` reaches validation and its clear message.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg tutorial l2\n  logreg tutorial elastic-net --optimizer adam --seed 3 --json"
    )]
    Tutorial(TutorialArgs),
    /// Run the PyTorch reference and the Rust port on the fixture configurations side by side.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg parity --device cpu\n  logreg parity --device cuda --python .venv/bin/python3"
    )]
    Parity(ParityArgs),
    /// Train on a CSV file (header row, feature columns, a label column of two values) and write a model.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg train --data data.csv --penalty l1 --lambda 0.01 --standardize --out model.safetensors\n  logreg train --data big.npy --labels big.labels.npy --stream --standardize --epochs 20\n  logreg train --data patients.csv.gz --label diagnosis --id patient --categorical clinic --missing mean\n\nLabels: any two values; the positive class is --positive-class, else the value that is 1, true or yes,\nelse the larger number or the text later in byte order."
    )]
    Train(TrainArgs),
    /// Fit glmnet's λ path, from λ_max (every weight zero) down, warm-started.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg path --data data.csv --standardize --csv path.csv\n  logreg path --data data.csv --alpha 0.5 --plot path.png"
    )]
    Path(PathArgs),
    /// Cross-validate glmnet's λ path (stratified K folds), pick λ, refit on all rows, write the model.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg cv --data data.csv --standardize --out model.safetensors\n  logreg cv --data data.csv --folds 10 --select one-se --json"
    )]
    Cv(CvArgs),
    /// Write P(label = 1) and the predicted class for every row of a CSV file.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg predict --model model.safetensors --data new.csv\n  logreg predict --model model.safetensors --data new.csv --out predictions.csv --threshold 0.3"
    )]
    Predict(PredictArgs),
    /// Convert a labelled CSV file into .npy features and labels, one row at a time, for
    /// `train --stream` and `evaluate --stream` on data larger than memory.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg convert big.csv big.npy\n  logreg convert big.csv big.npy --label diagnosis"
    )]
    Convert(ConvertArgs),
    /// Score a model on a labelled CSV file: log-loss, accuracy, ROC AUC, precision, recall, F1.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  logreg evaluate --model model.safetensors --data test.csv\n  logreg evaluate --model model.safetensors --data test.npy --labels test.labels.npy --stream"
    )]
    Evaluate(EvaluateArgs),
}

/// Every subcommand's `--help` examples, as (subcommand, command line).
#[cfg(test)]
pub(crate) fn help_examples() -> Vec<(String, String)> {
    use clap::CommandFactory;
    let mut out = vec![];
    for sub in Cli::command().get_subcommands() {
        let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        for line in help.lines().filter_map(|l| l.strip_prefix("  ")) {
            out.push((sub.get_name().to_string(), line.to_string()));
        }
    }
    out
}

/// Refuses, before any work, an output that is one of the inputs (it would be overwritten), two
/// outputs that are one file, and an output whose folder does not exist (so that no output is
/// written before a later one fails).
pub(crate) fn check_outputs(outputs: &[(&str, &Path)], inputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    for (i, &(flag, out)) in outputs.iter().enumerate() {
        if let Some((input, _)) = inputs.iter().find(|(_, p)| same_file(out, p)) {
            bail!("{flag} {}: the same file as {input}, which it would overwrite", out.display());
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, p)| same_file(out, p)) {
            bail!("{flag} {} and {other} name the same file", out.display());
        }
        let folder = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            bail!("{flag} {}: no folder {}", out.display(), folder.display());
        }
    }
    Ok(())
}

/// The flag that sets the library's setting `name` (its parameter name, as in
/// [`logreg::Error::InvalidSetting`]), or `None` for a setting no flag sets.
pub(crate) fn flag_for(name: &str) -> Option<String> {
    let flag = match name {
        // The launcher's environment variables (WORLD_SIZE, RANK, …) are named as they are.
        n if n.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => return None,
        "c" => "C",
        "ratio" => "lambda-ratio",
        "x" | "y" | "feature_names" | "start" | "labels" => return None,
        other => other,
    };
    Some(format!("--{}", flag.replace('_', "-")))
}

/// `err` as one line, `{:#}` style (each cause after ": "), with the library's setting names
/// replaced by the flags that set them: `invalid batch_size: 0` → `invalid --batch-size: 0`.
pub(crate) fn render(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|e| match e.downcast_ref::<logreg::Error>() {
            Some(logreg::Error::InvalidSetting { name, value, expected }) => match flag_for(name) {
                Some(flag) => format!("invalid {flag}: {value} ({expected})"),
                None => e.to_string(),
            },
            // The library's features are the command line's --data.
            Some(logreg::Error::InvalidData { name: "x", message }) => format!("--data: {message}"),
            _ => e.to_string(),
        })
        .collect();
    parts.join(": ")
}

/// Writes each output (flag, path, bytes) whole: first those that are not regular files (a
/// device or FIFO is written in place and cannot be taken back, so its failure must come before
/// any file is replaced), then the files, each by a rename.
pub(crate) fn write_outputs(outputs: &[(&str, &Path, &[u8])]) -> anyhow::Result<()> {
    let special = |p: &Path| std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir());
    let (first, then): (Vec<_>, Vec<_>) = outputs.iter().partition(|(_, p, _)| special(p));
    for (flag, path, bytes) in first.into_iter().chain(then) {
        logreg::output::write_atomically(path, bytes).with_context(|| format!("{flag} {}", path.display()))?;
    }
    Ok(())
}

/// An optional count flag, which must be at least 1 when given.
pub(crate) fn at_least_one(name: &str, value: Option<i64>) -> anyhow::Result<Option<usize>> {
    match value {
        Some(v) if v < 1 => bail!("invalid --{name}: {v} (must be at least 1)"),
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
        bail!("invalid --threshold: {} (must be between 0 and 1)", logreg::error::short(threshold));
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
        warnln!("note: {note}");
    }
    Ok(device)
}

/// The warning of an exact solver that stopped short of `--tol` after `iterations`: at the
/// `--max-iter` given, or stalled before it (no further decrease at f64's precision: a `--tol`
/// below what the data allow, or separable data with nothing to bound the weights).
pub(crate) fn warn_unconverged(
    solver: &str,
    iterations: usize,
    optimality: Option<f64>,
    tol: f64,
    max_iter: Option<i64>,
) {
    let reached = optimality.map(|o| format!(" (optimality {o:.2e} > --tol {tol:e})")).unwrap_or_default();
    match max_iter {
        Some(limit) if (iterations as i64) < limit => warnln!(
            "warning: {solver} stalled after {iterations} of --max-iter {limit} iterations{reached}: \
             no further decrease at f64's precision; raise --tol (with --penalty none, separable data have no optimum)"
        ),
        _ => warnln!(
            "warning: {solver} stopped after {iterations} iterations without converging{reached}; raise --max-iter or --tol"
        ),
    }
}
