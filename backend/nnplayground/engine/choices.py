"""The option registry: every optimizer, learning-rate schedule, initializer, activation and data set
the engine offers, declared once. Each entry names its factory, the config fields it reads and its
traits; everything else is derived from here: the config's `Literal` choices (and so the OpenAPI
schema and GET /api/catalog), which controls the browser shows when (`relevant_when` in the schema),
the optimizer lab's list, the trainer's decay treatment, the service's model-size estimate and the
exported script. Adding an optimizer is one entry below.

Nothing here imports the config module (it imports this one): factories receive the config section
(or anything with the same attributes, such as the exported script's SimpleNamespace)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim import lr_scheduler

from .momentum import EMAMomentum

# ---- optimizers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerChoice:
    cls: type[torch.optim.Optimizer]
    kwargs: Callable[[Any], dict]  # the constructor's arguments besides the param groups, from cfg.optimizer
    fields: tuple[str, ...]  # optimizer.* fields the update rule reads (lr, weight_decay: every one)
    # Decays inside its step, decoupled from the gradient (AdamW), instead of the loss penalty
    # (1/2)*lambda*||w||^2 that every other optimizer minimises.
    decoupled_decay: bool = False
    # On the decay term alone its step is exactly w <- (1 - lr*lambda) w (what a divergence report cites).
    linear_decay: bool = False

    def build(self, cfg, groups: list[dict]) -> torch.optim.Optimizer:
        if self.decoupled_decay:
            for g in groups:
                g.setdefault("weight_decay", cfg.weight_decay if g.get("decay", True) else 0.0)
        return self.cls(groups, **self.kwargs(cfg))


OPTIMIZERS: dict[str, OptimizerChoice] = {
    "sgd": OptimizerChoice(torch.optim.SGD, lambda c: {"lr": c.lr}, (), linear_decay=True),
    "momentum": OptimizerChoice(
        EMAMomentum, lambda c: {"lr": c.lr, "alpha": c.momentum, "nesterov": False}, ("momentum",)
    ),
    "nesterov": OptimizerChoice(
        EMAMomentum, lambda c: {"lr": c.lr, "alpha": c.momentum, "nesterov": True}, ("momentum",)
    ),
    "adagrad": OptimizerChoice(torch.optim.Adagrad, lambda c: {"lr": c.lr, "eps": c.eps}, ("eps",)),
    "rmsprop": OptimizerChoice(
        torch.optim.RMSprop, lambda c: {"lr": c.lr, "alpha": c.rho, "eps": c.eps}, ("rho", "eps")
    ),
    "adam": OptimizerChoice(
        torch.optim.Adam, lambda c: {"lr": c.lr, "betas": tuple(c.betas), "eps": c.eps}, ("betas", "eps")
    ),
    "adamw": OptimizerChoice(
        torch.optim.AdamW,
        lambda c: {"lr": c.lr, "betas": tuple(c.betas), "eps": c.eps},
        ("betas", "eps"),
        decoupled_decay=True,
        linear_decay=True,
    ),
    # Adam with Nesterov momentum (Dozat 2016); the weight decay is the loss penalty, as for Adam.
    "nadam": OptimizerChoice(
        torch.optim.NAdam, lambda c: {"lr": c.lr, "betas": tuple(c.betas), "eps": c.eps}, ("betas", "eps")
    ),
}

# ---- learning-rate schedules --------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleChoice:
    cls: type | None  # a torch.optim.lr_scheduler class; None: the learning rate stays as it is
    kwargs: Callable[[Any, int], dict]  # (cfg.schedule, training epochs) -> the constructor's arguments
    fields: tuple[str, ...]  # schedule.* fields it reads


SCHEDULES: dict[str, ScheduleChoice] = {
    "constant": ScheduleChoice(None, lambda c, epochs: {}, ()),
    "step": ScheduleChoice(
        lr_scheduler.StepLR, lambda c, epochs: {"step_size": c.step_size, "gamma": c.gamma}, ("step_size", "gamma")
    ),
    "exponential": ScheduleChoice(lr_scheduler.ExponentialLR, lambda c, epochs: {"gamma": c.gamma}, ("gamma",)),
    # Keras's convention, shared with early stopping: cut on the `patience`-th consecutive epoch
    # without improvement. torch cuts once num_bad_epochs > its patience, hence the -1.
    # eps=0: torch's default (1e-8) silently skips every cut of a learning rate below ~2e-8.
    "plateau": ScheduleChoice(
        lr_scheduler.ReduceLROnPlateau,
        lambda c, epochs: {
            "mode": "min",
            "factor": c.factor,
            "patience": max(c.patience - 1, 0),
            "min_lr": c.min_lr,
            "eps": 0.0,
        },
        ("factor", "patience", "min_lr"),
    ),
    "cosine": ScheduleChoice(
        lr_scheduler.CosineAnnealingLR, lambda c, epochs: {"T_max": epochs, "eta_min": c.min_lr}, ("min_lr",)
    ),
}

# ---- weight initializers ------------------------------------------------------------------------
# A scheme either fills every weight with one value (`fill`; biases get the same value) or draws them
# from a zero-mean normal whose standard deviation `std` picks (biases start at zero), or keeps what
# PyTorch's constructors drew. The functions are plain so that the exported script copies them.


def zeros_fill(init) -> float:
    return 0.0


def constant_fill(init) -> float:
    return init.std


def normal_std(init, fan_in: int, fan_out: int) -> float:
    return init.std


def xavier_std(init, fan_in: int, fan_out: int) -> float:
    """Variance 1/fan_in (the course's) or Glorot's 2/(fan_in + fan_out)."""
    return math.sqrt(1.0 / fan_in if init.xavier_mode == "fan_in" else 2.0 / (fan_in + fan_out))


def he_std(init, fan_in: int, fan_out: int) -> float:
    return math.sqrt(2.0 / fan_in)


@dataclass(frozen=True)
class InitChoice:
    fields: tuple[str, ...]  # init.* fields it reads
    fill: Callable[[Any], float] | None = None
    std: Callable[[Any, int, int], float] | None = None


INITIALIZERS: dict[str, InitChoice] = {
    "zeros": InitChoice((), fill=zeros_fill),
    "constant": InitChoice(("std",), fill=constant_fill),
    "normal": InitChoice(("std",), std=normal_std),
    "xavier": InitChoice(("xavier_mode",), std=xavier_std),
    "he": InitChoice((), std=he_std),
    "pytorch_default": InitChoice(()),  # Kaiming-uniform with a=sqrt(5), as the constructors drew it
}

# ---- activations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationChoice:
    cls: type[nn.Module]  # a torch.nn class
    fields: tuple[str, ...] = ()  # model.* fields passed to it, in order

    def build(self, model_cfg) -> nn.Module:
        return self.cls(*(getattr(model_cfg, f) for f in self.fields))


ACTIVATIONS: dict[str, ActivationChoice] = {
    "sigmoid": ActivationChoice(nn.Sigmoid),
    "tanh": ActivationChoice(nn.Tanh),
    "relu": ActivationChoice(nn.ReLU),
    "leaky_relu": ActivationChoice(nn.LeakyReLU, ("leaky_slope",)),
    "linear": ActivationChoice(nn.Identity),
}

# ---- data sets ----------------------------------------------------------------------------------


def _points_shape(d) -> tuple[int, ...]:
    return (len(d.points[0]) - 1,)


def _points_classes(d) -> int:
    return len({int(r[-1]) for r in d.points})


@dataclass(frozen=True)
class DatasetChoice:
    task: str  # "classification" | "regression"
    fields: tuple[str, ...]  # dataset.* fields it reads besides name, val_fraction and seed
    input_shape: Callable[[Any], tuple[int, ...]]  # (cfg.dataset) -> one sample's shape
    n_out: Callable[[Any], int]  # (cfg.dataset) -> outputs of the model: classes, 1 for regression
    size: int | None = None  # a real data set's sample count (n_samples is capped there)
    plane: bool = False  # two input features: the decision surface is a plane
    image: bool = False  # 1x8x8 images: a CNN by default, image augmentations apply


def _toy(task: str = "classification", plane: bool = True) -> DatasetChoice:
    if task == "regression":
        shape = (2,) if plane else (1,)
        return DatasetChoice(task, ("n_samples", "noise"), lambda d: shape, lambda d: 1, plane=plane)
    return DatasetChoice(task, ("n_samples", "noise", "per_class"), lambda d: (2,), lambda d: 2, plane=True)


def _custom_task(d) -> str:
    return getattr(d, "task", None) or "classification"


def _custom_n_out(d) -> int:
    return 1 if _custom_task(d) == "regression" else _points_classes(d)


DATASETS: dict[str, DatasetChoice] = {
    "circle": _toy(),
    "xor": _toy(),
    "gauss": _toy(),
    "spiral": _toy(),
    "moons": _toy(),
    "sine": _toy("regression", plane=False),
    # TensorFlow Playground's two regression sets: a target over the plane
    "plane": _toy("regression"),
    "multi_gauss": _toy("regression"),
    "wine": DatasetChoice("classification", ("n_samples", "per_class"), lambda d: (13,), lambda d: 3, size=178),
    "digits": DatasetChoice(
        "classification",
        ("classes", "per_class"),
        lambda d: (1, 8, 8),
        lambda d: len(d.classes) if d.classes else 10,
        size=1797,
        image=True,
    ),
    # `dataset.task` decides: integer class labels, or float targets for regression
    "custom": DatasetChoice("classification", ("points", "per_class", "task"), _points_shape, _custom_n_out),
}


def dataset_task(d) -> str:
    """The task of the data set `d` (cfg.dataset): the registry's, or what a custom data set declares."""
    return _custom_task(d) if d.name == "custom" else DATASETS[d.name].task


def is_plane(d) -> bool:
    """The inputs are points of the plane (two raw coordinates): a generated 2-D set or two custom columns."""
    return DATASETS[d.name].plane or (d.name == "custom" and bool(d.points) and len(d.points[0]) == 3)


# ---- input features (2-D data) ------------------------------------------------------------------
# TensorFlow Playground's feature crosses: each is computed from the raw coordinates (x: (N, 2) float64
# tensor; x[:, 0] is x1, x[:, 1] is x2) before standardization. Plain functions, so that the exported
# script copies them.


def x1(x):
    return x[:, 0]


def x2(x):
    return x[:, 1]


def x1_squared(x):
    return x[:, 0] ** 2


def x2_squared(x):
    return x[:, 1] ** 2


def x1_times_x2(x):
    return x[:, 0] * x[:, 1]


def sin_x1(x):
    return torch.sin(x[:, 0])


def sin_x2(x):
    return torch.sin(x[:, 1])


FEATURES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    f.__name__: f for f in (x1, x2, x1_squared, x2_squared, x1_times_x2, sin_x1, sin_x2)
}
DEFAULT_FEATURES = ("x1", "x2")


