//! Out-of-core data and the fused engine through the binary: `convert`, `train --stream`,
//! `evaluate --stream`, a killed streaming run resumed, and every refusal.

use std::path::Path;

use crate::cli::{logreg, stderr, stdout};
use crate::data_cli::kill_and_resume;

const BREAST_CANCER: &str = "fixtures/breast_cancer.csv";

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = logreg(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Writes the breast-cancer CSV standardized into `dir` (so that f32 scores stay small and the
/// engines can be compared closely), converts it; returns the features' and labels' paths.
fn convert(dir: &Path) -> (String, String) {
    let (file, bytes) = logreg::data::table::read_source(Path::new(BREAST_CANCER)).unwrap();
    let t = logreg::data::table::parse(&file, &bytes, &logreg::data::table::LabelColumn::Last).unwrap();
    let d = t.feature_names.len();
    let column = |j: usize| t.features.iter().skip(j).step_by(d).map(|&v| f64::from(v));
    let stats: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            let mean = column(j).sum::<f64>() / t.rows() as f64;
            (mean, (column(j).map(|v| (v - mean).powi(2)).sum::<f64>() / t.rows() as f64).sqrt())
        })
        .collect();
    let mut csv = format!("{},{}\n", t.feature_names.join(","), t.label_name.as_deref().unwrap());
    for (row, label) in t.features.chunks(d).zip(&t.labels) {
        let cells: Vec<String> =
            row.iter().zip(&stats).map(|(&v, (m, s))| ((f64::from(v) - m) / s).to_string()).collect();
        csv += &format!("{},{label}\n", cells.join(","));
    }
    let source = dir.join("bc.csv");
    std::fs::write(&source, csv).unwrap();
    let x = dir.join("bc.npy").to_str().unwrap().to_string();
    let out = logreg(&["convert", source.to_str().unwrap(), &x]);
    assert!(out.status.success(), "{}", stderr(&out));
    let y = dir.join("bc.labels.npy").to_str().unwrap().to_string();
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("wrote {x} (569 rows × 30 features, f32), {y} (labels `benign`) and ")),
        "{text}"
    );
    (x, y)
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * x.abs().max(1e-3), "{what}: {x} vs {y}");
    }
}

#[test]
fn converted_data_streams_to_the_in_memory_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    let model = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let common = ["train", "--solver", "adam", "--lr", "0.01", "--epochs", "40", "--seed", "2", "--json", "--quiet"];
    // The CSV in memory, with autograd: the reference.
    let source = dir.path().join("bc.csv");
    let source = source.to_str().unwrap();
    let csv = json_of(&[&common[..], &["--data", source, "--device", "cpu", "--out", &model("a")]].concat());
    let npy = ["--data", x.as_str(), "--labels", y.as_str()];
    let fused = json_of(&[&common[..], &npy, &["--engine", "fused", "--out", &model("f")]].concat());
    // 12 chunks of 50 rows, dealt to the threads.
    let stream = json_of(&[&common[..], &npy, &["--stream", "--chunk-rows", "50", "--out", &model("s")]].concat());
    assert_close(&floats(&csv["losses"]), &floats(&fused["losses"]), 1e-5, "fused vs autograd losses");
    assert_close(&floats(&fused["losses"]), &floats(&stream["losses"]), 1e-6, "stream vs in-memory losses");
    assert_close(&floats(&csv["coef"]), &floats(&stream["coef"]), 1e-4, "stream vs autograd weights");
    assert_eq!(stream["train"]["rows"], 569);

    // evaluate --stream scores the file chunk by chunk, as evaluate does in memory, also for a
    // model that carries a standardizer (folded into the weights when streaming).
    // The raw breast-cancer data (means up to 880, stds up to 570), standardized by the model.
    let (raw_x, raw_y) = (model("raw.npy"), model("raw.labels.npy"));
    assert!(logreg(&["convert", BREAST_CANCER, &raw_x]).status.success());
    let raw = ["--data", raw_x.as_str(), "--labels", raw_y.as_str()];
    let z = json_of(&[&common[..], &raw, &["--engine", "fused", "--standardize", "--out", &model("z")]].concat());
    // Streamed, the statistics come from one more pass over the file and each chunk is scaled
    // as it is read: the same training, to rounding.
    let zs = json_of(
        &[&common[..], &raw, &["--stream", "--chunk-rows", "50", "--standardize", "--out", &model("zs")]].concat(),
    );
    assert_close(&floats(&z["losses"]), &floats(&zs["losses"]), 1e-5, "standardized, stream vs in-memory");
    assert_close(&floats(&z["coef"]), &floats(&zs["coef"]), 1e-4, "standardized weights");
    for (name, data) in [("s", npy), ("z", raw), ("zs", raw)] {
        let evaluate = |extra: &[&str]| {
            json_of(&[&["evaluate", "--model", &model(name), "--json", "--device", "cpu"][..], &data, extra].concat())
        };
        let (whole, streamed) = (evaluate(&[]), evaluate(&["--stream"]));
        for key in ["rows", "accuracy", "confusion"] {
            assert_eq!(whole[key], streamed[key], "{name}: {key}");
        }
        for key in ["log_loss", "roc_auc"] {
            let (a, b) = (whole[key].as_f64().unwrap(), streamed[key].as_f64().unwrap());
            assert!((a - b).abs() < 1e-6, "{name}: {key}: {a} vs {b}");
        }
        assert!(streamed["roc_auc"].as_f64().unwrap() > 0.9, "{streamed}");
    }
}

