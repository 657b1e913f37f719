//! `logreg train`, `predict` and `evaluate` through the binary, on the breast-cancer data and on
//! every kind of malformed input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::cli::{logreg, stderr, stdout};

const BREAST_CANCER: &str = "fixtures/breast_cancer.csv";

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn train_json(dir: &Path, extra: &[&str]) -> (PathBuf, serde_json::Value) {
    let model = dir.join("model.safetensors");
    let args =
        [&["train", "--data", BREAST_CANCER, "--out", model.to_str().unwrap(), "--json", "--device", "cpu"], extra]
            .concat();
    let out = logreg(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    (model, serde_json::from_str(&stdout(&out)).unwrap())
}

#[test]
fn train_predict_evaluate_on_breast_cancer() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("loss.png");
    let (model, json) = train_json(
        dir.path(),
        &["--standardize", "--validation-split", "0.2", "--seed", "1", "--plot", plot.to_str().unwrap()],
    );
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"), "--plot wrote no PNG");
    let validation = &json["validation"];
    assert_eq!(validation["rows"], 113, "round(0.2 × 212) + round(0.2 × 357) rows held out");
    assert!(validation["accuracy"].as_f64().unwrap() >= 0.95, "{validation}");
    // The default solver for L2 is Newton: one objective per iteration, from the start.
    let solver = &json["solver"];
    assert_eq!((solver["name"].as_str(), solver["converged"].as_bool()), (Some("newton"), Some(true)), "{solver}");
    assert_eq!(json["losses"].as_array().unwrap().len() as u64, solver["iterations"].as_u64().unwrap() + 1);

    // predict: one row per input row, in order, the label column ignored.
    let out = logreg(&["predict", "--model", model.to_str().unwrap(), "--data", BREAST_CANCER, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "probability,class");
    assert_eq!(lines.len(), 570);
    for line in &lines[1..] {
        let (p, class) = line.split_once(',').unwrap();
        let p: f64 = p.parse().unwrap();
        assert!((0.0..=1.0).contains(&p) && class == if p > 0.5 { "1" } else { "0" }, "{line}");
    }

    // The same rows through stdin, written to a file.
    let written = dir.path().join("probs.csv");
    let mut child = Command::new(crate::cli::bin())
        .args(["predict", "--model", model.to_str().unwrap(), "--data", "-", "--device", "cpu", "--output"])
        .arg(&written)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(BREAST_CANCER).unwrap()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read_to_string(&written).unwrap(), text);

    // evaluate agrees with the predictions.
    let out =
        logreg(&["evaluate", "--model", model.to_str().unwrap(), "--data", BREAST_CANCER, "--json", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let labels: Vec<u8> = std::fs::read_to_string(BREAST_CANCER)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let correct = lines[1..].iter().zip(&labels).filter(|(l, &y)| l.ends_with(&format!(",{y}"))).count();
    assert_eq!(report["accuracy"].as_f64().unwrap(), correct as f64 / 569.0);
    assert_eq!(report["rows"], 569);
    assert_eq!(report["nonzero_weights"], 30);
    for key in ["log_loss", "roc_auc", "precision", "recall", "f1"] {
        assert!(report[key].as_f64().unwrap() > 0.9 || key == "log_loss", "{key}: {report}");
    }
    let human =
        stdout(&logreg(&["evaluate", "--model", model.to_str().unwrap(), "--data", BREAST_CANCER, "--device", "cpu"]));
    assert!(human.contains("ROC AUC") && human.contains("non-zero weights 30 of 30"), "{human}");
}

#[test]
fn l1_training_is_recorded_in_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_json(
        dir.path(),
        &["--standardize", "--penalty", "l1", "--lambda", "0.01", "--solver", "adam", "--epochs", "20"],
    );
    let saved = logreg::model::file::SavedModel::load(&model).unwrap();
    let t = &saved.training;
    assert_eq!(
        (t.penalty.as_str(), t.lambda, t.epochs, t.lambda_l1, t.iterations),
        ("l1", Some(0.01), Some(20), None, None)
    );
    assert_eq!(saved.label_name, "benign");
    assert_eq!(saved.feature_names.len(), 30);
    assert!(saved.standardizer.is_some());
}

/// Runs `train` on `content` (written as `input.csv`, unless `path` overrides the input), expecting
/// exit 2, one line on stderr that contains `expected` (with `{f}` standing for the input path),
/// and no file but the input in the directory.
fn rejected(content: &[u8], extra: &[&str], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.csv");
    std::fs::write(&input, content).unwrap();
    let model = dir.path().join("model.safetensors");
    let args =
        [&["train", "--data", input.to_str().unwrap(), "--out", model.to_str().unwrap(), "--device", "cpu"], extra]
            .concat();
    let out: Output = logreg(&args);
    let err = stderr(&out);
    let expected = expected.replace("{f}", input.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2), "{expected}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(&expected), "{err:?} does not contain {expected:?}");
    assert_eq!(files_in(dir.path()), ["input.csv"], "{expected}: something was written");
}

#[test]
fn every_malformed_csv_is_a_one_line_error_at_its_place() {
    rejected(b"a,b,y\n1,2,0\n3,x,1\n", &[], "{f}:3:2: `x` is not a number (column `b`)");
    rejected(b"a,b,y\n1,2,0\n3,,1\n", &[], "{f}:3:2: empty cell (column `b`)");
    rejected(b"a,b,y\n1,nan,0\n3,4,1\n", &[], "{f}:2:2: `nan` is not a finite number");
    rejected(b"a,b,y\n1,2,0\n3,inf,1\n", &[], "{f}:3:2: `inf` is not a finite number");
    rejected(b"a,b,y\n1,2,0\n3,-1e40,1\n", &[], "{f}:3:2: `-1e40` overflows a 32-bit float");
    rejected(b"a,b,y\n1,2,0\n3,1\n", &[], "{f}:3:3: row has 2 fields, the header has 3");
    rejected(b"a,b,y\n1,2,0,9\n3,4,1\n", &[], "{f}:2:4: row has 4 fields, the header has 3");
    rejected(
        b"a,b,y\n1,2,0\n3,4,1\n",
        &["--label", "target"],
        "{f}:1: no label column `target` in the header (columns: a, b, y)",
    );
    rejected(b"a,y,y\n1,0,0\n3,1,1\n", &["--label", "y"], "{f}:1:3: duplicate column name `y` (also column 2)");
    // Any two values are two classes (issue 12), three or more a multiclass problem (issue 13), up
    // to --max-classes.
    rejected(
        b"a,b,y\n1,2,0\n3,4,2\n5,6,1\n",
        &["--max-classes", "2"],
        "{f}:4:3: label `1` is value 3 of the label column, more than --max-classes 2",
    );
    rejected(b"a,b,y\n1,2,1\n3,4,1\n", &[], "{f}: label column `y` holds only class 1");
    rejected(b"", &[], "{f}: empty file");
    rejected(b"a,b,y\n", &[], "{f}: no data rows after the header");
    rejected(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", &[], "{f}: not a text file");
    rejected(b"a,b,y\n1,2,0\n\xc3\x28,4,1\n", &[], "{f}: not UTF-8 text (invalid byte 0xC3 at byte 12, line 3)");
}

#[test]
fn accepted_csv_dialects_train() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ok.csv");
    std::fs::write(&input, "\u{feff}\"a\", b ,y\r\n1, 2.5 ,true\r\n-1,\"3\",false\r\n2,0.0,1.0\r\n-2,1,0").unwrap();
    let model = dir.path().join("m.safetensors");
    let out = logreg(&[
        "train",
        "--data",
        input.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--solver",
        "sgd",
        "--epochs",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(model.exists());
}

#[test]
fn missing_files_and_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    for (data, expected) in [("no/such.csv", "no/such.csv: No such file or directory"), (".", ".: Is a directory")] {
        let out = logreg(&["train", "--data", data, "--out", model.to_str().unwrap(), "--device", "cpu"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn bad_model_files_and_mismatched_columns_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_json(dir.path(), &["--solver", "adam", "--epochs", "2"]);
    let bytes = std::fs::read(&model).unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let foreign = dir.path().join("foreign.safetensors");
    std::fs::write(&foreign, b"PK\x03\x04 not a model").unwrap();
    let wrong_columns = dir.path().join("wrong.csv");
    std::fs::write(&wrong_columns, "mean radius,something else,benign\n1,2,0\n").unwrap();
    let cases = [
        (truncated.to_str().unwrap(), BREAST_CANCER, format!("{}: not a logreg model file", truncated.display())),
        (foreign.to_str().unwrap(), BREAST_CANCER, format!("{}: not a logreg model file", foreign.display())),
        ("no/model.safetensors", BREAST_CANCER, "no/model.safetensors: No such file or directory".to_string()),
        (
            model.to_str().unwrap(),
            wrong_columns.to_str().unwrap(),
            format!(
                "{}:1: columns do not match the model's 30 features: missing `mean texture`",
                wrong_columns.display()
            ),
        ),
    ];
    for (m, data, expected) in cases {
        for command in ["predict", "evaluate"] {
            let out = logreg(&[command, "--model", m, "--data", data, "--device", "cpu"]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command} {m}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
            assert!(err.contains(&expected), "{command}: {err:?} does not contain {expected:?}");
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn bad_training_flags_are_one_line_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["--validation-split", "1.5"], "invalid --validation-split: 1.5"),
        (&["--batch-size", "0"], "invalid --batch-size: 0"),
        (&["--epochs", "-1"], "invalid --epochs: -1"),
        (&["--solver", "sgd", "--lr", "-1"], "invalid --lr: -1"),
        // Settings of epochs are refused where no epochs run, not ignored.
        (&["--lr", "0.1"], "--lr applies to --solver sgd and adam; --solver auto runs newton or fista to the optimum"),
        (&["--solver", "newton", "--epochs", "5"], "--epochs applies to --solver sgd and adam; newton and fista run"),
        (&["--solver", "fista", "--loss", "bce"], "--loss applies to --solver sgd and adam"),
        (&["--penalty", "none", "--lambda", "0.1"], "--lambda applies to l1 and l2; none takes no λ"),
        (
            &["--penalty", "l1", "--lambda-l2", "0.1"],
            "--lambda-l1 and --lambda-l2 apply to elastic-net; l1 takes --lambda",
        ),
        (&["--loss", "hinge"], "invalid value 'hinge' for '--loss <LOSS>'"),
        (
            &["--C", "1", "--lambda", "0.1"],
            "--C is scikit-learn's form of the penalty and cannot be combined with --lambda",
        ),
        (
            &["--C", "1", "--penalty", "l1"],
            "--C is scikit-learn's form of the penalty and cannot be combined with --penalty",
        ),
        (&["--C", "1", "--alpha", "0.5"], "cannot be combined with --alpha"),
        (&["--C", "1", "--penalize-bias"], "cannot be combined with --penalize-bias"),
        (&["--C", "0"], "invalid --C: 0 (must be a finite number > 0)"),
        (&["--C", "1", "--l1-ratio", "1.5"], "invalid --l1-ratio: 1.5"),
        (&["--l1-ratio", "0.5"], "--l1-ratio is scikit-learn's and goes with --C"),
        (&["--alpha", "0.5"], "--alpha (glmnet's form) needs --lambda"),
        (
            &["--alpha", "0.5", "--lambda", "0.1", "--lambda-l1", "0.1"],
            "--alpha is glmnet's form of the penalty and cannot be combined with --lambda-l1",
        ),
        (&["--alpha", "2", "--lambda", "0.1"], "invalid --alpha: 2"),
        (&["--solver", "newton", "--batch-size", "10"], "--batch-size applies to --solver sgd and adam"),
        (&["--tol", "0"], "invalid --tol: 0"),
        (&["--max-iter", "0"], "invalid --max-iter: 0"),
    ];
    for (extra, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.safetensors");
        let out = logreg(&[&["train", "--data", BREAST_CANCER, "--out", model.to_str().unwrap()], *extra].concat());
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(expected), "{extra:?}: {}", stderr(&out));
        assert!(!model.exists());
    }
}

#[test]
fn ctrl_c_stops_training_and_writes_nothing() {
    let never = ["--tol", "1e-300", "--max-iter", "1000000000"];
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["train", "--solver", "adam", "--epochs", "100000000"], "error: interrupted at epoch "),
        // Nearly unregularized, so FISTA is slow, and a tolerance it never meets.
        ([&["train", "--solver", "fista", "--C", "1e6"][..], &never].concat(), "error: interrupted at iteration "),
        (vec!["cv", "--n-lambdas", "100000"], "error: interrupted at iteration "),
    ];
    for (args, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.safetensors");
        let mut child = Command::new(crate::cli::bin())
            .args(&args)
            .args(["--data", BREAST_CANCER, "--device", "cpu", "--out"])
            .arg(&model)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A loaded machine can take seconds to reach training: wait for the handler, not a clock.
        wait_for_sigint_handler(&mut child, &args);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(sent.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{args:?} did not stop on SIGINT");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{args:?}: {err}");
        assert!(err.starts_with(expected) && err.trim_end().ends_with("no model was written"), "{args:?}: {err}");
        assert!(files_in(dir.path()).is_empty(), "{args:?}: {:?}", files_in(dir.path()));
    }
}

/// Waits until `child` catches SIGINT (its Ctrl-C handler is installed, as /proc says), so that
/// the signal stops training rather than killing the process before it reads its data.
pub fn wait_for_sigint_handler(child: &mut std::process::Child, args: &[&str]) {
    let status = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let caught = std::fs::read_to_string(&status).ok().and_then(|text| {
            let mask = text.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        });
        if caught.is_some_and(|mask| mask & (1 << (SIGINT - 1)) != 0) {
            return;
        }
        if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("{args:?} never installed its Ctrl-C handler");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// SIGINT's number on Linux: bit `SIGINT - 1` of /proc's signal masks.
const SIGINT: u32 = 2;

/// Runs `common` (a `train --json` command) to the end, then again with checkpoints every
/// `every` epochs, killed with SIGKILL right after the first checkpoint and resumed from it; both
/// must end with the same weights and losses. Returns the killed run's arguments and checkpoint.
pub fn kill_and_resume(dir: &Path, common: &[&str], every: &str) -> (Vec<String>, String) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let json = |out: &std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", stderr(out));
        serde_json::from_str(&stdout(out)).unwrap()
    };
    let full = json(&logreg(&[common, &["--out", &path("full.safetensors")]].concat()));
    let (ckpt, model) = (path("k.ckpt"), path("k.safetensors"));
    let killed: Vec<String> = [common, &["--out", &model, "--checkpoint-every", every, "--checkpoint", &ckpt]]
        .concat()
        .iter()
        .map(|a| a.to_string())
        .collect();
    let mut child = Command::new(crate::cli::bin()).args(&killed).stdout(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !Path::new(&ckpt).exists() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint was written");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!Path::new(&model).exists(), "a killed run wrote its model");
    let checkpoint: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&ckpt).unwrap()).unwrap();
    let stopped = checkpoint["state"]["epoch"].as_u64().unwrap();
    let (every_n, epochs) = (every.parse::<u64>().unwrap(), full["losses"].as_array().unwrap().len() as u64);
    assert!(stopped >= every_n && stopped < epochs && stopped.is_multiple_of(every_n), "{stopped}");
    let args: Vec<&str> = killed.iter().map(String::as_str).collect();
    let resumed = json(&logreg(&[&args[..], &["--resume", &ckpt]].concat()));
    for key in ["coef", "intercept", "losses", "validation_losses"] {
        assert_eq!(full[key], resumed[key], "{key} differs after resuming at epoch {stopped}");
    }
    (killed, ckpt)
}

