"""The distributed profile of docker-compose.yml and its proxy (deploy/nginx.conf). No Docker engine here:
the file is read as compose reads it (YAML, merge keys, `${VAR:-default}`, `$$`) and checked against
what the app serves: its websocket routes, its health route, its body limit, the CLI's commands."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NGINX = ROOT / "deploy" / "nginx.conf"
PROFILE = {"postgres", "redis", "migrate", "api", "worker", "proxy"}
OUR_IMAGE = {"migrate", "api", "worker"}
SECRETS = ("POSTGRES_PASSWORD", "NNPLAYGROUND_TEACHER_SECRET", "NNPLAYGROUND_SECRET_KEY")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def nginx() -> str:
    return re.sub(r"#.*", "", NGINX.read_text())  # directives only, comments dropped


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's substitution for the forms this file may use: ${VAR}, ${VAR:-default}, $$."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(3)
        return env.get(name) or (default if default is not None else "")

    return re.sub(r"\$\$|\$\{(\w+)(:-([^}]*))?\}", sub, value)


def strings(node) -> list[str]:
    """Every key and string value of a parsed YAML tree (what compose interpolates)."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def block(conf: str, head: str) -> str:
    """The body of the nginx block opened by `head {` (braces balanced)."""
    start = conf.index(head)
    i = conf.index("{", start) + 1
    depth = 1
    for j in range(i, len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[j], 0)
        if depth == 0:
            return conf[i:j]
    raise AssertionError(f"unbalanced block {head}")


def directives(body: str, name: str) -> list[str]:
    """The arguments of every `name ...;` directive in `body`, nested blocks included."""
    return [m.strip() for m in re.findall(rf"(?:^|[\s;{{}}]){name}\s+([^;]*);", body)]


def test_plain_up_is_still_the_embedded_service_alone(compose, services):
    """`docker compose up` (no profile) starts what it started before, and needs no variable: compose
    interpolates every service, enabled or not, so one `${VAR:?}` anywhere would make the default demand it."""
    always = {name for name, s in services.items() if not s.get("profiles")}
    assert always == {"nnplayground"}
    assert not [v for v in strings(compose) if re.search(r"\$\{\w+:?\?", v)]
    embedded = services["nnplayground"]
    assert embedded["build"] == "." and embedded["ports"] == ["8000:8000"]
    assert "nnplayground-data:/data" in embedded["volumes"]


def test_the_distributed_profile_has_its_services_with_health_checks_and_order(services):
    profile = {name for name, s in services.items() if "distributed" in s.get("profiles", [])}
    assert profile == PROFILE
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    # migrate: one shot after PostgreSQL is ready; api and workers only once it exited 0
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"][-1].endswith("exec .venv/bin/nnplayground db upgrade")
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }, name
        assert services[name]["deploy"]["replicas"] >= 2, name
    api = services["api"]["command"]
    assert api[:2] == [".venv/bin/nnplayground", "serve"]
    assert api[api.index("--backend") + 1] == "celery" and api[api.index("--host") + 1] == "0.0.0.0"
    assert "--classroom" in api  # it listens on 0.0.0.0: never the unauthenticated single-user mode
    worker = [interpolate(a, {}) for a in services["worker"]["command"]]
    assert worker[:2] == [".venv/bin/nnplayground", "worker"] and int(worker[worker.index("--concurrency") + 1]) >= 1
    assert services["proxy"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert services["proxy"]["image"].startswith("nginx:")
    # the proxy alone publishes a port, and not the embedded service's
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"nnplayground", "proxy"}
    assert interpolate(services["proxy"]["ports"][0], {}) != "8000:8000"


def test_the_profile_runs_the_embedded_services_image(services):
    """One image: built from the same Dockerfile as the embedded service, never pulled from a registry."""
    embedded = services["nnplayground"]
    for name in OUR_IMAGE:
        assert services[name]["image"] == embedded["image"], name
        assert services[name]["build"] == embedded["build"] == ".", name


