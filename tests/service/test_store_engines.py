"""The run store on both engines (issue 15, item 1): every Store method on SQLite and on PostgreSQL
(`db_url`), a run claimed by exactly one of several racing workers, two processes' stores writing
the same database, and a SQLite file written before Alembic converted in place."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from nnplayground.service import migrate
from nnplayground.service.store import Packed, StepWrite, Store
from sqlalchemy import text

CONFIG = '{"dataset": {"name": "moons"}, "model": {"hidden": [4]}, "training": {"epochs": 9}}'


def epoch(e: int, *extra: Packed) -> StepWrite:
    return StepWrite([Packed("epoch", e, f'{{"type":"epoch","epoch":{e}}}', f'{{"epoch":{e}}}'), *extra])


def marker(e: int, kind: str, **more) -> Packed:
    return Packed("marker", e, json.dumps({"type": "marker", "epoch": e, "kind": kind, **more}, separators=(",", ":")))


@pytest.fixture
def store(db_url):
    s = Store(db_url, keep_views=8)
    yield s
    s.close()


def test_runs_and_their_queries(store):
    store.insert_run("a1", CONFIG, "tok:a", 1.0, '{"dataset":"moons"}')
    time.sleep(0.01)
    store.insert_run("a2", CONFIG, "tok:a", 2.0)
    store.insert_run("b1", CONFIG, "tok:b", 0.5)
    run = store.get_run("a1")
    assert (run["status"], run["client"], run["config"], run["speed"], run["has_final"]) == (
        "queued",
        "tok:a",
        CONFIG,
        1.0,
        0,
    )
    assert run["brief"] == '{"dataset":"moons"}' and store.get_run("nope") is None
    rows, total = store.list_runs(None, 10, 0)
    assert total == 3 and "config" not in rows[0]
    rows, total = store.list_runs("queued", 1, 1, client="tok:a")
    assert (total, [r["id"] for r in rows]) == (2, ["a1"])  # newest first, the second page
    assert store.update_run("a1", only_if=("queued",), status="running", started_at=100.0)
    assert not store.update_run("a1", only_if=("queued", "paused"), status="stopped")
    assert store.update_run("a2", message="hi") and store.get_run("a2")["message"] == "hi"
    assert not store.update_run("nope", status="running")
    assert store.count_active("tok:a") == 2
    assert store.active_counts("tok:a") == {"running": 1, "queued": 1}
    assert store.started_before(101.0) == ["a1"] and store.started_before(99.0) == []
    assert [r["id"] for r in store.runs_of_clients(["tok:a", "tok:c"])] == ["a1", "a2"]
    assert store.counts() == {"running": 1, "queued": 2}
    assert sorted(store.mark_interrupted()) == ["a1", "a2", "b1"]
    assert store.get_run("b1")["status"] == "interrupted" and store.count_active("tok:a") == 0


def test_sweeps(store):
    runs = [(f"s{i}", CONFIG, '{"lr":0.1}') for i in range(3)]
    store.insert_sweep("sw", "tok:a", '{"vary":{}}', runs, 1.0)
    store.insert_run("solo", CONFIG, "tok:a", 1.0)
    assert store.get_sweep("sw")["spec"] == '{"vary":{}}' and store.get_sweep("x") is None
    sweeps, total = store.list_sweeps("tok:a", 10, 0)
    assert total == 1 and sweeps[0]["id"] == "sw"
    assert store.list_sweeps("tok:b", 10, 0) == ([], 0)
    assert sorted(r["id"] for r in store.sweep_runs("sw")) == ["s0", "s1", "s2"]
    assert store.sweep_of("s1") == "sw" and store.sweep_of("solo") is None
    assert store.count_active("tok:a") == 2  # the sweep's variants count once
    assert store.active_counts("tok:a") == {"queued": 2}
    assert store.delete_sweep("sw") and not store.delete_sweep("sw")


def test_steps_views_markers_and_checkpoints(store):
    store.insert_run("r", CONFIG, "c", 1.0)
    assert not store.apply_step("gone", epoch(0), None, None)
    info = json.dumps({"config": json.loads(CONFIG), "n_params": 21})
    step = epoch(0, marker(0, "best", val_loss=0.5), marker(0, "lr", lr=0.1))
    step.checkpoints = {0: b"\x00" * 100}
    assert store.apply_step("r", step, None, info)
    for e in range(1, 20):
        view = Packed("surface", e, f'{{"type":"surface","epoch":{e}}}')
        write = epoch(e, view)
        write.checkpoints = {e: b"\x01" * 10}
        write.dropped = [e - 1] if e > 1 else []
        assert store.apply_step("r", write, None, None)
    run = store.get_run("r")
    assert (run["epochs_run"], run["best_epoch"], run["best_val_loss"]) == (19, 0, 0.5)
    assert json.loads(run["brief"])["n_params"] == 21 and run["info"] == info
    assert [e for e, _ in store.metrics("r")] == list(range(20))
    assert [e for e, _ in store.metrics("r", since=17)] == [18, 19]
    assert store.last_metric("r") == '{"epoch":19}'
    assert store.markers("r") == [step.events[1].text, step.events[2].text]  # in order of arrival
    assert store.markers("r", since=0) == []
    views = [e for e, _ in store.views_since("r", "surface", -1)]
    assert len(views) <= 8 and views[0] == 1 and views[-1] == 19
    assert store.view("r", "surface", None) == '{"type":"surface","epoch":19}'
    assert store.view("r", "surface", 0) is None and store.view("r", "histograms", None) is None
    assert store.checkpoint_epochs("r") == [0, 19]
    assert store.checkpoint("r", 0) == b"\x00" * 100 and store.checkpoint("r", 5) is None
    assert store.client_storage("c") == 110
    end = {"status": "completed", "summary": '{"epochs_run":20}', "message": ""}
    final = epoch(20)
    final.final_state = b"\x02" * 1000
    assert store.apply_step("r", final, end, None)
    run = store.get_run("r")
    assert (run["status"], run["has_final"], run["summary"]) == ("completed", 1, '{"epochs_run":20}')
    assert store.final_state("r") == b"\x02" * 1000 and store.client_storage("c") == 1110
    with store.read_tx():
        assert store.get_run("r")["epochs_run"] == 20 and len(store.metrics("r")) == 21
    assert store.delete_run("r") and not store.delete_run("r")
    assert store.metrics("r") == [] and store.markers("r") == [] and store.checkpoint_epochs("r") == []
    assert store.final_state("r") is None and store.client_storage("c") == 0


def test_a_queued_run_is_claimed_once(db_url):
    """Eight workers (each its own store, as separate processes) race for the same queued run: one
    wins; a redelivered claim and a claim of a stopped run lose."""
    stores = [Store(db_url) for _ in range(8)]
    try:
        stores[0].insert_run("r", CONFIG, "c", 1.0)
        stores[0].insert_run("stopped", CONFIG, "c", 1.0)
        assert stores[0].update_run("stopped", only_if=("queued",), status="stopped")
        won: list[int] = []
        barrier = threading.Barrier(len(stores))

        def claim(i: int) -> None:
            barrier.wait()
            if stores[i].claim_run("r", f"worker{i}", 1000 + i):
                won.append(i)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1
        run = stores[3].get_run("r")
        assert run["status"] == "running" and run["started_at"] is not None
        with stores[3].db.read() as r:
            worker, pid = r.execute(text("SELECT worker, worker_pid FROM runs WHERE id = 'r'")).one()
        assert (worker, pid) == (f"worker{won[0]}", 1000 + won[0])
        assert not stores[won[0]].claim_run("r", "again", 1)  # a redelivered task
        assert not stores[1].claim_run("stopped", "w", 1) and stores[1].get_run("stopped")["status"] == "stopped"
    finally:
        for s in stores:
            s.close()


def test_two_processes_write_one_database(db_url):
    """Each store keeps the checkpoint sizes of the runs it writes; another store writing another
    run, or deleting this one, leaves no wrong total and no rows of a deleted run behind."""
    a, b = Store(db_url), Store(db_url)
    try:
        a.insert_run("ra", CONFIG, "c", 1.0)
        b.insert_run("rb", CONFIG, "c", 1.0)
        for e in range(5):
            wa, wb = epoch(e), epoch(e)
            wa.checkpoints, wb.checkpoints = {e: b"a" * 100}, {e: b"b" * 7}
            assert a.apply_step("ra", wa, None, None) and b.apply_step("rb", wb, None, None)
        assert a.get_run("ra")["epochs_run"] == 4 and b.get_run("ra")["epochs_run"] == 4
        assert a.client_storage("c") == 5 * 107
        stop = threading.Event()
        results: list[bool] = []

        def writer() -> None:
            e = 5
            while not stop.is_set():
                w = epoch(e)
                w.checkpoints = {e: b"a" * 100}
                ok = a.apply_step("ra", w, None, None)
                results.append(ok)
                if not ok:
                    return
                e += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.2)
        assert b.delete_run("ra")  # through the other store, while this one writes
        t.join(10)
        stop.set()
        assert results and results[-1] is False  # the writer learnt that the run is gone
        for table in ("metrics", "checkpoints", "markers", "views"):
            with b.db.read() as r:
                left = r.execute(text(f"SELECT COUNT(*) FROM {table} WHERE run_id = 'ra'")).scalar()
            assert left == 0, table
        assert b.client_storage("c") == 5 * 7
    finally:
        stop.set()
        a.close()
        b.close()


# ---- a SQLite file written before Alembic --------------------------------------------------------
# The schema main's store, rooms and tokens created at start (before issue 15), without its added columns.
PRE_ALEMBIC = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    started_at REAL, finished_at REAL, config TEXT NOT NULL, info TEXT, summary TEXT,
    message TEXT NOT NULL DEFAULT '', epochs_run INTEGER NOT NULL DEFAULT 0, best_epoch INTEGER,
    best_val_loss REAL, speed REAL NOT NULL DEFAULT 0, final_state BLOB
);
CREATE INDEX runs_status ON runs(status, created_at);
CREATE TABLE metrics (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, record TEXT NOT NULL,
                      PRIMARY KEY (run_id, epoch)) WITHOUT ROWID;
CREATE TABLE views (run_id TEXT NOT NULL, kind TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL,
                    PRIMARY KEY (run_id, kind, epoch)) WITHOUT ROWID;
CREATE TABLE markers (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX markers_run ON markers(run_id, epoch);
CREATE TABLE checkpoints (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, state BLOB NOT NULL,
                          PRIMARY KEY (run_id, epoch)) WITHOUT ROWID;
CREATE TABLE rooms (code TEXT PRIMARY KEY, created_at REAL NOT NULL, closed_at REAL, showing TEXT,
                    lesson TEXT) WITHOUT ROWID;
"""


