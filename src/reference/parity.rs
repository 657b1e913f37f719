//! `logreg parity`: the PyTorch reference script and the Rust port on the fixture configurations,
//! side by side, on one device.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use tch::Device;

use crate::device::device_name;
use crate::error::{Error, Result};
use crate::reference::fixture::{self, Deviation, Fixture};
use crate::reference::tutorial::{self, TutorialRun};

/// Where the reference lives and which configurations to compare.
#[derive(Clone, Debug)]
pub struct ParityOptions {
    /// The Python interpreter with torch 2.11.0.
    pub python: PathBuf,
    /// `scripts/reference.py`.
    pub script: PathBuf,
    /// The directory of fixture files whose configurations are run.
    pub fixtures: PathBuf,
}

/// One configuration's comparison.
#[derive(Clone, Debug)]
pub struct ParityRow {
    /// The fixture whose configuration both ran (its stored results are not compared).
    pub fixture: Fixture,
    /// Where both ran: `cpu` or `cuda:N`.
    pub device: String,
    /// The port's largest differences from the live reference.
    pub deviation: Deviation,
    /// Whether `deviation` is within the fixture's tolerance on `device`.
    pub pass: bool,
}

#[derive(Deserialize)]
struct ReferenceRun {
    name: String,
    #[serde(flatten)]
    run: TutorialRun,
}

/// Runs the reference script once on every fixture configuration, on `device`.
fn run_reference(options: &ParityOptions, files: &[PathBuf], device: Device) -> Result<Vec<ReferenceRun>> {
    let mut command = Command::new(&options.python);
    command.arg(&options.script).arg("run").arg("--device").arg(if device.is_cuda() { "cuda" } else { "cpu" });
    command.args(files);
    let shown = format!("{} {} run", options.python.display(), options.script.display());
    let fail = |message: String| Error::Reference { command: shown.clone(), message };
    let output = command.output().map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(fail(stderr.trim().lines().last().unwrap_or("no message").to_string()));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| fail(format!("unreadable output: {e}")))
}

/// Compares the Rust port with the live PyTorch reference on every fixture configuration.
pub fn run(options: &ParityOptions, device: Device) -> Result<Vec<ParityRow>> {
    let fixtures = fixture::load_dir(&options.fixtures)?;
    if fixtures.is_empty() {
        return Err(Error::InvalidSetting {
            name: "fixtures",
            value: options.fixtures.display().to_string(),
            expected: "a directory holding the reference script's *.json fixtures",
        });
    }
    let files: Vec<PathBuf> = fixtures.iter().map(|(p, _)| p.clone()).collect();
    let reference = run_reference(options, &files, device)?;
    fixtures
        .into_iter()
        .map(|(_, fixture)| {
            let expected = reference.iter().find(|r| r.name == fixture.name).ok_or_else(|| Error::Reference {
                command: options.script.display().to_string(),
                message: format!("no result for {}", fixture.name),
            })?;
            let actual = tutorial::run(&fixture.config, device, |_, _| {})?;
            let deviation = Deviation::between(&expected.run, &actual);
            let pass = deviation.within(fixture.tolerance.on(device));
            Ok(ParityRow { fixture, device: device_name(device), deviation, pass })
        })
        .collect()
}

/// The rows as a Markdown table.
pub fn table(rows: &[ParityRow]) -> String {
    let mut out = String::from(
        "| fixture | example | optimizer | seed | samples×dim | epochs | device | max rel loss diff | max weight diff | result |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = &r.fixture.config;
        let example = serde_json::to_value(c.example).unwrap_or_default();
        let optimizer = serde_json::to_value(c.optimizer).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {}×{} | {} | {} | {:.2e} | {:.2e} | {} |",
            r.fixture.name,
            example.as_str().unwrap_or("?"),
            optimizer.as_str().unwrap_or("?"),
            c.seed,
            c.samples,
            c.input_dim,
            c.epochs,
            r.device,
            r.deviation.max_loss_rel,
            r.deviation.max_weight_abs,
            if r.pass { "pass" } else { "FAIL" },
        );
    }
    out
}
