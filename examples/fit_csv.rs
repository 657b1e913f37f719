//! Fit a CSV file (the breast-cancer table in `fixtures/`), standardized, with scikit-learn's
//! `C`, and save the model where `logreg predict --model` can read it.
//!
//! `cargo run --release --example fit_csv [-- data.csv model.safetensors]`

use logreg::{Dataset, LogisticRegression, Penalty};

fn main() -> logreg::Result<()> {
    let mut args = std::env::args().skip(1);
    let csv = args.next().unwrap_or_else(|| "fixtures/breast_cancer.csv".into());
    let out = args.next().map_or_else(|| std::env::temp_dir().join("logreg-example.safetensors"), Into::into);

    let data = Dataset::from_csv(&csv, None)?; // the label is the last column
    let model = LogisticRegression::new().penalty(Penalty::sklearn(1.0, 0.0)).standardize(true).fit(&data)?;
    model.save(&out)?;

    let nonzero = model.coef().iter().filter(|&&w| w != 0.0).count();
    println!(
        "{} rows × {} features: {nonzero} non-zero weights; wrote {}",
        data.n_rows(),
        data.n_features(),
        out.display()
    );
    Ok(())
}
