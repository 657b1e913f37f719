//! Multiclass tables through `convert`: a model trained on the converted `.npy` equals one trained
//! on the CSV file and scores it; `evaluate` reads `.npy` labels, converted (indices into the
//! recipe's classes) or raw (the class values), and refuses labels of other classes.

use std::path::Path;

use crate::cli::{logreg, ok, stderr, stdout};
use crate::multiclass_cli::write_npy;

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(&[args, &["--json", "--device", "cpu"]].concat())).unwrap()
}

/// One line on stderr containing `expected`, exit 2.
fn refused(args: &[&str], expected: &str) {
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 90 rows of three text classes, two features that separate them in part and an ID column.
fn animals(dir: &Path) -> String {
    let mut text = String::from("id,size,speed,kind\n");
    for i in 0..90 {
        let (kind, centre) = [("emu", (1.0, 3.0)), ("cat", (0.0, 0.0)), ("dog", (2.0, 0.5))][i % 3];
        let jitter = |k: usize| ((i * k) % 13) as f64 / 6.5 - 1.0;
        text += &format!("a{i},{},{},{kind}\n", centre.0 + jitter(7), centre.1 + jitter(11));
    }
    let p = dir.join("animals.csv");
    std::fs::write(&p, text).unwrap();
    path(&p).to_string()
}

#[test]
fn a_converted_multiclass_table_trains_scores_and_evaluates_as_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = animals(dir.path());
    let (x, y) = (dir.path().join("a.npy"), dir.path().join("a.labels.npy"));
    ok(&["convert", &csv, path(&x), "--id", "id", "--max-classes", "10"]);
    let (from_npy, from_csv) = (dir.path().join("npy.st"), dir.path().join("csv.st"));
    let solver = ["--solver", "newton", "--C", "0.5"];
    let a =
        json(&[&["train", "--data", path(&x), "--labels", path(&y), "--out", path(&from_npy)], &solver[..]].concat());
    let b = json(&[&["train", "--data", &csv, "--id", "id", "--out", path(&from_csv)], &solver[..]].concat());
    assert_eq!(a["classes"], serde_json::json!(["cat", "dog", "emu"]));
    assert_eq!((&a["classes"], &a["features"], &a["coef"]), (&b["classes"], &b["features"], &b["coef"]));
    // The model trained on the .npy file reads the raw CSV file, IDs first, as the CSV's model does.
    let scored = |m: &Path| ok(&["predict", "--model", path(m), "--data", &csv, "--device", "cpu"]);
    let (p, q) = (scored(&from_npy), scored(&from_csv));
    assert!(p.starts_with("id,probability_cat,probability_dog,probability_emu,class\n"), "{p}");
    assert_eq!(p, q);
    // evaluate on the converted labels reports what it reports on the CSV's label column.
    let on_npy = json(&["evaluate", "--model", path(&from_npy), "--data", path(&x), "--labels", path(&y)]);
    let on_csv = json(&["evaluate", "--model", path(&from_csv), "--data", &csv]);
    assert_eq!(on_npy, on_csv);
    assert!(on_npy["accuracy"].as_f64().unwrap() > 0.5, "{on_npy}");

    // Labels converted with other classes: refused, not read as these.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap().replace(",emu\n", ",owl\n");
    std::fs::write(other.join("o.csv"), text).unwrap();
    let (ox, oy) = (other.join("o.npy"), other.join("o.labels.npy"));
    ok(&["convert", path(&other.join("o.csv")), path(&ox), "--id", "id", "--max-classes", "10"]);
    refused(
        &["evaluate", "--model", path(&from_npy), "--data", path(&ox), "--labels", path(&oy)],
        "converted with the classes `cat`, `dog`, `owl`, and the model's are `cat`, `dog`, `emu`",
    );
}

