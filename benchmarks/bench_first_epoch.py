"""Time from POST /api/runs to the first epoch event on the run's websocket, with a warm pool.

.venv/bin/python benchmarks/bench_first_epoch.py [--trials 20]
"""

from __future__ import annotations

import argparse
import json
import time

import httpx
from _server import Server, pct
from websockets.sync.client import connect

CONFIG = {"training": {"epochs": 5}}  # the default spiral MLP with full telemetry


def first_epoch(server: Server, http: httpx.Client) -> float:
    t0 = time.perf_counter()
    run = http.post("/api/runs", json=CONFIG).json()
    with connect(f"{server.ws_base}/ws/runs/{run['id']}", max_size=None) as ws:
        while True:
            msg = json.loads(ws.recv(timeout=30))
            if (msg["type"] == "snapshot" and msg["epochs"]) or msg["type"] == "epoch":
                return time.perf_counter() - t0
            if msg["type"] == "coalesced" and msg["epochs"]:
                return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    server = Server()
    try:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            first_epoch(server, http)  # warm the web process too
            times = []
            for _ in range(args.trials):
                times.append(first_epoch(server, http))
                time.sleep(0.3)  # let the run finish: measure a warm, idle pool
        ms = [t * 1000 for t in times]
        print(f"POST -> first epoch event, {args.trials} trials, {server.workers} workers:")
        print(f"  p50 {pct(ms, 50):.0f} ms   p90 {pct(ms, 90):.0f} ms   max {max(ms):.0f} ms   (target < 300 ms)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
