//! `logreg train` under a launcher (torchrun's WORLD_SIZE > 1): each rank reads its shard of the
//! `.npy` data, the ranks check that they agree (setup, settings, shards) and fit together, and
//! rank 0 writes the model and the report. Without the `dist` feature it is a one-line refusal.

use std::process::ExitCode;

use logreg::dist::Launch;

use super::train::TrainArgs;

/// The launcher's environment, checked: `None` outside a launcher or in a world of one.
pub(crate) fn launch() -> anyhow::Result<Option<Launch>> {
    Ok(Launch::from_env()?)
}

/// For `path` and `cv`: a world of more than one process is refused, not run N times over the
/// same outputs.
pub(crate) fn single_process(command: &str) -> anyhow::Result<()> {
    if let Some(l) = launch()? {
        anyhow::bail!(
            "launched as rank {} of {} (WORLD_SIZE): {command} does not share work across processes yet; \
             run one process (train does, with --solver newton or fista)",
            l.rank,
            l.size
        );
    }
    Ok(())
}

/// `train` across the launched processes.
#[cfg(not(feature = "dist"))]
pub(crate) fn train(_args: TrainArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "launched as rank {} of {} (WORLD_SIZE), but this logreg was built without the `dist` feature: \
         build it with `cargo build --release --features dist` to train across processes, or run one process",
        launch.rank,
        launch.size
    )
}

/// `train` across the launched processes.
#[cfg(feature = "dist")]
pub(crate) fn train(args: TrainArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    use std::time::Duration;

    use anyhow::{bail, Context};
    use logreg::data::shard;
    use logreg::dist::World;
    use logreg::train::distributed::{check_config, fit_distributed, same_settings, settings_hash};

    let timeout = match std::env::var("LOGREG_DIST_TIMEOUT") {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s) if (1..=86_400).contains(&s) => Duration::from_secs(s),
            _ => bail!("invalid LOGREG_DIST_TIMEOUT: {v} (must be whole seconds from 1 to 86400)"),
        },
        Err(_) => Duration::from_secs(DEFAULT_TIMEOUT_S),
    };
    let (rank, size) = (launch.rank, launch.size);
    let started = std::time::Instant::now();
    let mut world = World::join(launch, timeout)?;
    // Everything this rank can get wrong alone, before the ranks work together.
    let setup = || -> anyhow::Result<_> {
        let mut config = args.config()?;
        if args.solver == super::train::SolverChoice::Auto {
            config.solver = config.solver.map(|(_, c)| (logreg::solvers::SolverKind::Newton, c));
        }
        check_config(&config)?;
        let refused = [
            (args.stream, "--stream"),
            (args.checkpoint_every.is_some(), "--checkpoint-every"),
            (args.resume.is_some(), "--resume"),
            (args.input.label.is_some(), "--label"),
            (args.sparse.format.is_some() || args.sparse.n_features.is_some(), "--format/--n-features"),
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed run yet (newton, fista or full-batch sgd/adam on .npy shards, on the CPU)");
        }
        if let Some(flag) = args.recipe.first_given() {
            bail!("{flag} applies to a CSV --data; a distributed run reads .npy shards (`logreg convert` makes them)");
        }
        let Some(labels) = args.input.labels.as_deref() else {
            bail!(
                "a distributed run reads .npy --data with .npy --labels (`logreg convert` makes them from a CSV file)"
            );
        };
        let mut outputs = vec![("--out", args.out.as_path())];
        outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
        let data = shard::rank_path(&args.input.data, rank).unwrap_or_else(|| args.input.data.clone());
        let label_file = shard::rank_path(labels, rank).unwrap_or_else(|| labels.to_path_buf());
        super::check_outputs(&outputs, &[("--data", &data), ("--labels", &label_file)])?;
        let shard = shard::read(&args.input.data, labels, rank, size).context("--data")?;
        let hash = settings_hash(&format!("{config:?}|{:?}|{labels:?}", args.input.data));
        Ok((config, shard, hash))
    };
    let (config, shard, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    super::stop_on_ctrl_c()?;
    let on_iteration = |_: &logreg::train::Epoch| match logreg::interrupt::requested() {
        true => std::ops::ControlFlow::Break(()),
        false => std::ops::ControlFlow::Continue(()),
    };
    let fitted = fit_distributed(&mut world, &shard, &config, on_iteration)?;
    if rank != 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let (collectives, communication_seconds) = world.communication();
    let spread = super::train::Spread { world_size: size, collectives, communication_seconds };
    super::train::finish(&args, fitted, started, None, Some(spread))
}

/// Seconds a rank waits for the others to join, and for each collective, before it gives up:
/// Gloo's own default is 30 minutes.
#[cfg(feature = "dist")]
const DEFAULT_TIMEOUT_S: u64 = 60;
