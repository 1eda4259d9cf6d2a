"""Classroom routes: client tokens, the teacher login, rooms (create, join, broadcast, spotlight,
push a lesson, close, the students' table), restarting an interrupted run, and the room websocket
/ws/rooms/{code}. The protocol is described in docs/protocol.md."""

from __future__ import annotations

import asyncio
import contextlib
import functools

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...engine import presets as engine_presets
from ...engine.config import RunConfig
from ...jsonutil import dumps, loads_strict
from ...service.errors import Conflict, NotFound
from ...service.manager import ApiError, stored_config
from ...service.room_fanout import EVENT, RoomViewer
from ...service.rooms import clean_name, normalize_code
from ...service.tokens import TEACHER_SESSION_SECONDS
from ..admission import admit
from ..auth import (
    TEACHER_COOKIE,
    address,
    checked,
    classroom_on,
    may_control,
    principal,
    require_client,
    require_teacher,
    set_client_cookie,
)
from .ws import GONE, MessageGate, ping_id, unexpected

router = APIRouter(tags=["classroom"])
ws_router = APIRouter()

Code = PathParam(..., min_length=1, max_length=16, description="A room's join code.")
RunId = PathParam(..., min_length=1, max_length=64, description="A run id.")
MemberRef = PathParam(..., min_length=1, max_length=16, description="A member's id from the students table.")


def _room(request) -> object:
    return request.app.state.classroom


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64, description="Display name, 1-32 characters.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return clean_name(v)


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(..., max_length=64, description="The run to show; null stops showing.")
    preset: str | None = Field(
        None,
        max_length=64,
        description="The lesson preset the run comes from (its title is shown to the students in their language).",
    )
    title: str | None = Field(None, max_length=120, description="A lesson title of the teacher's own.")

    @field_validator("preset")
    @classmethod
    def _preset(cls, v: str | None) -> str | None:
        if v is not None and v not in engine_presets.PRESETS:
            raise ValueError(f"no lesson preset named {v!r}")
        return v


class LessonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preset: str | None = Field(None, max_length=64, description="A lesson preset by name.")
    config: dict | None = Field(None, description="A configuration (every field optional) for every student.")
    title: str | None = Field(None, max_length=120)
    text: str | None = Field(None, max_length=2000, description="Instructions shown to the students.")


@router.post("/clients", status_code=201, summary="A new anonymous client token (send it as a Bearer token)")
def new_client(request: Request) -> dict:
    request.app.state.address_limits.take_token(address(request))  # 429 beyond client_tokens_per_hour
    _, token = _room(request).identity.new_token()
    return {"token": token}


@router.get("/me", summary="Who am I: classroom mode, teacher, and the room I am in")
def me(request: Request) -> dict:
    p = checked(request)
    room = _room(request)
    membership = room.membership(p.client) if p.token else None
    return {
        "classroom": room.enabled,
        "teacher": p.teacher,
        "identified": p.token,
        "room": membership["code"] if membership else None,
        "name": membership["name"] if membership else None,
    }


@router.post("/teacher/login", summary="Exchange the teacher secret (Bearer) for a teacher cookie")
def teacher_login(request: Request, response: Response) -> dict:
    p = require_teacher(request)
    room = _room(request)
    # a server-side session: logout or a new teacher secret ends it, whatever the browser keeps
    response.set_cookie(
        TEACHER_COOKIE, room.new_teacher_session(), max_age=TEACHER_SESSION_SECONDS, httponly=True, samesite="strict"
    )
    set_client_cookie(request, response)
    return {"teacher": p.teacher}


@router.post("/teacher/logout", summary="End the teacher session (its cookie stops working everywhere)")
def teacher_logout(request: Request, response: Response) -> dict:
    _room(request).end_teacher_session(request.cookies.get(TEACHER_COOKIE))
    response.delete_cookie(TEACHER_COOKIE)
    return {"teacher": False}


@router.post("/rooms", status_code=201, summary="Create a room (teacher): its join code")
def create_room(request: Request) -> dict:
    require_teacher(request)
    return _room(request).create_room()


@router.get("/rooms", summary="The rooms (teacher), newest first")
def list_rooms(request: Request) -> dict:
    require_teacher(request)
    return {"rooms": _room(request).rooms()}


@router.get("/rooms/{code}", summary="A room: what it shows, its lesson, its member count")
def get_room(request: Request, code: str = Code) -> dict:
    checked(request)
    return _room(request).room(code)


