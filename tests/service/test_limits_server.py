"""Server limits through a real single-user `nnplayground serve` (issue 10, items 1, 7, 8, 12): speeds
below `min_speed` are a 422 on every path that sets one and the worker survives; predictions and
landscapes have budgets; an epoch's estimated cost is bounded; a stop and the wall-time cap reach a
run in the middle of a long epoch, and the cap's message is the one the run keeps."""

from __future__ import annotations

import json

import pytest
from service_helpers import Server, tiny, wait_for, wait_status
from websockets.sync.client import connect

# one epoch of 10,000 single-sample steps: seconds long on any machine
LONG_EPOCHS = {
    "dataset": {"n_samples": 20000},
    "training": {"epochs": 5, "batch_size": 1},
    "telemetry": {"enabled": False},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("limits") / "limits.db"
    env = {"NNPLAYGROUND_MAX_RUN_SECONDS": "3", "NNPLAYGROUND_MAX_EPOCH_COST": "0"}  # LONG_EPOCHS admitted
    s = Server(db, workers=1, env=env).start()
    yield s
    s.stop()


def test_speeds_below_the_minimum_are_refused_everywhere(server):
    http = server.http
    r = http.post("/api/runs?speed=1e-12", json=tiny())
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "query.speed"
    slow = http.post("/api/runs?speed=0.01", json=tiny(training={"epochs": 2000}))  # the minimum itself
    assert slow.status_code == 201
    run_id = slow.json()["id"]
    r = http.post(f"/api/runs/{run_id}/speed", json={"epochs_per_second": 4e-7})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "epochs_per_second"
    with connect(f"{server.ws_base}/ws/runs/{run_id}") as ws:
        assert json.loads(ws.recv())["type"] == "snapshot"
        ws.send(json.dumps({"type": "control", "action": "speed", "epochs_per_second": 1e-12}))
        frame = wait_for(lambda: next((f for f in [json.loads(ws.recv(timeout=10))] if f["type"] == "error"), None))
        assert frame["status"] == 422 and "0.01" in frame["message"]
    assert http.post(f"/api/runs/{run_id}/stop").status_code == 200
    # the worker lived through all of it: a run completes on it, and it was never replaced
    done = wait_status(http, http.post("/api/runs", json=tiny()).json()["id"])
    assert done["status"] == "completed"
    assert http.get("/api/health").json()["workers"]["replaced"] == 0


def test_heavy_requests_have_budgets(server):
    http = server.http
    run = wait_status(http, http.post("/api/runs", json=tiny(model={"hidden": [4], "dropout": 0.2})).json()["id"])
    r = http.post(f"/api/runs/{run['id']}/predict", json={"inputs": [[0.1, 0.2]] * 10000, "mc_samples": 100})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "mc_samples"
    # with a code and its values, so the page words it in the student's language
    (d,) = r.json()["detail"]
    assert (d["type"], d["ctx"]) == ("predict_passes", {"n": 10000, "passes": 100, "total": 1_000_000, "max": 100_000})
    ok = http.post(f"/api/runs/{run['id']}/predict", json={"inputs": [[0.1, 0.2]] * 1600, "mc_samples": 20})
    assert ok.status_code == 200 and len(ok.json()["std"]) == 1600  # the page's MC-dropout grid fits
    big = {"steps": 5000, "optimizers": [{"name": "adam", "lr": 0.01}] * 8, "grid": 200}
    r = http.post("/api/landscape", json=big)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "steps"
    (d,) = r.json()["detail"]
    assert (d["type"], d["ctx"]) == ("landscape_steps", {"steps": 5000, "optimizers": 8, "total": 40000, "max": 10000})
    lab = {"steps": 2000, "optimizers": [{"name": "sgd", "lr": 0.001}] * 5, "grid": 120}  # the lab's largest
    assert http.post("/api/landscape", json=lab).status_code == 200


def test_a_stop_within_a_long_epoch(server):
    http = server.http
    run_id = http.post("/api/runs", json=LONG_EPOCHS).json()["id"]
    wait_status(http, run_id, ("running",))
    assert http.post(f"/api/runs/{run_id}/stop").status_code == 200
    run = wait_status(http, run_id, timeout=60)
    assert run["status"] == "stopped" and run["message"] == "stopped by the user"
    assert run["epochs_run"] == 0  # epoch 1 was cut short instead of finished first
    assert run["has_final_model"]


def test_the_wall_time_cap_keeps_its_message(server):
    http = server.http
    run_id = http.post("/api/runs", json=LONG_EPOCHS).json()["id"]
    run = wait_status(http, run_id, timeout=60)
    assert run["status"] == "stopped"
    assert run["message"] == "stopped: wall-time cap of 3 s reached"
    assert run["summary"]["message"] == "stopped: wall-time cap of 3 s reached"
    # checked every 2 s and honoured within the epoch: well before the first epoch would end
    assert run["finished_at"] - run["started_at"] < 3 + 2 + 3
