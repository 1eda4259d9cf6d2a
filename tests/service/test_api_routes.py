"""Every REST route through the in-process app, including the 404/409/413/422/429 answers."""

from __future__ import annotations

import ast
import io
import json
import time

import pytest
import torch
from service_helpers import tiny, wait_for, wait_status


def create(client, config=None, headers=None, **params) -> dict:
    r = client.post("/api/runs", json=config if config is not None else tiny(), params=params, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def done_run(client) -> dict:
    run = create(client)
    return wait_status(client, run["id"])


def test_health(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok"
    assert h["workers"]["workers"] == 1 and h["workers"]["slots"] == 2
    assert h["queue"]["bound"] == 2
    assert h["limits"]["max_epochs"] == 400


def test_index_page(client):
    r = client.get("/")
    assert r.status_code == 200 and "nnplayground" in r.text and "text/html" in r.headers["content-type"]


def test_catalog_serves_the_status_and_action_vocabulary(client):
    """The one list of statuses and of control actions (engine/status.py) reaches the browser here, and
    the controls the REST routes and the websocket accept are exactly those actions."""
    cat = client.get("/api/catalog").json()
    assert cat["statuses"] == {
        "all": [
            "queued",
            "running",
            "paused",
            "completed",
            "early_stopped",
            "diverged",
            "stopped",
            "failed",
            "interrupted",
        ],
        "active": ["queued", "running", "paused"],
        "terminal": ["completed", "early_stopped", "diverged", "stopped", "failed", "interrupted"],
    }
    assert cat["actions"] == {
        "pause": ["running", "queued"],
        "resume": ["paused", "queued"],
        "step": ["paused"],
        "stop": ["queued", "running", "paused"],
        "speed": ["queued", "running", "paused"],
    }
    paths = client.get("/openapi.json").json()["paths"]
    assert {a for a in cat["actions"] if f"/api/runs/{{run_id}}/{a}" in paths} == set(cat["actions"])
    rid = client.post("/api/runs", json={"training": {"epochs": 400}, "dataset": {"n_samples": 60}}).json()["id"]
    try:
        r = client.post(f"/api/runs/{rid}/step")  # queued or running: step is allowed only when paused
        assert r.status_code == 409 and r.json()["error"].startswith("cannot step a run that is ")
    finally:
        client.post(f"/api/runs/{rid}/stop")


def test_catalog_is_generated_from_the_config_models(client):
    from nnplayground.api.routes.catalog import REGULARIZERS
    from nnplayground.engine.config import OptimizerConfig, RunConfig

    cat = client.get("/api/catalog").json()
    assert cat["choices"]["optimizers"] == list(OptimizerConfig.model_fields["name"].annotation.__args__)
    assert set(cat["choices"]) >= {"datasets", "activations", "initializers", "optimizers", "schedules"}
    lr = cat["sections"]["optimizer"]["fields"]["lr"]
    assert lr == {**lr, "kind": "float", "gt": 0.0, "max": 10.0, "default": 0.03}
    assert cat["sections"]["model"]["fields"]["hidden"]["items"]["max"] == 256
    assert cat["sections"]["transfer"]["optional"] is True
    for key, paths in REGULARIZERS.items():
        assert cat["regularizers"][key], key
        for path in paths:
            if not path.endswith("*"):
                assert path in cat["regularizers"][key]
    assert cat["defaults"] == RunConfig().model_dump(mode="json")
    assert cat["limits"]["max_params"] > 0


def test_presets(client):
    from nnplayground.engine import presets

    listed = client.get("/api/presets").json()["presets"]
    assert [p["name"] for p in listed] == presets.names()
    one = client.get(f"/api/presets/{listed[0]['name']}").json()
    assert one["en"] and one["es"] and one["config"]["training"]["epochs"] >= 1
    r = client.get("/api/presets/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]


def test_presets_serve_their_claims_and_a_lesson_run_reports_them(client):
    from nnplayground.engine import presets

    one = client.get("/api/presets/zero-init").json()
    assert one["config"]["lesson"] == "zero-init"
    ids = {c["id"]: c for c in one["claims"]}
    assert ids["units-stay-copies"]["scope"] == "run" and ids["units-stay-copies"]["op"] == "<="
    assert ids["xavier-learns"]["scope"] == "compare" and ids["xavier-learns"]["against"] == "try"
    # the lesson's run-scope claims, measured on this (shortened) run of the lesson
    cfg = presets.config("zero-init").model_dump(mode="json")
    cfg["training"]["epochs"] = 3
    run = wait_status(client, create(client, cfg)["id"], timeout=120)
    got = run["summary"]["claims"]
    assert [c["id"] for c in got] == [c["id"] for c in one["claims"] if c["scope"] == "run"]
    spread = got[0]
    assert spread["holds"] is True and spread["measured"] <= 1e-6 and "every unit is a copy" in spread["en"]
    # the same run with xavier: the claim is reported, honestly not holding, with its figure
    cfg["init"]["scheme"] = "xavier"
    got = wait_status(client, create(client, cfg)["id"], timeout=120)["summary"]["claims"]
    assert got[0]["holds"] is False and got[0]["measured"] > 0.1
    # free play: no lesson, no claims; an unknown lesson is a field error
    assert wait_status(client, create(client)["id"], timeout=120)["summary"]["claims"] == []
    r = client.post("/api/runs", json=tiny(lesson="nope"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "lesson"


def test_create_validation_errors_are_field_level(client):
    r = client.post("/api/runs", json={"optimizer": {"lr": -1}, "model": {"hidden": [4, 999]}})
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["detail"]}
    assert {"optimizer.lr", "model.hidden.1"} <= fields
    r = client.post("/api/runs", json={"optimizer": {"learning_rate": 0.1}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "optimizer.learning_rate"
    r = client.post("/api/runs", json={"model": {"arch": "cnn"}})
    assert r.status_code == 422 and "CNN" in r.json()["detail"][0]["message"]
    r = client.post("/api/runs", json={"training": {"epochs": 401}})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "training.epochs"
    r = client.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]
    r = client.post("/api/runs", json=tiny(), params={"speed": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "query.speed"


def test_body_limit(client):
    big = {"dataset": {"name": "custom", "points": [[0.123456789, 0.123456789, 1]] * 10000}}
    r = client.post("/api/runs", json=big)
    assert r.status_code == 413 and "bytes" in r.json()["error"]


def test_run_lifecycle_and_views(client, done_run):
    rid = done_run["id"]
    assert done_run["status"] == "completed"
    assert done_run["summary"]["epochs_run"] == 3 and "best_epoch" in done_run["summary"]
    assert done_run["model"]["n_params"] > 0 and done_run["has_final_model"]
    listed = client.get("/api/runs", params={"status": "completed"}).json()
    assert rid in [r["id"] for r in listed["runs"]] and listed["total"] >= 1
    assert client.get("/api/runs", params={"status": "bogus"}).status_code == 422
    page = client.get("/api/runs", params={"limit": 1, "offset": 0}).json()
    assert len(page["runs"]) == 1

    epochs = client.get(f"/api/runs/{rid}/metrics").json()["epochs"]
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    assert {"train_loss", "val_loss", "lr", "grad_norm", "epoch_time"} <= set(epochs[1])
    later = client.get(f"/api/runs/{rid}/metrics", params={"since": 1}).json()["epochs"]
    assert later == epochs[2:]

    h = client.get(f"/api/runs/{rid}/histograms", params={"epoch": 2}).json()
    assert h["type"] == "histograms" and h["epoch"] == 2 and "fc1" in h["layers"]
    assert client.get(f"/api/runs/{rid}/histograms").json()["epoch"] == 3
    s = client.get(f"/api/runs/{rid}/surface", params={"epoch": 1}).json()
    assert s["kind"] == "decision" and len(s["values"]) == 64
    cp = client.get(f"/api/runs/{rid}/checkpoints").json()
    assert cp["epochs"] == [0, 1, 2, 3] and cp["final"] is True


def test_predict(client, done_run):
    rid = done_run["id"]
    r = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0], [1, -2]]})
    out = r.json()
    assert r.status_code == 200 and len(out["mean"]) == 2 and len(out["mean"][0]) == 2
    assert abs(sum(out["mean"][0]) - 1) < 1e-4 and out["std"] == [[0.0, 0.0], [0.0, 0.0]]
    first = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0]], "epoch": 0}).json()
    assert first["epoch"] == 0 and first["mean"][0] != out["mean"][0]
    r = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0, 0]]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "inputs.0"
    r = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0]] * 51})
    assert r.status_code == 422
    r = client.post(f"/api/runs/{rid}/predict", json={"inputs": [[0, 0]], "mc_samples": 101})
    assert r.status_code == 422


