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
row with the in-memory one.

With --device cuda (on a GPU) everything is measured against the GPU's own copy bandwidth, the
card named: the tutorial table on both sides (default sizes 100x10, 1M and 10M x 100); `train`'s
autograd and fused engines on the GPU at 100x10, 1M and 10M x 100 (the fused engine's kernel reads
X once per epoch), each against PyTorch's tutorial epoch of the same size; and the exact solvers
(newton, fista; L2, at most --solver-iters iterations) at 1M and 10M x 100 on the GPU and on this
machine's CPU, with the full passes over X each made (`train --json` counts and times them) and
the share of the bandwidth the passes reached (X is f64 there: 8 bytes an entry); and `cv` with the
folds solved together against one after another. The fused rows include the per-warp kernel
(`LOGREG_CUDA_PASS=per-warp`) beside the tiled one, for a before-and-after on the same card.

    bench.py [--sizes 100x10,100000x100,1000000x100] [--example l2] [--optimizer sgd]
             [--device cpu] [--repeat 5] [--fused-rows 1000000] [--stream-rows 10000000]
             [--no-fused] [--no-solvers] [--no-cv] [--solver-iters 50] [--cv-lambdas 20]
             [--only tutorial,fused,solvers,cv] [--json bench.json]
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

# samples -> the tutorial table's epochs, enough that the timer's and the machine's noise averages out.
EPOCHS = {100: 10_000, 100_000: 1000, 1_000_000: 80}
# On a GPU an epoch is 10-100x shorter than on the CPU.
EPOCHS_CUDA = {100: 2000, 100_000: 1000, 1_000_000: 3000, 10_000_000: 1000}