#[test]
fn a_run_killed_and_resumed_ends_with_the_uninterrupted_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let common = [
        "train",
        "--data",
        BREAST_CANCER,
        "--standardize",
        "--solver",
        "adam",
        "--batch-size",
        "64",
        "--epochs",
        "1500",
        "--seed",
        "3",
        "--validation-split",
        "0.2",
        "--json",
        "--quiet",
        "--device",
        "cpu",
    ];
    let (killed, ckpt) = kill_and_resume(dir.path(), &common, "20");
    let killed: Vec<&str> = killed.iter().map(String::as_str).collect();
    // A checkpoint resumes only the run it came from.
    for (extra, expected) in [
        (&["--lr", "0.02"][..], "the checkpoint was written for other data or settings"),
        (&["--seed", "4"][..], "the checkpoint was written for other data or settings"),
        (&["--epochs", "10"][..], "invalid --epochs: 10 (must exceed the checkpoint's completed epochs)"),
    ] {
        let mut args = [&killed[..], &["--resume", &ckpt]].concat();
        for pair in extra.chunks(2) {
            match args.iter().position(|a| *a == pair[0]) {
                Some(i) => args[i + 1] = pair[1],
                None => args.extend_from_slice(pair),
            }
        }
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(expected), "{extra:?}: {}", stderr(&out));
    }
    for (args, expected) in [
        (
            vec!["train", "--data", BREAST_CANCER, "--solver", "sgd", "--resume", BREAST_CANCER],
            "not a logreg checkpoint",
        ),
        (vec!["train", "--data", BREAST_CANCER, "--checkpoint-every", "5"], "apply to --solver sgd and adam"),
        (
            vec!["train", "--data", BREAST_CANCER, "--solver", "sgd", "--checkpoint-every", "0"],
            "invalid --checkpoint-every: 0",
        ),
    ] {
        let out = logreg(&[&args[..], &["--out", &path("bad.safetensors")]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
}

/// `--batch-folds on` (the folds solved together) gives the table of `off` to the solver's
/// tolerance on the CPU, says which it did in `--json`, and needs newton.
#[test]
fn cv_batch_folds_gives_the_same_table_and_needs_newton() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cv.safetensors");
    let run = |batch: &str, solver: &str| {
        let args = ["cv", "--data", BREAST_CANCER, "--standardize", "--n-lambdas", "10", "--folds", "3"];
        let more = ["--batch-folds", batch, "--solver", solver, "--device", "cpu", "--json", "--out"];
        logreg(&[&args[..], &more[..], &[model.to_str().unwrap()][..]].concat())
    };
    let table = |batch: &str| {
        let out = run(batch, "newton");
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(json["batched_folds"], batch == "on");
        assert!(json["fit_seconds"].as_f64().unwrap() > 0.0);
        json
    };
    let (together, apart) = (table("on"), table("off"));
    let means = |j: &serde_json::Value| -> Vec<f64> {
        j["points"].as_array().unwrap().iter().map(|p| p["log_loss_mean"].as_f64().unwrap()).collect()
    };
    for (a, b) in means(&together).iter().zip(means(&apart)) {
        assert!((a - b).abs() <= 1e-7, "{a} vs {b}");
    }
    assert_eq!(together["best"]["lambda"], apart["best"]["lambda"]);
    let out = run("on", "fista");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).trim(), "error: invalid --batch-folds: true (needs the newton solver)");
}

