"""A run that diverges has NaN/inf in its weights, activations and gradients: every telemetry
computation must survive that and report null (never NaN/inf, which JSON cannot hold), and the run
must end as `diverged` with a hint that names the cause the run's own numbers show."""

import json
import math

import pytest
import torch
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.config import ModelConfig, OptimizerConfig
from nnplayground.engine.models import build, mc_predict
from nnplayground.engine.optimizers import decay_growth
from nnplayground.engine.telemetry import (
    GradMeter,
    _hist,
    network_view,
    probe,
    round_list,
    update_ratios,
    weight_copies,
    weight_norms,
)

from .helpers import cfg, run

NAN, INF = math.nan, math.inf


def strict_json(event: dict) -> dict:
    """Round-trip through a JSON encoder that refuses NaN/inf, as the protocol promises."""
    return json.loads(json.dumps(event, allow_nan=False))


def _marker(ev: list[dict], kind: str) -> dict:
    return next(e for e in ev if e["type"] == "marker" and e["kind"] == kind)


# ---- the example: learning rate 10 on the default spiral ---------------------------------


def test_lr_10_on_default_spiral_ends_diverged_with_null_losses_and_the_hint():
    # the default telemetry: histograms, decision surface and network view every epoch
    t = Trainer(RunConfig.model_validate({"optimizer": {"lr": 10}, "training": {"epochs": 20}}))
    ev = list(t)
    for e in ev:
        assert strict_json(e) == e
    assert t.status == "diverged" and ev[-1]["type"] == "run_end" and ev[-1]["status"] == "diverged"
    d = _marker(ev, "diverged")
    assert d["epoch"] == 1 and d["cause"] == "learning_rate"
    assert d["message"].startswith("The loss became NaN/infinite at epoch 1 with learning rate 10.")
    assert "It was finite at epoch 0 (train loss 0.8321)" in d["message"]
    assert "The learning rate is probably too high for this model and data: try a smaller one." in d["message"]
    assert d["evidence"]["lr"] == 10 and d["evidence"]["last_finite_epoch"] == 0
    assert ev[-1]["message"] == d["message"] == t.summary()["message"]

    last = [e for e in ev if e["type"] == "epoch"][-1]
    assert last["epoch"] == 1
    assert last["train_loss"] is None and last["val_loss"] is None and last["val_acc"] is None
    assert t.summary()["final_val_loss"] is None and t.summary()["best_epoch"] == 0

    # the diverged epoch's histograms bin the finite values and count the others
    hists = [e for e in ev if e["type"] == "histograms"][-1]
    assert hists["epoch"] == 1
    n_probe = min(t.tel.probe_size, len(t.y_train))
    layers = t.model.weight_layers()
    nonfinite = 0
    for name, h in hists["layers"].items():
        width = layers[name].weight.shape[0]
        assert sum(h["pre"]["counts"]) + h["pre"]["nonfinite"] == n_probe * width
        assert sum(h["weight"]["counts"]) + h["weight"]["nonfinite"] == layers[name].weight.numel()
        nonfinite += sum(v["nonfinite"] for v in h.values())
    assert nonfinite > 0
    surface = [e for e in ev if e["type"] == "surface"][-1]
    assert surface["epoch"] == 1 and None in surface["values"]


# ---- the divergence hint names the measured cause -----------------------------------------------

TANH_8_8 = {"hidden": [8, 8], "activation": "tanh"}


def test_weight_decay_below_minus_one_is_named_with_its_step_factor():
    # the same run without weight decay trains fine: the decay is what makes it explode
    ok, _ = run(cfg(model=TANH_8_8, optimizer={"name": "sgd", "lr": 3}, training={"epochs": 20}))
    assert ok.status == "completed"
    t, ev = run(cfg(model=TANH_8_8, optimizer={"name": "sgd", "lr": 3, "weight_decay": 1}, training={"epochs": 20}))
    assert t.status == "diverged"
    d = _marker(ev, "diverged")
    assert d["cause"] == "weight_decay"
    assert d["evidence"]["step_factor"] == -2 and d["evidence"]["decay_growth"] == pytest.approx(2)
    assert "because of the weight decay (lambda 1) at learning rate 3" in d["message"]
    assert "1 - lr*lambda = 1 - 3*1 = -2, below -1" in d["message"]
    assert "lower optimizer.weight_decay below 0.667 at this learning rate" in d["message"]
    # the measured growth of the weights, from the penalty (1/2)*lambda*||w||^2 of the records
    norms = d["evidence"]["weight_norms"]
    first, last = (math.sqrt(2 * t.history[int(e)]["penalty"] / 1.0) for e in norms)
    assert list(norms.values()) == pytest.approx([first, last]) and last > 1e6 * first
    assert "learning rate is probably too high" not in d["message"]


