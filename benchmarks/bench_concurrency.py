"""30 small runs submitted at once: all must complete; total throughput (epochs/s across runs) against the bare
engine running the same runs in as many processes; GET /api/runs latency meanwhile.

The arms alternate (bare, service, bare, service, ...) so that drift and the shared machine's load bias neither,
and each pair's ratio is reported: trust the same-pair ratio, not absolute figures. Like is compared with like:
the bare processes run at the service's worker niceness (`worker_nice`, 5 by default; --bare-nice to change),
with one torch thread (and one inter-op thread) and the service worker's own warm-up. The throughput arms poll
only for completion (once a second, the cheapest query); the latency probe (GET /api/runs every 50 ms) runs in
its own service arm at the end, so that its requests are not charged to the service's throughput.

CPU seconds are read per process from /proc: the web process, the service's workers, the bare processes and
this benchmark itself, so the gap splits into the web tier's share and the workers' extra work per epoch.

    .venv/bin/python benchmarks/bench_concurrency.py [--runs 30] [--epochs 60] [--pairs 2] [--slots 2,1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import threading
import time

import httpx
from _server import Server, pct

WORKER_NICE = 5  # the service's default `worker_nice` (service/settings.py)


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


def _bare_init(nice: int) -> None:
    """What `service.worker.worker_main` does before its first run: niceness, one torch thread, warm-up."""
    if nice:
        os.nice(nice)
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    from nnplayground.service.worker import _warm_up

    _warm_up()


def _pid(_: int) -> int:
    time.sleep(0.2)  # long enough that every process takes one: all have started and run their warm-up
    return os.getpid()


def bare(cfg: dict) -> tuple[int, float]:
    """Train one run; its epochs and the CPU seconds spent inside its epochs (`train_epoch`)."""
    from nnplayground.engine import Trainer

    trainer = Trainer(cfg)
    trainer.start()
    train = 0.0
    while not trainer.done:
        c = time.process_time()
        trainer.train_epoch()
        train += time.process_time() - c
    return trainer.epoch, train


def bare_arm(configs: list[dict], procs: int, nice: int) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs, initializer=_bare_init, initargs=(nice,)) as pool:
        pool.map(_pid, range(procs), chunksize=1)  # every process started and warmed up
        # the pool's processes are this process's only multiprocessing children (the service arm's server is
        # a subprocess): asking each task for its pid could miss one that took no task
        pids = {p.pid for p in mp.active_children()}
        cpu0 = {p: cpu_seconds(p) for p in pids}
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        done = pool.map(bare, configs, chunksize=1)
        epochs = sum(e for e, _ in done)
        wall = time.perf_counter() - t0
        cpu = sum(cpu_seconds(p) - c for p, c in cpu0.items())
    train = sum(t for _, t in done)
    return {"epochs": epochs, "wall": wall, "rate": epochs / wall, "workers_cpu": cpu, "train_cpu": train, "load": load}


def service_arm(configs: list[dict], probe: bool, slots: int | None = None) -> dict:
    env = {"NNPLAYGROUND_MAX_RUNS_PER_CLIENT": "1000"}
    if slots is not None:
        env["NNPLAYGROUND_SLOTS_PER_WORKER"] = str(slots)
    server = Server(env=env)
    latencies: list[float] = []
    stop = threading.Event()

    def poll():
        with httpx.Client(base_url=server.base, timeout=10) as c:
            while not stop.is_set():
                t = time.perf_counter()
                c.get("/api/runs", params={"limit": 50})
                latencies.append((time.perf_counter() - t) * 1000)
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    try:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            workers = children(server.proc.pid)
            cpu0 = {p: cpu_seconds(p) for p in [server.proc.pid, *workers]}
            client0 = time.process_time()
            load = os.getloadavg()[0]
            if probe:
                poller.start()
            t0 = time.time()
            ids = [http.post("/api/runs", json=c).json()["id"] for c in configs]
            while True:
                time.sleep(1.0)
                active = sum(
                    http.get("/api/runs", params={"status": st, "limit": 1}).json()["total"]
                    for st in ("queued", "running", "paused")
                )  # a fresh database: only this arm's runs
                if active == 0:
                    break
            cpu = {p: cpu_seconds(p) - c for p, c in cpu0.items()}
            client = time.process_time() - client0
            mine = [r for r in http.get("/api/runs", params={"limit": 500}).json()["runs"] if r["id"] in ids]
    finally:
        stop.set()
        if poller.is_alive():
            poller.join()
        server.stop()
    # the workers' own split (settings.trace_file + ".cpu"): the last line of each pid holds its totals
    split: dict[str, tuple[int, float, float]] = {}
    cpu_trace = server.trace.with_name(server.trace.name + ".cpu")
    if cpu_trace.exists():
        for line in cpu_trace.read_text().splitlines():
            pid, n, train, emit = line.split()
            split[pid] = (int(n), float(train), float(emit))
    # until the last run finished (its server-side timestamp), not until this loop noticed
    wall = max(r["finished_at"] for r in mine) - t0
    epochs = sum(r["epochs_run"] for r in mine)
    return {
        "epochs": epochs,
        "wall": wall,
        "rate": epochs / wall,
        "statuses": {r["status"] for r in mine},
        "web_cpu": cpu[server.proc.pid],
        "workers_cpu": sum(cpu[p] for p in workers),
        "client_cpu": client,
        "train_cpu": sum(t for _, t, _ in split.values()),
        "emit_cpu": sum(e for _, _, e in split.values()),
        "latencies": latencies,
        "workers": server.workers,
        "load": load,
    }


def pair_line(i: int, b: dict, s: dict, slots: int | None, procs: int, ratios: list, efficiencies: list) -> None:
    """Print one bare/service comparison and append its throughput ratio and CPU efficiency."""
    ratios.append(s["rate"] / b["rate"])
    # CPU seconds per epoch, bare against the whole service: what the ratio would be with every core busy for
    # both arms, less sensitive to the other load of a shared machine than the wall-clock ratio
    efficiencies.append((b["workers_cpu"] / b["epochs"]) / ((s["workers_cpu"] + s["web_cpu"]) / s["epochs"]))
    per_b = 1000 * b["workers_cpu"] / b["epochs"]
    per_s = 1000 * s["workers_cpu"] / s["epochs"]
    per_w = 1000 * s["web_cpu"] / s["epochs"]
    arm = "" if slots is None else f" (slots_per_worker {slots})"
    print(
        f"  pair {i + 1}{arm}: bare {b['rate']:.0f} epochs/s ({b['wall']:.1f} s, load {b['load']:.1f}), "
        f"service {s['rate']:.0f} epochs/s ({s['wall']:.1f} s, load {s['load']:.1f}, {s['statuses']}) "
        f"-> {100 * ratios[-1]:.0f}%"
    )
    train_b, train_s = 1000 * b["train_cpu"] / b["epochs"], 1000 * s["train_cpu"] / s["epochs"]
    emit_s = 1000 * s["emit_cpu"] / s["epochs"]
    print(
        f"          CPU per epoch: bare workers {per_b:.2f} ms; service workers {per_s:.2f} ms "
        f"(+{per_s - per_b:.2f}), web tier {per_w:.2f} ms, this benchmark "
        f"{1000 * s['client_cpu'] / s['epochs']:.2f} ms; CPU used / available: bare "
        f"{100 * b['workers_cpu'] / (b['wall'] * procs):.0f}%, service "
        f"{100 * (s['workers_cpu'] + s['web_cpu']) / (s['wall'] * procs):.0f}%"
    )
    # the same training code timed inside the epochs in both arms: equal figures put the workers' extra in
    # packing and the worker loop; a higher service figure means the same work ran slower beside the web tier
    print(
        f"          inside the epochs: training bare {train_b:.2f} ms, service {train_s:.2f} ms "
        f"(+{train_s - train_b:.2f}); packing and sending {emit_s:.2f} ms; the rest (building and starting each "
        f"run; in the service also the worker loop and the pipe): bare {per_b - train_b:.2f} ms, service "
        f"{per_s - train_s - emit_s:.2f} ms"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--pairs", type=int, default=2, help="bare/service pairs, run alternately")
    ap.add_argument("--bare-nice", type=int, default=WORKER_NICE, help="niceness of the bare processes")
    ap.add_argument("--no-probe", action="store_true", help="skip the latency arm")
    ap.add_argument(
        "--slots",
        default="",
        help="service arms per pair, one per value of slots_per_worker (e.g. 2,1: the default time slicing, then "
        "none); empty: one arm at the server's default",
    )
    args = ap.parse_args()
    slot_arms = [int(v) for v in args.slots.split(",") if v] or [None]
    configs = [config(i, args.epochs) for i in range(args.runs)]
    procs = os.cpu_count() or 1  # the service's default worker count (service/settings.py)
    print(
        f"concurrency: {args.runs} runs x {args.epochs} epochs (default spiral MLP, full telemetry), "
        f"{procs} processes, bare at nice {args.bare_nice}, service workers at their default nice {WORKER_NICE}"
    )
    ratios, efficiencies = [], []
    for i in range(args.pairs):
        b = bare_arm(configs, procs, args.bare_nice)
        for slots in slot_arms:
            pair_line(i, b, service_arm(configs, probe=False, slots=slots), slots, procs, ratios, efficiencies)
    print(f"  throughput ratio per arm: {', '.join(f'{100 * r:.0f}%' for r in ratios)} (target >= 80%)")
    print(
        "  CPU efficiency per arm (bare CPU per epoch / service workers + web tier CPU per epoch): "
        + ", ".join(f"{100 * e:.0f}%" for e in efficiencies)
    )
    if not args.no_probe:
        p = service_arm(configs, probe=True)
        lat = p["latencies"]
        print(
            f"  latency arm: GET /api/runs while training p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms "
            f"({len(lat)} requests; target p99 < 50 ms); service {p['rate']:.0f} epochs/s under the probe, "
            f"web tier {p['web_cpu']:.1f} s CPU, the probe {p['client_cpu']:.1f} s"
        )
    print(f"  load at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