def test_mc_dropout_predict(client):
    run = create(client, tiny(model={"dropout": 0.5, "hidden": [16]}))
    wait_status(client, run["id"])
    out = client.post(f"/api/runs/{run['id']}/predict", json={"inputs": [[0.5, 0.5]], "mc_samples": 20}).json()
    assert out["std"][0][0] > 0


def test_exports(client, done_run):
    rid = done_run["id"]
    r = client.get(f"/api/runs/{rid}/export", params={"format": "state_dict"})
    state = torch.load(io.BytesIO(r.content), weights_only=True)
    assert r.status_code == 200 and "out.weight" in state
    r = client.get(f"/api/runs/{rid}/export", params={"format": "json", "epoch": 0})
    params = r.json()["parameters"]
    assert list(params) == list(state) and r.headers["x-checkpoint-epoch"] == "0"
    assert params["out.weight"] != state["out.weight"].tolist()  # epoch 0 = initial weights, not final
    r = client.get(f"/api/runs/{rid}/export", params={"format": "torchscript"})
    scripted = torch.jit.load(io.BytesIO(r.content))
    assert scripted(torch.zeros(1, 2)).shape == (1, 2)
    r = client.get(f"/api/runs/{rid}/export", params={"format": "csv"})
    lines = r.text.splitlines()
    assert lines[0].startswith("epoch,train_loss") and len(lines) == 5 and "grad_norm.fc1" in lines[0]
    r = client.get(f"/api/runs/{rid}/export", params={"format": "python"})
    ast.parse(r.text)
    assert (
        "def load_data" in r.text
        and "nnplayground" not in r.text.split('"""', 2)[2].replace("nnplayground run", "").split("CONFIG")[0]
    )
    assert client.get(f"/api/runs/{rid}/export", params={"format": "exe"}).status_code == 422
    assert client.get(f"/api/runs/{rid}/export", params={"epoch": 99}).status_code == 404


