"""The run store on SQLAlchemy 2 Core (SQLite by default, or PostgreSQL): runs, per-epoch metrics,
histogram and surface views (thinned), markers, checkpoints and sweeps. Connections are `db.py`'s (on
SQLite one writer under a lock and a reader per thread, WAL); the schema is `migrate.py`'s (Alembic).

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

from sqlalchemy import Connection, TextClause, bindparam, text

from ..engine.checkpoints import thin
from ..engine.status import ACTIVE, STATUSES, TERMINAL, RunStatus  # noqa: F401  (re-exported for the service)
from ..jsonutil import dumps
from . import migrate
from .db import BUSY_TIMEOUT_MS, Database

VACUUM_PAGES = 1024  # pages given back to the file system per step (4 MiB at the default page size)
# Free pages below this are left for the next inserts to reuse: thinned views and checkpoints free a few
# pages all the time, and giving them back only to grow the file again would be churn under the lock.
VACUUM_MIN_FREE = 256
log = logging.getLogger("nnplayground.store")

# has_final as 0/1 on both engines (PostgreSQL's IS NOT NULL is a boolean)
_HAS_FINAL = "CASE WHEN final_state IS NULL THEN 0 ELSE 1 END AS has_final"
RUN_COLUMNS = (
    "id, status, client, created_at, started_at, finished_at, config, info, summary, message, epochs_run, "
    f"best_epoch, best_val_loss, speed, {_HAS_FINAL}, brief"
)
# What a list of runs shows: no configuration (a custom data set's can be megabytes), only the brief.
LIST_COLUMNS = (
    "id, status, client, created_at, started_at, finished_at, summary, message, epochs_run, "
    f"best_epoch, best_val_loss, speed, {_HAS_FINAL}, brief"
)


def _sql(q: str, *expanding: str) -> TextClause:
    """A statement built once (SQLAlchemy caches its compiled form); `expanding`: list parameters (IN)."""
    t = text(q)
    return t.bindparams(*(bindparam(name, expanding=True) for name in expanding)) if expanding else t


# The statements, in SQL both engines speak (ON CONFLICT ... excluded is SQLite's and PostgreSQL's).
INSERT_RUN = _sql(
    "INSERT INTO runs (id, status, client, created_at, config, speed, brief, sweep_id) "
    "VALUES (:id, :status, :client, :created_at, :config, :speed, :brief, :sweep_id)"
)
INSERT_SWEEP = _sql("INSERT INTO sweeps (id, client, created_at, spec) VALUES (:id, :client, :created_at, :spec)")
GET_SWEEP = _sql("SELECT id, client, created_at, spec FROM sweeps WHERE id = :id")
SWEEP_RUNS = _sql(f"SELECT {LIST_COLUMNS} FROM runs WHERE sweep_id = :id")
SWEEP_OF = _sql("SELECT sweep_id FROM runs WHERE id = :id")
DELETE_SWEEP = _sql("DELETE FROM sweeps WHERE id = :id")
GET_RUN = _sql(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = :id")
CLAIM_RUN = _sql(
    "UPDATE runs SET status = :running, started_at = :now, worker = :worker, worker_pid = :pid "
    "WHERE id = :id AND status = :queued"
)
COUNT_ACTIVE = _sql(
    "SELECT COUNT(DISTINCT COALESCE(sweep_id, id)) FROM runs WHERE client = :client AND status IN :active", "active"
)
ACTIVE_COUNTS = _sql(
    "SELECT status, COUNT(DISTINCT COALESCE(sweep_id, id)) FROM runs "
    "WHERE client = :client AND status IN :active GROUP BY status",
    "active",
)
STARTED_BEFORE = _sql("SELECT id FROM runs WHERE status IN :live AND started_at < :cutoff", "live")
RUNS_OF_CLIENTS = _sql(
    "SELECT id, client, status, created_at, brief, summary, epochs_run, best_val_loss "
    "FROM runs WHERE client IN :clients ORDER BY created_at",
    "clients",
)
LAST_METRIC = _sql("SELECT record FROM metrics WHERE run_id = :id ORDER BY epoch DESC LIMIT 1")
CLIENT_STORAGE = _sql("SELECT COALESCE(SUM(stored_bytes), 0) FROM runs WHERE client = :client")
COUNTS = _sql("SELECT status, COUNT(*) FROM runs GROUP BY status")
ACTIVE_IDS = _sql("SELECT id FROM runs WHERE status IN :active", "active")
MARK_INTERRUPTED = _sql(
    "UPDATE runs SET status = :interrupted, finished_at = :now, "
    "message = 'the server stopped while this run was active' WHERE status IN :active",
    "active",
)
DELETE_RUN = _sql("DELETE FROM runs WHERE id = :id")
DELETE_RUN_ROWS = tuple(
    _sql(f"DELETE FROM {t} WHERE run_id = :id") for t in ("metrics", "views", "markers", "checkpoints")
)
RUN_EXISTS = _sql("SELECT 1 FROM runs WHERE id = :id")
# PostgreSQL: the run's row stays locked until the step commits, so a delete_run in another process
# waits for it (and then deletes the step's rows too) instead of leaving rows of a deleted run.
RUN_EXISTS_LOCKED = _sql("SELECT 1 FROM runs WHERE id = :id FOR UPDATE")
SET_EPOCHS_RUN = _sql("UPDATE runs SET epochs_run = :epoch WHERE id = :id")
SET_INFO = _sql("UPDATE runs SET info = :info, brief = :brief WHERE id = :id")
SET_FINAL_STATE = _sql("UPDATE runs SET final_state = :state WHERE id = :id")
SET_END = _sql(
    "UPDATE runs SET status = :status, summary = :summary, message = :message, finished_at = :now WHERE id = :id"
)
SET_BEST = _sql("UPDATE runs SET best_epoch = :epoch, best_val_loss = :val_loss WHERE id = :id")
SET_STORED_BYTES = _sql("UPDATE runs SET stored_bytes = :n WHERE id = :id")
UPSERT_METRIC = _sql(
    "INSERT INTO metrics (run_id, epoch, record) VALUES (:id, :epoch, :record) "
    "ON CONFLICT (run_id, epoch) DO UPDATE SET record = excluded.record"
)
UPSERT_VIEW = _sql(
    "INSERT INTO views (run_id, kind, epoch, data) VALUES (:id, :kind, :epoch, :data) "
    "ON CONFLICT (run_id, kind, epoch) DO UPDATE SET data = excluded.data"
)
DELETE_VIEW = _sql("DELETE FROM views WHERE run_id = :id AND kind = :kind AND epoch = :epoch")
INSERT_MARKER = _sql("INSERT INTO markers (run_id, epoch, data) VALUES (:id, :epoch, :data)")
UPSERT_CHECKPOINT = _sql(
    "INSERT INTO checkpoints (run_id, epoch, state) VALUES (:id, :epoch, :state) "
    "ON CONFLICT (run_id, epoch) DO UPDATE SET state = excluded.state"
)
DELETE_CHECKPOINT = _sql("DELETE FROM checkpoints WHERE run_id = :id AND epoch = :epoch")
METRICS = _sql("SELECT epoch, record FROM metrics WHERE run_id = :id AND epoch > :since ORDER BY epoch")
VIEW_LATEST = _sql("SELECT data FROM views WHERE run_id = :id AND kind = :kind ORDER BY epoch DESC LIMIT 1")
VIEW_AT = _sql(
    "SELECT data FROM views WHERE run_id = :id AND kind = :kind AND epoch <= :epoch ORDER BY epoch DESC LIMIT 1"
)
VIEWS_SINCE = _sql(
    "SELECT epoch, data FROM views WHERE run_id = :id AND kind = :kind AND epoch > :since ORDER BY epoch"
)
MARKERS = _sql("SELECT data FROM markers WHERE run_id = :id AND epoch > :since ORDER BY id")
CHECKPOINT_EPOCHS = _sql("SELECT epoch FROM checkpoints WHERE run_id = :id ORDER BY epoch")
CHECKPOINT = _sql("SELECT state FROM checkpoints WHERE run_id = :id AND epoch = :epoch")
FINAL_STATE = _sql("SELECT final_state FROM runs WHERE id = :id")
NO_BRIEF = _sql("SELECT id, config, info FROM runs WHERE brief IS NULL")
SET_BRIEF = _sql("UPDATE runs SET brief = :brief WHERE id = :id")


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


class Store:
    """The run store. `path_or_url`: a SQLite file path (the embedded default) or a SQLAlchemy URL
    (`sqlite:///file.db`, `postgresql+psycopg://user@host/db`); the schema is brought to the newest
    revision first (`migrate.upgrade`). `keep_views`: views kept per kind and run; `wal_limit`: bytes
    the SQLite write-ahead log is cut back to.

    Several processes may use one database at once (web processes, Celery workers): every check that
    decides something (a run's status, whether it still exists) is made in SQL inside the write. The
    only state kept in memory is per run *written by this process* (`_thin`: the epochs of its stored
    views; `_sizes`: its checkpoints' sizes): a run's steps are written by the one process that
    claimed it, so no other process's writes can make them stale. They are dropped when the run ends
    or is deleted."""

    def __init__(self, path_or_url: str, keep_views: int = 200, wal_limit: int = 16 << 20):
        self.keep_views = max(4, keep_views)
        self.wal_limit = wal_limit
        migrate.upgrade(path_or_url)
        self.db = Database(path_or_url, wal_limit)
        self.path = self.db.path  # the SQLite file, None on PostgreSQL
        self._exists = RUN_EXISTS if self.db.sqlite else RUN_EXISTS_LOCKED
        self._backfill_briefs()
        self._closing = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.db.sqlite:
            # WAL checkpoints (copying the log into the database file, with an fsync) run in a thread of
            # their own instead of inside whichever commit crosses 1000 pages: a run's events are published
            # right after their commit, and an inline checkpoint held a live epoch back (README, Performance).
            with self.db.write() as w:
                w.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="nnplayground-wal", daemon=True)
            self._checkpointer.start()
        self._thin: dict[tuple[str, str], _Thinning] = {}
        # checkpoint sizes of the runs being written, by epoch: summing length(state) in SQL reads every
        # blob on every step (README, Performance), so the total is kept here
        self._sizes: dict[str, dict[int, int]] = {}

    def _backfill_briefs(self) -> None:
        """Runs written before the brief existed: computed once here, never again per request."""
        with self.db.read() as r:
            rows = r.execute(NO_BRIEF).fetchall()
        if rows:
            with self.db.write() as c:
                c.execute(
                    SET_BRIEF,
                    [
                        {"id": i, "brief": dumps(run_brief(json.loads(cfg), json.loads(info) if info else None))}
                        for i, cfg, info in rows
                    ],
                )

    # ---- connections ------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (this process's writes one at a time)."""
        with self.db.write() as c:
            yield c

    @contextmanager
    def read_tx(self) -> Iterator[Connection]:
        """A consistent view across several reads (one snapshot); the store's reads in this thread
        read in it until the block ends."""
        with self.db.read_tx() as c:
            yield c

    def _one(self, stmt, **params):
        with self.db.read() as r:
            return r.execute(stmt, params).fetchone()

    def _all(self, stmt, **params) -> list:
        with self.db.read() as r:
            return r.execute(stmt, params).fetchall()

    def _checkpoint_loop(self, every: float = 0.5) -> None:
        raw = self.db.engine.raw_connection()  # the driver's own connection: pragmas step as they should
        conn = raw.dbapi_connection
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
            raw.close()

    def _wal_size(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def _truncate_wal(self, conn: sqlite3.Connection) -> None:
        """Everything in the log is in the database: cut the file to zero. journal_size_limit does this
        only when a writer restarts the log, so a log left large by a burst of writes would otherwise
        stay so while the server is idle. It waits for readers at most 50 ms (then the next round tries)."""
        with self.db.lock:
            conn.execute("PRAGMA busy_timeout=50")
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def _vacuum_step(self, conn: sqlite3.Connection) -> int:
        """Give up to VACUUM_PAGES free pages (a deleted run's) back to the file system: short steps
        under the writer's lock, so a live epoch's commit never waits for a whole run's worth.
        Returns the free pages left."""
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free < VACUUM_MIN_FREE:
            return free
        with self.db.lock:
            # executescript steps the pragma to the end; execute() frees a single page per call
            conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
        return conn.execute("PRAGMA freelist_count").fetchone()[0]

    def close(self) -> None:
        self._closing.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        self.db.close()

    # ---- runs -------------------------------------------------------------------------------
    def insert_run(self, run_id: str, config: str, client: str, speed: float, brief: str | None = None) -> None:
        row = {"id": run_id, "status": RunStatus.QUEUED, "client": client, "created_at": time.time()}
        with self.write() as c:
            c.execute(INSERT_RUN, {**row, "config": config, "speed": speed, "brief": brief, "sweep_id": None})

    # ---- sweeps -------------------------------------------------------------------------------
    def insert_sweep(
        self, sweep_id: str, client: str, spec: str, runs: list[tuple[str, str, str]], speed: float
    ) -> None:
        """A sweep (`spec`: its JSON: base, vary, mode, variants) and its variants' runs, (id, config JSON,
        brief JSON) each, queued, in one transaction."""
        now = time.time()
        with self.write() as c:
            c.execute(INSERT_SWEEP, {"id": sweep_id, "client": client, "created_at": now, "spec": spec})
            c.execute(
                INSERT_RUN,
                [
                    {
                        "id": r,
                        "status": RunStatus.QUEUED,
                        "client": client,
                        "created_at": now,
                        "config": config,
                        "speed": speed,
                        "brief": brief,
                        "sweep_id": sweep_id,
                    }
                    for r, config, brief in runs
                ],
            )

    def get_sweep(self, sweep_id: str) -> dict | None:
        row = self._one(GET_SWEEP, id=sweep_id)
        return dict(row._mapping) if row else None

    def list_sweeps(self, client: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        """Sweeps newest first (a client's own with `client`), and how many there are."""
        where, args = ("WHERE client = :client", {"client": client}) if client is not None else ("", {})
        with self.db.read() as r:
            total = r.execute(text(f"SELECT COUNT(*) FROM sweeps {where}"), args).scalar()
            rows = r.execute(
                text(
                    f"SELECT id, client, created_at, spec FROM sweeps {where} "
                    "ORDER BY created_at DESC, id LIMIT :limit OFFSET :offset"
                ),
                {**args, "limit": limit, "offset": offset},
            ).fetchall()
        return [dict(x._mapping) for x in rows], total

    def sweep_runs(self, sweep_id: str) -> list[dict]:
        """The sweep's variants' runs still stored, as lists show them (no configuration)."""
        return [dict(x._mapping) for x in self._all(SWEEP_RUNS, id=sweep_id)]

    def sweep_of(self, run_id: str) -> str | None:
        row = self._one(SWEEP_OF, id=run_id)
        return row[0] if row else None

    def delete_sweep(self, sweep_id: str) -> bool:
        """The sweep's record (its runs are deleted one by one with delete_run)."""
        with self.write() as c:
            return c.execute(DELETE_SWEEP, {"id": sweep_id}).rowcount > 0

    def update_run(self, run_id: str, only_if: tuple[str, ...] | None = None, **values) -> bool:
        """Set columns of a run; with `only_if`, only while its status is one of those. The check and
        the update are one statement, so of several processes racing for the same change one wins."""
        params = {f"v_{k}": v for k, v in values.items()}
        params["id"] = run_id
        if only_if:
            params["only_if"] = list(only_if)
        with self.write() as c:
            return c.execute(_update_stmt(tuple(values), bool(only_if)), params).rowcount > 0

    def claim_run(self, run_id: str, worker: str = "", pid: int = 0, status: str = RunStatus.RUNNING) -> bool:
        """A worker takes a queued run (the distributed backend): it becomes `status` (running, or paused
        when it starts paused), started now, with `worker` (its host name or Celery node) and `pid` noted,
        only while still queued: a task delivered twice, or a run stopped or deleted while queued, is
        claimed by nobody. True only for the one caller that moved it from `queued`."""
        params = {"id": run_id, "worker": worker, "pid": pid, "now": time.time()}
        with self.write() as c:
            return c.execute(CLAIM_RUN, {**params, "running": status, "queued": RunStatus.QUEUED}).rowcount == 1

    def get_run(self, run_id: str) -> dict | None:
        row = self._one(GET_RUN, id=run_id)
        return dict(row._mapping) if row else None

    def list_runs(
        self, status: str | None, limit: int, offset: int, client: str | None = None
    ) -> tuple[list[dict], int]:
        conds, args = [], {}
        if status:
            conds.append("status = :status")
            args["status"] = status
        if client is not None:
            conds.append("client = :client")
            args["client"] = client
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        with self.db.read() as r:
            total = r.execute(text(f"SELECT COUNT(*) FROM runs {where}"), args).scalar()
            rows = r.execute(
                text(
                    f"SELECT {LIST_COLUMNS} FROM runs {where} ORDER BY created_at DESC, id LIMIT :limit OFFSET :offset"
                ),
                {**args, "limit": limit, "offset": offset},
            ).fetchall()
        return [dict(x._mapping) for x in rows], total

    def count_active(self, client: str) -> int:
        """A client's active runs; a sweep's variants count once (one job, one worker slot)."""
        return self._one(COUNT_ACTIVE, client=client, active=list(ACTIVE))[0]

    def active_counts(self, client: str) -> dict[str, int]:
        """How many runs of a client are in each active status (statuses with none are left out); a
        sweep's variants count once."""
        return {s: n for s, n in self._all(ACTIVE_COUNTS, client=client, active=list(ACTIVE))}

    def started_before(self, cutoff: float) -> list[str]:
        """Ids of the runs training or paused that started before `cutoff` (epoch seconds)."""
        return [r[0] for r in self._all(STARTED_BEFORE, live=[RunStatus.RUNNING, RunStatus.PAUSED], cutoff=cutoff)]

    def runs_of_clients(self, clients: list[str]) -> list[dict]:
        """The runs of these clients, oldest first per client, with the columns of the teacher's table
        (id, client, status, created_at, brief, summary, epochs_run, best_val_loss; never the
        configuration, which a custom data set makes megabytes long)."""
        out: list[dict] = []
        with self.db.read() as r:
            for i in range(0, len(clients), 400):  # below SQLite's bound on a statement's parameters
                out += [dict(x._mapping) for x in r.execute(RUNS_OF_CLIENTS, {"clients": clients[i : i + 400]})]
        return out

    def last_metric(self, run_id: str) -> str | None:
        """The epoch record (JSON text) of the run's latest epoch, None before its first."""
        row = self._one(LAST_METRIC, id=run_id)
        return row[0] if row else None

    def client_storage(self, client: str) -> int:
        """Bytes of the checkpoints and final models of a client's stored runs."""
        return int(self._one(CLIENT_STORAGE, client=client)[0])  # PostgreSQL's SUM is a numeric

    def counts(self) -> dict[str, int]:
        return {s: n for s, n in self._all(COUNTS)}

    def mark_interrupted(self) -> list[str]:
        """At start-up: runs that were active when the server stopped cannot continue."""
        with self.write() as c:
            ids = [r[0] for r in c.execute(ACTIVE_IDS, {"active": list(ACTIVE)})]
            c.execute(
                MARK_INTERRUPTED, {"interrupted": RunStatus.INTERRUPTED, "now": time.time(), "active": list(ACTIVE)}
            )
        return ids

    def delete_run(self, run_id: str) -> bool:
        with self.write() as c:
            # the run's row first: on PostgreSQL this waits for a step another process is writing
            # (apply_step locks the row), whose rows the deletes below then see
            gone = c.execute(DELETE_RUN, {"id": run_id}).rowcount > 0
            for stmt in DELETE_RUN_ROWS:
                c.execute(stmt, {"id": run_id})
        for key in [k for k in self._thin if k[0] == run_id]:
            del self._thin[key]
        self._sizes.pop(run_id, None)
        return gone

    # ---- events -------------------------------------------------------------------------------
    def apply_step(self, run_id: str, step: StepWrite, end: dict | None, info: str | None) -> bool:
        """Persist one step's events in one transaction, committed before this returns (nothing is
        shown before it is stored). False when the run no longer exists."""
        last_epoch = next((ev.epoch for ev in reversed(step.events) if ev.type == "epoch"), None)
        with self.write() as c:
            # the run must still exist (it may have been deleted); setting its epochs_run first checks
            # that in the same statement (and locks its row on PostgreSQL, as FOR UPDATE would)
            if last_epoch is not None:
                if c.execute(SET_EPOCHS_RUN, {"epoch": last_epoch, "id": run_id}).rowcount == 0:
                    return False
            elif c.execute(self._exists, {"id": run_id}).fetchone() is None:
                return False
            self._write_events(c, run_id, step.events)
            self._write_checkpoints(c, run_id, step, end)
            if info is not None:
                brief = dumps(run_brief({}, json.loads(info)))
                c.execute(SET_INFO, {"info": info, "brief": brief, "id": run_id})
            self._write_best(c, run_id, step.events)
            if step.final_state is not None:
                c.execute(SET_FINAL_STATE, {"state": step.final_state, "id": run_id})
            if end is not None:
                c.execute(
                    SET_END,
                    {
                        "status": end["status"],
                        "summary": end["summary"],
                        "message": end["message"],
                        "now": time.time(),
                        "id": run_id,
                    },
                )
                for kind in ("histograms", "surface"):  # a finished run gets no more views
                    self._thin.pop((run_id, kind), None)
        return True

    def _write_events(self, c: Connection, run_id: str, events: list[Packed]) -> None:
        """Insert a step's epoch records, views and markers."""
        for ev in events:
            if ev.type == "epoch":
                c.execute(UPSERT_METRIC, {"id": run_id, "epoch": ev.epoch, "record": ev.record})
            elif ev.type in ("histograms", "surface"):
                self._add_view(c, run_id, ev.type, ev.epoch, ev.text)
            elif ev.type == "marker":
                c.execute(INSERT_MARKER, {"id": run_id, "epoch": ev.epoch, "data": ev.text})

    def _write_checkpoints(self, c: Connection, run_id: str, step: StepWrite, end: dict | None) -> None:
        """Store the step's new checkpoints, delete the thinned ones and keep the run's `stored_bytes`
        (checkpoints + final model) current."""
        if step.checkpoints:
            c.execute(
                UPSERT_CHECKPOINT, [{"id": run_id, "epoch": e, "state": blob} for e, blob in step.checkpoints.items()]
            )
        if step.dropped:
            c.execute(DELETE_CHECKPOINT, [{"id": run_id, "epoch": e} for e in step.dropped])
        sizes = self._sizes.setdefault(run_id, {})
        sizes.update((epoch, len(blob)) for epoch, blob in step.checkpoints.items())
        for epoch in step.dropped:
            sizes.pop(epoch, None)
        final = len(step.final_state) if step.final_state is not None else 0
        if step.checkpoints or step.dropped or final:
            c.execute(SET_STORED_BYTES, {"n": sum(sizes.values()) + final, "id": run_id})
        if end is not None or final:
            self._sizes.pop(run_id, None)

    def _write_best(self, c: Connection, run_id: str, events: list[Packed]) -> None:
        """A `best` marker moves the run's best epoch (and the view thinning's pinned epoch) to it."""
        for ev in events:
            if ev.type == "marker" and '"kind":"best"' in ev.text:
                m = json.loads(ev.text)
                for kind in ("histograms", "surface"):
                    self._thin.setdefault((run_id, kind), _Thinning()).best = m["epoch"]
                c.execute(SET_BEST, {"epoch": m["epoch"], "val_loss": m.get("val_loss"), "id": run_id})

    def _add_view(self, c: Connection, run_id: str, kind: str, epoch: int, text: str) -> None:
        """Keep at most `keep_views` views of a kind per run, thinned by the checkpoints' rule
        (`checkpoints.thin`): the first, the best and the latest, and every stride-th epoch."""
        t = self._thin.setdefault((run_id, kind), _Thinning())
        c.execute(UPSERT_VIEW, {"id": run_id, "kind": kind, "epoch": epoch, "data": text})
        t.epochs.add(epoch)
        t.stride, dropped = thin(t.epochs, self.keep_views, t.stride, (min(t.epochs), t.best, epoch))
        if dropped:
            c.execute(DELETE_VIEW, [{"id": run_id, "kind": kind, "epoch": e} for e in dropped])
            t.epochs -= dropped

    def metrics(self, run_id: str, since: int | None = None) -> list[tuple[int, str]]:
        return [(e, t) for e, t in self._all(METRICS, id=run_id, since=-1 if since is None else since)]

    def view(self, run_id: str, kind: str, epoch: int | None) -> str | None:
        """The stored view at `epoch` or the nearest one before it (latest when epoch is None)."""
        if epoch is None:
            row = self._one(VIEW_LATEST, id=run_id, kind=kind)
        else:
            row = self._one(VIEW_AT, id=run_id, kind=kind, epoch=epoch)
        return row[0] if row else None

    def views_since(self, run_id: str, kind: str, since: int) -> list[tuple[int, str]]:
        return [(e, t) for e, t in self._all(VIEWS_SINCE, id=run_id, kind=kind, since=since)]

    def markers(self, run_id: str, since: int | None = None) -> list[str]:
        return [r[0] for r in self._all(MARKERS, id=run_id, since=-1 if since is None else since)]

    def checkpoint_epochs(self, run_id: str) -> list[int]:
        return [r[0] for r in self._all(CHECKPOINT_EPOCHS, id=run_id)]

    def checkpoint(self, run_id: str, epoch: int) -> bytes | None:
        row = self._one(CHECKPOINT, id=run_id, epoch=epoch)
        return bytes(row[0]) if row else None

    def final_state(self, run_id: str) -> bytes | None:
        row = self._one(FINAL_STATE, id=run_id)
        return bytes(row[0]) if row and row[0] is not None else None


_UPDATES: dict[tuple[tuple[str, ...], bool], TextClause] = {}


def _update_stmt(columns: tuple[str, ...], guarded: bool) -> TextClause:
    """`UPDATE runs SET <columns> WHERE id = :id [AND status IN :only_if]`, built once per shape (the
    column names come from our code, never from a request)."""
    stmt = _UPDATES.get((columns, guarded))
    if stmt is None:
        q = "UPDATE runs SET " + ", ".join(f"{k} = :v_{k}" for k in columns) + " WHERE id = :id"
        stmt = _UPDATES[(columns, guarded)] = _sql(q + " AND status IN :only_if", "only_if") if guarded else _sql(q)
    return stmt
