//! SGD/Adam with three or more classes at the command line, beyond full batch: `--batch-size`
//! (the library's batches are PyTorch's bit for bit, `golden_softmax.rs`), `--checkpoint-every` /
//! `--resume` ending as the uninterrupted run, checkpoints of the other kind or edited refused in
//! one line, and the flags that stay two-class.

use std::path::{Path, PathBuf};

use crate::cli::{logreg, stderr, stdout};

const WINE: &str = "fixtures/wine.csv";

fn json(args: &[&str]) -> serde_json::Value {
    let out = logreg(&[args, &["--json"]].concat());
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// `args` ends with exit 2 and one line on stderr containing `expected`.
fn refused(args: &[&str], expected: &str) {
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
}

fn common(solver: &'static str) -> Vec<&'static str> {
    vec!["train", "--data", WINE, "--standardize", "--solver", solver, "--lr", "0.05", "--seed", "4", "--quiet"]
}

fn losses_of(ckpt: &Path) -> PathBuf {
    let mut name = ckpt.as_os_str().to_owned();
    name.push(".losses");
    PathBuf::from(name)
}

#[test]
fn mini_batches_learn_and_a_batch_of_every_row_is_the_full_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for solver in ["sgd", "adam"] {
        let run = |extra: &[&str], name: &str| {
            json(&[&common(solver)[..], &["--epochs", "40", "--out", &out(name)], extra].concat())
        };
        let full = run(&[], "full.st");
        // 178 rows: a batch of 178 or more is one step an epoch over every row.
        let whole = run(&["--batch-size", "500"], "whole.st");
        assert_eq!(full["losses"], whole["losses"], "{solver}");
        assert_eq!(full["coef"], whole["coef"], "{solver}");
        let batches = run(&["--batch-size", "16", "--validation-split", "0.2"], "b.st");
        let losses: Vec<f64> = batches["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(losses.len(), 40);
        assert!(losses[39] < 0.5 * losses[0], "{solver}: {} → {}", losses[0], losses[39]);
        assert!(batches["validation"]["accuracy"].as_f64().unwrap() > 0.9, "{solver}: {}", batches["validation"]);
        assert_ne!(batches["losses"], full["losses"]);
        // Each epoch's loss is the mean of its 9 batches' losses weighted by rows: with the same
        // seed the same orders, so the same numbers again.
        let again = run(&["--batch-size", "16", "--validation-split", "0.2"], "b2.st");
        assert_eq!(batches["coef"], again["coef"]);
    }
}

#[test]
fn a_run_killed_after_a_checkpoint_and_resumed_ends_with_the_uninterrupted_weights() {
    for (solver, batch) in [("adam", Some("32")), ("sgd", None)] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = common(solver);
        args.extend(["--epochs", "2000", "--validation-split", "0.2", "--json", "--device", "cpu"]);
        if let Some(b) = batch {
            args.extend(["--batch-size", b]);
        }
        crate::data_cli::kill_and_resume(dir.path(), &args, "25");
    }
}

#[test]
fn a_checkpoint_resumes_weighted_runs_and_only_the_run_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let ckpt = path("w.ckpt");
    // Class weights and mini-batches: epoch 10 of 11 saved, then resumed to 30 as a run of 30.
    let base = [&common("adam")[..], &["--batch-size", "40", "--class-weight", "0=2,1=1,2=0.5"]].concat();
    let run = |extra: &[&str]| json(&[&base[..], extra].concat());
    run(&["--epochs", "11", "--checkpoint-every", "10", "--checkpoint", &ckpt, "--out", &path("a.st")]);
    let full = run(&["--epochs", "30", "--out", &path("full.st")]);
    let resumed = run(&["--epochs", "30", "--resume", &ckpt, "--out", &path("resumed.st")]);
    for key in ["coef", "intercept", "losses"] {
        assert_eq!(full[key], resumed[key], "{key}");
    }
    // Other class weights: another run.
    let other = "the checkpoint was written for other data or settings";
    let base_no_cw: Vec<&str> = base.iter().copied().take(base.len() - 2).collect();
    refused(
        &[
            &base_no_cw[..],
            &["--class-weight", "0=2,1=1,2=1", "--epochs", "30", "--resume", &ckpt, "--out", &path("r.st")],
        ]
        .concat(),
        other,
    );
    assert!(!Path::new(&path("r.st")).exists());
    // The solver's checkpoint is sgd/adam only.
    refused(
        &["train", "--data", WINE, "--solver", "newton", "--resume", &ckpt, "--out", &path("r.st")],
        "--checkpoint-every and --resume apply to --solver sgd and adam",
    );
}

