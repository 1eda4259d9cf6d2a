"""The course's claims, checked on real runs with fixed seeds."""

import torch
from nnplayground.engine import Trainer

from .helpers import cfg, run


def _init_grad_norms(activation, scheme):
    # digits through an MLP: 64 inputs, so fc1 and fc6 are matrices of comparable size
    t = Trainer(
        cfg(
            dataset={"name": "digits"},
            model={"arch": "mlp", "hidden": [32] * 6, "activation": activation},
            init={"scheme": scheme},
            training={"epochs": 1},
        )
    )
    rec = next(e for e in t.start() if e["type"] == "epoch")
    assert rec["epoch"] == 0
    return rec["grad_norm"]


def test_vanishing_gradients_in_deep_sigmoid_network():
    g = _init_grad_norms("sigmoid", "xavier")
    assert list(g) == ["fc1", "fc2", "fc3", "fc4", "fc5", "fc6", "out"]
    assert g["fc1"] * 10 <= g["fc6"]
    # and the decay is layer after layer, towards the input
    assert g["fc1"] < g["fc2"] < g["fc3"] < g["fc4"] < g["fc5"] < g["fc6"]


def test_relu_with_he_keeps_gradients_of_the_same_order():
    g = _init_grad_norms("relu", "he")
    ratio = g["fc1"] / g["fc6"]
    assert 0.1 < ratio < 10


def test_saturated_units_reported_for_large_sigmoid_preactivations():
    t = Trainer(
        cfg(
            dataset={"name": "circle"},
            preprocessing={"standardize": False},
            model={"hidden": [16], "activation": "sigmoid"},
            init={"scheme": "normal", "std": 10.0},
            training={"epochs": 1},
        )
    )
    rec = next(e for e in t.start() if e["type"] == "epoch")
    assert rec["saturated_fraction"]["fc1"] > 0.5
    t2 = Trainer(
        cfg(
            dataset={"name": "circle"},
            model={"hidden": [16], "activation": "sigmoid"},
            init={"scheme": "xavier"},
            training={"epochs": 1},
        )
    )
    assert next(e for e in t2.start() if e["type"] == "epoch")["saturated_fraction"]["fc1"] < 0.2


def test_dead_relu_units_are_counted():
    t = Trainer(cfg(model={"hidden": [8]}, training={"epochs": 1}))
    with torch.no_grad():
        t.model.blocks["fc1"].layer.bias[:4] = -100.0  # four units can never fire
    rec = next(e for e in t.start() if e["type"] == "epoch")
    assert rec["dead_fraction"]["fc1"] == 0.5


def test_standardization_helps_on_wine():
    def best_val(standardize):
        t, _ = run(
            cfg(
                dataset={"name": "wine", "val_fraction": 0.3},
                preprocessing={"standardize": standardize},
                model={"hidden": [16]},
                optimizer={"name": "sgd", "lr": 0.01},
                training={"epochs": 30, "batch_size": 16},
            )
        )
        return t.history[-1]["val_loss"], t.history[-1]["val_acc"]

    on, off = best_val(True), best_val(False)
    assert on[0] < 0.5 * off[0]
    assert on[1] > 0.9 and on[1] > off[1]


def test_batch_norm_rescues_the_deep_sigmoid_network():
    base = dict(
        dataset={"name": "circle", "n_samples": 400},
        init={"scheme": "xavier"},
        optimizer={"name": "sgd", "lr": 0.1},
        training={"epochs": 30, "batch_size": 16},
    )
    plain, _ = run(cfg(**base, model={"hidden": [8] * 6, "activation": "sigmoid"}))
    bn, _ = run(cfg(**base, model={"hidden": [8] * 6, "activation": "sigmoid", "batch_norm": True}))
    assert plain.history[-1]["val_acc"] < 0.6  # stuck at chance
    assert max(r["val_acc"] for r in bn.history) > 0.9


def test_divergence_ends_the_run_with_a_message():
    t, ev = run(
        cfg(
            dataset={"name": "sine"},
            preprocessing={"standardize": False},
            optimizer={"name": "sgd", "lr": 3.0},
            training={"epochs": 50},
        )
    )
    assert t.status == "diverged"
    end = ev[-1]
    assert end["type"] == "run_end" and end["status"] == "diverged"
    assert "learning rate" in end["message"] and "standardization" in end["message"]
    assert any(e["type"] == "marker" and e["kind"] == "diverged" for e in ev)
