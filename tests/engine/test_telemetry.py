import json

import torch
from nnplayground.engine import Trainer
from nnplayground.engine.events import EVENT_TYPES, RECORD_KEYS

from .helpers import cfg, run


def test_every_event_kind_appears_and_roundtrips_through_json():
    t = Trainer(
        cfg(
            dataset={"name": "moons", "n_samples": 200},
            model={"hidden": [16, 16], "dropout": 0.2},
            schedule={"name": "step", "step_size": 2, "gamma": 0.5},
            training={"epochs": 30},
            early_stopping={"enabled": True, "patience": 3, "min_delta": 0.01, "restore_best": True},
            telemetry={"histogram_every": 2, "surface_every": 5, "mc_samples": 5},
        )
    )
    ev = list(t)
    assert {e["type"] for e in ev} == set(EVENT_TYPES)
    assert {e["kind"] for e in ev if e["type"] == "marker"} >= {"best", "lr_change", "early_stop", "restore_best"}
    for e in ev:
        assert json.loads(json.dumps(e, allow_nan=False)) == e
    epochs = [e for e in ev if e["type"] == "epoch"]
    assert epochs[0]["epoch"] == 0 and [e["epoch"] for e in epochs] == list(range(len(epochs)))
    for rec in epochs:
        assert set(RECORD_KEYS) <= set(rec)
        assert list(rec["grad_norm"]) == ["fc1", "fc2", "out"]  # network order, input side first
    hist_epochs = [e["epoch"] for e in ev if e["type"] == "histograms"]
    assert hist_epochs == [e for e in range(len(epochs)) if e % 2 == 0]


def test_histograms_count_every_value():
    t = Trainer(cfg(model={"hidden": [8, 4]}, telemetry={"histogram_every": 1, "bins": 20, "probe_size": 100}))
    h = next(e for e in t.start() if e["type"] == "histograms")["layers"]
    assert set(h) == {"fc1", "fc2", "out"}
    assert set(h["fc1"]) == {"pre", "act", "weight", "grad"}
    assert sum(h["fc1"]["pre"]["counts"]) == 100 * 8
    assert sum(h["fc2"]["weight"]["counts"]) == 8 * 4
    assert len(h["out"]["pre"]["counts"]) == 20
    assert h["fc1"]["act"]["min"] >= 0  # relu


def test_surface_is_a_probability_grid_over_the_data():
    t = Trainer(cfg(telemetry={"surface_every": 1, "surface_resolution": 16}))
    s = next(e for e in t.start() if e["type"] == "surface")
    assert s["kind"] == "decision" and len(s["values"]) == 16 * 16
    assert all(0 <= v <= 1 for v in s["values"])
    (x0, x1), (y0, y1) = s["bounds"]
    raw = t.data.raw_train
    assert x0 < raw[:, 0].min() and raw[:, 0].max() < x1 and y0 < raw[:, 1].min()


def test_regression_curve_images_and_confusion_views():
    _, ev = run(cfg(dataset={"name": "sine", "n_samples": 40}, training={"epochs": 1}, telemetry={"surface_every": 1}))
    curve = next(e for e in ev if e["type"] == "surface")
    assert curve["kind"] == "curve" and len(curve["xs"]) == len(curve["ys"]) == 200
    rec = next(e for e in ev if e["type"] == "epoch")
    assert rec["train_acc"] is None and "val_r2" in rec
    _, ev = run(
        cfg(dataset={"name": "digits", "classes": [0, 1, 2]}, training={"epochs": 1}, telemetry={"surface_every": 1})
    )
    imgs = next(e for e in ev if e["type"] == "surface")
    assert imgs["kind"] == "images" and len(imgs["pred"]) == len(imgs["labels"]) == len(imgs["confidence"])
    _, ev = run(cfg(dataset={"name": "wine"}, training={"epochs": 1}, telemetry={"surface_every": 1}))
    cm = next(e for e in ev if e["type"] == "surface")
    assert cm["kind"] == "confusion" and len(cm["matrix"]) == 3
    assert sum(map(sum, cm["matrix"])) == ev[0]["dataset"]["n_val"]


def test_mc_dropout_uncertainty_grid():
    t = Trainer(
        cfg(
            dataset={"name": "moons"},
            model={"hidden": [32], "dropout": 0.3},
            telemetry={"surface_every": 1, "surface_resolution": 12, "mc_samples": 10},
        )
    )
    s = next(e for e in t.start() if e["type"] == "surface")
    assert len(s["uncertainty"]) == 144 and max(s["uncertainty"]) > 0


def test_update_ratio_and_telemetry_off():
    t, ev = run(cfg(training={"epochs": 2}))
    assert t.history[0]["update_ratio"] == {} and all(v > 0 for v in t.history[1]["update_ratio"].values())
    t, ev = run(cfg(training={"epochs": 2}, telemetry={"enabled": False}))
    assert t.history[-1]["grad_norm"] == {} and t.history[-1]["val_loss"] is not None
    assert not any(e["type"] == "histograms" for e in ev)


