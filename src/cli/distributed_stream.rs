//! `logreg train --stream` under a launcher (`dist`): each rank streams its own `.npy` shard
//! (`--data 'x-{rank}.npy' --labels 'y-{rank}.npy'`) chunk by chunk every epoch, SGD/Adam step on
//! the sums over every rank's rows ([`logreg::train::distributed_stream`]), and rank 0 writes the
//! model and the report.

use std::process::ExitCode;

use anyhow::bail;
use logreg::data::shard;
use logreg::dist::Launch;
use logreg::train::distributed::{same_settings, settings_hash};
use logreg::train::distributed_stream::fit_stream_distributed;

use super::input::InputArgs;
use super::train::TrainArgs;

/// `train --stream` across the launched processes.
pub(crate) fn train(args: TrainArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    let (rank, size) = (launch.rank, launch.size);
    let started = std::time::Instant::now();
    super::distributed::stop_together_on_ctrl_c()?;
    let mut world = super::distributed::join(launch)?;
    // Everything this rank can get wrong alone (its file included), before the ranks work together.
    let setup = || -> anyhow::Result<_> {
        let config = args.config()?;
        let refused = [
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
            (args.checkpoint_every.is_some() || args.resume.is_some(), "--checkpoint-every/--resume"),
            (args.sample_weight.is_some() || args.class_weight.is_some(), "--sample-weight/--class-weight"),
            (args.validation_split.is_some(), "--validation-split"),
            (args.standardize, "--standardize"),
            (args.input.label.is_some(), "--label"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed --stream run (sgd or adam on .npy shards, on the CPU)");
        }
        if args.engine == Some(logreg::train::Engine::Autograd) {
            bail!("--stream trains with --engine fused");
        }
        if let Some(flag) = args.recipe.first_given() {
            bail!("{flag} applies to CSV shards; --stream reads .npy shards");
        }
        let (Some(data), Some(labels)) = (
            shard::rank_path(&args.input.data, rank),
            args.input.labels.as_deref().and_then(|l| shard::rank_path(l, rank)),
        ) else {
            bail!(
                "a distributed --stream reads one .npy file per rank: --data 'x-{{rank}}.npy' --labels 'y-{{rank}}.npy' \
                 (row ranges of one file apply without --stream)"
            );
        };
        let mut outputs = vec![("--out", args.out.as_path())];
        outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
        super::check_outputs(&outputs, &[("--data", &data), ("--labels", &labels)])?;
        let input = InputArgs { data, label: None, labels: Some(labels) };
        let rows = input.open_stream(args.chunk_rows)?;
        let hash = settings_hash(&format!(
            "stream|{config:?}|{:?}|{:?}|{:?}",
            args.input.data, args.input.labels, args.chunk_rows
        ));
        Ok((config, rows, hash))
    };
    let (config, rows, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    // A stop is voted on inside the library's sums: this callback only reports.
    let on_epoch = |_: &logreg::train::Epoch| match logreg::interrupt::requested() {
        true => std::ops::ControlFlow::Break(()),
        false => std::ops::ControlFlow::Continue(()),
    };
    let fitted = fit_stream_distributed(&mut world, &rows, &config, on_epoch);
    if rank != 0 {
        return Ok(fitted.map(|_| ExitCode::SUCCESS)?);
    }
    let fitted = fitted?;
    let (collectives, communication_seconds) = world.communication();
    let spread = super::train::Spread { world_size: size, collectives, communication_seconds };
    super::train::finish(&args, fitted, started, None, Some(spread))
}
