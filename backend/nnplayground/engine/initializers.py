"""Weight initialization. All-zero weights leave every unit of a layer identical forever (no
asymmetry); a zero-mean normal breaks the tie, and Xavier (variance 1/n) or He (variance 2/n) pick the
variance from the number of inputs n so that pre-activations neither explode nor vanish."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import InitConfig


def fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def weight_std(cfg: InitConfig, weight: torch.Tensor) -> float | None:
    """Standard deviation of the normal used for this weight, or None where the scheme is not normal."""
    fan_in, fan_out = fans(weight)
    if cfg.scheme == "normal":
        return cfg.std
    if cfg.scheme == "xavier":
        var = 1.0 / fan_in if cfg.xavier_mode == "fan_in" else 2.0 / (fan_in + fan_out)
        return math.sqrt(var)
    if cfg.scheme == "he":
        return math.sqrt(2.0 / fan_in)
    return None


@torch.no_grad()
def initialize(model: nn.Module, cfg: InitConfig, gen: torch.Generator) -> None:
    """Initialize every Linear/Conv layer; biases start at zero (constant scheme: the given value).
    `pytorch_default` keeps what PyTorch's constructors drew (Kaiming-uniform with a=sqrt(5))."""
    if cfg.scheme == "pytorch_default":
        return
    for m in model.modules():
        if not isinstance(m, nn.Linear | nn.Conv2d):
            continue
        if cfg.scheme == "zeros":
            m.weight.zero_()
        elif cfg.scheme == "constant":
            m.weight.fill_(cfg.std)
        else:
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * weight_std(cfg, m.weight))
        if m.bias is not None:
            m.bias.fill_(cfg.std if cfg.scheme == "constant" else 0.0)
