"""The FastAPI application: routers, error handlers (every error is JSON with a message), the request
body limit, the start-up/shut-down of the run service, and the browser playground (web.py)."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..engine.config import error_kind, error_location
from ..service.artifacts import Models
from ..service.classroom import Classroom
from ..service.errors import ServiceError
from ..service.manager import RunManager
from ..service.settings import Settings
from ..service.shared_state import connect as connect_shared
from .auth import AddressLimits, OriginCheck, RateLimit
from .errors import StrictJSONResponse, error_json, service_error_response
from .guard import Guard
from .heavy import HeavyWork
from .models import ERROR_RESPONSES
from .routes import catalog, clients, data, health, landscape, presets, rooms, runs, sweeps, teacher, ws
from .web import mount_ui

log = logging.getLogger("nnplayground.api")


def _loc(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "(body)"


def validation_detail(errors) -> list[dict]:
    """422 detail entries: `field`, the English `message`, and pydantic's error `type` with the plain
    values of its `ctx` (limits such as `ge`, `expected` choices), so that a page in another language
    words the message itself. A cross-field rule's error (a ConfigError) carries the rule's own code
    as its `type` (e.g. `points_two_classes`) and its values as `ctx` (i18n.js: key `cfg.<code>`)."""
    out = []
    for e in errors:
        loc, msg = error_location(e)
        loc = list(loc)
        where = loc[0] if loc else "body"
        field = _loc(loc[1:] if where in ("body", "query", "path") else loc)
        if where in ("query", "path"):
            field = f"{where}.{field}"
        code, ctx = error_kind(e)  # pydantic's own type, or a rule's code (tests/service/test_error_codes.py)
        entry = {"field": field, "message": msg, "type": code}
        if ctx:
            entry["ctx"] = ctx
        out.append(entry)
    return out


class BodyLimit:
    """Refuse request bodies above the limit with 413, whether or not Content-Length is declared."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    return await self._refuse(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        resp = error_json(413, _TooLarge(self.limit).detail)
        await resp(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """Raised while a streamed (chunked) body is read: an HTTPException, because FastAPI turns any
    other exception from reading the body into a 400 'error parsing the body'."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _warm_up(mgr: RunManager) -> None:
    from ..engine.config import RunConfig

    try:
        mgr._check_limits(RunConfig())
    except ServiceError:  # a server configured with tighter limits than the defaults
        pass


async def _reach(shared) -> None:
    """At start-up: the shared state's Redis answers, or the start fails with Unavailable naming
    NNPLAYGROUND_REDIS_URL."""
    if shared is not None:
        await asyncio.to_thread(shared.ping)


def _release(shared) -> None:
    if shared is not None:
        shared.close()


def create_app(settings: Settings | None = None, manager: RunManager | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await _reach(shared)
        mgr = manager or RunManager(settings, shared=shared)
        app.state.manager = mgr
        app.state.models = Models(mgr)
        app.state.settings = settings
        app.state.snapshots = ws.SharedSnapshots()
        mgr.start(asyncio.get_running_loop())
        room = app.state.classroom = Classroom(settings, mgr.store, shared)
        room.hub.bind(asyncio.get_running_loop())
        board = asyncio.create_task(rooms.board_loop(app))
        # The admission path's lazy imports and its first model build (count_params), and the thread
        # pool, are paid now rather than inside the first burst of POST /api/runs.
        await asyncio.to_thread(_warm_up, mgr)
        # Everything alive now (torch, the app, the templates) lives as long as the server: leave it
        # out of the garbage collector's full passes, which otherwise scan it all and held the event
        # loop in the middle of a class joining (README, Performance: bench_classroom.py).
        gc.collect()
        gc.freeze()

        async def before_shutdown() -> None:  # called by `nnplayground serve` before the sockets close
            await asyncio.to_thread(mgr.interrupt_active)
            await mgr.hub.drain(timeout=2.0)

        app.state.before_shutdown = before_shutdown
        try:
            yield
        finally:
            board.cancel()
            await asyncio.to_thread(mgr.stop)
            await asyncio.to_thread(room.close)
            _release(shared)

    app = FastAPI(
        title="nnplayground",
        version=__version__,
        description="Train small PyTorch models and watch them learn. Errors are JSON: "
        '`{"error": message, "status": code, "detail": [{"field", "message"}]}`.',
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
    )
    app.state.settings = settings
    # several web processes (redis_url set) share their limits, locks and room events in Redis
    shared = app.state.shared = connect_shared(settings)
    app.state.address_limits = AddressLimits(settings, shared.limits_storage() if shared is not None else None)
    app.state.heavy = HeavyWork(settings.max_heavy_requests)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        return service_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        detail = validation_detail(exc.errors())
        body_errors = any(not d["field"].startswith(("query.", "path.")) for d in detail)
        return error_json(422, "invalid configuration" if body_errors else "invalid parameters", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_json(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # The exception's text may name files, SQL or other clients' data: it goes to the server log
        # only, and the client gets an id to quote that finds it there.
        error_id = secrets.token_hex(6)
        log.error("unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return error_json(500, f"internal error (id {error_id}); the server log has the details", error_id=error_id)

    # one router per resource, each with its own prefix under /api (the sockets under /ws)
    for module in (health, catalog, presets, runs, sweeps, data, clients, teacher, rooms, landscape):
        app.include_router(module.router, prefix="/api", responses=ERROR_RESPONSES)
    app.include_router(ws.router)
    app.include_router(rooms.ws_router)

    mount_ui(app)

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.rate_limit_per_minute > 0 or settings.rate_limit_per_address > 0:
        app.add_middleware(
            RateLimit,
            per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
            per_address=app.state.address_limits,
            shared=shared,
        )
    app.add_middleware(OriginCheck, allowed=settings.allowed_origins)
    if settings.cors_origins:  # CORS is off unless origins are configured
        from fastapi.middleware.cors import CORSMiddleware

        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
    # outermost: a foreign Host, a foreign Origin or a form body is refused before anything else runs
    app.add_middleware(
        Guard,
        bind_host=settings.bind_host,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=",".join(o for o in (settings.allowed_origins, settings.cors_origins) if o),
    )
    return app
