//! `logreg train`: the flags (three ways to write the penalty, the solver, the engine, checkpoints),
//! the settings they make, and the run with its progress bar and report.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use logreg::data::recipe::Recipe;
use logreg::data::source::Source;
use logreg::data::stream::NpyRows;
use logreg::data::table::Table;
use logreg::device::DeviceChoice;
use logreg::model::penalty::{Penalty, PenaltyKind};
use logreg::solvers::{Problem, SolverConfig, SolverKind};
use logreg::train::checkpoint;
use logreg::train::fit::{fit, fit_recipe, FitConfig};
use logreg::train::optim::OptimizerKind;
use logreg::train::{Checkpoints, Engine, LossKind, Snapshot, TrainConfig};

use super::input::{InputArgs, RecipeArgs};
use super::{at_least_one, check_lambda_flags, check_outputs, resolve_device, stop_on_ctrl_c};

#[derive(Args)]
pub(crate) struct TrainArgs {
    #[command(flatten)]
    pub(crate) input: InputArgs,
    #[command(flatten)]
    pub(crate) recipe: RecipeArgs,
    /// Tutorial form [default: l2]: objective = mean loss + λ₁‖w‖₁ + λ₂‖w‖₂² (see the README for
    /// the three forms).
    #[arg(long, value_enum)]
    pub(crate) penalty: Option<PenaltyKind>,
    /// λ for l1 and l2 [default: 0.001]; with --alpha, glmnet's λ.
    #[arg(long)]
    pub(crate) lambda: Option<f64>,
    /// λ₁ for elastic-net [default: 0.0005].
    #[arg(long)]
    pub(crate) lambda_l1: Option<f64>,
    /// λ₂ for elastic-net [default: 0.0005].
    #[arg(long)]
    pub(crate) lambda_l2: Option<f64>,
    /// scikit-learn's C: objective = r(w) + C·Σ logloss, r = ρ‖w‖₁ + (1−ρ)/2‖w‖₂².
    #[arg(long = "C")]
    pub(crate) c: Option<f64>,
    /// scikit-learn's l1_ratio ρ, with --C [default: 0].
    #[arg(long)]
    pub(crate) l1_ratio: Option<f64>,
    /// glmnet's α, with --lambda: objective = mean logloss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²).
    #[arg(long)]
    pub(crate) alpha: Option<f64>,
    /// auto = newton, tron or newton-cd by a cost model of rows, features, non-zeros and penalty
    /// (all reach the optimum, with exact zeros under L1; `--json` says which and why), adam with
    /// --stream; tron = trust-region Newton-CG (L2 only), newton-cd = proximal Newton with
    /// coordinate descent (L1, Elastic Net); sgd and adam run --epochs of the tutorial's optimizers.
    #[arg(long, value_enum, alias = "optimizer", default_value_t = SolverChoice::Auto)]
    pub(crate) solver: SolverChoice,
    /// newton/fista stop when the optimality measure falls to this fraction of its start.
    #[arg(long, default_value = "1e-8")]
    pub(crate) tol: f64,
    /// newton/fista iteration limit [default: 100 for newton, 20000 for fista].
    #[arg(long)]
    pub(crate) max_iter: Option<i64>,
    /// Learning rate for sgd and adam [default: 0.01].
    #[arg(long)]
    pub(crate) lr: Option<f64>,
    /// Epochs for sgd and adam [default: 300].
    #[arg(long)]
    pub(crate) epochs: Option<i64>,
    /// Rows per mini-batch, reshuffled every epoch by --seed [default: all rows].
    #[arg(long)]
    pub(crate) batch_size: Option<i64>,
    /// Seeds the validation split, the initial weights and the mini-batch order.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Scale features to mean 0, std 1 with the training part's statistics (stored in the model).
    #[arg(long)]
    pub(crate) standardize: bool,
    /// Hold out this fraction of each class for validation (seeded, stratified).
    #[arg(long)]
    pub(crate) validation_split: Option<f64>,
    /// Penalize the bias too, as the tutorial does (scikit-learn and glmnet do not).
    #[arg(long)]
    pub(crate) penalize_bias: bool,
    /// For sgd and adam: bce = the tutorial's Sigmoid + BCELoss; logits =
    /// binary_cross_entropy_with_logits (stable) [default: logits].
    #[arg(long, value_enum)]
    pub(crate) loss: Option<LossKind>,
    /// sgd/adam: autograd = libtorch's autograd, as PyTorch (any device); fused = one pass over
    /// the data per epoch, on CPU threads or, full batch, in a CUDA kernel (the same numbers to
    /// float rounding, faster) [default: autograd; fused with --stream].
    #[arg(long, value_enum)]
    pub(crate) engine: Option<Engine>,
    /// Where to compute: auto = CUDA when there is a usable GPU, else the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Where to write the model (safetensors).
    #[arg(long, default_value = "model.safetensors")]
    pub(crate) out: PathBuf,
    /// Draw the training (and validation) loss per epoch to this PNG file.
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
    /// sgd/adam: every N epochs, write the weights and optimizer state to --checkpoint (replaced
    /// by a rename) and append the epochs' losses to <checkpoint>.losses.
    #[arg(long)]
    pub(crate) checkpoint_every: Option<i64>,
    /// Where checkpoints go [default: the --out path with `.ckpt` appended].
    #[arg(long)]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Continue from this checkpoint: same data and flags (--epochs may be raised), same result
    /// as a run never stopped.
    #[arg(long)]
    pub(crate) resume: Option<PathBuf>,
    /// Read a .npy or .lrcsr --data in chunks every epoch instead of loading it (data larger than
    /// memory; sgd/adam with the fused engine).
    #[arg(long)]
    pub(crate) stream: bool,
    /// With --stream: rows per chunk [default: 32 MiB of rows]; mini-batches stay within a chunk.
    #[arg(long)]
    pub(crate) chunk_rows: Option<i64>,
    /// Three or more classes: multinomial = one softmax model over the classes (scikit-learn's
    /// default); ovr = one binary model per class, probabilities normalised [default: multinomial].
    #[arg(long, value_enum)]
    pub(crate) multi_class: Option<super::multiclass::MultiClassChoice>,
    /// Sample weights: a CSV column of --data (never a feature; `predict` passes over it), or a
    /// .npy file with one weight per row. The objective is the weighted mean loss + the penalty.
    #[arg(long, value_name = "COLUMN|FILE.npy")]
    pub(crate) sample_weight: Option<String>,
    /// Class weights: `balanced` (S / (K·S_k), as scikit-learn) or LABEL=W,… (others weigh 1;
    /// a label may hold commas: `a,b=2`); they multiply the sample weights.
    #[arg(long, value_name = "balanced|LABEL=W,…")]
    pub(crate) class_weight: Option<String>,
    /// --format and --n-features (boxed: they keep `Command`'s variants of like size).
    #[command(flatten)]
    pub(crate) sparse: Box<super::sparse::SparseFlags>,
}

