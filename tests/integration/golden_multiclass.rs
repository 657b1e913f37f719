//! The multinomial solvers and the weights against scikit-learn's optimum
//! (`scripts/sklearn_multiclass.py`) on the wine and digits data, standardized as StandardScaler
//! does, through the library API.

use std::path::Path;

use logreg::solvers::multinomial::{self, MultinomialFit};
use logreg::solvers::weights::{ClassWeight, Weights};
use logreg::solvers::{Problem, SolverConfig, SolverKind};
use serde::Deserialize;
use tch::{Kind, Tensor};

#[derive(Debug, Deserialize)]
pub struct MulticlassFixture {
    pub name: String,
    pub data: String,
    pub classes: usize,
    #[serde(rename = "C")]
    pub c: f64,
    pub l1_ratio: f64,
    pub tolerance: crate::golden_sklearn::SklearnTolerance,
    pub sample_weight: Option<Vec<f64>>,
    /// `"balanced"`, `{"class": weight, …}` or null.
    pub class_weight: serde_json::Value,
    pub coef: Vec<Vec<f64>>,
    pub intercept: Vec<f64>,
    pub objective: f64,
}

pub fn multiclass_fixtures() -> Vec<MulticlassFixture> {
    let dir = crate::fixtures_dir().join("sklearn_multiclass");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

/// The CSV's features standardized in f64 with the population std (a constant column stays 0, as
/// StandardScaler leaves it), and its last column as class indices.
fn standardized(data: &str) -> (Tensor, Tensor) {
    let text = std::fs::read_to_string(Path::new(data)).unwrap();
    let mut lines = text.lines();
    let width = lines.next().unwrap().split(',').count();
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), width, "{data}: {line}");
        features.extend(fields[..width - 1].iter().map(|v| v.parse::<f64>().unwrap()));
        labels.push(fields[width - 1].parse::<i64>().unwrap());
    }
    let x = Tensor::from_slice(&features).view([-1, width as i64 - 1]);
    let mean = x.mean_dim(&[0i64][..], true, Kind::Double);
    let std = x.std_correction(&[0i64][..], 0i64, true);
    let std = std.where_self(&std.gt(0.0), &std.ones_like());
    ((x - mean) / std, Tensor::from_slice(&labels))
}

fn weights_of(f: &MulticlassFixture) -> Weights {
    let class = match &f.class_weight {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s == "balanced" => Some(ClassWeight::Balanced),
        serde_json::Value::Object(map) => {
            Some(ClassWeight::Given(map.iter().map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap())).collect()))
        }
        other => panic!("{}: class_weight {other}", f.name),
    };
    Weights { sample: f.sample_weight.clone(), class }
}

/// Each column of a `[K, d]` matrix (or the intercepts, d = 1) less its mean over the classes.
fn centred(rows: &[f64], k: usize) -> Vec<f64> {
    let d = rows.len() / k;
    let means: Vec<f64> = (0..d).map(|j| (0..k).map(|c| rows[c * d + j]).sum::<f64>() / k as f64).collect();
    rows.iter().enumerate().map(|(i, v)| v - means[i % d]).collect()
}

#[test]
fn multinomial_solvers_reach_sklearns_optimum_with_its_zeros() {
    let fixtures = multiclass_fixtures();
    assert_eq!(fixtures.len(), 9, "the cases of scripts/sklearn_multiclass.py");
    for f in &fixtures {
        let (x, y) = standardized(&f.data);
        let labels = Vec::<i64>::try_from(&y).unwrap();
        let rows = Weights::per_row(&weights_of(f), &labels, f.classes).unwrap();
        let total = rows.as_ref().map_or(labels.len() as f64, |w| w.iter().sum());
        let problem = Problem::from_sklearn_weighted(f.c, f.l1_ratio, total);
        let sk_coef: Vec<f64> = f.coef.concat();
        // Our objective at sklearn's solution is sklearn's own, scaled: the weights (sample ×
        // class, `balanced` as sklearn computes it) and the C mapping are the same problem.
        let at_sklearn =
            multinomial::objective(&x, &y, f.classes, rows.as_deref(), problem, &sk_coef, &f.intercept).unwrap();
        let scale = f.c * total;
        assert!(
            (at_sklearn * scale - f.objective).abs() <= 1e-10 * f.objective,
            "{}: our F at sklearn's optimum {} vs sklearn's {}",
            f.name,
            at_sklearn * scale,
            f.objective
        );
        for kind in [SolverKind::Newton, SolverKind::Fista] {
            let config = SolverConfig { tol: 1e-9, max_iter: Some(100_000) };
            let s: MultinomialFit =
                multinomial::fit(&x, &y, f.classes, rows.as_deref(), problem, kind, config).unwrap();
            let name = format!("{} {kind:?}", f.name);
            assert!(s.converged, "{name}: not converged after {} iterations", s.iterations);
            // Digits without L1 (1797 × 64, 10 classes: n·K·(d+1) ≥ 2²⁰) goes matrix-free.
            let method = match kind {
                SolverKind::Newton if f.l1_ratio == 0.0 && f.name.starts_with("digits") => "newton-cg",
                SolverKind::Newton => "newton",
                _ => "fista",
            };
            assert_eq!(s.method, method, "{name}");
            let ours = scale * s.objective;
            assert!(
                ours <= f.objective * (1.0 + f.tolerance.objective_rel),
                "{name}: objective {ours} vs sklearn {}",
                f.objective
            );
            let worst = centred(&s.coef, f.classes)
                .iter()
                .zip(centred(&sk_coef, f.classes))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst <= f.tolerance.coef_abs, "{name}: coefficients differ by {worst}");
            let intercepts = centred(&s.intercept, f.classes)
                .iter()
                .zip(centred(&f.intercept, f.classes))
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(intercepts <= f.tolerance.coef_abs, "{name}: intercepts differ by {intercepts}");
            let zeros = |c: &[f64]| c.iter().map(|&v| v == 0.0).collect::<Vec<_>>();
            assert_eq!(zeros(&s.coef), zeros(&sk_coef), "{name}: zero sets differ");
            crate::notice(&format!(
                "{name}: {} iterations, {:.2}s, objective rel diff {:+.1e}, max coef diff {worst:.1e}",
                s.iterations,
                s.seconds,
                (ours - f.objective) / f.objective
            ));
        }
    }
}
