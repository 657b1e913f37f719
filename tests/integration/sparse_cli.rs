//! Sparse `--data` through the binary: libsvm text and scipy's `.npz` train to the optimum of the
//! same rows as CSV, score as CSV does, and bad input ends in one line with exit 2.

use std::path::Path;

use crate::cli::{logreg, stderr, stdout};

/// Rows of a small problem with zeros in it: (label, values), values of few digits so that every
/// reader rounds them to the same f32.
pub(crate) fn rows() -> Vec<(u8, Vec<f64>)> {
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % 2001) as f64 / 1000.0 - 1.0
    };
    (0..120)
        .map(|i| {
            let x: Vec<f64> =
                (0..8).map(|j| if (i + j) % 3 == 0 { 0.0 } else { (next() * 1000.0).round() / 1000.0 }).collect();
            let label = u8::from(x[0] - x[1] + 0.5 * x[4] + 0.3 * next() > 0.0);
            (label, x)
        })
        .collect()
}

pub(crate) fn write_files(dir: &Path) -> (String, String) {
    let rows = rows();
    let mut svm = String::new();
    let mut csv = (0..8).map(|j| format!("x{j}")).collect::<Vec<_>>().join(",") + ",y\n";
    for (label, x) in &rows {
        svm += if *label == 1 { "+1" } else { "-1" };
        for (j, v) in x.iter().enumerate().filter(|(_, v)| **v != 0.0) {
            svm += &format!(" {}:{v}", j + 1);
        }
        svm += "\n";
        csv += &(x.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",") + &format!(",{label}\n"));
    }
    let (svm_path, csv_path) = (dir.join("d.svm"), dir.join("d.csv"));
    std::fs::write(&svm_path, svm).unwrap();
    std::fs::write(&csv_path, csv).unwrap();
    (svm_path.display().to_string(), csv_path.display().to_string())
}

