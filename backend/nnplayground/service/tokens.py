"""Identity in classroom mode: anonymous client tokens and the teacher's role.

A client token is `<client id>.<signature>`, signed with itsdangerous (HMAC-SHA256 under a key derived
from the server's key, `secret_key`, or a random one kept in the database so tokens survive a restart).
Tokens of the earlier home-made format (a truncated HMAC of "client:<id>") are still accepted, so a
student's cookie outlives the upgrade. A run's owner is stored as `tok:<client id>`.

The teacher proves the role with the teacher secret (as a Bearer token) or with a session cookie from
`POST /api/teacher/login`: a random token whose hash is kept in the run database (`teacher_sessions`) with its
expiry and a tag of the secret it was opened under, so logout ends it and a new secret ends them all.
Secrets are compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from itsdangerous import Signer
from sqlalchemy import text

from .connections import Connections

PURGE = text("DELETE FROM teacher_sessions WHERE secret_tag != :tag OR expires_at < :now")
STORED_KEY = text("SELECT value FROM classroom_meta WHERE key = 'token_key'")
NEW_KEY = text("INSERT INTO classroom_meta (key, value) VALUES ('token_key', :value) ON CONFLICT DO NOTHING")
NEW_SESSION = text(
    "INSERT INTO teacher_sessions (digest, secret_tag, created_at, expires_at) VALUES (:digest, :tag, :now, :until)"
)
SESSION = text("SELECT secret_tag, expires_at FROM teacher_sessions WHERE digest = :digest")
END_SESSION = text("DELETE FROM teacher_sessions WHERE digest = :digest")
TEACHER_SESSION_SECONDS = 7 * 24 * 3600
TOKEN_MAX = 200  # longer cookies or tokens are refused unread


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
        if not token or len(token) > TOKEN_MAX or "." not in token:
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


class Tokens:
    """The signing key, the `Identity` built on it, and the teacher sessions (tables `classroom_meta`
    and `teacher_sessions`). `teacher_secret` "" means no teacher role (sessions are then refused)."""

    def __init__(self, db: Connections, secret_key: str, teacher_secret: str):
        self.db = db
        key = secret_key.encode() if secret_key else self._stored_key()
        self.identity = Identity(key, teacher_secret)
        with db.write() as w:  # sessions of another secret (it changed) or past their expiry end now
            w.execute(PURGE, {"tag": self.identity.secret_tag or "", "now": time.time()})

    def _stored_key(self) -> bytes:
        """The random key kept in the database (made on first use), when the server has no `secret_key`."""
        with self.db.write() as w:  # the first of several processes makes it, the others read it
            w.execute(NEW_KEY, {"value": secrets.token_hex(32)})
            value = w.execute(STORED_KEY).scalar()
        return bytes.fromhex(value)

    def new_session(self) -> str:
        """A fresh session token for the teacher's cookie (after the secret was shown); valid for
        TEACHER_SESSION_SECONDS."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.db.write() as w:
            w.execute(
                NEW_SESSION,
                {
                    "digest": _digest(token).hex(),
                    "tag": self.identity.secret_tag or "",
                    "now": now,
                    "until": now + TEACHER_SESSION_SECONDS,
                },
            )
        return token

    def is_session(self, token: str | None) -> bool:
        """True for an unexpired session opened under the current teacher secret."""
        tag = self.identity.secret_tag
        if tag is None or not token or len(token) > TOKEN_MAX:
            return False
        with self.db.read() as r:
            row = r.execute(SESSION, {"digest": _digest(token).hex()}).fetchone()
        return row is not None and row[1] > time.time() and hmac.compare_digest(row[0].encode(), tag.encode())

    def end_session(self, token: str | None) -> None:
        if token and len(token) <= TOKEN_MAX:
            with self.db.write() as w:
                w.execute(END_SESSION, {"digest": _digest(token).hex()})
