"""The rooms store: rooms (join code, what the room is shown, the pushed lesson, closed or not), their
members and the members the teacher removed, in SQLite tables next to the runs. It keeps the rows and
checks the room rules (open, capacity, removed); telling the connected sockets is the facade's
(`classroom.py`) business.

Errors: `NotFound` (no room with that code), `Conflict` (the room is closed), `Forbidden` (the teacher
removed this client), `TooMany` (the room is full), `Unavailable` (no free code found)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
import unicodedata

from .connections import Connections
from .errors import Conflict, Forbidden, NotFound, TooMany, Unavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    closed_at REAL,
    showing TEXT,
    lesson TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_members (
    code TEXT NOT NULL,
    client TEXT NOT NULL,
    name TEXT NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (code, client)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS room_members_client ON room_members(client, joined_at);
CREATE TABLE IF NOT EXISTS room_removed (
    code TEXT NOT NULL,
    client TEXT NOT NULL,
    PRIMARY KEY (code, client)
) WITHOUT ROWID;
"""

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
NAME_MAX = 32
CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


def clean_name(raw: str) -> str:
    """A display name: trimmed, inner whitespace collapsed, 1-32 characters, no control or format
    characters. It is still shown only as text (never as HTML). ValueError says what is wrong."""
    name = " ".join(str(raw).split())
    if not name:
        raise ValueError("a name is needed")
    if len(name) > NAME_MAX:
        raise ValueError(f"at most {NAME_MAX} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise ValueError("letters, digits, spaces and punctuation only")
    return name


def normalize_code(code: str) -> str:
    return code.strip().upper()


def member_ref(client: str) -> str:
    """A short opaque id of a member for the teacher's table (never the token)."""
    return hashlib.sha256(client.encode()).hexdigest()[:10]


class RoomStore:
    """Rooms and their members. `max_members`: the capacity of a room (students)."""

    def __init__(self, db: Connections, max_members: int):
        self.db = db
        self.max_members = max_members
        db.script(SCHEMA)

    def create(self) -> dict:
        """A new open room with a random free code; its `info`."""
        with self.db.lock:
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                try:
                    self.db.w.execute("INSERT INTO rooms (code, created_at) VALUES (?, ?)", (code, time.time()))
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 32**6 codes
                raise Unavailable("could not find a free room code; try again")
        return self.room(code)

    def row(self, code: str) -> dict:
        """The stored row of a room (any case, surrounding spaces ignored). NotFound otherwise."""
        code = normalize_code(code)
        row = (
            self.db.r().execute("SELECT * FROM rooms WHERE code = ?", (code,)).fetchone()
            if CODE_RE.match(code)
            else None
        )
        if row is None:
            raise NotFound(f"no room with code {code[:12]!r}")
        return dict(row)

    def open_row(self, code: str) -> dict:
        """As `row`, and Conflict when the room is closed."""
        row = self.row(code)
        if row["closed_at"] is not None:
            raise Conflict(f"room {row['code']} is closed")
        return row

    def room(self, code: str) -> dict:
        return self.info(self.row(code))

    def info(self, row: dict) -> dict:
        """What clients see of a room: code, times, closed, showing, lesson and the member count."""
        n = self.db.r().execute("SELECT COUNT(*) FROM room_members WHERE code = ?", (row["code"],)).fetchone()[0]
        return {
            "code": row["code"],
            "created_at": row["created_at"],
            "closed": row["closed_at"] is not None,
            "closed_at": row["closed_at"],
            "showing": json.loads(row["showing"]) if row["showing"] else None,
            "lesson": json.loads(row["lesson"]) if row["lesson"] else None,
            "members": n,
        }

    def rooms(self) -> list[dict]:
        """The newest 100 rooms, newest first."""
        codes = [r[0] for r in self.db.r().execute("SELECT code FROM rooms ORDER BY created_at DESC LIMIT 100")]
        return [self.room(c) for c in codes]

    def update(self, code: str, **values) -> None:
        """Set columns (`showing`, `lesson`, `closed_at`) of a room by its normalized code."""
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.db.lock:
            self.db.w.execute(f"UPDATE rooms SET {cols} WHERE code = ?", (*values.values(), code))

    # ---- members ------------------------------------------------------------------------------
    def join(self, code: str, client: str, name: str) -> dict:
        """Add `client` under `name` (a member who joins again keeps their place and takes the new
        name). `{"room": info, "name", "member": member_ref}`."""
        row = self.open_row(code)
        code = row["code"]
        r = self.db.r()
        if r.execute("SELECT 1 FROM room_removed WHERE code = ? AND client = ?", (code, client)).fetchone():
            raise Forbidden(f"the teacher removed you from room {code}")
        # One statement under the lock: the capacity check and the upsert together. A burst of joins
        # (a whole class at once) queues on this lock, and every SQLite call releases and retakes the
        # GIL, which a busy event loop may hold for a switch interval: fewer calls, shorter waits.
        with self.db.lock:
            added = self.db.w.execute(
                "INSERT INTO room_members (code, client, name, joined_at) SELECT ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM room_members WHERE code = ? AND client = ?) "
                "OR (SELECT COUNT(*) FROM room_members WHERE code = ?) < ? "
                "ON CONFLICT (code, client) DO UPDATE SET name = excluded.name",
                (code, client, name, time.time(), code, client, code, self.max_members),
            ).rowcount
        if not added:
            raise TooMany(f"room {code} is full ({self.max_members} students)")
        return {"room": self.info(row), "name": name, "member": member_ref(client)}

    def leave(self, code: str, client: str) -> None:
        row = self.row(code)
        with self.db.lock:
            self.db.w.execute("DELETE FROM room_members WHERE code = ? AND client = ?", (row["code"], client))

    def remove(self, code: str, client: str) -> str:
        """Out of the room, and kept out (a rejoin is Forbidden). The room's normalized code."""
        code = self.row(code)["code"]
        with self.db.lock:
            self.db.w.execute("DELETE FROM room_members WHERE code = ? AND client = ?", (code, client))
            self.db.w.execute("INSERT OR IGNORE INTO room_removed VALUES (?, ?)", (code, client))
        return code

    def members(self, code: str) -> list[dict]:
        """`{client, name, joined_at}` of each member of a room (normalized code), first joined first."""
        rows = self.db.r().execute(
            "SELECT client, name, joined_at FROM room_members WHERE code = ? ORDER BY joined_at", (code,)
        )
        return [dict(m) for m in rows]

    def client_of_member(self, code: str, member: str) -> str | None:
        """The client behind a member id of the students table (member_ref), else None."""
        row = self.row(code)
        for (client,) in self.db.r().execute("SELECT client FROM room_members WHERE code = ?", (row["code"],)):
            if member_ref(client) == member:
                return client
        return None

    def membership(self, client: str) -> dict | None:
        """The open room this client joined last, with its name there."""
        row = (
            self.db.r()
            .execute(
                "SELECT m.code, m.name FROM room_members m JOIN rooms r ON r.code = m.code "
                "WHERE m.client = ? AND r.closed_at IS NULL ORDER BY m.joined_at DESC LIMIT 1",
                (client,),
            )
            .fetchone()
        )
        return {"code": row[0], "name": row[1]} if row else None

    def is_member(self, code: str, client: str) -> bool:
        return self.member_name(code, client) is not None

    def member_name(self, code: str, client: str) -> str | None:
        """The client's name in the room (normalized code), None when not a member."""
        row = (
            self.db.r()
            .execute("SELECT name FROM room_members WHERE code = ? AND client = ?", (code, client))
            .fetchone()
        )
        return row[0] if row else None
