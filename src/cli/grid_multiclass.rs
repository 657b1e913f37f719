//! `logreg path` and `logreg cv` on labels of three or more classes: the multinomial path and its
//! cross-validation, their weight flags, and their outputs (the path's table, CSV and plot; cv's
//! table, CSV and multiclass model).

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use tch::Tensor;

use logreg::data::dataset::Standardizer;
use logreg::data::recipe::Recipe;
use logreg::data::table::{shown, Table};
use logreg::error::short;
use logreg::solvers::cv::CvConfig;
use logreg::solvers::multinomial_cv::{self, MulticlassCvResult};
use logreg::solvers::multinomial_path::{self, MultinomialPathPoint};
use logreg::solvers::path::PathConfig;
use logreg::solvers::weights::Weights;
use logreg::solvers::SolverKind;

use super::grid::{cv_csv, not_finite, print_cv_table, CvArgs, CvRow, PathArgs, Select};
use super::input::{is_npy, InputArgs, RecipeArgs};
use super::multiclass::{class_json, class_weight, csv_cell, sample_weights, weight_flags, MultiClassChoice};

/// The flags of `path` and `cv` that apply to three or more classes.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct ClassArgs {
    /// With three or more classes: multinomial (the default and the only form these commands fit;
    /// `ovr` is refused: fit one-vs-rest at one λ with `logreg train --multi-class ovr`).
    #[arg(long, value_enum)]
    pub(crate) multi_class: Option<MultiClassChoice>,
    /// With three or more classes: a weight per row, a CSV column of --data (then not a feature)
    /// or a .npy file; cv's folds carry them.
    #[arg(long, value_name = "COLUMN|FILE.npy")]
    pub(crate) sample_weight: Option<String>,
    /// With three or more classes: `balanced` (computed on all rows) or LABEL=W,… (a class not
    /// named weighs 1).
    #[arg(long, value_name = "balanced|LABEL=W,…")]
    pub(crate) class_weight: Option<String>,
}

impl ClassArgs {
    /// The first of these flags given.
    pub(crate) fn first_given(&self) -> Option<&'static str> {
        [
            (self.multi_class.is_some(), "--multi-class"),
            (self.sample_weight.is_some(), "--sample-weight"),
            (self.class_weight.is_some(), "--class-weight"),
        ]
        .into_iter()
        .find(|(given, _)| *given)
        .map(|(_, flag)| flag)
    }

    /// Refuses these flags for labels of two classes.
    pub(crate) fn refuse_for_two(&self) -> anyhow::Result<()> {
        match self.first_given() {
            Some(flag) => bail!("{flag} applies to `path` and `cv` with three or more classes; the labels hold two"),
            None => Ok(()),
        }
    }
}

/// A table of three or more classes, ready for the path: its recipe, the classes in order and
/// the weights of the flags.
pub(crate) struct MultiTable {
    pub(crate) table: Table,
    pub(crate) recipe: Option<Recipe>,
    pub(crate) classes: Vec<String>,
    pub(crate) weights: Weights,
}

impl MultiTable {
    /// `table` (labels: indices into `classes`) with the weights `flags` ask for (`column`: the
    /// CSV column's values already read).
    pub(crate) fn new(
        table: Table,
        recipe: Option<Recipe>,
        classes: Vec<String>,
        column: Option<Vec<f64>>,
        flags: &ClassArgs,
    ) -> anyhow::Result<Self> {
        if flags.multi_class == Some(MultiClassChoice::Ovr) {
            bail!(
                "--multi-class ovr: `path` and `cv` fit the multinomial model; fit one-vs-rest at one λ with `logreg train --multi-class ovr`"
            );
        }
        let sample = sample_weights(flags.sample_weight.as_deref(), column, table.rows())?;
        let class = flags.class_weight.as_deref().map(|t| class_weight(t, &classes)).transpose()?;
        Ok(Self { table, recipe, classes, weights: Weights { sample, class } })
    }

    /// The class index of each row.
    fn labels(&self) -> Vec<i64> {
        self.table.labels.iter().map(|&l| l as i64).collect()
    }

