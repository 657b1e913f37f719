//! Three or more classes on rows streamed from a `.npy` file (`train`/`evaluate --stream`):
//! full-batch SGD or Adam as [`crate::train::softmax`] trains in memory, its gradient summed chunk
//! by chunk through autograd, and a model's probabilities chunk by chunk; memory holds one chunk
//! of the file, never all of it.

use tch::{Device, Kind, Reduction, Tensor};

use crate::data::recipe::Recipe;
use crate::data::source::Source;
use crate::data::stream::{NpyRows, Standardized};
use crate::error::{Error, Result};
use crate::model::file::TrainingInfo;
use crate::model::multiclass::{MultiClass, MulticlassModel};
use crate::model::multiclass_metrics;
use crate::model::penalty::Penalty;
use crate::seed::with_seed;
use crate::solvers::Problem;
use crate::train::fit::FitConfig;
use crate::train::multiclass::MulticlassFit;
use crate::train::optim::Optimizer;
use crate::train::softmax::linear_init;

/// Fits `nn.Linear(d, K)` + `CrossEntropyLoss` on `rows` (class indices below `classes.len()` as
/// labels) with `config`'s optimizer, learning rate, epochs, penalty and standardization; the
/// same parameters and steps as in memory, the loss summed over chunks (so equal to float
/// rounding). `recipe`, from the file beside the array, is recorded in the model.
pub fn fit_multiclass_stream(
    rows: &NpyRows,
    recipe: Option<Recipe>,
    classes: Vec<String>,
    config: &FitConfig,
) -> Result<MulticlassFit> {
    config.validate()?;
    let refuse = |name: &'static str, expected: &'static str| Error::InvalidSetting {
        name,
        value: "when streaming three or more classes".into(),
        expected,
    };
    if config.solver.is_some() {
        return Err(refuse("solver", "streaming trains with sgd or adam"));
    }
    if config.validation_split.is_some() {
        return Err(refuse("validation_split", "hold out a file and score it separately"));
    }
    if config.train.batch_size.is_some() {
        return Err(refuse("batch_size", "full batch: each epoch one step over every chunk"));
    }
    let (n, d, k) = (rows.rows(), rows.features(), classes.len());
    if let Some(bad) = rows.labels().iter().position(|&l| !(l >= 0.0 && (l as usize) < k && l.fract() == 0.0)) {
        return Err(Error::Input {
            location: rows.labels_name().to_string(),
            message: format!("row {}: label {} is not a class index below {k}", bad + 1, rows.labels()[bad]),
        });
    }
    let (penalty, penalize_bias) = match config.sklearn {
        Some((c, l1_ratio)) => {
            let p = Problem::from_sklearn_weighted(c, l1_ratio, n as f64);
            (Penalty::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 }, false)
        }
        None => (config.train.penalty, config.train.penalize_bias),
    };
    penalty.validate()?;
    let standardizer = if config.standardize { Some(rows.standardizer()?) } else { None };
    let standardized = standardizer.as_ref().map(|s| Standardized { inner: rows, standardizer: s });
    let source: &dyn Source = match &standardized {
        Some(s) => s,
        None => rows,
    };
    let t = &config.train;
    let (weight, bias, losses) = with_seed(config.seed, || -> Result<_> {
        let (w0, b0) = linear_init(d as i64, k as i64)?;
        let mut w = w0.f_set_requires_grad(true)?;
        let mut b = b0.f_set_requires_grad(true)?;
        let mut optimizer = Optimizer::new(t.optimizer, t.lr, &[&w, &b])?;
        let mut losses = Vec::with_capacity(t.epochs);
        for epoch in 1..=t.epochs {
            crate::interrupt::check(epoch)?;
            let mut grads = [w.f_zeros_like()?, b.f_zeros_like()?];
            let mut loss = 0.0;
            for i in 0..source.chunks() {
                source.with_chunk(i, &mut |x, y| {
                    let x = Tensor::f_from_slice(x)?.f_view([-1, d as i64])?;
                    let y = Tensor::f_from_slice(y)?.f_to_kind(Kind::Int64)?;
                    // The chunk's share of the mean: its summed loss over all n rows.
                    let part = x
                        .f_linear(&w, Some(&b))?
                        .f_cross_entropy_loss(&y, None::<Tensor>, Reduction::Sum, -100, 0.0)?
                        .f_div_scalar(n as f64)?;
                    add(&mut grads, Tensor::f_run_backward(&[&part], &[&w, &b], false, false)?)?;
                    loss += part.f_double_value(&[])?;
                    Ok(())
                })?;
            }
            let penalized: Vec<&Tensor> = if penalize_bias { vec![&w, &b] } else { vec![&w] };
            if let Some(term) = penalty.term(&penalized)? {
                let g = Tensor::f_run_backward(&[&term], &penalized, false, false)?;
                add(&mut grads, g)?;
                loss += term.f_double_value(&[])?;
            }
            optimizer.step(&mut [&mut w, &mut b], &grads)?;
            if !loss.is_finite() {
                return Err(Error::Diverged { epoch, value: loss });
            }
            losses.push(loss);
        }
        let flat = |t: &Tensor| -> Result<Vec<f32>> { Ok(Vec::<f32>::try_from(t.f_detach()?.f_flatten(0, -1)?)?) };
        Ok((flat(&w)?, flat(&b)?, losses))
    })?;
    let optimizer = serde_json::json!(t.optimizer);
    let mut training = TrainingInfo::new(
        penalty,
        penalize_bias,
        optimizer.as_str().unwrap_or_default(),
        config.seed,
        config.standardize,
    )
    .epochs("cross-entropy", t.lr, losses.len(), None);
    training.multi_class = Some(MultiClass::Multinomial.name().into());
    let feature_names = match &recipe {
        Some(r) => r.feature_names(),
        None => (0..d).map(|i| format!("x{i}")).collect(),
    };
    let label_name = recipe.as_ref().map_or_else(|| "y".to_string(), |r| r.label.clone());
    let model = MulticlassModel {
        classes: classes.clone(),
        coef: weight,
        intercept: bias,
        multi_class: MultiClass::Multinomial,
        feature_names,
        label_name,
        standardizer: standardizer.clone(),
        training,
        recipe: recipe.map(|r| Recipe { class_names: Some(classes.clone()), ..r }),
    };
    // The training report: the fitted model scores the raw rows, chunk by chunk, as `evaluate --stream` does.
    let probs = stream_probabilities(&model, rows, &model.feature_names, Device::Cpu)?;
    let train_report = multiclass_metrics::report(&probs, rows.labels(), &classes, None);
    Ok(MulticlassFit {
        model,
        losses,
        objective: None,
        iterations: None,
        converged: None,
        optimality: None,
        method: None,
        train_report,
        validation_report: None,
    })
}

