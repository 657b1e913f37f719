#!/usr/bin/env python3
"""PyTorch reference for logreg: the tutorial's three examples, line for line, and the golden fixtures.

    reference.py tutorial l2|l1|elastic-net [--seed 0] [--samples 100] [--input-dim 10] [--lr 0.01]
                 [--epochs 100] [--lambda 0.1] [--lambda-l1 0.05] [--lambda-l2 0.05]
                 [--optimizer sgd|adam] [--device cpu|cuda] [--json]
        The tutorial script with torch.manual_seed(seed) as its first line; same flags and output
        as `logreg tutorial`.
    reference.py fixtures [--out fixtures]
        Writes every golden configuration (CONFIGS below) to OUT/NAME.json. The only writer of
        fixtures/: never edit them by hand.
    reference.py run [--device cpu|cuda] FIXTURE.json...
        Reruns the fixtures' configurations; prints a JSON list of results (what `logreg parity` reads).
    reference.py train --data FILE.csv [--label NAME] [--penalty none|l1|l2|elastic-net] [--lambda 0.001]
                 [--lambda-l1 0.0005] [--lambda-l2 0.0005] [--optimizer sgd|adam] [--lr 0.01] [--epochs 300]
                 [--batch-size N] [--seed 0] [--standardize] [--validation-split F] [--penalize-bias]
                 [--loss bce|logits] [--device cpu|cuda]
        What `logreg train --json` computes, in PyTorch: prints every epoch's losses and the final weights.
    reference.py data-fixtures [--out fixtures/data]
        Writes the golden configurations on the breast-cancer CSV (DATA_CONFIGS below).

Runs on the managed environment (scripts/env.sh puts it first on PATH).
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.optim as optim

# Tolerances the Rust port must meet, stored in each fixture. On the CPU it calls the same ATen
# operations in the same order, so it is exact in practice; GPU arithmetic differs slightly.
TOLERANCE = {
    "cpu": {"loss_rel": 1e-6, "weight_abs": 1e-6},
    "cuda": {"loss_rel": 1e-5, "weight_abs": 1e-5},
}


# Define the model (verbatim from the tutorial)
class LogisticRegression(nn.Module):
    def __init__(self, input_dim):
        super(LogisticRegression, self).__init__()
        self.linear = nn.Linear(input_dim, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        out = self.linear(x)
        out = self.sigmoid(out)
        return out


def tutorial(config, device="cpu", on_epoch=None):
    """The tutorial's Example 1/2/3 with `torch.manual_seed(seed)` first; returns the run's results."""
    torch.manual_seed(config["seed"])

    # Define hyperparameters
    input_dim = config["input_dim"]
    learning_rate = config["lr"]
    lambda_reg = config["lambda"]
    lambda_reg_l1 = config["lambda_l1"]
    lambda_reg_l2 = config["lambda_l2"]
    num_epochs = config["epochs"]

    # Generate some sample data (replace with your actual data)
    X = torch.randn(config["samples"], input_dim)
    y = torch.randint(0, 2, (config["samples"], 1)).float()

    # Initialize the model, optimizer, and loss function
    model = LogisticRegression(input_dim)
    X, y = X.to(device), y.to(device)
    model.to(device)
    if config["optimizer"] == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=learning_rate)
    else:
        optimizer = optim.Adam(model.parameters(), lr=learning_rate)
    criterion = nn.BCELoss()  # Binary Cross Entropy Loss

    losses = []
    # Training loop
    for epoch in range(num_epochs):
        # Forward pass
        outputs = model(X)
        loss = criterion(outputs, y)

        if config["example"] == "l2":
            # L2 regularization term
            l2_reg = 0
            for param in model.parameters():
                l2_reg += torch.norm(param) ** 2

            loss += lambda_reg * l2_reg
        elif config["example"] == "l1":
            # L1 regularization term
            l1_reg = 0
            for param in model.parameters():
                l1_reg += torch.norm(param, p=1)  # L1 norm

            loss += lambda_reg * l1_reg
        else:
            # Elastic Net regularization term (combination of L1 and L2)
            l1_reg = 0
            l2_reg = 0
            for param in model.parameters():
                l1_reg += torch.norm(param, p=1)
                l2_reg += torch.norm(param) ** 2

            loss += lambda_reg_l1 * l1_reg + lambda_reg_l2 * l2_reg

        # Backward pass and optimization
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        losses.append(loss.item())
        if on_epoch is not None:
            on_epoch(epoch + 1, num_epochs, loss.item())

    weight = model.linear.weight.detach().cpu().flatten().tolist()
    bias = model.linear.bias.detach().cpu().item()
    return {"losses": losses, "weight": weight, "bias": bias, "device": str(X.device)}


def config(example, optimizer="sgd", seed=0, samples=100, input_dim=10, lr=0.01, epochs=100, lam=0.1, l1=0.05, l2=0.05):
    return {
        "example": example,
        "optimizer": optimizer,
        "seed": seed,
        "samples": samples,
        "input_dim": input_dim,
        "lr": lr,
        "epochs": epochs,
        "lambda": lam,
        "lambda_l1": l1,
        "lambda_l2": l2,
    }


def configs():
    """The golden configurations: name -> config."""
    out = {}
    for example in ("l2", "l1", "elastic-net"):
        for optimizer in ("sgd", "adam"):
            for seed in (0, 1):
                out[f"{example}-{optimizer}-seed{seed}"] = config(example, optimizer, seed)
    out["l2-sgd-seed7-1000x50"] = config("l2", seed=7, samples=1000, input_dim=50)
    out["l1-adam-seed3-1000x50"] = config("l1", "adam", seed=3, samples=1000, input_dim=50)
    out["l2-sgd-seed0-lambda0"] = config("l2", lam=0.0)
    out["elastic-net-sgd-seed5-1000epochs"] = config("elastic-net", seed=5, epochs=1000, lr=0.05, l1=0.02, l2=0.01)
    out["l1-adam-seed11-1000epochs"] = config("l1", "adam", seed=11, epochs=1000, lam=0.01)
    return out


def read_table(path, label):
    """A numeric CSV with a header row: (features float32 [n, d], labels float32 [n, 1], names)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    header, rows = rows[0], rows[1:]
    j = header.index(label) if label else len(header) - 1
    truth = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0}
    X = torch.tensor([[float(c) for i, c in enumerate(r) if i != j] for r in rows], dtype=torch.float32)
    y = torch.tensor([[truth.get(r[j].lower(), None) or float(r[j])] for r in rows], dtype=torch.float32)
    return X, y, [h for i, h in enumerate(header) if i != j]