    /// Each row's weight (sample × class), or none; a class whose rows all weigh 0 is named.
    fn row_weights(&self, labels: &[i64]) -> anyhow::Result<Option<Vec<f64>>> {
        let rows = self.weights.per_row(labels, self.classes.len()).map_err(weight_flags)?;
        if let Some(w) = &rows {
            let mut totals = vec![0.0f64; self.classes.len()];
            for (&l, &w) in labels.iter().zip(w) {
                totals[l as usize] += w;
            }
            if let Some(c) = totals.iter().position(|&t| t <= 0.0) {
                let flag = if self.weights.class.is_some() { "--class-weight" } else { "--sample-weight" };
                bail!(
                    "{flag}: class `{}` has no rows of weight > 0 (its probability would run to 0)",
                    shown(&self.classes[c])
                );
            }
        }
        Ok(rows)
    }

    /// The features `[n, d]` (f32, on the CPU).
    fn x(&self) -> anyhow::Result<Tensor> {
        let d = self.table.feature_names.len() as i64;
        Ok(Tensor::f_from_slice(&self.table.features)?.f_view([-1, d])?)
    }
}

/// A `.npy` `--data` whose `--labels` hold three or more values: the table, its classes (named by
/// the recipe file `convert` wrote beside it, if any) and weights; `None` for two classes.
pub(crate) fn npy_multiclass(
    input: &InputArgs,
    recipe: &RecipeArgs,
    flags: &ClassArgs,
) -> anyhow::Result<Option<MultiTable>> {
    let (true, Some(y)) = (is_npy(&input.data), input.labels.as_deref()) else { return Ok(None) };
    let max = recipe.max_classes.map_or(logreg::data::labels::MAX_CLASSES, |m| m.max(2) as usize);
    let (labels, classes) = logreg::data::npy::read_class_labels(y, max)?;
    if classes.len() < 3 {
        return Ok(None);
    }
    if let Some(flag) = recipe.first_given().filter(|f| *f != "--max-classes") {
        bail!("{flag} applies to a CSV --data; {} is a .npy array", input.data.display());
    }
    if let Some(column) = super::multiclass::weight_column(flags.sample_weight.as_deref()) {
        bail!("--sample-weight `{column}`: a .npy --data has no named columns; give a .npy file of weights");
    }
    let mut table = logreg::data::npy::read_table(&input.data, None)?;
    if labels.len() != table.rows() {
        bail!("--labels {}: {} labels for the {} rows of --data", y.display(), labels.len(), table.rows());
    }
    table.labels = labels;
    table.label_name = Some("y".into());
    // Converted from a CSV file: its columns, classes and recipe, which cv's model records.
    let file_recipe = input.npy_recipe(table.rows(), table.feature_names.len(), Some(&table.labels))?;
    if let Some(r) = &file_recipe {
        table.feature_names = r.feature_names();
        table.label_name = Some(r.label.clone());
    }
    let classes = super::multiclass::recipe_classes(file_recipe.as_ref(), classes)?;
    MultiTable::new(table, file_recipe, classes, None, flags).map(Some)
}

/// The solver for K classes of d features: `--solver` newton or fista, else newton while the
/// (d+1)·K block Hessian stays small, else fista (as `train`'s auto).
fn solver(choice: Option<SolverKind>, features: usize, classes: usize) -> anyhow::Result<SolverKind> {
    match choice {
        None => Ok(logreg::train::multiclass::auto_kind(features, classes)),
        Some(k @ (SolverKind::Newton | SolverKind::Fista)) => Ok(k),
        Some(_) => bail!("--solver tron and newton-cd fit two classes; with three or more use newton or fista"),
    }
}

/// `path` on a table of three or more classes.
pub(crate) fn path(
    args: &PathArgs,
    mut config: PathConfig,
    m: MultiTable,
    device: tch::Device,
) -> anyhow::Result<ExitCode> {
    let names = m.table.feature_names.clone();
    config.kind = solver(args.grid.solver, names.len(), m.classes.len())?;
    let labels = m.labels();
    let weights = m.row_weights(&labels)?;
    let x = m.x()?;
    let x = if args.standardize { Standardizer::fit(&x)?.apply(&x)? } else { x };
    super::stop_on_ctrl_c()?;
    let points =
        multinomial_path::path(&x.f_to_device(device)?, &labels, m.classes.len(), weights.as_deref(), &config)?;
    write_path(args, &points, &names, &m.classes)
}