#[test]
fn raw_npy_labels_are_the_class_values() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<f64> =
        (0..60).flat_map(|i| [(i % 3) as f64 + ((i * 7) % 5) as f64 / 4.0, ((i * 3) % 7) as f64]).collect();
    let y: Vec<f64> = (0..60).map(|i| [10.0, 20.0, 30.0][i % 3]).collect();
    let (xp, yp, m) = (dir.path().join("x.npy"), dir.path().join("y.npy"), dir.path().join("m.st"));
    write_npy(&xp, &x, "(60, 2)");
    write_npy(&yp, &y, "(60,)");
    let trained = json(&["train", "--data", path(&xp), "--labels", path(&yp), "--out", path(&m), "--solver", "newton"]);
    assert_eq!(trained["classes"], serde_json::json!([10, 20, 30]));
    let report = json(&["evaluate", "--model", path(&m), "--data", path(&xp), "--labels", path(&yp)]);
    assert_eq!(report["classes"], serde_json::json!([10, 20, 30]));
    assert_eq!(report["rows"], 60);
    // The training report's accuracy on the same rows, computed the same way.
    assert_eq!(report["accuracy"], trained["train"]["accuracy"]);
    let mut bad = y.clone();
    bad[41] = 25.0;
    let bp = dir.path().join("bad.npy");
    write_npy(&bp, &bad, "(60,)");
    refused(
        &["evaluate", "--model", path(&m), "--data", path(&xp), "--labels", path(&bp)],
        "row 42: label 25 is not one of the model's classes (`10`, `20`, `30`)",
    );
    let short = dir.path().join("short.npy");
    write_npy(&short, &y[..59], "(59,)");
    refused(
        &["evaluate", "--model", path(&m), "--data", path(&xp), "--labels", path(&short)],
        "labels must have shape (60,) or (60, 1) for the data's 60 rows, found [59]",
    );
}

/// A plain `convert` (no recipe flag) meeting text labels of three classes reads the file again
/// through a recipe, with a note, and writes what `--max-classes` would have; standard input, read
/// once, is refused with the flag to add, and nothing is written.
#[test]
fn plain_convert_learns_the_classes_of_a_file_and_asks_for_a_flag_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let with_ids = std::fs::read_to_string(animals(dir.path())).unwrap();
    let text: String = with_ids.lines().map(|l| format!("{}\n", l.split_once(',').unwrap().1)).collect();
    let csv = dir.path().join("plain.csv");
    std::fs::write(&csv, &text).unwrap();
    let plain = logreg(&["convert", path(&csv), path(&dir.path().join("p.npy"))]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let note = stderr(&plain);
    assert!(note.starts_with(&format!("note: {}:2:3: a label other than 0/1; reading", path(&csv))), "{note}");
    assert!(stdout(&plain).contains("0 = `cat`, 1 = `dog`, 2 = `emu`"), "{}", stdout(&plain));
    ok(&["convert", path(&csv), path(&dir.path().join("f.npy")), "--max-classes", "100"]);
    for (a, b) in [("p.npy", "f.npy"), ("p.labels.npy", "f.labels.npy"), ("p.recipe.json", "f.recipe.json")] {
        let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
        assert!(read(a) == read(b), "{a} and {b} differ");
    }
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    let mut child = std::process::Command::new(crate::cli::bin())
        .args(["convert", "-", path(&dir.path().join("s.npy"))])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!((out.status.code(), err.trim_end().lines().count()), (Some(2), 1), "{err}");
    assert!(err.contains("<stdin>:2:3: label `emu` is not a number") && err.contains("add --max-classes N"), "{err}");
    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before.len(), after.len(), "{after:?}");
}

