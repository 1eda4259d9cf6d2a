"""Helpers for tests that start real `nnplayground` processes: a free loopback port, the command that
runs this checkout's CLI (the venv's entry point, else one on PATH, else `python -m`), and polling until
something holds."""

import shutil
import socket
import sys
import time
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


def wait_for(fn, timeout: float = 30.0, interval: float = 0.05):
    """Poll fn() until it returns something truthy; that value is returned."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {fn}")
        time.sleep(interval)
