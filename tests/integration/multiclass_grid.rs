//! `path` and `cv` with three or more classes (issue 13) on the wine data: each point of the path
//! is `train` at its λ (same zeros, objective within 1e-10), λ_max is exactly where weights leave
//! zero, cv's fold scores and choice are a brute-force loop of `train` and `evaluate` on the same
//! folds, its model loads in `predict` and `evaluate`; bad flags and data are one line, exit 2.

use std::path::Path;

use crate::cli::{logreg, ok, stderr};

const WINE: &str = "fixtures/wine.csv";

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

/// The zero pattern of a JSON coefficient matrix.
fn zeros(coef: &serde_json::Value) -> Vec<bool> {
    coef.as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| f(v) == 0.0)).collect()
}

/// The wine data with a weight column `w` first (a pattern of 0.5, 1, 2).
fn wine_weighted(dir: &Path) -> String {
    let text = std::fs::read_to_string(WINE).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let cell = if i == 0 { "w".to_string() } else { [0.5, 1.0, 2.0][i % 3].to_string() };
        out += &format!("{cell},{line}\n");
    }
    let path = dir.join("wine_w.csv");
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn each_path_point_is_train_at_its_lambda_and_lambda_max_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let weighted = wine_weighted(dir.path());
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    let cases: [(&str, &str, &[&str]); 3] = [
        (WINE, "1", &[]),
        (WINE, "0.5", &[]),
        (&weighted, "0.7", &["--sample-weight", "w", "--class-weight", "0=2,2=0.5"]),
    ];
    for (data, alpha, extra) in cases {
        let mut args = vec!["path", "--data", data, "--label", "class", "--standardize", "--alpha", alpha];
        args.extend(["--n-lambdas", "6", "--lambda-ratio", "0.01", "--tol", "1e-10", "--solver", "newton"]);
        args.extend_from_slice(extra);
        let path = json(&args);
        assert_eq!(path["classes"], serde_json::json!([0, 1, 2]));
        let points = path["path"].as_array().unwrap();
        assert_eq!(points.len(), 6);
        assert!(zeros(&points[0]["coef"]).iter().all(|&z| z), "every weight is zero at λ_max");
        let train = |lambda: f64| {
            let lambda = lambda.to_string();
            let mut args = vec!["train", "--data", data, "--label", "class", "--standardize", "--out", m];
            args.extend(["--lambda", &lambda, "--alpha", alpha, "--solver", "newton", "--tol", "1e-10"]);
            args.extend_from_slice(extra);
            json(&args)
        };
        for p in &points[1..] {
            let t = train(f(&p["lambda"]));
            assert_eq!(zeros(&t["coef"]), zeros(&p["coef"]), "{data} α {alpha} λ {}", p["lambda"]);
            let (a, b) = (f(&t["objective"]), f(&p["objective"]));
            assert!((a - b).abs() <= 1e-10 * b, "{data} α {alpha} λ {}: train {a} vs path {b}", p["lambda"]);
        }
        // λ_max: train there gives no weights (a hair above: at λ_max itself the largest gradient
        // entry equals the threshold, and rounding decides a ±1e-17 weight), just below it some.
        let top = f(&points[0]["lambda"]);
        assert!(zeros(&train(top * (1.0 + 1e-6))["coef"]).iter().all(|&z| z), "{data} α {alpha}: train at λ_max");
        assert!(!zeros(&train(0.99 * top)["coef"]).iter().all(|&z| z), "{data} α {alpha}: train at 0.99·λ_max");
    }
}

