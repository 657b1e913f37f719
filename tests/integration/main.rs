//! Integration tests, one binary so libtorch is linked once. Run from the repository root (cargo
//! does); `LOGREG_FIXTURES`, `LOGREG_PYTHON` and `LOGREG_BIN` override where the fixtures, the
//! managed Python and the `logreg` binary are.

mod api;
mod checkpoint_hardening;
mod cli;
mod csv_hardening;
mod cuda;
mod data_cli;
#[cfg(feature = "dist")]
mod dist;
#[cfg(feature = "dist")]
mod dist_tables;
mod freshness;
mod golden;
mod golden_data;
mod golden_multiclass;
mod golden_sklearn;
mod golden_softmax;
mod messy_tables;
mod multiclass_cli;
mod multiclass_convert;
mod multiclass_epochs;
mod multiclass_grid;
mod multiclass_stream;
mod sparse_cli;
mod sparse_epochs;
mod stream_cli;
mod table_formats;

use std::path::PathBuf;

use logreg::reference::fixture::{self, Fixture};

/// The golden fixtures directory.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("LOGREG_FIXTURES").map_or_else(|| PathBuf::from("fixtures"), PathBuf::from)
}

/// Every committed fixture; the issue asks for at least 12 configurations.
pub fn fixtures() -> Vec<Fixture> {
    let all: Vec<Fixture> =
        fixture::load_dir(&fixtures_dir()).expect("fixtures load").into_iter().map(|(_, f)| f).collect();
    assert!(all.len() >= 12, "only {} fixtures in {}", all.len(), fixtures_dir().display());
    all
}

/// One fixture by name.
pub fn fixture(name: &str) -> Fixture {
    fixtures().into_iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no fixture {name}"))
}

/// The Python with torch 2.11.0 (scripts/env.sh puts it first on PATH).
pub fn python() -> PathBuf {
    std::env::var_os("LOGREG_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// Prints past the test harness's output capture, for messages that must be seen (skips).
pub fn notice(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
