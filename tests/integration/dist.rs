//! Training across processes (`dist` feature): torchrun (`python3 -m torch.distributed.run
//! --no-python`, as the README's command) with 2 and 4 ranks reaches the single-process optimum
//! for L1, L2 and Elastic Net, and full-batch SGD/Adam has one process's losses; ranks launched by hand (the variables torchrun sets) that disagree,
//! fail or die end every rank with one line naming the rank.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{bin, stderr, stdout};

mod sparse;
mod stream;

/// A port nobody listens on now (bound to 0, then released), so parallel tests do not collide.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An f32 `.npy` array of `shape` holding `values`.
pub(crate) fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// `n` rows × `d` features, uniform in [−2, 2) from a fixed linear congruential generator, with
/// labels drawn from a logistic model on the first three features (the others are noise, for
/// L1 to zero); written as `x.npy` and `y.npy` in `dir`.
pub(crate) fn make_data(dir: &Path, n: usize, d: usize) -> (PathBuf, PathBuf) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| 4.0 * uniform() - 2.0).collect();
        let z = 1.5 * row[0] - row[1] + 0.5 * row[2] + 0.3;
        y.push(if uniform() < 1.0 / (1.0 + (-z).exp()) { 1.0 } else { 0.0 });
        x.extend(row.iter().map(|&v| v as f32));
    }
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.npy"));
    write_npy(&xp, &[n, d], &x);
    write_npy(&yp, &[n], &y);
    (xp, yp)
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    let line = stdout(out).lines().find(|l| l.starts_with('{')).map(str::to_string);
    serde_json::from_str(&line.unwrap_or_else(|| panic!("no JSON in {}", stdout(out)))).unwrap()
}

/// `logreg train args…` under torchrun with `ranks` processes on this machine.
pub(crate) fn torchrun(ranks: usize, args: &[&str]) -> Output {
    let port = free_port().to_string();
    let nproc = ranks.to_string();
    Command::new(crate::python())
        .args(["-m", "torch.distributed.run", "--no-python", "--nnodes", "1", "--nproc-per-node", &nproc])
        .args(["--master-addr", "127.0.0.1", "--master-port", &port])
        .arg(bin())
        .args(args)
        .env("LOGREG_DIST_TIMEOUT", "30")
        .output()
        .unwrap()
}

/// Rank `rank` of `size` started by hand, as torchrun would (rank 0 serving the store).
pub(crate) fn rank(rank: usize, size: usize, port: u16, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .env("WORLD_SIZE", size.to_string())
        .env("RANK", rank.to_string())
        .env("MASTER_ADDR", "127.0.0.1")
        .env("MASTER_PORT", port.to_string())
        .env("LOGREG_DIST_TIMEOUT", "20")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for every child; each must fail with exit code 2 and one line on stderr holding
/// `expected`.
pub(crate) fn each_fails_with_one_line(children: Vec<Child>, expected: &str) {
    for (r, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "rank {r}: {err}");
        assert_eq!(err.lines().count(), 1, "rank {r}: {err}");
        assert!(err.starts_with(&format!("error: rank {r}: ")) && err.contains(expected), "rank {r}: {err}");
    }
}

