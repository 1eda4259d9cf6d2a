"""A sweep's batched telemetry (engine/sweep_telemetry.py): every variant gets every event a run of its
configuration alone gets, at the same epochs, with the same values: histograms, decision surface and
network view, gradient norms, activation statistics, norms, fractions, penalties and checkpoints."""

import math

import pytest
import torch
from nnplayground.engine import RunConfig, Trainer
from nnplayground.engine.checkpoints import snapshot
from nnplayground.engine.sweep import Sweep, expand
from nnplayground.engine.telemetry import _hist, stacked_histograms

from .helpers import cfg

REL = 1e-5
FULL = {"histogram_every": 1, "surface_every": 1, "surface_resolution": 32}


def base(**sections) -> RunConfig:
    """Every-epoch telemetry, as the defaults have it (a smaller grid for speed); few samples and epochs."""
    sections.setdefault("dataset", {"n_samples": 120})
    sections["telemetry"] = {**FULL, **sections.get("telemetry", {})}
    sections["training"] = {"epochs": 3, **sections.get("training", {})}
    return cfg(**sections)


def events_by_variant(sweep: Sweep) -> dict[int, list[dict]]:
    out = {k: [] for k in range(len(sweep.trainers))}
    while not sweep.done:
        for k, ev in sweep.step().items():
            out[k] += ev
    return out


# ---- comparisons ---------------------------------------------------------------------------------


def close(a, b, rel: float = REL, abs_: float = 1e-7) -> bool:
    if a is None or b is None or isinstance(a, str):
        return a == b
    return a == pytest.approx(b, rel=rel, abs=abs_)


def assert_hist_close(a: dict, b: dict, where, moved: int | None = None) -> None:
    """Two `_hist` results: the same count of values over about the same range; with `moved` given, at
    most that many values on the other side of a bin edge (each changes two counts by one), else at
    most one bin's move per value on average (the earth mover's distance, in bins, at most the count):
    float rounding that differs between two computations moves a value lying on an edge, and a
    cluster of equal values (the zero gradients of a dead unit) moves together."""
    assert a["nonfinite"] == b["nonfinite"], where
    assert close(a["min"], b["min"], 1e-3, 1e-6) and close(a["max"], b["max"], 1e-3, 1e-6), (where, a, b)
    assert sum(a["counts"]) == sum(b["counts"]), where
    if moved is not None:
        assert sum(abs(x - y) for x, y in zip(a["counts"], b["counts"], strict=True)) <= 2 * moved, (where, a, b)
    else:
        ca, cb = torch.tensor(a["counts"]).cumsum(0), torch.tensor(b["counts"]).cumsum(0)
        assert (ca - cb).abs().sum().item() <= sum(a["counts"]), (where, a, b)


ROUNDING = {"units": 1e-2, "weights": 1e-4, "biases": 1e-4}  # one unit of the decimals each list is sent with


