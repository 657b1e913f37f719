//! Fitting across processes (`dist`): each rank's shard checked against the others', the class
//! set, row count and standardization statistics reduced exactly over the ranks, proximal Newton
//! or FISTA on all rows ([`crate::solvers::distributed`]) or SGD/Adam (full batch, or each rank's
//! own mini-batches) with the gradient averaged as DistributedDataParallel does, checkpoints and
//! resumes of those, sample and class weights ([`crate::train::distributed_weights`]), a
//! validation split held out per shard ([`crate::train::distributed_split`]), and the training
//! and validation metrics summed over the ranks.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;

use tch::{Device, Kind, Tensor};

use crate::data::dataset::Dataset;
use crate::data::shard::Shard;
use crate::dist::World;
use crate::error::{Error, Result};
use crate::model::file::SavedModel;
use crate::model::linear::{FittedLogisticRegression, LogisticRegression};
use crate::model::metrics::{self, Confusion};
use crate::seed::with_seed;
use crate::solvers::distributed::{solve_distributed_weighted, standardizer};
use crate::solvers::weights::Weights;
use crate::solvers::Problem;
use crate::train::checkpoint;
use crate::train::distributed_split::{split_shard, validation_report};
use crate::train::distributed_weights::rank_weights;
use crate::train::fit::{describe, effective, strengths, Fit, FitConfig};
use crate::train::optim::Optimizer;
use crate::train::optim::OptimizerState;
use crate::train::progress::check_steps;
use crate::train::{
    data_loss, objective_and_grads, Checkpoints, Engine, Epoch, Progress, Snapshot, TrainConfig, TrainState, Training,
};

/// What a distributed run refuses (an error naming the setting) before any collective.
pub fn check_config(config: &FitConfig) -> Result<()> {
    config.validate()?;
    let refuse = |name: &'static str, value: String, expected: &'static str| {
        Err(Error::InvalidSetting { name, value, expected })
    };
    match config.solver {
        // Every exact solver runs distributed.
        Some(_) => {}
        None => {
            if config.train.engine != Engine::Autograd {
                return refuse("engine", "fused".into(), "autograd when distributed");
            }
        }
    }
    Ok(())
}

/// A failure every rank sees alike (it was computed from gathered values): named by this rank.
fn everyone(world: &World, step: &'static str, message: String) -> Error {
    Error::Distributed { step, rank: world.rank(), message }
}

/// Checks every rank's shard against the others (the same width, both classes among all rows, the
/// same `steps` an epoch of batches of `batch`) and returns where this rank's rows start in the
/// whole and how many rows all ranks hold. Every rank must call it.
pub fn place(
    world: &mut World,
    table: &crate::data::table::Table,
    steps: usize,
    batch: usize,
) -> Result<(usize, usize)> {
    let d = table.feature_names.len();
    let n = table.rows();
    let positives = table.labels.iter().filter(|&&v| v == 1.0).count();
    // Every rank's width, rows, positives and optimizer steps an epoch.
    let all = world.gather(&[d as f64, n as f64, positives as f64, steps as f64])?;
    if let Some(r) = all.iter().position(|v| v[0] != all[0][0]) {
        let message = format!("rank {r}'s shard has {} columns, rank 0's has {}", all[r][0], all[0][0]);
        return Err(everyone(world, "checking the shards", message));
    }
    if let Some(r) = all.iter().position(|v| v[3] != all[0][3]) {
        let message = format!(
            "rank {r}'s shard has {} rows, {} batches of {batch} an epoch; rank 0's {} rows, {}: every rank must take the \
             same number of steps (shards whose rows round up to the same number of batches)",
            all[r][1], all[r][3], all[0][1], all[0][3]
        );
        return Err(everyone(world, "checking the shards", message));
    }
    let first_row: usize = all[..world.rank()].iter().map(|v| v[1] as usize).sum();
    let rows: usize = all.iter().map(|v| v[1] as usize).sum();
    let total_positives: usize = all.iter().map(|v| v[2] as usize).sum();
    // A shard of one class is fine: the union must hold both.
    if total_positives == 0 || total_positives == rows {
        let class = if total_positives == 0 { 0 } else { 1 };
        let message = format!("every rank's labels are {class}: training needs both 0 and 1 among all rows");
        return Err(everyone(world, "checking the shards", message));
    }
    Ok((first_row, rows))
}

