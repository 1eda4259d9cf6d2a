"""A small harness for several real web processes: `nnplayground serve --classroom` subprocesses on
free ports that share one SQLite file and one Redis (NNPLAYGROUND_REDIS_URL), with the same teacher
secret and token key from the environment, as behind a proxy. The local backend trains their runs (each
process its own workers); what the tests look at is what the processes share."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import httpx

SECRET = "distributed-teacher-secret"
KEY = "distributed-token-key-0123456789"


from procs import free_port, nnplayground_command, wait_for  # noqa: E402, F401  (shared with the other suites)


class WebProcess:
    """One `nnplayground serve --classroom` on `db` with `env` (on top of this process's environment)."""

    def __init__(self, db: Path, env: dict[str, str], workers: int = 1):
        self.db, self.workers, self.port = db, workers, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.env = {**os.environ, "NNPLAYGROUND_WORKER_NICE": "0", **env}
        self.proc: subprocess.Popen | None = None
        self.log_path = db.with_suffix(f".{self.port}.log")

    def command(self) -> list[str]:
        return [
            *nnplayground_command(),
            "serve",
            "--classroom",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--workers",
            str(self.workers),
        ]

    def start(self) -> WebProcess:
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=self.base, timeout=15)
        return self

    def wait_ready(self, timeout: float = 90.0) -> WebProcess:
        teacher = {"Authorization": f"Bearer {self.env['NNPLAYGROUND_TEACHER_SECRET']}"}  # not rate limited

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"web process exited with {self.proc.returncode}: {self.log_path.read_text()}")
            try:
                h = httpx.get(self.base + "/api/health", headers=teacher, timeout=1).json()
            except httpx.HTTPError:
                return None
            return h if h["workers"]["ready"] == self.workers else None

        wait_for(up, timeout, 0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self.log.close()


@contextlib.contextmanager
def web_processes(folder: Path, redis_url: str, n: int = 2, env: dict[str, str] | None = None):
    """`n` started web processes sharing `folder`/shared.db and `redis_url`; stopped on exit (by their
    process ids), whatever happened."""
    shared = {
        "NNPLAYGROUND_REDIS_URL": redis_url,
        "NNPLAYGROUND_TEACHER_SECRET": SECRET,
        "NNPLAYGROUND_SECRET_KEY": KEY,
        **(env or {}),
    }
    db = folder / "shared.db"
    procs = []
    try:
        # the first one creates the database's tables before the others open it
        procs.append(WebProcess(db, shared).start().wait_ready())
        procs += [WebProcess(db, shared).start() for _ in range(n - 1)]
        for p in procs[1:]:
            p.wait_ready()
        yield procs
    finally:
        for p in procs:
            p.stop()
