#!/usr/bin/env python3
"""Time to the multinomial optimum: logreg's exact solvers against scikit-learn's, in one run on
one machine. Not a test: it prints a markdown table and writes JSON.

The problem: 100k rows x 100 features, 10 classes (make_classification, 30 informative features,
seeded; standardized, stored as float32 so that both sides fit the very same numbers), with L2
and L1 penalties. Every solver is run from scratch with tol = 1e-1, 1e-2, ... until its objective
is within 1e-6 relative of the optimum (the lowest objective any run reached, logreg's newton at
tol 1e-12 among them); its time is that run's: sklearn's `fit`, and the command line's
`logreg train --data X.npy --labels y.npy --C … --l1-ratio … --json` as it reports `fit_seconds`
(from the table in memory to the fitted model and its training report; reading the files excluded
on both sides). sklearn runs get at most 1000 iterations each. Objectives are logreg's form (mean
cross-entropy + l1*|W|_1 + l2*|W|_2^2), computed here in float64 from each side's coefficients.

    bench_multiclass.py [--rows 100000] [--logreg target/release/logreg]
                        [--device cpu] [--penalties l2,l1] [--json bench-multiclass.json] [--budget 300]
                        [--sklearn-solvers lbfgs,newton-cholesky,saga] [--ours newton,fista]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
import sklearn
from scipy.special import logsumexp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

TARGET = 1e-6
TOLS = [10.0**-k for k in range(1, 13)]
CLASSES = 10
# Penalty: (l1_ratio, glmnet lambda); C = 1 / (lambda * n) so the strength does not shrink with n.
PENALTIES = {"l2": (0.0, 1e-3), "l1": (1.0, 1e-3)}
SKLEARN = {"l2": ["lbfgs", "newton-cholesky", "saga"], "l1": ["saga"]}
OURS = ["newton", "fista"]


def problem(rows, cache):
    """Standardized float32 X and class indices y, cached as .npy files under `cache`."""
    xf, yf = os.path.join(cache, f"multi-{rows}-X.npy"), os.path.join(cache, f"multi-{rows}-y.npy")
    if not (os.path.exists(xf) and os.path.exists(yf)):
        X, y = make_classification(n_samples=rows, n_features=100, n_informative=30, n_redundant=0,
                                   n_classes=CLASSES, n_clusters_per_class=1, random_state=0)
        X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
        np.save(xf + ".tmp.npy", X)
        np.save(yf + ".tmp.npy", y.astype(np.int64))
        os.replace(xf + ".tmp.npy", xf)
        os.replace(yf + ".tmp.npy", yf)
    return xf, yf


def objective(X, y, coef, intercept, l1, l2):
    z = X @ coef.T + intercept
    loss = logsumexp(z, axis=1) - z[np.arange(len(y)), y]
    return float(loss.mean() + l1 * np.abs(coef).sum() + l2 * (coef * coef).sum())


def sweep(run, target, budget):
    """Runs `run(tol)` for ever tighter tol; returns (seconds, objective, tol) of the first run within
    `target`, else (None, best objective, last tol). Stops once `budget` seconds are spent."""
    spent, best, last = 0.0, float("inf"), None
    for tol in TOLS:
        seconds, f = run(tol)
        spent += seconds
        best, last = min(best, f), tol
        if f <= target:
            return seconds, f, tol
        if spent > budget:
            break
    return None, best, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default="bench-multiclass.json")
    parser.add_argument("--cache", default="target/bench-data")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per solver and penalty")
    parser.add_argument("--penalties", default="l2,l1")
    parser.add_argument("--sklearn-solvers", default=None,
                        help="comma-separated subset of sklearn's solvers to run (default: all of them)")
    parser.add_argument("--ours", default=",".join(OURS), help="logreg solvers to run")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    xf, yf = problem(args.rows, args.cache)
    X, y = np.load(xf).astype(np.float64), np.load(yf)
    n = len(y)
    rows = []
    for penalty in args.penalties.split(","):
        rho, lam = PENALTIES[penalty]
        C = 1.0 / (lam * n)
        l1, l2 = rho / (C * n), (1 - rho) / (2 * C * n)

        def ours(solver, tol):
            model = os.path.join(args.cache, "multi-bench-model.safetensors")
            cmd = [args.logreg, "train", "--data", xf, "--labels", yf, "--C", repr(C), "--l1-ratio", repr(rho),
                   "--solver", solver, "--tol", repr(tol), "--max-iter", "100000", "--device", args.device,
                   "--json", "--out", model]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
            report = json.loads(out.stdout)
            coef, b = np.array(report["coef"]), np.array(report["intercept"])
            return report["fit_seconds"], objective(X, y, coef, b, l1, l2)

        def theirs(solver, tol):
            model = LogisticRegression(C=C, l1_ratio=rho, solver=solver, tol=tol, max_iter=1000, random_state=0)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            seconds = time.perf_counter() - start
            return seconds, objective(X, y, model.coef_, model.intercept_, l1, l2)

        optimum = ours("newton", 1e-12)[1]
        results = {}
        chosen = args.sklearn_solvers.split(",") if args.sklearn_solvers else SKLEARN[penalty]
        for solver in [s for s in SKLEARN[penalty] if s in chosen]:
            results[("sklearn", solver)] = sweep(lambda t: theirs(solver, t), optimum * (1 + TARGET), args.budget)
            print(f"{penalty} sklearn {solver}: {results[('sklearn', solver)]}", file=sys.stderr)
        for solver in args.ours.split(","):
            results[("logreg", solver)] = sweep(lambda t: ours(solver, t), optimum * (1 + TARGET), args.budget)
            print(f"{penalty} logreg {solver}: {results[('logreg', solver)]}", file=sys.stderr)
        optimum = min(optimum, *(r[1] for r in results.values()))
        best = lambda who: min(
            ((r[0], s) for (w, s), r in results.items() if w == who and r[0] is not None), default=(None, None)
        )
        (t_sk, s_sk), (t_us, s_us) = best("sklearn"), best("logreg")
        row = {
            "n": n, "d": X.shape[1], "classes": CLASSES, "penalty": penalty, "C": C, "l1_ratio": rho,
            "device": args.device, "optimum": optimum,
            "runs": [{"who": w, "solver": s, "seconds": r[0], "objective": r[1], "tol": r[2],
                      "rel_gap": (r[1] - optimum) / optimum} for (w, s), r in results.items()],
            "sklearn_best": {"solver": s_sk, "seconds": t_sk},
            "logreg_best": {"solver": s_us, "seconds": t_us},
            "ratio": t_us / t_sk if t_us and t_sk else None,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    fmt = lambda t: "not reached" if t is None else f"{t:.3f} s"
    print(f"Time to within {TARGET:g} of the multinomial optimum; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, logreg on {args.device}, sklearn {sklearn.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| problem | penalty | C | sklearn best | time | logreg best | time | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        print(f"| {r['n']}×{r['d']}, {r['classes']} classes | {r['penalty']} | {r['C']:.3g} | "
              f"{r['sklearn_best']['solver']} | {fmt(r['sklearn_best']['seconds'])} | {r['logreg_best']['solver']} | "
              f"{fmt(r['logreg_best']['seconds'])} | {ratio} |")
    with open(args.json + ".tmp", "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
