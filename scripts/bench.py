#!/usr/bin/env python3
"""The tutorial loop (`logreg tutorial` and `scripts/reference.py tutorial`: same model, penalty,
optimizer, data) in Rust and in Python PyTorch, then `logreg train`'s fused full-batch engine in
memory and out of core (`--stream`), in one run on one machine. Not a test: prints markdown tables
and writes JSON.

Per-epoch time is (t(E2) - t(E1)) / (E2 - E1) from two whole runs of E1 and E2 epochs, so process
start, imports and drawing the data cancel out; each run is the best of --repeat, the four runs of a
size interleaved so that a slow spell of the machine hits them alike. Peak RSS is the larger run's
maximum resident set (GNU time's %M). For full-batch epochs the bytes of X read per second (one read
of X per epoch, the least an epoch can do) are compared with the machine's memory bandwidth,
measured here as the rate of a 1 GiB copy (bytes read + written per second; numpy on the CPU,
torch on CUDA).

The fused rows train L2/SGD full batch (`train --solver sgd --engine fused`) on a 1M×100 f32
.npy file, and `--stream` on a 10M×100 one (4 GB), both written once under target/bench-data;
their per-epoch time is again a difference of two runs (of the training time `train --json`
reports, so reading the file does not count), and the out-of-core row is compared per
row with the in-memory one. With --device cuda only the autograd row runs, on the GPU (the fused
engine runs on CPU threads), against the GPU's own copy bandwidth.

    bench.py [--sizes 100x10,100000x100,1000000x100] [--example l2] [--optimizer sgd]
             [--device cpu] [--repeat 5] [--fused-rows 1000000] [--stream-rows 10000000]
             [--no-fused] [--json bench.json]
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
EPOCHS = {100: (100, 10_100), 100_000: (10, 1010), 1_000_000: (3, 83)}


def timed(cmd, repeat, inner=False):
    """Best time of `cmd` over `repeat` runs, and its peak RSS in bytes: wall time, or with
    `inner` the `fit_seconds` that `train --json` reports (training only, the file already read)."""
    best, rss = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
        if inner:
            elapsed = json.loads(out.stdout)["fit_seconds"]
        best = min(best, elapsed)
        rss = max(rss, int(out.stderr.strip().splitlines()[-1]) * 1024)
    return best, rss


def bandwidth(device):
    if device == "cuda":
        import torch

        src = torch.ones(1 << 28, device="cuda")  # 1 GiB of float32
        dst = torch.empty_like(src)
        best = float("inf")
        for _ in range(10):
            torch.cuda.synchronize()
            start = time.perf_counter()
            dst.copy_(src)
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return 2 * src.numel() * 4 / best
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
    parser.add_argument("--fused-rows", type=int, default=1_000_000)
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--no-fused", action="store_true", help="only the tutorial table")
    args = parser.parse_args()
    sides = {
        "rust": [args.logreg, "tutorial"],
        "python": [sys.executable, "scripts/reference.py", "tutorial"],
    }
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            sys.exit("bench: --device cuda, but torch sees no CUDA device here")
    bw = bandwidth(args.device)
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
    fused = [] if args.no_fused else fused_rows(args, bw, rows)
    with open(args.json + ".tmp", "w") as f:
        json.dump({"bandwidth_bytes_per_second": bw, "rows": rows, "fused": fused}, f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nwrote {args.json}", file=sys.stderr)


def npy_data(n, d, seed):
    """X (n×d f32) and y in target/bench-data, written once in blocks (never n×d in memory)."""
    root = os.path.join("target", "bench-data")
    os.makedirs(root, exist_ok=True)
    x_path, y_path = (os.path.join(root, f"{n}x{d}.{part}.npy") for part in ("x", "y"))
    if os.path.exists(x_path) and os.path.exists(y_path):
        return x_path, y_path
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d).astype(np.float32) * 0.1
    x = np.lib.format.open_memmap(x_path + ".tmp", mode="w+", dtype="<f4", shape=(n, d))
    y = np.empty(n, dtype=np.float32)
    block = 1_000_000
    for start in range(0, n, block):
        part = rng.standard_normal((min(block, n - start), d), dtype=np.float32)
        x[start:start + len(part)] = part
        y[start:start + len(part)] = part @ w + rng.standard_normal(len(part)).astype(np.float32) > 0
    x.flush()
    del x
    np.save(y_path + ".tmp.npy", y)
    os.replace(x_path + ".tmp", x_path)
    os.replace(y_path + ".tmp.npy", y_path)
    return x_path, y_path


def fused_rows(args, bw, tutorial_rows):
    """`train --engine fused` in memory and `--stream` out of core: per-epoch time, the share of
    the bandwidth, peak RSS, and the ratios the issue asks for."""
    d = 100
    in_memory = npy_data(args.fused_rows, d, 1)
    base = [args.logreg, "train", "--solver", "sgd", "--lr", "0.01", "--penalty", "l2", "--penalize-bias",
            "--json", "--quiet", "--out", os.path.join("target", "bench-data", "model.safetensors")]
    if args.device == "cuda":
        # The fused engine runs on CPU threads; on the GPU, autograd's two passes over X.
        cases = {"autograd": (in_memory, ["--engine", "autograd", "--device", "cuda"], (3, 203))}
    else:
        on_disk = npy_data(args.stream_rows, d, 2)
        cases = {
            "autograd": (in_memory, ["--engine", "autograd", "--device", "cpu"], (3, 43)),
            "fused": (in_memory, ["--engine", "fused"], (3, 83)),
            "stream": (on_disk, ["--stream"], (2, 12)),
        }
    runs = {(name, e): base + ["--data", x, "--labels", y] + extra + ["--epochs", str(e)]
            for name, ((x, y), extra, epochs) in cases.items() for e in epochs}
    best = {key: (float("inf"), 0) for key in runs}
    for _ in range(args.repeat):
        for key, cmd in runs.items():
            t, rss = timed(cmd, 1, inner=True)
            best[key] = (min(best[key][0], t), max(best[key][1], rss))
    out = []
    for name, ((x, _), _, (e1, e2)) in cases.items():
        (t1, _), (t2, rss) = best[(name, e1)], best[(name, e2)]
        if t2 <= t1:
            sys.exit(f"{name}: {e2} epochs took no longer than {e1}; raise its epochs")
        n = args.stream_rows if name == "stream" else args.fused_rows
        per_epoch = (t2 - t1) / (e2 - e1)
        out.append({"engine": name, "samples": n, "features": d, "epochs": [e1, e2], "epoch_seconds": per_epoch,
                    "seconds_per_million_rows": per_epoch / n * 1e6, "peak_rss_bytes": rss,
                    "x_read_fraction": (4 * n * d / per_epoch) / bw, "file_bytes": os.path.getsize(x)})
        print(json.dumps(out[-1]), file=sys.stderr)
    python = next((r["python"]["epoch_seconds"] for r in tutorial_rows
                   if (r["samples"], r["features"]) == (args.fused_rows, d)), None)
    fused = next((r for r in out if r["engine"] == "fused"), None)
    print(f"\n`logreg train`, L2, SGD, full batch, f32 .npy data; the in-memory rows load the file first, "
          f"`--stream` maps it 32 MiB at a time (the file in the page cache)\n")
    print("| engine | samples×features | epoch | per 1M rows | X read / bandwidth | vs Python tutorial epoch | vs in-memory fused, per row | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out:
        vs_python = f"{r['epoch_seconds'] * args.fused_rows / r['samples'] / python:.2f}×" if python else "n/a"
        per_row = f"{r['seconds_per_million_rows'] / fused['seconds_per_million_rows']:.2f}×" if fused else "n/a"
        print(f"| {r['engine']} ({args.device}) | {r['samples']}×{r['features']} | {r['epoch_seconds'] * 1e3:.1f} ms | "
              f"{r['seconds_per_million_rows'] * 1e3:.1f} ms | {r['x_read_fraction']:.1%} | {vs_python} | "
              f"{per_row} | {r['peak_rss_bytes'] / 2**20:.0f} MiB |")
    if python is None:
        print(f"\n(no tutorial row at {args.fused_rows}×{d} in --sizes, so no Python comparison)")
    return out


if __name__ == "__main__":
    main()
