"""Helpers for tests that start real `nnplayground` processes: a free loopback port, and the command that
runs this checkout's CLI (the venv's entry point, else one on PATH, else `python -m`)."""

import shutil
import socket
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nnplayground_command() -> list[str]:
    exe = Path(sys.executable).parent / "nnplayground"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("nnplayground")
    return [found] if found else [sys.executable, "-m", "nnplayground.cli"]
