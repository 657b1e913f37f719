#!/usr/bin/env python3
"""scikit-learn's regularized optimum on the breast-cancer data, standardized (StandardScaler), for
L1, L2 and Elastic Net at three values of C each: the cross-check for logreg's solvers. The only
writer of fixtures/sklearn/.

sklearn's objective: r(w) + C * sum_i logloss_i, with r(w) = l1_ratio*||w||_1 + (1-l1_ratio)/2*||w||_2^2
and the intercept not penalized. A fixture is written only if sklearn's solver converged.

    sklearn_reference.py [--out fixtures/sklearn]
"""

import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

TOL = 1e-10
MAX_ITER = 100_000
# Our optimum must reach sklearn's objective within this (or go lower), the coefficients within
# COEF_ABS, with the same zero coefficients.
TOLERANCE = {"objective_rel": 1e-6, "coef_abs": 1e-4}
CASES = [("l1", 1.0, "saga"), ("elastic-net", 0.5, "saga"), ("l2", 0.0, "newton-cholesky")]
CS = [0.01, 0.1, 0.5]


def objective(X, y, coef, intercept, C, l1_ratio):
    z = X @ coef + intercept
    logloss = np.logaddexp(0.0, z) - y * z
    r = l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * (coef @ coef)
    return float(r + C * logloss.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="fixtures/sklearn")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for penalty, l1_ratio, solver in CASES:
        for C in CS:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                model = LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=TOL, max_iter=MAX_ITER, random_state=0)
                model.fit(X, y)
            coef, intercept = model.coef_[0], float(model.intercept_[0])
            name = f"{penalty}-C{C}"
            fixture = {
                "name": name,
                "generator": "scripts/sklearn_reference.py",
                "sklearn_version": sklearn.__version__,
                "data": "fixtures/breast_cancer.csv",
                "standardize": True,
                "C": C,
                "l1_ratio": l1_ratio,
                "solver": solver,
                "tol": TOL,
                "n_iter": int(model.n_iter_[0]),
                "tolerance": TOLERANCE,
                "coef": [float(v) for v in coef],
                "intercept": intercept,
                "objective": objective(X, y, coef, intercept, C, l1_ratio),
            }
            with tempfile.NamedTemporaryFile("w", dir=args.out, suffix=".tmp", delete=False) as f:
                json.dump(fixture, f, indent=1)
                f.write("\n")
            os.replace(f.name, os.path.join(args.out, name + ".json"))
    print(f"wrote {len(CASES) * len(CS)} fixtures to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
