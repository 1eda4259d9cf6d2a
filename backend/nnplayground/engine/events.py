"""The telemetry event stream. Every event is a plain JSON-serialisable dict with a `type`; these
constructors are the only place events are made, so this file is the schema (see docs/protocol.md).

    run_start   config, n_params, layers, dataset, device, frozen
    epoch       record: epoch, train_loss, val_loss, penalty (= penalty_l2 + penalty_l1), penalty_l2,
                penalty_l1, train_acc, val_acc, lr, grad_norm, weight_norm, update_ratio, dead_fraction,
                saturated_fraction, active_fraction, zero_fraction, epoch_time, time
                (+ train_r2, val_r2 for regression); per-layer values are keyed by layer name
    histograms  epoch, layers: {layer: {pre|act|weight|grad: {min, max, counts, nonfinite}}}
                (counts bin the finite values; nonfinite counts NaN/inf; min/max null if none is finite)
    surface     epoch, kind: decision | regression2d | curve | images | confusion, + the view's data
    marker      epoch, kind, + details: best (val_loss, monitor, value) | lr_change (old, new) |
                early_stop (best_epoch, reason) | restore_best (restored_epoch) |
                diverged (cause: learning_rate | weight_decay | input_scale | nonfinite_input | initial_overflow,
                message, evidence) | weight_edit (layer, index, old, new)
Numbers that are NaN/inf are None (JSON null) everywhere.
    run_end     status, summary, message
"""

from __future__ import annotations

EVENT_TYPES = ("run_start", "epoch", "histograms", "surface", "marker", "run_end")
MARKER_KINDS = ("best", "lr_change", "early_stop", "restore_best", "diverged", "weight_edit")
RECORD_KEYS = (
    "epoch",
    "train_loss",
    "val_loss",
    "penalty",
    "penalty_l2",
    "penalty_l1",
    "train_acc",
    "val_acc",
    "lr",
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "dead_fraction",
    "saturated_fraction",
    "active_fraction",
    "zero_fraction",
    "time",
)


def run_start(config: dict, n_params: int, layers: list, dataset: dict, device: str, frozen: list) -> dict:
    return {
        "type": "run_start",
        "config": config,
        "n_params": n_params,
        "layers": layers,
        "dataset": dataset,
        "device": device,
        "frozen": frozen,
    }


def epoch(record: dict) -> dict:
    return {"type": "epoch", **record}


def histograms(epoch: int, layers: dict) -> dict:
    return {"type": "histograms", "epoch": epoch, "layers": layers}


def surface(epoch: int, kind: str, **data) -> dict:
    return {"type": "surface", "epoch": epoch, "kind": kind, **data}


def marker(epoch: int, kind: str, **details) -> dict:
    assert kind in MARKER_KINDS, kind
    return {"type": "marker", "epoch": epoch, "kind": kind, **details}


def run_end(status: str, summary: dict, message: str = "") -> dict:
    return {"type": "run_end", "status": status, "summary": summary, "message": message}
