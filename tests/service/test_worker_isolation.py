"""The worker loop with real Trainers over a real pipe (issue 10, item 1 and 8): a command that makes
one run raise fails that run alone while the other run on the worker completes; a speed far below
the server's minimum (which the web tier refuses) cannot overflow the worker's wait; a stop reaches
a run in the middle of a long epoch, which then ends at its last whole epoch."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
import time

import pytest
from nnplayground.service.executor import Failed, Job, Started, Step
from nnplayground.service.worker import Worker
from service_helpers import tiny


@pytest.fixture
def worker():
    parent, child = mp.Pipe(duplex=True)
    w = Worker(0, child)
    thread = threading.Thread(target=w.loop, daemon=True)
    thread.start()
    thread.worker = w  # the tests look at its slots
    yield parent, thread
    parent.send(("shutdown",))
    thread.join(timeout=30)
    assert not thread.is_alive()  # the loop ends only when told to
    parent.close()
    child.close()


def collect(conn, until, timeout: float = 60.0) -> list:
    """Messages from the worker until `until(messages)` holds."""
    out, end = [], time.monotonic() + timeout
    while not until(out):
        assert time.monotonic() < end, f"timed out; got {[type(m).__name__ for m in out]}"
        if conn.poll(0.5):
            out.append(conn.recv())
    return out


def run_end(messages, run_id):
    for m in messages:
        if isinstance(m, Step) and m.run_id == run_id and m.done:
            return json.loads(next(e.text for e in m.write.events if e.type == "run_end"))
    return None


def test_one_runs_failure_leaves_the_worker_and_the_other_run(worker):
    conn, thread = worker
    long = tiny(training={"epochs": 2000})
    conn.send(("submit", Job("victim", long, None, 1e-12)))  # below any allowed speed: waits "forever"
    conn.send(("submit", Job("other", tiny(training={"epochs": 30}))))
    collect(conn, lambda ms: sum(isinstance(m, Started) for m in ms) == 2)
    # a control value no web path lets through (the REST and websocket paths validate speeds)
    conn.send(("control", "victim", "speed", "fast"))
    got = collect(conn, lambda ms: run_end(ms, "other") is not None and any(isinstance(m, Failed) for m in ms))
    failed = [m for m in got if isinstance(m, Failed)]
    assert [m.run_id for m in failed] == ["victim"]
    assert failed[0].message.startswith("TypeError")  # the exception, named, as the run's message
    assert run_end(got, "other")["status"] == "completed"
    assert run_end(got, "other")["summary"]["epochs_run"] == 30
    assert thread.is_alive()
    # the worker takes new work after the failure
    conn.send(("submit", Job("next", tiny())))
    got = collect(conn, lambda ms: run_end(ms, "next") is not None)
    assert run_end(got, "next")["status"] == "completed"


def test_a_stop_arrives_within_a_long_epoch(worker):
    conn, _ = worker
    # 10,000 steps of batch 1: seconds per epoch, far more than the time the stop takes to arrive
    slow = {
        "dataset": {"n_samples": 20000},
        "training": {"epochs": 5, "batch_size": 1},
        "telemetry": {"enabled": False},
    }
    conn.send(("submit", Job("long", slow)))
    collect(conn, lambda ms: any(isinstance(m, Step) and m.run_id == "long" for m in ms))  # epoch 0
    conn.send(("control", "long", "stop", "stopped: wall-time cap of 3 s reached"))
    got = collect(conn, lambda ms: run_end(ms, "long") is not None)
    end = run_end(got, "long")
    assert end["status"] == "stopped"
    assert end["summary"]["epochs_run"] == 0  # epoch 1 was cut short, not finished first
    assert end["message"] == "stopped: wall-time cap of 3 s reached"
    assert not [m for m in got if isinstance(m, Step) and any(e.type == "epoch" for e in m.write.events)]


def test_a_pause_suspends_a_long_epoch_and_resume_goes_on_with_it(worker):
    conn, thread = worker
    slow = {
        "dataset": {"n_samples": 20000},
        "training": {"epochs": 5, "batch_size": 1},
        "telemetry": {"enabled": False},
    }
    conn.send(("submit", Job("long", slow)))
    collect(conn, lambda ms: any(isinstance(m, Step) and m.run_id == "long" for m in ms))  # epoch 0
    slot = thread.worker.slots["long"]
    begun = time.monotonic() + 30
    while slot.trainer.epoch == 0:  # epoch 1 has begun
        assert time.monotonic() < begun
        time.sleep(0.005)
    conn.send(("control", "long", "pause", None))
    deadline = time.monotonic() + 30
    while not (slot.paused and slot.trainer._partial is not None):  # suspended inside the epoch
        assert time.monotonic() < deadline
        time.sleep(0.02)
    epoch, start = slot.trainer.epoch, slot.trainer._partial[2]
    assert 0 < start < 10000  # some of the epoch's 10,000 batches trained, some still to train
    while conn.poll(1.0):  # the epoch (if any) that finished before the pause arrived
        conn.recv()
    assert slot.trainer._partial[2] == start  # nothing trains while it is paused
    conn.send(("control", "long", "resume", None))
    got = collect(conn, lambda ms: any(isinstance(m, Step) and m.write.events for m in ms))
    records = [json.loads(e.text) for m in got for e in m.write.events if e.type == "epoch"]
    assert [r["epoch"] for r in records] == [epoch]  # the suspended epoch, finished, not a new one
    conn.send(("control", "long", "stop", None))
    end = run_end(collect(conn, lambda ms: run_end(ms, "long") is not None), "long")
    assert end["status"] == "stopped" and end["summary"]["epochs_run"] in (epoch, epoch + 1)
