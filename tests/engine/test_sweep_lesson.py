"""The sweep lesson ("too small, right, too large" learning rates) trained as the page starts it, one
engine Sweep of the preset's `sweep` axes: every claim holds on seeds 101/202/303, read from the sweep's
own variants (the compare claims' variants are the sweep's other values)."""

from __future__ import annotations

import pytest
from nnplayground.engine import claims, presets
from nnplayground.engine.config import merge
from nnplayground.engine.sweep import Sweep, expand

NAME = "lr-too-small-right-too-large"
CHEAP = {"telemetry": {"surface_every": 0, "histogram_every": 0}}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 202, 303])
def test_the_learning_rate_sweep_shows_too_small_right_too_large(seed):
    spec = presets.PRESETS[NAME]["sweep"]
    base = merge(presets.config(NAME).model_dump(mode="json"), {**CHEAP, "training": {"seed": seed}})
    base = merge(base, {"dataset": {"seed": seed}})
    variants = expand(base, spec["vary"], spec["mode"])
    sweep = Sweep([cfg for _, cfg in variants])
    while not sweep.done:
        sweep.step()
    by_lr = {values["optimizer.lr"]: t for (values, _), t in zip(variants, sweep.trainers, strict=True)}
    assert sorted(by_lr) == [0.001, 0.1, 10.0]
    lesson = by_lr[presets.config(NAME).optimizer.lr]
    results = list(lesson.summary()["claims"])  # the lesson's run-scope claims, from its own summary
    for c in presets.claims(NAME):
        if c.scope == "compare":
            results.append(claims.evaluate_compare(c, lesson, by_lr[c.against["optimizer"]["lr"]]))
    assert [r["id"] for r in results] == ["right-rate-learns", "too-small-barely-moves", "too-large-overshoots"]
    failed = [(r["id"], r["measured"]) for r in results if not r["holds"]]
    assert not failed, failed
    # the picture itself: 0.001 hardly moved, 10 ended far above the start, 0.1 far below both
    losses = {lr: t.history[-1]["val_loss"] for lr, t in by_lr.items()}
    start = by_lr[0.1].history[0]["val_loss"]
    assert losses[0.1] < 0.3 * start < losses[0.001] and losses[10.0] > start
