//! The `logreg` command line: parses flags and calls the library; errors print on one line, exit 2.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use logreg::cv::{cross_validate, CvConfig};
use logreg::dataset::{Dataset, Standardizer};
use logreg::device::DeviceChoice;
use logreg::fit::{fit, FitConfig};
use logreg::fused::Source;
use logreg::metrics::{self, Report};
use logreg::model::FittedLogisticRegression;
use logreg::model_file::{SavedModel, TrainingInfo};
use logreg::npy;
use logreg::optim::OptimizerKind;
use logreg::output::write_atomically;
use logreg::parity::{self, ParityOptions};
use logreg::path::PathConfig;
use logreg::penalty::{Penalty, PenaltyKind};
use logreg::solver::{Problem, SolverConfig, SolverKind};
use logreg::stream::NpyRows;
use logreg::table::{self, LabelColumn, Table};
use logreg::train::{Checkpoints, Engine, LossKind, TrainConfig, TrainState};
use logreg::tutorial::{self, epoch_line, Example, TutorialConfig};

#[derive(Parser)]
#[command(name = "logreg", version, about = "Regularized logistic regression on libtorch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

/// Labelled training data, shared by `train` and `path`.
#[derive(Args)]
struct InputArgs {
    /// CSV file with a header row (`-` reads standard input), or a 2-D .npy array with --labels.
    #[arg(long)]
    data: PathBuf,
    /// Name of the label column [default: the last column].
    #[arg(long)]
    label: Option<String>,
    /// 0/1 labels for a .npy --data: a .npy array of shape (n,) or (n, 1).
    #[arg(long)]
    labels: Option<PathBuf>,
}

impl InputArgs {
    /// The .npy `--data` and `--labels`, opened for chunked reading.
    fn open_stream(&self, chunk_rows: Option<i64>) -> anyhow::Result<NpyRows> {
        if !is_npy(&self.data) {
            bail!("--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)");
        }
        let Some(labels) = &self.labels else {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        };
        let chunk_rows = at_least_one("chunk-rows", chunk_rows)?;
        Ok(NpyRows::open(&self.data, Some(labels), chunk_rows)?)
    }

