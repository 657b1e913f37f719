//! `logreg path` and `logreg cv`: the λ grid's flags they share, the path's table and the
//! cross-validation's choice of λ and refit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use logreg::error::short;

use logreg::data::dataset::{Dataset, Standardizer};
use logreg::data::npy::feature_names;
use logreg::device::DeviceChoice;
use logreg::solvers::cv::{cross_validate, cross_validate_sparse, CvConfig};
use logreg::solvers::path::{sparse_path, PathConfig};
use logreg::solvers::{SolverConfig, SolverKind};

use logreg::data::recipe::Recipe;
use logreg::data::table::Table;

use super::grid_multiclass::{npy_multiclass, ClassArgs, MultiTable};
use super::input::{InputArgs, RecipeArgs};
use super::multiclass::weight_column;
use super::sparse::{check_width, grid_solver, is_sparse_input, read_input, SparseFlags, EXACT_BYTES_PER_FEATURE};
use super::{at_least_one, resolve_device, stop_on_ctrl_c};

/// The λ grid and the solver, shared by `path` and `cv`.
#[derive(Args)]
pub(crate) struct GridArgs {
    /// glmnet's α in (0, 1]: objective = mean logloss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) alpha: f64,
    /// Number of λ values on the log grid.
    #[arg(long, default_value_t = 50)]
    pub(crate) n_lambdas: i64,
    /// λ_min / λ_max.
    #[arg(long, default_value = "1e-3")]
    pub(crate) lambda_ratio: f64,
    /// Each fit stops when the optimality measure falls to this fraction of its value at zero.
    #[arg(long, default_value = "1e-8")]
    pub(crate) tol: f64,
    /// Iteration limit per λ [default: 100 for newton, 20000 for fista].
    #[arg(long)]
    pub(crate) max_iter: Option<i64>,
    /// newton = proximal Newton (d×d Hessian; best for up to a few thousand features), fista =
    /// accelerated proximal gradient (matrix-vector products only), newton-cd = coordinate
    /// descent on X's columns with the strong rule [default: newton; newton-cd for sparse --data].
    #[arg(long, value_enum)]
    pub(crate) solver: Option<SolverKind>,
}

impl GridArgs {
    /// The path's settings, fitted by `kind`.
    pub(crate) fn config(&self, kind: SolverKind) -> anyhow::Result<PathConfig> {
        if self.n_lambdas < 2 {
            bail!("invalid --n-lambdas: {} (must be at least 2)", self.n_lambdas);
        }
        Ok(PathConfig {
            n_lambdas: self.n_lambdas as usize,
            ratio: self.lambda_ratio,
            alpha: self.alpha,
            kind,
            solver: SolverConfig { tol: self.tol, max_iter: at_least_one("max-iter", self.max_iter)? },
        })
    }
}

#[derive(Args)]
pub(crate) struct PathArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) recipe: RecipeArgs,
    /// Scale features to mean 0, std 1 first.
    #[arg(long)]
    pub(crate) standardize: bool,
    #[command(flatten)]
    pub(crate) grid: GridArgs,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Also write the path as CSV: lambda, nonzero, objective, intercept, then one column per feature
    /// (three or more classes: an intercept per class, then a column per class and feature).
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// Draw the coefficients against log10 λ to this PNG file.
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
    /// --format and --n-features for sparse --data.
    #[command(flatten)]
    pub(crate) sparse: Box<SparseFlags>,
    /// --multi-class, --sample-weight and --class-weight (three or more classes).
    #[command(flatten)]
    pub(crate) classes: ClassArgs,
}

