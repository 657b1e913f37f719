//! The `logreg` command line: parses flags and calls the library; errors print on one line, exit 2.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use logreg::device::DeviceChoice;
use logreg::optim::OptimizerKind;
use logreg::parity::{self, ParityOptions};
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

impl TutorialArgs {
    fn config(&self) -> anyhow::Result<TutorialConfig> {
        let elastic = self.example == Example::ElasticNet;
        if elastic && self.lambda.is_some() {
            bail!("--lambda applies to l1 and l2; elastic-net takes --lambda-l1 and --lambda-l2");
        }
        if !elastic && (self.lambda_l1.is_some() || self.lambda_l2.is_some()) {
            bail!("--lambda-l1 and --lambda-l2 apply to elastic-net; l1 and l2 take --lambda");
        }
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
    let device = args.device.resolve().context("--device")?;
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
    let device = args.device.resolve().context("--device")?;
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
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::from(2)
    })
}
