//! [`Dataset`]: labelled rows for [`super::LogisticRegression::fit`], from slices, tensors or files,
//! checked once on the way in.

use std::path::Path;

use tch::{Device, Kind, Tensor};

use crate::data::table::{self, LabelColumn, Table};
use crate::error::{Error, Result};

/// Rows of f32 features (row-major) with 0/1 labels and the features' names.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub(crate) table: Table,
}

fn invalid(name: &'static str, message: String) -> Error {
    Error::InvalidData { name, message }
}

/// `x0 … x{d−1}`, once the shape is known to be one the values fill: the sizes come from the
/// caller, and naming 2⁴⁰ columns of an empty array would not fit in memory.
fn default_names(n_rows: usize, d: usize, values: usize) -> Result<Vec<String>> {
    check_shape(n_rows, d, values)?;
    Ok((0..d).map(|j| format!("x{j}")).collect())
}

/// At least one row and one feature, and `values` = rows × features (checked multiplication).
fn check_shape(n_rows: usize, d: usize, values: usize) -> Result<()> {
    if n_rows == 0 || d == 0 {
        return Err(invalid("x", format!("{n_rows} rows × {d} features: training needs at least one of each")));
    }
    if n_rows.checked_mul(d) != Some(values) {
        return Err(invalid("x", format!("{values} values, not n_rows × n_features = {n_rows} × {d}")));
    }
    Ok(())
}

impl Dataset {
    /// `x` holds `n_rows × n_features` values row-major, `y` one 0/1 label per row; the features
    /// are named `x0 … x{d−1}`. Lengths that do not match, a non-finite value or a label other
    /// than 0 or 1 are [`Error::InvalidData`] naming the first one.
    pub fn from_slices(x: &[f32], n_rows: usize, n_features: usize, y: &[f32]) -> Result<Self> {
        let names = default_names(n_rows, n_features, x.len())?;
        Self::checked(x.to_vec(), n_rows, names, y.to_vec(), "<slices>".into())
    }

