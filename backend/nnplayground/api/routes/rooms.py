"""/api/rooms, the classroom's rooms: create, join, leave, broadcast, spotlight, push a lesson, close,
the students' table and its members; and the room websocket /ws/rooms/{code} with the students'
table loop (board_loop). The protocol is described in docs/protocol.md."""

from __future__ import annotations

import asyncio
import contextlib
import functools

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...engine import presets as engine_presets
from ...engine.config import RunConfig, error_kind, error_location
from ...jsonutil import dumps, loads_strict
from ...service.errors import Conflict, InvalidInput, NotFound, ServiceError, field_error
from ...service.room_fanout import EVENT, RoomViewer
from ...service.rooms import clean_name, normalize_code
from ...service.sweeps import Sweeps
from ..auth import address, principal
from ..deps import AddressLimitsDep, ClassroomDep, ClientDep, CreatorDep, ManagerDep, TeacherDep
from ..errors import json_response
from ..models import Joined, Room, RoomList
from ..sockets import GONE, MessageGate, ping_id, unexpected

router = APIRouter(prefix="/rooms", tags=["classroom"])
ws_router = APIRouter(prefix="/ws/rooms")

Code = PathParam(..., min_length=1, max_length=16, description="A room's join code.")
MemberRef = PathParam(..., min_length=1, max_length=16, description="A member's id from the students table.")


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64, description="Display name, 1-32 characters.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return clean_name(v)


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(
        None, max_length=64, description="The run to show; null (or no run_id and no sweep_id) stops showing."
    )
    sweep_id: str | None = Field(
        None,
        max_length=64,
        description="A sweep to show instead of a run: the event names its runs (`runs`) and `run_id` is its first.",
    )
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


@router.post("", status_code=201, response_model=Room, summary="Create a room (teacher): its join code")
def create_room(teacher: TeacherDep, room: ClassroomDep) -> Response:
    return json_response(room.create_room(), 201)


@router.get("", response_model=RoomList, summary="The rooms (teacher), newest first")
def list_rooms(teacher: TeacherDep, room: ClassroomDep) -> Response:
    return json_response({"rooms": room.rooms()})


@router.get("/{code}", response_model=Room, summary="A room: what it shows, its lesson, its member count")
def get_room(who: ClientDep, room: ClassroomDep, code: str = Code) -> Response:
    return json_response(room.room(code))


@router.post("/{code}/join", response_model=Joined, summary="Join a room with a display name")
async def join_room(
    request: Request, body: JoinRequest, who: CreatorDep, room: ClassroomDep, limits: AddressLimitsDep, code: str = Code
) -> Response:
    # On the event loop, as POST /api/runs: three short statements; a whole class joins within a
    # second, and in the thread pool each join waited on the GIL several times (README, Performance:
    # bench_classroom.py).
    if not room.enabled:
        raise NotFound("rooms exist only in classroom mode (nnplayground serve --classroom)")
    limits.check_joins(address(request))  # 429 after join_failures_per_minute wrong codes
    try:
        return json_response(room.join(code, who.client, body.name))
    except (NotFound, Conflict):  # a wrong or closed code: counts towards guessing
        limits.failed_join(address(request))
        raise


@router.post("/{code}/leave", summary="Leave a room")
def leave_room(who: CreatorDep, room: ClassroomDep, code: str = Code) -> dict:
    room.leave(code, who.client)
    return {"left": normalize_code(code)}


def _show(mgr, room, code: str, body: ShowRequest, kind: str) -> Response:
    name = sweep = None
    run_id = body.run_id
    if body.sweep_id is not None:
        if run_id is not None:
            raise InvalidInput(
                "name a run or a sweep", field_error("sweep_id", "give run_id or sweep_id", "show_one").detail
            )
        sweeps = Sweeps(mgr)
        row = sweeps.get(body.sweep_id)  # 404 when there is no such sweep
        runs = sweeps.runs_of(body.sweep_id)
        run_id, sweep = runs[0], {"sweep_id": body.sweep_id, "runs": runs}
    elif run_id is not None:
        row = mgr.get(run_id)  # 404 when there is no such run
    if run_id is not None and kind == "spotlight":
        name = room.member_name(normalize_code(code), row["client"])
    lesson = {"preset": body.preset, "title": body.title} if run_id is not None else None
    return json_response(room.show(code, run_id, kind, name, lesson, sweep))