#[test]
fn a_streaming_run_killed_and_resumed_ends_with_the_uninterrupted_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    // Many small chunks and batches, so that the run lasts long enough to be killed.
    let common = [
        "train",
        "--data",
        &x,
        "--labels",
        &y,
        "--stream",
        "--chunk-rows",
        "16",
        "--solver",
        "adam",
        "--lr",
        "0.001",
        "--batch-size",
        "4",
        "--epochs",
        "3000",
        "--seed",
        "5",
        "--json",
        "--quiet",
    ];
    kill_and_resume(dir.path(), &common, "100");
}

#[test]
fn streaming_refusals_are_one_line_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    let out = dir.path().join("m.safetensors").to_str().unwrap().to_string();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "a,b,y\n1,2,0\n3,x,1\n").unwrap();
    let bad_csv = bad_csv.to_str().unwrap();
    let (c_npy, c_csv) = (dir.path().join("c.npy"), dir.path().join("c.csv"));
    let (c_npy, c_csv) = (c_npy.to_str().unwrap(), c_csv.to_str().unwrap());
    let stream = ["train", "--stream", "--data", x.as_str(), "--labels", y.as_str(), "--out", out.as_str()];
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["train", "--stream", "--data", BREAST_CANCER, "--out", &out],
            "--stream reads a .npy --data (make one with `logreg convert data.csv data.npy`)".into(),
        ),
        (vec!["train", "--stream", "--data", &x, "--out", &out], "--labels: a .npy --data needs its labels".into()),
        ([&stream[..], &["--engine", "autograd"]].concat(), "--stream trains with --engine fused".into()),
        (
            [&stream[..], &["--validation-split", "0.2"]].concat(),
            "invalid --validation-split: when streaming (hold out a file".into(),
        ),
        (
            [&stream[..], &["--solver", "newton"]].concat(),
            "--stream trains with --solver sgd or adam (newton and fista need the data in memory)".into(),
        ),
        ([&stream[..], &["--chunk-rows", "0"]].concat(), "invalid --chunk-rows: 0 (must be at least 1)".into()),
        (
            vec!["train", "--data", BREAST_CANCER, "--chunk-rows", "10", "--out", &out],
            "--chunk-rows applies with --stream".into(),
        ),
        (
            vec!["train", "--engine", "fused", "--solver", "fista", "--data", BREAST_CANCER, "--out", &out],
            "--engine fused applies to --solver sgd and adam".into(),
        ),
        (
            vec!["train", "--stream", "--data", &y, "--labels", &y, "--out", &out],
            format!("{y}: features must be a 2-D array (rows, columns), found shape [569]"),
        ),
        (vec!["convert", bad_csv, c_npy], format!("{bad_csv}:3:2: `x` is not a number (column `b`)")),
        (vec!["convert", BREAST_CANCER, c_csv], "must be a file name ending in .npy".into()),
        (
            vec!["convert", BREAST_CANCER, c_npy, "--label", "nope"],
            format!("{BREAST_CANCER}:1: no label column `nope`"),
        ),
    ];
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    for (args, expected) in cases {
        let o = logreg(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(&expected), "{args:?}: {err} lacks {expected}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before, "{args:?} left a file");
    }
}

