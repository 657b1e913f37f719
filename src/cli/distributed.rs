//! `logreg train`, `path` and `cv` under a launcher (torchrun's WORLD_SIZE > 1): each rank reads
//! its `.npy` or CSV shard, the ranks check that they agree (setup, settings, shards) and fit
//! together, and rank 0 writes the model and the report. Without the `dist` feature it is a one-line refusal.

use std::process::ExitCode;

use logreg::dist::Launch;

use super::grid::{CvArgs, PathArgs};
use super::train::TrainArgs;

/// The launcher's environment, checked: `None` outside a launcher or in a world of one.
pub(crate) fn launch() -> anyhow::Result<Option<Launch>> {
    Ok(Launch::from_env()?)
}

/// `train` across the launched processes.
#[cfg(not(feature = "dist"))]
pub(crate) fn train(_args: TrainArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    without_dist(launch)
}

/// `path` across the launched processes.
#[cfg(not(feature = "dist"))]
pub(crate) fn path(_args: PathArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    without_dist(launch)
}

/// `cv` across the launched processes.
#[cfg(not(feature = "dist"))]
pub(crate) fn cv(_args: CvArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    without_dist(launch)
}

/// The refusal of a build without the `dist` feature.
#[cfg(not(feature = "dist"))]
fn without_dist(launch: Launch) -> anyhow::Result<ExitCode> {
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
    use anyhow::{bail, Context};
    use logreg::data::shard;
    use logreg::solvers::SolverKind;
    use logreg::train::checkpoint;
    use logreg::train::distributed::{
        check_config, fingerprint, fit_distributed_weighted, same_settings, settings_hash, share_state,
    };
    use logreg::train::{Checkpoints, Snapshot};

    if super::sparse::is_sparse(&args) {
        return super::distributed_sparse::train(args, launch);
    }
    if args.stream {
        return super::distributed_stream::train(args, launch);
    }
    let (rank, size) = (launch.rank, launch.size);
    let every = super::at_least_one("checkpoint-every", args.checkpoint_every)?;
    if every.is_none() && args.checkpoint.is_some() {
        bail!("--checkpoint names where --checkpoint-every N writes: add --checkpoint-every");
    }
    let checkpoint_path = super::train::checkpoint_path(&args);
    let checkpoint_losses = checkpoint::losses_path(&checkpoint_path);
    let started = std::time::Instant::now();
    stop_together_on_ctrl_c()?;
    let mut world = join(launch)?;
    // Everything this rank can get wrong alone, before the ranks work together.
    let setup = || -> anyhow::Result<_> {
        let mut config = args.config()?;
        if args.solver == super::train::SolverChoice::Auto {
            config.solver = config.solver.map(|(_, c)| (logreg::solvers::SolverKind::Newton, c));
        }
        check_config(&config)?;
        let refused = [
            (args.sparse.n_features.is_some(), "--n-features"),
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed run on dense shards (newton, fista, tron, newton-cd, sgd or adam on .npy or CSV shards, on the CPU)");
        }
        if config.solver.is_some() && (every.is_some() || args.resume.is_some()) {
            bail!("--checkpoint-every and --resume apply to --solver sgd and adam");
        }
        let weight_column = super::multiclass::weight_column(args.sample_weight.as_deref()).map(str::to_string);
        let weighted = args.sample_weight.is_some() || args.class_weight.is_some();
        if weighted && !matches!(config.solver, Some((SolverKind::Newton | SolverKind::Fista, _))) {
            bail!("--sample-weight and --class-weight fit with --solver newton or fista when distributed (as auto)");
        }
        let csv = !super::input::is_npy(&args.input.data);
        if let (false, Some(column)) = (csv, &weight_column) {
            bail!(
                "--sample-weight `{column}`: .npy shards have no named columns; give a .npy file of weights \
                 (one per rank with {{rank}}, or every rank's rows in rank order)"
            );
        }
        let labels = match (csv, args.input.labels.as_deref()) {
            (true, Some(_)) => {
                bail!("--labels applies to .npy shards; a CSV shard holds its label column (see --label)")
            }
            (true, None) => None,
            (false, Some(labels)) => Some(labels),
            (false, None) => bail!(
                "a distributed run reads .npy --data with .npy --labels, or CSV shards --data 'part-{{rank}}.csv'"
            ),
        };
        if let (false, Some(flag)) = (csv, args.recipe.first_given()) {
            bail!("{flag} applies to CSV shards; .npy shards take none (`logreg convert` applies it)");
        }
        if !csv && args.input.label.is_some() {
            bail!("--label applies to CSV shards; .npy shards take --labels");
        }
        let mut outputs = vec![("--out", args.out.as_path())];
        outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
        let models = outputs.len();
        if every.is_some() {
            outputs.extend([
                ("--checkpoint", checkpoint_path.as_path()),
                ("--checkpoint's loss file", &checkpoint_losses),
            ]);
        }
        let data = shard::rank_path(&args.input.data, rank).unwrap_or_else(|| args.input.data.clone());
        let mut inputs = vec![("--data", data.clone())];
        inputs.extend(labels.map(|l| ("--labels", shard::rank_path(l, rank).unwrap_or_else(|| l.to_path_buf()))));
        if let (Some(w), None) = (args.sample_weight.as_deref(), &weight_column) {
            let w = std::path::Path::new(w);
            inputs.push(("--sample-weight", shard::rank_path(w, rank).unwrap_or_else(|| w.to_path_buf())));
        }
        let inputs: Vec<(&str, &std::path::Path)> = inputs.iter().map(|(f, p)| (*f, p.as_path())).collect();
        super::check_outputs(&outputs, &inputs)?;
        if let Some(resume) = args.resume.as_deref() {
            let resume_losses = checkpoint::losses_path(resume);
            super::check_outputs(
                &outputs[..models],
                &[("--resume", resume), ("--resume's loss file", &resume_losses)],
            )?;
        }
        let input = match labels {
            Some(labels) => Input::Npy(shard::read(&args.input.data, labels, rank, size).context("--data")?),
            None => {
                let mut csv = csv_input(&args.input, &args.recipe, rank)?;
                if config.validation_split.is_some() && csv.spec.missing == logreg::data::missing::Missing::Mean {
                    bail!(
                        "--validation-split with --missing mean does not apply to CSV shards: one process learns the \
                         means on its training part alone (use --missing drop-rows, or hold out a file)"
                    );
                }
                csv.spec.weight = weight_column;
                Input::Csv(csv)
            }
        };
        // The checkpoint flags too: every rank must agree on whether the collectives of saving
        // and resuming run; and a CSV shard's recipe flags.
        let hash = settings_hash(&format!(
            "{config:?}|{:?}|{labels:?}|{every:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            args.sample_weight,
            args.class_weight,
            args.input.data,
            args.resume.is_some(),
            checkpoint_path,
            args.input.label,
            args.recipe,
            super::input::format()?
        ));
        Ok((config, input, hash))
    };
    let (config, input, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    let csv_source = match &input {
        Input::Csv(csv) => Some((csv.path.clone(), csv.format)),
        Input::Npy(_) => None,
    };
    let (shard, recipe) = read_input(&mut world, input)?;
    let weights = shard_weights(&mut world, &args, &shard, recipe.as_ref(), csv_source.as_ref())?;
    // DDP's average of the ranks' mean gradients has no mean for a rank without rows.
    let empty = config.solver.is_none() && shard.table.rows() == 0;
    let why = "no rows left (--missing drop-rows dropped them all): sgd and adam average each rank's mean gradient, so every rank needs rows";
    world.agree("checking the shards", if empty { Err(why.to_string()) } else { Ok(()) })?;
    // Rank 0 reads the checkpoint (the others need not see its file) and sends its state.
    let fingerprint = match every.is_some() || args.resume.is_some() {
        true => fingerprint(&mut world, &config, &shard)?,
        false => String::new(),
    };
    let features = shard.table.feature_names.len();
    let resume = match (args.resume.as_deref(), rank) {
        (Some(path), 0) => Some(checkpoint::read(path, &fingerprint, features).context("--resume")),
        _ => None,
    };
    let resume = world.agree("reading --resume", resume.transpose().map_err(|e| super::render(&e)))?;
    let resume = share_state(&mut world, resume)?;
    let mut writer = checkpoint::Writer::new(&checkpoint_path, &fingerprint);
    let mut save = |state: &Snapshot| writer.save(state);
    let checkpoints = Checkpoints {
        resume,
        every,
        save: every.filter(|_| rank == 0).map(|_| &mut save as &mut dyn FnMut(&Snapshot) -> logreg::Result<()>),
    };
    // A stop is voted on inside the library's sums: this callback only reports.
    let on_iteration = |_: &logreg::train::Epoch| match logreg::interrupt::requested() {
        true => std::ops::ControlFlow::Break(()),
        false => std::ops::ControlFlow::Continue(()),
    };
    let fitted = fit_distributed_weighted(&mut world, &shard, &config, &weights, checkpoints, on_iteration);
    let fitted = fitted.map(|mut fit| {
        fit.saved.recipe = recipe;
        fit
    });
    if rank != 0 {
        // An interrupted rank stopped at the same epoch as rank 0 (the stop was voted on): it says so.
        return Ok(fitted.map(|_| ExitCode::SUCCESS)?);
    }
    if matches!(fitted, Err(logreg::Error::Interrupted { .. })) {
        // The newest checkpoint may be held back by the writer's pacing: write it now.
        writer.flush().context("--checkpoint")?;
    }
    let fitted = match (fitted, writer.written_epoch()) {
        (Err(error @ logreg::Error::Interrupted { .. }), Some(epoch)) => {
            // The command as this rank was started: the launcher that starts the ranks is not in it.
            let hint = format!(
                "{} (through the launcher, with {size} ranks)",
                super::train::resume_hint(&checkpoint_path, epoch)
            );
            return Err(super::train::Interrupted { error, hint }.into());
        }
        (fitted, _) => fitted?,
    };
    let (collectives, communication_seconds) = world.communication();
    let spread = super::train::Spread { world_size: size, collectives, communication_seconds };
    super::train::finish(&args, fitted, started, None, Some(spread))
}

/// The weights of `train`'s flags on this rank's `shard`: `--sample-weight` a column of the CSV
/// shard (`csv`, read through the merged `recipe`), a `.npy` file per rank (`{rank}`), or one
/// `.npy` file of every rank's rows in rank order (each rank takes its own); `--class-weight`
/// parsed against the classes of every rank's labels. A rank that cannot read its weights ends
/// every rank with one line naming it.
#[cfg(feature = "dist")]
fn shard_weights(
    world: &mut logreg::dist::World,
    args: &TrainArgs,
    shard: &logreg::data::shard::Shard,
    recipe: Option<&logreg::data::recipe::Recipe>,
    csv: Option<&(std::path::PathBuf, logreg::data::table::Format)>,
) -> anyhow::Result<logreg::solvers::weights::Weights> {
    use logreg::data::{npy, shard::rank_path};
    let rows = shard.table.rows();
    let sample = match args.sample_weight.as_deref() {
        None => None,
        Some(flag) => {
            let local = match (super::multiclass::weight_column(Some(flag)), csv, recipe) {
                (Some(column), Some((path, format)), Some(recipe)) => {
                    logreg::train::distributed_csv::read_weight_rows(path, format, recipe, column)
                }
                // Refused in setup: a .npy shard has no named columns.
                (Some(column), _, _) => Err(logreg::Error::InvalidSetting {
                    name: "sample_weight",
                    value: column.to_string(),
                    expected: "a .npy file of weights for .npy shards",
                }),
                (None, _, _) => match rank_path(std::path::Path::new(flag), world.rank()) {
                    Some(own) => npy::read_weights(&own, rows),
                    None => {
                        // Every rank's rows in rank order: this rank's start among them.
                        let counts = world.gather(&[rows as f64])?;
                        let first: usize = counts[..world.rank()].iter().map(|c| c[0] as usize).sum();
                        let total: usize = counts.iter().map(|c| c[0] as usize).sum();
                        npy::read_weights(std::path::Path::new(flag), total).map(|w| w[first..first + rows].to_vec())
                    }
                },
            };
            Some(world.agree("reading --sample-weight", local.map_err(|e| format!("--sample-weight: {e}")))?)
        }
    };
    let classes = recipe.map_or_else(logreg::data::labels::Classes::numeric, logreg::data::recipe::Recipe::classes);
    let class = args
        .class_weight
        .as_deref()
        .map(|t| super::multiclass::class_weight(t, &[classes.negative.clone(), classes.positive.clone()]))
        .transpose()?;
    Ok(logreg::solvers::weights::Weights { sample, class })
}

/// A rank's error named by its rank, as the launcher interleaves every rank's lines (an error
/// of the ranks' collectives already names it).
/// Without the `dist` feature the only error is the refusal, which names the rank itself.
pub(crate) fn named(error: anyhow::Error, rank: usize) -> anyhow::Error {
    if cfg!(not(feature = "dist")) {
        return error;
    }
    let distributed = |e: &(dyn std::error::Error + 'static)| {
        matches!(e.downcast_ref::<logreg::Error>(), Some(logreg::Error::Distributed { .. }))
    };
    if error.chain().any(distributed) {
        error
    } else {
        error.context(format!("rank {rank}"))
    }
}

/// A rank's input as its setup read it: a `.npy` shard, or a CSV shard to read with the others.
#[cfg(feature = "dist")]
enum Input {
    Npy(logreg::data::shard::Shard),
    Csv(CsvInput),
}

/// A CSV shard to read: its file, format and the recipe flags' spec.
#[cfg(feature = "dist")]
struct CsvInput {
    path: std::path::PathBuf,
    format: logreg::data::table::Format,
    spec: logreg::data::recipe::Spec,
}

/// The CSV shard of `rank` as the flags ask, checked before any rank reads: one file per rank
/// (`{rank}` in --data); `--categorical auto` and `--missing median` refused.
#[cfg(feature = "dist")]
fn csv_input(
    input: &super::input::InputArgs,
    recipe: &super::input::RecipeArgs,
    rank: usize,
) -> anyhow::Result<CsvInput> {
    use anyhow::bail;
    let Some(path) = logreg::data::shard::rank_path(&input.data, rank) else {
        bail!(
            "a CSV --data names one file per rank with {{rank}} (`part-{{rank}}.csv`); for row ranges of one file, \
             convert it to .npy (`logreg convert`)"
        );
    };
    let spec = recipe.spec(input.label.clone())?;
    if spec.categorical == logreg::data::recipe::Categorical::Auto {
        bail!("--categorical auto does not apply to a distributed run: name the columns (--categorical a,b)");
    }
    if spec.missing == logreg::data::missing::Missing::Median {
        bail!("--missing median does not apply to a distributed run (a median needs every rank's values): use mean or drop-rows");
    }
    Ok(CsvInput { path, format: super::input::format()?, spec })
}

/// The shard that `path` and `cv` read on `rank`, checked before any rank reads: a `.npy` shard
/// (with `.npy` --labels), or a CSV shard (`part-{rank}.csv` with the table flags) to read with
/// the others ([`read_input`]); `outputs` may not be an input.
#[cfg(feature = "dist")]
fn grid_input(
    input: &super::input::InputArgs,
    recipe: &super::input::RecipeArgs,
    rank: usize,
    size: usize,
    outputs: &[(&str, &std::path::Path)],
) -> anyhow::Result<Input> {
    use anyhow::{bail, Context};
    use logreg::data::shard;
    let data = shard::rank_path(&input.data, rank).unwrap_or_else(|| input.data.clone());
    if !super::input::is_npy(&input.data) {
        if input.labels.is_some() {
            bail!("--labels applies to .npy shards; a CSV shard holds its label column (see --label)");
        }
        let csv = csv_input(input, recipe, rank)?;
        super::check_outputs(outputs, &[("--data", &data)])?;
        return Ok(Input::Csv(csv));
    }
    if let Some(flag) = recipe.first_given() {
        bail!("{flag} applies to CSV shards; .npy shards take none (`logreg convert` applies it)");
    }
    if input.label.is_some() {
        bail!("--label applies to CSV shards; .npy shards take --labels");
    }
    let Some(labels) = input.labels.as_deref() else {
        bail!("a distributed run reads .npy --data with .npy --labels, or CSV shards --data 'part-{{rank}}.csv'");
    };
    let label_file = shard::rank_path(labels, rank).unwrap_or_else(|| labels.to_path_buf());
    super::check_outputs(outputs, &[("--data", &data), ("--labels", &label_file)])?;
    Ok(Input::Npy(shard::read(&input.data, labels, rank, size).context("--data")?))
}

/// The rank's shard, and for CSV shards the recipe merged over every rank (the model records it).
#[cfg(feature = "dist")]
fn read_input(
    world: &mut logreg::dist::World,
    input: Input,
) -> anyhow::Result<(logreg::data::shard::Shard, Option<logreg::data::recipe::Recipe>)> {
    match input {
        Input::Npy(shard) => Ok((shard, None)),
        Input::Csv(csv) => {
            let read = logreg::train::distributed_csv::read_csv_shard(world, &csv.path, &csv.format, &csv.spec)?;
            if read.dropped > 0 && world.rank() == 0 {
                warnln!(
                    "note: --missing drop-rows left out {} rows over the ranks (a missing cell in each)",
                    read.dropped
                );
            }
            Ok((read.shard, Some(read.recipe)))
        }
    }
}

/// Ctrl-C (SIGINT) on this rank asks every rank to stop: voted on in the next collective, so all
/// end at the same iteration or epoch (rank 0 flushing its checkpoint) instead of the others
/// waiting on this one. Installed before joining, so a signal during setup is voted on too.
#[cfg(feature = "dist")]
pub(super) fn stop_together_on_ctrl_c() -> anyhow::Result<()> {
    use anyhow::Context;
    ctrlc::set_handler(logreg::dist::ask_to_stop).context("installing the Ctrl-C handler")
}

/// Joins the launched world, with `LOGREG_DIST_TIMEOUT` (seconds) bounding the wait for the
/// others and each collective.
#[cfg(feature = "dist")]
pub(super) fn join(launch: Launch) -> anyhow::Result<logreg::dist::World> {
    let timeout = match std::env::var("LOGREG_DIST_TIMEOUT") {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s) if (1..=86_400).contains(&s) => std::time::Duration::from_secs(s),
            _ => anyhow::bail!("invalid LOGREG_DIST_TIMEOUT: {v} (must be whole seconds from 1 to 86400)"),
        },
        Err(_) => std::time::Duration::from_secs(DEFAULT_TIMEOUT_S),
    };
    Ok(logreg::dist::World::join(launch, timeout)?)
}

