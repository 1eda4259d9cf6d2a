"""The distributed stack as real processes: 2 `nnplayground worker` (Celery) and 2 `nnplayground serve
--backend celery` web processes on free ports, sharing one run store and one Redis (the `redis_url`
fixture), and on demand nginx from deploy/nginx.conf in front of the two web processes (`nginx_proxy`).
Everything started here is stopped by process id at the end.

The store's location comes from one place, `store_url`: the SQLite file of the session, and the
PostgreSQL URL (`postgres_url`) since the store takes URLs (NNPLAYGROUND_DATABASE_URL)."""

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


# ---- the reverse proxy of the deployment (deploy/nginx.conf) ---------------------------------------
NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


def _nginx() -> str:
    """Debian's nginx (scripts/test.sh installs it); skips where it is missing, fails under CI."""
    import shutil

    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else "")
    if not exe:
        msg = "nginx is needed for the proxy test: run the suite with scripts/test.sh (it installs Debian's)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def nginx_conf(servers: list[str], listen: int, folder: Path) -> str:
    """deploy/nginx.conf adapted as the README says for processes on one host: its upstream lists
    `servers` instead of the compose service, without `resolver` (and the `resolve` parameter, which
    Debian 12's nginx 1.22 lacks). Here also: loopback `listen`, and nginx's temporary files in `folder`
    (Debian's defaults are under /var/lib/nginx, which only root may write)."""
    text = NGINX_CONF.read_text()
    text, n = re.subn(r"\n\s*resolver [^;]*;", "", text)
    assert n == 1, "deploy/nginx.conf has no resolver line to drop"
    upstream = "".join(f"\n        server {s};" for s in servers)
    text, n = re.subn(r"\n\s*server api:\d+ resolve[^;]*;", upstream, text)
    assert n == 1, "deploy/nginx.conf has no `server api:PORT resolve` line to replace"
    text, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{listen};", text)
    assert n == 1
    temp = "".join(
        f"\n    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return text.replace("http {", "http {" + temp, 1)


@pytest.fixture(scope="module")
def nginx_proxy(stack, tmp_path_factory):
    """nginx from deploy/nginx.conf in front of the stack's two web processes; its base URL (http://...).
    Started in the foreground (daemon off) as this test's child and stopped by its process id."""
    exe = _nginx()
    folder = tmp_path_factory.mktemp("nginx")
    (folder / "logs").mkdir()
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf([f"127.0.0.1:{w.port}" for w in stack.webs], port, folder))
    args = [
        exe,
        "-p",
        f"{folder}/",
        "-c",
        str(conf),
        "-g",
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/logs/error.log;",
    ]
    checked = subprocess.run([*args[:5], "-t", *args[5:]], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proxy = Proc("nginx", args, os.environ.copy(), folder / "nginx.out").start()
    base = f"http://127.0.0.1:{port}"

    def up():
        if not proxy.alive():
            raise AssertionError(f"nginx exited: {proxy.text()} {(folder / 'logs' / 'error.log').read_text()}")
        try:
            return httpx.get(base + "/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 30, 0.1)
        yield base
    finally:
        proxy.stop(signal.SIGQUIT)  # graceful: its workers close their connections, then the master exits