# Runs argv[2:], then writes its peak RSS (KiB) to the file argv[1]. A child's peak RSS counts the
# memory of the process it was forked from (Linux folds it in at exec), so the command is started
# from this small process, not from the benchmark with its arrays (GNU time does the same).
RSS_HELPER = """import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(cmd, repeat, inner=False):
    """Best time of `cmd` over `repeat` runs, and its peak RSS in bytes: wall time, or with
    `inner` the field of that name in its --json output (`True` for `fit_seconds`, which `train
    --json` reports: training only, the file already read)."""
    best, rss = float("inf"), 0
    for _ in range(repeat):
        with tempfile.NamedTemporaryFile("r") as peak:
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", RSS_HELPER, peak.name] + cmd, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if out.returncode != 0:
                sys.exit(f"{' '.join(cmd)}: {out.stderr.strip()}")
            rss = max(rss, int(peak.read()) * 1024)
        if inner:
            elapsed = json.loads(out.stdout)["fit_seconds" if inner is True else inner]
        best = min(best, elapsed)
    return best, rss


def finite(value):
    """`value` with every NaN or infinity (a row whose epochs drowned in noise) as null."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def card(device):
    """The processor the numbers come from, as the table names it."""
    if device == "cuda":
        import torch

        p = torch.cuda.get_device_properties(0)
        return f"{p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, torch {torch.__version__}"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


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
        read = float("inf")
        for _ in range(10):
            torch.cuda.synchronize()
            start = time.perf_counter()
            src.sum()
            torch.cuda.synchronize()
            read = min(read, time.perf_counter() - start)
        # A read-only pass (X is only read) can beat a copy's rate; the table states both.
        print(f"bench: GPU read-only rate (1 GiB sum) {src.numel() * 4 / read / 1e12:.2f} TB/s, "
              f"copy {2 * src.numel() * 4 / best / 1e12:.2f} TB/s read + written", file=sys.stderr)
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
    parser.add_argument("--sizes", default=None, help="default: 100x10,100000x100,1000000x100; "
                        "on cuda 100x10,1000000x100,10000000x100")
    parser.add_argument("--example", default="l2", choices=["l2", "l1", "elastic-net"])
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tutorial-repeat", type=int, default=None,
                        help="repeats of the tutorial table (default --repeat): the other tables can be repeated "
                             "more while the tutorial rows, which draw their data each run, are run once")
    parser.add_argument("--logreg", default="target/release/logreg")
    parser.add_argument("--json", default="bench.json")
    parser.add_argument("--fused-rows", type=int, default=1_000_000)
    parser.add_argument("--stream-rows", type=int, default=10_000_000)
    parser.add_argument("--no-fused", action="store_true", help="only the tutorial table")
    parser.add_argument("--no-solvers", action="store_true", help="no exact-solver table (cuda)")
    parser.add_argument("--solver-iters", type=int, default=50)
    parser.add_argument("--cv-lambdas", type=int, default=20)
    parser.add_argument("--no-cv", action="store_true", help="no cross-validation table (cuda)")
    parser.add_argument("--only", default=None, help="comma-separated parts to run: tutorial,fused,solvers,cv")
    args = parser.parse_args()
    if args.sizes is None:
        args.sizes = "100x10,1000000x100,10000000x100" if args.device == "cuda" else "100x10,100000x100,1000000x100"
    sides = {
        "rust": [args.logreg, "tutorial"],
        "python": [sys.executable, "scripts/reference.py", "tutorial"],
    }
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            sys.exit("bench: --device cuda, but torch sees no CUDA device here")
    wanted = lambda part: args.only is None or part in args.only.split(",")
    bw = bandwidth(args.device)
    rows = []
    for size in (args.sizes.split(",") if wanted("tutorial") else []):
        n, d = (int(v) for v in size.split("x"))
        epochs = (EPOCHS_CUDA if args.device == "cuda" else EPOCHS).get(n, 100)
        row = {"samples": n, "features": d, "epochs": epochs}
        common = [args.example, "--samples", str(n), "--input-dim", str(d), "--optimizer", args.optimizer,
                  "--device", args.device, "--epochs", str(epochs), "--json"]
        # Each side reports `epoch_seconds`, its epochs' own time (end of the first to end of the
        # last): start-up and drawing the data (seconds at 10M rows) are out of it.
        runs = {side: base + common for side, base in sides.items()}
        # Interleaved, so a slow spell of the machine hits every cell alike; the best of each cell.
        best = {key: (float("inf"), 0) for key in runs}
        tutorial_repeat = args.repeat if args.tutorial_repeat is None else args.tutorial_repeat
        # 10M rows: drawing 4 GB of data dominates each run; once is enough, the epochs are many.
        for _ in range(tutorial_repeat if n < 10_000_000 else 1):
            for key, cmd in runs.items():
                t, rss = timed(cmd, 1, inner="epoch_seconds")
                best[key] = (min(best[key][0], t), max(best[key][1], rss))
        for side in sides:
            per_epoch, rss = best[side]
            row[side] = {"epoch_seconds": per_epoch, "peak_rss_bytes": rss,
                         "x_read_fraction": (4 * n * d / per_epoch) / bw}
        row["ratio"] = row["rust"]["epoch_seconds"] / row["python"]["epoch_seconds"]
        rows.append(row)
        print(json.dumps(finite(row)), file=sys.stderr)
    print(f"Tutorial loop ({args.example}, {args.optimizer}, {args.device}); {card(args.device)}, "
          f"memory bandwidth {bw / 1e9:.1f} GB/s (1 GiB copy, read + written), {time.strftime('%Y-%m-%d')}\n")
    print("| samples×features | Rust epoch | Python epoch | Rust/Python | Rust X read / bandwidth | Python X read / bandwidth | Rust peak RSS | Python peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    ms = lambda s: f"{s * 1e3:.3f} ms"
    mb = lambda b: f"{b / 2**20:.0f} MiB"
    for r in rows:
        rs, py = r["rust"], r["python"]
        print(f"| {r['samples']}×{r['features']} | {ms(rs['epoch_seconds'])} | {ms(py['epoch_seconds'])} | {r['ratio']:.2f}× | "
              f"{rs['x_read_fraction']:.1%} | {py['x_read_fraction']:.1%} | {mb(rs['peak_rss_bytes'])} | {mb(py['peak_rss_bytes'])} |")
    fused = [] if args.no_fused or not wanted("fused") else fused_rows(args, bw, rows)
    solvers = solver_rows(args, bw) if args.device == "cuda" and not args.no_solvers and wanted("solvers") else []
    cv = cv_rows(args) if args.device == "cuda" and not args.no_cv and wanted("cv") else []
    with open(args.json + ".tmp", "w") as f:
        json.dump(finite({"device": card(args.device), "bandwidth_bytes_per_second": bw, "rows": rows, "fused": fused,
                          "solvers": solvers, "cv": cv}), f, indent=1)
    os.replace(args.json + ".tmp", args.json)
    print(f"\nwrote {args.json}", file=sys.stderr)


def epochs_timed(args, cases, base):
    """Best `fit_seconds` (and peak RSS) of each case at its two epoch counts, interleaved. A case
    named `per-warp@…` runs the fused engine with LOGREG_CUDA_PASS=per-warp: the kernel before the
    tiled one, for a before-and-after on the same card."""
    runs = {(name, e): base + ["--data", x, "--labels", y] + extra + ["--epochs", str(e)]
            for name, ((x, y), extra, epochs) in cases.items() for e in epochs}
    best = {key: (float("inf"), 0) for key in runs}
    for _ in range(args.repeat):
        for key, cmd in runs.items():
            if key[0].startswith("per-warp"):
                os.environ["LOGREG_CUDA_PASS"] = "per-warp"
            t, rss = timed(cmd, 1, inner=True)
            os.environ.pop("LOGREG_CUDA_PASS", None)
            best[key] = (min(best[key][0], t), max(best[key][1], rss))
    return best


def gpu_rows(args, bw, tutorial_rows, cases, sizes, base):
    """`train`'s engines on the GPU: per-epoch time, X read against the copy bandwidth, and the
    ratio to PyTorch's tutorial epoch of the same size (from the tutorial table of this run)."""
    best = epochs_timed(args, cases, base)
    python = {(r["samples"], r["features"]): r["python"]["epoch_seconds"] for r in tutorial_rows}
    out = []
    for name, (_, _, (e1, e2)) in cases.items():
        (t1, _), (t2, rss) = best[(name, e1)], best[(name, e2)]
        n, d = sizes[name]
        if t2 <= t1:
            print(f"bench: {name}: {e2} epochs took no longer than {e1}; raise its epochs", file=sys.stderr)
        per_epoch = (t2 - t1) / (e2 - e1) if t2 > t1 else float("nan")
        py = python.get((n, d))
        py = py if py == py else None  # NaN: that tutorial row failed
        out.append({"engine": name.split("@")[0].replace("per-warp", "fused, per-warp kernel"), "device": "cuda", "samples": n, "features": d, "epochs": [e1, e2],
                    "epoch_seconds": per_epoch, "x_read_fraction": (4 * n * d / per_epoch) / bw,
                    "vs_pytorch_epoch": per_epoch / py if py else None, "peak_rss_bytes": rss})
        print(json.dumps(finite(out[-1])), file=sys.stderr)
    print(f"\n`logreg train` on the GPU ({card('cuda')}), L2, SGD, full batch, f32 .npy data; per epoch from two "
          f"runs' `fit_seconds`; copy bandwidth {bw / 1e12:.2f} TB/s, {time.strftime('%Y-%m-%d')}\n")
    print("| engine | samples×features | epoch | X read / copy bandwidth | vs PyTorch tutorial epoch | peak RSS |")
    print("|---|---|---|---|---|---|")
    for r in out:
        vs = f"{r['vs_pytorch_epoch']:.3f}×" if r["vs_pytorch_epoch"] else "n/a (size not in --sizes)"
        print(f"| {r['engine']} (cuda) | {r['samples']}×{r['features']} | {r['epoch_seconds'] * 1e3:.3f} ms | "
              f"{r['x_read_fraction']:.1%} | {vs} | {r['peak_rss_bytes'] / 2**20:.0f} MiB |")
    return out


def solver_rows(args, bw):
    """newton and fista (L2, lambda 1e-3, at most --solver-iters iterations) at 1M and 10M x 100,
    on the GPU and on this machine's CPU: seconds, iterations, full passes over X (f64), and the
    bytes of X those passes read per second against the GPU's copy bandwidth."""
    d, out = 100, []
    print(f"\nExact solvers, L2 (lambda 1e-3), f64 X on the device; the GPU ({card('cuda')}) and this machine's "
          f"CPU ({card('cpu')}); X read per second over all passes, against the GPU's copy bandwidth "
          f"{bw / 1e12:.2f} TB/s, {time.strftime('%Y-%m-%d')}\n")
    print("| solver | samples×features | device | seconds | iterations | passes over X | passes / iteration | "
          "X read / GPU copy bandwidth | seconds in passes | X read per pass / GPU copy bandwidth | CPU / GPU time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, seed in ((args.fused_rows, 1), (args.stream_rows, 2)):
        x, y = npy_data(n, d, seed)
        for solver in ("newton", "fista"):
            times = {}
            for device in ("cuda", "cpu"):
                cmd = [args.logreg, "train", "--data", x, "--labels", y, "--solver", solver, "--penalty", "l2",
                       "--lambda", "1e-3", "--max-iter", str(args.solver_iters), "--device", device, "--json", "--quiet",
                       "--out", os.path.join("target", "bench-data", "solver.safetensors")]
                result = subprocess.run(cmd, capture_output=True, text=True)
                if result.returncode != 0:
                    sys.exit(f"{' '.join(cmd)}: {result.stderr.strip()}")
                s = json.loads(result.stdout)["solver"]
                times[device] = s["seconds"]
                row = {"solver": solver, "samples": n, "features": d, "device": device, "seconds": s["seconds"],
                       "iterations": s["iterations"], "passes": s["passes"], "pass_seconds": s["pass_seconds"],
                       "x_read_fraction": 8 * n * d * s["passes"] / s["seconds"] / bw,
                       "pass_read_fraction": 8 * n * d * s["passes"] / s["pass_seconds"] / bw}
                out.append(row)
                print(json.dumps(finite(row)), file=sys.stderr)
                ratio = f"{times['cpu'] / times['cuda']:.1f}×" if device == "cpu" else ""
                print(f"| {solver} | {n}×{d} | {device} | {s['seconds']:.3f} | {s['iterations']} | {s['passes']} | "
                      f"{s['passes'] / max(s['iterations'], 1):.1f} | {row['x_read_fraction']:.1%} | "
                      f"{s['pass_seconds']:.3f} | {row['pass_read_fraction']:.1%} | {ratio} |", flush=True)
    return out


def cv_rows(args):
    """`logreg cv` on the GPU at --fused-rows x 100 (5 folds, --cv-lambdas values of λ, the lasso,
    newton): the folds solved together (`--batch-folds on`) against one after another (`off`),
    interleaved, best of --repeat; the time is cross-validation's (`fit_seconds`: the folds and
    the path on all rows, which both do alike), the file already read."""
    d, n = 100, args.fused_rows
    x, y = npy_data(n, d, 1)
    base = [args.logreg, "cv", "--data", x, "--labels", y, "--device", "cuda", "--folds", "5", "--n-lambdas",
            str(args.cv_lambdas), "--json", "--quiet", "--out", os.path.join("target", "bench-data", "cv.safetensors")]
    best, results = {}, {}
    for _ in range(args.repeat):
        for mode in ("on", "off"):
            out = subprocess.run(base + ["--batch-folds", mode], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"cv --batch-folds {mode}: {out.stderr.strip()}")
            r = json.loads(out.stdout)
            best[mode] = min(best.get(mode, float("inf")), r["fit_seconds"])
            results[mode] = r
    same = max(abs(a["log_loss_mean"] - b["log_loss_mean"]) for a, b in zip(results["on"]["points"], results["off"]["points"]))
    rows = [{"folds": mode, "samples": n, "features": d, "lambdas": args.cv_lambdas, "seconds": best[mode],
             "batched": results[mode]["batched_folds"]} for mode in ("on", "off")]
    print(f"\n`logreg cv` on the GPU ({card('cuda')}), {n}×{d} f32, 5 folds, {args.cv_lambdas} λ (lasso, newton); "
          f"cross-validation's seconds, best of {args.repeat}, {time.strftime('%Y-%m-%d')}\n")
    print("| folds | seconds | vs one after another |")
    print("|---|---|---|")
    for r in rows:
        label = "solved together (--batch-folds on)" if r["batched"] else "one after another (--batch-folds off)"
        print(f"| {label} | {r['seconds']:.3f} | {r['seconds'] / best['off']:.2f}× |")
    print(f"\n(largest difference in mean held-out log-loss between the two: {same:.1e})")
    for r in rows:
        print(json.dumps(finite(r)), file=sys.stderr)
    return rows


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
        tiny, big = npy_data(100, 10, 3), npy_data(args.stream_rows, d, 2)
        gpu = lambda engine: ["--engine", engine, "--device", "cuda"]
        cases = {
            "fused@100": (tiny, gpu("fused"), (100, 20100)),
            "autograd@1M": (in_memory, gpu("autograd"), (3, 503)),
            # Epochs enough that start-up noise (tens of ms) stays under a few percent of the difference.
            "fused@1M": (in_memory, gpu("fused"), (3, 20003)),
            "autograd@10M": (big, gpu("autograd"), (3, 303)),
            "fused@10M": (big, gpu("fused"), (3, 2003)),
            "per-warp@1M": (in_memory, gpu("fused"), (3, 10003)),
            "per-warp@10M": (big, gpu("fused"), (3, 2003)),
        }
        sizes = {"fused@100": (100, 10), "autograd@1M": (args.fused_rows, d), "fused@1M": (args.fused_rows, d),
                 "autograd@10M": (args.stream_rows, d), "fused@10M": (args.stream_rows, d),
                 "per-warp@1M": (args.fused_rows, d), "per-warp@10M": (args.stream_rows, d)}
        return gpu_rows(args, bw, tutorial_rows, cases, sizes, base)
    else:
        on_disk = npy_data(args.stream_rows, d, 2)
        cases = {
            "autograd": (in_memory, ["--engine", "autograd", "--device", "cpu"], (3, 43)),
            "fused": (in_memory, ["--engine", "fused"], (3, 83)),
            "stream": (on_disk, ["--stream"], (2, 12)),
        }
    best = epochs_timed(args, cases, base)
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
        print(json.dumps(finite(out[-1])), file=sys.stderr)
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
