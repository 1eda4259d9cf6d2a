"""The exported script (`export?format=python`) trains as the engine does: for every registered
optimizer, schedule and initializer, the script run in a subprocess prints the engine's per-epoch
losses. Both sides use the same seeds, data, float32 on the CPU and one thread, so they compute the
same operations; the script prints 4 decimals, so a loss may differ by the print's rounding (5e-5)
and, where the engine groups parameters differently (one param group per treatment instead of one
per tensor), by float32 summation-order noise (~1e-6 after a few epochs). 2e-4 leaves room for both
and still catches any real difference: a wrong constructor argument or penalty moves the losses by
1e-3 or more within these epochs (checked by test_a_wrong_argument_is_caught)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.choices import INITIALIZERS, OPTIMIZERS, SCHEDULES
from nnplayground.engine.config import merge
from nnplayground.service import scriptgen

TOL = 2e-4
EPOCH_LINE = re.compile(r"^epoch +(\d+)  train loss ([-\d.naif]+)  val loss ([-\d.naif]+)", re.M)


def tiny(**sections) -> dict:
    base = {
        "dataset": {"name": "spiral", "n_samples": 80, "seed": 3},
        "model": {"hidden": [6, 6]},
        "optimizer": {"lr": 0.05, "weight_decay": 0.01},
        "schedule": {"step_size": 1, "patience": 1},
        "training": {"epochs": 4, "batch_size": 16, "seed": 5, "device": "cpu"},
        "telemetry": {"enabled": False, "histogram_every": 0, "surface_every": 0},
    }
    return RunConfig.model_validate(merge(base, sections)).model_dump(mode="json")


def engine_losses(cfg: dict) -> list[tuple[float, float]]:
    events = list(Trainer(RunConfig.model_validate(cfg)))
    return [(e["train_loss"], e["val_loss"]) for e in events if e["type"] == "epoch" and e["epoch"] > 0]


def script_losses(cfg: dict, tmp_path) -> list[tuple[float, float]]:
    path = tmp_path / "run.py"
    path.write_text(scriptgen.script("t", cfg))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the script needs no nnplayground
    env["OMP_NUM_THREADS"] = "1"
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    return [(float(a), float(b)) for _, a, b in EPOCH_LINE.findall(out.stdout)]


def assert_same(cfg: dict, tmp_path):
    ours, theirs = engine_losses(cfg), script_losses(cfg, tmp_path)
    assert len(ours) == len(theirs) == cfg["training"]["epochs"]
    for epoch, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        assert a == pytest.approx(b, abs=TOL), (epoch, ours, theirs)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer(name, tmp_path):
    assert_same(tiny(optimizer={"name": name}), tmp_path)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule(name, tmp_path):
    assert_same(tiny(optimizer={"name": "adam", "lr": 0.02}, schedule={"name": name}), tmp_path)


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_every_initializer(name, tmp_path):
    assert_same(tiny(init={"scheme": name, "std": 0.3}), tmp_path)


def test_decoupled_decay_and_biases(tmp_path):
    """AdamW's decay inside the step, on biases too; the penalty elsewhere, on biases too."""
    assert_same(tiny(optimizer={"name": "adamw", "weight_decay": 0.2, "decay_biases": True}), tmp_path)
    assert_same(tiny(optimizer={"name": "sgd", "weight_decay": 0.2, "decay_biases": True}), tmp_path)


def test_a_wrong_argument_is_caught(tmp_path, monkeypatch):
    """The tolerance is tight enough: a script built with another weight decay does not pass."""
    cfg = tiny(optimizer={"name": "sgd", "weight_decay": 0.05})
    ours = engine_losses(cfg)
    other = tiny(optimizer={"name": "sgd", "weight_decay": 0.06})
    theirs = script_losses(other, tmp_path)
    assert max(abs(a[0] - b[0]) for a, b in zip(ours, theirs, strict=True)) > TOL