def test_telemetry_does_not_change_the_training():
    # batch norm (running statistics) and dropout (random masks) are what a careless probe would disturb
    base = dict(
        dataset={"name": "sine", "n_samples": 60},
        model={"hidden": [16, 16], "batch_norm": True, "dropout": 0.2},
        training={"epochs": 8},
    )
    on, _ = run(cfg(**base, telemetry={"histogram_every": 1, "surface_every": 1, "mc_samples": 5}))
    off, _ = run(cfg(**base, telemetry={"enabled": False}))
    assert [r["val_loss"] for r in on.history] == [r["val_loss"] for r in off.history]


# ---- the network diagram's data (issue 12 §3: it was blank for wide layers, sine and wine) ------


def _epoch0_surface(**sections):
    t = Trainer(cfg(**sections, telemetry={"surface_every": 1, "surface_resolution": 16}))
    return t, next(e for e in t.start() if e["type"] == "surface")


def _outputs(model, x):
    """Each hidden layer's activations and the output logits of one eval pass, computed here directly."""
    model.eval()
    outs, h = {}, x
    for name, block in model.blocks.items():
        h = outs[name] = block(h)
    outs["out"] = model.out(h)
    return outs


def test_sine_unit_thumbnails_are_each_units_response_over_x():
    t, s = _epoch0_surface(dataset={"name": "sine", "n_samples": 80}, model={"hidden": [6, 5], "activation": "tanh"})
    net = s["network"]
    assert net["unit_kind"] == "curve" and net["unit_resolution"] == 50
    xs = torch.tensor(s["xs"][::4]).unsqueeze(1)  # the thumbnails' x values: every 4th of the curve's 200
    with torch.no_grad():
        outs = _outputs(t.model, t.data.preprocess(xs))
    for name, n in (("fc1", 6), ("fc2", 5), ("out", 1)):
        got = torch.tensor(net["units"][name], dtype=torch.float64)
        assert got.shape == (n, 50)
        torch.testing.assert_close(got, outs[name].T.double(), atol=0.006, rtol=0)
    # the output unit's thumbnail is the fitted curve itself
    torch.testing.assert_close(got[0], torch.tensor(s["ys"][::4], dtype=torch.float64), atol=0.006, rtol=0)
    assert not torch.allclose(torch.tensor(net["units"]["fc1"][0]), torch.tensor(net["units"]["fc1"][1]))


def test_wide_layers_send_their_first_units_with_full_widths():
    t, s = _epoch0_surface(dataset={"name": "spiral", "n_samples": 100}, model={"hidden": [64, 40]})
    net = s["network"]
    assert net["widths"] == {"fc1": 64, "fc2": 40, "out": 2}
    layers = t.model.weight_layers()
    for name, shape in (("fc1", (16, 2)), ("fc2", (16, 16)), ("out", (2, 16))):
        w = torch.tensor(net["weights"][name], dtype=torch.float64)
        assert w.shape == shape
        torch.testing.assert_close(w, layers[name].weight[: shape[0], : shape[1]].double(), atol=6e-5, rtol=0)
    assert [len(net["units"][n]) for n in ("fc1", "fc2", "out")] == [16, 16, 2]
    res = net["unit_resolution"]
    assert net["unit_kind"] == "grid" and all(len(u) == res * res for u in net["units"]["fc1"])


def test_output_unit_thumbnails_are_class_probabilities_over_the_plane():
    t, s = _epoch0_surface(dataset={"name": "spiral", "n_samples": 100}, model={"hidden": [8]})
    net = s["network"]
    p = torch.tensor(net["units"]["out"], dtype=torch.float64)  # (2 outputs, cells)
    assert p.shape == (2, 16 * 16)
    torch.testing.assert_close(p.sum(0), torch.ones(256, dtype=torch.float64), atol=0.011, rtol=0)
    # the class-1 unit's thumbnail is the decision surface itself (same 16 x 16 grid here)
    torch.testing.assert_close(p[1], torch.tensor(s["values"], dtype=torch.float64), atol=0.006, rtol=0)


def test_tabular_data_gets_link_weights_without_thumbnails():
    t, s = _epoch0_surface(dataset={"name": "wine"}, model={"hidden": [10]})
    assert s["kind"] == "confusion"
    net = s["network"]
    assert "units" not in net and net["widths"] == {"fc1": 10, "out": 3}
    w = torch.tensor(net["weights"]["fc1"], dtype=torch.float64)
    assert w.shape == (10, 13)  # every one of wine's 13 features
    torch.testing.assert_close(w, t.model.blocks["fc1"].layer.weight.double(), atol=6e-5, rtol=0)