pub(crate) fn train_json(args: &[&str]) -> serde_json::Value {
    let out = logreg(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn objective(j: &serde_json::Value) -> f64 {
    j["solver"]["objective"].as_f64().unwrap()
}

#[test]
fn libsvm_and_npz_train_to_the_csv_optimum_and_score_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, csv) = write_files(dir.path());
    let model = dir.path().join("m.safetensors").display().to_string();
    for (penalty, solvers) in [("0", ["tron", "newton-cd"]), ("1", ["newton-cd", "auto"])] {
        let csv_json = train_json(&[
            "train",
            "--data",
            &csv,
            "--C",
            "0.5",
            "--l1-ratio",
            penalty,
            "--solver",
            "newton",
            "--json",
            "--quiet",
            "--device",
            "cpu",
            "--out",
            &model,
        ]);
        for solver in solvers {
            let j = train_json(&[
                "train",
                "--data",
                &svm,
                "--C",
                "0.5",
                "--l1-ratio",
                penalty,
                "--solver",
                solver,
                "--json",
                "--quiet",
                "--out",
                &model,
            ]);
            let gap = (objective(&j) - objective(&csv_json)).abs() / objective(&csv_json);
            assert!(gap < 1e-10, "{solver} l1_ratio {penalty}: {} vs {}", objective(&j), objective(&csv_json));
            assert_eq!(
                j["nnz"].as_u64().unwrap() as usize,
                rows().iter().map(|(_, x)| x.iter().filter(|v| **v != 0.0).count()).sum::<usize>()
            );
            let zeros = |v: &serde_json::Value| {
                v["coef"].as_array().unwrap().iter().map(|w| w.as_f64() == Some(0.0)).collect::<Vec<_>>()
            };
            assert_eq!(zeros(&j), zeros(&csv_json), "{solver}");
            if solver == "auto" {
                let reason = j["solver"]["auto"]["reason"].as_str().unwrap();
                assert!(reason.starts_with("120 rows × 8 features"), "{reason}");
            }
        }
    }
    // The model trained on libsvm scores the libsvm and the CSV file alike.
    let from_svm = logreg(&["predict", "--model", &model, "--data", &svm]);
    let from_csv = logreg(&["predict", "--model", &model, "--data", &csv, "--device", "cpu"]);
    assert!(from_svm.status.success() && from_csv.status.success(), "{}{}", stderr(&from_svm), stderr(&from_csv));
    let probs = |o: &std::process::Output| -> Vec<f64> {
        stdout(o).lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
    };
    let (a, b) = (probs(&from_svm), probs(&from_csv));
    assert_eq!(a.len(), 120);
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-6), "{a:?} vs {b:?}");
    let eval = logreg(&["evaluate", "--model", &model, "--data", &svm, "--json"]);
    let eval: serde_json::Value = serde_json::from_str(&stdout(&eval)).unwrap();
    assert_eq!(eval["rows"], 120);

    // scipy's own .npz, CSR and CSC, with the labels as .npy.
    let script = format!(
        "import numpy as np, scipy.sparse as sp\n\
         rows = [l.split() for l in open('{svm}')]\n\
         y = np.array([1.0 if r[0] == '+1' else 0.0 for r in rows], dtype=np.float32)\n\
         m = sp.lil_matrix((len(rows), 8), dtype=np.float32)\n\
         for i, r in enumerate(rows):\n\
         \x20   for t in r[1:]:\n\
         \x20       j, v = t.split(':'); m[i, int(j) - 1] = float(v)\n\
         np.save('{dir}/y.npy', y)\n\
         sp.save_npz('{dir}/csr.npz', m.tocsr())\n\
         sp.save_npz('{dir}/csc.npz', m.tocsc(), compressed=False)\n",
        dir = dir.path().display()
    );
    let out = std::process::Command::new(crate::python()).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let y = dir.path().join("y.npy").display().to_string();
    let reference =
        train_json(&["train", "--data", &svm, "--C", "0.5", "--l1-ratio", "1", "--json", "--quiet", "--out", &model]);
    for npz in ["csr.npz", "csc.npz"] {
        let x = dir.path().join(npz).display().to_string();
        let j = train_json(&[
            "train",
            "--data",
            &x,
            "--labels",
            &y,
            "--C",
            "0.5",
            "--l1-ratio",
            "1",
            "--json",
            "--quiet",
            "--out",
            &model,
        ]);
        assert_eq!(j["coef"], reference["coef"], "{npz}");
    }
}

#[test]
fn bad_sparse_input_is_one_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, _) = write_files(dir.path());
    let model = dir.path().join("m.safetensors").display().to_string();
    let bad = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let cases = [
        (bad("zero.svm", "+1 1:1\n-1 0:2\n"), ":2:4: index 0: indices start at 1"),
        (bad("order.svm", "+1 2:1 1:2\n-1 1:1\n"), ":1:8: index 1 not increasing (after 2)"),
        (bad("nan.svm", "+1 1:nan\n-1 1:1\n"), ":1:6: value `nan` is not a finite f32"),
        (bad("qid.libsvm", "+1 qid:1 1:1\n"), ":1:4: qid: ranking data is not read"),
        (bad("broken.npz", "PK\x05\x06 not a zip"), "not a readable .npz (zip) file"),
    ];
    for (path, expected) in &cases {
        let out = logreg(&["train", "--data", path, "--out", &model, "--labels", &svm]);
        let out = if path.ends_with(".npz") { out } else { logreg(&["train", "--data", path, "--out", &model]) };
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(expected) && err.lines().count() == 1, "{path}: {err}");
    }
    assert!(!Path::new(&model).exists(), "nothing written");
    let out = logreg(&["train", "--data", &svm, "--standardize", "--out", &model]);
    assert!(stderr(&out).contains("centring would make sparse --data dense"), "{}", stderr(&out));
    // A model of 8 features refuses a file with feature 9.
    assert!(logreg(&["train", "--data", &svm, "--out", &model, "--quiet"]).status.success());
    let wide = bad("wide.svm", "+1 9:1\n");
    let out = logreg(&["predict", "--model", &model, "--data", &wide]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wide.svm:1:4: index 9 is beyond the 8 features expected"), "{}", stderr(&out));
}

