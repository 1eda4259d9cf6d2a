"""SQLite persistence (WAL mode): runs, per-epoch metrics, histogram and surface views (thinned),
markers and checkpoints. One writer connection guarded by a lock; every reading thread has its own
connection, so readers never wait for the writer (WAL).

Event payloads are stored as the compact JSON text the worker produced, so that serving them again
(REST, websocket snapshots) needs no re-encoding."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..engine.checkpoints import thin
from ..engine.status import ACTIVE, STATUSES, TERMINAL, RunStatus  # noqa: F401  (re-exported for the service)
from ..jsonutil import dumps

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    client TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    config TEXT NOT NULL,
    info TEXT,
    summary TEXT,
    message TEXT NOT NULL DEFAULT '',
    epochs_run INTEGER NOT NULL DEFAULT 0,
    best_epoch INTEGER,
    best_val_loss REAL,
    speed REAL NOT NULL DEFAULT 0,
    final_state BLOB
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
CREATE INDEX IF NOT EXISTS runs_client ON runs(client, status);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS views (
    run_id TEXT NOT NULL, kind TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS markers (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS markers_run ON markers(run_id, epoch);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, state BLOB NOT NULL, PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    spec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sweeps_client ON sweeps(client, created_at);
"""

# Columns added after the first release: (name, declaration); an older file gets them at start-up.
ADDED_COLUMNS = (
    ("brief", "TEXT"),  # the run's key choices as JSON (run_brief): lists and tables never parse configs
    ("stored_bytes", "INTEGER NOT NULL DEFAULT 0"),  # bytes of its stored checkpoints and final model
    ("sweep_id", "TEXT"),  # the sweep this run is a variant of (sweeps.id), else NULL
)
VACUUM_PAGES = 1024  # pages given back to the file system per step (4 MiB at the default page size)
# Free pages below this are left for the next inserts to reuse: thinned views and checkpoints free a few
# pages all the time, and giving them back only to grow the file again would be churn under the lock.
VACUUM_MIN_FREE = 256
log = logging.getLogger("nnplayground.store")

RUN_COLUMNS = (
    "id, status, client, created_at, started_at, finished_at, config, info, summary, message, epochs_run, "
    "best_epoch, best_val_loss, speed, final_state IS NOT NULL AS has_final, brief"
)
# What a list of runs shows: no configuration (a custom data set's can be megabytes), only the brief.
LIST_COLUMNS = (
    "id, status, client, created_at, started_at, finished_at, summary, message, epochs_run, "
    "best_epoch, best_val_loss, speed, final_state IS NOT NULL AS has_final, brief"
)


def run_brief(config: dict, info: dict | None = None) -> dict:
    """The key choices of a run (data set, layers, optimizer, regularization, epochs; with `info`, the
    effective configuration and the parameter count), computed once and stored with the run so that
    run lists and the teacher's table never parse full configurations."""
    if info and "config" in info:
        config = info["config"]
    m, o = config.get("model", {}), config.get("optimizer", {})
    out = {
        "dataset": config.get("dataset", {}).get("name"),
        "hidden": m.get("hidden"),
        "activation": m.get("activation"),
        "optimizer": o.get("name"),
        "lr": o.get("lr"),
        "batch_norm": m.get("batch_norm"),
        "dropout": m.get("dropout"),
        "weight_decay": o.get("weight_decay"),
        "early_stopping": config.get("early_stopping", {}).get("enabled"),
        "epochs": config.get("training", {}).get("epochs"),
        # started from another model's weights: a leaderboard entry that is not trained from scratch
        "transfer": (config.get("transfer") or {}).get("source"),
    }
    if info and "n_params" in info:
        out["n_params"] = info["n_params"]
    return out


@dataclass
class Packed:
    """One engine event as the worker sends it: type, epoch (or None), the event's JSON text, and for
    epoch events the record's JSON text (the event without its "type")."""

    type: str
    epoch: int | None
    text: str
    record: str | None = None


