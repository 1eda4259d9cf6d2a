"""Optimizers and learning-rate schedules, built from the option registry (choices.py).

Momentum follows the course literally (momentum.EMAMomentum): a velocity that is an exponential
average of gradients, V_t = alpha * V_{t-1} + (1 - alpha) * grad, not PyTorch's SGD momentum."""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler

from .choices import OPTIMIZERS, SCHEDULES
from .config import OptimizerConfig, ScheduleConfig
from .momentum import EMAMomentum

__all__ = ["EMAMomentum", "Schedule", "build_optimizer", "decay_growth"]


def build_optimizer(cfg: OptimizerConfig, groups: list[dict]) -> torch.optim.Optimizer:
    """`groups` are torch param groups, each possibly with its own "lr". The weight-decay penalty is
    added to the loss by the trainer (the course's formulation); only optimizers with decoupled decay
    (AdamW) decay inside the step, decoupled from the gradient, which is their point."""
    if cfg.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name: unknown optimizer {cfg.name!r}")
    return OPTIMIZERS[cfg.name].build(cfg, groups)


def decay_growth(cfg: OptimizerConfig, lr: float, penalty_in_loss: bool, steps: int = 32) -> float:
    """How much the weight-decay term alone scales the weights' magnitude per step, measured: the
    optimizer `cfg` at learning rate `lr` moves a single weight w = 1 on nothing but the decay (the
    gradient lambda*w of the penalty (1/2)*lambda*w^2 when `penalty_in_loss`, else AdamW's decoupled
    decay) for 2*`steps` steps, and the per-step growth of the largest |w| from the first `steps`
    steps to the next comes back. Plain SGD and AdamW give exactly |1 - lr*lambda|. Above 1 the
    decay alone makes the weights oscillate with growing amplitude, which no gradient of the data
    loss can stop; optimizers that divide the step by a gradient average (adagrad, rmsprop, adam)
    only bounce within about lr, so theirs stays below 1. (Float64: even 9**64 stays finite.)"""
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = build_optimizer(cfg, [{"params": [w], "lr": lr, "decay": True}])
    peaks = [0.0, 0.0]
    for i in range(2 * steps):
        w.grad = cfg.weight_decay * w.detach().clone() if penalty_in_loss else torch.zeros_like(w)
        opt.step()
        peaks[i >= steps] = max(peaks[i >= steps], abs(w.item()))
    return (peaks[1] / peaks[0]) ** (1 / steps) if peaks[0] > 0 else 0.0


class Schedule:
    """Wraps torch.optim.lr_scheduler; `baseline(val_loss)` takes epoch 0, then `after_epoch(val_loss)`
    advances it once after each training epoch: a cut decided after epoch E applies from epoch E+1."""

    def __init__(self, cfg: ScheduleConfig, optimizer: torch.optim.Optimizer, epochs: int):
        self.optimizer = optimizer
        if cfg.name not in SCHEDULES:
            raise ValueError(f"schedule.name: unknown schedule {cfg.name!r}")
        choice = SCHEDULES[cfg.name]
        self.sched = choice.cls(optimizer, **choice.kwargs(cfg, epochs)) if choice.cls else None

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def baseline(self, val_loss: float) -> None:
        """Epoch 0's validation loss (the initial weights): the plateau schedule's first reference,
        so that epoch 1 already counts as an epoch with or without improvement. Other schedules
        ignore it (they count epochs of training)."""
        if isinstance(self.sched, lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val_loss)

    def after_epoch(self, val_loss: float) -> None:
        if self.sched is None:
            return
        if isinstance(self.sched, lr_scheduler.ReduceLROnPlateau):
            self.sched.step(val_loss)
        else:
            self.sched.step()
