import pytest
from nnplayground.engine import RunConfig
from nnplayground.engine.config import merge
from pydantic import ValidationError


def _error_locs(override):
    with pytest.raises(ValidationError) as exc:
        RunConfig.model_validate(merge(RunConfig().model_dump(mode="json"), override))
    return [".".join(map(str, e["loc"])) for e in exc.value.errors()], str(exc.value)


@pytest.mark.parametrize(
    "override,field",
    [
        ({"optimizer": {"lr": -0.1}}, "optimizer.lr"),
        ({"training": {"epochs": 0}}, "training.epochs"),
        ({"training": {"epochs": 5001}}, "training.epochs"),
        ({"model": {"activation": "swish"}}, "model.activation"),
        ({"model": {"hidden": [8, 300]}}, "model.hidden.1"),
        ({"model": {"hidden": [0]}}, "model.hidden.0"),
        ({"model": {"hidden": [4] * 9}}, "model.hidden"),
        ({"model": {"dropout": 1.0}}, "model.dropout"),
        ({"dataset": {"name": "mnist"}}, "dataset.name"),
        ({"dataset": {"val_fraction": 0.0}}, "dataset.val_fraction"),
        ({"optimizer": {"name": "lbfgs"}}, "optimizer.name"),
        ({"optimizer": {"learning_rate": 0.1}}, "optimizer.learning_rate"),  # typo: unknown key
        ({"init": {"scheme": "orthogonal"}}, "init.scheme"),
        ({"schedule": {"name": "step", "gamma": 0}}, "schedule.gamma"),
        ({"early_stopping": {"patience": -1}}, "early_stopping.patience"),
        ({"model": {"bn_alpha": 1.0}}, "model.bn_alpha"),
    ],
)
def test_bad_values_name_their_field(override, field):
    locs, _ = _error_locs(override)
    assert field in locs


def test_cross_field_errors_name_the_field():
    _, msg = _error_locs({"model": {"hidden": [4, 4], "activations": ["relu"]}})
    assert "activations" in msg
    _, msg = _error_locs({"model": {"batch_norm": True}, "training": {"batch_size": 1}})
    assert "training.batch_size" in msg
    _, msg = _error_locs({"dataset": {"name": "custom"}})
    assert "points" in msg
    _, msg = _error_locs({"dataset": {"name": "custom", "points": [[0, 0, 0], [1, 1, 0], [2, 2, 1]]}})
    assert "at least 2 samples" in msg
    _, msg = _error_locs({"dataset": {"name": "custom", "points": [[0, 0, 0], [1, 0], [2, 2, 1]]}})
    assert "row 1" in msg


def test_defaults_validate_and_roundtrip_the_public_names():
    c = RunConfig()
    d = c.model_dump(mode="json")
    for section, keys in {
        "dataset": ["name", "n_samples", "noise", "val_fraction", "seed", "classes", "per_class"],
        "preprocessing": ["standardize"],
        "augmentation": ["noise_std", "rotation_deg", "scale", "shift"],
        "model": ["hidden", "activation", "leaky_slope", "batch_norm", "bn_alpha", "dropout"],
        "init": ["scheme", "std", "xavier_mode"],
        "optimizer": ["name", "lr", "momentum", "betas", "weight_decay"],
        "schedule": ["name", "step_size", "gamma", "factor", "patience"],
        "training": ["epochs", "batch_size", "seed", "device"],
        "early_stopping": ["enabled", "patience", "min_delta", "restore_best"],
        "telemetry": ["histogram_every", "bins", "surface_every", "surface_resolution"],
    }.items():
        assert set(keys) <= set(d[section]), section
    assert d["transfer"] is None
    assert RunConfig.model_validate(d) == c
    assert d["model"]["bn_alpha"] == 0.9 and d["optimizer"]["momentum"] == 0.9


def test_partial_config_fills_defaults():
    c = RunConfig.model_validate({"model": {"hidden": [3]}})
    assert c.model.hidden == [3] and c.model.activation == "relu" and c.dataset.name == "spiral"


def test_auto_device_takes_a_gpu_only_for_heavy_work(monkeypatch):
    import torch
    from nnplayground.engine.trainer import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto", heavy=False).type == "cpu"  # a tiny MLP: launches would dominate
    assert resolve_device("auto", heavy=True).type == "cuda"
    assert resolve_device("cpu", heavy=True).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", heavy=True).type == "cpu"
    with pytest.raises(ValueError, match="training.device"):
        resolve_device("cuda")