/// 2 and 4 ranks, one shared file (4 ranks start at rows 0, 17 500, 35 001 and 52 502: the
/// Hessian's every-other-row sample crosses odd offsets) and one file per rank, reach the
/// single-process objective within 1e-10 relative, with the same zeros, for L1, L2 and Elastic Net;
/// so does FISTA on 2 ranks.
#[test]
fn two_and_four_ranks_reach_the_single_process_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (70_003, 6);
    let (x, y) = make_data(dir.path(), n, d);
    let (xs, ys) = (x.to_str().unwrap(), y.to_str().unwrap());
    // The same rows cut in two files, for `{rank}`.
    let bytes = std::fs::read(&x).unwrap();
    let header = bytes.len() - n * d * 4;
    let values: Vec<f32> = bytes[header..].chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let labels: Vec<f32> = {
        let b = std::fs::read(&y).unwrap();
        b[b.len() - n * 4..].chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    let cut = 30_000; // unequal parts: the ranks' row counts place them
    write_npy(&dir.path().join("x-0.npy"), &[cut, d], &values[..cut * d]);
    write_npy(&dir.path().join("x-1.npy"), &[n - cut, d], &values[cut * d..]);
    write_npy(&dir.path().join("y-0.npy"), &[cut], &labels[..cut]);
    write_npy(&dir.path().join("y-1.npy"), &[n - cut], &labels[cut..]);
    let (xr, yr) = (dir.path().join("x-{rank}.npy"), dir.path().join("y-{rank}.npy"));
    let out = dir.path().join("m.safetensors");
    let out = out.to_str().unwrap();
    for penalty in [
        &["--penalty", "l1", "--lambda", "0.01"][..],
        &["--penalty", "l2", "--lambda", "0.001"][..],
        &["--penalty", "elastic-net", "--lambda-l1", "0.01", "--lambda-l2", "0.002"][..],
    ] {
        let train = |data: &str, labels: &str, solver: &str| -> Vec<String> {
            let mut a: Vec<String> = ["train", "--data", data, "--labels", labels, "--solver", solver, "--json"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            a.extend(penalty.iter().map(|s| s.to_string()));
            a.extend(["--out".into(), out.into()]);
            a
        };
        let single = json(&Command::new(bin()).args(train(xs, ys, "newton")).output().unwrap());
        let objective = single["solver"]["objective"].as_f64().unwrap();
        let zeros = |j: &serde_json::Value| -> Vec<bool> {
            j["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
        };
        if penalty[1] != "l2" {
            assert!(zeros(&single).iter().any(|&z| z), "{penalty:?}: no zero to compare: {}", single["coef"]);
        }
        assert_eq!(single["world_size"], 1);
        let runs = [
            (2, xs.to_string(), ys.to_string(), "newton"),
            (4, xs.to_string(), ys.to_string(), "newton"),
            (2, path(&xr), path(&yr), "newton"),
            (2, xs.to_string(), ys.to_string(), "fista"),
        ];
        for (ranks, data, labels, solver) in runs {
            let args = train(&data, &labels, solver);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let spread = json(&torchrun(ranks, &args));
            assert_eq!(spread["world_size"], ranks, "{penalty:?}");
            assert_eq!(spread["train"]["rows"], n, "{penalty:?}");
            let o = spread["solver"]["objective"].as_f64().unwrap();
            let run = format!("{penalty:?} {solver}, {ranks} ranks of {data}");
            assert!((o - objective).abs() <= 1e-10 * objective, "{run}: {o} vs {objective}");
            assert_eq!(zeros(&spread), zeros(&single), "{run}");
            assert!(spread["solver"]["converged"].as_bool().unwrap());
        }
    }
}

/// Full-batch SGD and Adam on 2 equal shards average the gradient as DistributedDataParallel
/// does: the losses of every epoch are one process's within 1e-6.
#[test]
fn full_batch_sgd_on_two_equal_shards_has_the_single_process_losses() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 2_000, 5);
    let out = dir.path().join("m.safetensors");
    for solver in ["sgd", "adam"] {
        let args = ["train", "--data", x.to_str().unwrap(), "--labels", y.to_str().unwrap(), "--solver", solver];
        let rest =
            ["--epochs", "40", "--lr", "0.05", "--penalty", "elastic-net", "--json", "--out", out.to_str().unwrap()];
        let args = [&args[..], &rest[..]].concat();
        let single = json(&Command::new(bin()).args(&args).output().unwrap());
        let spread = json(&torchrun(2, &args));
        let losses = |j: &serde_json::Value| -> Vec<f64> {
            j["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let (a, b) = (losses(&single), losses(&spread));
        assert_eq!(a.len(), 40);
        assert_eq!(a.len(), b.len());
        assert!(a.first() > a.last(), "{solver}: {a:?}");
        for (e, (u, v)) in a.iter().zip(&b).enumerate() {
            assert!((u - v).abs() <= 1e-6, "{solver} epoch {}: {u} vs {v}", e + 1);
        }
        assert_eq!(spread["world_size"], 2);
    }
}

pub(crate) fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Shards of different widths, and ranks launched with different flags: every rank ends with one
/// line naming the rank at fault, and no model is written.
#[test]
fn ranks_that_disagree_all_stop_naming_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 200, 4);
    let values: Vec<f32> = (0..100 * 3).map(|i| (i % 7) as f32).collect();
    let labels: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
    std::fs::rename(&x, dir.path().join("x-0.npy")).unwrap();
    std::fs::rename(&y, dir.path().join("y-0.npy")).unwrap();
    write_npy(&dir.path().join("x-1.npy"), &[100, 3], &values);
    write_npy(&dir.path().join("y-1.npy"), &[100], &labels);
    let out = dir.path().join("m.safetensors");
    let (xr, yr) = (path(&dir.path().join("x-{rank}.npy")), path(&dir.path().join("y-{rank}.npy")));
    let args = ["train", "--data", &xr, "--labels", &yr, "--solver", "newton", "--out", out.to_str().unwrap()];
    let port = free_port();
    let children = (0..2).map(|r| rank(r, 2, port, &args)).collect();
    each_fails_with_one_line(children, "checking the shards: rank 1's shard has 3 columns, rank 0's has 4");
    assert!(!out.exists());
    // The same shards, rank 1 with another λ.
    write_npy(&dir.path().join("x-1.npy"), &[75, 4], &values[..300]);
    write_npy(&dir.path().join("y-1.npy"), &[75], &labels[..75]);
    let port = free_port();
    let other = [&args[..], &["--lambda", "0.5"]].concat();
    let children = vec![rank(0, 2, port, &args), rank(1, 2, port, &other)];
    each_fails_with_one_line(children, "comparing settings: rank 1's flags differ from rank 0's");
    // A shard that cannot be read: its rank says why, the others that it failed.
    std::fs::write(dir.path().join("y-1.npy"), b"not an array").unwrap();
    let port = free_port();
    let children: Vec<Child> = (0..2).map(|r| rank(r, 2, port, &args)).collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let errs: Vec<String> = outs.iter().map(stderr).collect();
    assert!(errs.iter().all(|e| e.lines().count() == 1), "{errs:?}");
    assert!(errs[0].starts_with("error: rank 0: setting up: rank 1 failed"), "{}", errs[0]);
    assert!(errs[1].starts_with("error: rank 1: setting up: --data: ") && errs[1].contains("y-1.npy"), "{}", errs[1]);
    assert!(!out.exists());
    // A port already in use: rank 0 cannot serve the store there.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out0 = rank(0, 2, port, &args).wait_with_output().unwrap();
    let err = stderr(&out0);
    assert_eq!(out0.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: rank 0: joining the process group: ") && err.lines().count() == 1, "{err}");
}

/// A rank killed mid-run (after the group formed, while the other waits on it in a collective:
/// its shard is a FIFO it blocks on) ends the other with one line within 60 s.
#[test]
fn a_killed_rank_ends_the_others_within_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 200, 4);
    std::fs::rename(&x, dir.path().join("x-0.npy")).unwrap();
    std::fs::rename(&y, dir.path().join("y-0.npy")).unwrap();
    std::fs::copy(dir.path().join("y-0.npy"), dir.path().join("y-1.npy")).unwrap();
    let fifo = dir.path().join("x-1.npy");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = dir.path().join("m.safetensors");
    let (xr, yr) = (path(&dir.path().join("x-{rank}.npy")), path(&dir.path().join("y-{rank}.npy")));
    let args = ["train", "--data", &xr, "--labels", &yr, "--solver", "newton", "--out", out.to_str().unwrap()];
    let port = free_port();
    let zero = rank(0, 2, port, &args);
    let mut one = rank(1, 2, port, &args);
    // Opening the FIFO for writing waits until rank 1 opens it, after the group has formed.
    let writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    one.kill().unwrap();
    let killed = Instant::now();
    let _ = one.wait();
    drop(writer);
    let out0 = zero.wait_with_output().unwrap();
    assert!(killed.elapsed() < Duration::from_secs(60), "{:?}", killed.elapsed());
    let err = stderr(&out0);
    assert_eq!(out0.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: rank 0: ") && err.lines().count() == 1, "{err}");
    assert!(!out.exists());
}

