//! `--solver auto`: the exact solver with the least estimated time, from a cost model of the rows
//! n, features d, stored non-zeros nnz and whether the penalty has an L1 part.
//!
//! The estimates, in seconds. Constants measured 2026-11-28 on the 2-core development machine
//! under a load average of 12–20 from other builds (`scripts/bench_sparse.py --skip
//! newton-cholesky,newton`, whose last table gives each run's passes and values read a second,
//! and single `train --json` runs interleaved on the same files); only their ratios matter:
//! - `tron` (no L1): passes over X (a Hessian product or a trial point each) × nnz at a rate.
//!   Dense 20,000 × 3,000 L2: 56 passes, 5.1e8 values a second (6.6 s); sparse 100k × 50k: 98
//!   passes, 8.7e7 a second (11.3 s; CSR and CSC reads are scattered). Taken: 60 passes at 5e8
//!   dense, 100 at 9e7 sparse.
//! - `newton-cd` with L1: dense 20,000 × 3,000: 108 passes' worth of column work, 1.3e8 values
//!   a second (49 s; 77 s in a rerun); sparse 100k × 50k: 84 passes at 6.5e7 (12.9 s); taken:
//!   110 passes at 1.2e8 (it only competes with newton, which sparse data rarely allows). Without
//!   L1 every column stays active (sparse L2: 271 passes, 53 s against tron's 11 s): not a
//!   candidate.
//! - `newton`: a d×d Hessian from at most 65,536 rows by BLAS and its factorisation, each
//!   iteration; with L1 also about 20 sweeps of coordinate descent over the d×d model (≈ 1e9 a
//!   second). Dense 20,000 × 3,000 L2: 6 iterations in 200 s against tron's 7.6 s (5.4e9
//!   multiply-adds a second); 20,000 × 300: 3 iterations in 3.9 s against tron's 0.33 s.
//!   Taken: 8 iterations at 8e9. It needs X dense: sparse input is first made dense, refused
//!   past [`DENSE_LIMIT`] values.
//!
//! FISTA is never the cheapest: it needs hundreds of passes where TRON needs about 60–100 and
//! newton-cd about 110. On each problem of the benchmark `auto` picked the fastest of our solvers
//! (its time 0.85×–1.04× of that solver's, within the 1.5× the issue asks).

use crate::model::penalty::Penalty;
use crate::solvers::SolverKind;

/// The most values (n·d) `auto` will make dense for `newton` (1 GiB of f32).
pub const DENSE_LIMIT: usize = 1 << 28;

/// The solver `auto` picked and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AutoChoice {
    /// The solver.
    pub kind: SolverKind,
    /// Why, in a sentence.
    pub reason: String,
    /// Estimated seconds per candidate (`None`: not a candidate for this problem).
    pub estimates: Vec<(SolverKind, Option<f64>)>,
}

fn newton_seconds(n: usize, d: usize, l1: bool) -> Option<f64> {
    let (n, d) = (n as f64, d as f64);
    if n * d > DENSE_LIMIT as f64 {
        return None;
    }
    let hessian = n.min(65_536.0) * d * d / 8e9 + d * d * d / 3.0 / 8e9;
    let lasso = if l1 { 20.0 * d * d / 1e9 } else { 0.0 };
    Some(8.0 * (hessian + lasso + 2.0 * n * d / 4e9))
}

/// Picks the exact solver for `rows` × `features` with `nnz` stored values (rows·features for
/// dense data) and a penalty with (`l1`) or without an L1 part.
pub fn choose(rows: usize, features: usize, nnz: usize, l1: bool) -> AutoChoice {
    let dense = nnz >= rows.saturating_mul(features);
    let newton = newton_seconds(rows, features, l1);
    let tron_seconds = if dense { 60.0 / 5e8 } else { 100.0 / 9e7 };
    let tron = (!l1).then_some(tron_seconds * nnz as f64);
    let newton_cd = l1.then_some(110.0 / 1.2e8 * nnz as f64);
    let estimates = vec![(SolverKind::Newton, newton), (SolverKind::Tron, tron), (SolverKind::NewtonCd, newton_cd)];
    let (kind, best) = estimates
        .iter()
        .filter_map(|&(k, s)| s.map(|s| (k, s)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a candidate for every problem");
    let name = |k: SolverKind| serde_json::json!(k).as_str().unwrap_or_default().to_string();
    let others: Vec<String> = estimates
        .iter()
        .filter(|&&(k, _)| k != kind)
        .filter_map(|&(k, s)| s.map(|s| format!("{} {s:.2e} s", name(k))))
        .collect();
    let penalty = if l1 { "with L1" } else { "without L1" };
    let reason = format!(
        "{rows} rows × {features} features, {nnz} non-zeros, {penalty}: {} estimated {best:.2e} s{}{}",
        name(kind),
        if others.is_empty() { String::new() } else { format!(" against {}", others.join(", ")) },
        if newton.is_none() {
            format!("; newton would need X dense ({rows}·{features} values)")
        } else {
            String::new()
        },
    );
    AutoChoice { kind, reason, estimates }
}

/// Whether `penalty`, or scikit-learn's `(C, l1_ratio)` when given, has an L1 part.
pub fn has_l1(penalty: Penalty, sklearn: Option<(f64, f64)>) -> bool {
    match sklearn {
        Some((_, l1_ratio)) => l1_ratio > 0.0,
        None => match penalty {
            Penalty::L1 { lambda } => lambda > 0.0,
            Penalty::ElasticNet { lambda_l1, .. } => lambda_l1 > 0.0,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_dense_problems_keep_newton_and_large_or_sparse_ones_do_not() {
        assert_eq!(choose(569, 30, 569 * 30, false).kind, SolverKind::Newton);
        assert_eq!(choose(569, 30, 569 * 30, true).kind, SolverKind::Newton);
        assert_eq!(choose(100_000, 100, 10_000_000, true).kind, SolverKind::Newton);
        // Dense 20,000 × 3,000: the d×d Hessian costs more than the passes.
        assert_eq!(choose(20_000, 3000, 60_000_000, true).kind, SolverKind::NewtonCd);
        assert_eq!(choose(20_000, 3000, 60_000_000, false).kind, SolverKind::Tron);
        // Measured: 20,000 × 300 L2, tron 0.33 s, newton 3.9 s.
        assert_eq!(choose(20_000, 300, 6_000_000, false).kind, SolverKind::Tron);
        // Sparse 100k × 50k at 0.2%: newton would need 5e9 dense values.
        let c = choose(100_000, 50_000, 10_000_000, false);
        assert_eq!(c.kind, SolverKind::Tron);
        assert!(c.reason.contains("newton would need X dense"), "{}", c.reason);
        assert_eq!(choose(100_000, 50_000, 10_000_000, true).kind, SolverKind::NewtonCd);
        assert!(choose(10, 5, 50, false).reason.starts_with("10 rows × 5 features, 50 non-zeros, without L1: newton"));
    }
}
