//! `logreg predict` and `logreg evaluate`: a model's probabilities for a file's rows, and its
//! metrics on labelled rows (in memory, or chunk by chunk with `--stream`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use logreg::data::labels::Classes;
use logreg::data::npy;
use logreg::data::recipe::{read_scoring, Unknown};
use logreg::data::source::Source;
use logreg::data::table::LabelColumn;
use logreg::device::DeviceChoice;
use logreg::model::file::SavedModel;
use logreg::model::metrics::{self, Report};
use logreg::model::multiclass::AnyModel;
use logreg::output::write_atomically;

use super::input::{is_npy, load_table_with, FormatArgs, InputArgs};
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
    /// Two classes: class 1 when the probability is above this [default: 0.5].
    #[arg(long)]
    pub(crate) threshold: Option<f64>,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// A categorical level not seen in training: error (naming row, column and value), or ignore
    /// (all zeros, counted in a note).
    #[arg(long, value_enum, default_value_t = UnknownChoice::Error)]
    pub(crate) unknown: UnknownChoice,
    /// Read --data as libsvm text whatever its name (.svm, .libsvm, .svmlight are libsvm already).
    #[arg(long = "format", value_enum)]
    pub(crate) data_format: Option<super::sparse::DataFormat>,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
}

/// `--unknown` as clap reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum UnknownChoice {
    Error,
    Ignore,
}

impl From<UnknownChoice> for Unknown {
    fn from(choice: UnknownChoice) -> Self {
        match choice {
            UnknownChoice::Error => Unknown::Error,
            UnknownChoice::Ignore => Unknown::Ignore,
        }
    }
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
    /// Two classes: class 1 when the probability is above this [default: 0.5].
    #[arg(long)]
    pub(crate) threshold: Option<f64>,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Read a .npy --data in chunks instead of loading it (data larger than memory).
    #[arg(long)]
    pub(crate) stream: bool,
    /// Weighted metrics: a CSV column of --data (one the model passes over) or a .npy file with
    /// one weight per row.
    #[arg(long, value_name = "COLUMN|FILE.npy")]
    pub(crate) sample_weight: Option<String>,
    /// A categorical level not seen in training: error (naming row, column and value), or ignore
    /// (all zeros, counted in a note).
    #[arg(long, value_enum, default_value_t = UnknownChoice::Error)]
    pub(crate) unknown: UnknownChoice,
    /// Read --data as libsvm text whatever its name (.svm, .libsvm, .svmlight are libsvm already).
    #[arg(long = "format", value_enum)]
    pub(crate) data_format: Option<super::sparse::DataFormat>,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
}

/// What [`load_and_predict`] read: the model, each row's probability, the labels (0/1) when
/// asked for, and the ID cells (`rows × ids`) for `predict`.
pub(crate) struct Scored {
    pub(crate) saved: SavedModel,
    pub(crate) probs: Vec<f32>,
    pub(crate) labels: Vec<f32>,
    pub(crate) ids: Vec<String>,
}

/// Loads the model and the rows of `data` (with labels when `labelled`), and predicts. A CSV file
/// is read through the model's recipe (columns by name, categorical levels, imputation, classes).
#[allow(clippy::too_many_arguments)]
pub(crate) fn load_and_predict(
    model: &Path,
    data: &Path,
    labels: Option<&Path>,
    labelled: bool,
    device: DeviceChoice,
    format: &FormatArgs,
    label_name: Option<&str>,
    unknown: UnknownChoice,
    data_format: Option<super::sparse::DataFormat>,
    weight_column: Option<&str>,
) -> anyhow::Result<Scored> {
    let device = resolve_device(device)?;
    let saved = SavedModel::load(model)?;
    let libsvm = data_format == Some(super::sparse::DataFormat::Libsvm);
    if libsvm || super::sparse::is_sparse_path(data) {
        let (probs, labels) = super::sparse::score(&saved, data, labels, labelled, libsvm)?;
        return Ok(Scored { saved, probs, labels, ids: vec![] });
    }
    if is_npy(data) {
        let label = if labelled {
            LabelColumn::Named(label_name.unwrap_or(&saved.label_name).to_string())
        } else {
            LabelColumn::Skip(saved.label_name.clone())
        };
        let rows = load_table_with(data, labels, label, labelled, format.format()?)?;
        if labelled {
            same_classes(&saved, data, &rows)?;
        }
        let probs = saved.predict_proba(&rows, device)?;
        return Ok(Scored { saved, probs, labels: rows.labels, ids: vec![] });
    }
    if labels.is_some() {
        bail!("--labels applies to .npy data; a CSV file holds its label column (see --label)");
    }
    let mut recipe = saved.recipe();
    // A weight column (`evaluate --sample-weight`) is passed over as training's left-out columns are.
    recipe.ignored.extend(weight_column.map(str::to_string).filter(|c| !recipe.ignored.contains(c)));
    let label = labelled.then(|| label_name.unwrap_or(&recipe.label).to_string());
    let read = read_scoring(data, &format.format()?, &recipe, label.as_deref(), !labelled, unknown.into())?;
    note_unknown(read.unknown);
    let probs = saved.predict_proba(&read.table, device)?;
    Ok(Scored { saved, probs, labels: read.table.labels, ids: read.ids })
}

