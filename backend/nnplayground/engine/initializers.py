"""Weight initialization. All-zero weights leave every unit of a layer identical forever (no
asymmetry); a zero-mean normal breaks the tie, and Xavier (variance 1/n) or He (variance 2/n) pick the
variance from the number of inputs n so that pre-activations neither explode nor vanish."""

from __future__ import annotations

import torch
from torch import nn

from .choices import INITIALIZERS
from .config import InitConfig


def fans(weight: torch.Tensor) -> tuple[int, int]:
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


@torch.no_grad()
def initialize(model: nn.Module, cfg: InitConfig, gen: torch.Generator) -> None:
    """Initialize every Linear/Conv layer as the scheme (choices.INITIALIZERS) says: one value for
    weights and biases, or normal weights and zero biases. `pytorch_default` keeps what PyTorch's
    constructors drew (Kaiming-uniform with a=sqrt(5))."""
    choice = INITIALIZERS[cfg.scheme]
    if choice.fill is None and choice.std is None:
        return
    for m in model.modules():
        if not isinstance(m, nn.Linear | nn.Conv2d):
            continue
        if choice.fill is not None:
            m.weight.fill_(choice.fill(cfg))
        else:
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * choice.std(cfg, *fans(m.weight)))
        if m.bias is not None:
            m.bias.fill_(choice.fill(cfg) if choice.fill is not None else 0.0)