#[derive(Args)]
pub(crate) struct CvArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) recipe: RecipeArgs,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    pub(crate) folds: i64,
    /// Seeds the assignment of rows to folds.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Scale features to mean 0, std 1: within each fold with its training rows' statistics, and
    /// for the refit with all rows' (stored in the model).
    #[arg(long)]
    pub(crate) standardize: bool,
    #[command(flatten)]
    pub(crate) grid: GridArgs,
    /// Which λ the written model uses: best = lowest mean held-out log-loss; one-se = the largest
    /// λ within one standard error of it (sparser).
    #[arg(long, value_enum, default_value_t = Select::Best)]
    pub(crate) select: Select,
    /// Folds fitted at once on threads, when not batched [default: the number of CPU cores, at
    /// most --folds; 1 on CUDA].
    #[arg(long)]
    pub(crate) jobs: Option<i64>,
    /// Solve the folds together (newton only): each pass over X serves every fold. auto = on a
    /// CUDA device with newton, where a pass costs about the same for one fold or all.
    #[arg(long, value_enum, default_value_t = BatchFolds::Auto)]
    pub(crate) batch_folds: BatchFolds,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Where to write the model refitted on all rows (safetensors).
    #[arg(long, default_value = "model.safetensors")]
    pub(crate) out: PathBuf,
    /// Also write the table as CSV: lambda, nonzero, log-loss mean/std/se, AUC mean/std (accuracy
    /// mean/std with three or more classes).
    #[arg(long)]
    pub(crate) csv: Option<PathBuf>,
    /// --format and --n-features for sparse --data.
    #[command(flatten)]
    pub(crate) sparse: Box<SparseFlags>,
    /// --multi-class, --sample-weight and --class-weight (three or more classes).
    #[command(flatten)]
    pub(crate) classes: ClassArgs,
}

/// `--batch-folds`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BatchFolds {
    Auto,
    On,
    Off,
}

/// Which cross-validated λ to keep.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Select {
    Best,
    OneSe,
}

/// What `path` and `cv` read: a table of two classes (and its recipe, none when plain), or of
/// three or more.
enum Loaded {
    Binary(Table, Option<Recipe>),
    Multi(MultiTable),
}

/// The table for `path` and `cv`, read through the recipe flags as `train` reads it. Missing
/// cells are filled with all rows' means or medians: both commands fit on all rows (cv's folds
/// share the fills, as they share the λ grid). A plain recipe is none (a version 1 model).
fn load_table(input: &InputArgs, flags: &RecipeArgs, classes: &ClassArgs) -> anyhow::Result<Loaded> {
    if let Some(multi) = npy_multiclass(input, flags, classes)? {
        return Ok(Loaded::Multi(multi));
    }
    let column = weight_column(classes.sample_weight.as_deref());
    let (mut table, mut recipe, dropped, weights) = input.load_weighted(flags, column)?;
    if dropped > 0 {
        warnln!(
            "note: --missing drop-rows left out {dropped} of {} rows (a missing cell in each)",
            dropped + table.rows()
        );
    }
    if let Some(r) = recipe.as_mut() {
        r.impute(&input.data.display().to_string(), &mut [&mut table.features])?;
    }
    if let Some(names) = recipe.as_ref().and_then(|r| r.class_names.clone()) {
        return Ok(Loaded::Multi(MultiTable::new(table, recipe, names, weights, classes)?));
    }
    classes.refuse_for_two()?;
    Ok(Loaded::Binary(table, recipe.filter(|r| !r.is_plain())))
}

/// Sparse `--data` holds two classes (its reader refuses other labels): the class flags do not apply.
fn refuse_class_flags(classes: &ClassArgs) -> anyhow::Result<()> {
    match classes.first_given() {
        Some(flag) => {
            bail!("{flag} applies to CSV and .npy --data with three or more classes; sparse --data holds two")
        }
        None => Ok(()),
    }
}

/// The solver `path` and `cv` use: newton-cd for sparse `--data` (after its checks), else `--solver`
/// or newton; `--n-features` is refused for dense data.
fn grid_kind(
    sparse: bool,
    flags: &SparseFlags,
    grid: &GridArgs,
    standardize: bool,
    device: DeviceChoice,
) -> anyhow::Result<SolverKind> {
    if sparse {
        return grid_solver(grid.solver, standardize, device);
    }
    if flags.n_features.is_some() {
        bail!("--n-features applies to sparse --data (libsvm, .npz)");
    }
    Ok(grid.solver.unwrap_or(SolverKind::Newton))
}

