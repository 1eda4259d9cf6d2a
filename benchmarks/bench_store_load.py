"""What one run costs the store and the live stream, per epoch (docs/scaling.md's Redis and PostgreSQL
load): a real `nnplayground serve` trains one run while a viewer follows it on the websocket; every SQL
statement the server sends to its database is counted (sqlite3's trace callback, installed before the
server starts), and afterwards the database file's pages are summed per table (SQLite's dbstat).

    .venv/bin/python benchmarks/bench_store_load.py [--epochs 100]

Per configuration (the default run with full telemetry, and bench_classroom's student run):
- statements per epoch, by kind (INSERT / UPDATE / DELETE / SELECT / BEGIN / COMMIT...) and table;
- bytes stored per epoch, by table (pages in use, indexes included), and per run;
- bytes per epoch on the websocket, by event type: what a stream carries per epoch."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from _server import free_port
from bench_classroom import RUN as STUDENT_RUN
from websockets.sync.client import connect

# Runs `nnplayground serve` with every sqlite3 connection tracing its statements to a file.
TRACED_SERVE = """
import sqlite3, sys
_connect = sqlite3.connect
out = open(sys.argv.pop(1), "a", buffering=1)
def connect(*a, **kw):
    conn = _connect(*a, **kw)
    conn.set_trace_callback(lambda sql: out.write(" ".join(sql.split())[:160] + "\\n"))
    return conn
sqlite3.connect = connect
from nnplayground.cli import app
sys.argv[0] = "nnplayground"
app()
"""
CONFIGS = {
    "default run (full telemetry every epoch)": {"training": {"epochs": 0}},
    "classroom student run (views every 5th epoch)": STUDENT_RUN,
}


def kind(sql: str) -> str:
    """'INSERT metrics', 'UPDATE runs', 'SELECT runs', 'BEGIN'..."""
    words = sql.split()
    verb = words[0].upper() if words else "?"
    m = re.search(r"\b(?:INTO|UPDATE|FROM)\s+(\w+)", sql, re.I)
    return f"{verb} {m.group(1)}" if m and verb in ("INSERT", "UPDATE", "DELETE", "SELECT", "REPLACE") else verb


def follow(ws_base: str, run_id: str) -> Counter:
    """Bytes per event type received by one viewer, until run_end."""
    sizes: Counter = Counter()
    with connect(f"{ws_base}/ws/runs/{run_id}", max_size=None) as ws:
        while True:
            raw = ws.recv(timeout=120)
            msg = json.loads(raw)
            sizes[msg["type"]] += len(raw.encode() if isinstance(raw, str) else raw)
            ends = msg["type"] == "run_end" or (
                msg["type"] == "coalesced" and any(e["type"] == "run_end" for e in msg["events"])
            )
            if ends:
                return sizes


def measure(cfg: dict, epochs: int, folder: Path) -> dict:
    cfg = json.loads(json.dumps(cfg))
    cfg.setdefault("training", {})["epochs"] = epochs
    db, trace, port = folder / "store.db", folder / "sql.txt", free_port()
    cmd = [sys.executable, "-c", TRACED_SERVE, str(trace), "serve", "--port", str(port), "--db", str(db)]
    server = subprocess.Popen([*cmd, "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        before = len(trace.read_text().splitlines())
        run = httpx.post(base + "/api/runs", json=cfg, params={"paused": "true"}).json()
        # the viewer is on before the run starts: it sees every epoch live, none from a snapshot
        sizes: Counter = Counter()
        viewer = threading.Thread(target=lambda: sizes.update(follow(f"ws://127.0.0.1:{port}", run["id"])))
        viewer.start()
        while httpx.get(f"{base}/api/runs/{run['id']}").json()["status"] == "queued":
            time.sleep(0.1)  # a worker takes it, paused
        time.sleep(0.5)
        httpx.post(f"{base}/api/runs/{run['id']}/resume").raise_for_status()
        viewer.join(300)
        done = httpx.get(f"{base}/api/runs/{run['id']}").json()
        statements = trace.read_text().splitlines()[before:]
    finally:
        server.terminate()
        server.wait(30)
    n = done["epochs_run"]
    with sqlite3.connect(db) as conn:
        tables = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    kinds = Counter(kind(s) for s in statements)
    return {
        "status": done["status"],
        "epochs": n,
        "statements_per_epoch": round(len(statements) / n, 2),
        "by_kind_per_epoch": {k: round(v / n, 2) for k, v in kinds.most_common()},
        "stored_bytes_per_epoch": {k: round(v / n) for k, v in tables.items() if v >= 4096 * 2},
        "stored_bytes_total": sum(tables.values()),
        "websocket_bytes_per_epoch": {k: round(v / n) for k, v in sizes.most_common()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    for name, cfg in CONFIGS.items():
        with tempfile.TemporaryDirectory(prefix="nnp-store-") as folder:
            fig = measure(cfg, args.epochs, Path(folder))
        print(f"{name}, {args.epochs} epochs:")
        for k, v in fig.items():
            print(f"  {k:26s} {v}")


if __name__ == "__main__":
    main()
