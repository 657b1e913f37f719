//! `logreg predict` and `logreg evaluate`: a model's probabilities for a file's rows, and its
//! metrics on labelled rows (in memory, or chunk by chunk with `--stream`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use logreg::data::npy;
use logreg::data::source::Source;
use logreg::data::table::LabelColumn;
use logreg::device::DeviceChoice;
use logreg::model::file::SavedModel;
use logreg::model::metrics::{self, Report};
use logreg::output::write_atomically;

use super::input::{load_table_with, FormatArgs, InputArgs};
use super::{check_outputs, check_threshold, resolve_device};

#[derive(Args)]
pub(crate) struct PredictArgs {
    /// A model written by `logreg train`.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// CSV file with the model's feature columns (a label column, if present, is ignored); `-` reads standard input.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Where to write `probability,class` per row (with --json, one JSON object per row) [default:
    /// standard output] (`--output` also works).
    #[arg(long = "out", alias = "output")]
    pub(crate) output: Option<PathBuf>,
    /// Class 1 when the probability is above this.
    #[arg(long, default_value_t = 0.5)]
    pub(crate) threshold: f64,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
}

#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// A model written by `logreg train`.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// CSV file with the model's feature columns and its label column (`-` reads standard
    /// input), or a .npy array with --labels.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// 0/1 labels for a .npy --data.
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// The label column of a CSV --data [default: the model's label column's name].
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Class 1 when the probability is above this.
    #[arg(long, default_value_t = 0.5)]
    pub(crate) threshold: f64,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Read a .npy --data in chunks instead of loading it (data larger than memory).
    #[arg(long)]
    pub(crate) stream: bool,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
}

/// Loads the model and the rows of `data` (with labels when `labelled`), and predicts.
pub(crate) fn load_and_predict(
    model: &Path,
    data: &Path,
    labels: Option<&Path>,
    labelled: bool,
    device: DeviceChoice,
    format: &FormatArgs,
    label_name: Option<&str>,
) -> anyhow::Result<(SavedModel, Vec<f32>, Vec<f32>)> {
    let device = resolve_device(device)?;
    let saved = SavedModel::load(model)?;
    let label = if labelled {
        LabelColumn::Named(label_name.unwrap_or(&saved.label_name).to_string())
    } else {
        LabelColumn::Skip(saved.label_name.clone())
    };
    if super::sparse::is_sparse_path(data) {
        let (probs, labels) = super::sparse::score(&saved, data, labels, labelled)?;
        return Ok((saved, probs, labels));
    }
    let rows = load_table_with(data, labels, label, labelled, format.format()?)?;
    let probs = saved.predict_proba(&rows, device)?;
    Ok((saved, probs, rows.labels))
}

pub(crate) fn predict(args: PredictArgs) -> anyhow::Result<ExitCode> {
    check_threshold(args.threshold)?;
    let outputs: Vec<(&str, &std::path::Path)> = args.output.as_deref().map(|p| ("--out", p)).into_iter().collect();
    check_outputs(&outputs, &[("--model", &args.model), ("--data", &args.data)])?;
    let (_, probs, _) = load_and_predict(&args.model, &args.data, None, false, args.device, &args.format, None)?;
    let mut out = String::new();
    if super::json() {
        for p in probs {
            let class = u8::from(f64::from(p) > args.threshold);
            out += &format!("{}\n", serde_json::json!({ "probability": p, "class": class }));
        }
    } else {
        out += "probability,class\n";
        for p in probs {
            out += &format!("{p},{}\n", u8::from(f64::from(p) > args.threshold));
        }
    }
    match &args.output {
        Some(path) => write_atomically(path, out.as_bytes()).with_context(|| format!("--out {}", path.display()))?,
        None => std::io::stdout().write_all(out.as_bytes()).context("writing to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_report(r: &Report, nonzero: usize, total: usize) -> anyhow::Result<()> {
    let c = &r.confusion;
    outln!("rows             {}", r.rows)?;
    outln!("log-loss         {:.6}", r.log_loss)?;
    outln!("accuracy         {:.4}", r.accuracy)?;
    outln!("ROC AUC          {}", r.roc_auc.map_or("n/a (one class)".into(), |a| format!("{a:.4}")))?;
    outln!("precision        {:.4}", r.precision)?;
    outln!("recall           {:.4}", r.recall)?;
    outln!("F1               {:.4}", r.f1)?;
    outln!("threshold        {}", r.threshold)?;
    outln!("confusion        predicted 1   predicted 0")?;
    outln!("  actual 1       {:>11}   {:>11}", c.true_positives, c.false_negatives)?;
    outln!("  actual 0       {:>11}   {:>11}", c.false_positives, c.true_negatives)?;
    outln!("non-zero weights {nonzero} of {total}")?;
    Ok(())
}

/// `evaluate --stream`: the model's probabilities chunk by chunk.
pub(crate) fn evaluate_stream(args: &EvaluateArgs) -> anyhow::Result<(SavedModel, Vec<f32>, Vec<f32>)> {
    let saved = SavedModel::load(&args.model)?;
    let input = InputArgs { data: args.data.clone(), label: None, labels: args.labels.clone() };
    let rows = input.open_stream(None)?;
    saved.check_features(&npy::feature_names(rows.features())).map_err(|m| anyhow::anyhow!("{}: {m}", rows.name()))?;
    let standardizer = saved.standardizer.as_ref().map(|s| (&s.mean[..], &s.std[..]));
    let probs = rows.probabilities(saved.model.coef(), saved.model.intercept(), standardizer)?;
    let labels = rows.labels().to_vec();
    Ok((saved, probs, labels))
}

pub(crate) fn evaluate(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    check_threshold(args.threshold)?;
    if args.label.is_some() && (args.stream || super::input::is_npy(&args.data)) {
        bail!("--label names a CSV --data's label column; a .npy --data takes --labels");
    }
    let (saved, probs, labels) = if args.stream {
        if args.device == DeviceChoice::Cuda {
            bail!("--stream reads the file on CPU threads; drop --device cuda");
        }
        evaluate_stream(&args)?
    } else {
        load_and_predict(
            &args.model,
            &args.data,
            args.labels.as_deref(),
            true,
            args.device,
            &args.format,
            args.label.as_deref(),
        )?
    };
    let report = metrics::report(&probs, &labels, args.threshold);
    let total = saved.model.coef().len();
    let nonzero = saved.model.coef().iter().filter(|&&w| w != 0.0).count();
    if super::json() {
        let mut json = serde_json::to_value(&report)?;
        json["nonzero_weights"] = nonzero.into();
        jsonln!(json)?;
    } else {
        print_report(&report, nonzero, total)?;
    }
    Ok(ExitCode::SUCCESS)
}
