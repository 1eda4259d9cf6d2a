"""The distributed stack as real processes: 2 `nnplayground worker` (Celery) and 2 `nnplayground serve
--backend celery` web processes on free ports, sharing one run store and one Redis (the `redis_url`
fixture). Everything started here is stopped by process id at the end.

The store's location comes from one place, `store_url`: the SQLite file of the session now; the
PostgreSQL URL (`postgres_url`) once the store takes URLs (NNPLAYGROUND_DATABASE_URL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))
from service_helpers import free_port, nnplayground_command, wait_for  # noqa: E402

REDIS_DB = 7  # a database of its own on the shared test Redis, flushed when the stack starts


def _store_takes_urls() -> bool:
    """Whether the run store runs on SQLAlchemy (any database URL), not only on a SQLite file."""
    import inspect

    from nnplayground.service import store

    return "sqlalchemy" in inspect.getsource(store)


# PostgreSQL joins as soon as the store takes URLs (NNPLAYGROUND_DATABASE_URL); until then SQLite only
STORES = ["sqlite", *(["postgresql"] if _store_takes_urls() else [])]


@pytest.fixture(scope="module", params=STORES)
def store_url(request, tmp_path_factory) -> dict:
    """The environment naming the run store every process of the stack shares: the one place that decides
    it. SQLite: a file of this module's; PostgreSQL: a fresh database on the `postgres_url` server."""
    folder = tmp_path_factory.mktemp("dist")
    env = {"NNPLAYGROUND_DB_PATH": str(folder / "runs.db")}
    if request.param == "postgresql":
        import secrets

        import psycopg

        base = request.getfixturevalue("postgres_url")
        name = "nnp_dist_" + secrets.token_hex(4)
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        env["NNPLAYGROUND_DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name
    return env


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict, log: Path):
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        self.log = open(self.log_path, "a")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> None:
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()


class Worker(Proc):
    def start(self, timeout: float = 90) -> Worker:
        before = self.text().count(" ready (pid ") if self.log_path.exists() else 0
        super().start()
        wait_for(lambda: self._ready(before), timeout, 0.2)
        return self

    def _ready(self, before: int) -> bool:
        if not self.alive():
            raise AssertionError(f"{self.name} exited: {self.text()[-3000:]}")
        return self.text().count(" ready (pid ") > before


class Web(Proc):
    def __init__(self, name, cmd, env, log, port):
        super().__init__(name, cmd, env, log)
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.ws_base = f"ws://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base, timeout=10, headers={"X-Client-Id": "dist-tests"})

    def start(self, timeout: float = 90) -> Web:
        super().start()

        def up():
            if not self.alive():
                raise AssertionError(f"{self.name} exited: {self.text()[-3000:]}")
            try:
                return httpx.get(self.base + "/api/health", timeout=2).json()["workers"]["workers"] >= 1
            except httpx.HTTPError:
                return False

        wait_for(up, timeout, 0.2)
        return self


class Stack:
    def __init__(self, folder: Path, env: dict):
        self.folder, self.env = folder, env
        exe = nnplayground_command()
        self.workers = [
            Worker(
                f"worker{i}",
                [*exe, "worker", "--concurrency", "1", "--hostname", f"w{i}@%h", "--log-level", "info"],
                env,
                folder / f"worker{i}.log",
            )
            for i in (1, 2)
        ]
        self.webs = []
        for name in ("A", "B"):
            port = free_port()
            cmd = [*exe, "serve", "--backend", "celery", "--port", str(port), "--db", env["NNPLAYGROUND_DB_PATH"]]
            self.webs.append(Web(name, cmd, env, folder / f"web{name}.log", port))

    @property
    def a(self) -> Web:
        return self.webs[0]

    @property
    def b(self) -> Web:
        return self.webs[1]

    def start(self) -> Stack:
        for p in [*self.workers, *self.webs]:  # workers start together, then the web processes
            Proc.start(p)
        for w in self.workers:
            wait_for(lambda w=w: w._ready(0), 120, 0.2)
        for web in self.webs:
            wait_for(lambda web=web: _health(web), 120, 0.2)
        wait_for(lambda: self.a.http.get("/api/health").json()["workers"]["slots"] == 2, 30, 0.2)
        return self

    def stop(self) -> None:
        for p in [*self.webs, *self.workers]:
            p.stop()
            if isinstance(p, Web):
                p.http.close()


def _health(web: Web) -> bool:
    if not web.alive():
        raise AssertionError(f"{web.name} exited: {web.text()[-3000:]}")
    try:
        return httpx.get(web.base + "/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def stack_redis(redis_url) -> str:
    url = re.sub(r"/\d*$", f"/{REDIS_DB}", redis_url)
    import redis

    r = redis.Redis.from_url(url)
    r.flushdb()
    r.close()
    return url


@pytest.fixture(scope="module")
def stack(tmp_path_factory, stack_redis, store_url):
    folder = tmp_path_factory.mktemp("stack")
    env = {
        **os.environ,
        **store_url,
        "NNPLAYGROUND_REDIS_URL": stack_redis,
        "NNPLAYGROUND_BACKEND": "celery",
        "NNPLAYGROUND_WORKER_NICE": "0",
        "NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "20",
    }
    s = Stack(folder, env)
    try:
        yield s.start()
    finally:
        s.stop()