/// `model`'s K probabilities for every row of `rows` (labelled, their features named
/// `feature_names`: matched to the model's by name, as in memory), chunk by chunk.
pub fn stream_probabilities(
    model: &MulticlassModel,
    rows: &NpyRows,
    feature_names: &[String],
    device: Device,
) -> Result<Vec<f32>> {
    let mut probs = Vec::with_capacity(rows.rows().saturating_mul(model.classes.len()));
    for i in 0..rows.chunks() {
        rows.with_chunk(i, &mut |x, _| {
            let chunk = crate::data::table::Table {
                source: rows.name().to_string(),
                feature_names: feature_names.to_vec(),
                label_name: None,
                features: x.to_vec(),
                labels: vec![],
            };
            probs.extend(model.predict_proba(&chunk, device)?);
            Ok(())
        })?;
    }
    Ok(probs)
}

/// Adds `more` (the gradients of the first `more.len()` parameters) to the running gradients.
fn add(grads: &mut [Tensor; 2], more: Vec<Tensor>) -> Result<()> {
    for (g, m) in grads.iter_mut().zip(more) {
        *g = g.f_add(&m)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy;
    use crate::data::table::Table;
    use crate::solvers::weights::Weights;
    use crate::train::multiclass::fit_multiclass;
    use crate::train::optim::OptimizerKind;

    /// 90 rows of 2 features and 3 classes, as a table and as a `.npy` pair in `dir`, read in
    /// chunks of 16 rows (6 chunks, the last short).
    fn data(dir: &std::path::Path) -> (Table, NpyRows) {
        let (mut features, mut labels) = (vec![], vec![]);
        for i in 0..90 {
            let k = i % 3;
            let jitter = (i as f32 * 0.37).sin();
            features.extend([k as f32 * 2.0 + jitter + 5.0, (k as f32 - 1.0).abs() * 3.0 - jitter]);
            labels.push(k as f32);
        }
        let (x, y) = (dir.join("x.npy"), dir.join("y.npy"));
        let mut bytes = npy::header_bytes(&[90, 2], 0);
        features.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
        std::fs::write(&x, bytes).unwrap();
        let rows = NpyRows::open(&x, None, Some(16)).unwrap().with_class_labels(labels.clone(), &y).unwrap();
        let table = Table {
            source: "t".into(),
            feature_names: vec!["x0".into(), "x1".into()],
            label_name: Some("y".into()),
            features,
            labels,
        };
        (table, rows)
    }

    fn config(optimizer: OptimizerKind, penalty: Penalty, penalize_bias: bool, standardize: bool) -> FitConfig {
        FitConfig {
            train: crate::train::TrainConfig {
                lr: 0.05,
                epochs: 60,
                penalty,
                optimizer,
                penalize_bias,
                ..crate::train::TrainConfig::default()
            },
            seed: 4,
            standardize,
            validation_split: None,
            solver: None,
            sklearn: None,
        }
    }

    #[test]
    fn streamed_chunks_train_as_the_table_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (table, rows) = data(dir.path());
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let cases = [
            (OptimizerKind::Sgd, Penalty::L2 { lambda: 0.01 }, false, false),
            (OptimizerKind::Adam, Penalty::L1 { lambda: 0.01 }, true, true),
            (OptimizerKind::Adam, Penalty::ElasticNet { lambda_l1: 0.005, lambda_l2: 0.01 }, false, true),
        ];
        for (optimizer, penalty, bias, standardize) in cases {
            let c = config(optimizer, penalty, bias, standardize);
            let streamed = fit_multiclass_stream(&rows, None, names.clone(), &c).unwrap();
            let memory =
                fit_multiclass(&table, None, names.clone(), &c, MultiClass::Multinomial, &Weights::none(), Device::Cpu)
                    .unwrap();
            assert_eq!(streamed.losses.len(), 60);
            for (s, m) in streamed.losses.iter().zip(&memory.losses) {
                assert!((s - m).abs() <= 1e-5 * m.abs(), "{optimizer:?} {penalty:?}: {s} vs {m}");
            }
            for (s, m) in streamed
                .model
                .coef
                .iter()
                .chain(&streamed.model.intercept)
                .zip(memory.model.coef.iter().chain(&memory.model.intercept))
            {
                assert!((s - m).abs() <= 1e-4, "{optimizer:?} {penalty:?}: {s} vs {m}");
            }
            assert!(streamed.losses[59] < 0.7 * streamed.losses[0], "{:?}", streamed.losses);
            assert_eq!(streamed.train_report.rows, 90);
            assert!((streamed.train_report.accuracy - memory.train_report.accuracy).abs() < 0.02);
        }
    }

    #[test]
    fn labels_beyond_the_classes_and_exact_solvers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, rows) = data(dir.path());
        let two: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let c = config(OptimizerKind::Adam, Penalty::None, false, false);
        let e = fit_multiclass_stream(&rows, None, two, &c).err().unwrap().to_string();
        assert!(e.ends_with("y.npy: row 3: label 2 is not a class index below 2"), "{e}");
        let three: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let exact = FitConfig {
            solver: Some((crate::solvers::SolverKind::Newton, crate::solvers::SolverConfig::default())),
            ..c
        };
        let e = fit_multiclass_stream(&rows, None, three, &exact).err().unwrap().to_string();
        assert!(e.contains("streaming trains with sgd or adam"), "{e}");
    }
}