/// Checkpoints of 2 ranks (full-batch Adam, and SGD on mini-batches of each rank's own): a run of
/// 5 epochs with `--checkpoint-every 4` leaves epoch 4's checkpoint; resumed by 2 ranks to 12
/// epochs it ends with the losses and model of an uninterrupted 12-epoch run of 2 ranks, bit for
/// bit; 4 ranks are refused in one line naming both world sizes, and change nothing.
#[test]
fn two_ranks_resume_their_checkpoint_and_four_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 1_200, 4);
    let (xs, ys) = (path(&x), path(&y));
    let out = path(&dir.path().join("m.safetensors"));
    let ckpt = path(&dir.path().join("run.ckpt"));
    for (solver, batch) in [("adam", None), ("sgd", Some("50"))] {
        let run = |epochs: &str, extra: &[&str]| -> Vec<String> {
            let mut a: Vec<String> = ["train", "--data", &xs, "--labels", &ys, "--solver", solver, "--json"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            a.extend(["--epochs", epochs, "--lr", "0.05", "--penalty", "elastic-net", "--out", &out].map(String::from));
            a.extend(batch.iter().flat_map(|b| ["--batch-size".to_string(), b.to_string()]));
            a.extend(extra.iter().map(|s| s.to_string()));
            a
        };
        let strs = |a: &[String]| a.iter().map(String::from).collect::<Vec<String>>();
        let go = |a: Vec<String>| {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            json(&torchrun(2, &a))
        };
        let whole = go(strs(&run("12", &[])));
        let first = go(strs(&run("5", &["--checkpoint-every", "4", "--checkpoint", &ckpt])));
        assert_eq!(first["losses"].as_array().unwrap().len(), 5, "{solver}");
        // 4 ranks: refused by rank 0 naming the sizes, the others stopping with it.
        let resume = run("12", &["--resume", &ckpt]);
        let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
        let before = std::fs::read(&out).unwrap();
        let port = free_port();
        let outs: Vec<Output> = (0..4)
            .map(|r| rank(r, 4, port, &resume))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for (r, o) in outs.iter().enumerate() {
            let err = stderr(o);
            assert_eq!(o.status.code(), Some(2), "rank {r}: {err}");
            assert_eq!(err.lines().count(), 1, "rank {r}: {err}");
            let expected = match r {
                0 => "error: rank 0: reading --resume: --resume: ".to_string(),
                _ => format!("error: rank {r}: reading --resume: rank 0 failed"),
            };
            assert!(err.starts_with(&expected), "rank {r}: {err}");
        }
        let err = stderr(&outs[0]);
        assert!(
            err.contains("the checkpoint was written by 2 ranks; this run has 4 ranks: resume it with 2 ranks"),
            "{err}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), before, "{solver}: the model is untouched");
        // 2 ranks: the uninterrupted run's result.
        let resumed = go(resume.iter().map(|s| s.to_string()).collect());
        assert_eq!(resumed["losses"], whole["losses"], "{solver}");
        assert_eq!(resumed["coef"], whole["coef"], "{solver}");
        assert_eq!(resumed["intercept"], whole["intercept"], "{solver}");
        assert_ne!(resumed["coef"], first["coef"], "{solver}: the resumed epochs moved the model");
    }
}

/// `logreg path` under torchrun: λ_max (from ȳ and Xᵀ(y − ȳ) summed over the ranks), the grid and
/// every λ's fit match one process's: λ to 1e-12 and each objective to 1e-10 relative, with the
/// same zeros, 2 and 4 ranks. Standardized, to 1e-8: one process stores torch's f32 mean and
/// std, the ranks their f64 sums rounded once to f32, which can differ by an ulp, so the two
/// solve problems whose cells differ by ~1e-7 relative (measured: 2.6e-10 on λ, 4e-10 on the
/// objectives).
#[test]
fn a_distributed_path_is_the_single_process_path() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 3_001, 6);
    let (xs, ys) = (path(&x), path(&y));
    let cases =
        [(2, &[][..]), (4, &[][..]), (2, &["--solver", "fista", "--alpha", "0.5"][..]), (2, &["--standardize"][..])];
    for (ranks, extra) in cases {
        let mut args = vec!["path", "--data", &xs, "--labels", &ys, "--n-lambdas", "12", "--json"];
        args.extend(extra);
        let single = json(&Command::new(bin()).args(&args).output().unwrap());
        let spread = json(&torchrun(ranks, &args));
        assert_eq!(spread["world_size"], ranks);
        let (a, b) = (single["path"].as_array().unwrap(), spread["path"].as_array().unwrap());
        assert_eq!(a.len(), 12);
        assert_eq!(a.len(), b.len());
        let case = format!("{ranks} ranks {extra:?}");
        let (on_lambda, on_objective) = if extra.contains(&"--standardize") { (1e-8, 1e-8) } else { (1e-12, 1e-10) };
        for (p, q) in a.iter().zip(b) {
            let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
            assert!((f(p, "lambda") - f(q, "lambda")).abs() <= on_lambda * f(p, "lambda"), "{case}: {p} vs {q}");
            let objective = (f(p, "objective") - f(q, "objective")).abs();
            assert!(objective <= on_objective * f(p, "objective"), "{case}: {p} vs {q}");
            let zeros = |v: &serde_json::Value| -> Vec<bool> {
                v["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
            };
            assert_eq!(zeros(p), zeros(q), "{case}: {p} vs {q}");
        }
        // The grid reaches models with zeros and without.
        assert_eq!(a[0]["nonzero"], 0, "{case}");
        assert!(a[11]["nonzero"].as_u64().unwrap() > 3, "{case}");
    }
}