def test_unknown_run_is_404_everywhere(client):
    for method, path in [
        ("get", ""),
        ("delete", ""),
        ("post", "/pause"),
        ("post", "/resume"),
        ("post", "/step"),
        ("post", "/stop"),
        ("get", "/metrics"),
        ("get", "/histograms"),
        ("get", "/surface"),
        ("get", "/checkpoints"),
        ("get", "/export"),
    ]:
        r = getattr(client, method)(f"/api/runs/nosuchrun{path}")
        assert r.status_code == 404, (method, path, r.text)
        assert "nosuchrun" in r.json()["error"]
    r = client.post("/api/runs/nosuchrun/predict", json={"inputs": [[0, 0]]})
    assert r.status_code == 404
    r = client.post("/api/runs/nosuchrun/speed", json={"epochs_per_second": 1})
    assert r.status_code == 404
    assert client.get("/api/nothing").status_code == 404


def test_impossible_transitions_are_409(client, done_run):
    rid = done_run["id"]
    for action in ("pause", "resume", "step", "stop"):
        r = client.post(f"/api/runs/{rid}/{action}")
        assert r.status_code == 409 and "completed" in r.json()["error"], action
    assert client.post(f"/api/runs/{rid}/speed", json={"epochs_per_second": 2}).status_code == 409


def test_pause_step_resume_stop(client):
    run = create(client, tiny(training={"epochs": 200}), paused="true")
    rid = run["id"]
    wait_status(client, rid, ("paused",))
    metrics = lambda: client.get(f"/api/runs/{rid}/metrics").json()["epochs"]  # noqa: E731
    wait_for(lambda: len(metrics()) == 1)
    assert client.post(f"/api/runs/{rid}/resume").json()["status"] == "running"
    assert client.post(f"/api/runs/{rid}/pause").json()["status"] == "paused"
    time.sleep(0.3)
    n = len(metrics())
    assert client.post(f"/api/runs/{rid}/step").status_code == 200
    wait_for(lambda: len(metrics()) == n + 1)
    time.sleep(0.3)
    assert len(metrics()) == n + 1  # exactly one epoch
    assert client.get(f"/api/runs/{rid}").json()["status"] == "paused"
    assert client.post(f"/api/runs/{rid}/speed", json={"epochs_per_second": 5}).json()["speed"] == 5
    assert client.post(f"/api/runs/{rid}/speed", json={"epochs_per_second": -1}).status_code == 422
    assert client.post(f"/api/runs/{rid}/resume").status_code == 200
    t0, e0 = time.monotonic(), len(metrics())
    time.sleep(1.0)
    rate = (len(metrics()) - e0) / (time.monotonic() - t0)
    assert rate <= 8, rate  # throttled to about 5 epochs/s
    assert client.post(f"/api/runs/{rid}/stop").status_code == 200
    final = wait_status(client, rid)
    assert final["status"] == "stopped" and final["summary"]["message"]