    /// The table with its labels; `--label` is for CSV files only.
    fn load(&self) -> anyhow::Result<Table> {
        if self.label.is_some() && is_npy(&self.data) {
            bail!("--label names a CSV column; a .npy --data takes its labels from --labels");
        }
        let label = self.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
        load_table(&self.data, self.labels.as_deref(), label, true)
    }
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Tutorial form [default: l2]: objective = mean loss + λ₁‖w‖₁ + λ₂‖w‖₂² (see the README for
    /// the three forms).
    #[arg(long, value_enum)]
    penalty: Option<PenaltyKind>,
    /// λ for l1 and l2 [default: 0.001]; with --alpha, glmnet's λ.
    #[arg(long)]
    lambda: Option<f64>,
    /// λ₁ for elastic-net [default: 0.0005].
    #[arg(long)]
    lambda_l1: Option<f64>,
    /// λ₂ for elastic-net [default: 0.0005].
    #[arg(long)]
    lambda_l2: Option<f64>,
    /// scikit-learn's C: objective = r(w) + C·Σ logloss, r = ρ‖w‖₁ + (1−ρ)/2‖w‖₂².
    #[arg(long = "C")]
    c: Option<f64>,
    /// scikit-learn's l1_ratio ρ, with --C [default: 0].
    #[arg(long)]
    l1_ratio: Option<f64>,
    /// glmnet's α, with --lambda: objective = mean logloss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²).
    #[arg(long)]
    alpha: Option<f64>,
    /// auto = newton up to 2000 features, fista beyond (both reach the optimum, with exact zeros
    /// under L1), adam with --stream; sgd and adam run --epochs of the tutorial's optimizers.
    #[arg(long, value_enum, alias = "optimizer", default_value_t = SolverChoice::Auto)]
    solver: SolverChoice,
    /// newton/fista stop when the optimality measure falls to this fraction of its start.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// newton/fista iteration limit [default: 100 for newton, 20000 for fista].
    #[arg(long)]
    max_iter: Option<i64>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    #[arg(long, default_value_t = 300)]
    epochs: i64,
    /// Rows per mini-batch, reshuffled every epoch by --seed [default: all rows].
    #[arg(long)]
    batch_size: Option<i64>,
    /// Seeds the validation split, the initial weights and the mini-batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale features to mean 0, std 1 with the training part's statistics (stored in the model).
    #[arg(long)]
    standardize: bool,
    /// Hold out this fraction of each class for validation (seeded, stratified).
    #[arg(long)]
    validation_split: Option<f64>,
    /// Penalize the bias too, as the tutorial does (scikit-learn and glmnet do not).
    #[arg(long)]
    penalize_bias: bool,
    /// bce = the tutorial's Sigmoid + BCELoss; logits = binary_cross_entropy_with_logits (stable).
    #[arg(long, value_enum, default_value_t = LossKind::Logits)]
    loss: LossKind,
    /// sgd/adam: autograd = libtorch's autograd, as PyTorch (any device); fused = one pass over
    /// the data per epoch, on CPU threads or, full batch, in a CUDA kernel (the same numbers to
    /// float rounding, faster) [default: autograd; fused with --stream].
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Where to write the model (safetensors).
    #[arg(long, default_value = "model.safetensors")]
    out: PathBuf,
    /// Draw the training (and validation) loss per epoch to this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// sgd/adam: every N epochs, write the weights, optimizer state and losses so far to
    /// --checkpoint (atomically).
    #[arg(long)]
    checkpoint_every: Option<i64>,
    /// Where checkpoints go [default: the --out path with `.ckpt` appended].
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Continue from this checkpoint: same data and flags (--epochs may be raised), same result
    /// as a run never stopped.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Read a .npy --data in chunks every epoch instead of loading it (data larger than memory;
    /// sgd/adam with the fused engine).
    #[arg(long)]
    stream: bool,
    /// With --stream: rows per chunk [default: 32 MiB of rows]; mini-batches stay within a chunk.
    #[arg(long)]
    chunk_rows: Option<i64>,
    /// Print one JSON object: per-epoch losses and final metrics.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The λ grid and the solver, shared by `path` and `cv`.
#[derive(Args)]
struct GridArgs {
    /// glmnet's α in (0, 1]: objective = mean logloss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²).
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Number of λ values on the log grid.
    #[arg(long, default_value_t = 50)]
    n_lambdas: i64,
    /// λ_min / λ_max.
    #[arg(long, default_value_t = 1e-3)]
    lambda_ratio: f64,
    /// Each fit stops when the optimality measure falls to this fraction of its value at zero.
    #[arg(long, default_value_t = 1e-8)]
    tol: f64,
    /// Iteration limit per λ [default: 100 for newton, 20000 for fista].
    #[arg(long)]
    max_iter: Option<i64>,
    /// newton = proximal Newton (d×d Hessian; best for up to a few thousand features), fista =
    /// accelerated proximal gradient (matrix-vector products only).
    #[arg(long, value_enum, default_value_t = SolverKind::Newton)]
    solver: SolverKind,
}

impl GridArgs {
    fn config(&self) -> anyhow::Result<PathConfig> {
        if self.n_lambdas < 2 {
            bail!("invalid n-lambdas: {} (must be at least 2)", self.n_lambdas);
        }
        Ok(PathConfig {
            n_lambdas: self.n_lambdas as usize,
            ratio: self.lambda_ratio,
            alpha: self.alpha,
            kind: self.solver,
            solver: SolverConfig { tol: self.tol, max_iter: at_least_one("max-iter", self.max_iter)? },
        })
    }
}

#[derive(Args)]
struct PathArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Scale features to mean 0, std 1 first.
    #[arg(long)]
    standardize: bool,
    #[command(flatten)]
    grid: GridArgs,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Print the path as one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the path as CSV: lambda, nonzero, objective, intercept, then one column per feature.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Draw the coefficients against log10 λ to this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(Args)]
struct CvArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Number of folds.
    #[arg(long, default_value_t = 5)]
    folds: i64,
    /// Seeds the assignment of rows to folds.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Scale features to mean 0, std 1: within each fold with its training rows' statistics, and
    /// for the refit with all rows' (stored in the model).
    #[arg(long)]
    standardize: bool,
    #[command(flatten)]
    grid: GridArgs,
    /// Which λ the written model uses: best = lowest mean held-out log-loss; one-se = the largest
    /// λ within one standard error of it (sparser).
    #[arg(long, value_enum, default_value_t = Select::Best)]
    select: Select,
    /// Folds fitted at once [default: the number of CPU cores, at most --folds; 1 on CUDA].
    #[arg(long)]
    jobs: Option<i64>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Where to write the model refitted on all rows (safetensors).
    #[arg(long, default_value = "model.safetensors")]
    out: PathBuf,
    /// Also write the table as CSV: lambda, nonzero, log-loss mean/std/se, AUC mean/std.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Which cross-validated λ to keep.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Select {
    Best,
    OneSe,
}

/// How `train` minimises the objective.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SolverChoice {
    Auto,
    Sgd,
    Adam,
    Newton,
    Fista,
}

