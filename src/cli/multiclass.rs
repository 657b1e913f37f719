//! Three or more classes at the command line: `train`'s multiclass run and report, `predict`'s
//! one probability column per class, `evaluate`'s multiclass metrics; and the weight flags
//! (`--sample-weight`, `--class-weight`) as settings.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use logreg::data::labels::LabelKey;
use logreg::data::recipe::{read_scoring, Recipe};
use logreg::data::recipe_file::RecipeFile;
use logreg::data::table::{shown, LabelColumn, Table};
use logreg::model::multiclass::{MultiClass, MulticlassModel};
use logreg::model::multiclass_metrics::{self, MulticlassReport};
use logreg::output::write_atomically;
use logreg::solvers::weights::{ClassWeight, Weights};
use logreg::train::checkpoint;
use logreg::train::fit::FitConfig;
use logreg::train::multiclass::MulticlassFit;
use logreg::train::{Checkpoints, Epoch, Snapshot};

use super::input::{is_npy, load_table_with, FormatArgs};
use super::score::{EvaluateArgs, PredictArgs, UnknownChoice};
use super::train::{SolverChoice, TrainArgs};

/// `--multi-class` as clap reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MultiClassChoice {
    Multinomial,
    Ovr,
}

impl From<MultiClassChoice> for MultiClass {
    fn from(choice: MultiClassChoice) -> Self {
        match choice {
            MultiClassChoice::Multinomial => MultiClass::Multinomial,
            MultiClassChoice::Ovr => MultiClass::Ovr,
        }
    }
}

/// Where `--sample-weight` reads: a .npy file, else a CSV column of `--data`.
pub(crate) fn weight_column(flag: Option<&str>) -> Option<&str> {
    flag.filter(|f| !f.to_ascii_lowercase().ends_with(".npy"))
}

/// The sample weights: the CSV column's values already read, or the .npy file's for `rows` rows.
pub(crate) fn sample_weights(
    flag: Option<&str>,
    column: Option<Vec<f64>>,
    rows: usize,
) -> anyhow::Result<Option<Vec<f64>>> {
    match (flag, column) {
        (_, Some(values)) => Ok(Some(values)),
        (Some(path), None) => {
            Ok(Some(logreg::data::npy::read_weights(Path::new(path), rows).context("--sample-weight")?))
        }
        (None, None) => Ok(None),
    }
}

/// `--class-weight balanced` or `LABEL=W,…` for `classes` (in the model's order; the labels
/// compare as label cells do: `1` = `1.0`).
pub(crate) fn class_weight(text: &str, classes: &[String]) -> anyhow::Result<ClassWeight> {
    if text.trim() == "balanced" {
        return Ok(ClassWeight::Balanced);
    }
    let keys: Vec<LabelKey> = classes.iter().map(|c| LabelKey::of(c)).collect();
    let listed = || classes.iter().map(|c| format!("`{}`", shown(c))).collect::<Vec<_>>().join(", ");
    let mut pairs: Vec<(usize, f64)> = vec![];
    for item in class_weight_items(text) {
        let Some((label, weight)) = item.rsplit_once('=') else {
            bail!("--class-weight: `{}` is not LABEL=WEIGHT (or give `balanced`)", shown(&item));
        };
        let Some(class) = keys.iter().position(|k| *k == LabelKey::of(label)) else {
            bail!("--class-weight: `{}` is not a class of the labels ({})", shown(label.trim()), listed());
        };
        let w: f64 = weight.trim().parse().ok().filter(|w: &f64| w.is_finite() && *w >= 0.0).ok_or_else(|| {
            anyhow::anyhow!("--class-weight: `{}` for `{}` is not a finite number ≥ 0", shown(weight), shown(label))
        })?;
        if pairs.iter().any(|(c, _)| *c == class) {
            bail!("--class-weight: class `{}` is given twice", shown(&classes[class]));
        }
        pairs.push((class, w));
    }
    Ok(ClassWeight::Given(pairs))
}

