"""No Docker engine here: check that the image's install and start commands are the shell commands
that the rest of the suite runs, and that docker-compose keeps the database on a volume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_uses_the_tested_commands():
    text = (ROOT / "Dockerfile").read_text()
    assert "RUN bash scripts/setup.sh" in text
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[:2] == [".venv/bin/nnplayground", "serve"]
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
