//! `train --stream` with three or more classes beyond full batch: `--batch-size` takes the
//! in-memory run's batches (the same numbers, bit for bit), `--checkpoint-every` / `--resume`
//! end a run killed with SIGKILL as the uninterrupted one, and checkpoints of another run are
//! refused in one line that writes nothing.

use std::path::Path;

use crate::cli::{logreg, stderr, stdout};

/// `fixtures/wine.csv` (178 rows, 13 features, classes 0, 1, 2) converted into `dir`: the
/// features and labels files.
fn wine(dir: &Path) -> (String, String) {
    let (x, y) = (dir.join("wine.npy"), dir.join("wine.labels.npy"));
    let out = logreg(&["convert", "fixtures/wine.csv", x.to_str().unwrap(), "--max-classes", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    (x.to_str().unwrap().to_string(), y.to_str().unwrap().to_string())
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = logreg(&[args, &["--json", "--quiet"]].concat());
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn streamed_mini_batches_are_the_in_memory_runs_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = wine(dir.path());
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for solver in ["sgd", "adam"] {
        // Raw wine features (proline in the thousands): a small rate keeps sgd finite.
        let lr = if solver == "sgd" { "1e-6" } else { "0.01" };
        let common = [
            "train", "--data", &x, "--labels", &y, "--solver", solver, "--lr", lr, "--epochs", "30", "--device", "cpu",
        ];
        let run =
            |extra: &[&str], name: &str| json(&[&common[..], &["--seed", "5", "--out", &out(name)], extra].concat());
        let memory = run(&["--batch-size", "16"], "m.st");
        // Chunks of 50 rows: a batch of 16 drawn by randperm takes rows from all four.
        let streamed = run(&["--batch-size", "16", "--stream", "--chunk-rows", "50"], "s.st");
        for key in ["losses", "coef", "intercept"] {
            assert_eq!(memory[key], streamed[key], "{solver}: {key}");
        }
        let losses: Vec<f64> = streamed["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(losses[29] < losses[0], "{solver}: {losses:?}");
        // A batch of every row is the full batch: the gradient summed chunk by chunk.
        let whole = run(&["--batch-size", "500", "--stream", "--chunk-rows", "50"], "w.st");
        let full = run(&["--stream", "--chunk-rows", "50"], "f.st");
        assert_eq!(whole["losses"], full["losses"], "{solver}");
        assert_ne!(whole["losses"], streamed["losses"], "{solver}");
    }
}

#[test]
fn a_streamed_run_killed_after_a_checkpoint_and_resumed_ends_with_the_uninterrupted_weights() {
    // Batches of 32 over chunks of 40 (the full batch resumes too: the library's unit test).
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = wine(dir.path());
    let mut args = vec!["train", "--data", &x, "--labels", &y, "--stream", "--chunk-rows", "40", "--standardize"];
    args.extend(["--solver", "adam", "--lr", "0.01", "--epochs", "400", "--seed", "4", "--json", "--quiet"]);
    args.extend(["--batch-size", "32"]);
    crate::data_cli::kill_and_resume(dir.path(), &args, "25");
}

/// `args` ends with exit 2 and one line on stderr containing `expected`, and leaves `dir` as it was.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let before = contents(dir);
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
    assert_eq!(contents(dir), before, "{args:?} changed the folder");
}

/// Every file in `dir` with its bytes, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn checkpoints_of_another_run_or_cut_are_refused_in_one_line_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = wine(dir.path());
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let base = ["train", "--data", &x, "--labels", &y, "--stream", "--solver", "adam", "--seed", "4", "--quiet"];
    let stream = |extra: &[&str]| -> Vec<String> {
        [&base[..], &["--batch-size", "32", "--out", &path("m.st")], extra]
            .concat()
            .iter()
            .map(|a| a.to_string())
            .collect()
    };
    let ok = |args: &[&str]| {
        let out = logreg(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    };
    let checkpointed = |args: &[&str], ckpt: &str| {
        ok(&[args, &["--epochs", "6", "--checkpoint-every", "5", "--checkpoint", ckpt]].concat());
    };
    let own = path("own.ckpt");
    checkpointed(&stream(&[]).iter().map(String::as_str).collect::<Vec<_>>(), &own);
    // A two-class run's checkpoint (breast cancer, in memory).
    let binary = path("binary.ckpt");
    checkpointed(
        &["train", "--data", "fixtures/breast_cancer.csv", "--solver", "sgd", "--quiet", "--out", &path("b.st")],
        &binary,
    );
    // The same data in memory: another run.
    let memory = path("memory.ckpt");
    checkpointed(
        &[
            &base[..2],
            &[&x, "--labels", &y, "--solver", "adam", "--seed", "4", "--batch-size", "32", "--out", &path("i.st")],
        ]
        .concat(),
        &memory,
    );
    // Another file of three classes (wine's rows halved), and a file of four classes.
    let (half_x, half_y, four_x, four_y) =
        (path("half.npy"), path("half.labels.npy"), path("four.npy"), path("four.labels.npy"));
    let features: Vec<f32> = (0..60 * 2).map(|i| ((i * 37) % 17) as f32 / 4.0).collect();
    crate::multiclass_grid::write_npy(Path::new(&half_x), &features, &[60, 2]);
    crate::multiclass_grid::write_npy(Path::new(&half_y), &(0..60).map(|i| (i % 3) as f32).collect::<Vec<_>>(), &[60]);
    crate::multiclass_grid::write_npy(Path::new(&four_x), &features, &[60, 2]);
    crate::multiclass_grid::write_npy(Path::new(&four_y), &(0..60).map(|i| (i % 4) as f32).collect::<Vec<_>>(), &[60]);
    let other_file = path("other.ckpt");
    let small = |xs: &str, ys: &str| -> Vec<String> {
        [
            "train",
            "--data",
            xs,
            "--labels",
            ys,
            "--stream",
            "--solver",
            "adam",
            "--quiet",
            "--batch-size",
            "32",
            "--out",
            &path("o.st"),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    checkpointed(&small(&half_x, &half_y).iter().map(String::as_str).collect::<Vec<_>>(), &other_file);
    let four = path("four.ckpt");
    checkpointed(&small(&four_x, &four_y).iter().map(String::as_str).collect::<Vec<_>>(), &four);
    let cut = path("cut.ckpt");
    let text = std::fs::read_to_string(&own).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    std::fs::copy(format!("{own}.losses"), format!("{cut}.losses")).unwrap();
    std::fs::remove_file(path("m.st")).unwrap();
    let resume = |ckpt: &str, extra: &[&str], expected: &str| {
        let args = stream(&[&["--epochs", "9", "--resume", ckpt], extra].concat());
        refused(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), expected);
    };
    let other = "the checkpoint was written for other data or settings (only the epochs may change)";
    resume(&binary, &[], "the checkpoint is of a model of two classes; this run fits 3 classes (softmax)");
    resume(&four, &[], "the checkpoint is of a model of 4 classes (softmax); this run fits 3 classes (softmax)");
    resume(&other_file, &[], other);
    resume(&memory, &[], other);
    resume(&cut, &[], "not a logreg checkpoint (EOF while parsing");
    // Another batch size: other batches, another run (the resumed state would not be this run's).
    let mut other_batch = stream(&["--epochs", "9", "--resume", &own]);
    let at = other_batch.iter().position(|a| a == "32").unwrap();
    other_batch[at] = "16".into();
    refused(dir.path(), &other_batch.iter().map(String::as_str).collect::<Vec<_>>(), other);
    // And the checkpoint itself resumes.
    ok(&stream(&["--epochs", "9", "--resume", &own]).iter().map(String::as_str).collect::<Vec<_>>());
}