#[test]
fn cv_picks_best_and_one_se_lambdas_and_refits() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cv.safetensors");
    let csv = dir.path().join("cv.csv");
    let run = |select: &str| {
        let out = logreg(&[
            "cv",
            "--data",
            BREAST_CANCER,
            "--standardize",
            "--n-lambdas",
            "12",
            "--folds",
            "4",
            "--select",
            select,
            "--out",
            model.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--json",
            "--device",
            "cpu",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let json = run("best");
    let (best, one_se) = (&json["best"], &json["one_se"]);
    assert_eq!(json["fold_sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 569);
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 12);
    let lowest = points.iter().map(|p| p["log_loss_mean"].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
    assert_eq!(best["log_loss_mean"].as_f64().unwrap(), lowest);
    assert!(best["auc_mean"].as_f64().unwrap() > 0.98, "{best}");
    let limit = lowest + best["log_loss_se"].as_f64().unwrap();
    assert!(one_se["lambda"].as_f64().unwrap() >= best["lambda"].as_f64().unwrap());
    assert!(one_se["log_loss_mean"].as_f64().unwrap() <= limit);
    // No larger λ is within one standard error.
    assert!(points.iter().filter(|p| p["lambda"].as_f64().unwrap() > one_se["lambda"].as_f64().unwrap()).all(|p| p
        ["log_loss_mean"]
        .as_f64()
        .unwrap()
        > limit));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 13);
    // The written model is the chosen fit: evaluate sees its non-zero weights.
    let evaluate = |expected: &serde_json::Value| {
        let out = logreg(&["evaluate", "--model", model.to_str().unwrap(), "--data", BREAST_CANCER, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(report["nonzero_weights"], expected["nonzero"]);
        report["log_loss"].as_f64().unwrap()
    };
    evaluate(best);
    let sparse = run("one-se");
    assert_eq!(sparse["chosen"], sparse["one_se"]);
    evaluate(&sparse["one_se"]);
    for (extra, expected) in [
        (&["--folds", "1"][..], "invalid --folds: 1 (must be at least 2)"),
        (&["--folds", "300"][..], "invalid --folds: 300 (exceeds the rows of a class"),
        (&["--jobs", "0"][..], "invalid --jobs: 0"),
        (&["--alpha", "0"][..], "invalid --alpha: 0"),
    ] {
        let bad = dir.path().join("bad.safetensors");
        let args = [&["cv", "--data", BREAST_CANCER, "--out", bad.to_str().unwrap()][..], extra].concat();
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).starts_with(&format!("error: {expected}")), "{extra:?}: {}", stderr(&out));
        assert!(!bad.exists());
    }
}

#[test]
fn npy_input_trains_exactly_as_the_same_csv_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = (dir.path().join("X.npy"), dir.path().join("y.npy"));
    let script = "import sys, numpy as np; a = np.loadtxt(sys.argv[1], delimiter=',', skiprows=1); \
                  np.save(sys.argv[2], a[:, :-1]); np.save(sys.argv[3], a[:, -1].astype(np.int64))";
    let status =
        Command::new(crate::python()).args(["-c", script, BREAST_CANCER]).arg(&x).arg(&y).status().expect("numpy");
    assert!(status.success());
    let common = ["--standardize", "--validation-split", "0.2", "--solver", "adam", "--epochs", "50"];
    let (_, from_csv) = train_json(dir.path(), &common);
    let model = dir.path().join("npy.safetensors");
    let (xs, ys, ms) = (x.to_str().unwrap(), y.to_str().unwrap(), model.to_str().unwrap());
    let out = logreg(
        &[&["train", "--data", xs, "--labels", ys, "--out", ms, "--json", "--device", "cpu"], &common[..]].concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let from_npy: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(from_npy["losses"], from_csv["losses"]);
    assert_eq!(from_npy["validation"], from_csv["validation"]);

    let out = logreg(&["predict", "--model", ms, "--data", xs, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 570);
    let out = logreg(&["evaluate", "--model", ms, "--data", xs, "--labels", ys, "--json", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["rows"], 569);

    for (args, expected) in [
        (vec!["train", "--data", xs, "--out", ms], "--labels: a .npy --data needs its labels"),
        (vec!["train", "--data", BREAST_CANCER, "--labels", ys, "--out", ms], "--labels applies to .npy data"),
        (vec!["train", "--data", xs, "--labels", ys, "--label", "y", "--out", ms], "--label names a CSV column"),
        (
            vec!["predict", "--model", ms, "--data", BREAST_CANCER],
            "columns do not match the model's 30 features: missing `x0`",
        ),
        (vec!["train", "--data", ys, "--labels", ys, "--out", ms], "features must be a 2-D array"),
    ] {
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn exact_solvers_give_sparse_optima_in_every_parameter_form() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = |extra: &[&str]| {
        let (_, json) = train_json(dir.path(), &[&["--standardize"], extra].concat());
        assert_eq!(json["solver"]["converged"], true, "{extra:?}: {}", json["solver"]);
        let nonzero = json["nonzero_weights"].as_u64().unwrap();
        assert!((1..30).contains(&nonzero), "{extra:?}: {nonzero} non-zero weights");
        (json["solver"]["name"].as_str().unwrap().to_string(), nonzero, json["solver"]["objective"].as_f64().unwrap())
    };
    let tutorial = sparse(&["--penalty", "l1", "--lambda", "0.02"]);
    assert_eq!(tutorial.0, "newton", "auto is proximal Newton for 30 features");
    let fista = sparse(&["--penalty", "l1", "--lambda", "0.02", "--solver", "fista"]);
    assert_eq!(tutorial.1, fista.1);
    assert!((tutorial.2 - fista.2).abs() <= 1e-9 * tutorial.2, "{tutorial:?} vs {fista:?}");
    // scikit-learn's C = 0.1, l1_ratio = 1 on 569 rows is λ₁ = 1/56.9; glmnet's λ = 1/56.9, α = 1 too.
    let sklearn = sparse(&["--C", "0.1", "--l1-ratio", "1"]);
    let glmnet = sparse(&["--alpha", "1", "--lambda", &(1.0 / 56.9).to_string()]);
    assert_eq!(sklearn.1, glmnet.1);
    assert!((sklearn.2 - glmnet.2).abs() <= 1e-9 * sklearn.2, "{sklearn:?} vs {glmnet:?}");
    // Too few iterations: a warning, not silence, and the model is still written.
    let model = dir.path().join("few.safetensors");
    let out = logreg(&[
        "train",
        "--data",
        BREAST_CANCER,
        "--standardize",
        "--penalty",
        "l1",
        "--max-iter",
        "3",
        "--device",
        "cpu",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        stderr(&out).starts_with("warning: newton stopped after 3 iterations without converging"),
        "{}",
        stderr(&out)
    );
    assert!(model.exists());
}

#[test]
fn path_runs_from_all_zero_to_dense_and_writes_csv_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, plot) = (dir.path().join("path.csv"), dir.path().join("path.png"));
    let out = logreg(&[
        "path",
        "--data",
        BREAST_CANCER,
        "--standardize",
        "--n-lambdas",
        "8",
        "--json",
        "--device",
        "cpu",
        "--csv",
        csv.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let points = json["path"].as_array().unwrap();
    assert_eq!(points.len(), 8);
    assert_eq!(points[0]["nonzero"], 0);
    assert!(points[7]["nonzero"].as_u64().unwrap() > 10, "{}", points[7]["nonzero"]);
    assert!(points.iter().all(|p| p["converged"] == true));
    let ratio = points[7]["lambda"].as_f64().unwrap() / points[0]["lambda"].as_f64().unwrap();
    assert!((ratio - 1e-3).abs() < 1e-12, "{ratio}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!((header.len(), header[0], header[4]), (34, "lambda", "mean radius"));
    assert_eq!(text.lines().count(), 9);
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    for (extra, expected) in [
        (["--alpha", "0"], "invalid --alpha: 0"),
        (["--n-lambdas", "1"], "invalid --n-lambdas: 1"),
        (["--lambda-ratio", "2"], "invalid --lambda-ratio: 2"),
    ] {
        let out = logreg(&[&["path", "--data", BREAST_CANCER, "--device", "cpu"], &extra[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains(expected), "{extra:?}: {}", stderr(&out));
    }
}

/// Ctrl-C after a checkpoint: exit 130, and the message names the checkpoint and the command that
/// resumes from it (the same command with `--resume`).
#[test]
fn ctrl_c_after_a_checkpoint_says_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let ckpt = dir.path().join("m.safetensors.ckpt");
    let mut child = Command::new(crate::cli::bin())
        .args([
            "train",
            "--data",
            BREAST_CANCER,
            "--solver",
            "sgd",
            "--epochs",
            "100000000",
            "--checkpoint-every",
            "10",
        ])
        .args(["--device", "cpu", "--out"])
        .arg(&model)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !ckpt.exists() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint was written");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    let ckpt = ckpt.to_str().unwrap();
    assert!(err.starts_with("error: interrupted at epoch ") && err.lines().count() == 1, "{err}");
    assert!(err.contains(&format!("no model was written; {ckpt} holds epoch ")), "{err}");
    assert!(err.trim_end().ends_with(&format!(" --resume {ckpt}`")), "{err}");
    assert!(!model.exists());
}

/// `logreg predict … | head -1`: the pipe closes early, and the command ends without a word.
#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let out = logreg(&["train", "--data", BREAST_CANCER, "--device", "cpu", "--out", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Enough rows that the output outgrows the pipe's buffer.
    let text = std::fs::read_to_string(BREAST_CANCER).unwrap();
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let big = dir.path().join("big.csv");
    std::fs::write(&big, format!("{}\n{}", text.lines().next().unwrap(), body.repeat(40))).unwrap();
    let mut child = Command::new(crate::cli::bin())
        .args(["predict", "--model", model.to_str().unwrap(), "--data", big.to_str().unwrap(), "--device", "cpu"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 18];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    assert_eq!(&first, b"probability,class\n");
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "{err}");
    assert!(status.success() || std::os::unix::process::ExitStatusExt::signal(&status) == Some(13), "{status:?}");
}

#[test]
fn threads_must_be_at_least_one_and_apply_to_every_command() {
    for (before, after) in [(true, "0"), (true, "-1"), (false, "-1"), (false, "99999999999")] {
        let args = if before {
            vec!["--threads", after, "tutorial", "l2", "--device", "cpu"]
        } else {
            vec!["tutorial", "l2", "--device", "cpu", "--threads", after]
        };
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            format!("error: invalid --threads: {after} (must be between 1 and 1024)\n"),
            "{args:?}"
        );
    }
    let one = logreg(&["tutorial", "l2", "--device", "cpu", "--json", "--threads", "1"]);
    let default = logreg(&["tutorial", "l2", "--device", "cpu", "--json"]);
    assert!(one.status.success(), "{}", stderr(&one));
    // The same numbers; the epochs' own time (`epoch_seconds`) is the one field that may differ.
    let numbers = |out: &std::process::Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v.as_object_mut().unwrap().remove("epoch_seconds").is_some());
        v
    };
    assert_eq!(numbers(&one), numbers(&default), "one thread gives the same numbers");
}

/// Standard output on a full disk (`/dev/full`): one line and exit 2, never a panic.
#[test]
fn a_full_disk_on_standard_output_is_one_line() {
    for args in [
        &["tutorial", "l2", "--device", "cpu"][..],
        &["tutorial", "l2", "--device", "cpu", "--json"],
        &["path", "--data", BREAST_CANCER, "--device", "cpu", "--n-lambdas", "3"],
    ] {
        let out = Command::new(crate::cli::bin())
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&out),
            "error: writing to standard output: No space left on device (os error 28)\n",
            "{args:?}"
        );
    }
}

/// An output that is an input, two outputs that are one file, or an output in a missing folder:
/// refused before any work, each in one line, with every file as it was.
#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::copy(BREAST_CANCER, p("d.csv")).unwrap();
    let out = logreg(&["train", "--data", &p("d.csv"), "--device", "cpu", "--quiet", "--out", &p("m.st")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before: Vec<(String, Vec<u8>)> =
        ["d.csv", "m.st"].iter().map(|f| (f.to_string(), std::fs::read(p(f)).unwrap())).collect();
    let same = format!("{}/./d.csv", dir.path().display());
    let (d, m, n, x) = (p("d.csv"), p("m.st"), p("n.st"), p("x.npy"));
    let (no_dir, data) = (p("nodir/p.png"), d.as_str());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["predict", "--model", &m, "--data", data, "--out", &same], "the same file as --data"),
        (vec!["predict", "--model", &m, "--data", data, "--out", &m], "the same file as --model"),
        (vec!["train", "--data", data, "--out", data], "the same file as --data"),
        (vec!["train", "--data", data, "--out", &n, "--plot", &n], "--plot"),
        (vec!["train", "--data", data, "--out", &n, "--plot", &no_dir], "no folder"),
        (vec!["path", "--data", data, "--csv", data], "the same file as --data"),
        (vec!["cv", "--data", data, "--out", &n, "--csv", &n], "name the same file"),
        (vec!["convert", data, &x, "--labels-out", &x], "name the same file"),
    ];
    for (args, expected) in cases {
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.lines().count() == 1 && err.contains(expected), "{args:?}: {err}");
    }
    for (name, bytes) in before {
        assert_eq!(std::fs::read(p(&name)).unwrap(), bytes, "{name} changed");
    }
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["d.csv", "m.st"], "nothing else was written");
}

