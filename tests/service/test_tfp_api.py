"""The API side of issue 13: input features and L1 in run configs (422 naming the field), and unit
knock-out in POST /api/runs/{id}/predict."""

from __future__ import annotations

import pytest
from service_helpers import tiny, wait_status


def create(client, config) -> dict:
    r = client.post("/api/runs", json=config)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def feature_run(client) -> dict:
    cfg = tiny(preprocessing={"features": ["x1_squared", "x2_squared"]}, optimizer={"l1": 0.001})
    return wait_status(client, create(client, cfg)["id"])


def test_bad_features_are_422_naming_the_field(client):
    for body in (
        tiny(preprocessing={"features": []}),
        tiny(preprocessing={"features": ["x3"]}),
        tiny(dataset={"name": "wine"}, preprocessing={"features": ["x1_squared"]}),
    ):
        r = client.post("/api/runs", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["field"].startswith("preprocessing.features"), r.json()
    r = client.post("/api/runs", json=tiny(optimizer={"l1": -0.1}))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "optimizer.l1"


def test_catalog_lists_the_new_choices(client):
    cat = client.get("/api/catalog").json()
    assert {"plane", "multi_gauss"} <= set(cat["choices"]["datasets"])
    assert cat["defaults"]["preprocessing"]["features"] == ["x1", "x2"]
    assert cat["defaults"]["optimizer"]["l1"] == 0.0


def test_predict_takes_raw_coordinates_and_knocks_units_out(client, feature_run):
    rid = feature_run["id"]
    intact = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0], [1, -2]]})
    assert intact.status_code == 200, intact.text  # two raw coordinates, whatever the features
    a = intact.json()
    assert a["knockout"] == [] and 0 <= a["val_acc"] <= 1 and a["val_loss"] > 0
    r = client.post(
        f"/api/runs/{rid}/predict",
        json={"inputs": [[0, 0], [1, -2]], "knockout": [{"layer": "fc1", "unit": u} for u in range(4)]},
    )
    b = r.json()
    assert r.status_code == 200, r.text
    assert b["knockout"] == [{"layer": "fc1", "unit": u} for u in range(4)]
    # every hidden unit off: the output is the output layer's bias alone, the same for every input
    assert b["mean"][0] == b["mean"][1] and b["val_loss"] != a["val_loss"]


def test_knockout_is_validated_naming_the_field(client, feature_run):
    rid = feature_run["id"]
    for knockout, field in (
        ([{"layer": "fc9", "unit": 0}], "knockout.0.layer"),
        ([{"layer": "fc1", "unit": 0}, {"layer": "fc1", "unit": 4}], "knockout.1.unit"),
        ([{"layer": "out", "unit": 0}], "knockout.0.layer"),
        ([{"layer": "fc1", "unit": -1}], "knockout.0.unit"),
        ([{"layer": "fc1"}], "knockout.0.unit"),
    ):
        r = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0]], "knockout": knockout})
        assert r.status_code == 422, (knockout, r.text)
        assert r.json()["detail"][0]["field"] == field, (knockout, r.json())


def test_weights_route_edits_a_paused_run_only_and_checks_bounds(client):
    import json

    from service_helpers import wait_for

    run = client.post("/api/runs", json=tiny(training={"epochs": 50}), params={"paused": True}).json()
    rid = run["id"]
    wait_for(lambda: client.get(f"/api/runs/{rid}").json()["status"] == "paused")
    wait_for(lambda: 0 in client.get(f"/api/runs/{rid}/checkpoints").json()["epochs"])
    url = f"/api/runs/{rid}/weights"
    for body, field in (
        ({"layer": "fc7", "index": [0, 0], "value": 1.0}, "layer"),
        ({"layer": "fc1", "index": [4, 0], "value": 1.0}, "index"),  # fc1 has 4 units
        ({"layer": "out", "index": [0, 4, 1], "value": 1.0}, "index"),
    ):
        r = client.post(url, json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["field"].endswith(field), (body, r.text)
    r = client.post(url, json={"layer": "fc1", "index": [2, 1], "value": 1.25})
    assert r.status_code == 200, r.text
    assert client.post(url, json={"layer": "out", "index": [1], "value": -0.5}).status_code == 200

    def edited():  # the markers as stored in SQLite
        m = [json.loads(t) for t in client.app.state.manager.store.markers(rid)]
        return [k for k in m if k["kind"] == "weight_edit"] if len(m) >= 2 else None

    markers = wait_for(lambda: (lambda e: e if e and len(e) == 2 else None)(edited()))
    assert [(m["layer"], m["index"], m["new"]) for m in markers if m["kind"] == "weight_edit"] == [
        ("fc1", [2, 1], 1.25),
        ("out", [1], -0.5),
    ]
    params = client.get(f"/api/runs/{rid}/export", params={"format": "json", "epoch": 0}).json()["parameters"]
    assert params["blocks.fc1.layer.weight"][2][1] == 1.25 and params["out.bias"][1] == -0.5
    client.post(f"/api/runs/{rid}/resume")
    wait_status(client, rid)
    r = client.post(url, json={"layer": "fc1", "index": [0, 0], "value": 1.0})
    assert r.status_code == 409, r.text


def test_weights_as_a_websocket_message(client):
    import json

    from service_helpers import wait_for

    rid = client.post("/api/runs", json=tiny(training={"epochs": 50}), params={"paused": True}).json()["id"]
    wait_status(client, rid, ("paused",))
    with client.websocket_connect(f"/ws/runs/{rid}") as ws:
        assert json.loads(ws.receive_text())["type"] == "snapshot"

        def reply():
            while True:
                m = json.loads(ws.receive_text())
                if m["type"] in ("ack", "error"):
                    return m

        ws.send_text(json.dumps({"type": "weights", "layer": "fc1", "index": [9, 0], "value": 1.0}))
        err = reply()
        assert err["status"] == 422 and err["detail"][0]["field"] == "index"
        ws.send_text(json.dumps({"type": "weights", "layer": "fc1", "index": [0, 0]}))
        assert reply()["field"] == "value"
        ws.send_text(json.dumps({"type": "weights", "layer": "fc1", "index": [1, 0], "value": 0.5}))
        assert reply() == {"type": "ack", "action": "weights", "status": "paused"}
        wait_for(
            lambda: any(json.loads(m)["kind"] == "weight_edit" for m in client.app.state.manager.store.markers(rid))
        )
        ws.send_text(json.dumps({"type": "control", "action": "stop"}))
        assert reply()["type"] == "ack"
        wait_status(client, rid)
        ws.send_text(json.dumps({"type": "weights", "layer": "fc1", "index": [1, 0], "value": 0.5}))
        assert reply()["status"] == 409
