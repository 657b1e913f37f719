//! CUDA, where libtorch has it (each test skips, and says so, elsewhere): the golden
//! configurations, the fused engine's kernel against the autograd engine, out-of-memory errors,
//! and the binary finding the GPU through its on-demand loading.

use std::ops::ControlFlow;

use logreg::cuda::load::available;
use logreg::data::dataset::Dataset;
use logreg::data::source::InMemory;
use logreg::model::linear::LogisticRegression;
use logreg::model::penalty::Penalty;
use logreg::reference::fixture::Deviation;
use logreg::reference::sample::tutorial_sample;
use logreg::reference::tutorial;
use logreg::seed::with_seed;
use logreg::solvers::cv::{cross_validate, CvConfig};
use logreg::solvers::path::PathConfig;
use logreg::train::fused::{full_pass, FullPass};
use logreg::train::gpu::DeviceRows;
use logreg::train::optim::OptimizerKind;
use logreg::train::{train, Checkpoints, Engine, LossKind, TrainConfig, Training};
use tch::{Device, Kind, Tensor};

fn skip(test: &str) -> bool {
    if !available() {
        crate::notice(&format!("{test}: skipped, CUDA is not available"));
    }
    !available()
}

#[test]
fn every_fixture_matches_pytorch_on_cuda() {
    if skip("every_fixture_matches_pytorch_on_cuda") {
        return;
    }
    let mut worst = (0.0f64, 0.0f64);
    for fixture in crate::fixtures() {
        let actual = tutorial::run(&fixture.config, Device::Cuda(0), |_, _| {}).unwrap();
        assert_eq!(actual.device, "cuda:0");
        let deviation = Deviation::between(&fixture.expected(), &actual);
        assert!(deviation.within(fixture.tolerance.cuda), "{}: {deviation:?}", fixture.name);
        worst = (worst.0.max(deviation.max_loss_rel), worst.1.max(deviation.max_weight_abs));
    }
    crate::notice(&format!(
        "CUDA vs PyTorch CPU fixtures: max rel loss diff {:.2e}, max weight diff {:.2e}",
        worst.0, worst.1
    ));
}

fn sample(seed: u64, n: i64, d: i64) -> (Dataset, LogisticRegression) {
    with_seed(seed, || {
        let (x, y) = tutorial_sample(n, d).unwrap();
        (Dataset { x, y }, LogisticRegression::torch_init(d, Device::Cpu).unwrap())
    })
}

fn fit(model: &LogisticRegression, data: &Dataset, valid: Option<&Dataset>, config: &TrainConfig) -> Training {
    let device = data.x.device();
    let fitted = model.fitted().unwrap();
    let model = LogisticRegression::from_parameters(
        Tensor::from_slice(fitted.coef()).view([1, -1]),
        Tensor::from_slice(&[fitted.intercept()]),
        device,
    )
    .unwrap();
    train(model, data, valid, config, Checkpoints::default(), |_| ControlFlow::Continue(())).unwrap()
}

