#!/usr/bin/env python3
"""Writes the Wisconsin diagnostic breast-cancer data (569 rows x 30 features, shipped with
scikit-learn) as CSV: a header of the feature names and `benign` (1 = benign, 0 = malignant,
scikit-learn's target). The only writer of fixtures/breast_cancer.csv.

    export_breast_cancer.py [--out fixtures/breast_cancer.csv]
"""

import argparse
import csv
import os
import tempfile

from sklearn.datasets import load_breast_cancer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="fixtures/breast_cancer.csv")
    args = parser.parse_args()
    data = load_breast_cancer()
    directory = os.path.dirname(os.path.abspath(args.out))
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(list(data.feature_names) + ["benign"])
        for row, target in zip(data.data, data.target):
            writer.writerow([repr(float(v)) for v in row] + [int(target)])
    os.replace(f.name, args.out)


if __name__ == "__main__":
    main()
