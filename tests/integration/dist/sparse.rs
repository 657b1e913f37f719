//! Sparse shards across processes: one libsvm (or `.lrcsr`) file per rank, of different widths
//! (the largest wins), reach one process's optimum on all rows (tron, newton-cd with the same
//! zeros) and one process's full-batch SGD/Adam losses; a missing, empty, dense or malformed shard
//! ends every rank with one line naming the rank, and no model is written.

use super::*;

/// `n` libsvm rows over `d` features, about 40% non-zero, labels from a logistic model on the
/// first three features; feature `d` (the last) appears only in the first half of the rows, so
/// the second half's largest index is below the first's. Returns the rows as text lines.
fn svm_rows(n: usize, d: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let mut row = vec![0.0f32; d];
            for (j, v) in row.iter_mut().enumerate() {
                let keep = uniform() < 0.4 && (j + 1 < d || i < n / 2);
                let value = (4.0 * uniform() - 2.0) as f32;
                if keep {
                    *v = value;
                }
            }
            let z = 1.5 * f64::from(row[0]) - f64::from(row[1]) + 0.5 * f64::from(row[2]) + 0.3;
            let label = if uniform() < 1.0 / (1.0 + (-z).exp()) { "+1" } else { "-1" };
            let pairs: Vec<String> =
                row.iter().enumerate().filter(|(_, &v)| v != 0.0).map(|(j, v)| format!("{}:{v}", j + 1)).collect();
            format!("{label} {}", pairs.join(" "))
        })
        .collect()
}

