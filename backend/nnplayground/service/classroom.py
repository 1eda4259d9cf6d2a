"""Classroom mode: anonymous client tokens, the teacher role, rooms (join code, members, what the
room is shown, the pushed lesson) kept in SQLite next to the runs, the room websockets' fan-out and
the teacher's leaderboard.

Identity: a client token is `<client id>.<signature>`, signed with itsdangerous (HMAC-SHA256 under a key
derived from the server's key, `secret_key`, or a random one kept in the database so tokens survive a
restart). Tokens of the earlier home-made format (a truncated HMAC of "client:<id>") are still accepted, so a
student's cookie outlives the upgrade. A
run's owner is stored as `tok:<client id>`. The teacher proves the role with the teacher secret (as a
Bearer token) or with a session cookie from `POST /api/teacher/login`: a random token whose hash is
kept in SQLite with its expiry and a tag of the secret it was opened under, so logout ends it and a new
secret ends them all. Secrets are compared in constant time."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Awaitable, Callable

from itsdangerous import Signer

from .jsonutil import dumps
from .settings import Settings
from .store import run_brief

SCHEMA = """
CREATE TABLE IF NOT EXISTS classroom_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
CREATE TABLE IF NOT EXISTS teacher_sessions (
    digest TEXT PRIMARY KEY,   -- sha256 of the cookie's token (the token itself is never stored)
    secret_tag TEXT NOT NULL,  -- which teacher secret opened it
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_removed (
    code TEXT NOT NULL,
    client TEXT NOT NULL,
    PRIMARY KEY (code, client)
) WITHOUT ROWID;
"""
TEACHER_SESSION_SECONDS = 7 * 24 * 3600

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
NAME_MAX = 32
CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


class ClassroomError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def clean_name(raw: str) -> str:
    """A display name: trimmed, inner whitespace collapsed, 1-32 characters, no control or format
    characters. It is still shown only as text (never as HTML)."""
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


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class Identity:
    """Signs and checks client tokens; checks the teacher secret."""

    def __init__(self, key: bytes, teacher_secret: str):
        self._key = key
        self._signer = Signer(key, salt="nnplayground.client-token", digest_method=hashlib.sha256)
        self._teacher = _digest(teacher_secret) if teacher_secret else None
        # names the secret in stored sessions without storing anything it could be recovered from
        self.secret_tag = (
            self._sign("teacher:" + hashlib.sha256(teacher_secret.encode()).hexdigest()) if teacher_secret else None
        )

    def _sign(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def new_token(self) -> tuple[str, str]:
        """A fresh client id and its signed token."""
        cid = secrets.token_hex(12)
        return cid, self._signer.sign(cid).decode()

    def client_of(self, token: str | None) -> str | None:
        """The client id of a valid token (current or earlier format), else None."""
        if not token or len(token) > 200 or "." not in token:
            return None
        cid, sig = token.split(".", 1)
        if not re.fullmatch(r"[0-9a-f]{24}", cid):
            return None
        if self._signer.validate(token):
            return cid
        # the format before itsdangerous (tokens in students' cookies when the server was upgraded)
        return cid if hmac.compare_digest(sig.encode(), self._sign("client:" + cid).encode()) else None

    def is_teacher_secret(self, value: str | None) -> bool:
        if self._teacher is None or not value:
            return False
        return hmac.compare_digest(_digest(value), self._teacher)


# ---- room websockets' fan-out -------------------------------------------------------------------------
SendText = Callable[[str], Awaitable[None]]


class RoomViewer:
    """One room websocket: a bounded frame buffer and a sender task. Leaderboard frames supersede
    each other, so only the latest one waits; other frames beyond the bound drop the oldest."""

    def __init__(self, send: SendText, client: str, teacher: bool, max_frames: int = 64):
        self.send, self.client, self.teacher = send, client, teacher
        self.frames: deque[str] = deque()
        self.board: str | None = None
        self.max_frames = max_frames
        self.wake = asyncio.Event()
        self.closed = False
        self.close_after = False

    def offer(self, text: str, board: bool = False) -> None:
        if self.closed:
            return
        if board:
            self.board = text
        else:
            if len(self.frames) >= self.max_frames:
                self.frames.popleft()
            self.frames.append(text)
        self.wake.set()

    async def run(self, on_close: Callable[[], Awaitable[None]]) -> None:
        while not self.closed:
            await self.wake.wait()
            self.wake.clear()
            while self.frames or self.board is not None:
                if self.frames:
                    text = self.frames.popleft()
                else:
                    text, self.board = self.board, None
                await self.send(text)
            if self.close_after:
                self.closed = True
                await on_close()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class RoomHub:
    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rooms: dict[str, set[RoomViewer]] = {}

    def bind(self, loop) -> None:
        self.loop = loop

    def join(self, code: str, v: RoomViewer) -> None:
        self.rooms.setdefault(code, set()).add(v)

    def leave(self, code: str, v: RoomViewer) -> None:
        v.close()
        subs = self.rooms.get(code)
        if subs is not None:
            subs.discard(v)
            if not subs:
                del self.rooms[code]

    def online(self, code: str) -> set[str]:
        return {v.client for v in self.rooms.get(code, ()) if not v.teacher}

    def has_teacher(self, code: str) -> bool:
        return any(v.teacher for v in self.rooms.get(code, ()))

    def publish(
        self,
        code: str,
        text: str,
        teachers_only: bool = False,
        board: bool = False,
        close: bool = False,
        only: str | None = None,
    ) -> None:
        """From any thread. `only`: to that client's sockets alone, which are then closed."""
        if self.loop is None or not self.rooms.get(code):
            return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._publish, code, text, teachers_only, board, close, only)

    def _publish(self, code, text, teachers_only, board, close, only=None) -> None:
        for v in list(self.rooms.get(code, ())):
            if teachers_only and not v.teacher:
                continue
            if only is not None:
                if v.client != only or v.teacher:
                    continue
                close = True
            v.offer(text, board)
            if close:
                v.close_after = True
                v.wake.set()