/// The pass's sums (loss, gradient) from the kernel equal the CPU engine's to f32 rounding, for
/// every register layout of the per-warp kernel (one to 32 columns per lane, 4, 2 or 1 rows in
/// flight) and of the tiled one (partial tiles, padded and unpadded strides),
/// row counts that leave partial warps, and scores large enough to saturate the sigmoid.
#[test]
fn the_cuda_kernel_sums_equal_the_cpu_engines() {
    if skip("the_cuda_kernel_sums_equal_the_cpu_engines") {
        return;
    }
    let mut worst = 0.0f64;
    let per_warp = [(1, 1), (33, 3), (1000, 31), (2500, 129), (700, 257), (300, 1024), (200_000, 10)];
    // The tiled pass: one row, partial tiles, many tiles per block, the widest, no padding (100).
    let tiled = [(1, 4), (31, 8), (4099, 100), (200_001, 100), (1000, 128), (333, 252), (650, 256)];
    for (n, d) in per_warp.into_iter().chain(tiled) {
        let (data, _) = sample(n as u64, n, d);
        let x = data.x.to_device(Device::Cuda(0));
        let (rows, why) = DeviceRows::new(&x, &data.y).unwrap();
        assert!(why.is_none() && rows.uses_kernel(), "{n}x{d}: {why:?}");
        let expected = if d % 4 == 0 && d <= 256 { "tiled" } else { "per-warp" };
        assert_eq!(rows.kernel(), Some(expected), "{n}x{d}");
        let flat = |t: &Tensor| Vec::<f32>::try_from(t.reshape([-1])).unwrap();
        let (xs, ys) = (flat(&data.x), flat(&data.y));
        let cpu = InMemory::new(&xs, &ys, d as usize);
        for scale in [0.1f32, 30.0] {
            let w: Vec<f32> = (0..d).map(|j| scale * ((j as f32 * 0.7).sin())).collect();
            let (a, b) = (full_pass(&cpu, &w, -0.2).unwrap(), rows.pass(&w, -0.2).unwrap());
            assert_eq!(a.rows, b.rows);
            // Both sides round each score in f32, in different orders: its error grows with
            // Σⱼ|wⱼxᵢⱼ| (about scale·√d here), and near z = 0 it moves the residual. On the H100,
            // 650×256 at scale 30 (scores up to ~500) differed by 5e-5 on one gradient entry;
            // a kernel that skips rows or columns is off by far more.
            let tol = 2e-5 * (1.0 + f64::from(scale) * (d as f64).sqrt() / 16.0);
            let mut close = |x: f64, y: f64, what: &str| {
                let err = (x - y).abs() / (1.0 + x.abs());
                worst = worst.max(err);
                assert!(err < tol, "{n}x{d} scale {scale} {what}: {x} vs {y}");
            };
            close(a.loss, b.loss, "loss");
            close(a.bias, b.bias, "bias gradient");
            for (j, (x, y)) in a.weight.iter().zip(&b.weight).enumerate() {
                close(*x, *y, &format!("gradient {j}"));
            }
        }
    }
    crate::notice(&format!("CUDA kernel vs CPU fused sums: max relative difference {worst:.2e}"));
}

/// Training with the fused engine on CUDA follows the autograd engine on the CPU for every
/// penalty and optimizer, the bias penalized or not, with a validation set.
#[test]
fn the_fused_cuda_engine_follows_the_autograd_engine() {
    if skip("the_fused_cuda_engine_follows_the_autograd_engine") {
        return;
    }
    let penalties = [
        Penalty::None,
        Penalty::L1 { lambda: 0.05 },
        Penalty::L2 { lambda: 0.1 },
        Penalty::ElasticNet { lambda_l1: 0.02, lambda_l2: 0.05 },
    ];
    let (data, model) = sample(11, 20_000, 7);
    let valid = Dataset { x: data.x.narrow(0, 0, 3000), y: data.y.narrow(0, 0, 3000) };
    let on_gpu = |d: &Dataset| d.to_device(Device::Cuda(0)).unwrap();
    let (gpu_data, gpu_valid) = (on_gpu(&data), on_gpu(&valid));
    for penalty in penalties {
        for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            for penalize_bias in [true, false] {
                let config = TrainConfig {
                    lr: 0.05,
                    epochs: 60,
                    penalty,
                    optimizer,
                    loss: LossKind::Logits,
                    penalize_bias,
                    batch_size: None,
                    engine: Engine::Autograd,
                };
                let a = fit(&model, &data, Some(&valid), &config);
                let f = fit(&model, &gpu_data, Some(&gpu_valid), &TrainConfig { engine: Engine::Fused, ..config });
                let case = format!("{penalty:?} {optimizer:?} bias {penalize_bias}");
                for (x, y) in a.losses.iter().zip(&f.losses).chain(a.validation_losses.iter().zip(&f.validation_losses))
                {
                    assert!((x - y).abs() <= 2e-5 * x.abs(), "{case}: losses {x} vs {y}");
                }
                assert_eq!(f.validation_losses.len(), 60);
                for (x, y) in a.model.coef().iter().zip(f.model.coef()) {
                    assert!((x - y).abs() <= 2e-4, "{case}: weights {x} vs {y}");
                }
            }
        }
    }
}

