"""Transfer learning: start from weights trained on another task and retrain on a small new one.
Usually the feature extractor (a CNN's conv blocks) stays as it is and only the classifier head is
retrained: with few samples that generalizes better than training everything."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from .config import ConfigError, ModelConfig, RunConfig, TransferConfig, merge
from .models import Net

BUILTIN_DIGITS = "builtin:digits-0-4"
BUILTIN_CONFIG = {
    "dataset": {"name": "digits", "classes": [0, 1, 2, 3, 4], "val_fraction": 0.2, "seed": 0},
    "model": {"arch": "cnn", "conv_channels": [8, 16], "hidden": [32], "activation": "relu"},
    "init": {"scheme": "he"},
    "optimizer": {"name": "adam", "lr": 0.005},
    "training": {"epochs": 12, "batch_size": 32, "seed": 0, "device": "cpu"},
    "telemetry": {"enabled": False, "histogram_every": 0, "surface_every": 0, "max_checkpoints": 4},
}

SourceLoader = Callable[[str], tuple[dict, dict[str, torch.Tensor]]]  # run id -> (config, state_dict)


def cache_dir() -> Path:
    return Path(os.environ.get("NNPLAYGROUND_CACHE", Path.home() / ".cache" / "nnplayground"))


def _builtin_path() -> Path:
    return cache_dir() / "builtin-digits-0-4.pt"


def cached_builtin() -> tuple[dict, dict[str, torch.Tensor]] | None:
    """The built-in source (config, state) from the disk cache, or None before it was first trained."""
    path = _builtin_path()
    if not path.exists():
        return None
    blob = torch.load(path, weights_only=True)
    return json.loads(blob["config"]), blob["state"]


def cache_builtin(state: dict[str, torch.Tensor]) -> None:
    path = _builtin_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"config": json.dumps(BUILTIN_CONFIG), "state": state}, tmp)
    tmp.replace(path)  # atomic: two processes racing both write a complete file


def adopt_architecture(target: RunConfig, source_config: dict) -> RunConfig:
    """The target keeps its own data, dropout and training settings but must have the source's layers:
    every architecture field of the source's model section, defaults included (a per-layer list of the
    target must not outlive the layers it described). Raises ConfigError when the target's per-layer
    dropouts do not fit the source's hidden layers."""
    src_model = ModelConfig.model_validate(source_config.get("model", {})).model_dump(mode="json")
    for key in ("dropout", "dropouts"):
        src_model.pop(key)
    dropouts = target.model.dropouts
    if dropouts is not None and len(dropouts) != len(src_model["hidden"]):
        raise ConfigError(
            "model.dropouts",
            f"needs one entry per hidden layer of the transfer source ({len(src_model['hidden'])}), "
            f"got {len(dropouts)}",
            "source_layers_length",
            {"n": len(src_model["hidden"]), "got": len(dropouts)},
        )
    merged = merge(target.model_dump(mode="json"), {"model": src_model})
    return RunConfig.model_validate(merged)


def feature_layers(model: Net) -> list[str]:
    """The feature extractor: conv blocks for a CNN, every hidden block for an MLP."""
    names = list(model.blocks)
    return [n for n in names if n.startswith("conv")] if model.n_conv else names


def apply(model: Net, state: dict[str, torch.Tensor], cfg: TransferConfig) -> tuple[set[str], set[str]]:
    """Copy the source weights (except the output layer: new task, new classes) and decide which
    layers are frozen. Returns (frozen layer names, feature layers that train with a scaled LR).
    `continue` copies everything, the output layer included, and trains it all at the full LR."""
    if cfg.strategy == "scratch":
        return set(), set()
    own = model.state_dict()
    resume = cfg.strategy == "continue"  # the same task: the output layer comes along
    for k, v in state.items():
        if k.startswith("out.") and not resume:
            continue
        if resume and k.startswith("out.") and k in own and own[k].shape != v.shape:
            raise ValueError("transfer.strategy: 'continue' needs the source's classes; use another strategy")
        if k not in own or own[k].shape != v.shape:
            raise ValueError(f"transfer.source: the source's parameter {k} does not fit this model")
        own[k] = v.clone()
    model.load_state_dict(own)
    order = [*model.blocks, "out"]
    features = set(feature_layers(model))
    if cfg.strategy == "freeze_features":
        frozen = features
    elif cfg.strategy in ("finetune_all", "continue"):
        frozen = set()
    else:  # finetune_last_k: the last k layers counted from the output train, the rest stay
        frozen = set(order[: max(0, len(order) - cfg.k)])
    for name in frozen:
        for p in model.blocks[name].parameters():
            p.requires_grad_(False)
    return frozen, set() if resume else features - frozen