@router.post("/{code}/broadcast", response_model=Room, summary="Every student's page follows this run (teacher)")
def broadcast(
    body: ShowRequest, teacher: TeacherDep, mgr: ManagerDep, room: ClassroomDep, code: str = Code
) -> Response:
    return _show(mgr, room, code, body, "broadcast")


@router.post(
    "/{code}/spotlight",
    response_model=Room,
    summary="Show one student's run to the room and the projector (teacher)",
)
def spotlight(
    body: ShowRequest, teacher: TeacherDep, mgr: ManagerDep, room: ClassroomDep, code: str = Code
) -> Response:
    return _show(mgr, room, code, body, "spotlight")


@router.post(
    "/{code}/lesson",
    response_model=Room,
    summary="Push a lesson (a preset or a configuration) to every student (teacher)",
)
def push_lesson(body: LessonRequest, teacher: TeacherDep, room: ClassroomDep, code: str = Code) -> Response:
    lesson: dict = {"preset": None, "config": None, "title": body.title, "text": body.text}
    if body.preset:
        if body.preset not in engine_presets.PRESETS:
            raise InvalidInput(
                "invalid lesson",
                field_error("preset", f"no preset {body.preset!r}", "unknown_preset", {"preset": body.preset}).detail,
            )
        # title and text stay the teacher's own (null when none): each student's page shows the preset's
        # in the student's language (filling in the English ones here showed them to Spanish students)
        lesson["preset"] = body.preset
    if body.config is not None:
        try:
            RunConfig.model_validate(body.config)
        except ValueError as e:
            errors = getattr(e, "errors", lambda: [])()
            detail = []
            for x in errors:
                (loc, msg), (code, ctx) = error_location(x), error_kind(x)
                detail.append({"field": ".".join(["config", *map(str, loc)]), "message": msg, "type": code, "ctx": ctx})
            raise InvalidInput(
                "invalid lesson", detail or field_error("config", str(e), "lesson_config", {"message": str(e)}).detail
            ) from None
        lesson["config"] = body.config
    if lesson["preset"] is None and lesson["config"] is None:
        raise InvalidInput("invalid lesson", field_error("preset", "give a preset or a config", "lesson_empty").detail)
    return json_response(room.push_lesson(code, lesson))


@router.post("/{code}/close", response_model=Room, summary="Close a room: students are told and leave it (teacher)")
def close_room(teacher: TeacherDep, room: ClassroomDep, code: str = Code) -> Response:
    return json_response(room.close_room(code))


@router.get("/{code}/students", summary="The students and their runs: the leaderboard (teacher)")
def students(teacher: TeacherDep, room: ClassroomDep, code: str = Code) -> dict:
    return {"room": normalize_code(code), "students": room.students(code)}


def _member(room, code: str, member: str) -> str:
    client = room.client_of_member(code, member)
    if client is None:
        raise NotFound(f"room {normalize_code(code)} has no member {member!r}")
    return client


def _stop_all(mgr, client: str, reason: str) -> list[str]:
    stopped = []
    for run_id in mgr.active_runs(client):
        with contextlib.suppress(ServiceError):  # it finished meanwhile
            mgr.control(run_id, "stop", reason=reason)
            stopped.append(run_id)
    return stopped


@router.post("/{code}/members/{member}/stop", summary="Stop every active run of a member (teacher)")
def stop_member_runs(
    teacher: TeacherDep, mgr: ManagerDep, room: ClassroomDep, code: str = Code, member: str = MemberRef
) -> dict:
    client = _member(room, code, member)
    return {"member": member, "stopped": _stop_all(mgr, client, "stopped by the teacher")}


@router.delete("/{code}/members/{member}", summary="Remove a member from the room and stop their runs (teacher)")
def remove_member(
    teacher: TeacherDep, mgr: ManagerDep, room: ClassroomDep, code: str = Code, member: str = MemberRef
) -> dict:
    client = _member(room, code, member)
    stopped = _stop_all(mgr, client, "stopped by the teacher")
    room.remove_member(code, client)
    return {"member": member, "removed": True, "stopped": stopped}


# ---- the room websocket ------------------------------------------------------------------------------
@ws_router.websocket("/{code}")
async def room_socket(ws: WebSocket, room: ClassroomDep, code: str):
    await ws.accept()
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
            if room.shared is not None:  # which students are connected here, for the other processes' tables
                await asyncio.to_thread(room.share_presence, room.presence())
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
                    with contextlib.suppress(ServiceError):  # it ended meanwhile
                        await asyncio.to_thread(functools.partial(mgr.control, run_id, "stop", reason=reason))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - never let the loop die
            continue