def test_adamw_decoupled_decay_below_minus_one_is_named_too():
    t, ev = run(cfg(model=TANH_8_8, optimizer={"name": "adamw", "lr": 3, "weight_decay": 1}, training={"epochs": 20}))
    d = _marker(ev, "diverged")
    assert t.status == "diverged" and d["cause"] == "weight_decay" and d["evidence"]["step_factor"] == -2


def test_a_stable_weight_decay_leaves_the_blame_on_the_learning_rate():
    t, ev = run(cfg(optimizer={"lr": 10, "weight_decay": 0.001}, training={"epochs": 20}))
    d = _marker(ev, "diverged")
    assert t.status == "diverged" and d["cause"] == "learning_rate"
    assert d["evidence"]["decay_growth"] == pytest.approx(0.99)
    assert "the weight decay alone does not make the weights grow (x0.99 per step)" in d["message"]


def test_standardization_hint_only_when_it_is_off():
    t, ev = run(
        cfg(
            dataset={"name": "sine"},
            preprocessing={"standardize": False},
            optimizer={"name": "sgd", "lr": 3.0},
            training={"epochs": 50},
        )
    )
    d = _marker(ev, "diverged")
    assert d["cause"] == "learning_rate" and d["message"].endswith("try a smaller one, or switch standardization on.")


def test_nonfinite_inputs_at_epoch_0_are_not_blamed_on_the_learning_rate():
    t = Trainer(cfg(dataset={"name": "moons", "n_samples": 100}, optimizer={"lr": 0.01}))
    t.x_train[3, 1] = NAN  # the data as a loader could deliver it (the probe batch shares this memory)
    t.x_val[0, 0] = INF
    ev = list(t)
    assert t.status == "diverged" and t.epoch == 0
    d = _marker(ev, "diverged")
    assert d["epoch"] == 0 and d["cause"] == "nonfinite_input"
    assert d["evidence"] == {"nonfinite_inputs": 2, "inputs": 200, "nonfinite_targets": 0}
    assert d["message"].startswith(
        "The loss was already NaN/infinite at epoch 0, before any update, so neither the learning rate nor "
        "the weight decay caused it: 2 of the 200 input values are NaN or infinite"
    )
    assert "learning rate is probably too high" not in d["message"]
    for e in ev:
        assert strict_json(e) == e


def test_initial_weights_that_overflow_at_epoch_0_are_named():
    # 8 linear layers of 64 units with every weight and bias at 10: the output reaches ~1e24 and
    # the squared error overflows float32 before any update
    config = cfg(
        dataset={"name": "sine", "n_samples": 40},
        model={"hidden": [64] * 8, "activation": "linear"},
        init={"scheme": "constant", "std": 10.0},
        training={"epochs": 3},
    )
    t, ev = run(config)
    d = _marker(ev, "diverged")
    assert t.status == "diverged" and d["epoch"] == 0 and d["cause"] == "initial_overflow"
    assert d["evidence"]["nonfinite_outputs"] == 0 and 1e20 < d["evidence"]["max_abs_output"] < 1e30
    largest = torch.cat([t.x_train, t.x_val]).abs().max().item()  # the inputs of both splits
    assert d["evidence"]["max_abs_input"] == pytest.approx(largest)
    assert "the initial model overflows float32" in d["message"] and "init.scheme 'constant'" in d["message"]


@pytest.mark.parametrize(
    "name,lr,lam",
    [("sgd", 3.0, 1.0), ("sgd", 0.03, 0.01), ("sgd", 10.0, 1.0), ("sgd", 2.1, 1.0), ("adamw", 3.0, 1.0)],
)
def test_decay_growth_is_abs_one_minus_lr_lambda_for_sgd_and_adamw(name, lr, lam):
    growth = decay_growth(OptimizerConfig(name=name, lr=lr, weight_decay=lam), lr, penalty_in_loss=name != "adamw")
    assert growth == pytest.approx(abs(1 - lr * lam), rel=1e-9)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_decay_alone_never_explodes_with_averaged_or_normalised_steps(name):
    # momentum's average damps the decay (stable while lr*lambda*(1-alpha) < 2*(1+alpha)); adaptive
    # optimizers divide the step by a gradient average, so the weight only bounces within about lr
    for lr in (1.0, 3.0, 10.0):
        assert decay_growth(OptimizerConfig(name=name, lr=lr, weight_decay=1.0), lr, penalty_in_loss=True) < 1


