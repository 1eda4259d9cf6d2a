"""Connections of the classroom tables (rooms, members, teacher sessions), which live in the run
database next to the runs (SQLite or PostgreSQL, `db.py`): `write()` is a transaction (on SQLite one
writer connection under a lock), `read()` a connection for autocommitted reads (on SQLite this
thread's own, so readers never wait for the writer)."""

from __future__ import annotations

from . import migrate
from .db import Database

POOL_SIZE = 4  # PostgreSQL: the classroom's statements are short, the run store has the larger pool


class Connections(Database):
    """The classroom's connections to the run database at `path_or_url` (a SQLite file or a SQLAlchemy
    URL), whose schema is brought to the newest revision first (the tables are the migrations')."""

    def __init__(self, path_or_url: str):
        migrate.upgrade(path_or_url)
        super().__init__(path_or_url, pool_size=POOL_SIZE)
