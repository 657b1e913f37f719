//! `path` and `cv` on CSV shards under torchrun (one file per rank, the table flags): the
//! single-process path on the whole file, and cv with its folds drawn within each shard as one
//! process computes it on those folds.

use std::path::{Path, PathBuf};
use std::process::Command;

use logreg::data::dataset::Dataset;
use logreg::data::missing::Missing;
use logreg::data::recipe::{read_training, Categorical, Spec};
use logreg::data::table::Format;
use logreg::solvers::cv::{cross_validate_folds, stratified_folds, CvConfig};
use logreg::solvers::path::PathConfig;

use super::dist::{json, model_recipe, path, raw_csv, torchrun};
use crate::cli::bin;

/// `rows` (a header first) written whole and cut after `cut` data rows into `part-0.csv` and
/// `part-1.csv` (one header each): the whole file and the `{rank}` pattern.
fn halves(dir: &Path, rows: &[String], cut: usize) -> (String, String) {
    let whole = dir.join("whole.csv");
    std::fs::write(&whole, rows.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("part-0.csv"), rows[..=cut].join("\n") + "\n").unwrap();
    std::fs::write(dir.join("part-1.csv"), [&rows[..1], &rows[cut + 1..]].concat().join("\n") + "\n").unwrap();
    (path(&whole), path(&dir.join("part-{rank}.csv")))
}

/// The table flags of these tests: `y` the label, `color` one-hot, missing cells the mean.
const TABLE: [&str; 6] = ["--label", "y", "--categorical", "color", "--missing", "mean"];

fn zeros(coef: &serde_json::Value) -> Vec<bool> {
    coef.as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
}

/// `path` on 2 CSV shards (a categorical column whose levels differ between the shards, missing
/// cells filled with the mean over every rank's rows) is the single-process path on the whole
/// file: each λ to 1e-12, each objective to 1e-10 relative, the same zeros.
#[test]
fn a_path_on_csv_shards_is_the_single_process_path_on_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = halves(dir.path(), &raw_csv(400), 171);
    for solver in ["newton", "fista"] {
        let args = |data: &str| -> Vec<String> {
            ["path", "--data", data, "--n-lambdas", "10", "--solver", solver, "--json"]
                .into_iter()
                .chain(TABLE)
                .map(String::from)
                .collect()
        };
        let single = json(&Command::new(bin()).args(args(&whole)).output().unwrap());
        let spread = args(&parts);
        let spread = json(&torchrun(2, &spread.iter().map(String::as_str).collect::<Vec<_>>()));
        assert_eq!(spread["world_size"], 2);
        assert_eq!(spread["features"], single["features"]);
        let (a, b) = (single["path"].as_array().unwrap(), spread["path"].as_array().unwrap());
        assert_eq!((a.len(), b.len()), (10, 10));
        for (p, q) in a.iter().zip(b) {
            let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
            assert!((f(p, "lambda") - f(q, "lambda")).abs() <= 1e-12 * f(p, "lambda"), "{solver}: {p} vs {q}");
            assert!((f(p, "objective") - f(q, "objective")).abs() <= 1e-10 * f(p, "objective"), "{solver}: {p} vs {q}");
            assert_eq!(zeros(&p["coef"]), zeros(&q["coef"]), "{solver}: {p} vs {q}");
        }
        assert_eq!(a[0]["nonzero"], 0);
        assert!(a[9]["nonzero"].as_u64().unwrap() >= 4, "{}", a[9]);
    }
}