/// `train --stream` on converted multiclass data: full-batch Adam whose gradient is summed over
/// chunks trains as in memory (to float rounding), the model scores the raw CSV file, and
/// `evaluate --stream` reports what `evaluate` does; one-vs-rest is refused in one line.
#[test]
fn streamed_multiclass_training_and_evaluation_match_memory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = animals(dir.path());
    let (x, y) = (dir.path().join("a.npy"), dir.path().join("a.labels.npy"));
    ok(&["convert", &csv, path(&x), "--id", "id", "--max-classes", "10"]);
    let (streamed, memory) = (dir.path().join("s.st"), dir.path().join("m.st"));
    let common = ["--data", path(&x), "--labels", path(&y), "--solver", "adam", "--epochs", "80", "--standardize"];
    let s = json(&[&["train"], &common[..], &["--stream", "--chunk-rows", "7", "--out", path(&streamed)]].concat());
    let m = json(&[&["train"], &common[..], &["--out", path(&memory)]].concat());
    assert_eq!(s["classes"], serde_json::json!(["cat", "dog", "emu"]));
    let losses = |v: &serde_json::Value| -> Vec<f64> {
        v["losses"].as_array().unwrap().iter().map(|l| l.as_f64().unwrap()).collect()
    };
    let (ls, lm) = (losses(&s), losses(&m));
    assert_eq!(ls.len(), 80);
    for (a, b) in ls.iter().zip(&lm) {
        assert!((a - b).abs() <= 1e-5 * b.abs(), "{a} vs {b}");
    }
    assert!(ls[79] < 0.8 * ls[0], "{ls:?}");
    let predicted = ok(&["predict", "--model", path(&streamed), "--data", &csv, "--device", "cpu"]);
    assert!(predicted.starts_with("id,probability_cat,probability_dog,probability_emu,class\na0,"), "{predicted}");
    let eval = |extra: &[&str]| {
        json(&[&["evaluate", "--model", path(&streamed), "--data", path(&x), "--labels", path(&y)], extra].concat())
    };
    assert_eq!(eval(&["--stream"]), eval(&[]));
    let never = dir.path().join("r.st");
    let stream = [&["train"], &common[..], &["--stream", "--out", path(&never)]].concat();
    refused(&[&stream[..], &["--multi-class", "ovr"]].concat(), "--multi-class ovr does not apply to --stream");
}

/// Labels relabelled in order (their ranks unchanged, so the checksum alone would pass them), a
/// recipe file whose class names were edited, and flags a full-batch streamed softmax cannot take:
/// one line each, nothing written.
#[test]
fn relabelled_labels_and_edited_recipes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = animals(dir.path());
    let (x, y) = (dir.path().join("a.npy"), dir.path().join("a.labels.npy"));
    ok(&["convert", &csv, path(&x), "--id", "id", "--max-classes", "10"]);
    let model = dir.path().join("never.st");
    let train = |labels: &Path, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["train", "--data", path(&x), "--labels", path(labels), "--out", path(&model)];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let refused_all = |args: Vec<String>, expected: &str| {
        refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), expected);
        assert!(!model.exists());
    };
    // 0, 1, 2 → 5, 15, 25: in memory and streamed.
    let shifted = dir.path().join("shifted.npy");
    let values: Vec<f64> = (0..90).map(|i| [25.0, 5.0, 15.0][i % 3]).collect();
    write_npy(&shifted, &values, "(90,)");
    let expected = "converted labels are the class indices 0 to 2, and these hold 5, 15, 25";
    refused_all(train(&shifted, &[]), expected);
    refused_all(train(&shifted, &["--stream"]), expected);
    refused_all(train(&y, &["--stream", "--engine", "fused"]), "--engine does not apply to --stream");
    // Class names reordered or repeated in the recipe file would name every index wrongly.
    let recipe_path = dir.path().join("a.recipe.json");
    let original = std::fs::read_to_string(&recipe_path).unwrap();
    for names in [["emu", "cat", "dog"], ["cat", "cat", "dog"]] {
        let mut file: serde_json::Value = serde_json::from_str(&original).unwrap();
        file["recipe"]["class_names"] = serde_json::json!(names);
        std::fs::write(&recipe_path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
        refused_all(train(&y, &[]), "class_names are not distinct classes in their order");
    }
}