/// How `train` minimises the objective.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SolverChoice {
    Auto,
    Sgd,
    Adam,
    Newton,
    Fista,
    Tron,
    NewtonCd,
}

impl TrainArgs {
    /// The penalty from whichever of the three forms was used; rejects mixed forms.
    pub(crate) fn penalty(&self) -> anyhow::Result<(Penalty, Option<(f64, f64)>)> {
        let tutorial_flags = [
            (self.penalty.is_some(), "--penalty"),
            (self.lambda_l1.is_some(), "--lambda-l1"),
            (self.lambda_l2.is_some(), "--lambda-l2"),
        ];
        let first_tutorial_flag = tutorial_flags.iter().find(|(given, _)| *given).map(|(_, name)| *name);
        if let Some(c) = self.c {
            let clash = first_tutorial_flag
                .or(self.lambda.map(|_| "--lambda"))
                .or(self.alpha.map(|_| "--alpha"))
                .or(self.penalize_bias.then_some("--penalize-bias"));
            if let Some(flag) = clash {
                bail!("--C is scikit-learn's form of the penalty and cannot be combined with {flag}");
            }
            return Ok((Penalty::None, Some((c, self.l1_ratio.unwrap_or(0.0)))));
        }
        if self.l1_ratio.is_some() {
            bail!("--l1-ratio is scikit-learn's and goes with --C");
        }
        if let Some(alpha) = self.alpha {
            let clash = first_tutorial_flag.or(self.penalize_bias.then_some("--penalize-bias"));
            if let Some(flag) = clash {
                bail!("--alpha is glmnet's form of the penalty and cannot be combined with {flag}");
            }
            let Some(lambda) = self.lambda else { bail!("--alpha (glmnet's form) needs --lambda") };
            if !(0.0..=1.0).contains(&alpha) {
                bail!("invalid --alpha: {} (must be between 0 and 1)", logreg::error::short(alpha));
            }
            let p = Problem::from_glmnet(lambda, alpha);
            return Ok((Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 }, None));
        }
        let kind = self.penalty.unwrap_or(PenaltyKind::L2);
        check_lambda_flags(kind, self.lambda, self.lambda_l1, self.lambda_l2)?;
        let lambda = self.lambda.unwrap_or(1e-3);
        Ok((
            match kind {
                PenaltyKind::None => Penalty::None,
                PenaltyKind::L1 => Penalty::L1 { lambda },
                PenaltyKind::L2 => Penalty::L2 { lambda },
                PenaltyKind::ElasticNet => Penalty::ElasticNet {
                    lambda_l1: self.lambda_l1.unwrap_or(5e-4),
                    lambda_l2: self.lambda_l2.unwrap_or(5e-4),
                },
            },
            None,
        ))
    }

    pub(crate) fn engine(&self) -> Engine {
        self.engine.unwrap_or(if self.stream { Engine::Fused } else { Engine::Autograd })
    }

    pub(crate) fn config(&self) -> anyhow::Result<FitConfig> {
        let (penalty, sklearn) = self.penalty()?;
        let epochs = self.epochs.unwrap_or(300);
        if epochs < 1 {
            bail!("invalid --epochs: {epochs} (must be at least 1)");
        }
        let batch_size = at_least_one("batch-size", self.batch_size)?;
        let max_iter = at_least_one("max-iter", self.max_iter)?;
        let exact = |kind| Some((kind, SolverConfig { tol: self.tol, max_iter }));
        let (optimizer, solver) = match self.solver {
            SolverChoice::Sgd => (OptimizerKind::Sgd, None),
            SolverChoice::Adam => (OptimizerKind::Adam, None),
            SolverChoice::Auto if self.stream => (OptimizerKind::Adam, None),
            SolverChoice::Fista => (OptimizerKind::Adam, exact(SolverKind::Fista)),
            SolverChoice::Tron => (OptimizerKind::Adam, exact(SolverKind::Tron)),
            SolverChoice::NewtonCd => (OptimizerKind::Adam, exact(SolverKind::NewtonCd)),
            // `auto` becomes solvers::auto::choose(rows, features, …) once the data is read.
            SolverChoice::Newton | SolverChoice::Auto => (OptimizerKind::Adam, exact(SolverKind::Newton)),
        };
        let epoch_flags =
            [(self.lr.is_some(), "--lr"), (self.epochs.is_some(), "--epochs"), (self.loss.is_some(), "--loss")];
        if let Some((_, flag)) = epoch_flags.iter().find(|(given, _)| *given).filter(|_| solver.is_some()) {
            match self.solver {
                SolverChoice::Auto => bail!(
                    "{flag} applies to --solver sgd and adam; --solver auto runs newton or fista to the optimum \
                     (--tol, --max-iter): add --solver adam to train by epochs"
                ),
                _ => bail!(
                    "{flag} applies to --solver sgd and adam; newton and fista run to the optimum (--tol, --max-iter)"
                ),
            }
        }
        if solver.is_some() && batch_size.is_some() {
            bail!("--batch-size applies to --solver sgd and adam; newton and fista use every row");
        }
        if solver.is_some() && self.stream {
            bail!("--stream trains with --solver sgd or adam (newton and fista need the data in memory)");
        }
        if solver.is_some() && self.engine() == Engine::Fused {
            bail!("--engine fused applies to --solver sgd and adam");
        }
        let config = FitConfig {
            train: TrainConfig {
                lr: self.lr.unwrap_or(0.01),
                epochs: epochs as usize,
                penalty,
                optimizer,
                loss: self.loss.unwrap_or(LossKind::Logits),
                penalize_bias: self.penalize_bias,
                batch_size,
                engine: self.engine(),
            },
            seed: self.seed,
            standardize: self.standardize,
            validation_split: self.validation_split,
            solver,
            sklearn,
        };
        config.validate()?;
        Ok(config)
    }
}