/// `cv` on 2 CSV shards draws each shard's folds by one process's rule on the shard alone (fold k
/// is every rank's fold k): computed here in one process on the whole file read through the same
/// recipe, with those folds, every λ's mean held-out log-loss agrees to 1e-10 relative, with the
/// same best and one-SE λ, the same refit zeros; the model records the recipe one process's cv
/// on the whole file records.
#[test]
fn cv_on_csv_shards_is_one_process_on_the_shards_folds() {
    let dir = tempfile::tempdir().unwrap();
    let rows = raw_csv(400);
    let cut = 171;
    let (whole, parts) = halves(dir.path(), &rows, cut);
    let (m1, m2) = (dir.path().join("one.safetensors"), dir.path().join("two.safetensors"));
    let args = |data: &str, out: &PathBuf| -> Vec<String> {
        ["cv", "--data", data, "--folds", "3", "--n-lambdas", "8", "--json", "--out", &path(out)]
            .into_iter()
            .chain(TABLE)
            .map(String::from)
            .collect()
    };
    let spread = args(&parts, &m2);
    let spread = json(&torchrun(2, &spread.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(spread["world_size"], 2);
    // One process: the whole file through the recipe (the mean of every row filling the cells).
    let spec = Spec {
        label: Some("y".into()),
        categorical: Categorical::Columns(vec!["color".into()]),
        missing: Missing::Mean,
        ..Spec::default()
    };
    let mut read = read_training(Path::new(&whole), &Format::default(), &spec).unwrap();
    read.recipe.impute(&whole, &mut [&mut read.table.features]).unwrap();
    let data = Dataset::from_table(&read.table).unwrap();
    let labels = &read.table.labels;
    let fold =
        [stratified_folds(&labels[..cut], 3, 0).unwrap(), stratified_folds(&labels[cut..], 3, 0).unwrap()].concat();
    let config = CvConfig {
        folds: 3,
        path: PathConfig { n_lambdas: 8, ..PathConfig::default() },
        batch_folds: Some(false),
        ..CvConfig::default()
    };
    let one = cross_validate_folds(&data.x, &data.y, &fold, &config).unwrap();
    let points = spread["points"].as_array().unwrap();
    assert_eq!(points.len(), 8);
    for (p, q) in points.iter().zip(&one.points) {
        let f = |k: &str| p[k].as_f64().unwrap();
        assert!((f("lambda") - q.lambda).abs() <= 1e-12 * q.lambda, "{p} vs {q:?}");
        assert!((f("log_loss_mean") - q.log_loss_mean).abs() <= 1e-10 * q.log_loss_mean, "{p} vs {q:?}");
        assert_eq!(p["nonzero"], q.nonzero, "{p} vs {q:?}");
    }
    let lambda = |v: &serde_json::Value| v["lambda"].as_f64().unwrap();
    assert_eq!(lambda(&spread["best"]), points[one.best]["lambda"].as_f64().unwrap());
    assert_eq!(lambda(&spread["one_se"]), points[one.one_se]["lambda"].as_f64().unwrap());
    assert!((lambda(&spread["chosen"]) - one.points[one.best].lambda).abs() <= 1e-12 * lambda(&spread["chosen"]));
    let refit: Vec<bool> = one.full[one.best].coef.iter().map(|&w| w == 0.0).collect();
    assert_eq!(zeros(&spread["coef"]), refit);
    assert!(!refit.iter().all(|&z| z), "{refit:?}");
    // The model's recipe: one process's cv on the whole file records the same.
    let single = json(&Command::new(bin()).args(args(&whole, &m1)).output().unwrap());
    assert_eq!(single["features"], spread["features"]);
    assert_eq!(model_recipe(&m2), model_recipe(&m1));
}

/// `raw_csv(n)` with a weight column `w` before the label: `weight(i)` for data row i.
fn weighted_csv(n: usize, weight: impl Fn(usize) -> String) -> Vec<String> {
    let rows = raw_csv(n);
    let add = |row: &String, w: String| {
        let (head, label) = row.rsplit_once(',').unwrap();
        format!("{head},{w},{label}")
    };
    std::iter::once(add(&rows[0], "w".into()))
        .chain(rows[1..].iter().enumerate().map(|(i, r)| add(r, weight(i))))
        .collect()
}

/// `train` flags on `data` with the table flags, `extra`, and --json --out `out`.
fn train_args(data: &str, extra: &[&str], out: &Path) -> Vec<String> {
    ["train", "--data", data, "--solver", "newton", "--penalty", "l1", "--lambda", "0.02"]
        .into_iter()
        .chain(TABLE)
        .chain(extra.iter().copied())
        .chain(["--json", "--out"])
        .map(String::from)
        .chain([path(out)])
        .collect()
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// The objective and zeros of a `train --json` run.
fn objective_and_zeros(j: &serde_json::Value) -> (f64, Vec<bool>) {
    (j["solver"]["objective"].as_f64().unwrap(), zeros(&j["coef"]))
}

/// A weight column's cell for data row i.
type Weight<'a> = dyn Fn(usize) -> String + 'a;

/// Sample weights (a CSV column: zero on every row of rank 0 in one case) and class weights
/// (`balanced`, whose class totals are summed over the ranks, and `LABEL=W`) on 2 CSV shards reach
/// one process's weighted model on the whole file: the objective within 1e-10 relative, the same
/// zeros. Weights zero on every row of both ranks are refused on every rank in one line.
#[test]
fn weights_on_csv_shards_are_the_single_process_weights() {
    let dir = tempfile::tempdir().unwrap();
    let cut = 171;
    let (m1, m2) = (dir.path().join("one.safetensors"), dir.path().join("two.safetensors"));
    let varied = |i: usize| format!("{}", (i % 4) as f64 * 0.5 + if i.is_multiple_of(9) { 2.0 } else { 0.0 });
    let rank_zero_zero = |i: usize| if i < cut { "0".to_string() } else { format!("{}", 1 + i % 3) };
    let cases: [(&str, &Weight<'_>, &[&str]); 4] = [
        ("a weight column", &varied, &["--sample-weight", "w"]),
        ("weights zero on rank 0", &rank_zero_zero, &["--sample-weight", "w"]),
        ("balanced class weights", &varied, &["--sample-weight", "w", "--class-weight", "balanced"]),
        ("a class weight", &|_| "1".to_string(), &["--class-weight", "yes=3.5", "--drop", "w"]),
    ];
    for (case, weight, extra) in cases {
        let (whole, parts) = halves(dir.path(), &weighted_csv(400, weight), cut);
        let single = json(&Command::new(bin()).args(train_args(&whole, extra, &m1)).output().unwrap());
        let spread = json(&torchrun(2, &strs(&train_args(&parts, extra, &m2))));
        assert_eq!(spread["world_size"], 2, "{case}");
        let ((o1, z1), (o2, z2)) = (objective_and_zeros(&single), objective_and_zeros(&spread));
        assert!((o1 - o2).abs() <= 1e-10 * o1, "{case}: {o1} vs {o2}");
        assert_eq!(z1, z2, "{case}");
        assert!(z1.iter().any(|&z| !z), "{case}: every weight zero");
        assert_eq!(model_recipe(&m2), model_recipe(&m1), "{case}");
    }
    // The unweighted fit differs: the weights were used.
    let (whole, _) = halves(dir.path(), &weighted_csv(400, varied), cut);
    let plain = json(&Command::new(bin()).args(train_args(&whole, &["--drop", "w"], &m1)).output().unwrap());
    let weighted =
        json(&Command::new(bin()).args(train_args(&whole, &["--sample-weight", "w"], &m1)).output().unwrap());
    assert_ne!(plain["solver"]["objective"], weighted["solver"]["objective"]);
    // Zero on every rank: refused on each, naming the setting; nothing written.
    std::fs::remove_file(&m2).unwrap();
    let (_, parts) = halves(dir.path(), &weighted_csv(400, |_| "0".into()), cut);
    let args = train_args(&parts, &["--sample-weight", "w"], &m2);
    let port = super::dist::free_port();
    let children = (0..2).map(|r| super::dist::rank(r, 2, port, &strs(&args))).collect();
    super::dist::each_fails_with_one_line(children, "invalid sample_weight: every weight is zero");
    assert!(!m2.exists());
}

/// The last `count` little-endian f32 values of a `.npy` file.
fn npy_values(file: &Path, count: usize) -> Vec<f32> {
    let bytes = std::fs::read(file).unwrap();
    bytes[bytes.len() - count * 4..].chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// `.npy` sample weights under ranks, one file per rank (`w-{rank}.npy`) or one file of every
/// rank's rows in rank order, are one process's `--sample-weight w.npy` on the whole data.
#[test]
fn npy_weights_per_rank_or_in_rank_order_are_the_single_process_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d, cut) = (3_001, 5, 1_200);
    let (x, y) = super::dist::make_data(dir.path(), n, d);
    let (values, labels) = (npy_values(&x, n * d), npy_values(&y, n));
    let w: Vec<f32> = (0..n).map(|i| ((i * 7) % 5) as f32 * 0.25).collect();
    let write = super::dist::write_npy;
    write(&dir.path().join("w.npy"), &[n], &w);
    write(&dir.path().join("x-0.npy"), &[cut, d], &values[..cut * d]);
    write(&dir.path().join("x-1.npy"), &[n - cut, d], &values[cut * d..]);
    write(&dir.path().join("y-0.npy"), &[cut], &labels[..cut]);
    write(&dir.path().join("y-1.npy"), &[n - cut], &labels[cut..]);
    write(&dir.path().join("w-0.npy"), &[cut], &w[..cut]);
    write(&dir.path().join("w-1.npy"), &[n - cut], &w[cut..]);
    let out = path(&dir.path().join("m.safetensors"));
    let args = |x: &str, y: &str, w: &str| -> Vec<String> {
        ["train", "--data", x, "--labels", y, "--sample-weight", w, "--solver", "newton", "--penalty", "elastic-net"]
            .into_iter()
            .chain(["--lambda-l1", "0.01", "--lambda-l2", "0.002", "--json", "--out", &out])
            .map(String::from)
            .collect()
    };
    let single =
        json(&Command::new(bin()).args(args(&path(&x), &path(&y), &path(&dir.path().join("w.npy")))).output().unwrap());
    let (o1, z1) = objective_and_zeros(&single);
    assert!(z1.iter().any(|&z| z), "no zero to compare: {}", single["coef"]);
    let (xr, yr) = (path(&dir.path().join("x-{rank}.npy")), path(&dir.path().join("y-{rank}.npy")));
    // Rank-order weights also serve one shared data file (row ranges of 1 500 rows each).
    for (weights, data, labels) in [("w-{rank}.npy", &xr, &yr), ("w.npy", &xr, &yr), ("w.npy", &path(&x), &path(&y))] {
        let spread = json(&torchrun(2, &strs(&args(data, labels, &path(&dir.path().join(weights))))));
        let (o2, z2) = objective_and_zeros(&spread);
        assert!((o1 - o2).abs() <= 1e-10 * o1, "{weights} on {data}: {o1} vs {o2}");
        assert_eq!(z1, z2, "{weights} on {data}");
    }
}

/// `--validation-split` under 2 ranks: each rank holds out part of its own shard by one process's
/// rule (`held_out_rows`, here on each shard's labels with the run's seed). Computed apart: one
/// process trained on the shards' kept rows (no split) has the same objective (1e-10 relative)
/// and zeros, and the validation log-loss of the ranks' model over every rank's held-out rows,
/// summed here in f64, is the reported one (1e-5 relative: the model predicts in f32).
#[test]
fn a_validation_split_holds_out_from_each_shard() {
    use logreg::train::distributed_split::held_out_rows;
    let dir = tempfile::tempdir().unwrap();
    let (n, d, cut) = (3_001, 5, 1_300);
    let (x, y) = super::dist::make_data(dir.path(), n, d);
    let (values, labels) = (npy_values(&x, n * d), npy_values(&y, n));
    let write = super::dist::write_npy;
    write(&dir.path().join("x-0.npy"), &[cut, d], &values[..cut * d]);
    write(&dir.path().join("x-1.npy"), &[n - cut, d], &values[cut * d..]);
    write(&dir.path().join("y-0.npy"), &[cut], &labels[..cut]);
    write(&dir.path().join("y-1.npy"), &[n - cut], &labels[cut..]);
    let out = path(&dir.path().join("m.safetensors"));
    let fit = ["--solver", "newton", "--penalty", "l1", "--lambda", "0.01", "--json", "--out", &out];
    let (xr, yr) = (path(&dir.path().join("x-{rank}.npy")), path(&dir.path().join("y-{rank}.npy")));
    let split = ["train", "--data", &xr, "--labels", &yr, "--validation-split", "0.25", "--seed", "5"];
    let spread = json(&torchrun(2, &[&split[..], &fit[..]].concat()));
    // Each shard's rows kept and held out, placed in rank order.
    let (mut kept, mut held) = (vec![], vec![]);
    for rows in [0..cut, cut..n] {
        let (k, h) = held_out_rows(&labels[rows.clone()], 0.25, 5).unwrap();
        kept.extend(k.iter().map(|&i| rows.start + i as usize));
        held.extend(h.iter().map(|&i| rows.start + i as usize));
    }
    assert_eq!(spread["train"]["rows"], kept.len());
    assert_eq!(spread["validation"]["rows"], held.len());
    let row = |i: usize| &values[i * d..(i + 1) * d];
    write(
        &dir.path().join("xt.npy"),
        &[kept.len(), d],
        &kept.iter().flat_map(|&i| row(i).to_vec()).collect::<Vec<_>>(),
    );
    write(&dir.path().join("yt.npy"), &[kept.len()], &kept.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let (xt, yt) = (path(&dir.path().join("xt.npy")), path(&dir.path().join("yt.npy")));
    let single = json(
        &Command::new(bin())
            .args([&["train", "--data", &xt, "--labels", &yt][..], &fit[..]].concat())
            .output()
            .unwrap(),
    );
    let ((o1, z1), (o2, z2)) = (objective_and_zeros(&single), objective_and_zeros(&spread));
    assert!((o1 - o2).abs() <= 1e-10 * o1, "{o1} vs {o2}");
    assert_eq!(z1, z2);
    let coef: Vec<f64> = spread["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() as f32 as f64).collect();
    let b = spread["intercept"].as_f64().unwrap() as f32 as f64;
    // The mean log-loss of the model (coef, b) over `rows`, in f64.
    let mean_log_loss = |rows: &[usize], coef: &[f64], b: f64| -> f64 {
        rows.iter()
            .map(|&i| {
                let z = b + row(i).iter().zip(coef).map(|(&v, w)| f64::from(v) * w).sum::<f64>();
                // log(1 + e^z) − y·z, stably.
                z.max(0.0) + (-z.abs()).exp().ln_1p() - f64::from(labels[i]) * z
            })
            .sum::<f64>()
            / rows.len() as f64
    };
    let loss = mean_log_loss(&held, &coef, b);
    let reported = spread["validation"]["log_loss"].as_f64().unwrap();
    assert!((loss - reported).abs() <= 1e-5 * loss, "{loss} vs {reported}");
    // Full-batch SGD on two equal shards (the same rows twice, so both keep as many): one
    // process on the kept rows has the ranks' losses (1e-6), and the last epoch's validation loss
    // is the final model's mean log-loss over both ranks' held-out rows (each shard's twice).
    let rows0: Vec<f32> = values[..cut * d].to_vec();
    write(&dir.path().join("x-1.npy"), &[cut, d], &rows0);
    write(&dir.path().join("y-1.npy"), &[cut], &labels[..cut]);
    let (k, h) = held_out_rows(&labels[..cut], 0.25, 5).unwrap();
    let twice = |v: &[i64]| -> Vec<usize> { v.iter().chain(v).map(|&i| i as usize).collect() };
    let (kept, held) = (twice(&k), twice(&h));
    write(
        &dir.path().join("xt.npy"),
        &[kept.len(), d],
        &kept.iter().flat_map(|&i| row(i).to_vec()).collect::<Vec<_>>(),
    );
    write(&dir.path().join("yt.npy"), &[kept.len()], &kept.iter().map(|&i| labels[i]).collect::<Vec<_>>());
    let sgd = ["--solver", "sgd", "--epochs", "30", "--lr", "0.1", "--penalty", "l2", "--json", "--out", &out];
    let spread = json(&torchrun(2, &[&split[..], &sgd[..]].concat()));
    let same_seed = ["train", "--data", &xt, "--labels", &yt, "--seed", "5"];
    let single = json(&Command::new(bin()).args([&same_seed[..], &sgd[..]].concat()).output().unwrap());
    let losses = |j: &serde_json::Value, k: &str| -> Vec<f64> {
        j[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let (a, b) = (losses(&single, "losses"), losses(&spread, "losses"));
    assert_eq!((a.len(), b.len()), (30, 30));
    assert!(a.iter().zip(&b).all(|(u, v)| (u - v).abs() <= 1e-6), "{a:?} vs {b:?}");
    let validation = losses(&spread, "validation_losses");
    assert_eq!(validation.len(), 30);
    let coef: Vec<f64> = spread["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
    let b = spread["intercept"].as_f64().unwrap();
    let last = mean_log_loss(&held, &coef, b);
    assert!((validation[29] - last).abs() <= 1e-5 * last, "{validation:?} vs {last}");
    assert!((spread["validation"]["log_loss"].as_f64().unwrap() - last).abs() <= 1e-5 * last);
    // A shard of one class cannot be split by the rule: rank 1 says so, rank 0 that it failed.
    write(&dir.path().join("y-1.npy"), &[cut], &vec![0.0; cut]);
    let port = super::dist::free_port();
    let args = [&split[..], &fit[..]].concat();
    let outs: Vec<_> = (0..2).map(|r| super::dist::rank(r, 2, port, &args)).collect::<Vec<_>>();
    let errs: Vec<String> = outs.into_iter().map(|c| crate::cli::stderr(&c.wait_with_output().unwrap())).collect();
    assert!(errs.iter().all(|e| e.lines().count() == 1), "{errs:?}");
    assert!(errs[0].starts_with("error: rank 0: holding out --validation-split: rank 1 failed"), "{}", errs[0]);
    assert!(
        errs[1].starts_with("error: rank 1: holding out --validation-split: ")
            && errs[1].contains("every shard needs rows of both classes"),
        "{}",
        errs[1]
    );
}

/// Hostile CSV shards end every rank with one line naming the rank at fault, exit code 2, nothing
/// written: another header (path and cv), a weight column missing on rank 1, a negative weight on
/// rank 1, and a label value only rank 1 holds (named with rank 1's file, not rank 0's).
#[test]
fn hostile_csv_shards_end_every_rank_naming_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let cut = 171;
    let out = dir.path().join("m.safetensors");
    let run = |args: &[String]| -> Vec<(Option<i32>, String)> {
        let port = super::dist::free_port();
        let children: Vec<_> = (0..2).map(|r| super::dist::rank(r, 2, port, &strs(args))).collect();
        children
            .into_iter()
            .map(|c| {
                let o = c.wait_with_output().unwrap();
                (o.status.code(), crate::cli::stderr(&o))
            })
            .collect()
    };
    let check = |outs: &[(Option<i32>, String)], zero: &str, one: &str| {
        for (r, (code, err)) in outs.iter().enumerate() {
            assert_eq!(*code, Some(2), "rank {r}: {err}");
            assert_eq!(err.lines().count(), 1, "rank {r}: {err}");
            let expected = if r == 0 { zero } else { one };
            assert!(err.starts_with(&format!("error: rank {r}: ")) && err.contains(expected), "rank {r}: {err}");
        }
        assert!(!out.exists());
    };
    // Rank 1's header names another column: path and cv stop on both ranks.
    let rows = raw_csv(400);
    let (_, parts) = halves(dir.path(), &rows, cut);
    let part1 = dir.path().join("part-1.csv");
    let renamed = std::fs::read_to_string(&part1).unwrap().replacen("c,color", "d,color", 1);
    std::fs::write(&part1, renamed).unwrap();
    let path_args: Vec<String> =
        ["path", "--data", &parts, "--n-lambdas", "4"].into_iter().chain(TABLE).map(String::from).collect();
    let header = "rank 1's header differs from rank 0's";
    check(&run(&path_args), header, header);
    let cv_args: Vec<String> = ["cv", "--data", &parts, "--folds", "3", "--out", &path(&out)]
        .into_iter()
        .chain(TABLE)
        .map(String::from)
        .collect();
    check(&run(&cv_args), header, header);
    // The weight column only on rank 0.
    let weighted = weighted_csv(400, |_| "1".into());
    halves(dir.path(), &weighted, cut);
    std::fs::write(&part1, [&rows[..1], &rows[cut + 1..]].concat().join("\n") + "\n").unwrap();
    let args = train_args(&parts, &["--sample-weight", "w"], &out);
    check(&run(&args), "reading the shards: rank 1 failed", "no --sample-weight column `w`");
    // A negative weight on rank 1 (its third row, line 4 of its file).
    halves(dir.path(), &weighted_csv(400, |i| if i == cut + 2 { "-1".into() } else { "1".into() }), cut);
    let negative = run(&args);
    check(&negative, "reading the shards: rank 1 failed", "part-1.csv:4:");
    assert!(negative[1].1.contains("sample weight -1 is not a finite number ≥ 0"), "{}", negative[1].1);
    // A third label only rank 1 holds: both ranks name rank 1's file.
    let mut third = rows.clone();
    third[300] = third[300].replace(",yes", ",maybe").replace(",no", ",maybe");
    halves(dir.path(), &third, cut);
    let message = format!(
        "{}: label column `y` holds 3 values over the shards (rank 1's shard brings a third, `maybe`)",
        path(&part1)
    );
    check(&run(&train_args(&parts, &[], &out)), &message, &message);
}

/// SIGTERM to one rank of a 2-rank SGD run is handled as Ctrl-C: the stop is voted on in the next
/// sum, both ranks end at the same epoch with one line each and exit code 130, no model written.
#[test]
fn sigterm_to_one_rank_stops_every_rank_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::dist::make_data(dir.path(), 2_000, 5);
    let out = dir.path().join("m.safetensors");
    let args: Vec<String> = ["train", "--data", &path(&x), "--labels", &path(&y), "--solver", "sgd", "--lr", "0.01"]
        .into_iter()
        .chain(["--epochs", "10000000", "--out", &path(&out)])
        .map(String::from)
        .collect();
    let port = super::dist::free_port();
    let mut ranks: Vec<_> = (0..2).map(|r| super::dist::rank(r, 2, port, &strs(&args))).collect();
    for child in &mut ranks {
        crate::data_cli::wait_for_sigint_handler(child, &strs(&args));
    }
    // Well into training (the handler is installed before the ranks join).
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(Command::new("kill").args(["-TERM", &ranks[1].id().to_string()]).status().unwrap().success());
    let outs: Vec<_> =
        ranks.into_iter().map(|c| super::dist::wait_within(c, std::time::Duration::from_secs(60), "a rank")).collect();
    let errs: Vec<String> = outs.iter().map(crate::cli::stderr).collect();
    let at = |e: &str| {
        e.split("interrupted at epoch ")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .map(String::from)
    };
    for (r, (o, e)) in outs.iter().zip(&errs).enumerate() {
        assert_eq!(o.status.code(), Some(130), "rank {r}: {e}");
        assert_eq!(e.lines().count(), 1, "rank {r}: {e}");
        assert!(e.starts_with(&format!("error: rank {r}: interrupted at epoch ")), "rank {r}: {e}");
    }
    assert_eq!(at(&errs[0]), at(&errs[1]), "{errs:?}");
    assert!(!out.exists());
}
