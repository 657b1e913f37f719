//! One rank's rows for the fused engine (SGD and Adam) seen through the ranks' sums (`dist`):
//! every full pass's and every mini-batch's data sums (loss, gradient, rows) are summed over the
//! ranks in one allreduce, so each rank's engine steps on all ranks' rows at once and every rank
//! holds the same parameters; with the checks of the ranks' shards and the training metrics
//! summed over them, which sparse and streamed shards share.

use std::ops::ControlFlow;
use std::sync::Mutex;

use tch::Device;

use crate::dist::World;
use crate::error::{Error, Result};
use crate::model::linear::LogisticRegression;
use crate::model::metrics::{self, Confusion, Report};
use crate::seed::with_seed;
use crate::train::distributed::batch_seed;
use crate::train::fit::FitConfig;
use crate::train::fused::{BatchSums, Batches, Sums};
use crate::train::{Checkpoints, Epoch, TrainConfig, Training};

/// A failure every rank sees alike (computed from gathered values), named by this rank.
fn everyone(world: &World, step: &'static str, message: String) -> Error {
    Error::Distributed { step, rank: world.rank(), message }
}

/// Checks every rank's shard against the others (`width` columns alike, rows in each, the same
/// `steps` an epoch, both classes among all rows) and returns where this rank's `rows` start
/// among all ranks' and how many there are in all. Every rank must call it.
pub(crate) fn check_shards(
    world: &mut World,
    width: usize,
    rows: usize,
    positives: usize,
    steps: usize,
) -> Result<(usize, usize)> {
    let all = world.gather(&[width as f64, rows as f64, positives as f64, steps as f64])?;
    if let Some(r) = all.iter().position(|v| v[0] != all[0][0]) {
        let message = format!("rank {r}'s shard has {} columns, rank 0's has {}", all[r][0], all[0][0]);
        return Err(everyone(world, "checking the shards", message));
    }
    if let Some(r) = all.iter().position(|v| v[1] == 0.0) {
        return Err(everyone(world, "checking the shards", format!("rank {r}'s shard has no rows")));
    }
    if let Some(r) = all.iter().position(|v| v[3] != all[0][3]) {
        let message = format!(
            "rank {r}'s shard has {} rows, {} batches an epoch; rank 0's {} rows, {}: every rank must take the same \
             number of steps",
            all[r][1], all[r][3], all[0][1], all[0][3]
        );
        return Err(everyone(world, "checking the shards", message));
    }
    let first_row: usize = all[..world.rank()].iter().map(|v| v[1] as usize).sum();
    let total: usize = all.iter().map(|v| v[1] as usize).sum();
    let total_positives: usize = all.iter().map(|v| v[2] as usize).sum();
    // A shard of one class is fine: the union must hold both.
    if total_positives == 0 || total_positives == total {
        let class = if total_positives == 0 { 0 } else { 1 };
        let message = format!("every rank's labels are {class}: training needs both 0 and 1 among all rows");
        return Err(everyone(world, "checking the shards", message));
    }
    Ok((first_row, total))
}

/// SGD or Adam by the fused engine on `source` (this rank's rows), every step's sums over all
/// ranks' rows ([`Summed`]): every rank starts from the same seeded draw of PyTorch's initial
/// weights and draws its own batch order ([`batch_seed`]); full batch, each epoch is one step on
/// every row, as one process on their union.
pub(crate) fn descend_summed(
    world: &mut World,
    source: &dyn Batches,
    config: &FitConfig,
    effective: &TrainConfig,
    on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
) -> Result<Training> {
    let d = source.features() as i64;
    let initial = with_seed(config.seed, || LogisticRegression::torch_init(d, Device::Cpu))?.fitted()?;
    let seed = batch_seed(config.seed, world.rank(), 0);
    let summed = Summed::new(source, world);
    let training = with_seed(seed, || {
        crate::train::fused::train(&initial, &summed, None, effective, Checkpoints::default(), on_epoch)
    });
    // A failed sum outranks what the engine made of its NaNs.
    summed.failure()?;
    training
}

