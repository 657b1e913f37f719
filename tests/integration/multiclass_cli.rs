//! Three or more classes at the command line (issue 13): `train` fits the wine data to
//! scikit-learn's optimum (weighted too), `predict` writes one probability per class as
//! scikit-learn's `predict_proba`, `evaluate`'s metrics are scikit-learn's on the same
//! probabilities, one-vs-rest is scikit-learn's `OneVsRestClassifier`; every bad weight or flag is
//! one line, exit 2, nothing written.

use std::path::Path;
use std::process::Command;

use crate::cli::{logreg, ok, stderr};
use crate::golden_multiclass::multiclass_fixtures;

const WINE: &str = "fixtures/wine.csv";

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `args` fails with one line on stderr, exit 2, containing `expected`, and writes nothing in `dir`.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let before = files_in(dir);
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(expected), "{err:?} does not contain {expected:?}");
    assert_eq!(files_in(dir), before, "{args:?} wrote something");
}

/// Runs `code` in the venv's Python with scikit-learn; its stdout parsed as JSON.
fn sklearn(code: &str) -> serde_json::Value {
    let out = Command::new(crate::python()).args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The wine data with the fixture's sample weights as a first column `w`.
fn wine_with_weights(dir: &Path, weights: &[f64]) -> String {
    let text = std::fs::read_to_string(WINE).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let cell = if i == 0 { "w".to_string() } else { format!("{}", weights[i - 1]) };
        out += &format!("{cell},{line}\n");
    }
    let path = dir.join("wine_w.csv");
    std::fs::write(&path, out).unwrap();
    path.to_str().unwrap().to_string()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn train_reaches_sklearns_weighted_and_unweighted_optimum_on_wine() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    for fixture in multiclass_fixtures().iter().filter(|f| f.data == WINE) {
        let mut args: Vec<String> = ["train", "--data", WINE, "--standardize", "--out", m, "--tol", "1e-10"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--C".into(), fixture.c.to_string(), "--l1-ratio".into(), fixture.l1_ratio.to_string()]);
        let data;
        if let Some(w) = &fixture.sample_weight {
            data = wine_with_weights(dir.path(), w);
            args[2] = data.clone();
            args.extend(["--sample-weight".into(), "w".into()]);
        }
        match &fixture.class_weight {
            serde_json::Value::String(s) => args.extend(["--class-weight".into(), s.clone()]),
            serde_json::Value::Object(map) => {
                let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_f64().unwrap())).collect();
                args.extend(["--class-weight".into(), pairs.join(",")]);
            }
            _ => {}
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = json(&refs);
        assert_eq!(out["classes"], serde_json::json!([0, 1, 2]), "{}", fixture.name);
        assert_eq!(out["multi_class"], "multinomial");
        // Our objective is sklearn's divided by C·Σ weights (sample × class).
        let total: f64 = match (&fixture.sample_weight, &fixture.class_weight) {
            (None, serde_json::Value::Null) => 178.0,
            _ => {
                let labels: Vec<i64> = std::fs::read_to_string(WINE)
                    .unwrap()
                    .lines()
                    .skip(1)
                    .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
                    .collect();
                let w = logreg::solvers::weights::Weights {
                    sample: fixture.sample_weight.clone(),
                    class: match &fixture.class_weight {
                        serde_json::Value::String(_) => Some(logreg::solvers::weights::ClassWeight::Balanced),
                        serde_json::Value::Object(map) => Some(logreg::solvers::weights::ClassWeight::Given(
                            map.iter().map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap())).collect(),
                        )),
                        _ => None,
                    },
                };
                w.per_row(&labels, 3).unwrap().unwrap().iter().sum()
            }
        };
        let ours = f(&out["objective"]) * fixture.c * total;
        // The CLI standardizes in f32 (the fixture in f64): the optimum moves by ~1e-7.
        assert!(
            (ours - fixture.objective).abs() <= 1e-5 * fixture.objective,
            "{}: {ours} vs sklearn {}",
            fixture.name,
            fixture.objective
        );
        let coef: Vec<f64> =
            out["coef"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().clone()).map(|v| f(&v)).collect();
        let zeros = |c: &[f64]| c.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
        assert_eq!(zeros(&coef), zeros(&fixture.coef.concat()), "{}: zero sets", fixture.name);
    }
}