#[derive(Args)]
struct PredictArgs {
    /// A model written by `logreg train`.
    #[arg(long)]
    model: PathBuf,
    /// CSV file with the model's feature columns (a label column, if present, is ignored); `-` reads standard input.
    #[arg(long)]
    data: PathBuf,
    /// Where to write `probability,class` per row [default: standard output].
    #[arg(long)]
    output: Option<PathBuf>,
    /// Class 1 when the probability is above this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
}

#[derive(Args)]
struct ConvertArgs {
    /// CSV file with a header row (`-` reads standard input).
    input: PathBuf,
    /// Where the features go: a (rows, features) little-endian f32 .npy array.
    output: PathBuf,
    /// Name of the label column [default: the last column].
    #[arg(long)]
    label: Option<String>,
    /// Where the labels go [default: OUTPUT with `.labels.npy` in place of `.npy`].
    #[arg(long)]
    labels_out: Option<PathBuf>,
}

#[derive(Args)]
struct EvaluateArgs {
    /// A model written by `logreg train`.
    #[arg(long)]
    model: PathBuf,
    /// CSV file with the model's feature columns and its label column (`-` reads standard
    /// input), or a .npy array with --labels.
    #[arg(long)]
    data: PathBuf,
    /// 0/1 labels for a .npy --data.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Class 1 when the probability is above this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Read a .npy --data in chunks instead of loading it (data larger than memory).
    #[arg(long)]
    stream: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TutorialArgs {
    /// Which example.
    #[arg(value_enum)]
    example: Example,
    /// Means what `torch.manual_seed(SEED)` as the tutorial script's first line means.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of samples (rows of X).
    #[arg(long, default_value_t = 100)]
    samples: i64,
    /// Number of features.
    #[arg(long, default_value_t = 10)]
    input_dim: i64,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Number of full-batch epochs.
    #[arg(long, default_value_t = 100)]
    epochs: i64,
    /// Penalty strength λ for l1 and l2 [default: 0.1].
    #[arg(long)]
    lambda: Option<f64>,
    /// L1 strength λ₁ for elastic-net (the tutorial leaves it unset) [default: 0.05].
    #[arg(long)]
    lambda_l1: Option<f64>,
    /// L2 strength λ₂ for elastic-net (the tutorial leaves it unset) [default: 0.05].
    #[arg(long)]
    lambda_l2: Option<f64>,
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    optimizer: OptimizerKind,
    /// auto picks CUDA when available.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Print one JSON object (every epoch's loss, final weight and bias, device) instead of the epoch lines.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ParityArgs {
    /// auto picks CUDA when available.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Directory of golden fixtures whose configurations are compared.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Python with torch 2.11.0 [default: $LOGREG_PYTHON, else python3].
    #[arg(long)]
    python: Option<PathBuf>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "scripts/reference.py")]
    script: PathBuf,
}

/// An optional count flag, which must be at least 1 when given.
fn at_least_one(name: &str, value: Option<i64>) -> anyhow::Result<Option<usize>> {
    match value {
        Some(v) if v < 1 => bail!("invalid {name}: {v} (must be at least 1)"),
        v => Ok(v.map(|v| v as usize)),
    }
}