def penalty_term(config, params):
    """The tutorial's penalty loops, over `params`."""
    l1_reg = 0
    l2_reg = 0
    for param in params:
        l1_reg += torch.norm(param, p=1)
        l2_reg += torch.norm(param) ** 2
    if config["penalty"] == "l1":
        return config["lambda"] * l1_reg
    if config["penalty"] == "l2":
        return config["lambda"] * l2_reg
    if config["penalty"] == "elastic-net":
        return config["lambda_l1"] * l1_reg + config["lambda_l2"] * l2_reg
    return None


def train_table(config, device="cpu"):
    """`logreg train` in PyTorch. Draws from the seed in logreg's order: the validation split (a
    randperm per class, class 0 first), nn.Linear's weight and bias, then each epoch's batch order."""
    X, y, _ = read_table(config["data"], config["label"])
    torch.manual_seed(config["seed"])
    valid = None
    if config["validation_split"] is not None:
        train_rows, valid_rows = [], []
        for cls in (0.0, 1.0):
            rows = [i for i in range(len(y)) if y[i, 0].item() == cls]
            n_valid = math.floor(config["validation_split"] * len(rows) + 0.5)
            perm = torch.randperm(len(rows)).tolist()
            valid_rows += [rows[p] for p in perm[:n_valid]]
            train_rows += [rows[p] for p in perm[n_valid:]]
        train_idx, valid_idx = torch.tensor(sorted(train_rows)), torch.tensor(sorted(valid_rows))
        (X, y), valid = (X[train_idx], y[train_idx]), (X[valid_idx], y[valid_idx])
    if config["standardize"]:
        mean = X.mean(0)
        std = X.std(0, correction=0)
        std = torch.where(std > 0, std, 1.0)
        X = (X - mean) / std
        if valid is not None:
            valid = ((valid[0] - mean) / std, valid[1])
    model = nn.Linear(X.shape[1], 1)
    X, y = X.to(device), y.to(device)
    if valid is not None:
        valid = (valid[0].to(device), valid[1].to(device))
    model.to(device)
    if config["optimizer"] == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=config["lr"])
    else:
        optimizer = optim.Adam(model.parameters(), lr=config["lr"])

    def data_loss(inputs, targets):
        if config["loss"] == "bce":
            return nn.BCELoss()(torch.sigmoid(model(inputs)), targets)
        return nn.functional.binary_cross_entropy_with_logits(model(inputs), targets)

    params = [model.weight, model.bias] if config["penalize_bias"] else [model.weight]

    def step(inputs, targets):
        loss = data_loss(inputs, targets)
        term = penalty_term(config, params)
        if term is not None:
            loss = loss + term
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    n = X.shape[0]
    batch = min(config["batch_size"] or n, n)
    losses, valid_losses = [], []
    for _ in range(config["epochs"]):
        if batch == n:
            loss = step(X, y)
        else:
            perm = torch.randperm(n).to(device)
            total = 0.0
            for start in range(0, n, batch):
                idx = perm.narrow(0, start, min(batch, n - start))
                total += step(X.index_select(0, idx), y.index_select(0, idx)) * idx.shape[0]
            loss = total / n
        losses.append(loss)
        if valid is not None:
            with torch.no_grad():
                valid_losses.append(data_loss(*valid).item())
    return {
        "losses": losses,
        "validation_losses": valid_losses,
        "weight": model.weight.detach().cpu().flatten().tolist(),
        "bias": model.bias.detach().cpu().item(),
    }