#[test]
fn predict_and_evaluate_agree_with_sklearn() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    let probs_path = dir.path().join("p.csv");
    let p = probs_path.to_str().unwrap();
    ok(&["train", "--data", WINE, "--standardize", "--C", "0.1", "--tol", "1e-10", "--out", m]);
    ok(&["predict", "--model", m, "--data", WINE, "--out", p]);
    let written = std::fs::read_to_string(&probs_path).unwrap();
    assert_eq!(written.lines().next().unwrap(), "probability_0,probability_1,probability_2,class");
    let weights: Vec<f64> = (0..178).map(|i| 0.5 + (i % 5) as f64 * 0.5).collect();
    let data = wine_with_weights(dir.path(), &weights);
    let report = json(&["evaluate", "--model", m, "--data", &data, "--sample-weight", "w"]);
    let plain = json(&["evaluate", "--model", m, "--data", WINE]);
    // scikit-learn: its own fit's probabilities against ours, and its metrics on our probabilities.
    let code = format!(
        r#"
import json, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn import metrics
d = np.loadtxt("{WINE}", delimiter=",", skiprows=1)
X, y = StandardScaler().fit_transform(d[:, :-1]), d[:, -1].astype(int)
sk = LogisticRegression(C=0.1, tol=1e-10, max_iter=10000).fit(X, y).predict_proba(X)
P = np.loadtxt("{p}", delimiter=",", skiprows=1)[:, :3]
pred = P.argmax(1)
w = np.array({weights:?})
out = {{"max_diff": float(np.abs(P - sk).max()), "predicted": [int(c) for c in np.loadtxt("{p}", delimiter=",", skiprows=1)[:, 3]]}}
for name, sw in (("plain", None), ("weighted", w)):
    r = {{}}
    r["log_loss"] = metrics.log_loss(y, P.astype(np.float64), sample_weight=sw, labels=[0, 1, 2])
    r["accuracy"] = metrics.accuracy_score(y, pred, sample_weight=sw)
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = metrics.precision_recall_fscore_support(y, pred, average=avg, sample_weight=sw, labels=[0, 1, 2], zero_division=0)
        r["precision_" + avg], r["recall_" + avg], r["f1_" + avg] = pr, rc, f1
    r["roc_auc_ovr_macro"] = metrics.roc_auc_score(y, P, multi_class="ovr", average="macro", sample_weight=sw, labels=[0, 1, 2])
    r["confusion"] = metrics.confusion_matrix(y, pred, sample_weight=sw, labels=[0, 1, 2]).tolist()
    r["argmax"] = pred.tolist()
    out[name] = r
print(json.dumps(out))
"#
    );
    let sk = sklearn(&code);
    assert!(f(&sk["max_diff"]) < 1e-4, "probabilities differ from sklearn's by {}", sk["max_diff"]);
    assert_eq!(sk["predicted"], sk["plain"]["argmax"], "predicted class is not the most probable");
    for (ours, theirs) in [(&plain, &sk["plain"]), (&report, &sk["weighted"])] {
        for key in [
            "log_loss",
            "accuracy",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "roc_auc_ovr_macro",
        ] {
            assert!((f(&ours[key]) - f(&theirs[key])).abs() < 1e-6, "{key}: {} vs sklearn {}", ours[key], theirs[key]);
        }
        let confusion: Vec<Vec<f64>> = serde_json::from_value(ours["confusion"].clone()).unwrap();
        let expected: Vec<Vec<f64>> = serde_json::from_value(theirs["confusion"].clone()).unwrap();
        assert_eq!(confusion, expected);
    }
    // --json predict: the same numbers per row.
    let rows = ok(&["--json", "predict", "--model", m, "--data", WINE]);
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    let csv_first: Vec<f64> = written.lines().nth(1).unwrap().split(',').take(3).map(|v| v.parse().unwrap()).collect();
    assert_eq!(f(&first["probability_1"]) as f32, csv_first[1] as f32);
    assert_eq!(first["class"], 0);
}

#[test]
fn one_vs_rest_is_sklearns() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    let probs = dir.path().join("p.csv");
    let p = probs.to_str().unwrap();
    let out = json(&[
        "train",
        "--data",
        WINE,
        "--standardize",
        "--C",
        "0.5",
        "--multi-class",
        "ovr",
        "--tol",
        "1e-10",
        "--out",
        m,
    ]);
    assert_eq!(out["multi_class"], "ovr");
    ok(&["predict", "--model", m, "--data", WINE, "--out", p]);
    let code = format!(
        r#"
import json, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
d = np.loadtxt("{WINE}", delimiter=",", skiprows=1)
X, y = StandardScaler().fit_transform(d[:, :-1]), d[:, -1].astype(int)
sk = OneVsRestClassifier(LogisticRegression(C=0.5, tol=1e-10, max_iter=10000)).fit(X, y).predict_proba(X)
P = np.loadtxt("{p}", delimiter=",", skiprows=1)[:, :3]
print(json.dumps({{"max_diff": float(np.abs(P - sk).max())}}))
"#
    );
    let sk = sklearn(&code);
    assert!(f(&sk["max_diff"]) < 1e-4, "OvR probabilities differ from sklearn's by {}", sk["max_diff"]);
}

