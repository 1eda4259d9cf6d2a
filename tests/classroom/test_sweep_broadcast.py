"""The teacher broadcasts a sweep: the room's event and `showing` carry the sweep id and its variants' run
ids (run_id is the first), a student's page learns them over the room socket, and a bad request is named."""

from __future__ import annotations

import pytest
from conftest import SECRET
from service_helpers import tiny

TEACHER = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture(scope="module")
def boot(app):
    return app[1]


def test_broadcast_a_sweep_to_the_room(boot):
    code = boot.post("/api/rooms", headers=TEACHER).json()["code"]
    token = boot.post("/api/clients").json()["token"]
    student = {"Authorization": f"Bearer {token}"}
    assert boot.post(f"/api/rooms/{code}/join", json={"name": "Ana"}, headers=student).status_code == 200
    body = {"base": tiny(training={"epochs": 2}), "vary": {"optimizer.lr": [0.01, 0.1, 1.0]}}
    sweep = boot.post("/api/sweeps", json=body, headers=TEACHER)
    assert sweep.status_code == 201, sweep.text
    sid, runs = sweep.json()["id"], sweep.json()["runs"]
    with boot.websocket_connect(f"/ws/rooms/{code}", headers=student) as ws:
        assert ws.receive_json()["type"] == "room"
        r = boot.post(f"/api/rooms/{code}/broadcast", json={"sweep_id": sid}, headers=TEACHER)
        assert r.status_code == 200, r.text
        showing = r.json()["showing"]
        assert showing["sweep_id"] == sid and showing["runs"] == runs and showing["run_id"] == runs[0]
        for _ in range(20):
            event = ws.receive_json()
            if event["type"] == "broadcast":
                break
        assert event["sweep_id"] == sid and event["runs"] == runs and event["run_id"] == runs[0]
    assert boot.get(f"/api/rooms/{code}", headers=student).json()["showing"]["runs"] == runs
    # students cannot broadcast; an unknown sweep is 404; a run and a sweep at once is 422 naming sweep_id
    assert boot.post(f"/api/rooms/{code}/broadcast", json={"sweep_id": sid}, headers=student).status_code == 403
    assert boot.post(f"/api/rooms/{code}/broadcast", json={"sweep_id": "nosuch"}, headers=TEACHER).status_code == 404
    both = boot.post(f"/api/rooms/{code}/broadcast", json={"sweep_id": sid, "run_id": runs[0]}, headers=TEACHER)
    assert both.status_code == 422 and both.json()["detail"][0]["field"] == "sweep_id"
    # a plain run broadcast carries no sweep fields; null stops showing
    plain = boot.post(f"/api/rooms/{code}/broadcast", json={"run_id": runs[1]}, headers=TEACHER).json()["showing"]
    assert plain["run_id"] == runs[1] and "sweep_id" not in plain
    assert boot.post(f"/api/rooms/{code}/broadcast", json={"run_id": None}, headers=TEACHER).json()["showing"] is None
