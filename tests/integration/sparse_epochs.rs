//! `train --solver sgd|adam` on sparse `--data`: the fused engine on CSR rows follows the dense
//! engine on the same rows made dense (same seed, so the same split, start and batches), in memory
//! and `--stream`ed from a `.lrcsr` file, whose memory stays bounded by a chunk; a damaged file
//! is one line with exit 2 and nothing written.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::cli::{bin, logreg, stderr};
use crate::sparse_cli::{train_json, write_files};

fn assert_close(a: &Value, b: &Value, key: &str, tol: f64) {
    let (a, b) = (a[key].as_array().unwrap(), b[key].as_array().unwrap());
    assert_eq!(a.len(), b.len(), "{key}");
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
        assert!((x - y).abs() <= tol * x.abs().max(1.0), "{key}: {x} vs {y}");
    }
}

#[test]
fn sgd_and_adam_on_sparse_rows_follow_the_dense_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, csv) = write_files(dir.path());
    let lrcsr = dir.path().join("d.lrcsr").display().to_string();
    assert!(logreg(&["convert", &svm, &lrcsr]).status.success());
    let model = dir.path().join("m.safetensors").display().to_string();
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("sgd", &["--penalty", "l1", "--lambda", "0.01"], &["--batch-size", "16", "--validation-split", "0.25"]),
        ("adam", &["--penalty", "l2", "--lambda", "0.01"], &["--batch-size", "16"]),
        ("adam", &["--alpha", "0.5", "--lambda", "0.02"], &["--validation-split", "0.25"]),
        ("sgd", &["--C", "0.5"], &[]),
    ];
    for (solver, penalty, batches) in cases {
        let mut common = vec!["--solver", solver, "--epochs", "8", "--lr", "0.1", "--seed", "7", "--json", "--quiet"];
        common.extend(["--out", &model]);
        common.extend(penalty);
        common.extend(batches);
        let run = |data: &[&str]| train_json(&[&["train", "--data"], data, &common[..]].concat());
        let dense = run(&[&csv, "--engine", "fused", "--device", "cpu"]);
        let sparse = run(&[&svm]);
        let what = format!("{solver} {penalty:?} {batches:?}");
        for key in ["losses", "coef", "validation_losses"] {
            assert_close(&dense, &sparse, key, 1e-5);
        }
        assert!((dense["intercept"].as_f64().unwrap() - sparse["intercept"].as_f64().unwrap()).abs() < 1e-5, "{what}");
        assert_eq!(dense["validation"]["rows"], sparse["validation"]["rows"], "{what}");
        assert_eq!(dense["train"]["rows"], sparse["train"]["rows"], "{what}");
        assert_eq!(sparse["losses"].as_array().unwrap().len(), 8, "{what}");
        // The binary file in memory is the text; streamed in one chunk, the same batches.
        let binary = run(&[&lrcsr]);
        assert_eq!(binary["coef"], sparse["coef"], "{what}");
        if !batches.contains(&"--validation-split") {
            let one_chunk = run(&[&lrcsr, "--stream", "--chunk-rows", "1000"]);
            assert_eq!(one_chunk["coef"], sparse["coef"], "{what}");
            assert_eq!(one_chunk["losses"], sparse["losses"], "{what}");
            if !batches.contains(&"--batch-size") {
                // Full batch over chunks of 7 rows: the same sums, added in another order.
                let chunks = run(&[&lrcsr, "--stream", "--chunk-rows", "7"]);
                assert_close(&chunks, &sparse, "losses", 1e-9);
                assert_close(&chunks, &sparse, "coef", 1e-7);
            }
        }
    }
}

