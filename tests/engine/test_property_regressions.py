"""Faults the property test (test_properties.py) found, each as a plain regression test asserting the
right value with the minimal configuration it reduced to."""

import json

import pytest
from nnplayground.engine import Trainer
from nnplayground.engine.config import ConfigError

from .helpers import cfg, run


@pytest.mark.parametrize("classes", [None, [0, 1]])
def test_continue_from_a_source_with_other_classes_is_refused_before_training(classes):
    # found: a ValueError from transfer.apply inside the Trainer (a `failed` run on the server)
    c = cfg(
        dataset={"name": "digits", "classes": classes, "per_class": 2},
        transfer={"source": "builtin:digits-0-4", "strategy": "continue"},
        training={"epochs": 1},
    )
    with pytest.raises(ConfigError) as e:
        Trainer(c)
    assert e.value.field == "transfer.strategy"
    assert f"needs {len(classes) if classes else 10}" in e.value.message


def test_a_run_id_source_of_another_input_shape_is_refused_before_training():
    src, _ = run(cfg(model={"hidden": [4]}, training={"epochs": 1}))  # spiral: 2 inputs
    loader = {"r1": (src.config.model_dump(mode="json"), src.model.state_dict())}.__getitem__
    with pytest.raises(ConfigError) as e:
        Trainer(cfg(dataset={"name": "wine"}, transfer={"source": "r1"}), loader)
    assert e.value.field == "transfer.source" and "[2]" in e.value.message and "[13]" in e.value.message
    scratch = Trainer(cfg(dataset={"name": "wine"}, transfer={"source": "r1", "strategy": "scratch"}), loader)
    assert scratch.config.model.hidden == [4]  # scratch only adopts the layer sizes: no shape to fit


def test_transfer_adopts_the_source_layers_whole_not_the_targets_per_layer_lists():
    # found: {"model": {"hidden": [], "activations": []}} on the built-in source (hidden [32]) kept the
    # target's per-layer activations, a list for 0 layers, and raised a pydantic ValidationError inside
    # the Trainer (on the server: a 422 blaming transfer.source with pydantic's raw text)
    base = {"dataset": {"name": "digits", "classes": [1, 2], "per_class": 2}, "training": {"epochs": 1}}
    target = {"hidden": [], "activations": [], "activation": "tanh"}
    c = cfg(**base, model=target, transfer={"source": "builtin:digits-0-4"})
    t, events = run(c)
    assert t.status == "completed"
    assert t.config.model.hidden == [32] and t.config.model.activations is None
    assert t.config.model.activation == "relu"  # the source's, not the target's
    with pytest.raises(ConfigError) as e:  # the target's own per-layer dropouts must fit the source's layers
        Trainer(
            cfg(**base, model={"hidden": [4, 4], "dropouts": [0.1, 0.2]}, transfer={"source": "builtin:digits-0-4"})
        )
    assert e.value.field == "model.dropouts" and "(1)" in e.value.message
    ok = cfg(**base, model={"hidden": [4], "dropouts": [0.3]}, transfer={"source": "builtin:digits-0-4"})
    assert Trainer(ok).config.model.dropouts == [0.3]


@pytest.mark.parametrize(
    "dataset,side",
    [
        ({"name": "sine", "n_samples": 20, "val_fraction": 0.05}, "val"),  # one validation sample
        ({"name": "sine", "n_samples": 10, "val_fraction": 0.9}, "train"),  # one training sample
    ],
)
def test_r2_of_a_single_sample_is_null_not_a_huge_negative_number(dataset, side):
    # found: val_r2 = -2.6e10 (the squared error divided by a variance clamped to 1e-12)
    t, _ = run(cfg(dataset=dataset, training={"epochs": 2}))
    assert len(getattr(t, f"y_{side}")) == 1
    assert [h[f"{side}_r2"] for h in t.history] == [None, None, None]
    other = "train" if side == "val" else "val"
    assert all(-10 < h[f"{other}_r2"] <= 1 for h in t.history)  # the other side has a spread: a real R^2
    assert t.status == "completed" and all(h["val_loss"] is not None for h in t.history)


def test_the_best_marker_names_the_metric_that_chose_it():
    # found: early stopping off but monitor "val_acc" on the sine (R^2) with one validation sample: the
    # best marker said monitor val_acc with value NaN (R^2 of one sample), not strict JSON, although the
    # best epoch was chosen by the validation loss
    c = cfg(
        dataset={"name": "sine", "n_samples": 24, "val_fraction": 0.001},
        early_stopping={"enabled": False, "monitor": "val_acc"},
        training={"epochs": 2},
    )
    t, events = run(c)
    best = [e for e in events if e["type"] == "marker" and e["kind"] == "best"]
    assert best and all(m["monitor"] == "val_loss" for m in best)
    assert [m["value"] for m in best] == [t.history[m["epoch"]]["val_loss"] for m in best]
    for e in events:
        json.dumps(e, allow_nan=False)
    # with early stopping on, the marker names the monitored metric and its value
    t, events = run(
        cfg(
            dataset={"name": "circle", "n_samples": 40},
            early_stopping={"enabled": True, "monitor": "val_acc"},
            training={"epochs": 2},
        )
    )
    best = [e for e in events if e["type"] == "marker" and e["kind"] == "best"]
    assert best[0]["epoch"] == 0 and best[0]["monitor"] == "val_acc"
    assert [m["value"] for m in best] == [t.history[m["epoch"]]["val_acc"] for m in best]
