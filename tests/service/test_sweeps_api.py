"""POST /api/sweeps and friends: K variants trained by one worker job as one engine Sweep, each an ordinary
run (metrics, websocket), equal to the engine's Sweep and to the run alone; 422 paths, the variant limit,
pause/step/resume/stop/delete, a diverging variant beside completing ones, and owner-only control."""

from __future__ import annotations

import json
import math
import time

import pytest
from fastapi.testclient import TestClient
from nnplayground.api import create_app
from nnplayground.engine import Trainer
from nnplayground.engine.sweep import Sweep, expand
from nnplayground.service.settings import Settings
from service_helpers import TERMINAL, classroom_server, stream_records, tiny, wait_for

LRS = [0.01, 0.1, 0.5, 1.0]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("sweeps") / "sweeps.db"
    settings = Settings(
        db_path=str(db),
        workers=1,
        slots_per_worker=2,
        max_runs_per_client=2,
        max_sweep_variants=6,
        worker_nice=0,
        allowed_hosts="testserver",
    )
    with TestClient(create_app(settings), headers={"X-Client-Id": "sweeper"}) as c:
        yield c


def sweep_done(client, sweep_id: str, timeout: float = 60) -> dict:
    def check():
        s = client.get(f"/api/sweeps/{sweep_id}").json()
        return s if s["status"] == "finished" else None

    return wait_for(check, timeout)


def metrics(client, run_id: str) -> list[dict]:
    return client.get(f"/api/runs/{run_id}/metrics").json()["epochs"]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)


