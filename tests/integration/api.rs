//! The estimator API against the command line: the same defaults, the same model, the same
//! predictions.

use logreg::device::DeviceChoice;
use logreg::{Dataset, FittedModel, LogisticRegression};

use crate::cli::{logreg, stderr, stdout};

const BREAST_CANCER: &str = "fixtures/breast_cancer.csv";

#[test]
fn the_estimators_defaults_are_trains_and_its_predictions_are_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let cli_model = dir.path().join("cli.safetensors");
    let out =
        logreg(&["train", "--data", BREAST_CANCER, "--device", "cpu", "--quiet", "--out", cli_model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let data = Dataset::from_csv(BREAST_CANCER, None).unwrap();
    let api = LogisticRegression::new().device(DeviceChoice::Cpu).fit(&data).unwrap();
    let cli = FittedModel::load(&cli_model).unwrap();
    assert_eq!((api.coef(), api.intercept(), api.feature_names()), (cli.coef(), cli.intercept(), cli.feature_names()));
    assert!(api.losses().len() > 1, "Newton's objective per iteration");

    // The first five rows, without the label column, through `logreg predict` and the API.
    let text = std::fs::read_to_string(BREAST_CANCER).unwrap();
    let rows_csv = dir.path().join("rows.csv");
    std::fs::write(&rows_csv, text.lines().take(6).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let out = logreg(&[
        "predict",
        "--model",
        cli_model.to_str().unwrap(),
        "--data",
        rows_csv.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let from_cli: Vec<f32> =
        stdout(&out).lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    let rows = Dataset::from_csv(&rows_csv, None).unwrap();
    let x: Vec<f32> = text
        .lines()
        .skip(1)
        .take(5)
        .flat_map(|l| {
            let cells: Vec<f32> = l.split(',').map(|c| c.parse().unwrap()).collect();
            cells[..cells.len() - 1].to_vec()
        })
        .collect();
    assert_eq!(rows.n_rows(), 5);
    assert_eq!(api.predict_proba(&x, 5).unwrap(), from_cli);
}
