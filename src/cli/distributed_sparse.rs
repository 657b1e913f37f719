//! `logreg train` on sparse shards under a launcher (`dist`): each rank reads its own libsvm,
//! `.npz` or `.lrcsr` file (`--data 'part-{rank}.svm'`), the ranks agree on the width (the
//! largest, or `--n-features`) and fit together ([`logreg::train::distributed_sparse`]), and
//! rank 0 writes the model and the report.

use std::process::ExitCode;

use anyhow::bail;
use logreg::data::shard;
use logreg::dist::Launch;
use logreg::train::distributed::{same_settings, settings_hash};
use logreg::train::distributed_sparse::{agree_width, auto_kind, fit_sparse_distributed};

use super::input::InputArgs;
use super::train::{SolverChoice, TrainArgs};

/// `train` across the launched processes on sparse `--data`.
pub(crate) fn train(args: TrainArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    let (rank, size) = (launch.rank, launch.size);
    let started = std::time::Instant::now();
    super::distributed::stop_together_on_ctrl_c()?;
    let mut world = super::distributed::join(launch)?;
    // Everything this rank can get wrong alone (its file included), before the ranks work together.
    let setup = || -> anyhow::Result<_> {
        let mut config = args.config()?;
        let refused = [
            (args.stream, "--stream"),
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
            (args.checkpoint_every.is_some() || args.resume.is_some(), "--checkpoint-every/--resume"),
            (args.sample_weight.is_some() || args.class_weight.is_some(), "--sample-weight/--class-weight"),
            (args.validation_split.is_some(), "--validation-split"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed run on sparse shards (tron, newton-cd, newton, fista, sgd or adam, in memory, on the CPU)");
        }
        if args.standardize {
            bail!("--standardize: centring would make sparse --data dense; scale the columns beforehand");
        }
        if args.engine == Some(logreg::train::Engine::Autograd) {
            bail!("--engine autograd needs dense rows: sparse --data trains with the fused engine (drop --engine)");
        }
        if let Some(flag) = args.recipe.first_given() {
            bail!("{flag} applies to CSV shards; sparse shards take none");
        }
        if args.solver == SolverChoice::Auto {
            config.solver = config.solver.map(|(_, c)| (auto_kind(&config), c));
        }
        let Some(data) = shard::rank_path(&args.input.data, rank) else {
            bail!(
                "sparse --data names one file per rank with {{rank}} (`part-{{rank}}.svm`, .npz or .lrcsr): \
                 row ranges of one file apply to .npy"
            );
        };
        let labels = match args.input.labels.as_deref() {
            Some(l) => match shard::rank_path(l, rank) {
                Some(l) => Some(l),
                None => bail!("--labels names one file per rank with {{rank}} as --data does (`y-{{rank}}.npy`)"),
            },
            None => None,
        };
        let mut outputs = vec![("--out", args.out.as_path())];
        outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
        let mut inputs = vec![("--data", data.as_path())];
        inputs.extend(labels.as_deref().map(|l| ("--labels", l)));
        super::check_outputs(&outputs, &inputs)?;
        let input = InputArgs { data: data.clone(), label: args.input.label.clone(), labels };
        let read = super::sparse::read_input(&input, &args.sparse)?;
        super::sparse::check_width(&read.source, read.x.cols(), super::sparse::EXACT_BYTES_PER_FEATURE)?;
        let hash = settings_hash(&format!(
            "sparse|{config:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            args.input.data,
            args.input.labels,
            args.sparse.format,
            args.sparse.n_features,
            super::input::format()?
        ));
        Ok((config, read, hash))
    };
    let (config, data, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    let mut data = agree_width(&mut world, data)?;
    // A stop is voted on inside the library's sums: this callback only reports.
    let on_iteration = |_: &logreg::train::Epoch| match logreg::interrupt::requested() {
        true => std::ops::ControlFlow::Break(()),
        false => std::ops::ControlFlow::Continue(()),
    };
    let fitted = fit_sparse_distributed(&mut world, &mut data, &config, on_iteration);
    if rank != 0 {
        return Ok(fitted.map(|_| ExitCode::SUCCESS)?);
    }
    let fitted = fitted?;
    let (collectives, communication_seconds) = world.communication();
    let spread = super::train::Spread { world_size: size, collectives, communication_seconds };
    super::train::finish(&args, fitted, started, None, Some(spread))
}
