"""The websocket protocol through the in-process app: snapshot, live events, reconnect with
?since, control messages, error frames, and the list-level stream."""

from __future__ import annotations

import json

from service_helpers import stream_records, tiny, wait_status


def frames_until_end(ws, limit: int = 500) -> list[dict]:
    out = []
    for _ in range(limit):
        msg = json.loads(ws.receive_text())
        out.append(msg)
        if msg["type"] == "run_end" or (
            msg["type"] == "snapshot" and msg["run"]["status"] not in ("queued", "running", "paused")
        ):
            return out
        if msg["type"] == "coalesced" and any(e.get("type") == "run_end" for e in msg["events"]):
            return out
    raise AssertionError("no run_end")


def test_watch_a_run_live(client):
    run = client.post("/api/runs", json=tiny(training={"epochs": 6}), params={"paused": "true"}).json()
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        snap = json.loads(ws.receive_text())
        assert snap["type"] == "snapshot" and snap["run"]["id"] == run["id"]
        wait_status(client, run["id"], ("paused",))
        client.post(f"/api/runs/{run['id']}/resume")
        frames = [snap, *frames_until_end(ws)]
    kinds = {f["type"] for f in frames}
    assert {"snapshot", "epoch", "histograms", "surface", "run_end", "status"} <= kinds
    streamed = stream_records(frames)
    stored = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert streamed == stored


def test_snapshot_and_reconnect_since(client):
    run = client.post("/api/runs", json=tiny(training={"epochs": 5})).json()
    wait_status(client, run["id"])
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        snap = json.loads(ws.receive_text())
    assert [e["epoch"] for e in snap["epochs"]] == [0, 1, 2, 3, 4, 5]
    assert snap["run"]["status"] == "completed" and snap["histograms"] and snap["surfaces"]
    assert any(m["kind"] == "best" for m in snap["markers"])
    with client.websocket_connect(f"/ws/runs/{run['id']}?since=3") as ws:
        snap = json.loads(ws.receive_text())
    assert [e["epoch"] for e in snap["epochs"]] == [4, 5]
    assert [h["epoch"] for h in snap["histograms"]] == [4, 5]
    assert all(m["epoch"] > 3 for m in snap["markers"])


def test_control_and_error_frames(client):
    run = client.post("/api/runs", json=tiny(training={"epochs": 100}), params={"paused": "true"}).json()
    wait_status(client, run["id"], ("paused",))
    with client.websocket_connect(f"/ws/runs/{run['id']}") as ws:
        assert json.loads(ws.receive_text())["type"] == "snapshot"

        def reply():  # the next frame that answers a client message
            while True:
                m = json.loads(ws.receive_text())
                if m["type"] in ("ack", "error", "pong"):
                    return m

        ws.send_text("not json")
        assert reply()["type"] == "error"
        ws.send_text(json.dumps([1, 2]))
        assert reply()["type"] == "error"
        ws.send_text(json.dumps({"type": "dance"}))
        err = reply()  # an answer never echoes the client's data (issue 10.4)
        assert err[
            "message"
        ] == "unknown message type; expected ping, control or weights" and "dance" not in json.dumps(err)
        ws.send_text(json.dumps({"type": "ping", "id": "x" * 65}))
        assert reply() == {"type": "error", "message": "a ping id is a number or a string of at most 64 characters"}
        ws.send_text(json.dumps({"type": "control", "action": "explode"}))
        assert reply()["type"] == "error"
        ws.send_text(json.dumps({"type": "control", "action": "speed", "epochs_per_second": "fast"}))
        assert reply()["type"] == "error"
        ws.send_text("x" * 70000)
        assert "larger" in reply()["message"]
        ws.send_text(json.dumps({"type": "control", "action": "resume"}))
        assert reply() == {"type": "ack", "action": "resume", "status": "running"}
        ws.send_text(json.dumps({"type": "control", "action": "resume"}))
        err = reply()
        assert err["type"] == "error" and err["status"] == 409
        ws.send_text(json.dumps({"type": "ping", "id": 7}))
        assert reply() == {"type": "pong", "id": 7}  # still open after all those errors
        ws.send_text(json.dumps({"type": "control", "action": "stop"}))
        assert reply()["type"] == "ack"
    assert wait_status(client, run["id"])["status"] == "stopped"


def test_unknown_run_and_bad_since(client):
    with client.websocket_connect("/ws/runs/nosuchrun") as ws:
        msg = json.loads(ws.receive_text())
        assert msg["type"] == "error" and msg["status"] == 404
    run = client.post("/api/runs", json=tiny()).json()
    wait_status(client, run["id"])
    with client.websocket_connect(f"/ws/runs/{run['id']}?since=abc") as ws:
        assert json.loads(ws.receive_text())["type"] == "error"
        assert json.loads(ws.receive_text())["type"] == "snapshot"


def test_list_stream(client):
    with client.websocket_connect("/ws/runs") as ws:
        first = json.loads(ws.receive_text())
        assert first["type"] == "runs" and "total" in first
        run = client.post("/api/runs", json=tiny()).json()
        seen = []
        while True:
            m = json.loads(ws.receive_text())
            seen.append(m)
            if m["type"] == "status" and m["id"] == run["id"] and m["status"] == "completed":
                break
        assert any(m["type"] == "run_created" and m["run"]["id"] == run["id"] for m in seen)
        client.delete(f"/api/runs/{run['id']}")
        while (m := json.loads(ws.receive_text()))["type"] != "run_deleted":
            pass
        assert m["id"] == run["id"]