def data_config(penalty, optimizer="adam", loss="logits", lam=1e-3, l1=5e-4, l2=5e-4, lr=0.01, epochs=100,
                batch_size=None, seed=0, standardize=True, validation_split=0.2, penalize_bias=False):
    return {
        "data": "fixtures/breast_cancer.csv",
        "label": None,
        "penalty": penalty,
        "lambda": lam,
        "lambda_l1": l1,
        "lambda_l2": l2,
        "optimizer": optimizer,
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "standardize": standardize,
        "validation_split": validation_split,
        "penalize_bias": penalize_bias,
        "loss": loss,
    }


def data_configs():
    """The golden configurations on the breast-cancer data: name -> config."""
    return {
        "breast_cancer-none-adam": data_config("none"),
        "breast_cancer-l1-adam": data_config("l1", lam=0.01),
        "breast_cancer-l2-adam": data_config("l2", lam=0.01),
        "breast_cancer-elastic-net-adam": data_config("elastic-net", l1=0.005, l2=0.005),
        "breast_cancer-l2-sgd-bce-batches": data_config("l2", "sgd", "bce", lam=0.01, lr=0.1, epochs=30,
                                                         batch_size=64, seed=3, penalize_bias=True),
    }


def cmd_data_fixtures(args):
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in data_configs().items():
        fixture = {"name": name, "generator": "scripts/reference.py", "torch_version": torch.__version__,
                   "tolerance": TOLERANCE, "config": cfg, **train_table(cfg)}
        write_json_atomically(os.path.join(args.out, name + ".json"), fixture)
    print(f"wrote {len(data_configs())} fixtures to {args.out}", file=sys.stderr)


def cmd_train(args):
    cfg = data_config(args.penalty, args.optimizer, args.loss, args.lambda_, args.lambda_l1, args.lambda_l2, args.lr,
                      args.epochs, args.batch_size, args.seed, args.standardize, args.validation_split,
                      args.penalize_bias)
    cfg.update(data=args.data, label=args.label)
    print(json.dumps(train_table(cfg, args.device)))


def write_json_atomically(path, value):
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(f.name, path)


def softmax_config(penalty, optimizer, seed, penalize_bias, lam=0.01, l1=0.005, l2=0.005, samples=100, input_dim=10,
                   classes=3, lr=0.05, epochs=100, batch_size=None, weighted=False):
    return {"penalty": penalty, "lambda": lam, "lambda_l1": l1, "lambda_l2": l2, "optimizer": optimizer, "seed": seed,
            "samples": samples, "input_dim": input_dim, "classes": classes, "lr": lr, "epochs": epochs,
            "penalize_bias": penalize_bias, "batch_size": batch_size, "weighted": weighted}


