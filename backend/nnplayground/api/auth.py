"""Who is asking: the client token (cookie `nnp_client` or `Authorization: Bearer <token>`), the
teacher (the teacher secret as a Bearer token, or the `nnp_teacher` cookie), and the checks built on
them: run ownership, teacher-only routes, the per-client request rate and the websocket Origin."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from ..service.manager import ApiError

CLIENT_COOKIE = "nnp_client"
TEACHER_COOKIE = "nnp_teacher"
COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass
class Principal:
    client: str  # the owner key stored with a run: "tok:<id>", "teacher", "id:<X-Client-Id>" or "ip:<addr>"
    token: bool = False  # identified by a signed token (or the teacher secret)
    teacher: bool = False
    bad_bearer: bool = False  # an Authorization header that is neither a token nor the secret


def _bearer(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization")
    if not auth:
        return None
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def principal(conn: HTTPConnection) -> Principal:
    cached = conn.scope.get("nnp.principal")
    if cached is not None:
        return cached
    room = getattr(conn.app.state, "classroom", None)
    p = _resolve(conn, room)
    conn.scope["nnp.principal"] = p
    return p


def _resolve(conn: HTTPConnection, room) -> Principal:
    classroom = room is not None and room.enabled
    header = conn.headers.get("x-client-id")
    if header and not classroom and len(header) <= 100 and _bearer(conn) is None:
        return Principal(f"id:{header}")  # single-user mode: X-Client-Id names the client, as before
    teacher = False
    client = None
    bad = False
    bearer = _bearer(conn)
    if room is not None:
        ident = room.identity
        if bearer is not None:
            if ident.is_teacher_secret(bearer):
                teacher = True
            else:
                cid = ident.client_of(bearer)
                if cid is None:
                    bad = True
                else:
                    client = f"tok:{cid}"
        if client is None:
            cid = ident.client_of(conn.cookies.get(CLIENT_COOKIE))
            if cid is not None:
                client = f"tok:{cid}"
        if not teacher and ident.is_teacher_cookie(conn.cookies.get(TEACHER_COOKIE)):
            teacher = True
    if client is not None:
        return Principal(client, True, teacher, bad)
    if teacher:
        return Principal("teacher", True, True, bad)
    return Principal(f"ip:{conn.client.host}" if conn.client else "ip:?", False, False, bad)


def classroom_on(conn: HTTPConnection) -> bool:
    room = getattr(conn.app.state, "classroom", None)
    return room is not None and room.enabled


def checked(conn: HTTPConnection) -> Principal:
    """The principal, refusing a malformed or forged Bearer token with 401."""
    p = principal(conn)
    if p.bad_bearer:
        raise ApiError(401, "invalid credentials: the Bearer token is neither a client token nor the teacher secret")
    return p


def require_teacher(conn: HTTPConnection) -> Principal:
    p = checked(conn)
    if not classroom_on(conn):
        raise ApiError(404, "rooms exist only in classroom mode (nnplayground serve --classroom)")
    if not p.teacher:
        if p.token:
            raise ApiError(403, "only the teacher may do this")
        raise ApiError(401, "this needs the teacher's secret (Authorization: Bearer <secret>)")
    return p


def require_client(conn: HTTPConnection) -> Principal:
    """In classroom mode, a request that creates something must come with a client token."""
    p = checked(conn)
    if classroom_on(conn) and not p.token:
        raise ApiError(
            401,
            "no client token: open the playground page, or POST /api/clients and send Authorization: Bearer <token>",
        )
    return p


def may_control(conn: HTTPConnection, row: dict, action: str) -> None:
    """Only the run's owner or the teacher may change a run (classroom mode); anyone may watch."""
    p = checked(conn)
    if not classroom_on(conn) or p.teacher:
        return
    if p.token and row.get("client") == p.client:
        return
    verb = {"delete": "delete", "speed": "change the speed of", "restart": "restart"}.get(action, action)
    raise ApiError(403, f"only the run's owner or the teacher may {verb} run {row['id']}")


# ---- per-client request rate -------------------------------------------------------------------------
def take_token(buckets: dict, key: str, rate: float, burst: float, now: float) -> float:
    """Spend one token of `key`'s bucket (refilled at `rate` per second, holding at most `burst`):
    0.0 when there was one, else the seconds until there will be."""
    tokens, last = buckets.get(key, (burst, now))
    tokens = min(burst, tokens + (now - last) * rate)
    if tokens < 1.0:
        buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate
    buckets[key] = (tokens - 1.0, now)
    return 0.0


class RateLimit:
    """Token bucket per client (token, else address) on /api; the teacher is not limited.
    Beyond it: 429 with a message and Retry-After."""

    def __init__(self, app, per_minute: int, burst: int):
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(burst or max(1, per_minute // 10))
        self.buckets: dict[str, tuple[float, float]] = {}
        self.per_minute = per_minute
        self._swept = time.monotonic()

    def take(self, client: str) -> float:
        """Count one request of `client` (what a websocket message costs too): 0.0 when allowed,
        else the seconds until it would be."""
        return take_token(self.buckets, client, self.rate, self.burst, time.monotonic())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            scope["nnp.rate_limit"] = self  # the socket routes charge client messages to the same bucket
        if scope["type"] != "http" or self.rate <= 0 or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        conn = HTTPConnection(scope)
        p = principal(conn)
        if p.teacher:
            return await self.app(scope, receive, send)
        now = time.monotonic()
        delay = take_token(self.buckets, p.client, self.rate, self.burst, now)
        if delay > 0:
            wait = math.ceil(delay)
            from .app import error_json

            resp = error_json(
                429, f"too many requests: at most {self.per_minute} a minute per client; retry in {wait} s"
            )
            resp.headers["Retry-After"] = str(wait)
            return await resp(scope, receive, send)
        if now - self._swept > 60:
            self._swept = now
            idle = self.burst / self.rate
            for k, (_, t) in list(self.buckets.items()):
                if now - t > idle:
                    del self.buckets[k]
        return await self.app(scope, receive, send)


# ---- websocket Origin ----------------------------------------------------------------------------------
def origin_allowed(origin: str | None, host: str | None, allowed: set[str]) -> bool:
    """Browsers always send Origin on websockets: it must be this server's own origin (same host and
    port as the Host header) or one of the configured ones. Clients that send none (scripts) pass."""
    if origin is None:
        return True
    origin = origin.strip()
    if origin in allowed or "*" in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return False
    return parts.netloc.lower() == host.strip().lower()


class OriginCheck:
    def __init__(self, app, allowed: str):
        self.app = app
        self.allowed = {o.strip().rstrip("/") for o in allowed.split(",") if o.strip()}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
            if not origin_allowed(headers.get("origin"), headers.get("host"), self.allowed):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 4403, "reason": "origin not allowed"})
                return
        return await self.app(scope, receive, send)