/// `all.svm` with every row, `part-0.svm` and `part-1.svm` with its halves, in `dir`.
fn write_shards(dir: &Path, n: usize, d: usize) -> (String, String) {
    let rows = svm_rows(n, d);
    let write = |name: &str, rows: &[String]| std::fs::write(dir.join(name), rows.join("\n") + "\n").unwrap();
    write("all.svm", &rows);
    write("part-0.svm", &rows[..n / 2]);
    write("part-1.svm", &rows[n / 2..]);
    (path(&dir.join("all.svm")), path(&dir.join("part-{rank}.svm")))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// TRON (L2) and newton-cd (L1, Elastic Net) on 2 libsvm shards of different widths reach one
/// process's objective on all rows within 1e-10 relative (newton-cd with the same zeros); so do
/// `.lrcsr` shards; full-batch SGD and Adam have one process's losses within 1e-6.
#[test]
fn sparse_shards_reach_the_single_process_optimum_and_losses() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (4_000, 12);
    let (all, parts) = write_shards(dir.path(), n, d);
    let out = path(&dir.path().join("m.safetensors"));
    for i in 0..2 {
        let (svm, lrcsr) = (dir.path().join(format!("part-{i}.svm")), dir.path().join(format!("part-{i}.lrcsr")));
        let o = Command::new(bin()).args(["convert", &path(&svm), &path(&lrcsr)]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let lrcsr = path(&dir.path().join("part-{rank}.lrcsr"));
    let zeros = |j: &serde_json::Value| -> Vec<bool> {
        j["coef"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap() == 0.0).collect()
    };
    for (solver, penalty) in [
        ("tron", &["--penalty", "l2", "--lambda", "0.001"][..]),
        ("newton-cd", &["--penalty", "l1", "--lambda", "0.02"][..]),
        ("newton-cd", &["--penalty", "elastic-net", "--lambda-l1", "0.01", "--lambda-l2", "0.002"][..]),
    ] {
        let args = |data: &str| {
            let mut a = strings(&["train", "--data", data, "--solver", solver, "--json", "--out", &out]);
            a.extend(strings(penalty));
            a
        };
        let single = json(&Command::new(bin()).args(args(&all)).output().unwrap());
        let objective = single["solver"]["objective"].as_f64().unwrap();
        assert_eq!(single["coef"].as_array().unwrap().len(), d);
        if solver == "newton-cd" {
            assert!(zeros(&single).iter().any(|&z| z), "{penalty:?}: no zero to compare: {}", single["coef"]);
        }
        for data in [&parts, &lrcsr] {
            let spread = json(&torchrun(2, &strs(&args(data))));
            let run = format!("{solver} {penalty:?} on {data}");
            assert_eq!(spread["world_size"], 2, "{run}");
            assert_eq!(spread["train"]["rows"], n, "{run}");
            assert_eq!(spread["coef"].as_array().unwrap().len(), d, "{run}: the widest shard's width");
            let o = spread["solver"]["objective"].as_f64().unwrap();
            assert!((o - objective).abs() <= 1e-10 * objective, "{run}: {o} vs {objective}");
            assert_eq!(zeros(&spread), zeros(&single), "{run}");
            assert!(spread["solver"]["converged"].as_bool().unwrap(), "{run}");
        }
    }
    for solver in ["sgd", "adam"] {
        let args = |data: &str| {
            strings(&["train", "--data", data, "--solver", solver, "--epochs", "30", "--lr", "0.05"])
                .into_iter()
                .chain(strings(&["--penalty", "elastic-net", "--json", "--out", &out]))
                .collect::<Vec<_>>()
        };
        let single = json(&Command::new(bin()).args(args(&all)).output().unwrap());
        let spread = json(&torchrun(2, &strs(&args(&parts))));
        let losses = |j: &serde_json::Value| -> Vec<f64> {
            j["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
        };
        let (a, b) = (losses(&single), losses(&spread));
        assert_eq!((a.len(), b.len()), (30, 30), "{solver}");
        assert!(a.first() > a.last(), "{solver}: {a:?}");
        for (e, (u, v)) in a.iter().zip(&b).enumerate() {
            assert!((u - v).abs() <= 1e-6, "{solver} epoch {}: {u} vs {v}", e + 1);
        }
    }
}

/// Waits for both ranks: rank `bad` fails with one line holding `expected`, the other with one
/// line saying that rank failed; both exit 2.
fn rank_fails(children: Vec<Child>, bad: usize, expected: &str) {
    for (r, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "rank {r}: {err}");
        assert_eq!(err.lines().count(), 1, "rank {r}: {err}");
        assert!(err.starts_with(&format!("error: rank {r}: ")), "rank {r}: {err}");
        match r == bad {
            true => assert!(err.contains(expected), "rank {r}: {err}"),
            false => assert!(err.contains(&format!("rank {bad} failed")), "rank {r}: {err}"),
        }
    }
}

/// A missing shard, an empty one, a libsvm shard with a bad token, an index beyond --n-features
/// and a dense `.npz` beside a sparse one: every rank ends with one line (the bad rank's saying
/// why, with file:line:column where it applies), exit code 2, and no model is written.
#[test]
fn bad_sparse_shards_end_every_rank_naming_the_rank() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts) = write_shards(dir.path(), 200, 6);
    let out = dir.path().join("m.safetensors");
    let args = |extra: &[&str]| {
        let mut a = strings(&["train", "--data", &parts, "--solver", "tron", "--out", out.to_str().unwrap()]);
        a.extend(strings(extra));
        a
    };
    let run = |extra: &[&str], bad: usize, expected: &str| {
        let port = free_port();
        let a = args(extra);
        let children = (0..2).map(|r| rank(r, 2, port, &strs(&a))).collect();
        rank_fails(children, bad, expected);
        assert!(!out.exists(), "{expected}");
    };
    let one = dir.path().join("part-1.svm");
    let rows = std::fs::read_to_string(&one).unwrap();
    // An index beyond --n-features on rank 1 (its rows hold index 6; rank 0's too).
    run(&["--n-features", "5"], 0, "index 6 is beyond the 5 features expected");
    // A bad token on line 3 of rank 1's file.
    let mut lines: Vec<&str> = rows.lines().collect();
    lines[2] = "1 2:0.5 3:abc";
    std::fs::write(&one, lines.join("\n")).unwrap();
    run(&[], 1, "part-1.svm:3:11: value `abc` is not a number");
    std::fs::write(&one, "").unwrap();
    run(&[], 1, "part-1.svm: no rows");
    std::fs::remove_file(&one).unwrap();
    run(&[], 1, "part-1.svm");
    // A dense array saved as .npz beside scipy's sparse one.
    let script = "import numpy as np, scipy.sparse as sp, sys\n\
        d = sys.argv[1]\n\
        x = np.eye(4, 3, dtype=np.float32); y = np.array([0, 1, 0, 1], dtype=np.float32)\n\
        sp.save_npz(d + '/x-0.npz', sp.csr_matrix(x)); np.save(d + '/y-0.npy', y)\n\
        np.savez(d + '/x-1.npz', x=x); np.save(d + '/y-1.npy', y)\n";
    let o = Command::new(crate::python()).args(["-c", script, dir.path().to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (xr, yr) = (path(&dir.path().join("x-{rank}.npz")), path(&dir.path().join("y-{rank}.npy")));
    let a = strings(&["train", "--data", &xr, "--labels", &yr, "--solver", "tron", "--out", out.to_str().unwrap()]);
    let port = free_port();
    let children = (0..2).map(|r| rank(r, 2, port, &strs(&a))).collect();
    rank_fails(children, 1, "x-1.npz");
    assert!(!out.exists());
}
