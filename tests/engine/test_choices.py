"""The option registry (engine/choices.py): what it declares is what the config, the schema and the
engine use."""

import itertools

import pytest
from nnplayground.api.routes.catalog import build_catalog
from nnplayground.engine.choices import ACTIVATIONS, DATASETS, INITIALIZERS, OPTIMIZERS, SCHEDULES, relevant
from nnplayground.engine.config import (
    DatasetConfig,
    InitConfig,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    ScheduleConfig,
)
from nnplayground.engine.optimizers import build_optimizer
from pydantic import ValidationError

SECTIONS = [
    (OPTIMIZERS, OptimizerConfig),
    (SCHEDULES, ScheduleConfig),
    (INITIALIZERS, InitConfig),
    (ACTIVATIONS, ModelConfig),
    (DATASETS, DatasetConfig),
]


@pytest.mark.parametrize(("registry", "model"), SECTIONS)
def test_declared_fields_exist_and_names_validate(registry, model):
    for name, choice in registry.items():
        assert set(choice.fields) <= set(model.model_fields), name
    key = "activation" if model is ModelConfig else "scheme" if model is InitConfig else "name"
    with pytest.raises(ValidationError):
        model(**{key: "no-such-choice"})


def test_the_optimizer_factory_passes_the_declared_fields():
    """Changing a field an optimizer declares changes its constructor arguments (and only those)."""
    base = OptimizerConfig()
    changed = {"momentum": 0.5, "betas": (0.5, 0.9), "rho": 0.5, "eps": 1e-3}
    for name, choice in OPTIMIZERS.items():
        before = choice.kwargs(base.model_copy(update={"name": name}))
        for field, value in changed.items():
            after = choice.kwargs(base.model_copy(update={"name": name, field: value}))
            assert (after != before) == (field in choice.fields), (name, field)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_builds_and_steps(name):
    import torch

    w = torch.nn.Parameter(torch.ones(3))
    opt = build_optimizer(OptimizerConfig(name=name, lr=0.1, weight_decay=0.1), [{"params": [w], "decay": True}])
    assert isinstance(opt, OPTIMIZERS[name].cls)
    assert opt.param_groups[0].get("weight_decay", 0.0) == (0.1 if OPTIMIZERS[name].decoupled_decay else 0.0)
    (w**2).sum().backward()
    opt.step()
    assert (w.detach() < 1).all()


# The browser's relevance rules before they moved into the schema (frontend/src/controls.js, RELEVANT):
# the relevant_when conditions must say the same for every combination of the choice fields.
OLD = {
    "dataset.noise": lambda c: c["dataset"]["name"] not in ("wine", "digits", "custom"),
    "dataset.n_samples": lambda c: c["dataset"]["name"] not in ("digits", "custom"),
    "dataset.classes": lambda c: c["dataset"]["name"] == "digits",
    "dataset.per_class": lambda c: c["dataset"]["name"] != "sine",
    "augmentation.rotation_deg": lambda c: c["dataset"]["name"] == "digits",
    "model.arch": lambda c: c["dataset"]["name"] == "digits",
    "model.conv_channels": lambda c: c["dataset"]["name"] == "digits" and c["model"]["arch"] != "mlp",
    "model.leaky_slope": lambda c: (
        c["model"]["activation"] == "leaky_relu" or "leaky_relu" in (c["model"]["activations"] or [])
    ),
    "model.bn_alpha": lambda c: c["model"]["batch_norm"],
    "init.std": lambda c: c["init"]["scheme"] in ("normal", "constant"),
    "init.xavier_mode": lambda c: c["init"]["scheme"] == "xavier",
    "optimizer.momentum": lambda c: c["optimizer"]["name"] in ("momentum", "nesterov"),
    "optimizer.betas": lambda c: c["optimizer"]["name"] in ("adam", "adamw"),
    "optimizer.rho": lambda c: c["optimizer"]["name"] == "rmsprop",
    "optimizer.eps": lambda c: c["optimizer"]["name"] in ("adagrad", "rmsprop", "adam", "adamw"),
    "optimizer.decay_biases": lambda c: c["optimizer"]["weight_decay"] > 0,
    "schedule.step_size": lambda c: c["schedule"]["name"] == "step",
    "schedule.gamma": lambda c: c["schedule"]["name"] in ("step", "exponential"),
    "schedule.factor": lambda c: c["schedule"]["name"] == "plateau",
    "schedule.patience": lambda c: c["schedule"]["name"] == "plateau",
    "schedule.min_lr": lambda c: c["schedule"]["name"] in ("plateau", "cosine"),
    "early_stopping.patience": lambda c: c["early_stopping"]["enabled"],
    "transfer.k": lambda c: bool(c["transfer"]) and c["transfer"]["strategy"] == "finetune_last_k",
    "transfer.feature_lr_scale": lambda c: (
        bool(c["transfer"]) and c["transfer"]["strategy"] in ("finetune_all", "finetune_last_k")
    ),
}
ORIGINAL_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def test_relevance_is_what_the_browser_had():
    sections = build_catalog()["sections"]
    when = {p: sections[p.split(".")[0]]["fields"][p.split(".")[1]].get("relevant_when") for p in OLD}
    combos = itertools.product(
        ["circle", "sine", "wine", "digits"],
        ORIGINAL_OPTIMIZERS,
        list(SCHEDULES),
        list(INITIALIZERS),
        [("relu", None, False, "auto", 0.0, False, None), ("tanh", ["leaky_relu"], True, "mlp", 0.1, True, "x")],
    )
    for dataset, opt, sched, init, (act, acts, bn, arch, wd, es, tf) in combos:
        cfg = {
            "dataset": {"name": dataset},
            "model": {"activation": act, "activations": acts, "batch_norm": bn, "arch": arch},
            "optimizer": {"name": opt, "weight_decay": wd},
            "schedule": {"name": sched},
            "init": {"scheme": init},
            "early_stopping": {"enabled": es},
            "transfer": {"strategy": "finetune_last_k"} if tf else None,
        }
        for path, old in OLD.items():
            assert relevant(when[path], cfg) == old(cfg), (path, cfg)


def test_model_size_estimate_uses_each_data_sets_shape():
    """count_params (service) builds the model for the shape and classes the registry declares: the
    same count as the engine's model on the loaded data."""
    from nnplayground.engine import Trainer, models
    from nnplayground.service.manager import count_params

    for name in ("circle", "sine", "wine", "digits"):
        cfg = RunConfig.model_validate({"dataset": {"name": name, "n_samples": 60}, "training": {"device": "cpu"}})
        assert count_params(cfg) == models.count_params(Trainer(cfg).model), name