def softmax_configs():
    """The multiclass golden configurations: every penalty and optimizer, the bias penalized
    (the tutorial's way) or not."""
    return {
        "softmax-l2-sgd-seed0-bias": softmax_config("l2", "sgd", 0, True),
        "softmax-l2-adam-seed1": softmax_config("l2", "adam", 1, False),
        "softmax-l1-adam-seed2-bias": softmax_config("l1", "adam", 2, True),
        "softmax-l1-sgd-seed3": softmax_config("l1", "sgd", 3, False),
        "softmax-elastic-net-adam-seed4-5classes": softmax_config("elastic-net", "adam", 4, False, classes=5),
        "softmax-none-sgd-seed5": softmax_config("none", "sgd", 5, False),
        "softmax-l2-sgd-seed6-batches": softmax_config("l2", "sgd", 6, False, batch_size=32),
        "softmax-elastic-net-adam-seed7-batches-bias-weighted": softmax_config("elastic-net", "adam", 7, True,
                                                                               batch_size=25, weighted=True),
        "softmax-l1-adam-seed8-weighted": softmax_config("l1", "adam", 8, False, weighted=True),
    }


def softmax(config, device="cpu"):
    """`torch.manual_seed(seed)`, X = randn(n, d), y = randint(K, (n,)), nn.Linear(d, K), then SGD or Adam
    on nn.CrossEntropyLoss() + the tutorial's penalty over the weight (and the bias): full batch, or
    mini-batches of `batch_size` rows in `torch.randperm(n)` order each epoch (what logreg draws for
    two classes too; a DataLoader with shuffle=True draws a seed and then its own randperm, so other
    rows). With `weighted`, row i weighs 0.5·(i mod 4): full batch the loss is Σ sᵢℓᵢ / Σ sᵢ; a
    mini-batch's is the mean of s̃ᵢℓᵢ over its rows, s̃ the weights scaled to mean 1 over all rows."""
    torch.manual_seed(config["seed"])
    X = torch.randn(config["samples"], config["input_dim"])
    y = torch.randint(config["classes"], (config["samples"],))
    model = nn.Linear(config["input_dim"], config["classes"])
    X, y = X.to(device), y.to(device)
    model.to(device)
    if config["optimizer"] == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=config["lr"])
    else:
        optimizer = optim.Adam(model.parameters(), lr=config["lr"])
    criterion = nn.CrossEntropyLoss()
    params = [model.weight, model.bias] if config["penalize_bias"] else [model.weight]
    n = config["samples"]
    batch = min(config.get("batch_size") or n, n)
    weights = None
    if config.get("weighted"):
        raw = [0.5 * (i % 4) for i in range(n)]
        total = sum(raw)
        weights = torch.tensor(raw, dtype=torch.float64)
        weights = (weights / total if batch == n else weights * (n / total)).float().to(device)

    def step(inputs, targets, s):
        scores = model(inputs)
        if s is None:
            loss = criterion(scores, targets)
        elif batch == n:
            loss = (nn.functional.cross_entropy(scores, targets, reduction="none") * s).sum()
        else:
            loss = (nn.functional.cross_entropy(scores, targets, reduction="none") * s).mean()
        term = penalty_term(config, params)
        if term is not None:
            loss = loss + term
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    losses = []
    for _ in range(config["epochs"]):
        if batch == n:
            losses.append(step(X, y, weights))
            continue
        perm = torch.randperm(n).to(device)
        total_loss = 0.0
        for start in range(0, n, batch):
            idx = perm.narrow(0, start, min(batch, n - start))
            s = None if weights is None else weights.index_select(0, idx)
            total_loss += step(X.index_select(0, idx), y.index_select(0, idx), s) * idx.shape[0]
        losses.append(total_loss / n)
    return {
        "losses": losses,
        "weight": model.weight.detach().cpu().flatten().tolist(),
        "bias": model.bias.detach().cpu().tolist(),
    }


