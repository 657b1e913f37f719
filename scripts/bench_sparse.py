#!/usr/bin/env python3
"""Time to the regularized optimum on many features and on sparse data: logreg's tron, newton-cd,
auto (and newton where X fits dense) against scikit-learn's solvers, liblinear among them, in one
run on one machine. Not a test: it prints a markdown table and writes JSON.

Problems (seeded, cached under --cache):
  dense-20k   20,000 x 3,000 from make_classification (50 informative), standardized, float32 .npy
  sparse-100k 100,000 x 50,000 at 0.2% density (10M non-zeros, values |N(0,1)|, text-like), labels
              drawn from a sparse planted model; a CSR .npz as scipy.sparse.save_npz writes it
Penalties (glmnet lambda, C = 1/(lambda n)): dense L2 1e-3, L1 3e-3; sparse L2 1e-4, L1 1e-4.

Every solver runs from scratch with tol = 1e-3, 1e-4, ... until its objective is within 1e-6
relative of the optimum (the lowest objective any run reached, logreg's newton-cd at tol 1e-10
(tron for L2) among them); its time is that run's: sklearn's `fit`, logreg's solve as `train --json` reports it
(data loading excluded on both sides). Objectives are F = mean logloss + l1|w|_1 + l2|w|_2^2,
computed here in float64; liblinear is timed on its own objective (intercept_scaling=1: the bias a
weight on a constant 1, penalized as the others) against that objective's optimum, beside logreg's
exact solver with --penalize-bias (the same objective). The ratio sets the fastest scikit-learn
solver against logreg's fastest on that solver's objective. Threads: liblinear is single-threaded; lbfgs/newton-cholesky use
numpy's BLAS threads; logreg's passes over X use libtorch's thread count (all cores).

The hashed click-log problem runs alone (--problems clicklog-1m): 1,000,000 rows x 2^20 features,
about 40 binary non-zeros a row (40 fields of Zipf-distributed values hashed into 2^20 buckets),
labels from a planted model. logreg reads it as a .lrcsr file (`logreg convert`), scikit-learn as the
.npz. liblinear (single-threaded) and logreg's tron / newton-cd each sweep tol until within 1e-6 of
the optimum; beside each time is the run's peak RSS (os.wait4 of the child: logreg's process, or a
Python child that loads the .npz and fits). logreg's figure above what `logreg --help` alone takes
is compared with the CSR bytes (the issue's goal: at most 3x). The objective is liblinear's own
(intercept_scaling 1: the bias penalized as a weight; logreg's --penalize-bias). `--stream` trains with adam only,
which does not reach 1e-6 in a few epochs: its objective gap, time and peak RSS after --stream-epochs
full-batch epochs are shown. --rows scales the problem down for a quick run.

    bench_sparse.py [--problems dense-20k,sparse-100k|clicklog-1m] [--penalties l2,l1]
                    [--logreg target/release/logreg] [--json bench-sparse.json] [--budget 300]
                    [--rows 1000000] [--stream-epochs 20] [--skip newton,newton-cholesky]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

TARGET = 1e-6
TOLS = [10.0**-k for k in range(3, 13)]
# (l1_ratio, glmnet lambda) per problem: L1 strengths that keep a few hundred to a few thousand
# weights non-zero.
PENALTIES = {
    "dense-20k": {"l2": (0.0, 1e-3), "l1": (1.0, 3e-3)},
    "sparse-100k": {"l2": (0.0, 1e-4), "l1": (1.0, 1e-4)},
}
SKLEARN = {
    ("dense-20k", "l2"): ["lbfgs", "newton-cholesky", "liblinear"],
    # saga takes minutes per run here (331 s at tol 1e-3 on sparse-100k): left out on dense.
    ("dense-20k", "l1"): ["liblinear"],
    ("sparse-100k", "l2"): ["lbfgs", "liblinear"],
    ("sparse-100k", "l1"): ["liblinear", "saga"],
}
OURS = {
    ("dense-20k", "l2"): ["tron", "newton", "auto"],
    ("dense-20k", "l1"): ["newton-cd", "newton", "auto"],
    ("sparse-100k", "l2"): ["tron", "newton-cd", "auto"],
    ("sparse-100k", "l1"): ["newton-cd", "auto"],
}


def problem(name, cache):
    """The files (X, y) of problem `name`, made once."""
    if name == "dense-20k":
        xf, yf = os.path.join(cache, "dense-20k-X.npy"), os.path.join(cache, "dense-20k-y.npy")
        if not os.path.exists(xf):
            X, y = make_classification(n_samples=20_000, n_features=3_000, n_informative=50, random_state=0)
            X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
            np.save(yf, y.astype(np.float32))
            np.save(xf + ".tmp.npy", X)
            os.replace(xf + ".tmp.npy", xf)
        return xf, yf
    xf, yf = os.path.join(cache, "sparse-100k-X.npz"), os.path.join(cache, "sparse-100k-y.npy")
    if not os.path.exists(xf):
        rng = np.random.default_rng(0)
        n, d, density = 100_000, 50_000, 0.002
        X = sp.random(n, d, density=density, format="csr", dtype=np.float32, random_state=rng,
                      data_rvs=lambda k: np.abs(rng.standard_normal(k)))
        w = np.zeros(d)
        w[rng.choice(d, 2_000, replace=False)] = rng.standard_normal(2_000) * 2.0
        p = 1.0 / (1.0 + np.exp(-(X @ w - 0.2)))
        y = (rng.random(n) < p).astype(np.float32)
        np.save(yf, y)
        sp.save_npz(xf + ".tmp.npz", X)
        os.replace(xf + ".tmp.npz", xf)
    return xf, yf


CLICKLOG_PENALTIES = {"l2": (0.0, 1e-5), "l1": (1.0, 1e-5)}


def clicklog_problem(cache, rows, logreg):
    """The click-log files (X.npz, y.npy, X.lrcsr) of `rows` rows, made once, in blocks of rows."""
    stem = os.path.join(cache, f"clicklog-{rows}")
    xf, yf, bf = stem + "-X.npz", stem + "-y.npy", stem + ".lrcsr"
    if not os.path.exists(bf):
        rng = np.random.default_rng(0)
        d, fields = 2**20, 40
        w = rng.standard_normal(d) * 0.4
        blocks, labels = [], []
        for start in range(0, rows, 100_000):
            m = min(100_000, rows - start)
            values = rng.zipf(1.3, size=(m, fields)) % 200_003
            # One bucket per (field, value): a multiplicative hash, top 20 of 32 bits.
            h = ((values * fields + np.arange(fields)) * 2654435761 % 2**32) >> 12
            h.sort(axis=1)
            keep = np.ones(h.shape, bool)
            keep[:, 1:] = h[:, 1:] != h[:, :-1]
            indptr = np.concatenate([[0], np.cumsum(keep.sum(1))])
            X = sp.csr_matrix((np.ones(int(indptr[-1]), np.float32), h[keep].astype(np.int32), indptr), shape=(m, d))
            p = 1.0 / (1.0 + np.exp(-(X @ w - 1.0)))
            labels.append((rng.random(m) < p).astype(np.float32))
            blocks.append(X)
        np.save(yf, np.concatenate(labels))
        sp.save_npz(xf, sp.vstack(blocks, format="csr"), compressed=False)
        subprocess.run([logreg, "convert", xf, bf + ".tmp.lrcsr", "--labels", yf], check=True, capture_output=True)
        os.replace(bf + ".tmp.lrcsr", bf)
    return xf, yf, bf


LIBLINEAR_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np, scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
xf, yf, C, rho, tol, coef_out = sys.argv[1:]
X, y = sp.load_npz(xf).astype(np.float64).tocsr(), np.load(yf).astype(np.float64)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
model = LogisticRegression(C=float(C), l1_ratio=float(rho), solver="liblinear", tol=float(tol), max_iter=1000,
                           intercept_scaling=1.0, random_state=0)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(X, y)
seconds = time.perf_counter() - start
np.save(coef_out, np.concatenate([model.coef_[0], model.intercept_]))
print(json.dumps({"seconds": seconds, "loaded_rss": loaded}))
"""


