"""Regularization: the weight-decay (L2) and L1 penalties and early stopping. (Dropout lives with the layers in
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


def l1_penalty(params: list[torch.Tensor], lam1: float) -> torch.Tensor:
    """lambda1 * sum|w| (the lasso term, over the same parameters as the L2 penalty): its gradient
    lambda1 * sign(w) pulls every weight toward zero by the same amount, so small weights reach it."""
    if not params or lam1 == 0:
        return torch.zeros(())
    return lam1 * torch.stack(torch._foreach_norm(params, 1)).sum()


def penalties(params: list[torch.Tensor], l2: float, l1: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(L2 part, L1 part) of the penalty added to the loss, with lambdas `l2` (weight_decay) and `l1`."""
    return l2_penalty(params, l2), l1_penalty(params, l1)


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