@dataclass
class _Thinning:
    """The stored views of one kind of one run being written, for `checkpoints.thin`."""

    stride: int = 1
    epochs: set[int] = field(default_factory=set)
    best: int | None = None  # the run's best epoch so far: its view stays, like its checkpoint


@dataclass
class StepWrite:
    events: list[Packed]
    checkpoints: dict[int, bytes] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)
    final_state: bytes | None = None


def _connect(path: str, wal_limit: int = 16 << 20) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    # the log is cut back to this size whenever it restarts after a checkpoint (it never shrinks otherwise)
    conn.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
    return conn


class Store:
    def __init__(self, path: str, keep_views: int = 200, wal_limit: int = 16 << 20):
        self.path = path
        self.keep_views = max(4, keep_views)
        self.wal_limit = wal_limit
        self._w = _connect(path, wal_limit)
        if self._w.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # Incremental auto-vacuum lets a deleted run's pages go back to the file system. It can only
            # be switched on by rebuilding the file: instant for a new one, once for a file written by
            # an earlier version (which keeps working either way).
            log.info("switching %s to incremental auto-vacuum (a one-time rebuild)", path)
            self._w.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._w.execute("VACUUM")
        self._w.executescript(SCHEMA)
        self._migrate()
        # WAL checkpoints (copying the log into the database file, with an fsync) run in a thread of
        # their own instead of inside whichever commit crosses 1000 pages: a run's events are published
        # right after their commit, and an inline checkpoint held a live epoch back (README, Performance).
        self._w.execute("PRAGMA wal_autocheckpoint=0")
        self._closing = threading.Event()
        self._wlock = threading.RLock()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="nnplayground-wal", daemon=True)
        self._checkpointer.start()
        self._local = threading.local()
        self._thin: dict[tuple[str, str], _Thinning] = {}
        # checkpoint sizes of the runs being written, by epoch: summing length(state) in SQL reads every
        # blob on every step (README, Performance), so the total is kept here
        self._sizes: dict[str, dict[int, int]] = {}

    def _migrate(self) -> None:
        have = {r[1] for r in self._w.execute("PRAGMA table_info(runs)")}
        for name, decl in ADDED_COLUMNS:
            if name not in have:
                self._w.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        self._w.execute("CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id)")
        if "stored_bytes" not in have:  # once: this reads every blob
            self._w.execute(
                "UPDATE runs SET stored_bytes = COALESCE(length(final_state), 0) + "
                "(SELECT COALESCE(SUM(length(state)), 0) FROM checkpoints WHERE run_id = runs.id)"
            )
        # Runs written before the brief existed: computed once here, never again per request.
        rows = self._w.execute("SELECT id, config, info FROM runs WHERE brief IS NULL").fetchall()
        self._w.execute("BEGIN IMMEDIATE")
        for r in rows:
            brief = run_brief(json.loads(r["config"]), json.loads(r["info"]) if r["info"] else None)
            self._w.execute("UPDATE runs SET brief = ? WHERE id = ?", (dumps(brief), r["id"]))
        self._w.execute("COMMIT")

    # ---- connections ------------------------------------------------------------------------
    def _r(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path, self.wal_limit)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._wlock:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                yield self._w
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")

    @contextmanager
    def read_tx(self) -> Iterator[sqlite3.Connection]:
        """A consistent view across several reads (one WAL snapshot)."""
        c = self._r()
        c.execute("BEGIN")
        try:
            yield c
        finally:
            c.execute("COMMIT")

    def _checkpoint_loop(self, every: float = 0.5) -> None:
        conn = _connect(self.path, self.wal_limit)
        try:
            while not self._closing.wait(every):
                try:
                    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if not busy and frames == copied and self._wal_size() > self.wal_limit:
                        self._truncate_wal(conn)
                    self._vacuum_step(conn)
                except sqlite3.Error:
                    pass  # busy or closing: the next round tries again
        finally:
            conn.close()

    def _wal_size(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def _truncate_wal(self, conn: sqlite3.Connection) -> None:
        """Everything in the log is in the database: cut the file to zero. journal_size_limit does this
        only when a writer restarts the log, so a log left large by a burst of writes would otherwise
        stay so while the server is idle. It waits for readers at most 50 ms (then the next round tries)."""
        with self._wlock:
            conn.execute("PRAGMA busy_timeout=50")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute("PRAGMA busy_timeout=30000")

    def _vacuum_step(self, conn: sqlite3.Connection) -> int:
        """Give up to VACUUM_PAGES free pages (a deleted run's) back to the file system: short steps
        under the writer's lock, so a live epoch's commit never waits for a whole run's worth.
        Returns the free pages left."""
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free < VACUUM_MIN_FREE:
            return free
        with self._wlock:
            # executescript steps the pragma to the end; execute() frees a single page per call
            conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
        return conn.execute("PRAGMA freelist_count").fetchone()[0]

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join(timeout=5)
        with self._wlock:
            self._w.close()

    # ---- runs -------------------------------------------------------------------------------
    def insert_run(self, run_id: str, config: str, client: str, speed: float, brief: str | None = None) -> None:
        with self.write() as c:
            c.execute(
                "INSERT INTO runs (id, status, client, created_at, config, speed, brief) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, RunStatus.QUEUED, client, time.time(), config, speed, brief),
            )

    # ---- sweeps -------------------------------------------------------------------------------
    def insert_sweep(
        self, sweep_id: str, client: str, spec: str, runs: list[tuple[str, str, str]], speed: float
    ) -> None:
        """A sweep (`spec`: its JSON: base, vary, mode, variants) and its variants' runs, (id, config JSON,
        brief JSON) each, queued, in one transaction."""
        now = time.time()
        with self.write() as c:
            c.execute(
                "INSERT INTO sweeps (id, client, created_at, spec) VALUES (?, ?, ?, ?)", (sweep_id, client, now, spec)
            )
            c.executemany(
                "INSERT INTO runs (id, status, client, created_at, config, speed, brief, sweep_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r, RunStatus.QUEUED, client, now, config, speed, brief, sweep_id) for r, config, brief in runs],
            )

    def get_sweep(self, sweep_id: str) -> dict | None:
        row = self._r().execute("SELECT id, client, created_at, spec FROM sweeps WHERE id = ?", (sweep_id,)).fetchone()
        return dict(row) if row else None

    def list_sweeps(self, client: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        """Sweeps newest first (a client's own with `client`), and how many there are."""
        where, args = ("WHERE client = ?", [client]) if client is not None else ("", [])
        r = self._r()
        total = r.execute(f"SELECT COUNT(*) FROM sweeps {where}", args).fetchone()[0]
        rows = r.execute(
            f"SELECT id, client, created_at, spec FROM sweeps {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [dict(x) for x in rows], total

    def sweep_runs(self, sweep_id: str) -> list[dict]:
        """The sweep's variants' runs still stored, as lists show them (no configuration)."""
        rows = self._r().execute(f"SELECT {LIST_COLUMNS} FROM runs WHERE sweep_id = ?", (sweep_id,)).fetchall()
        return [dict(x) for x in rows]

    def sweep_of(self, run_id: str) -> str | None:
        row = self._r().execute("SELECT sweep_id FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def delete_sweep(self, sweep_id: str) -> bool:
        """The sweep's record (its runs are deleted one by one with delete_run)."""
        with self.write() as c:
            return c.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,)).rowcount > 0

    def update_run(self, run_id: str, only_if: tuple[str, ...] | None = None, **values) -> bool:
        """Set columns of a run; with `only_if`, only while its status is one of those."""
        cols = ", ".join(f"{k} = ?" for k in values)
        sql = f"UPDATE runs SET {cols} WHERE id = ?"
        args = [*values.values(), run_id]
        if only_if:
            sql += f" AND status IN ({','.join('?' * len(only_if))})"
            args += list(only_if)
        with self.write() as c:
            return c.execute(sql, args).rowcount > 0

    def claim_run(self, run_id: str, worker: str = "", pid: int = 0, status: str = "running") -> bool:
        """A worker takes a queued run (the distributed backend): it becomes `status` (running, or paused
        when it starts paused) only while still queued, so a task delivered twice, or a run stopped or
        deleted while queued, is claimed by nobody. `worker` and `pid` name the claimant (for the logs).
        True when this call claimed it."""
        return self.update_run(run_id, only_if=("queued",), status=status, started_at=time.time())

    def get_run(self, run_id: str) -> dict | None:
        row = self._r().execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    def list_runs(
        self, status: str | None, limit: int, offset: int, client: str | None = None
    ) -> tuple[list[dict], int]:
        conds, args = [], []
        if status:
            conds.append("status = ?")
            args.append(status)
        if client is not None:
            conds.append("client = ?")
            args.append(client)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        r = self._r()
        total = r.execute(f"SELECT COUNT(*) FROM runs {where}", args).fetchone()[0]
        rows = r.execute(
            f"SELECT {LIST_COLUMNS} FROM runs {where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [dict(x) for x in rows], total

    def count_active(self, client: str) -> int:
        """A client's active runs; a sweep's variants count once (one job, one worker slot)."""
        q = (
            "SELECT COUNT(DISTINCT COALESCE(sweep_id, id)) FROM runs "
            f"WHERE client = ? AND status IN ({','.join('?' * len(ACTIVE))})"
        )
        return self._r().execute(q, (client, *ACTIVE)).fetchone()[0]

    def active_counts(self, client: str) -> dict[str, int]:
        """How many runs of a client are in each active status (statuses with none are left out); a
        sweep's variants count once."""
        q = (
            "SELECT status, COUNT(DISTINCT COALESCE(sweep_id, id)) FROM runs "
            f"WHERE client = ? AND status IN ({','.join('?' * len(ACTIVE))}) GROUP BY status"
        )
        return {s: n for s, n in self._r().execute(q, (client, *ACTIVE)).fetchall()}

    def started_before(self, cutoff: float) -> list[str]:
        """Ids of the runs training or paused that started before `cutoff` (epoch seconds)."""
        q = "SELECT id FROM runs WHERE status IN (?, ?) AND started_at < ?"
        return [r[0] for r in self._r().execute(q, (RunStatus.RUNNING, RunStatus.PAUSED, cutoff)).fetchall()]

    def runs_of_clients(self, clients: list[str]) -> list[dict]:
        """The runs of these clients, oldest first per client, with the columns of the teacher's table
        (id, client, status, created_at, brief, summary, epochs_run, best_val_loss; never the
        configuration, which a custom data set makes megabytes long)."""
        out: list[dict] = []
        r = self._r()
        for i in range(0, len(clients), 400):  # below SQLite's bound on a statement's parameters
            chunk = clients[i : i + 400]
            q = (
                "SELECT id, client, status, created_at, brief, summary, epochs_run, best_val_loss "
                f"FROM runs WHERE client IN ({','.join('?' * len(chunk))}) ORDER BY created_at"
            )
            out += [dict(x) for x in r.execute(q, chunk)]
        return out

    def last_metric(self, run_id: str) -> str | None:
        """The epoch record (JSON text) of the run's latest epoch, None before its first."""
        row = (
            self._r()
            .execute("SELECT record FROM metrics WHERE run_id = ? ORDER BY epoch DESC LIMIT 1", (run_id,))
            .fetchone()
        )
        return row[0] if row else None

    def client_storage(self, client: str) -> int:
        """Bytes of the checkpoints and final models of a client's stored runs."""
        q = "SELECT COALESCE(SUM(stored_bytes), 0) FROM runs WHERE client = ?"
        return self._r().execute(q, (client,)).fetchone()[0]

    def counts(self) -> dict[str, int]:
        rows = self._r().execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
        return {s: n for s, n in rows}

    def mark_interrupted(self) -> list[str]:
        """At start-up: runs that were active when the server stopped cannot continue."""
        with self.write() as c:
            ids = [
                r[0] for r in c.execute(f"SELECT id FROM runs WHERE status IN ({','.join('?' * len(ACTIVE))})", ACTIVE)
            ]
            c.execute(
                "UPDATE runs SET status = ?, finished_at = ?, "
                "message = 'the server stopped while this run was active' "
                f"WHERE status IN ({','.join('?' * len(ACTIVE))})",
                (RunStatus.INTERRUPTED, time.time(), *ACTIVE),
            )
        return ids

    def delete_run(self, run_id: str) -> bool:
        with self.write() as c:
            for table in ("metrics", "views", "markers", "checkpoints"):
                c.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            gone = c.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount > 0
        for key in [k for k in self._thin if k[0] == run_id]:
            del self._thin[key]
        self._sizes.pop(run_id, None)
        return gone

    # ---- events -------------------------------------------------------------------------------
    def apply_step(self, run_id: str, step: StepWrite, end: dict | None, info: str | None) -> bool:
        """Persist one step's events in one transaction. False when the run no longer exists."""
        with self.write() as c:
            if c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return False
            last_epoch = self._write_events(c, run_id, step.events)
            self._write_checkpoints(c, run_id, step, end)
            if last_epoch is not None:
                c.execute("UPDATE runs SET epochs_run = ? WHERE id = ?", (last_epoch, run_id))
            if info is not None:
                brief = dumps(run_brief({}, json.loads(info)))
                c.execute("UPDATE runs SET info = ?, brief = ? WHERE id = ?", (info, brief, run_id))
            self._write_best(c, run_id, step.events)
            if step.final_state is not None:
                c.execute("UPDATE runs SET final_state = ? WHERE id = ?", (step.final_state, run_id))
            if end is not None:
                c.execute(
                    "UPDATE runs SET status = ?, summary = ?, message = ?, finished_at = ? WHERE id = ?",
                    (end["status"], end["summary"], end["message"], time.time(), run_id),
                )
                for kind in ("histograms", "surface"):  # a finished run gets no more views
                    self._thin.pop((run_id, kind), None)
        return True

    def _write_events(self, c: sqlite3.Connection, run_id: str, events: list[Packed]) -> int | None:
        """Insert a step's epoch records, views and markers; the last epoch recorded, if any."""
        last_epoch = None
        for ev in events:
            if ev.type == "epoch":
                c.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?)", (run_id, ev.epoch, ev.record))
                last_epoch = ev.epoch
            elif ev.type in ("histograms", "surface"):
                self._add_view(c, run_id, ev.type, ev.epoch, ev.text)
            elif ev.type == "marker":
                c.execute("INSERT INTO markers VALUES (?, ?, ?)", (run_id, ev.epoch, ev.text))
        return last_epoch

    def _write_checkpoints(self, c: sqlite3.Connection, run_id: str, step: StepWrite, end: dict | None) -> None:
        """Store the step's new checkpoints, delete the thinned ones and keep the run's `stored_bytes`
        (checkpoints + final model) current."""
        for epoch, blob in step.checkpoints.items():
            c.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", (run_id, epoch, blob))
        for epoch in step.dropped:
            c.execute("DELETE FROM checkpoints WHERE run_id = ? AND epoch = ?", (run_id, epoch))
        sizes = self._sizes.setdefault(run_id, {})
        sizes.update((epoch, len(blob)) for epoch, blob in step.checkpoints.items())
        for epoch in step.dropped:
            sizes.pop(epoch, None)
        final = len(step.final_state) if step.final_state is not None else 0
        if step.checkpoints or step.dropped or final:
            c.execute("UPDATE runs SET stored_bytes = ? WHERE id = ?", (sum(sizes.values()) + final, run_id))
        if end is not None or final:
            self._sizes.pop(run_id, None)

    def _write_best(self, c: sqlite3.Connection, run_id: str, events: list[Packed]) -> None:
        """A `best` marker moves the run's best epoch (and the view thinning's pinned epoch) to it."""
        for ev in events:
            if ev.type == "marker" and '"kind":"best"' in ev.text:
                m = json.loads(ev.text)
                for kind in ("histograms", "surface"):
                    self._thin.setdefault((run_id, kind), _Thinning()).best = m["epoch"]
                c.execute(
                    "UPDATE runs SET best_epoch = ?, best_val_loss = ? WHERE id = ?",
                    (m["epoch"], m.get("val_loss"), run_id),
                )

    def _add_view(self, c: sqlite3.Connection, run_id: str, kind: str, epoch: int, text: str) -> None:
        """Keep at most `keep_views` views of a kind per run, thinned by the checkpoints' rule
        (`checkpoints.thin`): the first, the best and the latest, and every stride-th epoch."""
        t = self._thin.setdefault((run_id, kind), _Thinning())
        c.execute("INSERT OR REPLACE INTO views VALUES (?, ?, ?, ?)", (run_id, kind, epoch, text))
        t.epochs.add(epoch)
        t.stride, dropped = thin(t.epochs, self.keep_views, t.stride, (min(t.epochs), t.best, epoch))
        if dropped:
            c.executemany(
                "DELETE FROM views WHERE run_id = ? AND kind = ? AND epoch = ?", [(run_id, kind, e) for e in dropped]
            )
            t.epochs -= dropped

    def metrics(self, run_id: str, since: int | None = None) -> list[tuple[int, str]]:
        rows = (
            self._r()
            .execute(
                "SELECT epoch, record FROM metrics WHERE run_id = ? AND epoch > ? ORDER BY epoch",
                (run_id, -1 if since is None else since),
            )
            .fetchall()
        )
        return [(e, t) for e, t in rows]

    def view(self, run_id: str, kind: str, epoch: int | None) -> str | None:
        """The stored view at `epoch` or the nearest one before it (latest when epoch is None)."""
        q = "SELECT data FROM views WHERE run_id = ? AND kind = ?"
        args: list = [run_id, kind]
        if epoch is not None:
            q += " AND epoch <= ?"
            args.append(epoch)
        row = self._r().execute(q + " ORDER BY epoch DESC LIMIT 1", args).fetchone()
        return row[0] if row else None

    def views_since(self, run_id: str, kind: str, since: int) -> list[tuple[int, str]]:
        rows = (
            self._r()
            .execute(
                "SELECT epoch, data FROM views WHERE run_id = ? AND kind = ? AND epoch > ? ORDER BY epoch",
                (run_id, kind, since),
            )
            .fetchall()
        )
        return [(e, t) for e, t in rows]

    def markers(self, run_id: str, since: int | None = None) -> list[str]:
        rows = (
            self._r()
            .execute(
                "SELECT data FROM markers WHERE run_id = ? AND epoch > ? ORDER BY rowid",
                (run_id, -1 if since is None else since),
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def checkpoint_epochs(self, run_id: str) -> list[int]:
        rows = self._r().execute("SELECT epoch FROM checkpoints WHERE run_id = ? ORDER BY epoch", (run_id,)).fetchall()
        return [r[0] for r in rows]

    def checkpoint(self, run_id: str, epoch: int) -> bytes | None:
        row = (
            self._r()
            .execute("SELECT state FROM checkpoints WHERE run_id = ? AND epoch = ?", (run_id, epoch))
            .fetchone()
        )
        return row[0] if row else None

    def final_state(self, run_id: str) -> bytes | None:
        row = self._r().execute("SELECT final_state FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None