/// TRON (L2) on 2 and 4 ranks, each Hessian-vector product summed over the ranks, reaches one
/// process's TRON objective within 1e-10 relative; so does newton-cd (L1 and Elastic Net: its
/// gradient, Hessian diagonal and each coordinate's sum summed over the ranks) on 2 ranks, with
/// the same zeros.
#[test]
fn tron_and_newton_cd_are_distributed() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 20_003, 6);
    let (xs, ys) = (path(&x), path(&y));
    let out = path(&dir.path().join("m.safetensors"));
    let args = |solver: &'static str| -> Vec<String> {
        ["train", "--data", &xs, "--labels", &ys, "--solver", solver, "--penalty", "l2", "--lambda", "0.001"]
            .iter()
            .map(|s| s.to_string())
            .chain(["--json".into(), "--out".into(), out.clone()])
            .collect()
    };
    let tron = args("tron");
    let tron: Vec<&str> = tron.iter().map(String::as_str).collect();
    let single = json(&Command::new(bin()).args(&tron).output().unwrap());
    let objective = single["solver"]["objective"].as_f64().unwrap();
    for ranks in [2, 4] {
        let spread = json(&torchrun(ranks, &tron));
        assert_eq!(spread["world_size"], ranks);
        let o = spread["solver"]["objective"].as_f64().unwrap();
        assert!((o - objective).abs() <= 1e-10 * objective, "{ranks} ranks: {o} vs {objective}");
        assert!(spread["solver"]["converged"].as_bool().unwrap());
    }
    let zeros = |j: &serde_json::Value| -> Vec<bool> {
        j["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
    };
    for penalty in [
        &["--penalty", "l1", "--lambda", "0.01"][..],
        &["--penalty", "elastic-net", "--lambda-l1", "0.01", "--lambda-l2", "0.002"][..],
    ] {
        let mut cd = args("newton-cd");
        cd.truncate(cd.len() - 7);
        cd.extend(penalty.iter().map(|s| s.to_string()));
        cd.extend(["--json".into(), "--out".into(), out.clone()]);
        let cd: Vec<&str> = cd.iter().map(String::as_str).collect();
        let single = json(&Command::new(bin()).args(&cd).output().unwrap());
        let objective = single["solver"]["objective"].as_f64().unwrap();
        assert!(zeros(&single).iter().any(|&z| z), "{penalty:?}: no zero to compare: {}", single["coef"]);
        let spread = json(&torchrun(2, &cd));
        let o = spread["solver"]["objective"].as_f64().unwrap();
        assert!((o - objective).abs() <= 1e-10 * objective, "newton-cd {penalty:?}: {o} vs {objective}");
        assert_eq!(zeros(&spread), zeros(&single), "newton-cd {penalty:?}");
        assert!(spread["solver"]["converged"].as_bool().unwrap());
    }
}

