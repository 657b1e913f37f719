//! Sparse `--data` for `train`: libsvm/svmlight text (`.svm`, `.libsvm`, `.svmlight`, possibly
//! gzip- or zstd-compressed, or `--format libsvm`) and scipy's CSR `.npz` (labels from `--labels
//! y.npy`), and `.lrcsr`. They train on the CPU with the exact solvers, X kept sparse for tron and
//! newton-cd, or by SGD/Adam on CSR rows (`--stream`: a `.lrcsr` file chunk by chunk).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use logreg::data::csr_file::{self, is_csr_file};
use logreg::data::csr_stream::CsrStream;
use logreg::data::libsvm::{self, SparseData};
use logreg::data::npz;
use logreg::device::DeviceChoice;
use logreg::train::checkpoint;
use logreg::train::sparse::{fit_sparse, fit_sparse_epochs, fit_sparse_stream};
use logreg::train::{Checkpoints, Snapshot};

use logreg::solvers::SolverKind;

use super::at_least_one;
use super::input::InputArgs;
use super::train::{SolverChoice, TrainArgs};

/// A `--format` for `--data` other than the one its name implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DataFormat {
    /// libsvm / svmlight text: `label index:value …`, indices from 1.
    Libsvm,
}

/// The sparse input flags of `train`.
#[derive(clap::Args)]
pub(crate) struct SparseFlags {
    /// Read --data as this format whatever its name (.svm, .libsvm, .svmlight are libsvm text;
    /// .npz is scipy's sparse CSR/CSC/COO with --labels y.npy).
    #[arg(long, value_enum)]
    pub(crate) format: Option<DataFormat>,
    /// Sparse --data: the number of features [default: the largest index in the file].
    #[arg(long)]
    pub(crate) n_features: Option<usize>,
}

/// Whether `path` names libsvm text (by its extension, under a `.gz` or `.zst`).
pub(crate) fn is_libsvm(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".zst")).unwrap_or(&name);
    [".svm", ".libsvm", ".svmlight"].iter().any(|e| name.ends_with(e))
}

/// Whether `path` names a scipy sparse `.npz`.
pub(crate) fn is_npz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Whether `train`, `path` and `cv` read `--data` as sparse.
pub(crate) fn is_sparse_input(input: &InputArgs, flags: &SparseFlags) -> bool {
    flags.format == Some(DataFormat::Libsvm) || is_sparse_path(&input.data)
}

/// Whether `train` reads `--data` as sparse.
pub(crate) fn is_sparse(args: &TrainArgs) -> bool {
    is_sparse_input(&args.input, &args.sparse)
}

/// Reads the sparse `--data` (with `--labels` for `.npz`), `--n-features` wide when given.
pub(crate) fn read_input(input: &InputArgs, flags: &SparseFlags) -> anyhow::Result<SparseData> {
    if input.label.is_some() {
        bail!("--label names a CSV column; libsvm rows start with their label, a .npz takes --labels");
    }
    if is_npz(&input.data) && flags.format.is_none() {
        let Some(labels) = &input.labels else {
            bail!("--labels: a .npz --data needs its labels as a .npy file (--labels y.npy)");
        };
        return Ok(npz::read_labelled(&input.data, labels, flags.n_features)?);
    }
    if input.labels.is_some() {
        bail!("--labels applies to .npy and .npz data; libsvm and .lrcsr files hold their labels");
    }
    if is_csr_file(&input.data) && flags.format.is_none() {
        return Ok(csr_file::read_file(&input.data, flags.n_features)?);
    }
    Ok(libsvm::read_file(&input.data, flags.n_features)?)
}

/// Bytes a feature costs a solver beyond the data: the exact solvers keep about eight f64 vectors
/// of the width (weights, gradient, directions, columns' curvature), SGD/Adam four f32 ones.
pub(crate) const EXACT_BYTES_PER_FEATURE: u64 = 64;
const EPOCH_BYTES_PER_FEATURE: u64 = 16;

