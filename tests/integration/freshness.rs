//! The committed fixtures are exactly what `scripts/reference.py fixtures` writes today.

use logreg::fixture;

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