/// `--class-weight`'s LABEL=WEIGHT items: split at commas, a piece without `=` joined to the next
/// one, so a label may hold commas (`a,b=2` weighs class `a,b`); a trailing piece without `=` is
/// an item of its own (refused by the caller).
fn class_weight_items(text: &str) -> Vec<String> {
    let mut items = vec![];
    let mut pending: Option<String> = None;
    for piece in text.split(',') {
        let item = match pending.take() {
            Some(before) => format!("{before},{piece}"),
            None => piece.to_string(),
        };
        if item.contains('=') {
            items.push(item);
        } else {
            pending = Some(item);
        }
    }
    items.extend(pending);
    items
}

/// The weights of `train`'s flags for a table of `classes`.
pub(crate) fn weights(
    args: &TrainArgs,
    column: Option<Vec<f64>>,
    rows: usize,
    classes: &[String],
) -> anyhow::Result<Weights> {
    let sample = sample_weights(args.sample_weight.as_deref(), column, rows)?;
    let class = args.class_weight.as_deref().map(|t| class_weight(t, classes)).transpose()?;
    Ok(Weights { sample, class })
}

/// The flags that do not apply to a multiclass run.
fn refuse_flags(args: &TrainArgs, config: &FitConfig) -> anyhow::Result<()> {
    if args.loss.is_some() {
        bail!("--loss applies to two classes (BCE or logits); with three or more the loss is the cross-entropy");
    }
    if args.engine == Some(logreg::train::Engine::Fused) {
        bail!(
            "--engine fused trains two classes (its passes sum one score per row); with three or more, sgd and adam \
             train by autograd"
        );
    }
    if config.solver.is_some() && (args.checkpoint_every.is_some() || args.resume.is_some()) {
        bail!("--checkpoint-every and --resume apply to --solver sgd and adam");
    }
    if args.solver == SolverChoice::Tron || args.solver == SolverChoice::NewtonCd {
        bail!("--solver tron and newton-cd fit two classes; with three or more use newton, fista or auto");
    }
    if config.solver.is_none() && args.multi_class == Some(MultiClassChoice::Ovr) {
        bail!("--multi-class ovr fits with the exact solvers (newton, fista, auto); sgd and adam fit multinomial");
    }
    Ok(())
}

/// `train` on a table whose labels hold three or more classes.
pub(crate) fn train(
    args: &TrainArgs,
    mut config: FitConfig,
    table: &Table,
    recipe: Option<Recipe>,
    classes: Vec<String>,
    column_weights: Option<Vec<f64>>,
    device: tch::Device,
) -> anyhow::Result<ExitCode> {
    refuse_flags(args, &config)?;
    let weights = weights(args, column_weights, table.rows(), &classes)?;
    if let Some((kind, c)) = config.solver.filter(|_| args.solver == SolverChoice::Auto) {
        let auto = logreg::train::multiclass::auto_kind(table.feature_names.len(), classes.len());
        config.solver = Some((if args.multi_class == Some(MultiClassChoice::Ovr) { kind } else { auto }, c));
    }
    let multi_class: MultiClass = args.multi_class.unwrap_or(MultiClassChoice::Multinomial).into();
    let (d, k) = (table.feature_names.len(), classes.len());
    let fingerprint = || checkpoint::multiclass_fingerprint(&config, table, &classes, &weights);
    let started = std::time::Instant::now();
    let fit = with_checkpoints(args, fingerprint, (d, k), |checkpoints, on_epoch| {
        logreg::train::multiclass::fit_multiclass_with(
            table,
            recipe,
            classes.clone(),
            &config,
            multi_class,
            &weights,
            device,
            checkpoints,
            on_epoch,
        )
    })?;
    finish(args, fit, multi_class, started.elapsed().as_secs_f64())
}

