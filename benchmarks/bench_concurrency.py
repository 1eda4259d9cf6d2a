"""30 small runs submitted at once: all must complete; GET /api/runs latency meanwhile; total
throughput (epochs/s across runs) against the bare engine running the same runs in N processes.

    .venv/bin/python benchmarks/bench_concurrency.py [--runs 30] [--epochs 60]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import threading
import time

import httpx
from _server import Server, pct


def config(i: int, epochs: int) -> dict:
    return {"dataset": {"seed": i}, "training": {"epochs": epochs, "seed": i}}  # default spiral MLP


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct child processes of `pid` (the server's workers)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def bare(cfg: dict) -> int:
    import torch
    from nnplayground.engine import Trainer

    torch.set_num_threads(1)
    trainer = Trainer(cfg)
    for _ in trainer:
        pass
    return trainer.epoch


def bare_throughput(configs: list[dict], procs: int) -> float:
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(bare, [config(0, 2)] * procs)  # warm up every process
        t0 = time.perf_counter()
        epochs = sum(pool.map(bare, configs, chunksize=1))
        return epochs / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    configs = [config(i, args.epochs) for i in range(args.runs)]
    server = Server(env={"NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "1000"})
    latencies: list[float] = []
    stop = threading.Event()

    def poll():
        with httpx.Client(base_url=server.base, timeout=10) as c:
            while not stop.is_set():
                t = time.perf_counter()
                c.get("/api/runs", params={"limit": 50})
                latencies.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)

    try:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            poller = threading.Thread(target=poll)
            poller.start()
            workers = children(server.proc.pid)
            cpu0 = {p: cpu_seconds(p) for p in [server.proc.pid, *workers]}
            client0 = time.process_time()  # this process: the pollers' HTTP requests
            t0 = time.time()
            ids = [http.post("/api/runs", json=c).json()["id"] for c in configs]
            while True:
                runs = http.get("/api/runs", params={"limit": 500}).json()["runs"]
                mine = [r for r in runs if r["id"] in ids]
                if all(r["status"] not in ("queued", "running", "paused") for r in mine):
                    break
                time.sleep(0.2)
            # until the last run finished (its server-side timestamp), not until this loop noticed
            wall = max(r["finished_at"] for r in mine) - t0
            cpu = {p: cpu_seconds(p) - c for p, c in cpu0.items()}
            client = time.process_time() - client0
            stop.set()
            poller.join()
        statuses = {r["status"] for r in mine}
        epochs = sum(r["epochs_run"] for r in mine)
        served = epochs / wall
    finally:
        stop.set()
        server.stop()
    engine = bare_throughput(configs, server.workers)
    print(
        f"concurrency: {args.runs} runs x {args.epochs} epochs (default spiral MLP, full telemetry), "
        f"{server.workers} workers"
    )
    print(f"  all finished: {statuses}  in {wall:.1f}s")
    print(
        f"  GET /api/runs while training: p50 {pct(latencies, 50):.1f} ms  p99 {pct(latencies, 99):.1f} ms  "
        f"({len(latencies)} requests; target p99 < 50 ms)"
    )
    print(
        f"  throughput: service {served:.0f} epochs/s, bare engine in {server.workers} processes "
        f"{engine:.0f} epochs/s -> {100 * served / engine:.0f}% (target >= 80%)"
    )
    web, trained = cpu[server.proc.pid], sum(cpu[p] for p in workers)
    print(
        f"  CPU while training: workers {trained:.1f} s, web tier {web:.1f} s, this benchmark's pollers "
        f"{client:.1f} s (web tier {100 * web / (web + trained):.0f}% of the service's CPU; "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