/// Inputs that once read without end, filled memory, or answered in libtorch's words: each is
/// one line naming the file, at once.
#[test]
fn endless_huge_or_empty_sparse_inputs_are_one_line_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let model = path("m.safetensors");
    let zeros = path("zeros.svm");
    std::os::unix::fs::symlink("/dev/zero", &zeros).unwrap();
    let wide = path("wide.svm");
    std::fs::write(&wide, "1 4294967295:1\n0 1:1\n").unwrap();
    // A .npz of two rows and no columns, with its labels.
    let (npz, y) = (path("empty.npz"), path("y.npy"));
    let made = std::process::Command::new(crate::python())
        .args([
            "-c",
            "import numpy as np, sys; np.savez(sys.argv[1], format=np.array(b'csr'), data=np.zeros(0, np.float32), \
                indices=np.zeros(0, np.int32), indptr=np.zeros(3, np.int32), shape=np.array([2, 0])); \
                np.save(sys.argv[2], np.array([1, 0], np.float32))",
            &npz,
            &y,
        ])
        .status()
        .unwrap();
    assert!(made.success());
    // A device, as a pipe would be: nothing to read at offsets.
    let fifo = path("device.lrcsr");
    std::os::unix::fs::symlink("/dev/null", &fifo).unwrap();
    let cases: [(Vec<&str>, String); 5] = [
        (vec!["--data", &zeros], format!("{zeros}:1:1: a NUL byte: not a libsvm text file")),
        (
            vec!["--data", &wide, "--solver", "tron"],
            format!("{wide}: 4294967295 features (its largest index, or --n-features): out of memory: "),
        ),
        (
            vec!["--data", &npz, "--labels", &y, "--solver", "adam", "--epochs", "2"],
            format!("{npz}: shape (2, 0) has no feature columns"),
        ),
        (
            vec!["--data", &npz, "--labels", &y, "--solver", "tron"],
            format!("{npz}: shape (2, 0) has no feature columns"),
        ),
        (
            vec!["--data", &fifo, "--stream", "--solver", "sgd", "--epochs", "2"],
            format!("{fifo}: not a regular file: a .lrcsr file is read at offsets (a pipe cannot be)"),
        ),
    ];
    for (args, expected) in cases {
        let started = std::time::Instant::now();
        let out = logreg(&[&["train", "--out", &model][..], &args].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(&format!("error: {expected}")) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(started.elapsed().as_secs() < 30, "{args:?} took {:?}", started.elapsed());
    }
    assert!(!Path::new(&model).exists());
}

