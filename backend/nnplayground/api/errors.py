"""JSON responses of the API: every body is strict JSON (a non-finite float is null), and every error is
`{"error": message, "status": code, ...}`. Its own module so the app, the middlewares (auth, guard) and the
routes share it without importing each other."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ..jsonutil import dumps_bytes
from ..service.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooLarge,
    TooMany,
    Unauthorized,
    Unavailable,
)


class StrictJSONResponse(JSONResponse):
    """Every JSON body through the one strict encoder: a non-finite float is null. (Starlette's own
    encoder refuses NaN with a ValueError, which turned a diverged value into a 500.)"""

    def render(self, content) -> bytes:
        return dumps_bytes(content)


def error_json(status: int, message: str, detail: list | None = None, **extra) -> JSONResponse:
    body = {"error": message, "status": status, **extra}
    if detail is not None:
        body["detail"] = detail
    return StrictJSONResponse(body, status_code=status)


# The one place a domain error becomes an HTTP status (see service/errors.py).
SERVICE_STATUS: dict[type[ServiceError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    TooLarge: 413,
    TooMany: 429,
    Unavailable: 503,
}


def status_of(exc: ServiceError) -> int:
    """The HTTP status of a domain error (also carried by a websocket's error frame)."""
    return next((code for cls, code in SERVICE_STATUS.items() if isinstance(exc, cls)), 500)


def json_response(content, status: int = 200) -> StrictJSONResponse:
    """A body returned as it is: a route that declares a `response_model` for the OpenAPI document
    returns this to skip FastAPI's validation and re-serialisation of the answer (the hot paths, and
    bodies that hold pre-encoded JSON fragments)."""
    return StrictJSONResponse(content, status_code=status)


def service_error_response(exc: ServiceError) -> JSONResponse:
    status = status_of(exc)
    resp = error_json(status, exc.message, exc.detail)
    if status == 503:
        resp.headers["Retry-After"] = "2"
    return resp
