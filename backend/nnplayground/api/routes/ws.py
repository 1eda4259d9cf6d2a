"""Websockets: /ws/runs/{id} streams one run (snapshot, then live events), /ws/runs streams
list-level changes. The protocol is described in docs/protocol.md.

The shared pieces (the message gate, the error frame, the pong id) are in api/sockets.py. Every
socket route leaves its hub in a `finally`, whatever a send raised (a client may leave at any
moment, the snapshot's send included), and a client that left is no error. What a client's own
messages may cost is bounded by `MessageGate`: a rate per socket, the client's request bucket, and
answers that echo nothing of the message and that the client must read: with 8 answers unsent, its
next message is not read until they are (after 10 s: close 1008)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, BeforeValidator, Field, Strict, TypeAdapter, ValidationError, model_validator

from ...engine.status import ACTIONS
from ...jsonutil import dumps, loads_strict
from ...service.errors import ServiceError
from ..auth import may_control
from ..deps import ManagerDep
from ..errors import status_of
from ..sockets import GONE, MAX_ID_CHARS, POLICY_VIOLATION, REPLY_TIMEOUT, MessageGate, error_frame, ping_id, unexpected

router = APIRouter(prefix="/ws/runs")


class Ping(BaseModel):
    """`{"type": "ping", "id": ...}`: answered with a pong carrying the id back (see ping_id)."""

    type: Literal["ping"]
    id: Annotated[Any, BeforeValidator(ping_id)] = None


class Control(BaseModel):
    """`{"type": "control", "action": ..., "epochs_per_second": ...}` on /ws/runs/{id}: the REST controls."""

    type: Literal["control"]
    action: Literal[tuple(ACTIONS)]  # type: ignore[valid-type]
    epochs_per_second: Annotated[float, Strict(), Field(ge=0, le=1000)] | None = None

    @model_validator(mode="after")
    def _speed_has_a_value(self) -> Control:
        if self.action == "speed" and self.epochs_per_second is None:
            raise ValueError("speed needs epochs_per_second")
        return self


class Weights(BaseModel):
    """`{"type": "weights", "layer", "index", "value"}` on /ws/runs/{id}: POST /api/runs/{id}/weights."""

    type: Literal["weights"]
    layer: str = Field(min_length=1, max_length=32)
    index: list[int] = Field(min_length=1, max_length=2)
    value: float = Field(allow_inf_nan=False)


CLIENT_MESSAGE = TypeAdapter(Annotated[Ping | Control | Weights, Field(discriminator="type")])


def _refusal(err: ValidationError, run_id: str | None) -> str:
    """The error frame for a message the adapter refused; it names the field, never echoes the value."""
    first = err.errors()[0]
    kind, loc = first["type"], first["loc"]
    if kind == "union_tag_invalid" or (loc[:1] in (("control",), ("weights",)) and run_id is None):
        return _unknown_type(run_id)
    if loc[:2] == ("ping", "id"):
        return error_frame(f"a ping id is a number or a string of at most {MAX_ID_CHARS} characters")
    if loc[:2] == ("control", "action"):
        return error_frame(f"unknown action; one of {', '.join(ACTIONS)}")
    if loc[:1] == ("weights",):
        return error_frame("weights needs layer, index ([unit, input] or [unit]) and a finite value", field=loc[1])
    if loc[:1] == ("control",):
        return error_frame("speed needs epochs_per_second between 0 and 1000")
    return error_frame("messages must be JSON objects with a 'type'")


def _unknown_type(run_id: str | None) -> str:
    expected = "ping, control or weights" if run_id is not None else "ping"
    return error_frame(f"unknown message type; expected {expected}")


async def _client_message(ws: WebSocket, run_id: str | None, text: str, gate: MessageGate) -> str:
    """The answer to one client message; every problem is an error frame and the connection stays open."""
    refused = gate.refusal(text)
    if refused is not None:
        return refused
    try:
        raw = loads_strict(text)  # the one strict JSON parser (NaN and Infinity are refused)
    except ValueError:
        return error_frame("messages must be JSON objects with a 'type'")
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return error_frame("messages must be JSON objects with a 'type'")
    try:
        msg = CLIENT_MESSAGE.validate_python(raw)
    except ValidationError as e:
        return _refusal(e, run_id)
    if isinstance(msg, Ping):
        return dumps({"type": "pong", "id": msg.id})
    if run_id is None:
        return _unknown_type(run_id)
    mgr = ws.app.state.manager
    if isinstance(msg, Weights):
        try:
            row = await asyncio.to_thread(mgr.get, run_id)
            may_control(ws, row, "edit the weights of")
            await asyncio.to_thread(mgr.edit_weight, run_id, msg.layer, msg.index, msg.value)
        except ServiceError as e:
            return error_frame(e.message, status=status_of(e), action="weights", detail=e.detail)
        return dumps({"type": "ack", "action": "weights", "status": "paused"})
    action, value = msg.action, msg.epochs_per_second
    try:
        row = await asyncio.to_thread(mgr.get, run_id)
        may_control(ws, row, action)
        run = await asyncio.to_thread(mgr.control, run_id, action, value)
    except ServiceError as e:
        return error_frame(e.message, status=status_of(e), action=action)
    return dumps({"type": "ack", "action": action, "status": run["status"]})


class SharedSnapshots:
    """Viewers who arrive together (a class following a broadcast) share one snapshot read. A read
    starts only after every viewer it serves has joined the hub, so none misses the events between."""

    def __init__(self):
        self.next: dict[tuple, asyncio.Future] = {}  # the read each new arrival will share
        self.locks: dict[tuple, asyncio.Lock] = {}

    async def get(self, mgr, run_id: str, since: int | None):
        key = (run_id, since)
        fut = self.next.get(key)
        if fut is None:
            fut = self.next[key] = asyncio.get_running_loop().create_future()
            asyncio.create_task(self._read(mgr, key, fut))
        return await asyncio.shield(fut)

    async def _read(self, mgr, key: tuple, fut: asyncio.Future) -> None:
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:  # one read of a run at a time; who arrives meanwhile shares the next one
            del self.next[key]
            try:
                fut.set_result(await asyncio.to_thread(mgr.snapshot, *key))
            except Exception as e:  # noqa: BLE001 - every viewer of this read gets the error
                fut.set_exception(e)
        if key not in self.next and not lock.locked():
            self.locks.pop(key, None)


async def _serve(ws: WebSocket, sub, run_id: str | None) -> None:
    """Read client messages until the client leaves; the answers go out through the subscriber."""
    gate = MessageGate(ws)
    sender = asyncio.create_task(_sender(ws, sub))
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            text = msg.get("text")
            if text is None:
                text = (msg.get("bytes") or b"").decode("utf-8", "replace")
            if not await sub.room_for_reply(REPLY_TIMEOUT):
                # it keeps sending and does not read its answers: they are not kept for it
                sub.close()
                await ws.close(code=POLICY_VIOLATION, reason="answers not read")
                break
            sub.reply(await _client_message(ws, run_id, text, gate))
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _sender(ws: WebSocket, sub) -> None:
    try:
        await sub.run()
    except Exception:  # the socket went away: the receive loop ends too
        sub.close()
        with contextlib.suppress(Exception):
            await ws.close()


@router.websocket("/{run_id}")
async def watch_run(ws: WebSocket, mgr: ManagerDep, run_id: str):
    await ws.accept()
    sub = mgr.hub.subscriber(ws.send_text)
    sub.holding = []
    mgr.hub.join(run_id, sub)  # live events wait in `holding` while the snapshot is read
    try:
        raw_since = ws.query_params.get("since")
        since = None
        if raw_since is not None:
            try:
                since = int(raw_since)
                if not -1 <= since <= 10**9:
                    raise ValueError
            except ValueError:
                await ws.send_text(error_frame("since must be an epoch number"))
                since = None
        snap = await ws.app.state.snapshots.get(mgr, run_id, since)
        if snap is None:
            await ws.send_text(error_frame("no run with that id", status=404))
            await ws.close(code=4404)
            return
        await ws.send_text(snap.text)
        sub.release(snap.last_epoch, snap.terminal)
        await _serve(ws, sub, run_id)
    except GONE:
        pass  # the client left
    except Exception:
        await unexpected(ws, "/ws/runs/{id}")
    finally:
        mgr.hub.leave(run_id, sub)


@router.websocket("")
async def watch_list(ws: WebSocket, mgr: ManagerDep):
    await ws.accept()
    sub = mgr.hub.subscriber(ws.send_text)
    sub.holding = []
    mgr.hub.join(None, sub)
    try:
        text = await asyncio.to_thread(mgr.lobby_snapshot)
        await ws.send_text(text)
        sub.release(None, False)
        await _serve(ws, sub, None)
    except GONE:
        pass
    except Exception:
        await unexpected(ws, "/ws/runs")
    finally:
        mgr.hub.leave(None, sub)
