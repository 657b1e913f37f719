//! [`LogisticRegression`]: the estimator's settings (penalty, solver and the rest, with the
//! command line's `train` defaults), checked once before any work, and `fit`.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Dataset, FittedModel};
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::model::penalty::Penalty as Terms;
use crate::solvers::{auto, Problem, SolverConfig, SolverKind};
use crate::train::fit::{fit, FitConfig};
use crate::train::optim::OptimizerKind;
use crate::train::{Checkpoints, Engine, Epoch, LossKind, TrainConfig};

/// The penalty on the weights (the bias too only with [`LogisticRegression::penalize_bias`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    /// No penalty.
    None,
    /// λ·‖w‖₁.
    L1(f64),
    /// λ·‖w‖₂².
    L2(f64),
    /// l1·‖w‖₁ + l2·‖w‖₂².
    ElasticNet {
        /// The L1 strength.
        l1: f64,
        /// The squared-L2 strength.
        l2: f64,
    },
    /// scikit-learn's `C` and `l1_ratio` (its objective divided by C·n: resolved at fit, when the
    /// number of rows is known).
    Sklearn {
        /// Inverse strength, > 0.
        c: f64,
        /// The L1 share, in [0, 1].
        l1_ratio: f64,
    },
    /// glmnet's `lambda` and `alpha`: mean loss + λ(α‖w‖₁ + (1−α)/2‖w‖₂²).
    Glmnet {
        /// Strength, ≥ 0.
        lambda: f64,
        /// The L1 share, in [0, 1].
        alpha: f64,
    },
}

impl Penalty {
    /// scikit-learn's form.
    pub fn sklearn(c: f64, l1_ratio: f64) -> Self {
        Penalty::Sklearn { c, l1_ratio }
    }

    /// glmnet's form.
    pub fn glmnet(lambda: f64, alpha: f64) -> Self {
        Penalty::Glmnet { lambda, alpha }
    }
}

/// SGD's settings. Defaults (the command line's): lr 0.01, 300 epochs, full batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdSettings {
    /// Learning rate, > 0.
    pub lr: f64,
    /// Full passes over the rows, ≥ 1.
    pub epochs: usize,
    /// Rows per mini-batch (reshuffled every epoch); `None` for full batch.
    pub batch_size: Option<usize>,
}

impl Default for SgdSettings {
    fn default() -> Self {
        Self { lr: 0.01, epochs: 300, batch_size: None }
    }
}

/// Adam's settings (β = (0.9, 0.999), ε = 1e-8, as PyTorch's defaults). Defaults: as [`SgdSettings`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    /// Learning rate, > 0.
    pub lr: f64,
    /// Full passes over the rows, ≥ 1.
    pub epochs: usize,
    /// Rows per mini-batch (reshuffled every epoch); `None` for full batch.
    pub batch_size: Option<usize>,
}

impl Default for AdamSettings {
    fn default() -> Self {
        let SgdSettings { lr, epochs, batch_size } = SgdSettings::default();
        Self { lr, epochs, batch_size }
    }
}

/// How the objective is minimised.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    /// Newton, TRON or newton-cd, by a cost model of rows, features and penalty
    /// ([`crate::solvers::auto`]).
    Auto,
    /// Proximal Newton to the optimum (exact zeros with L1).
    Newton,
    /// Accelerated proximal gradient to the optimum.
    Fista,
    /// Trust-region Newton-CG to the optimum (L2 only; matrix-free).
    Tron,
    /// Proximal Newton with coordinate descent on X's columns (L1, Elastic Net; matrix-free).
    NewtonCd,
    /// Plain SGD, as `torch.optim.SGD`.
    Sgd(SgdSettings),
    /// Adam, as `torch.optim.Adam`.
    Adam(AdamSettings),
}

/// A caller's way to stop a fit from another thread: the fit ends with [`Error::Interrupted`]
/// at its next epoch or iteration, and returns no model.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops every fit given this token (or a clone of it), at its next epoch or iteration.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Regularized logistic regression, configured by builder methods and fitted with
/// [`LogisticRegression::fit`]. Defaults are `logreg train`'s: L2 with λ = 1e-3 on the weights,
/// [`Solver::Auto`], tol 1e-8, seed 0, no standardization or validation split, the device
/// `auto` (CUDA when there is one), the autograd engine for SGD/Adam.
#[derive(Clone, Debug)]
pub struct LogisticRegression {
    penalty: Penalty,
    solver: Solver,
    standardize: bool,
    seed: u64,
    device: DeviceChoice,
    tol: f64,
    max_iter: Option<usize>,
    validation_split: Option<f64>,
    penalize_bias: bool,
    engine: Engine,
    cancel: Option<CancelToken>,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self {
            penalty: Penalty::L2(1e-3),
            solver: Solver::Auto,
            standardize: false,
            seed: 0,
            device: DeviceChoice::Auto,
            tol: 1e-8,
            max_iter: None,
            validation_split: None,
            penalize_bias: false,
            engine: Engine::Autograd,
            cancel: None,
        }
    }
}

