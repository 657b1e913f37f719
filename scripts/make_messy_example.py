#!/usr/bin/env python3
"""Writes the messy example tables of the README's worked example from the breast-cancer fixture:
semicolon-separated, gzip-compressed, with an ID column (`patient`), a text label (`diagnosis`,
M = malignant, B = benign), a categorical column (`clinic`), missing cells (`NA` and empty) and a
free-text column (`comment`) to leave out. Deterministic (a seeded generator, gzip without a
timestamp). The only writer of fixtures/messy/.

    make_messy_example.py [--source fixtures/breast_cancer.csv] [--out fixtures/messy]

Writes patients.csv.gz (the first 450 rows, to train on) and new_patients.csv.gz (the other 119).
"""

import argparse
import csv
import gzip
import io
import os
import random
import tempfile

COLUMNS = {"mean radius": "radius", "mean texture": "texture", "mean smoothness": "smoothness",
           "mean area": "area", "worst concavity": "concavity"}
CLINICS = ["north", "south", "east", "west"]
COMMENTS = ["", "", "", "referred", "follow-up; see notes", "second opinion", "patient moved"]


def rows(source):
    with open(source, newline="") as f:
        reader = csv.DictReader(f)
        rng = random.Random(12)
        for i, row in enumerate(reader):
            out = {"patient": f"P{i + 1:04d}", "clinic": rng.choice(CLINICS)}
            for old, new in COLUMNS.items():
                out[new] = row[old]
            # About 4% of textures are NA, 3% of smoothness cells empty.
            if rng.random() < 0.04:
                out["texture"] = "NA"
            if rng.random() < 0.03:
                out["smoothness"] = ""
            out["diagnosis"] = "B" if row["benign"] == "1" else "M"
            out["comment"] = rng.choice(COMMENTS)
            yield out


def write(path, table):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=";", lineterminator="\n")
    header = ["patient", "clinic", *COLUMNS.values(), "diagnosis", "comment"]
    writer.writerow(header)
    for row in table:
        writer.writerow([row[c] for c in header])
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".tmp", delete=False) as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as z:
            z.write(text.getvalue().encode())
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="fixtures/breast_cancer.csv")
    parser.add_argument("--out", default="fixtures/messy")
    args = parser.parse_args()
    table = list(rows(args.source))
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "patients.csv.gz"), table[:450])
    write(os.path.join(args.out, "new_patients.csv.gz"), table[450:])


if __name__ == "__main__":
    main()