/// `path` across the launched processes: each rank reads its shard, λ_max and the
/// standardization are reduced over all rows, every λ is solved over all ranks, and rank 0
/// writes the outputs.
#[cfg(feature = "dist")]
pub(crate) fn path(args: PathArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    use anyhow::bail;
    use logreg::data::dataset::Dataset;
    use logreg::solvers::distributed::path_distributed;
    use logreg::solvers::distributed::standardizer;
    use logreg::solvers::SolverKind;
    use logreg::train::distributed::{place, same_settings, settings_hash};

    let (rank, size) = (launch.rank, launch.size);
    stop_together_on_ctrl_c()?;
    let mut world = join(launch)?;
    let setup = || -> anyhow::Result<_> {
        let config = args.grid.config(args.grid.solver.unwrap_or(SolverKind::Newton))?;
        if !matches!(config.kind, SolverKind::Newton | SolverKind::Fista) {
            bail!("--solver {:?} does not apply to a distributed path yet: newton or fista", config.kind);
        }
        let refused = [
            (args.sparse.format.is_some() || args.sparse.n_features.is_some(), "--format/--n-features"),
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
            (args.classes.first_given().is_some(), "--multi-class/--sample-weight/--class-weight"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed run yet (newton or fista on .npy or CSV shards, on the CPU)");
        }
        let mut outputs = vec![];
        outputs.extend(args.csv.as_deref().map(|p| ("--csv", p)));
        outputs.extend(args.plot.as_deref().map(|p| ("--plot", p)));
        let input = grid_input(&args.input, &args.recipe, rank, size, &outputs)?;
        let hash = settings_hash(&format!(
            "path|{config:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            args.standardize,
            args.input.data,
            args.input.labels,
            args.input.label,
            args.recipe,
            super::input::format()?,
            args.csv,
            args.plot
        ));
        Ok((config, input, hash))
    };
    let (config, input, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    let (shard, _) = read_input(&mut world, input)?;
    let (first_row, rows) = place(&mut world, &shard.table, 1, 0)?;
    let data = Dataset::from_table(&shard.table)?;
    let x = match args.standardize {
        true => standardizer(&mut world, &data.x, rows)?.apply(&data.x)?,
        false => data.x.shallow_clone(),
    };
    let points = path_distributed(&mut world, &x, &data.y, first_row, rows, &config)?;
    if rank != 0 {
        return Ok(ExitCode::SUCCESS);
    }
    super::grid::write_path(&args, &points, &shard.table.feature_names, None, Some(size))
}

/// `cv` across the launched processes: each rank draws its folds within its shard, the grid, the
/// folds' paths and the refit run over all ranks ([`logreg::solvers::distributed::cross_validate_distributed`]),
/// and rank 0 writes the model and the table.
#[cfg(feature = "dist")]
pub(crate) fn cv(args: CvArgs, launch: Launch) -> anyhow::Result<ExitCode> {
    use anyhow::bail;
    use logreg::data::dataset::Dataset;
    use logreg::solvers::cv::CvConfig;
    use logreg::solvers::distributed::cross_validate_distributed;
    use logreg::solvers::SolverKind;
    use logreg::train::distributed::{place, same_settings, settings_hash};

    let (rank, size) = (launch.rank, launch.size);
    stop_together_on_ctrl_c()?;
    let mut world = join(launch)?;
    let setup = || -> anyhow::Result<_> {
        let folds = super::grid::folds(args.folds)?;
        let path = args.grid.config(args.grid.solver.unwrap_or(SolverKind::Newton))?;
        if !matches!(path.kind, SolverKind::Newton | SolverKind::Fista) {
            bail!("--solver {:?} does not apply to a distributed cv yet: newton or fista", path.kind);
        }
        let refused = [
            (args.sparse.format.is_some() || args.sparse.n_features.is_some(), "--format/--n-features"),
            (args.device == logreg::device::DeviceChoice::Cuda, "--device cuda"),
            (args.jobs.is_some(), "--jobs"),
            (args.batch_folds == super::grid::BatchFolds::On, "--batch-folds on"),
            (args.classes.first_given().is_some(), "--multi-class/--sample-weight/--class-weight"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            bail!("{flag} does not apply to a distributed cv (newton or fista on .npy or CSV shards, on the CPU, one fold at a time)");
        }
        let config =
            CvConfig { folds, seed: args.seed, standardize: args.standardize, path, jobs: 1, batch_folds: Some(false) };
        config.validate()?;
        let mut outputs = vec![("--out", args.out.as_path())];
        outputs.extend(args.csv.as_deref().map(|p| ("--csv", p)));
        let input = grid_input(&args.input, &args.recipe, rank, size, &outputs)?;
        let select = args.select == super::grid::Select::Best;
        let hash = settings_hash(&format!(
            "cv|{config:?}|{select}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            args.input.data,
            args.input.labels,
            args.input.label,
            args.recipe,
            super::input::format()?,
            args.out,
            args.csv
        ));
        Ok((config, input, hash))
    };
    let (config, input, hash) = world.agree("setting up", setup().map_err(|e| super::render(&e)))?;
    same_settings(&mut world, hash)?;
    let (shard, recipe) = read_input(&mut world, input)?;
    let (_, rows) = place(&mut world, &shard.table, 1, 0)?;
    let data = Dataset::from_table(&shard.table)?;
    let started = std::time::Instant::now();
    let r = cross_validate_distributed(&mut world, &data.x, &data.y, &config)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    if rank != 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let table = shard.table;
    let label_name = table.label_name.unwrap_or_else(|| "y".into());
    // A CSV shard's recipe, as one process's cv records it (none when plain).
    let recipe = recipe.filter(|r| !r.is_plain());
    super::grid::write_cv(&args, &config, &r, rows, table.feature_names, label_name, recipe, fit_seconds, Some(size))
}

/// Seconds a rank waits for the others to join, and for each collective, before it gives up:
/// Gloo's own default is 30 minutes.
#[cfg(feature = "dist")]
const DEFAULT_TIMEOUT_S: u64 = 60;
