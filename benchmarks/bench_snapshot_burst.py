"""A class arrives at a run already under way: N viewers open its websocket at once and each needs
the snapshot (every epoch record so far, the latest views). Prints how long the viewers waited for
their snapshot and how the API answered meanwhile.

    .venv/bin/python benchmarks/bench_snapshot_burst.py [--viewers 100] [--epochs 400]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import httpx
import websockets
from _server import Server, pct

RUN = {  # the classroom benchmark's broadcast run, longer
    "dataset": {"name": "spiral", "n_samples": 300},
    "model": {"hidden": [8, 8]},
    "telemetry": {"histogram_every": 1, "surface_every": 1, "surface_resolution": 24, "probe_size": 64},
}


async def burst(server: Server, run_id: str, viewers: int) -> tuple[list[float], int, list[float]]:
    waits: list[float] = []
    size = 0
    api: list[float] = []

    async def viewer():
        nonlocal size
        t0 = time.perf_counter()
        async with websockets.connect(
            f"{server.ws_base}/ws/runs/{run_id}", max_size=None, compression=None, open_timeout=60
        ) as ws:
            size = len(await ws.recv(decode=False))
            waits.append(time.perf_counter() - t0)

    async def poller(http: aiohttp.ClientSession):
        while len(waits) < viewers:
            t0 = time.perf_counter()
            async with http.get(f"/api/runs/{run_id}") as r:
                await r.read()
            api.append(time.perf_counter() - t0)
            await asyncio.sleep(0.005)

    async with aiohttp.ClientSession(server.base) as http:
        await asyncio.gather(*[viewer() for _ in range(viewers)], poller(http))
    return waits, size, api


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=400)
    args = ap.parse_args()
    server = Server()
    try:
        http = httpx.Client(base_url=server.base, timeout=30)
        config = {**RUN, "training": {"epochs": args.epochs, "batch_size": 20}}
        run_id = http.post("/api/runs", json=config).json()["id"]
        while http.get(f"/api/runs/{run_id}").json()["status"] in ("queued", "running"):
            time.sleep(0.3)
        waits, size, api = asyncio.run(burst(server, run_id, args.viewers))
    finally:
        server.stop()
    print(
        f"snapshot burst: {args.viewers} viewers open a {args.epochs}-epoch run at once "
        f"(snapshot {size / 1000:.0f} KB), {server.workers} workers"
    )
    print(f"  wait for the snapshot: p50 {pct(waits, 50) * 1000:.0f} ms  max {max(waits) * 1000:.0f} ms")
    print(
        f"  GET /api/runs/{{id}} meanwhile: p50 {pct(api, 50) * 1000:.1f} ms  max {max(api) * 1000:.1f} ms "
        f"({len(api)} requests)"
    )


if __name__ == "__main__":
    main()