pub(crate) fn path(args: PathArgs) -> anyhow::Result<ExitCode> {
    let sparse = is_sparse_input(&args.input, &args.sparse);
    let config = args.grid.config(grid_kind(sparse, &args.sparse, &args.grid, args.standardize, args.device)?)?;
    let mut outputs = vec![];
    outputs.extend(args.csv.as_deref().map(|p| ("--csv", p)));
    outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
    args.input.check_outputs(&outputs)?;
    let mut shape = None;
    let (points, names) = if sparse {
        refuse_class_flags(&args.classes)?;
        let data = read_input(&args.input, &args.sparse)?;
        check_width(&data.source, data.x.cols(), EXACT_BYTES_PER_FEATURE)?;
        stop_on_ctrl_c()?;
        shape = Some((data.x.rows(), data.x.cols(), data.x.nnz()));
        (sparse_path(&data.x, &data.labels, &config)?, feature_names(data.x.cols()))
    } else {
        let device = resolve_device(args.device)?;
        let table = match load_table(&args.input, &args.recipe, &args.classes)? {
            Loaded::Multi(m) => return super::grid_multiclass::path(&args, config, m, device),
            Loaded::Binary(table, _) => table,
        };
        stop_on_ctrl_c()?;
        let data = Dataset::from_table(&table)?;
        let x = if args.standardize { Standardizer::fit(&data.x)?.apply(&data.x)? } else { data.x };
        (logreg::solvers::path::path(&x.to_device(device), &data.y.to_device(device), &config)?, table.feature_names)
    };
    write_path(&args, &points, &names, shape, None)
}

