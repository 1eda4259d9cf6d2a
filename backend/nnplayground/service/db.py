"""Database connections on SQLAlchemy 2 Core, for the run store (`store.py`) and the classroom tables
(`connections.py`): the embedded SQLite file (the default) or PostgreSQL through psycopg 3.

SQLite: WAL, synchronous=NORMAL, a 30 s busy timeout; one writer connection used under a lock (`write`
opens `BEGIN IMMEDIATE`), and one reading connection per thread, so readers never wait for the writer.
Every statement autocommits unless `write` or `read_tx` opened a transaction (the driver's own implicit
transactions are switched off, as in the store before SQLAlchemy).

PostgreSQL: a connection pool (POOL_SIZE + POOL_OVERFLOW: one web process's request threads, its
event loop and the store's writer); reads take a pooled connection in autocommit mode, `write` a
transaction (READ COMMITTED), `read_tx` a REPEATABLE READ one (one snapshot across several reads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from .settings import Settings

BUSY_TIMEOUT_MS = 30_000
# PostgreSQL pool of one process: FastAPI runs sync routes in a 40-thread pool, but reads are short; 8
# kept open and up to 24 more under a burst, then a caller waits (pool_timeout) rather than fail.
POOL_SIZE = 8
POOL_OVERFLOW = 24


def database_url(settings: Settings) -> str:
    """The run database of these settings: `database_url` when set, else the SQLite file `db_path`."""
    return settings.database_url or str(settings.db_path)


def to_url(path_or_url: str) -> URL:
    """A SQLAlchemy URL (`postgresql+psycopg://u@h/db`, `sqlite:///file.db`) or a SQLite file path."""
    if "://" in str(path_or_url):
        url = make_url(str(path_or_url))
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3, never psycopg2's default
        return url
    return URL.create("sqlite", database=str(path_or_url))


def sqlite_pragmas(dbapi_conn, wal_limit: int | None = None) -> None:
    """The SQLite settings every connection of ours gets (WAL, no fsync per commit in WAL mode)."""
    dbapi_conn.isolation_level = None  # autocommit: transactions are opened explicitly, never implicitly
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if wal_limit is not None:
        # the log is cut back to this size whenever it restarts after a checkpoint (it never shrinks otherwise)
        cur.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
    cur.close()


def make_engine(url: URL, wal_limit: int | None = None, pool_size: int = POOL_SIZE) -> Engine:
    """An engine for `url`. SQLite: no pool (each thread keeps its own connection, see Database), the
    pragmas above on every connection. PostgreSQL: a pool checked before use (a restarted server)."""
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", lambda c, _rec: sqlite_pragmas(c, wal_limit))
        return engine
    return create_engine(
        url, pool_size=pool_size, max_overflow=POOL_OVERFLOW, pool_pre_ping=True, pool_timeout=30, future=True
    )


class Database:
    """Connections to one database. `write()` is a transaction under this process's writer lock;
    `read()` a connection for a few autocommitted reads; `read_tx()` one consistent snapshot.

    `sqlite` tells which engine it is; SQLite-only settings (WAL checkpoints, vacuum) are the caller's."""

    def __init__(self, path_or_url: str, wal_limit: int | None = None, pool_size: int = POOL_SIZE):
        self.url = to_url(path_or_url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.path = self.url.database if self.sqlite else None
        self.engine = make_engine(self.url, wal_limit, pool_size)
        self.lock = threading.RLock()
        self._local = threading.local()
        if self.sqlite:
            # The pysqlite dialect would otherwise issue its own BEGIN/COMMIT around statements.
            self._w = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        else:
            self._auto = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _reader(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back when it raises."""
        with self.lock:
            if self.sqlite:
                w = self._w
                w.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield w
                except BaseException:
                    w.exec_driver_sql("ROLLBACK")
                    raise
                w.exec_driver_sql("COMMIT")
            else:
                with self.engine.begin() as c:
                    yield c

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection whose statements autocommit (this thread's own on SQLite, a pooled one else)."""
        if self.sqlite:
            yield self._reader()
        elif (tx := getattr(self._local, "tx", None)) is not None:
            yield tx  # inside this thread's read_tx: its snapshot
        else:
            with self._auto.connect() as c:
                yield c

    @contextmanager
    def read_tx(self) -> Iterator[Connection]:
        """A consistent view across several reads (one WAL snapshot / one REPEATABLE READ snapshot).
        Reads through `read()` in the same thread read in it too."""
        if self.sqlite:
            c = self._reader()
            c.exec_driver_sql("BEGIN")
            try:
                yield c
            finally:
                c.exec_driver_sql("COMMIT")
        else:
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as c, c.begin():
                self._local.tx = c
                try:
                    yield c
                finally:
                    self._local.tx = None

    def close(self) -> None:
        with self.lock:
            if self.sqlite:
                self._w.close()
            self.engine.dispose()
