"""SQLite connections of the classroom tables (rooms, members, teacher sessions), which live in the run
database next to the runs: one writer connection guarded by a lock, and one reading connection per
thread, so readers never wait for the writer (WAL)."""

from __future__ import annotations

import sqlite3
import threading


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Connections:
    """`w` is the writer, used under `lock` (`with db.lock: db.w.execute(...)`); `r()` is this
    thread's reader. Every statement autocommits (no implicit transactions)."""

    def __init__(self, path: str):
        self.path = path
        self.w = _connect(path)
        self.w.execute("PRAGMA journal_mode=WAL")
        self.w.execute("PRAGMA synchronous=NORMAL")  # as the run store: no fsync per commit in WAL mode
        self.lock = threading.Lock()
        self._local = threading.local()

    def r(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    def script(self, sql: str) -> None:
        """Run DDL (CREATE ... IF NOT EXISTS) on the writer."""
        with self.lock:
            self.w.executescript(sql)

    def close(self) -> None:
        with self.lock:
            self.w.close()