@router.post("/rooms/{code}/join", summary="Join a room with a display name")
async def join_room(request: Request, body: JoinRequest, code: str = Code) -> dict:
    # On the event loop, as POST /api/runs: three short statements; a whole class joins within a
    # second, and in the thread pool each join waited on the GIL several times (p50 ~200 ms).
    p = require_client(request)
    if not classroom_on(request):
        raise ApiError(404, "rooms exist only in classroom mode (nnplayground serve --classroom)")
    limits = request.app.state.address_limits
    limits.check_joins(address(request))  # 429 after join_failures_per_minute wrong codes
    try:
        return _room(request).join(code, p.client, body.name)
    except (NotFound, Conflict):  # a wrong or closed code: counts towards guessing
        limits.failed_join(address(request))
        raise


@router.post("/rooms/{code}/leave", summary="Leave a room")
def leave_room(request: Request, code: str = Code) -> dict:
    p = require_client(request)
    _room(request).leave(code, p.client)
    return {"left": normalize_code(code)}


def _show(request: Request, code: str, run_id: str | None, kind: str, lesson: dict | None = None) -> dict:
    require_teacher(request)
    room = _room(request)
    name = None
    if run_id is not None:
        row = request.app.state.manager.get(run_id)  # 404 when there is no such run
        if kind == "spotlight":
            name = room.member_name(normalize_code(code), row["client"])
    return room.show(code, run_id, kind, name, lesson if run_id is not None else None)


@router.post("/rooms/{code}/broadcast", summary="Every student's page follows this run (teacher)")
def broadcast(request: Request, body: ShowRequest, code: str = Code) -> dict:
    return _show(request, code, body.run_id, "broadcast", {"preset": body.preset, "title": body.title})


@router.post("/rooms/{code}/spotlight", summary="Show one student's run to the room and the projector (teacher)")
def spotlight(request: Request, body: ShowRequest, code: str = Code) -> dict:
    return _show(request, code, body.run_id, "spotlight", {"preset": body.preset, "title": body.title})


@router.post("/rooms/{code}/lesson", summary="Push a lesson (a preset or a configuration) to every student (teacher)")
def push_lesson(request: Request, body: LessonRequest, code: str = Code) -> dict:
    require_teacher(request)
    lesson: dict = {"preset": None, "config": None, "title": body.title, "text": body.text}
    if body.preset:
        if body.preset not in engine_presets.PRESETS:
            raise ApiError(422, "invalid lesson", [{"field": "preset", "message": f"no preset {body.preset!r}"}])
        # title and text stay the teacher's own (null when none): each student's page shows the preset's
        # in the student's language (filling in the English ones here showed them to Spanish students)
        lesson["preset"] = body.preset
    if body.config is not None:
        try:
            RunConfig.model_validate(body.config)
        except ValueError as e:
            errors = getattr(e, "errors", lambda: [])()
            detail = [{"field": "config." + ".".join(map(str, x["loc"])), "message": x["msg"]} for x in errors]
            raise ApiError(422, "invalid lesson", detail or [{"field": "config", "message": str(e)}]) from None
        lesson["config"] = body.config
    if lesson["preset"] is None and lesson["config"] is None:
        raise ApiError(422, "invalid lesson", [{"field": "preset", "message": "give a preset or a config"}])
    return _room(request).push_lesson(code, lesson)


@router.post("/rooms/{code}/close", summary="Close a room: students are told and leave it (teacher)")
def close_room(request: Request, code: str = Code) -> dict:
    require_teacher(request)
    return _room(request).close_room(code)


@router.get("/rooms/{code}/students", summary="The students and their runs: the leaderboard (teacher)")
def students(request: Request, code: str = Code) -> dict:
    require_teacher(request)
    room = _room(request)
    return {"room": normalize_code(code), "students": room.students(code)}


def _member(request: Request, code: str, member: str) -> str:
    client = _room(request).client_of_member(code, member)
    if client is None:
        raise ApiError(404, f"room {normalize_code(code)} has no member {member!r}")
    return client


def _stop_all(request: Request, client: str, reason: str) -> list[str]:
    mgr = request.app.state.manager
    stopped = []
    for run_id in mgr.active_runs(client):
        with contextlib.suppress(ApiError):  # it finished meanwhile
            mgr.control(run_id, "stop", reason=reason)
            stopped.append(run_id)
    return stopped


@router.post("/rooms/{code}/members/{member}/stop", summary="Stop every active run of a member (teacher)")
def stop_member_runs(request: Request, code: str = Code, member: str = MemberRef) -> dict:
    require_teacher(request)
    client = _member(request, code, member)
    return {"member": member, "stopped": _stop_all(request, client, "stopped by the teacher")}


@router.delete("/rooms/{code}/members/{member}", summary="Remove a member from the room and stop their runs (teacher)")
def remove_member(request: Request, code: str = Code, member: str = MemberRef) -> dict:
    require_teacher(request)
    client = _member(request, code, member)
    stopped = _stop_all(request, client, "stopped by the teacher")
    _room(request).remove_member(code, client)
    return {"member": member, "removed": True, "stopped": stopped}


