#!/usr/bin/env python3
"""Start-up of `logreg` with libtorch_cuda loaded on demand, against a build that links it: wall
time (best of --repeat, the commands interleaved) and peak RSS of `--help`, of `predict` on 5 rows
with the default `--device auto` (which looks for an NVIDIA driver, and loads libtorch_cuda only
when it finds one) and with `--device cpu` (which never looks). Not a test: prints a markdown table.

On a machine without a GPU, `predict --device cpu` of this build is a build without CUDA in all but
name: nothing CUDA is loaded, nothing looked for. So it is the baseline that `--help` and `predict`
(auto) are held to (the issue's bound: at most 1.15x).

    bench_startup.py --linked PATH [--logreg target/release/logreg] [--repeat 10]
"""

import argparse
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import card, timed  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--linked", required=True, help="a build with LOGREG_LINK_TORCH_CUDA=1")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    work = os.path.join("target", "startup")
    os.makedirs(work, exist_ok=True)
    model, rows = os.path.join(work, "model.safetensors"), os.path.join(work, "rows.csv")
    subprocess.run([args.logreg, "train", "--data", "fixtures/breast_cancer.csv", "--device", "cpu", "--quiet",
                    "--out", model], check=True, capture_output=True)
    with open("fixtures/breast_cancer.csv") as f, open(rows, "w") as out:
        out.writelines(f.readlines()[:6])
    predict = ["predict", "--model", model, "--data", rows]
    commands = {"--help": ["--help"], "predict (auto)": predict, "predict --device cpu": predict + ["--device", "cpu"]}
    builds = {"on demand": args.logreg, "linked": args.linked}
    # The time of a process whose dynamic loading the benchmark's own Python took part in is noise:
    # one warm-up of each, then interleaved best-of.
    for build in builds.values():
        for cmd in commands.values():
            timed([build] + cmd, 1)
    best = {(b, c): (float("inf"), 0) for b in builds for c in commands}
    for _ in range(args.repeat):
        for b, path in builds.items():
            for c, cmd in commands.items():
                t, rss = timed([path] + cmd, 1)
                best[(b, c)] = (min(best[(b, c)][0], t), max(best[(b, c)][1], rss))
    # What the measuring costs by itself (the helper starting `true`), taken off every time.
    overhead = min(timed(["true"], 1)[0] for _ in range(args.repeat))
    best = {k: (t - overhead, rss) for k, (t, rss) in best.items()}
    baseline = best[("on demand", "predict --device cpu")][0]
    gpu = "an NVIDIA driver" if subprocess.run(["sh", "-c", "ldconfig -p | grep -q libcuda.so.1"]).returncode == 0 \
        else "no NVIDIA driver"
    print(f"Start-up, best of {args.repeat} (interleaved), less {overhead * 1e3:.0f} ms of measuring; {card('cpu')}, "
          f"{gpu}, {platform.platform()}, {time.strftime('%Y-%m-%d')}\n")
    print("| command | build | wall | peak RSS | / `predict --device cpu` of the on-demand build |")
    print("|---|---|---|---|---|")
    for c in commands:
        for b in builds:
            t, rss = best[(b, c)]
            print(f"| `{c}` | {b} | {t * 1e3:.0f} ms | {rss / 2**20:.0f} MiB | {t / baseline:.2f}× |")


if __name__ == "__main__":
    main()