/// The weights of a point as K rows of d.
fn coef_rows(p: &MultinomialPathPoint) -> Vec<&[f64]> {
    p.coef.chunks(p.coef.len() / p.intercept.len().max(1)).collect()
}

/// Column names `class:feature`, class by class.
fn class_features(classes: &[String], names: &[String]) -> Vec<String> {
    classes.iter().flat_map(|c| names.iter().map(move |f| format!("{c}:{f}"))).collect()
}

/// The multinomial path's outputs: `--csv`, `--plot` (each made first, then all written), and
/// the table or `--json` on stdout.
fn write_path(
    args: &PathArgs,
    points: &[MultinomialPathPoint],
    names: &[String],
    classes: &[String],
) -> anyhow::Result<ExitCode> {
    let finite =
        |p: &&MultinomialPathPoint| p.objective.is_finite() && p.intercept.iter().chain(&p.coef).all(|c| c.is_finite());
    if let Some(p) = points.iter().find(|p| !finite(p)) {
        return Err(not_finite(p.lambda, p.objective));
    }
    let unconverged = points.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        warnln!("warning: {unconverged} of {} fits stopped at --max-iter without converging", points.len());
    }
    let columns = class_features(classes, names);
    let csv = args.csv.as_ref().map(|path| {
        let mut header = vec!["lambda".to_string(), "nonzero".into(), "objective".into()];
        header.extend(classes.iter().map(|c| csv_cell(&format!("intercept:{c}"))));
        header.extend(columns.iter().map(|c| csv_cell(c)));
        let mut out = header.join(",") + "\n";
        for p in points {
            let mut row = vec![short(p.lambda), p.nonzero.to_string(), short(p.objective)];
            row.extend(p.intercept.iter().chain(&p.coef).map(|&v| short(v)));
            out += &(row.join(",") + "\n");
        }
        (path, out)
    });
    let plot = match &args.plot {
        Some(path) => {
            let lambdas: Vec<f64> = points.iter().map(|p| p.lambda).collect();
            let coefs: Vec<Vec<f64>> = points.iter().map(|p| p.coef.clone()).collect();
            Some((path, logreg::plot::coefficient_paths(&lambdas, &coefs, &columns)?))
        }
        None => None,
    };
    let mut outputs = vec![];
    outputs.extend(csv.as_ref().map(|(path, out)| ("--csv", path.as_path(), out.as_bytes())));
    outputs.extend(plot.as_ref().map(|(path, png)| ("--plot", path.as_path(), &png[..])));
    super::write_outputs(&outputs)?;
    if super::json() {
        let path: Vec<serde_json::Value> = points
            .iter()
            .map(|p| {
                serde_json::json!({
                    "lambda": p.lambda, "nonzero": p.nonzero, "objective": p.objective,
                    "iterations": p.iterations, "converged": p.converged,
                    "intercept": p.intercept, "coef": coef_rows(p),
                })
            })
            .collect();
        let classes: Vec<serde_json::Value> = classes.iter().map(|c| class_json(c)).collect();
        jsonln!(serde_json::json!({
            "features": names, "classes": classes, "multi_class": "multinomial",
            "alpha": args.grid.alpha, "path": path,
        }))?;
    } else {
        outln!("{:>12}  {:>7}  {:>12}  {:>10}", "lambda", "nonzero", "objective", "iterations")?;
        for p in points {
            outln!("{:>12.6e}  {:>7}  {:>12.6}  {:>10}", p.lambda, p.nonzero, p.objective, p.iterations)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cv` on a table of three or more classes: the folds stratified by class, then the refit
/// model written as `train` writes a multiclass one.
pub(crate) fn cv(args: &CvArgs, mut config: CvConfig, m: MultiTable, device: tch::Device) -> anyhow::Result<ExitCode> {
    if config.batch_folds == Some(true) {
        bail!("--batch-folds on applies to two classes; with three or more the folds are solved apart");
    }
    config.batch_folds = Some(false);
    let names = m.table.feature_names.clone();
    config.path.kind = solver(args.grid.solver, names.len(), m.classes.len())?;
    let labels = m.labels();
    let weights = m.row_weights(&labels)?;
    let x = m.x()?.f_to_device(device)?;
    super::stop_on_ctrl_c()?;
    let started = std::time::Instant::now();
    let r =
        multinomial_cv::cross_validate(&x, &labels, &m.classes, weights.as_deref(), &config).map_err(|e| match e {
            logreg::Error::InvalidData { name: "folds", .. } => anyhow::Error::from(e).context("--folds"),
            e => e.into(),
        })?;
    let fit_seconds = started.elapsed().as_secs_f64();
    write_cv(args, &config, &r, m, names, weights.is_some(), fit_seconds)
}

/// cv's outputs for three or more classes: the refit multiclass model at the chosen λ, `--csv`,
/// and the table or `--json` on stdout.
fn write_cv(
    args: &CvArgs,
    config: &CvConfig,
    r: &MulticlassCvResult,
    m: MultiTable,
    names: Vec<String>,
    weighted: bool,
    fit_seconds: f64,
) -> anyhow::Result<ExitCode> {
    let chosen = match args.select {
        Select::Best => r.best,
        Select::OneSe => r.one_se,
    };
    let unconverged = r.full.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        warnln!("warning: {unconverged} of {} fits on all rows stopped at --max-iter without converging", r.full.len());
    }
    let rows = m.table.rows();
    let label_name = m.table.label_name.clone().unwrap_or_default();
    let mut model = r.model(chosen, config, m.classes.clone(), names.clone(), label_name);
    // The model reads raw files as this run read its --data: columns, levels, fills, classes.
    model.recipe = m.recipe.map(|r| Recipe { class_names: Some(m.classes.clone()), ..r });
    let table: Vec<CvRow> = r
        .points
        .iter()
        .map(|p| CvRow {
            lambda: p.lambda,
            nonzero: p.nonzero,
            log_loss: (p.log_loss_mean, p.log_loss_std, p.log_loss_se),
            second: (p.accuracy_mean, p.accuracy_std),
        })
        .collect();
    let table_csv = args.csv.as_ref().map(|path| (path, cv_csv("accuracy", &table)));
    // The model's bytes are checked (finite) before anything is written.
    let bytes = model.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    let mut outputs = vec![("--out", args.out.as_path(), &bytes[..])];
    outputs.extend(table_csv.as_ref().map(|(path, out)| ("--csv", path.as_path(), out.as_bytes())));
    super::write_outputs(&outputs)?;
    let (best, one_se, fit) = (&r.points[r.best], &r.points[r.one_se], &r.full[chosen]);
    if super::json() {
        let fold_scores: Vec<serde_json::Value> = r
            .fold_scores
            .iter()
            .map(|s| {
                let (loss, accuracy): (Vec<f64>, Vec<f64>) = s.iter().copied().unzip();
                serde_json::json!({ "log_loss": loss, "accuracy": accuracy })
            })
            .collect();
        let classes: Vec<serde_json::Value> = m.classes.iter().map(|c| class_json(c)).collect();
        jsonln!(serde_json::json!({
            "folds": config.folds, "fold_sizes": r.fold_sizes, "fit_seconds": fit_seconds,
            "alpha": args.grid.alpha, "classes": classes, "multi_class": "multinomial", "weighted": weighted,
            "points": r.points, "fold_scores": fold_scores,
            "best": best, "one_se": one_se, "chosen": r.points[chosen],
            "coef": coef_rows(fit), "intercept": fit.intercept, "features": names, "model": args.out,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    print_cv_table("accuracy (± std)", &table, r.best, r.one_se)?;
    outln!(
        "{}-fold CV on {rows} rows, {} classes{}: best λ {:.6e} (log-loss {:.5}, {} non-zero); 1-SE λ {:.6e} (log-loss {:.5}, {} non-zero)",
        config.folds,
        m.classes.len(),
        if weighted { ", weighted" } else { "" },
        best.lambda,
        best.log_loss_mean,
        best.nonzero,
        one_se.lambda,
        one_se.log_loss_mean,
        one_se.nonzero
    )?;
    outln!("refitted on all rows at λ {:.6e}: wrote {}", fit.lambda, args.out.display())?;
    Ok(ExitCode::SUCCESS)
}
