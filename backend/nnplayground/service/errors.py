"""Domain errors of the service layer. The service says *what* went wrong (not found, conflict, invalid
input ...) and never an HTTP status; `api/errors.py` maps each class to its status in one table.

Every error carries a human `message`; `InvalidInput` also carries `detail`, a list of
`{"field": "dotted.path", "message": ...}` naming what to fix."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every domain error. `message` is safe to show to the client."""

    def __init__(self, message: str, detail: list | None = None):
        super().__init__(message)
        self.message, self.detail = message, detail


class InvalidInput(ServiceError):
    """The request names something impossible (HTTP 422). `detail` names the field(s)."""


class NotFound(ServiceError):
    """No such run, room, member or preset (HTTP 404)."""


class Conflict(ServiceError):
    """The thing exists but is in the wrong state for this action, e.g. pausing a finished run (HTTP 409)."""


class Unauthorized(ServiceError):
    """No or unknown credentials (HTTP 401)."""


class Forbidden(ServiceError):
    """Known caller, not allowed to do this (HTTP 403)."""


class TooLarge(ServiceError):
    """A body or stored object over its size budget (HTTP 413)."""


class TooMany(ServiceError):
    """A per-client or per-address budget is spent (HTTP 429)."""


class Unavailable(ServiceError):
    """The server is busy or shutting down; retry shortly (HTTP 503)."""


def field_error(field: str, message: str, code: str = "value_error", ctx: dict | None = None) -> InvalidInput:
    """The one shape of a configuration error: names the dotted config path and what to do. `code` (the
    detail's `type`) and `ctx` (its plain values) let a page word the message in its own language
    (the key `cfg.<code>` of frontend/src/i18n.js), like pydantic's own types."""
    return InvalidInput(
        "invalid configuration", [{"field": field, "message": message, "type": code, "ctx": dict(ctx or {})}]
    )
