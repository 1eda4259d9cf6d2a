"""GET /api/health: the server's status with worker, queue, run and viewer figures."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import ManagerDep
from ..errors import json_response
from ..models import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=Health, summary="Server status with worker and queue figures")
def health(mgr: ManagerDep) -> Response:
    return json_response(mgr.health())