/// The path's outputs: `--csv`, `--plot` (each made first, then all written), and the table or
/// `--json` on stdout (with `world_size` when distributed).
pub(crate) fn write_path(
    args: &PathArgs,
    points: &[logreg::solvers::path::PathPoint],
    names: &[String],
    shape: Option<(usize, usize, usize)>,
    world_size: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let finite = |p: &&logreg::solvers::path::PathPoint| {
        p.objective.is_finite() && p.intercept.is_finite() && p.coef.iter().all(|c| c.is_finite())
    };
    if let Some(p) = points.iter().find(|p| !finite(p)) {
        return Err(not_finite(p.lambda, p.objective));
    }
    let unconverged = points.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        warnln!("warning: {unconverged} of {} fits stopped at --max-iter without converging", points.len());
    }
    // Every output is made first, and written only once all of them are.
    let csv = args.csv.as_ref().map(|path| {
        let mut out = format!("lambda,nonzero,objective,intercept,{}\n", names.join(","));
        for p in points {
            let coefs: Vec<String> = p.coef.iter().map(|&c| short(c)).collect();
            let (lambda, objective, intercept) = (short(p.lambda), short(p.objective), short(p.intercept));
            out += &format!("{lambda},{},{objective},{intercept},{}\n", p.nonzero, coefs.join(","));
        }
        (path, out)
    });
    let plot = match &args.plot {
        Some(path) => {
            let lambdas: Vec<f64> = points.iter().map(|p| p.lambda).collect();
            let coefs: Vec<Vec<f64>> = points.iter().map(|p| p.coef.clone()).collect();
            Some((path, logreg::plot::coefficient_paths(&lambdas, &coefs, names)?))
        }
        None => None,
    };
    let mut outputs = vec![];
    outputs.extend(csv.as_ref().map(|(path, out)| ("--csv", path.as_path(), out.as_bytes())));
    outputs.extend(plot.as_ref().map(|(path, png)| ("--plot", path.as_path(), &png[..])));
    super::write_outputs(&outputs)?;
    if super::json() {
        let mut json = serde_json::json!({ "features": names, "alpha": args.grid.alpha, "path": points });
        if let Some(size) = world_size {
            json["world_size"] = serde_json::json!(size);
        }
        if let Some((rows, cols, nnz)) = shape {
            json["sparse"] = serde_json::json!({ "rows": rows, "features": cols, "nnz": nnz, "solver": "newton-cd" });
        }
        jsonln!(json)?;
    } else {
        outln!("{:>12}  {:>7}  {:>12}  {:>10}", "lambda", "nonzero", "objective", "iterations")?;
        for p in points {
            outln!("{:>12.6e}  {:>7}  {:>12.6}  {:>10}", p.lambda, p.nonzero, p.objective, p.iterations)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--folds`, checked: cv needs at least two folds (one to hold out, one to train on).
pub(crate) fn folds(value: i64) -> anyhow::Result<usize> {
    match usize::try_from(value) {
        Ok(k) if k >= 2 => Ok(k),
        _ => bail!("invalid --folds: {value} (must be at least 2)"),
    }
}

pub(crate) fn cv(args: CvArgs) -> anyhow::Result<ExitCode> {
    let folds = folds(args.folds)?;
    let mut outputs = vec![("--out", args.out.as_path())];
    outputs.extend(args.csv.as_deref().map(|p| ("--csv", p)));
    args.input.check_outputs(&outputs)?;
    let sparse = is_sparse_input(&args.input, &args.sparse);
    let kind = grid_kind(sparse, &args.sparse, &args.grid, args.standardize, args.device)?;
    let device = if sparse { tch::Device::Cpu } else { resolve_device(args.device)? };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = match at_least_one("jobs", args.jobs)? {
        Some(j) => j,
        None if device.is_cuda() => 1,
        None => cores.min(folds),
    };
    let batch_folds = match args.batch_folds {
        BatchFolds::Auto => None,
        BatchFolds::On => Some(true),
        BatchFolds::Off => Some(false),
    };
    if sparse && batch_folds == Some(true) {
        bail!("--batch-folds on: sparse --data solves its folds apart (with newton-cd)");
    }
    let (seed, standardize, path) = (args.seed, args.standardize, args.grid.config(kind)?);
    let config = CvConfig { folds, seed, standardize, path, jobs, batch_folds };
    config.validate()?;
    let (r, rows, names, label_name, recipe, fit_seconds);
    if sparse {
        refuse_class_flags(&args.classes)?;
        let data = read_input(&args.input, &args.sparse)?;
        check_width(&data.source, data.x.cols(), EXACT_BYTES_PER_FEATURE)?;
        stop_on_ctrl_c()?;
        let started = std::time::Instant::now();
        r = cross_validate_sparse(&data.x, &data.labels, &config)?;
        fit_seconds = started.elapsed().as_secs_f64();
        (rows, names, label_name, recipe) = (data.x.rows(), feature_names(data.x.cols()), "y".to_string(), None);
    } else {
        let (table, table_recipe) = match load_table(&args.input, &args.recipe, &args.classes)? {
            Loaded::Multi(m) => return super::grid_multiclass::cv(&args, config, m, device),
            Loaded::Binary(table, recipe) => (table, recipe),
        };
        stop_on_ctrl_c()?;
        let data = Dataset::from_table(&table)?;
        let started = std::time::Instant::now();
        r = cross_validate(&data.x.to_device(device), &data.y.to_device(device), &config)?;
        fit_seconds = started.elapsed().as_secs_f64();
        (rows, names, recipe) = (table.labels.len(), table.feature_names, table_recipe);
        label_name = table.label_name.unwrap_or_default();
    }
    write_cv(&args, &config, &r, rows, names, label_name, recipe, fit_seconds, None)
}

/// cv's outputs: the refit model at the chosen λ, `--csv`, and the table or `--json` on stdout
/// (with `world_size` when distributed). A NaN AUC (a distributed run's, or a fold of one class)
/// is an empty CSV cell and a JSON null.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_cv(
    args: &CvArgs,
    config: &CvConfig,
    r: &logreg::solvers::cv::CvResult,
    rows: usize,
    names: Vec<String>,
    label_name: String,
    recipe: Option<Recipe>,
    fit_seconds: f64,
    world_size: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let folds = config.folds;
    let chosen = match args.select {
        Select::Best => r.best,
        Select::OneSe => r.one_se,
    };
    let fit = &r.full[chosen];
    let unconverged = r.full.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        warnln!("warning: {unconverged} of {} fits on all rows stopped at --max-iter without converging", r.full.len());
    }
    let alpha = args.grid.alpha;
    let mut saved = r.model(chosen, config, names.clone(), label_name);
    // The refit reads raw files as this run read its --data: columns, levels, fills, classes.
    saved.recipe = recipe;
    let table: Vec<CvRow> = r
        .points
        .iter()
        .map(|p| CvRow {
            lambda: p.lambda,
            nonzero: p.nonzero,
            log_loss: (p.log_loss_mean, p.log_loss_std, p.log_loss_se),
            second: (p.auc_mean, p.auc_std),
        })
        .collect();
    let table_csv = args.csv.as_ref().map(|path| (path, cv_csv("auc", &table)));
    // The model's bytes are checked (finite) before anything is written.
    let model = saved.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    let mut outputs = vec![("--out", args.out.as_path(), &model[..])];
    outputs.extend(table_csv.as_ref().map(|(path, out)| ("--csv", path.as_path(), out.as_bytes())));
    super::write_outputs(&outputs)?;
    let (best, one_se) = (&r.points[r.best], &r.points[r.one_se]);
    if super::json() {
        let mut json = serde_json::json!({
            "folds": folds, "fold_sizes": r.fold_sizes, "batched_folds": r.batched, "fit_seconds": fit_seconds,
            "alpha": alpha, "points": r.points,
            "best": best, "one_se": one_se, "chosen": r.points[chosen],
            "coef": fit.coef, "intercept": fit.intercept, "features": names, "model": args.out,
        });
        if let Some(size) = world_size {
            json["world_size"] = serde_json::json!(size);
        }
        jsonln!(json)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_cv_table("AUC (± std)", &table, r.best, r.one_se)?;
    outln!(
        "{folds}-fold CV on {} rows: best λ {:.6e} (log-loss {:.5}, {} non-zero); 1-SE λ {:.6e} (log-loss {:.5}, {} non-zero)",
        rows,
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

/// One row of cv's table: λ, non-zeros, the held-out log-loss's mean, std and standard error,
/// and the second score's (AUC, or accuracy with three or more classes) mean and std.
pub(crate) struct CvRow {
    pub lambda: f64,
    pub nonzero: usize,
    pub log_loss: (f64, f64, f64),
    pub second: (f64, f64),
}

/// cv's `--csv` table; `second` names the second score's columns (`auc` or `accuracy`), left
/// empty where it is undefined (AUC of a fold with one class).
pub(crate) fn cv_csv(second: &str, rows: &[CvRow]) -> String {
    let mut out = format!("lambda,nonzero,log_loss_mean,log_loss_std,log_loss_se,{second}_mean,{second}_std\n");
    let cell = |v: f64| if v.is_finite() { short(v) } else { String::new() };
    for p in rows {
        let (mean, std, se) = (short(p.log_loss.0), short(p.log_loss.1), short(p.log_loss.2));
        let (lambda, second_mean, second_std) = (short(p.lambda), cell(p.second.0), cell(p.second.1));
        out += &format!("{lambda},{},{mean},{std},{se},{second_mean},{second_std}\n", p.nonzero);
    }
    out
}

/// A path point that is not finite, refused before anything is written: at so small a λ the
/// data (separable, most likely) let the weights run off.
pub(crate) fn not_finite(lambda: f64, objective: f64) -> anyhow::Error {
    anyhow::anyhow!(
        "the fit at λ {} did not stay finite (objective {objective}): the data are separable or nearly so at so small a λ; raise --lambda-ratio",
        short(lambda)
    )
}

/// cv's printed table, the best and one-standard-error points marked; `title` heads the second
/// score's column, whose numbers take as much room as it.
pub(crate) fn print_cv_table(title: &str, rows: &[CvRow], best: usize, one_se: usize) -> anyhow::Result<()> {
    let width = (title.chars().count().max(15) - 2) / 2;
    outln!("{:>12}  {:>7}  {:>19}  {:>w2$}", "lambda", "nonzero", "log-loss (± std)", title, w2 = 2 * width + 3)?;
    for (i, p) in rows.iter().enumerate() {
        let mark = match (i == best, i == one_se) {
            (true, true) => "  best, 1-SE",
            (true, false) => "  best",
            (false, true) => "  1-SE",
            _ => "",
        };
        outln!(
            "{:>12.6e}  {:>7}  {:>9.5} ± {:<7.5}  {:>width$.4} ± {:<width$.4}{mark}",
            p.lambda,
            p.nonzero,
            p.log_loss.0,
            p.log_loss.1,
            p.second.0,
            p.second.1
        )?;
    }
    Ok(())
}
