#!/usr/bin/env python3
"""What checkpoints cost: `train --solver sgd --epochs E` on fixtures/breast_cancer.csv (569 rows x
30 features, on the CPU) with `--checkpoint-every 1`, a save after every epoch, against the same
run with no checkpoints, for `--engine autograd` and `--engine fused`. Wall time of whole runs,
best of --repeat, every command of a round run once before the next round starts (interleaved),
so that a slow spell of the machine hits them alike. Not a test: prints a markdown table whose
last column is the ratio (the issue's aim: at most 2x), and the extra time per save.

With --baseline PATH another build (an older binary) is measured in the same rounds, for a
before/after comparison from one run.

    bench_checkpoint.py [--logreg target/release/logreg] [--baseline PATH] [--epochs 20000] [--repeat 5]
"""

import argparse
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import card, timed  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--baseline", help="another build to measure in the same rounds")
    parser.add_argument("--epochs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    builds = {"this build": args.logreg}
    if args.baseline:
        builds["baseline"] = args.baseline
    engines = ["autograd", "fused"]
    modes = {"none": [], "every 1": ["--checkpoint-every", "1"]}
    with tempfile.TemporaryDirectory(dir="target") as work:
        def command(build, engine, mode):
            # One folder per build and engine: the checkpoints of one never meet another's.
            folder = os.path.join(work, f"{list(builds).index(build)}-{engine}")
            os.makedirs(folder, exist_ok=True)
            return [builds[build], "train", "--data", "fixtures/breast_cancer.csv", "--solver", "sgd",
                    "--epochs", str(args.epochs), "--engine", engine, "--device", "cpu", "--quiet",
                    "--out", os.path.join(folder, "model.safetensors")] + modes[mode]

        keys = [(b, e, m) for b in builds for e in engines for m in modes]
        best = {k: float("inf") for k in keys}
        for _ in range(args.repeat):
            for k in keys:
                best[k] = min(best[k], timed(command(*k), 1)[0])
        sizes = {}
        for b in builds:
            folder = os.path.join(work, f"{list(builds).index(b)}-fused")
            sizes[b] = {name: os.path.getsize(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
                        if name.startswith("model.safetensors.ckpt")}
    print(f"Checkpoint cost: `train --solver sgd --epochs {args.epochs}` on breast_cancer.csv, --device cpu, "
          f"best of {args.repeat} (interleaved); {card('cpu')}, {platform.platform()}, {time.strftime('%Y-%m-%d')}\n")
    print("| build | engine | no checkpoints | `--checkpoint-every 1` | ratio | extra per save |")
    print("|---|---|---|---|---|---|")
    for b in builds:
        for e in engines:
            none, every = best[(b, e, "none")], best[(b, e, "every 1")]
            per_save = (every - none) / max(args.epochs - 1, 1)
            print(f"| {b} | {e} | {none:.2f} s | {every:.2f} s | {every / none:.2f}× | {per_save * 1e6:.0f} µs |")
    print()
    for b, files in sizes.items():
        print(f"{b}: files after the run: " + ", ".join(f"{n} {s} bytes" for n, s in files.items()))


if __name__ == "__main__":
    main()
