"""End to end against the real server (`nnplayground serve` in a subprocess): streaming equals the
stored metrics, a killed worker fails only its run, a restart keeps history and marks active runs
interrupted, and a viewer that never reads slows nobody."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import time

import pytest
from service_helpers import Server, stream_records, tiny, wait_for, wait_status
from websockets.sync.client import connect

pytestmark = pytest.mark.slow


def watch(server: Server, run_id: str, timeout: float = 60) -> list[dict]:
    """Read a run's websocket until run_end; returns every frame."""
    frames = []
    with connect(f"{server.ws_base}/ws/runs/{run_id}", open_timeout=10, max_size=None) as ws:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = json.loads(ws.recv(timeout=timeout))
            frames.append(msg)
            if msg["type"] == "run_end":
                break
            if msg["type"] == "snapshot" and msg["run"]["status"] not in ("queued", "running", "paused"):
                break
            if msg["type"] == "coalesced" and any(e["type"] == "run_end" for e in msg["events"]):
                break
    return frames


def test_stream_equals_metrics(server):
    http = server.http
    run = http.post("/api/runs", json=tiny(training={"epochs": 20}), params={"paused": "true"}).json()
    wait_status(http, run["id"], ("paused",))
    import threading

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("frames", watch(server, run["id"])))
    t.start()
    time.sleep(0.3)
    http.post(f"/api/runs/{run['id']}/resume")
    t.join(60)
    frames = result["frames"]
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    records = stream_records(frames)
    assert [r["epoch"] for r in records] == list(range(21))
    assert records == http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]


def test_a_class_arriving_mid_run_sees_every_epoch_once(server):
    """Viewers who connect together share snapshot reads: each still gets every epoch exactly once,
    the ones before it arrived from the snapshot and the rest live."""
    from concurrent.futures import ThreadPoolExecutor

    http = server.http
    run = http.post("/api/runs", json=tiny(training={"epochs": 60}), params={"speed": 30}).json()
    wait_for(lambda: http.get(f"/api/runs/{run['id']}").json()["epochs_run"] >= 5, 30)

    def arrive(i: int) -> list[dict]:  # spread over ~0.4 s: some share a read, some arrive during one
        time.sleep(i * 0.015)
        return watch(server, run["id"])

    with ThreadPoolExecutor(24) as pool:
        streams = list(pool.map(arrive, range(24)))
    stored = http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [r["epoch"] for r in stored] == list(range(61))
    for frames in streams:
        assert frames[0]["type"] == "snapshot" and frames[0]["epochs"]  # arrived mid-run
        assert stream_records(frames) == stored


def test_killed_worker_fails_its_run_and_the_pool_recovers(server):
    http = server.http
    victim = http.post("/api/runs", json=tiny(training={"epochs": 1000}), params={"speed": 20}).json()
    pid = wait_for(lambda: http.get(f"/api/runs/{victim['id']}").json()["worker_pid"], 30)
    wait_for(lambda: http.get(f"/api/runs/{victim['id']}").json()["epochs_run"] >= 2, 30)
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    failed = wait_status(http, victim["id"], timeout=10)
    assert failed["status"] == "failed" and "SIGKILL" in failed["message"]
    assert time.monotonic() - t0 < 5
    assert http.get(f"/api/runs/{victim['id']}/metrics").json()["epochs"]  # its history stays
    health = wait_for(lambda: (h := http.get("/api/health").json())["workers"]["alive"] == 2 and h, 30)
    assert health["workers"]["replaced"] == 1 and pid not in health["workers"]["pids"]
    others = [http.post("/api/runs", json=tiny(training={"epochs": 5})).json() for _ in range(3)]
    for run in others:
        assert wait_status(http, run["id"], timeout=60)["status"] == "completed"


def test_restart_keeps_history_and_interrupts_active_runs(tmp_path):
    db = tmp_path / "restart.db"
    first = Server(db).start()
    try:
        done = first.http.post("/api/runs", json=tiny(training={"epochs": 8})).json()
        wait_status(first.http, done["id"])
        history = first.http.get(f"/api/runs/{done['id']}/metrics").json()
        active = first.http.post("/api/runs", json=tiny(training={"epochs": 2000}), params={"speed": 20}).json()
        wait_for(lambda: first.http.get(f"/api/runs/{active['id']}").json()["epochs_run"] >= 3, 30)
    finally:
        first.stop()
    second = Server(db).start()
    try:
        http = second.http
        again = http.get(f"/api/runs/{done['id']}").json()
        assert again["status"] == "completed"
        assert http.get(f"/api/runs/{done['id']}/metrics").json() == history
        assert http.post(f"/api/runs/{done['id']}/predict", json={"inputs": [[0, 0]]}).status_code == 200
        interrupted = http.get(f"/api/runs/{active['id']}").json()
        assert interrupted["status"] == "interrupted" and interrupted["message"]
        assert len(http.get(f"/api/runs/{active['id']}/metrics").json()["epochs"]) >= 4
        assert http.post(f"/api/runs/{active['id']}/resume").status_code == 409
    finally:
        second.stop()


def _stalled_viewer(server: Server, run_id: str) -> socket.socket:
    """A websocket client that completes the handshake and then never reads a byte."""
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET /ws/runs/{run_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return s


def test_a_viewer_that_never_reads_slows_nobody(server):
    http = server.http
    heavy = tiny(
        training={"epochs": 60},
        telemetry={"surface_resolution": 128, "histogram_every": 1, "bins": 100},
        model={"hidden": [32, 32, 32]},
    )

    def timed_run(stalled: bool) -> tuple[float, list[dict]]:
        run = http.post("/api/runs", json=heavy, params={"paused": "true"}).json()
        wait_status(http, run["id"], ("paused",))
        sockets = [_stalled_viewer(server, run["id"]) for _ in range(3)] if stalled else []
        import threading

        result = {}
        t = threading.Thread(target=lambda: result.setdefault("frames", watch(server, run["id"])))
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        http.post(f"/api/runs/{run['id']}/resume")
        t.join(120)
        elapsed = time.monotonic() - t0
        for s in sockets:
            s.close()
        return elapsed, result["frames"]

    base_time, _ = timed_run(False)
    stalled_time, frames = timed_run(True)
    assert [r["epoch"] for r in stream_records(frames)] == list(range(61))
    assert stalled_time < base_time * 1.5 + 1.0, (base_time, stalled_time)
    assert http.get("/api/health").elapsed.total_seconds() < 1
