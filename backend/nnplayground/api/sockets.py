"""What both socket routers (/ws/runs and /ws/rooms) share: what "the client went away" looks like, the
error frame, the pong's id rule, the cost gate on client messages, and the answer to a bug. Its own
module so that the route modules import it and not each other."""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import time

from fastapi import WebSocket, WebSocketDisconnect

from ..jsonutil import dumps
from .auth import principal, take_token

try:
    from starlette.websockets import WebSocketDisconnected as _SendAfterClose
except ImportError:  # older Starlette: a plain RuntimeError
    _SendAfterClose = RuntimeError

log = logging.getLogger("nnplayground.api")
# The client went away: Starlette turns a failed send into WebSocketDisconnect(1006), a send or
# receive after the close is a RuntimeError subclass, and uvicorn's ClientDisconnected is an OSError.
GONE = (WebSocketDisconnect, _SendAfterClose, OSError)
MAX_ID_CHARS = 64
POLICY_VIOLATION = 1008
REPLY_TIMEOUT = 10.0  # seconds a client may leave `max_replies` answers unread before it is closed


def error_frame(message: str, **extra) -> str:
    return dumps({"type": "error", "message": message, **extra})


def ping_id(value):
    """The id a pong may carry back: a number or a short string. Anything else is not echoed (an
    answer must not be a way to make the server hold or send the client's data)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS:
        return value
    raise ValueError(f"a ping id is a number or a string of at most {MAX_ID_CHARS} characters")


class MessageGate:
    """The cost of one socket's client messages: at most `ws_message_rate` a second (bursts of twice
    that), each also counted in the client's request bucket when the server limits requests (classroom
    mode; the teacher is not limited), and no message larger than `max_message_size`."""

    def __init__(self, ws: WebSocket):
        s = ws.app.state.settings
        self.rate = float(s.ws_message_rate)
        self.max_size = s.max_message_size
        self.buckets: dict = {}
        self.limiter = ws.scope.get("nnp.rate_limit")
        if self.limiter is not None and self.limiter.rate > 0:
            p = principal(ws)
            self.client = None if p.teacher else p.client
        else:
            self.client = None

    def refusal(self, text: str) -> str | None:
        """None when the message may be handled, else the error frame that answers it."""
        if self.rate > 0 and take_token(self.buckets, "", self.rate, 2 * self.rate, time.monotonic()) > 0:
            return error_frame(f"too many messages: at most {self.rate:g} a second on one connection", status=429)
        if self.client is not None:
            wait = self.limiter.take(self.client)
            if wait > 0:
                return error_frame(
                    f"too many requests: at most {self.limiter.per_minute} a minute per client, messages "
                    f"included; retry in {math.ceil(wait)} s",
                    status=429,
                )
        if len(text) > self.max_size or len(text.encode()) > self.max_size:
            return error_frame(f"message larger than {self.max_size} bytes")
        return None


async def unexpected(ws: WebSocket, where: str) -> None:
    """A bug, not a client leaving: logged with an id, the client told only the id, closed 1011."""
    error_id = secrets.token_hex(6)
    log.exception("unhandled error %s on websocket %s", error_id, where)
    with contextlib.suppress(Exception):
        await ws.send_text(error_frame(f"internal error (id {error_id})", status=500, error_id=error_id))
    with contextlib.suppress(Exception):
        await ws.close(code=1011)