/// `path` and `cv` on libsvm text (by extension or `--format libsvm`) give the dense CSV path that
/// proximal Newton fits without screening: each λ, its objective and its zeros; the strong rule's
/// discards and the KKT check's catches are in `--json`.
#[test]
fn path_and_cv_on_libsvm_match_the_dense_csv_path() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, csv) = write_files(dir.path());
    let text = dir.path().join("d.txt").display().to_string();
    std::fs::copy(&svm, &text).unwrap();
    let grid = ["--n-lambdas", "12", "--lambda-ratio", "0.01", "--alpha", "0.8", "--json"];
    let run = |args: &[&str]| train_json(&[args, &grid[..]].concat());
    let dense = run(&["path", "--data", &csv, "--device", "cpu"]);
    for sparse in [run(&["path", "--data", &svm]), run(&["path", "--data", &text, "--format", "libsvm"])] {
        assert_eq!(sparse["sparse"]["solver"], "newton-cd");
        let (a, b) = (sparse["path"].as_array().unwrap(), dense["path"].as_array().unwrap());
        assert_eq!(a.len(), 12);
        for (s, d) in a.iter().zip(b) {
            assert_eq!(s["lambda"], d["lambda"]);
            let (fs, fd) = (s["objective"].as_f64().unwrap(), d["objective"].as_f64().unwrap());
            assert!((fs - fd).abs() <= 1e-9 * fd, "λ {}: {fs} vs {fd}", s["lambda"]);
            let zeros = |v: &serde_json::Value| {
                v["coef"].as_array().unwrap().iter().map(|w| w.as_f64() == Some(0.0)).collect::<Vec<_>>()
            };
            assert_eq!(zeros(s), zeros(d), "λ {}", s["lambda"]);
            let out = s["screened_out"].as_u64().unwrap();
            assert!(out as usize + s["nonzero"].as_u64().unwrap() as usize <= 8);
            assert!(s["kkt_violations"].is_u64() && d.get("screened_out").is_none());
        }
        // Just below λ_max few features are in: the rule keeps most of the 8 out of the solve.
        assert!(a[1]["screened_out"].as_u64().unwrap() >= 4, "{}", a[1]);
    }
    let model = dir.path().join("m.safetensors").display().to_string();
    let cv = |data: &str| run(&["cv", "--data", data, "--folds", "4", "--out", &model, "--device", "cpu"]);
    let (sparse, dense) = (cv(&svm), cv(&csv));
    for (s, d) in sparse["points"].as_array().unwrap().iter().zip(dense["points"].as_array().unwrap()) {
        let (ls, ld) = (s["log_loss_mean"].as_f64().unwrap(), d["log_loss_mean"].as_f64().unwrap());
        assert!((ls - ld).abs() <= 1e-6, "λ {}: {ls} vs {ld}", s["lambda"]);
        assert_eq!(s["nonzero"], d["nonzero"]);
    }
    assert_eq!(sparse["best"]["lambda"], dense["best"]["lambda"]);
    // The refit model scores the libsvm file.
    let out = logreg(&["evaluate", "--model", &model, "--data", &svm, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (args, expected) in [
        (vec!["path", "--data", &svm, "--standardize"], "--standardize: centring would make sparse --data dense"),
        (vec!["cv", "--data", &svm, "--standardize", "--out", &model], "--standardize: centring would make sparse"),
        (
            vec!["path", "--data", &svm, "--solver", "newton"],
            "--solver newton: a path on sparse --data solves with newton-cd",
        ),
        (vec!["cv", "--data", &svm, "--solver", "tron", "--out", &model], "--solver tron: a path on sparse"),
        (vec!["cv", "--data", &svm, "--batch-folds", "on", "--out", &model], "--batch-folds on: sparse --data"),
        (vec!["path", "--data", &csv, "--n-features", "9"], "--n-features applies to sparse --data"),
        (vec!["path", "--data", &svm, "--n-features", "3"], "beyond the 3 features"),
    ] {
        let out = logreg(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(expected) && stderr(&out).lines().count() == 1, "{args:?}: {}", stderr(&out));
    }
}

/// `predict` and `evaluate` read libsvm text under any name with `--format libsvm`; a model of 8
/// features scores a file whose largest index is below 8 (the missing columns are zeros) as the
/// same rows padded with explicit zeros, and refuses an index at or beyond 8 by line and column.
#[test]
fn predict_and_evaluate_take_format_libsvm_and_narrower_files() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, _) = write_files(dir.path());
    let model = dir.path().join("m.safetensors").display().to_string();
    assert!(logreg(&["train", "--data", &svm, "--out", &model, "--quiet", "--C", "2"]).status.success());
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    // Rows using features 1–3 only, and the same rows with features 4–8 written as explicit zeros.
    let narrow = file("narrow.txt", "+1 1:0.5 3:-1\n-1 2:2\n+1 1:-0.25 2:0.75 3:0.5\n");
    let padded = file(
        "padded.svm",
        "+1 1:0.5 3:-1 4:0 8:0\n-1 2:2 5:0 6:0 7:0 8:0\n+1 1:-0.25 2:0.75 3:0.5 4:0 5:0 6:0 7:0 8:0\n",
    );
    let predict = |args: &[&str]| {
        let out = logreg(&[&["predict", "--model", &model][..], args].concat());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let (a, b) = (predict(&["--data", &narrow, "--format", "libsvm"]), predict(&["--data", &padded]));
    assert_eq!(a.lines().count(), 4);
    assert_eq!(a, b);
    let eval = |data: &str, extra: &[&str]| {
        let out = logreg(&[&["evaluate", "--model", &model, "--data", data, "--json"][..], extra].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    let (a, b) = (eval(&narrow, &["--format", "libsvm"]), eval(&padded, &[]));
    assert_eq!(a["rows"], 3);
    assert_eq!(a["log_loss"], b["log_loss"]);
    // Without --format, a .txt file is read as CSV, and fails as one.
    assert_eq!(logreg(&["predict", "--model", &model, "--data", &narrow]).status.code(), Some(2));
    let wide = file("wide.txt", "+1 1:1\n-1 2:1 8:1 9:0.5\n");
    for command in ["predict", "evaluate"] {
        let out = logreg(&[command, "--model", &model, "--data", &wide, "--format", "libsvm"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("wide.txt:2:12: index 9 is beyond the 8 features expected"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// `convert` writes libsvm text or a `.npz` as a binary CSR file that `train`, `path` and `predict`
/// read as the text itself; a damaged one is one line with exit 2, and a failed convert leaves the
/// previous output as it was.
#[test]
fn convert_to_binary_csr_reads_back_as_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, _) = write_files(dir.path());
    let bin = dir.path().join("d.lrcsr").display().to_string();
    let out = logreg(&["convert", &svm, &bin, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let nnz = rows().iter().map(|(_, x)| x.iter().filter(|v| **v != 0.0).count()).sum::<usize>();
    assert_eq!((j["rows"].as_u64(), j["features"].as_u64(), j["nnz"].as_u64()), (Some(120), Some(8), Some(nnz as u64)));
    // The documented size: 32 + 4·rows + 8·(rows + 1) + 8·nnz.
    assert_eq!(std::fs::metadata(&bin).unwrap().len() as usize, 32 + 4 * 120 + 8 * 121 + 8 * nnz);
    let model = dir.path().join("m.safetensors").display().to_string();
    let fit = |data: &str| {
        train_json(&["train", "--data", data, "--C", "0.5", "--l1-ratio", "1", "--json", "--quiet", "--out", &model])
    };
    let (a, b) = (fit(&svm), fit(&bin));
    assert_eq!(a["coef"], b["coef"]);
    assert_eq!(objective(&a), objective(&b));
    let path = |data: &str| train_json(&["path", "--data", data, "--n-lambdas", "6", "--json"]);
    assert_eq!(path(&svm)["path"], path(&bin)["path"]);
    let predict = |data: &str| stdout(&logreg(&["predict", "--model", &model, "--data", data]));
    assert_eq!(predict(&svm), predict(&bin));

    let bytes = std::fs::read(&bin).unwrap();
    let damaged = dir.path().join("cut.lrcsr");
    std::fs::write(&damaged, &bytes[..bytes.len() - 3]).unwrap();
    let damaged = damaged.display().to_string();
    for args in
        [vec!["train", "--data", &damaged, "--out", &model], vec!["predict", "--model", &model, "--data", &damaged]]
    {
        let out = logreg(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cut.lrcsr: header: 120 rows and") && err.contains("(truncated or damaged)"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A bad INPUT: one line, and the previous OUTPUT is left whole.
    let bad = dir.path().join("bad.svm");
    std::fs::write(&bad, "+1 1:1\n-1 0:2\n").unwrap();
    let out = logreg(&["convert", &bad.display().to_string(), &bin]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.svm:2:4: index 0"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&bin).unwrap(), bytes);
    let out = logreg(&["convert", &svm, &dir.path().join("d.npy").display().to_string()]);
    assert!(stderr(&out).contains("must end in .lrcsr for a sparse INPUT"), "{}", stderr(&out));
}
