#!/usr/bin/env python3
"""scikit-learn's multinomial optimum on the wine (3 classes) and digits (10 classes) data,
standardized (StandardScaler), for L1, L2 and Elastic Net at several C, with and without sample
and class weights: the cross-check for logreg's multinomial solvers and weights. The only writer
of fixtures/sklearn_multiclass/.

sklearn's objective: r(W) + C * sum_i s_i * (logsumexp(z_i) - z_i,y_i), with
r(W) = l1_ratio*||W||_1 + (1-l1_ratio)/2*||W||_2^2 over the whole K x d matrix, the intercepts not
penalized, and s_i = sample_weight_i * class_weight[y_i]. A fixture is written only if sklearn's
solver converged. Pure L1 runs on wine only: with an even number of classes (digits has 10) an L1
optimum need not be unique, and its zeros then need not match.

    sklearn_multiclass.py [--out fixtures/sklearn_multiclass]
"""

import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import sklearn
from scipy.special import logsumexp
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

TOL = 1e-10
MAX_ITER = 100_000
# Our optimum must reach sklearn's objective within this (or go lower), the coefficients (centred
# over the classes) within COEF_ABS, with the same zero coefficients.
TOLERANCE = {"objective_rel": 1e-8, "coef_abs": 1e-5}
DATA = {"wine": ("fixtures/wine.csv", load_wine), "digits": ("fixtures/digits.csv", load_digits)}
# (data, penalty, l1_ratio, C, solver, sample weights?, class weight)
CASES = [
    ("wine", "l2", 0.0, 0.1, "newton-cholesky", False, None),
    ("wine", "l2", 0.0, 1.0, "newton-cholesky", True, {"0": 2.0, "2": 0.5}),
    ("wine", "l1", 1.0, 0.1, "saga", True, None),
    ("wine", "l1", 1.0, 1.0, "saga", True, "balanced"),
    ("wine", "elastic-net", 0.5, 0.5, "saga", False, "balanced"),
    ("digits", "l2", 0.0, 0.01, "newton-cholesky", False, None),
    ("digits", "l2", 0.0, 0.1, "newton-cholesky", True, "balanced"),
    ("digits", "elastic-net", 0.5, 0.05, "saga", True, None),
    ("digits", "elastic-net", 0.8, 0.01, "saga", False, {"1": 3.0}),
]


def sample_weights(n):
    """Deterministic weights in [0.5, 1.5]: row i gets 0.5 + ((37 i) mod 11) / 10."""
    return [0.5 + ((37 * i) % 11) / 10 for i in range(n)]


def objective(X, y, coef, intercept, C, l1_ratio, s):
    z = X @ coef.T + intercept
    loss = logsumexp(z, axis=1) - z[np.arange(len(y)), y]
    r = l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef * coef).sum()
    return float(r + C * (s * loss).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="fixtures/sklearn_multiclass")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for data, penalty, l1_ratio, C, solver, weighted, class_weight in CASES:
        path, load = DATA[data]
        X, y = load(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        sw = np.array(sample_weights(len(y))) if weighted else None
        cw = {int(k): v for k, v in class_weight.items()} if isinstance(class_weight, dict) else class_weight
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            model = LogisticRegression(
                C=C, l1_ratio=l1_ratio, solver=solver, tol=TOL, max_iter=MAX_ITER, random_state=0, class_weight=cw
            )
            model.fit(X, y, sample_weight=sw)
        classes = np.unique(y)
        s = np.ones(len(y)) if sw is None else sw.copy()
        if cw is not None:
            s = s * compute_class_weight(cw, classes=classes, y=y, sample_weight=sw)[y]
        name = f"{data}-{penalty}-C{C}" + ("-sw" if weighted else "") + (
            "" if cw is None else "-balanced" if cw == "balanced" else "-cw"
        )
        fixture = {
            "name": name,
            "generator": "scripts/sklearn_multiclass.py",
            "sklearn_version": sklearn.__version__,
            "data": path,
            "standardize": True,
            "classes": int(len(classes)),
            "C": C,
            "l1_ratio": l1_ratio,
            "solver": solver,
            "tol": TOL,
            "n_iter": int(np.max(model.n_iter_)),
            "tolerance": TOLERANCE,
            "sample_weight": sample_weights(len(y)) if weighted else None,
            "class_weight": class_weight,
            "coef": [[float(v) for v in row] for row in model.coef_],
            "intercept": [float(v) for v in model.intercept_],
            "objective": objective(X, y, model.coef_, model.intercept_, C, l1_ratio, s),
        }
        with tempfile.NamedTemporaryFile("w", dir=args.out, suffix=".tmp", delete=False) as f:
            json.dump(fixture, f, indent=1)
            f.write("\n")
        os.chmod(f.name, 0o644)
        os.replace(f.name, os.path.join(args.out, name + ".json"))
        print(f"{name}: {fixture['n_iter']} iterations", file=sys.stderr)
    print(f"wrote {len(CASES)} fixtures to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
