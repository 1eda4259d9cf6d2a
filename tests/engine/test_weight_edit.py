"""Weight editing between epochs (Trainer.edit_weight): the model and the epoch's checkpoint carry the
new value, a weight_edit marker records it, and bad edits name the field."""

from __future__ import annotations

import pytest
from nnplayground.engine import Trainer
from nnplayground.engine.config import ConfigError

from .helpers import cfg

QUIET = {"enabled": False, "histogram_every": 0, "surface_every": 0}


def paused_trainer() -> Trainer:
    t = Trainer(cfg(model={"hidden": [4]}, training={"epochs": 5}, telemetry=QUIET))
    t.start()
    t.step()
    t.step()
    return t


def test_an_edit_changes_the_model_and_its_checkpoint_and_is_recorded():
    t = paused_trainer()
    old = t.model.blocks["fc1"].layer.weight[0, 1].item()
    before = t.predict([[1.0, 2.0]])["mean"]
    (marker,) = t.edit_weight("fc1", [0, 1], 2.5)
    assert marker == {
        "type": "marker",
        "epoch": 2,
        "kind": "weight_edit",
        "layer": "fc1",
        "index": [0, 1],
        "old": old,
        "new": 2.5,
    }
    assert t.model.blocks["fc1"].layer.weight[0, 1].item() == 2.5
    assert t.checkpoints.get(2)["blocks.fc1.layer.weight"][0, 1].item() == 2.5  # exports of epoch 2 carry it
    t.edit_weight("out", [1], -0.75)  # a bias
    assert t.model.out.bias[1].item() == -0.75
    assert t.predict([[1.0, 2.0]])["mean"] != before
    events = t.step()  # training goes on from the edited weights
    assert any(e["type"] == "epoch" and e["epoch"] == 3 for e in events)


@pytest.mark.parametrize(
    ("layer", "index", "value", "field"),
    [
        ("fc9", [0, 0], 1.0, "layer"),
        ("fc1", [4, 0], 1.0, "index"),  # fc1 has 4 units
        ("fc1", [0, 2], 1.0, "index"),  # and 2 inputs
        ("out", [0, 0, 0], 1.0, "index"),
        ("fc1", [0, 0], float("nan"), "value"),
    ],
)
def test_bad_edits_name_the_field(layer, index, value, field):
    t = paused_trainer()
    with pytest.raises(ConfigError) as e:
        t.edit_weight(layer, index, value)
    assert e.value.field == field
