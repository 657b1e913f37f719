#!/usr/bin/env python3
"""What reading a table through the input recipe costs: rows per second of `train` (newton, one
iteration), `evaluate` and `convert` on a 1M-row CSV file of 8 numeric features, plain (labels 0/1)
and messy (an ID column, a 5-level categorical column, 2% NA cells imputed by the mean, labels M/B),
this build against an optional other build (`--before`, e.g. one from before recipes) on the plain
file. `convert` of the messy file runs both ways: the file read twice (the recipe learned, then the
rows written) and standard input read into memory. Best of --repeat runs, with each command's peak
RSS; ratios are against this build's plain run of the same command, measured in the same run.

    bench_encoding.py [--bin target/release/logreg] [--before OTHER_BIN] [--rows 1000000] [--repeat 3]
"""

import argparse
import os
import random
import subprocess
import tempfile
import time


def write_tables(directory, rows):
    rng = random.Random(0)
    sites = ["north", "south", "east", "west", "centre"]
    weights = [0.8, -0.5, 0.3, 0.0, 1.2, -0.7, 0.1, 0.4]
    plain = open(os.path.join(directory, "plain.csv"), "w")
    messy = open(os.path.join(directory, "messy.csv"), "w")
    features = [f"x{j}" for j in range(8)]
    plain.write(",".join(features + ["y"]) + "\n")
    messy.write(",".join(["id", "site"] + features + ["diagnosis"]) + "\n")
    for i in range(rows):
        x = [rng.gauss(0.0, 1.0) for _ in weights]
        score = sum(w * v for w, v in zip(weights, x)) + rng.gauss(0.0, 1.0)
        y = 1 if score > 0 else 0
        cells = [f"{v:.5f}" for v in x]
        plain.write(",".join(cells + [str(y)]) + "\n")
        if rng.random() < 0.02:
            cells[0] = "NA"
        messy.write(",".join([f"r{i}", rng.choice(sites)] + cells + ["M" if y else "B"]) + "\n")
    plain.close()
    messy.close()


def timed(command, repeat, stdin=None):
    """Best wall time of `command` over `repeat` runs, and its largest peak RSS in bytes."""
    best, rss = float("inf"), 0
    for _ in range(repeat):
        source = open(stdin, "rb") if stdin else subprocess.DEVNULL
        start = time.perf_counter()
        child = subprocess.Popen(command, stdin=source, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if stdin:
            source.close()
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command)}: exit {child.returncode}")
        best, rss = min(best, elapsed), max(rss, usage.ru_maxrss * 1024)
    return best, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="target/release/logreg")
    parser.add_argument("--before")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        write_tables(d, args.rows)
        plain, messy = os.path.join(d, "plain.csv"), os.path.join(d, "messy.csv")
        common = ["--device", "cpu", "--quiet"]
        train = ["train", "--solver", "newton", "--max-iter", "1"] + common
        recipe = ["--id", "id", "--categorical", "site", "--missing", "mean"]
        plain_model, messy_model = os.path.join(d, "plain.st"), os.path.join(d, "messy.st")
        runs = []
        builds = [("this build", args.bin)] + ([("--before", args.before)] if args.before else [])
        for name, binary in builds:
            runs.append((f"train, plain ({name})",
                         timed([binary] + train + ["--data", plain, "--out", plain_model], args.repeat)))
        runs.append(("train, messy (this build)",
                     timed([args.bin] + train + recipe + ["--data", messy, "--out", messy_model], args.repeat)))
        for name, binary in builds:
            runs.append((f"evaluate, plain ({name})",
                         timed([binary, "evaluate", "--model", plain_model, "--data", plain] + common, args.repeat)))
        runs.append(("evaluate, messy (this build)",
                     timed([args.bin, "evaluate", "--model", messy_model, "--data", messy] + common, args.repeat)))
        out = os.path.join(d, "out.npy")
        convert = [args.bin, "convert", "--quiet"]
        runs.append(("convert, plain (this build)", timed(convert + [plain, out], args.repeat)))
        runs.append(("convert, messy, file read twice (this build)",
                     timed(convert + [messy, out, "--label", "diagnosis"] + recipe, args.repeat)))
        runs.append(("convert, messy, standard input in memory (this build)",
                     timed(convert + ["-", out, "--label", "diagnosis"] + recipe, args.repeat, stdin=messy)))
        base = {"train": runs[0][1][0], "evaluate": runs[len(builds) + 1][1][0],
                "convert": runs[2 * len(builds) + 2][1][0]}
        print(f"| {args.rows} rows × 8 features | seconds (best of {args.repeat}) | rows/s | time vs this build, plain "
              f"| peak RSS |")
        print("|---|---|---|---|---|")
        for name, (seconds, rss) in runs:
            ratio = seconds / base[name.split(",")[0]]
            print(f"| {name} | {seconds:.2f} | {args.rows / seconds:,.0f} | {ratio:.2f}× | {rss / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
