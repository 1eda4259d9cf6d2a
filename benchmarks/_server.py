"""Start `nnplayground serve` on a free port for a benchmark, and stop it afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, workers: int = 0, env: dict | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="nnp-bench-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.trace = self.dir / "trace.txt"
        exe = Path(sys.executable).parent / "nnplayground"
        cmd = [str(exe), "serve", "--port", str(self.port), "--db", str(self.dir / "bench.db")]
        if workers:
            cmd += ["--workers", str(workers)]
        env = {**os.environ, "NNPLAYGROUND_TRACE_FILE": str(self.trace), **(env or {})}
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while True:
            try:
                h = httpx.get(self.base + "/api/health", timeout=1).json()
                if h["workers"]["ready"] == h["workers"]["workers"]:
                    self.workers = h["workers"]["workers"]
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

    def emitted(self) -> dict[tuple[str, int], float]:
        out = {}
        for line in self.trace.read_text().splitlines():
            run, epoch, t = line.split()
            out[(run, int(epoch))] = float(t)
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")
