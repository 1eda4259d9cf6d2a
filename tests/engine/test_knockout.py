"""Unit knock-out: a hidden unit switched off (its output zeroed) in predictions and validation metrics,
and the dropout-knockout lesson's claim measured on three seeds."""

from __future__ import annotations

import pytest
import torch
from nnplayground.engine import claims, models

from .helpers import cfg, run
from .test_lesson_claims import SEEDS, measure_lesson

QUIET = {"enabled": False, "histogram_every": 0, "surface_every": 0}


def test_a_knocked_out_unit_outputs_zero_and_changes_the_prediction_by_its_weight():
    t, _ = run(cfg(dataset={"name": "gauss"}, model={"hidden": [4]}, training={"epochs": 3}, telemetry=QUIET))
    x = t.x_val[:5]
    acts = {}
    # what the output layer receives: fc1's output after every hook on fc1 (the knock-out's included)
    h = t.model.out.register_forward_pre_hook(lambda m, i: acts.__setitem__("fc1", i[0]))
    t.model.eval()
    with torch.no_grad():
        full = t.model(x)
        with models.knocked_out(t.model, [("fc1", 2)]):
            out = t.model(x)
            assert (acts["fc1"][:, 2] == 0).all() and (acts["fc1"][:, [0, 1, 3]] != 0).any()
        # the logits lose exactly unit 2's contribution a_2 * W_out[:, 2]
        t.model(x)
    h.remove()
    expected = full - acts["fc1"][:, 2:3] * t.model.out.weight[:, 2]
    assert torch.allclose(out, expected, atol=1e-6)
    # the hook is gone after the block: the model is intact
    assert torch.equal(t.model(x), full)


def test_validation_with_every_unit_of_a_layer_knocked_out_is_a_constant_model():
    t, _ = run(cfg(dataset={"name": "circle"}, model={"hidden": [3]}, training={"epochs": 5}, telemetry=QUIET))
    intact = t.validation()
    off = t.validation([("fc1", 0), ("fc1", 1), ("fc1", 2)])
    bias = t.model.out.bias.detach()
    expected = torch.nn.functional.cross_entropy(bias.expand(len(t.y_val), 2), t.y_val).item()
    assert off["val_loss"] == pytest.approx(expected, rel=1e-5)
    assert off["val_acc"] in (0.5, pytest.approx((t.y_val == bias.argmax()).float().mean().item()))
    assert intact["val_acc"] > off["val_acc"]


def test_knockout_errors_name_the_field():
    t, _ = run(cfg(model={"hidden": [4, 3]}, training={"epochs": 1}, telemetry=QUIET))
    bad = [{"layer": "fc1", "unit": 1}, {"layer": "out", "unit": 0}, {"layer": "fc2", "unit": 3}]
    errors = models.knockout_errors(t.model, bad)
    assert [e["field"] for e in errors] == ["knockout.1.layer", "knockout.2.unit"]
    assert "0 to 2" in errors[1]["message"]


def test_knockout_drop_finds_the_most_important_unit():
    t, _ = run(
        cfg(
            dataset={"name": "circle", "n_samples": 400, "seed": 101},
            model={"hidden": [8, 8]},
            optimizer={"name": "adam", "lr": 0.01},
            training={"epochs": 60, "batch_size": 16, "seed": 101},
            telemetry=QUIET,
        )
    )
    value, details = claims.q_knockout_drop(t)
    acc = t.validation([(details["layer"], details["unit"])])["val_acc"]
    assert value == pytest.approx(details["intact"] - acc)
    assert value == pytest.approx(0.16, abs=1e-6)  # measured: without dropout, one unit carries 16 points


def test_dropout_knockout_claim_holds_on_three_seeds():
    for seed in SEEDS:
        (r,) = measure_lesson("dropout-knockout", seed)
        assert r["holds"], (seed, r)
