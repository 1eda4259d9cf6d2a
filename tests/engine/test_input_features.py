"""TensorFlow Playground's input features (preprocessing.features), L1 regularization (optimizer.l1)
and the regression sets over the plane (plane, multi_gauss, custom with dataset.task = regression)."""

from __future__ import annotations

import pytest
import torch
from nnplayground.engine import RunConfig
from nnplayground.engine.config import ConfigError, error_location
from nnplayground.engine.datasets import _multi_gauss, _plane
from pydantic import ValidationError

from .helpers import cfg, run

QUIET = {"enabled": False, "histogram_every": 0, "surface_every": 0}


def circle(features, **extra) -> dict:
    return {
        "dataset": {"name": "circle", "seed": 1, "noise": 0.0},
        "preprocessing": {"features": features},
        "model": {"hidden": []},
        "optimizer": {"lr": 0.1},
        "training": {"epochs": 20, "seed": 1},
        "telemetry": QUIET,
        **extra,
    }


def test_circle_with_squares_and_no_hidden_layer_separates_perfectly():
    """The classic demonstration: x1^2 + x2^2 makes the circle linearly separable; x1, x2 alone do not."""
    t, _ = run(RunConfig.model_validate(circle(["x1_squared", "x2_squared"])))
    assert t.summary()["final_val_acc"] == 1.0
    assert t.model.out.in_features == 2 and not t.model.blocks  # a logistic regression on the two squares
    # predictions take raw coordinates: the centre is inside (class 1), (4.5, 0) outside
    p = t.predict([[0.0, 0.0], [4.5, 0.0]])["mean"]
    assert p[0][1] > 0.99 and p[1][1] < 0.01
    linear, _ = run(RunConfig.model_validate(circle(["x1", "x2"])))
    assert linear.summary()["final_val_acc"] == pytest.approx(0.54, abs=0.005)


def test_the_decision_surface_is_over_x1_x2_through_the_features():
    c = circle(["x1_squared", "x2_squared", "x1_times_x2"])
    c["telemetry"] = {"surface_every": 20, "surface_resolution": 9}
    t, events = run(RunConfig.model_validate(c))
    surface = [e for e in events if e["type"] == "surface"][-1]
    assert surface["kind"] == "decision" and len(surface["values"]) == 81
    (x_lo, x_hi), (y_lo, y_hi) = surface["bounds"]
    assert x_lo < -4 and x_hi > 4 and y_lo < -4 and y_hi > 4  # the raw plane, not the squares' range
    assert surface["values"][40] > 0.99  # the middle cell: the origin, inside the circle
    assert surface["values"][0] < 0.01  # a corner, outside
    # the model's inputs are the standardized features of the raw points, in the order named
    raw = t.data.raw_val[:5].double()
    f = torch.stack([raw[:, 0] ** 2, raw[:, 1] ** 2, raw[:, 0] * raw[:, 1]], 1)
    expected = ((f - t.data.shift) / t.data.scale).float()
    assert torch.equal(t.data.x_val[:5], expected)
    assert t.data.raw_width == 2 and t.data.input_shape == (3,)


def test_features_are_validated_naming_the_field():
    with pytest.raises(ValidationError) as e:
        RunConfig.model_validate({"preprocessing": {"features": []}})
    assert error_location(e.value.errors()[0])[0] == ("preprocessing", "features")
    with pytest.raises(ValidationError) as e:
        RunConfig.model_validate({"preprocessing": {"features": ["x1", "x1"]}})
    assert error_location(e.value.errors()[0])[0] == ("preprocessing", "features")
    for name in ("wine", "digits", "sine"):
        with pytest.raises(ValidationError) as e:
            RunConfig.model_validate({"dataset": {"name": name}, "preprocessing": {"features": ["x1_squared"]}})
        err = e.value.errors()[0]
        assert isinstance(err["ctx"]["error"], ConfigError)
        assert error_location(err)[0] == ("preprocessing", "features"), name
    # two custom columns are points of the plane too; the default features fit every data set
    rows = [[i * 0.1, (i % 5) * 0.2, i % 2] for i in range(20)]
    RunConfig.model_validate({"dataset": {"name": "custom", "points": rows}, "preprocessing": {"features": ["sin_x1"]}})
    RunConfig.model_validate({"dataset": {"name": "wine"}})


def test_l1_drives_weights_to_zero_where_l2_does_not():
    """Comparable regularization (similar validation accuracy, penalty of the same order): L1's constant
    pull lambda1*sign(w) leaves a third to a half of the weights near zero (|w| < 0.01); L2's pull
    lambda*w fades as w shrinks and leaves almost none there."""
    base = {
        "dataset": {"name": "spiral", "seed": 1},
        "model": {"hidden": [8, 8]},
        "optimizer": {"lr": 0.03},
        "training": {"epochs": 40, "seed": 1},
        "telemetry": QUIET,
    }
    l1, _ = run(cfg(**{**base, "optimizer": {"lr": 0.03, "l1": 0.01}}))
    l2, _ = run(cfg(**{**base, "optimizer": {"lr": 0.03, "weight_decay": 0.03}}))
    a, b = l1.history[-1], l2.history[-1]
    assert a["zero_fraction"] == {"fc1": 0.3125, "fc2": 0.5, "out": 0.5}
    assert b["zero_fraction"] == {"fc1": 0.0, "fc2": 0.0, "out": 0.0625}
    assert a["val_acc"] == pytest.approx(b["val_acc"], abs=0.02)
    assert a["penalty"] == pytest.approx(0.1986, abs=1e-3) and b["penalty"] == pytest.approx(0.0869, abs=1e-3)
    # epoch 0 (He initialization): few weights near zero either way
    assert max(l1.history[0]["zero_fraction"].values()) < 0.1