/// Runs `fit` with `args`' checkpoints (of a run of `d` features and `k` classes; `fingerprint`
/// made only when a run writes or reads them, as for two classes) and a Ctrl-C as its stop; an
/// interrupted run writes its newest checkpoint and says how to resume it.
fn with_checkpoints(
    args: &TrainArgs,
    fingerprint: impl FnOnce() -> String,
    (d, k): (usize, usize),
    fit: impl FnOnce(Checkpoints, &mut dyn FnMut(&Epoch) -> ControlFlow<()>) -> logreg::Result<MulticlassFit>,
) -> anyhow::Result<MulticlassFit> {
    let every = super::at_least_one("checkpoint-every", args.checkpoint_every)?;
    let fingerprint = if every.is_none() && args.resume.is_none() { String::new() } else { fingerprint() };
    let resume = match args.resume.as_deref() {
        Some(path) => Some(checkpoint::read_classes(path, &fingerprint, d, Some(k)).context("--resume")?),
        None => None,
    };
    let checkpoint_path = super::train::checkpoint_path(args);
    let mut writer = checkpoint::Writer::new(&checkpoint_path, &fingerprint);
    let mut save = |state: &Snapshot| writer.save(state);
    let checkpoints = Checkpoints {
        resume,
        every,
        save: every.map(|_| &mut save as &mut dyn FnMut(&Snapshot) -> logreg::Result<()>),
    };
    let mut on_epoch =
        |_: &Epoch| if logreg::interrupt::requested() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
    let fit = fit(checkpoints, &mut on_epoch);
    if matches!(fit, Err(logreg::Error::Interrupted { .. })) {
        // The newest checkpoint may be held back by the writer's pacing: write it now.
        writer.flush().context("--checkpoint")?;
    }
    match (fit, writer.written_epoch()) {
        (Err(e @ logreg::Error::Interrupted { .. }), Some(epoch)) => {
            let hint = super::train::resume_hint(&checkpoint_path, epoch);
            Err(super::train::Interrupted { error: e, hint }.into())
        }
        (Err(e @ logreg::Error::Io { .. }), _) if matches!(&e, logreg::Error::Io { path, .. } if *path == checkpoint_path || *path == checkpoint::losses_path(&checkpoint_path)) => {
            Err(anyhow::Error::from(e).context("--checkpoint"))
        }
        (fit, _) => Ok(fit.map_err(weight_flags)?),
    }
}

/// The classes of `.npy` labels read as indices: the recipe's class names when `convert` wrote
/// one beside the data (which the labels checksum has matched), else the values' own names.
pub(crate) fn recipe_classes(recipe: Option<&Recipe>, classes: Vec<String>) -> anyhow::Result<Vec<String>> {
    let Some(r) = recipe else { return Ok(classes) };
    // Converted labels are the indices 0 … K−1 themselves (the checksum covers their ranks only).
    let indices: Vec<String> = (0..classes.len()).map(|i| i.to_string()).collect();
    match &r.class_names {
        Some(names) if names.len() == classes.len() && classes == indices => Ok(names.clone()),
        Some(names) if names.len() == classes.len() => bail!(
            "--labels: converted labels are the class indices 0 to {}, and these hold {}: use the labels file \
             convert wrote",
            names.len() - 1,
            classes.join(", ")
        ),
        _ => bail!("--labels: the recipe file beside --data names other classes; convert the CSV file again"),
    }
}

