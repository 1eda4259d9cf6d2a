"""Server settings and limits: the one place that names, bounds and documents each of them.

Every field can be set by an environment variable NNPLAYGROUND_<FIELD> (upper case; `pydantic-settings`
reads them, so booleans take 1/0/true/false/yes/no and a value out of its bounds is refused at start-up
naming the variable), and the `serve` command sets the common ones from its options, which win over the
environment. Classroom mode (`classroom`) changes the defaults of the fields in CLASSROOM_DEFAULTS that
neither the environment nor an option sets."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NNPLAYGROUND_", extra="forbid", validate_default=True)

    db_path: str = Field("nnplayground.db", description="the SQLite database file")
    # the distributed backend (issue 15, docs/scaling.md); the embedded default needs none of these
    database_url: str = Field(
        "", description="SQLAlchemy URL of the run store, e.g. postgresql+psycopg://u@h/db (empty = SQLite at db_path)"
    )
    redis_url: str = Field(
        "",
        description="Redis URL: the celery backend's broker and streams, and the state several web "
        "processes share (limits, admission lock, room events; service/shared_state.py)",
    )
    backend: Literal["local", "celery"] = Field(
        "local", description="who trains runs: local worker processes, or Celery workers (`nnplayground worker`)"
    )
    workers: int = Field(0, ge=0, description="worker processes (0 = number of cores)")
    slots_per_worker: int = Field(
        2, ge=1, description="runs one worker holds at once, alternating epochs (time slicing)"
    )
    queue_bound: int = Field(64, ge=1, description="runs waiting for a slot; beyond this POST /api/runs answers 429")
    worker_nice: int = Field(
        5, ge=0, le=19, description="niceness added to the workers: they yield the CPU to the web tier"
    )
    # limits on what one request or run may ask for
    max_params: int = Field(250_000, ge=1, description="parameters of one run's model")
    max_epochs: int = Field(5000, ge=1, description="epochs of one run")
    max_dataset_size: int = Field(20000, ge=1, description="points of one run's data set")
    max_runs_per_client: int = Field(8, ge=1, description="queued + running + paused runs of one client at a time")
    max_message_size: int = Field(65536, ge=1, description="bytes of one websocket message from a client")
    max_body_bytes: int = Field(2_000_000, ge=1, description="bytes of one HTTP request body")
    max_predict_rows: int = Field(10000, ge=1, description="input rows of one predict call")
    # streaming and storage
    ws_buffer_frames: int = Field(32, ge=1, description="frames queued per websocket before coalescing starts")
    ws_view_rate: int = Field(
        25, ge=0, description="histogram and surface frames per second per run sent live (0 = every one)"
    )
    ws_message_rate: int = Field(
        10, ge=0, description="client messages per second on one websocket, bursts of twice that (0 = no limit)"
    )
    snapshot_max_epochs: int = Field(1000, ge=1, description="records in a websocket snapshot before it is thinned")
    keep_views: int = Field(200, ge=1, description="histogram and surface events kept per run (older ones thinned)")
    max_checkpoint_bytes: int = Field(
        32 << 20, ge=0, description="stored checkpoints of one run; beyond, older ones are thinned"
    )
    max_client_storage_bytes: int = Field(
        1 << 30, ge=0, description="checkpoints + final models of one client's runs (429 beyond)"
    )
    wal_limit_bytes: int = Field(
        16 << 20, ge=0, description="the SQLite write-ahead log is truncated back to this size"
    )
    bind_host: str = Field("", description="the address `serve --host` listens on (served as a Host name too)")
    allowed_hosts: str = Field(
        "", description="Host names served besides localhost, IP addresses and --host ('*' = any)"
    )
    trace_file: str = Field(
        "",
        description="benchmarks: append 'run epoch emitted_at' per epoch event; the local workers append their "
        "CPU split (training, packing) to this name + '.cpu'",
    )
    # classroom mode (`serve --classroom`): roles, rooms, fairness; see CLASSROOM_DEFAULTS
    classroom: bool = Field(False, description="teacher role and rooms; ownership enforced on run control")
    teacher_secret: str = Field("", repr=False, description="the teacher's key; empty in classroom mode = a random one")
    secret_key: str = Field("", repr=False, description="signs client tokens; empty = one kept in the db")
    allowed_origins: str = Field(
        "", description="extra websocket origins (comma-separated); the server's own is allowed"
    )
    cors_origins: str = Field("", description="origins answered with CORS headers (comma-separated); empty = CORS off")
    rate_limit_per_minute: int = Field(0, ge=0, description="API requests per client per minute (0 = no limit)")
    rate_limit_burst: int = Field(
        0, ge=0, description="requests a client may make at once (0 = a tenth of the minute's)"
    )
    max_running_per_client: int = Field(
        0, ge=0, description="running + paused runs of one client (0 = only max_runs_per_client)"
    )
    max_queued_per_client: int = Field(0, ge=0, description="queued runs of one client (0 = only max_runs_per_client)")
    max_run_seconds: int = Field(3600, ge=0, description="wall time of one run before it is stopped (0 = none)")
    max_room_members: int = Field(200, ge=1, description="students in one room")
    # what one request or one address may cost the server (issue 10; see docs/architecture.md, Limits)
    min_speed: float = Field(
        0.01, ge=0, description="the slowest throttle a run may ask for, epochs/s (0 = unthrottled is allowed)"
    )
    max_epoch_cost: int = Field(
        10_000_000_000,
        ge=0,
        description="estimated multiply-adds of one epoch (manager.epoch_cost), ~4 s of a core (0 = no limit)",
    )
    max_pause_seconds: int = Field(
        0, ge=0, description="a run paused longer than this is stopped, freeing its slot (0 = never)"
    )
    max_predict_passes: int = Field(100_000, ge=1, description="inputs x max(1, mc_samples) of one predict call")
    max_landscape_steps: int = Field(10_000, ge=1, description="steps x optimizers of one POST /api/landscape")
    max_heavy_requests: int = Field(
        1, ge=1, description="predictions, TorchScript exports, landscapes computed at once (web process)"
    )
    client_tokens_per_hour: int = Field(
        300, ge=0, description="new client tokens per address an hour (POST /api/clients, first visits)"
    )
    rate_limit_per_address: int = Field(
        0, ge=0, description="API requests per address a minute, all its clients together (0 = off)"
    )
    max_queued_per_address: int = Field(
        0, ge=0, description="runs waiting for a worker from one address (0 = only queue_bound)"
    )
    join_failures_per_minute: int = Field(
        30, ge=0, description="failed room joins (unknown or closed code) per address a minute"
    )
    max_sweep_variants: int = Field(
        64, ge=1, description="variants of one sweep (POST /api/sweeps), trained as one job in one worker slot"
    )

    @model_validator(mode="after")
    def _resolve_workers(self) -> Settings:
        if self.workers <= 0:
            self.workers = _default_workers()
        return self

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """The environment's settings, with `overrides` (the `serve` options; None = not given) winning over
        it; in classroom mode CLASSROOM_DEFAULTS fill the fields neither of them sets.

        Raises pydantic.ValidationError naming the field when a value is not of its type or out of bounds."""
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = cls(**given)
        if not settings.classroom:
            return settings
        # fields set by the environment or an option are in model_fields_set; the others take classroom's
        unset = {k: v for k, v in CLASSROOM_DEFAULTS.items() if k not in settings.model_fields_set}
        return cls(**unset, **given) if unset else settings

    def limits(self) -> dict:
        keys = (
            "max_params",
            "max_epochs",
            "max_dataset_size",
            "max_runs_per_client",
            "max_message_size",
            "max_body_bytes",
            "max_predict_rows",
            "queue_bound",
            "rate_limit_per_minute",
            "max_running_per_client",
            "max_queued_per_client",
            "max_run_seconds",
            "max_checkpoint_bytes",
            "max_client_storage_bytes",
            "min_speed",
            "max_epoch_cost",
            "max_pause_seconds",
            "max_predict_passes",
            "max_landscape_steps",
            "max_heavy_requests",
            "client_tokens_per_hour",
            "rate_limit_per_address",
            "max_queued_per_address",
            "join_failures_per_minute",
            "max_sweep_variants",
        )
        d = self.model_dump()
        return {k: d[k] for k in keys}


# Classroom mode's defaults, sized for a 2-core laptop serving 30-100 students (any of them can still
# be set by its environment variable or `serve` option).
CLASSROOM_DEFAULTS = {
    "max_runs_per_client": 3,  # active runs (queued + running + paused) of one student
    "max_running_per_client": 2,  # of which training at once
    "max_queued_per_client": 1,  # of which waiting for a worker
    "rate_limit_per_minute": 600,  # 10 requests/s sustained per student
    "rate_limit_burst": 60,
    "max_params": 50_000,
    "max_epochs": 2000,
    "max_run_seconds": 600,  # a run is stopped after 10 minutes of wall time
    "max_checkpoint_bytes": 16 << 20,  # 16 MiB of checkpoints per run
    "max_client_storage_bytes": 64 << 20,  # 64 MiB per student: 100 students fit in ~6.4 GB of disk
    "max_epoch_cost": 3_000_000_000,  # about a second of one laptop core per epoch
    "max_pause_seconds": 300,  # a paused run holds a worker slot: after 5 minutes it is stopped
    # Per address, sized for a class of 100 behind one NAT (every student on one address):
    "rate_limit_per_address": 6000,  # 100 students x 60 requests a minute
    "max_queued_per_address": 32,  # half the queue: one address can never fill it alone
}
