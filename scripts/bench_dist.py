#!/usr/bin/env python3
"""Data-parallel training on one machine: 2 ranks x 1 thread (torchrun) against 1 rank x 2
threads (and 1 rank x 1 thread, for scale), the same problem, runs interleaved, best of --repeats. Not a test: it prints a markdown
table with the ratio and the share of the solve spent in collectives (rank 0's time inside
World::sum, waiting for the slower rank included).

The problem: --rows x --features float32 standard normal features (seeded), labels from a
logistic model on the first 10 features, L2 (lambda 1e-3) or L1 (lambda 1e-3), --solver newton
or fista. Times are the solve as `train --json` reports it (`solver.seconds`: from the float32
rows to the solution; reading the shard and joining the group excluded), `fit_seconds` (rank 0,
from before joining to the model), and the command's wall time (torchrun's own start included).
The machine's 1-minute load average (as `uptime` prints it) is sampled after every run and its
range printed with the table: on a shared machine, rerun when it is lowest.

    bench_dist.py [--logreg target/release/logreg] [--rows 1000000] [--features 50] [--repeats 3]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np


def run(cmd, env):
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    line = next(l for l in out.stdout.splitlines() if l.startswith("{"))
    return json.loads(line), wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--logreg", default="target/release/logreg")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((a.rows, a.features), dtype=np.float32)
        z = x[:, :10] @ rng.standard_normal(10).astype(np.float32)
        y = (rng.random(a.rows) < 1 / (1 + np.exp(-z))).astype(np.float32)
        xp, yp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(xp, x)
        np.save(yp, y)
        del x
        env = dict(os.environ, LOGREG_DIST_TIMEOUT="120")
        rows = []
        loads = [os.getloadavg()[0]]
        for solver, penalty in [("newton", "l2"), ("newton", "l1"), ("fista", "l1")]:
            train = ["train", "--data", xp, "--labels", yp, "--solver", solver, "--penalty", penalty]
            train += ["--lambda", "1e-3", "--json", "--out", os.path.join(tmp, "m.safetensors")]
            single = [a.logreg, "--threads", "2"] + train
            spread = [torchrun, "--no-python", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                      "--master-port", "29731", a.logreg, "--threads", "1"] + train
            one = [a.logreg, "--threads", "1"] + train
            best = {"single": None, "spread": None, "one": None}
            for _ in range(a.repeats):
                for name, cmd in [("single", single), ("spread", spread), ("one", one)]:
                    j, wall = run(cmd, env)
                    loads.append(os.getloadavg()[0])
                    t = (j["solver"]["seconds"], j["fit_seconds"], wall, j.get("communication"), j["solver"]["objective"])
                    if best[name] is None or t[0] < best[name][0]:
                        best[name] = t
            s, d, o = best["single"], best["spread"], best["one"]
            assert abs(s[4] - d[4]) <= 1e-10 * s[4], (s[4], d[4])
            comm = d[3]["seconds"] if d[3] else float("nan")
            rows.append((solver, penalty, s, d, o, comm, d[3]["collectives"] if d[3] else 0))
    print(f"{a.rows} x {a.features} float32, {platform.node()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, best of {a.repeats}, "
          f"1-minute load average {min(loads):.1f}-{max(loads):.1f} over the runs (os.getloadavg, as `uptime`)")
    print()
    print("| solver | penalty | 1 rank x 2 threads: solve / fit / wall s | 2 ranks x 1 thread: solve / fit / wall s "
          "| 1 rank x 1 thread: solve s | solve ratio (2 ranks / 1 rank x 2) | collectives | share of the solve in collectives |")
    print("|---|---|---|---|---|---|---|---|")
    for solver, penalty, s, d, o, comm, calls in rows:
        print(f"| {solver} | {penalty} | {s[0]:.2f} / {s[1]:.2f} / {s[2]:.2f} | {d[0]:.2f} / {d[1]:.2f} / {d[2]:.2f} "
              f"| {o[0]:.2f} | {d[0] / s[0]:.2f} | {calls} | {comm / d[0]:.0%} |")


if __name__ == "__main__":
    main()