def test_a_sweep_of_four_trains_each_variant_as_the_engine_and_alone(client):
    base = tiny(training={"epochs": 4})
    vary = {"optimizer.lr": LRS}
    r = client.post("/api/sweeps", json={"base": base, "vary": vary, "mode": "grid"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert len(made["runs"]) == 4 and [v["values"] for v in made["variants"]] == [{"optimizer.lr": x} for x in LRS]
    assert [v["run"] for v in made["variants"]] == made["runs"]
    done = sweep_done(client, made["id"])
    assert [v["status"] for v in done["variants"]] == ["completed"] * 4

    configs = [cfg for _, cfg in expand(base, vary, "grid")]
    engine = Sweep(configs)
    for _ in range(10):
        if engine.done:
            break
        engine.step()
    for k, run_id in enumerate(made["runs"]):
        run = client.get(f"/api/runs/{run_id}").json()  # an ordinary run
        assert run["status"] == "completed" and run["config"]["optimizer"]["lr"] == LRS[k]
        served = metrics(client, run_id)
        assert [m["epoch"] for m in served] == [0, 1, 2, 3, 4]
        alone = Trainer(configs[k])
        lone = [e for e in alone if e["type"] == "epoch"]
        for got, want_sweep, want_alone in zip(served, engine.trainers[k].history, lone, strict=True):
            assert close(got["train_loss"], want_sweep["train_loss"])
            assert close(got["val_loss"], want_sweep["val_loss"])
            assert close(got["val_loss"], want_alone["val_loss"])
        row = done["variants"][k]
        assert close(row["val_loss"], served[-1]["val_loss"]) and row["val_acc"] == served[-1]["val_acc"]
        assert row["best_epoch"] == run["best_epoch"] and row["epochs_run"] == 4
        assert client.get(f"/api/runs/{run_id}/surface").status_code == 200
        assert client.get(f"/api/runs/{run_id}/checkpoints").json()
    assert made["id"] in [s["id"] for s in client.get("/api/sweeps").json()["sweeps"]]
    assert client.get("/api/sweeps", headers={"X-Client-Id": "someone-else"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vary": {"optimizer.lrr": [0.1]}}, "vary.optimizer.lrr"),
        ({"vary": {"optimizer": [0.1]}}, "vary.optimizer"),
        ({"vary": {"optimizer.lr": [0.1, -1]}}, "vary.optimizer.lr"),
        ({"vary": {"optimizer.lr": []}}, "vary.optimizer.lr"),
        ({"vary": {"training.epochs": [10, 10**6]}}, "vary.training.epochs"),  # the server's max_epochs
        ({"vary": {"optimizer.lr": [0.1]}, "base": {"optimizer": {"nme": "sgd"}}}, "base.optimizer.nme"),
        ({"vary": {"optimizer.lr": [0.1, 1], "model.dropout": [0.1]}, "mode": "zip"}, "vary"),
        ({"vary": {"optimizer.lr": [0.1] * 7}}, "vary"),  # max_sweep_variants = 6
        ({"vary": {"optimizer.lr": [0.1] * 3, "training.seed": [1, 2, 3]}}, "vary"),  # 9 > 6 in a grid
        ({"vary": {"optimizer.lr": [0.1]}, "mode": "cross"}, "mode"),
    ],
)
def test_bad_sweeps_are_422_naming_the_path(client, body, field):
    r = client.post("/api/sweeps", json=body)
    assert r.status_code == 422, r.text
    assert field in [d["field"] for d in r.json()["detail"]], r.json()
    assert client.get("/api/sweeps").json()["total"] == len(client.get("/api/sweeps").json()["sweeps"])


def test_pause_step_resume_stop_and_delete(client):
    base = tiny(training={"epochs": 300})
    made = client.post(
        "/api/sweeps", json={"base": base, "vary": {"optimizer.lr": [0.05, 0.1]}}, params={"paused": True}
    )
    assert made.status_code == 201, made.text
    sid, runs = made.json()["id"], made.json()["runs"]
    wait_for(lambda: client.get(f"/api/sweeps/{sid}").json()["status"] == "paused")
    wait_for(lambda: all(len(metrics(client, r)) == 1 for r in runs))
    assert client.post(f"/api/sweeps/{sid}/step").json()["requested"] == "step"
    wait_for(lambda: all(len(metrics(client, r)) == 2 for r in runs))
    time.sleep(0.3)
    assert [len(metrics(client, r)) for r in runs] == [2, 2]  # exactly one epoch of each variant
    assert client.post(f"/api/sweeps/{sid}/resume").json()["status"] == "running"
    wait_for(lambda: len(metrics(client, runs[0])) > 5)
    assert client.post(f"/api/sweeps/{sid}/pause").json()["status"] == "paused"
    time.sleep(0.3)
    n = [len(metrics(client, r)) for r in runs]
    time.sleep(0.3)
    assert [len(metrics(client, r)) for r in runs] == n  # paused: no epochs
    assert client.post(f"/api/sweeps/{sid}/resume").status_code == 200
    # a variant stopped through the runs API ends alone; the other goes on
    assert client.post(f"/api/runs/{runs[0]}/stop").status_code == 200
    wait_for(lambda: client.get(f"/api/runs/{runs[0]}").json()["status"] == "stopped")
    k = len(metrics(client, runs[1]))
    wait_for(lambda: len(metrics(client, runs[1])) > k + 3)
    assert client.get(f"/api/runs/{runs[1]}").json()["status"] == "running"
    stopped = client.post(f"/api/sweeps/{sid}/stop").json()
    assert stopped["requested"] == "stop"
    done = sweep_done(client, sid)
    assert [v["status"] for v in done["variants"]] == ["stopped", "stopped"]
    assert client.post(f"/api/sweeps/{sid}/pause").status_code == 409
    assert client.delete(f"/api/sweeps/{sid}").json()["deleted"] is True
    assert client.get(f"/api/sweeps/{sid}").status_code == 404
    assert all(client.get(f"/api/runs/{r}").status_code == 404 for r in runs)
    assert client.post(f"/api/sweeps/{sid}/stop").status_code == 404


def test_a_diverging_variant_does_not_end_the_others(client):
    base = tiny(
        dataset={"name": "sine", "n_samples": 60},
        preprocessing={"standardize": False},
        optimizer={"name": "sgd"},
        model={"hidden": [32, 32]},
        training={"epochs": 30},
    )
    made = client.post("/api/sweeps", json={"base": base, "vary": {"optimizer.lr": [0.01, 10.0, 0.003]}}).json()
    done = sweep_done(client, made["id"])
    statuses = [v["status"] for v in done["variants"]]
    assert statuses == ["completed", "diverged", "completed"], done["variants"]
    assert "NaN" in done["variants"][1]["message"] or "diverg" in done["variants"][1]["message"]
    assert [v["epochs_run"] for v in done["variants"]][::2] == [30, 30]
    assert all(v["val_r2"] is not None for v in done["variants"][::2])
    json.dumps(client.get(f"/api/runs/{made['runs'][1]}/metrics").json())  # strict JSON, no NaN


def test_a_sweep_counts_as_one_job_against_the_client_limit(client):
    hdr = {"X-Client-Id": "limited"}  # max_runs_per_client = 2
    body = {"base": tiny(training={"epochs": 500}), "vary": {"optimizer.lr": [0.1, 0.2, 0.3]}}
    first = client.post("/api/sweeps", json=body, headers=hdr)
    second = client.post("/api/sweeps", json=body, headers=hdr)
    assert first.status_code == second.status_code == 201  # six runs, two jobs
    third = client.post("/api/sweeps", json=body, headers=hdr)
    assert third.status_code == 429 and "active runs" in third.json()["error"]
    assert client.post("/api/runs", json=tiny(), headers=hdr).status_code == 429
    for s in (first, second):
        client.delete(f"/api/sweeps/{s.json()['id']}", headers=hdr)


def test_a_variant_streams_its_epochs_over_its_websocket(client):
    made = client.post(
        "/api/sweeps",
        json={"base": tiny(training={"epochs": 5}), "vary": {"optimizer.lr": [0.1, 0.3]}},
        params={"paused": True},
    ).json()
    run_id = made["runs"][1]
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        frames = [json.loads(ws.receive_text())]
        assert frames[0]["type"] == "snapshot" and frames[0]["run"]["id"] == run_id
        wait_for(lambda: client.get(f"/api/sweeps/{made['id']}").json()["status"] == "paused")
        client.post(f"/api/sweeps/{made['id']}/resume")
        for _ in range(500):
            frames.append(json.loads(ws.receive_text()))
            if frames[-1]["type"] == "run_end":
                break
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    streamed = stream_records(frames)
    assert [r["epoch"] for r in streamed] == [0, 1, 2, 3, 4, 5]
    assert streamed == metrics(client, run_id)


def test_only_the_owner_or_the_teacher_controls_a_sweep(tmp_path):
    srv = classroom_server(tmp_path, "s3cret", workers=1)
    try:
        http = srv.http

        def student() -> dict:
            return {"Authorization": f"Bearer {http.post('/api/clients').json()['token']}"}

        alice, bob = student(), student()
        body = {"base": tiny(training={"epochs": 2000}), "vary": {"optimizer.lr": [0.1, 0.2]}}
        made = http.post("/api/sweeps", json=body, headers=alice)
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        assert http.post(f"/api/sweeps/{sid}/stop", headers=bob).status_code == 403
        assert http.delete(f"/api/sweeps/{sid}", headers=bob).status_code == 403
        assert http.post(f"/api/runs/{made.json()['runs'][0]}/stop", headers=bob).status_code == 403
        assert http.get("/api/sweeps", headers=bob).json()["total"] == 0
        assert http.get("/api/sweeps", headers=alice).json()["total"] == 1
        teacher = {"Authorization": "Bearer s3cret"}
        assert http.post(f"/api/sweeps/{sid}/stop", headers=teacher).status_code == 200
        wait_for(lambda: all(v["status"] in TERMINAL for v in http.get(f"/api/sweeps/{sid}").json()["variants"]))
        assert http.delete(f"/api/sweeps/{sid}", headers=alice).status_code == 200
    finally:
        srv.stop()
