//! Fit a multinomial model to `.npy` arrays with scikit-learn's C and l1_ratio through the library
//! (`solvers::multinomial`), and print the fit as one JSON object. `logreg train` does the same from
//! the command line; `scripts/bench_multiclass.py` times that.
//!
//! `cargo run --release --example multinomial_npy -- X.npy y.npy C L1_RATIO newton|fista TOL [cpu|cuda]`
//!
//! X is `[n, d]` (f32 or f64), y the class indices 0..K−1 (any numeric type); K is the largest
//! label plus one.

use logreg::solvers::multinomial;
use logreg::solvers::{Problem, SolverConfig, SolverKind};
use tch::{Device, Kind, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [x, y, c, ratio, solver, tol, rest @ ..] = args.as_slice() else {
        return Err("usage: multinomial_npy X.npy y.npy C L1_RATIO newton|fista TOL [cpu|cuda]".into());
    };
    let device = match rest.first().map(String::as_str) {
        None | Some("cpu") => Device::Cpu,
        Some("cuda") => Device::Cuda(0),
        Some(other) => return Err(format!("unknown device {other}").into()),
    };
    let kind = match solver.as_str() {
        "newton" => SolverKind::Newton,
        "fista" => SolverKind::Fista,
        other => return Err(format!("unknown solver {other}").into()),
    };
    let x = Tensor::read_npy(x)?.to_device(device);
    let y = Tensor::read_npy(y)?.to_kind(Kind::Int64).to_device(device);
    let classes = y.max().int64_value(&[]) as usize + 1;
    let n = x.size()[0] as usize;
    let problem = Problem::from_sklearn(c.parse()?, ratio.parse()?, n);
    let config = SolverConfig { tol: tol.parse()?, max_iter: Some(100_000) };
    let fit = multinomial::fit(&x, &y, classes, None, problem, kind, config)?;
    let coef: Vec<&[f64]> = (0..classes).map(|k| fit.coef_of(k)).collect();
    let report = serde_json::json!({
        "coef": coef,
        "intercept": fit.intercept,
        "objective": fit.objective,
        "iterations": fit.iterations,
        "converged": fit.converged,
        "seconds": fit.seconds,
    });
    println!("{report}");
    Ok(())
}
