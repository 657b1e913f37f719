//! Three or more classes on rows streamed from a `.npy` file (`train`/`evaluate --stream`):
//! SGD or Adam as [`crate::train::softmax`] trains in memory (full batch, the gradient summed
//! chunk by chunk through autograd; mini-batches, the in-memory run's batches read row by row
//! from the file; checkpoints), and a model's probabilities chunk by chunk; memory holds one
//! chunk or one batch of the file, never all of it.

use std::ops::ControlFlow;

use tch::{Device, Kind, Reduction, Tensor};

use crate::data::dataset::Standardizer;
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
use crate::train::epochs::{self, Shape};
use crate::train::fit::FitConfig;
use crate::train::multiclass::MulticlassFit;
use crate::train::optim::OptimizerState;
use crate::train::softmax::{linear_init, SoftmaxParams, SoftmaxSettings, Sum};
use crate::train::{Checkpoints, Epoch, TrainState};

/// Fits `nn.Linear(d, K)` + `CrossEntropyLoss` on `rows` (class indices below `classes.len()` as
/// labels) with `config`'s optimizer, learning rate, epochs, penalty and standardization; the
/// same parameters and steps as in memory. Full batch, the loss is summed over chunks (so equal
/// to float rounding); with mini-batches, each batch is the in-memory run's (the same `randperm`
/// draws), its rows read where they lie in the file, so a run without standardization ends bit
/// for bit as in memory. `recipe`, from the file beside the array, is recorded in the model.
pub fn fit_multiclass_stream(
    rows: &NpyRows,
    recipe: Option<Recipe>,
    classes: Vec<String>,
    config: &FitConfig,
) -> Result<MulticlassFit> {
    fit_multiclass_stream_with(rows, recipe, classes, config, Checkpoints::default(), |_| ControlFlow::Continue(()))
}

/// [`fit_multiclass_stream`] with `checkpoints` (states of K classes, as in memory) and
/// `on_epoch` after every epoch (`Break` stops with [`Error::Interrupted`]).
pub fn fit_multiclass_stream_with(
    rows: &NpyRows,
    recipe: Option<Recipe>,
    classes: Vec<String>,
    config: &FitConfig,
    checkpoints: Checkpoints,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
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
    let settings = SoftmaxSettings::of(t, penalty, penalize_bias);
    let n_rows = i64::try_from(n).map_err(|_| refuse("rows", "fewer than 2^63"))?;
    let batch = t.batch_size.map_or(n_rows, |b| i64::try_from(b).unwrap_or(i64::MAX).min(n_rows));
    let (weight, bias, losses) = with_seed(config.seed, || -> Result<_> {
        let (w0, b0) = linear_init(d as i64, k as i64)?;
        let params = SoftmaxParams::new(w0, b0, Device::Cpu, &settings)?;
        let mut steps = Streamed { params, rows, source, standardizer: standardizer.as_ref(), buffer: vec![] };
        let shape = Shape { epochs: t.epochs, rows: n_rows, batch, parameters: k * (d + 1), classes: Some(k) };
        let (losses, _) = epochs::run(&mut steps, shape, checkpoints, on_epoch)?;
        let flat = |t: &Tensor| -> Result<Vec<f32>> { Ok(Vec::<f32>::try_from(t.f_detach()?.f_flatten(0, -1)?)?) };
        Ok((flat(&steps.params.w)?, flat(&steps.params.b)?, losses))
    })?;
    let optimizer = serde_json::json!(t.optimizer);
    let mut training = TrainingInfo::new(
        penalty,
        penalize_bias,
        optimizer.as_str().unwrap_or_default(),
        config.seed,
        config.standardize,
    )
    .epochs("cross-entropy", t.lr, losses.len(), t.batch_size);
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

/// Softmax steps on a streamed file, for [`epochs::run`]: a full batch sums the gradient chunk
/// by chunk; a mini-batch reads its rows from the file ([`NpyRows::gather`]) and steps as in memory.
struct Streamed<'a> {
    params: SoftmaxParams,
    rows: &'a NpyRows,
    /// The rows as training sees them: standardized, or `rows` themselves.
    source: &'a dyn Source,
    standardizer: Option<&'a Standardizer>,
    /// A batch's features, reused.
    buffer: Vec<f32>,
}

