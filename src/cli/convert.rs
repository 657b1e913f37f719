//! `logreg convert`: a labelled CSV file to `.npy` features and labels, one row at a time; libsvm
//! text or a scipy `.npz` (with `--labels`) to logreg's binary CSR file (`.lrcsr`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use logreg::data::csr_file::{self, is_csr_file};
use logreg::data::table::LabelColumn;
use logreg::data::{libsvm, npz};

use super::check_outputs;
use super::input::{is_npy, FormatArgs, RecipeArgs};
use super::sparse::{is_libsvm, is_npz};

#[derive(Args)]
pub(crate) struct ConvertArgs {
    /// CSV file with a header row (`-` reads standard input; gzip or zstd is decompressed as it is
    /// read); or libsvm text (.svm, .libsvm, .svmlight) or a scipy .npz, for a .lrcsr OUTPUT.
    pub(crate) input: PathBuf,
    /// Where the features go: a (rows, features) little-endian f32 .npy array. Its recipe (the
    /// columns' names, encodings, imputations and classes) goes beside it, `.recipe.json` in place
    /// of `.npy`: `train` records it in the model, which then scores the CSV file. For a sparse
    /// INPUT, a binary CSR file (.lrcsr: the labels and CSR arrays; train, path, cv, predict and
    /// evaluate read it).
    pub(crate) output: PathBuf,
    /// Name of the label column [default: the last column that no --id names].
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Where the labels go [default: OUTPUT with `.labels.npy` in place of `.npy`].
    #[arg(long)]
    pub(crate) labels_out: Option<PathBuf>,
    /// The 0/1 labels (.npy) of a .npz INPUT, which `convert` writes into the .lrcsr OUTPUT.
    #[arg(long)]
    pub(crate) labels: Option<PathBuf>,
    /// Sparse INPUT: the number of features [default: the largest index in the file].
    #[arg(long)]
    pub(crate) n_features: Option<usize>,
    #[command(flatten)]
    pub(crate) format: FormatArgs,
    /// Text labels, IDs, chosen columns, categorical columns and missing values, as `train` reads
    /// them (with any of these, a file is read twice: once to learn the recipe, once to write the
    /// rows; standard input and --missing median are read into memory first).
    #[command(flatten)]
    pub(crate) recipe: RecipeArgs,
}