/// `logreg cv` under torchrun (2 ranks, a file each): rank 0 writes the model and the table; the
/// refit at the chosen λ is one process's `path` at that λ (the grid and the refit come from all
/// rows); held-out AUC is left empty (NaN in the library, null in JSON, an empty CSV cell). The
/// held-out log-loss against one process with the same folds is the library's test
/// (`solvers::distributed::tests`).
#[test]
fn a_distributed_cv_refits_the_single_process_path() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (2_000, 5);
    let (x, y) = make_data(dir.path(), n, d);
    let (xs, ys) = (path(&x), path(&y));
    let model = path(&dir.path().join("cv.safetensors"));
    let csv = path(&dir.path().join("cv.csv"));
    let grid = ["--n-lambdas", "10", "--json"];
    let cv =
        [&["cv", "--data", &xs, "--labels", &ys, "--folds", "3", "--out", &model, "--csv", &csv][..], &grid].concat();
    let spread = json(&torchrun(2, &cv));
    assert_eq!(spread["world_size"], 2);
    assert_eq!(spread["fold_sizes"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), n as u64);
    assert!(spread["points"].as_array().unwrap().iter().all(|p| p["auc_mean"].is_null()));
    assert!(std::path::Path::new(&model).exists());
    let table = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(table.lines().count(), 11, "{table}");
    assert!(table.lines().skip(1).all(|l| l.ends_with(",,")), "{table}");
    let single = json(
        &Command::new(bin()).args([&["path", "--data", &xs, "--labels", &ys][..], &grid].concat()).output().unwrap(),
    );
    let chosen = spread["chosen"]["lambda"].as_f64().unwrap();
    let point = single["path"].as_array().unwrap().iter().find(|p| {
        let l = p["lambda"].as_f64().unwrap();
        (l - chosen).abs() <= 1e-12 * l
    });
    let point = point.unwrap_or_else(|| panic!("λ {chosen} not on one process's grid"));
    let (a, b) = (spread["coef"].as_array().unwrap(), point["coef"].as_array().unwrap());
    for (u, v) in a.iter().zip(b) {
        let (u, v) = (u.as_f64().unwrap(), v.as_f64().unwrap());
        assert!((u - v).abs() <= 1e-6 * v.abs().max(1e-3), "{a:?} vs {b:?}");
        assert_eq!(u == 0.0, v == 0.0, "{a:?} vs {b:?}");
    }
}