# ---- persistence and room logic -----------------------------------------------------------------------
def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def toggles(config: dict, info: dict | None) -> dict:
    """The key choices of a run, for the teacher's table (stored with each run as its brief)."""
    return run_brief(config, info)


class Classroom:
    """Rooms and identities. Its own SQLite connections (WAL) on the run database."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.enabled = bool(settings.classroom)
        self.path = settings.db_path
        self._w = _connect(self.path)
        self._w.execute("PRAGMA journal_mode=WAL")
        self._w.execute("PRAGMA synchronous=NORMAL")  # as the run store: no fsync per commit in WAL mode
        self._w.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._local = threading.local()
        key = settings.secret_key.encode() if settings.secret_key else self._stored_key()
        self.teacher_secret = settings.teacher_secret
        if self.enabled and not self.teacher_secret:
            self.teacher_secret = secrets.token_urlsafe(18)
        self.identity = Identity(key, self.teacher_secret if self.enabled else "")
        with self._lock:  # sessions of another secret (it changed) or past their expiry end now
            self._w.execute(
                "DELETE FROM teacher_sessions WHERE secret_tag != ? OR expires_at < ?",
                (self.identity.secret_tag or "", time.time()),
            )
        self.hub = RoomHub()
        self._boards: dict[str, str] = {}

    def _r(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    def _stored_key(self) -> bytes:
        with self._lock:
            row = self._w.execute("SELECT value FROM classroom_meta WHERE key = 'token_key'").fetchone()
            if row is None:
                value = secrets.token_hex(32)
                self._w.execute("INSERT OR IGNORE INTO classroom_meta VALUES ('token_key', ?)", (value,))
                row = self._w.execute("SELECT value FROM classroom_meta WHERE key = 'token_key'").fetchone()
        return bytes.fromhex(row[0])

    def close(self) -> None:
        with self._lock:
            self._w.close()

    # ---- teacher sessions ---------------------------------------------------------------------------
    def new_teacher_session(self) -> str:
        """A fresh session token for the teacher's cookie (after the secret was shown)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._w.execute(
                "INSERT INTO teacher_sessions VALUES (?, ?, ?, ?)",
                (_digest(token).hex(), self.identity.secret_tag or "", now, now + TEACHER_SESSION_SECONDS),
            )
        return token

    def is_teacher_session(self, token: str | None) -> bool:
        if not self.enabled or self.identity.secret_tag is None or not token or len(token) > 200:
            return False
        row = (
            self._r()
            .execute("SELECT secret_tag, expires_at FROM teacher_sessions WHERE digest = ?", (_digest(token).hex(),))
            .fetchone()
        )
        return (
            row is not None
            and row[1] > time.time()
            and hmac.compare_digest(row[0].encode(), self.identity.secret_tag.encode())
        )

    def end_teacher_session(self, token: str | None) -> None:
        if token and len(token) <= 200:
            with self._lock:
                self._w.execute("DELETE FROM teacher_sessions WHERE digest = ?", (_digest(token).hex(),))

    # ---- rooms ------------------------------------------------------------------------------------
    def create_room(self) -> dict:
        with self._lock:
            for _ in range(20):
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                try:
                    self._w.execute("INSERT INTO rooms (code, created_at) VALUES (?, ?)", (code, time.time()))
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 32**6 codes
                raise ClassroomError(503, "could not find a free room code; try again")
        return self.room(code)

    def _row(self, code: str) -> dict:
        code = normalize_code(code)
        row = (
            self._r().execute("SELECT * FROM rooms WHERE code = ?", (code,)).fetchone() if CODE_RE.match(code) else None
        )
        if row is None:
            raise ClassroomError(404, f"no room with code {code[:12]!r}")
        return dict(row)

    def room(self, code: str) -> dict:
        return self._info(self._row(code))

    def _info(self, row: dict) -> dict:
        n = self._r().execute("SELECT COUNT(*) FROM room_members WHERE code = ?", (row["code"],)).fetchone()[0]
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
        codes = [r[0] for r in self._r().execute("SELECT code FROM rooms ORDER BY created_at DESC LIMIT 100")]
        return [self.room(c) for c in codes]

    def _open_row(self, code: str) -> dict:
        row = self._row(code)
        if row["closed_at"] is not None:
            raise ClassroomError(409, f"room {row['code']} is closed")
        return row

    def join(self, code: str, client: str, name: str) -> dict:
        row = self._open_row(code)
        code = row["code"]
        if self._r().execute("SELECT 1 FROM room_removed WHERE code = ? AND client = ?", (code, client)).fetchone():
            raise ClassroomError(403, f"the teacher removed you from room {code}")
        # One statement under the lock: the capacity check and the upsert together. A burst of joins
        # (a whole class at once) queues on this lock, and every SQLite call releases and retakes the
        # GIL, which a busy event loop may hold for a switch interval: fewer calls, shorter waits.
        with self._lock:
            added = self._w.execute(
                "INSERT INTO room_members (code, client, name, joined_at) SELECT ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM room_members WHERE code = ? AND client = ?) "
                "OR (SELECT COUNT(*) FROM room_members WHERE code = ?) < ? "
                "ON CONFLICT (code, client) DO UPDATE SET name = excluded.name",
                (code, client, name, time.time(), code, client, code, self.settings.max_room_members),
            ).rowcount
        if not added:
            raise ClassroomError(429, f"room {code} is full ({self.settings.max_room_members} students)")
        self._boards.pop(code, None)
        return {"room": self._info(row), "name": name, "member": member_ref(client)}

    def leave(self, code: str, client: str) -> None:
        row = self._row(code)
        with self._lock:
            self._w.execute("DELETE FROM room_members WHERE code = ? AND client = ?", (row["code"], client))

    def client_of_member(self, code: str, member: str) -> str | None:
        """The client behind a member id of the students table (member_ref), else None."""
        row = self._row(code)
        for (client,) in self._r().execute("SELECT client FROM room_members WHERE code = ?", (row["code"],)):
            if member_ref(client) == member:
                return client
        return None

    def remove_member(self, code: str, client: str) -> None:
        """The teacher removes a member: out of the room, and kept out (a rejoin gets 403)."""
        row = self._row(code)
        with self._lock:
            self._w.execute("DELETE FROM room_members WHERE code = ? AND client = ?", (row["code"], client))
            self._w.execute("INSERT OR IGNORE INTO room_removed VALUES (?, ?)", (row["code"], client))
        self._boards.pop(row["code"], None)
        self.hub.publish(row["code"], dumps({"type": "removed", "room": row["code"]}), only=client)

    def membership(self, client: str) -> dict | None:
        """The open room this client joined last, with its name there."""
        row = (
            self._r()
            .execute(
                "SELECT m.code, m.name FROM room_members m JOIN rooms r ON r.code = m.code "
                "WHERE m.client = ? AND r.closed_at IS NULL ORDER BY m.joined_at DESC LIMIT 1",
                (client,),
            )
            .fetchone()
        )
        return {"code": row[0], "name": row[1]} if row else None

    def is_member(self, code: str, client: str) -> bool:
        return (
            self._r().execute("SELECT 1 FROM room_members WHERE code = ? AND client = ?", (code, client)).fetchone()
            is not None
        )

    def member_name(self, code: str, client: str) -> str | None:
        row = (
            self._r().execute("SELECT name FROM room_members WHERE code = ? AND client = ?", (code, client)).fetchone()
        )
        return row[0] if row else None

    def _set(self, code: str, **values) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._lock:
            self._w.execute(f"UPDATE rooms SET {cols} WHERE code = ?", (*values.values(), code))

    def show(
        self, code: str, run_id: str | None, kind: str, name: str | None = None, lesson: dict | None = None
    ) -> dict:
        """Broadcast (the teacher's run) or spotlight (a student's run) to the whole room; None = stop.
        `lesson`: {"preset", "title"} the run comes from, which the students' banner names."""
        row = self._open_row(code)
        about = {k: v for k, v in (lesson or {}).items() if k in ("preset", "title") and v is not None}
        showing = None if run_id is None else {"run_id": run_id, "kind": kind, "name": name, "at": time.time(), **about}
        self._set(row["code"], showing=dumps(showing) if showing else None)
        event = {
            "type": kind,
            "room": row["code"],
            "run_id": run_id,
            "name": name,
            "at": showing["at"] if showing else time.time(),
            **about,
        }
        self.hub.publish(row["code"], dumps(event))
        return self.room(row["code"])

    def push_lesson(self, code: str, lesson: dict) -> dict:
        row = self._open_row(code)
        old = json.loads(row["lesson"]) if row["lesson"] else None
        lesson = {**lesson, "seq": (old or {}).get("seq", 0) + 1, "at": time.time()}
        self._set(row["code"], lesson=dumps(lesson))
        self.hub.publish(row["code"], dumps({"type": "lesson", "room": row["code"], "lesson": lesson}))
        return self.room(row["code"])

    def close_room(self, code: str) -> dict:
        row = self._open_row(code)
        self._set(row["code"], closed_at=time.time(), showing=None)
        self.hub.publish(row["code"], dumps({"type": "closed", "room": row["code"]}), close=True)
        return self.room(row["code"])

    # ---- the teacher's view ---------------------------------------------------------------------
    def students(self, code: str) -> list[dict]:
        """One row per member: their latest run (status, epoch, validation loss/accuracy, key
        toggles), their best validation accuracy and loss in the room, and whether they are online."""
        row = self._row(code)
        code = row["code"]
        r = self._r()
        members = r.execute(
            "SELECT client, name, joined_at FROM room_members WHERE code = ? ORDER BY joined_at", (code,)
        ).fetchall()
        online = self.hub.online(code)
        out = []
        if not members:
            return out
        clients = [m["client"] for m in members]
        runs: dict[str, list[dict]] = {}
        for i in range(0, len(clients), 400):
            chunk = clients[i : i + 400]
            q = (
                "SELECT id, client, status, created_at, brief, summary, epochs_run, best_val_loss "
                f"FROM runs WHERE client IN ({','.join('?' * len(chunk))}) ORDER BY created_at"
            )
            for run in r.execute(q, chunk):
                runs.setdefault(run["client"], []).append(dict(run))
        for m in members:
            mine = [x for x in runs.get(m["client"], []) if x["created_at"] >= m["joined_at"] - 1]
            best_acc = best_loss = None
            latest = None
            for x in mine:
                view = _run_view(r, x)
                if view["val_acc"] is not None and (best_acc is None or view["val_acc"] > best_acc):
                    best_acc = view["val_acc"]
                if view["val_loss"] is not None and (best_loss is None or view["val_loss"] < best_loss):
                    best_loss = view["val_loss"]
                latest = view
            out.append(
                {
                    "member": member_ref(m["client"]),
                    "name": m["name"],
                    "joined_at": m["joined_at"],
                    "online": m["client"] in online,
                    "runs": len(mine),
                    "run": latest,
                    "best_val_acc": best_acc,
                    "best_val_loss": best_loss,
                }
            )
        return out

    def board_if_changed(self, code: str) -> str | None:
        try:
            text = dumps({"type": "students", "room": code, "students": self.students(code)})
        except ClassroomError:
            return None
        if self._boards.get(code) == text:
            return None
        self._boards[code] = text
        return text

    # ---- fairness -------------------------------------------------------------------------------
    def client_counts(self, client: str) -> dict[str, int]:
        rows = (
            self._r()
            .execute(
                "SELECT status, COUNT(*) FROM runs WHERE client = ? AND status IN ('queued', 'running', 'paused') "
                "GROUP BY status",
                (client,),
            )
            .fetchall()
        )
        return {s: n for s, n in rows}

    def overdue(self, max_seconds: int) -> list[str]:
        rows = (
            self._r()
            .execute(
                "SELECT id FROM runs WHERE status IN ('running', 'paused') AND started_at < ?",
                (time.time() - max_seconds,),
            )
            .fetchall()
        )
        return [r[0] for r in rows]


def member_ref(client: str) -> str:
    """A short opaque id of a member for the teacher's table (never the token)."""
    return hashlib.sha256(client.encode()).hexdigest()[:10]


def _run_view(r: sqlite3.Connection, x: dict) -> dict:
    """A run's row in the teacher's table from its stored brief and summary (never its configuration,
    which a custom data set makes megabytes long)."""
    brief = json.loads(x["brief"]) if x["brief"] else {}
    val_loss = val_acc = None
    epoch = x["epochs_run"]
    if x["summary"]:
        s = json.loads(x["summary"])
        val_loss, val_acc = s.get("final_val_loss"), s.get("final_val_acc")
    if val_loss is None and val_acc is None:
        rec = r.execute(
            "SELECT record FROM metrics WHERE run_id = ? ORDER BY epoch DESC LIMIT 1", (x["id"],)
        ).fetchone()
        if rec is not None:
            d = json.loads(rec[0])
            val_loss, val_acc, epoch = d.get("val_loss"), d.get("val_acc"), d.get("epoch", epoch)
    return {
        "id": x["id"],
        "status": x["status"],
        "epoch": epoch,
        "epochs": brief.get("epochs"),
        "val_loss": val_loss,
        "val_acc": val_acc,
        "toggles": brief,
    }
