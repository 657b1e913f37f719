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

Runs on the managed environment (scripts/env.sh puts it first on PATH).
"""

import argparse
import json
import os
import sys
import tempfile

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


def write_json_atomically(path, value):
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as f:
        json.dump(value, f, indent=1)
        f.write("\n")
    os.replace(f.name, path)


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

    result = tutorial(cfg, args.device, None if args.json else progress)
    if args.json:
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

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
