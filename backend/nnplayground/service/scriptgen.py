"""`export?format=python`: a standalone PyTorch script that rebuilds a run's data pipeline, model and
training loop with nothing from nnplayground, so a student can read, run and change every line.

The script is the Jinja2 template templates/export_script.py.j2, fed from the engine: the optimizer,
schedule, activation and initializer come from the option registry (engine/choices.py: the same
class and constructor arguments the engine builds), and the data generators, the split, the standardization,
the course's momentum, the weight-decay penalty, early stopping and augmentation are the engine's own source
(inspect.getsource), so the script cannot drift from what the playground does. Without dropout the
script reproduces the run's losses (tests/service/test_export_script.py runs it for every registered
choice); with dropout the random masks differ (the playground's telemetry draws random numbers too)."""

from __future__ import annotations

import inspect
import json
import pprint
import textwrap
from functools import lru_cache

import jinja2

from ..engine import augmentation, datasets, initializers, regularization
from ..engine.choices import (
    ACTIVATIONS,
    DATASETS,
    DEFAULT_FEATURES,
    FEATURES,
    INITIALIZERS,
    OPTIMIZERS,
    SCHEDULES,
    dataset_task,
    is_plane,
)
from ..engine.config import RunConfig


def _src(obj) -> str:
    return textwrap.dedent(inspect.getsource(obj)).strip() + "\n"


def _call(expr: str, first: str, kwargs: dict) -> str:
    return f"{expr}({', '.join([first, *(f'{k}={v!r}' for k, v in kwargs.items())])})"


def _qualified(cls: type) -> str:
    """How the script names a class: torch's by its public path, ours by the name of the copied source."""
    if cls.__module__.startswith("torch.optim.lr_scheduler"):
        return f"torch.optim.lr_scheduler.{cls.__name__}"
    if cls.__module__.startswith("torch.optim"):
        return f"torch.optim.{cls.__name__}"
    if cls.__module__.startswith("torch.nn"):
        return f"nn.{cls.__name__}"
    return cls.__name__


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nnplayground.service", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML
    )
    env.filters["py"] = repr
    return env.get_template("export_script.py.j2")


def script(run_id: str, cfg: dict) -> str:
    """The script for run `run_id` with configuration `cfg` (a RunConfig as a plain dict)."""
    c = RunConfig.model_validate(cfg)
    d, m, opt, tr, es, aug = c.dataset, c.model, c.optimizer, c.training, c.early_stopping, c.augmentation
    dataset = DATASETS[d.name]
    optimizer = OPTIMIZERS[opt.name]
    schedule = SCHEDULES[c.schedule.name]
    transfer = c.transfer if c.transfer and c.transfer.strategy != "scratch" else None
    generator = datasets._GENERATORS.get(d.name)
    image = dataset.image
    augment_on = aug.noise_std > 0 or (image and (aug.rotation_deg or aug.scale or aug.shift))
    n_hidden = len(m.hidden)
    # drawn points are split in the order they were added (the engine's `_sequential_split`)
    task = dataset_task(d)
    sequential = d.name == "custom" and task == "classification"
    feats = c.preprocessing.features
    features = None
    if is_plane(d) and tuple(feats) != DEFAULT_FEATURES:  # the engine's input features, copied
        features = {"names": feats, "sources": [_src(FEATURES[n]) for n in feats]}
    context = {
        "run_id": run_id,
        "c": c,
        "d": d,
        "m": m,
        "opt": opt,
        "tr": tr,
        "es": es,
        "task": task,
        "regression": task == "regression",
        "features": features,
        "cnn": c.uses_cnn(),
        "transfer": transfer,
        "config_text": pprint.pformat(cfg, width=100, sort_dicts=False),
        "generator": {"name": generator.__name__, "source": _src(generator)} if generator else None,
        "sequential_split": sequential,
        "split_source": (
            _src(datasets._n_val) + "\n\n\n" + _src(datasets._sequential_split) if sequential else _src(datasets._split)
        ),
        "standardization_source": _src(datasets._standardization),
        "digit_classes": sorted(d.classes) if d.classes else list(range(10)),
        "points_json": json.dumps(d.points) if d.points is not None else "None",
        "image_shape": repr(dataset.input_shape(d)) if image else None,
        "activations": {
            name: f"{_qualified(a.cls)}({', '.join(repr(getattr(m, f)) for f in a.fields)})"
            for name, a in ACTIVATIONS.items()
        },
        "layer_activations": repr(m.activations or [m.activation] * n_hidden),
        "layer_dropouts": repr(m.dropouts or [m.dropout] * n_hidden),
        "init": INITIALIZERS[c.init.scheme],
        "fans_source": _src(initializers.fans),
        "init_source": _init_source(INITIALIZERS[c.init.scheme]),
        "optimizer_source": "" if optimizer.cls.__module__.startswith("torch") else _src(optimizer.cls),
        "make_optimizer": _call(_qualified(optimizer.cls), "groups", optimizer.kwargs(opt)),
        "make_schedule": (
            _call(_qualified(schedule.cls), "opt", schedule.kwargs(c.schedule, tr.epochs)) if schedule.cls else "None"
        ),
        "decoupled_decay": optimizer.decoupled_decay and opt.weight_decay > 0,
        "penalty_in_loss": opt.weight_decay > 0 and not optimizer.decoupled_decay,
        "penalty_source": _src(regularization.l2_penalty),
        "l1_source": _src(regularization.l1_penalty),
        "early_stopping_source": _src(regularization.EarlyStopping) if es.enabled else "",
        "augment_source": _src(augmentation.augment) if augment_on else "",
        "lr_scale": transfer.feature_lr_scale if transfer else 1.0,
    }
    return _template().render(context)


def _init_source(choice) -> str:
    fn = choice.fill or choice.std
    return _src(fn) if fn else ""
