//! Sample and class weights across ranks (`dist`): each rank's sample weights checked on that
//! rank, the class totals `balanced` needs and the weights' sum reduced over the ranks, so every
//! row's weight (sample × class) is the one [`Weights::per_row`] gives in one process on every
//! rank's rows together.

use crate::dist::World;
use crate::error::{Error, Result, WeightProblem};
use crate::solvers::weights::{check_values, ClassWeight, Weights};

/// This rank's row weights and their sum over every rank.
#[derive(Clone, Debug, PartialEq)]
pub struct RankWeights {
    /// One weight per row of this rank's shard: sample weight × class weight.
    pub rows: Vec<f64>,
    /// Σ of every rank's row weights.
    pub total: f64,
}

/// Every row's weight on this rank (`labels` its shard's 0/1 labels), or `None` when `weights`
/// holds none; every rank must call it with the same class weights. A rank whose sample weights
/// are the wrong number or not finite and ≥ 0 ends every rank with one line naming it; a class
/// weight for a class no rank has, and weights that are zero on every rank, are refused alike on
/// every rank. Zero weights on one rank are fine: its rows drop out of the sums.
pub fn rank_weights(world: &mut World, weights: &Weights, labels: &[f32]) -> Result<Option<RankWeights>> {
    if weights.sample.is_none() && weights.class.is_none() {
        return Ok(None);
    }
    let sample = match &weights.sample {
        Some(s) => {
            let local = match s.len() == labels.len() {
                true => check_values("sample_weight", "row", 1, s).map(|_| s.clone()),
                false => {
                    let problem = WeightProblem::WrongLength { got: s.len(), rows: labels.len() };
                    Err(Error::InvalidWeights { name: "sample_weight", problem })
                }
            };
            world.agree("checking --sample-weight", local.map_err(|e| e.to_string()))?
        }
        None => vec![1.0; labels.len()],
    };
    let class = |i: usize| usize::from(labels[i] == 1.0);
    // [S₀, S₁, rows₀, rows₁] over every rank.
    let mut totals = [0.0f64; 4];
    for (i, w) in sample.iter().enumerate() {
        totals[class(i)] += w;
        totals[2 + class(i)] += 1.0;
    }
    world.sum(&mut totals)?;
    let refuse = |problem| Err(Error::InvalidWeights { name: "class_weight", problem });
    let factor = match &weights.class {
        None => [1.0, 1.0],
        Some(ClassWeight::Balanced) => {
            let total = totals[0] + totals[1];
            // A class without weight has no rows to scale.
            [0, 1].map(|k| if totals[k] > 0.0 { total / (2.0 * totals[k]) } else { 1.0 })
        }
        Some(ClassWeight::Given(pairs)) => {
            let mut factor = [1.0, 1.0];
            let mut seen = [false, false];
            for &(k, w) in pairs {
                if k >= 2 || totals[2 + k] == 0.0 {
                    return refuse(WeightProblem::AbsentClass { class: k });
                }
                if seen[k] {
                    return refuse(WeightProblem::Repeated { class: k });
                }
                check_values("class_weight", "class", k, &[w])?;
                seen[k] = true;
                factor[k] = w;
            }
            factor
        }
    };
    let name = if weights.class.is_some() { "class_weight" } else { "sample_weight" };
    let rows: Vec<f64> = sample.iter().enumerate().map(|(i, w)| w * factor[class(i)]).collect();
    // Products of huge weights can overflow on one rank.
    let local = check_values(name, "row", 1, &rows).map_err(|e| e.to_string());
    world.agree("weighting the rows", local)?;
    let mut sum = [rows.iter().sum::<f64>()];
    world.sum(&mut sum)?;
    if sum[0] == 0.0 {
        return Err(Error::InvalidWeights { name, problem: WeightProblem::AllZero });
    }
    Ok(Some(RankWeights { rows, total: sum[0] }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ranks;

    /// Labels and sample weights of 9 rows cut after row 4 (rank 1 holds the only rows of weight
    /// 3 and most of class 1): every rank's row weights are one process's `per_row` on all 9.
    #[test]
    fn two_ranks_weigh_their_rows_as_one_process_weighs_all() {
        let labels = [0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0];
        let sample = [1.0, 0.5, 2.0, 0.0, 1.0, 3.0, 3.0, 0.25, 1.0];
        let codes: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let cases = [
            Weights::sample(sample.to_vec()),
            Weights::none().with_class(ClassWeight::Balanced),
            Weights::sample(sample.to_vec()).with_class(ClassWeight::Balanced),
            Weights::sample(sample.to_vec()).with_class(ClassWeight::Given(vec![(1, 2.5)])),
        ];
        for weights in cases {
            let one = weights.per_row(&codes, 2).unwrap().unwrap();
            let got = ranks(2, |world| {
                let rows = if world.rank() == 0 { 0..4 } else { 4..9 };
                let mine = Weights {
                    sample: weights.sample.as_ref().map(|s| s[rows.clone()].to_vec()),
                    class: weights.class.clone(),
                };
                rank_weights(world, &mine, &labels[rows]).unwrap().unwrap()
            });
            let all: Vec<f64> = got.iter().flat_map(|g| g.rows.clone()).collect();
            assert!(
                all.iter().zip(&one).all(|(a, b)| (a - b).abs() <= 1e-15 * b.abs()),
                "{weights:?}: {all:?} vs {one:?}"
            );
            let total: f64 = one.iter().sum();
            assert!(got.iter().all(|g| (g.total - total).abs() <= 1e-14 * total), "{weights:?}");
        }
    }

    /// Zero weights on one rank are fine; zero on every rank, and a class no rank holds, are
    /// refused on every rank alike; a negative weight is named on its rank, the other saying it
    /// failed.
    #[test]
    fn bad_weights_end_every_rank() {
        let labels = [0.0f32, 1.0, 0.0, 1.0];
        let run = |sample: [f64; 4], class: Option<ClassWeight>| {
            ranks(2, |world| {
                let rows = world.rank() * 2..world.rank() * 2 + 2;
                let mine = Weights { sample: Some(sample[rows.clone()].to_vec()), class: class.clone() };
                rank_weights(world, &mine, &labels[rows]).map(Option::unwrap).map_err(|e| e.to_string())
            })
        };
        let fine = run([0.0, 0.0, 1.0, 2.0], None);
        assert_eq!(fine[0].as_ref().unwrap().rows, [0.0, 0.0]);
        assert_eq!(fine[1].as_ref().unwrap().total, 3.0);
        for r in run([0.0; 4], None) {
            assert_eq!(r.unwrap_err(), "invalid sample_weight: every weight is zero");
        }
        for r in run([1.0; 4], Some(ClassWeight::Given(vec![(2, 1.0)]))) {
            assert_eq!(r.unwrap_err(), "invalid class_weight: class 2 does not occur in the labels");
        }
        let negative = run([1.0, 1.0, 1.0, -2.0], None);
        let e0 = negative[0].as_ref().unwrap_err();
        let e1 = negative[1].as_ref().unwrap_err();
        assert!(e0.starts_with("rank 0: checking --sample-weight: rank 1 failed"), "{e0}");
        assert!(
            e1.starts_with("rank 1: checking --sample-weight: invalid sample_weight: -2 at row 2 is negative"),
            "{e1}"
        );
    }
}
