"""Helpers of the service tests: tiny configs, polling, and a real server started as
`nnplayground serve` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

# A run that takes a fraction of a second: few samples, one small layer, few epochs, small views.
TINY = {
    "dataset": {"n_samples": 60},
    "model": {"hidden": [4]},
    "training": {"epochs": 3, "batch_size": 20},
    "telemetry": {"histogram_every": 1, "surface_every": 1, "surface_resolution": 8, "probe_size": 16},
}
TERMINAL = ("completed", "early_stopped", "diverged", "stopped", "failed", "interrupted")


def tiny(**over) -> dict:
    from nnplayground.engine.config import merge

    return merge(TINY, over)


def wait_status(client, run_id: str, statuses=TERMINAL, timeout: float = 30.0) -> dict:
    def check():
        run = client.get(f"/api/runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return wait_for(check, timeout)


def stream_records(frames: list[dict]) -> list[dict]:
    """The per-epoch records a websocket client saw: from the snapshot, live epoch frames and
    coalesced batches, in order (the `type` key removed, as /metrics serves them)."""
    out = []
    for f in frames:
        if f["type"] == "snapshot":
            out += f["epochs"]
        elif f["type"] == "epoch":
            out.append({k: v for k, v in f.items() if k != "type"})
        elif f["type"] == "coalesced":
            out += [{k: v for k, v in e.items() if k != "type"} for e in f["epochs"]]
    return out


# ---- a real server ------------------------------------------------------------------------------------
from procs import free_port, nnplayground_command, wait_for  # noqa: E402, F401  (shared with the other suites)


class Server:
    def __init__(self, db: Path, workers: int = 2, env: dict | None = None, extra: list[str] | None = None):
        self.db, self.workers, self.port = db, workers, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.env = {**os.environ, "NNPLAYGROUND_WORKER_NICE": "0", **(env or {})}
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        cmd = [
            *nnplayground_command(),
            "serve",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--workers",
            str(self.workers),
            *self.extra,
        ]
        self.log = open(self.db.with_suffix(f".{self.port}.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.db.with_suffix('.log')}")
            try:
                h = httpx.get(self.base + "/api/health", timeout=1).json()
            except httpx.HTTPError:
                return None
            return h if h["workers"]["ready"] == self.workers else None

        wait_for(up, timeout, 0.1)
        self.http = httpx.Client(base_url=self.base, timeout=10)
        return self

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.http.close()


def classroom_server(folder: Path, secret: str, workers: int = 2) -> Server:
    """A started `serve --classroom` on a fresh database in `folder`, with the teacher secret set."""
    return Server(
        folder / "classroom.db",
        workers=workers,
        env={"NNPLAYGROUND_TEACHER_SECRET": secret},
        extra=["--classroom"],
    ).start()