def feature_map(raw: torch.Tensor, names) -> torch.Tensor:
    """(N, 2) raw coordinates -> (N, len(names)) features, in the order of `names`."""
    return torch.stack([FEATURES[n](raw) for n in names], 1)


# ---- field relevance ----------------------------------------------------------------------------
# `relevant_when`, in a field's JSON schema: the condition under which the field matters, so that the
# browser shows its control only then. A dict maps config paths to a condition, all of which must hold:
# a list of values (the field's value is one of them; a list value: one of its items is), {"not": [..]}
# or {"gt": number}; {"any": [dict, ...]} holds when one of its dicts does.


def users(registry: dict, field: str) -> list[str]:
    """The names of the registry's entries that read `field`."""
    return [name for name, choice in registry.items() if field in choice.fields]


def used_by(path: str, registry: dict, field: str) -> dict:
    """json_schema_extra for a field that matters only for the choices (at `path`) reading it."""
    return {"relevant_when": {path: users(registry, field)}}


def relevant(condition: dict | None, cfg: dict) -> bool:
    """Evaluate a `relevant_when` condition on a plain config dict (the browser's rule, in Python)."""
    if not condition:
        return True
    if "any" in condition:
        return any(relevant(c, cfg) for c in condition["any"])
    for path, want in condition.items():
        value: Any = cfg
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(want, list):
            ok = any(v in want for v in value) if isinstance(value, list) else value in want
        elif "not" in want:
            ok = value not in want["not"]
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > want["gt"]
        if not ok:
            return False
    return True
