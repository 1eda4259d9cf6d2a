"""The /api/runs resource: create, list, inspect, control, delete runs; their metrics, views,
checkpoints, predictions and exports."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...engine.config import RunConfig
from ...service.artifacts import EXPORT_FORMATS
from ...service.manager import ApiError
from ...service.store import STATUSES
from ..auth import checked, may_control, require_client

router = APIRouter(tags=["runs"])

RunId = PathParam(..., min_length=1, max_length=64, description="A run id.")
BIG = 10**9
JSON = "application/json"


def _manager(request: Request):
    return request.app.state.manager


def client_of(request: Request, client_id: str | None) -> str:
    if client_id:
        return f"id:{client_id}"
    return f"ip:{request.client.host}" if request.client else "ip:?"


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: list[list[float]] = Field(..., description="Raw inputs (before preprocessing), one row per input.")
    mc_samples: int = Field(0, ge=0, le=100, description="> 1: passes with dropout on; std is their spread.")
    epoch: int | None = Field(None, ge=0, le=BIG, description="A checkpoint's epoch; null = the final model.")


class SpeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    epochs_per_second: float = Field(..., ge=0, le=1000, description="At most this many epochs/s; 0 = no limit.")


@router.post("/runs", status_code=201, summary="Create a run (body: a run config, every field optional)")
async def create_run(
    request: Request,
    config: RunConfig | None = Body(None),
    speed: float = Query(0.0, ge=0, le=1000, description="Throttle to at most this many epochs/s (0 = none)."),
    paused: bool = Query(False, description="Start paused after epoch 0."),
    x_client_id: str | None = Header(None, max_length=100, description="Identifies a browser for the run limit."),
) -> dict:
    config = config or RunConfig()
    if config.transfer is not None or config.dataset.points is not None:
        # the job carries a model or a data set: sending it may wait for a busy worker's pipe
        return await run_in_threadpool(admit, request, config, speed, paused)
    # Otherwise admission runs on the event loop: a few short SQLite statements and a cached
    # parameter count, about a millisecond. In the thread pool each statement gives the GIL away and
    # waits to get it back from a busy loop: when a class started 30 runs at once, ~150 ms a request.
    return admit(request, config, speed, paused)


def admit(request: Request, config: RunConfig, speed: float, paused: bool) -> dict:
    p = require_client(request)  # the owner: the client token, else X-Client-Id, else the address
    if not p.teacher:
        _fair(request, p.client)
    return _manager(request).create(config, p.client, speed, paused)


def _fair(request: Request, client: str) -> None:
    """Per-client bounds on training and waiting runs (classroom mode's defaults: 2 and 1)."""
    s = request.app.state.settings
    if not (s.max_running_per_client or s.max_queued_per_client):
        return
    counts = request.app.state.classroom.client_counts(client)
    training = counts.get("running", 0) + counts.get("paused", 0)
    if s.max_running_per_client and training >= s.max_running_per_client:
        raise ApiError(
            429,
            f"you already have {training} runs training (the limit is {s.max_running_per_client}); "
            "stop one or wait for it to finish",
        )
    queued = counts.get("queued", 0)
    if s.max_queued_per_client and queued >= s.max_queued_per_client:
        raise ApiError(
            429,
            f"you already have {queued} runs waiting for a worker (the limit is {s.max_queued_per_client}); "
            "wait for it to start",
        )


@router.get("/runs", summary="List runs, newest first")
def list_runs(
    request: Request,
    status: Literal[STATUSES] | None = Query(None, description="Only runs with this status."),  # type: ignore[valid-type]
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=BIG),
    mine: bool = Query(False, description="Only the runs this client created (its token, X-Client-Id or address)."),
) -> dict:
    client = checked(request).client if mine else None
    return _manager(request).list(status, limit, offset, client)


@router.get("/runs/{run_id}", summary="One run: config, status, summary (best epoch, early stop)")
def get_run(request: Request, run_id: str = RunId) -> dict:
    return _manager(request).run(run_id)


@router.delete("/runs/{run_id}", summary="Delete a run (stopping it first if active) and its history")
def delete_run(request: Request, run_id: str = RunId) -> dict:
    may_control(request, _manager(request).get(run_id), "delete")
    out = _manager(request).delete(run_id)
    request.app.state.models.forget(run_id)
    return out