#[test]
fn the_path_of_npy_data_is_the_csv_path_and_writes_csv_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (xp, yp) = wine_npy(dir.path());
    let (csv, plot) = (dir.path().join("p.csv"), dir.path().join("p.png"));
    let common = ["--standardize", "--n-lambdas", "5", "--alpha", "0.5"];
    let mut a = vec!["path", "--data", WINE, "--label", "class", "--csv", csv.to_str().unwrap()];
    a.extend(["--plot", plot.to_str().unwrap()]);
    a.extend(common);
    let from_csv = json(&a);
    let mut b = vec!["path", "--data", xp.to_str().unwrap(), "--labels", yp.to_str().unwrap()];
    b.extend(common);
    let from_npy = json(&b);
    for (p, q) in from_csv["path"].as_array().unwrap().iter().zip(from_npy["path"].as_array().unwrap()) {
        assert_eq!(p["lambda"], q["lambda"]);
        assert!((f(&p["objective"]) - f(&q["objective"])).abs() <= 1e-12 * f(&p["objective"]));
    }
    let table = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    assert_eq!(header[..6], ["lambda", "nonzero", "objective", "intercept:0", "intercept:1", "intercept:2"]);
    assert_eq!(header[6], "0:alcohol");
    assert_eq!(header.len(), 6 + 3 * 13);
    assert_eq!(table.lines().count(), 6);
    assert!(std::fs::read(&plot).unwrap().starts_with(b"\x89PNG"));
}

/// The wine data as `x.npy` (f32, 13 columns) and `y.npy` (its class column) in `dir`.
fn wine_npy(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let text = std::fs::read_to_string(WINE).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|c| c.parse().unwrap()).collect()).collect();
    let x: Vec<f32> = rows.iter().flat_map(|r| r[..13].iter().map(|&v| v as f32)).collect();
    let y: Vec<f32> = rows.iter().map(|r| r[13] as f32).collect();
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.npy"));
    write_npy(&xp, &x, &[rows.len(), 13]);
    write_npy(&yp, &y, &[rows.len()]);
    (xp, yp)
}

