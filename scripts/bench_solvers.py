#!/usr/bin/env python3
"""Time to the regularized optimum: logreg's exact solvers against scikit-learn's, in one run on
one machine. Not a test: it prints a markdown table and writes JSON.

For each problem (breast-cancer, synthetic 100k x 100 and 1M x 100 from make_classification with
20 informative features, seeded; features standardized, stored as float32 so that both sides fit
the very same numbers) and each penalty (L2, L1, Elastic Net with l1_ratio 0.5), every solver is
run from scratch with tol = 1e-1, 1e-2, ... until its objective is within 1e-6 relative of the
optimum (the lowest objective any solver reached, logreg's newton at tol 1e-12 among them). Its time
is that run's time: sklearn's `fit`, logreg's solve as `train --json` reports it (from the
float32 tensor to the solution; loading the data is excluded on both sides). sklearn runs get at
most 1000 iterations each. Objectives are logreg's form, F = mean logloss + l1*|w|_1 +
l2*|w|_2^2, computed here for every solution in float64.

    bench_solvers.py [--problems breast-cancer,100k,1m] [--logreg target/release/logreg]
                     [--json bench-solvers.json] [--budget 120]
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
import sklearn
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

TARGET = 1e-6
TOLS = [10.0**-k for k in range(1, 13)]
# Penalty: (l1_ratio, glmnet lambda); C = 1 / (lambda * n) so the strength does not shrink with n.
PENALTIES = {"l2": (0.0, 1e-3), "l1": (1.0, 1e-2), "elastic-net": (0.5, 1e-2)}
SKLEARN = {"l2": ["lbfgs", "newton-cholesky"], "l1": ["saga", "liblinear"], "elastic-net": ["saga"]}
OURS = {"l2": ["newton", "fista"], "l1": ["newton", "fista"], "elastic-net": ["newton", "fista"]}


def problem(name, cache):
    """Standardized float32 X and 0/1 y, cached as .npy files under `cache`."""
    xf, yf = os.path.join(cache, f"{name}-X.npy"), os.path.join(cache, f"{name}-y.npy")
    if not (os.path.exists(xf) and os.path.exists(yf)):
        if name == "breast-cancer":
            X, y = load_breast_cancer(return_X_y=True)
        else:
            n = {"100k": 100_000, "1m": 1_000_000}[name]
            X, y = make_classification(
                n_samples=n, n_features=100, n_informative=20, n_redundant=0, random_state=0
            )
        X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
        np.save(xf + ".tmp.npy", X)
        np.save(yf + ".tmp.npy", y.astype(np.float32))
        os.replace(xf + ".tmp.npy", xf)
        os.replace(yf + ".tmp.npy", yf)
    return xf, yf


def objective(X, y, coef, intercept, l1, l2):
    z = X @ coef + intercept
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + l1 * np.abs(coef).sum() + l2 * (coef @ coef))


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
    parser.add_argument("--problems", default="breast-cancer,100k,1m")
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--json", default="bench-solvers.json")
    parser.add_argument("--cache", default="target/bench-data")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per solver and problem")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    rows = []
    for name in args.problems.split(","):
        xf, yf = problem(name, args.cache)
        X, y = np.load(xf).astype(np.float64), np.load(yf).astype(np.float64)
        n = len(y)
        for penalty, (rho, lam) in PENALTIES.items():
            C = 1.0 / (lam * n)
            l1, l2 = rho / (C * n), (1 - rho) / (2 * C * n)

            def ours(solver, tol):
                with tempfile.TemporaryDirectory() as tmp:
                    cmd = [args.logreg, "train", "--data", xf, "--labels", yf, "--C", repr(C), "--l1-ratio",
                           repr(rho), "--solver", solver, "--tol", repr(tol), "--max-iter", "100000",
                           "--device", "cpu", "--json", "--quiet", "--out", os.path.join(tmp, "m.safetensors")]
                    out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
                report = json.loads(out.stdout)
                coef, b = np.array(report["coef"]), report["intercept"]
                return report["solver"]["seconds"], objective(X, y, coef, b, l1, l2)

            def theirs(solver, tol):
                model = LogisticRegression(C=C, l1_ratio=rho, solver=solver, tol=tol, max_iter=1000,
                                           random_state=0)
                if solver == "liblinear":
                    # liblinear penalizes the intercept as a weight on a constant feature; a large
                    # constant makes that penalty negligible.
                    model.set_params(intercept_scaling=1e3)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X, y)
                seconds = time.perf_counter() - start
                return seconds, objective(X, y, model.coef_[0], float(model.intercept_[0]), l1, l2)

            # The optimum: logreg's newton at tol 1e-12, or whatever a sweep reaches below it.
            optimum = ours("newton", 1e-12)[1]
            results = {}
            for solver in SKLEARN[penalty]:
                results[("sklearn", solver)] = sweep(lambda t: theirs(solver, t), optimum * (1 + TARGET), args.budget)
            for solver in OURS[penalty]:
                results[("logreg", solver)] = sweep(lambda t: ours(solver, t), optimum * (1 + TARGET), args.budget)
            optimum = min(optimum, *(r[1] for r in results.values()))
            best = lambda who: min(
                ((r[0], s) for (w, s), r in results.items() if w == who and r[0] is not None), default=(None, None)
            )
            (t_sk, s_sk), (t_us, s_us) = best("sklearn"), best("logreg")
            row = {
                "problem": name, "n": n, "d": X.shape[1], "penalty": penalty, "C": C, "l1_ratio": rho,
                "optimum": optimum,
                "runs": [{"who": w, "solver": s, "seconds": r[0], "objective": r[1], "tol": r[2],
                          "rel_gap": (r[1] - optimum) / optimum} for (w, s), r in results.items()],
                "sklearn_best": {"solver": s_sk, "seconds": t_sk},
                "logreg_best": {"solver": s_us, "seconds": t_us},
                "ratio": t_us / t_sk if t_us and t_sk else None,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    fmt = lambda t: "not reached" if t is None else f"{t:.3f} s"
    print(f"Time to within {TARGET:g} of the optimum; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, sklearn {sklearn.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| problem | penalty | C | sklearn best | time | logreg best | time | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        print(f"| {r['problem']} ({r['n']}×{r['d']}) | {r['penalty']} | {r['C']:.3g} | {r['sklearn_best']['solver']} | "
              f"{fmt(r['sklearn_best']['seconds'])} | {r['logreg_best']['solver']} | {fmt(r['logreg_best']['seconds'])} | {ratio} |")
    with open(args.json + ".tmp", "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
