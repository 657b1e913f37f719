//! Fit in-memory arrays: two informative features and a noise column, L1 so the noise drops out.
//!
//! `cargo run --release --example fit_arrays`

use logreg::{Dataset, LogisticRegression, Penalty, Solver};

fn main() -> logreg::Result<()> {
    let (n_rows, n_features) = (1000, 3);
    // A fixed pseudo-random walk, so the example prints the same numbers every run.
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let x: Vec<f32> = (0..n_rows * n_features).map(|_| next()).collect();
    let y: Vec<f32> =
        x.chunks(n_features).map(|r| f32::from(u8::from(3.0 * r[0] - 2.0 * r[1] + 0.5 * next() > 0.0))).collect();

    let data = Dataset::from_slices(&x, n_rows, n_features, &y)?;
    let model = LogisticRegression::new().penalty(Penalty::L1(0.01)).solver(Solver::Newton).fit(&data)?;

    println!("coef {:?}, intercept {:?}", model.coef(), model.intercept());
    let p = model.predict_proba(&[0.5, -0.5, 0.0, -0.5, 0.5, 0.0], 2)?;
    println!("P(y = 1) for (0.5, -0.5, 0) and (-0.5, 0.5, 0): {p:?}");
    assert_eq!(model.coef()[2], 0.0, "L1 drops the noise column");
    assert!(p[0] > 0.9 && p[1] < 0.1);
    Ok(())
}