/// Refuses a width (the largest index, or `--n-features`) whose per-feature vectors would not fit
/// in memory, before they are allocated, naming the file.
pub(crate) fn check_width(source: &str, width: usize, per_feature: u64) -> anyhow::Result<()> {
    logreg::device::check_host_memory((width as u64).saturating_mul(per_feature))
        .with_context(|| format!("{source}: {width} features (its largest index, or --n-features)"))
}

/// Reads `train`'s sparse `--data`.
pub(crate) fn read(args: &TrainArgs) -> anyhow::Result<SparseData> {
    read_input(&args.input, &args.sparse)
}

/// The checks `path` and `cv` make on sparse `--data` before reading it: the CPU, no
/// standardization, and the solver that works on X's columns (newton-cd, the default there).
pub(crate) fn grid_solver(
    solver: Option<SolverKind>,
    standardize: bool,
    device: DeviceChoice,
) -> anyhow::Result<SolverKind> {
    if standardize {
        bail!("--standardize: centring would make sparse --data dense; scale the columns beforehand");
    }
    if device == DeviceChoice::Cuda {
        bail!("sparse --data fits its path on the CPU; drop --device cuda");
    }
    match solver.unwrap_or(SolverKind::NewtonCd) {
        SolverKind::NewtonCd => Ok(SolverKind::NewtonCd),
        other => bail!(
            "--solver {}: a path on sparse --data solves with newton-cd (every path has an L1 part, so tron does not apply)",
            format!("{other:?}").to_lowercase()
        ),
    }
}