/// The recipe a model file records (its safetensors header's `__metadata__`), as JSON.
pub(crate) fn model_recipe(model: &Path) -> serde_json::Value {
    let bytes = std::fs::read(model).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    serde_json::from_str(header["__metadata__"]["recipe"].as_str().unwrap()).unwrap()
}

/// A raw CSV of `n` rows: a numeric column `a` with missing cells, a numeric `b`, a noise column
/// `c` (for L1 to zero), a categorical `color` (missing cells too; `amber` only in rows below 60,
/// `violet` only from row 250), and a text label `y` (`yes`/`no`) from a logistic model.
pub(crate) fn raw_csv(n: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rows = vec!["a,b,c,color,y".to_string()];
    for i in 0..n {
        let (a, b, c) = (4.0 * uniform() - 2.0, 4.0 * uniform() - 2.0, 4.0 * uniform() - 2.0);
        let color = match (i, (uniform() * 3.0) as usize) {
            (i, _) if i % 13 == 5 => "",
            (i, _) if i < 60 && i % 7 == 0 => "amber",
            (i, _) if i >= 250 && i % 5 == 0 => "violet",
            (_, 0) => "red",
            (_, 1) => "green",
            _ => "blue",
        };
        let shift = match color {
            "red" => 0.8,
            "violet" => -1.0,
            _ => 0.0,
        };
        let z = 1.2 * a - 0.7 * b + shift;
        let y = if uniform() < 1.0 / (1.0 + (-z).exp()) { "yes" } else { "no" };
        let a = if i % 11 == 3 { "NA".to_string() } else { format!("{a:.4}") };
        rows.push(format!("{a},{b:.4},{c:.4},{color},{y}"));
    }
    rows
}

