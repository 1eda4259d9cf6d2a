import json

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
