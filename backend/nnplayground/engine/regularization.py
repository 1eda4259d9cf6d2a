"""Regularization: the weight-decay penalty and early stopping. (Dropout lives with the layers in
models.py, augmentation in augmentation.py.)"""

from __future__ import annotations

import math

import torch
from torch import nn


def decayed_params(model: nn.Module, decay_biases: bool) -> list[nn.Parameter]:
    """The parameters the penalty applies to: weight matrices and kernels by default; with
    `decay_biases`, every trainable parameter (biases and batch-norm gamma/beta too)."""
    out = []
    for m in model.modules():
        for name, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_weight = name == "weight" and isinstance(m, nn.Linear | nn.Conv2d)
            if is_weight or decay_biases:
                out.append(p)
    return out


def l2_penalty(params: list[torch.Tensor], lam: float) -> torch.Tensor:
    """(1/2) * lambda * ||w||^2, the term the course adds to the mean data loss."""
    if not params or lam == 0:
        return torch.zeros(())
    return 0.5 * lam * torch.stack(torch._foreach_norm(params)).square().sum()


class EarlyStopping:
    """Keras-style: improvement means beating the best value by more than `min_delta`; after
    `patience` epochs without one, stop. The best epoch is remembered so its weights can come back."""

    def __init__(self, patience: int, min_delta: float = 0.0, mode: str = "min"):
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, epoch: int, value: float) -> bool:
        """Record one epoch's value; True when training should stop now."""
        if math.isfinite(value) and self.improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return False
        self.wait += 1
        return self.wait >= max(self.patience, 1)
