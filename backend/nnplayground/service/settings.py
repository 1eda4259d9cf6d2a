"""Server settings and limits. Every field can be set by an environment variable
NNPLAYGROUND_<FIELD> (upper case), and the `serve` command sets the common ones from its options."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass
class Settings:
    db_path: str = "nnplayground.db"
    workers: int = 0  # 0 = number of cores
    slots_per_worker: int = 2  # runs one worker holds at once, alternating epochs (time slicing)
    queue_bound: int = 64  # runs waiting for a slot; beyond this POST /api/runs answers 429
    worker_nice: int = 5  # workers yield the CPU to the web tier first
    # limits on what one request or run may ask for
    max_params: int = 250_000
    max_epochs: int = 5000
    max_dataset_size: int = 20000
    max_runs_per_client: int = 8  # queued + running + paused runs of one client at a time
    max_message_size: int = 65536  # bytes of one websocket message from a client
    max_body_bytes: int = 2_000_000  # bytes of one HTTP request body
    max_predict_rows: int = 10000
    # streaming and storage
    ws_buffer_frames: int = 32  # frames queued per websocket before coalescing starts
    ws_view_rate: int = 25  # histogram and surface frames per second per run sent live (0 = every one)
    ws_message_rate: int = 10  # client messages per second on one websocket, bursts of twice that (0 = no limit)
    snapshot_max_epochs: int = 1000  # records in a websocket snapshot before it is thinned
    keep_views: int = 200  # histogram and surface events kept per run (older ones thinned)
    max_checkpoint_bytes: int = 32 << 20  # stored checkpoints of one run; beyond, older ones are thinned
    max_client_storage_bytes: int = 1 << 30  # checkpoints + final models of one client's runs (429 beyond)
    wal_limit_bytes: int = 16 << 20  # the SQLite write-ahead log is truncated back to this size
    bind_host: str = ""  # the address `serve --host` listens on (served as a Host name too)
    allowed_hosts: str = ""  # Host names served besides localhost, IP addresses and --host ("*" = any)
    trace_file: str = ""  # benchmarks: append "run epoch emitted_at" per epoch event
    # classroom mode (`serve --classroom`): roles, rooms, fairness; see CLASSROOM_DEFAULTS
    classroom: int = 0  # 1 = teacher role and rooms; ownership enforced on run control
    teacher_secret: str = field(default="", repr=False)  # empty in classroom mode = a random one
    secret_key: str = field(default="", repr=False)  # signs client tokens; empty = one kept in the db
    allowed_origins: str = ""  # extra websocket origins (comma-separated); the server's own is allowed
    cors_origins: str = ""  # origins answered with CORS headers (comma-separated); empty = CORS off
    rate_limit_per_minute: int = 0  # API requests per client per minute (0 = no limit)
    rate_limit_burst: int = 0  # requests a client may make at once (0 = a tenth of the minute's)
    max_running_per_client: int = 0  # running + paused runs of one client (0 = only max_runs_per_client)
    max_queued_per_client: int = 0  # queued runs of one client (0 = only max_runs_per_client)
    max_run_seconds: int = 3600  # wall time of one run before it is stopped (0 = none)
    max_room_members: int = 200  # students in one room
    # what one request or one address may cost the server (issue 10; see docs/architecture.md, Limits)
    min_speed: float = 0.01  # the slowest throttle a run may ask for, epochs/s (0 = unthrottled is allowed)
    max_epoch_cost: int = 10_000_000_000  # estimated multiply-adds of one epoch (manager.epoch_cost), ~4 s of a core
    max_pause_seconds: int = 0  # a run paused longer than this is stopped, freeing its slot (0 = never)
    max_predict_passes: int = 100_000  # inputs x max(1, mc_samples) of one predict call
    max_landscape_steps: int = 10_000  # steps x optimizers of one POST /api/landscape
    max_heavy_requests: int = 1  # predictions, TorchScript exports, landscapes computed at once (web process)
    client_tokens_per_hour: int = 300  # new client tokens per address an hour (POST /api/clients, first visits)
    rate_limit_per_address: int = 0  # API requests per address a minute, all its clients together (0 = off)
    max_queued_per_address: int = 0  # runs waiting for a worker from one address (0 = only queue_bound)
    join_failures_per_minute: int = 30  # failed room joins (unknown or closed code) per address a minute

    def __post_init__(self):
        if self.workers <= 0:
            self.workers = _default_workers()

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"NNPLAYGROUND_{f.name.upper()}")
            if raw is not None:
                values[f.name] = {"str": str, "float": float}.get(f.type, int)(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("classroom"):
            for k, v in CLASSROOM_DEFAULTS.items():
                values.setdefault(k, v)
        return cls(**values)

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
        )
        d = asdict(self)
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
