"""Engine overhead: the same small MLP (2-8-8-2 on spiral, batch 10) trained three ways in one
process: a bare PyTorch loop, the engine with telemetry off, and the engine with default telemetry
(histograms and a 64x64 decision surface every epoch).

The three ways advance in lockstep, one epoch each in turn, so that a busy machine slows all three
alike; every epoch is timed on its own. Prints, per way, the median time per epoch and the ratio of
the medians to the bare loop's (also the ratio of the 10th percentiles: the least disturbed epochs).

    python benchmarks/bench_engine.py [--epochs 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import merge

BASE = {
    "dataset": {"name": "spiral", "n_samples": 500, "val_fraction": 0.5},
    "model": {"hidden": [8, 8], "activation": "relu"},
    "optimizer": {"name": "sgd", "lr": 0.03},
    "training": {"batch_size": 10, "device": "cpu"},
}


def bare() -> Callable[[], None]:
    """What a student would write: shuffle, mini-batches, SGD, and a validation pass per epoch.
    Returns a function that trains one epoch."""
    t = Trainer(RunConfig.model_validate(merge(BASE, {"telemetry": {"enabled": False}})))  # same data & init
    model, x, y, xv, yv = t.model, t.x_train, t.y_train, t.x_val, t.y_val
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    gen = torch.Generator().manual_seed(0)

    def epoch() -> None:
        model.train()
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 10):
            idx = perm[i : i + 10]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            F.cross_entropy(model(xv), yv).item()

    return epoch


def engine(epochs: int, telemetry: dict) -> Callable[[], None]:
    cfg = RunConfig.model_validate(merge(BASE, {"training": {"epochs": epochs}, "telemetry": telemetry}))
    t = Trainer(cfg)
    t.start()
    return t.step


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ways = {
        "bare PyTorch loop": bare,
        "engine, telemetry off": lambda: engine(
            args.epochs, {"enabled": False, "histogram_every": 0, "surface_every": 0}
        ),
        "engine, default telemetry": lambda: engine(args.epochs, {}),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # fresh models each repeat
        steps = {name: make() for name, make in ways.items()}
        for _ in range(args.epochs):
            for name, step in steps.items():
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
    n_steps = 25  # 250 training samples / batch 10
    base, base10 = statistics.median(times["bare PyTorch loop"]), pct(times["bare PyTorch loop"], 10)
    print(f"{'way':28s} {'ms/epoch':>9s} {'steps/s':>9s} {'ratio':>6s} {'p10 ratio':>9s}")
    for name, secs in times.items():
        med = statistics.median(secs)
        print(f"{name:28s} {med * 1e3:9.2f} {n_steps / med:9.0f} {med / base:6.2f} {pct(secs, 10) / base10:9.2f}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"(torch {torch.__version__}, 1 thread, {args.repeats} x {args.epochs} epochs interleaved epoch by epoch; "
        f"medians; load {load})"
    )


if __name__ == "__main__":
    main()
