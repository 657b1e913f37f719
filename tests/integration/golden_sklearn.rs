//! The solvers against scikit-learn's optimum (`scripts/sklearn_reference.py`) on the
//! breast-cancer data, standardized as StandardScaler does.

use std::path::Path;

use logreg::data::sparse::CsrMatrix;
use logreg::data::table::{self, LabelColumn};
use logreg::solvers::path::{sparse_path_at, PathConfig};
use logreg::solvers::{solve, solve_sparse, Problem, SolverConfig, SolverKind};
use serde::Deserialize;
use tch::{Device, Kind, Tensor};

#[derive(Debug, Deserialize)]
pub struct SklearnFixture {
    pub name: String,
    pub data: String,
    #[serde(rename = "C")]
    pub c: f64,
    pub l1_ratio: f64,
    pub tolerance: SklearnTolerance,
    pub coef: Vec<f64>,
    pub intercept: f64,
    pub objective: f64,
}

#[derive(Debug, Deserialize)]
pub struct SklearnTolerance {
    pub objective_rel: f64,
    pub coef_abs: f64,
}

pub fn sklearn_fixtures(dir: &Path) -> Vec<SklearnFixture> {
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

/// Features standardized in f64 with the population std (StandardScaler), and labels.
fn standardized(data: &str) -> (Tensor, Tensor) {
    let (file, bytes) = table::read_source(Path::new(data)).unwrap();
    let t = table::parse(&file, &bytes, &LabelColumn::Last).unwrap();
    let d = t.feature_names.len() as i64;
    let x = Tensor::from_slice(&t.features).view([-1, d]).to_kind(Kind::Double);
    let mean = x.mean_dim(&[0i64][..], true, Kind::Double);
    let std = x.std_correction(&[0i64][..], 0i64, true);
    ((x - mean) / std, Tensor::from_slice(&t.labels).to_kind(Kind::Double))
}

#[test]
fn solvers_reach_sklearns_optimum_with_its_zeros() {
    let fixtures = sklearn_fixtures(&crate::fixtures_dir().join("sklearn"));
    assert_eq!(fixtures.len(), 9, "3 penalties × 3 values of C");
    let (x, y) = standardized(&fixtures[0].data);
    let n = x.size()[0] as usize;
    for f in &fixtures {
        let mut kinds = vec![(SolverKind::Newton, false), (SolverKind::Fista, false)];
        kinds.extend([(SolverKind::NewtonCd, false), (SolverKind::NewtonCd, true)]);
        if f.l1_ratio == 0.0 {
            kinds.extend([(SolverKind::Tron, false), (SolverKind::Tron, true)]);
        }
        for (kind, sparse) in kinds {
            let problem = Problem::from_sklearn(f.c, f.l1_ratio, n);
            let config = SolverConfig { tol: 1e-9, max_iter: Some(100_000) };
            let s = if sparse {
                // The same data as a CSR matrix (f32, as the sparse readers give it).
                let csr = CsrMatrix::from_dense(&x).unwrap();
                let labels = Vec::<f32>::try_from(y.to_kind(Kind::Float)).unwrap();
                let none = &mut |_, _| std::ops::ControlFlow::Continue(());
                solve_sparse(&csr, &labels, problem, kind, config, none).unwrap()
            } else {
                solve(&x.to_device(Device::Cpu), &y, problem, kind, config).unwrap()
            };
            let name = format!("{} {kind:?}{}", f.name, if sparse { " CSR" } else { "" });
            assert!(s.converged, "{name}: not converged after {} iterations", s.iterations);
            let ours = f.c * n as f64 * s.objective;
            assert!(
                ours <= f.objective * (1.0 + f.tolerance.objective_rel),
                "{name}: objective {ours} vs sklearn {}",
                f.objective
            );
            let worst = s.coef.iter().zip(&f.coef).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= f.tolerance.coef_abs, "{name}: coefficients differ by {worst}");
            assert!((s.intercept - f.intercept).abs() <= f.tolerance.coef_abs, "{name}: intercept");
            let zeros = |c: &[f64]| c.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&s.coef), zeros(&f.coef), "{name}: zero sets differ");
            crate::notice(&format!(
                "{name}: {} iterations, objective rel diff {:+.1e}, max coef diff {worst:.1e}",
                s.iterations,
                (ours - f.objective) / f.objective
            ));
        }
    }
}

/// The screened sparse path (newton-cd on the CSR columns, the strong rule and KKT checks) through
/// scikit-learn's values of C for the L1 and Elastic Net fixtures: glmnet's λ = 1/(C·n), α = l1_ratio.
#[test]
fn the_sparse_path_passes_through_sklearns_optima() {
    let fixtures = sklearn_fixtures(&crate::fixtures_dir().join("sklearn"));
    let (x, y) = standardized(&fixtures[0].data);
    let n = x.size()[0] as usize;
    let csr = CsrMatrix::from_dense(&x).unwrap();
    let labels = Vec::<f32>::try_from(y.to_kind(Kind::Float)).unwrap();
    for l1_ratio in [1.0, 0.5] {
        let mut chosen: Vec<&SklearnFixture> = fixtures.iter().filter(|f| f.l1_ratio == l1_ratio).collect();
        chosen.sort_by(|a, b| a.c.total_cmp(&b.c));
        assert_eq!(chosen.len(), 3);
        let lambdas: Vec<f64> = chosen.iter().map(|f| 1.0 / (f.c * n as f64)).collect();
        let config = PathConfig {
            alpha: l1_ratio,
            kind: SolverKind::NewtonCd,
            solver: SolverConfig { tol: 1e-9, max_iter: None },
            ..Default::default()
        };
        let points = sparse_path_at(&csr, &labels, &lambdas, &config).unwrap();
        for (f, p) in chosen.iter().zip(&points) {
            assert!(p.converged, "{}", f.name);
            let ours = f.c * n as f64 * p.objective;
            assert!(ours <= f.objective * (1.0 + f.tolerance.objective_rel), "{}: {ours} vs {}", f.name, f.objective);
            let worst = p.coef.iter().zip(&f.coef).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(worst <= f.tolerance.coef_abs, "{}: coefficients differ by {worst}", f.name);
            let zeros = |c: &[f64]| c.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&p.coef), zeros(&f.coef), "{}: zero sets differ", f.name);
        }
    }
}