/// A progress bar on stderr when it is a terminal, else nothing.
pub(crate) fn progress(epochs: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(epochs as u64);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} epochs  {msg}  elapsed {elapsed}, left {eta}")
            .expect("valid template");
    bar.set_style(style);
    Some(bar)
}

/// What `train` reads: a table in memory, or a .npy file chunk by chunk (`--stream`).
// One per run: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TrainData {
    /// The table, and the recipe that read it from a CSV file.
    Table(Table, Option<Recipe>),
    /// The .npy file, and the recipe `convert` wrote beside it.
    Stream(NpyRows, Option<Recipe>),
}

impl TrainData {
    pub(crate) fn features(&self) -> usize {
        match self {
            TrainData::Table(t, _) => t.feature_names.len(),
            TrainData::Stream(s, _) => s.features(),
        }
    }
}

pub(crate) fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config()?;
    let every = at_least_one("checkpoint-every", args.checkpoint_every)?;
    if every.is_none() && args.checkpoint.is_some() {
        bail!("--checkpoint names where --checkpoint-every N writes: add --checkpoint-every");
    }
    if every.is_some() && args.checkpoint.as_deref().is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_file())) {
        bail!(
            "--checkpoint {}: not a regular file (a checkpoint is replaced by a rename)",
            args.checkpoint.as_deref().unwrap_or(std::path::Path::new("")).display()
        );
    }
    let checkpoint_path = checkpoint_path(&args);
    let checkpoint_losses = checkpoint::losses_path(&checkpoint_path);
    let mut outputs = vec![("--out", args.out.as_path())];
    outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
    let models = outputs.len();
    if every.is_some() {
        outputs.extend([("--checkpoint", checkpoint_path.as_path()), ("--checkpoint's loss file", &checkpoint_losses)]);
    }
    args.input.check_outputs(&outputs)?;
    // The checkpoint may be the one resumed from (it is replaced only by a later one); the model
    // and plot may not.
    let resume_losses = args.resume.as_deref().map(checkpoint::losses_path);
    if let (Some(resume), Some(resume_losses)) = (args.resume.as_deref(), resume_losses.as_deref()) {
        check_outputs(&outputs[..models], &[("--resume", resume), ("--resume's loss file", resume_losses)])?;
    }
    let weighted = args.sample_weight.is_some() || args.class_weight.is_some();
    if super::sparse::is_sparse(&args) {
        if weighted {
            bail!("--sample-weight and --class-weight apply to CSV and .npy --data");
        }
        return super::sparse::train(&args, config);
    }
    if weighted && args.stream {
        bail!("--sample-weight and --class-weight need the data in memory: drop --stream");
    }
    if args.sparse.n_features.is_some() {
        bail!("--n-features applies to sparse --data (libsvm, .npz)");
    }
    // The fused engine's mini-batches and --stream run on CPU threads: `auto` means the CPU there.
    let mini_batches = args.engine() == Engine::Fused && config.train.batch_size.is_some();
    let device = match (args.stream || mini_batches, args.device) {
        (true, DeviceChoice::Auto) => tch::Device::Cpu,
        (true, DeviceChoice::Cuda) if args.stream => {
            bail!("--stream reads the file on CPU threads; drop --device cuda")
        }
        (true, DeviceChoice::Cuda) => {
            bail!(
                "--engine fused trains full batch on CUDA; drop --batch-size, or use --engine autograd or --device cpu"
            )
        }
        _ => resolve_device(args.device)?,
    };
    let mut column_weights = None;
    let data = if args.stream {
        if args.engine == Some(Engine::Autograd) {
            bail!("--stream trains with --engine fused");
        }
        if let Some(flag) = args.recipe.first_given() {
            bail!(
                "{flag} applies to a CSV --data; --stream reads a .npy file: give {flag} to `logreg convert`, whose \
                 recipe file --stream finds beside the .npy"
            );
        }
        if args.input.label.is_some() {
            bail!("--label names a CSV column; a .npy --data takes its labels from --labels");
        }
        let (rows, classes) = args.input.open_stream_classes(args.chunk_rows)?;
        let recipe = args.input.npy_recipe(rows.rows(), rows.features(), Some(rows.labels()))?;
        if let Some(classes) = classes {
            let classes = super::multiclass::recipe_classes(recipe.as_ref(), classes)?;
            return super::multiclass::train_stream(&args, config, &rows, recipe, classes);
        }
        TrainData::Stream(rows, recipe)
    } else {
        if args.chunk_rows.is_some() {
            bail!("--chunk-rows applies with --stream");
        }
        // A .npy file of labels with three or more values: a multiclass problem.
        if let (true, Some(y)) = (super::input::is_npy(&args.input.data), args.input.labels.as_deref()) {
            let max = args.recipe.max_classes.map_or(logreg::data::labels::MAX_CLASSES, |m| m.max(2) as usize);
            let (labels, classes) = logreg::data::npy::read_class_labels(y, max)?;
            if classes.len() >= 3 {
                if let Some(flag) = args.recipe.first_given().filter(|f| *f != "--max-classes") {
                    bail!("{flag} applies to a CSV --data; {} is a .npy array", args.input.data.display());
                }
                let mut table = logreg::data::npy::read_table(&args.input.data, None)?;
                if labels.len() != table.rows() {
                    bail!("--labels {}: {} labels for the {} rows of --data", y.display(), labels.len(), table.rows());
                }
                table.labels = labels;
                table.label_name = Some("y".into());
                // Converted from a CSV file: its columns, classes and recipe, which the model records.
                let recipe = args.input.npy_recipe(table.rows(), table.feature_names.len(), Some(&table.labels))?;
                if let Some(r) = &recipe {
                    table.feature_names = r.feature_names();
                    table.label_name = Some(r.label.clone());
                }
                let classes = super::multiclass::recipe_classes(recipe.as_ref(), classes)?;
                stop_on_ctrl_c()?;
                return super::multiclass::train(&args, config, &table, recipe, classes, None, device);
            }
        }
        let weight_column = super::multiclass::weight_column(args.sample_weight.as_deref());
        let (table, recipe, dropped, weights) = args.input.load_weighted(&args.recipe, weight_column)?;
        column_weights = weights;
        if dropped > 0 {
            warnln!(
                "note: --missing drop-rows left out {dropped} of {} rows (a missing cell in each)",
                dropped + table.rows()
            );
        }
        TrainData::Table(table, recipe)
    };
    if let TrainData::Table(t, recipe) = &data {
        if let Some(classes) = recipe.as_ref().and_then(|r| r.class_names.clone()) {
            stop_on_ctrl_c()?;
            return super::multiclass::train(&args, config, t, recipe.clone(), classes, column_weights, device);
        }
        if args.multi_class.is_some() {
            bail!("--multi-class applies to three or more classes; the labels hold two");
        }
        if weighted {
            return super::multiclass::train_binary_weighted(&args, config, t, recipe.clone(), column_weights, device);
        }
    }
    if args.multi_class.is_some() {
        bail!("--multi-class applies to three or more classes; the labels hold two");
    }
    let features = data.features();
    let auto = match (&data, args.solver == SolverChoice::Auto && config.solver.is_some()) {
        (TrainData::Table(t, _), true) => {
            let l1 = logreg::solvers::auto::has_l1(config.train.penalty, config.sklearn);
            Some(logreg::solvers::auto::choose(t.rows(), features, t.rows().saturating_mul(features), l1))
        }
        _ => None,
    };
    if let Some(choice) = &auto {
        config.solver = config.solver.map(|(_, c)| (choice.kind, c));
    }
    stop_on_ctrl_c()?;
    let bar = progress(config.train.epochs, super::quiet() || super::json() || config.solver.is_some());
    if config.solver.is_some() && (every.is_some() || args.resume.is_some()) {
        bail!("--checkpoint-every and --resume apply to --solver sgd and adam");
    }
    // Only a run that writes or reads checkpoints needs the fingerprint: for --stream it is a pass
    // over the whole file.
    let fingerprint = match &data {
        _ if every.is_none() && args.resume.is_none() => String::new(),
        TrainData::Table(t, _) => checkpoint::fingerprint(&config, t),
        TrainData::Stream(s, _) => checkpoint::stream_fingerprint(&config, s),
    };
    let resume = match args.resume.as_deref() {
        Some(path) => Some(checkpoint::read(path, &fingerprint, features).context("--resume")?),
        None => None,
    };
    let mut writer = checkpoint::Writer::new(&checkpoint_path, &fingerprint);
    let mut save = |state: &Snapshot| writer.save(state);
    let checkpoints = Checkpoints {
        resume,
        every,
        save: every.map(|_| &mut save as &mut dyn FnMut(&Snapshot) -> logreg::Result<()>),
    };
    let started = std::time::Instant::now();
    let on_epoch = |e: &logreg::train::Epoch| {
        if let Some(bar) = &bar {
            bar.set_position(e.epoch as u64);
            bar.set_message(match e.validation_loss {
                Some(v) => format!("loss {:.4}, validation {v:.4}", e.loss),
                None => format!("loss {:.4}", e.loss),
            });
        }
        if logreg::interrupt::requested() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let fitted = match &data {
        TrainData::Table(t, None) => fit(t, &config, device, checkpoints, on_epoch),
        TrainData::Table(t, Some(recipe)) => fit_recipe(t, recipe.clone(), &config, device, checkpoints, on_epoch),
        TrainData::Stream(s, recipe) => {
            logreg::train::fit::fit_stream(s, recipe.clone(), &config, checkpoints, on_epoch)
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if matches!(fitted, Err(logreg::Error::Interrupted { .. })) {
        // The newest checkpoint may be held back by the writer's pacing: write it now.
        writer.flush().context("--checkpoint")?;
    }
    let fitted = match (fitted, writer.written_epoch()) {
        (Err(e @ logreg::Error::Interrupted { .. }), Some(epoch)) => {
            let hint = resume_hint(&checkpoint_path, epoch);
            return Err(Interrupted { error: e, hint }.into());
        }
        // A checkpoint that could not be written is named by its flag.
        (Err(e @ logreg::Error::Io { .. }), _) if matches!(&e, logreg::Error::Io { path, .. } if *path == checkpoint_path || *path == checkpoint_losses) =>
        {
            return Err(anyhow::Error::from(e).context("--checkpoint"));
        }
        (fitted, _) => fitted?,
    };
    finish(&args, fitted, started, auto.as_ref(), None)
}

/// How a distributed run went, for `--json`: the number of processes, and the collectives run
/// with the seconds spent in them (on rank 0).
pub(crate) struct Spread {
    pub(crate) world_size: usize,
    pub(crate) collectives: usize,
    pub(crate) communication_seconds: f64,
}

/// Writes the model (and plot) of a finished fit and reports it: text, or JSON with `--json`.
pub(crate) fn finish(
    args: &TrainArgs,
    fitted: logreg::train::fit::Fit,
    started: std::time::Instant,
    auto: Option<&logreg::solvers::auto::AutoChoice>,
    spread: Option<Spread>,
) -> anyhow::Result<ExitCode> {
    let fit_seconds = started.elapsed().as_secs_f64();
    let features = fitted.saved.feature_names.len();
    // Every output is made first (the model checked finite, the plot drawn), then written.
    let model = fitted.saved.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    let plot = match &args.plot {
        Some(path) => {
            let step = if fitted.solution.is_some() { "iteration" } else { "epoch" };
            let losses = (&fitted.training.losses, &fitted.training.validation_losses);
            Some((path, logreg::plot::loss_curves(step, losses.0, losses.1)?))
        }
        None => None,
    };
    let mut outputs = vec![("--out", args.out.as_path(), &model[..])];
    outputs.extend(plot.as_ref().map(|(path, png)| ("--plot", path.as_path(), &png[..])));
    super::write_outputs(&outputs)?;
    // Only a run that succeeded warns: a failure is its one line.
    if let Some(s) = fitted.solution.as_ref().filter(|s| !s.converged) {
        let name = &fitted.saved.training.optimizer;
        super::warn_unconverged(name, s.iterations, Some(s.optimality), args.tol, args.max_iter);
    }
    if super::json() {
        // The solver's f64 optimum where there is one (the model file stores f32).
        let (coef, intercept) = match &fitted.solution {
            Some(s) => (s.coef.clone(), s.intercept),
            None => (
                fitted.saved.model.coef().iter().map(|&w| f64::from(w)).collect(),
                f64::from(fitted.saved.model.intercept()),
            ),
        };
        let json = serde_json::json!({
            "losses": fitted.training.losses,
            "validation_losses": fitted.training.validation_losses,
            "train": fitted.train_report,
            "validation": fitted.validation_report,
            "nonzero_weights": fitted.saved.model.coef().iter().filter(|&&w| w != 0.0).count(),
            "solver": fitted.solution.as_ref().map(|s| serde_json::json!({
                "name": fitted.saved.training.optimizer,
                "iterations": s.iterations,
                "converged": s.converged,
                "objective": s.objective,
                "optimality": s.optimality,
                "seconds": s.seconds,
                "passes": s.passes,
                "pass_seconds": s.pass_seconds,
                "auto": auto.map(|a| serde_json::json!({"reason": a.reason, "estimates": a.estimates})),
            })),
            "features": fitted.saved.feature_names,
            "classes": fitted.saved.recipe.as_ref().and_then(|r| r.classes.clone()),
            "coef": coef,
            "intercept": intercept,
            "fit_seconds": fit_seconds,
            "model": args.out,
            "world_size": spread.as_ref().map_or(1, |s| s.world_size),
            "communication": spread.as_ref().map(|s| serde_json::json!({
                "collectives": s.collectives,
                "seconds": s.communication_seconds,
            })),
        });
        jsonln!(json)?;
    } else {
        let t = &fitted.train_report;
        let steps = match &fitted.solution {
            Some(s) => format!(
                "{}, {} iterations{}",
                fitted.saved.training.optimizer,
                s.iterations,
                if s.converged { "" } else { " (not converged)" }
            ),
            None => format!("{} epochs", fitted.training.losses.len()),
        };
        outln!(
            "trained on {} rows × {} features, {steps}: final objective {}, train accuracy {:.4}, {} of {} weights non-zero",
            t.rows,
            features,
            logreg::error::fixed(fitted.training.losses.last().copied().unwrap_or(f64::NAN), 6),
            t.accuracy,
            fitted.saved.model.coef().iter().filter(|&&w| w != 0.0).count(),
            features
        )?;
        if let Some(v) = &fitted.validation_report {
            print_validation(v)?;
        }
        outln!("wrote {}", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where checkpoints go: --checkpoint, else the --out path with `.ckpt` appended.
pub(crate) fn checkpoint_path(args: &TrainArgs) -> PathBuf {
    args.checkpoint.clone().unwrap_or_else(|| {
        let mut name = args.out.clone().into_os_string();
        name.push(".ckpt");
        PathBuf::from(name)
    })
}

/// Where an interrupted run can pick up: this very command, resumed from the checkpoint at `path`
/// (which holds `epoch`).
pub(crate) fn resume_hint(path: &std::path::Path, epoch: usize) -> String {
    let mut command: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    while let Some(i) = command.iter().position(|a| a == "--resume" || a.starts_with("--resume=")) {
        let end = if command[i] == "--resume" { (i + 2).min(command.len()) } else { i + 1 };
        command.drain(i..end);
    }
    command.extend(["--resume".into(), path.display().to_string()]);
    let command: Vec<String> = command.iter().map(|a| shell_quoted(a)).collect();
    format!("{} holds epoch {epoch}: resume with `{}`", path.display(), command.join(" "))
}

/// A run stopped by Ctrl-C after a checkpoint was written: the library's error and the command
/// that resumes it.
#[derive(Debug)]
pub(crate) struct Interrupted {
    pub(crate) error: logreg::Error,
    pub(crate) hint: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.error, self.hint)
    }
}

impl std::error::Error for Interrupted {}

/// `word` as a shell reads it back: bare when it holds only safe characters, else in single quotes.
fn shell_quoted(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The validation part's line of a two-class run's text report.
pub(crate) fn print_validation(v: &logreg::model::metrics::Report) -> anyhow::Result<()> {
    let auc = v.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}"));
    outln!("validation: {} rows, log-loss {:.4}, accuracy {:.4}, ROC AUC {auc}", v.rows, v.log_loss, v.accuracy)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::shell_quoted;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(shell_quoted("--out"), "--out");
        assert_eq!(shell_quoted("dir/m.safetensors"), "dir/m.safetensors");
        assert_eq!(shell_quoted("ci dir/x y.st"), "'ci dir/x y.st'");
        assert_eq!(shell_quoted("it's"), r"'it'\''s'");
        assert_eq!(shell_quoted(""), "''");
    }
}