/// A little-endian f32 .npy file.
pub fn write_npy(path: &Path, values: &[f32], shape: &[usize]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// cv's fold scores and chosen λ are a brute-force loop on the same folds: for each fold and λ,
/// `train` on the other folds' rows and `evaluate` (weighted) on the fold's. Its model is `train`'s
/// at the chosen λ on all rows, and `predict` and `evaluate` load it.
#[test]
fn cv_matches_a_brute_force_loop_of_train_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let weighted = wine_weighted(dir.path());
    let model = dir.path().join("cv.st");
    let m = model.to_str().unwrap();
    let args = [
        "cv",
        "--data",
        weighted.as_str(),
        "--label",
        "class",
        "--standardize",
        "--folds",
        "3",
        "--seed",
        "4",
        "--n-lambdas",
        "5",
        "--lambda-ratio",
        "0.01",
        "--alpha",
        "0.8",
        "--tol",
        "1e-10",
        "--sample-weight",
        "w",
        "--out",
        m,
    ];
    let cv = json(&args);
    assert_eq!(cv["weighted"], true);
    let text = std::fs::read_to_string(&weighted).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let labels: Vec<i64> = lines[1..].iter().map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    let classes: Vec<String> = ["0", "1", "2"].map(String::from).to_vec();
    let fold = logreg::solvers::multinomial_cv::stratified_folds(&labels, &classes, 3, 4).unwrap();
    let sizes: Vec<usize> = (0..3).map(|k| fold.iter().filter(|&&g| g == k).count()).collect();
    assert_eq!(cv["fold_sizes"], serde_json::json!(sizes));
    let points = cv["points"].as_array().unwrap();
    let fit_model = dir.path().join("fold.st");
    let mut means = vec![0.0; points.len()];
    for k in 0..3 {
        let part = |held: bool| -> String {
            let mut out = format!("{}\n", lines[0]);
            for (i, line) in lines[1..].iter().enumerate() {
                if (fold[i] == k) == held {
                    out += &format!("{line}\n");
                }
            }
            let path = dir.path().join(format!("fold{k}-{held}.csv"));
            std::fs::write(&path, out).unwrap();
            path.to_str().unwrap().to_string()
        };
        let (train, held) = (part(false), part(true));
        for (i, p) in points.iter().enumerate() {
            let lambda = f(&p["lambda"]).to_string();
            ok(&[
                "train",
                "--data",
                &train,
                "--label",
                "class",
                "--standardize",
                "--sample-weight",
                "w",
                "--lambda",
                &lambda,
                "--alpha",
                "0.8",
                "--solver",
                "newton",
                "--tol",
                "1e-10",
                "--out",
                fit_model.to_str().unwrap(),
            ]);
            let e =
                json(&["evaluate", "--model", fit_model.to_str().unwrap(), "--data", &held, "--sample-weight", "w"]);
            let (loss, accuracy) = (f(&e["log_loss"]), f(&e["accuracy"]));
            let got = &cv["fold_scores"][k];
            // evaluate scores the f32 model file's f32 probabilities.
            assert!((f(&got["log_loss"][i]) - loss).abs() <= 1e-5, "fold {k} λ {i}: {got} vs {loss}");
            assert!((f(&got["accuracy"][i]) - accuracy).abs() <= 1e-9, "fold {k} λ {i}: {got} vs {accuracy}");
            means[i] += loss / 3.0;
        }
    }
    let best = (0..means.len()).min_by(|&a, &b| means[a].total_cmp(&means[b])).unwrap();
    assert_eq!(cv["best"]["lambda"], points[best]["lambda"], "{means:?}");
    assert!(best > 0, "the null model is not the best: {means:?}");
    // The refit: train at the chosen λ on all rows.
    let all = json(&[
        "train",
        "--data",
        &weighted,
        "--label",
        "class",
        "--standardize",
        "--sample-weight",
        "w",
        "--lambda",
        &f(&cv["chosen"]["lambda"]).to_string(),
        "--alpha",
        "0.8",
        "--solver",
        "newton",
        "--tol",
        "1e-10",
        "--out",
        fit_model.to_str().unwrap(),
    ]);
    assert_eq!(zeros(&all["coef"]), zeros(&cv["coef"]));
    for (a, b) in all["coef"].as_array().unwrap().iter().zip(cv["coef"].as_array().unwrap()) {
        for (a, b) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            assert!((f(a) - f(b)).abs() <= 1e-4 * (1.0 + f(a).abs()), "{a} vs {b}");
        }
    }
    let e = json(&["evaluate", "--model", m, "--data", &weighted]);
    assert_eq!(e["classes"], serde_json::json!([0, 1, 2]));
    let predicted = ok(&["predict", "--model", m, "--data", &weighted]);
    assert_eq!(predicted.lines().count(), lines.len());
}

/// cv on `.npy` arrays is cv on the CSV file; `--select one-se` writes the 1-SE λ's model.
#[test]
fn cv_of_npy_data_is_the_csv_cv_and_one_se_is_chosen_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (xp, yp) = wine_npy(dir.path());
    let model = dir.path().join("m.st");
    let common = ["--standardize", "--n-lambdas", "6", "--folds", "4", "--out", model.to_str().unwrap()];
    let mut a = vec!["cv", "--data", WINE, "--label", "class", "--select", "one-se"];
    a.extend(common);
    let from_csv = json(&a);
    let mut b = vec!["cv", "--data", xp.to_str().unwrap(), "--labels", yp.to_str().unwrap()];
    b.extend(common);
    let from_npy = json(&b);
    assert_eq!(from_csv["fold_sizes"], from_npy["fold_sizes"]);
    for (p, q) in from_csv["points"].as_array().unwrap().iter().zip(from_npy["points"].as_array().unwrap()) {
        assert_eq!(p["lambda"], q["lambda"]);
        assert!((f(&p["log_loss_mean"]) - f(&q["log_loss_mean"])).abs() <= 1e-9, "{p} vs {q}");
    }
    assert_eq!(from_csv["chosen"], from_csv["one_se"]);
    assert_eq!(from_npy["chosen"], from_npy["best"]);
}

