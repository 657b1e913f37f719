//! Out-of-core data and the fused engine through the binary: `convert`, `train --stream`,
//! `evaluate --stream`, a killed streaming run resumed, and every refusal.

use std::path::Path;

use crate::cli::{logreg, stderr, stdout};
use crate::data_cli::kill_and_resume;

const BREAST_CANCER: &str = "fixtures/breast_cancer.csv";

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = logreg(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Writes the breast-cancer CSV standardized into `dir` (so that f32 scores stay small and the
/// engines can be compared closely), converts it; returns the features' and labels' paths.
fn convert(dir: &Path) -> (String, String) {
    let (file, bytes) = logreg::data::table::read_source(Path::new(BREAST_CANCER)).unwrap();
    let t = logreg::data::table::parse(&file, &bytes, &logreg::data::table::LabelColumn::Last).unwrap();
    let d = t.feature_names.len();
    let column = |j: usize| t.features.iter().skip(j).step_by(d).map(|&v| f64::from(v));
    let stats: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            let mean = column(j).sum::<f64>() / t.rows() as f64;
            (mean, (column(j).map(|v| (v - mean).powi(2)).sum::<f64>() / t.rows() as f64).sqrt())
        })
        .collect();
    let mut csv = format!("{},{}\n", t.feature_names.join(","), t.label_name.as_deref().unwrap());
    for (row, label) in t.features.chunks(d).zip(&t.labels) {
        let cells: Vec<String> =
            row.iter().zip(&stats).map(|(&v, (m, s))| ((f64::from(v) - m) / s).to_string()).collect();
        csv += &format!("{},{label}\n", cells.join(","));
    }
    let source = dir.join("bc.csv");
    std::fs::write(&source, csv).unwrap();
    let x = dir.join("bc.npy").to_str().unwrap().to_string();
    let out = logreg(&["convert", source.to_str().unwrap(), &x]);
    assert!(out.status.success(), "{}", stderr(&out));
    let y = dir.join("bc.labels.npy").to_str().unwrap().to_string();
    assert!(stdout(&out).starts_with(&format!("wrote {x} (569 rows × 30 features, f32) and {y} (labels `benign`)")));
    (x, y)
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * x.abs().max(1e-3), "{what}: {x} vs {y}");
    }
}

#[test]
fn converted_data_streams_to_the_in_memory_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    let model = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let common = ["train", "--solver", "adam", "--lr", "0.01", "--epochs", "40", "--seed", "2", "--json", "--quiet"];
    // The CSV in memory, with autograd: the reference.
    let source = dir.path().join("bc.csv");
    let source = source.to_str().unwrap();
    let csv = json_of(&[&common[..], &["--data", source, "--device", "cpu", "--out", &model("a")]].concat());
    let npy = ["--data", x.as_str(), "--labels", y.as_str()];
    let fused = json_of(&[&common[..], &npy, &["--engine", "fused", "--out", &model("f")]].concat());
    // 12 chunks of 50 rows, dealt to the threads.
    let stream = json_of(&[&common[..], &npy, &["--stream", "--chunk-rows", "50", "--out", &model("s")]].concat());
    assert_close(&floats(&csv["losses"]), &floats(&fused["losses"]), 1e-5, "fused vs autograd losses");
    assert_close(&floats(&fused["losses"]), &floats(&stream["losses"]), 1e-6, "stream vs in-memory losses");
    assert_close(&floats(&csv["coef"]), &floats(&stream["coef"]), 1e-4, "stream vs autograd weights");
    assert_eq!(stream["train"]["rows"], 569);

    // evaluate --stream scores the file chunk by chunk, as evaluate does in memory, also for a
    // model that carries a standardizer (folded into the weights when streaming).
    // The raw breast-cancer data (means up to 880, stds up to 570), standardized by the model.
    let (raw_x, raw_y) = (model("raw.npy"), model("raw.labels.npy"));
    assert!(logreg(&["convert", BREAST_CANCER, &raw_x]).status.success());
    let raw = ["--data", raw_x.as_str(), "--labels", raw_y.as_str()];
    let z = json_of(&[&common[..], &raw, &["--engine", "fused", "--standardize", "--out", &model("z")]].concat());
    // Streamed, the statistics come from one more pass over the file and each chunk is scaled
    // as it is read: the same training, to rounding.
    let zs = json_of(
        &[&common[..], &raw, &["--stream", "--chunk-rows", "50", "--standardize", "--out", &model("zs")]].concat(),
    );
    assert_close(&floats(&z["losses"]), &floats(&zs["losses"]), 1e-5, "standardized, stream vs in-memory");
    assert_close(&floats(&z["coef"]), &floats(&zs["coef"]), 1e-4, "standardized weights");
    for (name, data) in [("s", npy), ("z", raw), ("zs", raw)] {
        let evaluate = |extra: &[&str]| {
            json_of(&[&["evaluate", "--model", &model(name), "--json", "--device", "cpu"][..], &data, extra].concat())
        };
        let (whole, streamed) = (evaluate(&[]), evaluate(&["--stream"]));
        for key in ["rows", "accuracy", "confusion"] {
            assert_eq!(whole[key], streamed[key], "{name}: {key}");
        }
        for key in ["log_loss", "roc_auc"] {
            let (a, b) = (whole[key].as_f64().unwrap(), streamed[key].as_f64().unwrap());
            assert!((a - b).abs() < 1e-6, "{name}: {key}: {a} vs {b}");
        }
        assert!(streamed["roc_auc"].as_f64().unwrap() > 0.9, "{streamed}");
    }
}