@router.post(
    "/runs/{run_id}/restart",
    status_code=201,
    summary="A new run with the same configuration (owner or teacher), e.g. after `interrupted`",
)
def restart_run(request: Request, run_id: str = RunId) -> dict:
    mgr = request.app.state.manager
    row = mgr.get(run_id)
    may_control(request, row, "restart")
    config = stored_config(row)  # validated again: 409 naming the field if it no longer passes
    speed = row["speed"] or 0.0
    if speed:  # a speed stored before min_speed existed is raised to it
        speed = max(speed, request.app.state.settings.min_speed)
    return admit(request, config, speed=speed, paused=False)


# ---- the room websocket ------------------------------------------------------------------------------
@ws_router.websocket("/ws/rooms/{code}")
async def room_socket(ws: WebSocket, code: str):
    await ws.accept()
    room = ws.app.state.classroom
    p = principal(ws)
    code = normalize_code(code)[:16]

    def look_up():  # one trip to a thread for the room and the membership (a class connects at once)
        info = room.room(code)
        name = room.member_name(code, p.client) if p.token and not p.teacher else None
        return info, name

    try:
        try:
            info, name = await asyncio.to_thread(look_up)
        except NotFound as e:
            await ws.send_text(dumps({"type": "error", "message": e.message, "status": 404}))
            await ws.close(code=4404)
            return
        if not room.enabled or not (p.teacher or name is not None):
            await ws.send_text(dumps({"type": "error", "message": "join the room first", "status": 403}))
            await ws.close(code=4403)
            return
    except GONE:
        return
    viewer = RoomViewer(ws.send_text, p.client, p.teacher)
    room.hub.join(code, viewer)
    try:  # whatever a send raises (the client may leave at any moment), the viewer leaves the hub
        await _room_viewer(ws, room, viewer, code, info, name, p.teacher)
    except GONE:
        pass  # the client left
    except Exception:
        await unexpected(ws, "/ws/rooms/{code}")
    finally:
        room.hub.leave(code, viewer)


async def _room_viewer(ws: WebSocket, room, viewer: RoomViewer, code: str, info: dict, name, teacher: bool):
    snap = {"type": "room", "room": info, "teacher": teacher}
    if not teacher:
        snap["name"] = name
    await ws.send_text(dumps(snap))
    if info["closed"]:
        await ws.send_text(dumps({"type": "closed", "room": code}))
        await ws.close()
        return
    if teacher:
        room._boards.pop(code, None)  # the new teacher socket gets the table at the next tick

    async def on_close():
        with contextlib.suppress(Exception):
            await ws.close()

    async def sender():
        try:
            await viewer.run(on_close)
        except Exception:
            viewer.close()
            with contextlib.suppress(Exception):
                await ws.close()

    task = asyncio.create_task(sender())
    gate = MessageGate(ws)
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            text = msg.get("text") or (msg.get("bytes") or b"").decode("utf-8", "replace")
            viewer.offer(EVENT, _room_answer(text, gate))  # the viewer keeps at most 64 frames
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _room_answer(text: str, gate: MessageGate) -> str:
    refused = gate.refusal(text)
    if refused is not None:
        return refused
    try:
        data = loads_strict(text)
    except ValueError:
        data = None
    if not (isinstance(data, dict) and data.get("type") == "ping"):
        return dumps({"type": "error", "message": "only ping messages are accepted here"})
    try:
        return dumps({"type": "pong", "id": ping_id(data.get("id"))})
    except ValueError as e:
        return dumps({"type": "error", "message": str(e)})


async def board_loop(app, interval: float = 1.0) -> None:
    """Every second: the students' table to each room that has a teacher connected (when it changed);
    every two seconds, the wall-time cap on runs and the pause cap (both modes)."""
    room = app.state.classroom
    mgr = app.state.manager
    cap = app.state.settings.max_run_seconds
    pause_cap = app.state.settings.max_pause_seconds
    last_cap = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            for code in [c for c in list(room.hub.rooms) if room.hub.has_teacher(c)]:
                text = await asyncio.to_thread(room.board_if_changed, code)
                if text is not None:
                    room.hub.publish(code, text, teachers_only=True, board=True)
            if (cap > 0 or pause_cap > 0) and loop.time() - last_cap > 2:
                last_cap = loop.time()
                due = []
                if cap > 0:
                    reason = f"stopped: wall-time cap of {cap} s reached"
                    due += [(r, reason) for r in await asyncio.to_thread(room.overdue, cap)]
                if pause_cap > 0:
                    reason = f"stopped: paused for more than {pause_cap} s (a paused run holds a worker slot)"
                    due += [(r, reason) for r in mgr.paused_longer_than(pause_cap)]
                for run_id, reason in due:
                    with contextlib.suppress(ApiError):  # it ended meanwhile
                        await asyncio.to_thread(functools.partial(mgr.control, run_id, "stop", reason=reason))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - never let the loop die
            continue
