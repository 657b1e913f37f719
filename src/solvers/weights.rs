//! Sample and class weights: validated and combined into one weight per row.
//!
//! The exact solvers minimise the weighted mean loss Σᵢ sᵢℓᵢ / Σᵢ sᵢ plus the penalty, with
//! sᵢ = (sample weight of row i) × (class weight of its class). A row of weight 2 counts as two
//! copies of it; weights that are all multiplied by one constant give the same problem.
//! scikit-learn multiplies the summed loss by the weights (C·Σᵢ sᵢℓᵢ + r(w)), so its `C` maps
//! through Σᵢ sᵢ ([`super::Problem::from_sklearn_weighted`]); glmnet normalises the weights to sum
//! N and takes the mean, which is the weighted mean above ([`super::Problem::from_glmnet`]).

use crate::error::{Error, Result, WeightProblem};

/// How classes are weighted.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeight {
    /// scikit-learn's `balanced`: class k weighs S / (K · S_k), S the total sample weight (the
    /// row count without sample weights) and S_k that of class k; every class then carries the
    /// same total weight.
    Balanced,
    /// (class index, weight) pairs; a class not named weighs 1 (as scikit-learn's dict).
    Given(Vec<(usize, f64)>),
}

/// Sample weights (one per row) and class weights, either or both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    /// One weight per row (finite, ≥ 0, not all zero), or none: 1 each.
    pub sample: Option<Vec<f64>>,
    /// Class weights, or none: 1 each.
    pub class: Option<ClassWeight>,
}

impl Weights {
    /// No weights: every row counts once.
    pub fn none() -> Self {
        Self::default()
    }

    /// These sample weights, one per row.
    pub fn sample(weights: Vec<f64>) -> Self {
        Self { sample: Some(weights), class: None }
    }

    /// These class weights, on top of any sample weights.
    pub fn with_class(mut self, class: ClassWeight) -> Self {
        self.class = Some(class);
        self
    }

    /// The weight of each row for `labels` (class indices below `classes`): `None` when no
    /// weights were given, else sample weight × class weight per row. Refuses negative or
    /// non-finite weights, the wrong number of sample weights, a class weight for a class no row
    /// has, and weights that are all zero, as [`Error::InvalidWeights`].
    pub fn per_row(&self, labels: &[i64], classes: usize) -> Result<Option<Vec<f64>>> {
        if self.sample.is_none() && self.class.is_none() {
            return Ok(None);
        }
        let rows = labels.len();
        let refuse = |name, problem| Err(Error::InvalidWeights { name, problem });
        let class_of = |i: usize| -> Result<usize> {
            match usize::try_from(labels[i]) {
                Ok(k) if k < classes => Ok(k),
                _ => Err(Error::InvalidData {
                    name: "y",
                    message: format!("label {} at row {} is not a class index below {classes}", labels[i], i + 1),
                }),
            }
        };
        let sample = match &self.sample {
            Some(s) => {
                if s.len() != rows {
                    return refuse("sample_weight", WeightProblem::WrongLength { got: s.len(), rows });
                }
                check_values("sample_weight", "row", 1, s)?;
                s.clone()
            }
            None => vec![1.0; rows],
        };
        let mut totals = vec![0.0f64; classes];
        let mut counts = vec![0usize; classes];
        for (i, w) in sample.iter().enumerate() {
            let k = class_of(i)?;
            totals[k] += w;
            counts[k] += 1;
        }
        let factor = match &self.class {
            None => vec![1.0; classes],
            Some(ClassWeight::Balanced) => {
                let total: f64 = totals.iter().sum();
                // A class with no weight has no rows to scale: its factor is never used.
                totals.iter().map(|&t| if t > 0.0 { total / (classes as f64 * t) } else { 1.0 }).collect()
            }
            Some(ClassWeight::Given(pairs)) => {
                let mut factor = vec![1.0; classes];
                let mut seen = vec![false; classes];
                for &(class, w) in pairs {
                    if class >= classes || counts[class] == 0 {
                        return refuse("class_weight", WeightProblem::AbsentClass { class });
                    }
                    if seen[class] {
                        return refuse("class_weight", WeightProblem::Repeated { class });
                    }
                    check_values("class_weight", "class", class, &[w])?;
                    seen[class] = true;
                    factor[class] = w;
                }
                factor
            }
        };
        let rows_weights: Vec<f64> = sample.iter().zip(labels).map(|(w, &k)| w * factor[k as usize]).collect();
        let name = if self.class.is_some() { "class_weight" } else { "sample_weight" };
        // Products of huge weights can overflow.
        check_values(name, "row", 1, &rows_weights)?;
        if rows_weights.iter().all(|&w| w == 0.0) {
            return refuse(name, WeightProblem::AllZero);
        }
        Ok(Some(rows_weights))
    }
}