impl epochs::Steps for Streamed<'_> {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn restore(&mut self, state: &TrainState) -> Result<()> {
        self.params.restore(state)
    }

    fn full(&mut self) -> Result<f64> {
        let (n, d) = (self.source.rows(), self.source.features() as i64);
        let p = &mut self.params;
        let mut grads = [p.w.f_zeros_like()?, p.b.f_zeros_like()?];
        let mut loss = 0.0;
        for i in 0..self.source.chunks() {
            self.source.with_chunk(i, &mut |x, y| {
                let x = Tensor::f_from_slice(x)?.f_view([-1, d])?;
                let y = Tensor::f_from_slice(y)?.f_to_kind(Kind::Int64)?;
                // The chunk's share of the mean: its summed loss over all n rows.
                let part = x
                    .f_linear(&p.w, Some(&p.b))?
                    .f_cross_entropy_loss(&y, None::<Tensor>, Reduction::Sum, -100, 0.0)?
                    .f_div_scalar(n as f64)?;
                add(&mut grads, Tensor::f_run_backward(&[&part], &[&p.w, &p.b], false, false)?)?;
                loss += part.f_double_value(&[])?;
                Ok(())
            })?;
        }
        if let Some(term) = p.penalty_term()? {
            add(&mut grads, Tensor::f_run_backward(&[&term], &p.penalized(), false, false)?)?;
            loss += term.f_double_value(&[])?;
        }
        p.apply(&grads)?;
        Ok(loss)
    }

    fn batch(&mut self, index: &Tensor) -> Result<f64> {
        let index = Vec::<i64>::try_from(index)?;
        let d = self.rows.features();
        self.rows.gather(&index, &mut self.buffer)?;
        if let Some(s) = self.standardizer {
            // The f32 operations `Standardized` applies to a chunk.
            for row in self.buffer.chunks_exact_mut(d) {
                for ((v, m), sd) in row.iter_mut().zip(&s.mean).zip(&s.std) {
                    *v = (*v - m) / sd;
                }
            }
        }
        let labels = self.rows.labels();
        let y: Vec<i64> = index.iter().map(|&i| labels[i as usize] as i64).collect();
        let x = Tensor::f_from_slice(&self.buffer)?.f_view([-1, d as i64])?;
        self.params.step(Sum::Mean, &x, &Tensor::f_from_slice(&y)?, None)
    }

    fn state(&self) -> Result<(Vec<f32>, f32, OptimizerState)> {
        self.params.state()
    }
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
    fn streamed_mini_batches_are_the_in_memory_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (table, rows) = data(dir.path());
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        // Batches of 7 over chunks of 16: most batches take rows of several chunks.
        for (optimizer, standardize) in
            [(OptimizerKind::Sgd, false), (OptimizerKind::Adam, false), (OptimizerKind::Adam, true)]
        {
            let mut c =
                config(optimizer, Penalty::ElasticNet { lambda_l1: 0.003, lambda_l2: 0.01 }, false, standardize);
            c.train.batch_size = Some(7);
            let streamed = fit_multiclass_stream(&rows, None, names.clone(), &c).unwrap();
            let memory =
                fit_multiclass(&table, None, names.clone(), &c, MultiClass::Multinomial, &Weights::none(), Device::Cpu)
                    .unwrap();
            let params = |f: &MulticlassFit| [f.model.coef.clone(), f.model.intercept.clone()].concat();
            if standardize {
                // The streamed standardizer sums in f64 by chunks, the in-memory one in f32: close.
                for (s, m) in streamed.losses.iter().zip(&memory.losses) {
                    assert!((s - m).abs() <= 1e-6 * m.abs().max(1.0), "{s} vs {m}");
                }
                for (s, m) in params(&streamed).iter().zip(params(&memory)) {
                    assert!((s - m).abs() <= 1e-5, "{s} vs {m}");
                }
            } else {
                // The same rows in the same order through the same operations: the same bits.
                assert_eq!(streamed.losses, memory.losses, "{optimizer:?}");
                assert_eq!(params(&streamed), params(&memory), "{optimizer:?}");
            }
            assert_eq!(streamed.model.training.batch_size, Some(7));
            let whole = FitConfig { train: crate::train::TrainConfig { batch_size: None, ..c.train }, ..c.clone() };
            assert_ne!(fit_multiclass_stream(&rows, None, names.clone(), &whole).unwrap().losses, streamed.losses);
        }
    }

    #[test]
    fn a_streamed_run_resumed_from_its_checkpoint_ends_as_the_uninterrupted_one() {
        let dir = tempfile::tempdir().unwrap();
        let (_, rows) = data(dir.path());
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        for batch in [Some(8), None] {
            let mut c = config(OptimizerKind::Adam, Penalty::L2 { lambda: 0.01 }, false, true);
            c.train.epochs = 12;
            c.train.batch_size = batch;
            let run = |checkpoints: Checkpoints| {
                fit_multiclass_stream_with(&rows, None, names.clone(), &c, checkpoints, |_| ControlFlow::Continue(()))
                    .unwrap()
            };
            let full = run(Checkpoints::default());
            let mut saved = vec![];
            let mut save = |snap: &crate::train::Snapshot| {
                saved.push(snap.to_state());
                Ok(())
            };
            run(Checkpoints { resume: None, every: Some(5), save: Some(&mut save) });
            // 3 classes × (2 features + 1); 90 rows in batches of 8: 12 steps an epoch.
            let steps = if batch.is_some() { 12 } else { 1 };
            assert_eq!(
                saved.iter().map(|t| (t.epoch, t.classes, t.weight.len(), t.optimizer.step)).collect::<Vec<_>>(),
                [(5, Some(3), 9, 5 * steps), (10, Some(3), 9, 10 * steps)]
            );
            let resumed = run(Checkpoints { resume: Some(saved[0].clone()), ..Default::default() });
            assert_eq!(resumed.losses, full.losses, "{batch:?}");
            assert_eq!((&resumed.model.coef, &resumed.model.intercept), (&full.model.coef, &full.model.intercept));
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