/// CSV shards, one per rank (unequal halves of one file, one header each): 2 ranks reach the
/// single-process model on the whole file — objective within 1e-10 relative, the same zeros, the
/// same recipe (label classes, the union of the levels, the mean imputation over every row) — and
/// `predict` reads the raw file through the model's recipe. Shards with different headers are
/// refused on every rank in one line naming the rank.
#[test]
fn csv_shards_reach_the_single_process_model_and_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let rows = raw_csv(400);
    let cut = 171; // rank 0 never sees `violet`, rank 1 never `amber`
    let whole = dir.path().join("whole.csv");
    std::fs::write(&whole, rows.join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("part-0.csv"), rows[..=cut].join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("part-1.csv"), [&rows[..1], &rows[cut + 1..]].concat().join("\n") + "\n").unwrap();
    let parts = path(&dir.path().join("part-{rank}.csv"));
    let (m1, m2) = (dir.path().join("one.safetensors"), dir.path().join("two.safetensors"));
    let flags = |data: &str, out: &Path, standardize: bool| -> Vec<String> {
        ["train", "--data", data, "--label", "y", "--categorical", "color", "--missing", "mean"]
            .into_iter()
            .chain(["--solver", "newton", "--penalty", "l1", "--lambda", "0.03", "--json", "--out"])
            .map(String::from)
            .chain([path(out)])
            .chain(standardize.then(|| "--standardize".to_string()))
            .collect()
    };
    let zeros = |j: &serde_json::Value| -> Vec<bool> {
        j["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
    };
    // With --standardize the objective agrees to 1e-8 (one process keeps torch's f32 column
    // statistics, the ranks their f64 sums rounded once: an ulp apart, as for `path`).
    for (standardize, tolerance) in [(true, 1e-8), (false, 1e-10)] {
        let single = json(&Command::new(bin()).args(flags(&path(&whole), &m1, standardize)).output().unwrap());
        let args = flags(&parts, &m2, standardize);
        let spread = json(&torchrun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()));
        assert_eq!(spread["world_size"], 2);
        assert_eq!(spread["train"]["rows"], 400);
        let objective = |j: &serde_json::Value| j["solver"]["objective"].as_f64().unwrap();
        let (o1, o2) = (objective(&single), objective(&spread));
        assert!((o1 - o2).abs() <= tolerance * o1, "--standardize {standardize}: {o1} vs {o2}");
        assert!(zeros(&single).iter().any(|&z| z), "no zero to compare: {}", single["coef"]);
        assert_eq!(zeros(&spread), zeros(&single), "--standardize {standardize}");
    }
    let args = flags(&parts, &m2, false);
    let recipe = model_recipe(&m2);
    assert_eq!(recipe, model_recipe(&m1));
    // Computed here: the levels sorted over both halves, the mean of `a` over all 400 rows.
    let levels: Vec<&str> =
        recipe["inputs"][3]["levels"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(levels, ["amber", "blue", "green", "red", "violet"]);
    let a: Vec<f32> = rows[1..].iter().filter_map(|r| r.split(',').next().unwrap().parse().ok()).collect();
    let mean = (a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64) as f32;
    assert_eq!(recipe["inputs"][0]["impute"].as_f64().unwrap() as f32, mean);
    assert_eq!(recipe["classes"]["positive"], "yes");
    // `predict` on the raw file through each model's recipe: the same probabilities.
    let predict = |model: &Path| -> Vec<f64> {
        let out = Command::new(bin()).args(["predict", "--model", &path(model), "--data", &path(&whole)]).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
    };
    let (p1, p2) = (predict(&m1), predict(&m2));
    assert_eq!(p1.len(), 400);
    assert!(p1.iter().zip(&p2).all(|(u, v)| (u - v).abs() <= 1e-5), "{p1:?} vs {p2:?}");
    // Rank 1's header names another column: every rank stops, naming rank 1; nothing written.
    let renamed = std::fs::read_to_string(dir.path().join("part-1.csv")).unwrap().replacen("c,color", "d,color", 1);
    std::fs::write(dir.path().join("part-1.csv"), renamed).unwrap();
    std::fs::remove_file(&m2).unwrap();
    let port = free_port();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let children = (0..2).map(|r| rank(r, 2, port, &args)).collect();
    each_fails_with_one_line(children, "rank 1's header differs from rank 0's");
    assert!(!m2.exists());
    // A median needs every rank's values: refused in one line.
    let median: Vec<&str> = args.iter().map(|a| if *a == "mean" { "median" } else { a }).collect();
    let port = free_port();
    let children = (0..2).map(|r| rank(r, 2, port, &median)).collect();
    each_fails_with_one_line(children, "--missing median does not apply to a distributed run");
    // Every row of rank 0 has a missing cell, which --missing drop-rows drops: Newton has sums to
    // reduce, but sgd and adam have no mean gradient there, and say so on rank 0.
    let emptied: Vec<String> = rows[1..=cut].iter().map(|r| format!(",{}", r.split_once(',').unwrap().1)).collect();
    std::fs::write(dir.path().join("drop-0.csv"), [&rows[..1], &emptied[..]].concat().join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("drop-1.csv"), [&rows[..1], &rows[cut + 1..]].concat().join("\n") + "\n").unwrap();
    let drop = path(&dir.path().join("drop-{rank}.csv"));
    let sgd = ["train", "--data", &drop, "--label", "y", "--categorical", "color", "--missing", "drop-rows"];
    let out = path(&m2);
    let sgd = [&sgd[..], &["--solver", "sgd", "--epochs", "3", "--out", out.as_str()]].concat();
    let port = free_port();
    let children: Vec<Child> = (0..2).map(|r| rank(r, 2, port, &sgd)).collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    // Rank 0 notes first how many rows were dropped, then the one error line.
    let errs: Vec<String> =
        outs.iter().map(|o| stderr(o).lines().filter(|l| !l.starts_with("note: ")).collect()).collect();
    assert!(errs[0].starts_with("error: rank 0: checking the shards: no rows left"), "{}", errs[0]);
    assert!(errs[1].starts_with("error: rank 1: checking the shards: rank 0 failed"), "{}", errs[1]);
    assert!(outs.iter().all(|o| o.status.code() == Some(2)) && errs.iter().all(|e| e.lines().count() == 1));
    assert!(!m2.exists());
}

/// Waits for `child` at most `limit`: its output, or a panic naming `what` (the child killed).
pub(crate) fn wait_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Waits until `file` exists (a run is under way), at most a minute.
fn wait_for_file(file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !file.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", file.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn interrupt(pid: u32) {
    assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
}

