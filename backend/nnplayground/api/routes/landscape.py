"""POST /api/landscape: the optimizer lab. Paths of several optimizers over a 2-D function,
computed by the same PyTorch optimizers the networks train with. In classroom mode it needs a client
token; steps x optimizers is bounded (`max_landscape_steps`) and at most `max_heavy_requests`
computations run at once, in a thread."""

from __future__ import annotations

from fastapi import APIRouter

from ...engine.landscape import LandscapeRequest, solve
from ...service.errors import field_error
from ..deps import CreatorDep, HeavyDep, SettingsDep

router = APIRouter(prefix="/landscape", tags=["landscape"])


@router.post("", summary="Minimise a 2-D function (rosenbrock, quadratic, saddle) with several optimizers")
async def landscape(body: LandscapeRequest, who: CreatorDep, settings: SettingsDep, heavy: HeavyDep) -> dict:
    limit = settings.max_landscape_steps
    work = body.steps * len(body.optimizers)
    if limit and work > limit:
        n = len(body.optimizers)
        message = f"{body.steps} steps x {n} optimizers = {work}; at most {limit} here: fewer steps or optimizers"
        raise field_error(
            "steps", message, "landscape_steps", {"steps": body.steps, "optimizers": n, "total": work, "max": limit}
        )
    return await heavy.run(solve, body)
