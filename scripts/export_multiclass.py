#!/usr/bin/env python3
"""Writes two multiclass data sets that scikit-learn ships as CSV: wine (178 rows x 13 features,
3 classes) and digits (1797 rows x 64 pixel features, 10 classes). A header of the feature names
and `class` (the class index, 0..K-1, scikit-learn's target) last. The only writer of
fixtures/wine.csv and fixtures/digits.csv.

    export_multiclass.py [--out fixtures]
"""

import argparse
import csv
import os
import tempfile

from sklearn.datasets import load_digits, load_wine


def write(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(list(data.feature_names) + ["class"])
        for row, target in zip(data.data, data.target):
            writer.writerow([repr(float(v)) for v in row] + [int(target)])
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="fixtures")
    args = parser.parse_args()
    write(os.path.join(args.out, "wine.csv"), load_wine())
    write(os.path.join(args.out, "digits.csv"), load_digits())


if __name__ == "__main__":
    main()