/// Ctrl-C (SIGINT) to one rank of a 2-rank SGD run with checkpoints, mid-run: the stop is voted
/// on in the next sum, so both ranks end at the same epoch within 60 s, each with one line and
/// exit code 130, no model written, and the checkpoint intact (2 ranks resume from it). The same
/// through the launcher: torchrun passes SIGINT on to its ranks, which end as one.
#[test]
fn ctrl_c_to_one_rank_or_to_the_launcher_stops_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = make_data(dir.path(), 2_000, 5);
    let (out, ckpt) = (dir.path().join("m.safetensors"), dir.path().join("run.ckpt"));
    let args: Vec<String> = ["train", "--data", &path(&x), "--labels", &path(&y), "--solver", "sgd", "--lr", "0.01"]
        .into_iter()
        .chain(["--epochs", "10000000", "--checkpoint-every", "5", "--checkpoint", &path(&ckpt), "--out", &path(&out)])
        .map(String::from)
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumes = || {
        // Two ranks resume the checkpoint and run 1 epoch past it.
        let text = std::fs::read_to_string(&ckpt).unwrap();
        let epoch = serde_json::from_str::<serde_json::Value>(&text).unwrap()["state"]["epoch"].as_u64().unwrap();
        let mut more: Vec<String> =
            args.iter().map(|&a| if a == "10000000" { (epoch + 1).to_string() } else { a.to_string() }).collect();
        more.extend(["--resume".into(), path(&ckpt)]);
        let more: Vec<&str> = more.iter().map(String::as_str).collect();
        let port = free_port();
        let ranks: Vec<Child> = (0..2).map(|r| rank(r, 2, port, &more)).collect();
        for (r, child) in ranks.into_iter().enumerate() {
            let o = wait_within(child, Duration::from_secs(60), "the resumed rank");
            assert!(o.status.success(), "rank {r}: {}", stderr(&o));
        }
        assert!(out.exists());
        std::fs::remove_file(&out).unwrap();
    };
    // SIGINT to rank 1 (rank 0 writes the checkpoint).
    let port = free_port();
    let mut ranks: Vec<Child> = (0..2).map(|r| rank(r, 2, port, &args)).collect();
    for child in &mut ranks {
        crate::data_cli::wait_for_sigint_handler(child, &args);
    }
    wait_for_file(&ckpt);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(ranks[1].id());
    let sent = Instant::now();
    let outs: Vec<Output> = ranks.into_iter().map(|c| wait_within(c, Duration::from_secs(60), "a rank")).collect();
    assert!(sent.elapsed() < Duration::from_secs(60), "{:?}", sent.elapsed());
    let errs: Vec<String> = outs.iter().map(stderr).collect();
    for (r, (o, e)) in outs.iter().zip(&errs).enumerate() {
        assert_eq!(o.status.code(), Some(130), "rank {r}: {e}");
        assert_eq!(e.lines().count(), 1, "rank {r}: {e}");
    }
    // Both stopped at the same epoch; rank 0 names the checkpoint to resume.
    let at = |e: &str| e.split("interrupted at epoch ").nth(1).and_then(|t| t.split(';').next()).map(String::from);
    assert!(errs[1].starts_with("error: rank 1: interrupted at epoch "), "{}", errs[1]);
    assert!(errs[0].starts_with("error: rank 0: interrupted at epoch "), "{}", errs[0]);
    assert_eq!(at(&errs[0]), at(&errs[1]), "{errs:?}");
    assert!(errs[0].contains("resume with") && errs[0].contains("--resume"), "{}", errs[0]);
    assert!(errs[0].trim_end().ends_with("(through the launcher, with 2 ranks)"), "{}", errs[0]);
    assert!(!out.exists());
    resumes();
    // SIGINT to the launcher.
    std::fs::remove_file(&ckpt).unwrap();
    let port = free_port().to_string();
    let launcher = Command::new(crate::python())
        .args(["-m", "torch.distributed.run", "--no-python", "--nnodes", "1", "--nproc-per-node", "2"])
        .args(["--master-addr", "127.0.0.1", "--master-port", &port])
        .arg(bin())
        .args(&args)
        .env("LOGREG_DIST_TIMEOUT", "30")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&ckpt);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(launcher.id());
    let o = wait_within(launcher, Duration::from_secs(60), "torchrun");
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("interrupted at epoch")).collect();
    assert_eq!(lines.len(), 2, "one line from each rank: {err}");
    assert!(!out.exists());
    resumes();
}