def cmd_softmax_fixtures(args):
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in softmax_configs().items():
        fixture = {"name": name, "generator": "scripts/reference.py", "torch_version": torch.__version__,
                   "config": cfg, **softmax(cfg)}
        write_json_atomically(os.path.join(args.out, name + ".json"), fixture)
    print(f"wrote {len(softmax_configs())} fixtures to {args.out}", file=sys.stderr)


def cmd_fixtures(args):
    os.makedirs(args.out, exist_ok=True)
    for name, cfg in configs().items():
        result = tutorial(cfg)
        fixture = {
            "name": name,
            "generator": "scripts/reference.py",
            "torch_version": torch.__version__,
            "tolerance": TOLERANCE,
            "config": cfg,
            "losses": result["losses"],
            "weight": result["weight"],
            "bias": result["bias"],
        }
        write_json_atomically(os.path.join(args.out, name + ".json"), fixture)
    print(f"wrote {len(configs())} fixtures to {args.out}", file=sys.stderr)


def cmd_run(args):
    results = []
    for path in args.fixtures:
        with open(path) as f:
            fixture = json.load(f)
        results.append({"name": fixture["name"], **tutorial(fixture["config"], args.device)})
    json.dump(results, sys.stdout)
    print()


def cmd_tutorial(args):
    cfg = config(args.example, args.optimizer, args.seed, args.samples, args.input_dim, args.lr, args.epochs,
                 args.lambda_, args.lambda_l1, args.lambda_l2)

    def progress(epoch, num_epochs, loss):
        # Print loss every 10 epochs
        if epoch % 10 == 0:
            print(f"Epoch [{epoch}/{num_epochs}], Loss: {loss:.4f}")

    # With --json, the epochs' own time, from the end of the first to the end of the last (each
    # epoch's loss.item() waits for the GPU): no start-up, no data drawing. As `logreg tutorial --json`.
    stamps = []
    result = tutorial(cfg, args.device, (lambda *_: stamps.append(time.perf_counter())) if args.json else progress)
    if args.json:
        epochs = len(stamps)
        result["epoch_seconds"] = (stamps[-1] - stamps[0]) / (epochs - 1) if epochs > 1 else None
        print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("tutorial", help="run one tutorial example")
    t.add_argument("example", choices=["l2", "l1", "elastic-net"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--samples", type=int, default=100)
    t.add_argument("--input-dim", type=int, default=10)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--lambda", dest="lambda_", type=float, default=0.1)
    t.add_argument("--lambda-l1", type=float, default=0.05)
    t.add_argument("--lambda-l2", type=float, default=0.05)
    t.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    t.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tutorial)

    f = sub.add_parser("fixtures", help="write the golden fixtures")
    f.add_argument("--out", default="fixtures")
    f.set_defaults(func=cmd_fixtures)

    r = sub.add_parser("run", help="rerun fixture configurations, print JSON results")
    r.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    r.add_argument("fixtures", nargs="+")
    r.set_defaults(func=cmd_run)

    tr = sub.add_parser("train", help="train on a CSV file as `logreg train` does, print JSON")
    tr.add_argument("--data", required=True)
    tr.add_argument("--label")
    tr.add_argument("--penalty", choices=["none", "l1", "l2", "elastic-net"], default="l2")
    tr.add_argument("--lambda", dest="lambda_", type=float, default=1e-3)
    tr.add_argument("--lambda-l1", type=float, default=5e-4)
    tr.add_argument("--lambda-l2", type=float, default=5e-4)
    tr.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    tr.add_argument("--lr", type=float, default=0.01)
    tr.add_argument("--epochs", type=int, default=300)
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--standardize", action="store_true")
    tr.add_argument("--validation-split", type=float)
    tr.add_argument("--penalize-bias", action="store_true")
    tr.add_argument("--loss", choices=["bce", "logits"], default="logits")
    tr.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    tr.set_defaults(func=cmd_train)

    sf = sub.add_parser("softmax-fixtures", help="write the multiclass golden fixtures (nn.Linear(d, K) + CrossEntropyLoss)")
    sf.add_argument("--out", default="fixtures/softmax")
    sf.set_defaults(func=cmd_softmax_fixtures)
    df = sub.add_parser("data-fixtures", help="write the golden fixtures on the breast-cancer data")
    df.add_argument("--out", default="fixtures/data")
    df.set_defaults(func=cmd_data_fixtures)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