fn invalid(name: &'static str, value: impl ToString, expected: &'static str) -> Error {
    Error::InvalidSetting { name, value: value.to_string(), expected }
}

impl LogisticRegression {
    /// The defaults (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// The penalty [default: `Penalty::L2(1e-3)`].
    pub fn penalty(mut self, penalty: Penalty) -> Self {
        self.penalty = penalty;
        self
    }

    /// How to minimise [default: [`Solver::Auto`]].
    pub fn solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }

    /// Standardize features with the training rows' mean and std (stored in the model and
    /// reapplied when it predicts).
    pub fn standardize(mut self, on: bool) -> Self {
        self.standardize = on;
        self
    }

    /// Seeds the validation split, the initial weights and the mini-batch order.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Where to compute; `auto` and `cuda` load CUDA on first use (see [`DeviceChoice::resolve`]).
    pub fn device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }

    /// Newton and FISTA stop when the optimality measure falls to this fraction of its value at 0.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Newton's and FISTA's iteration limit (defaults 100 and 20,000).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = Some(max_iter);
        self
    }

    /// Hold out this fraction of each class (seeded, stratified); its loss is reported per epoch.
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = Some(fraction);
        self
    }

    /// Penalize the bias too, as the PyTorch tutorial does (scikit-learn and glmnet do not).
    pub fn penalize_bias(mut self, on: bool) -> Self {
        self.penalize_bias = on;
        self
    }

    /// SGD/Adam's engine: autograd (PyTorch's numbers) or fused (one pass over X per epoch).
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// A token the caller keeps, to stop the fit from another thread.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Every setting checked, as the training configuration for `n_rows` × `n_features`.
    fn config(&self, n_rows: usize, n_features: usize) -> Result<FitConfig> {
        // The tutorial's forms are checked with the rest by FitConfig::validate (the penalty's own
        // check); glmnet's λ and α are checked here, before they are mapped onto that form.
        let (terms, sklearn) = match self.penalty {
            Penalty::None => (Terms::None, None),
            Penalty::L1(lambda) => (Terms::L1 { lambda }, None),
            Penalty::L2(lambda) => (Terms::L2 { lambda }, None),
            Penalty::ElasticNet { l1, l2 } => (Terms::ElasticNet { lambda_l1: l1, lambda_l2: l2 }, None),
            Penalty::Sklearn { c, l1_ratio } => (Terms::None, Some((c, l1_ratio))),
            Penalty::Glmnet { lambda, alpha } => {
                if !(lambda.is_finite() && lambda >= 0.0) {
                    return Err(invalid("lambda", lambda, "must be a finite number >= 0"));
                }
                if !(0.0..=1.0).contains(&alpha) {
                    return Err(invalid("alpha", alpha, "must be between 0 and 1"));
                }
                let p = Problem::from_glmnet(lambda, alpha);
                (Terms::ElasticNet { lambda_l1: p.l1, lambda_l2: p.l2 }, None)
            }
        };
        if self.penalize_bias && matches!(self.penalty, Penalty::Sklearn { .. } | Penalty::Glmnet { .. }) {
            return Err(invalid(
                "penalize_bias",
                true,
                "applies to the tutorial's forms, not scikit-learn's or glmnet's",
            ));
        }
        let exact = |kind| Some((kind, SolverConfig { tol: self.tol, max_iter: self.max_iter }));
        let defaults = SgdSettings::default();
        let (optimizer, lr, epochs, batch_size, solver) = match self.solver {
            Solver::Auto => {
                let l1 = auto::has_l1(terms, sklearn);
                let kind = auto::choose(n_rows, n_features, n_rows.saturating_mul(n_features), l1).kind;
                (OptimizerKind::Adam, defaults.lr, defaults.epochs, None, exact(kind))
            }
            Solver::Tron => (OptimizerKind::Adam, defaults.lr, defaults.epochs, None, exact(SolverKind::Tron)),
            Solver::NewtonCd => (OptimizerKind::Adam, defaults.lr, defaults.epochs, None, exact(SolverKind::NewtonCd)),
            Solver::Newton => (OptimizerKind::Adam, defaults.lr, defaults.epochs, None, exact(SolverKind::Newton)),
            Solver::Fista => (OptimizerKind::Adam, defaults.lr, defaults.epochs, None, exact(SolverKind::Fista)),
            Solver::Sgd(s) => (OptimizerKind::Sgd, s.lr, s.epochs, s.batch_size, None),
            Solver::Adam(s) => (OptimizerKind::Adam, s.lr, s.epochs, s.batch_size, None),
        };
        // A batch of more rows than there are is the whole data; past i64 it would wrap in libtorch.
        let batch_size = batch_size.map(|b| b.min(i64::MAX as usize));
        if solver.is_some() && self.engine == Engine::Fused {
            return Err(invalid("engine", "fused", "applies to Solver::Sgd and Solver::Adam"));
        }
        let config = FitConfig {
            train: TrainConfig {
                lr,
                epochs,
                penalty: terms,
                optimizer,
                loss: LossKind::Logits,
                penalize_bias: self.penalize_bias,
                batch_size,
                engine: self.engine,
            },
            seed: self.seed,
            standardize: self.standardize,
            validation_split: self.validation_split,
            solver,
            sklearn,
        };
        config.validate()?;
        Ok(config)
    }

    /// Fits `data`. Every setting is checked first; nothing is drawn or allocated before.
    pub fn fit(&self, data: &Dataset) -> Result<FittedModel> {
        self.fit_observed(data, |_| ControlFlow::Continue(()))
    }

    /// As [`Self::fit`], calling `observer` after each SGD/Adam epoch or each Newton/FISTA
    /// iteration (its objective as the loss); `Break` stops the fit with [`Error::Interrupted`].
    pub fn fit_observed(
        &self,
        data: &Dataset,
        mut observer: impl FnMut(&Epoch) -> ControlFlow<()>,
    ) -> Result<FittedModel> {
        let config = self.config(data.n_rows(), data.n_features())?;
        // Before any other libtorch call: resolving may load CUDA, and seeding asks about it.
        let device = self.device.resolve()?;
        let token = self.cancel.clone();
        let on_epoch = |e: &Epoch| {
            if token.as_ref().is_some_and(CancelToken::is_cancelled) {
                ControlFlow::Break(())
            } else {
                observer(e)
            }
        };
        let flag = self.cancel.as_ref().map(|t| t.0.clone());
        let fitted =
            crate::interrupt::with_token(flag, || fit(&data.table, &config, device, Checkpoints::default(), on_epoch))?;
        Ok(FittedModel::from_fit(fitted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 300 rows, 3 features, labels from a known model with noise (deterministic).
    fn data() -> Dataset {
        let n = 300;
        let x: Vec<f32> = (0..n * 3).map(|i| (((i * 2654435761usize) % 1000) as f32 / 500.0) - 1.0).collect();
        let y: Vec<f32> = x
            .chunks(3)
            .enumerate()
            .map(|(i, r)| f32::from(u8::from(2.0 * r[0] - r[1] + 0.3 * ((i % 7) as f32 - 3.0) > 0.0)))
            .collect();
        Dataset::from_slices(&x, n, 3, &y).unwrap()
    }

    fn cpu() -> LogisticRegression {
        LogisticRegression::new().device(DeviceChoice::Cpu)
    }

    #[test]
    fn every_solver_fits_and_the_exact_ones_agree() {
        let data = data();
        let newton = cpu().solver(Solver::Newton).fit(&data).unwrap();
        let fista = cpu().solver(Solver::Fista).fit(&data).unwrap();
        for (a, b) in newton.coef().iter().zip(fista.coef()) {
            assert!((a - b).abs() < 1e-4, "{:?} vs {:?}", newton.coef(), fista.coef());
        }
        assert!(newton.coef()[0] > 1.0 && newton.coef()[1] < -0.5, "{:?}", newton.coef());
        let auto = cpu().fit(&data).unwrap();
        assert_eq!(auto.coef(), newton.coef(), "auto is Newton at 3 features");
        for solver in [
            Solver::Sgd(SgdSettings { lr: 0.5, epochs: 50, batch_size: None }),
            Solver::Adam(AdamSettings { lr: 0.05, epochs: 50, batch_size: Some(32) }),
        ] {
            let m = cpu().solver(solver).fit(&data).unwrap();
            assert_eq!(m.losses().len(), 50);
            assert!(m.losses()[49] < 0.8 * m.losses()[0], "{solver:?}: {:?}", m.losses());
        }
    }

    #[test]
    fn the_three_forms_of_the_penalty_meet_where_they_should() {
        let data = data();
        // scikit-learn's C = 1/(λ·n) with l1_ratio 0 is λ/2·‖w‖² in glmnet's form and λ/2 in ours.
        let (lambda, n) = (0.01, data.n_rows() as f64);
        let ours = cpu().penalty(Penalty::L2(lambda / 2.0)).fit(&data).unwrap();
        let glmnet = cpu().penalty(Penalty::glmnet(lambda, 0.0)).fit(&data).unwrap();
        let sklearn = cpu().penalty(Penalty::sklearn(1.0 / (lambda * n), 0.0)).fit(&data).unwrap();
        for m in [&glmnet, &sklearn] {
            for (a, b) in ours.coef().iter().zip(m.coef()) {
                assert!((a - b).abs() < 1e-5, "{:?} vs {:?}", ours.coef(), m.coef());
            }
        }
        let lasso = cpu().penalty(Penalty::L1(0.05)).fit(&data).unwrap();
        assert_eq!(lasso.coef()[2], 0.0, "the irrelevant feature is zeroed: {:?}", lasso.coef());
    }

    #[test]
    fn bad_settings_are_refused_before_any_work() {
        let data = data();
        for (model, expected) in [
            (cpu().penalty(Penalty::L2(-1.0)), "invalid lambda: -1 (must be a finite number >= 0)"),
            (cpu().penalty(Penalty::glmnet(0.1, 1.5)), "invalid alpha: 1.5 (must be between 0 and 1)"),
            (cpu().penalty(Penalty::sklearn(0.0, 0.5)), "invalid c: 0 (must be a finite number > 0)"),
            (cpu().penalty(Penalty::sklearn(1.0, 0.5)).penalize_bias(true), "invalid penalize_bias: true"),
            (cpu().validation_split(1.5), "invalid validation_split: 1.5 (must be between 0 and 1, exclusive)"),
            (cpu().penalty(Penalty::ElasticNet { l1: 0.1, l2: f64::NAN }), "invalid lambda_l2: NaN"),
            (cpu().engine(Engine::Fused), "invalid engine: fused (applies to Solver::Sgd and Solver::Adam)"),
            (cpu().tol(0.0), "invalid tol: 0"),
            (cpu().solver(Solver::Sgd(SgdSettings { lr: -1.0, ..Default::default() })), "invalid lr: -1"),
        ] {
            let e = model.fit(&data).unwrap_err();
            assert!(matches!(e, Error::InvalidSetting { .. }), "{e:?}");
            assert!(e.to_string().starts_with(expected), "{e} vs {expected}");
        }
    }

    #[test]
    fn a_cancelled_fit_returns_no_model() {
        let data = data();
        let token = CancelToken::new();
        token.cancel();
        for solver in [Solver::Newton, Solver::Sgd(SgdSettings::default())] {
            let e = cpu().solver(solver).cancel_token(token.clone()).fit(&data).unwrap_err();
            assert!(matches!(e, Error::Interrupted { .. }), "{solver:?}: {e:?}");
        }
        // Another fit on this thread is not stopped by that token.
        assert!(cpu().solver(Solver::Newton).fit(&data).is_ok());
        let mut seen = 0;
        let e = cpu()
            .solver(Solver::Sgd(SgdSettings::default()))
            .fit_observed(&data, |e| {
                seen = e.epoch;
                if e.epoch == 5 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap_err();
        assert!(matches!(e, Error::Interrupted { step: "epoch", at: 5 }) && seen == 5, "{e:?}");
        // The exact solvers report each iteration's objective, which never increases, and stop too.
        for solver in [Solver::Newton, Solver::Fista] {
            let mut objectives = vec![];
            let model = cpu()
                .solver(solver)
                .fit_observed(&data, |e| {
                    objectives.push(e.loss);
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert!(objectives.len() >= 2 && objectives.windows(2).all(|w| w[1] <= w[0]), "{solver:?}: {objectives:?}");
            assert_eq!(objectives[..], model.losses()[1..], "{solver:?}: the objectives after each iteration");
            let e = cpu().solver(solver).fit_observed(&data, |_| ControlFlow::Break(())).unwrap_err();
            assert!(matches!(e, Error::Interrupted { step: "iteration", at: 1 }), "{solver:?}: {e:?}");
        }
    }

    #[test]
    fn predictions_check_their_width_and_survive_a_save_and_load() {
        let data = data();
        let model = cpu().standardize(true).fit(&data).unwrap();
        let rows = [0.5f32, -0.5, 0.0, -0.5, 0.5, 0.0];
        let p = model.predict_proba(&rows, 2).unwrap();
        assert!(p[0] > 0.9 && p[1] < 0.1, "{p:?}");
        let e = model.predict_proba(&rows, 3).unwrap_err();
        assert!(e.to_string().starts_with("invalid x: 6 values, not n_rows × n_features = 3 × 3"), "{e}");
        let e = model.predict_proba(&[f32::INFINITY, 0.0, 0.0], 1).unwrap_err();
        assert!(e.to_string().starts_with("invalid x: row 0, column 0: inf is not a finite number"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        model.save(&path).unwrap();
        let again = FittedModel::load(&path).unwrap();
        assert_eq!(again.predict_proba(&rows, 2).unwrap(), p);
        assert_eq!(
            (again.coef(), again.intercept(), again.feature_names()),
            (model.coef(), model.intercept(), model.feature_names())
        );
    }
}
