#!/usr/bin/env python3
"""The tutorial loop (`logreg tutorial` and `scripts/reference.py tutorial`: same model, penalty,
optimizer, data) in Rust and in Python PyTorch, in one run on one machine. Not a test: prints a
markdown table and writes JSON.

Per-epoch time is (t(E2) - t(E1)) / (E2 - E1) from two whole runs of E1 and E2 epochs, so process
start, imports and drawing the data cancel out; each run is the best of --repeat, the four runs of a
size interleaved so that a slow spell of the machine hits them alike. Peak RSS is the larger run's
maximum resident set (GNU time's %M). For full-batch epochs the bytes of X read per second (one read
of X per epoch, the least an epoch can do) are compared with the machine's memory bandwidth,
measured here as the rate of a 1 GiB numpy copy (bytes read + written per second).

    bench.py [--sizes 100x10,100000x100,1000000x100] [--example l2] [--optimizer sgd]
             [--device cpu] [--repeat 5] [--json bench.json]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

# (samples, features) -> (E1, E2): enough epochs that the difference dominates the noise.
EPOCHS = {100: (100, 10_100), 100_000: (10, 1010), 1_000_000: (3, 43)}


def timed(cmd, repeat):
    """Best wall time of `cmd` over `repeat` runs, and its peak RSS in bytes."""
    best, rss = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
        best = min(best, elapsed)
        rss = max(rss, int(out.stderr.strip().splitlines()[-1]) * 1024)
    return best, rss


def bandwidth():
    src = np.ones(1 << 27)  # 1 GiB of float64
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x10,100000x100,1000000x100")
    parser.add_argument("--example", default="l2", choices=["l2", "l1", "elastic-net"])
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--json", default="bench.json")
    args = parser.parse_args()
    sides = {
        "rust": [args.logreg, "tutorial"],
        "python": [sys.executable, "scripts/reference.py", "tutorial"],
    }
    bw = bandwidth()
    rows = []
    for size in args.sizes.split(","):
        n, d = (int(v) for v in size.split("x"))
        e1, e2 = EPOCHS.get(n, (10, 110))
        row = {"samples": n, "features": d, "epochs": [e1, e2]}
        common = [args.example, "--samples", str(n), "--input-dim", str(d), "--optimizer", args.optimizer,
                  "--device", args.device, "--json"]
        runs = {(side, e): base + common + ["--epochs", str(e)] for side, base in sides.items() for e in (e1, e2)}
        # Interleaved, so a slow spell of the machine hits every cell alike; the best of each cell.
        best = {key: (float("inf"), 0) for key in runs}
        for _ in range(args.repeat):
            for key, cmd in runs.items():
                t, rss = timed(cmd, 1)
                best[key] = (min(best[key][0], t), max(best[key][1], rss))
        for side in sides:
            (t1, _), (t2, rss) = best[(side, e1)], best[(side, e2)]
            if t2 <= t1:
                sys.exit(f"{side} at {size}: {e2} epochs took no longer than {e1}; raise the epochs in EPOCHS")
            per_epoch = (t2 - t1) / (e2 - e1)
            row[side] = {"epoch_seconds": per_epoch, "peak_rss_bytes": rss,
                         "x_read_fraction": (4 * n * d / per_epoch) / bw}
        row["ratio"] = row["rust"]["epoch_seconds"] / row["python"]["epoch_seconds"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    print(f"Tutorial loop ({args.example}, {args.optimizer}, {args.device}); {platform.machine()}, {os.cpu_count()} cores, "
          f"memory bandwidth {bw / 1e9:.1f} GB/s (1 GiB copy), {time.strftime('%Y-%m-%d')}\n")
    print("| samples×features | Rust epoch | Python epoch | Rust/Python | Rust X read / bandwidth | Python X read / bandwidth | Rust peak RSS | Python peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    ms = lambda s: f"{s * 1e3:.3f} ms"
    mb = lambda b: f"{b / 2**20:.0f} MiB"
    for r in rows:
        rs, py = r["rust"], r["python"]
        print(f"| {r['samples']}×{r['features']} | {ms(rs['epoch_seconds'])} | {ms(py['epoch_seconds'])} | {r['ratio']:.2f}× | "
              f"{rs['x_read_fraction']:.1%} | {py['x_read_fraction']:.1%} | {mb(rs['peak_rss_bytes'])} | {mb(py['peak_rss_bytes'])} |")
    with open(args.json + ".tmp", "w") as f:
        json.dump({"bandwidth_bytes_per_second": bw, "rows": rows}, f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
