//! In-memory datasets as tensors: the seeded, stratified validation split and standardization.

use tch::{Device, Kind, Tensor};

use crate::data::table::Table;
use crate::error::{ensure, Result};

/// Features `x` (`[n, d]`, f32) and labels `y` (`[n, 1]`, 0/1 f32).
#[derive(Debug)]
pub struct Dataset {
    /// Features, `[n, d]` f32, one row per example.
    pub x: Tensor,
    /// Labels, `[n, 1]` f32, each 0 or 1.
    pub y: Tensor,
}

impl Dataset {
    /// The table's features and labels as CPU tensors.
    pub fn from_table(table: &Table) -> Result<Self> {
        let d = table.feature_names.len() as i64;
        let x = Tensor::f_from_slice(&table.features)?.f_view([-1, d])?;
        let y = Tensor::f_from_slice(&table.labels)?.f_view([-1, 1])?;
        Ok(Self { x, y })
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> i64 {
        self.x.size()[0]
    }

    /// The rows at `index` (a 1-D int64 tensor).
    pub(crate) fn select(&self, index: &Tensor) -> Result<Self> {
        Ok(Self { x: self.x.f_index_select(0, index)?, y: self.y.f_index_select(0, index)? })
    }

    /// Moves both tensors to `device`.
    pub fn to_device(&self, device: Device) -> Result<Self> {
        Ok(Self { x: self.x.f_to_device(device)?, y: self.y.f_to_device(device)? })
    }

    /// Splits off `fraction` of each class as a validation set, drawing from libtorch's generator
    /// (call inside [`crate::seed::with_seed`]): one `randperm` per class, class 0 first. Rows keep
    /// their original order within each part. Returns (train, validation).
    pub(crate) fn stratified_split(&self, fraction: f64) -> Result<(Self, Self)> {
        ensure(fraction > 0.0 && fraction < 1.0, "validation_split", fraction, "must be between 0 and 1, exclusive")?;
        let labels = Vec::<f32>::try_from(self.y.f_flatten(0, -1)?)?;
        let (mut train, mut valid) = (vec![], vec![]);
        for class in [0.0f32, 1.0] {
            let rows: Vec<i64> = (0..labels.len() as i64).filter(|&i| labels[i as usize] == class).collect();
            let n_valid = (fraction * rows.len() as f64).round() as usize;
            ensure(
                n_valid >= 1 && n_valid < rows.len(),
                "validation_split",
                fraction,
                "leaves a class with no rows in the training or the validation part",
            )?;
            let perm = Vec::<i64>::try_from(Tensor::f_randperm(rows.len() as i64, (Kind::Int64, Device::Cpu))?)?;
            valid.extend(perm[..n_valid].iter().map(|&p| rows[p as usize]));
            train.extend(perm[n_valid..].iter().map(|&p| rows[p as usize]));
        }
        train.sort_unstable();
        valid.sort_unstable();
        Ok((self.select(&Tensor::f_from_slice(&train)?)?, self.select(&Tensor::f_from_slice(&valid)?)?))
    }
}

/// Per-feature mean and standard deviation (population, as scikit-learn's StandardScaler; a
/// constant feature gets 1 so it stays finite).
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Each feature's mean.
    pub mean: Vec<f32>,
    /// Each feature's standard deviation (population; 1 for a constant feature).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Statistics of `x`'s columns.
    pub fn fit(x: &Tensor) -> Result<Self> {
        let mean = x.f_mean_dim(&[0i64][..], false, Kind::Float)?;
        let std = x.f_std_correction(&[0i64][..], 0i64, false)?;
        let std = std.f_where_scalarother(&std.f_gt(0.0)?, 1.0)?;
        Ok(Self { mean: Vec::<f32>::try_from(mean)?, std: Vec::<f32>::try_from(std)? })
    }

    /// `(x − mean) / std`, on `x`'s device.
    pub fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let device = x.device();
        let mean = Tensor::f_from_slice(&self.mean)?.f_to_device(device)?;
        let std = Tensor::f_from_slice(&self.std)?.f_to_device(device)?;
        Ok(x.f_sub(&mean)?.f_div(&std)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::with_seed;

    fn data(labels: &[f32]) -> Dataset {
        let n = labels.len() as i64;
        Dataset {
            x: Tensor::arange(n, (Kind::Float, Device::Cpu)).view([n, 1]),
            y: Tensor::from_slice(labels).view([n, 1]),
        }
    }

    #[test]
    fn split_is_stratified_disjoint_complete_and_seeded() {
        let labels: Vec<f32> = (0..40).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        let d = data(&labels);
        let (train, valid) = with_seed(5, || d.stratified_split(0.2)).unwrap();
        let ones = |s: &Dataset| s.y.sum(Kind::Float).double_value(&[]);
        assert_eq!((train.len(), valid.len()), (32, 8));
        assert_eq!((ones(&train), ones(&valid)), (8.0, 2.0));
        let mut all = Vec::<f32>::try_from(Tensor::cat(&[&train.x, &valid.x], 0).flatten(0, -1)).unwrap();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..40).map(|i| i as f32).collect::<Vec<_>>());
        let (_, again) = with_seed(5, || d.stratified_split(0.2)).unwrap();
        assert!(again.x.equal(&valid.x));
        let (_, other) = with_seed(6, || d.stratified_split(0.2)).unwrap();
        assert!(!other.x.equal(&valid.x));
    }

    #[test]
    fn split_rejects_fractions_that_empty_a_part() {
        let d = data(&[0.0, 0.0, 1.0, 1.0]);
        for f in [0.0, 1.0, -0.5, 0.1] {
            let e = with_seed(0, || d.stratified_split(f)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid validation_split: {f}")), "{e}");
        }
    }

    #[test]
    fn standardized_columns_have_zero_mean_and_unit_std() {
        let x = Tensor::from_slice(&[1.0f32, 5.0, 3.0, 5.0, 5.0, 5.0]).view([3, 2]);
        let s = Standardizer::fit(&x).unwrap();
        assert_eq!(s.mean, [3.0, 5.0]);
        assert_eq!(s.std[1], 1.0, "a constant column keeps std 1");
        let z = Vec::<f32>::try_from(s.apply(&x).unwrap().flatten(0, -1)).unwrap();
        let expected = [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0].map(|v: f32| v * 1.224_744_9);
        assert!(z.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6), "{z:?}");
    }
}
