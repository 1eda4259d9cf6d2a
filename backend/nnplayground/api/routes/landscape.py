"""POST /api/landscape: the optimizer lab. Paths of several optimizers over a 2-D function,
computed by the same PyTorch optimizers the networks train with."""

from __future__ import annotations

from fastapi import APIRouter

from ...engine.landscape import LandscapeRequest, solve

router = APIRouter(tags=["landscape"])


@router.post("/landscape", summary="Minimise a 2-D function (rosenbrock, quadratic, saddle) with several optimizers")
def landscape(body: LandscapeRequest) -> dict:
    return solve(body)
