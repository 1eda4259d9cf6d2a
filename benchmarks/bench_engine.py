"""Engine overhead: the same small MLP (2-8-8-2 on spiral, batch 10) trained three ways in one
process: a bare PyTorch loop, the engine with telemetry off, and the engine with default telemetry
(histograms and a 64x64 decision surface every epoch). Prints the median time per epoch and the
ratios to the bare loop measured in the same repeat (median over the interleaved repeats).

    python benchmarks/bench_engine.py [--epochs 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

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


def bare(epochs: int) -> float:
    """What a student would write: shuffle, mini-batches, SGD, and a validation pass per epoch."""
    t = Trainer(RunConfig.model_validate(merge(BASE, {"telemetry": {"enabled": False}})))  # same data & init
    model, x, y, xv, yv = t.model, t.x_train, t.y_train, t.x_val, t.y_val
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(epochs):
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
    return (time.perf_counter() - start) / epochs


def engine(epochs: int, telemetry: dict) -> float:
    cfg = RunConfig.model_validate(merge(BASE, {"training": {"epochs": epochs}, "telemetry": telemetry}))
    t = Trainer(cfg)
    t.start()
    start = time.perf_counter()
    while not t.done:
        t.step()
    return (time.perf_counter() - start) / epochs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ways = {
        "bare PyTorch loop": lambda: bare(args.epochs),
        "engine, telemetry off": lambda: engine(
            args.epochs, {"enabled": False, "histogram_every": 0, "surface_every": 0}
        ),
        "engine, default telemetry": lambda: engine(args.epochs, {}),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # interleaved: every repeat measures the three ways under the same load
        for name, fn in ways.items():
            times[name].append(fn())
    steps = 25  # 250 training samples / batch 10
    bare_times = times["bare PyTorch loop"]
    print(f"{'way':28s} {'ms/epoch':>9s} {'steps/s':>9s} {'ratio':>6s} {'best':>6s}")
    for name, secs in times.items():
        # ratio: the median over repeats of this way's time over the bare loop's in the same repeat;
        # best: best time over best bare time (both robust to a busy machine in different ways)
        ratio = statistics.median(s / b for s, b in zip(secs, bare_times, strict=True))
        med = statistics.median(secs)
        print(f"{name:28s} {med * 1e3:9.2f} {steps / med:9.0f} {ratio:6.2f} {min(secs) / min(bare_times):6.2f}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"(torch {torch.__version__}, 1 thread, {args.epochs} epochs, median of {args.repeats}; load {load})")


if __name__ == "__main__":
    main()