pub(crate) fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    if is_libsvm(&args.input) || is_npz(&args.input) {
        return convert_sparse(&args);
    }
    if args.labels.is_some() || args.n_features.is_some() {
        bail!("--labels and --n-features apply to a sparse INPUT (libsvm, .npz)");
    }
    let format = args.format.format()?;
    // `.npy` alone is a hidden file without an extension, refused here too.
    if !is_npy(&args.output) {
        bail!("convert: OUTPUT {} must be a file name ending in .npy, such as data.npy", args.output.display());
    }
    let labels_out = args.labels_out.clone().unwrap_or_else(|| {
        let name = args.output.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        args.output.with_file_name(format!("{name}.labels.npy"))
    });
    // Always beside OUTPUT, where `train`, `predict` and `evaluate` look for it.
    let recipe_out = logreg::data::recipe_file::path_for(&args.output);
    check_outputs(
        &[("OUTPUT", &args.output), ("--labels-out", &labels_out), ("the recipe file beside OUTPUT", &recipe_out)],
        &[("INPUT", &args.input)],
    )?;
    if args.recipe.first_given().is_some() {
        return convert_recipe(&args, &format, &labels_out, &recipe_out);
    }
    let label = args.label.clone().map_or(LabelColumn::Last, LabelColumn::Named);
    let c = match logreg::data::stream::convert_with(
        &args.input,
        &label,
        &format,
        &args.output,
        &labels_out,
        Some(&recipe_out),
    ) {
        // Text labels or three or more classes: a file is read again, through a recipe that
        // learns its classes (the one-pass path writes 0/1 labels only; nothing was written).
        Err(logreg::Error::LabelNotBinary { location, message }) => {
            if !std::fs::metadata(&args.input).is_ok_and(|m| m.is_file()) {
                let input = if args.input == std::path::Path::new("-") { "standard input" } else { "a pipe" };
                bail!(
                    "{location}: {message}; {input} is read once: add --max-classes N (or another recipe flag), and \
                     convert learns the classes"
                );
            }
            warnln!(
                "note: {location}: a label other than 0/1; reading {} again to learn the classes",
                args.input.display()
            );
            return convert_recipe(&args, &format, &labels_out, &recipe_out);
        }
        other => other?,
    };
    if super::json() {
        jsonln!(serde_json::json!({
            "features_file": args.output, "labels_file": labels_out, "recipe_file": recipe_out, "rows": c.rows,
            "features": c.columns.feature_names, "label": c.columns.label_name, "streamed": true,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "wrote {} ({} rows × {} features, f32), {} (labels `{}`) and {} (the columns' names, which `train` records); \
         features in order: {}",
        args.output.display(),
        c.rows,
        c.columns.feature_names.len(),
        labels_out.display(),
        c.columns.label_name.unwrap_or_default(),
        recipe_out.display(),
        c.columns.feature_names.join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}

/// libsvm text or a `.npz` (with `--labels`) to a binary CSR file, written whole or not at all.
fn convert_sparse(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    if !is_csr_file(&args.output) {
        bail!("convert: OUTPUT {} must end in .lrcsr for a sparse INPUT (libsvm, .npz)", args.output.display());
    }
    if args.recipe.first_given().is_some() || args.label.is_some() || args.labels_out.is_some() {
        bail!("convert: the table flags (--label, --labels-out, recipe flags) do not apply to a sparse INPUT");
    }
    check_outputs(&[("OUTPUT", &args.output)], &[("INPUT", &args.input)])?;
    let data = if is_npz(&args.input) {
        let Some(labels) = &args.labels else {
            bail!("--labels: a .npz INPUT needs its labels as a .npy file (--labels y.npy)");
        };
        npz::read_labelled(&args.input, labels, args.n_features)?
    } else {
        if args.labels.is_some() {
            bail!("--labels applies to a .npz INPUT; libsvm rows start with their label");
        }
        libsvm::read_file(&args.input, args.n_features)?
    };
    let bytes = csr_file::to_bytes(&data);
    super::write_outputs(&[("OUTPUT", args.output.as_path(), &bytes[..])])?;
    let (rows, cols, nnz) = (data.x.rows(), data.x.cols(), data.x.nnz());
    if super::json() {
        jsonln!(serde_json::json!({
            "csr_file": args.output, "rows": rows, "features": cols, "nnz": nnz, "bytes": bytes.len(),
        }))?;
    } else {
        outln!(
            "wrote {} ({rows} rows × {cols} features, {nnz} non-zeros, {} bytes)",
            args.output.display(),
            bytes.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `convert` with recipe flags: the recipe learned, then the rows written through it.
fn convert_recipe(
    args: &ConvertArgs,
    format: &logreg::data::table::Format,
    labels_out: &std::path::Path,
    recipe_out: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let spec = args.recipe.spec(args.label.clone())?;
    let c = logreg::data::stream::convert_recipe(&args.input, format, &spec, &args.output, labels_out, recipe_out)?;
    if c.dropped > 0 {
        warnln!(
            "note: --missing drop-rows left out {} of {} rows (a missing cell in each)",
            c.dropped,
            c.dropped + c.rows
        );
    }
    let features = c.recipe.feature_names();
    if super::json() {
        jsonln!(serde_json::json!({
            "features_file": args.output, "labels_file": labels_out, "recipe_file": recipe_out, "rows": c.rows,
            "features": features, "label": c.recipe.label, "classes": c.recipe.classes,
            "class_names": c.recipe.class_names, "streamed": c.streamed,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let classes = match (&c.recipe.class_names, &c.recipe.classes) {
        (Some(names), _) => {
            let coded: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{i} = `{n}`")).collect();
            format!(", {}", coded.join(", "))
        }
        (None, Some(k)) => format!(", 1 = `{}`, 0 = `{}`", k.positive, k.negative),
        (None, None) => String::new(),
    };
    outln!(
        "wrote {} ({} rows × {} features, f32), {} (labels `{}`{classes}) and {} (the recipe, which `train` records); \
         features in order: {}",
        args.output.display(),
        c.rows,
        features.len(),
        labels_out.display(),
        c.recipe.label,
        recipe_out.display(),
        features.join(", ")
    )?;
    Ok(ExitCode::SUCCESS)
}
