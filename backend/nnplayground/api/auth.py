"""Who is asking: the client token (cookie `nnp_client` or `Authorization: Bearer <token>`), the
teacher (the teacher secret as a Bearer token, or the `nnp_teacher` cookie), and the checks built on
them: run ownership, teacher-only routes, the per-client request rate and the websocket Origin."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from starlette.requests import HTTPConnection

from ..service.errors import Forbidden, NotFound, ServiceError, TooMany, Unauthorized, Unavailable
from .errors import error_json, service_error_response

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
    """The Bearer credential; None without one. Another scheme (Basic from a proxy, say) is not ours
    to judge: it is ignored, so it never voids a valid cookie."""
    auth = conn.headers.get("authorization")
    if not auth:
        return None
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


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
        if not teacher and room.is_teacher_session(conn.cookies.get(TEACHER_COOKIE)):
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
        raise Unauthorized("invalid credentials: the Bearer token is neither a client token nor the teacher secret")
    return p


def require_teacher(conn: HTTPConnection) -> Principal:
    p = checked(conn)
    if not classroom_on(conn):
        raise NotFound("rooms exist only in classroom mode (nnplayground serve --classroom)")
    if not p.teacher:
        if p.token:
            raise Forbidden("only the teacher may do this")
        raise Unauthorized("this needs the teacher's secret (Authorization: Bearer <secret>)")
    return p


def require_client(conn: HTTPConnection) -> Principal:
    """In classroom mode, a request that creates something must come with a client token."""
    p = checked(conn)
    if classroom_on(conn) and not p.token:
        raise Unauthorized(
            "no client token: open the playground page, or POST /api/clients and send Authorization: Bearer <token>"
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
    raise Forbidden(f"only the run's owner or the teacher may {verb} run {row['id']}")


def may_use_weights(conn: HTTPConnection, row: dict) -> None:
    """A run's weights (transfer source, predictions, weight exports) are its owner's and the
    teacher's in classroom mode: anyone may watch a run, nobody may take another student's model."""
    p = checked(conn)
    if not classroom_on(conn) or p.teacher or (p.token and row.get("client") == p.client):
        return
    raise Forbidden(f"only the run's owner or the teacher may use the weights of run {row['id']}")


def address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "?"


# ---- per-address limits ----------------------------------------------------------------------------
class AddressLimits:
    """Limits per network address, whatever tokens it holds: a fresh client token is one request
    away, so what a token bounds (its request bucket, its runs) is bounded per address too. Sized
    for a class behind one NAT (every student on one address). Kept by the `limits` library (moving
    windows) in `storage`: this process's memory by default, Redis when several web processes share
    the count (shared_state.SharedState.limits_storage); 0 switches a limit off."""

    def __init__(self, settings, storage=None):
        self._storage = storage if storage is not None else MemoryStorage()
        self._moving = MovingWindowRateLimiter(self._storage)
        self._sliding = SlidingWindowCounterRateLimiter(self._storage)
        s = settings
        self.tokens = RateLimitItemPerHour(s.client_tokens_per_hour) if s.client_tokens_per_hour else None
        self.joins = RateLimitItemPerMinute(s.join_failures_per_minute) if s.join_failures_per_minute else None
        self.requests = RateLimitItemPerMinute(s.rate_limit_per_address) if s.rate_limit_per_address else None

    def _retry(self, item, *key: str) -> int:
        reset = self._moving.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def take_token(self, addr: str) -> None:
        """A new client token for this address, or 429."""
        if self.tokens is not None and not self._moving.hit(self.tokens, "token", addr):
            raise TooMany(
                f"too many new client tokens from this address (at most {self.tokens.amount} an hour); "
                f"retry in {self._retry(self.tokens, 'token', addr)} s",
            )

    def may_mint(self, addr: str) -> bool:
        """Whether a first visit from this address may get a token cookie (counts one if so)."""
        return self.tokens is None or self._moving.hit(self.tokens, "token", addr)

    def check_joins(self, addr: str) -> None:
        """Refuse room joins from an address that failed too many (guessing codes)."""
        if self.joins is not None and not self._moving.test(self.joins, "join", addr):
            raise TooMany(
                f"too many failed room joins from this address (at most {self.joins.amount} a minute); "
                f"check the code and retry in {self._retry(self.joins, 'join', addr)} s",
            )

    def failed_join(self, addr: str) -> None:
        if self.joins is not None:
            self._moving.hit(self.joins, "join", addr)

    def take_request(self, addr: str) -> bool:
        return self.requests is None or self._sliding.hit(self.requests, "request", addr)


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
    """Token bucket per client (token, else address) on /api, and `rate_limit_per_address` per
    address (AddressLimits); the teacher is not limited. Beyond: 429 with a message and Retry-After.
    The buckets are this process's (a dict) unless `shared` (shared_state.SharedState) keeps them in
    Redis for several web processes; Redis unreachable is then 503."""

    def __init__(self, app, per_minute: int, burst: int, per_address: AddressLimits | None = None, shared=None):
        self.app = app
        self.shared = shared
        self.per_address = per_address
        self.rate = per_minute / 60.0
        self.burst = float(burst or max(1, per_minute // 10))
        self.buckets: dict[str, tuple[float, float]] = {}
        self.per_minute = per_minute
        self._swept = time.monotonic()

    def take(self, client: str) -> float:
        """Count one request of `client` (what a websocket message costs too): 0.0 when allowed,
        else the seconds until it would be."""
        if self.shared is not None:
            return self.shared.take_token(client, self.rate, self.burst)
        return take_token(self.buckets, client, self.rate, self.burst, time.monotonic())

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            scope["nnp.rate_limit"] = self  # the socket routes charge client messages to the same bucket
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        conn = HTTPConnection(scope)
        p = principal(conn)
        if p.teacher:
            return await self.app(scope, receive, send)
        try:
            refused = self._refusal(p, conn)
        except ServiceError as e:  # the shared state is unreachable: 503, never a bare 500
            return await service_error_response(e)(scope, receive, send)
        except StorageError as e:  # the same, from the `limits` library's Redis storage
            unreachable = Unavailable(f"the shared state (Redis at NNPLAYGROUND_REDIS_URL) is unreachable: {e}")
            return await service_error_response(unreachable)(scope, receive, send)
        if refused is not None:
            return await refused(scope, receive, send)
        return await self.app(scope, receive, send)

    def _refusal(self, p: Principal, conn: HTTPConnection):
        """The 429 answer to this request, or None when it may go on."""
        if self.per_address is not None and not self.per_address.take_request(address(conn)):
            limit = self.per_address.requests.amount
            resp = error_json(429, f"too many requests from this address: at most {limit} a minute; retry in 5 s")
            resp.headers["Retry-After"] = "5"
            return resp
        if self.rate <= 0:
            return None
        delay = self.take(p.client)
        if delay > 0:
            wait = math.ceil(delay)
            resp = error_json(
                429, f"too many requests: at most {self.per_minute} a minute per client; retry in {wait} s"
            )
            resp.headers["Retry-After"] = str(wait)
            return resp
        now = time.monotonic()
        if self.shared is None and now - self._swept > 60:  # Redis's buckets expire by themselves
            self._swept = now
            idle = self.burst / self.rate
            for k, (_, t) in list(self.buckets.items()):
                if now - t > idle:
                    del self.buckets[k]
        return None


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


def set_client_cookie(request: HTTPConnection, response) -> None:
    """Give a browser its anonymous client token on its first visit."""
    room = getattr(request.app.state, "classroom", None)
    if room is None or room.identity.client_of(request.cookies.get(CLIENT_COOKIE)):
        return
    if not request.app.state.address_limits.may_mint(address(request)):
        return  # this address had its tokens for the hour: the page works, creating needs a token
    _, token = room.identity.new_token()
    response.set_cookie(CLIENT_COOKIE, token, max_age=COOKIE_MAX_AGE, httponly=True, samesite="lax")
