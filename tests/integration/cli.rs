//! The `logreg` binary as a user runs it: output format, JSON, parity, and every rejected flag.

use std::process::{Command, Output};

use logreg::reference::tutorial::{epoch_line, TutorialRun};

/// The binary under test; `LOGREG_BIN` overrides cargo's path (for running the tests elsewhere).
pub fn bin() -> std::ffi::OsString {
    std::env::var_os("LOGREG_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_logreg").into())
}

pub fn logreg(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run logreg")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stdout of a run that must succeed (its stderr in the failure message).
pub fn ok(args: &[&str]) -> String {
    let out = logreg(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn tutorial_prints_the_ten_epoch_lines_of_the_golden_run() {
    let golden = crate::fixture("l2-sgd-seed0");
    let out = logreg(&["tutorial", "l2", "--seed", "0", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected: Vec<String> = (1..=10).map(|k| epoch_line(10 * k, 100, golden.losses[10 * k - 1])).collect();
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), expected);
}

#[test]
fn tutorial_prints_what_the_reference_script_prints() {
    let args =
        ["tutorial", "elastic-net", "--optimizer", "adam", "--seed", "3", "--epochs", "50", "--lambda-l1", "0.02"];
    let python = Command::new(crate::python()).arg("scripts/reference.py").args(args).output().unwrap();
    assert!(python.status.success(), "{}", stderr(&python));
    let rust = logreg(&[&args[..], &["--device", "cpu"]].concat());
    assert!(rust.status.success(), "{}", stderr(&rust));
    assert_eq!(stdout(&rust), stdout(&python));
    assert_eq!(stdout(&rust).lines().count(), 5);
}

/// Bit for bit with PyTorch on this machine; within the fixture's CPU tolerance of the golden run,
/// which another CPU made (Adam's last bits follow the CPU's vector kernels: an AMD EPYC and the
/// Intel Xeon that wrote the fixtures differ from epoch 5 on, PyTorch and logreg alike).
#[test]
fn tutorial_json_has_every_loss_and_the_final_parameters() {
    let args = ["tutorial", "l1", "--optimizer", "adam", "--seed", "1", "--json"];
    let out = logreg(&[&args[..], &["--device", "cpu"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let run: TutorialRun = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(run.device, "cpu");
    let python = Command::new(crate::python()).arg("scripts/reference.py").args(args).output().unwrap();
    assert!(python.status.success(), "{}", stderr(&python));
    let reference: TutorialRun = serde_json::from_str(&stdout(&python)).unwrap();
    assert_eq!(run.losses, reference.losses);
    assert_eq!((&run.weight, run.bias), (&reference.weight, reference.bias));
    let golden = crate::fixture("l1-adam-seed1");
    let deviation = logreg::reference::fixture::Deviation::between(&golden.expected(), &run);
    assert!(deviation.within(golden.tolerance.cpu), "{deviation:?}");
    assert_eq!(run.losses.len(), 100);
    // Both sides time their own epochs, for the benchmark: positive, and well under a second here.
    for (side, text) in [("logreg", stdout(&out)), ("reference.py", stdout(&python))] {
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let seconds = value["epoch_seconds"].as_f64().unwrap_or_else(|| panic!("{side}: no epoch_seconds"));
        assert!(seconds > 0.0 && seconds < 1.0, "{side}: epoch_seconds {seconds}");
    }
}

#[test]
fn parity_compares_every_fixture_and_passes() {
    let out = logreg(&["parity", "--device", "cpu", "--python", crate::python().to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let n = crate::fixtures().len();
    assert_eq!(text.lines().filter(|l| l.ends_with("| pass |")).count(), n, "{text}");
    assert!(text.contains(&format!("parity: {n} of {n} configurations match")), "{text}");
    let out = logreg(&["parity", "--device", "cpu", "--python", crate::python().to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((json["passed"].as_u64(), json["configurations"].as_array().map(Vec::len)), (Some(n as u64), Some(n)));
    assert!(json["configurations"].as_array().unwrap().iter().all(|c| c["pass"] == true && c["device"] == "cpu"));
}

/// Runs a command that must fail: exit code 2, one line on stderr containing `expected`.
fn assert_rejected(args: &[&str], expected: &str) {
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?} printed more than one line: {err}");
    assert!(err.contains(expected), "{args:?}: {err:?} does not contain {expected:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
}

#[test]
fn bad_flags_are_one_line_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["tutorial", "l2", "--lr", "-0.5"], "invalid --lr: -0.5 (must be a finite number > 0)"),
        (&["tutorial", "l2", "--lr", "0"], "invalid --lr: 0"),
        (&["tutorial", "l2", "--lr", "1e308"], "invalid --lr: 1e308 (must fit a 32-bit float: at most 3.4e38)"),
        (&["tutorial", "l2", "--lambda", "1e308"], "invalid --lambda: 1e308 (must fit a 32-bit float"),
        (&["tutorial", "l1", "--lambda", "-1"], "invalid --lambda: -1 (must be a finite number >= 0)"),
        (&["tutorial", "elastic-net", "--lambda-l2", "-0.1"], "invalid --lambda-l2: -0.1"),
        (&["tutorial", "l2", "--epochs", "0"], "invalid --epochs: 0 (must be at least 1)"),
        (&["tutorial", "l2", "--samples", "0"], "invalid --samples: 0 (must be at least 1)"),
        (&["tutorial", "l2", "--input-dim", "0"], "invalid --input-dim: 0 (must be at least 1)"),
        (&["tutorial", "l2", "--input-dim", "-4"], "invalid --input-dim: -4"),
        (
            &["tutorial", "l2", "--samples", "9223372036854775807", "--input-dim", "2"],
            "invalid --samples: 9223372036854775807 (with the input dimension, more f32 values than any memory holds)",
        ),
        (&["tutorial", "l2", "--optimizer", "rmsprop"], "invalid value 'rmsprop' for '--optimizer <OPTIMIZER>'"),
        (&["tutorial", "l2", "--device", "tpu"], "invalid value 'tpu' for '--device <DEVICE>'"),
        (&["tutorial", "l3"], "invalid value 'l3'"),
        (&["tutorial", "l2", "--epochs", "ten"], "invalid value 'ten' for '--epochs <EPOCHS>'"),
        (&["tutorial", "elastic-net", "--lambda", "0.1"], "--lambda applies to l1 and l2"),
        (&["tutorial", "l2", "--lambda-l1", "0.1"], "--lambda-l1 and --lambda-l2 apply to elastic-net"),
        (&["tutorial", "l2", "--bogus"], "unexpected argument '--bogus'"),
        (&["parity", "--fixtures", "no/such/dir", "--device", "cpu"], "no/such/dir"),
        (&["parity", "--script", "no/such/script.py", "--device", "cpu"], "--script no/such/script.py: no such file"),
    ];
    for (args, expected) in cases {
        assert_rejected(args, expected);
    }
}

#[test]
fn cuda_without_cuda_is_a_one_line_error() {
    if logreg::cuda::load::available() {
        crate::notice("cuda_without_cuda_is_a_one_line_error: skipped, CUDA is available here");
        return;
    }
    assert_rejected(&["tutorial", "l2", "--device", "cuda"], "--device: CUDA was requested but is not available");
    assert_rejected(&["parity", "--device", "cuda"], "--device: CUDA was requested but is not available");
}

#[test]
fn help_lists_the_commands_and_exits_zero() {
    let out = logreg(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("tutorial") && stdout(&out).contains("parity"));
    // No command at all: the same list on standard error, one command a line, and exit 2.
    let out = logreg(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.lines().any(|l| l.trim_start().starts_with("train ")) && err.lines().count() > 10, "{err}");
}

/// Under a launcher's environment, train, path and cv refuse a partial one naming the variable,
/// and, in a build without `dist`, a world of several processes (which would each write the same
/// outputs), before any work.
#[test]
fn a_launchers_environment_is_refused_whole_or_partial() {
    let data = "fixtures/breast_cancer.csv";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    for (vars, expected) in [
        (&[("WORLD_SIZE", "2"), ("RANK", "0")][..], "error: invalid MASTER_ADDR: unset (must be set with WORLD_SIZE > 1)"),
        (&[("RANK", "1")][..], "error: invalid RANK: 1 (set without WORLD_SIZE: set both, as torchrun does)"),
        (
            &[("WORLD_SIZE", "2"), ("RANK", "1"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500")][..],
            "error: launched as rank 1 of 2 (WORLD_SIZE), but this logreg was built without the `dist` feature: build it with `cargo build --release --features dist` to train across processes, or run one process",
        ),
    ] {
        let full = vars.len() == 4;
        for command in ["train", "path", "cv"] {
            // With the `dist` feature a full environment makes each command join the others (see dist.rs).
            if full && cfg!(feature = "dist") {
                continue;
            }
            let mut cmd = Command::new(bin());
            let output = if command == "path" { "--csv" } else { "--out" };
            cmd.args([command, "--data", data, output, out.to_str().unwrap()]);
            for (k, v) in vars {
                cmd.env(k, v);
            }
            let o = cmd.output().unwrap();
            assert_eq!(o.status.code(), Some(2), "{command} {vars:?}: {}", stderr(&o));
            assert_eq!(stderr(&o).trim(), expected, "{command} {vars:?}");
            assert!(!out.exists());
        }
    }
    // A world of one is a single process, as torchrun --nproc-per-node 1 launches it.
    let o = Command::new(bin())
        .args(["train", "--data", data, "--out", out.to_str().unwrap(), "--quiet"])
        .env("WORLD_SIZE", "1")
        .env("RANK", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}