def test_queue_positions_and_429(client):
    hdr = [{"X-Client-Id": f"q{i}"} for i in range(6)]
    slow = tiny(training={"epochs": 300})
    held = [create(client, slow, headers=hdr[i], paused="true") for i in range(2)]  # fill both slots
    for run in held:
        wait_status(client, run["id"], ("paused",))
    queued = [create(client, slow, headers=hdr[2 + i]) for i in range(2)]
    assert [q["status"] for q in queued] == ["queued", "queued"]
    assert [q["position"] for q in queued] == [1, 2]
    r = client.post("/api/runs", json=slow, headers=hdr[4])
    assert r.status_code == 429 and "busy" in r.json()["error"]
    # stopping a queued run takes it out of the queue and moves the next one up
    assert client.post(f"/api/runs/{queued[0]['id']}/stop").json()["status"] == "stopped"
    assert client.get(f"/api/runs/{queued[1]['id']}").json()["position"] == 1
    # a queued run can be paused (it starts paused when it gets a worker) and resumed while it waits
    qid = queued[1]["id"]
    assert client.post(f"/api/runs/{qid}/resume").status_code == 409  # queued, not paused
    for action in ("pause", "resume", "pause"):
        r = client.post(f"/api/runs/{qid}/{action}")
        assert r.status_code == 200 and r.json()["status"] == "queued", action
    assert client.post(f"/api/runs/{qid}/step").status_code == 409
    client.delete(f"/api/runs/{held[0]['id']}")  # frees a slot: the queued run starts, paused
    assert wait_status(client, qid, ("paused", "running", "completed"))["status"] == "paused"
    time.sleep(0.3)
    assert client.get(f"/api/runs/{qid}").json()["epochs_run"] == 0  # it waits after epoch 0
    assert client.post(f"/api/runs/{qid}/resume").json()["status"] == "running"
    for run in (held[1], queued[1]):
        client.post(f"/api/runs/{run['id']}/stop")
        wait_status(client, run["id"])


def test_per_client_limit_is_429(client):
    hdr = {"X-Client-Id": "greedy"}
    runs = [create(client, tiny(training={"epochs": 300}), headers=hdr, paused="true") for _ in range(2)]
    runs.append(create(client, tiny(training={"epochs": 300}), headers=hdr, speed=1))
    r = client.post("/api/runs", json=tiny(), headers=hdr)
    assert r.status_code == 429 and "active runs" in r.json()["error"]
    assert client.post("/api/runs", json=tiny(), headers={"X-Client-Id": "other"}).status_code in (201, 429)
    for run in runs:
        client.delete(f"/api/runs/{run['id']}")


def test_delete(client):
    run = create(client)
    wait_status(client, run["id"])
    assert client.delete(f"/api/runs/{run['id']}").json() == {"id": run["id"], "deleted": True}
    assert client.get(f"/api/runs/{run['id']}").status_code == 404
    assert client.get(f"/api/runs/{run['id']}/metrics").status_code == 404


def test_transfer_from_a_run(client, done_run):
    r = client.post("/api/runs", json=tiny(transfer={"source": done_run["id"], "strategy": "freeze_features"}))
    assert r.status_code == 201, r.text
    run = wait_status(client, r.json()["id"])
    assert run["status"] == "completed" and run["model"]["frozen"] == ["fc1"]
    frozen_before = client.get(f"/api/runs/{done_run['id']}/export", params={"format": "json"}).json()
    frozen_after = client.get(f"/api/runs/{run['id']}/export", params={"format": "json"}).json()
    assert (
        frozen_after["parameters"]["blocks.fc1.layer.weight"] == frozen_before["parameters"]["blocks.fc1.layer.weight"]
    )
    r = client.post("/api/runs", json=tiny(transfer={"source": "nosuchrun"}))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "transfer.source"


def test_diverged_run(client):
    cfg = tiny(
        dataset={"name": "sine", "n_samples": 60},
        preprocessing={"standardize": False},
        optimizer={"name": "sgd", "lr": 10.0},
        model={"hidden": [32, 32]},
        training={"epochs": 50},
    )
    run = wait_status(client, create(client, cfg)["id"])
    assert run["status"] == "diverged" and "NaN" in run["message"]
    json.dumps(client.get(f"/api/runs/{run['id']}/metrics").json())  # strict JSON, no NaN


def test_list_only_my_runs(client):
    mine = client.post("/api/runs", json=tiny(), headers={"X-Client-Id": "alice"}).json()["id"]
    other = client.post("/api/runs", json=tiny(), headers={"X-Client-Id": "bob"}).json()["id"]
    listed = client.get("/api/runs?mine=true&limit=500", headers={"X-Client-Id": "alice"}).json()["runs"]
    ids = {r["id"] for r in listed}
    assert mine in ids and other not in ids
    everyone = {r["id"] for r in client.get("/api/runs?limit=500").json()["runs"]}
    assert {mine, other} <= everyone
