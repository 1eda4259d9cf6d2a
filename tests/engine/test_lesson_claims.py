"""Every lesson's claims hold on seeds other than the preset's: the lesson run (and, for compare
claims, the variant run) is trained on 3 training/data seed pairs and every claim must hold.

Views the claims do not read (decision surfaces, histograms) are switched off to keep the runs
cheap; they do not change training (telemetry never changes the run, see test_telemetry)."""

from __future__ import annotations

import json
import math

import pytest
from nnplayground.engine import claims, landscape, presets
from nnplayground.engine.config import OptimizerConfig, RunConfig, merge
from nnplayground.engine.trainer import Trainer

SEEDS = (101, 202, 303)
CHEAP = {"telemetry": {"surface_every": 0, "histogram_every": 0}}


def _train(name: str, seed: int, override: dict | None = None) -> Trainer:
    cfg = merge(presets.config(name).model_dump(mode="json"), override or {})
    cfg = merge(cfg, {**CHEAP, "training": {"seed": seed}, "dataset": {"seed": seed}})
    t = Trainer(RunConfig.model_validate(cfg))
    for _ in t:
        pass
    return t


def _variant(name: str, against) -> dict:
    return presets.PRESETS[name]["try"]["config"] if against == "try" else against


def measure_lesson(name: str, seed: int) -> list[dict]:
    """Every claim of the lesson on one seed: run-scope ones from the run's own summary."""
    lesson = _train(name, seed)
    results = list(lesson.summary()["claims"])
    variants: dict[str, Trainer] = {}
    for c in presets.claims(name):
        if c.scope != "compare":
            continue
        key = json.dumps(_variant(name, c.against), sort_keys=True)
        if key not in variants:
            variants[key] = _train(name, seed, _variant(name, c.against))
        results.append(claims.evaluate_compare(c, lesson, variants[key]))
    return results


def test_every_lesson_has_claims_of_both_kinds_where_it_compares():
    for name in presets.names():
        cs = presets.claims(name)
        assert cs, f"{name} has no claims"
        for c in cs:
            assert c.quantity in claims.QUANTITIES and c.op in claims.OPS, (name, c.id)


@pytest.mark.slow
@pytest.mark.parametrize("name", presets.names())
def test_lesson_claims_hold_on_other_seeds(name):
    failures = []
    for seed in SEEDS:
        for r in measure_lesson(name, seed):
            if not r["holds"]:
                failures.append(f"seed {seed} {r['id']}: measured {r['measured']} vs {r['threshold']}: {r['en']}")
    assert not failures, "\n".join(failures)


def _path_length(path):
    return sum(math.dist(a, b) for a, b in zip(path, path[1:], strict=False))


def test_optimizer_lab_quadratic_defaults_show_momentum_damping_the_zigzag():
    # the lab's defaults for the quadratic (frontend/src/lab.js): the course's picture, a sinuous path
    # without momentum and a direct one with it, momentum ending closer to the minimum
    lr = 0.078
    req = landscape.LandscapeRequest(
        function="quadratic",
        start=(-2.5, 2.0),
        steps=60,
        optimizers=[OptimizerConfig(name="sgd", lr=lr), OptimizerConfig(name="momentum", lr=lr, momentum=0.9)],
    )
    (sgd, mom), (f_sgd, f_mom) = (r := landscape.solve(req))["paths"], r["final_values"]
    assert len(sgd) == len(mom) == 61  # neither diverged
    assert _path_length(sgd) >= 5 * _path_length(mom)
    assert f_mom < 0.5 * f_sgd


if __name__ == "__main__":  # the figures of the report: python tests/engine/test_lesson_claims.py [names]
    import sys

    for name in sys.argv[1:] or presets.names():
        for seed in SEEDS:
            for r in measure_lesson(name, seed):
                mark = "OK " if r["holds"] else "NO "
                print(f"{name:22s} {seed} {mark}{r['id']:32s} {r['measured']!s:>24.24} | {r['en']}", flush=True)