/// Each weight finite, ≥ 0 and not subnormal; `first` numbers the first one (`row 1`, `class 2`).
pub(crate) fn check_values(name: &'static str, what: &str, first: usize, values: &[f64]) -> Result<()> {
    for (i, &value) in values.iter().enumerate() {
        let at = format!("{what} {}", first + i);
        if !value.is_finite() {
            return Err(Error::InvalidWeights { name, problem: WeightProblem::NotFinite { at, value } });
        }
        if value < 0.0 {
            return Err(Error::InvalidWeights { name, problem: WeightProblem::Negative { at, value } });
        }
        if value != 0.0 && !value.is_normal() {
            return Err(Error::InvalidWeights { name, problem: WeightProblem::Subnormal { at, value } });
        }
    }
    Ok(())
}

/// Per-row weights handed straight to a solver: one per row, finite, ≥ 0, not all zero.
pub(crate) fn check_rows(weights: &[f64], rows: usize) -> Result<()> {
    if weights.len() != rows {
        let problem = WeightProblem::WrongLength { got: weights.len(), rows };
        return Err(Error::InvalidWeights { name: "sample_weight", problem });
    }
    check_values("sample_weight", "row", 1, weights)?;
    if weights.iter().all(|&w| w == 0.0) {
        return Err(Error::InvalidWeights { name: "sample_weight", problem: WeightProblem::AllZero });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn problem(e: Error) -> (&'static str, WeightProblem) {
        match e {
            Error::InvalidWeights { name, problem } => (name, problem),
            other => panic!("not a weight error: {other}"),
        }
    }

    #[test]
    fn balanced_weights_are_sklearns() {
        // 3 rows of class 0, 1 of class 1, 2 of class 2: n / (K · count) = 6/9, 6/3, 6/6.
        let labels = [0, 0, 0, 1, 2, 2];
        let w = Weights::none().with_class(ClassWeight::Balanced).per_row(&labels, 3).unwrap().unwrap();
        let expected = [2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 2.0, 1.0, 1.0];
        assert!(w.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15), "{w:?}");
        // With sample weights the counts are weighted: S = 8, S₀ = 4, S₁ = 1, S₂ = 3.
        let sample = vec![2.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        let w = Weights::sample(sample).with_class(ClassWeight::Balanced).per_row(&labels, 3).unwrap().unwrap();
        let f = [8.0 / 12.0, 8.0 / 3.0, 8.0 / 9.0];
        let expected = [2.0 * f[0], f[0], f[0], f[1], f[2], 2.0 * f[2]];
        assert!(w.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15), "{w:?}");
        // Every class then carries the same total weight.
        let per_class: Vec<f64> =
            (0..3).map(|k| w.iter().zip(&labels).filter(|(_, &l)| l == k).map(|(w, _)| w).sum()).collect();
        assert!(per_class.iter().all(|t| (t - 8.0 / 3.0).abs() < 1e-14), "{per_class:?}");
    }

    #[test]
    fn given_class_weights_multiply_sample_weights_and_default_to_one() {
        let labels = [0, 1, 2, 1];
        let w = Weights::sample(vec![1.0, 2.0, 3.0, 4.0])
            .with_class(ClassWeight::Given(vec![(1, 0.5)]))
            .per_row(&labels, 3)
            .unwrap()
            .unwrap();
        assert_eq!(w, vec![1.0, 1.0, 3.0, 2.0]);
        assert_eq!(Weights::none().per_row(&labels, 3).unwrap(), None);
    }

    #[test]
    fn bad_weights_are_named() {
        let labels = [0, 1, 1];
        let e = |w: Weights| problem(w.per_row(&labels, 2).unwrap_err());
        assert_eq!(
            e(Weights::sample(vec![1.0, 2.0])),
            ("sample_weight", WeightProblem::WrongLength { got: 2, rows: 3 })
        );
        let (name, p) = e(Weights::sample(vec![1.0, -2.0, 1.0]));
        assert_eq!((name, p.to_string()), ("sample_weight", "-2 at row 2 is negative".to_string()));
        let (_, p) = e(Weights::sample(vec![1.0, 1.0, f64::NAN]));
        assert_eq!(p.to_string(), "NaN at row 3 is not a finite number");
        assert_eq!(e(Weights::sample(vec![0.0; 3])), ("sample_weight", WeightProblem::AllZero));
        // Subnormal weights, given or made by a product, would end the fit in NaN.
        let (_, p) = e(Weights::sample(vec![1.0, 1e-320, 1.0]));
        assert_eq!(p.to_string(), "1e-320 at row 2 is subnormal (above 0 but below 2.2e-308): scale the weights up");
        let tiny = Weights::sample(vec![1e-160; 2]).with_class(ClassWeight::Given(vec![(0, 1e-160)]));
        assert!(matches!(problem(tiny.per_row(&[0, 1], 2).unwrap_err()).1, WeightProblem::Subnormal { .. }));
        let given = |pairs| Weights::none().with_class(ClassWeight::Given(pairs));
        assert_eq!(e(given(vec![(2, 1.0)])), ("class_weight", WeightProblem::AbsentClass { class: 2 }));
        assert_eq!(
            problem(given(vec![(1, 1.0)]).per_row(&[0, 0], 2).unwrap_err()),
            ("class_weight", WeightProblem::AbsentClass { class: 1 })
        );
        assert_eq!(e(given(vec![(1, 1.0), (1, 2.0)])), ("class_weight", WeightProblem::Repeated { class: 1 }));
        let (_, p) = e(given(vec![(0, f64::INFINITY)]));
        assert_eq!(p.to_string(), "inf at class 0 is not a finite number");
        assert_eq!(e(given(vec![(0, 0.0), (1, 0.0)])), ("class_weight", WeightProblem::AllZero));
        let shown = Error::InvalidWeights { name: "class_weight", problem: WeightProblem::AbsentClass { class: 4 } };
        assert_eq!(shown.to_string(), "invalid class_weight: class 4 does not occur in the labels");
        assert!(matches!(
            Weights::sample(vec![1.0; 3]).per_row(&[0, 5, 1], 2),
            Err(Error::InvalidData { name: "y", .. })
        ));
    }

    proptest! {
        /// Any weights end in per-row weights that are finite and ≥ 0, or in a weight error.
        #[test]
        fn any_weights_give_usable_rows_or_a_named_error(
            sample in proptest::collection::vec(prop_oneof![Just(0.0), Just(-1.0), Just(f64::NAN), 0.0f64..10.0], 0..8),
            labels in proptest::collection::vec(0i64..3, 1..8),
            given in proptest::collection::vec((0usize..4, -1.0f64..3.0), 0..4),
            balanced in any::<bool>(),
        ) {
            let class = if balanced { ClassWeight::Balanced } else { ClassWeight::Given(given) };
            match Weights::sample(sample).with_class(class).per_row(&labels, 3) {
                Ok(Some(w)) => {
                    prop_assert_eq!(w.len(), labels.len());
                    prop_assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0) && w.iter().any(|&v| v > 0.0));
                    prop_assert!(check_rows(&w, labels.len()).is_ok());
                }
                Ok(None) => prop_assert!(false, "weights were given"),
                Err(Error::InvalidWeights { .. }) => {}
                Err(other) => prop_assert!(false, "{}", other),
            }
        }
    }
}