#[test]
fn sgd_and_adam_fit_softmax_and_text_classes_keep_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    // Text classes, an ID column and a weight column the model passes over.
    let mut csv = String::from("id,a,b,w,kind\n");
    for i in 0..60 {
        let k = i % 3;
        let kind = ["setosa", "versicolor", "virginica"][k];
        let jitter = (i as f64 * 0.7).sin() * 0.3;
        csv += &format!("r{i},{},{},{},{kind}\n", k as f64 + jitter, (k as f64 - 1.0).abs() - jitter, 1 + i % 2);
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, &csv).unwrap();
    let d = data.to_str().unwrap();
    for solver in ["sgd", "adam"] {
        let out = json(&[
            "train",
            "--data",
            d,
            "--id",
            "id",
            "--sample-weight",
            "w",
            "--solver",
            solver,
            "--lr",
            "0.1",
            "--epochs",
            "200",
            "--out",
            m,
        ]);
        assert_eq!(out["classes"], serde_json::json!(["setosa", "versicolor", "virginica"]));
        assert_eq!(out["losses"].as_array().unwrap().len(), 200);
        assert!(f(&out["train"]["accuracy"]) > 0.9, "{solver}: {}", out["train"]);
    }
    let predicted = ok(&["predict", "--model", m, "--data", d]);
    assert!(predicted.starts_with("id,probability_setosa,probability_versicolor,probability_virginica,class\nr0,"));
    assert!(predicted.lines().nth(1).unwrap().ends_with(",setosa"), "{predicted}");
}

#[test]
fn a_two_class_model_still_loads_and_weights_fit_two_classes() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("b.st");
    let m = model.to_str().unwrap();
    ok(&["train", "--data", "fixtures/breast_cancer.csv", "--standardize", "--solver", "newton", "--out", m]);
    let predicted = ok(&["predict", "--model", m, "--data", "fixtures/breast_cancer.csv"]);
    assert!(predicted.starts_with("probability,class\n"), "{}", &predicted[..40]);
    // Weights all 2 with C are no weights with 2C (scikit-learn's meaning of C).
    let text = std::fs::read_to_string("fixtures/breast_cancer.csv").unwrap();
    let mut weighted = String::new();
    for (i, line) in text.lines().enumerate() {
        weighted += &format!("{line},{}\n", if i == 0 { "w" } else { "2" });
    }
    let data = dir.path().join("bw.csv");
    std::fs::write(&data, weighted).unwrap();
    let label = text.lines().next().unwrap().rsplit(',').next().unwrap().to_string();
    let a = json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--label",
        &label,
        "--standardize",
        "--C",
        "0.5",
        "--sample-weight",
        "w",
        "--out",
        m,
    ]);
    let b = json(&["train", "--data", "fixtures/breast_cancer.csv", "--standardize", "--C", "1", "--out", m]);
    for (u, v) in a["coef"].as_array().unwrap().iter().zip(b["coef"].as_array().unwrap()) {
        assert!((f(u) - f(v)).abs() < 1e-6, "{u} vs {v}");
    }
}

