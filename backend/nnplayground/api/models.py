"""Response models: what the main answers hold, so that the OpenAPI document describes them (and the
schemathesis test checks every answer against it). Routes declare them as `response_model` but return
the body as it is (errors.json_response): the models document, they do not re-validate a hot path.
Every model allows extra keys: a new key extends an answer, never breaks a client."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..engine.status import STATUSES

Status = Literal[STATUSES]  # type: ignore[valid-type]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RunBrief(_Open):
    """A run as a list shows it."""

    id: str
    status: Status
    position: int | None = Field(description="Place in the queue (1 = next) while queued; else null.")
    created_at: float = Field(description="Unix time, seconds.")
    started_at: float | None
    finished_at: float | None
    dataset: str | None
    epochs: int | None = Field(description="The configured epoch budget.")
    epochs_run: int
    best_epoch: int | None
    speed: float | None = Field(description="At most this many epochs/s; 0 = no limit.")
    message: str | None
    summary: dict = Field(description="status, epochs_run, best_epoch, best_val_loss; when finished, more.")


class Run(RunBrief):
    """One run in full: its effective and submitted configurations and its model."""

    config: dict
    submitted_config: dict
    model: dict | None = Field(description="n_params, layers, dataset, device, frozen; null until it starts.")
    has_final_model: bool
    worker_pid: int | None
    requested: str | None = Field(None, description="The control action this answer follows, if any.")


class RunList(_Open):
    runs: list[RunBrief]
    total: int
    limit: int
    offset: int


class SweepVariant(_Open):
    """One row of a sweep's table: a variant's values and how its run did."""

    run: str = Field(description="The variant's run id (GET /api/runs/{id}, /ws/runs/{id}, ...).")
    values: dict = Field(description="The varied fields' values, by dotted path.")
    status: str = Field(description="The run's status; `deleted` when the run was deleted on its own.")
    epochs_run: int
    best_epoch: int | None
    best_val_loss: float | None
    val_loss: float | None = Field(None, description="The final model's validation loss.")
    val_acc: float | None = Field(None, description="Classification: the final model's validation accuracy.")
    val_r2: float | None = Field(None, description="Regression: the final model's validation R².")


class Sweep(_Open):
    """A sweep: K variants of one run configuration trained together."""

    id: str
    status: Literal["queued", "running", "paused", "finished"]
    created_at: float = Field(description="Unix time, seconds.")
    mode: Literal["grid", "zip"]
    vary: dict = Field(description="The varied fields (dotted paths) and their values, as submitted.")
    base: dict
    runs: list[str] = Field(description="The variants' run ids, in variant order.")
    variants: list[SweepVariant]
    requested: str | None = Field(None, description="The control action this answer follows, if any.")


class SweepList(_Open):
    sweeps: list[Sweep]
    total: int
    limit: int
    offset: int


class Queue(_Open):
    length: int
    bound: int


class Health(_Open):
    status: Literal["ok"]
    uptime_s: float
    workers: dict
    queue: Queue
    runs: dict = Field(description="Run counts by status.")
    viewers: int = Field(description="Open run websockets.")
    limits: dict


class Room(_Open):
    code: str
    created_at: float
    closed: bool
    closed_at: float | None
    showing: dict | None = Field(description="The run the teacher shows (broadcast or spotlight); null when none.")
    lesson: dict | None
    members: int


class RoomList(_Open):
    rooms: list[Room]


class Joined(_Open):
    room: Room
    name: str
    member: str = Field(description="This member's id in the students table.")


class FieldError(_Open):
    field: str = Field(description="The dotted path of what to fix, e.g. `optimizer.lr` or `query.limit`.")
    message: str
    type: str | None = Field(None, description="pydantic's error type, when the schema refused the value.")
    ctx: dict | None = Field(None, description="The error's plain parameters (limits such as `ge`).")


class ErrorBody(_Open):
    """Every error answer (4xx and 5xx)."""

    error: str = Field(description="What went wrong, in English.")
    status: int = Field(description="The HTTP status again.")
    detail: list[FieldError] | None = Field(None, description="422: the fields to fix.")
    error_id: str | None = Field(None, description="500: the id that finds the error in the server log.")


# Declared on every /api router (api/app.py), in place of FastAPI's own 422 schema, which is not ours.
ERROR_RESPONSES: dict = {
    422: {"model": ErrorBody, "description": "Invalid input: `detail` names the fields."},
    "default": {"model": ErrorBody, "description": "Any other error: `{error, status}`."},
}
