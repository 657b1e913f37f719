//! The data flags `train`, `path` and `cv` share (`--data`, `--label`, `--labels`), and reading a
//! table from a CSV or `.npy` file.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;

use logreg::data::npy;
use logreg::data::stream::NpyRows;
use logreg::data::table::{self, LabelColumn, Table};

use super::at_least_one;

/// Labelled training data, shared by `train` and `path`.
#[derive(Args)]
pub(crate) struct InputArgs {
    /// CSV file with a header row (`-` reads standard input), or a 2-D .npy array with --labels.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Name of the label column [default: the last column].
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// 0/1 labels for a .npy --data: a .npy array of shape (n,) or (n, 1).
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
}

impl InputArgs {
    /// The files read, by flag: `--data`, and `--labels` when given.
    pub(crate) fn paths(&self) -> Vec<(&'static str, &Path)> {
        let mut paths = vec![("--data", self.data.as_path())];
        paths.extend(self.labels.as_deref().map(|p| ("--labels", p)));
        paths
    }

    /// The .npy `--data` and `--labels`, opened for chunked reading.
    pub(crate) fn open_stream(&self, chunk_rows: Option<i64>) -> anyhow::Result<NpyRows> {
        if !is_npy(&self.data) {
            bail!("--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)");
        }
        let Some(labels) = &self.labels else {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        };
        let chunk_rows = at_least_one("chunk-rows", chunk_rows)?;
        Ok(NpyRows::open(&self.data, Some(labels), chunk_rows)?)
    }

    /// The table with its labels; `--label` is for CSV files only.
    pub(crate) fn load(&self) -> anyhow::Result<Table> {
        if self.label.is_some() && is_npy(&self.data) {
            bail!("--label names a CSV column; a .npy --data takes its labels from --labels");
        }
        let label = self.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
        load_table(&self.data, self.labels.as_deref(), label, true)
    }
}

pub(crate) fn is_npy(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// Reads `data`: a .npy array (labels from `labels` when `labelled`), else a CSV file whose label
/// column is `label`.
pub(crate) fn load_table(
    data: &Path,
    labels: Option<&Path>,
    label: LabelColumn,
    labelled: bool,
) -> anyhow::Result<Table> {
    if is_npy(data) {
        if labelled && labels.is_none() {
            bail!("--labels: a .npy --data needs its labels as a second .npy file (--labels y.npy)");
        }
        return Ok(npy::read_table(data, labels)?);
    }
    if labels.is_some() {
        bail!("--labels applies to .npy data; a CSV file holds its label column (see --label)");
    }
    let (file, bytes) = table::read_source(data)?;
    Ok(table::parse(&file, &bytes, &label)?)
}
