"""The kind-level test of issue 9: over the whole run configuration, every valid configuration ends in a
documented state with finite, strictly-JSON telemetry.

Hypothesis draws configurations (every data set including custom points with constant or huge columns,
every activation, initializer, optimizer, schedule and regularizer, batch norm, dropout, augmentation,
early stopping, the built-in transfer source, values at their bounds, tiny splits, batch size 1), kept
small so that the default profile's examples run in CI within minutes. For each:

- it is refused at validation (pydantic) or by the pre-training check (ConfigError) with a message that
  names a field, or the Trainer runs it to `completed`, `early_stopped` or `diverged`, never an exception;
- every event survives a strict JSON round trip (`allow_nan=False`);
- where best weights are restored, the restored epoch is the reported best epoch and the model handed
  back (and `predict`) is that checkpoint's;
- standardized inputs are finite.

Profiles (tests/conftest.py): the default is derandomized (the same examples on every run); `pytest
--hypothesis-profile=long tests/engine/test_properties.py` explores ten times more at random and saves
what fails in the committed database tests/.hypothesis-db, which every later long run replays first.
Each fault found is also a plain regression test (tests/engine/test_property_regressions.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import ConfigError, error_location
from pydantic import ValidationError

# pytest-timeout bounds the whole test, every example together: scale it with the loaded profile's
# examples (2 s each, ten times the mean on 2 busy cores), so `long` is not cut short by the default 300 s.
pytestmark = pytest.mark.timeout(2 * settings.default.max_examples)

TERMINAL_OK = ("completed", "early_stopped", "diverged")
TINIEST = 5e-324  # the smallest positive float: the lower bound of every `gt=0` field

DATASETS = ["circle", "xor", "gauss", "spiral", "moons", "sine", "wine", "digits", "custom"]
ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]


def unit(lo_values, hi=1.0, lo=0.0):
    """Bounds and typical values first, then anything in [lo, hi]."""
    return st.one_of(st.sampled_from(lo_values), st.floats(lo, hi, allow_nan=False))


@st.composite
def custom_points(draw):
    n_classes = draw(st.integers(2, 3))
    per_class = draw(st.lists(st.integers(2, 8), min_size=n_classes, max_size=n_classes))
    labels = draw(st.lists(st.integers(0, 9), min_size=n_classes, max_size=n_classes, unique=True))
    n_features = draw(st.integers(1, 3))
    kinds = draw(
        st.lists(
            st.sampled_from(["separable", "normal", "constant", "huge", "huge_constant", "tiny_spread"]),
            min_size=n_features,
            max_size=n_features,
        )
    )
    seed = draw(st.integers(0, 3))
    g = torch.Generator().manual_seed(seed)
    rows = []
    for c, (count, label) in enumerate(zip(per_class, labels, strict=True)):
        for _ in range(count):
            row = []
            for kind in kinds:
                r = float(torch.randn(1, generator=g))
                row.append(
                    {
                        "separable": c * 3.0 + r * 0.3,
                        "normal": r,
                        "constant": 14.62,
                        "huge": r * 1e30 + c * 1e30,
                        "huge_constant": 1e30,
                        "tiny_spread": 5e3 + r * 1e-3,
                    }[kind]
                )
            rows.append([*row, label])
    return rows


@st.composite
def run_configs(draw) -> dict:
    name = draw(st.sampled_from(DATASETS))
    dataset = {
        "name": name,
        "n_samples": draw(st.integers(10, 60)),
        "noise": draw(unit([0.0, 1.0])),
        "val_fraction": draw(unit([0.9, 0.5, 0.05, 0.01], hi=0.9, lo=0.001)),
        "seed": draw(st.integers(0, 3)),
    }
    if name == "digits":
        dataset["classes"] = draw(st.none() | st.lists(st.integers(0, 9), min_size=2, max_size=4, unique=True))
        dataset["per_class"] = draw(st.integers(1, 6))  # keeps the CNN's training split small
    if name == "custom":
        dataset["points"] = draw(custom_points())
    hidden = draw(st.lists(st.integers(1, 12), min_size=0, max_size=3))
    model = {
        "arch": draw(st.sampled_from(["auto", "auto", "auto", "mlp", "cnn"])),
        "hidden": hidden,
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "leaky_slope": draw(unit([0.0, 1.0])),
        "batch_norm": draw(st.booleans()),
        "bn_alpha": draw(st.sampled_from([0.0, 0.9, 0.999999])),
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.5, 0.999999])),
        "conv_channels": draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)),
    }
    if draw(st.booleans()):
        n = len(hidden)
        model["activations"] = draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=n, max_size=n))
        model["dropouts"] = draw(st.lists(st.sampled_from([0.0, 0.3, 0.9]), min_size=n, max_size=n))
    optimizer = {
        "name": draw(st.sampled_from(["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])),
        "lr": draw(st.one_of(st.sampled_from([TINIEST, 1e-6, 0.03, 1.0, 10.0]), st.floats(1e-4, 10.0))),
        "momentum": draw(st.sampled_from([0.0, 0.9, 0.999999])),
        "betas": draw(st.sampled_from([(0.9, 0.999), (0.0, 0.0), (0.999999, 0.999999)])),
        "rho": draw(st.sampled_from([0.0, 0.9, 0.999999])),
        "eps": draw(st.sampled_from([TINIEST, 1e-8, 1.0])),
        "weight_decay": draw(st.sampled_from([0.0, 0.0, 1e-3, 1.0])),
        "decay_biases": draw(st.booleans()),
    }
    schedule = {
        "name": draw(st.sampled_from(["constant", "step", "exponential", "plateau", "cosine"])),
        "step_size": draw(st.integers(1, 3)),
        "gamma": draw(st.sampled_from([TINIEST, 0.5, 1.0])),
        "factor": draw(st.sampled_from([TINIEST, 0.5, 0.999999])),
        "patience": draw(st.integers(0, 2)),
        "min_lr": draw(st.sampled_from([0.0, 1e-3, 1.0])),
    }
    config = {
        "dataset": dataset,
        "preprocessing": {"standardize": draw(st.booleans())},
        "augmentation": {
            "noise_std": draw(st.sampled_from([0.0, 0.0, 0.5, 2.0])),
            "rotation_deg": draw(st.sampled_from([0.0, 45.0])),
            "scale": draw(st.sampled_from([0.0, 0.5])),
            "shift": draw(st.sampled_from([0.0, 0.5])),
        },
        "model": model,
        "init": {
            "scheme": draw(st.sampled_from(["zeros", "constant", "normal", "xavier", "he", "pytorch_default"])),
            "std": draw(st.sampled_from([0.0, 0.01, 1.0, 10.0])),
            "xavier_mode": draw(st.sampled_from(["fan_in", "fan_avg"])),
        },
        "optimizer": optimizer,
        "schedule": schedule,
        "training": {
            "epochs": draw(st.integers(1, 4)),
            "batch_size": draw(st.one_of(st.sampled_from([1, 2, 20000]), st.integers(1, 32))),
            "seed": draw(st.integers(0, 2)),
            "device": "cpu",
        },
        "early_stopping": {
            "enabled": draw(st.booleans()),
            "monitor": draw(st.sampled_from(["val_loss", "val_acc"])),
            "patience": draw(st.integers(0, 3)),
            "min_delta": draw(st.sampled_from([0.0, 0.0, 0.01, 10.0])),
            "restore_best": draw(st.booleans()),
        },
        "telemetry": {
            "enabled": draw(st.booleans()),
            "histogram_every": draw(st.integers(0, 2)),
            "bins": draw(st.integers(5, 8)),
            "surface_every": draw(st.integers(0, 2)),
            "surface_resolution": draw(st.integers(8, 10)),
            "mc_samples": draw(st.sampled_from([0, 0, 2, 3])),
            "grad_samples": draw(st.sampled_from([0, 1, 8])),
            "probe_size": draw(st.integers(16, 24)),
            "max_checkpoints": draw(st.integers(2, 5)),
        },
    }
    if name == "digits" and draw(st.integers(0, 2)) == 0:
        config["transfer"] = {
            "source": "builtin:digits-0-4",
            "strategy": draw(
                st.sampled_from(["scratch", "freeze_features", "finetune_all", "finetune_last_k", "continue"])
            ),
            "k": draw(st.integers(1, 12)),
            "feature_lr_scale": draw(st.sampled_from([TINIEST, 0.1, 1.0])),
        }
    return config


def non_finite_paths(value, path="") -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path}={value}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, f"{path}[{i}]")][:3]
    return []


def strict_roundtrip(event: dict) -> None:
    assert not non_finite_paths(event), (event["type"], non_finite_paths(event))
    text = json.dumps(event, allow_nan=False)
    assert json.dumps(json.loads(text), allow_nan=False) == text


def check_run(config: dict) -> str:
    """Run one configuration through validation and the engine and check every property; returns the
    outcome ('refused' or the terminal status) for statistics."""
    try:
        cfg = RunConfig.model_validate(config)
    except ValidationError as e:
        for err in e.errors():
            loc, message = error_location(err)
            assert loc and message, err  # a refusal names the field it is about
        return "refused"
    try:
        trainer = Trainer(cfg)
    except ConfigError as e:
        assert e.field and e.message
        return "refused"
    events = list(trainer)
    for ev in events:
        strict_roundtrip(ev)
    end = events[-1]
    assert end["type"] == "run_end" and end["status"] in TERMINAL_OK, end
    assert trainer.status == end["status"]

    data = trainer.data
    assert torch.isfinite(data.x_train).all() and torch.isfinite(data.x_val).all()
    if trainer.regression:  # R^2 only where the targets have a spread to compare with
        for side, y in (("train", data.y_train), ("val", data.y_val)):
            if len(y) < 2:
                assert all(h[f"{side}_r2"] is None for h in trainer.history), (side, trainer.history[0])

    restored = [ev for ev in events if ev["type"] == "marker" and ev["kind"] == "restore_best"]
    assert len(restored) == trainer.restored_best
    if restored:
        epoch = restored[0]["restored_epoch"]
        summary = end["summary"]
        assert summary["best_epoch"] == epoch, (summary, epoch)
        stopped = [ev for ev in events if ev["type"] == "marker" and ev["kind"] == "early_stop"]
        if stopped:
            assert stopped[0]["best_epoch"] == epoch
        record = trainer.history[epoch]
        assert summary["final_val_loss"] == record["val_loss"]
        kept = trainer.checkpoints.get(epoch)
        for k, v in trainer.model.state_dict().items():
            assert torch.equal(v.cpu(), kept[k]), k
        raw = data.raw_val[:4].reshape(min(4, len(data.raw_val)), -1)
        assert trainer.predict(raw) == trainer.predict(raw, epoch=epoch)
    return end["status"]


@given(run_configs())
def test_every_valid_configuration_ends_in_a_documented_state(config):
    outcome = check_run(config)
    # what the examples covered, in --hypothesis-show-statistics
    event(f"outcome: {outcome}")
    event(f"dataset: {config['dataset']['name']}")
    if "transfer" in config:
        event(f"transfer: {config['transfer']['strategy']} -> {outcome}")
