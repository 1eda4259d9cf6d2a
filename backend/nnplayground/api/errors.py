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


def service_error_response(exc: ServiceError) -> JSONResponse:
    status = next((code for cls, code in SERVICE_STATUS.items() if isinstance(exc, cls)), 500)
    resp = error_json(status, exc.message, exc.detail)
    if status == 503:
        resp.headers["Retry-After"] = "2"
    return resp
