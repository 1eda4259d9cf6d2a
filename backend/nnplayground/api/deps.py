"""The objects a route needs, as `Annotated` dependencies (the FastAPI full-stack template's
`deps.py`): the run manager, the settings, the classroom, the model cache, the bounded heavy-work
pool, the per-address limits, the state shared by several web processes (`SharedStateDep`, None
in the embedded default), and who is asking (`ClientDep`, `CreatorDep`, `TeacherDep`).

Every dependency is an `async def`: FastAPI runs a plain `def` dependency in the thread pool, and a
thread hop per request is what the admission path (POST /api/runs, room joins) keeps off on purpose.
Each is keyed by its getter, so `app.dependency_overrides[get_manager]` (or `get_classroom`, ...)
replaces it for every route that declares it (tests/service/test_api_deps.py). What is not a route
parameter reads `app.state` itself and is not overridden: `api/admission.py`'s `admit`, the run
socket's message handler, `api/sockets.py`'s message gate and the rooms' `board_loop`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ..service.artifacts import Models
from ..service.classroom import Classroom
from ..service.manager import RunManager
from ..service.settings import Settings
from ..service.shared_state import SharedState
from ..service.sweeps import Sweeps
from .auth import AddressLimits, Principal, checked, require_client, require_teacher
from .heavy import HeavyWork


async def get_manager(conn: HTTPConnection) -> RunManager:
    return conn.app.state.manager


async def get_settings(conn: HTTPConnection) -> Settings:
    return conn.app.state.settings


async def get_classroom(conn: HTTPConnection) -> Classroom:
    return conn.app.state.classroom


async def get_models(conn: HTTPConnection) -> Models:
    return conn.app.state.models


async def get_heavy(conn: HTTPConnection) -> HeavyWork:
    return conn.app.state.heavy


async def get_address_limits(conn: HTTPConnection) -> AddressLimits:
    return conn.app.state.address_limits


async def get_shared_state(conn: HTTPConnection) -> SharedState | None:
    """Redis-backed state shared by several web processes (settings.redis_url); None without it."""
    return conn.app.state.shared


async def get_sweeps(conn: HTTPConnection) -> Sweeps:
    return Sweeps(conn.app.state.manager)  # stateless over the manager: nothing to keep between requests


async def get_client(conn: HTTPConnection) -> Principal:
    """Whoever asks (token, X-Client-Id or address); 401 for a forged or malformed Bearer token."""
    return checked(conn)


async def get_creator(conn: HTTPConnection) -> Principal:
    """A caller that may create something: in classroom mode it must hold a client token (else 401)."""
    return require_client(conn)


async def get_teacher(conn: HTTPConnection) -> Principal:
    """The teacher (classroom mode only: 404 otherwise; 401 without the secret, 403 for a student)."""
    return require_teacher(conn)


ManagerDep = Annotated[RunManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClassroomDep = Annotated[Classroom, Depends(get_classroom)]
ModelsDep = Annotated[Models, Depends(get_models)]
HeavyDep = Annotated[HeavyWork, Depends(get_heavy)]
AddressLimitsDep = Annotated[AddressLimits, Depends(get_address_limits)]
SharedStateDep = Annotated[SharedState | None, Depends(get_shared_state)]
SweepsDep = Annotated[Sweeps, Depends(get_sweeps)]
ClientDep = Annotated[Principal, Depends(get_client)]
CreatorDep = Annotated[Principal, Depends(get_creator)]
TeacherDep = Annotated[Principal, Depends(get_teacher)]
