"""Issue 9 item 4: a configuration whose split cannot train is refused with a 422 naming the field, at
admission (before any worker sees it), by the same rule the engine applies; and the standalone script
export preprocesses exactly as the engine does (item 5's float64, zero-variance-safe standardization)."""

import pytest
import torch
from nnplayground.engine import RunConfig
from nnplayground.engine.datasets import load
from nnplayground.service import scriptgen

ISSUE_CONFIG = {
    "dataset": {"name": "sine", "n_samples": 10, "val_fraction": 0.9},
    "preprocessing": {"standardize": False},
    "model": {"batch_norm": True},
    "training": {"epochs": 3},
}


def test_a_split_batch_norm_cannot_train_is_a_422_naming_the_field(client):
    before = client.get("/api/runs", params={"limit": 500}).json()
    r = client.post("/api/runs", json=ISSUE_CONFIG)
    assert r.status_code == 422, r.text
    (detail,) = r.json()["detail"]
    assert detail["field"] == "dataset.val_fraction"
    assert "1 of 10" in detail["message"] and "batch normalization" in detail["message"]
    after = client.get("/api/runs", params={"limit": 500}).json()
    assert len(after["runs"]) == len(before["runs"])  # nothing was queued
    # the preview of the same data says why: one training sample
    view = client.post("/api/data/preview", json={"dataset": ISSUE_CONFIG["dataset"]}).json()
    assert view["n_train"] == 1 and view["n_val"] == 9


def test_cross_field_rules_name_their_field_not_the_body(client):
    r = client.post("/api/runs", json={"model": {"batch_norm": True}, "training": {"batch_size": 1}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "training.batch_size"
    r = client.post("/api/runs", json={"dataset": {"name": "custom", "points": [[0, 0], [1, 0], [2, 1]]}})
    assert r.status_code == 422
    assert [(d["field"], d["message"]) for d in r.json()["detail"]] == [
        ("dataset.points", "every class needs at least 2 samples")
    ]
    r = client.post("/api/runs", json={"model": {"hidden": [4], "activations": ["relu", "tanh"]}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "model.activations"


@pytest.mark.parametrize("bad", [1e39, -1e39])
def test_custom_values_beyond_float32_are_refused(client, bad):
    pts = [[0.0, 0], [1.0, 0], [2.0, 1], [bad, 1]]
    r = client.post("/api/runs", json={"dataset": {"name": "custom", "points": pts}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "dataset.points"
    assert "row 3" in r.json()["detail"][0]["message"]


@pytest.mark.parametrize(
    "dataset,standardize",
    [
        ({"name": "wine", "n_samples": 40}, True),
        ({"name": "digits", "classes": [3, 8]}, True),
        ({"name": "custom", "points": [[x, 14.62, int(x > 0)] for x in (-3, -2, -1, 1, 2, 3)]}, True),
        ({"name": "moons", "n_samples": 30}, False),
    ],
)
def test_exported_script_preprocesses_exactly_like_the_engine(dataset, standardize):
    cfg = RunConfig.model_validate({"dataset": dataset, "preprocessing": {"standardize": standardize}})
    # the exported script up to its model section: the imports, the copied data code and load_data()
    source = scriptgen.script("x", cfg.model_dump(mode="json")).split("# ---- model")[0]
    ns = {"__name__": "exported"}
    exec(compile(source, "exported", "exec"), ns)
    x_train, y_train, x_val, y_val = ns["load_data"]()
    d = load(cfg.dataset, cfg.preprocessing)
    assert torch.equal(x_train, d.x_train) and torch.equal(x_val, d.x_val)
    assert torch.equal(y_train, d.y_train) and torch.equal(y_val, d.y_val)


def test_a_transfer_source_that_does_not_fit_is_a_422_not_a_failed_run(client):
    from service_helpers import tiny, wait_status

    source = client.post("/api/runs", json=tiny()).json()  # spiral: 2 inputs, 2 classes
    assert wait_status(client, source["id"])["status"] == "completed"
    r = client.post("/api/runs", json=tiny(dataset={"name": "wine"}, transfer={"source": source["id"]}))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "transfer.source" and "[2]" in r.json()["detail"][0]["message"]
    r = client.post(
        "/api/runs",
        json=tiny(
            dataset={"name": "digits", "classes": [0, 1]},
            transfer={"source": "builtin:digits-0-4", "strategy": "continue"},
        ),
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "transfer.strategy"
    assert "5 outputs" in r.json()["detail"][0]["message"] and "needs 2" in r.json()["detail"][0]["message"]
    # the same source and strategy on five classes is admitted
    ok = tiny(
        dataset={"name": "digits", "classes": [5, 6, 7, 8, 9], "per_class": 3},
        transfer={"source": "builtin:digits-0-4", "strategy": "continue"},
    )
    r = client.post("/api/runs", json=ok)
    assert r.status_code == 201, r.text
    assert wait_status(client, r.json()["id"], timeout=120)["status"] == "completed"


def test_per_layer_dropouts_that_do_not_fit_the_transfer_source_name_their_field(client):
    body = {
        "dataset": {"name": "digits"},
        "model": {"hidden": [4, 4], "dropouts": [0.1, 0.2]},
        "transfer": {"source": "builtin:digits-0-4"},
    }
    r = client.post("/api/runs", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == [
        {
            "field": "model.dropouts",
            "message": "needs one entry per hidden layer of the transfer source (1), got 2",
            "type": "source_layers_length",  # the code and values the page words in Spanish
            "ctx": {"n": 1, "got": 2},
        }
    ]
