from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health", summary="Server status with worker and queue figures")
def health(request: Request) -> dict:
    return request.app.state.manager.health()