#[test]
fn the_fused_cuda_engine_refuses_mini_batches_naming_the_setting() {
    if skip("the_fused_cuda_engine_refuses_mini_batches_naming_the_setting") {
        return;
    }
    let (data, model) = sample(3, 100, 2);
    let config = TrainConfig { engine: Engine::Fused, batch_size: Some(10), ..Default::default() };
    let model =
        LogisticRegression::from_parameters(model.weight.detach(), model.bias.detach(), Device::Cuda(0)).unwrap();
    let e = train(model, &data.to_device(Device::Cuda(0)).unwrap(), None, &config, Checkpoints::default(), |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err();
    assert!(
        e.to_string().starts_with("invalid batch_size: 10 (none: the fused engine trains full batch on CUDA"),
        "{e}"
    );
}

#[test]
fn running_out_of_gpu_memory_is_one_line_naming_the_size() {
    if skip("running_out_of_gpu_memory_is_one_line_naming_the_size") {
        return;
    }
    // 4 TiB of f32: more than any GPU holds.
    let err = Tensor::f_empty([1i64 << 40], (Kind::Float, Device::Cuda(0))).unwrap_err();
    let shown = logreg::Error::from(err).to_string();
    assert!(!shown.contains('\n'), "{shown}");
    // libtorch words sizes in GiB at most: 4 TiB is "4096.00 GiB".
    assert!(shown.starts_with("out of GPU memory: 4096.00 GiB did not fit on cuda:0"), "{shown}");
    assert!(shown.ends_with(" free)"), "{shown}");
}

/// The binary links no CUDA: `auto` and `cuda` must find the GPU by loading it on demand.
#[test]
fn the_binary_finds_the_gpu_on_demand() {
    if skip("the_binary_finds_the_gpu_on_demand") {
        return;
    }
    for device in ["auto", "cuda"] {
        let out = crate::cli::logreg(&["tutorial", "l2", "--epochs", "2", "--json", "--device", device]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["device"], "cuda:0", "--device {device}");
    }
    let out = crate::cli::logreg(&["tutorial", "l2", "--epochs", "2", "--json", "--device", "cpu"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["device"], "cpu");
}

/// On CUDA, cross-validation solves the folds together by default, with the numbers of the folds
/// one after another (each to the solver's tolerance), standardized per fold.
#[test]
fn cv_folds_solved_together_on_cuda_give_the_sequential_numbers() {
    if skip("cv_folds_solved_together_on_cuda_give_the_sequential_numbers") {
        return;
    }
    let (x, y) = with_seed(21, || {
        let x = Tensor::randn([20_000, 24], (Kind::Float, Device::Cpu));
        let w = Tensor::linspace(-1.0, 1.0, 24, (Kind::Float, Device::Cpu)) * Tensor::from(1.5f32);
        (x.shallow_clone(), x.mv(&w).sigmoid().bernoulli())
    });
    let (x, y) = (x.to_device(Device::Cuda(0)), y.to_device(Device::Cuda(0)));
    for alpha in [1.0, 0.5] {
        let path = PathConfig { n_lambdas: 10, alpha, ..Default::default() };
        let config = |batch_folds| CvConfig { path, standardize: true, batch_folds, ..Default::default() };
        let (together, apart) =
            (cross_validate(&x, &y, &config(None)).unwrap(), cross_validate(&x, &y, &config(Some(false))).unwrap());
        assert!(together.batched && !apart.batched);
        for (a, b) in apart.points.iter().zip(&together.points) {
            assert!((a.log_loss_mean - b.log_loss_mean).abs() <= 1e-7, "α {alpha}: {a:?} vs {b:?}");
            assert!((a.auc_mean - b.auc_mean).abs() <= 1e-4, "α {alpha}: {a:?} vs {b:?}");
        }
        assert_eq!((apart.best, apart.one_se), (together.best, together.one_se));
    }
}
