"""Schema migrations of the run database with Alembic (revisions in `service/migrations/versions/`,
shipped in the package, so an installed wheel migrates without an alembic.ini).

`upgrade(url)` brings a database to the newest revision: the server runs it at start (`Store`), and
`nnplayground db upgrade` runs it alone (a deployment's one-shot migration step). Several processes
may start at once: on PostgreSQL the upgrade holds an advisory lock, on SQLite a `BEGIN IMMEDIATE`
transaction, so one migrates and the others then find the database current.

A SQLite file written before Alembic (tables, no `alembic_version`) is converted in place: the steps
the store used to run at each start (added columns, stored sizes), the markers' `id`, then it is
stamped with the baseline revision and upgraded like any other."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from .db import make_engine, to_url

log = logging.getLogger("nnplayground.store")
MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
LOCK_KEY = 0x6E6E_7067  # pg_advisory_xact_lock key of the upgrade ("nnpg")

# What the releases before Alembic created at start (CREATE ... IF NOT EXISTS, also the classroom's
# tables); a file of an early release lacks some of it.
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,
    started_at REAL, finished_at REAL, config TEXT NOT NULL, info TEXT, summary TEXT,
    message TEXT NOT NULL DEFAULT '', epochs_run INTEGER NOT NULL DEFAULT 0, best_epoch INTEGER,
    best_val_loss REAL, speed REAL NOT NULL DEFAULT 0, final_state BLOB
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
CREATE TABLE IF NOT EXISTS markers (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL, epoch INTEGER NOT NULL, state BLOB NOT NULL, PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY, client TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, spec TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sweeps_client ON sweeps(client, created_at);
CREATE TABLE IF NOT EXISTS classroom_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS teacher_sessions (
    digest TEXT PRIMARY KEY, secret_tag TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, created_at REAL NOT NULL, closed_at REAL, showing TEXT, lesson TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_members (
    code TEXT NOT NULL, client TEXT NOT NULL, name TEXT NOT NULL, joined_at REAL NOT NULL,
    PRIMARY KEY (code, client)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS room_members_client ON room_members(client, joined_at);
CREATE TABLE IF NOT EXISTS room_removed (
    code TEXT NOT NULL, client TEXT NOT NULL, PRIMARY KEY (code, client)
) WITHOUT ROWID;
"""
# Columns of runs added after the first release, before Alembic: (name, declaration).
ADDED_COLUMNS = (
    ("brief", "TEXT"),  # the run's key choices as JSON (store.run_brief); filled by the store
    ("stored_bytes", "INTEGER NOT NULL DEFAULT 0"),  # bytes of its stored checkpoints and final model
    ("sweep_id", "TEXT"),  # the sweep this run is a variant of (sweeps.id), else NULL
)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Alembic's configuration for our revisions, from the package (no alembic.ini)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(path_or_url: str, revision: str = "head") -> str | None:
    """Bring the database at `path_or_url` (a SQLite file or a SQLAlchemy URL) to `revision`; the
    revision it is at afterwards. Raises sqlalchemy errors when the database cannot be reached."""
    url = to_url(path_or_url)
    engine = make_engine(url, pool_size=1)
    try:
        if url.get_backend_name() == "sqlite":
            return _upgrade_sqlite(engine, revision)
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            if revision != "head" or current(conn) != head():
                command.upgrade(alembic_config(connection=conn), revision)
            return current(conn)
    finally:
        engine.dispose()


def _upgrade_sqlite(engine, revision: str) -> str | None:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        _incremental_vacuum(conn)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # one upgrader at a time; the others then find it current
        try:
            tables = set(inspect(conn).get_table_names())
            if "runs" in tables and "alembic_version" not in tables:
                _adopt_legacy(conn)
            if revision != "head" or current(conn) != head():
                command.upgrade(alembic_config(connection=conn), revision)
            at = current(conn)
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
        return at


def _incremental_vacuum(conn: Connection) -> None:
    """Incremental auto-vacuum lets a deleted run's pages go back to the file system. It can only be
    switched on by rebuilding the file: instant for a new one, once for a file written by an earlier
    version (which keeps working either way)."""
    if conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() != 2:
        log.info("switching %s to incremental auto-vacuum (a one-time rebuild)", conn.engine.url.database)
        conn.exec_driver_sql("PRAGMA auto_vacuum=INCREMENTAL")
        conn.exec_driver_sql("VACUUM")


def _adopt_legacy(conn: Connection) -> None:
    """A file of a release before Alembic: the steps its store ran at each start, then the baseline's
    stamp (its schema is now the baseline's)."""
    log.info("converting %s to the migrated schema (revision %s)", conn.engine.url.database, BASELINE)
    for stmt in LEGACY_SCHEMA.split(";"):
        if stmt.strip():
            conn.exec_driver_sql(stmt)
    have = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(runs)")}
    for name, decl in ADDED_COLUMNS:
        if name not in have:
            conn.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS runs_sweep ON runs(sweep_id)")
    if "stored_bytes" not in have:  # once: this reads every blob
        conn.exec_driver_sql(
            "UPDATE runs SET stored_bytes = COALESCE(length(final_state), 0) + "
            "(SELECT COALESCE(SUM(length(state)), 0) FROM checkpoints WHERE run_id = runs.id)"
        )
    if "id" not in {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(markers)")}:
        # the rowid was the markers' order: it becomes their id
        conn.exec_driver_sql(
            "CREATE TABLE markers_new (id INTEGER NOT NULL PRIMARY KEY, run_id TEXT NOT NULL, "
            "epoch INTEGER NOT NULL, data TEXT NOT NULL)"
        )
        conn.exec_driver_sql("INSERT INTO markers_new SELECT rowid, run_id, epoch, data FROM markers")
        conn.exec_driver_sql("DROP TABLE markers")
        conn.exec_driver_sql("ALTER TABLE markers_new RENAME TO markers")
        conn.exec_driver_sql("CREATE INDEX markers_run ON markers(run_id, epoch)")
    command.stamp(alembic_config(connection=conn), BASELINE)
