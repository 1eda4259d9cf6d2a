"""The /api/runs resource: create, list, inspect, control, restart and delete runs; their metrics,
views, checkpoints, predictions and exports."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...engine.config import Finite, RunConfig
from ...engine.status import STATUSES
from ...jsonutil import dumps_bytes, raw_json
from ...service.artifacts import EXPORT_FORMATS
from ...service.errors import InvalidInput, NotFound, ServiceError, field_error
from ...service.manager import stored_config
from ..admission import admit
from ..auth import checked, may_control, may_use_weights
from ..deps import ClassroomDep, HeavyDep, ManagerDep, ModelsDep, SettingsDep
from ..errors import json_response
from ..models import Run, RunList

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = PathParam(..., min_length=1, max_length=64, description="A run id.")
BIG = 10**9
JSON = "application/json"


class KnockoutUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str = Field(..., min_length=1, max_length=32, description="A hidden layer's name: fc1, fc2, ...")
    unit: int = Field(..., ge=0, le=BIG, description="The unit's index in that layer, from 0.")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[list[Finite]] = Field(
        ..., description="Raw inputs (before preprocessing), one row per input (finite numbers)."
    )
    mc_samples: int = Field(0, ge=0, le=100, description="> 1: passes with dropout on; std is their spread.")
    epoch: int | None = Field(None, ge=0, le=BIG, description="A checkpoint's epoch; null = the final model.")
    knockout: list[KnockoutUnit] = Field(
        [], max_length=64, description="Hidden units switched off (output zeroed) for the outputs and val metrics."
    )


class SpeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs_per_second: float = Field(..., ge=0, le=1000, description="At most this many epochs/s; 0 = no limit.")


@router.post("", status_code=201, response_model=Run, summary="Create a run (body: a run config, every field optional)")
async def create_run(
    request: Request,
    config: RunConfig | None = Body(None),
    speed: float = Query(0.0, ge=0, le=1000, description="Throttle to at most this many epochs/s (0 = none)."),
    paused: bool = Query(False, description="Start paused after epoch 0."),
    x_client_id: str | None = Header(None, max_length=100, description="Identifies a browser for the run limit."),
) -> Response:
    config = config or RunConfig()
    if config.transfer is not None or config.dataset.points is not None or request.app.state.shared is not None:
        # the job carries a model or a data set: sending it may wait for a busy worker's pipe; with
        # shared state (several web processes) the admission lock may wait for another process
        return json_response(await run_in_threadpool(admit, request, config, speed, paused), 201)
    # Otherwise admission runs on the event loop: a few short SQLite statements and a cached
    # parameter count. In the thread pool each statement gives the GIL away and waits to get it back
    # from a busy loop, which made a class starting 30 runs at once slow (README, Performance).
    return json_response(admit(request, config, speed, paused), 201)


@router.get("", response_model=RunList, summary="List runs, newest first")
def list_runs(
    request: Request,
    mgr: ManagerDep,
    status: Literal[STATUSES] | None = Query(None, description="Only runs with this status."),  # type: ignore[valid-type]
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIG),
    mine: bool = Query(False, description="Only the runs this client created (its token, X-Client-Id or address)."),
) -> Response:
    client = checked(request).client if mine else None  # only `mine` needs to know who asks
    return json_response(mgr.list(status, limit, offset, client))


@router.get("/{run_id}", response_model=Run, summary="One run: config, status, summary (best epoch, early stop)")
def get_run(mgr: ManagerDep, run_id: str = RunId) -> Response:
    return json_response(mgr.run(run_id))


@router.delete("/{run_id}", summary="Delete a run (stopping it first if active) and its history")
def delete_run(request: Request, mgr: ManagerDep, models: ModelsDep, run_id: str = RunId) -> dict:
    may_control(request, mgr.get(run_id), "delete")
    out = mgr.delete(run_id)
    models.forget(run_id)
    return out


# ---- control: one handler per action (engine/status.py ACTIONS says in which statuses each is allowed)
def _control(request: Request, mgr, run_id: str, action: str, value: float | None = None) -> Response:
    may_control(request, mgr.get(run_id), action)
    return json_response(mgr.control(run_id, action, value))


@router.post(
    "/{run_id}/pause", response_model=Run, summary="Pause a running run after its current epoch (409 unless running)"
)
def pause_run(request: Request, mgr: ManagerDep, run_id: str = RunId) -> Response:
    return _control(request, mgr, run_id, "pause")


@router.post("/{run_id}/resume", response_model=Run, summary="Resume a paused run (409 unless paused)")
def resume_run(request: Request, mgr: ManagerDep, run_id: str = RunId) -> Response:
    return _control(request, mgr, run_id, "resume")


@router.post(
    "/{run_id}/step", response_model=Run, summary="Train exactly one epoch of a paused run (409 unless paused)"
)
def step_run(request: Request, mgr: ManagerDep, run_id: str = RunId) -> Response:
    return _control(request, mgr, run_id, "step")


@router.post(
    "/{run_id}/stop", response_model=Run, summary="Stop a queued, running or paused run (409 when already finished)"
)
def stop_run(request: Request, mgr: ManagerDep, run_id: str = RunId) -> Response:
    return _control(request, mgr, run_id, "stop")


@router.post(
    "/{run_id}/speed", response_model=Run, summary="Throttle a run to at most K epochs per second (0 = no limit)"
)
def set_speed(request: Request, mgr: ManagerDep, body: SpeedRequest, run_id: str = RunId) -> Response:
    return _control(request, mgr, run_id, "speed", body.epochs_per_second)


@router.post(
    "/{run_id}/restart",
    status_code=201,
    response_model=Run,
    summary="A new run with the same configuration (owner or teacher), e.g. after `interrupted`",
)
def restart_run(request: Request, mgr: ManagerDep, settings: SettingsDep, run_id: str = RunId) -> Response:
    row = mgr.get(run_id)
    may_control(request, row, "restart")
    config = stored_config(row)  # validated again: 409 naming the field if it no longer passes
    speed = row["speed"] or 0.0
    if speed:  # a speed stored before min_speed existed is raised to it
        speed = max(speed, settings.min_speed)
    return json_response(admit(request, config, speed=speed, paused=False), 201)


class WeightEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str = Field(..., min_length=1, max_length=32, description="A fully connected layer: fc1, ..., out.")
    index: list[int] = Field(..., min_length=1, max_length=2, description="[unit, input]: a weight; [unit]: the bias.")
    value: Finite = Field(..., description="The new value.")


@router.post("/{run_id}/weights", summary="Set one weight or bias of a paused run (409 unless paused)")
def edit_weight(request: Request, mgr: ManagerDep, body: WeightEdit, run_id: str = RunId) -> dict:
    may_control(request, mgr.get(run_id), "edit the weights of")
    return mgr.edit_weight(run_id, body.layer, body.index, body.value)


# ---- what a run recorded ------------------------------------------------------------------------------
@router.get("/{run_id}/metrics", summary="The per-epoch records; ?since=E for those after epoch E")
def metrics(
    mgr: ManagerDep,
    run_id: str = RunId,
    since: int | None = Query(None, ge=-1, le=BIG, description="Only epochs after this one."),
) -> Response:
    mgr.get(run_id)
    records = mgr.store.metrics(run_id, since)
    return Response(dumps_bytes({"epochs": [raw_json(t) for _, t in records]}), media_type=JSON)


def _view(mgr, kind: str, run_id: str, epoch: int | None) -> Response:
    mgr.get(run_id)
    text = mgr.store.view(run_id, kind, epoch)
    if text is None:
        where = "" if epoch is None else f" at or before epoch {epoch}"
        raise NotFound(f"run {run_id} has no {kind} view{where}")
    return Response(text, media_type=JSON)


@router.get("/{run_id}/histograms", summary="Histograms at an epoch (nearest kept before it; default latest)")
def histograms(mgr: ManagerDep, run_id: str = RunId, epoch: int | None = Query(None, ge=0, le=BIG)) -> Response:
    return _view(mgr, "histograms", run_id, epoch)


@router.get("/{run_id}/surface", summary="Decision surface / curve / images / confusion view at an epoch")
def surface(mgr: ManagerDep, run_id: str = RunId, epoch: int | None = Query(None, ge=0, le=BIG)) -> Response:
    return _view(mgr, "surface", run_id, epoch)


@router.post("/{run_id}/predict", summary="Predict raw inputs with the final model or a checkpoint")
async def predict(
    request: Request,
    body: PredictRequest,
    mgr: ManagerDep,
    settings: SettingsDep,
    models: ModelsDep,
    heavy: HeavyDep,
    room: ClassroomDep,
    run_id: str = RunId,
) -> dict:
    if len(body.inputs) > settings.max_predict_rows:
        limit = settings.max_predict_rows
        raise InvalidInput(
            "invalid inputs",
            field_error("inputs", f"at most {limit} inputs at once", "max_inputs", {"max": limit}).detail,
        )
    passes = len(body.inputs) * max(1, body.mc_samples)
    if passes > settings.max_predict_passes:
        field = "mc_samples" if body.mc_samples > 1 else "inputs"
        n, each, limit = len(body.inputs), max(1, body.mc_samples), settings.max_predict_passes
        message = f"{n} inputs x {each} passes = {passes}; at most {limit} here: fewer inputs or mc_samples"
        err = field_error(field, message, "predict_passes", {"n": n, "passes": each, "total": passes, "max": limit})
        raise InvalidInput("invalid inputs", err.detail)
    await run_in_threadpool(_may_predict, request, room, mgr.get(run_id))
    return await heavy.run(
        models.predict, run_id, body.inputs, body.mc_samples, body.epoch, [u.model_dump() for u in body.knockout]
    )


def _may_predict(request: Request, room, row: dict) -> None:
    """The owner and the teacher may; so may the members of a room while the teacher shows the run
    there (broadcast or spotlight: their pages follow it, MC-dropout view included). Weights
    themselves (transfer, weight exports) stay the owner's and the teacher's."""
    try:
        may_use_weights(request, row)
    except ServiceError:
        p = checked(request)
        member = room.membership(p.client) if p.token else None
        showing = room.room(member["code"])["showing"] if member else None
        if not showing or showing["run_id"] != row["id"]:
            raise


@router.get("/{run_id}/checkpoints", summary="Epochs whose weights are kept")
def checkpoints(mgr: ManagerDep, run_id: str = RunId) -> dict:
    row = mgr.get(run_id)
    return {
        "epochs": mgr.store.checkpoint_epochs(run_id),
        "best_epoch": row["best_epoch"],
        "final": bool(row["has_final"]),
    }


@router.get(
    "/{run_id}/export",
    summary="Download the model (state_dict, torchscript, json), the metrics (csv) or a standalone script",
    responses={200: {"content": {"application/octet-stream": {}, JSON: {}, "text/csv": {}, "text/x-python": {}}}},
)
async def export(
    request: Request,
    mgr: ManagerDep,
    models: ModelsDep,
    heavy: HeavyDep,
    run_id: str = RunId,
    format: Literal[EXPORT_FORMATS] = Query("state_dict"),  # type: ignore[valid-type]
    epoch: int | None = Query(None, ge=0, le=BIG, description="A checkpoint (0 = initial weights); default final."),
) -> Response:
    row = await run_in_threadpool(mgr.get, run_id)
    if format in ("state_dict", "torchscript", "json"):  # the weights; csv and python carry none
        may_use_weights(request, row)
    if format == "torchscript":  # rebuilds and traces the model
        body, media, filename, used = await heavy.run(models.export, run_id, format, epoch)
    else:
        body, media, filename, used = await run_in_threadpool(models.export, run_id, format, epoch)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if used is not None:
        headers["X-Checkpoint-Epoch"] = str(used)
    return Response(body, media_type=media, headers=headers)
