//! `logreg tutorial` (the tutorial's three examples, number for number) and `logreg parity` (both
//! sides on every fixture configuration).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use logreg::device::DeviceChoice;
use logreg::model::penalty::PenaltyKind;
use logreg::reference::parity::{self, ParityOptions};
use logreg::reference::tutorial::{epoch_line, Example, TutorialConfig};
use logreg::train::optim::OptimizerKind;

use super::{check_lambda_flags, resolve_device};

#[derive(Args)]
pub(crate) struct TutorialArgs {
    /// Which example.
    #[arg(value_enum)]
    pub(crate) example: Example,
    /// Means what `torch.manual_seed(SEED)` as the tutorial script's first line means.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// Number of samples (rows of X).
    #[arg(long, default_value_t = 100)]
    pub(crate) samples: i64,
    /// Number of features.
    #[arg(long, default_value_t = 10)]
    pub(crate) input_dim: i64,
    /// Learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub(crate) lr: f64,
    /// Number of full-batch epochs.
    #[arg(long, default_value_t = 100)]
    pub(crate) epochs: i64,
    /// Penalty strength λ for l1 and l2 [default: 0.1].
    #[arg(long)]
    pub(crate) lambda: Option<f64>,
    /// L1 strength λ₁ for elastic-net (the tutorial leaves it unset) [default: 0.05].
    #[arg(long)]
    pub(crate) lambda_l1: Option<f64>,
    /// L2 strength λ₂ for elastic-net (the tutorial leaves it unset) [default: 0.05].
    #[arg(long)]
    pub(crate) lambda_l2: Option<f64>,
    /// torch.optim.SGD or torch.optim.Adam (PyTorch's default betas and eps).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub(crate) optimizer: OptimizerKind,
    /// auto picks CUDA when available.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
}

#[derive(Args)]
pub(crate) struct ParityArgs {
    /// auto picks CUDA when available.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub(crate) device: DeviceChoice,
    /// Directory of golden fixtures whose configurations are compared.
    #[arg(long, default_value = "fixtures")]
    pub(crate) fixtures: PathBuf,
    /// Python with torch 2.11.0 [default: $LOGREG_PYTHON, else python3].
    #[arg(long)]
    pub(crate) python: Option<PathBuf>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "scripts/reference.py")]
    pub(crate) script: PathBuf,
}

impl TutorialArgs {
    pub(crate) fn config(&self) -> anyhow::Result<TutorialConfig> {
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

pub(crate) fn tutorial(args: TutorialArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    config.validate()?;
    let device = resolve_device(args.device)?;
    let epochs = config.epochs as usize;
    let json = super::json();
    // The epoch callback cannot return an error: the first failed write is kept and returned.
    let failed = std::cell::RefCell::new(None);
    // The epochs' own time, from the end of the first to the end of the last (each epoch's loss
    // reaches the host, so the GPU has finished it): no start-up, no data drawing.
    let (mut first, mut last) = (None, None);
    let run = logreg::reference::tutorial::run(&config, device, |epoch, loss| {
        let now = std::time::Instant::now();
        first.get_or_insert(now);
        last = Some(now);
        if !json && epoch % 10 == 0 && failed.borrow().is_none() {
            *failed.borrow_mut() = outln!("{}", epoch_line(epoch, epochs, loss)).err();
        }
    })?;
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    if json {
        let mut value = serde_json::to_value(&run)?;
        let seconds = match (first, last) {
            (Some(a), Some(b)) if epochs > 1 => Some(b.duration_since(a).as_secs_f64() / (epochs - 1) as f64),
            _ => None,
        };
        value["epoch_seconds"] = seconds.into();
        jsonln!(value)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn parity(args: ParityArgs) -> anyhow::Result<ExitCode> {
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
    let passed = rows.iter().filter(|r| r.pass).count();
    if super::json() {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let c = &r.fixture.config;
                serde_json::json!({
                    "fixture": r.fixture.name, "example": c.example, "optimizer": c.optimizer, "seed": c.seed,
                    "samples": c.samples, "features": c.input_dim, "epochs": c.epochs, "device": r.device,
                    "max_rel_loss_diff": r.deviation.max_loss_rel, "max_weight_diff": r.deviation.max_weight_abs,
                    "pass": r.pass,
                })
            })
            .collect();
        jsonln!(serde_json::json!({ "configurations": rows, "passed": passed }))?;
        return Ok(if passed == rows.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    out!("{}", parity::table(&rows))?;
    outln!("\nparity: {passed} of {} configurations match PyTorch within their tolerance", rows.len())?;
    Ok(if passed == rows.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