#[test]
fn a_streaming_run_killed_and_resumed_ends_with_the_uninterrupted_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    // Many small chunks and batches, so that the run lasts long enough to be killed.
    let common = [
        "train",
        "--data",
        &x,
        "--labels",
        &y,
        "--stream",
        "--chunk-rows",
        "16",
        "--solver",
        "adam",
        "--lr",
        "0.001",
        "--batch-size",
        "4",
        "--epochs",
        "3000",
        "--seed",
        "5",
        "--json",
        "--quiet",
    ];
    kill_and_resume(dir.path(), &common, "100");
}

#[test]
fn streaming_refusals_are_one_line_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    let out = dir.path().join("m.safetensors").to_str().unwrap().to_string();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "a,b,y\n1,2,0\n3,x,1\n").unwrap();
    let bad_csv = bad_csv.to_str().unwrap();
    let (c_npy, c_csv) = (dir.path().join("c.npy"), dir.path().join("c.csv"));
    let (c_npy, c_csv) = (c_npy.to_str().unwrap(), c_csv.to_str().unwrap());
    let stream = ["train", "--stream", "--data", x.as_str(), "--labels", y.as_str(), "--out", out.as_str()];
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["train", "--stream", "--data", BREAST_CANCER, "--out", &out],
            "--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)".into(),
        ),
        (vec!["train", "--stream", "--data", &x, "--out", &out], "--labels: a .npy --data needs its labels".into()),
        ([&stream[..], &["--engine", "autograd"]].concat(), "--stream trains with --engine fused".into()),
        (
            [&stream[..], &["--validation-split", "0.2"]].concat(),
            "invalid --validation-split: when streaming (hold out a file".into(),
        ),
        (
            [&stream[..], &["--solver", "newton"]].concat(),
            "--stream trains with --solver sgd or adam (newton and fista need the data in memory)".into(),
        ),
        ([&stream[..], &["--chunk-rows", "0"]].concat(), "invalid --chunk-rows: 0 (must be at least 1)".into()),
        (
            vec!["train", "--data", BREAST_CANCER, "--chunk-rows", "10", "--out", &out],
            "--chunk-rows applies with --stream".into(),
        ),
        (
            vec!["train", "--engine", "fused", "--solver", "fista", "--data", BREAST_CANCER, "--out", &out],
            "--engine fused applies to --solver sgd and adam".into(),
        ),
        (
            vec!["train", "--stream", "--data", &y, "--labels", &y, "--out", &out],
            format!("{y}: features must be a 2-D array (rows, columns), found shape [569]"),
        ),
        (vec!["convert", bad_csv, c_npy], format!("{bad_csv}:3:2: `x` is not a number (column `b`)")),
        (vec!["convert", BREAST_CANCER, c_csv], "must end in .npy".into()),
        (
            vec!["convert", BREAST_CANCER, c_npy, "--label", "nope"],
            format!("{BREAST_CANCER}:1: no label column `nope`"),
        ),
    ];
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    for (args, expected) in cases {
        let o = logreg(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(&expected), "{args:?}: {err} lacks {expected}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before, "{args:?} left a file");
    }
}