#[test]
fn cv_text_reports_accuracy_and_writes_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (model, csv) = (dir.path().join("m.st"), dir.path().join("cv.csv"));
    let out = ok(&[
        "cv",
        "--data",
        WINE,
        "--label",
        "class",
        "--standardize",
        "--n-lambdas",
        "4",
        "--out",
        model.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.contains("accuracy (± std)"), "{out}");
    assert!(out.contains("5-fold CV on 178 rows, 3 classes: best λ"), "{out}");
    let table = std::fs::read_to_string(&csv).unwrap();
    assert!(table.starts_with("lambda,nonzero,log_loss_mean,log_loss_std,log_loss_se,accuracy_mean,accuracy_std\n"));
    assert_eq!(table.lines().count(), 5);
}

/// `args` fails with one line on stderr, exit 2, containing `expected`, and writes nothing in `dir`.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let before = std::fs::read_dir(dir).unwrap().count();
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), before, "{args:?} wrote something");
}

#[test]
fn bad_multiclass_path_and_cv_input_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("m.st");
    let o = out.to_str().unwrap();
    let svm = d.join("wine.svm");
    let text = std::fs::read_to_string(WINE).unwrap();
    let mut lines = String::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let features: Vec<String> = cells[..13].iter().enumerate().map(|(j, v)| format!("{}:{v}", j + 1)).collect();
        lines += &format!("{} {}\n", cells[13], features.join(" "));
    }
    std::fs::write(&svm, lines).unwrap();
    let svm = svm.to_str().unwrap();
    let csv = d.join("p.csv");
    let c = csv.to_str().unwrap();
    let wine = ["--data", WINE, "--label", "class"];
    let with = |cmd: &str, extra: &[&str]| -> Vec<String> {
        let mut a = vec![cmd.to_string()];
        a.extend(wine.iter().map(|s| s.to_string()));
        a.extend(extra.iter().map(|s| s.to_string()));
        if cmd == "cv" {
            a.extend(["--out".to_string(), o.to_string()]);
        }
        a
    };
    let run = |args: Vec<String>, expected: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &args, expected);
    };
    // A class with fewer rows than folds (wine's class 2 has 48).
    run(with("cv", &["--folds", "50"]), "--folds: invalid folds: 50 exceeds the rows of class `2` (48)");
    for cmd in ["path", "cv"] {
        run(with(cmd, &["--threshold", "0.3"]), "unexpected argument '--threshold'");
        run(with(cmd, &["--positive-class", "1", "--csv", c]), "--positive-class applies to two classes");
        run(
            with(cmd, &["--multi-class", "ovr", "--csv", c]),
            "--multi-class ovr: `path` and `cv` fit the multinomial model",
        );
        run(with(cmd, &["--solver", "newton-cd", "--csv", c]), "--solver tron and newton-cd fit two classes");
        run(with(cmd, &["--class-weight", "7=2", "--csv", c]), "--class-weight: `7` is not a class of the labels");
        let mut sparse = vec![cmd, "--data", svm, "--csv", c];
        if cmd == "cv" {
            sparse.extend(["--out", o]);
        }
        refused(d, &sparse, "label `2` is not 0/1 or -1/+1");
        sparse.extend(["--class-weight", "balanced"]);
        refused(d, &sparse, "--class-weight applies to CSV and .npy --data with three or more classes");
        let mut two = vec![cmd, "--data", "fixtures/breast_cancer.csv", "--class-weight", "balanced", "--csv", c];
        if cmd == "cv" {
            two.extend(["--out", o]);
        }
        refused(d, &two, "--class-weight applies to `path` and `cv` with three or more classes; the labels hold two");
    }
    run(with("cv", &["--batch-folds", "on"]), "--batch-folds on applies to two classes");
}
