"""Server settings and limits. Every field can be set by an environment variable
NNPLAYGROUND_<FIELD> (upper case), and the `serve` command sets the common ones from its options."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields


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
    snapshot_max_epochs: int = 1000  # records in a websocket snapshot before it is thinned
    keep_views: int = 200  # histogram and surface events kept per run (older ones thinned)
    trace_file: str = ""  # benchmarks: append "run epoch emitted_at" per epoch event

    def __post_init__(self):
        if self.workers <= 0:
            self.workers = _default_workers()

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"NNPLAYGROUND_{f.name.upper()}")
            if raw is not None:
                values[f.name] = raw if f.type == "str" else int(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
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
        )
        d = asdict(self)
        return {k: d[k] for k in keys}