/// The one-line note of `--unknown ignore`: how many cells held a level not seen in training.
pub(crate) fn note_unknown(cells: usize) {
    if cells > 0 {
        let s = if cells == 1 { "" } else { "s" };
        warnln!("note: {cells} cell{s} held a level not seen in training, encoded as all zeros (--unknown ignore)");
    }
}

/// `text` as a CSV cell: quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub(crate) fn predict(args: PredictArgs) -> anyhow::Result<ExitCode> {
    let threshold = args.threshold.unwrap_or(0.5);
    check_threshold(threshold)?;
    let outputs: Vec<(&str, &std::path::Path)> = args.output.as_deref().map(|p| ("--out", p)).into_iter().collect();
    check_outputs(&outputs, &[("--model", &args.model), ("--data", &args.data)])?;
    if let AnyModel::Multiclass(m) = AnyModel::load(&args.model)? {
        return super::multiclass::predict(&args, m);
    }
    let Scored { saved, probs, ids, .. } = load_and_predict(
        &args.model,
        &args.data,
        None,
        false,
        args.device,
        &args.format,
        None,
        args.unknown,
        args.data_format,
        None,
    )?;
    let recipe = saved.recipe.as_ref();
    let id_names: &[String] = match recipe {
        Some(r) if !ids.is_empty() => &r.ids,
        _ => &[],
    };
    let classes = recipe.and_then(|r| r.classes.clone());
    let mut out = String::new();
    let id_row = |i: usize| &ids[i * id_names.len()..(i + 1) * id_names.len()];
    if super::json() {
        for (i, p) in probs.iter().enumerate() {
            let positive = f64::from(*p) > threshold;
            let mut row = serde_json::Map::new();
            for (name, value) in id_names.iter().zip(id_row(i)) {
                row.insert(name.clone(), value.clone().into());
            }
            row.insert("probability".into(), (*p).into());
            let class: serde_json::Value = match &classes {
                Some(c) => (if positive { &c.positive } else { &c.negative }).clone().into(),
                None => u8::from(positive).into(),
            };
            row.insert("class".into(), class);
            out += &format!("{}\n", serde_json::Value::Object(row));
        }
    } else {
        for name in id_names {
            out += &csv_cell(name);
            out.push(',');
        }
        match &classes {
            Some(c) => out += &format!("{},class\n", csv_cell(&format!("probability_{}", c.positive))),
            None => out += "probability,class\n",
        }
        for (i, p) in probs.iter().enumerate() {
            for value in id_row(i) {
                out += &csv_cell(value);
                out.push(',');
            }
            let positive = f64::from(*p) > threshold;
            match &classes {
                Some(c) => out += &format!("{p},{}\n", csv_cell(if positive { &c.positive } else { &c.negative })),
                None => out += &format!("{p},{}\n", u8::from(positive)),
            }
        }
    }
    match &args.output {
        Some(path) => write_atomically(path, out.as_bytes()).with_context(|| format!("--out {}", path.display()))?,
        None => std::io::stdout().write_all(out.as_bytes()).context("writing to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as text; the confusion matrix names the classes (`1`/`0` for a model without
/// named classes).
pub(crate) fn print_report(r: &Report, nonzero: usize, total: usize, classes: Option<&Classes>) -> anyhow::Result<()> {
    let c = &r.confusion;
    let (p, n) = classes.map_or(("1", "0"), |c| (c.positive.as_str(), c.negative.as_str()));
    outln!("rows             {}", r.rows)?;
    outln!("log-loss         {:.6}", r.log_loss)?;
    outln!("accuracy         {:.4}", r.accuracy)?;
    outln!("ROC AUC          {}", r.roc_auc.map_or("n/a (one class)".into(), |a| format!("{a:.4}")))?;
    outln!("precision        {:.4}", r.precision)?;
    outln!("recall           {:.4}", r.recall)?;
    outln!("F1               {:.4}", r.f1)?;
    outln!("threshold        {}", r.threshold)?;
    if classes.is_some() {
        outln!("positive class   {p}")?;
    }
    outln!("confusion        {:>11}   {:>11}", format!("predicted {p}"), format!("predicted {n}"))?;
    outln!("  actual {p:<8}{:>11}   {:>11}", c.true_positives, c.false_negatives)?;
    outln!("  actual {n:<8}{:>11}   {:>11}", c.false_positives, c.true_negatives)?;
    outln!("non-zero weights {nonzero} of {total}")?;
    Ok(())
}

/// Refuses labels of a .npy file converted with classes other than the model's (its 1s would be
/// another class than the model's positive one).
fn same_classes(saved: &SavedModel, data: &Path, rows: &logreg::data::table::Table) -> anyhow::Result<()> {
    match super::input::npy_recipe(data, rows.rows(), rows.feature_names.len(), Some(&rows.labels))? {
        Some(r) => refuse_other_classes(saved, data, &r.classes()),
        None => Ok(()),
    }
}

fn refuse_other_classes(saved: &SavedModel, data: &Path, theirs: &Classes) -> anyhow::Result<()> {
    let ours = saved.recipe.as_ref().map_or_else(Classes::numeric, |r| r.classes());
    if *theirs == ours {
        return Ok(());
    }
    bail!(
        "{}: its labels were converted with the classes {} (1) and {} (0), the model's are {} (1) and {} (0): \
         evaluate the CSV file, or convert it with the model's classes",
        data.display(),
        theirs.positive,
        theirs.negative,
        ours.positive,
        ours.negative
    )
}

/// `evaluate --stream`: the model's probabilities chunk by chunk.
pub(crate) fn evaluate_stream(args: &EvaluateArgs) -> anyhow::Result<(SavedModel, Vec<f32>, Vec<f32>)> {
    let saved = SavedModel::load(&args.model)?;
    let input = InputArgs { data: args.data.clone(), label: None, labels: args.labels.clone() };
    let rows = input.open_stream(None)?;
    let recipe = input.npy_recipe(rows.rows(), rows.features(), Some(rows.labels()))?;
    if let Some(r) = &recipe {
        refuse_other_classes(&saved, &args.data, &r.classes())?;
    }
    let names = recipe.as_ref().map_or_else(|| npy::feature_names(rows.features()), |r| r.feature_names());
    saved.check_features(&names).map_err(|m| anyhow::anyhow!("{}: {m}", rows.name()))?;
    let standardizer = saved.standardizer.as_ref().map(|s| (&s.mean[..], &s.std[..]));
    let probs = rows.probabilities(saved.model.coef(), saved.model.intercept(), standardizer)?;
    let labels = rows.labels().to_vec();
    Ok((saved, probs, labels))
}

pub(crate) fn evaluate(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let threshold = args.threshold.unwrap_or(0.5);
    check_threshold(threshold)?;
    if args.sample_weight.is_some() && args.data == Path::new("-") {
        bail!("--sample-weight reads --data a second time: give a file, not standard input");
    }
    match AnyModel::load(&args.model)? {
        AnyModel::Multiclass(m) => return super::multiclass::evaluate(&args, m),
        AnyModel::Binary(_) if args.sample_weight.is_some() => {
            if args.threshold.is_some() || args.stream {
                bail!("--sample-weight's weighted report predicts at 0.5 from data in memory: drop --threshold and --stream");
            }
            return super::multiclass::evaluate_binary_weighted(&args);
        }
        AnyModel::Binary(_) => {}
    }
    if args.label.is_some() && (args.stream || super::input::is_npy(&args.data)) {
        bail!("--label names a CSV --data's label column; a .npy --data takes --labels");
    }
    let (saved, probs, labels) = if args.stream {
        if args.device == DeviceChoice::Cuda {
            bail!("--stream reads the file on CPU threads; drop --device cuda");
        }
        evaluate_stream(&args)?
    } else {
        let s = load_and_predict(
            &args.model,
            &args.data,
            args.labels.as_deref(),
            true,
            args.device,
            &args.format,
            args.label.as_deref(),
            args.unknown,
            args.data_format,
            None,
        )?;
        (s.saved, s.probs, s.labels)
    };
    let report = metrics::report(&probs, &labels, threshold);
    let classes = saved.recipe.as_ref().and_then(|r| r.classes.clone());
    let total = saved.model.coef().len();
    let nonzero = saved.model.coef().iter().filter(|&&w| w != 0.0).count();
    if super::json() {
        let mut json = serde_json::to_value(&report)?;
        json["nonzero_weights"] = nonzero.into();
        if let Some(c) = &classes {
            json["classes"] = serde_json::to_value(c)?;
        }
        jsonln!(json)?;
    } else {
        print_report(&report, nonzero, total, classes.as_ref())?;
    }
    Ok(ExitCode::SUCCESS)
}
