"""The CUDA path of the engine, checked on a machine with a GPU (not part of the CPU test suite):
the same runs on cpu and cuda must both train, stay finite, keep checkpoints on the CPU, and reach
similar validation scores; prints per-epoch times on both devices.

    python benchmarks/cuda_check.py
"""

from __future__ import annotations

import json
import time

import torch
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import merge

RUNS = {
    "spiral MLP, default telemetry": {
        "dataset": {"name": "spiral"},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 40},
    },
    "digits CNN, BN + dropout + augmentation, MC": {
        "dataset": {"name": "digits", "per_class": 40},
        "augmentation": {"rotation_deg": 10, "shift": 0.1, "noise_std": 0.05},
        "model": {"batch_norm": True, "dropout": 0.2, "hidden": [32]},
        "optimizer": {"name": "momentum", "lr": 0.1},
        "training": {"epochs": 15, "batch_size": 32},
        "telemetry": {"mc_samples": 5},
    },
    "sine, weight decay + early stopping + plateau": {
        "dataset": {"name": "sine", "n_samples": 60, "noise": 0.3},
        "model": {"hidden": [64, 64], "activation": "tanh"},
        "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
        "schedule": {"name": "plateau", "patience": 5},
        "training": {"epochs": 200, "batch_size": 30},
        "early_stopping": {"enabled": True, "patience": 20},
    },
    "transfer from the built-in digits CNN": {
        "dataset": {"name": "digits", "classes": [5, 6, 7, 8, 9], "per_class": 5},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 20, "batch_size": 25},
        "transfer": {"source": "builtin:digits-0-4", "strategy": "freeze_features"},
    },
}


def run(cfg: dict, device: str) -> dict:
    t = Trainer(RunConfig.model_validate(merge(cfg, {"training": {"device": device}})))
    start = time.perf_counter()
    events = list(t)
    per_epoch = (time.perf_counter() - start) / max(t.epoch, 1)
    json.dumps(events, allow_nan=False)  # every event is plain JSON, whatever the device
    assert all(v.device.type == "cpu" for s in t.checkpoints.states.values() for v in s.values())
    assert next(t.model.parameters()).device.type == device
    last = t.history[-1]
    pred = t.predict(t.data.raw_val[:4].tolist(), mc_samples=3)
    return {
        "status": t.status,
        "epochs": t.epoch,
        "ms_per_epoch": round(per_epoch * 1e3, 2),
        "val_loss": round(last["val_loss"], 4),
        "score": last["val_acc"] if last["val_acc"] is not None else last["val_r2"],
        "predict_rows": len(pred["mean"]),
    }


def main():
    assert torch.cuda.is_available(), "no CUDA device here"
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    ok = True
    for name, cfg in RUNS.items():
        cpu, gpu = run(cfg, "cpu"), run(cfg, "cuda")
        close = abs(cpu["score"] - gpu["score"]) < 0.1
        ok &= close and gpu["status"] in ("completed", "early_stopped")
        print(f"{name}\n  cpu  {cpu}\n  cuda {gpu}\n  scores within 0.1: {close}")
    print("CUDA CHECK", "PASSED" if ok else "FAILED")


if __name__ == "__main__":
    main()
