"""Storage bounds through a real `nnplayground serve` (issue 10, item 3): the issue's 200-byte request
that wrote 380 MB of checkpoints, kept 400 MB in its worker and left a 463 MB WAL after deletion now
stays within the per-run checkpoint budget, keeps only a few checkpoints in worker memory, leaves a
WAL no larger than its limit, gives a deleted run's space back, and a client past its storage budget
gets 429 until it deletes runs. An older database file keeps working and is converted once."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from service_helpers import Server, wait_for, wait_status

MIB = 1 << 20
RUN_BUDGET = 4 * MIB
CLIENT_BUDGET = 6 * MIB
WAL_LIMIT = 2 * MIB
# The request, with every checkpoint it may ask for: 49,722 parameters, ~199 KB a checkpoint.
HEAVY = {
    "dataset": {"n_samples": 20},
    "model": {"hidden": [220, 220]},
    "training": {"epochs": 300, "batch_size": 20},
    "telemetry": {"enabled": False, "max_checkpoints": 5000, "histogram_every": 0, "surface_every": 0},
}
CHECKPOINT = 49_722 * 4  # bytes of one state (float32 weights and biases)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def sizes(db: Path) -> tuple[int, int]:
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def stored_checkpoint_bytes(db: Path, run_id: str) -> int:
    with sqlite3.connect(db) as c:
        return c.execute(
            "SELECT COALESCE(SUM(length(state)), 0) FROM checkpoints WHERE run_id = ?", (run_id,)
        ).fetchone()[0]


def test_checkpoints_stay_within_the_budgets_and_deleted_runs_give_space_back(tmp_path):
    db = tmp_path / "storage.db"
    env = {
        "NNPLAYGROUND_MAX_CHECKPOINT_BYTES": str(RUN_BUDGET),
        "NNPLAYGROUND_MAX_CLIENT_STORAGE_BYTES": str(CLIENT_BUDGET),
        "NNPLAYGROUND_WAL_LIMIT_BYTES": str(WAL_LIMIT),
    }
    server = Server(db, workers=1, env=env).start()
    try:
        http = server.http
        run = http.post("/api/runs", json=HEAVY).json()
        pid = wait_for(lambda: http.get(f"/api/runs/{run['id']}").json()["worker_pid"], timeout=30)
        base = rss(pid)
        peak = base
        while http.get(f"/api/runs/{run['id']}").json()["status"] in ("queued", "running"):
            peak = max(peak, rss(pid))
            time.sleep(0.02)
        done = wait_status(http, run["id"])
        assert done["status"] == "completed" and done["epochs_run"] == 300

        kept = http.get(f"/api/runs/{run['id']}/checkpoints").json()["epochs"]
        stored = stored_checkpoint_bytes(db, run["id"])
        assert stored <= RUN_BUDGET, stored  # was 300 checkpoints, ~60 MB
        assert len(kept) >= RUN_BUDGET // (CHECKPOINT + 512) // 2  # thinned, not emptied
        assert kept[0] == 0 and kept[-1] == 300
        # the worker held the whole history before (+400 MB for the run); now a few states
        assert peak - base < 24 * MIB, (base, peak)

        # a second run still fits the client's budget (one run's ~4 MB < 6 MB); then the budget is spent
        second = http.post("/api/runs", json=HEAVY).json()
        assert wait_status(http, second["id"], timeout=60)["status"] == "completed"
        refused = http.post("/api/runs", json=HEAVY)
        assert refused.status_code == 429, refused.text
        assert "delete old runs" in refused.json()["error"]

        def settled():
            main, wal = sizes(db)
            return (main, wal) if wal <= WAL_LIMIT + 64 * 1024 else None

        _, wal = wait_for(settled, timeout=20, interval=0.2)  # was 463 MB after the run
        full, _ = sizes(db)
        assert full > 2 * RUN_BUDGET * 0.75  # both runs' checkpoints are in the file

        for r in (run, second):
            assert http.delete(f"/api/runs/{r['id']}").status_code == 200

        def reclaimed():
            main, wal = sizes(db)
            return (main, wal) if main < 2 * MIB and wal <= WAL_LIMIT + 64 * 1024 else None

        main, wal = wait_for(reclaimed, timeout=30, interval=0.2)
        assert main < full / 4, (main, full)  # deleting reclaimed nothing before
        assert http.post("/api/runs", json=HEAVY).status_code == 201  # the budget is free again
    finally:
        server.stop()


OLD_SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    started_at REAL, finished_at REAL, config TEXT NOT NULL, info TEXT, summary TEXT,
    message TEXT NOT NULL DEFAULT '', epochs_run INTEGER NOT NULL DEFAULT 0, best_epoch INTEGER,
    best_val_loss REAL, speed REAL NOT NULL DEFAULT 0, final_state BLOB
);
CREATE TABLE metrics (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, record TEXT NOT NULL,
                      PRIMARY KEY (run_id, epoch)) WITHOUT ROWID;
CREATE TABLE checkpoints (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, state BLOB NOT NULL,
                          PRIMARY KEY (run_id, epoch)) WITHOUT ROWID;
"""


def test_a_database_written_before_keeps_working(tmp_path):
    """A file of the first release (no auto-vacuum, no brief or stored_bytes columns) is converted
    once at start-up; its runs are listed with their data set and count towards their client's budget."""
    db = tmp_path / "old.db"
    config = {"dataset": {"name": "moons"}, "model": {"hidden": [3]}, "training": {"epochs": 7}}
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode=WAL")
        c.executescript(OLD_SCHEMA)
        c.execute(
            "INSERT INTO runs (id, status, client, created_at, config, epochs_run) VALUES (?, ?, ?, ?, ?, ?)",
            ("0123456789ab", "completed", "ip:127.0.0.1", time.time(), json.dumps(config), 7),
        )
        c.execute("INSERT INTO checkpoints VALUES ('0123456789ab', 0, ?)", (os.urandom(5000),))
        assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    server = Server(db, workers=1).start()
    try:
        listed = server.http.get("/api/runs").json()["runs"]
        assert [(r["id"], r["dataset"], r["epochs"]) for r in listed] == [("0123456789ab", "moons", 7)]
        assert server.http.get("/api/runs/0123456789ab").json()["config"]["model"]["hidden"] == [3]
    finally:
        server.stop()
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        brief, nbytes = c.execute("SELECT brief, stored_bytes FROM runs").fetchone()
    assert json.loads(brief)["hidden"] == [3] and nbytes == 5000
