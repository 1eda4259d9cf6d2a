"""Issue 9 item 9: a status is never visible before the records it summarises are stored. The store
writes a step's records, markers and the run's final status in one transaction (Store.apply_step);
these tests read as a client would, as fast as it can, and check that the moment a run is terminal
its metrics already hold its last epoch."""

from __future__ import annotations

import threading

import pytest
from nnplayground.service.store import Packed, StepWrite, Store
from service_helpers import TERMINAL, Server, tiny


def _step(epoch: int, end: str | None = None) -> tuple[StepWrite, dict | None]:
    record = f'{{"epoch":{epoch},"val_loss":null}}'
    events = [Packed("epoch", epoch, '{"type":"epoch",' + record[1:], record)]
    if end:
        events.append(Packed("marker", epoch, f'{{"type":"marker","epoch":{epoch},"kind":"diverged"}}'))
    summary = f'{{"status":"{end}","epochs_run":{epoch}}}' if end else None
    return StepWrite(events), ({"status": end, "summary": summary, "message": ""} if end else None)


def test_a_reader_never_sees_a_terminal_status_before_its_records(db_url):
    store = Store(db_url)
    runs = [f"r{i}" for i in range(20)]
    seen: list[tuple[str, int, int]] = []
    done = threading.Event()

    def reader():
        pending = set(runs)
        while pending and not done.is_set():
            for run_id in list(pending):
                row = store.get_run(run_id)
                if row is None or row["status"] not in TERMINAL:
                    continue
                epochs = [e for e, _ in store.metrics(run_id)]  # a later read, as GET /metrics after GET /runs
                seen.append((run_id, row["epochs_run"], epochs[-1] if epochs else -1))
                pending.discard(run_id)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for run_id in runs:
            store.insert_run(run_id, "{}", "c", 0.0)
        for run_id in runs:
            for epoch in range(8):
                write, end = _step(epoch, "diverged" if epoch == 7 else None)
                store.apply_step(run_id, write, end, None)
        t.join(30)
    finally:
        done.set()
        store.close()
    assert len(seen) == len(runs)
    assert all(epochs_run == last == 7 for _, epochs_run, last in seen), seen


def test_records_and_final_status_are_one_transaction(db_url):
    """A step whose status update fails leaves none of its records either (and vice versa)."""
    store = Store(db_url)
    try:
        store.insert_run("r", "{}", "c", 0.0)
        write, _ = _step(3, "diverged")
        with pytest.raises(KeyError):
            store.apply_step("r", write, {"status": "diverged"}, None)  # no summary: fails after the inserts
        assert store.metrics("r") == [] and store.markers("r") == []
        assert store.get_run("r")["status"] == "queued"
    finally:
        store.close()


@pytest.mark.slow
def test_terminal_status_over_rest_implies_stored_final_epoch(tmp_path):
    """Through a real server, polling GET /api/runs/{id} as fast as a client can: the first answer
    that is terminal (diverged or completed) is followed by /metrics holding the epoch it reports."""
    import httpx

    server = Server(tmp_path / "order.db", workers=2).start()
    try:
        diverging = tiny(
            dataset={"name": "sine", "n_samples": 60},
            preprocessing={"standardize": False},
            optimizer={"name": "sgd", "lr": 10.0},
            model={"hidden": [32, 32]},
            training={"epochs": 50, "batch_size": 1},
            telemetry={"histogram_every": 0},
        )
        configs = [diverging, tiny(training={"epochs": 8})] * 4
        for cfg in configs:
            run_id = server.http.post("/api/runs", json=cfg).json()["id"]
            with httpx.Client(base_url=server.base, timeout=10) as c:
                for _ in range(2000):
                    run = c.get(f"/api/runs/{run_id}").json()
                    if run["status"] in TERMINAL:
                        break
                else:
                    raise AssertionError("the run did not finish")
                records = c.get(f"/api/runs/{run_id}/metrics").json()["epochs"]
            assert run["status"] in ("diverged", "completed"), run["message"]
            assert records and records[-1]["epoch"] == run["epochs_run"] == run["summary"]["epochs_run"]
    finally:
        server.stop()