    /// `x` (`[n, d]`) and `y` (`[n]` or `[n, 1]`), any device and float kind, copied to f32 rows.
    pub fn from_tensors(x: &Tensor, y: &Tensor) -> Result<Self> {
        let (n, d) = x.size2().map_err(|_| invalid("x", format!("must be 2-D, found shape {:?}", x.size())))?;
        let rows = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(Vec::<f32>::try_from(
                t.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?.f_flatten(0, -1)?,
            )?)
        };
        let x = rows(x)?;
        let names = default_names(n as usize, d as usize, x.len())?;
        Self::checked(x, n as usize, names, rows(y)?, "<tensors>".into())
    }

    /// A CSV file with a header row; the label column is `label`, or the last one.
    pub fn from_csv(path: impl AsRef<Path>, label: Option<&str>) -> Result<Self> {
        let column = label.map_or(LabelColumn::Last, |l| LabelColumn::Named(l.to_string()));
        Self::from_table(table::read_file(path.as_ref(), &column)?)
    }

    /// A 2-D `.npy` array of features and a `.npy` array of its 0/1 labels.
    pub fn from_npy(x: impl AsRef<Path>, y: impl AsRef<Path>) -> Result<Self> {
        Self::from_table(crate::data::npy::read_table(x.as_ref(), Some(y.as_ref()))?)
    }

    /// Names the features (one name per column).
    pub fn with_feature_names(mut self, names: &[&str]) -> Result<Self> {
        if names.len() != self.n_features() {
            let message = format!("{} names for {} features", names.len(), self.n_features());
            return Err(invalid("feature_names", message));
        }
        self.table.feature_names = names.iter().map(|n| n.to_string()).collect();
        Ok(self)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.table.labels.len()
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.table.feature_names.len()
    }

    /// The features' names, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.table.feature_names
    }

    fn from_table(table: Table) -> Result<Self> {
        let Table { source, feature_names, features, labels, .. } = table;
        let n = labels.len();
        Self::checked(features, n, feature_names, labels, source)
    }

    fn checked(x: Vec<f32>, n_rows: usize, names: Vec<String>, y: Vec<f32>, source: String) -> Result<Self> {
        let d = names.len();
        check_shape(n_rows, d, x.len())?;
        if y.len() != n_rows {
            return Err(invalid("y", format!("{} labels for {n_rows} rows", y.len())));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(invalid("x", format!("row {}, column {}: {} is not a finite number", i / d, i % d, x[i])));
        }
        if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
            return Err(invalid("y", format!("row {i}: label {} is not 0 or 1", y[i])));
        }
        let table = Table { source, feature_names: names, label_name: Some("y".into()), features: x, labels: y };
        Ok(Self { table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_slices_are_typed_errors_naming_the_first_fault() {
        // x, n_rows, n_features, y, the message's start.
        type Case<'a> = (&'a [f32], usize, usize, &'a [f32], &'a str);
        let cases: [Case; 7] = [
            (&[1.0, 2.0, 3.0], 2, 2, &[0.0, 1.0], "invalid x: 3 values, not n_rows × n_features = 2 × 2"),
            (&[1.0, 2.0], 2, 1, &[0.0], "invalid y: 1 labels for 2 rows"),
            (&[1.0, f32::NAN], 2, 1, &[0.0, 1.0], "invalid x: row 1, column 0: NaN is not a finite number"),
            (&[1.0, 2.0], 2, 1, &[0.0, 2.0], "invalid y: row 1: label 2 is not 0 or 1"),
            (&[], 0, 3, &[], "invalid x: 0 rows × 3 features: training needs at least one of each"),
            (&[1.0], usize::MAX, 2, &[0.0], "invalid x: 1 values, not n_rows × n_features"),
            (&[], 0, 1 << 40, &[], "invalid x: 0 rows × 1099511627776 features"),
        ];
        for (x, n, d, y, expected) in cases {
            let e = Dataset::from_slices(x, n, d, y).unwrap_err();
            assert!(matches!(e, Error::InvalidData { .. }), "{e:?}");
            assert!(e.to_string().starts_with(expected), "{e} vs {expected}");
        }
        let ok = Dataset::from_slices(&[1.0, 2.0, 3.0, 4.0], 2, 2, &[0.0, 1.0]).unwrap();
        assert_eq!((ok.n_rows(), ok.n_features(), ok.feature_names()), (2, 2, &["x0".to_string(), "x1".into()][..]));
        let named = ok.with_feature_names(&["a", "b"]).unwrap();
        assert_eq!(named.feature_names(), ["a", "b"]);
        assert!(named.with_feature_names(&["a"]).is_err());
    }

    #[test]
    fn tensors_and_files_give_the_same_rows() {
        let x = Tensor::from_slice(&[1.0f64, 2.0, 3.0, 4.0]).view([2, 2]);
        let from_tensors = Dataset::from_tensors(&x, &Tensor::from_slice(&[0.0f32, 1.0])).unwrap();
        assert_eq!(
            from_tensors,
            Dataset::from_slices(&[1.0, 2.0, 3.0, 4.0], 2, 2, &[0.0, 1.0]).unwrap().renamed("<tensors>")
        );
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, "a,b,label\n1,2,0\n3,4,1\n").unwrap();
        let from_csv = Dataset::from_csv(&csv, None).unwrap();
        assert_eq!(from_csv.feature_names(), ["a", "b"]);
        assert_eq!(
            (from_csv.table.features.clone(), from_csv.table.labels.clone()),
            (vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 1.0])
        );
        std::fs::write(&csv, "a,b,label\n1,2,0\n3,4,7\n").unwrap();
        let e = Dataset::from_csv(&csv, Some("label")).unwrap_err().to_string();
        assert!(e.contains("d.csv:3:3: label `7` is not one of the two classes"), "{e}");
    }

    impl Dataset {
        fn renamed(mut self, source: &str) -> Self {
            self.table.source = source.into();
            self
        }
    }
}