def _control(action: str, summary: str):
    def endpoint(request: Request, run_id: str = RunId) -> dict:
        may_control(request, _manager(request).get(run_id), action)
        return _manager(request).control(run_id, action)

    endpoint.__name__ = f"{action}_run"
    router.add_api_route(f"/runs/{{run_id}}/{action}", endpoint, methods=["POST"], summary=summary)


_control("pause", "Pause a running run after its current epoch (409 unless running)")
_control("resume", "Resume a paused run (409 unless paused)")
_control("step", "Train exactly one epoch of a paused run (409 unless paused)")
_control("stop", "Stop a queued, running or paused run (409 when already finished)")


@router.post("/runs/{run_id}/speed", summary="Throttle a run to at most K epochs per second (0 = no limit)")
def set_speed(request: Request, body: SpeedRequest, run_id: str = RunId) -> dict:
    may_control(request, _manager(request).get(run_id), "speed")
    return _manager(request).control(run_id, "speed", body.epochs_per_second)


@router.get("/runs/{run_id}/metrics", summary="The per-epoch records; ?since=E for those after epoch E")
def metrics(
    request: Request,
    run_id: str = RunId,
    since: int | None = Query(None, ge=-1, le=BIG, description="Only epochs after this one."),
) -> Response:
    mgr = _manager(request)
    mgr.get(run_id)
    records = mgr.store.metrics(run_id, since)
    return Response('{"epochs":[' + ",".join(t for _, t in records) + "]}", media_type=JSON)


def _view(kind: str, request: Request, run_id: str, epoch: int | None) -> Response:
    mgr = _manager(request)
    mgr.get(run_id)
    text = mgr.store.view(run_id, kind, epoch)
    if text is None:
        where = "" if epoch is None else f" at or before epoch {epoch}"
        raise ApiError(404, f"run {run_id} has no {kind} view{where}")
    return Response(text, media_type=JSON)


@router.get("/runs/{run_id}/histograms", summary="Histograms at an epoch (nearest kept before it; default latest)")
def histograms(request: Request, run_id: str = RunId, epoch: int | None = Query(None, ge=0, le=BIG)) -> Response:
    return _view("histograms", request, run_id, epoch)


@router.get("/runs/{run_id}/surface", summary="Decision surface / curve / images / confusion view at an epoch")
def surface(request: Request, run_id: str = RunId, epoch: int | None = Query(None, ge=0, le=BIG)) -> Response:
    return _view("surface", request, run_id, epoch)


@router.post("/runs/{run_id}/predict", summary="Predict raw inputs with the final model or a checkpoint")
def predict(request: Request, body: PredictRequest, run_id: str = RunId) -> dict:
    limit = request.app.state.settings.max_predict_rows
    if len(body.inputs) > limit:
        raise ApiError(422, "invalid inputs", [{"field": "inputs", "message": f"at most {limit} inputs at once"}])
    return request.app.state.models.predict(run_id, body.inputs, body.mc_samples, body.epoch)


@router.get("/runs/{run_id}/checkpoints", summary="Epochs whose weights are kept")
def checkpoints(request: Request, run_id: str = RunId) -> dict:
    mgr = _manager(request)
    row = mgr.get(run_id)
    return {
        "epochs": mgr.store.checkpoint_epochs(run_id),
        "best_epoch": row["best_epoch"],
        "final": bool(row["has_final"]),
    }


@router.get(
    "/runs/{run_id}/export",
    summary="Download the model (state_dict, torchscript, json), the metrics (csv) or a standalone script",
    responses={200: {"content": {"application/octet-stream": {}, JSON: {}, "text/csv": {}, "text/x-python": {}}}},
)
def export(
    request: Request,
    run_id: str = RunId,
    format: Literal[EXPORT_FORMATS] = Query("state_dict"),  # type: ignore[valid-type]
    epoch: int | None = Query(None, ge=0, le=BIG, description="A checkpoint (0 = initial weights); default final."),
) -> Response:
    body, media, filename, used = request.app.state.models.export(run_id, format, epoch)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if used is not None:
        headers["X-Checkpoint-Epoch"] = str(used)
    return Response(body, media_type=media, headers=headers)
