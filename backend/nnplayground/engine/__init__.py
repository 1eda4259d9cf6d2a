"""The training engine: pure PyTorch, no web imports. One module per concept family."""

from .config import RunConfig
from .trainer import Trainer

__all__ = ["RunConfig", "Trainer"]
