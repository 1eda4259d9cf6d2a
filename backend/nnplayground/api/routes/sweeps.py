"""The /api/sweeps resource: K variants of one run configuration trained together as one stacked model.
Each variant is an ordinary run (GET /api/runs/{id}, its metrics, views, exports, /ws/runs/{id})."""

from __future__ import annotations

import functools
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from ..admission import _fair
from ..auth import address, checked, may_control, require_client
from ..deps import SweepsDep
from ..errors import json_response
from ..models import Sweep, SweepList

router = APIRouter(prefix="/sweeps", tags=["sweeps"])

SweepId = PathParam(..., min_length=1, max_length=64, description="A sweep id.")


class SweepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base: dict[str, Any] = Field(
        default_factory=dict, description="The run configuration every variant starts from (as POST /api/runs)."
    )
    vary: dict[str, list[Any]] = Field(
        ...,
        max_length=8,
        description='Dotted config paths and their values, e.g. {"optimizer.lr": [0.001, 0.1, 10]}.',
    )
    mode: Literal["grid", "zip"] = Field("grid", description="grid: every combination; zip: the i-th of every list.")


@router.post("", status_code=201, response_model=Sweep, summary="Create a sweep: one run per variant, trained together")
def create_sweep(
    request: Request,
    sweeps: SweepsDep,
    body: SweepRequest,
    speed: float = Query(0.0, ge=0, le=1000, description="Throttle to at most this many epochs/s (0 = none)."),
    paused: bool = Query(False, description="Start paused after epoch 0."),
) -> Response:
    p = require_client(request)
    # the same per-client bounds as a run (a sweep is one job), checked under the admission lock
    fair = None if p.teacher else functools.partial(_fair, request, p.client)
    addr = "" if p.teacher else address(request)
    out = sweeps.create(body.base, body.vary, body.mode, p.client, speed, paused, addr, check=fair)
    return json_response(out, 201)


@router.get("", response_model=SweepList, summary="This client's sweeps, newest first")
def list_sweeps(
    request: Request,
    sweeps: SweepsDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
) -> Response:
    return json_response(sweeps.list(checked(request).client, limit, offset))


@router.get("/{sweep_id}", response_model=Sweep, summary="One sweep: status and each variant's values and metrics")
def get_sweep(sweeps: SweepsDep, sweep_id: str = SweepId) -> Response:
    return json_response(sweeps.sweep(sweep_id))


def _control(request: Request, sweeps, sweep_id: str, action: str) -> Response:
    may_control(request, sweeps.get(sweep_id), action)
    return json_response(sweeps.control(sweep_id, action))


@router.post("/{sweep_id}/pause", response_model=Sweep, summary="Pause every variant after the current epoch")
def pause_sweep(request: Request, sweeps: SweepsDep, sweep_id: str = SweepId) -> Response:
    return _control(request, sweeps, sweep_id, "pause")


@router.post("/{sweep_id}/resume", response_model=Sweep, summary="Resume a paused sweep")
def resume_sweep(request: Request, sweeps: SweepsDep, sweep_id: str = SweepId) -> Response:
    return _control(request, sweeps, sweep_id, "resume")


@router.post("/{sweep_id}/step", response_model=Sweep, summary="Train exactly one epoch of a paused sweep")
def step_sweep(request: Request, sweeps: SweepsDep, sweep_id: str = SweepId) -> Response:
    return _control(request, sweeps, sweep_id, "step")


@router.post("/{sweep_id}/stop", response_model=Sweep, summary="Stop every variant still active")
def stop_sweep(request: Request, sweeps: SweepsDep, sweep_id: str = SweepId) -> Response:
    return _control(request, sweeps, sweep_id, "stop")


@router.delete("/{sweep_id}", summary="Delete a sweep and its variants' runs (stopping them first)")
def delete_sweep(request: Request, sweeps: SweepsDep, sweep_id: str = SweepId) -> dict:
    may_control(request, sweeps.get(sweep_id), "delete")
    models = request.app.state.models
    out = sweeps.delete(sweep_id)
    for run_id in out["runs"]:
        models.forget(run_id)
    return out