def test_momentum_without_averaging_is_plain_sgd_for_the_decay():
    c = OptimizerConfig(name="momentum", lr=3.0, weight_decay=1.0, momentum=0.0)
    assert decay_growth(c, 3.0, penalty_in_loss=True) == pytest.approx(2.0)


# ---- each telemetry computation, fed NaN/inf ---------------------------------------------------


def test_histogram_bins_finite_values_and_counts_the_others():
    h = _hist(torch.tensor([1.0, NAN, 2.0, INF, -INF, 3.0]), bins=4)
    assert h["nonfinite"] == 3 and sum(h["counts"]) == 3
    assert (h["min"], h["max"]) == (1.0, 3.0) and h["counts"] == [1, 0, 1, 1]
    clean = _hist(torch.tensor([1.0, 2.0, 3.0]), bins=4)
    assert clean["nonfinite"] == 0 and clean["counts"] == [1, 0, 1, 1]


def test_histogram_of_nothing_finite():
    h = _hist(torch.full((5, 3), NAN), bins=6)
    assert h == {"min": None, "max": None, "counts": [0] * 6, "nonfinite": 15}
    assert _hist(torch.tensor([INF, -INF]), bins=3)["nonfinite"] == 2


def test_histogram_counts_every_value_of_a_float32_span_near_its_limits():
    # in float32 the span 6e38 overflows inside histc and nothing was counted
    h = _hist(torch.tensor([-3e38, 0.0, 3e38, 1e38]), bins=4)
    assert sum(h["counts"]) == 4 and h["nonfinite"] == 0


def test_round_list_maps_nonfinite_to_none():
    assert round_list(torch.tensor([[1.23456, NAN], [INF, -INF]]), 2) == [[1.23, None], [None, None]]
    assert round_list(torch.tensor([0.5, 0.25]), 1) == [0.5, 0.2]
    assert round_list(torch.tensor(NAN)) is None


def _net(hidden=(4, 3), activation="relu"):
    torch.manual_seed(0)
    return build(ModelConfig(hidden=list(hidden), activation=activation), (2,), 2, False)


def test_grad_meter_reports_none_for_a_layer_with_nan_gradients():
    model = _net()
    meter = GradMeter(model, steps_per_epoch=1, samples=0)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    model.blocks["fc2"].layer.weight.grad[0, 0] = NAN
    model.out.bias.grad[0] = INF
    meter.record()
    means = meter.means()
    assert means["fc1"] == pytest.approx(math.sqrt(4 * 2 + 4)) and means["fc2"] is None and means["out"] is None


def test_weight_norms_and_update_ratios_with_nonfinite_weights():
    model = _net()
    before = weight_copies(model)
    with torch.no_grad():
        model.blocks["fc1"].layer.weight[0, 0] = NAN
        model.blocks["fc2"].layer.weight[1, 1] = INF
    norms = weight_norms(model)
    assert norms["fc1"] is None and norms["fc2"] is None and norms["out"] > 0
    ratios = update_ratios(model, before)
    assert ratios == {"fc1": None, "fc2": None, "out": 0.0}
    # a weight that was already infinite at the epoch's start gives no ratio either
    assert update_ratios(model, weight_copies(model))["fc2"] is None


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_probe_with_a_nan_weight(activation):
    model = _net(activation=activation).eval()
    with torch.no_grad():
        model.blocks["fc1"].layer.weight[1, 0] = NAN  # unit 1 of fc1 is NaN, then every unit after it
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    model(x).sum().backward()
    probed = probe(model, x, bins=10)
    dead, saturated, active, hists = (
        probed.dead_fraction,
        probed.saturated_fraction,
        probed.active_fraction,
        probed.histograms,
    )
    assert torch.isnan(probed.output).all()
    for share in (*dead.values(), *saturated.values(), *active.values()):
        assert 0.0 <= share <= 1.0
    assert set(dead if activation == "relu" else saturated) == {"fc1", "fc2"}
    if activation == "tanh":  # NaN pre-activations count as outside the useful range
        assert active["fc2"] == 0.0 and active["fc1"] <= 3 / 4  # 1 of fc1's 4 units is NaN
    fc1, fc2, last = hists["fc1"], hists["fc2"], hists["out"]
    assert fc1["pre"]["nonfinite"] == 16 and sum(fc1["pre"]["counts"]) == 16 * 3
    assert fc1["act"]["nonfinite"] == 16 and fc1["weight"]["nonfinite"] == 1 and sum(fc1["weight"]["counts"]) == 7
    assert fc2["pre"]["nonfinite"] == 16 * 3 and fc2["pre"]["min"] is None
    assert last["pre"]["nonfinite"] == 32 and last["grad"]["nonfinite"] == 6  # out: 2x3 weights
    for layer in hists.values():
        for h in layer.values():
            assert strict_json(h) == h


