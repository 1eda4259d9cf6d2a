"""One run streaming at its natural rate to many websocket viewers: epochs delivered per viewer per
second, and the delay from the worker emitting an epoch event to each viewer receiving it.

    .venv/bin/python benchmarks/bench_fanout.py [--viewers 100] [--epochs 150]

The worker's send time of every epoch event is written by the server to a trace file
(NNPLAYGROUND_TRACE_FILE); the viewers run in this process with asyncio."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
import websockets
from _server import Server, pct


async def viewer(url: str, ready: asyncio.Event, got: list, counter: list, views: list | None = None) -> None:
    async with websockets.connect(url, max_size=None, open_timeout=60, compression=None) as ws:
        counter.append(1)
        ready.set()
        async for raw in ws:
            now = time.time()
            # Only epoch, coalesced and run_end frames are parsed: the viewers share this process,
            # and decoding every surface 100 times would measure this client, not the server.
            head = raw[:24]
            if views is not None and head.startswith('{"type":"surface"'):
                views.append(1)
            if not head.startswith(('{"type":"epoch"', '{"type":"coalesced"', '{"type":"run_end"')):
                continue
            msg = json.loads(raw)
            kind = msg["type"]
            if kind == "epoch":
                got.append((msg["epoch"], now, False))
            elif kind == "coalesced":
                got.extend((e["epoch"], now, True) for e in msg["epochs"])
                if any(e["type"] == "run_end" for e in msg["events"]):
                    return
            if kind == "run_end":
                return


async def bench(server: Server, n_viewers: int, epochs: int) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        config = {"training": {"epochs": epochs}}  # default spiral MLP, histograms and surface every epoch
        run = (await http.post("/api/runs", json=config, params={"paused": "true"})).json()
        while (await http.get(f"/api/runs/{run['id']}")).json()["status"] != "paused":
            await asyncio.sleep(0.05)
        url = f"{server.ws_base}/ws/runs/{run['id']}"
        results = [[] for _ in range(n_viewers)]
        surfaces = [[] for _ in range(n_viewers)]
        connected: list = []
        tasks = []
        for i in range(n_viewers):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(viewer(url, ready, results[i], connected, surfaces[i])))
            await ready.wait()
        t0 = time.time()
        await http.post(f"/api/runs/{run['id']}/resume")
        await asyncio.wait_for(asyncio.gather(*tasks), 300)
        wall = time.time() - t0
        summary = (await http.get(f"/api/runs/{run['id']}")).json()
    emitted = {e: t for (r, e), t in server.emitted().items() if r == run["id"]}
    delays, coalesced, per_viewer = [], 0, []
    for got in results:
        per_viewer.append(len({e for e, _, _ in got}))
        for epoch, t, batched in got:
            coalesced += batched
            if epoch in emitted:
                delays.append((t - emitted[epoch]) * 1000)
    span = max(emitted.values()) - min(emitted.values())
    print(f"fan-out: 1 run, {epochs} epochs, {n_viewers} viewers, {server.workers} workers")
    print(f"  run: {epochs / span:.1f} epochs/s while streaming ({summary['status']}, {wall:.1f}s wall)")
    print(f"  delivered epochs per viewer: min {min(per_viewer)}  max {max(per_viewer)}  (of {epochs})")
    print(f"  delivered epochs per viewer per second: {min(per_viewer) / span:.1f} (slowest viewer)")
    print(
        f"  delay worker -> viewer: p50 {pct(delays, 50):.1f} ms  p99 {pct(delays, 99):.1f} ms  "
        f"max {max(delays):.1f} ms   (target p99 < 100 ms)"
    )
    print(f"  epochs received in coalesced batches: {coalesced} of {len(delays)}")
    got_views = [len(v) for v in surfaces]
    print(
        f"  surface frames per viewer: min {min(got_views)}  max {max(got_views)}  (of {epochs}; "
        "the server paces views to NNPLAYGROUND_WS_VIEW_RATE per second, latest wins)"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=150)
    args = ap.parse_args()
    server = Server()
    try:
        asyncio.run(bench(server, args.viewers, args.epochs))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