/// `train` on sparse data: the exact solvers, or SGD/Adam with the fused engine on CSR rows (in
/// memory, or `--stream` from a `.lrcsr` file); no standardization.
pub(crate) fn train(args: &TrainArgs, config: logreg::train::fit::FitConfig) -> anyhow::Result<ExitCode> {
    if args.standardize {
        bail!("--standardize: centring would make sparse --data dense; scale the columns beforehand");
    }
    if args.device == DeviceChoice::Cuda {
        bail!("sparse --data trains on the CPU; drop --device cuda");
    }
    if config.solver.is_none() {
        return train_epochs(args, config);
    }
    if args.checkpoint_every.is_some() || args.resume.is_some() {
        bail!("--checkpoint-every and --resume apply to --solver sgd and adam");
    }
    if args.plot.is_some() {
        bail!("--plot applies to sparse --data with --solver sgd or adam");
    }
    let mut data = read(args)?;
    check_width(&data.source, data.x.cols(), EXACT_BYTES_PER_FEATURE)?;
    super::stop_on_ctrl_c()?;
    let kind = if args.solver == SolverChoice::Auto { None } else { config.solver.map(|(k, _)| k) };
    let started = std::time::Instant::now();
    let mut observer = |_, _| {
        if logreg::interrupt::requested() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    let fitted = fit_sparse(&mut data, &config, kind, &mut observer)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let model = fitted.saved.to_bytes().with_context(|| format!("--out {}", args.out.display()))?;
    super::write_outputs(&[("--out", args.out.as_path(), &model[..])])?;
    let s = &fitted.solution;
    let name = &fitted.saved.training.optimizer;
    if !s.converged {
        super::warn_unconverged(name, s.iterations, Some(s.optimality), args.tol, args.max_iter);
    }
    let nonzero = s.coef.iter().filter(|&&w| w != 0.0).count();
    if super::json() {
        let json = serde_json::json!({
            "losses": s.objectives(),
            "train": fitted.report,
            "validation": fitted.validation,
            "nonzero_weights": nonzero,
            "solver": {
                "name": name,
                "iterations": s.iterations,
                "converged": s.converged,
                "objective": s.objective,
                "optimality": s.optimality,
                "seconds": s.seconds,
                "passes": s.passes,
                "auto": fitted.auto.as_ref().map(|a| serde_json::json!({"reason": a.reason, "estimates": a.estimates})),
            },
            "rows": fitted.rows,
            "features": data.x.cols(),
            "nnz": data.x.nnz(),
            "coef": s.coef,
            "intercept": s.intercept,
            "fit_seconds": fit_seconds,
            "model": args.out,
        });
        jsonln!(json)?;
    } else {
        outln!(
            "trained on {} rows × {} features ({} non-zeros), {name}, {} iterations{}: final objective {}, train accuracy {:.4}, {nonzero} of {} weights non-zero",
            data.x.rows(),
            data.x.cols(),
            data.x.nnz(),
            s.iterations,
            if s.converged { "" } else { " (not converged)" },
            logreg::error::fixed(s.objective, 6),
            fitted.report.accuracy,
            data.x.cols()
        )?;
        if let Some(v) = &fitted.validation {
            super::train::print_validation(v)?;
        }
        outln!("wrote {}", args.out.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `train --solver sgd|adam` on sparse data: the fused engine on CSR rows, in memory or, with
/// `--stream`, a `.lrcsr` file read chunk by chunk; reported as a dense run is.
fn train_epochs(args: &TrainArgs, config: logreg::train::fit::FitConfig) -> anyhow::Result<ExitCode> {
    if args.engine == Some(logreg::train::Engine::Autograd) {
        bail!("--engine autograd needs dense rows: sparse --data trains with the fused engine (drop --engine)");
    }
    if args.stream && !(is_csr_file(&args.input.data) && args.sparse.format.is_none()) {
        bail!(
            "--stream reads a .lrcsr file chunk by chunk: `logreg convert {} data.lrcsr` writes one",
            args.input.data.display()
        );
    }
    if args.stream && args.validation_split.is_some() {
        bail!("--validation-split needs the rows in memory: drop --stream, or hold out a file and score it");
    }
    if !args.stream && args.chunk_rows.is_some() {
        bail!("--chunk-rows applies with --stream");
    }
    let chunk_rows = at_least_one("chunk-rows", args.chunk_rows)?;
    let bar = super::train::progress(config.train.epochs, super::quiet() || super::json());
    let on_epoch = |e: &logreg::train::Epoch| {
        if let Some(bar) = &bar {
            bar.set_position(e.epoch as u64);
            bar.set_message(format!("loss {:.4}", e.loss));
        }
        if logreg::interrupt::requested() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    };
    let every = at_least_one("checkpoint-every", args.checkpoint_every)?;
    let checkpoint_path = super::train::checkpoint_path(args);
    let checkpoint_losses = checkpoint::losses_path(&checkpoint_path);
    let mut writer = None;
    let started = std::time::Instant::now();
    let fitted = if args.stream {
        if args.input.label.is_some() || args.input.labels.is_some() {
            bail!("--label and --labels do not apply: a .lrcsr file holds its labels");
        }
        let stream = CsrStream::open(&args.input.data, chunk_rows, args.sparse.n_features)?;
        check_width(stream.name(), stream.cols(), EPOCH_BYTES_PER_FEATURE)?;
        // The fingerprint reads the whole file once: only for a run with checkpoints.
        let fingerprint = match every.is_some() || args.resume.is_some() {
            true => checkpoint::sparse_stream_fingerprint(&config, &stream),
            false => String::new(),
        };
        let resume = resumed(args, &fingerprint, stream.cols())?;
        super::stop_on_ctrl_c()?;
        let writer = writer.insert(checkpoint::Writer::new(&checkpoint_path, &fingerprint));
        let mut save = |state: &Snapshot| writer.save(state);
        let save = every.map(|_| &mut save as &mut dyn FnMut(&Snapshot) -> logreg::Result<()>);
        fit_sparse_stream(&stream, &config, Checkpoints { resume, every, save }, on_epoch)
    } else {
        let data = read(args)?;
        check_width(&data.source, data.x.cols(), EPOCH_BYTES_PER_FEATURE)?;
        let fingerprint = match every.is_some() || args.resume.is_some() {
            true => checkpoint::sparse_fingerprint(&config, &data),
            false => String::new(),
        };
        let resume = resumed(args, &fingerprint, data.x.cols())?;
        super::stop_on_ctrl_c()?;
        let writer = writer.insert(checkpoint::Writer::new(&checkpoint_path, &fingerprint));
        let mut save = |state: &Snapshot| writer.save(state);
        let save = every.map(|_| &mut save as &mut dyn FnMut(&Snapshot) -> logreg::Result<()>);
        fit_sparse_epochs(&data, &config, Checkpoints { resume, every, save }, on_epoch)
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let writer = writer.as_mut().expect("set before training");
    if matches!(fitted, Err(logreg::Error::Interrupted { .. })) {
        // The newest checkpoint may be held back by the writer's pacing: write it now.
        writer.flush().context("--checkpoint")?;
    }
    let fitted = match (fitted, writer.written_epoch()) {
        (Err(e @ logreg::Error::Interrupted { .. }), Some(epoch)) => {
            let hint = super::train::resume_hint(&checkpoint_path, epoch);
            return Err(super::train::Interrupted { error: e, hint }.into());
        }
        // A checkpoint that could not be written is named by its flag.
        (Err(e @ logreg::Error::Io { .. }), _) if matches!(&e, logreg::Error::Io { path, .. } if *path == checkpoint_path || *path == checkpoint_losses) =>
        {
            return Err(anyhow::Error::from(e).context("--checkpoint"));
        }
        (fitted, _) => fitted?,
    };
    super::train::finish(args, fitted, started, None, None)
}

/// The state `--resume` names, read for `fingerprint` (`features` wide).
fn resumed(args: &TrainArgs, fingerprint: &str, features: usize) -> anyhow::Result<Option<logreg::train::TrainState>> {
    match args.resume.as_deref() {
        Some(path) => Ok(Some(checkpoint::read(path, fingerprint, features).context("--resume")?)),
        None => Ok(None),
    }
}

/// Whether `predict`/`evaluate` read `data` as sparse (by its name).
pub(crate) fn is_sparse_path(data: &Path) -> bool {
    is_libsvm(data) || is_npz(data) || is_csr_file(data)
}

/// The model's probabilities for the sparse `data` (libsvm, or `.npz` with `labels` when
/// `labelled`), and the labels (libsvm always has them; empty for an unlabelled `.npz`). The
/// file's largest feature index must be below the model's width.
pub(crate) fn score(
    saved: &logreg::model::file::SavedModel,
    data: &Path,
    labels: Option<&Path>,
    labelled: bool,
    libsvm: bool,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    if saved.standardizer.is_some() {
        bail!("--model standardizes its features (centring would make sparse --data dense): score a CSV or .npy file");
    }
    let width = saved.model.coef().len();
    let data = if is_npz(data) && !libsvm {
        match labels {
            Some(y) => npz::read_labelled(data, y, Some(width))?,
            None if labelled => bail!("--labels: a .npz --data needs its labels as a .npy file (--labels y.npy)"),
            None => {
                let x = npz::read_file(data)?;
                let (file, rows) = (data.display().to_string(), x.rows());
                let x = x.with_cols(width).map_err(|e| anyhow::anyhow!("{file}: {}", short(&e)))?;
                SparseData { source: file, x, labels: vec![0.0; rows] }
            }
        }
    } else {
        if labels.is_some() {
            bail!("--labels applies to .npy and .npz data; libsvm and .lrcsr files hold their labels");
        }
        if is_csr_file(data) && !libsvm {
            csr_file::read_file(data, Some(width))?
        } else {
            libsvm::read_file(data, Some(width))?
        }
    };
    let w: Vec<f64> = saved.model.coef().iter().map(|&w| f64::from(w)).collect();
    let mut z = vec![0.0; data.x.rows()];
    data.x.mv(&w, &mut z);
    let b = f64::from(saved.model.intercept());
    let probs = z.iter().map(|&z| logreg::solvers::sigmoid(z + b) as f32).collect();
    Ok((probs, if labelled || libsvm || is_libsvm_source(&data) { data.labels } else { vec![] }))
}

fn is_libsvm_source(data: &SparseData) -> bool {
    !is_npz(Path::new(&data.source))
}

/// The message of a data error without its `invalid x:` prefix.
fn short(e: &logreg::Error) -> String {
    match e {
        logreg::Error::InvalidData { message, .. } => message.clone(),
        e => e.to_string(),
    }
}
