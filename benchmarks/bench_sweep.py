"""Sweeps: K variants of the spiral 2-8-8-2 MLP (batch 10) trained as one stacked model (engine/sweep.py)
against the same K runs trained one after another by the engine's Trainer, in one process. The variants
differ in learning rate and seed. Prints model-epochs per second both ways, their ratio, and the memory
each variant adds; with default telemetry (histograms and a 64x64 decision surface every epoch, per
variant) and with telemetry off (losses only). Also times one training step of K = 16 stacked models
written as batched matrix products with the backward pass written out (what the engine uses), the same
products through autograd, and torch.func.vmap over functional_call.

    python benchmarks/bench_sweep.py [--epochs 20] [--ks 1,2,4,8,16,32,64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import merge
from nnplayground.engine.sweep import Sweep, _Stack, expand

BASE = {
    "dataset": {"name": "spiral", "n_samples": 500, "val_fraction": 0.5},
    "model": {"hidden": [8, 8], "activation": "relu"},
    "optimizer": {"name": "sgd", "lr": 0.03},
    "training": {"batch_size": 10, "device": "cpu"},
}
TELEMETRY = {
    "default telemetry": {},
    "telemetry off": {"enabled": False, "histogram_every": 0, "surface_every": 0},
}


def configs(k: int, epochs: int, telemetry: dict) -> list[RunConfig]:
    base = merge(BASE, {"training": {"epochs": epochs}, "telemetry": telemetry})
    lrs = [0.001 * 100 ** (i / max(k - 1, 1)) for i in range(k)]  # 0.001 to 0.1: none diverges, all train on
    return [c for _, c in expand(base, {"optimizer.lr": lrs, "training.seed": list(range(k))}, "zip")]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sequential(cfgs: list[RunConfig]) -> float:
    """Seconds to train the runs one after another (construction included, as for the sweep)."""
    start = time.perf_counter()
    for c in cfgs:
        t = Trainer(c)
        for _ in t:
            pass
    return time.perf_counter() - start


def stacked(cfgs: list[RunConfig]) -> tuple[float, int]:
    """Seconds to train the runs as one sweep, and the resident memory it added."""
    before = rss()
    start = time.perf_counter()
    sweep = Sweep(cfgs)
    sweep.start()
    while not sweep.done:
        sweep.step()
    seconds = time.perf_counter() - start
    grown = rss() - before
    assert all(t.status == "completed" for t in sweep.trainers)
    return seconds, grown


def step_times(k: int = 16, steps: int = 300) -> dict[str, float]:
    """Microseconds per training step (forward, backward, SGD update) of k stacked 2-8-8-2 MLPs."""
    cfgs = configs(k, 1, TELEMETRY["telemetry off"])
    sweep = Sweep(cfgs)
    stack = _Stack(sweep.trainers)
    h = stack.hypers()
    x = sweep.trainers[0].x_train[:10].expand(k, 10, 2).contiguous()
    y = sweep.trainers[0].y_train[:10].expand(k, 10).contiguous()

    def explicit_step():
        stack.update(stack.with_penalty(stack.gradients(x, y, h), h), h)

    def autograd_step():
        grads = torch.autograd.grad(stack.loss(stack.forward(x, h, True), y), stack.params)
        stack.update(stack.with_penalty(list(grads), h), h)

    net = sweep.trainers[0].model
    names = [n for n, _ in net.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in stack.params]

    def one(ps, xb, yb):
        out = torch.func.functional_call(net, dict(zip(names, ps, strict=True)), (xb,))
        return F.cross_entropy(out, yb)

    batched_loss = torch.vmap(one, in_dims=(0, 0, 0))

    def vmap_step():
        grads = torch.autograd.grad(batched_loss(params, x, y).sum(), params)
        with torch.no_grad():
            torch._foreach_sub_(params, torch._foreach_mul(grads, 0.03))

    out = {}
    arms = (
        ("batched matmul, explicit backward (engine)", explicit_step),
        ("batched matmul, autograd", autograd_step),
        ("vmap + functional_call", vmap_step),
    )
    for name, fn in arms:
        for _ in range(20):
            fn()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        out[name] = (time.perf_counter() - start) / steps * 1e6
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--ks", default="1,2,4,8,16,32,64")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ks = [int(k) for k in args.ks.split(",")]
    stacked(configs(2, 2, {}))  # warm-up: first-use allocations and lazy imports are no variant's cost
    sequential(configs(2, 2, {}))
    print(f"load average before: {os.getloadavg()}")
    for tel_name, tel in TELEMETRY.items():
        print(f"\n== {tel_name}, {args.epochs} epochs, best of {args.repeats} ==")
        print(f"{'K':>3s} {'sweep m-ep/s':>13s} {'sequential m-ep/s':>18s} {'ratio':>6s} {'MB/variant':>11s}")
        for k in ks:
            cfgs = configs(k, args.epochs, tel)
            best_sw = best_seq = float("inf")
            grown = 0
            for _ in range(args.repeats):  # interleaved, best of N: robust to a busy machine
                sw, grown = stacked(cfgs)
                best_sw = min(best_sw, sw)
                best_seq = min(best_seq, sequential(cfgs))
            me = k * args.epochs
            print(
                f"{k:3d} {me / best_sw:13.1f} {me / best_seq:18.1f} {best_seq / best_sw:6.2f} {grown / k / 2**20:11.2f}"
            )
    print("\n== one training step of 16 stacked MLPs (batch 10) ==")
    for name, us in step_times().items():
        print(f"{name:44s} {us:8.1f} us/step")
    print(f"\n(torch {torch.__version__}, 1 thread; load average after: {os.getloadavg()})")


if __name__ == "__main__":
    main()