/// Rejects λ flags that the penalty does not use.
fn check_lambda_flags(kind: PenaltyKind, lambda: Option<f64>, l1: Option<f64>, l2: Option<f64>) -> anyhow::Result<()> {
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

impl TutorialArgs {
    fn config(&self) -> anyhow::Result<TutorialConfig> {
        let kind = match self.example {
            Example::L2 => PenaltyKind::L2,
            Example::L1 => PenaltyKind::L1,
            Example::ElasticNet => PenaltyKind::ElasticNet,
        };
        check_lambda_flags(kind, self.lambda, self.lambda_l1, self.lambda_l2)?;
        let defaults = TutorialConfig::new(self.example);
        Ok(TutorialConfig {
            example: self.example,
            optimizer: self.optimizer,
            seed: self.seed,
            samples: self.samples,
            input_dim: self.input_dim,
            lr: self.lr,
            epochs: self.epochs,
            lambda: self.lambda.unwrap_or(defaults.lambda),
            lambda_l1: self.lambda_l1.unwrap_or(defaults.lambda_l1),
            lambda_l2: self.lambda_l2.unwrap_or(defaults.lambda_l2),
        })
    }
}

fn tutorial(args: TutorialArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    config.validate()?;
    let device = resolve_device(args.device)?;
    let epochs = config.epochs as usize;
    let json = args.json;
    let run = tutorial::run(&config, device, |epoch, loss| {
        if !json && epoch % 10 == 0 {
            println!("{}", epoch_line(epoch, epochs, loss));
        }
    })?;
    if json {
        println!("{}", serde_json::to_string(&run)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn parity(args: ParityArgs) -> anyhow::Result<ExitCode> {
    let device = resolve_device(args.device)?;
    let python = args
        .python
        .or_else(|| std::env::var_os("LOGREG_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    if !args.script.is_file() {
        bail!("--script {}: no such file (run from the repository root, or pass --script)", args.script.display());
    }
    let options = ParityOptions { python, script: args.script, fixtures: args.fixtures };
    let rows = parity::run(&options, device)?;
    print!("{}", parity::table(&rows));
    let passed = rows.iter().filter(|r| r.pass).count();
    println!("\nparity: {passed} of {} configurations match PyTorch within their tolerance", rows.len());
    Ok(if passed == rows.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

impl TrainArgs {
    /// The penalty from whichever of the three forms was used; rejects mixed forms.
    fn penalty(&self) -> anyhow::Result<(Penalty, Option<(f64, f64)>)> {
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
                bail!("invalid alpha: {alpha} (must be between 0 and 1)");
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

    fn engine(&self) -> Engine {
        self.engine.unwrap_or(if self.stream { Engine::Fused } else { Engine::Autograd })
    }

    fn config(&self) -> anyhow::Result<FitConfig> {
        let (penalty, sklearn) = self.penalty()?;
        if self.epochs < 1 {
            bail!("invalid epochs: {} (must be at least 1)", self.epochs);
        }
        let batch_size = at_least_one("batch-size", self.batch_size)?;
        let max_iter = at_least_one("max-iter", self.max_iter)?;
        let exact = |kind| Some((kind, SolverConfig { tol: self.tol, max_iter }));
        let (optimizer, solver) = match self.solver {
            SolverChoice::Sgd => (OptimizerKind::Sgd, None),
            SolverChoice::Adam => (OptimizerKind::Adam, None),
            SolverChoice::Auto if self.stream => (OptimizerKind::Adam, None),
            SolverChoice::Fista => (OptimizerKind::Adam, exact(SolverKind::Fista)),
            // `auto` becomes fista past AUTO_NEWTON_MAX_FEATURES, once the data is read.
            SolverChoice::Newton | SolverChoice::Auto => (OptimizerKind::Adam, exact(SolverKind::Newton)),
        };
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
                lr: self.lr,
                epochs: self.epochs as usize,
                penalty,
                optimizer,
                loss: self.loss,
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
        if let Some(f) = config.validation_split {
            if !(f > 0.0 && f < 1.0) {
                bail!("invalid validation-split: {f} (must be between 0 and 1, exclusive)");
            }
        }
        Ok(config)
    }
}

/// A progress bar on stderr when it is a terminal, else nothing.
fn progress(epochs: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(epochs as u64);
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} epochs  loss {msg}  {eta}")
        .expect("valid template");
    bar.set_style(style);
    Some(bar)
}

/// What a checkpoint must match to be resumed: every setting but the number of epochs, and the
/// data (its shape, column names and the sums of its values).
fn checkpoint_fingerprint(config: &FitConfig, data: &Table) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
    format!(
        "{settings:?}; {} rows; {:?}; {:?}; {}; {}",
        data.labels.len(),
        data.feature_names,
        data.label_name,
        sum(&data.features),
        sum(&data.labels)
    )
}

/// [`checkpoint_fingerprint`] for an out-of-core file: its shape, size and the labels' sum (the
/// features are not summed: that would cost a pass over the file).
fn stream_fingerprint(config: &FitConfig, rows: &NpyRows) -> String {
    let mut settings = config.clone();
    settings.train.epochs = 0;
    let size = std::fs::metadata(rows.name()).map_or(0, |m| m.len());
    let ones = rows.labels().iter().filter(|&&v| v == 1.0).count();
    format!("{settings:?}; {} rows × {}; {size} bytes; {ones} ones", rows.rows(), rows.features())
}

/// The training state in a checkpoint written for `fingerprint`.
fn read_checkpoint(path: &Path, fingerprint: &str) -> anyhow::Result<TrainState> {
    let context = || format!("--resume {}", path.display());
    let text = std::fs::read_to_string(path).with_context(context)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("not a logreg checkpoint ({e})"))
        .with_context(context)?;
    if json["format"] != "logreg-checkpoint" || json["format_version"] != 1 {
        return Err(anyhow::anyhow!("not a logreg checkpoint (format 1)")).with_context(context);
    }
    if json["fingerprint"] != fingerprint {
        return Err(anyhow::anyhow!("the checkpoint was written for other data or flags (only --epochs may change)"))
            .with_context(context);
    }
    serde_json::from_value(json["state"].clone())
        .map_err(|e| anyhow::anyhow!("bad checkpoint state ({e})"))
        .with_context(context)
}

/// Above this many features `--solver auto` picks fista: newton's d×d Hessian and its
/// coordinate-descent subproblem grow as d² per iteration.
const AUTO_NEWTON_MAX_FEATURES: usize = 2000;

/// Ctrl-C stops training after the current epoch or iteration, before anything is written.
fn stop_on_ctrl_c() -> anyhow::Result<()> {
    ctrlc::set_handler(logreg::interrupt::request).context("installing the Ctrl-C handler")
}

/// What `train` reads: a table in memory, or a .npy file chunk by chunk (`--stream`).
enum TrainData {
    Table(Table),
    Stream(NpyRows),
}

impl TrainData {
    fn features(&self) -> usize {
        match self {
            TrainData::Table(t) => t.feature_names.len(),
            TrainData::Stream(s) => s.features(),
        }
    }
}

fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config()?;
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
    let data = if args.stream {
        if args.engine == Some(Engine::Autograd) {
            bail!("--stream trains with --engine fused");
        }
        TrainData::Stream(args.input.open_stream(args.chunk_rows)?)
    } else {
        if args.chunk_rows.is_some() {
            bail!("--chunk-rows applies with --stream");
        }
        TrainData::Table(args.input.load()?)
    };
    let features = data.features();
    if args.solver == SolverChoice::Auto && features > AUTO_NEWTON_MAX_FEATURES {
        config.solver = config.solver.map(|(_, c)| (SolverKind::Fista, c));
    }
    stop_on_ctrl_c()?;
    let bar = progress(config.train.epochs, args.quiet || args.json || config.solver.is_some());
    let every = at_least_one("checkpoint-every", args.checkpoint_every)?;
    if config.solver.is_some() && (every.is_some() || args.resume.is_some()) {
        bail!("--checkpoint-every and --resume apply to --solver sgd and adam");
    }
    let fingerprint = match &data {
        TrainData::Table(t) => checkpoint_fingerprint(&config, t),
        TrainData::Stream(s) => stream_fingerprint(&config, s),
    };
    let resume = args.resume.as_deref().map(|path| read_checkpoint(path, &fingerprint)).transpose()?;
    let checkpoint_path = args.checkpoint.clone().unwrap_or_else(|| {
        let mut name = args.out.clone().into_os_string();
        name.push(".ckpt");
        PathBuf::from(name)
    });
    let mut save = |state: &TrainState| -> logreg::Result<()> {
        let json = serde_json::json!({
            "format": "logreg-checkpoint", "format_version": 1, "fingerprint": fingerprint, "state": state,
        });
        write_atomically(&checkpoint_path, json.to_string().as_bytes())
    };
    let checkpoints = Checkpoints {
        resume,
        every,
        save: every.map(|_| &mut save as &mut dyn FnMut(&TrainState) -> logreg::Result<()>),
    };
    let started = std::time::Instant::now();
    let on_epoch = |e: &logreg::train::Epoch| {
        if let Some(bar) = &bar {
            bar.set_position(e.epoch as u64);
            bar.set_message(format!("{:.4}", e.loss));
        }
        if logreg::interrupt::requested() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let fitted = match &data {
        TrainData::Table(t) => fit(t, &config, device, checkpoints, on_epoch),
        TrainData::Stream(s) => logreg::fit::fit_stream(s, &config, checkpoints, on_epoch),
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let fitted = fitted?;
    let fit_seconds = started.elapsed().as_secs_f64();
    if let Some(s) = fitted.solution.as_ref().filter(|s| !s.converged) {
        eprintln!(
            "warning: {} stopped after {} iterations without converging (optimality {:.2e} > --tol {:e}); \
             raise --max-iter or --tol",
            fitted.saved.training.optimizer, s.iterations, s.optimality, args.tol
        );
    }
    fitted.saved.save(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    if let Some(plot) = &args.plot {
        logreg::plot::loss_curves(plot, &fitted.training.losses, &fitted.training.validation_losses)
            .with_context(|| format!("--plot {}", plot.display()))?;
    }
    if args.json {
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
            })),
            "coef": coef,
            "intercept": intercept,
            "fit_seconds": fit_seconds,
            "model": args.out,
        });
        println!("{json}");
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
        println!(
            "trained on {} rows × {} features, {steps}: final objective {:.6}, train accuracy {:.4}, {} of {} weights non-zero",
            t.rows,
            features,
            fitted.training.losses.last().copied().unwrap_or(f64::NAN),
            t.accuracy,
            fitted.saved.model.coef().iter().filter(|&&w| w != 0.0).count(),
            features
        );
        if let Some(v) = &fitted.validation_report {
            let auc = v.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}"));
            println!(
                "validation: {} rows, log-loss {:.4}, accuracy {:.4}, ROC AUC {auc}",
                v.rows, v.log_loss, v.accuracy
            );
        }
        println!("wrote {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn path(args: PathArgs) -> anyhow::Result<ExitCode> {
    let config = args.grid.config()?;
    let device = resolve_device(args.device)?;
    let table = args.input.load()?;
    let data = Dataset::from_table(&table)?;
    let x = if args.standardize { Standardizer::fit(&data.x)?.apply(&data.x)? } else { data.x };
    let points = logreg::path::path(&x.to_device(device), &data.y.to_device(device), &config)?;
    let unconverged = points.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        eprintln!("warning: {unconverged} of {} fits stopped at --max-iter without converging", points.len());
    }
    if let Some(csv) = &args.csv {
        let mut out = format!("lambda,nonzero,objective,intercept,{}\n", table.feature_names.join(","));
        for p in &points {
            let coefs: Vec<String> = p.coef.iter().map(f64::to_string).collect();
            out += &format!("{},{},{},{},{}\n", p.lambda, p.nonzero, p.objective, p.intercept, coefs.join(","));
        }
        write_atomically(csv, out.as_bytes()).with_context(|| format!("--csv {}", csv.display()))?;
    }
    if let Some(plot) = &args.plot {
        let lambdas: Vec<f64> = points.iter().map(|p| p.lambda).collect();
        let coefs: Vec<Vec<f64>> = points.iter().map(|p| p.coef.clone()).collect();
        logreg::plot::coefficient_paths(plot, &lambdas, &coefs)
            .with_context(|| format!("--plot {}", plot.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "features": table.feature_names, "alpha": args.grid.alpha, "path": points })
        );
    } else {
        println!("{:>12}  {:>7}  {:>12}  {:>10}", "lambda", "nonzero", "objective", "iterations");
        for p in &points {
            println!("{:>12.6e}  {:>7}  {:>12.6}  {:>10}", p.lambda, p.nonzero, p.objective, p.iterations);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cv(args: CvArgs) -> anyhow::Result<ExitCode> {
    let folds = at_least_one("folds", Some(args.folds))?.unwrap_or(5);
    let device = resolve_device(args.device)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = match at_least_one("jobs", args.jobs)? {
        Some(j) => j,
        None if device.is_cuda() => 1,
        None => cores.min(folds),
    };
    let config = CvConfig { folds, seed: args.seed, standardize: args.standardize, path: args.grid.config()?, jobs };
    config.validate()?;
    let table = args.input.load()?;
    stop_on_ctrl_c()?;
    let data = Dataset::from_table(&table)?;
    let r = cross_validate(&data.x.to_device(device), &data.y.to_device(device), &config)?;
    let chosen = match args.select {
        Select::Best => r.best,
        Select::OneSe => r.one_se,
    };
    let fit = &r.full[chosen];
    let unconverged = r.full.iter().filter(|p| !p.converged).count();
    if unconverged > 0 {
        eprintln!(
            "warning: {unconverged} of {} fits on all rows stopped at --max-iter without converging",
            r.full.len()
        );
    }
    let alpha = args.grid.alpha;
    let (l1, l2) = (fit.lambda * alpha, fit.lambda * (1.0 - alpha) / 2.0);
    let saved = SavedModel {
        model: FittedLogisticRegression::new(fit.coef.iter().map(|&w| w as f32).collect(), fit.intercept as f32),
        feature_names: table.feature_names.clone(),
        label_name: table.label_name.clone().unwrap_or_default(),
        standardizer: r.standardizer.clone(),
        training: TrainingInfo {
            penalty: if alpha == 1.0 { "l1" } else { "elastic-net" }.into(),
            lambda: if alpha == 1.0 { l1 } else { 0.0 },
            lambda_l1: if alpha == 1.0 { 0.0 } else { l1 },
            lambda_l2: l2,
            penalize_bias: false,
            loss: "logits".into(),
            optimizer: serde_json::json!(args.grid.solver).as_str().unwrap_or_default().into(),
            lr: 0.0,
            epochs: 0,
            batch_size: None,
            seed: args.seed,
        },
    };
    saved.save(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    if let Some(csv) = &args.csv {
        let mut out = String::from("lambda,nonzero,log_loss_mean,log_loss_std,log_loss_se,auc_mean,auc_std\n");
        for p in &r.points {
            out += &format!(
                "{},{},{},{},{},{},{}\n",
                p.lambda, p.nonzero, p.log_loss_mean, p.log_loss_std, p.log_loss_se, p.auc_mean, p.auc_std
            );
        }
        write_atomically(csv, out.as_bytes()).with_context(|| format!("--csv {}", csv.display()))?;
    }
    let (best, one_se) = (&r.points[r.best], &r.points[r.one_se]);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "folds": folds, "fold_sizes": r.fold_sizes, "alpha": alpha, "points": r.points,
                "best": best, "one_se": one_se, "chosen": r.points[chosen],
                "coef": fit.coef, "intercept": fit.intercept, "features": table.feature_names, "model": args.out,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:>12}  {:>7}  {:>19}  {:>15}", "lambda", "nonzero", "log-loss (± std)", "AUC (± std)");
    for (i, p) in r.points.iter().enumerate() {
        let mark = match (i == r.best, i == r.one_se) {
            (true, true) => "  best, 1-SE",
            (true, false) => "  best",
            (false, true) => "  1-SE",
            _ => "",
        };
        println!(
            "{:>12.6e}  {:>7}  {:>9.5} ± {:<7.5}  {:>6.4} ± {:<6.4}{mark}",
            p.lambda, p.nonzero, p.log_loss_mean, p.log_loss_std, p.auc_mean, p.auc_std
        );
    }
    println!(
        "{folds}-fold CV on {} rows: best λ {:.6e} (log-loss {:.5}, {} non-zero); 1-SE λ {:.6e} (log-loss {:.5}, {} non-zero)",
        table.labels.len(),
        best.lambda,
        best.log_loss_mean,
        best.nonzero,
        one_se.lambda,
        one_se.log_loss_mean,
        one_se.nonzero
    );
    println!("refitted on all rows at λ {:.6e}: wrote {}", fit.lambda, args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn check_threshold(threshold: f64) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&threshold) {
        bail!("invalid threshold: {threshold} (must be between 0 and 1)");
    }
    Ok(())
}

fn is_npy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads `data`: a .npy array (labels from `labels` when `labelled`), else a CSV file whose label
/// column is `label`.
fn load_table(data: &Path, labels: Option<&Path>, label: LabelColumn, labelled: bool) -> anyhow::Result<Table> {
    if is_npy(data) {
        if labelled && labels.is_none() {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        }
        return Ok(npy::read_table(data, labels)?);
    }
    if labels.is_some() {
        bail!("--labels applies to .npy data; a CSV file holds its label column (see --label)");
    }
    let (file, bytes) = table::read_source(data)?;
    Ok(table::parse(&file, &bytes, &label)?)
}

/// Loads the model and the rows of `data` (with labels when `labelled`), and predicts.
fn load_and_predict(
    model: &Path,
    data: &Path,
    labels: Option<&Path>,
    labelled: bool,
    device: DeviceChoice,
) -> anyhow::Result<(SavedModel, Vec<f32>, Vec<f32>)> {
    let device = resolve_device(device)?;
    let saved = SavedModel::load(model)?;
    let label = if labelled {
        LabelColumn::Named(saved.label_name.clone())
    } else {
        LabelColumn::Skip(saved.label_name.clone())
    };
    let rows = load_table(data, labels, label, labelled)?;
    let probs = saved.predict_proba(&rows, device)?;
    Ok((saved, probs, rows.labels))
}

fn predict(args: PredictArgs) -> anyhow::Result<ExitCode> {
    check_threshold(args.threshold)?;
    let (_, probs, _) = load_and_predict(&args.model, &args.data, None, false, args.device)?;
    let mut out = String::from("probability,class\n");
    for p in probs {
        out += &format!("{p},{}\n", u8::from(f64::from(p) > args.threshold));
    }
    match &args.output {
        Some(path) => write_atomically(path, out.as_bytes()).with_context(|| format!("--output {}", path.display()))?,
        None => std::io::stdout().write_all(out.as_bytes()).context("writing to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &Report, nonzero: usize, total: usize) {
    let c = &r.confusion;
    println!("rows             {}", r.rows);
    println!("log-loss         {:.6}", r.log_loss);
    println!("accuracy         {:.4}", r.accuracy);
    println!("ROC AUC          {}", r.roc_auc.map_or("n/a (one class)".into(), |a| format!("{a:.4}")));
    println!("precision        {:.4}", r.precision);
    println!("recall           {:.4}", r.recall);
    println!("F1               {:.4}", r.f1);
    println!("threshold        {}", r.threshold);
    println!("confusion        predicted 1   predicted 0");
    println!("  actual 1       {:>11}   {:>11}", c.true_positives, c.false_negatives);
    println!("  actual 0       {:>11}   {:>11}", c.false_positives, c.true_negatives);
    println!("non-zero weights {nonzero} of {total}");
}

fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    if !is_npy(&args.output) {
        bail!("convert: OUTPUT {} must end in .npy", args.output.display());
    }
    let labels_out = args.labels_out.clone().unwrap_or_else(|| {
        let name = args.output.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        args.output.with_file_name(format!("{name}.labels.npy"))
    });
    if labels_out == args.output {
        bail!("--labels-out must differ from OUTPUT");
    }
    let label = args.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
    let c = logreg::stream::convert(&args.input, &label, &args.output, &labels_out)?;
    println!(
        "wrote {} ({} rows × {} features, f32) and {} (labels `{}`); features are x0 … x{} in the order {}",
        args.output.display(),
        c.rows,
        c.columns.feature_names.len(),
        labels_out.display(),
        c.columns.label_name.unwrap_or_default(),
        c.columns.feature_names.len() - 1,
        c.columns.feature_names.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `evaluate --stream`: the model's probabilities chunk by chunk.
fn evaluate_stream(args: &EvaluateArgs) -> anyhow::Result<(SavedModel, Vec<f32>, Vec<f32>)> {
    let saved = SavedModel::load(&args.model)?;
    let input = InputArgs { data: args.data.clone(), label: None, labels: args.labels.clone() };
    let rows = input.open_stream(None)?;
    saved.check_features(&npy::feature_names(rows.features())).map_err(|m| anyhow::anyhow!("{}: {m}", rows.name()))?;
    let standardizer = saved.standardizer.as_ref().map(|s| (&s.mean[..], &s.std[..]));
    let probs = rows.probabilities(saved.model.coef(), saved.model.intercept(), standardizer)?;
    let labels = rows.labels().to_vec();
    Ok((saved, probs, labels))
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    check_threshold(args.threshold)?;
    let (saved, probs, labels) = if args.stream {
        if args.device == DeviceChoice::Cuda {
            bail!("--stream reads the file on CPU threads; drop --device cuda");
        }
        evaluate_stream(&args)?
    } else {
        load_and_predict(&args.model, &args.data, args.labels.as_deref(), true, args.device)?
    };
    let report = metrics::report(&probs, &labels, args.threshold);
    let total = saved.model.coef().len();
    let nonzero = saved.model.coef().iter().filter(|&&w| w != 0.0).count();
    if args.json {
        let mut json = serde_json::to_value(&report)?;
        json["nonzero_weights"] = nonzero.into();
        println!("{json}");
    } else {
        print_report(&report, nonzero, total);
    }
    Ok(ExitCode::SUCCESS)
}

/// clap's error, folded onto one line (its hints joined with "; ").
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    lines.join("; ")
}

/// What the command line adds to a library error: the flags that are a way forward.
fn hint(err: &anyhow::Error) -> &'static str {
    match err.chain().find_map(|e| e.downcast_ref::<logreg::Error>()) {
        Some(logreg::Error::GpuOutOfMemory { .. }) => {
            "; use --device cpu (or, to train on a .npy file larger than memory, --stream)"
        }
        _ => "",
    }
}

/// The device for `--device`, first of all (loading CUDA on demand must precede other libtorch
/// calls); a note on standard error when `auto` finds a driver that libtorch cannot use.
fn resolve_device(choice: DeviceChoice) -> anyhow::Result<tch::Device> {
    let (device, note) = choice.resolve_noting().context("--device")?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    Ok(device)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            let _ = err.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("{}", one_line(&err));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Tutorial(args) => tutorial(args),
        Command::Parity(args) => parity(args),
        Command::Train(args) => train(args),
        Command::Path(args) => path(args),
        Command::Cv(args) => cv(args),
        Command::Predict(args) => predict(args),
        Command::Evaluate(args) => evaluate(args),
        Command::Convert(args) => convert(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}{}", hint(&err));
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_gpu_memory_gets_the_flags_that_are_a_way_forward() {
        let oom =
            logreg::Error::GpuOutOfMemory { size: "2.00 GiB".into(), device: "cuda:0".into(), free: String::new() };
        let err = anyhow::Error::from(oom).context("--data big.npy");
        assert_eq!(
            format!("{err:#}{}", hint(&err)),
            "--data big.npy: out of GPU memory: 2.00 GiB did not fit on cuda:0; \
             use --device cpu (or, to train on a .npy file larger than memory, --stream)"
        );
        assert_eq!(hint(&anyhow::anyhow!("another error")), "");
    }
}