# Starts argv[2:] and writes its peak RSS to argv[1]. A child's ru_maxrss counts what it held before
# exec, a copy of its parent: started from this small process, not from the benchmark holding X.
LAUNCHER = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss * 1024))
sys.exit(1 if status else 0)
"""


def measured(cmd):
    """(stdout, peak RSS in bytes) of `cmd`, run from a small launcher whose os.wait4 reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        out = subprocess.run([sys.executable, "-c", LAUNCHER, rss_file, *map(str, cmd)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            sys.exit(f"{' '.join(map(str, cmd))}: {out.stderr.strip()}")
        return out.stdout, int(open(rss_file).read())


def clicklog(args):
    """The click-log benchmark: prints its table and returns its rows."""
    xf, yf, bf = clicklog_problem(args.cache, args.rows, args.logreg)
    X = sp.load_npz(xf).astype(np.float64).tocsr()
    y = np.load(yf).astype(np.float64)
    n, d = X.shape
    csr_bytes = os.path.getsize(bf) - 32 - 4 * n
    _, help_rss = measured([args.logreg, "--help"])
    print(f"clicklog {n}x{d}, {X.nnz} nnz, CSR {csr_bytes / 1e6:.0f} MB, logreg --help {help_rss / 1e6:.0f} MB",
          file=sys.stderr)
    rows = []
    for penalty in args.penalties.split(","):
        rho, lam = CLICKLOG_PENALTIES[penalty]
        C = 1.0 / (lam * n)
        l1, l2 = rho / (C * n), (1 - rho) / (2 * C * n)
        peaks = {}

        def ours(solver, tol, extra=()):
            with tempfile.TemporaryDirectory() as tmp:
                # liblinear's own objective: the bias a weight on a constant 1, penalized as the rest.
                cmd = [args.logreg, "train", "--data", bf, "--penalty", penalty, "--lambda", repr(l1 + l2),
                       "--penalize-bias", "--solver", solver, "--json", "--quiet", "--out",
                       os.path.join(tmp, "m.safetensors"), *extra]
                if solver not in ("sgd", "adam"):
                    cmd += ["--tol", repr(tol), "--max-iter", "100000"]
                start = time.perf_counter()
                out, rss = measured(cmd)
                wall = time.perf_counter() - start
            report = json.loads(out)
            coef, b = np.array(report["coef"]), report["intercept"]
            seconds = report["solver"]["seconds"] if report.get("solver") else report["fit_seconds"]
            peaks[(solver, tol)] = (rss, wall)
            return seconds, liblinear_objective(coef, b), solver

        def liblinear(tol):
            with tempfile.TemporaryDirectory() as tmp:
                coef_out = os.path.join(tmp, "coef.npy")
                out, rss = measured([sys.executable, "-c", LIBLINEAR_CHILD, xf, yf, repr(C), repr(rho), repr(tol),
                                     coef_out])
                theta = np.load(coef_out)
            report = json.loads(out)
            peaks[("liblinear", tol)] = (rss, report["loaded_rss"])
            return report["seconds"], liblinear_objective(theta[:-1], float(theta[-1])), "liblinear"

        def liblinear_objective(coef, b):
            return objective(X, y, coef, b, l1, l2) + l1 * abs(b) + l2 * b * b

        exact = "tron" if rho == 0.0 else "newton-cd"
        optimum = ours(exact, 1e-10)[1]
        print(f"clicklog {penalty}: optimum {optimum:.12g}", file=sys.stderr)
        target = optimum * (1 + TARGET)
        results = {("sklearn", "liblinear"): sweep(liblinear, target, args.budget)}
        print(f"  liblinear: {results[('sklearn', 'liblinear')]}", file=sys.stderr)
        results[("logreg", exact)] = sweep(lambda t: ours(exact, t), target, args.budget)
        print(f"  logreg {exact}: {results[('logreg', exact)]}", file=sys.stderr)
        epochs = ["--epochs", str(args.stream_epochs), "--lr", "0.05"]
        results[("logreg", "adam --stream")] = ours("adam", None, ["--stream", *epochs])[:2] + (None,)
        optimum = min(optimum, *(r[1] for r in results.values()))
        runs = []
        for (who, solver), (seconds, f, tol) in results.items():
            key = ("liblinear", tol) if who == "sklearn" else (solver.split()[0], tol)
            rss, other = peaks.get(key, (None, None))
            runs.append({"who": who, "solver": solver, "seconds": seconds, "objective": f, "tol": tol,
                         "rel_gap": (f - optimum) / optimum, "peak_rss": rss,
                         "above_help": rss - help_rss if rss and who == "logreg" else None,
                         "liblinear_loaded_rss": other if who == "sklearn" else None})
        row = {"problem": "clicklog-1m", "n": n, "d": d, "nnz": int(X.nnz), "csr_bytes": csr_bytes,
               "help_rss": help_rss, "penalty": penalty, "C": C, "l1_ratio": rho, "optimum": optimum, "runs": runs}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    fmt = lambda t: "not reached" if t is None else f"{t:.2f} s"
    mb = lambda b: "n/a" if b is None else f"{b / 1e6:.0f} MB"
    print(f"Hashed click log, {n}x{d}, {rows[0]['nnz']} non-zeros (CSR {mb(csr_bytes)}); time to within {TARGET:g} "
          f"of the optimum; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"sklearn {sklearn.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| penalty | solver | time | rel. gap | peak RSS | above `--help` (× CSR) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for x in r["runs"]:
            above = "" if x["above_help"] is None else f"{mb(x['above_help'])} ({x['above_help'] / csr_bytes:.2f}×)"
            name = f"{x['who']} {x['solver']}"
            print(f"| {r['penalty']} | {name} | {fmt(x['seconds'])} | {x['rel_gap']:.1e} | {mb(x['peak_rss'])} | {above} |")
    return rows


def objective(X, y, coef, intercept, l1, l2):
    z = X @ coef + intercept
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + l1 * np.abs(coef).sum() + l2 * (coef @ coef))


def sweep(run, target, budget):
    """Runs `run(tol)` for ever tighter tol; (seconds, objective, tol) of the first run within
    `target`, else (None, best objective, last tol); stops once `budget` seconds are spent."""
    spent, best, last = 0.0, float("inf"), None
    for tol in TOLS:
        seconds, f, _ = run(tol)
        spent += seconds
        best, last = min(best, f), tol
        if f <= target:
            return seconds, f, tol
        if spent > budget:
            break
    return None, best, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="dense-20k,sparse-100k")
    parser.add_argument("--penalties", default="l2,l1")
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--json", default="bench-sparse.json")
    parser.add_argument("--cache", default="target/bench-data")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per solver and problem")
    parser.add_argument("--rows", type=int, default=1_000_000, help="clicklog-1m: rows (fewer for a quick run)")
    parser.add_argument("--skip", default="", help="solvers left out (comma-separated), e.g. newton-cholesky")
    parser.add_argument("--stream-epochs", type=int, default=20, help="clicklog-1m: adam --stream epochs")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    if args.problems == "clicklog-1m":
        rows = clicklog(args)
        with open(args.json + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
        print(f"\nwrote {args.json}", file=sys.stderr)
        return
    rows = []
    skip = set(filter(None, args.skip.split(",")))
    for name in args.problems.split(","):
        xf, yf = problem(name, args.cache)
        X = sp.load_npz(xf).astype(np.float64).tocsr() if xf.endswith(".npz") else np.load(xf).astype(np.float64)
        y = np.load(yf).astype(np.float64)
        n = len(y)
        for penalty in args.penalties.split(","):
            rho, lam = PENALTIES[name][penalty]
            C = 1.0 / (lam * n)
            l1, l2 = rho / (C * n), (1 - rho) / (2 * C * n)
            chosen, passes = {}, {}

            def ours(solver, tol, penalize_bias=False):
                with tempfile.TemporaryDirectory() as tmp:
                    # With the bias penalized, glmnet's form: --C (scikit-learn's) leaves the bias free.
                    penalty_flags = (["--penalty", "l2" if rho == 0.0 else "l1", "--lambda", repr(l1 + l2),
                                      "--penalize-bias"] if penalize_bias else ["--C", repr(C), "--l1-ratio", repr(rho)])
                    cmd = [args.logreg, "train", "--data", xf, "--labels", yf, *penalty_flags, "--solver", solver,
                           "--tol", repr(tol), "--max-iter", "100000", "--device", "cpu", "--json", "--quiet",
                           "--out", os.path.join(tmp, "m.safetensors")]
                    out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
                report = json.loads(out.stdout)
                if solver == "auto":
                    chosen["auto"] = report["solver"]["name"]
                passes[(solver + (" --penalize-bias" if penalize_bias else ""), tol)] = report["solver"].get("passes")
                coef, b = np.array(report["coef"]), report["intercept"]
                f = objective(X, y, coef, b, l1, l2) + (l1 * abs(b) + l2 * b * b if penalize_bias else 0.0)
                return report["solver"]["seconds"], f, report["solver"]["name"]

            def theirs(solver, tol):
                model = LogisticRegression(C=C, l1_ratio=rho, solver=solver, tol=tol, max_iter=1000, random_state=0)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X, y)
                seconds = time.perf_counter() - start
                coef, b = model.coef_[0], float(model.intercept_[0])
                f = objective(X, y, coef, b, l1, l2)
                if solver == "liblinear":
                    # liblinear's own objective: the bias a weight on a constant 1 (intercept_scaling=1),
                    # penalized as the others (logreg's --penalize-bias).
                    f += l1 * abs(b) + l2 * b * b
                return seconds, f, solver

            exact = "tron" if rho == 0.0 else "newton-cd"
            optimum = ours(exact, 1e-10)[1]
            print(f"{name} {penalty}: optimum {optimum:.12g}", file=sys.stderr)
            results, kinds = {}, {}
            for solver in OURS[(name, penalty)]:
                if solver in skip:
                    continue
                results[("logreg", solver)] = sweep(lambda t: ours(solver, t), optimum * (1 + TARGET), args.budget)
                print(f"  logreg {solver}: {results[('logreg', solver)]}", file=sys.stderr)
            for solver in SKLEARN[(name, penalty)]:
                if solver == "liblinear" or solver in skip:
                    continue
                results[("sklearn", solver)] = sweep(lambda t: theirs(solver, t), optimum * (1 + TARGET), args.budget)
                print(f"  sklearn {solver}: {results[('sklearn', solver)]}", file=sys.stderr)
            optimum = min([optimum, *(r[1] for r in results.values())])
            kinds.update({key: "standard" for key in results})
            optima = {"standard": optimum}
            if "liblinear" in SKLEARN[(name, penalty)] and "liblinear" not in skip:
                # liblinear against its own optimum, and logreg's exact solver on the same objective.
                lib_optimum = ours(exact, 1e-10, penalize_bias=True)[1]
                print(f"{name} {penalty}: liblinear's optimum {lib_optimum:.12g}", file=sys.stderr)
                lib = {("sklearn", "liblinear"): sweep(lambda t: theirs("liblinear", t), lib_optimum * (1 + TARGET),
                                                       args.budget),
                       ("logreg", exact + " --penalize-bias"): sweep(lambda t: ours(exact, t, True),
                                                                     lib_optimum * (1 + TARGET), args.budget)}
                for key, r in lib.items():
                    print(f"  {key[0]} {key[1]}: {r}", file=sys.stderr)
                optima["liblinear"] = min(lib_optimum, *(r[1] for r in lib.values()))
                results.update(lib)
                kinds.update({key: "liblinear" for key in lib})
            # The fastest scikit-learn solver, and logreg's fastest on that solver's objective.
            (t_sk, s_sk) = min(((r[0], s) for (w, s), r in results.items() if w == "sklearn" and r[0] is not None),
                               default=(None, None))
            kind = kinds.get(("sklearn", s_sk), "standard")
            (t_us, s_us) = min(((r[0], s) for (w, s), r in results.items()
                                if w == "logreg" and r[0] is not None and s != "auto" and kinds[(w, s)] == kind),
                               default=(None, None))
            t_auto = results.get(("logreg", "auto"), (None,))[0]
            t_ours_std = min((r[0] for (w, s), r in results.items()
                              if w == "logreg" and r[0] is not None and s != "auto" and kinds[(w, s)] == "standard"),
                             default=None)
            row = {
                "problem": name, "n": n, "d": X.shape[1], "nnz": int(X.nnz) if sp.issparse(X) else n * X.shape[1],
                "penalty": penalty, "C": C, "l1_ratio": rho, "optimum": optimum, "optima": optima,
                "auto_chose": chosen.get("auto"),
                "runs": [{"who": w, "solver": s, "objective_kind": kinds[(w, s)], "seconds": r[0], "objective": r[1],
                          "tol": r[2], "rel_gap": (r[1] - optima[kinds[(w, s)]]) / optima[kinds[(w, s)]],
                          "passes": passes.get((s, r[2])) if w == "logreg" else None}
                         for (w, s), r in results.items()],
                "sklearn_best": {"solver": s_sk, "seconds": t_sk, "objective_kind": kind},
                "logreg_best": {"solver": s_us, "seconds": t_us},
                "ratio": t_us / t_sk if t_us and t_sk else None,
                "auto_vs_our_best": t_auto / t_ours_std if t_auto and t_ours_std else None,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    fmt = lambda t: "not reached" if t is None else f"{t:.2f} s"
    print(f"Time to within {TARGET:g} of the optimum; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, sklearn {sklearn.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| problem | penalty | sklearn best | time | logreg best (same objective) | time | ratio | auto (chose) | auto / our best |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        auto = next((x["seconds"] for x in r["runs"] if x["who"] == "logreg" and x["solver"] == "auto"), None)
        vs = "n/a" if r["auto_vs_our_best"] is None else f"{r['auto_vs_our_best']:.2f}×"
        print(f"| {r['problem']} ({r['n']}×{r['d']}, {r['nnz']} nnz) | {r['penalty']} | {r['sklearn_best']['solver']} | "
              f"{fmt(r['sklearn_best']['seconds'])} | {r['logreg_best']['solver']} | {fmt(r['logreg_best']['seconds'])} | "
              f"{ratio} | {fmt(auto)} ({r['auto_chose']}) | {vs} |")
    # The cost model's inputs (src/solvers/auto.rs): passes over X each solver needed, and the rate.
    print("\n| problem | penalty | logreg solver | passes | time | values read a second (passes × nnz / time) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for x in r["runs"]:
            if x["who"] == "logreg" and x["seconds"] and x["passes"]:
                rate = x["passes"] * r["nnz"] / x["seconds"]
                print(f"| {r['problem']} | {r['penalty']} | {x['solver']} | {x['passes']} | {x['seconds']:.2f} s | {rate:.2e} |")
    with open(args.json + ".tmp", "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