/// Files in `dir` that a killed run could have left: our temporary names.
fn leftovers(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with(".logreg-")).collect()
}

#[test]
fn runs_killed_at_random_moments_leave_no_temporary_file_no_half_output_and_resume_exactly() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // 60,000 rows × 20 columns: `convert` takes a few hundred milliseconds here.
    let (rows, cols) = (60_000usize, 20usize);
    let mut csv = (0..cols).map(|j| format!("x{j}")).collect::<Vec<_>>().join(",") + ",y\n";
    for i in 0..rows {
        for j in 0..cols {
            csv += &format!("{},", ((i * 31 + j * 17) % 1000) as f32 / 250.0 - 2.0);
        }
        csv += if i % 3 == 0 { "1\n" } else { "0\n" };
    }
    std::fs::write(path("big.csv"), csv).unwrap();
    let npy_bytes = (128 + rows * cols * 4) as u64;
    let sgd = ["train", "--data", BREAST_CANCER, "--solver", "sgd", "--epochs", "30000", "--device", "cpu", "--json"];
    // What every resumed run must end with, to the bit.
    let full: serde_json::Value =
        serde_json::from_str(&stdout(&logreg(&[&sgd[..], &["--out", &path("full.st")]].concat()))).unwrap();
    let mut resumed = 0;
    let runs: [Vec<String>; 3] = [
        vec!["convert".into(), path("big.csv"), path("big.npy")],
        // A checkpoint every epoch: most kills land during or between checkpoint writes.
        [&sgd[..], &["--checkpoint-every", "1", "--checkpoint", &path("m.ckpt"), "--out", &path("m.safetensors")]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ["train", "--data", BREAST_CANCER, "--solver", "newton", "--device", "cpu", "--plot"]
            .iter()
            .map(|s| s.to_string())
            .chain([path("loss.png"), "--out".into(), path("n.safetensors")])
            .collect(),
    ];
    // How long each run takes here uninterrupted: the kills land at fractions of it, whatever
    // the machine's speed.
    let took: Vec<f64> = runs
        .iter()
        .map(|run| {
            let started = std::time::Instant::now();
            let out = Command::new(crate::cli::bin()).args(run).output().unwrap();
            assert!(out.status.success(), "{run:?}: {}", stderr(&out));
            started.elapsed().as_secs_f64()
        })
        .collect();
    for file in ["m.ckpt", "m.ckpt.losses", "m.safetensors", "big.npy", "n.safetensors", "loss.png"] {
        std::fs::remove_file(path(file)).unwrap();
    }
    // A fixed sequence of moments (an LCG), so that a failure can be replayed.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut kills = 0;
    for round in 0..24 {
        let run = &runs[round % 3];
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // Anywhere in the run; the checkpointing run's after its first checkpoint, anywhere in the
        // third of a run's length that follows (whatever else the machine is doing meanwhile).
        let fraction = ((state >> 33) % 1000) as f64 / 1000.0;
        // A run that ends before its moment (the machine in a quicker spell than when it was
        // timed) is run again with the moment halved, up to three more times: whole outputs of a
        // finished run are checked below all the same.
        let mut killed = false;
        for attempt in 0..4 {
            if attempt > 0 && round % 3 == 1 {
                for file in ["m.ckpt", "m.ckpt.losses", "m.safetensors"] {
                    let _ = std::fs::remove_file(path(file));
                }
            }
            let mut child =
                Command::new(crate::cli::bin()).args(run).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            let wait = if round % 3 == 1 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !Path::new(&path("m.ckpt")).exists() && child.try_wait().unwrap().is_none() {
                    assert!(std::time::Instant::now() < deadline, "round {round}: no checkpoint was written");
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                took[1] * 0.3 * fraction
            } else {
                took[round % 3] * (0.05 + 0.85 * fraction)
            };
            std::thread::sleep(std::time::Duration::from_secs_f64(wait * 0.5f64.powi(attempt)));
            killed = child.try_wait().unwrap().is_none();
            if killed {
                child.kill().unwrap(); // SIGKILL
            }
            child.wait().unwrap();
            if killed {
                kills += 1;
                break;
            }
        }
        // Whatever exists is whole: the features file has its full size, a model loads.
        if let Ok(meta) = std::fs::metadata(path("big.npy")) {
            assert_eq!(meta.len(), npy_bytes, "round {round}: a partial big.npy");
        }
        for model in ["m.safetensors", "n.safetensors"] {
            if Path::new(&path(model)).exists() {
                logreg::model::file::SavedModel::load(Path::new(&path(model))).unwrap();
            }
        }
        // A killed checkpointing run resumes to exactly the uninterrupted run; then the next
        // round starts afresh.
        if killed && round % 3 == 1 && Path::new(&path("m.ckpt")).exists() {
            let args: Vec<&str> = run.iter().map(String::as_str).collect();
            let out = logreg(&[&args[..], &["--resume", &path("m.ckpt")]].concat());
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
            let again: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            for key in ["coef", "intercept", "losses"] {
                assert_eq!(full[key], again[key], "round {round}: {key} differs after resuming");
            }
            resumed += 1;
        }
        for file in ["m.ckpt", "m.ckpt.losses", "m.safetensors"] {
            let _ = std::fs::remove_file(path(file));
        }
    }
    assert!(resumed >= 6, "only {resumed} of 8 checkpointing runs were resumed");
    eprintln!("{kills} of 24 runs killed, {resumed} resumed exactly");
    assert!(kills >= 18, "only {kills} of 24 runs were killed mid-way");
    // A kill between naming a finished file and renaming it can leave a name; the next run that
    // writes into the folder removes it. One more run of each, to the end:
    let out = logreg(&["convert", &path("big.csv"), &path("big.npy")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = logreg(&[
        "train",
        "--data",
        BREAST_CANCER,
        "--solver",
        "newton",
        "--device",
        "cpu",
        "--out",
        &path("n.safetensors"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "after {kills} kills");
}

#[test]
fn a_file_size_limit_is_a_one_line_error_that_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bc.npy");
    std::fs::write(&out, b"the previous output").unwrap();
    // 569 rows × 30 features of f32 need 68 KB; the limit is 32 KiB.
    let script = "ulimit -f 32; exec \"$0\" convert \"$1\" \"$2\"";
    let run = std::process::Command::new("bash")
        .args(["-c", script])
        .arg(crate::cli::bin())
        .args([BREAST_CANCER, out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.ends_with("File too large (os error 27)\n") && err.lines().count() == 1, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"the previous output");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A checkpoint that cannot be written (1 KiB allowed) leaves neither it nor its loss file.
    let model = dir.path().join("k.st");
    let script = "ulimit -f 1; exec \"$0\" train --data \"$1\" --solver sgd --epochs 20 --checkpoint-every 5 --device cpu --out \"$2\"";
    let run = std::process::Command::new("bash")
        .args(["-c", script])
        .arg(crate::cli::bin())
        .args([BREAST_CANCER, model.to_str().unwrap()])
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: --checkpoint: ") && err.ends_with("File too large (os error 27)\n"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the earlier bc.npy");
}

#[test]
fn endless_devices_given_as_inputs_are_one_line_errors_not_endless_reads() {
    let dir = tempfile::tempdir().unwrap();
    let link = |name: &str, to: &str| {
        let p = dir.path().join(name);
        std::os::unix::fs::symlink(to, &p).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (zero_model, random_model) = (link("z.safetensors", "/dev/zero"), link("r.safetensors", "/dev/urandom"));
    let (zero_npy, zero_labels) = (link("z.npy", "/dev/zero"), link("z.labels.npy", "/dev/zero"));
    let (x, y) = convert(dir.path());
    let model = dir.path().join("m.safetensors").to_str().unwrap().to_string();
    let trained =
        logreg(&["train", "--data", &x, "--labels", &y, "--solver", "newton", "--out", &model, "--device", "cpu"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["predict", "--model", &zero_model, "--data", BREAST_CANCER],
            format!("{zero_model}: not a logreg model file"),
        ),
        (
            vec!["predict", "--model", &random_model, "--data", BREAST_CANCER],
            format!("{random_model}: not a logreg model file"),
        ),
        (
            vec!["train", "--data", &zero_npy, "--labels", &y],
            format!("{zero_npy}: not a .npy file (no \\x93NUMPY magic)"),
        ),
        (vec!["train", "--data", &x, "--labels", &zero_labels], format!("{zero_labels}: not a .npy file")),
        (
            vec!["evaluate", "--model", &model, "--data", &x, "--labels", &zero_labels],
            format!("{zero_labels}: not a .npy file"),
        ),
    ];
    for (args, expected) in cases {
        let started = std::time::Instant::now();
        let out = logreg(&[&args[..], &["--device", "cpu"]].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(&format!("error: {expected}")) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(started.elapsed().as_secs() < 20, "{args:?} read for {:?}", started.elapsed());
    }
}

/// The standard error of a `train --stream` run whose features file `change` alters mid-run,
/// after checking it ended in one line, exit 2 and no model.
fn changed_while_training(change: impl FnOnce(&str)) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = convert(dir.path());
    let model = dir.path().join("m.safetensors");
    let mut child = std::process::Command::new(crate::cli::bin())
        .args(["train", "--data", &x, "--labels", &y, "--stream", "--chunk-rows", "50", "--epochs", "100000000"])
        .args(["--device", "cpu", "--out"])
        .arg(&model)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The handler is installed once the file is open and training is about to start.
    crate::data_cli::wait_for_sigint_handler(&mut child, &["train", "--stream"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    change(&x);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!model.exists());
    (x, err)
}

#[test]
fn a_streamed_file_cut_short_while_training_is_a_one_line_error() {
    let (_, err) = changed_while_training(|x| {
        let size = std::fs::metadata(x).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(x).unwrap().set_len(size / 2).unwrap();
    });
    assert!(err.contains("shrank"), "{err}");
}

/// The same file rewritten in place at the same size (other rows, no size to notice) mid-run.
#[test]
fn a_streamed_file_rewritten_in_place_while_training_is_a_one_line_error() {
    use std::io::{Seek, Write};
    let (x, err) = changed_while_training(|x| {
        let size = std::fs::metadata(x).unwrap().len();
        let mut file = std::fs::OpenOptions::new().write(true).open(x).unwrap();
        file.seek(std::io::SeekFrom::End(-4)).unwrap();
        file.write_all(&0.5f32.to_le_bytes()).unwrap();
        drop(file);
        assert_eq!(std::fs::metadata(x).unwrap().len(), size);
    });
    assert!(
        err.ends_with(&format!("{x}: the file was rewritten while it was read: train again once it is still\n")),
        "{err}"
    );
}

#[test]
fn messages_name_the_flag_and_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (x, _) = convert(dir.path());
    let ones = dir.path().join("ones.labels.npy");
    let status = std::process::Command::new(crate::python())
        .args(["-c", "import numpy as np, sys; np.save(sys.argv[1], np.ones(569, dtype=np.float32))"])
        .arg(&ones)
        .status()
        .unwrap();
    assert!(status.success());
    let ones = ones.to_str().unwrap();
    // Labels of one's own making: without the recipe file, whose checksum would refuse them first.
    std::fs::remove_file(dir.path().join("bc.recipe.json")).unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let cases: [(Vec<&str>, String); 2] = [
        // One class: the labels file is named, not the features.
        (vec!["train", "--data", &x, "--labels", ones, "--stream"], format!("{ones}: the labels hold only class 1")),
        // A C so small that 1/(C·n) overflows is reported as C, not as the λ it maps to.
        (vec!["train", "--data", BREAST_CANCER, "--C", "1e-320"], "invalid --C: 1e-320 (so small that".into()),
    ];
    for (args, expected) in cases {
        let out = logreg(&[&args[..], &["--out", m, "--device", "cpu"]].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with(&format!("error: {expected}")) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(!model.exists());
    }
}

#[test]
fn a_streamed_file_changed_in_the_middle_does_not_resume_even_with_its_size_and_time() {
    let dir = tempfile::tempdir().unwrap();
    // 3.6 MB: more than the first and last MiB that the fingerprint once read.
    let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let script = "import numpy as np, sys; x = np.random.default_rng(0).standard_normal((30000, 30)).astype('<f4'); \
                  np.save(sys.argv[1], x); np.save(sys.argv[2], (x[:, 0] > 0).astype('<f4'))";
    let made = std::process::Command::new(crate::python()).args(["-c", script]).arg(&x).arg(&y).status().unwrap();
    assert!(made.success());
    let (x, y) = (x.to_str().unwrap().to_string(), y.to_str().unwrap().to_string());
    let (model, ckpt) = (dir.path().join("m.st"), dir.path().join("m.ckpt"));
    let (m, c) = (model.to_str().unwrap(), ckpt.to_str().unwrap());
    let run = |epochs: &str, extra: &[&str]| {
        let args = ["train", "--data", &x, "--labels", &y, "--stream", "--epochs", epochs, "--device", "cpu"];
        logreg(&[&args[..], &["--out", m, "--checkpoint-every", "5", "--checkpoint", c], extra].concat())
    };
    let out = run("20", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // One value in the middle of the file changed (a cell moved from a row to another would do):
    // same size, same modification time, same first and last MiB.
    let before = std::fs::metadata(&x).unwrap();
    let mut bytes = std::fs::read(&x).unwrap();
    let middle = bytes.len() / 2 / 4 * 4;
    bytes[middle..middle + 4].copy_from_slice(&0.25f32.to_le_bytes());
    std::fs::write(&x, &bytes).unwrap();
    let file = std::fs::File::options().write(true).open(&x).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    let out = run("40", &["--resume", c]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the checkpoint was written for other data or settings"), "{}", stderr(&out));
}

/// What a red-team pass found after the hardening, each now one line with exit 2 and nothing
/// (re)written.
#[test]
fn red_team_findings_are_one_line_errors_that_keep_earlier_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let model = p("m.safetensors");
    let out = logreg(&["train", "--data", BREAST_CANCER, "--device", "cpu", "--out", &model, "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let header = std::fs::read_to_string(BREAST_CANCER).unwrap().lines().next().unwrap().to_string();
    let huge = format!("{header}\n{},1\n{},0\n", ["3e38"; 30].join(","), ["-3e38"; 30].join(","));
    std::fs::write(p("huge.csv"), huge).unwrap();
    std::fs::write(p("esc.csv"), "a\x1b[31mRED,\"b\x07\nq\",y\n1,2,0\n3,4,1\n").unwrap();
    let out = logreg(&["train", "--data", &p("esc.csv"), "--device", "cpu", "--out", &p("esc.st"), "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(p("abc.csv"), "a,b,c,y\n1,2,3,0\n").unwrap();
    std::fs::write(p("ovf.csv"), "a,b,y\n3e38,1,1\n3e38,2,0\n3e38,3,1\n-1,4,0\n").unwrap();
    let before = std::fs::read(&model).unwrap();
    let (huge, esc, abc, ovf, ckpt) = (p("huge.csv"), p("esc.st"), p("abc.csv"), p("ovf.csv"), p("c.ckpt"));
    let cases: Vec<(Vec<&str>, String)> = vec![
        // Finite values whose scores overflow: no NaN probability is written.
        (
            vec!["predict", "--model", &model, "--data", &huge],
            format!("{}: row 1: the model's score is not a number", huge),
        ),
        (
            vec!["evaluate", "--model", &model, "--data", &huge],
            format!("{}: row 1: the model's score is not a number", huge),
        ),
        // Column names from a header are escaped in the mismatch message.
        (vec!["predict", "--model", &esc, "--data", &abc], "missing `a\\u{1b}[31mRED`, `b\\u{7}\\nq`".into()),
        // A device output that fails comes before the model is replaced.
        (vec!["train", "--data", BREAST_CANCER, "--out", &model, "--plot", "/dev/full"], "--plot /dev/full: ".into()),
        (
            vec!["train", "--data", BREAST_CANCER, "--solver", "sgd", "--checkpoint", &ckpt, "--out", &model],
            "--checkpoint names where --checkpoint-every N writes".into(),
        ),
        (vec!["path", "--data", &ovf, "--standardize"], "--data: λ_max, the gradient at zero, is NaN".into()),
        (
            vec!["train", "--data", BREAST_CANCER, "--alpha", "1e308", "--lambda", "0.1", "--out", &model],
            "invalid --alpha: 1e308 (".into(),
        ),
    ];
    for (args, expected) in cases {
        let out = logreg(&[&args[..], &["--device", "cpu"]].concat());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&expected) && err.lines().count() == 1, "{args:?}: {err:?} lacks {expected:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(std::fs::read(&model).unwrap(), before, "{args:?} replaced the model");
    }
    // A header of endless fields ends at a bound, not at the memory's end.
    let mut child = std::process::Command::new(crate::cli::bin())
        .args(["train", "--data", "-", "--device", "cpu", "--out", &p("never.st")])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        use std::io::Write;
        let block = "1,".repeat(1 << 16);
        while stdin.write_all(block.as_bytes()).is_ok() {}
    });
    let out = child.wait_with_output().unwrap();
    feed.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("<stdin>:1: a record longer than 256 MiB or of more than 16777216 fields"),
        "{}",
        stderr(&out)
    );
}
