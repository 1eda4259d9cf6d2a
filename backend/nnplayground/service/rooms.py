"""The rooms store: rooms (join code, what the room is shown, the pushed lesson, closed or not), their
members and the members the teacher removed, in tables next to the runs (SQLite or PostgreSQL). It keeps the rows and
checks the room rules (open, capacity, removed); telling the connected sockets is the facade's
(`classroom.py`) business.

Errors: `NotFound` (no room with that code), `Conflict` (the room is closed), `Forbidden` (the teacher
removed this client), `TooMany` (the room is full), `Unavailable` (no free code found)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import unicodedata

from sqlalchemy import text

from .connections import Connections
from .errors import Conflict, Forbidden, NotFound, TooMany, Unavailable

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
NAME_MAX = 32
CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


CREATE = text("INSERT INTO rooms (code, created_at) VALUES (:code, :now) ON CONFLICT (code) DO NOTHING")
ROOM = text("SELECT code, created_at, closed_at, showing, lesson FROM rooms WHERE code = :code")
MEMBER_COUNT = text("SELECT COUNT(*) FROM room_members WHERE code = :code")
NEWEST = text("SELECT code FROM rooms ORDER BY created_at DESC LIMIT 100")
REMOVED = text("SELECT 1 FROM room_removed WHERE code = :code AND client = :client")
LOCK_ROOM = text("SELECT code FROM rooms WHERE code = :code FOR UPDATE")
JOIN = text(
    "INSERT INTO room_members (code, client, name, joined_at) SELECT :code, :client, :name, :now "
    "WHERE EXISTS (SELECT 1 FROM room_members WHERE code = :code AND client = :client) "
    "OR (SELECT COUNT(*) FROM room_members WHERE code = :code) < :max "
    "ON CONFLICT (code, client) DO UPDATE SET name = excluded.name"
)
LEAVE = text("DELETE FROM room_members WHERE code = :code AND client = :client")
KEEP_OUT = text("INSERT INTO room_removed (code, client) VALUES (:code, :client) ON CONFLICT DO NOTHING")
MEMBERS = text("SELECT client, name, joined_at FROM room_members WHERE code = :code ORDER BY joined_at")
MEMBER_CLIENTS = text("SELECT client FROM room_members WHERE code = :code")
MEMBERSHIP = text(
    "SELECT m.code, m.name FROM room_members m JOIN rooms r ON r.code = m.code "
    "WHERE m.client = :client AND r.closed_at IS NULL ORDER BY m.joined_at DESC LIMIT 1"
)
MEMBER_NAME = text("SELECT name FROM room_members WHERE code = :code AND client = :client")


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

    def create(self) -> dict:
        """A new open room with a random free code; its `info`."""
        for _ in range(20):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            with self.db.write() as w:
                if w.execute(CREATE, {"code": code, "now": time.time()}).rowcount:
                    break
        else:  # pragma: no cover - 32**6 codes
            raise Unavailable("could not find a free room code; try again")
        return self.room(code)

    def row(self, code: str) -> dict:
        """The stored row of a room (any case, surrounding spaces ignored). NotFound otherwise."""
        code = normalize_code(code)
        row = None
        if CODE_RE.match(code):
            with self.db.read() as r:
                row = r.execute(ROOM, {"code": code}).fetchone()
        if row is None:
            raise NotFound(f"no room with code {code[:12]!r}")
        return dict(row._mapping)

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
        with self.db.read() as r:
            n = r.execute(MEMBER_COUNT, {"code": row["code"]}).scalar()
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
        with self.db.read() as r:
            codes = [x[0] for x in r.execute(NEWEST)]
        return [self.room(c) for c in codes]

    def update(self, code: str, **values) -> None:
        """Set columns (`showing`, `lesson`, `closed_at`) of a room by its normalized code."""
        cols = ", ".join(f"{k} = :v_{k}" for k in values)  # names from our code, never from a request
        with self.db.write() as w:
            w.execute(
                text(f"UPDATE rooms SET {cols} WHERE code = :code"),
                {f"v_{k}": v for k, v in values.items()} | {"code": code},
            )

    # ---- members ------------------------------------------------------------------------------
    def join(self, code: str, client: str, name: str) -> dict:
        """Add `client` under `name` (a member who joins again keeps their place and takes the new
        name). `{"room": info, "name", "member": member_ref}`."""
        row = self.open_row(code)
        code = row["code"]
        key = {"code": code, "client": client}
        with self.db.read() as r:
            if r.execute(REMOVED, key).fetchone():
                raise Forbidden(f"the teacher removed you from room {code}")
        # One statement under the lock: the capacity check and the upsert together. A burst of joins
        # (a whole class at once) queues on this lock, and every SQLite call releases and retakes the
        # GIL, which a busy event loop may hold for a switch interval: fewer calls, shorter waits.
        # On PostgreSQL the room's row is locked first: joins through other processes wait their turn.
        with self.db.write() as w:
            if not self.db.sqlite:
                w.execute(LOCK_ROOM, {"code": code})
            added = w.execute(JOIN, {**key, "name": name, "now": time.time(), "max": self.max_members}).rowcount
        if not added:
            raise TooMany(f"room {code} is full ({self.max_members} students)")
        return {"room": self.info(row), "name": name, "member": member_ref(client)}

    def leave(self, code: str, client: str) -> None:
        row = self.row(code)
        with self.db.write() as w:
            w.execute(LEAVE, {"code": row["code"], "client": client})

    def remove(self, code: str, client: str) -> str:
        """Out of the room, and kept out (a rejoin is Forbidden). The room's normalized code."""
        code = self.row(code)["code"]
        with self.db.write() as w:
            w.execute(LEAVE, {"code": code, "client": client})
            w.execute(KEEP_OUT, {"code": code, "client": client})
        return code

    def members(self, code: str) -> list[dict]:
        """`{client, name, joined_at}` of each member of a room (normalized code), first joined first."""
        with self.db.read() as r:
            return [dict(m._mapping) for m in r.execute(MEMBERS, {"code": code})]

    def client_of_member(self, code: str, member: str) -> str | None:
        """The client behind a member id of the students table (member_ref), else None."""
        row = self.row(code)
        with self.db.read() as r:
            clients = [c for (c,) in r.execute(MEMBER_CLIENTS, {"code": row["code"]})]
        return next((c for c in clients if member_ref(c) == member), None)

    def membership(self, client: str) -> dict | None:
        """The open room this client joined last, with its name there."""
        with self.db.read() as r:
            row = r.execute(MEMBERSHIP, {"client": client}).fetchone()
        return {"code": row[0], "name": row[1]} if row else None

    def is_member(self, code: str, client: str) -> bool:
        return self.member_name(code, client) is not None

    def member_name(self, code: str, client: str) -> str | None:
        """The client's name in the room (normalized code), None when not a member."""
        with self.db.read() as r:
            row = r.execute(MEMBER_NAME, {"code": code, "client": client}).fetchone()
        return row[0] if row else None
