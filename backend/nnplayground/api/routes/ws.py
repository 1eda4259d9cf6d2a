"""Websockets: /ws/runs/{id} streams one run (snapshot, then live events), /ws/runs streams
list-level changes. The protocol is described in docs/protocol.md."""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...service.jsonutil import dumps
from ...service.manager import ApiError
from ..auth import may_control

router = APIRouter()
ACTIONS = ("pause", "resume", "step", "stop", "speed")


def _error(message: str, **extra) -> str:
    return dumps({"type": "error", "message": message, **extra})


async def _client_message(ws: WebSocket, sub, run_id: str | None, text: str) -> None:
    """Answer one client message; every problem is an error frame and the connection stays open."""
    mgr = ws.app.state.manager
    if len(text.encode()) > ws.app.state.settings.max_message_size:
        sub.offer("reply", _error(f"message larger than {ws.app.state.settings.max_message_size} bytes"))
        return
    try:
        msg = json.loads(text)
    except ValueError:
        sub.offer("reply", _error("messages must be JSON objects with a 'type'"))
        return
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        sub.offer("reply", _error("messages must be JSON objects with a 'type'"))
        return
    kind = msg["type"]
    if kind == "ping":
        sub.offer("reply", dumps({"type": "pong", "id": msg.get("id")}))
    elif kind == "control" and run_id is not None:
        action = msg.get("action")
        if action not in ACTIONS:
            sub.offer("reply", _error(f"unknown action {action!r}; one of {', '.join(ACTIONS)}"))
            return
        value = msg.get("epochs_per_second")
        if action == "speed" and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1000
        ):
            sub.offer("reply", _error("speed needs epochs_per_second between 0 and 1000"))
            return
        try:
            row = await asyncio.to_thread(mgr.get, run_id)
            may_control(ws, row, action)
            run = await asyncio.to_thread(mgr.control, run_id, action, value)
        except ApiError as e:
            sub.offer("reply", _error(e.message, status=e.status, action=action))
            return
        sub.offer("reply", dumps({"type": "ack", "action": action, "status": run["status"]}))
    else:
        sub.offer("reply", _error(f"unknown message type {kind!r}"))


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
    sender = asyncio.create_task(_sender(ws, sub))
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            text = msg.get("text")
            if text is None:
                text = (msg.get("bytes") or b"").decode("utf-8", "replace")
            await _client_message(ws, sub, run_id, text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        ws.app.state.manager.hub.leave(run_id, sub)
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


@router.websocket("/ws/runs/{run_id}")
async def watch_run(ws: WebSocket, run_id: str):
    await ws.accept()
    mgr = ws.app.state.manager
    raw_since = ws.query_params.get("since")
    since = None
    if raw_since is not None:
        try:
            since = int(raw_since)
            if not -1 <= since <= 10**9:
                raise ValueError
        except ValueError:
            await ws.send_text(_error("since must be an epoch number"))
            raw_since = None
            since = None
    sub = mgr.hub.subscriber(ws.send_text)
    sub.holding = []
    mgr.hub.join(run_id, sub)  # live events wait in `holding` while the snapshot is read
    snap = await ws.app.state.snapshots.get(mgr, run_id, since)
    if snap is None:
        mgr.hub.leave(run_id, sub)
        await ws.send_text(_error(f"no run with id {run_id!r}", status=404))
        await ws.close(code=4404)
        return
    await ws.send_text(snap.text)
    sub.release(snap.last_epoch, snap.terminal)
    await _serve(ws, sub, run_id)


@router.websocket("/ws/runs")
async def watch_list(ws: WebSocket):
    await ws.accept()
    mgr = ws.app.state.manager
    sub = mgr.hub.subscriber(ws.send_text)
    sub.holding = []
    mgr.hub.join(None, sub)
    text = await asyncio.to_thread(mgr.lobby_snapshot)
    await ws.send_text(text)
    sub.release(None, False)
    await _serve(ws, sub, None)
