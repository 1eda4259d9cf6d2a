"""No Docker engine here: check that the image's install and start commands are the shell commands
that the rest of the suite runs, and that docker-compose keeps the database on a volume."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_uses_the_tested_commands():
    text = (ROOT / "Dockerfile").read_text()
    assert "RUN bash scripts/setup.sh" in text
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[:2] == [".venv/bin/nnplayground", "serve"]
    assert "--classroom" in cmd  # it listens on 0.0.0.0: never the unauthenticated single-user mode
    db = cmd[cmd.index("--db") + 1]
    volume = json.loads(re.search(r"^VOLUME (\[.*\])$", text, re.M).group(1))[0]
    assert db.startswith(volume + "/")
    copied = set()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for path in line.split()[:-1]:  # the last word is the destination
            assert (ROOT / path).exists(), path
            copied.add(path)
    assert {"backend", "frontend", "static", "scripts"} <= copied  # the server and the pages it serves
    # the start command's options exist: `serve --help` lists them
    exe = Path(sys.executable).parent / "nnplayground"
    out = subprocess.run([str(exe), "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--host", "--port", "--db", "--workers"):
        assert option in out


def test_compose_has_one_service_with_a_data_volume():
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"^  nnplayground:\n    build: \.", text, re.M)
    assert "nnplayground-data:/data" in text and re.search(r"^volumes:\n  nnplayground-data:", text, re.M)
    assert '"8000:8000"' in text


def test_a_built_wheel_serves_the_pages(tmp_path):
    """pip install of the wheel (not the checkout): `nnplayground serve` finds its pages and assets
    as package data. The fresh venv sees this one's dependencies through a path file, never the
    checkout (no PYTHONPATH, another working directory)."""
    import os
    import site
    import venv

    import httpx
    from service_helpers import free_port, wait_for

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "backend", "frontend", "static"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(src)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("nnplayground-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(py), "-c", "import site; print(site.getsitepackages()[0])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    Path(target, "deps.pth").write_text("\n".join(deps) + "\n")  # added to sys.path, their .pth files not run
    subprocess.run(
        [*pip, "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NNPLAYGROUND_WEB_ROOT")}
    where = subprocess.run(
        [str(py), "-c", "import nnplayground; print(nnplayground.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(target), where  # the installed copy, not the checkout

    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(env_dir / "bin" / "nnplayground"),
            "serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "w.db"),
            "--workers",
            "1",
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def up():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(base + "/api/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 90, 0.2)
        page = httpx.get(base + "/")
        assert page.status_code == 200 and '<script type="module" src="/app/main.js' in page.text
        css = httpx.get(base + "/static/css/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and len(css.text) > 1000
        assert httpx.get(base + "/static/vendor/uPlot.esm.js").status_code == 200
        assert httpx.get(base + "/app/main.js").status_code == 200
        assert httpx.get(base + "/teacher").status_code == 200 and httpx.get(base + "/lab").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