#[test]
fn bad_weights_and_flags_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.st");
    let m = model.to_str().unwrap();
    let with = |name: &str, cells: &dyn Fn(usize) -> String| {
        let text = std::fs::read_to_string(WINE).unwrap();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            out += &format!("{},{line}\n", if i == 0 { "w".into() } else { cells(i) });
        }
        let path = dir.path().join(name);
        std::fs::write(&path, out).unwrap();
        path.to_str().unwrap().to_string()
    };
    let negative = with("neg.csv", &|i| if i == 5 { "-1".into() } else { "1".into() });
    let nan = with("nan.csv", &|i| if i == 7 { "NaN".into() } else { "1".into() });
    let zero = with("zero.csv", &|_| "0".into());
    let wrong = dir.path().join("w.npy");
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    let padded = format!("{header:<117}\n");
    npy.extend((padded.len() as u16).to_le_bytes());
    npy.extend(padded.as_bytes());
    npy.extend([1.0f64, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(&wrong, npy).unwrap();
    let d = dir.path();
    let train =
        |data: &str| -> Vec<String> { ["train", "--data", data, "--out", m].iter().map(|s| s.to_string()).collect() };
    let run = |mut args: Vec<String>, extra: &[&str], expected: &str| {
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(d, &refs, expected);
    };
    run(train(&negative), &["--sample-weight", "w"], ":6:1: sample weight -1 is not a finite number ≥ 0");
    run(train(&nan), &["--sample-weight", "w"], "sample weight");
    run(train(&zero), &["--sample-weight", "w"], "invalid sample_weight: every weight is zero");
    run(train(WINE), &["--sample-weight", "w"], "no --sample-weight column `w` in the header");
    run(train(WINE), &["--sample-weight", wrong.to_str().unwrap()], "sample weights must have shape (178,)");
    run(train(WINE), &["--class-weight", "7=2"], "--class-weight: `7` is not a class of the labels (`0`, `1`, `2`)");
    run(train(WINE), &["--class-weight", "0=-1"], "--class-weight: `-1` for `0` is not a finite number ≥ 0");
    run(train(WINE), &["--class-weight", "0=0,1=0,2=0"], "every weight is zero");
    run(
        train(WINE),
        &["--positive-class", "1"],
        "--positive-class applies to two classes; label column `class` holds 3",
    );
    run(train(WINE), &["--max-classes", "2"], "more than --max-classes 2");
    run(train(WINE), &["--solver", "tron"], "--solver tron and newton-cd fit two classes");
    run(train(WINE), &["--solver", "adam", "--multi-class", "ovr"], "--multi-class ovr fits with the exact solvers");
    run(train(WINE), &["--validation-split", "0.001"], "no rows in the validation part");
    run(train(WINE), &["--validation-split", "0.999"], "no rows in the training part): class `0` has 59 rows");
    run(
        train(WINE),
        &["--class-weight", "2=0"],
        "invalid class_weight: class `2` has no training rows of weight > 0 (its probability would run to 0)",
    );
    run(
        train("fixtures/breast_cancer.csv"),
        &["--multi-class", "ovr"],
        "--multi-class applies to three or more classes",
    );
    ok(&["train", "--data", WINE, "--standardize", "--out", m]);
    let before = files_in(d);
    for (args, expected) in [
        (vec!["predict", "--model", m, "--data", WINE, "--threshold", "0.3"], "--threshold applies to two classes"),
        (vec!["evaluate", "--model", m, "--data", WINE, "--threshold", "0.3"], "--threshold applies to two classes"),
        (vec!["evaluate", "--model", m, "--data", WINE, "--sample-weight", "w"], "no --sample-weight column `w`"),
        (vec!["evaluate", "--model", m, "--data", &zero, "--sample-weight", "w"], "every weight is zero"),
        (
            vec!["cv", "--data", WINE, "--multi-class", "ovr", "--out", m],
            "--multi-class ovr: `path` and `cv` fit the multinomial model",
        ),
    ] {
        refused(d, &args, expected);
        assert_eq!(files_in(d), before);
    }
}

/// `x` (rows × d, f64) and `y` as `.npy` files, as numpy.save writes them.
pub fn write_npy(path: &Path, values: &[f64], shape: &str) {
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    let padded = format!("{header:<117}\n");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((padded.len() as u16).to_le_bytes());
    bytes.extend(padded.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_labels_of_three_values_train_as_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(WINE).unwrap();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    let x: Vec<f64> = rows.iter().flat_map(|r| r[..13].to_vec()).collect();
    // Labels 1, 2, 3 (not indices): the classes keep their values.
    let y: Vec<f64> = rows.iter().map(|r| r[13] + 1.0).collect();
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&xp, &x, "(178, 13)");
    write_npy(&yp, &y, "(178,)");
    let m = dir.path().join("m.st");
    let npy = json(&[
        "train",
        "--data",
        xp.to_str().unwrap(),
        "--labels",
        yp.to_str().unwrap(),
        "--standardize",
        "--out",
        m.to_str().unwrap(),
    ]);
    let csv = json(&["train", "--data", WINE, "--standardize", "--out", m.to_str().unwrap()]);
    assert_eq!(npy["classes"], serde_json::json!([1, 2, 3]));
    assert!((f(&npy["objective"]) - f(&csv["objective"])).abs() < 1e-6 * f(&csv["objective"]));
    let short = dir.path().join("short.npy");
    let three: Vec<f64> = (0..10).map(|i| (i % 3 + 1) as f64).collect();
    write_npy(&short, &three, "(10,)");
    refused(
        dir.path(),
        &["train", "--data", xp.to_str().unwrap(), "--labels", short.to_str().unwrap(), "--out", "never.st"],
        "10 labels for the 178 rows of --data",
    );
}