#[test]
fn checkpoints_of_the_other_kind_cut_or_with_an_edited_class_count_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (multi, binary) = (path("multi.ckpt"), path("binary.ckpt"));
    let ok = |args: &[&str]| {
        let out = logreg(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    ok(&[
        &common("sgd")[..],
        &["--epochs", "6", "--checkpoint-every", "5", "--checkpoint", &multi, "--out", &path("m.st")],
    ]
    .concat());
    let binary_run = ["train", "--data", "fixtures/breast_cancer.csv", "--solver", "sgd", "--quiet"];
    ok(&[
        &binary_run[..],
        &["--epochs", "6", "--checkpoint-every", "5", "--checkpoint", &binary, "--out", &path("b.st")],
    ]
    .concat());
    let multi_resume = |ckpt: &str, expected: &str| {
        refused(&[&common("sgd")[..], &["--epochs", "9", "--resume", ckpt, "--out", &path("r.st")]].concat(), expected)
    };
    multi_resume(
        &binary,
        "the checkpoint is of a model of two classes; this run fits 3 classes (softmax): start again without --resume",
    );
    refused(
        &[&binary_run[..], &["--epochs", "9", "--resume", &multi, "--out", &path("r.st")]].concat(),
        "the checkpoint is of a model of 3 classes (softmax); this run fits two classes: start again without --resume",
    );
    // The class count edited (the checksum covers it), the file cut, the loss file cut.
    let text = std::fs::read_to_string(&multi).unwrap();
    assert!(text.contains("\"classes\":3"), "{text}");
    let edited = path("edited.ckpt");
    std::fs::write(&edited, text.replacen("\"classes\":3", "\"classes\":4", 1)).unwrap();
    std::fs::copy(losses_of(Path::new(&multi)), losses_of(Path::new(&edited))).unwrap();
    multi_resume(&edited, "damaged checkpoint (its checksum does not match its contents: edited?)");
    std::fs::write(&edited, &text[..text.len() / 2]).unwrap();
    multi_resume(&edited, "not a logreg checkpoint (EOF while parsing");
    let losses = std::fs::read(losses_of(Path::new(&multi))).unwrap();
    std::fs::write(&edited, &text).unwrap();
    std::fs::write(losses_of(Path::new(&edited)), &losses[..losses.len() - 3]).unwrap();
    multi_resume(&edited, "holds the losses of 4 epochs, not the checkpoint's 5 (cut short?)");
    assert!(!Path::new(&path("r.st")).exists());
}

#[test]
fn flags_that_stay_two_class_are_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.st");
    let m = out.to_str().unwrap();
    refused(
        &["train", "--data", WINE, "--solver", "sgd", "--engine", "fused", "--out", m],
        "--engine fused trains two classes (its passes sum one score per row)",
    );
    refused(
        &["train", "--data", WINE, "--solver", "sgd", "--loss", "logits", "--out", m],
        "--loss applies to two classes",
    );
    refused(
        &["train", "--data", WINE, "--solver", "newton", "--checkpoint-every", "5", "--out", m],
        "--checkpoint-every and --resume apply to --solver sgd and adam",
    );
    assert!(!out.exists());
}