fn refused(args: &[&str], expected: &str) {
    let out = logreg(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(expected), "{args:?}: {err} lacks {expected}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_damaged_or_shrinking_stream_is_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, _) = write_files(dir.path());
    let lrcsr = dir.path().join("d.lrcsr");
    let name = lrcsr.display().to_string();
    assert!(logreg(&["convert", &svm, &name]).status.success());
    let good = std::fs::read(&lrcsr).unwrap();
    let model = dir.path().join("m.safetensors");
    std::fs::write(&model, b"previous").unwrap();
    let out = model.display().to_string();
    let stream = ["train", "--data", &name, "--stream", "--chunk-rows", "10", "--solver", "sgd", "--out", &out];
    // Row 25's offset raised past row 26's: found when the third chunk is read, in epoch 1.
    let mut bytes = good.clone();
    let at = 32 + 4 * 120 + 8 * 25;
    bytes[at..at + 8].copy_from_slice(&1000u64.to_le_bytes());
    std::fs::write(&lrcsr, &bytes).unwrap();
    refused(&stream, "d.lrcsr: indptr decreases at row 25 (1000 then");
    std::fs::write(&lrcsr, &good[..good.len() - 4]).unwrap();
    refused(&stream, "(truncated or damaged)");
    assert_eq!(std::fs::read(&model).unwrap(), b"previous");
    refused(&["train", "--data", &svm, "--stream", "--out", &out], "--stream reads a .lrcsr file chunk by chunk");
    std::fs::write(&lrcsr, &good).unwrap();
    refused(&[&stream[..], &["--validation-split", "0.2"]].concat(), "--validation-split needs the rows in memory");
    refused(&["train", "--data", &svm, "--solver", "adam", "--engine", "autograd", "--out", &out], "--engine autograd");
    refused(&["train", "--data", &name, "--stream", "--solver", "tron", "--out", &out], "--stream trains with");
    refused(&["train", "--data", &svm, "--chunk-rows", "5", "--solver", "sgd", "--out", &out], "--chunk-rows applies");

    // Cut short while training reads it: the run stops with one line, the model untouched.
    let child = std::process::Command::new(bin())
        .args([&stream[..], &["--epochs", "2000000"]].concat())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::OpenOptions::new().write(true).open(&lrcsr).unwrap().set_len(good.len() as u64 / 2).unwrap();
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(2), "{err}");
    let half = good.len() / 2;
    assert!(
        err.contains(&format!("d.lrcsr: the file changed to {half} bytes while it was read"))
            || err.contains("(truncated or damaged)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&model).unwrap(), b"previous");
}

/// Peak resident memory of `logreg args` in bytes (Python's `os.wait4` reads the child's).
fn peak_rss(args: &[&str]) -> f64 {
    let script = "import os, subprocess, sys\n\
                  p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
                  err = p.stderr.read()\n\
                  _, status, usage = os.wait4(p.pid, 0)\n\
                  assert status == 0, err\n\
                  print(usage.ru_maxrss * 1024)";
    let out = std::process::Command::new(crate::python())
        .args(["-c", script])
        .arg(bin())
        .args(args)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Writes a `.lrcsr` file of `rows` rows × 1000 features, 60 non-zeros a row, as the documented
/// layout says (without holding it in memory); returns the CSR bytes (offsets, indices, values).
fn write_big(path: &Path, rows: usize) -> usize {
    let k = 60;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"LRCSR\0\0\x01").unwrap();
    for v in [rows, 1000, rows * k] {
        f.write_all(&(v as u64).to_le_bytes()).unwrap();
    }
    for r in 0..rows {
        f.write_all(&((r % 3 == 0) as u8 as f32).to_le_bytes()).unwrap();
    }
    for r in 0..=rows {
        f.write_all(&((r * k) as u64).to_le_bytes()).unwrap();
    }
    for r in 0..rows {
        for j in 0..k {
            f.write_all(&((16 * j + (r + j) % 16) as u32).to_le_bytes()).unwrap();
        }
    }
    for r in 0..rows * k {
        f.write_all(&(((r * 7919) % 1000) as f32 / 500.0 - 1.0).to_le_bytes()).unwrap();
    }
    f.flush().unwrap();
    8 * (rows + 1) + 8 * rows * k
}

/// The memory goal: above what `logreg --help` takes, training in memory holds at most 3×
/// the CSR bytes (tron, with its column copy; sgd no copy at all), and `--stream` a small part.
#[test]
fn streaming_memory_is_bounded_by_the_chunk_and_in_memory_by_three_times_the_csr_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.lrcsr");
    let csr = write_big(&path, 200_000) as f64;
    let (data, out) = (path.display().to_string(), dir.path().join("m.st").display().to_string());
    let help = peak_rss(&["--help"]);
    let sgd = ["train", "--data", &data, "--solver", "sgd", "--epochs", "1", "--quiet", "--out", &out];
    let streamed = peak_rss(&[&sgd[..], &["--stream", "--chunk-rows", "1000"]].concat()) - help;
    let in_memory = peak_rss(&sgd) - help;
    let tron = ["train", "--data", &data, "--solver", "tron", "--max-iter", "2", "--quiet", "--out", &out];
    let exact = peak_rss(&tron) - help;
    let mb = |b: f64| format!("{:.1} MB", b / 1e6);
    let report = format!("CSR {}, streamed {}, sgd {}, tron {}", mb(csr), mb(streamed), mb(in_memory), mb(exact));
    assert!(streamed < csr / 8.0, "{report}");
    // The in-memory runs hold the matrix (so this measure sees it), and not much more.
    assert!(in_memory > 0.9 * csr && in_memory < 1.5 * csr, "{report}");
    assert!(exact > 1.8 * csr && exact < 3.0 * csr, "{report}");
}

/// The exact solvers hold out the rows the dense path holds out (the same seeded draws), and
/// report the validation part as it does.
#[test]
fn a_validation_split_of_sparse_rows_holds_out_the_dense_paths_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, csv) = write_files(dir.path());
    let model = dir.path().join("m.safetensors").display().to_string();
    let common = ["--C", "0.5", "--validation-split", "0.3", "--seed", "4", "--json", "--quiet", "--out", &model];
    let dense =
        train_json(&[&["train", "--data", &csv, "--solver", "newton", "--device", "cpu"], &common[..]].concat());
    for solver in ["tron", "newton-cd"] {
        let sparse = train_json(&[&["train", "--data", &svm, "--solver", solver], &common[..]].concat());
        assert_close(&dense, &sparse, "coef", 1e-5);
        assert_eq!(dense["validation"]["rows"], sparse["validation"]["rows"]);
        assert_eq!(sparse["rows"].as_u64(), dense["train"]["rows"].as_u64());
        for key in ["log_loss", "accuracy", "roc_auc"] {
            let (a, b) = (dense["validation"][key].as_f64().unwrap(), sparse["validation"][key].as_f64().unwrap());
            assert!((a - b).abs() < 1e-5, "{solver} {key}: {a} vs {b}");
        }
    }
}

