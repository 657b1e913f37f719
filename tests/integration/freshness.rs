//! The committed fixtures are exactly what their scripts (`scripts/reference.py fixtures`, the
//! export and scikit-learn scripts) write today.

use logreg::reference::fixture;

#[test]
fn committed_fixtures_are_what_the_reference_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args(["scripts/reference.py", "fixtures", "--out"])
        .arg(out.path())
        .status()
        .expect("run scripts/reference.py with the managed python (scripts/test sets it up)");
    assert!(status.success(), "scripts/reference.py fixtures failed");
    let committed = fixture::load_dir(&crate::fixtures_dir()).unwrap();
    let fresh = fixture::load_dir(out.path()).unwrap();
    let names =
        |v: &[(std::path::PathBuf, fixture::Fixture)]| v.iter().map(|(_, f)| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed), names(&fresh), "the set of fixtures differs: rerun scripts/reference.py fixtures");
    for ((_, old), (_, new)) in committed.iter().zip(&fresh) {
        if let Err(e) = old.check_regenerated(new) {
            panic!("stale fixture (rerun scripts/reference.py fixtures): {e}");
        }
    }
}

#[test]
fn the_breast_cancer_csv_is_what_its_export_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let fresh = out.path().join("breast_cancer.csv");
    let status = std::process::Command::new(crate::python())
        .args(["scripts/export_breast_cancer.py", "--out"])
        .arg(&fresh)
        .status()
        .expect("run scripts/export_breast_cancer.py");
    assert!(status.success());
    let committed = crate::fixtures_dir().join("breast_cancer.csv");
    assert!(
        std::fs::read(committed).unwrap() == std::fs::read(fresh).unwrap(),
        "rerun scripts/export_breast_cancer.py"
    );
}

#[test]
fn committed_data_fixtures_are_what_the_reference_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args(["scripts/reference.py", "data-fixtures", "--out"])
        .arg(out.path())
        .status()
        .expect("run scripts/reference.py data-fixtures");
    assert!(status.success());
    let committed = crate::golden_data::data_fixtures();
    let fresh = fixture::load_data_dir(out.path()).unwrap();
    let names = |v: &[fixture::DataFixture]| v.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed), names(&fresh), "rerun scripts/reference.py data-fixtures");
    for (old, new) in committed.iter().zip(&fresh) {
        if let Err(e) = old.check_regenerated(new) {
            panic!("stale data fixture (rerun scripts/reference.py data-fixtures): {e}");
        }
    }
}

#[test]
fn committed_sklearn_fixtures_are_what_their_script_writes() {
    sklearn_fixtures_are_fresh("scripts/sklearn_reference.py", "sklearn");
}

#[test]
fn committed_multiclass_sklearn_fixtures_are_what_their_script_writes() {
    sklearn_fixtures_are_fresh("scripts/sklearn_multiclass.py", "sklearn_multiclass");
}

#[test]
fn the_wine_and_digits_csvs_are_what_their_export_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args(["scripts/export_multiclass.py", "--out"])
        .arg(out.path())
        .status()
        .expect("run scripts/export_multiclass.py");
    assert!(status.success());
    for name in ["wine.csv", "digits.csv"] {
        let committed = crate::fixtures_dir().join(name);
        assert!(
            std::fs::read(committed).unwrap() == std::fs::read(out.path().join(name)).unwrap(),
            "{name}: rerun scripts/export_multiclass.py"
        );
    }
}

/// `script --out DIR` writes what `fixtures/<dir>` holds: every setting exactly, sklearn's results
/// to well inside the cross-check's tolerance.
fn sklearn_fixtures_are_fresh(script: &str, dir: &str) {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args([script, "--out"])
        .arg(out.path())
        .status()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(status.success(), "{script} failed");
    let read = |dir: &std::path::Path| {
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap())
            .collect::<Vec<_>>()
    };
    let (committed, fresh) = (read(&crate::fixtures_dir().join(dir)), read(out.path()));
    assert_eq!(committed.len(), fresh.len(), "rerun {script}");
    for (old, new) in committed.iter().zip(&fresh) {
        // Everything but sklearn's results exactly; those to well inside the cross-check's tolerance
        // (saga's path can differ in the last bits with the BLAS kernels of another CPU).
        let strip = |v: &serde_json::Value| {
            let mut v = v.clone();
            for key in ["coef", "intercept", "objective", "n_iter"] {
                v.as_object_mut().unwrap().remove(key);
            }
            v
        };
        assert_eq!(strip(old), strip(new), "rerun {script}");
        // Coefficients (a vector, or a matrix by class) and intercepts (one, or one per class).
        let numbers = |v: &serde_json::Value| {
            fn flat(v: &serde_json::Value, into: &mut Vec<f64>) {
                match v {
                    serde_json::Value::Array(items) => items.iter().for_each(|i| flat(i, into)),
                    other => into.push(other.as_f64().unwrap()),
                }
            }
            let mut all = Vec::new();
            flat(&v["coef"], &mut all);
            flat(&v["intercept"], &mut all);
            all
        };
        let (a, b) = (numbers(old), numbers(new));
        assert_eq!(a.len(), b.len(), "{}: rerun {script}", old["name"]);
        let worst = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-6, "{}: coefficients moved by {worst}: rerun {script}", old["name"]);
        let (a, b) = (old["objective"].as_f64().unwrap(), new["objective"].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-9 * a, "{}: objective {a} vs {b}", old["name"]);
    }
}

#[test]
fn the_messy_example_is_what_its_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args(["scripts/make_messy_example.py", "--out"])
        .arg(out.path())
        .status()
        .expect("run scripts/make_messy_example.py");
    assert!(status.success());
    // The text inside: gzip's bytes may differ with another zlib.
    let text = |path: &std::path::Path| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()), &mut text)
            .unwrap();
        text
    };
    for name in ["patients.csv.gz", "new_patients.csv.gz"] {
        let committed = text(&crate::fixtures_dir().join("messy").join(name));
        assert!(committed == text(&out.path().join(name)), "{name}: rerun scripts/make_messy_example.py");
    }
}

#[test]
fn committed_softmax_fixtures_are_what_the_reference_script_writes() {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(crate::python())
        .args(["scripts/reference.py", "softmax-fixtures", "--out"])
        .arg(out.path())
        .status()
        .expect("run scripts/reference.py softmax-fixtures");
    assert!(status.success());
    let committed = crate::golden_softmax::softmax_fixtures(&crate::fixtures_dir().join("softmax"));
    let fresh = crate::golden_softmax::softmax_fixtures(out.path());
    let names = |v: &[crate::golden_softmax::SoftmaxFixture]| v.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&committed), names(&fresh), "rerun scripts/reference.py softmax-fixtures");
    for (old, new) in committed.iter().zip(&fresh) {
        assert_eq!(old.config, new.config, "{}: rerun scripts/reference.py softmax-fixtures", old.name);
        // Another CPU's kernels may round differently: well inside what any test would notice.
        let worst_loss = old.losses.iter().zip(&new.losses).map(|(a, b)| (a - b).abs() / b.abs()).fold(0.0, f64::max);
        let worst_weight = old.weight.iter().chain(&old.bias).zip(new.weight.iter().chain(&new.bias));
        let worst_weight = worst_weight.map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(
            worst_loss <= 1e-6 && worst_weight <= 1e-6,
            "{}: stale (loss {worst_loss:e}, weight {worst_weight:e}): rerun scripts/reference.py softmax-fixtures",
            old.name
        );
    }
}