def test_a_file_written_before_alembic_upgrades_in_place(tmp_path):
    """`nnplayground db upgrade` converts it (columns, sizes, markers' order kept), stamps it and
    brings it to the newest revision; the store then reads the run back as it was."""
    db = tmp_path / "nnplayground.db"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA journal_mode=WAL")
        c.executescript(PRE_ALEMBIC)
        c.execute(
            "INSERT INTO runs (id, status, client, created_at, config, epochs_run, best_epoch, final_state) "
            "VALUES ('old', 'completed', 'tok:x', 1.5, ?, 2, 1, ?)",
            (CONFIG, b"f" * 30),
        )
        c.executemany("INSERT INTO metrics VALUES ('old', ?, ?)", [(e, f'{{"epoch":{e}}}') for e in range(3)])
        c.executemany("INSERT INTO markers VALUES ('old', ?, ?)", [(2, '{"kind":"z"}'), (1, '{"kind":"best"}')])
        c.execute("INSERT INTO checkpoints VALUES ('old', 1, ?)", (b"c" * 12,))
        c.execute("INSERT INTO rooms (code, created_at) VALUES ('ABCDEF', 1.0)")
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    env.pop("NNPLAYGROUND_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "nnplayground.cli", "db", "upgrade", "--db", str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert f"is at revision {migrate.head()}" in out.stdout
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT version_num FROM alembic_version").fetchone()[0] == migrate.head()
        assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert c.execute("SELECT stored_bytes FROM runs").fetchone()[0] == 42
    store = Store(str(db))
    try:
        run = store.get_run("old")
        assert (run["status"], run["epochs_run"], run["best_epoch"], run["has_final"]) == ("completed", 2, 1, 1)
        assert json.loads(run["brief"])["hidden"] == [4]  # computed once by the store
        assert [e for e, _ in store.metrics("old")] == [0, 1, 2]
        assert store.markers("old") == ['{"kind":"z"}', '{"kind":"best"}']
        assert store.checkpoint("old", 1) == b"c" * 12 and store.final_state("old") == b"f" * 30
        store.insert_run("new", CONFIG, "tok:x", 1.0)  # and it goes on working
        assert store.apply_step("new", epoch(0, marker(0, "best", val_loss=1.0)), None, None)
        assert store.markers("new") == ['{"type":"marker","epoch":0,"kind":"best","val_loss":1.0}']
        assert store.client_storage("tok:x") == 42
    finally:
        store.close()
    assert migrate.upgrade(str(db)) == migrate.head()  # a second upgrade finds it current


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_db_upgrade_command_on_postgresql(db_url):
    env = {**os.environ, "NNPLAYGROUND_DATABASE_URL": db_url}
    for _ in range(2):  # the second finds it current
        out = subprocess.run(
            [sys.executable, "-m", "nnplayground.cli", "db", "upgrade"], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert f"is at revision {migrate.head()}" in out.stdout
    store = Store(db_url)
    try:
        with store.db.read() as r:
            tables = set(r.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        assert {"runs", "metrics", "views", "markers", "checkpoints", "sweeps", "rooms", "teacher_sessions"} <= tables
    finally:
        store.close()


def test_classroom_tokens_and_sessions(db_url):
    """The token key made on first use is kept in the database (a second server, or process, signs
    alike); a session ends on logout, and all of them when the teacher secret changes."""
    from nnplayground.service.connections import Connections
    from nnplayground.service.tokens import Tokens

    db = Connections(db_url)
    try:
        first = Tokens(db, "", "s3cret")
        cid, token = first.identity.new_token()
        session = first.new_session()
        other = Tokens(db, "", "s3cret")
        assert other.identity.client_of(token) == cid and other.is_session(session)
        first.end_session(session)
        assert not other.is_session(session)
        kept = other.new_session()
        changed = Tokens(db, "", "another")
        assert changed.identity.client_of(token) == cid and not changed.is_session(kept)
        assert not other.is_session(kept)  # its row went with the secret that opened it
    finally:
        db.close()