/// Fits every rank's `shard` together; every rank must call it with the same `config` (compare
/// [`settings_hash`]es first). Every rank returns the same model; `on_iteration` sees each
/// iteration's objective over all rows. `checkpoints` apply to SGD and Adam: every rank gets the
/// same `resume` state ([`share_state`]) and `every`; rank 0 alone has a `save`, and a failed save
/// ends every rank.
pub fn fit_distributed(
    world: &mut World,
    shard: &Shard,
    config: &FitConfig,
    checkpoints: Checkpoints,
    on_iteration: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    fit_distributed_weighted(world, shard, config, &Weights::none(), checkpoints, on_iteration)
}

/// As [`fit_distributed`] with sample and class `weights` (this rank's sample weights, one per
/// row of its shard; the same class weights on every rank): the exact solvers minimise the
/// weighted mean loss over every rank's rows ([`rank_weights`]), as one process's `fit_weighted`
/// on them; sgd and adam are refused, as in one process.
pub fn fit_distributed_weighted(
    world: &mut World,
    shard: &Shard,
    config: &FitConfig,
    weights: &Weights,
    checkpoints: Checkpoints,
    mut on_iteration: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Fit> {
    check_config(config)?;
    let weighted = weights.sample.is_some() || weights.class.is_some();
    if weighted && config.solver.is_none() {
        return Err(Error::InvalidSetting {
            name: "solver",
            value: "sgd or adam".into(),
            expected: "two-class weights fit with the exact solvers (newton, fista)",
        });
    }
    if config.solver.is_some() && (checkpoints.resume.is_some() || checkpoints.every.is_some()) {
        let value = "given".to_string();
        return Err(Error::InvalidSetting {
            name: "checkpoints",
            value,
            expected: "sgd or adam: newton and fista run in seconds",
        });
    }
    // Each rank holds out part of its own shard (one process's rule, per shard).
    let held = match config.validation_split {
        Some(f) => Some(split_shard(world, &shard.table, weights, f, config.seed)?),
        None => None,
    };
    let (table, weights) = match &held {
        Some(h) => (&h.train, &h.weights),
        None => (&shard.table, weights),
    };
    let n = table.rows();
    let steps = match (config.solver, config.train.batch_size) {
        (None, Some(b)) => n.div_ceil(b),
        _ => 1,
    };
    let (first_row, rows) = place(world, table, steps, config.train.batch_size.unwrap_or_default())?;
    let data = Dataset::from_table(table)?;
    let standardizer = match config.standardize {
        true => Some(standardizer(world, &data.x, rows)?),
        false => None,
    };
    let x = match &standardizer {
        Some(s) => s.apply(&data.x)?,
        None => data.x.shallow_clone(),
    };
    // The held-out rows, prepared as the training rows are.
    let valid = match &held {
        Some(h) => {
            let v = Dataset::from_table(&h.valid)?;
            let x = match &standardizer {
                Some(s) => s.apply(&v.x)?,
                None => v.x,
            };
            Some((x, v.y))
        }
        None => None,
    };
    let weights = rank_weights(world, weights, &table.labels)?;
    let effective = effective(config, weights.as_ref().map_or(rows as f64, |w| w.total))?;
    let (l1, l2) = strengths(effective.penalty);
    let problem = Problem { l1, l2, penalize_bias: effective.penalize_bias };
    let (training, solution) = match config.solver {
        Some((kind, solver_config)) => {
            let mut observer = |iteration, objective| {
                on_iteration(&Epoch { epoch: iteration, loss: objective, validation_loss: None })
            };
            let s = solve_distributed_weighted(
                world,
                kind,
                &x,
                &data.y,
                weights.as_ref().map(|w| &w.rows[..]),
                first_row,
                rows,
                problem,
                solver_config,
                None,
                &mut observer,
            )?;
            let model = FittedLogisticRegression::new(s.coef.iter().map(|&w| w as f32).collect(), s.intercept as f32);
            (Training { losses: s.objectives.clone(), validation_losses: vec![], model }, Some(s))
        }
        None => {
            let valid = valid.as_ref().map(|(x, y)| (x, y));
            (descend(world, &x, &data.y, valid, config, &effective, checkpoints, on_iteration)?, None)
        }
    };
    // The training metrics: confusion counts and summed log-loss over all ranks (no ROC AUC: it
    // needs every row's rank among all rows).
    let probs = Vec::<f32>::try_from(training.model.predict_proba(&x)?.f_to_device(Device::Cpu)?)?;
    let local = metrics::report(&probs, &table.labels, 0.5);
    let c = local.confusion;
    let mut sums = [
        c.true_positives as f64,
        c.false_positives as f64,
        c.true_negatives as f64,
        c.false_negatives as f64,
        local.log_loss * n as f64,
    ];
    world.sum(&mut sums)?;
    let confusion = Confusion {
        true_positives: sums[0] as usize,
        false_positives: sums[1] as usize,
        true_negatives: sums[2] as usize,
        false_negatives: sums[3] as usize,
    };
    let train_report = metrics::from_counts(confusion, sums[4], 0.5, None);
    let validation_report = match (&held, &valid) {
        (Some(h), Some((x, _))) => Some(validation_report(world, &training.model, x, &h.valid.labels)?),
        _ => None,
    };
    let saved = SavedModel {
        model: training.model.clone(),
        feature_names: table.feature_names.clone(),
        label_name: table.label_name.clone().unwrap_or_else(|| "y".into()),
        standardizer,
        training: describe(config, &effective, &training, solution.as_ref()),
        recipe: None,
    };
    Ok(Fit { saved, training, train_report, validation_report, solution })
}

/// The seed of rank `rank`'s batch order in epoch `epoch` (from 1): FNV-1a of the run's seed, the
/// rank and the epoch, so each rank draws its own order and an epoch's order needs no earlier ones
/// (a resumed run draws the same).
pub fn batch_seed(seed: u64, rank: usize, epoch: usize) -> u64 {
    let bytes = [seed, rank as u64, epoch as u64];
    crate::hash::fnv1a(crate::hash::FNV_START, bytes.iter().flat_map(|v| v.to_le_bytes()))
}

/// SGD or Adam as PyTorch's DistributedDataParallel runs it: every rank starts from the same
/// seeded `nn.Linear` draw; each step, every rank computes its batch's objective (mean loss plus
/// penalty) and gradient, and all step with the gradient averaged over the ranks. Full batch, a
/// rank's batch is its shard; with `batch_size` b, each epoch a rank walks its shard in the order
/// `torch.randperm(n_r)` drawn under [`batch_seed`], b rows a step (the ranks take the same
/// number of steps: [`fit_distributed`] checks). An epoch's loss is the batches' losses weighted
/// by their rows over all ranks, as one process reports its mini-batches (full batch: the
/// objective on all rows). A stop asked for on any rank (the callback's `Break`, or
/// [`crate::interrupt`]) is voted on in each step's sum, so every rank ends the same epoch.
#[allow(clippy::too_many_arguments)]
fn descend(
    world: &mut World,
    x: &Tensor,
    y: &Tensor,
    valid: Option<(&Tensor, &Tensor)>,
    config: &FitConfig,
    effective: &TrainConfig,
    checkpoints: Checkpoints,
    mut on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    let (n, d) = x.size2()?;
    let mut model = with_seed(config.seed, || LogisticRegression::torch_init(d, Device::Cpu))?;
    let mut optimizer = Optimizer::new(effective.optimizer, effective.lr, &model.parameters())?;
    let y = y.f_view([-1, 1])?;
    // This rank's held-out rows and their labels as a column, and how many it holds.
    let valid = match valid {
        Some((x, y)) => Some((x, y.f_view([-1, 1])?, x.size()[0] as f64)),
        None => None,
    };
    let ranks = world.size() as f64;
    let batch = effective.batch_size.map_or(n, |b| (b as i64).min(n)).max(1);
    let steps = (n as u64).div_ceil(batch as u64).max(1);
    // Rank 0's save, kept out of the bookkeeping so that its failure is voted on, not returned
    // by rank 0 alone while the others wait.
    let every = checkpoints.every;
    let mut user_save = checkpoints.save;
    let save_failed: RefCell<Option<String>> = RefCell::new(None);
    let mut save = |s: &Snapshot| {
        if let Some(save) = user_save.as_mut() {
            if let Err(e) = save(s) {
                *save_failed.borrow_mut() = Some(format!("--checkpoint: {e}"));
            }
        }
        Ok(())
    };
    let stop = Cell::new(false);
    let report = |e: &Epoch| {
        if on_epoch(e).is_break() {
            stop.set(true);
        }
        ControlFlow::Continue(())
    };
    let bookkeeping = Checkpoints { resume: checkpoints.resume, every, save: every.map(|_| &mut save as _) };
    let (mut progress, resume) = Progress::start(effective, d as usize, bookkeeping, report)?;
    if let Some(state) = &resume {
        tch::no_grad(|| -> Result<()> {
            model.weight.f_copy_(&Tensor::f_from_slice(&state.weight)?.f_view([1, d])?)?;
            model.bias.f_copy_(&Tensor::f_from_slice(&[state.bias])?)?;
            Ok(())
        })?;
        optimizer.restore(&state.optimizer)?;
        check_steps(state, steps)?;
    }
    for epoch in progress.first..=effective.epochs {
        let order = match steps {
            1 => None,
            _ => Some(with_seed(batch_seed(config.seed, world.rank(), epoch), || {
                Tensor::f_randperm(n, (Kind::Int64, Device::Cpu))
            })?),
        };
        let (mut total, mut rows, mut stopping) = (0.0, 0.0, false);
        for step in 0..steps as i64 {
            let (xb, yb, len) = match &order {
                None => (x.shallow_clone(), y.shallow_clone(), n),
                Some(perm) => {
                    let len = batch.min(n - step * batch);
                    let rows = perm.f_narrow(0, step * batch, len)?;
                    (x.f_index_select(0, &rows)?, y.f_index_select(0, &rows)?, len)
                }
            };
            let (loss, grads) = objective_and_grads(&model, &xb, &yb, effective)?;
            let asked = stop.get() || crate::interrupt::requested();
            // [∇w; ∇b; loss × rows; rows; stop votes] summed in one allreduce.
            let mut flat = Vec::<f64>::try_from(grads[0].f_reshape([-1])?.f_to_kind(Kind::Double)?)?;
            flat.push(grads[1].f_double_value(&[0])?);
            flat.extend([loss.f_double_value(&[])? * len as f64, len as f64, f64::from(u8::from(asked))]);
            world.sum(&mut flat)?;
            let mean: Vec<f32> = flat[..=d as usize].iter().map(|v| (v / ranks) as f32).collect();
            let g_w = Tensor::f_from_slice(&mean[..d as usize])?.f_view([1, d])?;
            let g_b = Tensor::f_from_slice(&mean[d as usize..])?;
            optimizer.step(&mut model.parameters_mut(), &[g_w, g_b])?;
            total += flat[d as usize + 1];
            rows += flat[d as usize + 2];
            stopping |= flat[d as usize + 3] > 0.0;
        }
        let state = || {
            let fitted = model.fitted()?;
            Ok((fitted.coef().to_vec(), fitted.intercept(), optimizer.state()?))
        };
        // The mean loss over every rank's held-out rows, as one process's on their union.
        let validation = || match &valid {
            Some((x, y, held)) => {
                let loss = tch::no_grad(|| data_loss(&model, x, y, effective.loss))?.f_double_value(&[])?;
                let mut sums = [loss * held, *held];
                world.sum(&mut sums)?;
                Ok(Some(sums[0] / sums[1]))
            }
            None => Ok(None),
        };
        progress.end_epoch(epoch, total / rows, validation, state)?;
        if every.is_some_and(|k| epoch.is_multiple_of(k) && epoch < effective.epochs) {
            let outcome = save_failed.borrow_mut().take().map_or(Ok(()), Err);
            world.agree("writing the checkpoint", outcome)?;
        }
        if stopping && epoch < effective.epochs {
            return Err(Error::Interrupted { step: "epoch", at: epoch });
        }
    }
    let (losses, validation_losses) = progress.finish();
    Ok(Training { losses, validation_losses, model: model.fitted()? })
}

/// A state every rank holds: rank 0's `state` (the others pass `None`), sent as exact integers
/// in two sums, its length and then every value (f32 bits as one u32, u64 and f64 bits as two
/// halves), so each rank continues from the same bits, signed zeros included.
pub fn share_state(world: &mut World, state: Option<TrainState>) -> Result<Option<TrainState>> {
    let mut body = Vec::new();
    if let (Some(s), 0) = (&state, world.rank()) {
        let words = |body: &mut Vec<f64>, v: &[f32]| {
            body.push(v.len() as f64);
            body.extend(v.iter().map(|x| f64::from(x.to_bits())));
        };
        let halves = |body: &mut Vec<f64>, v: u64| body.extend([(v >> 32) as f64, (v & 0xffff_ffff) as f64]);
        halves(&mut body, s.epoch as u64);
        words(&mut body, &s.weight);
        words(&mut body, &[s.bias]);
        halves(&mut body, s.optimizer.step);
        body.push(s.optimizer.moments.len() as f64);
        for (m, v) in &s.optimizer.moments {
            words(&mut body, m);
            words(&mut body, v);
        }
        body.push(s.losses.len() as f64);
        for l in &s.losses {
            halves(&mut body, l.to_bits());
        }
    }
    let mut len = [body.len() as f64];
    world.sum(&mut len)?;
    if len[0] == 0.0 {
        return Ok(None);
    }
    body.resize(len[0] as usize, 0.0);
    world.sum(&mut body)?;
    // Read back in the order written.
    let mut at = 0usize;
    let mut next = || {
        at += 1;
        body.get(at - 1).map_or(0, |&v| v as u64)
    };
    let epoch = ((next() << 32) | next()) as usize;
    let words = |next: &mut dyn FnMut() -> u64| -> Vec<f32> {
        let k = next() as usize;
        (0..k).map(|_| f32::from_bits(next() as u32)).collect()
    };
    let weight = words(&mut next);
    let bias = words(&mut next).first().copied().unwrap_or_default();
    let step = (next() << 32) | next();
    let pairs = next() as usize;
    let moments = (0..pairs).map(|_| (words(&mut next), words(&mut next))).collect();
    let count = next() as usize;
    let losses = (0..count).map(|_| f64::from_bits((next() << 32) | next())).collect();
    let optimizer = OptimizerState { step, moments };
    Ok(Some(TrainState { epoch, classes: None, weight, bias, optimizer, losses, validation_losses: vec![] }))
}

/// This rank's part of a checkpoint's fingerprint gathered from every rank: the
/// [`checkpoint::distributed_fingerprint`] of `config` over every rank's shard, the same string on
/// every rank.
pub fn fingerprint(world: &mut World, config: &FitConfig, shard: &Shard) -> Result<String> {
    let hash = checkpoint::shard_hash(&shard.table);
    let all = world.gather(&[(hash >> 32) as f64, (hash & 0xffff_ffff) as f64])?;
    let hashes: Vec<u64> = all.iter().map(|h| ((h[0] as u64) << 32) | h[1] as u64).collect();
    Ok(checkpoint::distributed_fingerprint(config, &hashes))
}

/// A hash of the settings (FNV-1a over their debug form): ranks compare it before working, so
/// that ranks launched with different flags stop instead of solving different problems.
pub fn settings_hash(settings: &str) -> u64 {
    crate::hash::fnv1a(crate::hash::FNV_START, settings.bytes())
}

/// Checks that every rank's `hash` is rank 0's, naming the first rank whose differs.
pub fn same_settings(world: &mut World, hash: u64) -> Result<()> {
    // Two 32-bit halves: f64 holds each exactly.
    let all = world.gather(&[(hash >> 32) as f64, (hash & 0xffff_ffff) as f64])?;
    match all.iter().position(|h| *h != all[0]) {
        None => Ok(()),
        Some(r) => Err(everyone(world, "comparing settings", format!("rank {r}'s flags differ from rank 0's"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::Table;
    use crate::dist::Launch;
    use crate::train::optim::OptimizerKind;

    /// `size` ranks as threads of this process, each with its own group, running `work`.
    fn ranks<T: Send>(size: usize, work: impl Fn(&mut World) -> T + Sync) -> Vec<T> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::thread::scope(|s| {
            let work = &work;
            let handles: Vec<_> = (0..size)
                .map(|rank| {
                    s.spawn(move || {
                        let launch =
                            Launch { rank, size, addr: "127.0.0.1".into(), port, agent_store: false, attempt: 0 };
                        let mut world = World::join(launch, std::time::Duration::from_secs(30)).unwrap();
                        work(&mut world)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    /// Rows `i` of a fixed pattern: 3 features, labels from their sum with a flip every 7th row.
    fn table(rows: std::ops::Range<usize>) -> Table {
        let x = |i: usize, j: usize| ((i * 37 + j * 11) % 17) as f32 / 8.0 - 1.0;
        let features = rows.clone().flat_map(|i| (0..3).map(move |j| x(i, j))).collect();
        let labels =
            rows.map(|i| f32::from(u8::from(((x(i, 0) - x(i, 1) + 0.5 * x(i, 2)) > 0.0) != (i % 7 == 0)))).collect();
        Table {
            source: "t".into(),
            feature_names: vec!["a".into(), "b".into(), "c".into()],
            label_name: Some("y".into()),
            features,
            labels,
        }
    }

    /// 2 ranks of 96 rows, batches of 8 per rank, are one process stepping on the 16 rows of
    /// each step's two batches (drawn here from each rank's [`batch_seed`]): the mean gradient
    /// over 16 rows is the ranks' average of their means over 8.
    #[test]
    fn two_ranks_batches_of_b_are_one_process_on_their_union() {
        let (n, b, epochs) = (96usize, 8usize, 3usize);
        for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let config = FitConfig {
                train: TrainConfig { lr: 0.05, epochs, batch_size: Some(b), optimizer, ..Default::default() },
                seed: 11,
                standardize: false,
                validation_split: None,
                solver: None,
                sklearn: None,
            };
            let fits = ranks(2, |world| {
                let rows = world.rank() * n..(world.rank() + 1) * n;
                let shard = Shard { table: table(rows), first_row: None };
                let f = fit_distributed(world, &shard, &config, Checkpoints::default(), |_| ControlFlow::Continue(()));
                let f = f.unwrap();
                (f.training.losses, f.saved.model.coef().to_vec(), f.saved.model.intercept())
            });
            assert_eq!(fits[0], fits[1], "every rank holds the same model");
            // The same steps in one process.
            let shards = [Dataset::from_table(&table(0..n)).unwrap(), Dataset::from_table(&table(n..2 * n)).unwrap()];
            let effective = effective(&config, (2 * n) as f64).unwrap();
            let mut model = with_seed(config.seed, || LogisticRegression::torch_init(3, Device::Cpu)).unwrap();
            let mut opt = Optimizer::new(optimizer, effective.lr, &model.parameters()).unwrap();
            let mut losses = vec![];
            for epoch in 1..=epochs {
                let perms: Vec<Tensor> = (0..2)
                    .map(|r| {
                        with_seed(batch_seed(config.seed, r, epoch), || {
                            Tensor::randperm(n as i64, (Kind::Int64, Device::Cpu))
                        })
                    })
                    .collect();
                let mut total = 0.0;
                for step in 0..n / b {
                    let pick = |r: usize| shards[r].select(&perms[r].narrow(0, (step * b) as i64, b as i64)).unwrap();
                    let (p0, p1) = (pick(0), pick(1));
                    let x = Tensor::cat(&[&p0.x, &p1.x], 0);
                    let y = Tensor::cat(&[&p0.y, &p1.y], 0).view([-1, 1]);
                    let (loss, grads) = objective_and_grads(&model, &x, &y, &effective).unwrap();
                    opt.step(&mut model.parameters_mut(), &grads).unwrap();
                    total += loss.double_value(&[]) * (2 * b) as f64;
                }
                losses.push(total / (2 * n) as f64);
            }
            let one = model.fitted().unwrap();
            let (ranks_losses, coef, intercept) = &fits[0];
            for (a, e) in ranks_losses.iter().zip(&losses) {
                assert!((a - e).abs() <= 1e-6, "{optimizer:?}: {ranks_losses:?} vs {losses:?}");
            }
            for (a, e) in coef.iter().chain([intercept]).zip(one.coef().iter().chain([&one.intercept()])) {
                assert!(
                    (a - e).abs() <= 1e-6,
                    "{optimizer:?}: {coef:?} {intercept} vs {:?} {}",
                    one.coef(),
                    one.intercept()
                );
            }
            assert!(losses[epochs - 1] < losses[0], "{losses:?}");
        }
    }

    /// Shards whose rows make different numbers of batches are refused on every rank, naming one.
    #[test]
    fn shards_of_different_batch_counts_are_refused() {
        let config = FitConfig {
            train: TrainConfig { epochs: 2, batch_size: Some(10), ..Default::default() },
            seed: 1,
            standardize: false,
            validation_split: None,
            solver: None,
            sklearn: None,
        };
        let errors = ranks(2, |world| {
            let rows = if world.rank() == 0 { 0..40 } else { 40..91 };
            let shard = Shard { table: table(rows), first_row: None };
            let e = fit_distributed(world, &shard, &config, Checkpoints::default(), |_| ControlFlow::Continue(()));
            e.err().unwrap().to_string()
        });
        for (r, e) in errors.iter().enumerate() {
            let expected = format!(
                "rank {r}: checking the shards: rank 1's shard has 51 rows, 6 batches of 10 an epoch; rank 0's 40 rows, 4"
            );
            assert!(e.starts_with(&expected), "{e}");
        }
    }

    /// Rank 0's state reaches every rank bit for bit (a signed zero, a subnormal, Adam's moments).
    #[test]
    fn a_shared_state_is_rank_zeros_bit_for_bit() {
        let state = TrainState {
            epoch: 3,
            classes: None,
            weight: vec![-0.0, f32::MIN_POSITIVE / 4.0, 1.5],
            bias: -2.25,
            optimizer: OptimizerState {
                step: (1 << 40) + 7,
                moments: vec![(vec![1e-30, -0.0, 3.0], vec![4.0, 5.0, 6.0]), (vec![-1.0], vec![2.0])],
            },
            losses: vec![0.7, 0.6 + 1e-17, -0.0],
            validation_losses: vec![],
        };
        let bits = |s: &TrainState| {
            let mut v: Vec<u64> = s.weight.iter().chain([&s.bias]).map(|w| u64::from(w.to_bits())).collect();
            v.extend(s.optimizer.moments.iter().flat_map(|(m, a)| m.iter().chain(a)).map(|w| u64::from(w.to_bits())));
            v.extend(s.losses.iter().map(|l| l.to_bits()));
            v.extend([s.epoch as u64, s.optimizer.step]);
            v
        };
        let shared = ranks(3, |world| {
            let mine = (world.rank() == 0).then(|| state.clone());
            let got = share_state(world, mine).unwrap().unwrap();
            assert_eq!(share_state(world, None).unwrap(), None);
            got
        });
        for s in &shared {
            assert_eq!(bits(s), bits(&state));
            assert_eq!(s.optimizer.moments.len(), 2);
        }
    }

    #[test]
    fn the_settings_hash_is_fnv1a() {
        // FNV-1a's published test vectors.
        assert_eq!(settings_hash(""), 0xcbf29ce484222325);
        assert_eq!(settings_hash("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(settings_hash("foobar"), 0x85944171f73967e8);
    }
}