def test_the_penalty_is_split_into_its_l1_and_l2_parts():
    t, _ = run(
        cfg(
            dataset={"name": "gauss", "seed": 2},
            model={"hidden": [4]},
            optimizer={"name": "adamw", "l1": 0.02, "weight_decay": 0.1, "decay_biases": True},
            training={"epochs": 3, "seed": 2},
            telemetry=QUIET,
        )
    )
    r = t.history[-1]
    params = list(t.model.parameters())  # decay_biases: every parameter is penalized
    assert r["penalty_l1"] == pytest.approx(0.02 * sum(p.abs().sum().item() for p in params), rel=1e-5)
    assert r["penalty_l2"] == pytest.approx(0.05 * sum(p.square().sum().item() for p in params), rel=1e-5)
    assert r["penalty"] == pytest.approx(r["penalty_l1"] + r["penalty_l2"], rel=1e-6)


def test_l1_is_in_the_loss_for_adamw_too():
    """AdamW's decay is inside its step; L1 is a loss term with every optimizer, so it changes the run."""
    runs = [
        run(cfg(optimizer={"name": "adamw", "weight_decay": 0.1, "l1": l1}, training={"epochs": 2}, telemetry=QUIET))[0]
        for l1 in (0.0, 0.05)
    ]
    assert runs[0].history[-1]["train_loss"] != runs[1].history[-1]["train_loss"]
    assert runs[0].history[-1]["penalty_l1"] == 0.0 and runs[1].history[-1]["penalty_l1"] > 0


def test_regression_sets_follow_tensorflow_playgrounds_targets():
    rng = __import__("numpy").random.default_rng(0)
    x, y = _plane(400, 0.0, rng)
    assert y == pytest.approx((x[:, 0] + x[:, 1]) / 10)
    x, y = _multi_gauss(2000, 0.0, rng)
    assert y.max() <= 1 and y.min() >= -1
    for cx, cy, sign in [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]:
        near = ((x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2) < 0.5**2
        assert near.any() and (y[near] * sign > 0.74).all()  # within 0.5 of a bump: 1 - d/2 > 0.75
    far = (abs(x[:, 1]) > 5.5) & (abs(abs(x[:, 0]) - 2) < 0.2)  # more than 2 from every bump
    assert far.any() and (y[far] == 0).all()


@pytest.mark.parametrize(("name", "r2"), [("plane", 0.9707), ("multi_gauss", 0.325)])
def test_regression_on_the_plane_trains_with_squared_error(name, r2):
    t, events = run(
        cfg(
            dataset={"name": name, "seed": 1},
            model={"hidden": [8, 8], "activation": "tanh"},
            training={"epochs": 30, "seed": 1},
            telemetry={"surface_every": 30, "surface_resolution": 16},
        )
    )
    assert t.regression and t.data.n_classes == 1
    assert t.summary()["final_val_r2"] == pytest.approx(r2, abs=2e-3)
    assert t.history[-1]["val_acc"] is None
    surface = [e for e in events if e["type"] == "surface"][-1]
    assert surface["kind"] == "regression2d" and len(surface["values"]) == 16 * 16
    assert surface["bounds"][0][0] < -6 and surface["bounds"][0][1] > 6
    # the surface is the predicted value: the model's own prediction at the grid's first cell
    lo = [b[0] for b in surface["bounds"]]
    assert surface["values"][0] == pytest.approx(t.predict([lo])["mean"][0], abs=2e-3)
    assert "network" in surface


def test_custom_points_may_declare_a_regression_task():
    rows = [[i / 10, ((i * 7) % 11) / 5, 0.3 * i / 10 - 0.2 * ((i * 7) % 11) / 5 + 0.5] for i in range(60)]
    t, _ = run(
        cfg(
            dataset={"name": "custom", "task": "regression", "points": rows},
            model={"hidden": []},
            optimizer={"lr": 0.05},
            training={"epochs": 40},
            telemetry=QUIET,
        )
    )
    assert t.regression and t.y_train.dtype == torch.float32
    assert t.summary()["final_val_r2"] > 0.999  # a linear target, fitted by a linear model
    with pytest.raises(ValidationError):
        RunConfig.model_validate({"dataset": {"name": "spiral", "task": "regression"}})


def test_the_features_control_is_shown_only_for_data_on_the_plane():
    """The catalog's relevance rule for `preprocessing.features`: every 2-D set and custom points (which
    may have two columns), never the tabular, image or 1-D sets where any other list is a 422."""
    from nnplayground.engine.config import RunConfig

    schema = RunConfig.model_json_schema()["$defs"]["PreprocessingConfig"]["properties"]["features"]
    shown = set(schema["relevant_when"]["dataset.name"])
    assert {"circle", "xor", "gauss", "spiral", "moons", "plane", "multi_gauss", "custom"} <= shown
    assert not shown & {"wine", "digits", "sine"}