/// A cell near the f32 maximum sends Newton to NaN: exit 2 with the reason, and no model file.
#[test]
fn a_fit_that_cannot_predict_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(BREAST_CANCER).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let cells: Vec<&str> = lines[5].splitn(2, ',').collect();
    lines[5] = format!("3e38,{}", cells[1]);
    let csv = dir.path().join("huge.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let model = dir.path().join("m.safetensors");
    let out = logreg(&[
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--solver",
        "newton",
        "--device",
        "cpu",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the fitted model: weight") && err.contains("so it cannot predict; nothing was written"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no warning before it: {err}");
    assert!(!model.exists());
}

#[test]
fn every_command_answers_json_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (model, npy) = (p("m.safetensors"), p("bc.npy"));
    let cpu = ["--device", "cpu"];
    let cv_out = p("cv.st");
    let commands: [Vec<&str>; 7] = [
        [&["tutorial", "l2", "--epochs", "20"][..], &cpu].concat(),
        [&["train", "--data", BREAST_CANCER, "--out", &model, "--standardize"][..], &cpu].concat(),
        [&["path", "--data", BREAST_CANCER, "--standardize", "--n-lambdas", "5"][..], &cpu].concat(),
        [
            &["cv", "--data", BREAST_CANCER, "--standardize", "--n-lambdas", "5", "--folds", "3", "--out", &cv_out][..],
            &cpu,
        ]
        .concat(),
        [&["predict", "--model", &model, "--data", BREAST_CANCER][..], &cpu].concat(),
        [&["evaluate", "--model", &model, "--data", BREAST_CANCER][..], &cpu].concat(),
        vec!["convert", BREAST_CANCER, &npy],
    ];
    for command in &commands {
        let out = logreg(&[&command[..], &["--json"]].concat());
        assert!(out.status.success(), "{command:?}: {}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        // One JSON value; predict writes one object per row.
        let expected = if command[0] == "predict" { 569 } else { 1 };
        assert_eq!(lines.len(), expected, "{command:?} --json: {text}");
        for line in lines {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{command:?}: {e}: {line}"));
            assert!(v.is_object(), "{command:?}: {line}");
        }
        let out = logreg(&[&command[..], &["--quiet"]].concat());
        assert!(out.status.success(), "{command:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{command:?} --quiet: {}", stderr(&out));
        // predict's rows are its product, not chatter; everything else is silent.
        match command[0] {
            "predict" => assert_eq!(stdout(&out).lines().count(), 570),
            _ => assert!(out.stdout.is_empty(), "{command:?} --quiet: {}", stdout(&out)),
        }
    }
    let row: serde_json::Value = serde_json::from_str(
        stdout(&logreg(&["predict", "--model", &model, "--data", BREAST_CANCER, "--json", "--device", "cpu"]))
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let p = row["probability"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p) && row["class"] == u8::from(p > 0.5), "{row}");
}

#[test]
fn columns_are_matched_by_name_and_evaluate_takes_the_label_column() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = train_json(dir.path(), &["--standardize"]);
    let m = model.to_str().unwrap();
    // The same table with its feature columns reversed, its label column kept or renamed.
    let text = std::fs::read_to_string(BREAST_CANCER).unwrap();
    let write = |name: &str, label_name: &str| {
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let mut cells: Vec<&str> = line.split(',').collect();
            let label = cells.pop().unwrap();
            cells.reverse();
            out += &format!("{},{}\n", cells.join(","), if i == 0 { label_name } else { label });
        }
        let path = dir.path().join(name);
        std::fs::write(&path, out).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (reversed, renamed) = (write("reversed.csv", "benign"), write("renamed.csv", "target"));
    let run = |args: &[&str]| {
        let out = logreg(&[args, &["--device", "cpu"]].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let original = run(&["predict", "--model", m, "--data", BREAST_CANCER]);
    assert_eq!(run(&["predict", "--model", m, "--data", &reversed]), original);
    let report = run(&["evaluate", "--model", m, "--data", BREAST_CANCER, "--json"]);
    assert_eq!(run(&["evaluate", "--model", m, "--data", &renamed, "--label", "target", "--json"]), report);
    // Without --label, the model's label column is looked for, and named.
    let out = logreg(&["evaluate", "--model", m, "--data", &renamed, "--device", "cpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no label column `benign`"), "{}", stderr(&out));
}
