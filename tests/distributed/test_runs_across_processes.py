"""Runs on the distributed backend, through real processes (conftest.Stack): created through web process
A, watched and controlled through B; failures of a worker child, a whole worker, a web process and Redis."""

from __future__ import annotations

import json
import threading
import time

import pytest
from service_helpers import stream_records, tiny, wait_for, wait_status
from websockets.sync.client import connect

pytestmark = pytest.mark.slow


def watch(web, run_id: str, timeout: float = 60, since: int | None = None) -> list[dict]:
    """Every frame of a run's websocket on `web` until its run_end (or a terminal snapshot)."""
    frames = []
    q = f"?since={since}" if since is not None else ""
    with connect(f"{web.ws_base}/ws/runs/{run_id}{q}", open_timeout=10, max_size=None) as ws:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = json.loads(ws.recv(timeout=max(0.1, end - time.monotonic())))
            frames.append(msg)
            if _ended(msg):
                break
    return frames


def _ended(msg: dict) -> bool:
    if msg["type"] == "run_end":
        return True
    if msg["type"] == "snapshot" and msg["run"]["status"] not in ("queued", "running", "paused"):
        return True
    return msg["type"] == "coalesced" and any(e["type"] == "run_end" for e in msg["events"])


def test_created_on_a_watched_on_b_every_epoch_once(stack):
    run = stack.a.http.post("/api/runs", json=tiny(training={"epochs": 30}), params={"speed": 15}).json()
    frames = watch(stack.b, run["id"])
    assert frames[-1]["type"] == "run_end" and frames[-1]["status"] == "completed"
    records = stream_records(frames)
    assert [r["epoch"] for r in records] == list(range(31))
    assert records == stack.a.http.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
