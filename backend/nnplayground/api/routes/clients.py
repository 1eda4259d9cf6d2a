"""The caller's identity: POST /api/clients (a new anonymous client token) and GET /api/me (who am I:
classroom mode, teacher, the room I am in)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..auth import address
from ..deps import AddressLimitsDep, ClassroomDep, ClientDep

router = APIRouter(tags=["classroom"])


@router.post("/clients", status_code=201, summary="A new anonymous client token (send it as a Bearer token)")
def new_client(request: Request, room: ClassroomDep, limits: AddressLimitsDep) -> dict:
    limits.take_token(address(request))  # 429 beyond client_tokens_per_hour
    _, token = room.identity.new_token()
    return {"token": token}


@router.get("/me", summary="Who am I: classroom mode, teacher, and the room I am in")
def me(who: ClientDep, room: ClassroomDep) -> dict:
    membership = room.membership(who.client) if who.token else None
    return {
        "classroom": room.enabled,
        "teacher": who.teacher,
        "identified": who.token,
        "room": membership["code"] if membership else None,
        "name": membership["name"] if membership else None,
    }
