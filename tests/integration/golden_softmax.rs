//! Softmax regression by autograd (`logreg::train::softmax`) against PyTorch's
//! `nn.Linear(d, K)` + `nn.CrossEntropyLoss()` (`scripts/reference.py softmax-fixtures`): on the CPU
//! every epoch's loss and the final weights are the same bits.

use logreg::model::penalty::Penalty;
use logreg::seed::with_seed;
use logreg::train::optim::OptimizerKind;
use logreg::train::softmax::{linear_init, train, train_weighted, SoftmaxSettings};
use serde::Deserialize;
use tch::{Device, Kind, Tensor};

#[derive(Debug, Deserialize)]
pub struct SoftmaxFixture {
    pub name: String,
    pub config: SoftmaxConfig,
    pub losses: Vec<f64>,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct SoftmaxConfig {
    pub penalty: String,
    pub lambda: f64,
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub optimizer: OptimizerKind,
    pub seed: u64,
    pub samples: i64,
    pub input_dim: i64,
    pub classes: i64,
    pub lr: f64,
    pub epochs: usize,
    pub penalize_bias: bool,
    /// Rows per mini-batch (`randperm(n)` order each epoch); `None`: full batch.
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Row i weighs 0.5·(i mod 4).
    #[serde(default)]
    pub weighted: bool,
}

pub fn softmax_fixtures(dir: &std::path::Path) -> Vec<SoftmaxFixture> {
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

/// The fixture's run in Rust: the same draws from the same seed, then training on `device` (the
/// mini-batch orders drawn from the same generator).
fn run(c: &SoftmaxConfig, device: Device) -> logreg::train::softmax::SoftmaxTrained {
    let penalty = match c.penalty.as_str() {
        "none" => Penalty::None,
        "l1" => Penalty::L1 { lambda: c.lambda },
        "l2" => Penalty::L2 { lambda: c.lambda },
        "elastic-net" => Penalty::ElasticNet { lambda_l1: c.lambda_l1, lambda_l2: c.lambda_l2 },
        other => panic!("penalty {other}"),
    };
    let settings = SoftmaxSettings {
        optimizer: c.optimizer,
        lr: c.lr,
        epochs: c.epochs,
        penalty,
        penalize_bias: c.penalize_bias,
        batch_size: c.batch_size,
    };
    let rows: Vec<f64> = (0..c.samples).map(|i| 0.5 * (i % 4) as f64).collect();
    with_seed(c.seed, || {
        let x = Tensor::randn([c.samples, c.input_dim], (Kind::Float, Device::Cpu));
        let y = Tensor::randint(c.classes, [c.samples], (Kind::Int64, Device::Cpu));
        let (w, b) = linear_init(c.input_dim, c.classes).unwrap();
        let (x, y) = (x.to_device(device), y.to_device(device));
        match c.weighted {
            false => train(&x, &y, w, b, &settings).unwrap(),
            true => train_weighted(&x, &y, Some(&rows), w, b, &settings).unwrap(),
        }
    })
}

#[test]
fn softmax_training_is_pytorchs_to_the_bit_on_the_cpu() {
    let fixtures = softmax_fixtures(&crate::fixtures_dir().join("softmax"));
    assert_eq!(fixtures.len(), 9, "the configurations of scripts/reference.py softmax-fixtures");
    assert!(fixtures.iter().any(|f| f.config.penalize_bias) && fixtures.iter().any(|f| !f.config.penalize_bias));
    // Mini-batches (unweighted and weighted) and full-batch weights are among them.
    assert!(fixtures.iter().any(|f| f.config.batch_size.is_some() && !f.config.weighted));
    assert!(fixtures.iter().any(|f| f.config.batch_size.is_some() && f.config.weighted));
    assert!(fixtures.iter().any(|f| f.config.batch_size.is_none() && f.config.weighted));
    for f in &fixtures {
        let t = run(&f.config, Device::Cpu);
        assert_eq!(t.losses, f.losses, "{}: losses", f.name);
        assert_eq!(t.weight, f.weight, "{}: weight", f.name);
        assert_eq!(t.bias, f.bias, "{}: bias", f.name);
        assert!(f.losses[f.losses.len() - 1] < f.losses[0], "{}: the fixture does not train", f.name);
    }
}

#[test]
fn softmax_training_on_cuda_matches_within_float_tolerance() {
    if !tch::Cuda::is_available() {
        crate::notice("softmax on CUDA: skipped, no CUDA device");
        return;
    }
    for f in softmax_fixtures(&crate::fixtures_dir().join("softmax")) {
        let t = run(&f.config, Device::Cuda(0));
        for (a, b) in t.losses.iter().zip(&f.losses) {
            assert!((a - b).abs() <= 1e-5 * b.abs(), "{}: loss {a} vs {b}", f.name);
        }
        let worst = t.weight.iter().zip(&f.weight).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-5, "{}: weight differs by {worst}", f.name);
    }
}