/// `train` with `args` and `--json --quiet`: the report.
fn report(args: &[&str]) -> Value {
    train_json(&[args, &["--json", "--quiet"]].concat())
}

#[test]
fn sparse_sgd_and_adam_stopped_and_resumed_end_with_the_uninterrupted_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (svm, csv) = write_files(dir.path());
    let lrcsr = dir.path().join("d.lrcsr").display().to_string();
    assert!(logreg(&["convert", &svm, &lrcsr]).status.success());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (full, part, resumed, ckpt) = (path("full.st"), path("part.st"), path("resumed.st"), path("c.ckpt"));
    let cases: [(&str, &[&str]); 3] = [
        (&svm, &["--solver", "sgd", "--batch-size", "16", "--validation-split", "0.25", "--penalty", "l1"]),
        (&lrcsr, &["--solver", "adam", "--batch-size", "8", "--stream", "--chunk-rows", "7"]),
        (&lrcsr, &["--solver", "adam", "--alpha", "0.5"]),
    ];
    for (data, settings) in cases {
        let common = [&["train", "--data", data, "--lr", "0.1", "--lambda", "0.01", "--seed", "5"], settings].concat();
        let straight = report(&[&common[..], &["--epochs", "9", "--out", &full]].concat());
        // Stopped after 4 epochs (a checkpoint due each epoch), then resumed to 9.
        report(
            &[&common[..], &["--epochs", "4", "--out", &part, "--checkpoint-every", "1", "--checkpoint", &ckpt]]
                .concat(),
        );
        let checkpoint: Value = serde_json::from_str(&std::fs::read_to_string(&ckpt).unwrap()).unwrap();
        // The writer paces saves (a held one is written at Ctrl-C, not at a normal end): the
        // checkpoint holds some epoch before the last.
        let epoch = checkpoint["state"]["epoch"].as_u64().unwrap();
        assert!((1..4).contains(&epoch), "{settings:?}: epoch {epoch}");
        let again = report(&[&common[..], &["--epochs", "9", "--out", &resumed, "--resume", &ckpt]].concat());
        for key in ["coef", "intercept", "losses", "validation_losses"] {
            assert_eq!(straight[key], again[key], "{settings:?}: {key}");
        }
        assert_eq!(straight["losses"].as_array().unwrap().len(), 9);
    }
    // A checkpoint resumes only its own data and settings.
    let sgd = ["train", "--solver", "sgd", "--lr", "0.1", "--epochs", "6", "--seed", "5"];
    report(&[&sgd[..], &["--data", &csv, "--out", &part, "--checkpoint-every", "1", "--checkpoint", &ckpt]].concat());
    let never = path("refused.st");
    let refused_resume = |data: &str, extra: &[&str], expected: &str| {
        refused(&[&sgd[..], &["--data", data, "--out", &never, "--resume", &ckpt], extra].concat(), expected)
    };
    refused_resume(&svm, &[], "the checkpoint was written for dense data; this run's --data is sparse");
    assert!(!Path::new(&never).exists(), "a refused run wrote its model");
    report(&[&sgd[..], &["--data", &svm, "--out", &part, "--checkpoint-every", "2", "--checkpoint", &ckpt]].concat());
    refused_resume(&csv, &[], "the checkpoint was written for sparse data; this run's --data is dense");
    refused_resume(&svm, &["--lambda", "0.5"], "the checkpoint was written for other data or settings");
    refused_resume(&lrcsr, &["--stream"], "the checkpoint was written for other data or settings");
    refused(
        &["train", "--data", &svm, "--out", &never, "--solver", "tron", "--checkpoint-every", "1"],
        "--checkpoint-every and --resume apply to --solver sgd and adam",
    );
}