def test_the_image_installs_what_the_profile_runs(services):
    """The profile's services run the embedded service's image (one Dockerfile), so that image must hold
    the `distributed` extra: the Celery worker and backend, the Redis client of the streams and the
    PostgreSQL driver that the profile's database URL names. Without it `db upgrade` stops on a missing
    psycopg and nothing else of the profile starts (a plain `setup.sh` installed only the base)."""
    import tomllib

    run = re.findall(r"^RUN bash scripts/setup\.sh\b(.*)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert len(run) == 1, run
    extras = run[0].split()
    assert len(extras) == 1, f"the image's setup.sh installs {extras or 'no extra'}; the profile needs one"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = {
        re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        for req in project["dependencies"] + project["optional-dependencies"][extras[0]]
    }
    env = services["migrate"]["environment"]
    driver = env["NNPLAYGROUND_DATABASE_URL"].split("://")[0].split("+")[1]  # postgresql+psycopg
    broker = env["NNPLAYGROUND_REDIS_URL"].split("://")[0]
    assert env["NNPLAYGROUND_BACKEND"] in installed  # celery
    assert {driver, broker} <= installed


def test_every_profile_service_shares_one_private_network(compose, services):
    for name in PROFILE:
        assert "backplane" in services[name]["networks"], name
    assert compose["networks"]["backplane"]["internal"] is True
    assert set(services["proxy"]["networks"]) == {"backplane", "public"}


def test_no_secret_is_written_in_the_file(services):
    """Every password, secret and key is a reference to the caller's environment, with no default; and
    no URL carries a password (the database one goes to libpq as PGPASSWORD)."""
    seen = set()
    for name, s in services.items():
        for key, value in (s.get("environment") or {}).items():
            assert not re.search(r"://[^/@\s:]+:[^/@\s]+@", str(value)), f"{name}.{key}: a password in a URL"
            if re.search(r"PASSWORD|SECRET|_KEY$", key) and "distributed" in s.get("profiles", []):
                m = re.fullmatch(r"\$\{(\w+)(:-)?\}", str(value))
                assert m, f"{name}.environment.{key} is not taken from the environment: {value!r}"
                seen.add(m.group(1))
    assert seen == set(SECRETS)
    env = services["api"]["environment"]
    assert env["NNPLAYGROUND_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["NNPLAYGROUND_REDIS_URL"].startswith("redis://redis:")
    assert env["NNPLAYGROUND_BACKEND"] == "celery"
    assert services["worker"]["environment"] == services["migrate"]["environment"]


@pytest.mark.parametrize("missing", SECRETS)
def test_migrate_refuses_to_start_the_profile_without_a_secret(services, tmp_path, missing):
    """The migrate service's guard, run as its container would (compose's `$$` is `$`): a missing secret
    stops it with a message naming what to set, so no api or worker of the profile starts."""
    script = interpolate(services["migrate"]["command"][-1], {})
    given = {s: "x" for s in SECRETS if s != missing}
    env = {
        "PATH": os.environ["PATH"],
        **{k: interpolate(str(v), given) for k, v in services["migrate"]["environment"].items()},
    }
    out = subprocess.run(["sh", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert "is empty" in out.stderr and missing in out.stderr
    # with all three set it gets past the guard to the upgrade (no CLI in tmp_path: the shell's 127)
    env = {
        "PATH": os.environ["PATH"],
        **{k: interpolate(str(v), dict.fromkeys(SECRETS, "x")) for k, v in services["migrate"]["environment"].items()},
    }
    out = subprocess.run(["sh", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert out.returncode == 127 and "is empty" not in out.stderr


def websocket_paths() -> set[str]:
    """Every websocket route the app serves, read from its route modules."""
    from fastapi import APIRouter
    from fastapi.routing import APIWebSocketRoute
    from nnplayground.api import routes

    paths = set()
    for m in pkgutil.iter_modules(routes.__path__):
        for value in vars(importlib.import_module(f"{routes.__name__}.{m.name}")).values():
            if isinstance(value, APIRouter):
                paths |= {r.path for r in value.routes if isinstance(r, APIWebSocketRoute)}
    return paths


def test_the_proxy_passes_every_websocket_route_as_a_websocket(nginx):
    ws_paths = websocket_paths()
    assert {"/ws/runs/{run_id}", "/ws/rooms/{code}"} <= ws_paths
    assert all(p.startswith("/ws/") or p == "/ws/runs" for p in ws_paths)
    ws = block(nginx, "location /ws/")
    assert "Upgrade $http_upgrade" in directives(ws, "proxy_set_header")
    assert "Connection $connection_upgrade" in directives(ws, "proxy_set_header")
    assert re.search(r"map \$http_upgrade \$connection_upgrade\s*\{\s*default\s+upgrade;", nginx)
    assert directives(nginx, "proxy_http_version") == ["1.1"]  # websockets need HTTP/1.1 upstream
    assert directives(ws, "proxy_buffering") == ["off"]
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        (value,) = directives(ws, timeout)
        seconds = int(value[:-1]) * {"s": 1, "m": 60, "h": 3600}[value[-1]]
        assert seconds >= 600, f"{timeout} {value}: a paused run's viewer would be cut off"


def test_the_proxy_keeps_what_the_api_checks(nginx, services):
    """Host with its port (the api compares Origin with it), the client's own address in a header the
    proxy overwrites (the api trusts it from any peer: FORWARDED_ALLOW_IPS="*"), and room for the api's
    largest body."""
    from nnplayground.service.settings import Settings

    for where in (nginx, block(nginx, "location /ws/")):
        headers = directives(where, "proxy_set_header")
        assert "Host $http_host" in headers
        assert "X-Forwarded-For $remote_addr" in headers
    assert "$proxy_add_x_forwarded_for" not in nginx
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*" and not services["api"].get("ports")
    (size,) = directives(nginx, "client_max_body_size")
    limit = int(size[:-1]) * {"k": 1 << 10, "m": 1 << 20}[size[-1].lower()]
    assert limit >= Settings(db_path="x").max_body_bytes


def test_the_proxy_balances_the_api_service_on_its_port(nginx, services):
    up = block(nginx, "upstream nnplayground_api")
    (server,) = directives(up, "server")
    host, port = server.split()[0].split(":")
    assert host == "api" and "api" in services
    api = services["api"]["command"]
    assert port == api[api.index("--port") + 1]
    assert "resolve" in server.split()  # follows replicas' addresses as they restart
    assert directives(up, "zone") and directives(nginx, "resolver")
    assert directives(block(nginx, "location /ws/"), "proxy_pass") == ["http://nnplayground_api"]
    assert directives(block(nginx, "location / "), "proxy_pass") == ["http://nnplayground_api"]
    mount = services["proxy"]["volumes"][0].split(":")
    assert (ROOT / mount[0]).resolve() == NGINX and mount[1] == "/etc/nginx/nginx.conf"


def test_the_api_health_check_asks_a_route_the_app_serves(services, tmp_path):
    from nnplayground.api import create_app
    from nnplayground.service.settings import Settings

    probe = " ".join(services["api"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", probe)
    api = services["api"]["command"]
    assert url.group(1) == api[api.index("--port") + 1]
    assert url.group(2) in create_app(Settings(db_path=str(tmp_path / "x.db"))).openapi()["paths"]


def test_the_readmes_nginx_adaptation_gives_the_two_local_servers(tmp_path):
    """README's by-hand proxy: its own `sed` over deploy/nginx.conf, run as written, must leave an upstream
    of exactly the two web processes the README starts and no resolver, and (where nginx is installed)
    a configuration `nginx -t` accepts: Debian 12's nginx 1.22 has no `resolve` parameter."""
    import shutil

    readme = (ROOT / "README.md").read_text()
    m = re.search(r"^(sed -e .*?) \\\n\s*(deploy/nginx\.conf) \|", readme, re.M)
    assert m, "README's by-hand section lost its sed over deploy/nginx.conf"
    out = subprocess.run(f"{m.group(1)} {m.group(2)}", shell=True, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    conf = re.sub(r"#.*", "", out.stdout)
    ports = re.findall(r"nnplayground serve --backend celery --classroom --port (\d+) &", readme)
    assert len(ports) == 2, ports
    assert directives(block(conf, "upstream nnplayground_api"), "server") == [f"127.0.0.1:{p}" for p in ports]
    assert not directives(conf, "resolver") and " resolve" not in conf
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        (tmp_path / "logs").mkdir()
        (tmp_path / "nginx.conf").write_text(out.stdout)
        pid_log = f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/logs/error.log;"
        cmd = [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf"), "-g", pid_log]
        checked = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