/// `train --stream` on `.npy` labels of three or more classes: SGD or Adam, full batch (the
/// gradient summed chunk by chunk) or the in-memory run's mini-batches, with checkpoints.
pub(crate) fn train_stream(
    args: &TrainArgs,
    config: FitConfig,
    rows: &logreg::data::stream::NpyRows,
    recipe: Option<Recipe>,
    classes: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let refused = [
        (args.loss.is_some(), "--loss"),
        (args.engine.is_some(), "--engine"),
        (args.multi_class == Some(MultiClassChoice::Ovr), "--multi-class ovr"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
        bail!("{flag} does not apply to --stream with three or more classes (sgd or adam by autograd, multinomial)");
    }
    if config.solver.is_some() {
        bail!("--stream trains three or more classes with --solver sgd or adam; the exact solvers need the data in memory");
    }
    super::stop_on_ctrl_c()?;
    let (d, k) = (logreg::data::source::Source::features(rows), classes.len());
    let fingerprint = || checkpoint::multiclass_stream_fingerprint(&config, rows, &classes);
    let started = std::time::Instant::now();
    let fit = with_checkpoints(args, fingerprint, (d, k), |checkpoints, on_epoch| {
        logreg::train::multiclass_stream::fit_multiclass_stream_with(
            rows,
            recipe,
            classes.clone(),
            &config,
            checkpoints,
            on_epoch,
        )
    })?;
    finish(args, fit, MultiClass::Multinomial, started.elapsed().as_secs_f64())
}

/// Writes a multiclass fit's model (and plot), then reports it, as text or `--json`.
fn finish(args: &TrainArgs, fit: MulticlassFit, multi_class: MultiClass, fit_seconds: f64) -> anyhow::Result<ExitCode> {
    let model_bytes = fit.model.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    let plot = match &args.plot {
        Some(path) => {
            let step = if fit.objective.is_some() { "iteration" } else { "epoch" };
            Some((path, logreg::plot::loss_curves(step, &fit.losses, &[])?))
        }
        None => None,
    };
    let mut outputs = vec![("--out", args.out.as_path(), &model_bytes[..])];
    outputs.extend(plot.as_ref().map(|(path, png)| ("--plot", path.as_path(), &png[..])));
    super::write_outputs(&outputs)?;
    if fit.converged == Some(false) {
        let (name, iterations) = (&fit.model.training.optimizer, fit.iterations.unwrap_or_default());
        super::warn_unconverged(name, iterations, None, args.tol, args.max_iter);
    }
    let m = &fit.model;
    let nonzero = m.coef.iter().filter(|&&w| w != 0.0).count();
    let d = m.feature_names.len();
    if super::json() {
        let coef: Vec<&[f32]> = m.coef.chunks(d.max(1)).collect();
        let json = serde_json::json!({
            "classes": m.classes.iter().map(|c| class_json(c)).collect::<Vec<_>>(),
            "multi_class": multi_class.name(),
            "losses": fit.losses,
            "train": fit.train_report,
            "validation": fit.validation_report,
            "nonzero_weights": nonzero,
            "solver": fit.objective.map(|objective| serde_json::json!({
                "name": m.training.optimizer,
                "method": fit.method,
                "iterations": fit.iterations,
                "converged": fit.converged,
                "objective": objective,
                "optimality": fit.optimality,
            })),
            "objective": fit.objective.or(fit.losses.last().copied()),
            "features": m.feature_names,
            "coef": coef,
            "intercept": m.intercept,
            "fit_seconds": fit_seconds,
            "model": args.out,
        });
        jsonln!(json)?;
    } else {
        let steps = match fit.iterations {
            Some(i) => format!("{}, {i} iterations", m.training.optimizer),
            None => format!("{} epochs", fit.losses.len()),
        };
        let listed: Vec<String> = m.classes.iter().map(|c| shown(c)).collect();
        outln!(
            "trained on {} rows × {d} features, {} classes ({}; {}), {steps}: final objective {}, train accuracy \
             {:.4}, {nonzero} of {} weights non-zero",
            fit.train_report.rows,
            m.classes.len(),
            listed.join(", "),
            multi_class.name(),
            logreg::error::fixed(fit.objective.or(fit.losses.last().copied()).unwrap_or(f64::NAN), 6),
            fit.train_report.accuracy,
            m.coef.len()
        )?;
        if let Some(v) = &fit.validation_report {
            let auc = v.roc_auc_ovr_macro.map_or("n/a".into(), |a| format!("{a:.4}"));
            outln!(
                "validation: {} rows, log-loss {:.4}, accuracy {:.4}, macro ROC AUC (one-vs-rest) {auc}",
                v.rows,
                v.log_loss,
                v.accuracy
            )?;
        }
        outln!("wrote {}", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A weight error named by its flag.
pub(crate) fn weight_flags(e: logreg::Error) -> anyhow::Error {
    let flag = match &e {
        logreg::Error::InvalidWeights { name: "class_weight", .. } => "--class-weight",
        logreg::Error::InvalidWeights { .. } => "--sample-weight",
        _ => return e.into(),
    };
    anyhow::Error::from(e).context(flag)
}

/// A class name as JSON: a number when it is one, else text.
pub(crate) fn class_json(name: &str) -> serde_json::Value {
    match LabelKey::of(name) {
        LabelKey::Number(v) if v.fract() == 0.0 && v.abs() < 9e15 => (v as i64).into(),
        LabelKey::Number(v) => v.into(),
        LabelKey::Text(t) => t.into(),
    }
}

/// `text` as a CSV cell: quoted when it holds a comma, a quote or a line break.
pub(crate) fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The rows of `data` (labelled or not) as the model reads them, its ID cells, and its labels.
#[allow(clippy::too_many_arguments)]
fn read_rows(
    m: &MulticlassModel,
    data: &Path,
    labels: Option<&Path>,
    labelled: bool,
    label_name: Option<&str>,
    format: &FormatArgs,
    unknown: UnknownChoice,
    weight_column: Option<&str>,
) -> anyhow::Result<(Table, Vec<String>)> {
    if super::sparse::is_sparse_path(data) {
        bail!("{}: a multiclass model reads CSV or .npy data", data.display());
    }
    if is_npy(data) {
        let mut rows = load_table_with(data, None, LabelColumn::Skip(m.label_name.clone()), false, format.format()?)?;
        if labelled {
            let Some(y) = labels else {
                bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
            };
            let beside = RecipeFile::beside(data)?;
            rows.labels = npy_class_labels(m, data, y, rows.rows(), rows.feature_names.len(), beside.as_ref())?;
        }
        return Ok((rows, vec![]));
    }
    let mut recipe = m.recipe();
    recipe.ignored.extend(weight_column.map(str::to_string).filter(|c| !recipe.ignored.contains(c)));
    let label = labelled.then(|| label_name.unwrap_or(&recipe.label).to_string());
    let read = read_scoring(data, &format.format()?, &recipe, label.as_deref(), !labelled, unknown.into())?;
    super::score::note_unknown(read.unknown);
    Ok((read.table, read.ids))
}

/// The labels `y` of the .npy `data` as indices into the model's classes. Converted from a CSV
/// file (a recipe file beside `data`), they are indices into the recipe's classes, which must be
/// the model's; else they are the class values themselves.
fn npy_class_labels(
    m: &MulticlassModel,
    data: &Path,
    y: &Path,
    rows: usize,
    features: usize,
    beside: Option<&(std::path::PathBuf, RecipeFile)>,
) -> anyhow::Result<Vec<f32>> {
    let Some((path, file)) = beside else {
        return logreg::data::npy::read_class_values(y, rows, &m.classes, "the model's classes").context("--labels");
    };
    let Some(names) = file.recipe.class_names.as_ref() else {
        bail!("--labels {}: converted with two classes, and the model has {}", y.display(), m.classes.len());
    };
    let codes: Vec<String> = (0..names.len()).map(|i| i.to_string()).collect();
    let what = "the class indices of the recipe file beside --data";
    let index = logreg::data::npy::read_class_values(y, rows, &codes, what).context("--labels")?;
    file.check(path, data, rows, features, Some(&index))?;
    if names != &m.classes {
        let list = |c: &[String]| c.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
        bail!(
            "--labels {}: converted with the classes {}, and the model's are {}",
            y.display(),
            list(names),
            list(&m.classes)
        );
    }
    Ok(index)
}

/// `predict` with a multiclass model: the ID columns, one probability column per class
/// (`probability_<class>`), then the most probable class.
pub(crate) fn predict(args: &PredictArgs, m: MulticlassModel) -> anyhow::Result<ExitCode> {
    if args.threshold.is_some() {
        bail!("--threshold applies to two classes; a multiclass model predicts its most probable class");
    }
    let device = super::resolve_device(args.device)?;
    let (table, ids) = read_rows(&m, &args.data, None, false, None, &args.format, args.unknown, None)?;
    let probs = m.predict_proba(&table, device)?;
    let k = m.classes.len();
    let id_names: &[String] = match &m.recipe {
        Some(r) if !ids.is_empty() => &r.ids,
        _ => &[],
    };
    let n_ids = id_names.len();
    let mut out = String::new();
    let best = |row: &[f32]| (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
    if super::json() {
        for (i, row) in probs.chunks(k).enumerate() {
            let mut obj = serde_json::Map::new();
            for (name, value) in id_names.iter().zip(&ids[i * n_ids..(i + 1) * n_ids]) {
                obj.insert(name.clone(), value.clone().into());
            }
            for (c, p) in m.classes.iter().zip(row) {
                obj.insert(format!("probability_{c}"), (*p).into());
            }
            obj.insert("class".into(), class_json(&m.classes[best(row)]));
            out += &format!("{}\n", serde_json::Value::Object(obj));
        }
    } else {
        let mut header: Vec<String> = id_names.iter().map(|n| csv_cell(n)).collect();
        header.extend(m.classes.iter().map(|c| csv_cell(&format!("probability_{c}"))));
        header.push("class".into());
        out += &header.join(",");
        out.push('\n');
        for (i, row) in probs.chunks(k).enumerate() {
            let mut cells: Vec<String> = ids[i * n_ids..(i + 1) * n_ids].iter().map(|v| csv_cell(v)).collect();
            cells.extend(row.iter().map(|p| p.to_string()));
            cells.push(csv_cell(&m.classes[best(row)]));
            out += &cells.join(",");
            out.push('\n');
        }
    }
    match &args.output {
        Some(path) => write_atomically(path, out.as_bytes()).with_context(|| format!("--out {}", path.display()))?,
        None => std::io::stdout().write_all(out.as_bytes()).context("writing to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `evaluate` with a multiclass model: its metrics, weighted by `--sample-weight` when given.
pub(crate) fn evaluate(args: &EvaluateArgs, m: MulticlassModel) -> anyhow::Result<ExitCode> {
    if args.threshold.is_some() {
        bail!("--threshold applies to two classes; a multiclass model predicts its most probable class");
    }
    let device = super::resolve_device(args.device)?;
    let (probs, labels) = if args.stream {
        stream_probabilities(args, &m, device)?
    } else {
        let (table, _) = read_rows(
            &m,
            &args.data,
            args.labels.as_deref(),
            true,
            args.label.as_deref(),
            &args.format,
            args.unknown,
            weight_column(args.sample_weight.as_deref()),
        )?;
        (m.predict_proba(&table, device)?, table.labels)
    };
    let weights = evaluation_weights(args, &labels, m.classes.len())?;
    let report = multiclass_metrics::report(&probs, &labels, &m.classes, weights.as_deref());
    let nonzero = m.coef.iter().filter(|&&w| w != 0.0).count();
    if super::json() {
        let mut json = serde_json::to_value(&report)?;
        json["nonzero_weights"] = nonzero.into();
        json["classes"] = m.classes.iter().map(|c| class_json(c)).collect();
        json["multi_class"] = m.multi_class.name().into();
        jsonln!(json)?;
    } else {
        print_report(&report, nonzero, m.coef.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `evaluate --stream`: the .npy rows read chunk by chunk (never whole), the model's K
/// probabilities per row and the labels as class indices.
fn stream_probabilities(
    args: &EvaluateArgs,
    m: &MulticlassModel,
    device: tch::Device,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    use logreg::data::source::Source;
    if !is_npy(&args.data) {
        bail!("--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)");
    }
    let Some(y) = args.labels.as_deref() else {
        bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
    };
    let rows = logreg::data::stream::NpyRows::open(&args.data, None, None)?;
    let beside = RecipeFile::beside(&args.data)?;
    let labels = npy_class_labels(m, &args.data, y, rows.rows(), rows.features(), beside.as_ref())?;
    let feature_names = match &beside {
        Some((_, file)) => file.recipe.feature_names(),
        None => (0..rows.features()).map(|j| format!("x{j}")).collect(),
    };
    let rows = rows.with_class_labels(labels, y)?;
    let probs = logreg::train::multiclass_stream::stream_probabilities(m, &rows, &feature_names, device)?;
    let labels = rows.labels().to_vec();
    Ok((probs, labels))
}

/// `evaluate --sample-weight`'s weights for rows of `labels` (class indices below `classes`):
/// checked as training checks them (finite, ≥ 0, not all zero, one per row).
fn evaluation_weights(args: &EvaluateArgs, labels: &[f32], classes: usize) -> anyhow::Result<Option<Vec<f64>>> {
    let Some(flag) = args.sample_weight.as_deref() else { return Ok(None) };
    let w = match weight_column(Some(flag)) {
        Some(column) => logreg::data::recipe::read_weight_column(&args.data, &args.format.format()?, column)?,
        None => logreg::data::npy::read_weights(Path::new(flag), labels.len()).context("--sample-weight")?,
    };
    if w.len() != labels.len() {
        bail!("--sample-weight: {} weights for {} rows", w.len(), labels.len());
    }
    let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Weights::sample(w.clone()).per_row(&labels, classes).map_err(weight_flags)?;
    Ok(Some(w))
}

/// `evaluate --sample-weight` with a two-class model: the multiclass report of its two classes
/// (predicted at 0.5), weighted.
pub(crate) fn evaluate_binary_weighted(args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let s = super::score::load_and_predict(
        &args.model,
        &args.data,
        args.labels.as_deref(),
        true,
        args.device,
        &args.format,
        args.label.as_deref(),
        args.unknown,
        args.data_format,
        weight_column(args.sample_weight.as_deref()),
    )?;
    let classes = s.saved.recipe().classes();
    let names = vec![classes.negative.clone(), classes.positive.clone()];
    let weights = evaluation_weights(args, &s.labels, 2)?;
    let probs: Vec<f32> = s.probs.iter().flat_map(|&p| [1.0 - p, p]).collect();
    let report = multiclass_metrics::report(&probs, &s.labels, &names, weights.as_deref());
    let coef = s.saved.model.coef();
    let nonzero = coef.iter().filter(|&&w| w != 0.0).count();
    if super::json() {
        let mut json = serde_json::to_value(&report)?;
        json["nonzero_weights"] = nonzero.into();
        json["classes"] = names.iter().map(|c| class_json(c)).collect();
        jsonln!(json)?;
    } else {
        print_report(&report, nonzero, coef.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The multiclass report as text.
fn print_report(r: &MulticlassReport, nonzero: usize, total: usize) -> anyhow::Result<()> {
    outln!("rows             {}", r.rows)?;
    outln!("log-loss         {:.6}", r.log_loss)?;
    outln!("accuracy         {:.4}", r.accuracy)?;
    let auc = r.roc_auc_ovr_macro.map_or("n/a (a class has no rows)".into(), |a| format!("{a:.4}"));
    outln!("ROC AUC (OvR)    {auc}")?;
    outln!("                 macro      weighted")?;
    outln!("precision        {:.4}     {:.4}", r.precision_macro, r.precision_weighted)?;
    outln!("recall           {:.4}     {:.4}", r.recall_macro, r.recall_weighted)?;
    outln!("F1               {:.4}     {:.4}", r.f1_macro, r.f1_weighted)?;
    // Class names as messages show them: a line break or control character escaped.
    let names: Vec<String> = r.classes.iter().map(|c| shown(c)).collect();
    let width = names.iter().map(|c| c.chars().count()).max().unwrap_or(1).max(6);
    let first = width.max(18);
    let mut head = format!("confusion  {:first$}", "actual \\ predicted");
    for c in &names {
        head += &format!("  {c:>width$}");
    }
    outln!("{head}")?;
    for (c, row) in names.iter().zip(&r.confusion) {
        let mut line = format!("           {c:first$}");
        for v in row {
            line += &format!("  {v:>width$}");
        }
        outln!("{line}")?;
    }
    outln!("non-zero weights {nonzero} of {total}")?;
    Ok(())
}

/// `train` with weights on two classes: the exact solvers through the weighted fit.
pub(crate) fn train_binary_weighted(
    args: &TrainArgs,
    mut config: FitConfig,
    table: &Table,
    recipe: Option<Recipe>,
    column_weights: Option<Vec<f64>>,
    device: tch::Device,
) -> anyhow::Result<ExitCode> {
    if config.solver.is_none() {
        bail!("--sample-weight and --class-weight fit two classes with the exact solvers (auto, newton, fista, tron, newton-cd)");
    }
    let classes = recipe.as_ref().map_or_else(logreg::data::labels::Classes::numeric, Recipe::classes);
    let weights = weights(args, column_weights, table.rows(), &[classes.negative.clone(), classes.positive.clone()])?;
    if args.solver == SolverChoice::Auto {
        let l1 = logreg::solvers::auto::has_l1(config.train.penalty, config.sklearn);
        let rows = table.rows();
        let choice = logreg::solvers::auto::choose(
            rows,
            table.feature_names.len(),
            rows.saturating_mul(table.feature_names.len()),
            l1,
        );
        config.solver = config.solver.map(|(_, c)| (choice.kind, c));
    }
    let recipe = recipe.filter(|r| !r.is_plain());
    let fitted = logreg::train::fit::fit_weighted(table, recipe, &config, &weights, device).map_err(weight_flags)?;
    let model = fitted.saved.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    super::write_outputs(&[("--out", args.out.as_path(), &model[..])])?;
    let s = fitted.solution.as_ref();
    if super::json() {
        let json = serde_json::json!({
            "losses": fitted.training.losses,
            "train": fitted.train_report,
            "validation": fitted.validation_report,
            "solver": s.map(|s| serde_json::json!({
                "name": fitted.saved.training.optimizer,
                "iterations": s.iterations,
                "converged": s.converged,
                "objective": s.objective,
                "optimality": s.optimality,
            })),
            "objective": s.map(|s| s.objective),
            "features": fitted.saved.feature_names,
            "classes": [class_json(&classes.negative), class_json(&classes.positive)],
            "coef": s.map(|s| s.coef.clone()),
            "intercept": s.map(|s| s.intercept),
            "model": args.out,
        });
        jsonln!(json)?;
    } else {
        outln!(
            "trained on {} rows × {} features (weighted), {}: final objective {}, train accuracy {:.4}",
            fitted.train_report.rows,
            fitted.saved.feature_names.len(),
            fitted.saved.training.optimizer,
            logreg::error::fixed(s.map_or(f64::NAN, |s| s.objective), 6),
            fitted.train_report.accuracy
        )?;
        outln!("wrote {}", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_weight_labels_may_hold_commas() {
        let classes: Vec<String> = ["a,b", "c", "x=y"].map(String::from).to_vec();
        let given = |text: &str| match class_weight(text, &classes) {
            Ok(ClassWeight::Given(pairs)) => pairs,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(given("a,b=2,c=3"), vec![(0, 2.0), (1, 3.0)]);
        assert_eq!(given("c=0.5"), vec![(1, 0.5)]);
        // The weight follows the last `=`: a label may hold one too.
        assert_eq!(given("x=y=4"), vec![(2, 4.0)]);
        let e = class_weight("c=1,a", &classes).unwrap_err().to_string();
        assert_eq!(e, "--class-weight: `a` is not LABEL=WEIGHT (or give `balanced`)");
        assert!(class_weight("b=1", &classes).unwrap_err().to_string().contains("`b` is not a class"));
    }
}