def test_network_view_and_mc_dropout_with_nonfinite_values():
    model = build(ModelConfig(hidden=[4], dropout=0.5), (2,), 2, False)
    with torch.no_grad():
        model.blocks["fc1"].layer.weight[0, 1] = NAN
        model.out.bias[1] = INF
    view = network_view(model, {"fc1": torch.tensor([[NAN, 1.0, 2.0, 3.0], [0.5, INF, 0.0, 1.0]])}, 2)
    assert strict_json(view) == view
    assert view["weights"]["fc1"][0][1] is None and view["biases"]["out"][1] is None
    assert view["units"]["fc1"][0] == [None, 0.5] and view["units"]["fc1"][1] == [1.0, None]
    mean, std = mc_predict(model, torch.randn(6, 2), 4, False)
    assert round_list(std).count([None, None]) == 6


# ---- the whole epoch's telemetry on a poisoned model, for every output view --------------------

VIEWS = {
    "decision": dict(dataset={"name": "spiral", "n_samples": 120}, model={"hidden": [8, 8], "dropout": 0.2}),
    "decision_3_classes": dict(
        dataset={
            "name": "custom",
            "points": [[float(i % 7), float(i % 5), i % 3] for i in range(60)],
        },
        model={"hidden": [6], "dropout": 0.2},
    ),
    "curve": dict(dataset={"name": "sine", "n_samples": 60}, model={"hidden": [16], "dropout": 0.2}),
    "images": dict(dataset={"name": "digits", "classes": [0, 1], "per_class": 20}, model={"dropout": 0.2}),
    "confusion": dict(dataset={"name": "wine"}, model={"hidden": [8], "dropout": 0.2}),
}


def _poison(model, how: str):
    first = next(iter(model.weight_layers().values()))
    with torch.no_grad():
        if how == "nan":
            first.weight.view(-1)[0] = NAN
        elif how == "inf":
            first.weight.view(-1)[0] = INF
        else:  # finite weights whose activations overflow to +-inf
            first.weight.mul_(1e38)


@pytest.mark.parametrize("how", ["nan", "inf", "huge"])
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_view_and_probe_survive_a_poisoned_model(view, how):
    t = Trainer(
        cfg(
            **VIEWS[view],
            training={"epochs": 3},
            telemetry={"histogram_every": 1, "surface_every": 1, "surface_resolution": 16, "mc_samples": 4},
        )
    )
    t.start()
    _poison(t.model, how)
    ev = t.step()
    kinds = [e["type"] for e in ev]
    assert kinds[:3] == ["epoch", "histograms", "surface"] and kinds[-1] == "run_end"
    for e in ev:
        assert strict_json(e) == e
    assert t.status == "diverged" and _marker(ev, "diverged")["epoch"] == 1
    rec, hists, surface = ev[0], ev[1], ev[2]
    assert rec["train_loss"] is None and rec["val_loss"] is None
    assert any(h["nonfinite"] for layer in hists["layers"].values() for h in layer.values())
    expected_kind = view.split("_")[0]
    assert surface["kind"] == expected_kind
    if expected_kind in ("decision", "curve", "images"):
        assert "uncertainty" in surface
    raw = t.data.raw_val[:2].reshape(2, -1).tolist()
    pred = t.predict(raw, mc_samples=3)
    assert strict_json(pred) == pred


def _huge_points(scale: float) -> list[list[float]]:
    # two separable clusters, x1 from -1.5 to 1.5 times `scale`, x2 a small wobble times `scale`
    return [[(i - 19.5) / 13 * scale, ((i * 7) % 5 - 2) / 4 * scale, int(i >= 20)] for i in range(40)]


def test_unstandardized_inputs_far_from_unit_scale_are_named_not_the_learning_rate():
    """Points at +-1e30 with standardization off diverge at lr 0.03: the inputs' scale is the cause
    (found by trying the issue's siblings: the hint used to blame the learning rate)."""
    base = {"dataset": {"name": "custom", "points": _huge_points(1e30)}, "training": {"epochs": 10}}
    t, ev = run(cfg(preprocessing={"standardize": False}, optimizer={"name": "sgd", "lr": 0.03}, **base))
    d = _marker(ev, "diverged")
    assert t.status == "diverged" and d["cause"] == "input_scale", d
    assert d["evidence"]["max_abs_input"] == pytest.approx(1.5e30, rel=1e-6)
    assert d["evidence"]["lr_times_s"] > 2 and "Switch standardization on" in d["message"]
    # the same data standardized trains at the same learning rate
    t, _ = run(cfg(optimizer={"name": "sgd", "lr": 0.03}, **base))
    assert t.status == "completed"