def assert_tree_close(a, b, where, tol: float = 1e-3) -> None:
    """A surface event's data: the same structure, strings and integers, floats within `tol` (one
    rounding unit of the 3 decimals sent; `ROUNDING` for the network view's lists)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_tree_close(a[key], b[key], (where, key), ROUNDING.get(key, tol))
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for x, y in zip(a, b, strict=True):
            assert_tree_close(x, y, where, tol)
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= tol * 1.0001, (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_surface_close(a: dict, b: dict, where) -> None:
    assert_tree_close(a, b, where)


PER_LAYER = ("grad_norm", "weight_norm", "update_ratio", "dead_fraction", "saturated_fraction", "active_fraction")


def assert_record_close(a: dict, b: dict, rel: float) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if key in ("epoch_time", "time"):
            continue
        if isinstance(value, dict):
            assert value.keys() == b[key].keys(), (a["epoch"], key)
            for layer, v in value.items():
                assert close(v, b[key][layer], rel, 1e-6), (a["epoch"], key, layer, v, b[key][layer])
        else:
            assert close(value, b[key], rel, 1e-7), (a["epoch"], key, value, b[key])


def assert_same_events(got: list[dict], want: list[dict], rel: float = 1e-4) -> None:
    """A variant's events against its configuration's run alone: the same events in the same order,
    the same numbers within `rel` (the stacked training's float rounding compounds over the epochs,
    most in a single step's gradients, hence the histograms' looser range; epoch 0, before any step,
    has the very same weight histograms)."""
    assert [(e["type"], e.get("epoch"), e.get("kind")) for e in got] == [
        (e["type"], e.get("epoch"), e.get("kind")) for e in want
    ]
    for a, b in zip(got, want, strict=True):
        where = (a["type"], a.get("epoch"))
        if a["type"] == "epoch":
            assert_record_close(a, b, rel)
        elif a["type"] == "histograms":
            assert a["layers"].keys() == b["layers"].keys(), where
            for layer, hs in a["layers"].items():
                assert list(hs) == list(b["layers"][layer]), (where, layer)  # pre, weight, act, grad
                for key, h in hs.items():
                    if a["epoch"] == 0 and key == "weight":  # the initial weights: the very same numbers
                        assert h == b["layers"][layer][key], (where, layer, key)
                    else:
                        assert_hist_close(h, b["layers"][layer][key], (where, layer, key))
        elif a["type"] == "surface":
            assert_surface_close(a, b, where)


# ---- the batched measurement on the same weights ----------------------------------------------------


def test_stacked_measurement_equals_each_variants_own_on_the_same_weights():
    """The batched measurement against each variant's Trainer.measurement on the very same weights, weights
    at the epoch's start and last-step gradients: only the forward passes' float rounding differs."""
    variants = expand(
        base(optimizer={"name": "adam", "weight_decay": 0.01}, model={"activation": "tanh"}),
        {"optimizer.lr": [0.003, 0.03, 0.3], "init.scheme": ["xavier", "he", "xavier"]},
        "zip",
    )
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0, 1, 2]]
    sweep.start()
    sweep.step()
    stack = sweep._stacks[0]
    gen = torch.Generator().manual_seed(0)
    w_before = [w.detach() + 0.1 * torch.randn(w.shape, generator=gen) for w in stack.params[0::2]]
    grads = [torch.randn(p.shape, generator=gen) for p in stack.params]
    epoch = sweep.trainers[0].epoch
    got = stack.telemetry.measure(sweep.trainers, stack.params, epoch, w_before, grads)
    for k, (t, m) in enumerate(zip(sweep.trainers, got, strict=True)):
        t._w_before = [w[k].clone() for w in w_before]
        for p, g in zip((p for ps in t.model.layer_params().values() for p in ps), grads, strict=True):
            p.grad = g[k].clone()
        want = t.measurement(epoch)
        for split in ("train", "val"):
            assert getattr(m, split)[0] == pytest.approx(getattr(want, split)[0], rel=1e-6)
            assert getattr(m, split)[1] == pytest.approx(getattr(want, split)[1], abs=1e-9)
        assert m.penalties == pytest.approx(want.penalties, rel=1e-6)
        assert m.zero_fraction == want.zero_fraction
        assert m.layers.keys() == want.layers.keys() == set(PER_LAYER)
        for key in PER_LAYER:
            assert m.layers[key].keys() == want.layers[key].keys()
            for layer, v in m.layers[key].items():
                assert v == pytest.approx(want.layers[key][layer], rel=1e-5, abs=1e-7), (key, layer)
        assert m.layers["saturated_fraction"] and m.layers["active_fraction"]  # tanh: both measured
        for layer, hs in m.histograms.items():
            assert list(hs) == list(want.histograms[layer]) == ["pre", "weight", *(["act"] * (layer != "out")), "grad"]
            for key in ("weight", "grad"):  # the same numbers: the same histograms, exactly
                assert hs[key] == want.histograms[layer][key], (k, layer, key)
            for key in hs.keys() - {"weight", "grad"}:
                assert_hist_close(hs[key], want.histograms[layer][key], (k, layer, key), moved=1)
        assert m.surface == want.surface  # the grid pass is the run alone's, variant by variant: to the bit
        state = snapshot(t.model)
        assert list(m.state) == list(state)
        for name, v in state.items():
            assert torch.equal(m.state[name], v)


# ---- whole runs: each variant's events are its configuration's run alone ---------------------------------


@pytest.mark.parametrize(
    ("sections", "vary", "mode"),
    [
        # learning rate and initializer per variant, SGD with L2 (penalty, its gradient in the histograms)
        (
            {"optimizer": {"name": "sgd", "weight_decay": 0.005}},
            {"optimizer.lr": [0.01, 0.1, 0.5], "init.scheme": ["xavier", "he", "pytorch_default"]},
            "zip",
        ),
        # activation per group (sigmoid, tanh: saturated and active fractions) x learning rate, momentum
        (
            {"optimizer": {"name": "momentum"}},
            {"model.activation": ["sigmoid", "tanh"], "optimizer.lr": [0.05, 0.5]},
            "grid",
        ),
        # regression over the plane (kind "regression2d"), Adam, per-variant seeds
        (
            {"dataset": {"name": "plane", "n_samples": 120}, "optimizer": {"name": "adam"}},
            {"training.seed": [0, 1]},
            "grid",
        ),
        # views the batch leaves to each variant's own output view: a fitted curve, a confusion matrix
        ({"dataset": {"name": "sine", "n_samples": 60}}, {"optimizer.lr": [0.01, 0.1]}, "grid"),
        ({"dataset": {"name": "wine", "n_samples": 60}}, {"optimizer.lr": [0.01, 0.1]}, "grid"),
    ],
)
def test_every_variant_gets_the_events_of_its_config_run_alone(sections, vary, mode):
    variants = expand(base(**sections), vary, mode)
    sweep = Sweep([c for _, c in variants])
    assert all(len(g) > 1 for g in sweep.groups)  # stacked groups: the batched telemetry is what is tested
    got = events_by_variant(sweep)
    for k, (_, c) in enumerate(variants):
        want = list(Trainer(c))
        assert_same_events(got[k], want)
        assert sum(e["type"] == "histograms" for e in got[k]) == c.training.epochs + 1  # every epoch, 0 too
        assert sum(e["type"] == "surface" for e in got[k]) == c.training.epochs + 1


def test_the_gradient_histogram_is_the_epochs_last_step_even_when_its_norm_is_not_sampled():
    # 60 training samples in batches of 8: 8 steps; 3 gradient samples -> steps 0, 3, 6 measured, not 7
    c = base(dataset={"n_samples": 120}, training={"batch_size": 8}, telemetry={"grad_samples": 3})
    t = Trainer(c)
    assert t.meter.stride == 3 and (-(-len(t.y_train) // t.batch_size) - 1) % t.meter.stride
    variants = expand(c, {"optimizer.lr": [0.03, 0.3]})
    got = events_by_variant(Sweep([v for _, v in variants]))
    for k, (_, v) in enumerate(variants):
        assert_same_events(got[k], list(Trainer(v)))


def test_variants_with_different_telemetry_settings_each_get_their_own():
    variants = expand(
        base(training={"epochs": 4}),
        {"telemetry.bins": [10, 30], "telemetry.surface_every": [1, 2], "telemetry.enabled": [True, False]},
        "zip",
    )
    sweep = Sweep([c for _, c in variants])
    assert sweep.groups == [[0, 1]]
    got = events_by_variant(sweep)
    for k, (_, c) in enumerate(variants):
        assert_same_events(got[k], list(Trainer(c)))
    first = next(e for e in got[0] if e["type"] == "histograms")
    assert len(first["layers"]["fc1"]["weight"]["counts"]) == 10
    assert not any(e["type"] == "histograms" for e in got[1])  # telemetry off: losses only
    assert [e["epoch"] for e in got[1] if e["type"] == "surface"] == [0, 2, 4]


# ---- histograms of K rows at once --------------------------------------------------------------------


def test_stacked_histograms_equal_histc_row_by_row():
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(6, 200, generator=gen) * torch.tensor([1.0, 10.0, 1e-3, 1.0, 1.0, 1.0]).unsqueeze(1)
    rows[3] = torch.round(rows[3] * 4) / 4  # many values exactly on bin edges
    rows[4] = 0.7  # constant: a unit-wide range around it
    rows[5, :3] = torch.tensor([math.nan, math.inf, -math.inf])  # NaN/inf: counted apart
    got = stacked_histograms(rows, 30)
    for k in range(len(rows)):
        assert got[k] == _hist(rows[k], 30), k
    assert got[5]["nonfinite"] == 3 and sum(got[5]["counts"]) == 197
    assert got[4]["min"] == pytest.approx(0.2) and got[4]["counts"][15] == 200