/// The training metrics of this rank's `probs` and `labels` summed over the ranks: confusion
/// counts and log-loss (no ROC AUC: it needs every row's rank among all rows).
pub(crate) fn summed_report(world: &mut World, probs: &[f32], labels: &[f32]) -> Result<Report> {
    let local = metrics::report(probs, labels, 0.5);
    let c = local.confusion;
    let mut sums = [
        c.true_positives as f64,
        c.false_positives as f64,
        c.true_negatives as f64,
        c.false_negatives as f64,
        local.log_loss * labels.len() as f64,
    ];
    world.sum(&mut sums)?;
    let confusion = Confusion {
        true_positives: sums[0] as usize,
        false_positives: sums[1] as usize,
        true_negatives: sums[2] as usize,
        false_negatives: sums[3] as usize,
    };
    Ok(metrics::from_counts(confusion, sums[4], 0.5, None))
}

/// `inner` (this rank's rows) whose sums are the world's.
pub(crate) struct Summed<'a> {
    inner: &'a dyn Batches,
    world: Mutex<&'a mut World>,
    /// The first failed sum: later sums are NaN without communicating (a dead peer costs one
    /// timeout), and the pass or chunk that met it returns it.
    error: Mutex<Option<Error>>,
}

impl<'a> Summed<'a> {
    pub(crate) fn new(inner: &'a dyn Batches, world: &'a mut World) -> Self {
        Self { inner, world: Mutex::new(world), error: Mutex::new(None) }
    }

    /// `sums` summed over the ranks, in place: [∇w; ∇b; loss; rows] in one allreduce.
    fn reduce(&self, sums: &mut Sums) {
        let mut error = self.error.lock().unwrap_or_else(|e| e.into_inner());
        let mut flat = Vec::with_capacity(sums.weight.len() + 3);
        flat.extend_from_slice(&sums.weight);
        flat.extend([sums.bias, sums.loss, sums.rows as f64]);
        let outcome = match error.is_some() {
            true => Err(None),
            false => self.world.lock().unwrap_or_else(|e| e.into_inner()).sum(&mut flat).map_err(Some),
        };
        match outcome {
            Ok(()) => {
                let d = sums.weight.len();
                sums.weight.copy_from_slice(&flat[..d]);
                (sums.bias, sums.loss, sums.rows) = (flat[d], flat[d + 1], flat[d + 2] as usize);
            }
            Err(e) => {
                sums.weight.fill(f64::NAN);
                (sums.bias, sums.loss) = (f64::NAN, f64::NAN);
                if let Some(e) = e {
                    *error = Some(e);
                }
            }
        }
    }

    /// The first failed sum, if any (taken: reported once).
    pub(crate) fn failure(&self) -> Result<()> {
        match self.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A chunk whose mini-batch sums are the world's.
struct SummedChunk<'a, 'b> {
    inner: &'b dyn BatchSums,
    summed: &'b Summed<'a>,
}

impl BatchSums for SummedChunk<'_, '_> {
    fn sums(&self, part: &[i64], w: &[f32], b: f32, out: &mut Sums) {
        self.inner.sums(part, w, b, out);
        self.summed.reduce(out);
    }
}

impl Batches for Summed<'_> {
    /// This rank's rows (an epoch's loss weighs each step by this rank's batch).
    fn rows(&self) -> usize {
        self.inner.rows()
    }
    fn features(&self) -> usize {
        self.inner.features()
    }
    fn chunks(&self) -> usize {
        self.inner.chunks()
    }
    fn chunk_len(&self, i: usize) -> usize {
        self.inner.chunk_len(i)
    }
    fn pass(&self, w: &[f32], b: f32) -> Result<Sums> {
        let mut sums = self.inner.pass(w, b)?;
        self.reduce(&mut sums);
        self.failure()?;
        Ok(sums)
    }
    fn with_batches(&self, i: usize, f: &mut dyn FnMut(&dyn BatchSums) -> Result<()>) -> Result<()> {
        self.inner.with_batches(i, &mut |chunk| f(&SummedChunk { inner: chunk, summed: self }))?;
        self.failure()
    }
}
